//! The real TVM Lambda (`provided.al2023`, its zip in S3) behind the real HTTP API with IAM auth,
//! called the way a client calls it: an IAM user with an access key and only the client policy
//! signs GETs with SigV4 for `execute-api`. Vending, identity, refusals and discovery.

use aws_credential_types::Credentials;
use sentinel_tvm::deploy::stacks::Part;
use sentinel_tvm::tvm::http::TvmClient;

use crate::support::{Emulator, Install, REGION, Workdir, unique_name};
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
    let reqid = arn.strip_prefix(&prefix).unwrap_or_else(|| panic!("{arn} should start {prefix}"));
    assert!(reqid.len() == 8 && reqid.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{arn}");

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

    let iam = aws_sdk_iam::Client::new(&emulator.config);
    for key in iam.list_access_keys().user_name(&user_name).send().await.unwrap().access_key_metadata() {
        iam.delete_access_key().user_name(&user_name).access_key_id(key.access_key_id().unwrap()).send().await.unwrap();
    }
    iam.detach_user_policy().user_name(&user_name).policy_arn(&policy_arn).send().await.unwrap();
    iam.delete_user().user_name(&user_name).send().await.unwrap();
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}
