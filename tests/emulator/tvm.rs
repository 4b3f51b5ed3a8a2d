//! The real TVM Lambda (`provided.al2023`, its zip in S3) behind the real HTTP API with IAM auth,
//! called the way a client calls it: an IAM user with an access key and only the client policy
//! signs GETs with SigV4 for `execute-api`. Vending, identity, refusals, discovery, and the
//! decision log they leave.

use aws_credential_types::Credentials;
use sentinel_tvm::deploy::stacks::Part;
use sentinel_tvm::tvm::http::TvmClient;
use sentinel_tvm_lambda::decision_log::DecisionLog;

use crate::support::{Emulator, Install, REGION, Workdir, settle, unique_name};
use crate::{emulator_or_skip, lambda_zip_or_skip};

/// An IAM user holding only `policy_arn`, with an access key.
async fn client_user(emulator: &Emulator, name: &str, policy_arn: &str) -> (String, Credentials) {
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    let user = iam.create_user().user_name(name).send().await.unwrap();
    iam.attach_user_policy().user_name(name).policy_arn(policy_arn).send().await.unwrap();
    let key = iam.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().unwrap();
    let arn = user.user().unwrap().arn().to_string();
    (arn, Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "test-client"))
}

#[tokio::test]
async fn a_client_gets_credentials_for_what_the_policy_grants_and_nothing_else() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("v");
    let dir = Workdir::new(&env);
    let user_name = format!("{env}-app-client");
    let user_arn = format!("arn:aws:iam::000000000000:user/{user_name}");
    let policy = format!(
        "version: \"1\"\nrules:\n  - name: blocked\n    effect: deny\n    reason: blocked for this test\n    conditions: {{profiles: [{env}-blocked]}}\n  - name: app\n    effect: allow\n    max_server_duration: 30m\n    conditions:\n      profiles: [{env}-app, {env}-blocked]\n      principals: [\"{user_arn}\"]\n"
    );
    std::fs::write(dir.path.join("policy.yaml"), policy).unwrap();
    let install = Install::new(&env, &zip)
        .json()
        .source_identity_off()
        .protect("app")
        .protect("blocked")
        .args(["--policy-file", "policy.yaml"])
        .skip_smoke_test()
        .run(&emulator, &dir);
    install.assert_code(0);

    let api_id = emulator.stack_output(&Part::Api.stack_name(&env), "ApiId").await;
    let policy_arn = emulator.stack_output(&Part::ClientPolicy.stack_name(&env), "PolicyArn").await;
    let (_, credentials) = client_user(&emulator, &user_name, &policy_arn).await;
    let base = format!("{}/_aws/execute-api/{api_id}/", emulator.endpoint);
    let client = TvmClient::for_tvm(&base, REGION).unwrap();

    // 200 with exactly the container-credentials keys
    let vended = client.get(&format!("{base}?profile={env}-app&duration=1800"), Some(&credentials)).await.unwrap();
    assert_eq!(vended.status, 200, "{}", vended.body);
    let body: serde_json::Value = serde_json::from_str(&vended.body).unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"]);
    let expiration = body["Expiration"].as_str().unwrap();
    assert!(expiration.len() == 20 && expiration.ends_with('Z'), "{expiration}");

    // the credentials are the protected role, in a session named for the caller
    let vended_credentials = Credentials::new(
        body["AccessKeyId"].as_str().unwrap(),
        body["SecretAccessKey"].as_str().unwrap(),
        Some(body["Token"].as_str().unwrap().to_string()),
        None,
        "vended",
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&emulator.config).credentials_provider(vended_credentials).build(),
    );
    let arn = sts.get_caller_identity().send().await.unwrap().arn().unwrap().to_string();
    let user = sentinel_tvm_lambda::identity::sanitise(&user_name);
    let prefix = format!("arn:aws:sts::000000000000:assumed-role/SentinelProtected-{env}-app/tvm-{user}-");
    // …then the discriminator of the verified principal and the 64-bit request id (CONTRACT.md §5).
    let rest = arn.strip_prefix(&prefix).unwrap_or_else(|| panic!("{arn} should start {prefix}"));
    let (disc, reqid) = rest.split_once('-').unwrap_or_else(|| panic!("{arn}: no <disc>-<reqid>"));
    assert!(disc.len() == 16 && disc.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)), "{arn}");
    assert!(reqid.len() == 16 && reqid.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{arn}");

    // refusals
    let unsigned = client.get(&format!("{base}?profile={env}-app"), None).await.unwrap();
    assert_eq!(unsigned.status, 403, "{}", unsigned.body);
    let denied = client.get(&format!("{base}?profile={env}-blocked"), Some(&credentials)).await.unwrap();
    assert_eq!((denied.status, denied.code().as_deref()), (403, Some("POLICY_DENY")), "{}", denied.body);
    assert!(denied.body.contains("Policy denied: blocked for this test"), "{}", denied.body);
    let ungranted = client.get(&format!("{base}?profile={env}-other"), Some(&credentials)).await.unwrap();
    assert_eq!((ungranted.status, ungranted.code().as_deref()), (403, Some("POLICY_DENY")), "{}", ungranted.body);
    assert!(ungranted.body.contains("no matching rule"), "{}", ungranted.body);
    let too_long = client.get(&format!("{base}?profile={env}-app&duration=7200"), Some(&credentials)).await.unwrap();
    assert_eq!((too_long.status, too_long.code().as_deref()), (400, Some("INVALID_DURATION")));

    // discovery lists what the policy could grant, minus what is always denied
    let profiles = client.get(&format!("{base}profiles"), Some(&credentials)).await.unwrap();
    assert_eq!(profiles.status, 200, "{}", profiles.body);
    let listed: serde_json::Value = serde_json::from_str(&profiles.body).unwrap();
    assert_eq!(listed["profiles"][0]["name"], format!("{env}-app"));
    assert_eq!(listed["profiles"].as_array().unwrap().len(), 1, "{listed}");

    remove_client_user(&emulator, &user_name, &policy_arn).await;
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}

