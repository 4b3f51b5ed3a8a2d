//! The configuration file, `sentinel-tvm.yaml`: one section per environment, each the same
//! settings the deploy flags take (`EnvironmentConfig` is both). Reading refuses unknown keys and
//! names the line of any problem; writing keeps a short header and nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::error::Fixable;

pub const DEFAULT_FILE: &str = "sentinel-tvm.yaml";

const HEADER: &str = "\
# sentinel-tvm configuration: one section per environment, written by `sentinel-tvm install`
# and read by every other command. Flags override what is here. Schema: docs/CONFIGURATION.md
";

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentConfig>,
}

/// How one environment is deployed. Every field is optional: a missing one falls back to the
/// documented default. The doc comments are both `--help` and the file's schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// AWS named profile for this environment (flag: the global `--aws-profile`).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,

    /// AWS region for this environment (flag: the global `--region`).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,

    /// Refuse to deploy unless the credentials belong to this 12-digit account.
    #[arg(long, value_name = "ACCOUNT_ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_account: Option<String>,

    /// Lambda architecture; the code is built for the same one [default: arm64].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,

    /// A profile to protect, as NAME or NAME=POLICY_ARN[,POLICY_ARN…] (repeatable). Clients ask
    /// for `<env>-NAME` and get the role `<role-prefix><env>-NAME`. The smoke profile is always added.
    #[arg(long = "protect", value_name = "PROFILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect: Option<Vec<String>>,

    /// IAM role allowed to call the TVM: the client policy is attached to it (repeatable).
    #[arg(long = "invoker-role", value_name = "ROLE_NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoker_roles: Option<Vec<String>>,

    /// IAM user allowed to call the TVM (repeatable).
    #[arg(long = "invoker-user", value_name = "USER_NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoker_users: Option<Vec<String>>,

    /// IAM group allowed to call the TVM (repeatable).
    #[arg(long = "invoker-group", value_name = "GROUP_NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoker_groups: Option<Vec<String>>,

    /// The TVM policy (YAML); without it, a starter policy is generated.
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_file: Option<PathBuf>,

    /// Days the Lambda's decision log and the API access log are kept [default: 90].
    #[arg(long, value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<u32>,

    /// Protected role names start with this, then `<env>-` [default: SentinelProtected-].
    #[arg(long, value_name = "PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_prefix: Option<String>,

    /// Another account whose protected roles (`<role-prefix><env>-*`) the TVM may assume
    /// (repeatable; default: only this account). Callers stay this account's: HTTP APIs admit
    /// IAM callers only from their own account, so others call through a role here.
    #[arg(long = "allowed-account", value_name = "ACCOUNT_ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_accounts: Option<Vec<String>>,

    /// If set, callers must belong to this AWS Organization (o-…).
    #[arg(long, value_name = "ORG_ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_org_id: Option<String>,

    /// Requests per caller per window, per Lambda instance; 0 disables [default: 100].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,

    /// The rate limit's window in seconds [default: 60].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_window_seconds: Option<u32>,

    /// Credential lifetime when neither request nor policy says, 900..=3600 [default: 900].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_duration_seconds: Option<u32>,

    /// API-wide burst limit [default: 50].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_burst_limit: Option<u32>,

    /// API-wide steady requests per second [default: 20].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_rate_limit: Option<u32>,

    /// `required`: every request carries a caller proof (a signed sts:GetCallerIdentity the TVM
    /// verifies itself), so nobody who can merely invoke the function can claim to be someone
    /// else. `off` only for legacy clients that sign the API request alone [default: required].
    #[arg(long, value_enum, value_name = "MODE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_proof: Option<IdentityProof>,

    /// Protected roles trust the TVM only when it stamps a `sentinel.*` SourceIdentity
    /// [default: true]. Turn off only for an emulator that does not evaluate
    /// `sts:SourceIdentity` (MiniStack).
    #[arg(long, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_source_identity: Option<bool>,

    /// Principals (ARN patterns) the smoke-test rule admits to the smoke profile; every install
    /// and upgrade adds the deploying principal, so the list only grows (repeatable).
    #[arg(long = "smoke-principal", value_name = "ARN_PATTERN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke_principals: Option<Vec<String>>,

    /// The Service Control Policy that makes assuming protected roles around the TVM impossible:
    /// `enforce` deploys it, `audit` only counts such attempts (a metric filter and alarm on a
    /// CloudTrail log group) [default: off].
    #[arg(long, value_enum, value_name = "MODE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scp_mode: Option<ScpMode>,

    /// An organizational unit (ou-…) or account the SCP is attached to (repeatable; required for
    /// `enforce`, never the root by default).
    #[arg(long = "scp-target", value_name = "ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scp_targets: Option<Vec<String>>,

    /// A role the SCP still lets assume protected roles directly, for emergencies (repeatable;
    /// required for `enforce` unless --no-break-glass).
    #[arg(long = "break-glass-role-arn", value_name = "ARN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass_role_arns: Option<Vec<String>>,

    /// Who may change the TVM once the SCP is enforced: its code, configuration, policy,
    /// execution role, protected roles and stacks (repeatable). An IAM role ARN with its path
    /// (`arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_…`),
    /// a user ARN or an account's root; a `*` only at the end [default: the installing
    /// principal, with its path].
    #[arg(long = "deployer", value_name = "ARN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployers: Option<Vec<String>>,

    /// The Resource Control Policy: denies assuming this environment's protected roles to every
    /// principal but the execution role and break-glass, including principals outside the
    /// organization, which no SCP restricts. Needs `scp_mode: enforce` [default: off].
    #[arg(long, value_enum, value_name = "MODE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcp_mode: Option<RcpMode>,

    /// Enforce the SCP without any break-glass role.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_break_glass: Option<bool>,

    /// The strict SCP: the execution role's own credentials are denied outside the TVM function
    /// (`lambda:SourceFunctionArn`) [default: true].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scp_strict: Option<bool>,

    /// AWS named profile for the organization's management account (or a delegated
    /// administrator), where the SCP stack lives [default: the same credentials].
    #[arg(long, value_name = "PROFILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_profile: Option<String>,

    /// The CloudTrail log group `audit` watches (required for `audit`).
    #[arg(long, value_name = "LOG_GROUP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trail_log_group: Option<String>,

    /// An SNS topic the `audit` alarm notifies [default: none].
    #[arg(long, value_name = "TOPIC_ARN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_topic_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityProof {
    #[default]
    Required,
    Off,
}

