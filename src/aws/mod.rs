//! AWS connection settings in one place: every SDK client the installer builds comes from
//! `sdk_config`, which is also where `--endpoint-url` points the whole installer at an emulator.
//!
//! Thin wrappers only; decisions about what to call belong to the commands and the planner.

pub mod cloudformation;
pub mod errors;
pub mod iam;
pub mod iam_role;
pub mod identity;
pub mod lambda;
pub mod logs;
pub mod organizations;
pub mod residue;
pub mod s3;
pub mod simulator;
pub mod ssm;

use std::time::Duration;

use anyhow::Result;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::error::Fixable;
use crate::model::connection::Connection;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The one HTTPS client every SDK client uses: rustls with ring (no C crypto to build).
pub fn https_client() -> aws_sdk_cloudformation::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// How long one connection attempt, one attempt of a call and one call with its retries may
/// take: an endpoint that accepts a connection and never answers ends with an error naming it,
/// instead of hanging the installer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts per call, the first included (the SDK's standard retry mode, bounded).
pub const MAX_ATTEMPTS: u32 = 3;

/// The shared SDK configuration for `connection`: the standard credential chain (environment,
/// profile, SSO, process, IMDS), with the profile, region and endpoint overridden where given,
/// and timeouts and retries bounded. A named profile is used for credentials even when
/// AWS_ACCESS_KEY_ID is exported (the SDK's default chain would prefer the exported keys):
/// naming one means "these credentials", as `--profile` does for the AWS CLI. A named profile
/// that neither AWS file defines is refused here, before any call.
pub async fn sdk_config(connection: &Connection) -> Result<SdkConfig> {
    let mut loader = bounded(aws_config::defaults(BehaviorVersion::latest()), CALL_TIMEOUT);
    if let Some(profile) = &connection.profile {
        check_profile_defined(profile)?;
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
    Ok(loader.load().await)
}

/// `loader` with the one HTTPS client, calls of at most `call` (each attempt at most
/// `ATTEMPT_TIMEOUT`, each connection `CONNECT_TIMEOUT`, within it) and bounded retries.
fn bounded(loader: aws_config::ConfigLoader, call: Duration) -> aws_config::ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(call))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT.min(call))
        .operation_timeout(call)
        .build();
    loader
        .http_client(https_client())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
}

/// Refuses a profile name neither `AWS_CONFIG_FILE` (`~/.aws/config`) nor
/// `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`) defines: the SDK would only say it found
/// no credentials.
fn check_profile_defined(profile: &str) -> Result<()> {
    let read = |variable: &str, default: &str| {
        let path = std::env::var_os(variable)
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::home_dir().map(|home| home.join(".aws").join(default)));
        path.and_then(|path| std::fs::read_to_string(path).ok()).unwrap_or_default()
    };
    let config = read("AWS_CONFIG_FILE", "config");
    let credentials = read("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    if profile_is_defined(&config, &credentials, profile) {
        return Ok(());
    }
    Err(Fixable::new(
        format!("the AWS profile `{profile}` is not defined in ~/.aws/config or ~/.aws/credentials (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)"),
        "name a profile that exists (`aws configure list-profiles`), or leave out `--aws-profile`/AWS_PROFILE to use the default credential chain",
    )
    .into())
}

/// Whether `name` has a section: `[profile name]` (or `[default]`) in the config file, `[name]`
/// in the credentials file.
pub fn profile_is_defined(config: &str, credentials: &str, name: &str) -> bool {
    let sections = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|line| {
                line.trim()
                    .strip_prefix('[')?
                    .strip_suffix(']')
                    .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect()
    };
    let in_config =
        sections(config).iter().any(|s| *s == format!("profile {name}") || (name == "default" && s == "default"));
    in_config || sections(credentials).iter().any(|s| s == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint that accepts connections and never answers: the call ends, with a hint
    /// naming the timeout, instead of hanging. (Shortened: the defaults are the same code.)
    #[tokio::test]
    async fn an_endpoint_that_never_answers_ends_with_an_error_naming_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let config = bounded(aws_config::defaults(BehaviorVersion::latest()), Duration::from_millis(400))
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_credential_types::Credentials::new("a", "b", None, None, "test"))
            .load()
            .await;
        let error = identity::caller_identity(&config).await.unwrap_err();
        let fixable = error.downcast_ref::<Fixable>().unwrap_or_else(|| panic!("{error:#}"));
        assert!(fixable.hint.contains("did not answer"), "{}", fixable.hint);
        drop(listener);
    }

    #[test]
    fn a_profile_is_defined_by_its_section_in_either_file() {
        let config = "[default]\nregion = eu-west-2\n\n[profile  dev ]\nsso_session = s\n[sso-session s]\n";
        let credentials = "[ci]\naws_access_key_id = x\n";
        for (name, defined) in
            [("default", true), ("dev", true), ("ci", true), ("s", false), ("nope", false), ("profile dev", false)]
        {
            assert_eq!(profile_is_defined(config, credentials, name), defined, "{name}");
        }
    }
}
