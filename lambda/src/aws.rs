//! The real STS and SSM behind the service's traits. Thin: one call each, errors rendered with
//! their whole source chain for the log (never for the client).

use std::future::Future;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sts::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use jiff::Timestamp;

use crate::contract::Credentials;
use crate::service::{AssumeRoleRequest, CredentialIssuer, IdentityVerifier, PolicySource, ProofAnswer, ProofRequest};

/// The SDK configuration from the Lambda's environment, with rustls on ring for HTTPS and
/// timeouts that end every call well inside the function's 10 seconds, so a slow STS or SSM still
/// gets a CONTRACT.md §3 answer (`CREDENTIAL_ERROR`, `CONFIG_ERROR`) and a decision-log line.
pub async fn sdk_config() -> SdkConfig {
    let https = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https).timeout_config(timeouts).load().await
}

/// Runs `call` until it ends, its own `cap` passes, or the request's `deadline` does, whichever
/// comes first: one deadline for every call a request makes, each call also capped on its own.
pub async fn within<T>(
    deadline: Timestamp,
    cap: Duration,
    call: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let left = deadline.duration_since(Timestamp::now());
    let Some(left) = Duration::try_from(left).ok().filter(|left| !left.is_zero()) else {
        return Err("no time left before the request's deadline".into());
    };
    let limit = left.min(cap);
    tokio::time::timeout(limit, call)
        .await
        .map_err(|_| format!("no answer within {limit:?} (the request's deadline)"))?
}

/// The longest one STS or SSM call may take, retries included (the SDK's operation timeout).
pub const CALL_CAP: Duration = Duration::from_secs(5);

pub struct StsIssuer(aws_sdk_sts::Client);

impl StsIssuer {
    pub fn new(config: &SdkConfig) -> Self {
        Self(aws_sdk_sts::Client::new(config))
    }

    pub fn from_client(client: aws_sdk_sts::Client) -> Self {
        Self(client)
    }
}

impl CredentialIssuer for StsIssuer {
    async fn assume_role(&self, request: &AssumeRoleRequest, deadline: Timestamp) -> Result<Credentials, String> {
        let call = self
            .0
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .source_identity(&request.source_identity)
            .duration_seconds(i32::try_from(request.duration_seconds).map_err(|_| "duration out of range")?)
            .send();
        let output =
            within(deadline, CALL_CAP, async { call.await.map_err(|error| DisplayErrorContext(error).to_string()) })
                .await?;
        let credentials = output.credentials().ok_or("STS answered without credentials")?;
        let expiration = Timestamp::from_second(credentials.expiration().secs())
            .map_err(|error| format!("STS returned an expiration out of range: {error}"))?;
        Ok(Credentials {
            access_key_id: credentials.access_key_id().to_string(),
            secret_access_key: credentials.secret_access_key().to_string(),
            session_token: credentials.session_token().to_string(),
            expiration,
        })
    }
}

pub struct SsmPolicySource(aws_sdk_ssm::Client);

impl SsmPolicySource {
    pub fn new(config: &SdkConfig) -> Self {
        Self(aws_sdk_ssm::Client::new(config))
    }

    pub fn from_client(client: aws_sdk_ssm::Client) -> Self {
        Self(client)
    }
}

impl PolicySource for SsmPolicySource {
    async fn fetch(&self, reference: &str, deadline: Timestamp) -> Result<String, String> {
        let call = self
            .0
            .get_parameter()
            .name(reference)
            // Harmless for a String parameter; lets an operator keep the policy in a SecureString.
            .with_decryption(true)
            .send();
        let output = within(deadline, CALL_CAP, async {
            call.await.map_err(|error| {
                let gone = error.as_service_error().is_some_and(|e| e.is_parameter_version_not_found());
                let detail = aws_sdk_ssm::error::DisplayErrorContext(error).to_string();
                if gone {
                    format!("the pinned version is gone (SSM keeps a parameter's last 100 versions): {detail}")
                } else {
                    detail
                }
            })
        })
        .await?;
        output
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_string)
            .ok_or_else(|| "the parameter has no value".into())
    }
}

/// How long a caller proof may take at STS, connection included.
pub const PROOF_TIMEOUT: Duration = Duration::from_secs(3);
/// A GetCallerIdentity answer is a few hundred bytes; anything past this is not one.
pub const MAX_PROOF_ANSWER_BYTES: usize = 16 * 1024;

/// Sends caller proofs to STS through the SDK's own HTTPS connector (rustls on ring), exactly as
/// `ProofRequest` says: the URL is the TVM's configured STS endpoint, never one from the event.
pub struct HttpsIdentityVerifier(aws_smithy_http_client::Connector);

impl HttpsIdentityVerifier {
    pub fn new() -> Self {
        Self(aws_smithy_http_client::Connector::builder().tls_provider(Provider::Rustls(CryptoMode::Ring)).build())
    }
}

impl Default for HttpsIdentityVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl IdentityVerifier for HttpsIdentityVerifier {
    async fn send(&self, request: &ProofRequest, deadline: Timestamp) -> Result<ProofAnswer, String> {
        let mut http = aws_smithy_runtime_api::http::Request::new(SdkBody::from(request.body));
        http.set_uri(request.url.as_str()).map_err(|error| format!("bad STS endpoint: {error}"))?;
        http.set_method("POST").map_err(|error| error.to_string())?;
        for (name, value) in &request.headers {
            http.headers_mut()
                .try_insert(name.clone(), value.clone())
                .map_err(|error| format!("header `{name}`: {error}"))?;
        }
        let exchange = async {
            let response = self.0.call(http).await.map_err(|error| DisplayErrorContext(error).to_string())?;
            let status = response.status().as_u16();
            let bytes = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|error| format!("reading STS's answer: {error}"))?
                .into_bytes();
            if bytes.len() > MAX_PROOF_ANSWER_BYTES {
                return Err(format!("STS's answer is {} bytes", bytes.len()));
            }
            Ok(ProofAnswer { status, body: String::from_utf8_lossy(&bytes).into_owned() })
        };
        within(deadline, PROOF_TIMEOUT, exchange).await
    }
}
