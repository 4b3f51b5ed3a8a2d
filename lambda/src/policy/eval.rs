//! Policy evaluation: rules top to bottom, the first whose conditions all hold decides; nothing
//! matching is a deny. Also discovery: which profiles a caller could ever be allowed.
//!
//! The condition matchers are public, one per condition, for tools that must agree with the
//! Lambda (`explain`, and whatever compares two policies). `evaluate` is not: outside this crate
//! a decision is `decide`'s (or `explain`'s), never a second one made beside it.

use jiff::Timestamp;

use super::{Conditions, Effect, Policy, Rule};

/// The reason given when no rule matches.
pub const NO_MATCHING_RULE: &str = "no matching rule";

/// The caller as policy conditions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The sanitised username.
    pub user: &'a str,
    /// The full `userArn`.
    pub arn: &'a str,
    pub account_id: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision<'p> {
    Allow(&'p Rule),
    Deny(&'p Rule),
    NoMatch,
}

impl<'p> Decision<'p> {
    /// `allow` only when an allow rule decided: nothing matching is a deny.
    pub fn effect(&self) -> Effect {
        match self {
            Decision::Allow(_) => Effect::Allow,
            Decision::Deny(_) | Decision::NoMatch => Effect::Deny,
        }
    }

    /// The deciding rule, if one matched.
    pub fn rule(&self) -> Option<&'p Rule> {
        match self {
            Decision::Allow(rule) | Decision::Deny(rule) => Some(rule),
            Decision::NoMatch => None,
        }
    }

    pub fn reason(&self) -> &'p str {
        self.rule().map_or(NO_MATCHING_RULE, |rule| rule.reason.as_str())
    }
}

impl Policy {
    /// The first rule whose conditions all hold for `principal` asking for `profile` (the name
    /// `profiles` conditions match: `ProfileRequest::policy_name`) at `now`.
    pub(crate) fn evaluate(&self, principal: &Principal, profile: &str, now: Timestamp) -> Decision<'_> {
        let matching = self.rules.iter().find(|rule| rule.conditions.matches(principal, profile, now));
        match matching {
            Some(rule) if rule.effect == Effect::Allow => Decision::Allow(rule),
            Some(rule) => Decision::Deny(rule),
            None => Decision::NoMatch,
        }
    }

    /// The profiles some moment could allow this principal, in policy order, each with the first
    /// allow rule naming it: those an allow rule names, unless a deny rule above it always
    /// (regardless of time) takes them away. Allow rules without a `profiles` condition allow
    /// profiles they do not name, so they list nothing.
    pub fn discoverable_profiles(&self, principal: &Principal) -> Vec<(&str, &Rule)> {
        let mut always_denied: Vec<&str> = Vec::new();
        let mut found: Vec<(&str, &Rule)> = Vec::new();
        for rule in self.rules.iter().filter(|rule| rule.conditions.principal_matches(principal)) {
            let profiles = rule.conditions.profiles.as_deref();
            match (rule.effect, profiles) {
                (Effect::Deny, _) if rule.conditions.time.is_some() => {}
                (Effect::Deny, None) => break,
                (Effect::Deny, Some(profiles)) => always_denied.extend(profiles.iter().map(String::as_str)),
                (Effect::Allow, None) => {}
                (Effect::Allow, Some(profiles)) => {
                    for profile in profiles {
                        if !always_denied.contains(&profile.as_str()) && !found.iter().any(|(p, _)| p == profile) {
                            found.push((profile, rule));
                        }
                    }
                }
            }
        }
        found
    }
}

/// Each matcher answers for one condition, and holds when the rule does not have it.
impl Conditions {
    /// Whether every condition holds: the rule engine's one test of a rule.
    pub fn matches(&self, principal: &Principal, profile: &str, now: Timestamp) -> bool {
        self.principal_matches(principal) && self.profile_matches(profile) && self.time_matches(now)
    }

    /// `users`, `principals` and `accounts`: everything about who is calling.
    pub fn principal_matches(&self, principal: &Principal) -> bool {
        self.user_matches(principal.user)
            && self.principal_arn_matches(principal.arn)
            && self.account_matches(principal.account_id)
    }

    /// `users`: the sanitised username is listed (case-sensitive).
    pub fn user_matches(&self, user: &str) -> bool {
        listed(&self.users, |listed| listed == user)
    }

    /// `principals`: the caller's ARN matches one of the patterns (`arn_matches`).
    pub fn principal_arn_matches(&self, arn: &str) -> bool {
        listed(&self.principals, |pattern| arn_matches(pattern, arn))
    }

    /// `accounts`: the caller's account is listed.
    pub fn account_matches(&self, account_id: &str) -> bool {
        listed(&self.accounts, |listed| listed == account_id)
    }

    /// `profiles`: the profile name is listed.
    pub fn profile_matches(&self, profile: &str) -> bool {
        listed(&self.profiles, |listed| listed == profile)
    }

    /// `time`: the moment is inside the window.
    pub fn time_matches(&self, now: Timestamp) -> bool {
        self.time.as_ref().is_none_or(|window| window.contains(now))
    }
}

/// A list condition: absent, or some entry passes `test`.
fn listed(list: &Option<Vec<String>>, test: impl Fn(&str) -> bool) -> bool {
    list.as_ref().is_none_or(|items| items.iter().any(|item| test(item)))
}

