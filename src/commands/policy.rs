//! `sentinel-tvm policy validate FILE`: the Lambda's own parser over a policy file; and
//! `policy init [FILE]`: a commented starter policy from the saved settings, admitting the saved
//! invokers. No AWS, except `iam:GetUser` for the path of each saved invoker user (a user's ARN
//! has it, and only IAM knows it).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::aws::sdk_config;
use crate::cli::GlobalArgs;
use crate::commands::steps::starter;
use crate::config::{self, EnvironmentConfig};
use crate::deploy::policy::{self, Admitted};
use crate::error::{Fixable, Outcome};
use crate::model::connection::Connection;
use crate::names::partition_of_region;
use crate::settings::{Invokers, Loaded, Sources};
use crate::ui::output::Reporter;
use crate::ui::wizard::DEFAULT_ENV;

/// Valid: exit 0, with a warning for each condition that holds for more callers than its author
/// likely meant (`policy::warnings`); invalid: exit 2, each problem with its line and the fix.
pub fn validate(out: &Reporter, file: &Path) -> Result<Outcome> {
    let policy = policy::validate_file(file)?;
    let rules = policy.rules.len();
    let warnings = policy::warnings(&policy);
    for warning in &warnings {
        out.warn(&format!("{}: {warning}", file.display()));
    }
    out.json(json!({"type": "result", "command": "policy validate", "outcome": "valid", "file": file, "rules": rules, "warnings": warnings}));
    out.data(&format!("{}: valid ({rules} rule{})\n", file.display(), if rules == 1 { "" } else { "s" }));
    Ok(Outcome::Success)
}

/// Writes the starter for the environment (`--env`, SENTINEL_TVM_ENV, the config file's only
/// one, else `main`), granting its saved protected profiles to its saved invokers (and to
/// nobody without any, or before the first install saved its account).
pub async fn init(global: &GlobalArgs, out: &Reporter, file: &Path, force: bool) -> Result<Outcome> {
    if file.exists() && !force {
        bail!(Fixable::new(
            format!("`{}` already exists", file.display()),
            "choose another file name, or pass --force to replace it"
        ));
    }
    let config_file = config::load(&config::path(global.config.as_deref()))?;
    let selection = global.selection();
    let flags = EnvironmentConfig::default();
    let sources = Sources::new(&selection, &flags, config_file.as_ref());
    let env = match sources.env_name() {
        Ok(env) => env,
        Err(_) if selection.env.is_none() && crate::settings::process_environment("SENTINEL_TVM_ENV").is_none() => {
            DEFAULT_ENV.to_string()
        }
        Err(invalid) => return Err(invalid.into()),
    };
    let Loaded { target, given: saved, .. } = sources.load(env)?;
    let env = target.env;
    let profiles: Vec<String> = saved
        .protect
        .iter()
        .flatten()
        .map(|entry| format!("{env}-{}", entry.split_once('=').map_or(entry.as_str(), |(name, _)| name)))
        .collect();
    let account = saved.expected_account.as_deref();
    let partition = saved_partition(selection.region.as_deref(), &saved);
    let admitted = saved_invokers(&target.connection, partition, &saved, account).await?;
    if let Some(account) = account {
        for warning in admitted.group_warnings(partition, account) {
            out.warn(&warning);
        }
    }
    let text = policy::commented_starter(&env, account, &profiles, &admitted);
    std::fs::write(file, &text).with_context(|| format!("cannot write `{}`", file.display()))?;
    let active = policy::validate_text(&text)?.rules.len();
    out.json(json!({"type": "result", "command": "policy init", "outcome": "written", "file": file, "env": env, "active_rules": active}));
    out.data(&format!(
        "{}: a starter policy for `{env}` with {active} active rule{}; edit it, check it with `sentinel-tvm policy validate {0}`, deploy it with `--policy-file {0}`\n",
        file.display(),
        if active == 1 { "" } else { "s" }
    ));
    Ok(Outcome::Success)
}

/// The saved invokers as the starter names them in the saved account (none without one).
async fn saved_invokers(
    connection: &Connection,
    partition: &str,
    saved: &EnvironmentConfig,
    account: Option<&str>,
) -> Result<Admitted> {
    let invokers = Invokers {
        roles: saved.invoker_roles.clone().unwrap_or_default(),
        users: saved.invoker_users.clone().unwrap_or_default(),
        groups: saved.invoker_groups.clone().unwrap_or_default(),
    };
    let Some(account) = account else {
        return Ok(Admitted { groups: invokers.groups, ..Admitted::default() });
    };
    // Only users need AWS (their paths): roles and groups are named without a call.
    let sdk = if invokers.users.is_empty() {
        aws_config::SdkConfig::builder().build()
    } else {
        sdk_config(connection).await?
    };
    starter::admitted(&sdk, partition, account, &invokers).await.map_err(|error| {
        if error.is::<Fixable>() {
            return error;
        }
        Fixable::new(
            format!("cannot read the saved invoker users' paths (iam:GetUser): {error:#}"),
            format!("run it with credentials for account {account} (`--aws-profile`), or leave the users out of `invoker_users` and write their rule by hand"),
        )
        .into()
    })
}

/// The saved environment's partition, from its region (`--region`, else the saved one; no ARN is
/// at hand). AWS_REGION of one shell does not move a saved environment to another partition.
fn saved_partition(flag: Option<&str>, saved: &EnvironmentConfig) -> &'static str {
    flag.or(saved.region.as_deref()).map_or("aws", partition_of_region)
}