/// CONTRACT.md §8 read back: after vends and refusals through the real API, every line the
/// function wrote to its log group parses as the Lambda crate's own `DecisionLog` and writes the
/// same bytes again, and the lines are those of the requests made, one each.
#[tokio::test]
async fn every_decision_log_line_reads_back_as_the_lambdas_own_record() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("l");
    let dir = Workdir::new(&env);
    let user_name = format!("{env}-log-client");
    let policy = format!(
        "version: \"1\"\nrules:\n  - name: blocked\n    effect: deny\n    reason: blocked for this test\n    conditions: {{profiles: [{env}-blocked]}}\n  - name: app\n    effect: allow\n    conditions:\n      profiles: [{env}-app, {env}-blocked]\n      principals: [\"arn:aws:iam::000000000000:user/{user_name}\"]\n"
    );
    std::fs::write(dir.path.join("policy.yaml"), policy).unwrap();
    let install = Install::new(&env, &zip)
        .source_identity_off()
        .protect("app")
        .protect("blocked")
        .args(["--policy-file", "policy.yaml"])
        .skip_smoke_test()
        .run(&emulator, &dir);
    install.assert_code(0);

    let api_id = emulator.stack_output(&Part::Api.stack_name(&env), "ApiId").await;
    let policy_arn = emulator.stack_output(&Part::ClientPolicy.stack_name(&env), "PolicyArn").await;
    let (_, credentials) = client_user(&emulator, &user_name, &policy_arn).await;
    let base = format!("{}/_aws/execute-api/{api_id}/", emulator.endpoint);
    let client = TvmClient::for_tvm(&base, REGION).unwrap();
    // A legacy client: it signs for API Gateway and sends no caller proof.
    let legacy = TvmClient::new(REGION.into()).unwrap();
    let mut asked = Vec::new();
    for (client, path, expected) in [
        (&client, format!("?profile={env}-app&duration=1800"), (200, None)),
        (&client, format!("?profile={env}-blocked"), (403, Some("POLICY_DENY"))),
        (&client, format!("?profile={env}-other"), (403, Some("POLICY_DENY"))),
        (&client, format!("?profile={env}-app&duration=7200"), (400, Some("INVALID_DURATION"))),
        (&client, "?profile=".to_string(), (400, Some("MISSING_PROFILE"))),
        (&client, "profiles".to_string(), (200, None)),
        (&legacy, format!("?profile={env}-app"), (401, Some("PROOF_REQUIRED"))),
    ] {
        let answer = client.get(&format!("{base}{path}"), Some(&credentials)).await.unwrap();
        assert_eq!((answer.status, answer.code().as_deref()), expected, "{path}: {}", answer.body);
        asked.push(expected);
    }

    let lines = decision_log_lines(&emulator, &format!("sentinel-tvm-{env}"), asked.len()).await;
    let mut logged = Vec::new();
    for line in &lines {
        let record = DecisionLog::from_json(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(record.to_json(), *line, "written again, byte for byte");
        logged.push((record.status, record.code));
    }
    asked.sort();
    logged.sort();
    assert_eq!(logged, asked, "one line per request:\n{}", lines.join("\n"));

    remove_client_user(&emulator, &user_name, &policy_arn).await;
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}

