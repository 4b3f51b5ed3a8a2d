//! The permissions pre-flight check against IAM: find the principal behind the caller
//! (`iam:GetRole` for a role session) and `iam:SimulatePrincipalPolicy` every action an install
//! needs (`crate::permissions`). A caller who may not run the simulation gets a warning, not a
//! failure: the deploy itself will tell. So does an action no policy allows on every resource,
//! which a deployer scoped to the environment's own resources legitimately lacks; only an
//! explicit deny fails the check.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::PolicyEvaluationDecisionType;

use super::errors::sdk_error;
use crate::permissions::{self, Denied, Principal};
use crate::preflight::Verdict;

/// Actions per simulation request. The API documents no maximum; this keeps requests small.
const BATCH: usize = 100;

/// Whether `caller_arn` (from `sts:GetCallerIdentity`) may do what an install needs.
pub async fn check(config: &SdkConfig, caller_arn: &str) -> Result<Verdict> {
    let principal = match permissions::simulation_principal(caller_arn) {
        Ok(principal) => principal,
        Err(why) => return Ok(permissions::skipped(why)),
    };
    let iam = Client::new(config);
    let principal_arn = match principal {
        Principal::User(arn) => arn,
        Principal::Role { name } => match role_arn(&iam, &name).await? {
            Some(arn) => arn,
            None => return Ok(permissions::unverifiable(caller_arn, "iam:GetRole")),
        },
    };
    match denied_actions(&iam, &principal_arn, &permissions::required_actions()).await? {
        Some(denied) => Ok(permissions::verdict(&principal_arn, &denied)),
        None => Ok(permissions::unverifiable(caller_arn, "iam:SimulatePrincipalPolicy")),
    }
}

/// The ARN (with its path) of the role named `name`; `None` when the caller may not read it.
pub async fn role_arn(iam: &Client, name: &str) -> Result<Option<String>> {
    let output = match iam.get_role().role_name(name).send().await {
        Ok(output) => output,
        Err(error) if is_access_denied(&error) => return Ok(None),
        Err(error) => return Err(sdk_error(error, format_args!("iam:GetRole `{name}`"))),
    };
    let role = output.role().with_context(|| format!("iam:GetRole `{name}` returned no role"))?;
    Ok(Some(role.arn().to_string()))
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

fn is_access_denied<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error.code(), Some("AccessDenied" | "AccessDeniedException"))
}
