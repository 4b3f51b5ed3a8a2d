//! The permissions pre-flight check against the emulator's IAM policy simulator, signed as the
//! principals it is about (the emulator's root key `test` would pass every check): an
//! administrator passes, a user who may only use CloudFormation is warned that nothing could be
//! checked, and failed once it may run the simulation; a role session is simulated as its role;
//! the root is skipped.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::Client as Iam;
use sentinel_tvm::aws::iam::{remove_user, role_arn};
use sentinel_tvm::aws::identity::caller_identity;
use sentinel_tvm::aws::simulator::denied_actions;
use sentinel_tvm::check::permissions::required_actions;
use sentinel_tvm::commands::steps::preflight::permissions_verdict as check;
use sentinel_tvm::model::verdict::Status;
use serde_json::{Value, json};

use crate::emulator_or_skip;
use crate::support::{Emulator, unique_name};

const ACCOUNT: &str = "000000000000";

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn signing_as(emulator: &Emulator, credentials: Credentials) -> SdkConfig {
    emulator.config.to_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build()
}

/// An IAM user `name` whose one inline policy has `statements`, and configuration signing as it.
async fn user_with(emulator: &Emulator, name: &str, statements: Value) -> SdkConfig {
    signing_as(emulator, emulator.iam_user(name, statements).await)
}

async fn remove_user_with_policy(emulator: &Emulator, name: &str) {
    let root = Iam::new(&emulator.config);
    root.delete_user_policy().user_name(name).policy_name("only").send().await.unwrap();
    assert!(remove_user(&root, name).await.unwrap());
}

/// A role `name` at `path` that the account may assume, whose one inline policy has `statements`.
async fn role_with(emulator: &Emulator, name: &str, path: &str, statements: Value) -> String {
    let root = Iam::new(&emulator.config);
    let trust = policy(json!([{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "sts:AssumeRole",
    }]));
    let role = root.create_role().role_name(name).path(path).assume_role_policy_document(trust).send().await.unwrap();
    root.put_role_policy()
        .role_name(name)
        .policy_name("only")
        .policy_document(policy(statements))
        .send()
        .await
        .unwrap();
    role.role().unwrap().arn().to_string()
}

async fn remove_role(emulator: &Emulator, name: &str) {
    let root = Iam::new(&emulator.config);
    root.delete_role_policy().role_name(name).policy_name("only").send().await.unwrap();
    root.delete_role().role_name(name).send().await.unwrap();
}

/// The required actions of one service (`iam:`), as the simulation reports them.
fn required_of(service: &str) -> Vec<String> {
    required_actions().into_iter().filter(|a| a.starts_with(service)).map(str::to_string).collect()
}

#[tokio::test]
async fn an_administrator_may_do_everything_an_install_needs() {
    let emulator = emulator_or_skip!();
    let name = unique_name("perm-admin");
    let config = user_with(&emulator, &name, json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}])).await;
    let caller = caller_identity(&config).await.unwrap().arn;
    assert_eq!(caller, format!("arn:aws:iam::{ACCOUNT}:user/{name}"));

    let verdict = check(&config, &caller).await.unwrap();

    assert_eq!(verdict.status, Status::Pass, "{verdict:?}");
    assert!(verdict.detail.contains(&caller), "{}", verdict.detail);
    remove_user_with_policy(&emulator, &name).await;
}