/// The JSON lines `function` wrote to its log group (the one its configuration names), once
/// there are at least `expected`: the runtime's own `START`/`END`/`REPORT` lines are not JSON.
async fn decision_log_lines(emulator: &Emulator, function: &str, expected: usize) -> Vec<String> {
    let lambda = aws_sdk_lambda::Client::new(&emulator.config);
    let configuration = lambda.get_function_configuration().function_name(function).send().await.unwrap();
    let group = configuration.logging_config().and_then(|logging| logging.log_group()).expect("a log group");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&emulator.config);
    let mut lines = Vec::new();
    // Written as each invocation ends; allow for one that is still being written.
    for _ in 0..50 {
        let pages = logs.filter_log_events().log_group_name(group).into_paginator().send();
        let pages: Vec<_> = pages.collect::<Result<Vec<_>, _>>().await.unwrap();
        lines = pages
            .iter()
            .flat_map(|page| page.events())
            .filter_map(|event| event.message())
            .map(str::trim_end)
            .filter(|message| message.starts_with('{'))
            .map(str::to_string)
            .collect();
        if lines.len() >= expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    lines
}

/// Undoes `client_user`, so teardown can delete the client policy.
async fn remove_client_user(emulator: &Emulator, user_name: &str, policy_arn: &str) {
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    for key in iam.list_access_keys().user_name(user_name).send().await.unwrap().access_key_metadata() {
        iam.delete_access_key().user_name(user_name).access_key_id(key.access_key_id().unwrap()).send().await.unwrap();
    }
    iam.detach_user_policy().user_name(user_name).policy_arn(policy_arn).send().await.unwrap();
    iam.delete_user().user_name(user_name).send().await.unwrap();
}

