//! IAM's policy simulator, thinly. `iam:SimulatePrincipalPolicy`: which of a list of actions a
//! principal's own policies do not allow (the permissions pre-flight). `iam:SimulateCustomPolicy`:
//! what a guardrail document decides for each of several callers assuming a protected role, with
//! an allow-all policy beside it (standing in for the principal's own permissions, so only the
//! document's explicit denies can deny) and `aws:PrincipalArn` (and `lambda:SourceFunctionArn`)
//! as context (`scp check`). Plain inputs and answers; what they mean is `crate::check` and
//! `crate::scp`'s business.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType};

use super::errors::{is_access_denied, sdk_error};

/// The permissions the simulated principals have of their own: everything.
pub const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// The one action every custom-policy simulation asks about.
pub const ACTION: &str = "sts:AssumeRole";

/// Actions per principal-policy simulation request. The API documents no maximum; this keeps
/// requests small.
const BATCH: usize = 100;

/// What a principal-policy simulation did not allow, by how it decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denied {
    /// A policy denies the action: the install would certainly fail.
    pub explicit: Vec<String>,
    /// No policy allows the action on every resource. It may still be allowed on the resources
    /// an install makes (a deployer scoped to `sentinel-tvm-*` looks like this), so this only warns.
    pub implicit: Vec<String>,
}

/// The actions of `actions` that `principal_arn`'s policies do not allow on every resource,
/// sorted, by decision; `None` when the caller may not run the simulation.
pub async fn denied_actions(iam: &Client, principal_arn: &str, actions: &[&str]) -> Result<Option<Denied>> {
    let mut denied = Denied::default();
    for batch in actions.chunks(BATCH) {
        let mut marker: Option<String> = None;
        loop {
            let request = iam
                .simulate_principal_policy()
                .policy_source_arn(principal_arn)
                .set_action_names(Some(batch.iter().map(|action| action.to_string()).collect()))
                .max_items(1000)
                .set_marker(marker.take());
            let page = match request.send().await {
                Ok(page) => page,
                Err(error) if is_access_denied(&error) => return Ok(None),
                Err(error) => {
                    return Err(sdk_error(error, format_args!("iam:SimulatePrincipalPolicy for `{principal_arn}`")));
                }
            };
            for result in page.evaluation_results() {
                let action = result.eval_action_name().to_string();
                match result.eval_decision() {
                    PolicyEvaluationDecisionType::Allowed => {}
                    PolicyEvaluationDecisionType::ExplicitDeny => denied.explicit.push(action),
                    _ => denied.implicit.push(action),
                }
            }
            marker = page.marker().filter(|_| page.is_truncated()).map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
    }
    for list in [&mut denied.explicit, &mut denied.implicit] {
        list.sort();
        list.dedup();
    }
    Ok(Some(denied))
}

/// One principal to simulate, named for errors: `aws:PrincipalArn`, and
/// `lambda:SourceFunctionArn` when the call is made from inside a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller<'a> {
    pub label: &'a str,
    pub principal_arn: &'a str,
    pub function_arn: Option<&'a str>,
}

