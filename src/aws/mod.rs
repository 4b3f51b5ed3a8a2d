//! AWS connection settings in one place: every SDK client the installer builds comes from
//! `sdk_config`, which is also where `--endpoint-url` points the whole installer at an emulator.
//!
//! Thin wrappers only; decisions about what to call belong to the commands and the planner.

pub mod cloudformation;
pub mod errors;
pub mod iam;
pub mod identity;
pub mod lambda;
pub mod logs;
pub mod organizations;
pub mod residue;
pub mod s3;
pub mod simulator;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The one HTTPS client every SDK client uses: rustls with ring (no C crypto to build).
pub fn https_client() -> aws_sdk_cloudformation::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Where and as whom to talk to AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The shared SDK configuration for `connection`: the standard credential chain (environment,
/// profile, SSO, process, IMDS), with the profile, region and endpoint overridden where given.
/// A named profile is used for credentials even when AWS_ACCESS_KEY_ID is exported (the SDK's
/// default chain would prefer the exported keys): naming one means "these credentials", as
/// `--profile` does for the AWS CLI.
pub async fn sdk_config(connection: &Connection) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(profile) = &connection.profile {
        let provider_config = aws_config::provider_config::ProviderConfig::default()
            .with_http_client(https_client())
            .with_region(connection.region.clone().map(Region::new));
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .configure(&provider_config)
            .profile_name(profile)
            .build();
        loader = loader.profile_name(profile).credentials_provider(credentials);
    }
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint_url) = &connection.endpoint_url {
        loader = loader.endpoint_url(endpoint_url);
    }
    loader.load().await
}