impl IdentityProof {
    /// What `off` gives up, said wherever it is in force.
    pub const OFF_WARNING: &str = "identity_proof is off: anyone allowed lambda:InvokeFunction on the TVM function can hand it an event naming someone else and receive that person's credentials; leave it `required` (the default) unless a legacy client cannot send caller proofs";

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProof::Required => "required",
            IdentityProof::Off => "off",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScpMode {
    #[default]
    Off,
    Audit,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RcpMode {
    #[default]
    Off,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[default]
    Arm64,
    #[value(name = "x86_64", alias = "x86-64")]
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    /// As CloudFormation and cargo-lambda spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

/// Where the configuration lives: `--config`, else `sentinel-tvm.yaml` here.
pub fn path(flag: Option<&Path>) -> PathBuf {
    flag.map_or_else(|| PathBuf::from(DEFAULT_FILE), Path::to_path_buf)
}

/// Reads the file; a missing file is `None` (nothing saved yet), anything unreadable an error.
pub fn load(path: &Path) -> Result<Option<ConfigFile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let file = parse(&text).map_err(|problem| {
        Fixable::new(
            format!("`{}` is not a valid sentinel-tvm configuration: {problem}", path.display()),
            "fix that line, or move the file away and run `sentinel-tvm install` to write a new one",
        )
    })?;
    Ok(Some(with_paths_from(file, config_dir(path))))
}

/// Parses the file's text; the error names the line.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        let message = error.to_string();
        message.strip_prefix("error: ").unwrap_or(&message).to_string()
    })
}

/// Writes the file (header, then YAML), replacing it whole: written to a temporary file beside
/// it and renamed over it, so an interrupted save never leaves half a file.
pub fn save(path: &Path, config: &ConfigFile) -> Result<()> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let config = with_paths_for(config.clone(), config_dir(path), &cwd);
    let yaml = serde_saphyr::to_string(&config).context("cannot render the configuration as YAML")?;
    replace_file(path, format!("{HEADER}{yaml}").as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// Replaces `path` with `bytes` atomically. The temporary file has a random name in the same
/// folder (a rename stays on one file system) and is created exclusively (`O_CREAT|O_EXCL`), so
/// a file or symlink planted under a predictable name is never written through; its mode is
/// 0600 from the start, so nobody else can read it or open it for writing in between.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match config_dir(path) {
        dir if dir.as_os_str().is_empty() => Path::new("."),
        dir => dir,
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for _ in 0..8 {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|error| Error::other(format!("no randomness: {error}")))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let temporary = dir.join(format!(".{name}.{suffix}.tmp"));
        let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        };
        let written =
            file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| std::fs::rename(&temporary, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        return written;
    }
    Err(Error::new(ErrorKind::AlreadyExists, "no free name for a temporary file"))
}

/// The folder a config file's relative paths are relative to (empty: the current one).
fn config_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

