//! What every AWS-facing command starts with: the config file, its settings resolved by the one
//! loader (`settings::Sources::load`, with a notice per flag or variable that overrides the file),
//! the SDK configuration, and who we are; for `install` on a terminal, the questions (`wizard`)
//! for what nothing else gives, as the layer under the file. A command that deploys nothing opens
//! a `Session<Target>` and reads no deploy setting. It refuses early: no region, no credentials,
//! or credentials for another account than `--expected-account`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::iam::invoker_candidates;
use crate::aws::identity::{Identity, caller_identity};
use crate::aws::s3::S3;
use crate::aws::sdk_config;
use crate::check::smoke::{saved_smoke_principals, smoke_principals};
use crate::cli::GlobalArgs;
use crate::config::{self, ConfigFile, EnvironmentConfig};
use crate::deploy::stacks::{Part, TAG_ENV};
use crate::error::Fixable;
use crate::model::cloudformation::Deployed;
use crate::model::connection::Connection;
use crate::model::verdict::Verdict;
use crate::names::Names;
use crate::names::stack_prefix;
use crate::rollout::stacks::Engine;
use crate::settings::{Loaded, Scope, Selection, Settings, Sources, Target, saved_connection};
use crate::ui::output::Reporter;
use crate::ui::prompt::{self, Prompt};
use crate::ui::wizard;

/// What every AWS-facing command opens with: its settings (`S`: the whole `Settings` of a command
/// that deploys, or only the `Target` of one that does not), the SDK configuration, and who we are.
pub struct Session<S = Settings> {
    pub settings: S,
    pub sdk: SdkConfig,
    pub identity: Identity,
    pub out: Reporter,
    pub prompt: Box<dyn Prompt>,
    pub yes: bool,
    pub config_path: PathBuf,
    pub config_file: Option<ConfigFile>,
    /// The file's section for this environment with the flags laid over it (and, when the wizard
    /// asked, its answers under both): what `save_config` writes.
    pub merged: EnvironmentConfig,
    /// The global flags' profile and region: only these (not AWS_PROFILE/AWS_REGION) are saved.
    selection: Selection,
    /// Facts about the organization, each gathered once per run by the first step that needs it.
    pub gathered: Gathered,
}

/// What a run learns about the organization at most once, however many steps ask (the
/// pre-flight, the summary, the guardrails' deploy): each cell is filled by the step that first
/// needs it (`Session::org`, `steps::scp::org_verdicts`, `steps::scp::deployers_in_effect`). A
/// failure is not kept, so a step that can do without the fact may try again.
#[derive(Default)]
pub struct Gathered {
    org: OnceCell<Org>,
    pub org_verdicts: OnceCell<Vec<Verdict>>,
    pub deployers: OnceCell<Vec<String>>,
}

/// The credentials the guardrail stacks are deployed with: `--org-profile`, else the session's.
pub struct Org {
    pub sdk: SdkConfig,
    pub identity: Identity,
}

/// The steps every session opens with, before its settings are complete: the config file read,
/// the environment and connection decided (`settings::Loaded`), the SDK configured, the caller
/// known and checked against the environment's account.
struct Opening {
    loaded: Loaded,
    sdk: SdkConfig,
    identity: Identity,
    out: Reporter,
    prompt: Box<dyn Prompt>,
    config_path: PathBuf,
    config_file: Option<ConfigFile>,
    selection: Selection,
}

impl Opening {
    /// With `ask` and a terminal, the environment and region nothing else gives are asked for.
    /// `settle` runs on what flags, environment and file give, before anything is asked of AWS:
    /// bad input is refused there, at no cost.
    async fn start<T>(
        global: &GlobalArgs,
        out: &Reporter,
        flags: &EnvironmentConfig,
        ask: bool,
        settle: impl FnOnce(&Loaded) -> Result<T, Fixable>,
    ) -> Result<(Opening, T)> {
        let out = out.clone();
        let prompt = prompt::for_session(!global.yes && !global.non_interactive);
        let ask = ask && prompt.interactive();
        let config_path = config::path(global.config.as_deref());
        let config_file = config::load(&config_path)?;
        let selection = global.selection();
        let sources = Sources::new(&selection, flags, config_file.as_ref());
        let env = match sources.env_name() {
            Ok(env) => env,
            Err(_) if ask => out.suspend(|| wizard::ask_env(prompt.as_ref()))?,
            Err(missing) => return Err(missing.into()),
        };
        let mut loaded = sources.load(env)?;
        let settled = settle(&loaded)?;
        let mut sdk = sdk_config(&loaded.target.connection).await?;
        if ask && sdk.region().is_none() {
            // Nothing gave a region, so the answer is what `--region` would have been.
            let region = out.suspend(|| wizard::ask_region(prompt.as_ref()))?;
            loaded.target.connection.region = Some(region);
            sdk = sdk_config(&loaded.target.connection).await?;
        }
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            bail!(Fixable::new(
                "no AWS region is configured",
                "pass `--region REGION`, set AWS_REGION, or set `region` in your AWS profile"
            ));
        };
        let identity = caller_identity(&sdk).await?;
        out.note(&format!(
            "account {} ({}) as {}, region {region}, environment `{}`",
            identity.account_id, identity.partition, identity.arn, loaded.target.env
        ));
        check_account(&loaded, &identity)?;
        Ok((Opening { loaded, sdk, identity, out, prompt, config_path, config_file, selection }, settled))
    }

    fn into_session<S>(self, settings: S, merged: EnvironmentConfig, yes: bool) -> Session<S> {
        for o in &self.loaded.overrides {
            self.out.note(&format!("{} overrides `{}` from {}", o.flag, o.key, self.config_path.display()));
        }
        Session {
            settings,
            sdk: self.sdk,
            identity: self.identity,
            out: self.out,
            prompt: self.prompt,
            yes,
            config_path: self.config_path,
            config_file: self.config_file,
            merged,
            selection: self.selection,
            gathered: Gathered::default(),
        }
    }
}

