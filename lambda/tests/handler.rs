//! The handler end to end on JSON fixtures of real API Gateway v2 and Function URL events, with
//! STS and SSM replaced by recording fakes: every numbered check of CONTRACT.md §3, their order,
//! discovery, caching, rate limiting and the decision log.

mod common;

use std::sync::atomic::Ordering;

use common::{Harness, SECRET};
use jiff::{SignedDuration, Timestamp};
use sentinel_tvm_lambda::policy::pin::sha256_hex;
use sentinel_tvm_lambda::service::Handled;
use serde_json::{Value, json};

const POLICY: &str = r#"
version: "1"
rules:
  - name: ops-prod
    effect: allow
    reason: ops may use prod
    max_server_duration: 30m
    conditions:
      profiles: [main-prod]
      principals: ["arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_*/*"]
  - name: no-sandbox
    effect: deny
    reason: sandbox is closed
    conditions: {profiles: [main-sandbox]}
  - name: account-dev
    effect: allow
    reason: dev for the account
    conditions:
      profiles: [main-dev, main-sandbox, main-member]
      accounts: ["111122223333", "000000000000"]
"#;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists")).expect("fixture is JSON")
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn body(handled: &Handled) -> Value {
    serde_json::from_str(&handled.response.body).expect("the body is JSON")
}

fn code(handled: &Handled) -> (u16, String) {
    (handled.response.status, body(handled)["Code"].as_str().unwrap_or("").to_string())
}

/// The IAM user fixture with another query string.
fn user_event(query: &str) -> Value {
    let mut event = fixture("apigw-v2-iam-user.json");
    event["rawQueryString"] = json!(query);
    event
}

