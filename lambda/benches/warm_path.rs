//! The warm path without network: event JSON → parsed event → identity → policy evaluation over
//! a 50-rule policy (the match is the last rule, so all 50 are evaluated) → response body.
//! STS and SSM are in-memory fakes; the policy is already cached, as on a warm instance.
//!
//! `cargo bench -p sentinel-tvm-lambda --bench warm_path` prints p50/p90/p99 per request.
//! No benchmark framework: exact percentiles over many runs, and nothing extra to build in CI.

use std::time::{Duration, Instant};

use sentinel_tvm_lambda::contract::Credentials;
use sentinel_tvm_lambda::event::Event;
use sentinel_tvm_lambda::service::{AssumeRoleRequest, CredentialIssuer, Invocation, PolicySource, Tvm};
use sentinel_tvm_lambda::settings::Settings;

const EVENT: &str = include_str!("../tests/fixtures/apigw-v2-iam-sso-role-profiles.json");
const ITERATIONS: usize = 20_000;

struct InstantSts;

impl CredentialIssuer for InstantSts {
    async fn assume_role(&self, _: &AssumeRoleRequest) -> Result<Credentials, String> {
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
    async fn fetch(&self, _: &str) -> Result<String, String> {
        Ok(self.0.clone())
    }
}

/// 49 rules that do not match this caller, then the one that allows it.
fn fifty_rule_policy() -> String {
    let mut policy = String::from("version: \"1\"\nrules:\n");
    for i in 0..49 {
        policy.push_str(&format!(
            "  - name: team-{i}\n    effect: allow\n    reason: team {i}\n    conditions:\n      profiles: [team{i}-prod, team{i}-dev]\n      principals: [\"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Team{i}_*/*\"]\n      time:\n        days: [monday, tuesday, wednesday, thursday, friday]\n        hours: {{start: \"08:00\", end: \"19:00\"}}\n        timezone: Europe/London\n"
        ));
    }
    policy.push_str("  - name: ops\n    effect: allow\n    conditions:\n      profiles: [prod]\n      principals: [\"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*\"]\n");
    policy
}

fn main() {
    let event_text = EVENT
        .replace("\"rawPath\": \"/profiles\"", "\"rawPath\": \"/\"")
        .replace("\"rawQueryString\": \"\"", "\"rawQueryString\": \"profile=prod&duration=900\"");
    let settings = Settings::from_lookup(|name| match name {
        "TVM_POLICY_PARAMETER" => Some("/bench/policy".into()),
        "TVM_RATE_LIMIT" => Some("0".into()),
        _ => None,
    });
    let tvm = Tvm::new(settings, InstantSts, FixedPolicy(fifty_rule_policy()));
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let invocation = Invocation {
        function_arn: "arn:aws:lambda:eu-west-2:111122223333:function:bench",
        now: jiff::Timestamp::now(),
    };

    let once = || {
        let event: Event = serde_json::from_str(&event_text).unwrap();
        let handled = runtime.block_on(tvm.handle(&event, invocation));
        assert_eq!(handled.response.status, 200, "{}", handled.response.body);
        std::hint::black_box(serde_json::to_string(&handled.response).unwrap());
    };
    for _ in 0..1_000 {
        once();
    }
    let mut samples: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let start = Instant::now();
            once();
            start.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "warm path (50-rule policy, {ITERATIONS} requests): p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
        at(0.50).as_secs_f64() * 1e6,
        at(0.90).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
}
