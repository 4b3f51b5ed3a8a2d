//! The decision log's lines (CONTRACT.md §8) as the handler writes them, byte for byte: one
//! golden line per kind of answer, taken from the handler before the record learnt to parse
//! itself back, so any change to a field, its name, its order or its null is seen here. Each
//! line reads back as the record that wrote it, and the record's keys are §8's table.

mod common;

use common::{Harness, caller_identity_answer, carrier, proof_headers};
use jiff::Timestamp;
use sentinel_tvm_lambda::decision_log::DecisionLog;
use sentinel_tvm_lambda::service::Handled;
use serde_json::{Value, json};

const POLICY: &str = r#"
version: "1"
rules:
  - name: no-sandbox
    effect: deny
    reason: sandbox is closed
    conditions: {profiles: [main-sandbox]}
  - name: account-dev
    effect: allow
    reason: dev for the account
    max_server_duration: 30m
    conditions:
      profiles: [main-dev, main-sandbox, other-dev]
      accounts: ["111122223333"]
  - name: stray
    effect: allow
    role_account: "999999999999"
    conditions: {profiles: [main-stray]}
"#;

const DEVICE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn at() -> Timestamp {
    "2026-01-25T14:30:00.123456Z".parse().unwrap()
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists")).expect("fixture is JSON")
}

/// The IAM-user fixture (Alice, proofs off) asking with `query`.
fn alice(query: &str) -> Value {
    let mut event = fixture("apigw-v2-iam-user.json");
    event["rawQueryString"] = json!(query);
    event
}

/// The log line, its random request id (which the SourceIdentity repeats) written `<reqid>`.
fn line(handled: &Handled) -> String {
    let line = handled.log.to_json();
    match &handled.log.request_id {
        Some(id) => line.replace(id.as_str(), "<reqid>"),
        None => line,
    }
}

/// Each kind of answer, as the handler answered it.
async fn answers() -> Vec<(&'static str, Handled)> {
    let open = Harness::new(&[("TVM_RATE_LIMIT", "0")], Ok(POLICY), false);
    let failing_sts = Harness::new(&[], Ok(POLICY), true);
    let unreadable = Harness::new(&[], Err("AccessDeniedException: not authorized"), false);
    let limited = Harness::new(&[("TVM_RATE_LIMIT", "1")], Ok(POLICY), false);
    let broken = Harness::new(&[("TVM_RATE_LIMIT", "lots")], Ok(POLICY), false);
    let proofs = Harness::with_proofs(&[], Ok(POLICY));
    *proofs.proof_answer.lock().unwrap() =
        Some(caller_identity_answer("arn:aws:iam::111122223333:user/engineering/alice", "111122223333"));
    let proof = carrier(&proof_headers("AKIAIOSFODNN7EXAMPLE", "a1b2c3d4e5", "20260125T143000Z", &"a".repeat(64)));
    let mut proven = alice("profile=main-dev");
    proven["headers"]["x-sentinel-tvm-proof"] = json!(proof);
    let mut discovery = alice("");
    discovery["rawPath"] = json!("/profiles");
    let mut nowhere = alice("profile=main-dev");
    nowhere["rawPath"] = json!("/admin");

    let mut found = Vec::new();
    for (name, harness, event) in [
        ("vended", &open, alice(&format!("profile=main-dev&duration=1200&device_id={DEVICE}"))),
        ("vended by proof", &proofs, proven),
        ("denied by a rule", &open, alice("profile=main-sandbox")),
        ("denied, no rule", &open, alice("profile=main-admin")),
        ("outside the environment", &open, alice("profile=other-dev")),
        ("an account the tvm may not vend in", &open, alice("profile=main-stray")),
        (
            "another account's role",
            &open,
            alice("profile=arn%3Aaws%3Aiam%3A%3A444455556666%3Arole%2FSentinelProtected-main-dev"),
        ),
        ("sts failed", &failing_sts, alice("profile=main-dev")),
        ("no profile", &open, alice("duration=900")),
        ("invalid profile", &open, alice("profile=..%2Fadmin")),
        ("invalid duration", &open, alice("profile=main-dev&duration=7200")),
        ("policy unreadable", &unreadable, alice("profile=main-dev")),
        ("discovery", &open, discovery),
        ("not found", &open, nowhere),
        ("no authorizer", &open, fixture("apigw-v2-no-authorizer.json")),
        ("no proof", &proofs, alice("profile=main-dev")),
        ("broken environment", &broken, alice("profile=main-dev")),
    ] {
        found.push((name, harness.call(&event, at()).await));
    }
    limited.call(&alice("profile=main-dev"), at()).await;
    found.push(("rate limited", limited.call(&alice("profile=main-dev"), at()).await));
    found
}

