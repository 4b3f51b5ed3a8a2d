//! Who is calling (CONTRACT.md §2): the caller as the IAM authorizer verified it, the username derived
//! from its ARN, and whether its account (and organization) may use this TVM at all.

use crate::event::IamAuthorizer;

/// The caller: as STS answered its proof, or (proofs off) as the authorizer context says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub user_arn: String,
    /// The principal's unique id (`UserId`: `AIDA…`, `AROA…:<session>`, …), when known.
    pub unique_id: Option<String>,
    pub principal_org_id: Option<String>,
}

impl Caller {
    /// The caller, or `None` when the authorizer context is missing or lacks the account or ARN
    /// (→ `IAM_AUTH_REQUIRED`).
    pub fn from_authorizer(iam: Option<&IamAuthorizer>) -> Option<Caller> {
        let iam = iam?;
        let non_empty =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        Some(Caller {
            account_id: non_empty(&iam.account_id)?,
            user_arn: non_empty(&iam.user_arn)?,
            unique_id: non_empty(&iam.user_id),
            principal_org_id: non_empty(&iam.principal_org_id),
        })
    }
}

/// The partitions an ARN may name.
pub const PARTITIONS: [&str; 5] = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"];

/// Twelve ASCII digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The sanitised username for a caller ARN, or `None` (→ `INVALID_IDENTITY`).
///
/// | resource | username source |
/// |---|---|
/// | `iam` `root` | `root` |
/// | `iam` `user/<path…>/<name>` | last path segment |
/// | `sts` `assumed-role/<role>/<session>` | the session name |
/// | `sts` `federated-user/<name>` | the name |
pub fn username(user_arn: &str) -> Option<String> {
    let parts: Vec<&str> = user_arn.split(':').collect();
    let [arn, partition, service, _region, account, resource] = parts.as_slice() else {
        return None;
    };
    if *arn != "arn" || !PARTITIONS.contains(partition) || !is_account_id(account) {
        return None;
    }
    let segments: Vec<&str> = resource.split('/').collect();
    let raw = match (*service, segments.as_slice()) {
        ("iam", ["root"]) => "root",
        ("iam", ["user", .., name]) => name,
        ("sts", ["assumed-role", _role, session]) => session,
        ("sts", ["federated-user", name]) => name,
        _ => return None,
    };
    let clean = sanitise(raw);
    (!clean.is_empty()).then_some(clean)
}

/// The part of a caller's ARN no new session changes: the role of an assumed role
/// (`…:assumed-role/<role>`), a user's or root's whole ARN, and for federated users the account's
/// `…:federated-user` (their names are whatever the `GetFederationToken` caller chose). Anything
/// else stays as it is.
pub fn stable_principal(user_arn: &str) -> &str {
    let Some((head, resource)) = user_arn.rsplit_once(':') else { return user_arn };
    let segments: Vec<&str> = resource.split('/').collect();
    let kept = match segments.as_slice() {
        ["assumed-role", role, _session] => "assumed-role".len() + 1 + role.len(),
        ["federated-user", _name] => "federated-user".len(),
        _ => resource.len(),
    };
    &user_arn[..head.len() + 1 + kept]
}

/// What the rate limit counts a caller by (threat model T13): `stable_principal`, so rotating
/// session names gains no fresh window. Identity Center roles (`AWSReservedSSO_…`) are shared by
/// everyone in a permission set and their session name is set by the identity provider, not the
/// caller: those keep the session, so one person cannot use up a whole permission set's window.
pub fn rate_key(user_arn: &str) -> &str {
    let stable = stable_principal(user_arn);
    let is_identity_center = stable
        .rsplit_once(":assumed-role/")
        .is_some_and(|(_, role)| role.starts_with("AWSReservedSSO_") && !role.contains('/'));
    if is_identity_center { user_arn } else { stable }
}

/// Keeps ASCII letters and digits, keeps case, stops at 20 characters.
pub fn sanitise(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_alphanumeric).take(20).collect()
}

/// Which callers' accounts may use the TVM (`TVM_ALLOWED_ACCOUNTS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedAccounts {
    /// Only the function's own account (the default).
    Own,
    /// These accounts.
    List(Vec<String>),
    /// Any account; allowed only together with `TVM_ALLOWED_ORG_ID`, which then decides.
    Any,
}

impl AllowedAccounts {
    pub fn contains(&self, account_id: &str, own_account: &str) -> bool {
        match self {
            AllowedAccounts::Own => account_id == own_account,
            AllowedAccounts::List(accounts) => accounts.iter().any(|a| a == account_id),
            AllowedAccounts::Any => true,
        }
    }
}