fn hex16(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn base32_16(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[tokio::test]
async fn an_iam_user_gets_container_credentials_for_an_allowed_profile() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let handled = harness.call(&fixture("apigw-v2-iam-user.json"), at("2026-01-25T14:30:00Z")).await;

    assert_eq!(handled.response.status, 200, "{}", handled.response.body);
    assert_eq!(
        body(&handled),
        json!({"AccessKeyId": "ASIAFAKEFAKEFAKE", "SecretAccessKey": SECRET, "Token": "FwoGZXIvYXdzEXAMPLETOKEN", "Expiration": "2026-01-25T15:00:00Z"})
    );
    let calls = harness.sts_calls();
    assert_eq!(calls.len(), 1);
    let request = &calls[0];
    assert_eq!(request.role_arn, "arn:aws:iam::111122223333:role/SentinelProtected-main-dev");
    assert_eq!(request.duration_seconds, 1800);
    let rest = request.session_name.strip_prefix("tvm-alice-").expect("session name tvm-<user>-<disc>-<reqid>");
    let (disc, id) = rest.split_once('-').expect("tvm-<user>-<disc>-<reqid>");
    assert!(base32_16(disc) && hex16(id), "{}", request.session_name);
    assert_eq!(request.source_identity, format!("sentinel.alice.{disc}.{id}"));

    let log = &handled.log;
    assert_eq!(log.request_id.as_deref(), Some(id), "the log joins CloudTrail through the request id");
    assert_eq!((log.effect, log.status, log.code), ("allow", 200, None));
    assert_eq!(log.user.as_deref(), Some("alice"));
    assert_eq!(log.principal_arn.as_deref(), Some("arn:aws:iam::111122223333:user/engineering/alice"));
    assert_eq!(log.principal_id.as_deref(), Some("AIDACKCEVSQ6C2EXAMPLE"));
    assert_eq!(log.account_id.as_deref(), Some("111122223333"));
    assert_eq!(log.policy_version, Some(3), "the pinned version decided");
    assert_eq!(log.rule.as_deref(), Some("account-dev"));
    assert_eq!(log.role_arn.as_deref(), Some(request.role_arn.as_str()));
    assert_eq!(log.source_identity.as_deref(), Some(request.source_identity.as_str()));
    let line = log.to_json();
    assert!(!line.contains(SECRET) && !line.contains("EXAMPLETOKEN") && !line.contains("version:"), "{line}");
}

/// One step of the precedence walk: an event that fails this check and every later one.
struct Step {
    check: &'static str,
    iam: Option<(&'static str, &'static str)>,
    query: &'static str,
    env: &'static [(&'static str, &'static str)],
    sends: usize,
    policy: Result<&'static str, &'static str>,
    sts_fails: bool,
    expected: (u16, &'static str),
}

#[tokio::test]
async fn each_check_answers_in_the_contract_order() {
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const ROLE: &str = "arn:aws:iam::111122223333:role/NotACaller";
    const OUTSIDER: &str = "arn:aws:iam::999999999999:role/x";
    let bad_policy = Err("AccessDeniedException: not authorized to perform ssm:GetParameter");
    let no_limit: &[(&str, &str)] = &[("TVM_RATE_LIMIT", "0")];
    #[rustfmt::skip]
    let steps = [
        Step { check: "1 caller context", iam: None, query: "profile=..%2Fx&duration=7200", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (403, "IAM_AUTH_REQUIRED") },
        Step { check: "2 account", iam: Some(("999999999999", OUTSIDER)), query: "profile=..%2Fx&duration=7200", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (403, "ACCOUNT_NOT_ALLOWED") },
        Step { check: "3 identity", iam: Some(("111122223333", ROLE)), query: "profile=..%2Fx&duration=7200", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (400, "INVALID_IDENTITY") },
        Step { check: "4 rate limit", iam: Some(("111122223333", ALICE)), query: "duration=7200", env: &[("TVM_RATE_LIMIT", "1")], sends: 2, policy: bad_policy, sts_fails: true, expected: (429, "RATE_LIMITED") },
        Step { check: "5 profile missing", iam: Some(("111122223333", ALICE)), query: "duration=7200", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (400, "MISSING_PROFILE") },
        Step { check: "5 profile empty", iam: Some(("111122223333", ALICE)), query: "profile=&duration=7200", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (400, "MISSING_PROFILE") },
        Step { check: "6 profile invalid", iam: Some(("111122223333", ALICE)), query: "profile=..%2Fx&duration=7200", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (400, "INVALID_PROFILE") },
        Step { check: "7 duration", iam: Some(("111122223333", ALICE)), query: "profile=main-admin&duration=7200", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (400, "INVALID_DURATION") },
        Step { check: "8 policy unreadable", iam: Some(("111122223333", ALICE)), query: "profile=main-admin&duration=900", env: no_limit, sends: 1, policy: bad_policy, sts_fails: true, expected: (500, "CONFIG_ERROR") },
        Step { check: "8 policy invalid", iam: Some(("111122223333", ALICE)), query: "profile=main-admin&duration=900", env: no_limit, sends: 1, policy: Ok("version: \"1\"\nrules:\n  - {name: a, effect: permit, conditions: {profiles: [main-dev]}}\n"), sts_fails: true, expected: (500, "CONFIG_ERROR") },
        Step { check: "9 policy deny", iam: Some(("111122223333", ALICE)), query: "profile=main-admin&duration=900", env: no_limit, sends: 1, policy: Ok(POLICY), sts_fails: true, expected: (403, "POLICY_DENY") },
        Step { check: "10 profile role", iam: Some(("111122223333", ALICE)), query: "profile=arn%3Aaws%3Aiam%3A%3A444455556666%3Arole%2FSentinelProtected-main-dev&duration=900", env: no_limit, sends: 1, policy: Ok(POLICY), sts_fails: true, expected: (403, "PROFILE_NOT_ALLOWED") },
        Step { check: "11 sts", iam: Some(("111122223333", ALICE)), query: "profile=main-dev&duration=900", env: no_limit, sends: 1, policy: Ok(POLICY), sts_fails: true, expected: (500, "CREDENTIAL_ERROR") },
        Step { check: "success", iam: Some(("111122223333", ALICE)), query: "profile=main-dev&duration=900", env: no_limit, sends: 1, policy: Ok(POLICY), sts_fails: false, expected: (200, "") },
    ];
    for step in steps {
        let harness = Harness::new(step.env, step.policy, step.sts_fails);
        let mut event = user_event(step.query);
        match step.iam {
            Some((account, arn)) => {
                event["requestContext"]["authorizer"]["iam"]["accountId"] = json!(account);
                event["requestContext"]["authorizer"]["iam"]["userArn"] = json!(arn);
            }
            None => event["requestContext"]["authorizer"] = Value::Null,
        }
        let mut handled = None;
        for _ in 0..step.sends {
            handled = Some(harness.call(&event, at("2026-01-25T14:30:00Z")).await);
        }
        let handled = handled.expect("at least one send");
        assert_eq!(
            code(&handled),
            (step.expected.0, step.expected.1.to_string()),
            "check {}: {}",
            step.check,
            handled.response.body
        );
        assert_eq!(handled.log.status, step.expected.0, "check {}: the log records the status", step.check);
        assert_eq!(handled.response.code.map(|c| c.as_str()).unwrap_or(""), step.expected.1);
        let sts_called = !harness.sts_calls().is_empty();
        assert_eq!(
            sts_called,
            step.check.starts_with("11") || step.check == "success",
            "check {}: STS called only after every check",
            step.check
        );
    }
}

#[tokio::test]
async fn error_messages_are_the_contracts_and_never_echo_input_or_detail() {
    let harness = Harness::new(&[], Ok(POLICY), true);
    let now = at("2026-01-25T14:30:00Z");
    for (query, message) in [
        ("duration=900", "Missing required 'profile' query parameter"),
        ("profile=%3Cscript%3E", "Invalid profile name format"),
        ("profile=main-dev&duration=43200", "Invalid duration parameter"),
        ("profile=main-admin", "Policy denied: no matching rule"),
        ("profile=main-sandbox", "Policy denied: sandbox is closed"),
        ("profile=main-dev", "Failed to vend credentials"),
    ] {
        let handled = harness.call(&user_event(query), now).await;
        assert_eq!(body(&handled)["Message"], message, "{query}");
        assert_eq!(body(&handled).as_object().unwrap().len(), 2, "exactly Code and Message");
        assert!(!handled.response.body.contains("script") && !handled.response.body.contains("AccessDenied"));
    }
    let failed = harness.call(&user_event("profile=main-dev"), now).await;
    assert!(failed.log.detail.as_deref().unwrap().contains("AccessDenied"), "the STS detail goes to the log");
    assert_eq!(failed.log.effect, "allow", "the policy allowed; STS failed after it");
}

#[tokio::test]
async fn every_response_is_json_with_the_contract_content_type() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    for event in [user_event("profile=main-dev"), user_event(""), fixture("apigw-v2-no-authorizer.json")] {
        let handled = harness.call(&event, at("2026-01-25T14:30:00Z")).await;
        let wire = serde_json::to_value(&handled.response).unwrap();
        assert_eq!(wire["headers"]["content-type"], "application/json; charset=utf-8");
        serde_json::from_str::<Value>(wire["body"].as_str().unwrap()).expect("the body is JSON");
    }
}

#[tokio::test]
async fn a_function_url_event_vends_too_and_its_body_is_ignored() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let handled = harness.call(&fixture("function-url-iam.json"), at("2026-01-25T14:30:00Z")).await;
    assert_eq!(handled.response.status, 200, "{}", handled.response.body);
    let calls = harness.sts_calls();
    assert_eq!(
        calls[0].role_arn, "arn:aws:iam::111122223333:role/SentinelProtected-main-dev",
        "the body asked for admin"
    );
    assert_eq!(calls[0].duration_seconds, 900, "no request or rule duration: the default");
}

