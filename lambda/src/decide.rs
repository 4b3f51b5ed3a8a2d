//! What the TVM decides about a vending request before any network call for it (CONTRACT.md §3):
//! the `profile` and `duration` parameters (checks 5–7), the policy (9), its own scope, the rule's
//! account and the role (10), and the duration asked of STS; and discovery's list (§6). Pure and
//! synchronous: `service` calls `decide` for every vend, and the installer's policy tools call it
//! too, so what they say the Lambda decides is what it decides.
//!
//! Check 8 (reading the pinned policy from SSM) is I/O and sits between 7 and 9, so checks 5–7
//! are also a function of their own, `check_request`: `service` runs it before reading the
//! policy (a request without a profile answers `MISSING_PROFILE` even when the policy is
//! unreadable), and `decide` runs it first. One implementation, called twice.
//!
//! `explain` takes what `decide` takes and says why the policy decided as it did, rule by rule.

use std::fmt;

use jiff::Timestamp;

use crate::contract::{ErrorCode, ProfileListing};
use crate::duration;
use crate::identity::{AllowedAccounts, PARTITIONS, is_account_id};
use crate::policy::{self, Decision, Effect, Explanation, Policy, Principal, Rule};
use crate::profile::{self, MAX_ROLE_NAME, ProfileRequest, in_environment};
use crate::settings::Settings;

/// The TVM's own partition and account, read from the invoked function's ARN (CONTRACT.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnFunction<'a> {
    pub partition: &'a str,
    pub account_id: &'a str,
}

impl<'a> OwnFunction<'a> {
    /// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", partition, "lambda", _, account, "function", _name, ..]
                if PARTITIONS.contains(partition) && is_account_id(account) =>
            {
                Some(Self { partition, account_id: account })
            }
            _ => None,
        }
    }
}

/// What a decision needs of the TVM's environment (CONTRACT.md §9) and of its own function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionSettings<'a> {
    /// `TVM_ENVIRONMENT`: the TVM vends only `<env>-…` profiles (threat model T10).
    pub environment: &'a str,
    /// `TVM_ROLE_PREFIX`: profile → role name.
    pub role_prefix: &'a str,
    /// `TVM_ALLOWED_ACCOUNTS`: here, the accounts a rule's `role_account` may name.
    pub allowed_accounts: &'a AllowedAccounts,
    /// `TVM_DEFAULT_DURATION_SECONDS`: when neither request nor rule says.
    pub default_duration_seconds: u32,
    pub own: OwnFunction<'a>,
}

impl<'a> DecisionSettings<'a> {
    /// The part of the Lambda's settings a decision reads.
    pub fn new(settings: &'a Settings, own: OwnFunction<'a>) -> Self {
        Self {
            environment: &settings.environment,
            role_prefix: &settings.role_prefix,
            allowed_accounts: &settings.allowed_accounts,
            default_duration_seconds: settings.default_duration_seconds,
            own,
        }
    }
}

/// A vending request: who asks (as checks 1–3 established), and its `profile` and `duration`
/// parameters as they came (percent-decoded, not yet checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendRequest<'a> {
    pub principal: Principal<'a>,
    pub profile: Option<&'a str>,
    pub duration: Option<&'a str>,
}

/// A request that passed checks 5–7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRequest {
    pub profile: ProfileRequest,
    /// The `duration` parameter, when given.
    pub duration: Option<u32>,
}

/// Why the TVM refuses a request it decided on, in contract order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Check 5: no `profile`, or an empty one.
    MissingProfile,
    /// Check 6: neither a profile name nor a role ARN (CONTRACT.md §4).
    InvalidProfile,
    /// Check 7: `duration` is not an integer in 900..=3600.
    InvalidDuration,
    /// Check 9: a deny rule decided, or no rule matched.
    PolicyDeny,
    /// Check 10: the profile is not one of this environment's.
    OutsideEnvironment { environment: String },
    /// Check 10: the deciding rule's `role_account` is not an account the TVM may vend in.
    RoleAccountNotAllowed,
    /// Check 10: the profile (a role ARN) is not what a profile resolves to under the rule.
    Unresolvable,
}

