//! The caller proof through the handler (CONTRACT.md §12), on the IAM-user fixture, with STS's
//! GetCallerIdentity replaced by a recording fake (the real STS signature check is proven against
//! the emulator, `tests/emulator/proof.rs`): a forged event gets nothing in any shape the Lambda
//! accepts, and a good proof makes the verified caller the caller.

mod common;

use common::{Harness, caller_identity_answer, carrier, proof_headers};
use jiff::Timestamp;
use sentinel_tvm_lambda::proof::{self, AUDIENCE_HEADER, NONCE_HEADER};
use sentinel_tvm_lambda::service::{Handled, ProofAnswer};
use serde_json::{Value, json};

const POLICY: &str = "version: \"1\"\nrules:\n  - {name: dev, effect: allow, conditions: {profiles: [main-dev], accounts: [\"111122223333\"]}}\n";
const ALICE: &str = "arn:aws:iam::111122223333:user/engineering/alice";
const ALICE_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const MALLORY: &str = "arn:aws:iam::111122223333:user/mallory";
const NOW: &str = "2026-01-25T14:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn good_proof() -> String {
    carrier(&proof_headers(ALICE_KEY, "a1b2c3d4e5", "20260125T140000Z", &"a".repeat(64)))
}

/// The IAM-user fixture (Alice, through API Gateway) with `proof` in its headers, if any.
fn event(proof: Option<&str>) -> Value {
    let path = format!("{}/tests/fixtures/apigw-v2-iam-user.json", env!("CARGO_MANIFEST_DIR"));
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["rawQueryString"] = json!("profile=main-dev");
    if let Some(proof) = proof {
        event["headers"][proof::PROOF_HEADER] = json!(proof);
    }
    event
}

/// A hand-written event as anyone with `lambda:InvokeFunction` can send it.
fn forged(shape: &str, proof: Option<&str>) -> Value {
    let mut event = event(proof);
    match shape {
        "api gateway, claiming alice" => {}
        "function url, claiming alice" => {
            event["version"] = json!("2.0");
            event["requestContext"]["domainName"] = json!("abcdefgh.lambda-url.eu-west-2.on.aws");
        }
        "post, claiming alice" => event["requestContext"]["http"]["method"] = json!("POST"),
        "discovery, claiming alice" => event["rawPath"] = json!("/profiles"),
        "no authorizer at all" => {
            event["requestContext"].as_object_mut().unwrap().remove("authorizer");
        }
        other => panic!("no shape {other}"),
    }
    event
}

const SHAPES: [&str; 5] = [
    "api gateway, claiming alice",
    "function url, claiming alice",
    "post, claiming alice",
    "discovery, claiming alice",
    "no authorizer at all",
];

fn code(handled: &Handled) -> (u16, String) {
    let body: Value = serde_json::from_str(&handled.response.body).unwrap();
    (handled.response.status, body["Code"].as_str().unwrap_or("").to_string())
}

fn harness_answering(answer: Option<ProofAnswer>) -> Harness {
    let harness = Harness::with_proofs(&[], Ok(POLICY));
    *harness.proof_answer.lock().unwrap() = answer;
    harness
}

#[tokio::test]
async fn without_a_proof_no_event_shape_gets_anything_and_sts_is_never_asked() {
    let harness = harness_answering(Some(caller_identity_answer(ALICE, "111122223333")));
    for shape in SHAPES {
        let handled = harness.call(&forged(shape, None), now()).await;
        assert_eq!(code(&handled), (401, "PROOF_REQUIRED".into()), "{shape}");
        assert_eq!(handled.log.principal_arn, None, "{shape}: nothing verified, nothing named");
    }
    let handled = harness.call(&forged("api gateway, claiming alice", None), now()).await;
    assert_eq!(handled.log.claimed_principal_arn.as_deref(), Some(ALICE), "the claim is kept, as a claim");
    assert!(harness.proof_requests.lock().unwrap().is_empty());
    assert!(harness.sts_calls().is_empty());
}

#[tokio::test]
async fn a_proof_signed_by_someone_else_does_not_make_them_alice() {
    // Mallory signs her own proof (STS answers Mallory) and writes Alice into the event.
    let harness = harness_answering(Some(caller_identity_answer(MALLORY, "111122223333")));
    for (i, shape) in SHAPES.iter().enumerate().take(4) {
        // A fresh signature per probe, so the replay cache is not what refuses.
        let signature = (i + 1).to_string().repeat(64);
        let proof = carrier(&proof_headers("AKIAMALLORYEXAMPLE", "a1b2c3d4e5", "20260125T140000Z", &signature));
        let handled = harness.call(&forged(shape, Some(&proof)), now()).await;
        assert_eq!(code(&handled), (403, "PROOF_MISMATCH".into()), "{shape}");
        assert_eq!(handled.log.principal_arn.as_deref(), Some(MALLORY), "{shape}: the log names who really asked");
    }
    // With no authorizer context to contradict it, the proof's signer is the caller: Mallory,
    // whom the policy does not grant `dev` (she is in the account, so the rule's account matches;
    // the point is that she is Mallory, not Alice).
    let proof = carrier(&proof_headers("AKIAMALLORYEXAMPLE", "a1b2c3d4e5", "20260125T140000Z", &"c".repeat(64)));
    let handled = harness.call(&forged("no authorizer at all", Some(&proof)), now()).await;
    assert_eq!(handled.log.principal_arn.as_deref(), Some(MALLORY));
    assert_eq!(handled.log.identity, Some("proof"));
    assert!(
        harness.sts_calls().iter().all(|call| call.source_identity.contains("mallory")),
        "{:?}",
        harness.sts_calls()
    );
}

