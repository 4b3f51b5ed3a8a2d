//! Warnings about a valid policy: conditions that hold, but for more callers than their author
//! likely meant (threat model T7, T8). The Lambda never looks at them; `policy validate`,
//! `install` and `upgrade` show them.

use super::{Policy, callers};

/// One warning, for the author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: u32,
    pub rule: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: rule `{}`: {}", self.line, self.rule, self.message)
    }
}

/// Every warning, in policy order.
pub fn warnings(policy: &Policy) -> Vec<Warning> {
    let mut found = Vec::new();
    for rule in &policy.rules {
        let warn = |message: String| Warning { line: rule.line, rule: rule.name.clone(), message };
        let c = &rule.conditions;
        for pattern in c.principals.iter().flatten().filter(|p| callers::any_account(p)) {
            found.push(warn(format!(
                "principals: `{pattern}` matches callers of any account the TVM admits; name the account unless that is meant"
            )));
        }
        if c.users.is_some() && c.principals.is_none() && c.accounts.is_none() {
            found.push(warn(
                "its only condition on who calls is `users:`, which matches a name callers choose for themselves (session and federated names, sanitised and cut to 20 characters); add `principals:` or `accounts:`".into(),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse;

    #[test]
    fn any_account_patterns_and_users_alone_are_warned_about() {
        let policy = parse(
            r#"
version: "1"
rules:
  - {name: named, effect: allow, conditions: {principals: ["arn:aws:sts::111122223333:assumed-role/Dev/*"]}}
  - {name: anywhere, effect: allow, conditions: {principals: ["arn:aws:sts::*:assumed-role/Dev/*"]}}
  - {name: by-name, effect: deny, conditions: {users: [alice]}}
  - {name: by-name-in-account, effect: deny, conditions: {users: [alice], accounts: ["111122223333"]}}
  - {name: by-name-and-arn, effect: allow, conditions: {users: [bob], principals: ["arn:aws:iam::111122223333:user/bob"]}}
"#,
        )
        .unwrap();
        let found = warnings(&policy);
        let places: Vec<(u32, &str)> = found.iter().map(|w| (w.line, w.rule.as_str())).collect();
        assert_eq!(places, [(5, "anywhere"), (6, "by-name")]);
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(text[0].starts_with("line 5: rule `anywhere`: principals: `arn:aws:sts::*:"), "{}", text[0]);
        assert!(text[1].contains("add `principals:` or `accounts:`"), "{}", text[1]);
    }
}
