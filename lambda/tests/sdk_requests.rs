//! The requests the real SDK adapters send, seen through aws-smithy-mocks clients: what the
//! emulator cannot show (it ignores SourceIdentity), asserted on the AssumeRole input itself.
#![cfg(feature = "runtime")]

use std::sync::{Arc, Mutex};

use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
use aws_sdk_ssm::types::error::ParameterVersionNotFound;
use aws_sdk_sts::operation::assume_role::{AssumeRoleError, AssumeRoleInput, AssumeRoleOutput};
use aws_sdk_sts::primitives::DateTime;
use aws_sdk_sts::types::error::MalformedPolicyDocumentException;
use aws_smithy_mocks::{mock, mock_client};
use jiff::Timestamp;
use sentinel_tvm_lambda::aws::{HttpsIdentityVerifier, SsmPolicySource, StsIssuer};
use sentinel_tvm_lambda::event::Event;
use sentinel_tvm_lambda::policy::pin::sha256_hex;
use sentinel_tvm_lambda::service::{
    IdentityVerifier, Invocation, PolicySource, ProofAnswer, ProofRequest, Tvm, request_deadline,
};
use sentinel_tvm_lambda::settings::Settings;

const POLICY: &str = "version: \"1\"\nrules:\n  - {name: dev, effect: allow, conditions: {profiles: [main-dev]}}\n";

/// The version `settings` pins.
const PINNED: &str = "/sentinel-tvm/main/policy:7";

/// The policy comes from a mocked SSM too, so this is the adapters' whole path.
fn ssm_serving(text: &'static str) -> SsmPolicySource {
    let rule = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|input| input.name() == Some(PINNED) && input.with_decryption() == Some(true))
        .then_output(move || {
            GetParameterOutput::builder()
                .parameter(
                    aws_sdk_ssm::types::Parameter::builder().name("/sentinel-tvm/main/policy").value(text).build(),
                )
                .build()
        });
    SsmPolicySource::from_client(mock_client!(aws_sdk_ssm, [&rule]))
}

fn event(query: &str) -> Event {
    let mut value: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/apigw-v2-iam-sso-role-profiles.json")).unwrap();
    value["rawPath"] = serde_json::json!("/");
    value["rawQueryString"] = serde_json::json!(query);
    serde_json::from_value(value).unwrap()
}

fn settings() -> Result<Settings, sentinel_tvm_lambda::settings::SettingsError> {
    Settings::from_lookup(|name| match name {
        "TVM_POLICY_PARAMETER" => Some(PINNED.to_string()),
        "TVM_POLICY_SHA256" => Some(sha256_hex(POLICY.as_bytes())),
        "TVM_ENVIRONMENT" => Some("main".to_string()),
        // The authorizer context is the caller here: these tests are about the AssumeRole request.
        "TVM_IDENTITY_PROOF" => Some("off".to_string()),
        _ => None,
    })
}

/// Proofs are off in these tests: a verifier that is never asked.
struct NoProofs;

impl IdentityVerifier for NoProofs {
    async fn send(&self, _: &ProofRequest, _: jiff::Timestamp) -> Result<ProofAnswer, String> {
        panic!("proofs are off: STS must not be asked for a caller's identity")
    }
}

fn invocation() -> Invocation<'static> {
    Invocation {
        function_arn: "arn:aws:lambda:eu-west-2:111122223333:function:tvm",
        now: "2026-01-25T14:30:00Z".parse().unwrap(),
        // The adapters measure the deadline on the real clock.
        deadline: soon(),
    }
}

