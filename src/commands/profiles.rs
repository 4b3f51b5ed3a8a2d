//! `sentinel-tvm profiles`: what the TVM would vend to you, one `NAME<TAB>ROLE_ARN` per line
//! (with `--output json`, the TVM's own JSON object).
//!
//! `--write-config` writes an AWS config profile for each instead (`tvm::aws_config`): a
//! `credential_process` line calling the TVM at its URL, signing with a base profile that does not
//! itself run sentinel-tvm, and a `region =` line. It shows the changes, asks (`--yes` answers),
//! and replaces the file in one step; a second run with the same answer changes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::aws::profile_is_defined;
use crate::cli::{GlobalArgs, ProfilesArgs};
use crate::commands::steps::tvm::{Connected, Refused, aws_config_file, aws_credentials_file, refused_or};
use crate::error::{Fixable, Outcome};
use crate::settings::process_environment;
use crate::tvm::aws_config::{self, Change, TvmProfile};
use crate::tvm::wire;
use crate::ui::output::Reporter;
use crate::ui::{prompt, render};

/// `profiles`: one per line (or the TVM's JSON with `--output json`); `--write-config` writes them.
pub async fn run(global: &GlobalArgs, out: &Reporter, args: &ProfilesArgs) -> Result<Outcome> {
    let connected = Connected::open(global, &args.tvm).await?;
    let answer = connected.profiles().await?;
    if answer.status != 200 {
        return refused_or(out, Refused(wire::refusal(&answer)).into());
    }
    let body: Value = serde_json::from_str(&answer.body).context("the TVM's profiles are not JSON")?;
    let Some(profiles) = body.get("profiles").and_then(|p| p.as_array()) else {
        bail!("the TVM's answer has no profiles list: {body}");
    };
    let listed: Vec<(&str, &str)> = profiles
        .iter()
        .map(|p| (p["name"].as_str().unwrap_or_default(), p["role_arn"].as_str().unwrap_or_default()))
        .collect();
    if listed.is_empty() {
        out.stderr_block("the TVM's policy grants you no profile\n");
    }
    if args.write_config && !listed.is_empty() {
        let names = listed.iter().map(|(name, _)| name.to_string()).collect();
        return write_config(global, out, args, &connected, names);
    }
    if args.write_config {
        // Nothing the TVM would vend you, so nothing to write (said above).
        return Ok(Outcome::Success);
    }
    if out.is_json() {
        out.json(body.clone());
        return Ok(Outcome::Success);
    }
    out.data(&listed.iter().map(|(name, role)| format!("{name}\t{role}\n")).collect::<String>());
    Ok(Outcome::Success)
}

/// `--write-config`: the profiles `names` into the AWS config file, after showing the changes.
fn write_config(
    global: &GlobalArgs,
    out: &Reporter,
    args: &ProfilesArgs,
    connected: &Connected,
    names: Vec<String>,
) -> Result<Outcome> {
    let no_home =
        || Fixable::new("there is no home directory to find the AWS config file in", "name it with `--file PATH`");
    let path = args.file.clone().or_else(aws_config_file).ok_or_else(no_home)?;
    let config = read_or_empty(&path)?;
    let credentials = aws_credentials_file().map(|p| read_or_empty(&p)).transpose()?.unwrap_or_default();
    let base = base_profile(args, connected, &config, &credentials)?;
    aws_config::check_base(&base, &names, &config, &credentials)?;
    let program = std::env::current_exe().context("cannot tell where this sentinel-tvm is, for the written lines")?;
    let program = program.to_str().context("this sentinel-tvm's path is not UTF-8, which a config line cannot hold")?;
    let region = connected.client.region();
    let door = aws_config::door_flags(&connected.url, region);
    let (usable, unusable): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|name| wire::check_profile(name).is_ok());
    for name in unusable {
        out.warn(&format!("`{name}` cannot be an AWS profile's name; left out"));
    }
    let profiles: Vec<TvmProfile> = usable
        .into_iter()
        .map(|name| TvmProfile {
            name: name.clone(),
            credential_process: aws_config::credential_process_command(program, name, &connected.url, &door, &base),
            region: region.to_string(),
        })
        .collect();
    let shown = path.display().to_string();
    let written = aws_config::write_profiles(&config, &profiles)
        .map_err(|fixable| Fixable::new(format!("{shown}: {}", fixable.message), fixable.hint))?;
    for change in &written.changes {
        out.json(render::json::profile_change(&shown, change));
    }
    out.data(&render::profile_changes(&shown, &written.changes));
    if written.changes.iter().all(|c| c.change == Change::Unchanged) {
        out.note(&format!("{shown} already has these profiles; nothing to write"));
        return Ok(Outcome::Success);
    }
    let prompt = prompt::for_session(!global.yes && !global.non_interactive);
    let question = format!("Write these profiles to {shown}?");
    if !global.yes && !out.suspend(|| prompt::agreed(prompt.as_ref(), &question, false, "--yes"))? {
        out.note("nothing written");
        return Ok(Outcome::Refused);
    }
    replace_file(&path, &written.text)?;
    let example = profiles.first().map(|p| p.name.as_str()).unwrap_or("<profile>");
    out.note(&format!("wrote {shown}; try `AWS_PROFILE={example} aws sts get-caller-identity`"));
    Ok(Outcome::Success)
}

/// `aws_config::base_profile`, and the files must define it.
fn base_profile(args: &ProfilesArgs, connected: &Connected, config: &str, credentials: &str) -> Result<String> {
    let keys_exported = process_environment("AWS_ACCESS_KEY_ID").is_some_and(|key| !key.is_empty());
    let default_defined = profile_is_defined(config, credentials, "default");
    let base = aws_config::base_profile(
        args.base_profile.as_deref(),
        connected.profile.as_deref(),
        keys_exported,
        default_defined,
    )?;
    if !profile_is_defined(config, credentials, &base) {
        bail!(Fixable::new(
            format!(
                "the base profile `{base}` is not defined in the AWS config file being written or the credentials file"
            ),
            "name a profile that exists there with `--base-profile NAME` (`aws configure list-profiles` lists them)",
        ));
    }
    Ok(base)
}

/// The file's text; a file that does not exist yet is empty.
fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replaces the file at `path` (through a symbolic link, its target) with `text` in one step: a
/// sibling file written and synced, then renamed over it, with the old file's permissions (a new
/// one gets 0600, in a directory created 0700).
fn replace_file(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mode = std::fs::metadata(&target).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o600);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "config".into());
    let temporary: PathBuf = dir.join(format!(".{name}.sentinel-tvm.{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&temporary)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("cannot write {}", target.display()))
}
