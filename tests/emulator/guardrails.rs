//! Whose guardrail stacks teardown and upgrade touch (threat model T11), through the real
//! binary against the emulator's CloudFormation. MiniStack has no `AWS::Organizations::Policy`,
//! so the guardrail stacks here are STAND-INS: stacks named and tagged exactly as sentinel-tvm
//! names and tags its SCP stacks (`sentinel-tvm-<env>-scp-<tvm account>`, `sentinel-tvm:env`,
//! `sentinel-tvm:tvm-account`; the 0.1 name `sentinel-tvm-<env>-scp` with its `PolicyDocument`
//! parameter), holding one SSM parameter instead of a policy. What is proven is which stacks the
//! binary lists, keeps, deletes and leaves alone, by name, tags and document; not the policy
//! itself (unit tests of `scp::document` and `deploy::ownership`).
//!
//! The emulator's account (000000000000) is the TVM's; 444455556666 is another TVM account
//! with the same environment name whose guardrails share the management account.

use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::{Parameter, StackStatus, Tag};

use crate::emulator_or_skip;
use crate::support::{Emulator, Install, Workdir, header_only_lambda_zip, settle, unique_name};

const OURS: &str = "000000000000";
const THEIRS: &str = "444455556666";

const STAND_IN: &str = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {"PolicyDocument": {"Type": "String", "Default": "{}"}},
  "Resources": {"Marker": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "stand-in"}}}
}"#;

/// A stand-in guardrail stack `name`, tagged for `env` and (if given) `tvm_account`, with
/// `document` as its `PolicyDocument`.
async fn stand_in(emulator: &Emulator, name: &str, env: &str, tvm_account: Option<&str>, document: &str) {
    let cfn = CloudFormation::new(&emulator.config);
    let mut tags = vec![Tag::builder().key("sentinel-tvm:env").value(env).build()];
    tags.extend(tvm_account.map(|a| Tag::builder().key("sentinel-tvm:tvm-account").value(a).build()));
    cfn.create_stack()
        .stack_name(name)
        .template_body(STAND_IN)
        .parameters(Parameter::builder().parameter_key("PolicyDocument").parameter_value(document).build())
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating the stand-in {name}: {e:?}"));
    assert_eq!(settle(&cfn, name).await, Some(StackStatus::CreateComplete), "{name}");
}

/// A 0.1 SCP document exempting `account`'s execution role.
fn legacy_document(env: &str, account: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OnlyTheTvmAssumesProtectedRoles","Effect":"Deny","Action":["sts:AssumeRole"],"Resource":"arn:aws:iam::*:role/SentinelProtected-{env}-*","Condition":{{"ArnNotLike":{{"aws:PrincipalArn":["arn:aws:iam::{account}:role/sentinel-tvm-{env}-execution"]}}}}}}]}}"#
    )
}

/// Emulator CloudFormation, stand-in stacks: a teardown of an environment with no stacks in the
/// region keeps this TVM's guardrail (naming it) unless `--delete-guardrails`, and never touches
/// another TVM account's, named or of the 0.1 kind.
#[tokio::test]
async fn teardown_without_the_environment_here_keeps_its_guardrails_unless_asked() {
    let emulator = emulator_or_skip!();
    let env = unique_name("g");
    let dir = Workdir::new(&env);
    let ours = format!("sentinel-tvm-{env}-scp-{OURS}");
    let theirs = format!("sentinel-tvm-{env}-scp-{THEIRS}");
    let legacy_theirs = format!("sentinel-tvm-{env}-scp");
    stand_in(&emulator, &ours, &env, Some(OURS), "{}").await;
    stand_in(&emulator, &theirs, &env, Some(THEIRS), "{}").await;
    stand_in(&emulator, &legacy_theirs, &env, None, &legacy_document(&env, THEIRS)).await;

    let kept = emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]);
    kept.assert_code(0);
    assert!(kept.stderr.contains(&format!("kept the guardrail stack {ours}")), "{}", kept.stderr);
    assert!(kept.stderr.contains("--delete-guardrails"), "{}", kept.stderr);
    assert!(emulator.stack_exists(&ours).await, "kept without the flag");

    // Without a terminal and without --yes, it lists what it would delete and deletes nothing.
    let asked = emulator.sentinel_tvm(&dir, &["--env", &env, "teardown", "--delete-guardrails"]);
    assert_ne!(asked.code, Some(0), "{}", asked.stderr);
    assert!(asked.stdout.contains(&format!("stack {ours} in account {OURS}")), "{}", asked.stdout);
    assert!(
        !asked.stdout.contains(&theirs) && !asked.stdout.contains(&format!("stack {legacy_theirs} ")),
        "{}",
        asked.stdout
    );
    assert!(emulator.stack_exists(&ours).await, "nothing deleted without an answer");

    let deleted = emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown", "--delete-guardrails"]);
    deleted.assert_code(0);
    assert!(deleted.stderr.contains(&format!("left alone: the guardrail stack {theirs}")), "{}", deleted.stderr);
    assert!(deleted.stderr.contains(&format!("left alone: the guardrail stack {legacy_theirs}")), "{}", deleted.stderr);
    assert!(!emulator.stack_exists(&ours).await, "deleted with the flag");
    assert!(emulator.stack_exists(&theirs).await, "another TVM account's is never deleted");
    assert!(emulator.stack_exists(&legacy_theirs).await, "nor its 0.1 SCP");

    let cfn = CloudFormation::new(&emulator.config);
    for name in [&theirs, &legacy_theirs] {
        cfn.delete_stack().stack_name(name.as_str()).send().await.unwrap();
    }
}

/// Emulator CloudFormation, stand-in stacks, the real TVM stacks: an install with `scp_mode`
/// off retires this TVM's guardrail stack (and its own 0.1 one) and leaves the other account's
/// alone; teardown of the installed environment lists the remaining stacks and never touches
/// the other account's.
#[tokio::test]
async fn an_install_and_a_teardown_touch_only_this_tvm_accounts_guardrails() {
    let emulator = emulator_or_skip!();
    let env = unique_name("g");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let ours = format!("sentinel-tvm-{env}-scp-{OURS}");
    let legacy_ours = format!("sentinel-tvm-{env}-scp");
    let theirs = format!("sentinel-tvm-{env}-rcp-{THEIRS}");
    stand_in(&emulator, &ours, &env, Some(OURS), "{}").await;
    stand_in(&emulator, &legacy_ours, &env, None, &legacy_document(&env, OURS)).await;
    stand_in(&emulator, &theirs, &env, Some(THEIRS), "{}").await;

    let install = Install::new(&env, &zip).protect("app").skip_smoke_test().run(&emulator, &dir);
    install.assert_code(0);
    assert!(!emulator.stack_exists(&ours).await, "scp_mode off: this TVM's SCP retired\n{}", install.stderr);
    assert!(!emulator.stack_exists(&legacy_ours).await, "and its 0.1 SCP\n{}", install.stderr);
    assert!(emulator.stack_exists(&theirs).await, "another TVM account's RCP stays\n{}", install.stderr);
    assert!(install.stderr.contains(&format!("left alone: the guardrail stack {theirs}")), "{}", install.stderr);

    let teardown = emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]);
    teardown.assert_code(0);
    assert!(
        teardown.stderr.contains(&format!("sentinel-tvm-{env}-api")),
        "the list names every stack: {}",
        teardown.stderr
    );
    assert!(emulator.stack_exists(&theirs).await, "another TVM account's RCP survives teardown");
    CloudFormation::new(&emulator.config).delete_stack().stack_name(&theirs).send().await.unwrap();
}
