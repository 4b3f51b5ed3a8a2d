//! What every AWS-facing command starts with: the config file, resolved settings (with a notice
//! per flag that overrides the file), the SDK configuration, and who we are. It refuses early:
//! no region, no credentials, or credentials for another account than `--expected-account`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use aws_config::SdkConfig;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::identity::{Identity, caller_identity};
use crate::aws::s3::S3;
use crate::aws::sdk_config;
use crate::cli::GlobalArgs;
use crate::config::{self, ConfigFile, EnvironmentConfig};
use crate::engine::Engine;
use crate::error::Fixable;
use crate::output::Reporter;
use crate::prompt::{self, Prompt};
use crate::settings::{Selection, Settings, Sources, saved_connection};
use crate::smoke::{saved_smoke_principals, smoke_principals};

pub struct Session {
    pub settings: Settings,
    pub sdk: SdkConfig,
    pub identity: Identity,
    pub out: Reporter,
    pub prompt: Box<dyn Prompt>,
    pub yes: bool,
    pub config_path: PathBuf,
    pub config_file: Option<ConfigFile>,
    /// The file's section for this environment with the flags laid over it.
    pub merged: EnvironmentConfig,
    /// The global flags' profile and region: only these (not AWS_PROFILE/AWS_REGION) are saved.
    selection: Selection,
}

impl Session {
    pub async fn open(global: &GlobalArgs, flags: &EnvironmentConfig) -> Result<Session> {
        let out = Reporter::new(global.output);
        let config_path = config::path(global.config.as_deref());
        let config_file = config::load(&config_path)?;
        let selection = Selection {
            env: global.env.clone(),
            profile: global.profile.clone(),
            region: global.region.clone(),
            endpoint_url: global.endpoint_url.clone(),
        };
        let environment = |name: &str| std::env::var(name).ok();
        let sources = Sources { selection: &selection, flags, environment: &environment, file: config_file.as_ref() };
        let (settings, overrides) = sources.resolve()?;
        for o in &overrides {
            out.note(&format!("{} overrides `{}` from {}", o.flag, o.key, config_path.display()));
        }
        let merged = sources.merged(&settings.env).0;
        let sdk = sdk_config(&settings.connection).await;
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            bail!(Fixable::new(
                "no AWS region is configured",
                "pass `--region REGION`, set AWS_REGION, or set `region` in your AWS profile"
            ));
        };
        let identity = caller_identity(&sdk).await?;
        out.note(&format!(
            "account {} ({}) as {}, region {region}, environment `{}`",
            identity.account_id, identity.partition, identity.arn, settings.env
        ));
        if let Some(expected) =
            settings.deploy.expected_account.as_deref().filter(|expected| *expected != identity.account_id)
        {
            bail!(Fixable::new(
                format!(
                    "these credentials are for account {}, but environment `{}` belongs to account {expected}",
                    identity.account_id, settings.env
                ),
                "use credentials for the right account (`--profile`), or change `expected_account` if the environment really moved",
            ));
        }
        let prompt = prompt::for_session(!global.yes && !global.non_interactive);
        Ok(Session {
            settings,
            sdk,
            identity,
            out,
            prompt,
            yes: global.yes,
            config_path,
            config_file,
            merged,
            selection,
        })
    }

    pub fn env(&self) -> &str {
        &self.settings.env
    }

    pub fn cloudformation(&self) -> CloudFormation {
        CloudFormation::new(&self.sdk)
    }

    pub fn s3(&self) -> S3 {
        S3::new(&self.sdk, self.settings.connection.endpoint_url.is_some(), &self.identity.account_id)
    }

    pub fn engine<'a>(&'a self, cfn: &'a CloudFormation) -> Engine<'a> {
        Engine { cfn, out: &self.out, prompt: self.prompt.as_ref(), yes: self.yes, env: &self.settings.env }
    }

    /// The principals the deployed smoke rule admits (see `smoke::smoke_principals`).
    pub fn smoke_principals(&self) -> Vec<String> {
        let identity = &self.identity;
        smoke_principals(
            &self.settings.deploy.smoke_principals,
            &identity.principal_pattern(),
            &identity.partition,
            &identity.account_id,
            self.env(),
        )
    }

    /// Writes this environment's settings (and the account it lives in) to the config file,
    /// keeping the other environments as they were.
    pub fn save_config(&self) -> Result<()> {
        let mut file = self.config_file.clone().unwrap_or_default();
        let mut section = self.merged.clone();
        let region = self.sdk.region().map(|r| r.to_string());
        (section.profile, section.region) = saved_connection(&self.selection, &self.merged, region);
        section.expected_account = Some(self.identity.account_id.clone());
        section.smoke_principals =
            Some(saved_smoke_principals(&self.settings.deploy.smoke_principals, &self.identity.principal_pattern()));
        if file.environments.get(self.env()) == Some(&section) {
            return Ok(());
        }
        file.environments.insert(self.env().to_string(), section);
        config::save(&self.config_path, &file)?;
        self.out.note(&format!("saved the settings of `{}` to {}", self.env(), self.config_path.display()));
        Ok(())
    }
}
