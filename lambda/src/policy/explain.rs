//! Why a policy decides what it does for one request (CONTRACT.md §7): every rule in order, each
//! of its conditions with whether it held and why, in words for whoever writes or reviews the
//! policy, then the decision. For `policy explain`; the Lambda itself acts on `decide`.
//!
//! It cannot tell another story than the Lambda's: the decision is `Policy::evaluate`'s, which
//! `decide` calls, and whether each condition held is asked of the very matchers that function is
//! made of. Only the words are this module's own.

use std::fmt;

use jiff::Timestamp;

use super::window::{Hours, LocalMoment, day_name, days_in};
use super::{Conditions, Decision, Policy, Principal, Rule, TimeWindow, arn_matches};

/// Every rule of a policy weighed against one request, and what decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation<'p> {
    /// Every rule, in policy order (those below the deciding rule too).
    pub rules: Vec<RuleExplanation<'p>>,
    /// `Policy::evaluate`'s decision: the first rule whose conditions all held.
    pub decision: Decision<'p>,
}

/// One rule, and each of its conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleExplanation<'p> {
    pub rule: &'p Rule,
    /// One for each condition the rule has, in the order of the policy's schema.
    pub conditions: Vec<ConditionCheck>,
}

/// One condition of a rule, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionCheck {
    pub condition: Condition,
    pub held: bool,
    /// Why, in words: ``profile `main-dev` is not in [main-prod]``.
    pub why: String,
}

/// The conditions of a rule (CONTRACT.md §7), by their key in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Profiles,
    Users,
    Principals,
    Accounts,
    Time,
}

impl Condition {
    pub fn key(self) -> &'static str {
        match self {
            Condition::Profiles => "profiles",
            Condition::Users => "users",
            Condition::Principals => "principals",
            Condition::Accounts => "accounts",
            Condition::Time => "time",
        }
    }
}

/// How `policy` weighs `principal` asking for `profile` (the name `profiles` conditions match:
/// `ProfileRequest::policy_name`) at `at`.
pub fn explain<'p>(policy: &'p Policy, principal: &Principal, profile: &str, at: Timestamp) -> Explanation<'p> {
    let rules = policy
        .rules
        .iter()
        .map(|rule| RuleExplanation { rule, conditions: checks(&rule.conditions, principal, profile, at) })
        .collect();
    Explanation { rules, decision: policy.evaluate(principal, profile, at) }
}

impl RuleExplanation<'_> {
    /// Whether every condition of the rule held.
    pub fn matched(&self) -> bool {
        self.conditions.iter().all(|check| check.held)
    }
}

/// Each condition `conditions` has, asked of its matcher.
fn checks(conditions: &Conditions, principal: &Principal, profile: &str, at: Timestamp) -> Vec<ConditionCheck> {
    let c = conditions;
    let mut checks = Vec::new();
    if let Some(profiles) = &c.profiles {
        checks.push(listed(Condition::Profiles, c.profile_matches(profile), "profile", profile, profiles));
    }
    if let Some(users) = &c.users {
        checks.push(listed(Condition::Users, c.user_matches(principal.user), "user", principal.user, users));
    }
    if let Some(patterns) = &c.principals {
        checks.push(principals(c.principal_arn_matches(principal.arn), principal.arn, patterns));
    }
    if let Some(accounts) = &c.accounts {
        let held = c.account_matches(principal.account_id);
        checks.push(listed(Condition::Accounts, held, "account", principal.account_id, accounts));
    }
    if let Some(window) = &c.time {
        checks.push(ConditionCheck { condition: Condition::Time, held: c.time_matches(at), why: time(window, at) });
    }
    checks
}

/// A condition that lists values: ``user `bob` is not in [alice]``.
fn listed(condition: Condition, held: bool, what: &str, value: &str, list: &[String]) -> ConditionCheck {
    let verb = if held { "is in" } else { "is not in" };
    ConditionCheck { condition, held, why: format!("{what} `{value}` {verb} [{}]", list.join(", ")) }
}

fn principals(held: bool, arn: &str, patterns: &[String]) -> ConditionCheck {
    // Which pattern matched is for the reader; whether one did is the matcher's answer.
    let why = match patterns.iter().find(|pattern| arn_matches(pattern, arn)) {
        Some(pattern) if held => format!("principal `{arn}` matches `{pattern}`"),
        _ => format!("principal `{arn}` does not match any of [{}]", patterns.join(", ")),
    };
    ConditionCheck { condition: Condition::Principals, held, why }
}