impl Refusal {
    /// The check of CONTRACT.md §3 that refuses.
    pub fn check(&self) -> u8 {
        match self {
            Refusal::MissingProfile => 5,
            Refusal::InvalidProfile => 6,
            Refusal::InvalidDuration => 7,
            Refusal::PolicyDeny => 9,
            Refusal::OutsideEnvironment { .. } | Refusal::RoleAccountNotAllowed | Refusal::Unresolvable => 10,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::MissingProfile => ErrorCode::MissingProfile,
            Refusal::InvalidProfile => ErrorCode::InvalidProfile,
            Refusal::InvalidDuration => ErrorCode::InvalidDuration,
            Refusal::PolicyDeny => ErrorCode::PolicyDeny,
            Refusal::OutsideEnvironment { .. } | Refusal::RoleAccountNotAllowed | Refusal::Unresolvable => {
                ErrorCode::ProfileNotAllowed
            }
        }
    }
}

/// Why, for the decision log (its `reason` before the policy decided, its `detail` after). Never
/// the caller's input: an invalid profile is not even quoted.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MissingProfile => f.write_str("no profile parameter"),
            Refusal::InvalidProfile => f.write_str("profile parameter is not a valid profile name or role ARN"),
            Refusal::InvalidDuration => f.write_str("duration is not an integer in 900..=3600"),
            Refusal::PolicyDeny => f.write_str("the policy denied the request"),
            Refusal::OutsideEnvironment { environment } => {
                write!(f, "the profile is not one of environment `{environment}`'s")
            }
            Refusal::RoleAccountNotAllowed => {
                f.write_str("the rule's role_account is not an account this TVM may vend in")
            }
            Refusal::Unresolvable => f.write_str("the profile does not resolve to a role this TVM vends"),
        }
    }
}

/// What STS is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role_arn: String,
    pub duration_seconds: u32,
}

/// Everything `decide` decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<'p> {
    /// The policy's decision (check 9); `None` when checks 5–7 refused first.
    pub decision: Option<Decision<'p>>,
    /// Ask STS for the grant (check 11), or refuse.
    pub answer: Result<Grant, Refusal>,
}

impl<'p> Outcome<'p> {
    /// The policy's effect once it decided; `deny` when checks 5–7 refused before it could.
    pub fn effect(&self) -> Effect {
        self.decision.map_or(Effect::Deny, |decision| decision.effect())
    }

    /// The deciding rule, if one matched.
    pub fn rule(&self) -> Option<&'p Rule> {
        self.decision.and_then(|decision| decision.rule())
    }

    /// The deciding rule's reason, or `no matching rule`, once the policy decided.
    pub fn reason(&self) -> Option<&'p str> {
        self.decision.map(|decision| decision.reason())
    }

    /// The error code the TVM answers; `None` when it asks STS.
    pub fn code(&self) -> Option<ErrorCode> {
        self.answer.as_ref().err().map(Refusal::code)
    }
}

/// Checks 5–7: a profile was given (5) and is a profile name or role ARN (6), and a `duration`,
/// if given, is an integer in 900..=3600 (7).
pub fn check_request(settings: &DecisionSettings, request: &VendRequest) -> Result<CheckedRequest, Refusal> {
    let raw = request.profile.filter(|profile| !profile.is_empty()).ok_or(Refusal::MissingProfile)?;
    let profile = ProfileRequest::parse(raw, settings.role_prefix).ok_or(Refusal::InvalidProfile)?;
    let duration = duration::parse_requested(request.duration).map_err(|_| Refusal::InvalidDuration)?;
    Ok(CheckedRequest { profile, duration })
}