#[tokio::test]
async fn the_event_the_emulator_sends_vends_in_its_account() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let emulator_function = "arn:aws:lambda:us-east-1:000000000000:function:sentinel-tvm-t1";
    let handled =
        harness.call_as(&fixture("ministack-http-api.json"), at("2026-11-23T11:35:48Z"), emulator_function).await;
    assert_eq!(handled.response.status, 200, "{}", handled.response.body);
    let request = &harness.sts_calls()[0];
    assert_eq!(request.role_arn, "arn:aws:iam::000000000000:role/SentinelProtected-main-dev");
    assert!(request.session_name.starts_with("tvm-s1-"), "{}", request.session_name);
}

#[tokio::test]
async fn headers_never_stand_in_for_the_authorizer() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let handled = harness.call(&fixture("apigw-v2-no-authorizer.json"), at("2026-01-25T14:30:00Z")).await;
    assert_eq!(code(&handled), (403, "IAM_AUTH_REQUIRED".into()));
    assert_eq!(body(&handled)["Message"], "IAM authorization required");
}

#[tokio::test]
async fn discovery_lists_the_profiles_the_policy_could_allow() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let sso = fixture("apigw-v2-iam-sso-role-profiles.json");
    let handled = harness.call(&sso, at("2026-01-25T14:30:00Z")).await;
    assert_eq!(handled.response.status, 200, "{}", handled.response.body);
    let role = |name: &str| format!("arn:aws:iam::111122223333:role/SentinelProtected-{name}");
    assert_eq!(
        body(&handled),
        json!({"profiles": [
            {"name": "main-prod", "role_arn": role("main-prod")},
            {"name": "main-dev", "role_arn": role("main-dev")},
            {"name": "main-member", "role_arn": role("main-member")},
        ]})
    );
    let other_environments = Harness::new(
        &[],
        Ok(
            "version: \"1\"\nrules:\n  - {name: a, effect: allow, conditions: {profiles: [main-dev, other-dev, main]}}\n",
        ),
        false,
    );
    let listed = other_environments.call(&sso, at("2026-01-25T14:30:00Z")).await;
    assert_eq!(body(&listed)["profiles"][0]["name"], "main-dev");
    assert_eq!(body(&listed)["profiles"].as_array().map(Vec::len), Some(1), "only this environment's profiles");

    let mut outsider = sso.clone();
    outsider["requestContext"]["authorizer"]["iam"]["userArn"] = json!("arn:aws:iam::111122223333:user/nobody");
    outsider["requestContext"]["authorizer"]["iam"]["accountId"] = json!("111122223333");
    let strict = Harness::new(
        &[],
        Ok(
            "version: \"1\"\nrules:\n  - {name: a, effect: allow, conditions: {users: [alice], profiles: [main-dev]}}\n",
        ),
        false,
    );
    assert_eq!(strict.call(&outsider, at("2026-01-25T14:30:00Z")).await.response.body, r#"{"profiles":[]}"#);
}