/// IAM's decision (`allowed`, `explicitDeny`, `implicitDeny`) per caller, in order, for
/// `document` beside an allow-all policy when each caller assumes `protected_role_arn`.
pub async fn custom_policy_decisions(
    config: &SdkConfig,
    document: &str,
    protected_role_arn: &str,
    callers: &[Caller<'_>],
) -> Result<Vec<String>> {
    decisions(&Client::new(config), document, protected_role_arn, callers).await
}

async fn decisions(
    iam: &Client,
    document: &str,
    protected_role_arn: &str,
    callers: &[Caller<'_>],
) -> Result<Vec<String>> {
    let mut decisions = Vec::with_capacity(callers.len());
    for caller in callers {
        decisions.push(decision(iam, document, protected_role_arn, caller).await?);
    }
    Ok(decisions)
}

async fn decision(iam: &Client, document: &str, protected_role_arn: &str, caller: &Caller<'_>) -> Result<String> {
    let doing = format!("iam:SimulateCustomPolicy for {} `{}`", caller.label, caller.principal_arn);
    let output = iam
        .simulate_custom_policy()
        .policy_input_list(document)
        .policy_input_list(ALLOW_ALL)
        .action_names(ACTION)
        .resource_arns(protected_role_arn)
        .set_context_entries(Some(context_entries(caller)))
        .send()
        .await
        .map_err(|e| sdk_error(e, &doing))?;
    let result = output.evaluation_results().first().with_context(|| format!("{doing} returned no result"))?;
    Ok(result.eval_decision().as_str().to_string())
}

fn context_entries(caller: &Caller) -> Vec<ContextEntry> {
    let mut entries = vec![string_entry("aws:PrincipalArn", caller.principal_arn)];
    if let Some(function_arn) = caller.function_arn {
        entries.push(string_entry("lambda:SourceFunctionArn", function_arn));
    }
    entries
}

fn string_entry(key: &str, value: &str) -> ContextEntry {
    ContextEntry::builder()
        .context_key_name(key)
        .context_key_type(ContextKeyTypeEnum::String)
        .context_key_values(value)
        .build()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_iam::operation::simulate_custom_policy::{SimulateCustomPolicyInput, SimulateCustomPolicyOutput};
    use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::check::verdict::{Status, Verdict};
    use crate::scp::cases::{self as scp_check, Case};

    /// The callers of the cases, and the verdicts of IAM's decisions for them (as `scp check`
    /// makes them).
    fn callers(cases: &[Case]) -> Vec<Caller<'_>> {
        cases
            .iter()
            .map(|c| Caller {
                label: &c.label,
                principal_arn: &c.principal_arn,
                function_arn: c.function_arn.as_deref(),
            })
            .collect()
    }

    async fn simulate(iam: &Client, document: &str, protected_role_arn: &str, cases: &[Case]) -> Result<Vec<Verdict>> {
        let decisions = decisions(iam, document, protected_role_arn, &callers(cases)).await?;
        Ok(cases.iter().zip(&decisions).map(|(case, decision)| scp_check::verdict(case, decision)).collect())
    }

    const DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyTheTvm","Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/SentinelProtected-main-*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/sentinel-tvm-main-execution"}}}]}"#;
    const PROTECTED: &str = "arn:aws:iam::111122223333:role/SentinelProtected-main-smoke";
    const EXEC: &str = "arn:aws:iam::111122223333:role/sentinel-tvm-main-execution";
    const FUNCTION: &str = "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main";

    /// `(key, type, values)` of each context entry.
    fn context(input: &SimulateCustomPolicyInput) -> Vec<(String, String, Vec<String>)> {
        input
            .context_entries()
            .iter()
            .map(|e| {
                (
                    e.context_key_name().unwrap_or_default().to_string(),
                    e.context_key_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                    e.context_key_values().to_vec(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn each_case_is_one_simulation_of_both_policies_with_its_context() {
        let seen: Arc<Mutex<Vec<SimulateCustomPolicyInput>>> = Arc::default();
        let record = seen.clone();
        // An IAM that answers by principal, as the document above would.
        let rule = mock!(Client::simulate_custom_policy).then_compute_output(move |input| {
            record.lock().unwrap().push(input.clone());
            let principal = &context(input)[0].2[0];
            let decision = match principal.as_str() {
                EXEC => PolicyEvaluationDecisionType::Allowed,
                p if p.ends_with(":role/BreakGlass") => PolicyEvaluationDecisionType::ImplicitDeny,
                _ => PolicyEvaluationDecisionType::ExplicitDeny,
            };
            SimulateCustomPolicyOutput::builder()
                .evaluation_results(
                    EvaluationResult::builder()
                        .eval_action_name(ACTION)
                        .eval_resource_name(PROTECTED)
                        .eval_decision(decision)
                        .build()
                        .unwrap(),
                )
                .build()
        });
        // MatchAny: the one rule answers every case (in Sequential mode it answers once).
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&rule]);
        let break_glass = ["arn:aws:iam::111122223333:role/BreakGlass".to_string()];
        let cases = scp_check::cases(
            EXEC,
            Some(FUNCTION),
            "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            &break_glass,
            "aws",
            "111122223333",
        );

        let verdicts = simulate(&iam, DOCUMENT, PROTECTED, &cases).await.unwrap();

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), cases.len(), "one simulation per case");
        for (input, case) in seen.iter().zip(&cases) {
            assert_eq!(input.policy_input_list(), [DOCUMENT, ALLOW_ALL]);
            assert_eq!(input.action_names(), ["sts:AssumeRole"]);
            assert_eq!(input.resource_arns(), [PROTECTED]);
            let mut expected =
                vec![("aws:PrincipalArn".to_string(), "string".to_string(), vec![case.principal_arn.clone()])];
            if let Some(function_arn) = &case.function_arn {
                expected.push(("lambda:SourceFunctionArn".into(), "string".into(), vec![function_arn.clone()]));
            }
            assert_eq!(context(input), expected, "{}", case.label);
        }
        assert_eq!(seen[0].context_entries().len(), 2, "the strict case carries the function");

        let statuses: Vec<(&str, Status)> =
            verdicts.iter().zip(&cases).map(|(v, c)| (c.label.as_str(), v.status)).collect();
        assert_eq!(
            statuses,
            [
                // allowed, as it must be
                ("the execution role, inside the TVM function", Status::Pass),
                // this IAM allows the execution role anywhere: the strict variant is not in force
                ("the execution role, outside the TVM function", Status::Fail),
                ("the caller", Status::Pass),
                ("an arbitrary role", Status::Pass),
                // implicitly denied: cannot be with the allow-all policy, so it fails
                ("a break-glass role", Status::Fail),
            ]
        );
        assert!(verdicts.iter().all(|v| v.check == scp_check::CHECK));
    }

    #[tokio::test]
    async fn a_rejected_simulation_is_an_error_naming_the_case() {
        let rule = mock!(Client::simulate_custom_policy).then_error(|| {
            aws_sdk_iam::operation::simulate_custom_policy::SimulateCustomPolicyError::PolicyEvaluationException(
                aws_sdk_iam::types::error::PolicyEvaluationException::builder()
                    .message("the policy could not be evaluated")
                    .build(),
            )
        });
        let iam = mock_client!(aws_sdk_iam, [&rule]);
        let cases = scp_check::cases(EXEC, None, "arn:aws:iam::111122223333:user/ci", &[], "aws", "111122223333");

        let error = simulate(&iam, DOCUMENT, PROTECTED, &cases).await.unwrap_err();

        let text = format!("{error:#}");
        assert!(text.contains("iam:SimulateCustomPolicy for the execution role"), "{text}");
        assert!(text.contains("the policy could not be evaluated"), "{text}");
    }
}
