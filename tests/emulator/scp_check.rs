//! `scp check` and the audit-mode template against the emulator.
//!
//! What MiniStack's `iam:SimulateCustomPolicy` can and cannot show (read from
//! `ministack/services/iam.py`, `_simulate_custom_policy`, and `ministack/core/iam_evaluator.py`):
//! it parses every document of `PolicyInputList`, the actions and the first resource ARN, and
//! evaluates them with its real evaluator (deny wins, `ArnNotLike` and the other operators work,
//! an absent key satisfies a negated operator). But it IGNORES `ContextEntries`: every case is
//! evaluated as the account's root (`arn:aws:iam::000000000000:root`) with no
//! `lambda:SourceFunctionArn`, whatever principal the case names. So these tests show that the
//! request is accepted and its answer read, that the SCP explicitly denies a principal it does not
//! exempt (the root here, which stands for the caller and the arbitrary role), and that a
//! principal the SCP exempts comes out allowed (by exempting the root). They do NOT show that the
//! execution role, a break-glass role or the function context come out right: real IAM reads
//! `aws:PrincipalArn` from the context, the emulator does not. That the request carries the
//! context is asserted with a mocked IAM client (`src/aws/scp_simulation.rs`).
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
use sentinel_tvm::check::verdict::Status;
use sentinel_tvm::commands::steps::scp::simulated_verdicts as check;
use sentinel_tvm::scp::cases::cases;
use sentinel_tvm::scp::document::{Inputs, document};

use crate::emulator_or_skip;
use crate::support::{settle, unique_name};

const AUDIT_TEMPLATE: &str = include_str!("../../stacks/scp-audit.yaml");

#[tokio::test]
async fn the_simulation_runs_and_reads_the_emulators_answers() {
    let emulator = emulator_or_skip!();
    let caller = caller_identity(&emulator.config).await.expect("GetCallerIdentity answers");
    let account = &caller.account_id;
    let env = unique_name("s");
    let execution_role = format!("arn:aws:iam::{account}:role/sentinel-tvm-{env}-execution");
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:sentinel-tvm-{env}");
    let protected_role = format!("arn:aws:iam::{account}:role/SentinelProtected-{env}-smoke");
    let break_glass = [format!("arn:aws:iam::{account}:role/BreakGlass")];
    let scp = document(&Inputs {
        partition: "aws",
        role_name_prefix: format!("SentinelProtected-{env}-"),
        execution_role_arn: &execution_role,
        break_glass_role_arns: &break_glass,
        strict_function_arn: Some(&function),
    })
    .expect("the document fits");
    let cases = cases(&execution_role, Some(&function), &caller.arn, &break_glass, &caller.partition, account);

    let verdicts = check(&emulator.config, &scp, &protected_role, &cases).await.expect("the simulations run");

    assert_eq!(verdicts.len(), cases.len(), "one verdict per case");
    for (case, verdict) in cases.iter().zip(&verdicts) {
        if case.expect_allowed {
            // The emulator evaluates the root, whom this SCP does not exempt, so it denies the
            // execution role and the break-glass role too. Real IAM allows them: it reads the
            // context. If this starts failing, the emulator learned ContextEntries: assert Pass.
            assert_eq!(verdict.status, Status::Fail, "{}: {verdict:?}", case.label);
            assert!(verdict.detail.contains("denied, but it must be allowed"), "{verdict:?}");
        } else {
            // Denied as it must be: for the caller (the root here) truly, for the rest because
            // the emulator evaluates the root in their place.
            assert_eq!(verdict.status, Status::Pass, "{}: {verdict:?}", case.label);
        }
    }
    assert!(cases.iter().any(|c| c.label == "the caller"), "the emulator's root is neither exempt nor skipped");
}

#[tokio::test]
async fn a_principal_the_scp_exempts_comes_out_allowed() {
    let emulator = emulator_or_skip!();
    let caller = caller_identity(&emulator.config).await.expect("GetCallerIdentity answers");
    let account = &caller.account_id;
    let env = unique_name("s");
    // The emulator evaluates its root whatever the context says, so the root is what the SCP
    // exempts here: it stands for the execution role.
    let root = format!("arn:aws:iam::{account}:root");
    let protected_role = format!("arn:aws:iam::{account}:role/SentinelProtected-{env}-smoke");
    let scp = document(&Inputs {
        partition: "aws",
        role_name_prefix: format!("SentinelProtected-{env}-"),
        execution_role_arn: &root,
        break_glass_role_arns: &[],
        strict_function_arn: None,
    })
    .expect("the document fits");
    let cases = cases(&root, None, &caller.arn, &[], &caller.partition, account);
    assert_eq!(cases[0].principal_arn, root);

    let verdicts = check(&emulator.config, &scp, &protected_role, &cases).await.expect("the simulations run");

    assert_eq!(verdicts[0].status, Status::Pass, "{:?}", verdicts[0]);
    assert!(verdicts[0].detail.contains("allowed, as it must be"), "{:?}", verdicts[0]);

    // And a role outside the SCP's resource pattern is not its business: allowed by the
    // allow-all policy, which the verdict reports as a failure of a case expected denied.
    let unprotected = format!("arn:aws:iam::{account}:role/not-protected-{env}");
    let arbitrary = cases.iter().find(|c| c.label == "an arbitrary role").expect("an arbitrary role case");
    let verdicts = check(&emulator.config, &scp, &unprotected, std::slice::from_ref(arbitrary)).await.unwrap();
    assert_eq!(verdicts[0].status, Status::Fail, "{:?}", verdicts[0]);
    assert!(verdicts[0].detail.contains("allowed, but the SCP must deny it"), "{:?}", verdicts[0]);
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
