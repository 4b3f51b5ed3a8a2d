//! IAM roles written directly, outside CloudFormation: only to restore a drifted trust policy on
//! an emulator whose CloudFormation has no drift-aware change sets (see
//! `commands::steps::drift`). On AWS a restore is always a `REVERT_DRIFT` change set.

use anyhow::Result;
use aws_sdk_iam::Client;

use super::errors::sdk_error;

/// Sets `role`'s trust policy to `document` (a JSON policy document).
pub async fn set_trust_policy(iam: &Client, role: &str, document: &str) -> Result<()> {
    iam.update_assume_role_policy()
        .role_name(role)
        .policy_document(document)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:UpdateAssumeRolePolicy `{role}`")))?;
    Ok(())
}