/// What STS accepts as a SourceIdentity: `^[A-Za-z0-9_+=,.@-]{2,64}$`.
fn sts_accepts_source_identity(text: &str) -> bool {
    (2..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

#[tokio::test]
async fn the_assume_role_request_carries_role_session_duration_and_source_identity() {
    let seen: Arc<Mutex<Option<AssumeRoleInput>>> = Arc::default();
    let record = seen.clone();
    let rule = mock!(aws_sdk_sts::Client::assume_role).then_compute_output(move |input| {
        *record.lock().unwrap() = Some(input.clone());
        AssumeRoleOutput::builder()
            .credentials(
                aws_sdk_sts::types::Credentials::builder()
                    .access_key_id("ASIAMOCKMOCKMOCK")
                    .secret_access_key("mock-secret")
                    .session_token("mock-token")
                    .expiration(DateTime::from_secs(1_769_353_200))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let tvm =
        Tvm::new(settings(), StsIssuer::from_client(mock_client!(aws_sdk_sts, [&rule])), ssm_serving(POLICY), NoProofs);

    let handled = tvm.handle(&event("profile=main-dev&duration=2700"), invocation()).await;

    assert_eq!(handled.response.status, 200, "{}", handled.response.body);
    assert!(handled.response.body.contains(r#""Expiration":"2026-01-25T15:00:00Z""#), "{}", handled.response.body);
    let input = seen.lock().unwrap().clone().expect("AssumeRole was called");
    assert_eq!(input.role_arn(), Some("arn:aws:iam::111122223333:role/SentinelProtected-main-dev"));
    assert_eq!(input.duration_seconds(), Some(2700));
    let source_identity = input.source_identity().expect("SourceIdentity is always set");
    assert!(source_identity.starts_with("sentinel.alicebobsubcompanyco."), "{source_identity}");
    assert!(sts_accepts_source_identity(source_identity), "STS would reject {source_identity:?}");
    let [_, _, disc, reqid] = source_identity.split('.').collect::<Vec<_>>()[..] else {
        panic!("sentinel.<user>.<disc>.<reqid>: {source_identity}")
    };
    assert_eq!(input.role_session_name(), Some(format!("tvm-alicebobsubcompanyco-{disc}-{reqid}").as_str()));
    assert_eq!(handled.log.request_id.as_deref(), Some(reqid));
}

#[tokio::test]
async fn an_sts_error_is_a_credential_error_with_the_detail_only_in_the_log() {
    let rule = mock!(aws_sdk_sts::Client::assume_role).then_error(|| {
        AssumeRoleError::MalformedPolicyDocumentException(
            MalformedPolicyDocumentException::builder().message("bad session policy").build(),
        )
    });
    let tvm =
        Tvm::new(settings(), StsIssuer::from_client(mock_client!(aws_sdk_sts, [&rule])), ssm_serving(POLICY), NoProofs);

    let handled = tvm.handle(&event("profile=main-dev"), invocation()).await;

    assert_eq!(handled.response.status, 500);
    assert_eq!(handled.response.body, r#"{"Code":"CREDENTIAL_ERROR","Message":"Failed to vend credentials"}"#);
    assert!(handled.log.detail.as_deref().unwrap().contains("bad session policy"), "{:?}", handled.log.detail);
}

#[tokio::test]
async fn the_policy_is_read_by_its_pinned_version_with_decryption() {
    let text = ssm_serving(POLICY).fetch(PINNED, soon()).await;
    assert_eq!(text.as_deref(), Ok(POLICY));
}

#[tokio::test]
async fn a_pinned_version_ssm_no_longer_has_is_named_in_the_error() {
    let rule = mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| {
        GetParameterError::ParameterVersionNotFound(
            ParameterVersionNotFound::builder().message("Systems Manager could not find version 7").build(),
        )
    });
    let ssm = SsmPolicySource::from_client(mock_client!(aws_sdk_ssm, [&rule]));
    let error = ssm.fetch(PINNED, soon()).await.unwrap_err();
    assert!(error.starts_with("the pinned version is gone (SSM keeps a parameter's last 100 versions)"), "{error}");
}

/// The request's deadline as `main` sets it, from the real clock.
fn soon() -> Timestamp {
    request_deadline(Timestamp::now(), None)
}

#[tokio::test]
async fn a_call_after_the_requests_deadline_is_not_made() {
    let passed = Timestamp::now() - jiff::SignedDuration::from_secs(1);
    let error = ssm_serving(POLICY).fetch(PINNED, passed).await.unwrap_err();
    assert!(error.contains("deadline"), "{error}");
}

#[tokio::test]
async fn a_proof_sent_to_an_sts_that_never_answers_ends_at_the_deadline() {
    // A listener that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let request = ProofRequest {
        url: format!("http://127.0.0.1:{port}/"),
        headers: vec![("content-type".into(), "application/x-www-form-urlencoded; charset=utf-8".into())],
        body: "Action=GetCallerIdentity&Version=2011-06-15",
    };
    let deadline = Timestamp::now() + jiff::SignedDuration::from_millis(300);
    let error = HttpsIdentityVerifier::new().send(&request, deadline).await.unwrap_err();
    assert!(error.contains("the request's deadline"), "{error}");
    // The deadline, not the proof's own 3 s cap, ended it.
    assert!(error.contains("ms (the request's deadline)"), "{error}");
    drop(listener);
}
