//! The client side, for anyone the TVM serves: `credentials` (a `credential_process` for any
//! AWS SDK or CLI) and `profiles` (what the TVM would vend to you). Both sign with the caller's
//! base credentials from the standard AWS chain, through the smoke test's own client
//! (`tvm_client`). Standard output carries only the answer; everything else goes to stderr.

use anyhow::{Context, Result, bail};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::sdk_config;
use crate::cli::{CredentialsArgs, GlobalArgs, TvmArgs};
use crate::client::{self, Vended};
use crate::config::{self, EnvironmentConfig};
use crate::endpoint::tvm_url;
use crate::error::{Fixable, Outcome};
use crate::settings::Sources;
use crate::stacks::Part;
use crate::tvm_client::{Answer, TvmClient, signing_region};

/// A TVM to call, and the credentials to sign with.
pub struct Connected {
    pub client: TvmClient,
    pub url: String,
    pub base: Credentials,
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
        let environment = |name: &str| std::env::var(name).ok();
        let flags = EnvironmentConfig::default();
        let sources = Sources { selection: &selection, flags: &flags, environment: &environment, file: file.as_ref() };
        let connection = match (&tvm.tvm_url, sources.resolve()) {
            (_, Ok((settings, _))) => settings.connection,
            // With a URL, no environment is needed: the AWS chain and the flags suffice.
            (Some(_), Err(_)) => crate::aws::Connection {
                profile: selection.profile.clone(),
                region: selection.region.clone(),
                endpoint_url: selection.endpoint_url.clone().filter(|u| !u.trim().is_empty()),
            },
            (None, Err(missing)) => return Err(missing.into()),
        };
        let sdk = sdk_config(&connection).await;
        let url = match &tvm.tvm_url {
            Some(url) => url.clone(),
            None => installed_url(&sdk, &sources.env_name()?, connection.endpoint_url.as_deref()).await?,
        };
        let fallback_region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        let provider = sdk.credentials_provider().context("no AWS credentials provider is configured")?;
        let base = provider.provide_credentials().await.map_err(|error| {
            let detail = format!("{error:#}");
            let hint = crate::aws::errors::explain("", &detail)
                .unwrap_or_else(|| "check `--aws-profile`, AWS_PROFILE or your SSO login".into());
            Fixable::new(format!("cannot read your AWS credentials to sign with: {detail}"), hint)
        })?;
        Ok(Connected { client: TvmClient::new(signing_region(&url, &fallback_region))?, url, base })
    }

    /// Asks for `profile`; a refusal is `Refused` with the TVM's own words.
    pub async fn vend(&self, profile: &str, duration: Option<u32>) -> Result<Vended> {
        client::check_profile(profile)?;
        let answer =
            self.client.get_retrying(&client::vend_url(&self.url, profile, duration), Some(&self.base)).await?;
        match answer.status {
            200 => Vended::parse(&answer.body),
            _ => Err(Refused(client::refusal(&answer)).into()),
        }
    }

    pub async fn profiles(&self) -> Result<Answer> {
        self.client.get_retrying(&client::profiles_url(&self.url), Some(&self.base)).await
    }
}

/// The installed environment's TVM URL, from its api stack.
async fn installed_url(sdk: &aws_config::SdkConfig, env: &str, endpoint_url: Option<&str>) -> Result<String> {
    let name = Part::Api.stack_name(env);
    let api = CloudFormation::new(sdk).describe(&name).await?.ok_or_else(|| {
        Fixable::new(
            format!("environment `{env}` has no stack `{name}` here"),
            "pass the TVM's URL with `--endpoint URL`, or the right `--env` (and `--aws-profile`/`--region`)",
        )
    })?;
    tvm_url(&api.outputs, endpoint_url).with_context(|| format!("`{name}` has no endpoint output"))
}

/// `credentials`: the `credential_process` JSON on stdout; a refusal on stderr, exit 1.
pub async fn credentials(global: &GlobalArgs, args: &CredentialsArgs) -> Result<Outcome> {
    let connected = Connected::open(global, &args.tvm).await?;
    match connected.vend(&args.profile, args.duration).await {
        Ok(vended) => {
            println!("{}", vended.credential_process_json());
            Ok(Outcome::Success)
        }
        Err(error) => refused_or(error),
    }
}

/// `profiles`: one per line (or the TVM's JSON with `--output json`).
pub async fn profiles(global: &GlobalArgs, tvm: &TvmArgs) -> Result<Outcome> {
    let connected = Connected::open(global, tvm).await?;
    let answer = connected.profiles().await?;
    if answer.status != 200 {
        return refused_or(Refused(client::refusal(&answer)).into());
    }
    let body: serde_json::Value = serde_json::from_str(&answer.body).context("the TVM's profiles are not JSON")?;
    if global.output == crate::cli::OutputFormat::Json {
        println!("{body}");
        return Ok(Outcome::Success);
    }
    let Some(profiles) = body.get("profiles").and_then(|p| p.as_array()) else {
        bail!("the TVM's answer has no profiles list: {body}");
    };
    if profiles.is_empty() {
        eprintln!("the TVM's policy grants you no profile");
    }
    for profile in profiles {
        let name = profile.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        let role = profile.get("role_arn").and_then(|r| r.as_str()).unwrap_or_default();
        println!("{name}\t{role}");
    }
    Ok(Outcome::Success)
}

/// A refusal is the user's answer (exit 1, the TVM's words on stderr); anything else an error.
pub fn refused_or(error: anyhow::Error) -> Result<Outcome> {
    match error.downcast_ref::<Refused>() {
        Some(refused) => {
            eprintln!("error: {refused}");
            Ok(Outcome::Refused)
        }
        None => Err(error),
    }
}
