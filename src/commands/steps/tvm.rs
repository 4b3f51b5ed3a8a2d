//! The connection every client command of the TVM opens (`credentials`, `profiles`, `exec`): find
//! the TVM (`--endpoint`, else the installed environment's API), read the caller's base
//! credentials from the standard AWS chain, and ask through the smoke test's own signing client
//! (`tvm::http`). A refusal carries the TVM's own words; every other failure says what to do.
//!
//! With `--endpoint`, a client reads no `sentinel-tvm.yaml` and calls nothing but the TVM (the
//! caller proof is signed here, and sent to STS by the TVM): the client policy is all it needs.

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::{errors, sdk_config};
use crate::cli::{GlobalArgs, TvmArgs};
use crate::config::{self, EnvironmentConfig};
use crate::deploy::stacks::Part;
use crate::error::{Fixable, Outcome};
use crate::model::connection::Connection;
use crate::settings::{Selection, Sources, process_environment};
use crate::tvm::aws_config;
use crate::tvm::endpoint::tvm_url;
use crate::tvm::http::{Answer, TvmClient};
use crate::tvm::recursion;
use crate::tvm::wire::{self, Vended};
use crate::ui::output::Reporter;

/// A TVM to call, and the credentials to sign with.
pub struct Connected {
    pub client: TvmClient,
    pub url: String,
    pub base: Credentials,
    /// The AWS profile `base` came from, when one was named (`--aws-profile`, AWS_PROFILE, or the
    /// installed environment's saved profile).
    pub profile: Option<String>,
}

/// Where the TVM's URL comes from: `--endpoint`, or the installed environment's api stack.
enum Find {
    Given(String),
    Installed(String),
}

/// A refused request: the user reads the TVM's `Code` and `Message`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Connected {
    /// Finds the TVM (`--endpoint`, else the installed environment's API) and the caller's
    /// base credentials. No settings are saved and nothing is printed.
    pub async fn open(global: &GlobalArgs, tvm: &TvmArgs) -> Result<Connected> {
        let (connection, find) = locate(global, tvm)?;
        let sdk = sdk_config(&connection).await?;
        let url = match find {
            Find::Given(url) => url,
            Find::Installed(env) => installed_url(&sdk, &env, connection.emulator()).await?,
        };
        let fallback_region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        let provider = sdk.credentials_provider().context("no AWS credentials provider is configured")?;
        let base = provider
            .provide_credentials()
            .await
            .map_err(|error| lookup_failure(&error, connection.profile.as_deref()))?;
        Ok(Connected { client: TvmClient::for_tvm(&url, &fallback_region)?, url, base, profile: connection.profile })
    }

    /// Asks for `profile` for `seconds` (`wire::lifetime`); a refusal is `Refused` with the TVM's
    /// own words.
    pub async fn vend(&self, profile: &str, seconds: u32) -> Result<Vended> {
        wire::check_profile(profile)?;
        let url = wire::vend_url(&self.url, profile, Some(seconds));
        let answer = self.client.get_retrying(&url, Some(&self.base)).await.map_err(|e| self.unreachable(e))?;
        match answer.status {
            200 => Vended::parse(&answer.body),
            _ => Err(Refused(wire::refusal(&answer)).into()),
        }
    }

    pub async fn profiles(&self) -> Result<Answer> {
        let url = wire::profiles_url(&self.url);
        self.client.get_retrying(&url, Some(&self.base)).await.map_err(|e| self.unreachable(e))
    }

    /// The TVM could not be reached, even after retries: where to look. A refusal to send at all
    /// (plain http to another host) already says what to do.
    fn unreachable(&self, error: anyhow::Error) -> anyhow::Error {
        if error.chain().any(|cause| cause.is::<Fixable>()) {
            return error;
        }
        let hint = format!(
            "check the endpoint `{}` (the api stack's `Endpoint` output), and this machine's network to it: DNS, a proxy, VPN or firewall",
            self.url
        );
        Fixable::new(format!("{error:#}"), hint).into()
    }
}

/// Where the TVM is and how to reach AWS. With `--endpoint`: the flags and the process's
/// environment alone, no `sentinel-tvm.yaml` (a client needs none, and a broken one in the current
/// directory must not break the AWS tools run there). Else the installed environment, as every
/// command finds one.
fn locate(global: &GlobalArgs, tvm: &TvmArgs) -> Result<(Connection, Find)> {
    let selection = global.selection();
    if let Some(url) = &tvm.tvm_url {
        let Selection { profile, region, endpoint_url, .. } = selection;
        // AWS_PROFILE names the profile as `--aws-profile` does, as for every other command.
        let profile = profile.or_else(|| process_environment("AWS_PROFILE").filter(|p| !p.is_empty()));
        return Ok((Connection::new(profile, region, endpoint_url), Find::Given(url.clone())));
    }
    let file = config::load(&config::path(global.config.as_deref()))?;
    let flags = EnvironmentConfig::default();
    let sources = Sources::new(&selection, &flags, file.as_ref());
    // A light target: the environment and the connection, never the deploy settings.
    let loaded = sources.load(sources.env_name()?)?;
    Ok((loaded.target.connection, Find::Installed(loaded.target.env)))
}

