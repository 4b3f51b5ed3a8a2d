//! `scp check` and the audit-mode template against the emulator.
//!
//! What MiniStack's `iam:SimulateCustomPolicy` can and cannot show (read from
//! `ministack/services/iam.py`, `_simulate_custom_policy`, and `ministack/core/iam_evaluator.py`):
//! it parses every document of `PolicyInputList`, the actions and the first resource ARN, and
//! evaluates them with its real evaluator (deny wins, `ArnNotLike` and the other operators work,
//! an absent key satisfies a negated operator). But it IGNORES `ContextEntries`: every case is
//! evaluated as the account's root (`arn:aws:iam::000000000000:root`) with no
//! `lambda:SourceFunctionArn`, whatever principal the case names. So these tests show that the
//! requests (several actions on one resource each) are accepted and every action's answer read,
//! that the SCP explicitly denies what it does not exempt the root from, allows what it does
//! (the root as the deployer), and that the lock-out guard passes a document exempting the caller
//! and refuses one that does not. They do NOT show that the execution role, a break-glass role,
//! a non-deployer or the function context come out right: real IAM reads `aws:PrincipalArn`
//! from the context, the emulator does not. That the requests carry the context is asserted with
//! a mocked IAM client (`src/aws/simulator.rs`), and what the documents decide for each principal
//! by the documents' unit tests (`src/scp/document.rs`, `src/scp/cases.rs`).
//!
//! The audit template deploys through MiniStack's CloudFormation (it knows `AWS::Logs::MetricFilter`
//! and `AWS::CloudWatch::Alarm`), but its CloudWatch Logs only stores a metric filter: it never
//! applies the filter pattern to log events, so whether the pattern counts the right CloudTrail
//! events is not tested here (the syntax follows "Using filter patterns to match terms in JSON log
//! events" in the CloudWatch Logs guide). MiniStack does apply the parameters' AllowedPattern,
//! which is how the refusal of an account wildcard in `ProtectedRolePattern` is tested.

use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::{Parameter, StackStatus};
use aws_sdk_cloudwatchlogs::Client as Logs;
use sentinel_tvm::aws::identity::caller_identity;
use sentinel_tvm::aws::simulator::Guardrail;
use sentinel_tvm::commands::steps::scp::simulated_verdicts as check;
use sentinel_tvm::model::verdict::Status;
use sentinel_tvm::scp::cases::{CHECK, Principals, cases, lockout_cases};
use sentinel_tvm::scp::document::{Inputs, document};
use sentinel_tvm::scp::guarded::Tvm;

use crate::emulator_or_skip;
use crate::support::{settle, unique_name};

const AUDIT_TEMPLATE: &str = include_str!("../../stacks/scp-audit.yaml");

/// The TVM's resources for environment `env` of `account` (no stack needs to exist: the
/// simulator only reads ARNs).
fn tvm<'a>(account: &'a str, env: &'a str, execution_role: &'a str, function: &'a str, bucket: &'a str) -> Tvm<'a> {
    Tvm {
        partition: "aws",
        account_id: account,
        env,
        role_name_prefix: format!("SentinelProtected-{env}-"),
        other_accounts: &[],
        execution_role_arn: execution_role,
        function_arn: function,
        bucket_name: bucket,
    }
}

