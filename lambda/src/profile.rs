//! Profiles and the roles they stand for (CONTRACT.md §4).
//!
//! A profile is a short name (`prod`) that resolves by rule to
//! `arn:<partition>:iam::<account>:role/<TVM_ROLE_PREFIX><profile>`. A full role ARN is accepted
//! for compatibility, but only when it is exactly what a profile resolves to: a caller can never
//! name an arbitrary role the TVM could assume (the upstream confused-deputy flaw).

use crate::identity::{PARTITIONS, is_account_id};

/// IAM's limit on a role name.
pub const MAX_ROLE_NAME: usize = 64;
/// A profile name's limit.
pub const MAX_PROFILE: usize = 64;
/// Nothing longer is even looked at.
const MAX_INPUT: usize = 256;

/// The `profile` query parameter, validated (check 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileRequest {
    Name(String),
    Arn(RoleArn),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub partition: String,
    pub account_id: String,
    /// The role name, with its path if it has one (`team/SentinelProtected-prod`).
    pub name: String,
}

impl RoleArn {
    pub fn to_arn(&self) -> String {
        format!("arn:{}:iam::{}:role/{}", self.partition, self.account_id, self.name)
    }
}

/// `[A-Za-z0-9_-]`, 1..=64 bytes: a valid profile name, as used in requests and policies.
pub fn is_profile_name(text: &str) -> bool {
    (1..=MAX_PROFILE).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// 1-16 of a-z 0-9, starting with a letter: an environment's name. Without a hyphen of its own,
/// no environment's profiles (`<env>-…`) or roles (`<prefix><env>-…`) reach into another's.
pub fn is_environment_name(text: &str) -> bool {
    (1..=16).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether `profile` is one of `environment`'s: `<env>-` and at least one more character
/// (threat model T10: a TVM never reaches for another environment's roles, nor any role the
/// environment's prefix does not cover).
pub fn in_environment(profile: &str, environment: &str) -> bool {
    profile.strip_prefix(environment).and_then(|rest| rest.strip_prefix('-')).is_some_and(|rest| !rest.is_empty())
}

/// The role name a profile resolves to.
pub fn role_name(prefix: &str, profile: &str) -> String {
    format!("{prefix}{profile}")
}

/// The role ARN a profile resolves to in `account_id`.
pub fn role_arn(partition: &str, account_id: &str, prefix: &str, profile: &str) -> String {
    format!("arn:{partition}:iam::{account_id}:role/{}", role_name(prefix, profile))
}

impl ProfileRequest {
    /// Check 6. `None` for anything but a valid profile name whose role name fits IAM's limit,
    /// or a well-formed role ARN.
    pub fn parse(raw: &str, prefix: &str) -> Option<ProfileRequest> {
        if raw.len() > MAX_INPUT {
            return None;
        }
        if raw.starts_with("arn:") {
            return parse_role_arn(raw).map(ProfileRequest::Arn);
        }
        (is_profile_name(raw) && role_name(prefix, raw).len() <= MAX_ROLE_NAME)
            .then(|| ProfileRequest::Name(raw.into()))
    }

    /// The name policy `profiles` conditions match: the profile itself, or for an ARN the role
    /// name without the prefix (a role outside the prefix keeps its whole name, matches no
    /// profile rule, and fails check 10 anyway).
    pub fn policy_name<'a>(&'a self, prefix: &str) -> &'a str {
        match self {
            ProfileRequest::Name(name) => name,
            ProfileRequest::Arn(arn) => arn.name.strip_prefix(prefix).unwrap_or(&arn.name),
        }
    }

    /// Check 10: the role to assume, if this request names a role the TVM may vend.
    ///
    /// A name resolves in `role_account` (the deciding rule's, else the TVM's own). An ARN is
    /// accepted only if it is exactly what its profile name resolves to there.
    pub fn resolve(&self, prefix: &str, partition: &str, role_account: &str) -> Option<String> {
        match self {
            ProfileRequest::Name(name) => Some(role_arn(partition, role_account, prefix, name)),
            ProfileRequest::Arn(arn) => {
                let profile = arn.name.strip_prefix(prefix)?;
                let expected = role_arn(partition, role_account, prefix, profile);
                (is_profile_name(profile) && arn.to_arn() == expected).then_some(expected)
            }
        }
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path…/name>` with every segment of `[A-Za-z0-9_-]`
/// and the role name at most 64 characters. Anything else (`..`, `//`, `\`, controls, …) fails.
fn parse_role_arn(raw: &str) -> Option<RoleArn> {
    let rest = raw.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::")?;
    let (account_id, rest) = rest.split_once(':')?;
    let name = rest.strip_prefix("role/")?;
    let segments: Vec<&str> = name.split('/').collect();
    let valid_segments = segments.iter().all(|segment| is_profile_name(segment));
    let last = segments.last()?;
    (PARTITIONS.contains(&partition) && is_account_id(account_id) && valid_segments && last.len() <= MAX_ROLE_NAME)
        .then(|| RoleArn { partition: partition.into(), account_id: account_id.into(), name: name.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "SentinelProtected-";

    #[test]
    fn valid_profiles_are_names_or_role_arns() {
        for raw in [
            "prod",
            "billing-readonly",
            "a",
            "Dev_2",
            &"x".repeat(MAX_ROLE_NAME - PREFIX.len()),
            "arn:aws:iam::111122223333:role/SentinelProtected-prod",
            "arn:aws-us-gov:iam::111122223333:role/team/SentinelProtected-prod",
            "arn:aws:iam::111122223333:role/AnyOtherRole",
        ] {
            assert!(ProfileRequest::parse(raw, PREFIX).is_some(), "{raw:?} should be valid");
        }
    }

    #[test]
    fn the_rejection_list_is_rejected() {
        let long = "p".repeat(257);
        let too_long_for_prefix = "x".repeat(MAX_ROLE_NAME - PREFIX.len() + 1);
        for raw in [
            "",
            "../admin",
            "..",
            "a/../b",
            "a//b",
            "a/b",
            "a\\b",
            "prod\0",
            "pr\nod",
            "pr\tod",
            "prod\u{7f}",
            "prød",
            "прод",
            "prod;rm -rf /",
            "prod|cat",
            "prod`id`",
            "$(id)",
            "prod&x=1",
            "prod name",
            "prod,dev",
            "prod.dev",
            "prod*",
            long.as_str(),
            too_long_for_prefix.as_str(),
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/../Admin",
            "arn:aws:iam::111122223333:role/a//b",
            "arn:aws:iam::111122223333:role/a\\b",
            "arn:aws:iam::111122223333:role/Admin\0",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam:us-east-1:111122223333:role/x",
            "arn:aws:iam::1111222233:role/x",
            "arn:aws-mars:iam::111122223333:role/x",
            "arn:aws:sts::111122223333:role/x",
            &format!("arn:aws:iam::111122223333:role/{}", "r".repeat(65)),
        ] {
            assert_eq!(ProfileRequest::parse(raw, PREFIX), None, "{raw:?} should be rejected");
        }
    }

    #[test]
    fn names_resolve_in_the_rules_account_and_arns_only_to_what_a_name_would() {
        let resolve = |raw: &str, account: &str| {
            ProfileRequest::parse(raw, PREFIX).expect("valid").resolve(PREFIX, "aws", account)
        };
        let own_prod = "arn:aws:iam::111122223333:role/SentinelProtected-prod";
        let member_prod = "arn:aws:iam::444455556666:role/SentinelProtected-prod";
        for (raw, account, expected) in [
            ("prod", "111122223333", Some(own_prod)),
            ("prod", "444455556666", Some(member_prod)),
            (own_prod, "111122223333", Some(own_prod)),
            (member_prod, "111122223333", None),
            (member_prod, "444455556666", Some(member_prod)),
            (own_prod, "444455556666", None),
            ("arn:aws:iam::111122223333:role/Admin", "111122223333", None),
            ("arn:aws:iam::111122223333:role/team/SentinelProtected-prod", "111122223333", None),
            ("arn:aws-cn:iam::111122223333:role/SentinelProtected-prod", "111122223333", None),
            ("arn:aws:iam::111122223333:role/SentinelProtected-", "111122223333", None),
        ] {
            assert_eq!(resolve(raw, account).as_deref(), expected, "{raw} in {account}");
        }
    }

    #[test]
    fn a_profile_is_in_an_environment_only_after_its_name_and_a_hyphen() {
        for (profile, environment, inside) in [
            ("main-dev", "main", true),
            ("main-a", "main", true),
            ("main-", "main", false),
            ("main", "main", false),
            ("maindev", "main", false),
            ("other-dev", "main", false),
            ("main2-dev", "main", false),
            ("mai-dev", "main", false),
            ("main-eu-dev", "main", true),
        ] {
            assert_eq!(in_environment(profile, environment), inside, "{profile} in {environment}");
        }
    }

    #[test]
    fn environment_names_have_no_hyphen_and_start_with_a_letter() {
        for (name, valid) in [
            ("main", true),
            ("a", true),
            ("prod2", true),
            (&"a".repeat(16), true),
            (&"a".repeat(17), false),
            ("", false),
            ("2prod", false),
            ("Main", false),
            ("main-eu", false),
            ("main_eu", false),
        ] {
            assert_eq!(is_environment_name(name), valid, "{name}");
        }
    }

    #[test]
    fn policies_see_the_profile_name_even_for_an_arn() {
        for (raw, name) in [
            ("prod", "prod"),
            ("arn:aws:iam::111122223333:role/SentinelProtected-prod", "prod"),
            ("arn:aws:iam::111122223333:role/Admin", "Admin"),
        ] {
            assert_eq!(ProfileRequest::parse(raw, PREFIX).unwrap().policy_name(PREFIX), name);
        }
    }
}