/// Check 2: the caller's account is allowed and, when an organization is required, the caller
/// belongs to it.
pub fn caller_allowed(caller: &Caller, accounts: &AllowedAccounts, org_id: Option<&str>, own_account: &str) -> bool {
    accounts.contains(&caller.account_id, own_account)
        && org_id.is_none_or(|org| caller.principal_org_id.as_deref() == Some(org))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_arn_as_the_contract_tables_them() {
        for (arn, expected) in [
            ("arn:aws:iam::111122223333:root", Some("root")),
            ("arn:aws:iam::111122223333:user/alice", Some("alice")),
            ("arn:aws:iam::111122223333:user/engineering/platform/alice", Some("alice")),
            ("arn:aws:iam::111122223333:user/user@example.com", Some("userexamplecom")),
            ("arn:aws:sts::111122223333:assumed-role/Deploy/ci-run-42", Some("cirun42")),
            (
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/alice.bob@sub.company.com",
                Some("alicebobsubcompanyco"),
            ),
            ("arn:aws:sts::111122223333:federated-user/Bob", Some("Bob")),
            ("arn:aws-cn:iam::111122223333:user/carol", Some("carol")),
            ("arn:aws-us-gov:sts::111122223333:assumed-role/r/dave", Some("dave")),
            ("arn:aws-iso-b:iam::111122223333:root", Some("root")),
            // malformed or unsupported
            ("", None),
            ("arn:aws:iam::111122223333", None),
            ("arn:aws:iam::111122223333:user/a:b", None),
            ("ARN:aws:iam::111122223333:user/alice", None),
            ("arn:aws-mars:iam::111122223333:user/alice", None),
            ("arn:aws:iam::11112222333:user/alice", None),
            ("arn:aws:iam::11112222333a:user/alice", None),
            ("arn:aws:iam::111122223333:role/Admin", None),
            ("arn:aws:iam::111122223333:group/Admins", None),
            ("arn:aws:sts::111122223333:assumed-role/OnlyRole", None),
            ("arn:aws:sts::111122223333:assumed-role/r/s/extra", None),
            ("arn:aws:sts::111122223333:root", None),
            ("arn:aws:iam::111122223333:federated-user/bob", None),
            ("arn:aws:s3:::bucket", None),
            ("arn:aws:sts::111122223333:assumed-role/r/...", None),
            ("arn:aws:iam::111122223333:user/", None),
            ("arn:aws:iam::111122223333:user/名前", None),
        ] {
            assert_eq!(username(arn).as_deref(), expected, "{arn}");
        }
    }

    #[test]
    fn the_stable_principal_drops_what_a_session_chooses() {
        for (arn, stable, rate) in [
            (
                "arn:aws:sts::111122223333:assumed-role/Deploy/ci-run-42",
                "arn:aws:sts::111122223333:assumed-role/Deploy",
                "arn:aws:sts::111122223333:assumed-role/Deploy",
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/alice@example.com",
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123456789abcdef",
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/alice@example.com",
            ),
            (
                "arn:aws:iam::111122223333:user/team/alice",
                "arn:aws:iam::111122223333:user/team/alice",
                "arn:aws:iam::111122223333:user/team/alice",
            ),
            ("arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root"),
            (
                "arn:aws:sts::111122223333:federated-user/bob",
                "arn:aws:sts::111122223333:federated-user",
                "arn:aws:sts::111122223333:federated-user",
            ),
            ("not-an-arn", "not-an-arn", "not-an-arn"),
        ] {
            assert_eq!((stable_principal(arn), rate_key(arn)), (stable, rate), "{arn}");
        }
    }

    #[test]
    fn sanitising_keeps_ascii_alphanumerics_and_case_up_to_20() {
        for (raw, clean) in [
            ("user@example.com", "userexamplecom"),
            ("alice.bob@sub.company.com", "alicebobsubcompanyco"),
            ("MixedCase_99", "MixedCase99"),
            ("ünïcødé", "ncd"),
            ("a;rm -rf /", "armrf"),
            ("", ""),
        ] {
            assert_eq!(sanitise(raw), clean, "{raw}");
        }
    }

    #[test]
    fn the_caller_needs_both_account_and_arn() {
        let full = IamAuthorizer {
            account_id: Some("111122223333".into()),
            user_arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            principal_org_id: Some("o-abc".into()),
            ..IamAuthorizer::default()
        };
        assert_eq!(
            Caller::from_authorizer(Some(&full)),
            Some(Caller {
                account_id: "111122223333".into(),
                user_arn: "arn:aws:iam::111122223333:user/alice".into(),
                unique_id: None,
                principal_org_id: Some("o-abc".into()),
            })
        );
        for broken in [
            IamAuthorizer { account_id: None, ..full.clone() },
            IamAuthorizer { account_id: Some(" ".into()), ..full.clone() },
            IamAuthorizer { user_arn: None, ..full.clone() },
            IamAuthorizer { user_arn: Some(String::new()), ..full.clone() },
        ] {
            assert_eq!(Caller::from_authorizer(Some(&broken)), None, "{broken:?}");
        }
        assert_eq!(Caller::from_authorizer(None), None);
    }

    #[test]
    fn account_and_organization_rules() {
        let caller = |account: &str, org: Option<&str>| Caller {
            account_id: account.into(),
            user_arn: format!("arn:aws:iam::{account}:user/x"),
            unique_id: None,
            principal_org_id: org.map(str::to_string),
        };
        let own = "111122223333";
        let list = AllowedAccounts::List(vec!["444455556666".into()]);
        for (who, accounts, org, allowed) in [
            (caller(own, None), &AllowedAccounts::Own, None, true),
            (caller("999999999999", None), &AllowedAccounts::Own, None, false),
            (caller("444455556666", None), &list, None, true),
            (caller(own, None), &list, None, false),
            (caller(own, Some("o-1")), &AllowedAccounts::Own, Some("o-1"), true),
            (caller(own, Some("o-2")), &AllowedAccounts::Own, Some("o-1"), false),
            (caller(own, None), &AllowedAccounts::Own, Some("o-1"), false),
            (caller("999999999999", Some("o-1")), &AllowedAccounts::Any, Some("o-1"), true),
            (caller("999999999999", Some("o-2")), &AllowedAccounts::Any, Some("o-1"), false),
        ] {
            assert_eq!(caller_allowed(&who, accounts, org, own), allowed, "{who:?} {accounts:?} {org:?}");
        }
    }
}
