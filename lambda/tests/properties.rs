//! Properties over arbitrary input (proptest): nothing a caller or a policy author can send makes
//! the TVM panic, every event gets a JSON answer with a status of CONTRACT.md §3, what validation
//! accepts really has the shape it promises, and `explain` tells of the decision `decide` makes.

mod common;

use common::Harness;
use proptest::prelude::*;
use sentinel_tvm_lambda::decide::{self, DecisionSettings, OwnFunction, VendRequest, decide};
use sentinel_tvm_lambda::event::{Event, query_param};
use sentinel_tvm_lambda::identity::{AllowedAccounts, username};
use sentinel_tvm_lambda::policy::{self, Principal, explain};
use sentinel_tvm_lambda::profile::ProfileRequest;
use sentinel_tvm_lambda::session::{Discriminator, RequestId, session_name, source_identity};
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/apigw-v2-iam-user.json");
const POLICY: &str = "version: \"1\"\nrules:\n  - name: ops\n    effect: allow\n    reason: ops\n    max_server_duration: 30m\n    conditions:\n      profiles: [main-prod, main-dev]\n      principals: [\"arn:aws:iam::111122223333:user/*\"]\n      time: {days: [monday, friday], hours: {start: \"22:00\", end: \"06:00\"}, timezone: Europe/London}\n  - {name: deny, effect: deny, conditions: {users: [mallory]}}\n";

/// Strings that look like what arrives in events: ARNs, paths, queries, and noise.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        "arn:aws[a-z-]{0,6}:(iam|sts)::[0-9]{10,13}:(root|user/[a-z/]{0,20}|assumed-role/[A-Za-z_]{1,10}/[a-z.@]{0,20}|federated-user/[a-z]{0,8})",
        "/[a-z/]{0,12}",
        "(profile|duration|device_id)=[%+a-zA-Z0-9./:-]{0,40}(&[a-z_]{1,10}=[^&]{0,20}){0,3}",
    ]
}

/// JSON values of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from)
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(text(), inner, 0..4).prop_map(|m| json!(m))
        ]
    })
}

/// The fixture with one field (at a path) replaced by anything.
fn mutated_event() -> impl Strategy<Value = Value> {
    let paths = prop::sample::select(vec![
        vec!["rawPath"],
        vec!["rawQueryString"],
        vec!["requestContext", "http", "method"],
        vec!["requestContext", "authorizer"],
        vec!["requestContext", "authorizer", "iam"],
        vec!["requestContext", "authorizer", "iam", "userArn"],
        vec!["requestContext", "authorizer", "iam", "accountId"],
        vec!["requestContext", "authorizer", "iam", "principalOrgId"],
        vec!["requestContext"],
        vec!["headers"],
    ]);
    (paths, prop_oneof![any_json(), text().prop_map(Value::from)]).prop_map(|(path, value)| {
        let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
        let mut slot = &mut event;
        for key in &path[..path.len() - 1] {
            if !slot[*key].is_object() {
                slot[*key] = json!({});
            }
            slot = &mut slot[*key];
        }
        slot[path[path.len() - 1]] = value;
        event
    })
}

/// The settings of the TVM the fixtures call: environment `main`, in account 111122223333.
fn decision_settings(allowed: &AllowedAccounts) -> DecisionSettings<'_> {
    DecisionSettings {
        environment: "main",
        role_prefix: PREFIX,
        allowed_accounts: allowed,
        default_duration_seconds: 900,
        own: OwnFunction { partition: "aws", account_id: "111122223333" },
    }
}

const PREFIX: &str = "SentinelProtected-";
const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// `[a, b]`, each entry quoted.
fn yaml_list(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|item| format!("\"{item}\"")).collect::<Vec<_>>().join(", "))
}

