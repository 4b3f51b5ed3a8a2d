//! The connection every client command of the TVM opens (`credentials`, `profiles`, `exec`): find
//! the TVM (`--endpoint`, else the installed environment's API), read the caller's base
//! credentials from the standard AWS chain, and ask through the smoke test's own signing client
//! (`tvm::http`). A refusal carries the TVM's own words.

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::sdk_config;
use crate::cli::{GlobalArgs, TvmArgs};
use crate::config::{self, EnvironmentConfig};
use crate::deploy::stacks::Part;
use crate::error::{Fixable, Outcome};
use crate::model::connection::Connection;
use crate::settings::{Selection, Sources};
use crate::tvm::endpoint::tvm_url;
use crate::tvm::http::{Answer, TvmClient};
use crate::tvm::wire::{self, Vended};
use crate::ui::output::Reporter;

/// A TVM to call, and the credentials to sign with.
pub struct Connected {
    pub client: TvmClient,
    pub url: String,
    pub base: Credentials,
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
        let file = config::load(&config::path(global.config.as_deref()))?;
        let selection = global.selection();
        let flags = EnvironmentConfig::default();
        let sources = Sources::new(&selection, &flags, file.as_ref());
        // A light target: the environment and the connection, never the deploy settings.
        let loaded = sources.env_name().and_then(|env| sources.load(env));
        let (connection, find) = match (&tvm.tvm_url, loaded) {
            (Some(url), Ok(loaded)) => (loaded.target.connection, Find::Given(url.clone())),
            // With a URL, no environment is needed: the AWS chain and the flags suffice.
            (Some(url), Err(_)) => {
                let Selection { profile, region, endpoint_url, .. } = selection;
                (Connection::new(profile, region, endpoint_url), Find::Given(url.clone()))
            }
            (None, Ok(loaded)) => (loaded.target.connection, Find::Installed(loaded.target.env)),
            (None, Err(missing)) => return Err(missing.into()),
        };
        let sdk = sdk_config(&connection).await?;
        let url = match find {
            Find::Given(url) => url,
            Find::Installed(env) => installed_url(&sdk, &env, connection.emulator()).await?,
        };
        let fallback_region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        let provider = sdk.credentials_provider().context("no AWS credentials provider is configured")?;
        let base = provider.provide_credentials().await.map_err(|error| {
            let detail = format!("{error:#}");
            let hint = crate::aws::errors::explain("", &detail)
                .unwrap_or_else(|| "check `--aws-profile`, AWS_PROFILE or your SSO login".into());
            Fixable::new(format!("cannot read your AWS credentials to sign with: {detail}"), hint)
        })?;
        Ok(Connected { client: TvmClient::for_tvm(&url, &fallback_region)?, url, base })
    }

    /// Asks for `profile`; a refusal is `Refused` with the TVM's own words.
    pub async fn vend(&self, profile: &str, duration: Option<u32>) -> Result<Vended> {
        wire::check_profile(profile)?;
        let answer = self.client.get_retrying(&wire::vend_url(&self.url, profile, duration), Some(&self.base)).await?;
        match answer.status {
            200 => Vended::parse(&answer.body),
            _ => Err(Refused(wire::refusal(&answer)).into()),
        }
    }

    pub async fn profiles(&self) -> Result<Answer> {
        self.client.get_retrying(&wire::profiles_url(&self.url), Some(&self.base)).await
    }
}

/// The installed environment's TVM URL, from its api stack (`emulator`: the emulator's endpoint,
/// where the URL takes its path form).
async fn installed_url(sdk: &aws_config::SdkConfig, env: &str, emulator: Option<&str>) -> Result<String> {
    let name = Part::Api.stack_name(env);
    let api = CloudFormation::new(sdk).describe(&name).await?.ok_or_else(|| {
        Fixable::new(
            format!("environment `{env}` has no stack `{name}` here"),
            "pass the TVM's URL with `--endpoint URL`, or the right `--env` (and `--aws-profile`/`--region`)",
        )
    })?;
    tvm_url(&api.outputs, emulator).with_context(|| format!("`{name}` has no endpoint output"))
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