/// Everything the TVM decides about `request` at `at` under `policy` before asking STS, in the
/// order of CONTRACT.md §3: checks 5–7, the policy (9), the TVM's scope, the rule's account and
/// the role (10), then the duration (§3, "Duration asked of STS").
pub fn decide<'p>(
    settings: &DecisionSettings,
    policy: &'p Policy,
    request: &VendRequest,
    at: Timestamp,
) -> Outcome<'p> {
    let checked = match check_request(settings, request) {
        Ok(checked) => checked,
        Err(refusal) => return Outcome { decision: None, answer: Err(refusal) },
    };
    let decision = policy.evaluate(&request.principal, checked.profile.policy_name(settings.role_prefix), at);
    Outcome { decision: Some(decision), answer: grant(settings, &checked, decision) }
}

/// Why `policy` decides `request` as `decide` says (`policy::explain`, for the profile name its
/// `profiles` conditions see); the refusal instead when checks 5–7 refuse before it is asked.
pub fn explain<'p>(
    settings: &DecisionSettings,
    policy: &'p Policy,
    request: &VendRequest,
    at: Timestamp,
) -> Result<Explanation<'p>, Refusal> {
    let checked = check_request(settings, request)?;
    Ok(policy::explain(policy, &request.principal, checked.profile.policy_name(settings.role_prefix), at))
}

/// Checks 9 and 10, and the duration: what STS is asked for under `decision`.
fn grant(settings: &DecisionSettings, request: &CheckedRequest, decision: Decision) -> Result<Grant, Refusal> {
    let Decision::Allow(rule) = decision else {
        return Err(Refusal::PolicyDeny);
    };
    let prefix = settings.role_prefix;
    if !in_environment(request.profile.policy_name(prefix), settings.environment) {
        return Err(Refusal::OutsideEnvironment { environment: settings.environment.to_string() });
    }
    let account = role_account(rule, settings.own, settings.allowed_accounts).ok_or(Refusal::RoleAccountNotAllowed)?;
    let role_arn = request.profile.resolve(prefix, settings.own.partition, account).ok_or(Refusal::Unresolvable)?;
    let duration_seconds =
        duration::effective(request.duration, rule.max_server_duration, settings.default_duration_seconds);
    Ok(Grant { role_arn, duration_seconds })
}

/// The account whose role `rule` vends (CONTRACT.md §4): its `role_account` if the TVM may vend
/// in that account (its own, or one `allowed` names, or any with `*`), else `None`; without one,
/// the TVM's own.
pub fn role_account<'a>(rule: &'a Rule, own: OwnFunction<'a>, allowed: &AllowedAccounts) -> Option<&'a str> {
    match rule.role_account.as_deref() {
        None => Some(own.account_id),
        Some(account) if account == own.account_id => Some(account),
        Some(account) => match allowed {
            AllowedAccounts::Own => None,
            AllowedAccounts::Any => Some(account),
            AllowedAccounts::List(list) => list.iter().any(|a| a == account).then_some(account),
        },
    }
}