/// Threat model T9: the starter policy (no `--policy-file`) admits exactly the configured
/// invokers. Without any it vends the smoke profile and nothing else, even to the deployer (the
/// account's root here, who had every profile before); with `--invoker-role R` and
/// `--invoker-user U` (at a path), a session of R and U get the protected profile, and root
/// still does not.
#[tokio::test]
async fn the_starter_policy_admits_exactly_the_invokers() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("i");
    let dir = Workdir::new(&env);
    let root = Credentials::new("test", "test", None, None, "emulator-root");
    let iam = aws_sdk_iam::Client::new(&emulator.config);

    let install = Install::new(&env, &zip).json().source_identity_off().protect("app").run(&emulator, &dir);
    install.assert_code(0);
    assert!(install.stderr.contains("the starter policy grants no protected profile"), "{}", install.stderr);
    let api_id = emulator.stack_output(&Part::Api.stack_name(&env), "ApiId").await;
    let base = format!("{}/_aws/execute-api/{api_id}/", emulator.endpoint);
    let client = TvmClient::for_tvm(&base, REGION).unwrap();
    let app = format!("{base}?profile={env}-app");
    let smoke = client.get(&format!("{base}?profile={env}-smoke"), Some(&root)).await.unwrap();
    assert_eq!(smoke.status, 200, "{}", smoke.body);
    let refused = client.get(&app, Some(&root)).await.unwrap();
    assert_eq!((refused.status, refused.code().as_deref()), (403, Some("POLICY_DENY")), "{}", refused.body);

    // A role the account may assume, and a user at a path.
    let role = format!("{env}-invoker");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
    let role_arn = iam.create_role().role_name(&role).assume_role_policy_document(trust).send().await.unwrap();
    let role_arn = role_arn.role().unwrap().arn().to_string();
    let user = format!("{env}-person");
    iam.create_user().user_name(&user).path("/team/").send().await.unwrap();
    let key = iam.create_access_key().user_name(&user).send().await.unwrap();
    let key = key.access_key().unwrap();
    let person = Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "person");

    let upgrade = emulator.sentinel_tvm(
        &dir,
        &[
            "--env",
            &env,
            "--yes",
            "upgrade",
            "--lambda-zip",
            &zip,
            "--skip-smoke-test",
            "--invoker-role",
            &role,
            "--invoker-user",
            &user,
        ],
    );
    upgrade.assert_code(0);
    let alice = emulator.assumed_role(&role_arn, "alice").await;
    // The Lambda caches the policy for 30 s: the new one may take that long.
    let patience = std::time::Duration::from_secs(45);
    for (who, credentials) in [("a session of the invoker role", &alice), ("the invoker user", &person)] {
        let vended = client.get_until(&app, Some(credentials), patience, |a| a.status == 200).await.unwrap();
        assert_eq!(vended.status, 200, "{who}: {}", vended.body);
    }
    let refused = client.get(&app, Some(&root)).await.unwrap();
    assert_eq!((refused.status, refused.code().as_deref()), (403, Some("POLICY_DENY")), "{}", refused.body);
    let smoke = client.get(&format!("{base}?profile={env}-smoke"), Some(&root)).await.unwrap();
    assert_eq!(smoke.status, 200, "the deployer keeps the smoke profile: {}", smoke.body);

    // `policy init` names the same principals, the user with its path (from iam:GetUser).
    let init = emulator.sentinel_tvm(&dir, &["--env", &env, "policy", "init"]);
    init.assert_code(0);
    let text = std::fs::read_to_string(dir.path.join("policy.yaml")).unwrap();
    assert!(
        text.contains(&format!(
            "principals: [\"arn:aws:sts::000000000000:assumed-role/{role}/*\", \"arn:aws:iam::000000000000:user/team/{user}\"]"
        )),
        "{text}"
    );

    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
    iam.delete_access_key().user_name(&user).access_key_id(key.access_key_id()).send().await.unwrap();
    iam.delete_user().user_name(&user).send().await.unwrap();
    iam.delete_role().role_name(&role).send().await.unwrap();
}

