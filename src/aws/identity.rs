//! Who the installer is acting as: STS GetCallerIdentity, the first call of every command.

use anyhow::{Context, Result};
use aws_config::SdkConfig;

use super::errors::sdk_error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account_id: String,
    pub arn: String,
    /// `aws`, `aws-cn`, `aws-us-gov`, … (from the ARN).
    pub partition: String,
    /// `UserId`: the unique id (`AIDA…`, `AROA…:<session>`, the account for root), which the TVM
    /// derives the SourceIdentity's discriminator from.
    pub user_id: String,
}

impl Identity {
    /// The caller as a policy `principals` pattern: an assumed-role session becomes
    /// `…:assumed-role/<role>/*`, so a new session of the same role (every SSO login) still matches.
    pub fn principal_pattern(&self) -> String {
        match self.arn.split_once(":assumed-role/") {
            Some((head, rest)) => match rest.split_once('/') {
                Some((role, _session)) => format!("{head}:assumed-role/{role}/*"),
                None => self.arn.clone(),
            },
            None => self.arn.clone(),
        }
    }
}

pub async fn caller_identity(config: &SdkConfig) -> Result<Identity> {
    let output = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| sdk_error(error, "reading the caller identity (sts:GetCallerIdentity)"))?;
    let arn = output.arn().context("sts:GetCallerIdentity returned no ARN")?.to_string();
    let partition = arn.split(':').nth(1).context("the caller ARN has no partition")?.to_string();
    Ok(Identity {
        account_id: output.account().context("sts:GetCallerIdentity returned no account")?.to_string(),
        arn,
        partition,
        user_id: output.user_id().unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_of_a_role_share_one_pattern() {
        for (arn, pattern) in [
            (
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_abc/alice@example.com",
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_abc/*",
            ),
            ("arn:aws:iam::111122223333:user/ci/deployer", "arn:aws:iam::111122223333:user/ci/deployer"),
            ("arn:aws:iam::000000000000:root", "arn:aws:iam::000000000000:root"),
        ] {
            let identity = Identity {
                account_id: "111122223333".into(),
                arn: arn.into(),
                partition: "aws".into(),
                user_id: "AIDAEXAMPLE".into(),
            };
            assert_eq!(identity.principal_pattern(), pattern);
        }
    }
}
