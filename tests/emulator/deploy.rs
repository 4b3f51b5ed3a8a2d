//! The deploy engine against the emulator: one environment's whole life through the real binary
//! (with a header-only Lambda zip: these tests never invoke the function, so no smoke test)
//! — install, status, a no-op install, one changed parameter, diff, teardown (also of a smoke
//! client user an interrupted smoke test left) with every resource type checked afterwards — and
//! the edges: a stack that fails and is recreated, a declined confirmation, a stack owned by
//! someone else, a half-made client user, pruning old Lambda artifacts.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_iam::Client as Iam;
use sentinel_tvm::aws::cloudformation::CloudFormation;
use sentinel_tvm::aws::iam::{create_user_with_key, get_user, remove_user};
use sentinel_tvm::aws::residue::Residue;
use sentinel_tvm::aws::s3::S3;
use sentinel_tvm::cli::OutputFormat;
use sentinel_tvm::deploy::stacks::{DesiredStack, Part, TAG_ENV, TAG_TEMPLATE_SHA256, sha256_hex};
use sentinel_tvm::names::Names;
use sentinel_tvm::names::client_user_name;
use sentinel_tvm::rollout::stacks::{Engine, Mode, StackOutcome, WaveOutcome};
use sentinel_tvm::ui::output::Reporter;
use sentinel_tvm::ui::prompt::Scripted;
use serde_json::Value;

use crate::emulator_or_skip;
use crate::support::{Emulator, Install, REGION, Workdir, header_only_lambda_zip, unique_name};