/// A rule's effect (allow?), its list conditions and its window (days, start and end hour, zone).
type RandomRule = (bool, [Option<Vec<&'static str>>; 4], Option<(Option<Vec<&'static str>>, u8, u8, &'static str)>);

/// A policy of up to six rules whose conditions draw on the values `vend_request` asks with, so
/// that rules hold, fail and shadow each other often.
fn small_policy() -> impl Strategy<Value = String> {
    let list = |items: Vec<&'static str>| prop::option::of(prop::sample::subsequence(items.clone(), 1..=items.len()));
    let zone = prop::sample::select(vec!["UTC", "Europe/London", "Asia/Tokyo"]);
    let rule = (
        any::<bool>(),
        [
            list(vec!["main-dev", "main-prod", "other-dev"]),
            list(vec!["alice", "carol"]),
            list(vec!["arn:aws:iam::111122223333:user/*", "arn:aws:sts::*:assumed-role/Ops/*"]),
            list(vec!["111122223333", "444455556666"]),
        ],
        prop::option::of((list(DAYS.to_vec()), 0u8..24, 0u8..24, zone)),
    );
    prop::collection::vec(rule, 0..6).prop_map(|rules| {
        let rules: Vec<String> = rules.into_iter().enumerate().map(|(n, rule)| rule_yaml(n, rule)).collect();
        match rules.is_empty() {
            true => "version: \"1\"\nrules: []\n".to_string(),
            false => format!("version: \"1\"\nrules:\n{}", rules.concat()),
        }
    })
}

/// One rule, `r<n>`, in YAML's flow style; a rule that drew no condition gets `accounts`.
fn rule_yaml(n: usize, (allow, lists, time): RandomRule) -> String {
    let keys = ["profiles", "users", "principals", "accounts"];
    let mut conditions: Vec<String> = keys
        .into_iter()
        .zip(lists)
        .filter_map(|(key, list)| list.map(|list| format!("{key}: {}", yaml_list(&list))))
        .collect();
    if let Some((days, start, end, zone)) = time {
        let mut window: Vec<String> = days.map(|days| format!("days: [{}]", days.join(", "))).into_iter().collect();
        if start != end {
            // Half past the end hour: windows that are not whole hours, some wrapping midnight.
            window.push(format!("hours: {{start: \"{start:02}:00\", end: \"{end:02}:30\"}}"));
        }
        if !window.is_empty() {
            conditions.push(format!("time: {{{}, timezone: {zone}}}", window.join(", ")));
        }
    }
    if conditions.is_empty() {
        conditions.push("accounts: [\"111122223333\"]".into());
    }
    let effect = if allow { "allow" } else { "deny" };
    format!("  - {{name: r{n}, effect: {effect}, conditions: {{{}}}}}\n", conditions.join(", "))
}

/// A caller, a profile and a duration as a request brings them: mostly valid, some not.
fn vend_request() -> impl Strategy<Value = (&'static str, Option<&'static str>, Option<&'static str>)> {
    let callers = vec![
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::444455556666:user/alice",
        "arn:aws:sts::111122223333:assumed-role/Ops/carol",
        "arn:aws:sts::444455556666:assumed-role/Ops/carol",
        "arn:aws:iam::999999999999:user/eve",
    ];
    let profiles = vec![
        None,
        Some(""),
        Some("../x"),
        Some("main-dev"),
        Some("main-prod"),
        Some("other-dev"),
        Some("arn:aws:iam::111122223333:role/SentinelProtected-main-dev"),
        Some("arn:aws:iam::444455556666:role/SentinelProtected-main-prod"),
    ];
    let durations = vec![None, Some("900"), Some("3600"), Some("7200")];
    (prop::sample::select(callers), prop::sample::select(profiles), prop::sample::select(durations))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

const STATUSES: [u16; 9] = [200, 400, 401, 403, 404, 405, 429, 500, 503];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_event_gets_a_json_answer_with_a_contract_status(event in prop_oneof![mutated_event(), any_json()]) {
        let Ok(parsed) = serde_json::from_value::<Event>(event) else { return Ok(()) };
        let harness = Harness::new(&[("TVM_RATE_LIMIT", "0")], Ok(POLICY), false);
        let handled = runtime().block_on(harness.tvm.handle(&parsed, sentinel_tvm_lambda::service::Invocation {
            function_arn: common::FUNCTION_ARN,
            now: "2026-01-26T23:00:00Z".parse().unwrap(),
            deadline: "2026-01-26T23:00:08Z".parse().unwrap(),
        }));
        prop_assert!(STATUSES.contains(&handled.response.status), "status {}", handled.response.status);
        let body: Value = serde_json::from_str(&handled.response.body).expect("every body is JSON");
        prop_assert!(handled.response.status == 200 || body["Code"].is_string());
        prop_assert!(!handled.log.to_json().contains(common::SECRET));
    }

    #[test]
    fn no_proof_header_makes_the_tvm_panic_or_vend(
        headers in prop::collection::btree_map("[a-zA-Z-]{1,24}", text(), 0..8),
        raw in prop_oneof![text(), ".{0,200}"],
        encode in any::<bool>(),
    ) {
        let carrier = if encode {
            sentinel_tvm_lambda::proof::base64url_encode(json!(headers).to_string().as_bytes())
        } else {
            raw
        };
        let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
        event["headers"]["x-sentinel-tvm-proof"] = json!(carrier);
        let harness = Harness::with_proofs(&[("TVM_RATE_LIMIT", "0")], Ok(POLICY));
        let parsed: Event = serde_json::from_value(event).unwrap();
        let handled = runtime().block_on(harness.tvm.handle(&parsed, sentinel_tvm_lambda::service::Invocation {
            function_arn: common::FUNCTION_ARN,
            now: "2026-01-26T23:00:00Z".parse().unwrap(),
            deadline: "2026-01-26T23:00:08Z".parse().unwrap(),
        }));
        // The fake STS answers nothing: no proof can be verified, so none may vend.
        prop_assert!(matches!(handled.response.status, 403 | 503), "status {}", handled.response.status);
        prop_assert!(harness.sts_calls().is_empty());
    }

    #[test]
    fn any_bytes_parse_as_an_event_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<Event>(&bytes);
    }

    #[test]
    fn any_text_is_a_policy_or_a_list_of_problems(text in ".{0,400}") {
        if let Err(error) = policy::parse(&text) {
            prop_assert!(!error.problems.is_empty());
        }
    }

    #[test]
    fn a_mutated_policy_is_valid_or_refused_with_problems_that_name_lines(
        at in 0usize..POLICY.len(), cut in 0usize..20, insert in "[a-z :\\[\\]{}\n\"-]{0,12}"
    ) {
        let at = POLICY.floor_char_boundary(at);
        let end = POLICY.floor_char_boundary((at + cut).min(POLICY.len()));
        let text = format!("{}{insert}{}", &POLICY[..at], &POLICY[end..]);
        match policy::parse(&text) {
            Ok(parsed) => {
                let allowed = AllowedAccounts::Own;
                let at = "2026-01-26T23:00:00Z".parse().unwrap();
                for profile in ["prod", "dev", "x"] {
                    let principal = Principal { user: "alice", arn: "arn:aws:iam::111122223333:user/alice", account_id: "111122223333" };
                    let request = VendRequest { principal, profile: Some(profile), duration: None };
                    let _ = decide(&decision_settings(&allowed), &parsed, &request, at);
                    let _ = explain(&parsed, &principal, profile, at);
                    let _ = parsed.discoverable_profiles(&principal);
                }
            }
            Err(error) => prop_assert!(error.problems.iter().all(|p| !p.message.is_empty())),
        }
    }

    #[test]
    fn usernames_are_always_1_to_20_ascii_alphanumerics(arn in text()) {
        if let Some(user) = username(&arn) {
            prop_assert!((1..=20).contains(&user.len()) && user.bytes().all(|b| b.is_ascii_alphanumeric()), "{user}");
        }
    }

    #[test]
    fn session_names_fit_sts_for_any_caller(
        arn in text(),
        unique_id in "[A-Z0-9]{0,32}(:[ -~]{0,80})?",
        account in "[0-9]{12}",
        bytes in any::<[u8; 8]>(),
    ) {
        if let Some(user) = username(&arn) {
            let (disc, id) = (Discriminator::of(&account, &unique_id), RequestId::from_bytes(bytes));
            let sts_allows = |text: &str| {
                (2..=64).contains(&text.len())
                    && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
            };
            let identity = source_identity(&user, &disc, &id);
            prop_assert!(sts_allows(&identity) && identity.starts_with("sentinel."), "{}", identity);
            prop_assert_eq!(identity.split('.').count(), 4, "{}", identity);
            let session = session_name(&user, &disc, &id);
            prop_assert!(sts_allows(&session), "{}", session);
        }
    }

    #[test]
    fn every_real_caller_arn_is_in_the_patterns_grammar(
        arn in "arn:(aws|aws-cn|aws-us-gov):(iam::[0-9]{12}:(root|user(/[a-z0-9+=,.@_-]{1,6}){1,4})|sts::[0-9]{12}:(assumed-role/[A-Za-z0-9+=,.@_-]{1,12}/[A-Za-z0-9+=,.@_-]{2,20}|federated-user/[A-Za-z0-9+=,.@_-]{2,12}))"
    ) {
        // A caller's own ARN, as a pattern, is always accepted: the automaton spells the
        // grammar POLICY.md writes down, and the username table (CONTRACT.md §2) agrees.
        prop_assert_eq!(policy::callers::pattern_problem(&arn), None, "{}", arn);
        let wildcarded = format!("{}*", &arn[..arn.len() - 1]);
        prop_assert_eq!(policy::callers::pattern_problem(&wildcarded), None, "{}", wildcarded);
        let user = username(&arn);
        prop_assert!(user.is_some() || arn.rsplit('/').next().is_some_and(|name| !name.bytes().any(|b| b.is_ascii_alphanumeric())), "{}", arn);
    }

    #[test]
    fn an_accepted_profile_never_escapes_its_role_name(raw in prop_oneof![text(), "[ -~]{0,70}"]) {
        if let Some(request) = ProfileRequest::parse(&raw, "SentinelProtected-") {
            for forbidden in ["..", "//", "\\", "\0", "*", " ", ","] {
                prop_assert!(!raw.contains(forbidden), "{raw:?}");
            }
            if let ProfileRequest::Name(name) = &request {
                prop_assert!(!name.contains('/') && name.len() <= 46);
            }
        }
    }

    #[test]
    fn explain_tells_of_the_decision_decide_makes(
        text in small_policy(),
        (arn, profile, duration) in vend_request(),
        // Any minute of 2026, so windows, days and daylight saving all come round.
        at in 1_767_225_600i64..1_798_761_600,
    ) {
        let policy = policy::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let user = username(arn).unwrap();
        let principal = Principal { user: &user, arn, account_id: &arn[13..25] };
        let at = jiff::Timestamp::from_second(at).unwrap();
        let allowed = AllowedAccounts::List(vec!["444455556666".into()]);
        let (settings, request) = (decision_settings(&allowed), VendRequest { principal, profile, duration });
        let outcome = decide(&settings, &policy, &request, at);
        let explanation = decide::explain(&settings, &policy, &request, at);
        let (decision, explanation) = match (outcome.decision, explanation) {
            (Some(decision), Ok(explanation)) => (decision, explanation),
            (None, Err(refusal)) => {
                // Checks 5–7 refused before the policy was asked: both say so.
                prop_assert!(refusal.check() <= 7 && outcome.answer == Err(refusal), "{:?}", outcome);
                return Ok(());
            }
            (decision, explanation) => return Err(TestCaseError::fail(format!("{decision:?} but {explanation:?}"))),
        };
        prop_assert_eq!(explanation.decision, decision, "{}", text);
        let first_held = explanation.rules.iter().find(|rule| rule.matched()).map(|rule| &rule.rule.name);
        prop_assert_eq!(first_held, decision.rule().map(|rule| &rule.name), "{}\n{}", text, explanation);
    }

    #[test]
    fn query_parsing_never_panics(raw in ".{0,120}", name in "[a-z_%]{0,10}") {
        let _ = query_param(&raw, &name);
    }
}