#[tokio::test]
async fn a_good_proof_vends_to_the_verified_caller_and_goes_to_sts_as_signed() {
    let harness = harness_answering(Some(caller_identity_answer(ALICE, "111122223333")));
    let handled = harness.call(&event(Some(&good_proof())), now()).await;
    assert_eq!(handled.response.status, 200, "{}", handled.response.body);
    assert_eq!((handled.log.principal_arn.as_deref(), handled.log.identity), (Some(ALICE), Some("proof")));
    let requests = harness.proof_requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url, "https://sts.eu-west-2.amazonaws.com/");
    assert_eq!(requests[0].body, "Action=GetCallerIdentity&Version=2011-06-15");
    let names: Vec<&str> = requests[0].headers.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["authorization", "content-type", "host", "x-amz-date", AUDIENCE_HEADER, NONCE_HEADER]);
}

#[tokio::test]
async fn the_same_proof_twice_is_a_replay() {
    let harness = harness_answering(Some(caller_identity_answer(ALICE, "111122223333")));
    assert_eq!(harness.call(&event(Some(&good_proof())), now()).await.response.status, 200);
    let again = harness.call(&event(Some(&good_proof())), now()).await;
    assert_eq!(code(&again), (403, "PROOF_REPLAYED".into()));
    assert_eq!(harness.proof_requests.lock().unwrap().len(), 1, "a replay never reaches STS");
}

#[tokio::test]
async fn checks_of_the_tvms_own_refuse_before_any_network_call() {
    let harness = harness_answering(Some(caller_identity_answer(ALICE, "111122223333")));
    for (what, proof, expected) in [
        ("made up", "not-a-proof".to_string(), "PROOF_INVALID"),
        (
            "another environment's API",
            carrier(&proof_headers(ALICE_KEY, "zz9zz9zz9z", "20260125T140000Z", &"d".repeat(64))),
            "PROOF_AUDIENCE",
        ),
        (
            "expired",
            carrier(&proof_headers(ALICE_KEY, "a1b2c3d4e5", "20260125T135400Z", &"e".repeat(64))),
            "PROOF_EXPIRED",
        ),
        (
            "from the future",
            carrier(&proof_headers(ALICE_KEY, "a1b2c3d4e5", "20260125T140200Z", &"f".repeat(64))),
            "PROOF_EXPIRED",
        ),
    ] {
        let handled = harness.call(&event(Some(&proof)), now()).await;
        assert_eq!(code(&handled), (403, expected.into()), "{what}");
    }
    assert!(harness.proof_requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn sts_refusing_is_invalid_and_sts_unreachable_is_unverified() {
    let refusing = harness_answering(Some(ProofAnswer {
        status: 403,
        body: "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>".into(),
    }));
    let handled = refusing.call(&event(Some(&good_proof())), now()).await;
    assert_eq!(code(&handled), (403, "PROOF_INVALID".into()));
    assert!(handled.log.reason.as_deref().unwrap_or_default().contains("SignatureDoesNotMatch"));

    let unreachable = harness_answering(None);
    let handled = unreachable.call(&event(Some(&good_proof())), now()).await;
    assert_eq!(code(&handled), (503, "IDENTITY_UNVERIFIED".into()));
    assert!(unreachable.sts_calls().is_empty());
}

#[tokio::test]
async fn the_organization_is_never_taken_from_the_event_with_proofs() {
    let harness =
        Harness::with_proofs(&[("TVM_ALLOWED_ACCOUNTS", "*"), ("TVM_ALLOWED_ORG_ID", "o-a1b2c3d4e5")], Ok(POLICY));
    *harness.proof_answer.lock().unwrap() = Some(caller_identity_answer(ALICE, "111122223333"));
    let mut event = event(Some(&good_proof()));
    event["requestContext"]["authorizer"]["iam"]["principalOrgId"] = json!("o-a1b2c3d4e5");
    assert_eq!(code(&harness.call(&event, now()).await), (403, "ACCOUNT_NOT_ALLOWED".into()));
}

#[tokio::test]
async fn with_proofs_off_the_same_forged_event_vends_the_negative_control() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let handled = harness.call(&forged("api gateway, claiming alice", None), now()).await;
    assert_eq!(handled.response.status, 200, "proofs off trusts the event: {}", handled.response.body);
    assert_eq!(handled.log.identity, Some("authorizer"));
}