/// Case-sensitive match of an ARN against a pattern in which `*` stands for any run of
/// characters (including none, `/` and `:`).
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), arn.as_bytes());
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            backtrack = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, consumed)) = backtrack {
            p = star + 1;
            t = consumed + 1;
            backtrack = Some((star, consumed + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse;

    const SSO_OPS: &str = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0a1b2c3d/alice@example.com";

    #[test]
    fn arn_patterns() {
        for (pattern, arn, matches) in [
            ("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*", SSO_OPS, true),
            ("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_*/*", SSO_OPS, false),
            ("arn:aws:sts::111122223333:assumed-role/*", SSO_OPS, true),
            ("arn:aws:sts::444455556666:assumed-role/*", SSO_OPS, false),
            ("*", SSO_OPS, true),
            (SSO_OPS, SSO_OPS, true),
            ("arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/alice", true),
            ("arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/alice2", false),
            ("arn:aws:iam::111122223333:user/Alice", "arn:aws:iam::111122223333:user/alice", false),
            ("arn:aws:iam::*:user/a*e", "arn:aws:iam::111122223333:user/alice", true),
            ("arn:aws:iam::*:user/a*e", "arn:aws:iam::111122223333:user/alicex", false),
            ("a**b", "ab", true),
            ("", "", true),
            ("", "a", false),
        ] {
            assert_eq!(arn_matches(pattern, arn), matches, "{pattern} vs {arn}");
        }
    }

    fn principal<'a>(user: &'a str, arn: &'a str, account: &'a str) -> Principal<'a> {
        Principal { user, arn, account_id: account }
    }

    const POLICY: &str = r#"
version: "1"
rules:
  - name: block-contractors
    effect: deny
    reason: contractors never get prod
    conditions:
      users: [contractor]
  - name: ops-prod-weekdays
    effect: allow
    reason: ops weekday access
    max_server_duration: 1h
    conditions:
      profiles: [prod]
      principals: ["arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*"]
      time:
        days: [monday, tuesday, wednesday, thursday, friday]
        hours: {start: "08:00", end: "19:00"}
        timezone: Europe/London
  - name: everyone-dev
    effect: allow
    reason: dev for everyone in the account
    conditions:
      profiles: [dev, sandbox]
      accounts: ["111122223333"]
"#;

    #[test]
    fn the_first_matching_rule_decides() {
        let policy = parse(POLICY).unwrap();
        let weekday_noon = "2026-01-14T12:00:00Z".parse().unwrap();
        let saturday = "2026-01-17T12:00:00Z".parse().unwrap();
        let ops = principal("aliceexamplecom", SSO_OPS, "111122223333");
        let contractor = principal("contractor", "arn:aws:iam::111122223333:user/contractor", "111122223333");
        let outsider = principal("eve", "arn:aws:iam::999999999999:user/eve", "999999999999");
        let rule_of = |decision: Decision| decision.rule().map(|rule| rule.name.clone());
        for (who, profile, now, expected, name) in [
            (&ops, "prod", weekday_noon, "allow", Some("ops-prod-weekdays")),
            (&ops, "prod", saturday, "no-match", None),
            (&ops, "dev", saturday, "allow", Some("everyone-dev")),
            (&contractor, "dev", weekday_noon, "deny", Some("block-contractors")),
            (&outsider, "dev", weekday_noon, "no-match", None),
            (&ops, "admin", weekday_noon, "no-match", None),
        ] {
            let decision = policy.evaluate(who, profile, now);
            let effect = match decision {
                Decision::Allow(_) => "allow",
                Decision::Deny(_) => "deny",
                Decision::NoMatch => "no-match",
            };
            assert_eq!(
                (effect, rule_of(decision).as_deref()),
                (expected, name),
                "{} asks for {profile} at {now}",
                who.arn
            );
        }
        assert_eq!(policy.evaluate(&ops, "prod", saturday).reason(), "no matching rule");
        assert_eq!(policy.evaluate(&contractor, "dev", weekday_noon).reason(), "contractors never get prod");
    }

    #[test]
    fn discovery_lists_what_could_ever_be_allowed() {
        let policy = parse(POLICY).unwrap();
        let ops = principal("aliceexamplecom", SSO_OPS, "111122223333");
        let dev = principal("bob", "arn:aws:iam::111122223333:user/bob", "111122223333");
        let contractor = principal("contractor", "arn:aws:iam::111122223333:user/contractor", "111122223333");
        let outsider = principal("eve", "arn:aws:iam::999999999999:user/eve", "999999999999");
        let names = |principal: &Principal| {
            policy.discoverable_profiles(principal).into_iter().map(|(name, _)| name).collect::<Vec<_>>()
        };
        assert_eq!(names(&ops), ["prod", "dev", "sandbox"], "time is ignored");
        assert_eq!(names(&dev), ["dev", "sandbox"]);
        assert!(
            policy.discoverable_profiles(&contractor).is_empty(),
            "an unconditional deny of everything ends the list"
        );
        assert!(policy.discoverable_profiles(&outsider).is_empty());
    }

    #[test]
    fn a_deny_naming_profiles_removes_only_those_and_a_timed_deny_removes_none() {
        let policy = parse(
            r#"
version: "1"
rules:
  - {name: no-prod, effect: deny, conditions: {profiles: [prod]}}
  - name: no-dev-at-night
    effect: deny
    conditions: {profiles: [dev], time: {hours: {start: "22:00", end: "06:00"}}}
  - {name: all, effect: allow, conditions: {profiles: [prod, dev, qa]}}
"#,
        )
        .unwrap();
        let anyone = principal("bob", "arn:aws:iam::111122223333:user/bob", "111122223333");
        let names: Vec<&str> = policy.discoverable_profiles(&anyone).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["dev", "qa"]);
    }
}