#[tokio::test]
async fn routes_other_than_the_three_are_refused() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let mut post_profiles = fixture("apigw-v2-iam-sso-role-profiles.json");
    post_profiles["requestContext"]["http"]["method"] = json!("POST");
    assert_eq!(
        code(&harness.call(&post_profiles, at("2026-01-25T14:30:00Z")).await),
        (405, "METHOD_NOT_ALLOWED".into())
    );

    let mut elsewhere = user_event("profile=main-dev");
    elsewhere["rawPath"] = json!("/admin");
    assert_eq!(code(&harness.call(&elsewhere, at("2026-01-25T14:30:00Z")).await), (404, "NOT_FOUND".into()));
    assert!(harness.sts_calls().is_empty());

    let mut post_vend = user_event("profile=main-dev");
    post_vend["requestContext"]["http"]["method"] = json!("POST");
    post_vend["rawPath"] = json!("/");
    assert_eq!(harness.call(&post_vend, at("2026-01-25T14:30:00Z")).await.response.status, 200, "POST / vends too");
}

#[tokio::test]
async fn durations_follow_request_rule_and_default() {
    let sso = |query: &str| {
        let mut event = fixture("apigw-v2-iam-sso-role-profiles.json");
        event["rawPath"] = json!("/");
        event["rawQueryString"] = json!(query);
        event
    };
    let harness = Harness::new(&[("TVM_DEFAULT_DURATION_SECONDS", "1200")], Ok(POLICY), false);
    let now = at("2026-01-25T14:30:00Z");
    for (event, expected) in [
        (sso("profile=main-prod&duration=3600"), 1800), // capped by the rule's 30m
        (sso("profile=main-prod"), 1800),               // the rule's maximum
        (sso("profile=main-prod&duration=900"), 900),
        (user_event("profile=main-dev"), 1200), // the environment's default
        (user_event("profile=main-dev&duration=3600"), 3600),
    ] {
        let handled = harness.call(&event, now).await;
        assert_eq!(handled.response.status, 200, "{}", handled.response.body);
        assert_eq!(harness.sts_calls().last().unwrap().duration_seconds, expected, "{}", event["rawQueryString"]);
        assert_eq!(handled.log.duration_seconds, Some(expected));
    }
}