/// The moment as the window sees it, and which part of the window it misses, if any:
/// `Saturday is not in days [monday, friday] (Europe/London)`.
fn time(window: &TimeWindow, at: Timestamp) -> String {
    let LocalMoment { day, minute } = window.local(at);
    // Every zone a policy can name is an IANA one (the loader asks the tz database by name).
    let zone = window.timezone.iana_name().unwrap_or("local time");
    let mut missed = Vec::new();
    if let Some(days) = window.days.filter(|_| !window.day_holds(day)) {
        missed.push(format!("{} is not in days [{}] ({zone})", day_name(day), days_in(days).join(", ")));
    }
    if let Some(hours) = window.hours.filter(|_| !window.hours_hold(minute)) {
        missed.push(outside(hours, minute, zone));
    }
    if !missed.is_empty() {
        return missed.join("; ");
    }
    let mut within = Vec::new();
    if let Some(days) = window.days {
        within.push(format!("days [{}]", days_in(days).join(", ")));
    }
    if let Some(hours) = window.hours {
        within.push(format!("hours {}", span(hours)));
    }
    format!("{} {} {zone} is within {}", day_name(day), clock(minute), within.join(" and "))
}

/// Why `minute` is outside `hours`: before its start, at or after its end, or (a window that
/// wraps midnight) between its end and its start.
fn outside(hours: Hours, minute: u16, zone: &str) -> String {
    let (at, start, end, span) = (clock(minute), clock(hours.start), clock(hours.end), span(hours));
    if hours.start > hours.end {
        format!("{at} {zone} is between {end} and {start}, outside hours {span}")
    } else if minute < hours.start {
        format!("{at} {zone} is before {start} (hours {span})")
    } else {
        format!("{at} {zone} is at or after {end} (hours {span})")
    }
}

fn span(hours: Hours) -> String {
    format!("{}–{}", clock(hours.start), clock(hours.end))
}

