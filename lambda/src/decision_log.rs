//! The decision log (CONTRACT.md §8): one JSON line per request on stdout, for CloudWatch. It never
//! holds credentials or the policy text; it does hold the request id that also sits in the
//! SourceIdentity and session name, so CloudTrail and this log can be joined.

use jiff::Timestamp;
use serde::Serialize;

use crate::contract::Response;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DecisionLog {
    pub timestamp: String,
    pub request_id: Option<String>,
    pub user: Option<String>,
    /// The caller: verified by the caller proof, or (with proofs off) as the authorizer said.
    pub principal_arn: Option<String>,
    /// How `principal_arn` was established: `proof` (STS answered for the caller's own
    /// signature) or `authorizer` (the event's authorizer context, with proofs off).
    pub identity: Option<&'static str>,
    /// What the event's authorizer context claimed, unverified: kept for the record only.
    pub claimed_principal_arn: Option<String>,
    /// The caller's unique id as STS (or, with proofs off, the authorizer) gave it: `AIDA…`,
    /// `AROA…:<session>`, which outlives a deleted and recreated user or role of the same name.
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    /// The policy version that decided (the pinned one, CONTRACT.md §7).
    pub policy_version: Option<u64>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    /// The policy's decision once it decided; before that (or for discovery), `allow` when the
    /// request got what it asked for, else `deny`.
    pub effect: &'static str,
    pub rule: Option<String>,
    /// The deciding rule's reason, or why the request was refused before the policy decided.
    pub reason: Option<String>,
    /// What went wrong after the policy decided (STS's error, an unresolvable role).
    pub detail: Option<String>,
    pub duration_seconds: Option<u32>,
    pub source_identity: Option<String>,
    pub status: u16,
    pub code: Option<&'static str>,
    /// The client's `device_id`, when it sent a well-formed one.
    pub device_id: Option<String>,
    #[serde(skip)]
    decided: bool,
}

impl DecisionLog {
    pub fn started(now: Timestamp) -> Self {
        Self { timestamp: now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), effect: "deny", ..Self::default() }
    }

    /// Records the policy's decision.
    pub fn decided(&mut self, effect: &'static str, rule: Option<String>, reason: &str) {
        self.effect = effect;
        self.rule = rule;
        self.reason = Some(reason.to_string());
        self.decided = true;
    }

    /// Records why a request was refused: the reason before the policy decided, the detail after.
    pub fn refused(&mut self, why: String) {
        if self.decided { self.detail = Some(why) } else { self.reason = Some(why) }
    }

    /// Records how the request was answered.
    pub fn finish(&mut self, response: &Response) {
        self.status = response.status;
        self.code = response.code.map(|code| code.as_str());
        if !self.decided {
            self.effect = if response.status == 200 { "allow" } else { "deny" };
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("strings and numbers serialize")
    }
}

/// The line logged when the environment is unusable at cold start.
pub fn startup_failure(now: Timestamp, problem: &str) -> String {
    serde_json::json!({
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "level": "error",
        "message": format!("sentinel-tvm cannot start: {problem}; every request will answer CONFIG_ERROR until it is fixed"),
    })
    .to_string()
}

/// `device_id` is kept only when it is exactly 64 lowercase hex characters.
pub fn device_id(raw: Option<&str>) -> Option<String> {
    raw.filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ErrorCode;

    #[test]
    fn a_finished_line_has_every_field_of_the_contract() {
        let mut log = DecisionLog::started("2026-01-25T14:30:00.123456Z".parse().unwrap());
        log.finish(&Response::error(ErrorCode::PolicyDeny));
        let value: serde_json::Value = serde_json::from_str(&log.to_json()).unwrap();
        for field in [
            "timestamp",
            "request_id",
            "user",
            "principal_arn",
            "principal_id",
            "account_id",
            "policy_version",
            "profile",
            "role_arn",
            "effect",
            "rule",
            "reason",
            "duration_seconds",
            "source_identity",
            "status",
            "code",
        ] {
            assert!(value.get(field).is_some(), "{field} missing from {value}");
        }
        assert_eq!(value["timestamp"], "2026-01-25T14:30:00.123Z");
        assert_eq!(
            (value["status"].as_u64(), value["code"].as_str(), value["effect"].as_str()),
            (Some(403), Some("POLICY_DENY"), Some("deny"))
        );
    }

    #[test]
    fn device_ids_are_kept_only_when_well_formed() {
        let good = "0123456789abcdef".repeat(4);
        assert_eq!(device_id(Some(&good)), Some(good.clone()));
        for bad in [good.to_uppercase(), good[..63].to_string(), format!("{good}0"), "g".repeat(64), String::new()] {
            assert_eq!(device_id(Some(&bad)), None, "{bad}");
        }
        assert_eq!(device_id(None), None);
    }
}