/// As read: a relative `policy_file` is relative to the config file's folder, so the file means
/// the same whichever folder a command runs in. Paths here are relative to the current folder.
fn with_paths_from(mut file: ConfigFile, dir: &Path) -> ConfigFile {
    for section in file.environments.values_mut() {
        if let Some(policy) = section.policy_file.as_mut().filter(|p| p.is_relative()) {
            *policy = dir.join(&*policy);
        }
    }
    file
}

/// As written: the inverse of `with_paths_from`. A path (from a flag, relative to `cwd`) that
/// is not inside the config file's folder is written absolute.
fn with_paths_for(mut file: ConfigFile, dir: &Path, cwd: &Path) -> ConfigFile {
    for section in file.environments.values_mut() {
        if let Some(policy) = section.policy_file.as_mut().filter(|p| p.is_relative()) {
            *policy = match policy.strip_prefix(dir) {
                Ok(inside) => inside.to_path_buf(),
                Err(_) => cwd.join(&*policy),
            };
        }
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_reads_back_the_same() {
        let mut config = ConfigFile::default();
        config.environments.insert(
            "main".into(),
            EnvironmentConfig {
                region: Some("eu-west-2".into()),
                expected_account: Some("111122223333".into()),
                architecture: Some(Architecture::X86_64),
                protect: Some(vec!["prod=arn:aws:iam::aws:policy/ReadOnlyAccess".into(), "billing".into()]),
                invoker_roles: Some(vec!["Developers".into()]),
                log_retention_days: Some(30),
                ..EnvironmentConfig::default()
            },
        );
        let dir = std::env::temp_dir().join(format!("sentinel-tvm-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sentinel-tvm.yaml");
        save(&file, &config).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("# sentinel-tvm configuration"), "{text}");
        assert!(text.contains("architecture: x86_64"), "{text}");
        assert!(!text.contains("null"), "unset values are left out: {text}");
        assert_eq!(load(&file).unwrap(), Some(config));
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("sentinel-tvm.yaml")], "the temporary file is renamed into place");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Threat model T14: another local user who can write the folder plants a symlink where a
    /// save used to write its temporary file (`sentinel-tvm.yaml.tmp`); the save must not write
    /// through it, and the saved file is the owner's alone (0600).
    #[test]
    fn a_save_never_writes_through_a_planted_symlink_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sentinel-tvm-config-symlink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let file = dir.join("sentinel-tvm.yaml");
        std::os::unix::fs::symlink(&victim, dir.join("sentinel-tvm.yaml.tmp")).unwrap();

        save(&file, &ConfigFile::default()).unwrap();

        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "the symlink's target is untouched");
        assert!(std::fs::symlink_metadata(&file).unwrap().file_type().is_file(), "a file of its own");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&file).unwrap(), Some(ConfigFile::default()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn policy_paths_are_relative_to_the_config_file() {
        let file = |policy: &str| ConfigFile {
            environments: BTreeMap::from([(
                "main".into(),
                EnvironmentConfig { policy_file: Some(policy.into()), ..Default::default() },
            )]),
        };
        let policy = |file: ConfigFile| file.environments["main"].policy_file.clone().unwrap();
        let cwd = Path::new("/work/repo");
        for (dir, in_file, as_used) in [
            ("", "policy.yaml", "policy.yaml"),
            ("infra", "policy.yaml", "infra/policy.yaml"),
            ("infra", "../shared/policy.yaml", "infra/../shared/policy.yaml"),
            ("infra", "/etc/tvm/policy.yaml", "/etc/tvm/policy.yaml"),
        ] {
            let dir = Path::new(dir);
            assert_eq!(policy(with_paths_from(file(in_file), dir)), Path::new(as_used), "{in_file} read from {dir:?}");
            assert_eq!(
                policy(with_paths_for(file(as_used), dir, cwd)),
                Path::new(in_file),
                "{as_used} saved to {dir:?}"
            );
        }
        // A flag's path outside the config file's folder is saved absolute.
        assert_eq!(
            policy(with_paths_for(file("other/policy.yaml"), Path::new("infra"), cwd)),
            Path::new("/work/repo/other/policy.yaml")
        );
    }

    #[test]
    fn a_missing_file_is_nothing_saved_yet() {
        assert_eq!(load(Path::new("/nonexistent/sentinel-tvm.yaml")).unwrap(), None);
    }

    #[test]
    fn unknown_keys_and_yaml_errors_name_their_line() {
        for (text, expected) in [
            ("environments:\n  main:\n    region: eu-west-2\n    colour: blue\n", "line 4"),
            ("environments:\n  main:\n    architecture: sparc\n", "line 3"),
            ("environments:\n  main:\n    region: [eu\n", "line 3"),
            ("environment:\n  main: {}\n", "line 1"),
        ] {
            let problem = parse(text).expect_err(text);
            assert!(problem.contains(expected), "{problem:?} should name {expected}");
        }
    }
}
