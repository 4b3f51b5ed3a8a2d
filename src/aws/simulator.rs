//! IAM's policy simulator, thinly. `iam:SimulatePrincipalPolicy`: which of a list of actions a
//! principal's own policies do not allow (the permissions pre-flight). `iam:SimulateCustomPolicy`:
//! what a guardrail document decides for a principal doing actions on one resource, with an
//! allow-all policy beside it (standing in for the principal's own permissions, so only the
//! document's explicit denies can deny) and `aws:PrincipalArn` (and `lambda:SourceFunctionArn`)
//! as context (`scp check`, the lock-out guard); an RCP as the resource's policy. Plain inputs and answers; what they mean is `crate::check` and
//! `crate::scp`'s business.

use anyhow::Result;
use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType};

use super::errors::{is_access_denied, sdk_error};
use crate::model::simulation::Denied;

/// The permissions the simulated principals have of their own: everything.
pub const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// Actions per principal-policy simulation request. The API documents no maximum; this keeps
/// requests small.
const BATCH: usize = 100;

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

/// One simulation: a principal, named for errors, with `aws:PrincipalArn` and (when the call is
/// made from inside a function) `lambda:SourceFunctionArn` as context, doing `actions` on
/// `resource_arn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simulation<'a> {
    pub label: &'a str,
    pub principal_arn: &'a str,
    pub function_arn: Option<&'a str>,
    pub resource_arn: &'a str,
    pub actions: &'a [String],
}

/// The document simulated, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guardrail<'a> {
    /// An SCP: an identity-side limit, simulated as a second identity policy beside allow-all.
    Scp(&'a str),
    /// An RCP: a resource-side limit, simulated as the resource policy (`ResourcePolicy`) with
    /// allow-all as the identity policy. The simulator needs a user as `CallerArn` for a resource
    /// policy; `aws:PrincipalArn` in the context is what the document's condition reads.
    Rcp { document: &'a str, caller_arn: &'a str },
}

