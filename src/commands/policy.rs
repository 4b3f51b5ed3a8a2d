//! `sentinel-tvm policy validate FILE`: the Lambda's own parser over a policy file; and
//! `policy init [FILE]`: a commented starter policy from the saved settings. No AWS.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::config::{self, EnvironmentConfig};
use crate::deploy::policy;
use crate::error::{Fixable, Outcome};
use crate::settings::Sources;
use crate::ui::output::Reporter;
use crate::ui::wizard::DEFAULT_ENV;

pub fn validate(out: &Reporter, file: &Path) -> Result<Outcome> {
    let policy = policy::validate_file(file)?;
    let rules = policy.rules.len();
    out.json(json!({"type": "result", "command": "policy validate", "outcome": "valid", "file": file, "rules": rules}));
    out.data(&format!("{}: valid ({rules} rule{})\n", file.display(), if rules == 1 { "" } else { "s" }));
    Ok(Outcome::Success)
}

/// Writes the starter for the environment (`--env`, SENTINEL_TVM_ENV, the config file's only
/// one, else `main`), granting its saved protected profiles to its saved account.
pub fn init(global: &GlobalArgs, out: &Reporter, file: &Path, force: bool) -> Result<Outcome> {
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
    let saved = sources.merged(&env).0;
    let profiles: Vec<String> = saved
        .protect
        .iter()
        .flatten()
        .map(|entry| format!("{env}-{}", entry.split_once('=').map_or(entry.as_str(), |(name, _)| name)))
        .collect();
    let text = policy::commented_starter(&env, saved.expected_account.as_deref(), &profiles);
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