/// `stack → outcome` from a result line.
fn outcomes(result: &Value) -> BTreeMap<String, String> {
    result["stacks"]
        .as_object()
        .expect("stacks in the result")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

async fn change_set_count(cfn: &Cfn, stack: &str) -> usize {
    cfn.list_change_sets().stack_name(stack).send().await.map(|o| o.summaries().len()).unwrap_or(0)
}

fn names(env: &str) -> Names {
    Names {
        env: env.into(),
        role_prefix: "SentinelProtected-".into(),
        account_id: ACCOUNT.into(),
        region: REGION.into(),
    }
}

#[tokio::test]
async fn an_environment_is_installed_upgraded_previewed_and_torn_down_without_residue() {
    let emulator = emulator_or_skip!();
    let env = unique_name("e");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let cfn = Cfn::new(&emulator.config);
    let run = |args: &[&str]| emulator.run_json(&dir, &env, args);

    // install creates every stack and saves the settings
    let install = Install::new(&env, &zip).json().protect("app").skip_smoke_test().run(&emulator, &dir);
    install.assert_code(0);
    let created = outcomes(&install.result());
    assert_eq!(created.len(), 7, "{created:?}");
    assert!(created.values().all(|o| o == "created"), "{created:?}");
    let saved = std::fs::read_to_string(dir.path.join("sentinel-tvm.yaml")).expect("the config is saved");
    assert!(saved.contains(&format!("  {env}:")) && saved.contains("architecture: x86_64"), "{saved}");

    // status shows every stack complete, with the endpoint
    let status = run(&["status"]);
    status.assert_code(0);
    let stacks = status.of_type("stack");
    assert_eq!(stacks.len(), 7);
    assert!(stacks.iter().all(|s| s["status"].as_str().unwrap().ends_with("_COMPLETE")), "{stacks:?}");
    let endpoint = status.result()["endpoint"].as_str().unwrap().to_string();
    assert!(endpoint.starts_with(&format!("{}/_aws/execute-api/", emulator.endpoint)), "{endpoint}");

    // a second install makes no change set at all
    let api = Part::Api.stack_name(&env);
    let all_stacks: Vec<String> = created.keys().cloned().collect();
    let mut before = Vec::new();
    for stack in &all_stacks {
        before.push(change_set_count(&cfn, stack).await);
    }
    let again = Install::new(&env, &zip).json().without_architecture().skip_smoke_test().run(&emulator, &dir);
    again.assert_code(0);
    assert_eq!(again.result()["outcome"], "no-changes");
    assert!(again.of_type("plan").iter().all(|p| p["action"] == "no-changes"), "{:?}", again.of_type("plan"));
    for (stack, count) in all_stacks.iter().zip(&before) {
        assert_eq!(change_set_count(&cfn, stack).await, *count, "{stack} got a change set on a no-op install");
    }

    // one parameter changes only the stack that uses it
    let upgrade = run(&["upgrade", "--log-retention-days", "30", "--lambda-zip", &zip, "--skip-smoke-test"]);
    upgrade.assert_code(0);
    let upgraded = outcomes(&upgrade.result());
    assert_eq!(
        upgraded.iter().filter(|(_, o)| *o == "updated").map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        [api.as_str()]
    );
    assert_eq!(emulator.stack_parameter(&api, "LogRetentionDays").await, "30");

    // diff shows a change and applies nothing
    let diff = run(&["diff", "--log-retention-days", "60", "--lambda-zip", &zip]);
    diff.assert_code(0);
    assert_eq!(diff.result()["outcome"], "changes");
    assert_eq!(outcomes(&diff.result())[&api], "would-change");
    assert!(diff.of_type("change").iter().any(|c| c["stack"] == api.as_str()), "the change set is shown");
    assert_eq!(emulator.stack_parameter(&api, "LogRetentionDays").await, "30", "diff applied nothing");

    // an interrupted `smoke-test --as-client` left its user, holding the client policy (which
    // IAM will not delete while it is attached)
    let client_policy = emulator.stack_output(&Part::ClientPolicy.stack_name(&env), "PolicyArn").await;
    let user = client_user_name(&env);
    let tag = aws_sdk_iam::types::Tag::builder().key(TAG_ENV).value(&env).build().unwrap();
    create_user_with_key(&Iam::new(&emulator.config), &user, vec![tag], &client_policy).await.unwrap();

    // every resource the environment made is found before teardown, and none after
    let residue = Residue::new(&emulator.config, S3::new(&emulator.config, true, ACCOUNT));
    let found = residue.leftovers(&names(&env)).await.unwrap();
    let kinds: Vec<&str> = found.iter().map(|l| l.kind).collect();
    for kind in
        ["IAM role", "IAM policy", "IAM user", "Lambda function", "HTTP API", "log group", "S3 bucket", "SSM parameter"]
    {
        assert!(kinds.contains(&kind), "{kind} not found before teardown: {found:?}");
    }
    assert_eq!(found.iter().filter(|l| l.kind == "IAM role").count(), 3, "execution, smoke and app roles: {found:?}");

    // A record in the decision log: who received which credentials.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&emulator.config);
    let [decision_log, access_log] = names(&env).log_groups();
    logs.create_log_stream().log_group_name(&decision_log).log_stream_name("audit").send().await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let record = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp(now)
        .message(r#"{"decision":"allow","principal_arn":"arn:aws:iam::000000000000:user/alice"}"#)
        .build()
        .unwrap();
    logs.put_log_events()
        .log_group_name(&decision_log)
        .log_stream_name("audit")
        .log_events(record)
        .send()
        .await
        .unwrap();

    // Teardown keeps both log groups (threat model T12), and says so: kept, not residue.
    let teardown = run(&["teardown"]);
    teardown.assert_code(0);
    assert_eq!(teardown.result()["outcome"], "clean");
    assert_eq!(teardown.result()["kept"], serde_json::json!([decision_log, access_log]), "{}", teardown.stdout);
    assert_eq!(teardown.of_type("kept").len(), 2, "{}", teardown.stdout);
    assert!(teardown.of_type("leftover").is_empty(), "{}", teardown.stdout);
    assert!(teardown.stderr.contains(&format!("deleted the IAM user {user}")), "{}", teardown.stderr);
    assert_nothing_left(&emulator, &env, Logs::Kept).await;

    // Installing the environment again adopts them: the pre-flight deletes nothing, the record
    // survives, and the retention saved (30 days) is applied by the update after the import.
    // Emulator deviation: MiniStack's CloudFormation creates a log group over an existing one
    // (dropping its events) where AWS fails with "already exists", so success alone proves
    // nothing here: the import's messages, the stack's resources and the record are checked.
    let again = Install::new(&env, &zip).json().skip_smoke_test().run(&emulator, &dir);
    again.assert_code(0);
    assert_eq!(outcomes(&again.result())[&api], "created", "{}", again.stdout);
    assert!(again.stderr.contains("adopts them (an import change set)"), "{}", again.stderr);
    assert!(again.stderr.contains("with an import change set"), "{}", again.stderr);
    let resources = cfn.describe_stack_resources().stack_name(&api).send().await.unwrap();
    for (logical, name) in [("FunctionLogGroup", &decision_log), ("AccessLogGroup", &access_log)] {
        let resource = resources.stack_resources().iter().find(|r| r.logical_resource_id() == Some(logical));
        assert_eq!(
            resource.and_then(|r| r.physical_resource_id()),
            Some(name.as_str()),
            "{logical} is the stack's again"
        );
    }
    let events = logs.get_log_events().log_group_name(&decision_log).log_stream_name("audit").send().await.unwrap();
    assert!(
        events.events().iter().any(|e| e.message().unwrap_or_default().contains("user/alice")),
        "the record survived"
    );
    let group = logs.describe_log_groups().log_group_name_prefix(&decision_log).send().await.unwrap();
    assert_eq!(group.log_groups()[0].retention_in_days(), Some(30));

    // Only --delete-logs deletes them, naming each; then nothing at all is left.
    let gone = run(&["teardown", "--delete-logs"]);
    gone.assert_code(0);
    assert_eq!(gone.result()["outcome"], "clean");
    assert_eq!(gone.result()["kept"], serde_json::json!([]));
    for name in [&decision_log, &access_log] {
        assert!(gone.stderr.contains(&format!("deleted the log group {name}")), "{}", gone.stderr);
    }
    assert_nothing_left(&emulator, &env, Logs::Deleted).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logs {
    /// The environment's two log groups are still there (a plain teardown).
    Kept,
    Deleted,
}

/// The account of the emulator's root credentials.
const ACCOUNT: &str = "000000000000";

/// Lists each resource type directly (not through the installer's own residue check).
async fn assert_nothing_left(emulator: &Emulator, env: &str, logs: Logs) {
    let config = &emulator.config;
    let named = |name: &str| name.contains(&format!("-{env}-")) || name.ends_with(&format!("-{env}"));
    let roles = aws_sdk_iam::Client::new(config).list_roles().send().await.unwrap();
    assert!(!roles.roles().iter().any(|r| named(r.role_name())), "roles left");
    let policies = aws_sdk_iam::Client::new(config).list_policies().send().await.unwrap();
    assert!(!policies.policies().iter().any(|p| p.policy_name().is_some_and(named)), "policies left");
    let users = aws_sdk_iam::Client::new(config).list_users().send().await.unwrap();
    assert!(!users.users().iter().any(|u| named(u.user_name())), "users left");
    let functions = aws_sdk_lambda::Client::new(config).list_functions().send().await.unwrap();
    assert!(!functions.functions().iter().any(|f| f.function_name().is_some_and(named)), "functions left");
    let apis = aws_sdk_apigatewayv2::Client::new(config).get_apis().send().await.unwrap();
    assert!(!apis.items().iter().any(|a| a.name().is_some_and(named)), "APIs left");
    let groups = aws_sdk_cloudwatchlogs::Client::new(config).describe_log_groups().send().await.unwrap();
    let mut found: Vec<&str> =
        groups.log_groups().iter().filter_map(|g| g.log_group_name()).filter(|n| named(n)).collect();
    found.sort_unstable();
    let expected: Vec<String> = match logs {
        Logs::Kept => {
            let mut kept = names(env).log_groups().to_vec();
            kept.sort();
            kept
        }
        Logs::Deleted => Vec::new(),
    };
    assert_eq!(found, expected, "log groups");
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build());
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(!buckets.buckets().iter().any(|b| b.name().is_some_and(named)), "buckets left");
    let parameters = aws_sdk_ssm::Client::new(config)
        .get_parameters_by_path()
        .path(format!("/sentinel-tvm/{env}/"))
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(parameters.parameters().is_empty(), "parameters left");
    let stacks = Cfn::new(config).describe_stacks().send().await.unwrap();
    assert!(
        !stacks
            .stacks()
            .iter()
            .any(|s| s.stack_name().is_some_and(named)
                && s.stack_status().map(|st| st.as_str()) != Some("DELETE_COMPLETE")),
        "stacks left"
    );
}

/// A stack from a test fixture, owned by `env` as the installer's stacks are.
fn fixture_stack(env: &str, template: &'static str) -> DesiredStack {
    let template_sha256 = sha256_hex(template.as_bytes());
    DesiredStack {
        part: Part::Policy,
        name: Part::Policy.stack_name(env),
        template,
        template_sha256: template_sha256.clone(),
        parameters: [("EnvName".to_string(), env.to_string())].into(),
        tags: [(TAG_ENV.to_string(), env.to_string()), (TAG_TEMPLATE_SHA256.to_string(), template_sha256)].into(),
        adopt: Vec::new(),
    }
}

const BROKEN: &str = include_str!("../fixtures/broken-stack.yaml");
const HEALTHY: &str = include_str!("../fixtures/healthy-stack.yaml");

#[tokio::test]
async fn a_failing_stack_reports_its_reason_rolls_back_and_is_recreated_by_the_next_run() {
    let emulator = emulator_or_skip!();
    let env = unique_name("f");
    let cfn = CloudFormation::new(&emulator.config);
    let out = Reporter::new(OutputFormat::Json);
    let prompt = Scripted::new(&[]);
    let engine = Engine {
        cfn: &cfn,
        out: &out,
        prompt: &prompt,
        yes: true,
        env: &env,
        drifted: Default::default(),
        known: None,
    };

    let error =
        engine.run_wave(vec![fixture_stack(&env, BROKEN)], Mode::Apply).await.expect_err("the broken stack fails");
    let message = format!("{error:#}");
    assert!(
        message.contains("rolled back") && message.contains(&format!("sentinel-tvm-{env}-no-such-role")),
        "{message}"
    );
    let stack = Part::Policy.stack_name(&env);
    assert_eq!(cfn.describe(&stack).await.unwrap().unwrap().status, "ROLLBACK_COMPLETE");

    let outcome =
        engine.run_wave(vec![fixture_stack(&env, HEALTHY)], Mode::Apply).await.expect("the next run recovers");
    let WaveOutcome::Done(results) = outcome else { panic!("not declined") };
    assert_eq!(results[0].outcome, StackOutcome::Created);
    assert_eq!(results[0].outputs["MarkerName"], format!("/sentinel-tvm-test/{env}/marker"));
    engine.delete_and_wait(&stack).await.unwrap();
}

#[tokio::test]
async fn declining_leaves_no_change_set_and_no_empty_stack() {
    let emulator = emulator_or_skip!();
    let env = unique_name("d");
    let cfn = CloudFormation::new(&emulator.config);
    let out = Reporter::new(OutputFormat::Json);
    let prompt = Scripted::new(&["n"]);
    let engine = Engine {
        cfn: &cfn,
        out: &out,
        prompt: &prompt,
        yes: false,
        env: &env,
        drifted: Default::default(),
        known: None,
    };

    let outcome = engine.run_wave(vec![fixture_stack(&env, HEALTHY)], Mode::Apply).await.unwrap();

    assert_eq!(outcome, WaveOutcome::Declined);
    assert_eq!(prompt.asked.lock().unwrap().len(), 1, "asked once");
    let left = cfn.describe(&Part::Policy.stack_name(&env)).await.unwrap();
    assert!(left.is_none() || left.as_ref().is_some_and(|s| s.status == "DELETE_COMPLETE"), "{left:?}");
}

#[tokio::test]
async fn a_stack_sentinel_tvm_did_not_create_is_never_touched() {
    let emulator = emulator_or_skip!();
    let env = unique_name("o");
    let dir = Workdir::new(&env);
    let cfn = Cfn::new(&emulator.config);
    let foreign = Part::Policy.stack_name(&env);
    cfn.create_stack()
        .stack_name(&foreign)
        .template_body(HEALTHY)
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder().parameter_key("EnvName").parameter_value(&env).build(),
        )
        .send()
        .await
        .unwrap();

    let run = Install::new(&env, &header_only_lambda_zip()).protect("app").run(&emulator, &dir);

    // The pre-flight check finds it before anything is touched.
    run.assert_code(1);
    assert!(run.stderr.contains("not made by sentinel-tvm") && run.stderr.contains("fix:"), "{}", run.stderr);
    assert!(run.stdout.contains("pre-flight check failed (stacks)"), "{}", run.stdout);
    assert!(
        cfn.describe_stacks().stack_name(Part::Artifacts.stack_name(&env)).send().await.is_err(),
        "nothing was created"
    );
    cfn.delete_stack().stack_name(&foreign).send().await.unwrap();
}

/// Threat model T10: IAM is per account, so a role prefix that makes one environment's protected
/// roles (`<prefix><env>-*`) cover another's would let one TVM vend the other's roles. The
/// pre-flight reads what each installed environment's execution role may assume and refuses the
/// overlap, in both directions, before anything is created.
#[tokio::test]
async fn an_environment_whose_roles_would_overlap_anothers_is_refused() {
    let emulator = emulator_or_skip!();
    let first = unique_name("s");
    let dir = Workdir::new(&first);
    let zip = header_only_lambda_zip();
    Install::new(&first, &zip).protect("app").skip_smoke_test().run(&emulator, &dir).assert_code(0);

    let cfn = Cfn::new(&emulator.config);
    // Inside: `SentinelProtected-<first>-<second>-…` roles are all the first's too. Covering:
    // prefix `SentinelProtecte`, environment `d`, so `SentinelProtected-*`, every other's.
    for (second, prefix) in
        [(unique_name("t"), format!("SentinelProtected-{first}-")), ("d".to_string(), "SentinelProtecte".into())]
    {
        let install = Install::new(&second, &zip).protect("app").skip_smoke_test().args(["--role-prefix", &prefix]);
        let run = install.run(&emulator, &dir);
        run.assert_code(1);
        let overlap = format!("`{first}` may assume `role/SentinelProtected-{first}-*`");
        assert!(run.stderr.contains("role scope") && run.stderr.contains(&overlap), "{}", run.stderr);
        assert!(run.stdout.contains("pre-flight check failed (role scope)"), "{}", run.stdout);
        let artifacts = cfn.describe_stacks().stack_name(Part::Artifacts.stack_name(&second)).send().await;
        assert!(artifacts.is_err(), "nothing was created");
    }

    emulator.sentinel_tvm(&dir, &["--env", &first, "--yes", "teardown"]).assert_code(0);
}

/// A principal of its own that may do exactly `actions` in IAM (on every resource).
async fn principal_allowed(emulator: &Emulator, name: &str, actions: &[&str]) -> SdkConfig {
    let statements = serde_json::json!([{"Effect": "Allow", "Action": actions, "Resource": "*"}]);
    let credentials = emulator.iam_user(name, statements).await;
    emulator.config.to_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build()
}

#[tokio::test]
async fn a_client_user_made_only_halfway_is_removed_again() {
    let emulator = emulator_or_skip!();
    let env = unique_name("h");
    let root = Iam::new(&emulator.config);
    // may create and remove users, but not attach a policy to one
    let deployer = unique_name("deployer");
    let may = [
        "iam:CreateUser",
        "iam:TagUser",
        "iam:GetUser",
        "iam:ListAccessKeys",
        "iam:DeleteAccessKey",
        "iam:ListAttachedUserPolicies",
        "iam:DetachUserPolicy",
        "iam:DeleteUser",
    ];
    let as_deployer = Iam::new(&principal_allowed(&emulator, &deployer, &may).await);
    let user = client_user_name(&env);
    let tag = aws_sdk_iam::types::Tag::builder().key(TAG_ENV).value(&env).build().unwrap();
    let policy = format!("arn:aws:iam::{ACCOUNT}:policy/sentinel-tvm-{env}-invoke");

    let error = create_user_with_key(&as_deployer, &user, vec![tag], &policy).await.expect_err("attaching is denied");

    assert!(format!("{error:#}").contains("AttachUserPolicy"), "{error:#}");
    assert!(get_user(&root, &user).await.unwrap().is_none(), "the half-made user is gone");
    root.delete_user_policy().user_name(&deployer).policy_name("only").send().await.unwrap();
    assert!(remove_user(&root, &deployer).await.unwrap());
}

#[tokio::test]
async fn old_lambda_artifacts_are_pruned_every_version_and_the_rest_kept() {
    let emulator = emulator_or_skip!();
    let bucket = unique_name("prune");
    let raw = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emulator.config).force_path_style(true).build(),
    );
    raw.create_bucket().bucket(&bucket).send().await.unwrap();
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    raw.put_bucket_versioning().bucket(&bucket).versioning_configuration(enabled).send().await.unwrap();
    for key in ["lambda/old.zip", "lambda/old.zip", "lambda/older.zip", "lambda/current.zip", "other/note.txt"] {
        raw.put_object().bucket(&bucket).key(key).body(b"x".to_vec().into()).send().await.unwrap();
    }
    raw.delete_object().bucket(&bucket).key("lambda/older.zip").send().await.unwrap(); // a delete marker
    let s3 = S3::new(&emulator.config, true, ACCOUNT);

    let deleted = s3.delete_objects_except(&bucket, "lambda/", &["lambda/current.zip".to_string()]).await.unwrap();

    assert_eq!(deleted, 4, "two versions of old.zip, older.zip and its delete marker");
    let mut left: Vec<String> =
        s3.versions(&bucket, "").await.unwrap().iter().map(|object| object.key().to_string()).collect();
    left.sort();
    assert_eq!(left, ["lambda/current.zip", "other/note.txt"]);
    assert_eq!(s3.empty(&bucket).await.unwrap(), 2);
    raw.delete_bucket().bucket(&bucket).send().await.unwrap();
}