/// Why the base credentials could not be read, as the user should read it: `profile` is the one
/// named, if any (else the chain looked at `default`).
fn lookup_failure(error: &CredentialsError, profile: Option<&str>) -> Fixable {
    let detail = causes(error);
    if recursion::is_nested_refusal(&detail) {
        return recursion::looked_up_itself(profile.unwrap_or("default"));
    }
    let none_found = || errors::explain("", "no credentials").unwrap_or_default();
    match error {
        CredentialsError::CredentialsNotLoaded(_) => {
            Fixable::new("no AWS credentials found to sign the request to the TVM with", none_found())
        }
        _ => Fixable::new(
            format!("cannot read your AWS credentials to sign with: {detail}"),
            errors::explain("", &detail)
                .unwrap_or_else(|| "check `--aws-profile`, AWS_PROFILE or your SSO login".into()),
        ),
    }
}

/// The error and its sources, each sentence once: a credential error's own text is only "an
/// error occurred while loading credentials", the reason is in its sources.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut said: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let text = cause.to_string();
        if said.last() != Some(&text) {
            said.push(text);
        }
        next = cause.source();
    }
    said.join(": ")
}

/// The installed environment's TVM URL, from its api stack (`emulator`: the emulator's endpoint,
/// where the URL takes its path form). Reading the stack needs `cloudformation:DescribeStacks`,
/// which the client policy does not grant: refused, the fix is `--endpoint`.
async fn installed_url(sdk: &::aws_config::SdkConfig, env: &str, emulator: Option<&str>) -> Result<String> {
    let name = Part::Api.stack_name(env);
    let api = CloudFormation::new(sdk).describe(&name).await.map_err(|error| match errors::is_denied(&error) {
        true => Fixable::new(
            format!("cannot look up environment `{env}`'s TVM: reading its stack `{name}` (cloudformation:DescribeStacks) is denied, and only `--env` needs it"),
            "pass the TVM's URL with `--endpoint URL` instead (the api stack's `Endpoint` output, from whoever installed it): then the client policy is all a client needs",
        )
        .into(),
        false => error,
    })?;
    let api = api.ok_or_else(|| {
        Fixable::new(
            format!("environment `{env}` has no stack `{name}` here"),
            "pass the TVM's URL with `--endpoint URL`, or the right `--env` (and `--aws-profile`/`--region`)",
        )
    })?;
    tvm_url(&api.outputs, emulator).with_context(|| format!("`{name}` has no endpoint output"))
}

/// The AWS config file SDKs read (`tvm::aws_config::file_path`), when there is a home to find it in.
pub fn aws_config_file() -> Option<std::path::PathBuf> {
    aws_config::file_path(process_environment("AWS_CONFIG_FILE"), std::env::home_dir(), "config")
}

/// The AWS credentials file SDKs read, likewise.
pub fn aws_credentials_file() -> Option<std::path::PathBuf> {
    aws_config::file_path(process_environment("AWS_SHARED_CREDENTIALS_FILE"), std::env::home_dir(), "credentials")
}

/// A refusal is the user's answer (exit 1, the TVM's words on stderr); anything else an error.
pub fn refused_or(out: &Reporter, error: anyhow::Error) -> Result<Outcome> {
    match error.downcast_ref::<Refused>() {
        Some(refused) => {
            out.refusal(&refused.0);
            Ok(Outcome::Refused)
        }
        None => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::error::CredentialsError;

    use super::*;

    #[test]
    fn a_failed_lookup_says_what_to_do() {
        let nested = recursion::nested(Some(std::ffi::OsStr::new("1"))).unwrap();
        // As the SDK's `credential_process` provider reports the nested refusal: its stderr.
        let from_process = CredentialsError::provider_error(format!(
            "Error retrieving credentials: external process exited with code exit status: 2. Stderr: error: {}\nhint: {}\n",
            nested.message, nested.hint
        ));
        for (error, profile, message, hint) in [
            (
                &from_process,
                Some("prod"),
                "the AWS profile `prod` gets them by running sentinel-tvm",
                "--aws-profile NAME",
            ),
            (&from_process, None, "the AWS profile `default`", "--aws-profile NAME"),
            (
                &CredentialsError::not_loaded("no providers in chain provided credentials"),
                None,
                "no AWS credentials found",
                "--aws-profile NAME",
            ),
            (
                &CredentialsError::provider_error("the SSO token has expired and cannot be refreshed"),
                Some("sso"),
                "SSO token has expired",
                "aws sso login",
            ),
        ] {
            let fixable = lookup_failure(error, profile);
            assert!(fixable.message.contains(message), "{fixable:?}");
            assert!(fixable.hint.contains(hint), "{fixable:?}");
            assert!(!fixable.message.contains(&nested.message), "one message, not the nested one: {fixable:?}");
        }
        let other = CredentialsError::provider_error("external process exited with code 1. Stderr: boom");
        let fixable = lookup_failure(&other, Some("helper"));
        assert_eq!(
            fixable.message,
            "cannot read your AWS credentials to sign with: an error occurred while loading credentials: external process exited with code 1. Stderr: boom"
        );
    }
}
