//! The real STS and SSM behind the service's traits. Thin: one SDK call each, errors rendered
//! with their whole source chain for the log (never for the client).

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sts::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use jiff::Timestamp;

use crate::contract::Credentials;
use crate::service::{AssumeRoleRequest, CredentialIssuer, PolicySource};

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
    async fn assume_role(&self, request: &AssumeRoleRequest) -> Result<Credentials, String> {
        let output = self
            .0
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .source_identity(&request.source_identity)
            .duration_seconds(i32::try_from(request.duration_seconds).map_err(|_| "duration out of range")?)
            .send()
            .await
            .map_err(|error| DisplayErrorContext(error).to_string())?;
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
    async fn fetch(&self, parameter: &str) -> Result<String, String> {
        let output = self
            .0
            .get_parameter()
            .name(parameter)
            // Harmless for a String parameter; lets an operator keep the policy in a SecureString.
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| aws_sdk_ssm::error::DisplayErrorContext(error).to_string())?;
        output
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_string)
            .ok_or_else(|| "the parameter has no value".into())
    }
}