/// Emulator (MiniStack's IAM simulator, which answers as the root whatever the context says):
/// the case table's requests, several actions each, are accepted and every action's answer read.
/// With the root as the deployer, the root's answers are what the table expects of a deployer
/// (every guarded change allowed, direct invokes denied) and not what it expects of a
/// non-deployer; real IAM reads `aws:PrincipalArn` from the context (see the mocked test in
/// `aws::simulator`).
#[tokio::test]
async fn the_case_tables_run_against_the_simulator_and_every_action_is_answered() {
    let emulator = emulator_or_skip!();
    let caller = caller_identity(&emulator.config).await.expect("GetCallerIdentity answers");
    let account = caller.account_id.clone();
    let env = unique_name("s");
    let execution_role = format!("arn:aws:iam::{account}:role/sentinel-tvm-{env}-execution");
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:sentinel-tvm-{env}");
    let bucket = format!("sentinel-tvm-{env}-{account}-us-east-1");
    let tvm = tvm(&account, &env, &execution_role, &function, &bucket);
    let root = format!("arn:aws:iam::{account}:root");
    let deployers = [root.clone()];
    let scp = document(&Inputs { tvm: tvm.clone(), break_glass_role_arns: &[], deployers: &deployers, strict: true })
        .expect("the document fits");
    let who = Principals { tvm: &tvm, strict: true, caller: &root, deployers: &deployers, break_glass: &[] };
    let cases = cases(&who);

    let verdicts = check(&emulator.config, Guardrail::Scp(&scp), CHECK, &cases).await.expect("the simulations run");
    let guard = check(&emulator.config, Guardrail::Scp(&scp), "lock-out guard", &lockout_cases(&tvm, &root))
        .await
        .expect("the lock-out guard runs");

    assert_eq!(verdicts.len(), cases.len(), "one verdict per case");
    for (case, verdict) in cases.iter().zip(&verdicts) {
        assert!(!verdict.detail.contains("no answer"), "every action answered: {verdict:?}");
        // The root stands in for every principal: a deployer, so allowed every guarded change
        // (right for deployers, wrong for the rest), and no assumer, so denied assuming a
        // protected role (right for the rest, wrong for the execution role and break glass).
        let root_is_right = match case.what.as_str() {
            "invoking the function directly" => true,
            "assuming a protected role" => !case.expect_allowed,
            _ => case.expect_allowed,
        };
        let as_the_root = if root_is_right { Status::Pass } else { Status::Fail };
        assert_eq!(verdict.status, as_the_root, "{} {}: {verdict:?}", case.label, case.what);
    }
    assert!(guard.iter().all(|v| v.status == Status::Pass), "{guard:#?}");
}

/// Emulator: a document that does not exempt the caller fails the lock-out guard (the root
/// here, which the emulator evaluates: the same principal the guard names).
#[tokio::test]
async fn the_lock_out_guard_refuses_a_document_that_does_not_exempt_the_caller() {
    let emulator = emulator_or_skip!();
    let caller = caller_identity(&emulator.config).await.expect("GetCallerIdentity answers");
    let account = caller.account_id.clone();
    let env = unique_name("s");
    let execution_role = format!("arn:aws:iam::{account}:role/sentinel-tvm-{env}-execution");
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:sentinel-tvm-{env}");
    let bucket = format!("sentinel-tvm-{env}-{account}-us-east-1");
    let tvm = tvm(&account, &env, &execution_role, &function, &bucket);
    let someone_else = [format!("arn:aws:iam::{account}:role/Deployer")];
    let scp =
        document(&Inputs { tvm: tvm.clone(), break_glass_role_arns: &[], deployers: &someone_else, strict: true })
            .expect("the document fits");
    let root = format!("arn:aws:iam::{account}:root");

    let guard = check(&emulator.config, Guardrail::Scp(&scp), "lock-out guard", &lockout_cases(&tvm, &root))
        .await
        .expect("the lock-out guard runs");

    assert!(!guard.is_empty());
    for verdict in &guard {
        assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
        assert!(verdict.fix.as_deref().is_some_and(|fix| fix.contains("lock")), "{verdict:?}");
    }
}

