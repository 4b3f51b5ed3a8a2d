//! The warm path without network: event JSON → parsed event → identity → policy evaluation over
//! a 50-rule policy (the match is the last rule, so all 50 are evaluated) → response body.
//! STS and SSM are in-memory fakes; the policy is already cached, as on a warm instance.
//!
//! Twice, side by side: with caller proofs off (the authorizer context is the caller), and with
//! them required, where each request carries a fresh proof that is decoded, checked, entered in
//! the replay cache and "sent" to an in-memory STS (the network round trip to STS is not in here;
//! `scripts/bench-proof` measures it against the emulator).
//!
//! `cargo bench -p sentinel-tvm-lambda --bench warm_path` prints p50/p90/p99 per request.
//! No benchmark framework: exact percentiles over many runs, and nothing extra to build in CI.

use std::time::{Duration, Instant};

use sentinel_tvm_lambda::contract::Credentials;
use sentinel_tvm_lambda::event::Event;
use sentinel_tvm_lambda::policy::pin::sha256_hex;
use sentinel_tvm_lambda::proof::{self, AUDIENCE_HEADER, NONCE_HEADER};
use sentinel_tvm_lambda::service::{
    AssumeRoleRequest, CredentialIssuer, IdentityVerifier, Invocation, PolicySource, ProofAnswer, ProofRequest, Tvm,
    request_deadline,
};
use sentinel_tvm_lambda::settings::Settings;

const EVENT: &str = include_str!("../tests/fixtures/apigw-v2-iam-sso-role-profiles.json");
const ITERATIONS: usize = 20_000;

struct InstantSts;

impl CredentialIssuer for InstantSts {
    async fn assume_role(&self, _: &AssumeRoleRequest, _: jiff::Timestamp) -> Result<Credentials, String> {
        Ok(Credentials {
            access_key_id: "ASIABENCHBENCHBENCH".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: jiff::Timestamp::from_second(1_769_353_200).unwrap(),
        })
    }
}

struct FixedPolicy(String);

impl PolicySource for FixedPolicy {
    async fn fetch(&self, _: &str, _: jiff::Timestamp) -> Result<String, String> {
        Ok(self.0.clone())
    }
}

const CALLER: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/alice.bob@sub.company.com";

/// STS answering every proof for the fixture's caller at once.
struct InstantIdentity;

impl IdentityVerifier for InstantIdentity {
    async fn send(&self, _: &ProofRequest, _: jiff::Timestamp) -> Result<ProofAnswer, String> {
        Ok(ProofAnswer {
            status: 200,
            body: format!(
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>{CALLER}</Arn><UserId>AROAEXAMPLE:alice</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
            ),
        })
    }
}

/// The event with a fresh proof (its own signature, dated `now`), as a client sends it.
fn with_proof(event: &str, i: usize, now: jiff::Timestamp) -> String {
    let date = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let headers = serde_json::json!({
        "authorization": format!("AWS4-HMAC-SHA256 Credential=ASIAIOSFODNN7EXAMPLE/{}/eu-west-2/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-sentinel-tvm-audience;x-sentinel-tvm-nonce, Signature={i:064x}", &date[..8]),
        "content-type": proof::CONTENT_TYPE,
        "host": "sts.eu-west-2.amazonaws.com",
        "x-amz-date": date,
        "x-amz-security-token": "x".repeat(1024),
        AUDIENCE_HEADER: "a1b2c3d4e5",
        NONCE_HEADER: format!("{i:032x}"),
    });
    let carrier = proof::base64url_encode(headers.to_string().as_bytes());
    event.replacen("\"headers\": {", &format!("\"headers\": {{\"x-sentinel-tvm-proof\": \"{carrier}\","), 1)
}

/// 49 rules that do not match this caller, then the one that allows it.
fn fifty_rule_policy() -> String {
    let mut policy = String::from("version: \"1\"\nrules:\n");
    for i in 0..49 {
        policy.push_str(&format!(
            "  - name: team-{i}\n    effect: allow\n    reason: team {i}\n    conditions:\n      profiles: [main-team{i}-prod, main-team{i}-dev]\n      principals: [\"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Team{i}_*/*\"]\n      time:\n        days: [monday, tuesday, wednesday, thursday, friday]\n        hours: {{start: \"08:00\", end: \"19:00\"}}\n        timezone: Europe/London\n"
        ));
    }
    policy.push_str("  - name: ops\n    effect: allow\n    conditions:\n      profiles: [main-prod]\n      principals: [\"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*\"]\n");
    policy
}

fn main() {
    let event_text = EVENT
        .replace("\"rawPath\": \"/profiles\"", "\"rawPath\": \"/\"")
        .replace("\"rawQueryString\": \"\"", "\"rawQueryString\": \"profile=main-prod&duration=900\"");
    let now = jiff::Timestamp::now();
    let off = measure("proofs off", &["TVM_IDENTITY_PROOF=off"], |_| event_text.clone(), now);
    let on = measure("proofs required", &[], |i| with_proof(&event_text, i, now), now);
    println!("the proof adds {:.1} µs at p50", (on - off).as_secs_f64() * 1e6);
}

/// Runs `ITERATIONS` requests (after 1,000 to warm up) with the given extra variables; returns p50.
fn measure(label: &str, extra: &[&str], event: impl Fn(usize) -> String, now: jiff::Timestamp) -> Duration {
    let pinned = format!("TVM_POLICY_SHA256={}", sha256_hex(fifty_rule_policy().as_bytes()));
    let vars: Vec<(String, String)> = [
        "TVM_POLICY_PARAMETER=/bench/policy:1",
        pinned.as_str(),
        "TVM_ENVIRONMENT=main",
        "TVM_RATE_LIMIT=0",
        "TVM_PROOF_AUDIENCES=a1b2c3d4e5",
        "AWS_REGION=eu-west-2",
    ]
    .iter()
    .chain(extra)
    .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
    .collect();
    let settings = Settings::from_lookup(|name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    let tvm = Tvm::new(settings, InstantSts, FixedPolicy(fifty_rule_policy()), InstantIdentity);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let invocation = Invocation {
        function_arn: "arn:aws:lambda:eu-west-2:111122223333:function:bench",
        now,
        deadline: request_deadline(now, None),
    };
    let events: Vec<String> = (0..ITERATIONS + 1_000).map(event).collect();
    let once = |text: &str| {
        let event: Event = serde_json::from_str(text).unwrap();
        let handled = runtime.block_on(tvm.handle(&event, invocation));
        assert_eq!(handled.response.status, 200, "{}", handled.response.body);
        std::hint::black_box(serde_json::to_string(&handled.response).unwrap());
    };
    for text in &events[ITERATIONS..] {
        once(text);
    }
    let mut samples: Vec<Duration> = events[..ITERATIONS]
        .iter()
        .map(|text| {
            let start = Instant::now();
            once(text);
            start.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "warm path, {label} (50-rule policy, {ITERATIONS} requests): p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
        at(0.50).as_secs_f64() * 1e6,
        at(0.90).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
    at(0.50)
}
