//! The decision log (CONTRACT.md §8): one JSON line per request on stdout, for CloudWatch. It never
//! holds credentials or the policy text; it does hold the request id that also sits in the
//! SourceIdentity and session name, so CloudTrail and this log can be joined.
//!
//! `DecisionLog` is the record both ways: the Lambda writes it (`to_json`) and an audit reads it
//! back (`from_json`) as the same value, which writes the same line again. A new field is one
//! more field here, where its key goes in the line (and a row in §8's table); the round-trip
//! tests below do not compile, or fail, until it is covered.

use jiff::Timestamp;
use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use crate::contract::{ErrorCode, Response};
use crate::policy::{Decision, Effect};

/// One of the few words a field may hold, as its one spelling (`IdentitySource::as_str`,
/// `Effect::as_str`, `ErrorCode::as_str`): a line read back holds only words the Lambda writes,
/// anything else is a parse error. An alias rather than `&'static str` written out, which
/// serde's derive would take for text borrowed from the line (and so only from `'static` text).
pub type Word = &'static str;

/// One request's line. Every field is always written, in this order, `null` when not known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLog {
    pub timestamp: String,
    pub request_id: Option<String>,
    pub user: Option<String>,
    /// The caller: verified by the caller proof, or (with proofs off) as the authorizer said.
    pub principal_arn: Option<String>,
    /// How `principal_arn` was established: `proof` (STS answered for the caller's own
    /// signature) or `authorizer` (the event's authorizer context, with proofs off).
    #[serde(default, deserialize_with = "optional_word::<IdentitySource, _>")]
    pub identity: Option<Word>,
    /// What the event's authorizer context claimed, unverified: kept for the record only.
    pub claimed_principal_arn: Option<String>,
    /// The caller's unique id as STS (or, with proofs off, the authorizer) gave it: `AIDA…`,
    /// `AROA…:<session>`, which outlives a deleted and recreated user or role of the same name.
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    /// The policy version that decided (the pinned one, CONTRACT.md §7): set exactly when the
    /// policy decided, which is what `refused` and `finish` go by.
    pub policy_version: Option<u64>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    /// The policy's decision once it decided; before that (or for discovery), `allow` when the
    /// request got what it asked for, else `deny`.
    #[serde(deserialize_with = "word::<Effect, _>")]
    pub effect: Word,
    pub rule: Option<String>,
    /// The deciding rule's reason, or why the request was refused before the policy decided.
    pub reason: Option<String>,
    /// What went wrong after the policy decided (STS's error, an unresolvable role).
    pub detail: Option<String>,
    pub duration_seconds: Option<u32>,
    pub source_identity: Option<String>,
    pub status: u16,
    #[serde(default, deserialize_with = "optional_word::<ErrorCode, _>")]
    pub code: Option<Word>,
    /// The client's `device_id`, when it sent a well-formed one.
    pub device_id: Option<String>,
}

/// How the caller was established (the log's `identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentitySource {
    /// STS answered the caller's proof (CONTRACT.md §12).
    Proof,
    /// The event's authorizer context, trusted with proofs off.
    Authorizer,
}

impl IdentitySource {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Proof => "proof",
            IdentitySource::Authorizer => "authorizer",
        }
    }
}

impl DecisionLog {
    pub fn started(now: Timestamp) -> Self {
        Self {
            timestamp: now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            effect: Effect::Deny.as_str(),
            ..Self::default()
        }
    }

    /// Records the policy's decision, and which pinned version made it.
    pub fn decided(&mut self, policy_version: u64, decision: Decision) {
        self.policy_version = Some(policy_version);
        self.effect = decision.effect().as_str();
        self.rule = decision.rule().map(|rule| rule.name.clone());
        self.reason = Some(decision.reason().to_string());
    }

    /// Records why a request was refused: the reason before the policy decided, the detail after.
    pub fn refused(&mut self, why: String) {
        if self.policy_version.is_some() { self.detail = Some(why) } else { self.reason = Some(why) }
    }