#[tokio::test]
async fn the_audit_template_deploys_its_metric_filter_and_alarm() {
    let emulator = emulator_or_skip!();
    let caller = caller_identity(&emulator.config).await.expect("GetCallerIdentity answers");
    let account = &caller.account_id;
    let env = unique_name("a");
    let stack = format!("sentinel-tvm-{env}-scp-audit");
    let log_group = format!("/sentinel-tvm-test/{env}/cloudtrail");
    let role_pattern = format!("arn:aws:iam::{account}:role/SentinelProtected-{env}-*");
    let execution_role = format!("arn:aws:iam::{account}:role/sentinel-tvm-{env}-execution");
    let logs = Logs::new(&emulator.config);
    let cloudformation = CloudFormation::new(&emulator.config);
    logs.create_log_group().log_group_name(&log_group).send().await.expect("the trail's log group");

    // CloudWatch Logs honours a `*` only at the ends of a value: an account wildcard would make a
    // filter that never matches, so the template refuses it.
    let refused = cloudformation
        .create_stack()
        .stack_name(&stack)
        .template_body(AUDIT_TEMPLATE)
        .set_parameters(Some(vec![
            parameter("EnvName", &env),
            parameter("TrailLogGroupName", &log_group),
            parameter("ProtectedRolePattern", &format!("arn:aws:iam::*:role/SentinelProtected-{env}-*")),
            parameter("ExecutionRoleArn", &execution_role),
        ]))
        .send()
        .await
        .expect_err("an account wildcard is refused");
    assert!(format!("{refused:?}").contains("ProtectedRolePattern"), "{refused:?}");

    cloudformation
        .create_stack()
        .stack_name(&stack)
        .template_body(AUDIT_TEMPLATE)
        .set_parameters(Some(vec![
            parameter("EnvName", &env),
            parameter("TrailLogGroupName", &log_group),
            parameter("ProtectedRolePattern", &role_pattern),
            parameter("ExecutionRoleArn", &execution_role),
        ]))
        .send()
        .await
        .expect("CreateStack is accepted");
    let status = settle(&cloudformation, &stack).await;
    assert_eq!(status, Some(StackStatus::CreateComplete), "{}", failure_reasons(&cloudformation, &stack).await);

    let filters = logs.describe_metric_filters().log_group_name(&log_group).send().await.expect("the filters");
    let [filter] = filters.metric_filters() else {
        panic!("one metric filter on the log group: {filters:?}");
    };
    assert_eq!(filter.filter_name(), Some(format!("sentinel-tvm-{env}-protected-role-assumed-around-tvm").as_str()));
    let pattern = filter.filter_pattern().unwrap_or_default();
    for part in [
        r#"$.eventName = "AssumeRole""#.to_string(),
        format!(r#"$.requestParameters.roleArn = "{role_pattern}""#),
        format!(r#"$.userIdentity.sessionContext.sessionIssuer.arn != "{execution_role}""#),
        "$.userIdentity.sessionContext.sessionIssuer.arn NOT EXISTS".to_string(),
    ] {
        assert!(pattern.contains(&part), "`{part}` in {pattern}");
    }
    let [transformation] = filter.metric_transformations() else {
        panic!("one transformation: {filter:?}");
    };
    assert_eq!(transformation.metric_namespace(), "sentinel-tvm");
    assert_eq!(transformation.metric_name(), format!("ProtectedRoleAssumedAroundTvm-{env}"));
    assert_eq!(transformation.metric_value(), "1");

    let described = cloudformation.describe_stacks().stack_name(&stack).send().await.expect("the stack");
    let outputs = described.stacks()[0].outputs();
    let output = |key: &str| outputs.iter().find(|o| o.output_key() == Some(key)).and_then(|o| o.output_value());
    let alarm = format!("sentinel-tvm-{env}-protected-role-assumed-around-tvm");
    assert_eq!(output("AlarmName"), Some(alarm.as_str()));
    assert_eq!(output("MetricName"), Some(format!("ProtectedRoleAssumedAroundTvm-{env}").as_str()));

    cloudformation.delete_stack().stack_name(&stack).send().await.expect("DeleteStack is accepted");
    let after = settle(&cloudformation, &stack).await;
    assert!(matches!(after, None | Some(StackStatus::DeleteComplete)), "stack after delete: {after:?}");
    let filters = logs.describe_metric_filters().log_group_name(&log_group).send().await.expect("the filters");
    assert!(filters.metric_filters().is_empty(), "the filter went with the stack: {filters:?}");
    logs.delete_log_group().log_group_name(&log_group).send().await.expect("the log group is deleted");
}

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder().parameter_key(key).parameter_value(value).build()
}

/// The reasons of the stack's failed events, for an assertion message.
async fn failure_reasons(cloudformation: &CloudFormation, stack: &str) -> String {
    let Ok(events) = cloudformation.describe_stack_events().stack_name(stack).send().await else {
        return "no stack events".into();
    };
    events
        .stack_events()
        .iter()
        .filter(|e| e.resource_status().is_some_and(|s| s.as_str().ends_with("_FAILED")))
        .map(|e| format!("{}: {}", e.logical_resource_id().unwrap_or("?"), e.resource_status_reason().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join("\n")
}