impl Session<Target> {
    /// For a command that deploys nothing (`status`): the environment and the connection, and
    /// no deploy setting read, so a broken one cannot stop it.
    pub async fn open_target(global: &GlobalArgs, out: &Reporter) -> Result<Session<Target>> {
        let (opening, ()) = Opening::start(global, out, &EnvironmentConfig::default(), false, |_| Ok(())).await?;
        let (target, merged) = (opening.loaded.target.clone(), opening.loaded.given.clone());
        Ok(opening.into_session(target, merged, global.yes))
    }
}

impl Session {
    pub async fn open(global: &GlobalArgs, out: &Reporter, flags: &EnvironmentConfig) -> Result<Session> {
        Ok(Self::open_asking(global, out, flags, false).await?.0)
    }

    /// As `open`; with `ask` (install) and a terminal, first asks for the environment, region
    /// and deploy settings that neither flags, environment nor file give. Returns the answers
    /// (all `None` when nothing was asked). The deploy settings are validated as flags,
    /// environment and file give them, before anything is asked of AWS, and once more with the
    /// answers when the wizard gave any.
    pub async fn open_asking(
        global: &GlobalArgs,
        out: &Reporter,
        flags: &EnvironmentConfig,
        ask: bool,
    ) -> Result<(Session, EnvironmentConfig)> {
        let no_answers = EnvironmentConfig::default();
        let (opening, mut resolved) =
            Opening::start(global, out, flags, ask, |loaded| loaded.resolve(&no_answers)).await?;
        let answers = if ask && opening.prompt.interactive() {
            // `given` is what flags and file give: the wizard asks for the rest.
            let (given, env) = (&opening.loaded.given, &opening.loaded.target.env);
            let offer = offer(&opening.sdk, &resolved.settings.deploy.role_prefix, given, &opening.out).await;
            opening.out.suspend(|| wizard::ask_settings(opening.prompt.as_ref(), env, given, &offer))?
        } else {
            EnvironmentConfig::default()
        };
        if answers != EnvironmentConfig::default() {
            // The answers fill only what nothing gave: laid under the flags and the file.
            resolved = opening.loaded.resolve(&answers)?;
        }
        Ok((opening.into_session(resolved.settings, resolved.merged, global.yes), answers))
    }
}

impl<S: Scope> Session<S> {
    pub fn env(&self) -> &str {
        self.settings.env()
    }

    /// Yes with `--yes`; otherwise the question (a cancelled one is a no).
    pub fn agrees(&self, question: &str, default: bool) -> Result<bool> {
        if self.yes {
            return Ok(true);
        }
        self.out.suspend(|| prompt::agreed(self.prompt.as_ref(), question, default, "--yes"))
    }

    pub fn cloudformation(&self) -> CloudFormation {
        CloudFormation::new(&self.sdk)
    }

    /// The emulator's endpoint, when this session talks to one (`Connection::emulator`).
    pub fn emulator(&self) -> Option<&str> {
        self.settings.connection().emulator()
    }

    pub fn s3(&self) -> S3 {
        S3::new(&self.sdk, self.emulator().is_some(), &self.identity.account_id)
    }
}

impl Session {
    /// The organization's credentials (`--org-profile`, else the session's), opened once per run.
    pub async fn org(&self) -> Result<&Org> {
        self.gathered.org.get_or_try_init(|| self.open_org()).await
    }

    async fn open_org(&self) -> Result<Org> {
        let Some(profile) = self.settings.deploy.scp.org_profile.clone() else {
            return Ok(Org { sdk: self.sdk.clone(), identity: self.identity.clone() });
        };
        let region = self.sdk.region().map(|r| r.to_string());
        let connection = Connection::new(Some(profile.clone()), region, self.settings.connection.endpoint_url.clone());
        let sdk = sdk_config(&connection).await?;
        let identity = caller_identity(&sdk)
            .await
            .with_context(|| format!("reading who `--org-profile {profile}` is (the organization's credentials)"))?;
        Ok(Org { sdk, identity })
    }