/// The probe finds the tools the way the build uses them: `scripts/test` puts the pinned
/// cargo-lambda and zig on PATH, so both must be found (a probe that asks the wrong way, as
/// `cargo-lambda --version` does, would stop every install that builds).
#[test]
fn the_build_probe_finds_the_pinned_tools() {
    if std::env::var_os("CI").is_none() && std::env::var_os("SENTINEL_TVM_LAMBDA_ZIP").is_none() {
        eprintln!("skipped: the pinned tools are on PATH only under scripts/test");
        return;
    }
    let found = sentinel_tvm::commands::steps::preflight::toolchain_here(true);
    assert!(found.cargo.is_some(), "{found:?}");
    assert!(found.cargo_lambda.as_deref().is_some_and(|v| v.starts_with("cargo-lambda ")), "{found:?}");
    assert!(found.zig.is_some(), "{found:?}");
}

/// On a machine without cargo-lambda, `install` (which would build the Lambda) stops at the
/// pre-flight naming it: no settings saved, no stack created.
#[tokio::test]
async fn without_cargo_lambda_install_stops_before_saving_or_creating_anything() {
    let emulator = emulator_or_skip!();
    let env = unique_name("nl");
    let dir = Workdir::new(&env);
    let without: Vec<std::path::PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|dir| !dir.join("cargo-lambda").exists())
        .collect();
    let path = std::env::join_paths(without).unwrap();
    let args = ["--env", env.as_str(), "--yes", "install", "--architecture", "x86_64", "--protect", "app"];
    let run = emulator.sentinel_tvm_on_path(&dir, &args, &path);
    run.assert_code(1);
    assert!(run.stderr.contains("cargo-lambda is not installed"), "{}", run.stderr);
    assert!(run.stderr.contains("pip install cargo-lambda"), "{}", run.stderr);
    assert!(!dir.path.join("sentinel-tvm.yaml").exists(), "no settings saved");
    assert!(!emulator.stack_exists(&Part::Artifacts.stack_name(&env)).await, "no stack created");
}