/// `GET /profiles` (CONTRACT.md §6): what `policy` could ever allow `principal`, each profile
/// with the role it resolves to under its rule. Left out: profiles of another environment, those
/// whose role name would be too long for IAM, and those whose rule names an account the TVM may
/// not vend in.
pub fn discover(settings: &DecisionSettings, policy: &Policy, principal: &Principal) -> Vec<ProfileListing> {
    let prefix = settings.role_prefix;
    policy
        .discoverable_profiles(principal)
        .into_iter()
        .filter(|(name, _)| in_environment(name, settings.environment))
        .filter(|(name, _)| profile::role_name(prefix, name).len() <= MAX_ROLE_NAME)
        .filter_map(|(name, rule)| {
            let account = role_account(rule, settings.own, settings.allowed_accounts)?;
            let role_arn = profile::role_arn(settings.own.partition, account, prefix, name);
            Some(ProfileListing { name: name.to_string(), role_arn })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse;

    const OWN: &str = "111122223333";
    const MEMBER: &str = "444455556666";

    const POLICY: &str = r#"
version: "1"
rules:
  - {name: no-sandbox, effect: deny, reason: sandbox is closed, conditions: {profiles: [main-sandbox]}}
  - name: prod
    effect: allow
    max_server_duration: 30m
    conditions: {profiles: [main-prod], users: [alice]}
  - {name: member, effect: allow, role_account: "444455556666", conditions: {profiles: [main-member]}}
  - {name: stray, effect: allow, role_account: "999999999999", conditions: {profiles: [main-stray]}}
  - {name: anything, effect: allow, conditions: {accounts: ["111122223333"]}}
"#;

    fn settings(allowed: &AllowedAccounts) -> DecisionSettings<'_> {
        DecisionSettings {
            environment: "main",
            role_prefix: "SentinelProtected-",
            allowed_accounts: allowed,
            default_duration_seconds: 1200,
            own: OwnFunction { partition: "aws", account_id: OWN },
        }
    }

    fn alice() -> Principal<'static> {
        Principal { user: "alice", arn: "arn:aws:iam::111122223333:user/alice", account_id: OWN }
    }

    fn role(account: &str, profile: &str) -> String {
        format!("arn:aws:iam::{account}:role/SentinelProtected-{profile}")
    }

    /// What `decide` answers `alice` at noon: the code, the deciding rule, and the grant.
    fn decided(profile: Option<&str>, duration: Option<&str>) -> (Option<ErrorCode>, Option<String>, Option<Grant>) {
        let policy = parse(POLICY).unwrap();
        let allowed = AllowedAccounts::List(vec![MEMBER.into()]);
        let request = VendRequest { principal: alice(), profile, duration };
        let outcome = decide(&settings(&allowed), &policy, &request, "2026-01-14T12:00:00Z".parse().unwrap());
        (outcome.code(), outcome.rule().map(|rule| rule.name.clone()), outcome.answer.ok())
    }

    #[test]
    fn each_check_answers_in_the_contract_order() {
        use ErrorCode::*;
        let grant = |role_arn: String, duration_seconds| Some(Grant { role_arn, duration_seconds });
        let member_arn = "arn:aws:iam::444455556666:role/SentinelProtected-main-member";
        for (profile, duration, expected) in [
            (None, Some("7200"), (Some(MissingProfile), None, None)),
            (Some(""), None, (Some(MissingProfile), None, None)),
            (Some("../admin"), Some("7200"), (Some(InvalidProfile), None, None)),
            (Some("main-sandbox"), Some("7200"), (Some(InvalidDuration), None, None)),
            (Some("main-sandbox"), None, (Some(PolicyDeny), Some("no-sandbox"), None)),
            (Some("other-dev"), None, (Some(ProfileNotAllowed), Some("anything"), None)),
            (Some("main-stray"), None, (Some(ProfileNotAllowed), Some("stray"), None)),
            (Some(member_arn), None, (None, Some("member"), grant(member_arn.into(), 1200))),
            (Some(&role(OWN, "main-member")), None, (Some(ProfileNotAllowed), Some("member"), None)),
            (Some("main-member"), None, (None, Some("member"), grant(role(MEMBER, "main-member"), 1200))),
            (Some("main-dev"), Some("0900"), (None, Some("anything"), grant(role(OWN, "main-dev"), 900))),
            (Some("main-prod"), None, (None, Some("prod"), grant(role(OWN, "main-prod"), 1800))),
            (Some("main-prod"), Some("3600"), (None, Some("prod"), grant(role(OWN, "main-prod"), 1800))),
        ] {
            let (code, rule, grant) = expected;
            assert_eq!(decided(profile, duration), (code, rule.map(str::to_string), grant), "{profile:?} {duration:?}");
        }
    }

    #[test]
    fn nothing_matching_is_a_deny_with_the_contracts_reason() {
        let policy = parse("version: \"1\"\nrules: []\n").unwrap();
        let request = VendRequest { principal: alice(), profile: Some("main-dev"), duration: None };
        let outcome = decide(&settings(&AllowedAccounts::Own), &policy, &request, Timestamp::UNIX_EPOCH);
        assert_eq!(
            (outcome.effect(), outcome.rule(), outcome.reason()),
            (Effect::Deny, None, Some("no matching rule"))
        );
        assert_eq!(outcome.answer, Err(Refusal::PolicyDeny));
    }

    #[test]
    fn an_allow_refused_by_check_10_keeps_the_policys_effect() {
        let policy = parse(POLICY).unwrap();
        let request = VendRequest { principal: alice(), profile: Some("other-dev"), duration: None };
        let outcome = decide(&settings(&AllowedAccounts::Own), &policy, &request, Timestamp::UNIX_EPOCH);
        assert_eq!(outcome.effect(), Effect::Allow, "the log says the policy allowed");
        assert_eq!(outcome.answer, Err(Refusal::OutsideEnvironment { environment: "main".into() }));
        assert_eq!(outcome.answer.unwrap_err().to_string(), "the profile is not one of environment `main`'s");
    }

    #[test]
    fn explain_weighs_the_profile_name_decide_weighs() {
        let policy = parse(POLICY).unwrap();
        let allowed = AllowedAccounts::Own;
        let arn = role(OWN, "main-prod");
        let by_arn = VendRequest { principal: alice(), profile: Some(&arn), duration: None };
        let explanation = explain(&settings(&allowed), &policy, &by_arn, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(explanation.decision.rule().map(|rule| rule.name.as_str()), Some("prod"));
        assert_eq!(explanation.rules[1].conditions[0].why, "profile `main-prod` is in [main-prod]");
        let without = VendRequest { profile: None, ..by_arn };
        assert_eq!(
            explain(&settings(&allowed), &policy, &without, Timestamp::UNIX_EPOCH),
            Err(Refusal::MissingProfile)
        );
    }

    #[test]
    fn a_role_account_is_usable_when_own_listed_or_any() {
        let rule = |account: Option<&str>| {
            let mut rule = parse(POLICY).unwrap().rules.remove(0);
            rule.role_account = account.map(str::to_string);
            rule
        };
        let own = OwnFunction { partition: "aws", account_id: OWN };
        let listed = AllowedAccounts::List(vec![MEMBER.into()]);
        for (account, allowed, expected) in [
            (None, &AllowedAccounts::Own, Some(OWN)),
            (Some(OWN), &AllowedAccounts::Own, Some(OWN)),
            (Some(MEMBER), &AllowedAccounts::Own, None),
            (Some(MEMBER), &listed, Some(MEMBER)),
            (Some("999999999999"), &listed, None),
            (Some("999999999999"), &AllowedAccounts::Any, Some("999999999999")),
        ] {
            assert_eq!(role_account(&rule(account), own, allowed), expected, "{account:?} {allowed:?}");
        }
    }

    #[test]
    fn discovery_resolves_each_profile_under_its_rule() {
        let policy = parse(POLICY).unwrap();
        let allowed = AllowedAccounts::List(vec![MEMBER.into()]);
        let listed: Vec<(String, String)> = discover(&settings(&allowed), &policy, &alice())
            .into_iter()
            .map(|listing| (listing.name, listing.role_arn))
            .collect();
        assert_eq!(
            listed,
            [
                ("main-prod".to_string(), role(OWN, "main-prod")),
                ("main-member".to_string(), role(MEMBER, "main-member"))
            ],
            "sandbox is always denied; stray's account is not the TVM's to vend in"
        );
    }

    #[test]
    fn the_own_account_comes_from_the_function_arn() {
        for (arn, expected) in [
            ("arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main", Some(("aws", "111122223333"))),
            ("arn:aws-cn:lambda:cn-north-1:111122223333:function:f:live", Some(("aws-cn", "111122223333"))),
            ("arn:aws:lambda:eu-west-2:1111:function:f", None),
            ("arn:aws:s3:::bucket", None),
            ("", None),
        ] {
            assert_eq!(OwnFunction::parse(arn).map(|own| (own.partition, own.account_id)), expected, "{arn}");
        }
    }
}
