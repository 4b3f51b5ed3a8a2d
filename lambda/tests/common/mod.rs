//! Shared by the handler tests and the property tests: STS and SSM fakes that record what the
//! service asks of them, and a TVM built over them.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use sentinel_tvm_lambda::contract::Credentials;
use sentinel_tvm_lambda::event::Event;
use sentinel_tvm_lambda::policy::pin::sha256_hex;
use sentinel_tvm_lambda::proof::{self, AUDIENCE_HEADER, NONCE_HEADER};
use sentinel_tvm_lambda::service::{
    AssumeRoleRequest, CredentialIssuer, Handled, IdentityVerifier, Invocation, PolicySource, ProofAnswer,
    ProofRequest, Tvm, request_deadline,
};
use sentinel_tvm_lambda::settings::Settings;
use serde_json::{Value, json};

pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main";
/// The policy version every harness pins (`TVM_POLICY_PARAMETER`).
pub const PINNED: &str = "/sentinel-tvm/main/policy:3";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// STS that records every AssumeRole and answers with fixed credentials (or fails, or panics:
/// for tests that prove STS is never asked).
pub struct FakeSts {
    calls: Arc<Mutex<Vec<AssumeRoleRequest>>>,
    fail: bool,
    panics: bool,
}

impl CredentialIssuer for FakeSts {
    async fn assume_role(&self, request: &AssumeRoleRequest, _: jiff::Timestamp) -> Result<Credentials, String> {
        assert!(!self.panics, "STS must not be called, yet was asked for {}", request.role_arn);
        self.calls.lock().unwrap().push(request.clone());
        if self.fail {
            return Err("AccessDenied: User arn:aws:sts::111122223333:assumed-role/exec/x is not authorized".into());
        }
        Ok(Credentials {
            access_key_id: "ASIAFAKEFAKEFAKE".into(),
            secret_access_key: SECRET.into(),
            session_token: "FwoGZXIvYXdzEXAMPLETOKEN".into(),
            expiration: "2026-01-25T15:00:00Z".parse().unwrap(),
        })
    }
}

/// SSM that serves whatever policy text (or error) the test puts in, counting reads.
pub struct FakeSsm {
    text: Arc<Mutex<Result<String, String>>>,
    pub fetches: Arc<AtomicUsize>,
}

impl PolicySource for FakeSsm {
    async fn fetch(&self, reference: &str, _: jiff::Timestamp) -> Result<String, String> {
        assert_eq!(reference, PINNED, "the TVM asks SSM for the pinned version only");
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.text.lock().unwrap().clone()
    }
}

/// STS's GetCallerIdentity for caller proofs: records each request and answers what the test
/// put in (or, with `None`, fails as an unreachable STS would).
pub struct FakeVerifier {
    pub requests: Arc<Mutex<Vec<ProofRequest>>>,
    pub answer: Arc<Mutex<Option<ProofAnswer>>>,
}

impl IdentityVerifier for FakeVerifier {
    async fn send(&self, request: &ProofRequest, _: jiff::Timestamp) -> Result<ProofAnswer, String> {
        self.requests.lock().unwrap().push(request.clone());
        self.answer.lock().unwrap().clone().ok_or_else(|| "connection refused".into())
    }
}

/// STS's answer naming `arn` of `account`.
pub fn caller_identity_answer(arn: &str, account: &str) -> ProofAnswer {
    ProofAnswer {
        status: 200,
        body: format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDAEXAMPLE</UserId><Account>{account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        ),
    }
}

/// A proof's headers as a client signs them (the signature is the fake STS's to judge).
pub fn proof_headers(key: &str, audience: &str, date: &str, signature: &str) -> Value {
    json!({
        "authorization": format!("AWS4-HMAC-SHA256 Credential={key}/{}/eu-west-2/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-sentinel-tvm-audience;x-sentinel-tvm-nonce, Signature={signature}", &date[..8]),
        "content-type": proof::CONTENT_TYPE,
        "host": "sts.eu-west-2.amazonaws.com",
        "x-amz-date": date,
        AUDIENCE_HEADER: audience,
        NONCE_HEADER: "00112233445566778899aabbccddeeff",
    })
}

