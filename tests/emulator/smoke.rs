//! The smoke test against the emulator with IAM enforcement on: it passes on a fresh install,
//! `--as-client` proves the client policy, and it fails, saying why, when the client policy
//! grants nothing or the policy denies the smoke profile.

use aws_sdk_cloudformation::Client as Cfn;
use sentinel_tvm::deploy::stacks::Part;

use crate::support::{Install, Workdir, unique_name};
use crate::{emulator_or_skip, lambda_zip_or_skip};

fn failed_details(run: &crate::support::Run) -> Vec<String> {
    run.of_type("check")
        .into_iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn install_proves_the_tvm_and_as_client_proves_the_client_policy_until_it_is_broken() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("s");
    let dir = Workdir::new(&env);
    let json = ["--env", env.as_str(), "--yes", "--output", "json"];

    let install = Install::new(&env, &zip).json().protect("app").source_identity_off().run(&emulator, &dir);
    install.assert_code(0);
    let checks = install.of_type("check");
    // Six checks, the two of the caller proof (a forged direct invoke, another audience), and
    // one trust check per protected role (smoke and app).
    assert_eq!(checks.len(), 10, "{checks:?}");
    for name in ["a forged direct invoke is refused", "a proof for another audience is refused (403 PROOF_AUDIENCE)"] {
        assert!(checks.iter().any(|c| c["name"] == name), "{name}: {checks:?}");
    }
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");

    let as_client = emulator.sentinel_tvm(&dir, &[&json[..], &["smoke-test", "--as-client"]].concat());
    as_client.assert_code(0);
    assert_eq!(as_client.of_type("check").len(), 13);

    // A client policy that no longer grants this API: --as-client fails, and says so.
    let cfn = Cfn::new(&emulator.config);
    let stacks = cfn.describe_stacks().stack_name(Part::ClientPolicy.stack_name(&env)).send().await.unwrap();
    let policy_arn = stacks.stacks()[0].outputs()[0].output_value().unwrap().to_string();
    let elsewhere = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:another-api/*"}]}"#;
    aws_sdk_iam::Client::new(&emulator.config)
        .create_policy_version()
        .policy_arn(&policy_arn)
        .policy_document(elsewhere)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let broken = emulator.sentinel_tvm(&dir, &[&json[..], &["smoke-test", "--as-client", "--wait", "2"]].concat());
    broken.assert_code(1);
    let details = failed_details(&broken);
    assert!(
        details.iter().any(|d| d.contains("holding only") && d.contains("client policy") && d.contains("got 403")),
        "{details:?}"
    );
    let text = emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "smoke-test", "--as-client", "--wait", "1"]);
    assert!(text.stdout.contains("✗ a principal holding only the client policy gets credentials"), "{}", text.stdout);
    assert!(
        text.stdout.contains("✓ the temporary client user is removed"),
        "cleanup runs after a failure:\n{}",
        text.stdout
    );

    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}

#[tokio::test]
async fn a_policy_denying_the_smoke_profile_fails_the_positive_check_with_policy_deny() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("p");
    let dir = Workdir::new(&env);
    Install::new(&env, &zip).protect("app").skip_smoke_test().source_identity_off().run(&emulator, &dir).assert_code(0);

    // The installer always lets the deployer have the smoke profile; someone with CloudFormation
    // rights changed the policy behind its back: a new parameter version, and the api stack
    // pinned to it. (Writing the parameter alone would change nothing: the version is pinned.)
    let denying = format!(
        "version: \"1\"\nrules:\n  - name: lockdown\n    effect: deny\n    reason: lockdown in force\n    conditions: {{profiles: [{env}-smoke]}}\n"
    );
    let ssm = aws_sdk_ssm::Client::new(&emulator.config);
    let parameter = format!("/sentinel-tvm/{env}/policy");
    let written = ssm.put_parameter().name(&parameter).value(&denying).overwrite(true).send().await.unwrap();
    let sha256 = sentinel_tvm_lambda::policy::pin::sha256_hex(denying.as_bytes());
    let version = written.version().to_string();
    repin(&emulator, &sentinel_tvm::deploy::stacks::Part::Api.stack_name(&env), &version, &sha256).await;

    let smoke = emulator.sentinel_tvm(&dir, &["--env", &env, "--output", "json", "smoke-test", "--wait", "1"]);
    smoke.assert_code(1);
    let details = failed_details(&smoke);
    assert!(details[0].contains("POLICY_DENY") && details[0].contains("lockdown in force"), "{details:?}");

    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}

/// Updates the api stack to pin another policy version and digest, every other parameter kept.
async fn repin(emulator: &crate::support::Emulator, stack: &str, version: &str, sha256: &str) {
    use aws_sdk_cloudformation::types::Parameter;
    let cfn = aws_sdk_cloudformation::Client::new(&emulator.config);
    let described = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
    let parameters = described.stacks()[0].parameters().iter().map(|p| {
        let key = p.parameter_key().unwrap();
        match key {
            "PolicyParameterVersion" => Parameter::builder().parameter_key(key).parameter_value(version).build(),
            "PolicySha256" => Parameter::builder().parameter_key(key).parameter_value(sha256).build(),
            _ => Parameter::builder().parameter_key(key).use_previous_value(true).build(),
        }
    });
    cfn.update_stack()
        .stack_name(stack)
        .use_previous_template(true)
        .set_parameters(Some(parameters.collect()))
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await
        .unwrap();
    let status = crate::support::settle(&cfn, stack).await;
    assert_eq!(status, Some(aws_sdk_cloudformation::types::StackStatus::UpdateComplete));
}

/// Threat model T14 (and T11's rule: nothing without the environment's tag is touched): a user
/// that happens to have the client user's name, but not the environment's tag, is someone
/// else's. `--as-client` refuses to go on and leaves it, keys and all; before, it deleted it.
#[tokio::test]
async fn as_client_never_touches_a_same_named_user_without_the_environments_tag() {
    let emulator = emulator_or_skip!();
    let env = unique_name("u");
    let dir = Workdir::new(&env);
    // The function never runs (a header-only zip): only the client check matters here.
    Install::new(&env, &crate::support::header_only_lambda_zip())
        .protect("app")
        .skip_smoke_test()
        .run(&emulator, &dir)
        .assert_code(0);
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    let user = sentinel_tvm::names::client_user_name(&env);
    let other = aws_sdk_iam::types::Tag::builder().key("owner").value("someone-else").build().unwrap();
    iam.create_user().user_name(&user).tags(other).send().await.unwrap();
    iam.create_access_key().user_name(&user).send().await.unwrap();

    let run =
        emulator.sentinel_tvm(&dir, &["--env", &env, "--output", "json", "smoke-test", "--as-client", "--wait", "1"]);

    run.assert_code(1);
    let details = failed_details(&run);
    assert!(
        details
            .iter()
            .any(|d| d.contains(&format!("an IAM user `{user}` exists without the tag `sentinel-tvm:env: {env}`"))),
        "{details:?}"
    );
    assert!(iam.get_user().user_name(&user).send().await.is_ok(), "the user is still there");
    assert_eq!(iam.list_access_keys().user_name(&user).send().await.unwrap().access_key_metadata().len(), 1);
    // Teardown leaves it too, and names it as something still named for the environment.
    let teardown = emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]);
    teardown.assert_code(1);
    assert!(teardown.stdout.contains(&format!("IAM user: {user}")), "{}", teardown.stdout);
    assert!(iam.get_user().user_name(&user).send().await.is_ok(), "teardown left it");
    let key = iam.list_access_keys().user_name(&user).send().await.unwrap();
    for key in key.access_key_metadata() {
        iam.delete_access_key().user_name(&user).access_key_id(key.access_key_id().unwrap()).send().await.unwrap();
    }
    iam.delete_user().user_name(&user).send().await.unwrap();
}
