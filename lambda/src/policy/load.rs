//! Policy text → `Policy`: strict YAML (unknown keys and duplicate keys refused), then every rule
//! checked, with each problem naming its line, its rule and its field. All problems are reported
//! at once so an author fixes them in one pass.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::callers;
use super::window::{Hours, TimeWindow, day_bit, parse_clock, parse_day};
use super::{Conditions, Effect, Policy, Rule};
use crate::duration::{MAX_SECONDS, MIN_SECONDS, parse_go_duration};
use crate::identity::is_account_id;
use crate::profile::is_profile_name;

/// The policy could not be loaded: one or more problems, each with its line when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the policy text.
    pub line: Option<u32>,
    /// Where: `effect`, `conditions.time.days`, … (`None` for YAML syntax).
    pub field: Option<String>,
    /// What, quoting the offending value: for the author, never for the Lambda's log.
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match problem.line {
                Some(line) => write!(f, "line {line}: {}", problem.message)?,
                None => write!(f, "{}", problem.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

impl PolicyError {
    /// Where the problems are, without any of the policy's text: `line 4 (effect); line 7
    /// (YAML syntax)`. What the Lambda logs (CONTRACT.md §8 forbids logging the policy text).
    pub fn log_summary(&self) -> String {
        let places: Vec<String> = self
            .problems
            .iter()
            .map(|problem| {
                let line = problem.line.map_or_else(|| "unknown line".to_string(), |line| format!("line {line}"));
                format!("{line} ({})", problem.field.as_deref().unwrap_or("YAML syntax"))
            })
            .collect();
        places.join("; ")
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Spanned<String>,
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    effect: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_server_duration: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_account: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conditions: Option<RawConditions>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConditions {
    #[serde(skip_serializing_if = "Option::is_none")]
    profiles: Option<Spanned<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<Spanned<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principals: Option<Spanned<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Spanned<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<Spanned<RawTime>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawTime {
    #[serde(skip_serializing_if = "Option::is_none")]
    days: Option<Spanned<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hours: Option<Spanned<RawHours>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<Spanned<String>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    start: String,
    end: String,
}

/// Parses and validates a policy.
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    validate(read_raw(text)?)
}

/// The YAML as the policy schema, scalars kept as written (an account `012345678901` stays a
/// string), or the YAML error with its line.
fn read_raw(text: &str) -> Result<RawPolicy, PolicyError> {
    // No snippets: the Lambda logs these messages, and the log must never carry the policy text.
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| PolicyError {
        problems: vec![Problem {
            line: error.location().map(|l| l.line() as u32),
            field: None,
            message: yaml_message(&error),
        }],
    })
}

/// `rules` (a YAML sequence of rules) put in front of `policy`'s own, as one valid policy.
/// Both must be valid; the result is checked again. Comments do not survive.
pub fn prepend_rules(policy: &str, rules: &str) -> Result<String, PolicyError> {
    parse(policy)?;
    let mut raw = read_raw(policy)?;
    let options = serde_saphyr::options! { with_snippet: false };
    let extra: Vec<Spanned<RawRule>> =
        serde_saphyr::from_str_with_options(rules, options).map_err(|error| PolicyError {
            problems: vec![Problem {
                line: error.location().map(|l| l.line() as u32),
                field: None,
                message: format!("in the added rules: {}", yaml_message(&error)),
            }],
        })?;
    raw.rules.splice(0..0, extra);
    let text = serde_saphyr::to_string(&raw).map_err(|error| PolicyError {
        problems: vec![Problem { line: None, field: None, message: format!("cannot write the policy: {error}") }],
    })?;
    parse(&text)?;
    Ok(text)
}

fn validate(raw: RawPolicy) -> Result<Policy, PolicyError> {
    let mut problems = Vec::new();
    if raw.version.value != "1" {
        problems.push(Problem {
            line: Some(raw.version.referenced.line() as u32),
            field: Some("version".into()),
            message: format!("version: `{}` is not supported; write `version: \"1\"`", raw.version.value),
        });
    }
    let mut rules: Vec<Rule> = Vec::new();
    // Names are compared before each rule is checked, so a duplicate is reported even when
    // the first rule of that name has problems of its own.
    let mut seen: Vec<(String, u32)> = Vec::new();
    for (index, rule) in raw.rules.into_iter().enumerate() {
        let line = rule.referenced.line() as u32;
        let name = rule.value.name.value.trim().to_string();
        let mut check = RuleCheck { label: rule_label(&name, index), problems: &mut problems };
        if let Some((_, first)) = seen.iter().find(|(seen, _)| !name.is_empty() && *seen == name) {
            let message = format!("is also the name of the rule at line {first}; names must be unique");
            check.problem(line, "name", message);
        }
        seen.push((name, line));
        if let Some(validated) = check.rule(rule.value, line) {
            rules.push(validated);
        }
    }
    if problems.is_empty() { Ok(Policy { rules }) } else { Err(PolicyError { problems }) }
}

/// serde-saphyr's message without the location it adds before or after (the line is kept
/// separately).
fn yaml_message(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let text = match text.split_once(": ") {
        Some((location, rest)) if location.starts_with("line ") && location.contains(" column ") => rest,
        _ => text,
    };
    match text.rsplit_once(" at line ") {
        Some((message, location)) if location.contains(", column ") => message.to_string(),
        _ => text.to_string(),
    }
}

fn rule_label(name: &str, index: usize) -> String {
    if name.trim().is_empty() { format!("rule #{}", index + 1) } else { format!("rule `{name}`") }
}

/// Validates one rule, recording problems as `line N: rule `x`: field: problem`.
struct RuleCheck<'a> {
    label: String,
    problems: &'a mut Vec<Problem>,
}

impl RuleCheck<'_> {
    fn problem(&mut self, line: u32, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            line: Some(line),
            field: Some(field.to_string()),
            message: format!("{}: {field}: {}", self.label, message.into()),
        });
    }

    fn rule(&mut self, raw: RawRule, line: u32) -> Option<Rule> {
        let before = self.problems.len();
        let name = raw.name.value.trim().to_string();
        if name.is_empty() {
            self.problem(raw.name.referenced.line() as u32, "name", "is required");
        }
        let effect = match raw.effect.value.as_str() {
            "allow" => Some(Effect::Allow),
            "deny" => Some(Effect::Deny),
            other => {
                self.problem(
                    raw.effect.referenced.line() as u32,
                    "effect",
                    format!("must be `allow` or `deny`, not `{other}`"),
                );
                None
            }
        };
        let max_server_duration = raw.max_server_duration.and_then(|d| self.max_duration(d));
        let role_account = raw.role_account.and_then(|account| {
            if is_account_id(&account.value) {
                Some(account.value)
            } else {
                self.problem(
                    account.referenced.line() as u32,
                    "role_account",
                    format!("`{}` is not a 12-digit account ID (quote it)", account.value),
                );
                None
            }
        });
        let conditions = match raw.conditions {
            Some(conditions) => self.conditions(conditions, line),
            None => {
                self.problem(
                    line,
                    "conditions",
                    "is required: give at least one of profiles, users, principals, accounts, time",
                );
                None
            }
        };
        if self.problems.len() > before {
            return None;
        }
        let reason = raw.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).unwrap_or_else(|| name.clone());
        Some(Rule { name, effect: effect?, reason, max_server_duration, role_account, conditions: conditions?, line })
    }

    fn max_duration(&mut self, raw: Spanned<String>) -> Option<u32> {
        let line = raw.referenced.line() as u32;
        match parse_go_duration(&raw.value) {
            Ok(seconds) if (MIN_SECONDS..=MAX_SECONDS).contains(&seconds) => Some(seconds),
            Ok(_) => {
                self.problem(
                    line,
                    "max_server_duration",
                    format!("`{}` is outside 15m..1h (AWS caps role chaining at one hour)", raw.value),
                );
                None
            }
            Err(problem) => {
                self.problem(line, "max_server_duration", problem);
                None
            }
        }
    }

    fn conditions(&mut self, raw: RawConditions, rule_line: u32) -> Option<Conditions> {
        let conditions = Conditions {
            profiles: self.list(raw.profiles, "conditions.profiles", |p| {
                is_profile_name(p).then_some(()).ok_or_else(|| format!("`{p}` is not a profile name (1-64 of A-Z a-z 0-9 _ -)"))
            }),
            users: self.list(raw.users, "conditions.users", |u| {
                let clean = crate::identity::sanitise(u);
                if clean == *u && !u.is_empty() {
                    Ok(())
                } else {
                    Err(format!("`{u}` can never match: usernames are sanitised to at most 20 letters and digits (write `{clean}`)"))
                }
            }),
            principals: self.list(raw.principals, "conditions.principals", |p| {
                callers::pattern_problem(p).map_or(Ok(()), Err)
            }),
            accounts: self.list(raw.accounts, "conditions.accounts", |a| {
                is_account_id(a).then_some(()).ok_or_else(|| format!("`{a}` is not a 12-digit account ID (quote it)"))
            }),
            time: raw.time.and_then(|time| self.time(time)),
        };
        let Conditions { profiles, users, principals, accounts, time } = &conditions;
        if profiles.is_none() && users.is_none() && principals.is_none() && accounts.is_none() && time.is_none() {
            self.problem(
                rule_line,
                "conditions",
                "is empty: give at least one of profiles, users, principals, accounts, time",
            );
        }
        Some(conditions)
    }

    fn list(
        &mut self,
        raw: Option<Spanned<Vec<String>>>,
        field: &str,
        valid: impl Fn(&str) -> Result<(), String>,
    ) -> Option<Vec<String>> {
        let raw = raw?;
        let line = raw.referenced.line() as u32;
        if raw.value.is_empty() {
            self.problem(line, field, "is empty; list at least one entry or leave the condition out");
        }
        for item in &raw.value {
            if let Err(problem) = valid(item) {
                self.problem(line, field, problem);
            }
        }
        Some(raw.value)
    }

    fn time(&mut self, raw: Spanned<RawTime>) -> Option<TimeWindow> {
        let line = raw.referenced.line() as u32;
        let RawTime { days, hours, timezone } = raw.value;
        if days.is_none() && hours.is_none() {
            self.problem(line, "conditions.time", "needs days, hours or both");
        }
        let days = days.map(|days| {
            let day_line = days.referenced.line() as u32;
            if days.value.is_empty() {
                self.problem(day_line, "conditions.time.days", "is empty; list days or leave it out");
            }
            days.value.iter().fold(0u8, |mask, name| match parse_day(name) {
                Some(day) => mask | day_bit(day),
                None => {
                    self.problem(day_line, "conditions.time.days", format!("`{name}` is not a day (monday … sunday)"));
                    mask
                }
            })
        });
        let hours = hours.and_then(|hours| {
            let hours_line = hours.referenced.line() as u32;
            let (start, end) = (parse_clock(&hours.value.start), parse_clock(&hours.value.end));
            match (start, end) {
                (Some(start), Some(end)) if start != end && start < 24 * 60 => Some(Hours { start, end }),
                (Some(_), Some(_)) => {
                    self.problem(
                        hours_line,
                        "conditions.time.hours",
                        "start and end must differ, and start must be before 24:00",
                    );
                    None
                }
                _ => {
                    let bad = if start.is_none() { &hours.value.start } else { &hours.value.end };
                    self.problem(
                        hours_line,
                        "conditions.time.hours",
                        format!("`{bad}` is not a time like `08:00` (00:00 to 24:00)"),
                    );
                    None
                }
            }
        });
        let zone_name = timezone.as_ref().map_or("UTC", |zone| zone.value.as_str());
        let timezone = match jiff::tz::TimeZone::get(zone_name) {
            Ok(zone) => zone,
            Err(_) => {
                let zone_line = timezone.as_ref().map_or(line, |zone| zone.referenced.line() as u32);
                self.problem(
                    zone_line,
                    "conditions.time.timezone",
                    format!("`{zone_name}` is not an IANA time zone like `Europe/London`"),
                );
                return None;
            }
        };
        Some(TimeWindow { days, hours, timezone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(policy) => panic!("expected problems, got {policy:?}"),
            Err(error) => error.to_string().lines().map(str::to_string).collect(),
        }
    }

    fn rule(body: &str) -> String {
        format!("version: \"1\"\nrules:\n  - name: r\n    effect: allow\n{body}")
    }

    #[test]
    fn a_full_rule_loads_with_every_field() {
        let policy = parse(&rule(
            "    reason: ops weekday access\n    max_server_duration: 30m\n    conditions:\n      profiles: [prod]\n      users: [alice]\n      principals: [\"arn:aws:iam::111122223333:user/*\"]\n      accounts: [\"111122223333\"]\n      time:\n        days: [monday, Friday]\n        hours: {start: \"22:00\", end: \"06:00\"}\n        timezone: Europe/London\n",
        ))
        .unwrap();
        let rule = &policy.rules[0];
        assert_eq!(
            (rule.name.as_str(), rule.effect, rule.reason.as_str(), rule.line),
            ("r", Effect::Allow, "ops weekday access", 3)
        );
        assert_eq!(rule.max_server_duration, Some(1800));
        let c = &rule.conditions;
        assert_eq!(c.profiles.as_deref(), Some(&["prod".to_string()][..]));
        assert_eq!(c.users.as_deref(), Some(&["alice".to_string()][..]));
        assert_eq!(c.accounts.as_deref(), Some(&["111122223333".to_string()][..]));
        let time = c.time.as_ref().unwrap();
        assert_eq!(time.days, Some(0b1_0001));
        assert_eq!(time.hours, Some(Hours { start: 22 * 60, end: 6 * 60 }));
    }

    #[test]
    fn defaults_reason_to_the_name_and_timezone_to_utc() {
        let policy = parse(&rule("    conditions:\n      time: {days: [sunday]}\n")).unwrap();
        assert_eq!(policy.rules[0].reason, "r");
        assert_eq!(policy.rules[0].conditions.time.as_ref().unwrap().timezone, jiff::tz::TimeZone::UTC);
    }

    #[test]
    fn an_empty_rule_list_loads_and_denies_everything() {
        assert_eq!(parse("version: \"1\"\nrules: []\n").unwrap().rules.len(), 0);
    }

    #[test]
    fn every_load_error_names_its_line_rule_and_field() {
        for (text, expected) in [
            (rule("    conditions: {profiles: [prod]}\n    colour: red\n"), "line 6: unknown field `colour`"),
            (rule("    conditions: {profiles: [prod], groups: [x]}\n"), "line 5: unknown field `groups`"),
            ("version: \"1\"\nrules:\n  - name: r\n    effect: permit\n    conditions: {profiles: [p]}\n".into(), "line 4: rule `r`: effect: must be `allow` or `deny`, not `permit`"),
            ("version: \"1\"\nrules:\n  - name: r\n    effect: Allow\n    conditions: {profiles: [p]}\n".into(), "line 4: rule `r`: effect: must be `allow` or `deny`, not `Allow`"),
            (rule(""), "line 3: rule `r`: conditions: is required"),
            (rule("    conditions: {}\n"), "line 3: rule `r`: conditions: is empty"),
            (rule("    conditions: {profiles: []}\n"), "line 5: rule `r`: conditions.profiles: is empty"),
            (rule("    conditions: {profiles: [\"../x\"]}\n"), "line 5: rule `r`: conditions.profiles: `../x` is not a profile name"),
            (rule("    conditions: {users: [alice.bob]}\n"), "line 5: rule `r`: conditions.users: `alice.bob` can never match: usernames are sanitised to at most 20 letters and digits (write `alicebob`)"),
            (rule("    conditions: {principals: [alice]}\n"), "line 5: rule `r`: conditions.principals: `alice` is not an ARN pattern"),
            (rule("    conditions: {accounts: [\"1234\"]}\n"), "line 5: rule `r`: conditions.accounts: `1234` is not a 12-digit account ID"),
            (rule("    conditions:\n      time: {days: [funday]}\n"), "line 6: rule `r`: conditions.time.days: `funday` is not a day"),
            (rule("    conditions:\n      time: {hours: {start: \"8am\", end: \"17:00\"}}\n"), "line 6: rule `r`: conditions.time.hours: `8am` is not a time"),
            (rule("    conditions:\n      time: {hours: {start: \"08:00\", end: \"08:00\"}}\n"), "line 6: rule `r`: conditions.time.hours: start and end must differ"),
            (rule("    conditions:\n      time:\n        days: [monday]\n        timezone: Mars/Olympus\n"), "line 8: rule `r`: conditions.time.timezone: `Mars/Olympus` is not an IANA time zone"),
            (rule("    conditions:\n      time: {timezone: UTC}\n"), "line 6: rule `r`: conditions.time: needs days, hours or both"),
            (rule("    max_server_duration: 12h\n    conditions: {profiles: [p]}\n"), "line 5: rule `r`: max_server_duration: `12h` is outside 15m..1h"),
            (rule("    max_server_duration: 10m\n    conditions: {profiles: [p]}\n"), "line 5: rule `r`: max_server_duration: `10m` is outside 15m..1h"),
            (rule("    max_server_duration: soon\n    conditions: {profiles: [p]}\n"), "line 5: rule `r`: max_server_duration: has an unknown unit"),
            ("version: \"2\"\nrules: []\n".into(), "line 1: version: `2` is not supported"),
            (rule("    role_account: \"1234\"\n    conditions: {profiles: [p]}\n"), "line 5: rule `r`: role_account: `1234` is not a 12-digit account ID"),
            ("version: \"1\"\nrules:\n  - {name: a, effect: nope, conditions: {profiles: [p]}}\n  - {name: a, effect: allow, conditions: {profiles: [p]}}\n".into(), "line 4: rule `a`: name: is also the name of the rule at line 3"),
            ("rules: []\n".into(), "line 1: missing field `version`"),
            ("version: \"1\"\nrules:\n  - name: a\n    effect: allow\n    conditions: {profiles: [p]}\n  - name: a\n    effect: deny\n    conditions: {profiles: [p]}\n".into(), "line 6: rule `a`: name: is also the name of the rule at line 3"),
            ("version: \"1\"\nrules:\n  - name: \"\"\n    effect: allow\n    conditions: {profiles: [p]}\n".into(), "line 3: rule #1: name: is required"),
            ("version: \"1\"\nversion: \"1\"\nrules: []\n".into(), "line 2: duplicate mapping key: version"),
            ("version: \"1\"\nrules: [\n".into(), "line "),
            ("".into(), ""),
        ] {
            let found = problems(&text);
            assert!(found.iter().any(|p| p.starts_with(expected)), "expected a problem starting {expected:?} in {found:#?}\nfor:\n{text}");
        }
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let found = problems(
            "version: \"1\"\nrules:\n  - name: a\n    effect: maybe\n    conditions: {}\n  - name: b\n    effect: allow\n    conditions: {accounts: [\"x\"]}\n",
        );
        assert_eq!(found.len(), 3, "{found:#?}");
    }

    #[test]
    fn the_log_summary_names_places_and_never_values() {
        let error = parse("version: \"1\"\nrules:\n  - name: secret-name\n    effect: maybe\n    conditions:\n      principals: [TOPSECRET]\n").unwrap_err();
        let summary = error.log_summary();
        assert_eq!(summary, "line 4 (effect); line 6 (conditions.principals)");
        let yaml = parse("version: \"1\"\nrules: [\n").unwrap_err().log_summary();
        assert!(yaml.ends_with("(YAML syntax)"), "{yaml}");
    }

    #[test]
    fn yaml_errors_never_quote_the_policy_text_around_them() {
        let text = "version: \"1\"\nrules:\n  - name: secret-rule-name\n    effect: allow\n    oops: 1\n";
        let message = parse(text).unwrap_err().to_string();
        assert!(!message.contains("secret-rule-name"), "{message}");
        assert!(!message.contains('\n'), "one line per problem: {message}");
    }
}