/// The `x-sentinel-tvm-proof` header carrying `headers`.
pub fn carrier(headers: &Value) -> String {
    proof::base64url_encode(headers.to_string().as_bytes())
}

/// A TVM over the fakes, with the fakes' recordings in reach.
pub struct Harness {
    pub tvm: Tvm<FakeSts, FakeSsm, FakeVerifier>,
    pub proof_requests: Arc<Mutex<Vec<ProofRequest>>>,
    pub proof_answer: Arc<Mutex<Option<ProofAnswer>>>,
    pub sts_calls: Arc<Mutex<Vec<AssumeRoleRequest>>>,
    pub policy: Arc<Mutex<Result<String, String>>>,
    pub fetches: Arc<AtomicUsize>,
}

impl Harness {
    /// A TVM whose callers are taken from the authorizer context (`TVM_IDENTITY_PROOF=off`):
    /// the tests of the checks after the caller is known. `with_proofs` makes one that requires
    /// them.
    pub fn new(env: &[(&str, &str)], policy: Result<&str, &str>, sts_fails: bool) -> Self {
        Self::with_env(&[&[("TVM_IDENTITY_PROOF", "off")], env].concat(), policy, sts_fails)
    }

    /// Like `new`, with an STS that panics if it is called at all.
    pub fn with_panicking_sts(env: &[(&str, &str)], policy: Result<&str, &str>) -> Self {
        let sts = FakeSts { calls: Arc::default(), fail: false, panics: true };
        Self::over(&[&[("TVM_IDENTITY_PROOF", "off")], env].concat(), policy, sts)
    }

    /// A TVM that requires caller proofs for audience `a1b2c3d4e5`, its STS at
    /// `https://sts.eu-west-2.amazonaws.com`.
    pub fn with_proofs(env: &[(&str, &str)], policy: Result<&str, &str>) -> Self {
        let deployed = [("TVM_PROOF_AUDIENCES", "a1b2c3d4e5"), ("AWS_REGION", "eu-west-2")];
        Self::with_env(&[&deployed[..], env].concat(), policy, false)
    }

    /// The pin is `PINNED` and the digest of `policy` (of the empty text when it is an error, so
    /// a test that puts a policy in later pins that one with `TVM_POLICY_SHA256` in `env`).
    fn with_env(env: &[(&str, &str)], policy: Result<&str, &str>, sts_fails: bool) -> Self {
        Self::over(env, policy, FakeSts { calls: Arc::default(), fail: sts_fails, panics: false })
    }

    fn over(env: &[(&str, &str)], policy: Result<&str, &str>, sts: FakeSts) -> Self {
        let sha256 = sha256_hex(policy.unwrap_or_default().as_bytes());
        let mut vars = vec![
            ("TVM_POLICY_PARAMETER".to_string(), PINNED.to_string()),
            ("TVM_POLICY_SHA256".to_string(), sha256),
            ("TVM_ENVIRONMENT".to_string(), "main".to_string()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = Settings::from_lookup(|name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
        let sts_calls = sts.calls.clone();
        let policy = Arc::new(Mutex::new(policy.map(str::to_string).map_err(str::to_string)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let ssm = FakeSsm { text: policy.clone(), fetches: fetches.clone() };
        let proof_requests = Arc::new(Mutex::new(Vec::new()));
        let proof_answer = Arc::new(Mutex::new(None));
        let verifier = FakeVerifier { requests: proof_requests.clone(), answer: proof_answer.clone() };
        Self { tvm: Tvm::new(settings, sts, ssm, verifier), proof_requests, proof_answer, sts_calls, policy, fetches }
    }

    pub async fn call(&self, event: &Value, now: Timestamp) -> Handled {
        self.call_as(event, now, FUNCTION_ARN).await
    }

    pub async fn call_as(&self, event: &Value, now: Timestamp, function_arn: &str) -> Handled {
        let event: Event = serde_json::from_value(event.clone()).expect("the event parses");
        self.tvm.handle(&event, Invocation { function_arn, now, deadline: request_deadline(now, None) }).await
    }

    pub fn sts_calls(&self) -> Vec<AssumeRoleRequest> {
        self.sts_calls.lock().unwrap().clone()
    }
}