/// Minutes after midnight as `HH:MM` (`24:00` for the end of the day).
fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decider = self.decision.rule();
        for explained in &self.rules {
            let rule = explained.rule;
            let status = if decider.is_some_and(|decider| std::ptr::eq(decider, rule)) {
                "holds and decides"
            } else if explained.matched() {
                "holds, but a rule above decided"
            } else {
                "does not hold"
            };
            writeln!(f, "rule `{}` ({}, line {}): {status}", rule.name, rule.effect.as_str(), rule.line)?;
            for check in &explained.conditions {
                let mark = if check.held { "held    " } else { "not held" };
                writeln!(f, "  {mark}  {}: {}", check.condition.key(), check.why)?;
            }
        }
        match decider {
            Some(rule) => write!(f, "decision: {} by rule `{}` ({})", rule.effect.as_str(), rule.name, rule.reason),
            None => write!(f, "decision: deny, {}", self.decision.reason()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse;

    const SSO_OPS: &str = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0a1b2c3d/alice@example.com";
    const OPS_PATTERN: &str = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*";

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
    conditions:
      profiles: [main-prod]
      principals: ["arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*"]
      time:
        days: [monday, tuesday, wednesday, thursday, friday]
        hours: {start: "08:00", end: "19:00"}
        timezone: Europe/London
  - name: everyone-dev
    effect: allow
    conditions:
      profiles: [main-dev, main-prod]
      accounts: ["111122223333"]
  - name: night-shift
    effect: allow
    conditions:
      profiles: [main-night]
      time: {hours: {start: "22:00", end: "06:00"}}
"#;

    fn ops() -> Principal<'static> {
        Principal { user: "aliceexamplecom", arn: SSO_OPS, account_id: "111122223333" }
    }

    /// One rule's conditions as (key, held, why).
    type Checks = Vec<(&'static str, bool, String)>;

    /// Each rule's conditions, and the deciding rule's name.
    fn explained(principal: &Principal, profile: &str, at: &str) -> (Vec<Checks>, Option<String>) {
        let policy = parse(POLICY).unwrap();
        let explanation = explain(&policy, principal, profile, at.parse().unwrap());
        let rules = explanation
            .rules
            .iter()
            .map(|rule| rule.conditions.iter().map(|c| (c.condition.key(), c.held, c.why.clone())).collect())
            .collect();
        (rules, explanation.decision.rule().map(|rule| rule.name.clone()))
    }

    #[test]
    fn each_condition_says_whether_it_held_and_why() {
        // Saturday noon in London: the ops rule's window misses by its day.
        let (rules, decided) = explained(&ops(), "main-prod", "2026-01-17T12:00:00Z");
        assert_eq!(rules[0], [("users", false, "user `aliceexamplecom` is not in [contractor]".to_string())]);
        assert_eq!(
            rules[1],
            [
                ("profiles", true, "profile `main-prod` is in [main-prod]".to_string()),
                ("principals", true, format!("principal `{SSO_OPS}` matches `{OPS_PATTERN}`")),
                (
                    "time",
                    false,
                    "Saturday is not in days [monday, tuesday, wednesday, thursday, friday] (Europe/London)"
                        .to_string()
                ),
            ]
        );
        assert_eq!(
            rules[2],
            [
                ("profiles", true, "profile `main-prod` is in [main-dev, main-prod]".to_string()),
                ("accounts", true, "account `111122223333` is in [111122223333]".to_string()),
            ]
        );
        assert_eq!(decided.as_deref(), Some("everyone-dev"));
    }

    #[test]
    fn a_missed_time_window_names_the_part_it_missed() {
        let outsider = Principal { user: "eve", arn: "arn:aws:iam::999999999999:user/eve", account_id: "999999999999" };
        for (principal, profile, at, rule, why) in [
            (ops(), "main-prod", "2026-01-14T07:30:00Z", 1, "07:30 Europe/London is before 08:00 (hours 08:00–19:00)"),
            (
                ops(),
                "main-prod",
                "2026-07-15T18:00:00Z",
                1,
                "19:00 Europe/London is at or after 19:00 (hours 08:00–19:00)",
            ),
            (
                ops(),
                "main-prod",
                "2026-01-17T20:00:00Z",
                1,
                "Saturday is not in days [monday, tuesday, wednesday, thursday, friday] (Europe/London); 20:00 Europe/London is at or after 19:00 (hours 08:00–19:00)",
            ),
            (
                ops(),
                "main-prod",
                "2026-01-14T12:00:00Z",
                1,
                "Wednesday 12:00 Europe/London is within days [monday, tuesday, wednesday, thursday, friday] and hours 08:00–19:00",
            ),
            (
                ops(),
                "main-night",
                "2026-03-03T12:00:00Z",
                3,
                "12:00 UTC is between 06:00 and 22:00, outside hours 22:00–06:00",
            ),
            (ops(), "main-night", "2026-03-03T23:15:00Z", 3, "Tuesday 23:15 UTC is within hours 22:00–06:00"),
            (
                outsider,
                "main-prod",
                "2026-01-14T12:00:00Z",
                1,
                "principal `arn:aws:iam::999999999999:user/eve` does not match any of [arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*]",
            ),
        ] {
            let (rules, _) = explained(&principal, profile, at);
            let whys: Vec<&str> = rules[rule].iter().map(|(_, _, why)| why.as_str()).collect();
            assert!(whys.contains(&why), "{at} {profile}: {whys:#?}");
        }
    }

    #[test]
    fn the_explanation_reads_rule_by_rule_and_ends_with_the_decision() {
        let policy = parse(POLICY).unwrap();
        let weekday_noon = "2026-01-14T12:00:00Z".parse().unwrap();
        assert_eq!(
            explain(&policy, &ops(), "main-prod", weekday_noon).to_string(),
            format!(
                "rule `block-contractors` (deny, line 4): does not hold
  not held  users: user `aliceexamplecom` is not in [contractor]
rule `ops-prod-weekdays` (allow, line 9): holds and decides
  held      profiles: profile `main-prod` is in [main-prod]
  held      principals: principal `{SSO_OPS}` matches `{OPS_PATTERN}`
  held      time: Wednesday 12:00 Europe/London is within days [monday, tuesday, wednesday, thursday, friday] and hours 08:00–19:00
rule `everyone-dev` (allow, line 19): holds, but a rule above decided
  held      profiles: profile `main-prod` is in [main-dev, main-prod]
  held      accounts: account `111122223333` is in [111122223333]
rule `night-shift` (allow, line 24): does not hold
  not held  profiles: profile `main-prod` is not in [main-night]
  not held  time: 12:00 UTC is between 06:00 and 22:00, outside hours 22:00–06:00
decision: allow by rule `ops-prod-weekdays` (ops weekday access)"
            )
        );
        let nobody = explain(&policy, &ops(), "main-admin", weekday_noon).to_string();
        assert!(nobody.ends_with("\ndecision: deny, no matching rule"), "{nobody}");
    }
}