#[cfg(test)]
mod compose_tests {
    use super::*;

    const USER: &str = "# ops access\nversion: \"1\"\nrules:\n  - name: ops\n    effect: allow\n    reason: ops\n    conditions:\n      profiles: [main-prod]\n      accounts: [012345678901]\n      time: {days: [monday], hours: {start: \"08:00\", end: \"18:00\"}, timezone: Europe/London}\n";
    const SMOKE: &str = "- name: smoke\n  effect: allow\n  conditions:\n    profiles: [main-smoke]\n    principals: [\"arn:aws:iam::012345678901:user/deployer\"]\n";

    #[test]
    fn added_rules_come_first_and_every_scalar_survives() {
        let text = prepend_rules(USER, SMOKE).unwrap();
        let policy = parse(&text).unwrap();
        let names: Vec<&str> = policy.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["smoke", "ops"]);
        let ops = &policy.rules[1];
        assert_eq!(ops.conditions.accounts.as_deref(), Some(&["012345678901".to_string()][..]), "{text}");
        assert_eq!(ops.conditions, parse(USER).unwrap().rules[0].conditions, "the user's rule is unchanged:\n{text}");
    }

    #[test]
    fn an_invalid_policy_or_rule_is_refused() {
        assert!(
            prepend_rules("version: \"1\"\nrules: [{name: a, effect: nope, conditions: {users: [a]}}]\n", SMOKE)
                .is_err()
        );
        assert!(
            prepend_rules(USER, "- name: ops\n  effect: allow\n  conditions: {users: [x]}\n")
                .unwrap_err()
                .to_string()
                .contains("also the name")
        );
    }
}
