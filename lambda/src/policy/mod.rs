//! The TVM policy (CONTRACT.md §7): YAML text from one SSM parameter, parsed and validated strictly
//! (unknown keys, unknown effects, bad days, hours or time zones, duplicate rule names and empty
//! conditions are load errors), then evaluated top to bottom (`explain` says why, rule by rule).
//!
//! The installer's `policy validate` calls `parse` too: one implementation, so a policy the
//! installer accepts is exactly a policy the Lambda accepts.

pub mod callers;
mod eval;
pub mod explain;
pub mod lint;
mod load;
pub mod pin;
mod window;

pub use eval::{Decision, NO_MATCHING_RULE, Principal, arn_matches};
pub use explain::{Explanation, explain};
pub use load::{PolicyError, Problem, parse, prepend_rules};
pub use window::{Hours, LocalMoment, TimeWindow};

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub effect: Effect,
    /// Shown in `POLICY_DENY` messages and logs; the rule's name when the policy gives none.
    pub reason: String,
    /// In seconds, within 900..=3600.
    pub max_server_duration: Option<u32>,
    /// The account whose protected role this rule vends; `None` is the TVM's own account.
    pub role_account: Option<String>,
    pub conditions: Conditions,
    /// Where the rule starts in the YAML text.
    pub line: u32,
}

/// Readable as the decision log writes it (`allow`, `deny`); the policy's own `effect` key is
/// parsed by `load`, which names the line of a bad one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// All present conditions must hold; at least one is present. Lists are never empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conditions {
    pub profiles: Option<Vec<String>>,
    pub users: Option<Vec<String>>,
    pub principals: Option<Vec<String>>,
    pub accounts: Option<Vec<String>>,
    pub time: Option<TimeWindow>,
}
