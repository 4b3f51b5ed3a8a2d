//! Pure: who the deployers are. Configured (`deployers`), or else the installing principal,
//! as `aws:PrincipalArn` will name it: a role session's role WITH its path, which
//! `sts:GetCallerIdentity` drops (Identity Center roles live under
//! `role/aws-reserved/sso.amazonaws.com/…`), so the role's ARN comes from `iam:GetRole`; an
//! IAM user or the root by its ARN. A deployer named without its real path would be denied its
//! own TVM once the SCP is attached; the lock-out guard would catch it, this avoids it.

use crate::names::is_exempt_principal;

/// How to learn the caller's `aws:PrincipalArn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// As it is: an IAM user (its ARN has its path) or the root.
    Known(String),
    /// A session of the role named: read its ARN (with its path) from `iam:GetRole`.
    RoleNamed(String),
    /// Nothing the SCP can name (a federated user): `deployers` must be configured.
    Unnameable(String),
}

/// What `caller_arn` (from `sts:GetCallerIdentity`) is as a deployer.
pub fn caller(caller_arn: &str) -> Caller {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", _, resource] if *resource == "root" || resource.starts_with("user/") => {
            Caller::Known(caller_arn.to_string())
        }
        ["arn", _, "sts", "", _, resource] => {
            match resource.strip_prefix("assumed-role/").and_then(|r| r.split_once('/')) {
                Some((role, _session)) if !role.is_empty() => Caller::RoleNamed(role.to_string()),
                _ => Caller::Unnameable(caller_arn.to_string()),
            }
        }
        _ => Caller::Unnameable(caller_arn.to_string()),
    }
}

/// The deployers in effect: the configured ones, else the caller's `aws:PrincipalArn`
/// (resolved); `Err` with why when neither gives anyone.
pub fn in_effect(configured: &[String], caller_principal: Option<&str>) -> Result<Vec<String>, String> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    match caller_principal {
        Some(arn) if is_exempt_principal(arn, false) => Ok(vec![arn.to_string()]),
        Some(arn) => Err(format!("`{arn}` cannot be named in an SCP as a deployer")),
        None => Err("no deployer is configured and the caller's role could not be read".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSO: &str =
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-2/AWSReservedSSO_Admin_0123abcd";

    #[test]
    fn each_kind_of_caller() {
        for (arn, expected) in [
            (
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com",
                Caller::RoleNamed("AWSReservedSSO_Admin_0123abcd".into()),
            ),
            (
                "arn:aws:iam::111122223333:user/ci/deployer",
                Caller::Known("arn:aws:iam::111122223333:user/ci/deployer".into()),
            ),
            ("arn:aws:iam::111122223333:root", Caller::Known("arn:aws:iam::111122223333:root".into())),
            (
                "arn:aws:sts::111122223333:federated-user/bob",
                Caller::Unnameable("arn:aws:sts::111122223333:federated-user/bob".into()),
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/NoSession",
                Caller::Unnameable("arn:aws:sts::111122223333:assumed-role/NoSession".into()),
            ),
        ] {
            assert_eq!(caller(arn), expected, "{arn}");
        }
    }

    #[test]
    fn configured_deployers_win_and_the_caller_is_the_default_with_its_path() {
        let configured = ["arn:aws:iam::111122223333:role/Deployer".to_string()];
        assert_eq!(in_effect(&configured, Some(SSO)).unwrap(), configured);
        assert_eq!(in_effect(&[], Some(SSO)).unwrap(), [SSO], "the role's real path, as IAM reports it");
        assert!(in_effect(&[], None).is_err(), "fail closed: no deployer is no SCP");
        assert!(in_effect(&[], Some("arn:aws:sts::111122223333:federated-user/bob")).is_err());
    }
}