    /// Records how the request was answered.
    pub fn finish(&mut self, response: &Response) {
        self.status = response.status;
        self.code = response.code.map(|code| code.as_str());
        if self.policy_version.is_none() {
            let effect = if response.status == 200 { Effect::Allow } else { Effect::Deny };
            self.effect = effect.as_str();
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("strings and numbers serialize")
    }

    /// A line as `to_json` wrote it. A key the line lacks (written before its field existed)
    /// reads as `null`; a key this record does not know is left out.
    pub fn from_json(line: &str) -> Result<DecisionLog, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// The words a `Word` field may hold, read as their one spelling.
trait Vocabulary: DeserializeOwned {
    fn spelling(self) -> Word;
}

impl Vocabulary for Effect {
    fn spelling(self) -> Word {
        self.as_str()
    }
}

impl Vocabulary for ErrorCode {
    fn spelling(self) -> Word {
        self.as_str()
    }
}

impl Vocabulary for IdentitySource {
    fn spelling(self) -> Word {
        self.as_str()
    }
}

fn word<'de, W: Vocabulary, D: Deserializer<'de>>(deserializer: D) -> Result<Word, D::Error> {
    W::deserialize(deserializer).map(W::spelling)
}

fn optional_word<'de, W: Vocabulary, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Word>, D::Error> {
    Option::<W>::deserialize(deserializer).map(|word| word.map(W::spelling))
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

    /// A record with every field set, none to its default. Written out field by field, without
    /// `..`, so a field added to `DecisionLog` does not compile here until it is given a value;
    /// `every_field_is_set` then fails until that value is not the default.
    fn full(code: Option<ErrorCode>) -> DecisionLog {
        DecisionLog {
            timestamp: "2026-01-25T14:30:00.123Z".into(),
            request_id: Some("0123456789abcdef".into()),
            user: Some("alice".into()),
            principal_arn: Some("arn:aws:iam::111122223333:user/engineering/alice".into()),
            identity: Some(IdentitySource::Proof.as_str()),
            claimed_principal_arn: Some("arn:aws:iam::111122223333:user/engineering/alice".into()),
            principal_id: Some("AIDACKCEVSQ6C2EXAMPLE".into()),
            account_id: Some("111122223333".into()),
            policy_version: Some(3),
            profile: Some("main-dev".into()),
            role_arn: Some("arn:aws:iam::111122223333:role/SentinelProtected-main-dev".into()),
            effect: Effect::Allow.as_str(),
            rule: Some("account-dev".into()),
            reason: Some("dev for the account, \"quoted\" and \\ escaped".into()),
            detail: Some("sts:AssumeRole failed: µ ünïcødé \u{1}".into()),
            duration_seconds: Some(1800),
            source_identity: Some("sentinel.alice.qbm6ojqaajqsmjp3.0123456789abcdef".into()),
            status: code.map_or(200, ErrorCode::status),
            code: code.map(ErrorCode::as_str),
            device_id: Some("0123456789abcdef".repeat(4)),
        }
    }

    #[test]
    fn every_field_is_set() {
        let line: serde_json::Value = serde_json::from_str(&full(Some(ErrorCode::PolicyDeny)).to_json()).unwrap();
        let unset: Vec<&String> =
            line.as_object().unwrap().iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k).collect();
        assert!(unset.is_empty(), "the round trip would not cover {unset:?}: give them values in `full`");
    }

    #[test]
    fn a_line_reads_back_as_the_record_that_wrote_it_for_every_answer() {
        for code in ErrorCode::ALL.into_iter().map(Some).chain([None]) {
            let record = full(code);
            let line = record.to_json();
            let read = DecisionLog::from_json(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(read, record, "{line}");
            assert_eq!(read.to_json(), line, "written again, byte for byte");
        }
    }

    #[test]
    fn values_not_known_are_null_and_read_back_so() {
        let record = DecisionLog::started("2026-01-25T14:30:00Z".parse().unwrap());
        let line = record.to_json();
        assert!(line.contains(r#""request_id":null,"user":null,"#), "{line}");
        assert_eq!(DecisionLog::from_json(&line).unwrap(), record);
    }

    #[test]
    fn only_the_words_the_lambda_writes_read_back() {
        let line = full(Some(ErrorCode::PolicyDeny)).to_json();
        for (word, other) in [
            ("\"effect\":\"allow\"", "\"effect\":\"Allow\""),
            ("\"identity\":\"proof\"", "\"identity\":\"sts\""),
            ("\"code\":\"POLICY_DENY\"", "\"code\":\"POLICY_DENIED\""),
            ("\"status\":403", "\"status\":\"403\""),
        ] {
            assert!(line.contains(word), "{line}");
            assert!(DecisionLog::from_json(&line.replace(word, other)).is_err(), "{other}");
        }
    }

    #[test]
    fn a_line_from_before_a_field_existed_reads_it_as_null() {
        let mut older: serde_json::Value = serde_json::from_str(&full(None).to_json()).unwrap();
        for key in ["device_id", "code", "identity"] {
            older.as_object_mut().unwrap().remove(key);
        }
        let read = DecisionLog::from_json(&older.to_string()).unwrap();
        assert_eq!((read.device_id, read.code, read.identity), (None, None, None));
        let mut without_effect = older.clone();
        without_effect.as_object_mut().unwrap().remove("effect");
        assert!(DecisionLog::from_json(&without_effect.to_string()).is_err(), "effect is always written");
    }

    #[test]
    fn the_log_follows_the_policys_decision_once_it_decided() {
        let policy = crate::policy::parse(
            "version: \"1\"\nrules:\n  - {name: dev, effect: allow, reason: dev access, conditions: {profiles: [dev]}}\n",
        )
        .unwrap();
        let mut log = DecisionLog::started(Timestamp::UNIX_EPOCH);
        log.refused("not yet".into());
        log.decided(7, Decision::Allow(&policy.rules[0]));
        log.refused("sts:AssumeRole failed".into());
        log.finish(&Response::error(ErrorCode::CredentialError));
        assert_eq!(
            (log.policy_version, log.effect, log.rule.as_deref(), log.reason.as_deref(), log.detail.as_deref()),
            (Some(7), "allow", Some("dev"), Some("dev access"), Some("sts:AssumeRole failed")),
            "the policy allowed; STS failed after it"
        );
    }
}