/// IAM's decision (`allowed`, `explicitDeny`, `implicitDeny`) per action, `(action, decision)`,
/// per simulation, in order.
pub async fn custom_policy_decisions(
    config: &SdkConfig,
    guardrail: Guardrail<'_>,
    simulations: &[Simulation<'_>],
) -> Result<Vec<Vec<(String, String)>>> {
    decisions(&Client::new(config), guardrail, simulations).await
}

async fn decisions(
    iam: &Client,
    guardrail: Guardrail<'_>,
    simulations: &[Simulation<'_>],
) -> Result<Vec<Vec<(String, String)>>> {
    let mut decisions = Vec::with_capacity(simulations.len());
    for simulation in simulations {
        decisions.push(decision(iam, guardrail, simulation).await?);
    }
    Ok(decisions)
}

async fn decision(
    iam: &Client,
    guardrail: Guardrail<'_>,
    simulation: &Simulation<'_>,
) -> Result<Vec<(String, String)>> {
    let doing = format!(
        "iam:SimulateCustomPolicy for {} `{}` on `{}`",
        simulation.label, simulation.principal_arn, simulation.resource_arn
    );
    let request = iam
        .simulate_custom_policy()
        .set_action_names(Some(simulation.actions.to_vec()))
        .resource_arns(simulation.resource_arn)
        .set_context_entries(Some(context_entries(simulation)));
    let request = match guardrail {
        Guardrail::Scp(document) => request.policy_input_list(document).policy_input_list(ALLOW_ALL),
        Guardrail::Rcp { document, caller_arn } => {
            request.policy_input_list(ALLOW_ALL).resource_policy(document).caller_arn(caller_arn)
        }
    };
    let mut answers = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let output = request.clone().set_marker(marker.take()).send().await.map_err(|e| sdk_error(e, &doing))?;
        answers.extend(
            output
                .evaluation_results()
                .iter()
                .map(|r| (r.eval_action_name().to_string(), r.eval_decision().as_str().to_string())),
        );
        marker = output.marker().filter(|_| output.is_truncated()).map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    if answers.is_empty() {
        anyhow::bail!("{doing} returned no result");
    }
    Ok(answers)
}

fn context_entries(simulation: &Simulation) -> Vec<ContextEntry> {
    let mut entries = vec![string_entry("aws:PrincipalArn", simulation.principal_arn)];
    if let Some(function_arn) = simulation.function_arn {
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

    const DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"lambda:UpdateFunctionCode","Resource":"*"}]}"#;
    const FUNCTION: &str = "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main";
    const EXEC: &str = "arn:aws:iam::111122223333:role/sentinel-tvm-main-execution";

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

    /// An IAM that records each request and answers `explicitDeny` for every action asked.
    fn recording_iam() -> (Client, Arc<Mutex<Vec<SimulateCustomPolicyInput>>>) {
        let seen: Arc<Mutex<Vec<SimulateCustomPolicyInput>>> = Arc::default();
        let record = seen.clone();
        let rule = mock!(Client::simulate_custom_policy).then_compute_output(move |input| {
            record.lock().unwrap().push(input.clone());
            let results = input.action_names().iter().map(|action| {
                EvaluationResult::builder()
                    .eval_action_name(action)
                    .eval_decision(PolicyEvaluationDecisionType::ExplicitDeny)
                    .build()
                    .unwrap()
            });
            SimulateCustomPolicyOutput::builder().set_evaluation_results(Some(results.collect())).build()
        });
        // MatchAny: the one rule answers every request (in Sequential mode it answers once).
        (mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&rule]), seen)
    }

    /// Mocked IAM (aws-smithy-mocks): each simulation is one request with its actions, resource
    /// and context; an SCP goes beside allow-all, an RCP as the resource policy.
    #[tokio::test]
    async fn each_simulation_is_one_request_with_its_actions_resource_and_context() {
        let (iam, seen) = recording_iam();
        let actions = vec!["lambda:UpdateFunctionCode".to_string(), "lambda:AddPermission".to_string()];
        let simulations = [
            Simulation {
                label: "a non-deployer",
                principal_arn: "arn:aws:iam::111122223333:role/x",
                function_arn: None,
                resource_arn: FUNCTION,
                actions: &actions,
            },
            Simulation {
                label: "the execution role",
                principal_arn: EXEC,
                function_arn: Some(FUNCTION),
                resource_arn: FUNCTION,
                actions: &actions,
            },
        ];

        let answers = decisions(&iam, Guardrail::Scp(DOCUMENT), &simulations).await.unwrap();
        let rcp = decisions(
            &iam,
            Guardrail::Rcp { document: DOCUMENT, caller_arn: "arn:aws:iam::111122223333:user/sentinel-tvm-rcp-check" },
            &simulations[..1],
        )
        .await
        .unwrap();

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "one request per simulation");
        for (input, simulation) in seen.iter().zip(&simulations) {
            assert_eq!(input.policy_input_list(), [DOCUMENT, ALLOW_ALL]);
            assert_eq!(input.action_names(), actions);
            assert_eq!(input.resource_arns(), [FUNCTION]);
            let mut expected = vec![(
                "aws:PrincipalArn".to_string(),
                "string".to_string(),
                vec![simulation.principal_arn.to_string()],
            )];
            if let Some(function) = simulation.function_arn {
                expected.push(("lambda:SourceFunctionArn".into(), "string".into(), vec![function.to_string()]));
            }
            assert_eq!(context(input), expected, "{}", simulation.label);
            assert_eq!(input.resource_policy(), None);
        }
        assert_eq!(seen[2].policy_input_list(), [ALLOW_ALL], "the RCP is no identity policy");
        assert_eq!(seen[2].resource_policy(), Some(DOCUMENT));
        assert_eq!(seen[2].caller_arn(), Some("arn:aws:iam::111122223333:user/sentinel-tvm-rcp-check"));
        let expected: Vec<(String, String)> = actions.iter().map(|a| (a.clone(), "explicitDeny".to_string())).collect();
        assert_eq!(answers, [expected.clone(), expected.clone()]);
        assert_eq!(rcp, [expected]);
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
        let actions = vec!["sts:AssumeRole".to_string()];
        let simulation = Simulation {
            label: "the execution role",
            principal_arn: EXEC,
            function_arn: None,
            resource_arn: FUNCTION,
            actions: &actions,
        };

        let error = decisions(&iam, Guardrail::Scp(DOCUMENT), &[simulation]).await.unwrap_err();

        let text = format!("{error:#}");
        assert!(text.contains("iam:SimulateCustomPolicy for the execution role"), "{text}");
        assert!(text.contains("the policy could not be evaluated"), "{text}");
    }
}