#[tokio::test]
async fn the_pinned_policy_is_read_once_and_errors_are_not_kept() {
    let pinned = format!("TVM_POLICY_SHA256={}", sha256_hex(POLICY.as_bytes()));
    let (variable, digest) = pinned.split_once('=').unwrap();
    let harness = Harness::new(&[("TVM_RATE_LIMIT", "0"), (variable, digest)], Err("ThrottlingException"), false);
    let event = user_event("profile=main-dev");
    let start = at("2026-01-25T14:30:00Z");
    assert_eq!(harness.call(&event, start).await.response.status, 500);
    *harness.policy.lock().unwrap() = Ok(POLICY.into());
    assert_eq!(harness.call(&event, start).await.response.status, 200, "the error was not kept");
    assert_eq!(harness.fetches.load(Ordering::SeqCst), 2);

    // A version never changes, so an instance never reads it again, however long it lives.
    let next_day = start + SignedDuration::from_hours(24);
    assert_eq!(harness.call(&event, next_day).await.response.status, 200);
    assert_eq!(harness.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_value_without_the_pinned_digest_is_refused_and_the_log_says_why() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let rewrite =
        "version: \"1\"\nrules:\n  - {name: open, effect: allow, conditions: {accounts: [\"111122223333\"]}}\n";
    *harness.policy.lock().unwrap() = Ok(rewrite.into());
    let handled = harness.call(&user_event("profile=main-dev"), at("2026-01-25T14:30:00Z")).await;
    assert_eq!(code(&handled), (500, "CONFIG_ERROR".into()));
    let reason = handled.log.reason.clone().unwrap();
    assert!(reason.contains("version 3 of /sentinel-tvm/main/policy") && reason.contains("not the pinned"), "{reason}");
    assert!(!handled.log.to_json().contains("open"), "the log never carries the policy text");
    assert!(harness.sts_calls().is_empty());
}

#[tokio::test]
async fn a_pinned_version_ssm_no_longer_has_fails_closed() {
    let harness = Harness::new(&[], Err("ParameterVersionNotFound: the pinned version is gone"), false);
    let handled = harness.call(&user_event("profile=main-dev"), at("2026-01-25T14:30:00Z")).await;
    assert_eq!(code(&handled), (500, "CONFIG_ERROR".into()));
    let reason = handled.log.reason.unwrap();
    assert!(reason.contains("/sentinel-tvm/main/policy:3") && reason.contains("gone"), "{reason}");
    assert!(harness.sts_calls().is_empty());
}

#[tokio::test]
async fn a_profile_outside_the_environment_is_refused_without_asking_sts() {
    let allow_all =
        "version: \"1\"\nrules:\n  - {name: all, effect: allow, conditions: {accounts: [\"111122223333\"]}}\n";
    let harness = Harness::with_panicking_sts(&[("TVM_RATE_LIMIT", "0")], Ok(allow_all));
    let arn = |name: &str| format!("arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2F{name}");
    for query in [
        "profile=other-x".to_string(),
        "profile=main".to_string(),
        "profile=mainx-dev".to_string(),
        format!("profile={}", arn("SentinelProtected-other-x")),
        format!("profile={}", arn("SentinelProtected-main2-dev")),
        format!("profile={}", arn("Admin")),
    ] {
        let handled = harness.call(&user_event(&query), at("2026-01-25T14:30:00Z")).await;
        assert_eq!(code(&handled), (403, "PROFILE_NOT_ALLOWED".into()), "{query}");
    }
}

#[tokio::test]
async fn an_invalid_policy_fails_closed_with_its_problem_in_the_log() {
    let harness = Harness::new(
        &[],
        Ok("version: \"1\"\nrules:\n  - name: a\n    effect: permit\n    conditions: {profiles: [main-dev]}\n"),
        false,
    );
    let handled = harness.call(&user_event("profile=main-dev"), at("2026-01-25T14:30:00Z")).await;
    assert_eq!(code(&handled), (500, "CONFIG_ERROR".into()));
    let reason = handled.log.reason.unwrap();
    assert!(reason.contains("line 4") && reason.contains("effect"), "{reason}");
    assert!(harness.sts_calls().is_empty());
}

#[tokio::test]
async fn a_malformed_environment_answers_every_request_with_config_error() {
    let harness = Harness::new(&[("TVM_RATE_LIMIT", "lots")], Ok(POLICY), false);
    for event in [
        user_event("profile=main-dev"),
        fixture("apigw-v2-no-authorizer.json"),
        fixture("apigw-v2-iam-sso-role-profiles.json"),
    ] {
        let handled = harness.call(&event, at("2026-01-25T14:30:00Z")).await;
        assert_eq!(code(&handled), (500, "CONFIG_ERROR".into()));
        assert!(handled.log.reason.as_deref().unwrap().contains("TVM_RATE_LIMIT"));
    }
    assert!(harness.sts_calls().is_empty());
}

#[tokio::test]
async fn an_unreadable_function_arn_fails_closed() {
    let harness = Harness::new(&[], Ok(POLICY), false);
    let handled = harness.call_as(&user_event("profile=main-dev"), at("2026-01-25T14:30:00Z"), "not-an-arn").await;
    assert_eq!(code(&handled), (500, "CONFIG_ERROR".into()));
}

#[tokio::test]
async fn the_rate_limit_is_per_caller_with_retry_after() {
    let harness = Harness::new(&[("TVM_RATE_LIMIT", "2"), ("TVM_RATE_WINDOW_SECONDS", "60")], Ok(POLICY), false);
    let alice = user_event("profile=main-dev");
    let start = at("2026-01-25T14:30:00Z");
    assert_eq!(harness.call(&alice, start).await.response.status, 200);
    assert_eq!(harness.call(&alice, start + SignedDuration::from_secs(1)).await.response.status, 200);
    let limited = harness.call(&alice, start + SignedDuration::from_secs(20)).await;
    assert_eq!(code(&limited), (429, "RATE_LIMITED".into()));
    assert_eq!(serde_json::to_value(&limited.response).unwrap()["headers"]["retry-after"], "40");

    let bob = fixture("apigw-v2-iam-sso-role-profiles.json");
    assert_eq!(harness.call(&bob, start + SignedDuration::from_secs(20)).await.response.status, 200, "another caller");
    assert_eq!(harness.call(&alice, start + SignedDuration::from_secs(60)).await.response.status, 200, "a new window");
}

/// The emulator's event (an assumed role) as session `session`.
fn session_event(role: &str, session: &str) -> Value {
    let mut event = fixture("ministack-http-api.json");
    let iam = &mut event["requestContext"]["authorizer"]["iam"];
    iam["userArn"] = json!(format!("arn:aws:sts::000000000000:assumed-role/{role}/{session}"));
    iam["userId"] = json!(format!("AROACCFF44FEBDDF408F8:{session}"));
    event
}

#[tokio::test]
async fn rotating_session_names_of_one_role_share_its_window() {
    let harness = Harness::new(&[("TVM_RATE_LIMIT", "3"), ("TVM_RATE_WINDOW_SECONDS", "60")], Ok(POLICY), false);
    let start = at("2026-01-25T14:30:00Z");
    let answers: Vec<u16> = statuses_of(&harness, start, |n| session_event("Deploy", &format!("run-{n}"))).await;
    assert_eq!(answers, [200, 200, 200, 429, 429], "a new session name is not a new caller");

    // Identity Center: one permission set's role, a session per person, set by the identity
    // provider: each person has a window of their own.
    let sso = |n: usize| session_event("AWSReservedSSO_Dev_0123456789abcdef", &format!("person{n}@example.com"));
    let answers = statuses_of(&harness, start, sso).await;
    assert_eq!(answers, [200; 5], "one person cannot use up a permission set's window");
}

async fn statuses_of(harness: &Harness, start: Timestamp, event: impl Fn(usize) -> Value) -> Vec<u16> {
    let mut statuses = Vec::new();
    for n in 0..5 {
        let now = start + SignedDuration::from_secs(n as i64);
        let emulator_function = "arn:aws:lambda:us-east-1:000000000000:function:sentinel-tvm-main";
        statuses.push(harness.call_as(&event(n), now, emulator_function).await.response.status);
    }
    statuses
}

/// `member` vends in the member account; `stray` names an account the TVM does not allow.
const CROSS_ACCOUNT: &str = r#"
version: "1"
rules:
  - name: member
    effect: allow
    role_account: "444455556666"
    conditions: {profiles: [main-member]}
  - name: stray
    effect: allow
    role_account: "999999999999"
    conditions: {profiles: [main-stray]}
  - name: own
    effect: allow
    conditions: {profiles: [main-dev]}
"#;

#[tokio::test]
async fn a_rule_names_the_account_its_role_is_vended_in_and_arns_must_match_it() {
    let harness = Harness::new(&[("TVM_ALLOWED_ACCOUNTS", "111122223333,444455556666")], Ok(CROSS_ACCOUNT), false);
    let now = at("2026-01-25T14:30:00Z");
    let arn = |account: &str, name: &str| format!("arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2F{name}");
    for (query, expected) in [
        ("profile=main-dev".to_string(), (200, "")),
        (format!("profile={}", arn("111122223333", "SentinelProtected-main-dev")), (200, "")),
        ("profile=main-member".to_string(), (200, "")),
        (format!("profile={}", arn("444455556666", "SentinelProtected-main-member")), (200, "")),
        (format!("profile={}", arn("111122223333", "SentinelProtected-main-member")), (403, "PROFILE_NOT_ALLOWED")),
        (format!("profile={}", arn("444455556666", "SentinelProtected-main-dev")), (403, "PROFILE_NOT_ALLOWED")),
        ("profile=main-stray".to_string(), (403, "PROFILE_NOT_ALLOWED")),
        (format!("profile={}", arn("111122223333", "OrganizationAccountAccessRole")), (403, "POLICY_DENY")),
    ] {
        let handled = harness.call(&user_event(&query), now).await;
        assert_eq!(code(&handled), (expected.0, expected.1.to_string()), "{query}: {}", handled.response.body);
    }
    let roles: Vec<String> = harness.sts_calls().into_iter().map(|call| call.role_arn).collect();
    assert_eq!(
        roles,
        [
            "arn:aws:iam::111122223333:role/SentinelProtected-main-dev",
            "arn:aws:iam::111122223333:role/SentinelProtected-main-dev",
            "arn:aws:iam::444455556666:role/SentinelProtected-main-member",
            "arn:aws:iam::444455556666:role/SentinelProtected-main-member",
        ]
    );

    let listed = body(&harness.call(&fixture("apigw-v2-iam-sso-role-profiles.json"), now).await);
    let arns: Vec<&str> =
        listed["profiles"].as_array().unwrap().iter().map(|p| p["role_arn"].as_str().unwrap()).collect();
    assert_eq!(
        arns,
        [
            "arn:aws:iam::444455556666:role/SentinelProtected-main-member",
            "arn:aws:iam::111122223333:role/SentinelProtected-main-dev"
        ],
        "discovery lists each profile in its rule's account and leaves out accounts the TVM may not vend in"
    );
}