/// Written by the handler at commit 7e03af5, before the record could be parsed back.
#[rustfmt::skip]
const GOLDEN: [(&str, &str); 18] = [
    ("vended", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":3,"profile":"main-dev","role_arn":"arn:aws:iam::111122223333:role/SentinelProtected-main-dev","effect":"allow","rule":"account-dev","reason":"dev for the account","detail":null,"duration_seconds":1200,"source_identity":"sentinel.alice.qbm6ojqaajqsmjp3.<reqid>","status":200,"code":null,"device_id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}"#),
    ("vended by proof", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"proof","claimed_principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","principal_id":"AIDAEXAMPLE","account_id":"111122223333","policy_version":3,"profile":"main-dev","role_arn":"arn:aws:iam::111122223333:role/SentinelProtected-main-dev","effect":"allow","rule":"account-dev","reason":"dev for the account","detail":null,"duration_seconds":1800,"source_identity":"sentinel.alice.766ysenz6gjnhkeo.<reqid>","status":200,"code":null,"device_id":null}"#),
    ("denied by a rule", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":3,"profile":"main-sandbox","role_arn":null,"effect":"deny","rule":"no-sandbox","reason":"sandbox is closed","detail":null,"duration_seconds":null,"source_identity":null,"status":403,"code":"POLICY_DENY","device_id":null}"#),
    ("denied, no rule", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":3,"profile":"main-admin","role_arn":null,"effect":"deny","rule":null,"reason":"no matching rule","detail":null,"duration_seconds":null,"source_identity":null,"status":403,"code":"POLICY_DENY","device_id":null}"#),
    ("outside the environment", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":3,"profile":"other-dev","role_arn":null,"effect":"allow","rule":"account-dev","reason":"dev for the account","detail":"the profile is not one of environment `main`'s","duration_seconds":null,"source_identity":null,"status":403,"code":"PROFILE_NOT_ALLOWED","device_id":null}"#),
    ("an account the tvm may not vend in", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":3,"profile":"main-stray","role_arn":null,"effect":"allow","rule":"stray","reason":"stray","detail":"the rule's role_account is not an account this TVM may vend in","duration_seconds":null,"source_identity":null,"status":403,"code":"PROFILE_NOT_ALLOWED","device_id":null}"#),
    ("another account's role", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":3,"profile":"arn:aws:iam::444455556666:role/SentinelProtected-main-dev","role_arn":null,"effect":"allow","rule":"account-dev","reason":"dev for the account","detail":"the profile does not resolve to a role this TVM vends","duration_seconds":null,"source_identity":null,"status":403,"code":"PROFILE_NOT_ALLOWED","device_id":null}"#),
    ("sts failed", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":3,"profile":"main-dev","role_arn":"arn:aws:iam::111122223333:role/SentinelProtected-main-dev","effect":"allow","rule":"account-dev","reason":"dev for the account","detail":"sts:AssumeRole failed: AccessDenied: User arn:aws:sts::111122223333:assumed-role/exec/x is not authorized","duration_seconds":1800,"source_identity":"sentinel.alice.qbm6ojqaajqsmjp3.<reqid>","status":500,"code":"CREDENTIAL_ERROR","device_id":null}"#),
    ("no profile", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":null,"profile":null,"role_arn":null,"effect":"deny","rule":null,"reason":"no profile parameter","detail":null,"duration_seconds":null,"source_identity":null,"status":400,"code":"MISSING_PROFILE","device_id":null}"#),
    ("invalid profile", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":null,"profile":null,"role_arn":null,"effect":"deny","rule":null,"reason":"profile parameter is not a valid profile name or role ARN","detail":null,"duration_seconds":null,"source_identity":null,"status":400,"code":"INVALID_PROFILE","device_id":null}"#),
    ("invalid duration", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":null,"profile":"main-dev","role_arn":null,"effect":"deny","rule":null,"reason":"duration is not an integer in 900..=3600","detail":null,"duration_seconds":null,"source_identity":null,"status":400,"code":"INVALID_DURATION","device_id":null}"#),
    ("policy unreadable", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":null,"profile":"main-dev","role_arn":null,"effect":"deny","rule":null,"reason":"cannot read the pinned policy /sentinel-tvm/main/policy:3: AccessDeniedException: not authorized","detail":null,"duration_seconds":null,"source_identity":null,"status":500,"code":"CONFIG_ERROR","device_id":null}"#),
    ("discovery", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":null,"profile":null,"role_arn":null,"effect":"allow","rule":null,"reason":"discovery: 1 profiles","detail":null,"duration_seconds":null,"source_identity":null,"status":200,"code":null,"device_id":null}"#),
    ("not found", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":null,"profile":null,"role_arn":null,"effect":"deny","rule":null,"reason":"no such route","detail":null,"duration_seconds":null,"source_identity":null,"status":404,"code":"NOT_FOUND","device_id":null}"#),
    ("no authorizer", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":null,"principal_arn":null,"identity":null,"claimed_principal_arn":null,"principal_id":null,"account_id":null,"policy_version":null,"profile":null,"role_arn":null,"effect":"deny","rule":null,"reason":"no IAM authorizer context in the event","detail":null,"duration_seconds":null,"source_identity":null,"status":403,"code":"IAM_AUTH_REQUIRED","device_id":null}"#),
    ("no proof", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":null,"principal_arn":null,"identity":null,"claimed_principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","principal_id":null,"account_id":null,"policy_version":null,"profile":null,"role_arn":null,"effect":"deny","rule":null,"reason":"no caller proof","detail":null,"duration_seconds":null,"source_identity":null,"status":401,"code":"PROOF_REQUIRED","device_id":null}"#),
    ("broken environment", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":null,"principal_arn":null,"identity":null,"claimed_principal_arn":null,"principal_id":null,"account_id":null,"policy_version":null,"profile":null,"role_arn":null,"effect":"deny","rule":null,"reason":"environment variable TVM_RATE_LIMIT `lots` is not a whole number","detail":null,"duration_seconds":null,"source_identity":null,"status":500,"code":"CONFIG_ERROR","device_id":null}"#),
    ("rate limited", r#"{"timestamp":"2026-01-25T14:30:00.123Z","request_id":"<reqid>","user":"alice","principal_arn":"arn:aws:iam::111122223333:user/engineering/alice","identity":"authorizer","claimed_principal_arn":null,"principal_id":"AIDACKCEVSQ6C2EXAMPLE","account_id":"111122223333","policy_version":null,"profile":null,"role_arn":null,"effect":"deny","rule":null,"reason":"rate limit exceeded","detail":null,"duration_seconds":null,"source_identity":null,"status":429,"code":"RATE_LIMITED","device_id":null}"#),
];

#[tokio::test]
async fn the_handler_writes_the_lines_it_always_wrote() {
    let answers = answers().await;
    let names: Vec<&str> = answers.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, GOLDEN.map(|(name, _)| name));
    for ((name, handled), (_, golden)) in answers.iter().zip(GOLDEN) {
        assert_eq!(line(handled), golden, "{name}");
    }
}

#[tokio::test]
async fn every_line_reads_back_as_the_record_that_wrote_it() {
    for (name, handled) in answers().await {
        let line = handled.log.to_json();
        let read = DecisionLog::from_json(&line).unwrap_or_else(|e| panic!("{name}: {e}\n{line}"));
        assert_eq!(read, handled.log, "{name}");
        assert_eq!(read.to_json(), line, "{name}: written again, byte for byte");
    }
}

/// The keys of CONTRACT.md §8's table, in its order.
fn contract_keys() -> Vec<String> {
    let path = format!("{}/../docs/CONTRACT.md", env!("CARGO_MANIFEST_DIR"));
    let contract = std::fs::read_to_string(path).expect("docs/CONTRACT.md");
    let logs = contract.split("\n## 8. Logs\n").nth(1).expect("CONTRACT.md has §8");
    let table = logs.lines().skip_while(|line| !line.starts_with("| key |")).skip(2);
    table
        .map_while(|row| row.strip_prefix("| `"))
        .map(|row| row.split_once('`').expect("a key in backticks").0.to_string())
        .collect()
}

#[test]
fn the_record_writes_exactly_the_keys_of_the_contract_in_its_order() {
    // Read off the line itself: a JSON map may sort its keys, depending on serde_json's features.
    let line = DecisionLog::default().to_json();
    let written: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
    let keys = contract_keys();
    let at: Vec<Option<usize>> = keys.iter().map(|key| line.find(&format!("\"{key}\":"))).collect();
    assert!(at.iter().all(Option::is_some) && at.is_sorted(), "{keys:?} in this order in {line}");
    assert_eq!(written.len(), keys.len(), "a new field is a new row of CONTRACT.md §8: {line}");
}