#[tokio::test]
async fn a_caller_who_may_not_simulate_is_warned_not_failed() {
    let emulator = emulator_or_skip!();
    let name = unique_name("perm-cfn");
    let config =
        user_with(&emulator, &name, json!([{"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}])).await;
    let caller = caller_identity(&config).await.unwrap().arn;

    let verdict = check(&config, &caller).await.unwrap();

    assert_eq!(verdict.status, Status::Warn, "{verdict:?}");
    assert!(verdict.detail.contains("iam:SimulatePrincipalPolicy"), "{}", verdict.detail);
    assert!(verdict.fix.as_deref().is_some_and(|fix| fix.contains("grant iam:SimulatePrincipalPolicy")), "{verdict:?}");
    remove_user_with_policy(&emulator, &name).await;
}

#[tokio::test]
async fn an_explicit_deny_fails_naming_the_denied_actions() {
    let emulator = emulator_or_skip!();
    let name = unique_name("perm-deny");
    let config = user_with(
        &emulator,
        &name,
        json!([
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["iam:CreateRole", "iam:PassRole"], "Resource": "*"},
        ]),
    )
    .await;
    let caller = caller_identity(&config).await.unwrap().arn;

    let verdict = check(&config, &caller).await.unwrap();

    assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
    let needed = required_actions().len();
    assert_eq!(
        verdict.detail,
        format!("`{caller}` is denied 2 of the {needed} actions an install needs: iam:CreateRole, iam:PassRole")
    );
    remove_user_with_policy(&emulator, &name).await;
}

#[tokio::test]
async fn a_user_who_may_only_use_cloudformation_is_warned_naming_what_it_lacks() {
    let emulator = emulator_or_skip!();
    let name = unique_name("perm-only");
    let config = user_with(
        &emulator,
        &name,
        json!([{"Effect": "Allow", "Action": ["cloudformation:*", "iam:SimulatePrincipalPolicy"], "Resource": "*"}]),
    )
    .await;
    let caller = caller_identity(&config).await.unwrap().arn;

    let verdict = check(&config, &caller).await.unwrap();
    let denied = denied_actions(&Iam::new(&config), &caller, &required_actions()).await.unwrap().unwrap();

    // Not allowed is not denied: a deployer scoped to the environment's resources looks the same.
    assert_eq!(verdict.status, Status::Warn, "{verdict:?}");
    let needed = required_actions().len();
    let expected = format!(
        "`{caller}` is not allowed {} of the {needed} actions an install needs on every resource: ",
        denied.implicit.len()
    );
    assert!(verdict.detail.starts_with(&expected), "{}", verdict.detail);
    assert!(verdict.detail.contains("more"), "many denied actions are counted, not all listed: {}", verdict.detail);
    assert!(denied.explicit.is_empty(), "{denied:?}");
    let not_cloudformation: Vec<&str> =
        required_actions().into_iter().filter(|a| !a.starts_with("cloudformation:")).collect();
    assert_eq!(denied.implicit, not_cloudformation, "exactly everything but CloudFormation is not allowed");
    remove_user_with_policy(&emulator, &name).await;
}

#[tokio::test]
async fn a_role_session_is_simulated_as_its_role() {
    let emulator = emulator_or_skip!();
    let name = unique_name("perm-role");
    // Everything but IAM, plus the two IAM calls the check makes.
    let statements = json!([
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:SimulatePrincipalPolicy"], "Resource": "*"},
    ]);
    let role = role_with(&emulator, &name, "/", statements).await;
    let credentials = emulator.assumed_role(&role, "preflight").await;
    let config = signing_as(&emulator, credentials);
    let caller = caller_identity(&config).await.unwrap().arn;
    assert_eq!(caller, format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/preflight"));

    let verdict = check(&config, &caller).await.unwrap();
    let denied = denied_actions(&Iam::new(&config), &role, &required_actions()).await.unwrap().unwrap();

    assert_eq!(verdict.status, Status::Warn, "{verdict:?}");
    assert!(
        verdict.detail.starts_with(&format!("`{role}` is not allowed {} of", denied.implicit.len())),
        "{}",
        verdict.detail
    );
    let expected: Vec<String> = required_of("iam:").into_iter().filter(|a| a != "iam:GetRole").collect();
    assert_eq!(denied.implicit, expected, "only the role's missing IAM actions are not allowed");
    assert!(
        denied.implicit.contains(&"iam:CreateRole".to_string())
            && denied.implicit.contains(&"iam:PassRole".to_string())
    );
    remove_role(&emulator, &name).await;
}

#[tokio::test]
async fn a_role_s_arn_keeps_the_path_its_sessions_drop() {
    let emulator = emulator_or_skip!();
    let name = unique_name("perm-path");
    let role =
        role_with(&emulator, &name, "/ci/deploy/", json!([{"Effect": "Deny", "Action": "*", "Resource": "*"}])).await;
    assert_eq!(role, format!("arn:aws:iam::{ACCOUNT}:role/ci/deploy/{name}"));

    assert_eq!(role_arn(&Iam::new(&emulator.config), &name).await.unwrap(), Some(role));
    remove_role(&emulator, &name).await;
}

#[tokio::test]
async fn the_root_is_skipped() {
    let emulator = emulator_or_skip!();
    let caller = caller_identity(&emulator.config).await.unwrap().arn;
    assert_eq!(caller, format!("arn:aws:iam::{ACCOUNT}:root"));

    let verdict = check(&emulator.config, &caller).await.unwrap();

    assert_eq!(verdict.status, Status::Skipped, "{verdict:?}");
    assert!(verdict.detail.contains("root may do everything"), "{}", verdict.detail);
}