/// Threat model T3, staged rather than raced: the TVM obeys the policy version its api stack pins.
/// The policy stack's change applied alone (a new parameter version) changes nothing; the api
/// stack's switch to it does; a value written over the parameter by hand is a version nobody
/// pinned, and is never obeyed. Before each pair of vends the function gets a new instance (its
/// timeout set to the value it has, which replaces the instance and drifts nothing), so the first
/// vend reads the policy afresh: a TVM that read the parameter's latest value, cached or not,
/// would fail here.
#[tokio::test]
async fn the_tvm_obeys_the_policy_version_its_api_stack_pins_and_never_a_rewrite() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("pin");
    let dir = Workdir::new(&env);
    let user_name = format!("{env}-pin-client");
    let user_arn = format!("arn:aws:iam::000000000000:user/{user_name}");
    let allowing = |profile: &str| {
        format!(
            "version: \"1\"\nrules:\n  - name: only\n    effect: allow\n    conditions:\n      profiles: [{env}-{profile}]\n      principals: [\"{user_arn}\"]\n"
        )
    };
    std::fs::write(dir.path.join("first.yaml"), allowing("app")).unwrap();
    std::fs::write(dir.path.join("second.yaml"), allowing("other")).unwrap();
    let install = Install::new(&env, &zip)
        .source_identity_off()
        .protect("app")
        .protect("other")
        .args(["--policy-file", "first.yaml"])
        .skip_smoke_test()
        .run(&emulator, &dir);
    install.assert_code(0);

    let api_id = emulator.stack_output(&Part::Api.stack_name(&env), "ApiId").await;
    let policy_arn = emulator.stack_output(&Part::ClientPolicy.stack_name(&env), "PolicyArn").await;
    let parameter = emulator.stack_output(&Part::Policy.stack_name(&env), "ParameterName").await;
    let (_, credentials) = client_user(&emulator, &user_name, &policy_arn).await;
    let base = format!("{}/_aws/execute-api/{api_id}/", emulator.endpoint);
    let client = TvmClient::for_tvm(&base, REGION).unwrap();
    let vend = |profile: &str| {
        let url = format!("{base}?profile={env}-{profile}");
        let (client, credentials) = (&client, &credentials);
        async move {
            let answer = client.get(&url, Some(credentials)).await.unwrap();
            (answer.status, answer.code())
        }
    };
    let lambda = aws_sdk_lambda::Client::new(&emulator.config);
    let function = format!("sentinel-tvm-{env}");
    let new_instance = || async {
        let timeout = lambda.get_function_configuration().function_name(&function).send().await.unwrap().timeout();
        lambda.update_function_configuration().function_name(&function).set_timeout(timeout).send().await.unwrap();
    };
    let allowed = (200, None);
    let denied = (403, Some("POLICY_DENY".to_string()));
    assert_eq!((vend("app").await, vend("other").await), (allowed.clone(), denied.clone()), "the first policy");

    // 1. The policy stack's change alone: a new version of the parameter, which nothing pins yet.
    let cfn = aws_sdk_cloudformation::Client::new(&emulator.config);
    let policy_stack = Part::Policy.stack_name(&env);
    let keep = |key: &str| {
        aws_sdk_cloudformation::types::Parameter::builder().parameter_key(key).use_previous_value(true).build()
    };
    let text = |key: &str, value: String| {
        aws_sdk_cloudformation::types::Parameter::builder().parameter_key(key).parameter_value(value).build()
    };
    cfn.update_stack()
        .stack_name(&policy_stack)
        .use_previous_template(true)
        .parameters(keep("EnvName"))
        .parameters(text("PolicyDocument", allowing("other")))
        .send()
        .await
        .unwrap();
    let status = settle(&cfn, &policy_stack).await;
    assert_eq!(status, Some(aws_sdk_cloudformation::types::StackStatus::UpdateComplete));
    let ssm = aws_sdk_ssm::Client::new(&emulator.config);
    let latest = ssm.get_parameter().name(&parameter).send().await.unwrap();
    assert_eq!(latest.parameter().unwrap().value(), Some(allowing("other").as_str()), "the policy stack wrote it");
    new_instance().await;
    assert_eq!((vend("app").await, vend("other").await), (allowed.clone(), denied.clone()), "still the pinned version");

    // 2. The api stack's switch: `upgrade` pins the version holding its policy.
    let upgrade = emulator.sentinel_tvm(
        &dir,
        &["--env", &env, "--yes", "upgrade", "--lambda-zip", &zip, "--policy-file", "second.yaml", "--skip-smoke-test"],
    );
    upgrade.assert_code(0);
    assert_eq!((vend("app").await, vend("other").await), (denied.clone(), allowed.clone()), "the new version decides");

    // 3. A rewrite out of band: allow everything, to everyone. Nobody pinned it.
    let open = "version: \"1\"\nrules:\n  - {name: open, effect: allow, conditions: {accounts: [\"000000000000\"]}}\n";
    ssm.put_parameter().name(&parameter).value(open).overwrite(true).send().await.unwrap();
    new_instance().await;
    assert_eq!((vend("app").await, vend("other").await), (denied.clone(), allowed.clone()), "never the rewrite");
    // `status` reports it as drift of the policy stack. The next upgrade keeps the pin and says
    // the parameter was written over (`--no-drift`: the emulator cannot restore a parameter by
    // a drift-aware change set as AWS would, docs/EMULATOR.md).
    let status = emulator.sentinel_tvm(&dir, &["--env", &env, "status"]);
    status.assert_code(1);
    assert!(status.stderr.contains(&format!("{policy_stack}`: PolicyParameter")), "{}", status.stderr);
    let again = emulator.sentinel_tvm(
        &dir,
        &[
            "--env",
            &env,
            "--yes",
            "upgrade",
            "--no-drift",
            "--lambda-zip",
            &zip,
            "--policy-file",
            "second.yaml",
            "--skip-smoke-test",
        ],
    );
    again.assert_code(0);
    assert!(again.stderr.contains("someone wrote over the parameter"), "{}", again.stderr);
    new_instance().await;
    assert_eq!((vend("app").await, vend("other").await), (denied, allowed), "still never the rewrite");

    remove_client_user(&emulator, &user_name, &policy_arn).await;
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}