    /// The physical names this environment's stacks create.
    pub fn names(&self) -> Names {
        Names {
            env: self.env().to_string(),
            role_prefix: self.settings.deploy.role_prefix.clone(),
            account_id: self.identity.account_id.clone(),
            region: self.sdk.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }

    pub fn engine<'a>(&'a self, cfn: &'a CloudFormation) -> Engine<'a> {
        Engine {
            cfn,
            out: &self.out,
            prompt: self.prompt.as_ref(),
            yes: self.yes,
            env: &self.settings.env,
            drifted: BTreeMap::new(),
            known: None,
        }
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

impl Session {
    /// Writes the deployers in effect to the config file when none were configured, so the
    /// next upgrade (whoever runs it) exempts the same principals instead of only its own.
    pub fn save_deployers(&self, deployers: &[String]) -> Result<()> {
        let mut file = config::load(&self.config_path)?.unwrap_or_default();
        let section = file.environments.entry(self.env().to_string()).or_default();
        if section.deployers.is_some() {
            return Ok(());
        }
        section.deployers = Some(deployers.to_vec());
        config::save(&self.config_path, &file)?;
        self.out.note(&format!(
            "saved the deployers of `{}` to {}: {}",
            self.env(),
            self.config_path.display(),
            deployers.join(", ")
        ));
        Ok(())
    }
}

/// Refuses credentials for another account than the one the environment's settings name
/// (`expected_account`, saved by the install).
fn check_account(loaded: &Loaded, identity: &Identity) -> Result<()> {
    let expected = loaded.given.expected_account.as_deref();
    if let Some(expected) = expected.filter(|e| *e != identity.account_id) {
        bail!(Fixable::new(
            format!(
                "these credentials are for account {}, but environment `{}` belongs to account {expected}",
                identity.account_id, loaded.target.env
            ),
            "use credentials for the right account (`--aws-profile`), or change `expected_account` if the environment really moved",
        ));
    }
    Ok(())
}

/// The roles and users to offer as invokers (none, with a warning, when they cannot be listed),
/// and the organization's OUs and accounts for the SCP (none when it cannot be read: the IDs are
/// typed then).
/// Only what a question that may come up needs is read.
async fn offer(sdk: &SdkConfig, role_prefix: &str, given: &EnvironmentConfig, out: &Reporter) -> wizard::Offer {
    let invokers = if wizard::asks_invokers(given) {
        invoker_candidates(&aws_sdk_iam::Client::new(sdk), role_prefix, 200).await
    } else {
        Ok(Default::default())
    };
    let (roles, users) = match invokers {
        Ok(found) => found,
        Err(error) => {
            out.warn(&format!("cannot list IAM roles and users to offer as invokers ({error:#}); add them later with --invoker-role/--invoker-user"));
            Default::default()
        }
    };
    let tree = if wizard::may_ask_scp_targets(given) {
        crate::aws::organizations::Organizations::new(sdk).tree().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let scp_targets = tree
        .into_iter()
        .filter(|entry| !matches!(entry.kind, crate::model::organizations::TargetKind::Root))
        .map(|entry| (entry.id, format!("{} ({})", entry.path, entry.kind)))
        .collect();
    wizard::Offer { roles, users, scp_targets }
}

/// The stacks sentinel-tvm deployed for this environment: named for it and tagged for it (a
/// name alone could belong to an environment whose name starts the same way).
pub async fn environment_stacks<S: Scope>(session: &Session<S>) -> Result<Vec<Deployed>> {
    Ok(environment_stacks_of(session.env(), named_stacks(session).await?))
}

/// Every stack named for this environment (`stack_prefix`), whoever made it: one listing, which
/// a deploy reads its whole run from (`environment_stacks_of` picks sentinel-tvm's own).
pub async fn named_stacks<S: Scope>(session: &Session<S>) -> Result<Vec<Deployed>> {
    session.cloudformation().list(&stack_prefix(session.env())).await
}

/// Of `named`, the stacks sentinel-tvm deployed for `env`, in the order they deploy.
pub fn environment_stacks_of(env: &str, mut stacks: Vec<Deployed>) -> Vec<Deployed> {
    // Guardrail stacks are the organization's account's, and may be another TVM account's of the
    // same environment name: `steps::scp` finds them and decides whose they are.
    stacks.retain(|s| {
        s.tags.get(TAG_ENV).map(String::as_str) == Some(env)
            && Part::from_stack_name(env, &s.name).is_some_and(|p| !matches!(p, Part::Guardrail { .. }))
    });
    stacks.sort_by_key(|s| Part::from_stack_name(env, &s.name).map(|p| (p.wave(), p)));
    stacks
}
