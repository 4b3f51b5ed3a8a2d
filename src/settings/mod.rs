//! Resolved settings for one environment. Precedence is decided here and only here:
//! flags > environment variables > config file > prompt (terminal only, added by the wizard) >
//! default. Everything is validated on the way, and every error names the flag and the config
//! key that supply the value.

use std::path::PathBuf;

use crate::config::{Architecture, ConfigFile, EnvironmentConfig, IdentityProof, RcpMode, ScpMode};
use crate::error::Fixable;
use crate::model::connection::Connection;
use crate::names::{
    DEFAULT_ROLE_PREFIX, MAX_ROLE_NAME, SMOKE_PROFILE, is_account_id, is_env_name, is_exempt_principal, is_org_id,
    is_protected_profile, is_role_prefix, is_scp_target, protected_role_name,
};

/// CloudWatch Logs accepts only these retention periods.
pub const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// Everything needed to deploy or inspect one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub env: String,
    pub connection: Connection,
    pub deploy: Deploy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    pub expected_account: Option<String>,
    pub architecture: Architecture,
    /// The smoke profile first, then the configured ones.
    pub protected: Vec<ProtectedProfile>,
    pub invokers: Invokers,
    pub policy_file: Option<PathBuf>,
    pub log_retention_days: u32,
    pub role_prefix: String,
    pub allowed_accounts: Vec<String>,
    pub allowed_org_id: Option<String>,
    pub rate_limit: u32,
    pub rate_window_seconds: u32,
    pub default_duration_seconds: u32,
    pub throttling_burst_limit: u32,
    pub throttling_rate_limit: u32,
    pub require_source_identity: bool,
    /// Whether the TVM requires a caller proof on every request.
    pub identity_proof: IdentityProof,
    /// As saved; the deploying principal is added when deploying (`Session::smoke_principals`).
    pub smoke_principals: Vec<String>,
    pub scp: Scp,
}

/// The optional Service Control Policy, validated for its mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scp {
    pub mode: ScpMode,
    pub targets: Vec<String>,
    pub break_glass_role_arns: Vec<String>,
    /// As configured; empty means the installing principal (resolved with its path when
    /// deploying, `commands::steps::deployers`), never nobody.
    pub deployers: Vec<String>,
    pub rcp_mode: RcpMode,
    pub strict: bool,
    pub org_profile: Option<String>,
    pub trail_log_group: Option<String>,
    pub alarm_topic_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedProfile {
    /// Without the environment: `prod`. Clients ask for `<env>-prod`.
    pub name: String,
    pub managed_policy_arns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invokers {
    pub roles: Vec<String>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

/// The global flags that choose the environment and how to reach AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub env: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Where values come from, highest precedence first (prompts are the wizard's, not here).
pub struct Sources<'a> {
    pub selection: &'a Selection,
    pub flags: &'a EnvironmentConfig,
    /// Environment variables (`SENTINEL_TVM_ENV`).
    pub environment: &'a dyn Fn(&str) -> Option<String>,
    pub file: Option<&'a ConfigFile>,
}

/// A value a flag gave that the config file had otherwise: worth a one-line notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub key: &'static str,
    pub flag: &'static str,
}

fn no_environment(_: &str) -> Option<String> {
    None
}

/// The process's environment variables, as `Sources` reads them.
pub fn process_environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl<'a> Sources<'a> {
    /// Flags, the process's environment variables, and the config file (if any).
    pub fn new(selection: &'a Selection, flags: &'a EnvironmentConfig, file: Option<&'a ConfigFile>) -> Self {
        Sources { selection, flags, environment: &process_environment, file }
    }

    /// Flags alone: no environment variables, no file (what tests and offline defaults start from).
    pub fn flags_only(selection: &'a Selection, flags: &'a EnvironmentConfig) -> Self {
        Sources { selection, flags, environment: &no_environment, file: None }
    }
}

impl Sources<'_> {
    /// The environment name: `--env`, `SENTINEL_TVM_ENV`, or the config file's only environment.
    pub fn env_name(&self) -> Result<String, Fixable> {
        let from_file = || {
            let environments = &self.file?.environments;
            (environments.len() == 1).then(|| environments.keys().next().cloned()).flatten()
        };
        let env = self.selection.env.clone().or_else(|| (self.environment)("SENTINEL_TVM_ENV")).or_else(from_file);
        let env = env.ok_or_else(|| {
            let known: Vec<&String> = self.file.map(|f| f.environments.keys().collect()).unwrap_or_default();
            let hint = if known.is_empty() {
                "name it with `--env NAME` (or SENTINEL_TVM_ENV), e.g. `--env main`".to_string()
            } else {
                format!("name one with `--env NAME`; the config file has {}", join_quoted(&known))
            };
            Fixable::new("no environment given", hint)
        })?;
        validate_env_name(&env)?;
        Ok(env)
    }

    /// The file's section for `env` with the flags laid over it, and which flags overrode it.
    pub fn merged(&self, env: &str) -> (EnvironmentConfig, Vec<Override>) {
        let file = self.file.and_then(|file| file.environments.get(env)).cloned().unwrap_or_default();
        overlay(self.flags, &file)
    }

    /// Resolves everything, applying defaults for what neither flags nor file give.
    pub fn resolve(&self) -> Result<(Settings, Vec<Override>), Fixable> {
        let env = self.env_name()?;
        let (merged, mut overrides) = self.merged(&env);
        let env_var = |names: &[&str]| names.iter().find_map(|name| (self.environment)(name).filter(|v| !v.is_empty()));
        let endpoint_url = self.selection.endpoint_url.clone().filter(|url| !url.trim().is_empty());
        if let Some(url) = endpoint_url.as_deref().filter(|url| !is_http_url(url)) {
            return Err(Fixable::new(
                format!("`{url}` is not a valid endpoint URL (--endpoint-url or AWS_ENDPOINT_URL)"),
                "give a URL like `http://127.0.0.1:4566`, or unset AWS_ENDPOINT_URL to talk to AWS itself",
            ));
        }
        let (profile, profile_override) = connection_value(
            self.selection.profile.as_deref(),
            ("--aws-profile", "AWS_PROFILE", env_var(&["AWS_PROFILE"])),
            merged.profile.as_deref(),
            "profile",
        );
        let (region, region_override) = connection_value(
            self.selection.region.as_deref(),
            ("--region", "AWS_REGION", env_var(&["AWS_REGION", "AWS_DEFAULT_REGION"])),
            merged.region.as_deref(),
            "region",
        );
        overrides.extend(profile_override.into_iter().chain(region_override));
        let connection = Connection { profile, region, endpoint_url };
        let deploy = deploy_settings(&env, &merged)?;
        Ok((Settings { env, connection, deploy }, overrides))
    }
}

/// A connection value: the flag, else the environment variable, else the file; and the notice
/// due when the winner differs from what the file saved.
fn connection_value(
    flag: Option<&str>,
    (flag_name, variable_name, variable): (&'static str, &'static str, Option<String>),
    file: Option<&str>,
    key: &'static str,
) -> (Option<String>, Option<Override>) {
    let (value, source) = match (flag, variable) {
        (Some(flag), _) => (Some(flag.to_string()), flag_name),
        (None, Some(variable)) => (Some(variable), variable_name),
        (None, None) => (file.map(str::to_string), ""),
    };
    let overridden = file.is_some() && !source.is_empty() && value.as_deref() != file;
    (value, overridden.then_some(Override { key, flag: source }))
}

/// The profile and region to save for an environment: the flags' when given, else what the
/// file had; a region the SDK found elsewhere (AWS_REGION, the profile) only when the file had
/// none, so the environment remembers where it lives. AWS_PROFILE and AWS_REGION of one shell
/// never silently rewrite the file.
pub fn saved_connection(
    selection: &Selection,
    file: &EnvironmentConfig,
    resolved_region: Option<String>,
) -> (Option<String>, Option<String>) {
    let profile = selection.profile.clone().or_else(|| file.profile.clone());
    let region = selection.region.clone().or_else(|| file.region.clone()).or(resolved_region);
    (profile, region)
}

/// `flags` over `file`, field by field (also the flags over `install`'s answers), with the
/// overrides worth a notice.
pub fn overlay(flags: &EnvironmentConfig, file: &EnvironmentConfig) -> (EnvironmentConfig, Vec<Override>) {
    let mut overrides = Vec::new();
    macro_rules! pick {
        ($field:ident, $key:literal, $flag:literal) => {{
            if flags.$field.is_some() && file.$field.is_some() && flags.$field != file.$field {
                overrides.push(Override { key: $key, flag: $flag });
            }
            flags.$field.clone().or_else(|| file.$field.clone())
        }};
    }
    let merged = EnvironmentConfig {
        profile: file.profile.clone(),
        region: file.region.clone(),
        expected_account: pick!(expected_account, "expected_account", "--expected-account"),
        architecture: pick!(architecture, "architecture", "--architecture"),
        protect: pick!(protect, "protect", "--protect"),
        invoker_roles: pick!(invoker_roles, "invoker_roles", "--invoker-role"),
        invoker_users: pick!(invoker_users, "invoker_users", "--invoker-user"),
        invoker_groups: pick!(invoker_groups, "invoker_groups", "--invoker-group"),
        policy_file: pick!(policy_file, "policy_file", "--policy-file"),
        log_retention_days: pick!(log_retention_days, "log_retention_days", "--log-retention-days"),
        role_prefix: pick!(role_prefix, "role_prefix", "--role-prefix"),
        allowed_accounts: pick!(allowed_accounts, "allowed_accounts", "--allowed-account"),
        allowed_org_id: pick!(allowed_org_id, "allowed_org_id", "--allowed-org-id"),
        rate_limit: pick!(rate_limit, "rate_limit", "--rate-limit"),
        rate_window_seconds: pick!(rate_window_seconds, "rate_window_seconds", "--rate-window-seconds"),
        default_duration_seconds: pick!(
            default_duration_seconds,
            "default_duration_seconds",
            "--default-duration-seconds"
        ),
        throttling_burst_limit: pick!(throttling_burst_limit, "throttling_burst_limit", "--throttling-burst-limit"),
        throttling_rate_limit: pick!(throttling_rate_limit, "throttling_rate_limit", "--throttling-rate-limit"),
        require_source_identity: pick!(require_source_identity, "require_source_identity", "--require-source-identity"),
        identity_proof: pick!(identity_proof, "identity_proof", "--identity-proof"),
        // A list that only grows: the file's entries and the flags' together.
        smoke_principals: union(&file.smoke_principals, &flags.smoke_principals),
        scp_mode: pick!(scp_mode, "scp_mode", "--scp-mode"),
        scp_targets: pick!(scp_targets, "scp_targets", "--scp-target"),
        break_glass_role_arns: pick!(break_glass_role_arns, "break_glass_role_arns", "--break-glass-role-arn"),
        deployers: pick!(deployers, "deployers", "--deployer"),
        rcp_mode: pick!(rcp_mode, "rcp_mode", "--rcp-mode"),
        no_break_glass: pick!(no_break_glass, "no_break_glass", "--no-break-glass"),
        scp_strict: pick!(scp_strict, "scp_strict", "--scp-strict"),
        org_profile: pick!(org_profile, "org_profile", "--org-profile"),
        trail_log_group: pick!(trail_log_group, "trail_log_group", "--trail-log-group"),
        alarm_topic_arn: pick!(alarm_topic_arn, "alarm_topic_arn", "--alarm-topic-arn"),
    };
    (merged, overrides)
}

/// Validates `merged` and fills in defaults.
pub fn deploy_settings(env: &str, merged: &EnvironmentConfig) -> Result<Deploy, Fixable> {
    let role_prefix = merged.role_prefix.clone().unwrap_or_else(|| DEFAULT_ROLE_PREFIX.into());
    // The TVM resolves profiles to roles by this prefix and accepts only this set in role names
    // (the contract's profile charset); 40 leaves room for the environment and a profile.
    if !is_role_prefix(&role_prefix) {
        return Err(invalid("--role-prefix", "role_prefix", &role_prefix, "a role prefix is 1-40 of A-Z a-z 0-9 _ -"));
    }
    if let Some(account) = merged.expected_account.as_deref().filter(|a| !is_account_id(a)) {
        return Err(invalid("--expected-account", "expected_account", account, "an account ID is 12 digits"));
    }
    let mut protected = vec![ProtectedProfile { name: SMOKE_PROFILE.into(), managed_policy_arns: Vec::new() }];
    for entry in merged.protect.iter().flatten() {
        let profile = parse_protect(entry)?;
        // IAM role names are unique regardless of case: `prod` and `Prod` would be one role.
        if protected.iter().any(|p| p.name.eq_ignore_ascii_case(&profile.name)) {
            let why = if profile.name.eq_ignore_ascii_case(SMOKE_PROFILE) {
                "`smoke` is reserved for the smoke test"
            } else {
                "each profile once"
            };
            return Err(invalid("--protect", "protect", entry, why));
        }
        protected.push(profile);
    }
    for profile in &protected {
        let role = protected_role_name(&role_prefix, env, &profile.name);
        if role.len() > MAX_ROLE_NAME {
            return Err(invalid(
                "--protect",
                "protect",
                &profile.name,
                &format!("the role name `{role}` would exceed IAM's 64 characters"),
            ));
        }
    }
    let log_retention_days = merged.log_retention_days.unwrap_or(90);
    if !LOG_RETENTION_DAYS.contains(&log_retention_days) {
        let allowed = LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", ");
        return Err(invalid(
            "--log-retention-days",
            "log_retention_days",
            &log_retention_days.to_string(),
            &format!("CloudWatch Logs accepts {allowed}"),
        ));
    }
    let allowed_accounts = merged.allowed_accounts.clone().unwrap_or_default();
    if let Some(account) = allowed_accounts.iter().find(|a| !is_account_id(a)) {
        return Err(invalid("--allowed-account", "allowed_accounts", account, "an account ID is 12 digits"));
    }
    if let Some(org) = merged.allowed_org_id.as_deref().filter(|org| !is_org_id(org)) {
        return Err(invalid("--allowed-org-id", "allowed_org_id", org, "an organization ID looks like `o-a1b2c3d4e5`"));
    }
    let identity_proof = merged.identity_proof.unwrap_or_default();
    if identity_proof == IdentityProof::Required
        && let Some(org) = merged.allowed_org_id.as_deref()
    {
        return Err(invalid(
            "--allowed-org-id",
            "allowed_org_id",
            org,
            "a caller proof cannot show the caller's organization (sts:GetCallerIdentity does not say), so no caller would be admitted: list the accounts with --allowed-account (config key `allowed_accounts`) instead",
        ));
    }
    let default_duration_seconds = merged.default_duration_seconds.unwrap_or(900);
    if !(900..=3600).contains(&default_duration_seconds) {
        return Err(invalid(
            "--default-duration-seconds",
            "default_duration_seconds",
            &default_duration_seconds.to_string(),
            "AWS caps role chaining at 900..=3600 seconds",
        ));
    }
    let rate_window_seconds = merged.rate_window_seconds.unwrap_or(60);
    if rate_window_seconds == 0 {
        return Err(invalid(
            "--rate-window-seconds",
            "rate_window_seconds",
            "0",
            "use at least 1 (and --rate-limit 0 to disable the limit)",
        ));
    }
    let throttling_burst_limit = merged.throttling_burst_limit.unwrap_or(50);
    let throttling_rate_limit = merged.throttling_rate_limit.unwrap_or(20);
    if let Some(pattern) = merged
        .smoke_principals
        .iter()
        .flatten()
        .find(|p| !(p.starts_with("arn:") && p.bytes().all(|b| b.is_ascii_graphic())))
    {
        return Err(invalid(
            "--smoke-principal",
            "smoke_principals",
            pattern,
            "an ARN pattern like `arn:aws:iam::111122223333:user/ci`",
        ));
    }
    if throttling_burst_limit == 0 || throttling_rate_limit == 0 {
        return Err(invalid(
            "--throttling-burst-limit/--throttling-rate-limit",
            "throttling_*",
            "0",
            "a throttle of 0 refuses every request",
        ));
    }
    Ok(Deploy {
        expected_account: merged.expected_account.clone(),
        architecture: merged.architecture.unwrap_or_default(),
        protected,
        invokers: Invokers {
            roles: merged.invoker_roles.clone().unwrap_or_default(),
            users: merged.invoker_users.clone().unwrap_or_default(),
            groups: merged.invoker_groups.clone().unwrap_or_default(),
        },
        policy_file: merged.policy_file.clone(),
        log_retention_days,
        role_prefix,
        allowed_accounts,
        allowed_org_id: merged.allowed_org_id.clone(),
        rate_limit: merged.rate_limit.unwrap_or(100),
        rate_window_seconds,
        default_duration_seconds,
        throttling_burst_limit,
        throttling_rate_limit,
        require_source_identity: merged.require_source_identity.unwrap_or(true),
        identity_proof,
        smoke_principals: merged.smoke_principals.clone().unwrap_or_default(),
        scp: scp_settings(merged)?,
    })
}

/// The SCP settings, each required for the mode that uses it.
fn scp_settings(merged: &EnvironmentConfig) -> Result<Scp, Fixable> {
    let scp = Scp {
        mode: merged.scp_mode.unwrap_or_default(),
        targets: merged.scp_targets.clone().unwrap_or_default(),
        break_glass_role_arns: merged.break_glass_role_arns.clone().unwrap_or_default(),
        deployers: merged.deployers.clone().unwrap_or_default(),
        rcp_mode: merged.rcp_mode.unwrap_or_default(),
        // On unless asked otherwise: the execution role's credentials leaked from the function
        // would otherwise assume every protected role from anywhere.
        strict: merged.scp_strict.unwrap_or(true),
        org_profile: merged.org_profile.clone(),
        trail_log_group: merged.trail_log_group.clone(),
        alarm_topic_arn: merged.alarm_topic_arn.clone().filter(|arn| !arn.is_empty()),
    };
    if let Some(target) = scp.targets.iter().find(|t| !is_scp_target(t)) {
        return Err(invalid(
            "--scp-target",
            "scp_targets",
            target,
            "a target is an OU (`ou-ab12-cd34ef56`), an account (12 digits) or, explicitly, the root (`r-ab12`)",
        ));
    }
    if let Some(arn) = scp.break_glass_role_arns.iter().find(|arn| !is_exempt_principal(arn, true)) {
        return Err(invalid(
            "--break-glass-role-arn",
            "break_glass_role_arns",
            arn,
            "a role ARN in one account like `arn:aws:iam::111122223333:role/BreakGlass`, a `*` only at its end after part of the name (`role/BreakGlass*`)",
        ));
    }
    if let Some(arn) = scp.deployers.iter().find(|arn| !is_exempt_principal(arn, false)) {
        return Err(invalid(
            "--deployer",
            "deployers",
            arn,
            "a role ARN with its path (`arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd`), a user ARN or `arn:aws:iam::111122223333:root`; a `*` only at its end after part of the name",
        ));
    }
    if scp.rcp_mode == RcpMode::Enforce && scp.mode != ScpMode::Enforce {
        return Err(Fixable::new(
            "`rcp_mode: enforce` needs `scp_mode: enforce`: the RCP shares the SCP's targets and break-glass roles, and deploys after it",
            "add `--scp-mode enforce` (config key `scp_mode`), or leave out `--rcp-mode`",
        ));
    }
    if let Some(topic) = scp.alarm_topic_arn.as_deref().filter(|t| !t.starts_with("arn:") || !t.contains(":sns:")) {
        return Err(invalid(
            "--alarm-topic-arn",
            "alarm_topic_arn",
            topic,
            "an SNS topic ARN like `arn:aws:sns:eu-west-2:111122223333:security`",
        ));
    }
    match scp.mode {
        ScpMode::Enforce if scp.targets.is_empty() => Err(Fixable::new(
            "`scp_mode: enforce` needs the OUs or accounts to attach the SCP to",
            "name each with `--scp-target ID` (config key `scp_targets`); the root is never chosen for you",
        )),
        ScpMode::Enforce if scp.break_glass_role_arns.is_empty() && merged.no_break_glass != Some(true) => {
            Err(Fixable::new(
                "`scp_mode: enforce` without a break-glass role would leave no way around the TVM in an emergency",
                "name one with `--break-glass-role-arn ARN` (config key `break_glass_role_arns`), or pass `--no-break-glass` if that is what you want",
            ))
        }
        ScpMode::Audit if scp.trail_log_group.is_none() => Err(Fixable::new(
            "`scp_mode: audit` needs the CloudTrail log group to watch",
            "name it with `--trail-log-group NAME` (config key `trail_log_group`)",
        )),
        _ => Ok(scp),
    }
}

/// Both lists, each entry once, in their order; `None` when both are.
fn union(first: &Option<Vec<String>>, second: &Option<Vec<String>>) -> Option<Vec<String>> {
    if first.is_none() && second.is_none() {
        return None;
    }
    let mut all: Vec<String> = Vec::new();
    for item in first.iter().flatten().chain(second.iter().flatten()) {
        if !all.contains(item) {
            all.push(item.clone());
        }
    }
    Some(all)
}

/// `NAME` or `NAME=POLICY_ARN[,POLICY_ARN…]`.
fn parse_protect(entry: &str) -> Result<ProtectedProfile, Fixable> {
    let (name, policies) = entry.split_once('=').unwrap_or((entry, ""));
    // The name is part of a stack name, and CloudFormation allows only letters, digits and `-`.
    if !is_protected_profile(name) {
        return Err(invalid(
            "--protect",
            "protect",
            entry,
            "a profile name is 1-24 of A-Z a-z 0-9 -, optionally =POLICY_ARN[,POLICY_ARN…]",
        ));
    }
    let managed_policy_arns: Vec<String> = policies.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect();
    if let Some(arn) = managed_policy_arns.iter().find(|arn| !(arn.starts_with("arn:") && arn.contains(":policy/"))) {
        return Err(invalid(
            "--protect",
            "protect",
            arn,
            "attach managed policies by ARN (`arn:aws:iam::aws:policy/ReadOnlyAccess`)",
        ));
    }
    Ok(ProtectedProfile { name: name.into(), managed_policy_arns })
}

/// The environment name's rule (`names::is_env_name`), as an error the user can act on.
pub fn validate_env_name(env: &str) -> Result<(), Fixable> {
    if is_env_name(env) {
        Ok(())
    } else {
        Err(Fixable::new(
            format!("`{env}` is not a valid environment name"),
            "use 1-16 lowercase letters and digits, starting with a letter (it becomes part of bucket, role and stack names)",
        ))
    }
}

/// `http://host[:port][/…]` or `https://…`, with a host.
fn is_http_url(text: &str) -> bool {
    let rest = text.strip_prefix("http://").or_else(|| text.strip_prefix("https://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', ':']) && !rest.contains(char::is_whitespace))
}

fn invalid(flag: &str, key: &str, value: &str, why: &str) -> Fixable {
    Fixable::new(format!("`{value}` is not a valid value for {flag} (config key `{key}`)"), why.to_string())
}

fn join_quoted(items: &[&String]) -> String {
    items.iter().map(|item| format!("`{item}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(env: &str, config: EnvironmentConfig) -> ConfigFile {
        ConfigFile { environments: [(env.to_string(), config)].into() }
    }

    fn resolve(
        selection: Selection,
        flags: EnvironmentConfig,
        file: Option<&ConfigFile>,
        vars: &[(&str, &str)],
    ) -> Result<(Settings, Vec<Override>), Fixable> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Sources { selection: &selection, flags: &flags, environment: &lookup, file }.resolve()
    }

    fn env(name: &str) -> Selection {
        Selection { env: Some(name.into()), ..Selection::default() }
    }

    #[test]
    fn defaults_fill_what_nothing_gives() {
        let (settings, overrides) = resolve(env("main"), EnvironmentConfig::default(), None, &[]).unwrap();
        assert!(overrides.is_empty());
        let deploy = settings.deploy;
        assert_eq!(deploy.architecture, Architecture::Arm64);
        assert_eq!(deploy.protected, vec![ProtectedProfile { name: "smoke".into(), managed_policy_arns: vec![] }]);
        assert_eq!((deploy.log_retention_days, deploy.rate_limit, deploy.rate_window_seconds), (90, 100, 60));
        assert_eq!(
            (deploy.default_duration_seconds, deploy.throttling_burst_limit, deploy.throttling_rate_limit),
            (900, 50, 20)
        );
        assert_eq!(deploy.role_prefix, "SentinelProtected-");
    }

    #[test]
    fn precedence_is_flags_then_environment_then_file() {
        let saved = file(
            "main",
            EnvironmentConfig {
                log_retention_days: Some(30),
                region: Some("eu-west-2".into()),
                architecture: Some(Architecture::X86_64),
                ..Default::default()
            },
        );
        let flags = EnvironmentConfig { log_retention_days: Some(7), ..Default::default() };
        for (selection, flags, vars, expected_env, retention, region) in [
            (Selection::default(), EnvironmentConfig::default(), vec![], "main", 30, Some("eu-west-2")),
            (Selection::default(), flags.clone(), vec![], "main", 7, Some("eu-west-2")),
            (
                Selection { region: Some("us-east-1".into()), ..Selection::default() },
                flags.clone(),
                vec![],
                "main",
                7,
                Some("us-east-1"),
            ),
            (
                Selection::default(),
                EnvironmentConfig::default(),
                vec![("SENTINEL_TVM_ENV", "other")],
                "other",
                90,
                None,
            ),
            (
                env("main"),
                EnvironmentConfig::default(),
                vec![("SENTINEL_TVM_ENV", "other")],
                "main",
                30,
                Some("eu-west-2"),
            ),
        ] {
            let (settings, _) = resolve(
                selection.clone(),
                flags,
                Some(&saved),
                &vars.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            )
            .unwrap();
            assert_eq!(settings.env, expected_env, "{selection:?}");
            assert_eq!(settings.deploy.log_retention_days, retention, "{selection:?}");
            assert_eq!(settings.connection.region.as_deref(), region, "{selection:?}");
        }
    }

    #[test]
    fn a_flag_overriding_the_file_is_reported() {
        let saved =
            file("main", EnvironmentConfig { log_retention_days: Some(30), rate_limit: Some(5), ..Default::default() });
        let flags = EnvironmentConfig { log_retention_days: Some(7), rate_limit: Some(5), ..Default::default() };
        let (_, overrides) = resolve(Selection::default(), flags, Some(&saved), &[]).unwrap();
        assert_eq!(
            overrides,
            vec![Override { key: "log_retention_days", flag: "--log-retention-days" }],
            "equal values are no override"
        );
    }

    #[test]
    fn a_flag_or_variable_overriding_the_saved_connection_is_reported() {
        let saved = file(
            "main",
            EnvironmentConfig { region: Some("eu-west-2".into()), profile: Some("ops".into()), ..Default::default() },
        );
        let region_flag = Selection { region: Some("us-east-1".into()), ..env("main") };
        for (selection, vars, region, profile, expected) in [
            (env("main"), vec![], "eu-west-2", "ops", vec![]),
            (env("main"), vec![("AWS_REGION", "eu-west-2")], "eu-west-2", "ops", vec![]),
            (
                env("main"),
                vec![("AWS_REGION", "us-west-2"), ("AWS_PROFILE", "dev")],
                "us-west-2",
                "dev",
                vec![Override { key: "profile", flag: "AWS_PROFILE" }, Override { key: "region", flag: "AWS_REGION" }],
            ),
            (
                region_flag,
                vec![("AWS_REGION", "us-west-2")],
                "us-east-1",
                "ops",
                vec![Override { key: "region", flag: "--region" }],
            ),
        ] {
            let (settings, overrides) = resolve(selection, EnvironmentConfig::default(), Some(&saved), &vars).unwrap();
            assert_eq!(settings.connection.region.as_deref(), Some(region), "{vars:?}");
            assert_eq!(settings.connection.profile.as_deref(), Some(profile), "{vars:?}");
            assert_eq!(overrides, expected, "{vars:?}");
        }
    }

    #[test]
    fn only_flags_and_the_file_decide_the_saved_connection() {
        let saved = EnvironmentConfig { region: Some("eu-west-2".into()), ..Default::default() };
        let flags = Selection { profile: Some("ops".into()), region: Some("us-east-1".into()), ..Selection::default() };
        let sdk = Some("ap-south-1".to_string());
        for (selection, file, expected) in [
            (&flags, &saved, (Some("ops"), Some("us-east-1"))),
            (&Selection::default(), &saved, (None, Some("eu-west-2"))),
            (&Selection::default(), &EnvironmentConfig::default(), (None, Some("ap-south-1"))),
        ] {
            let (profile, region) = saved_connection(selection, file, sdk.clone());
            assert_eq!((profile.as_deref(), region.as_deref()), expected, "{selection:?} {file:?}");
        }
    }

    #[test]
    fn smoke_principals_only_grow_and_must_be_arns() {
        let saved = file(
            "main",
            EnvironmentConfig { smoke_principals: Some(vec!["arn:aws:iam::1:user/a".into()]), ..Default::default() },
        );
        let flags = EnvironmentConfig {
            smoke_principals: Some(vec!["arn:aws:iam::1:user/b".into(), "arn:aws:iam::1:user/a".into()]),
            ..Default::default()
        };
        let (settings, _) = resolve(env("main"), flags, Some(&saved), &[]).unwrap();
        assert_eq!(settings.deploy.smoke_principals, ["arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b"]);
        let bad = EnvironmentConfig { smoke_principals: Some(vec!["alice".into()]), ..Default::default() };
        let error = resolve(env("main"), bad, None, &[]).unwrap_err();
        assert!(error.message.contains("--smoke-principal"), "{}", error.message);
        assert_eq!(union(&None, &None), None);
    }

    #[test]
    fn protected_profiles_parse_names_and_policies() {
        let flags = EnvironmentConfig {
            protect: Some(vec![
                "prod=arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::111122223333:policy/x".into(),
                "billing".into(),
            ]),
            ..Default::default()
        };
        let (settings, _) = resolve(env("main"), flags, None, &[]).unwrap();
        let names: Vec<&str> = settings.deploy.protected.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["smoke", "prod", "billing"]);
        assert_eq!(settings.deploy.protected[1].managed_policy_arns.len(), 2);
    }

    #[test]
    fn bad_values_name_the_flag_and_the_config_key() {
        for (flags, flag) in [
            (EnvironmentConfig { protect: Some(vec!["db.prod".into()]), ..Default::default() }, "--protect"),
            (EnvironmentConfig { protect: Some(vec!["smoke".into()]), ..Default::default() }, "--protect"),
            (EnvironmentConfig { protect: Some(vec!["a".into(), "a".into()]), ..Default::default() }, "--protect"),
            (
                EnvironmentConfig { protect: Some(vec!["prod".into(), "Prod".into()]), ..Default::default() },
                "--protect",
            ),
            (EnvironmentConfig { protect: Some(vec!["Smoke".into()]), ..Default::default() }, "--protect"),
            (EnvironmentConfig { protect: Some(vec!["db_admin".into()]), ..Default::default() }, "--protect"),
            (EnvironmentConfig { role_prefix: Some("x".repeat(41)), ..Default::default() }, "--role-prefix"),
            (
                EnvironmentConfig { role_prefix: Some("Sentinel.Protected-".into()), ..Default::default() },
                "--role-prefix",
            ),
            (
                EnvironmentConfig { protect: Some(vec!["prod=ReadOnlyAccess".into()]), ..Default::default() },
                "--protect",
            ),
            (
                EnvironmentConfig {
                    protect: Some(vec!["x".repeat(24)]),
                    role_prefix: Some("AnUnusuallyLongProtectedRolePrefixName-".into()),
                    ..Default::default()
                },
                "--protect",
            ),
            (EnvironmentConfig { expected_account: Some("12345".into()), ..Default::default() }, "--expected-account"),
            (EnvironmentConfig { log_retention_days: Some(10), ..Default::default() }, "--log-retention-days"),
            (EnvironmentConfig { allowed_accounts: Some(vec!["x".into()]), ..Default::default() }, "--allowed-account"),
            (EnvironmentConfig { allowed_org_id: Some("org".into()), ..Default::default() }, "--allowed-org-id"),
            (
                EnvironmentConfig { default_duration_seconds: Some(43200), ..Default::default() },
                "--default-duration-seconds",
            ),
            (EnvironmentConfig { rate_window_seconds: Some(0), ..Default::default() }, "--rate-window-seconds"),
            (EnvironmentConfig { role_prefix: Some("bad prefix".into()), ..Default::default() }, "--role-prefix"),
        ] {
            let error = resolve(env("main"), flags, None, &[]).expect_err(flag);
            assert!(error.message.contains(flag) && error.message.contains("config key"), "{}", error.message);
        }
    }

    #[test]
    fn an_empty_endpoint_is_no_endpoint_and_a_malformed_one_is_refused() {
        let with =
            |url: &str| Selection { env: Some("main".into()), endpoint_url: Some(url.into()), ..Selection::default() };
        assert_eq!(resolve(with(""), EnvironmentConfig::default(), None, &[]).unwrap().0.connection.endpoint_url, None);
        assert_eq!(
            resolve(with("http://127.0.0.1:4566"), EnvironmentConfig::default(), None, &[])
                .unwrap()
                .0
                .connection
                .endpoint_url
                .as_deref(),
            Some("http://127.0.0.1:4566")
        );
        for bad in ["127.0.0.1:4566", "ftp://x", "http://", "http:// x", "localhost"] {
            let error = resolve(with(bad), EnvironmentConfig::default(), None, &[]).unwrap_err();
            assert!(error.message.contains("not a valid endpoint URL"), "{bad}: {}", error.message);
        }
    }

    #[test]
    fn scp_settings_require_what_their_mode_uses() {
        let enforce = |extra: EnvironmentConfig| EnvironmentConfig { scp_mode: Some(ScpMode::Enforce), ..extra };
        let target = Some(vec!["ou-ab12-cd34ef56".to_string()]);
        let glass = Some(vec!["arn:aws:iam::111122223333:role/BreakGlass".to_string()]);
        for (flags, expected) in [
            (enforce(EnvironmentConfig::default()), Err("--scp-target")),
            (
                enforce(EnvironmentConfig { scp_targets: target.clone(), ..Default::default() }),
                Err("--break-glass-role-arn"),
            ),
            (
                enforce(EnvironmentConfig {
                    scp_targets: target.clone(),
                    no_break_glass: Some(true),
                    ..Default::default()
                }),
                Ok(0),
            ),
            (
                enforce(EnvironmentConfig {
                    scp_targets: target.clone(),
                    break_glass_role_arns: glass.clone(),
                    ..Default::default()
                }),
                Ok(1),
            ),
            (
                enforce(EnvironmentConfig { scp_targets: Some(vec!["prod-ou".into()]), ..Default::default() }),
                Err("--scp-target"),
            ),
            (
                enforce(EnvironmentConfig {
                    scp_targets: target,
                    break_glass_role_arns: Some(vec!["BreakGlass".into()]),
                    ..Default::default()
                }),
                Err("--break-glass-role-arn"),
            ),
            (EnvironmentConfig { scp_mode: Some(ScpMode::Audit), ..Default::default() }, Err("--trail-log-group")),
            (
                EnvironmentConfig {
                    scp_mode: Some(ScpMode::Audit),
                    trail_log_group: Some("trail".into()),
                    ..Default::default()
                },
                Ok(0),
            ),
            (EnvironmentConfig::default(), Ok(0)),
        ] {
            let result = resolve(env("main"), flags.clone(), None, &[]);
            match expected {
                Ok(break_glass) => {
                    let scp = result.unwrap_or_else(|e| panic!("{flags:?}: {e:?}")).0.deploy.scp;
                    assert_eq!(scp.break_glass_role_arns.len(), break_glass, "{flags:?}");
                }
                Err(flag) => {
                    let error = result.expect_err("must be refused");
                    assert!(error.message.contains(flag) || error.hint.contains(flag), "{flag}: {error:?}");
                }
            }
        }
        for (id, valid) in [
            ("ou-ab12-cd34ef56", true),
            ("111122223333", true),
            ("r-ab12", true),
            ("ou-ab12", false),
            ("OU-AB12-CD34", false),
            ("r-", false),
        ] {
            assert_eq!(is_scp_target(id), valid, "{id}");
        }
    }

    #[test]
    fn deployers_break_glass_strictness_and_the_rcp() {
        let enforce = |extra: EnvironmentConfig| EnvironmentConfig {
            scp_mode: Some(ScpMode::Enforce),
            scp_targets: Some(vec!["ou-ab12-cd34ef56".into()]),
            no_break_glass: Some(true),
            ..extra
        };
        let sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd";
        let (settings, _) = resolve(
            env("main"),
            enforce(EnvironmentConfig { deployers: Some(vec![sso.into()]), ..Default::default() }),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(settings.deploy.scp.deployers, [sso]);
        assert!(settings.deploy.scp.strict, "strict unless asked otherwise");
        assert_eq!(settings.deploy.scp.rcp_mode, RcpMode::Off);
        let (settings, _) = resolve(
            env("main"),
            enforce(EnvironmentConfig { scp_strict: Some(false), ..Default::default() }),
            None,
            &[],
        )
        .unwrap();
        assert!(!settings.deploy.scp.strict);
        for (flags, refused) in [
            (
                enforce(EnvironmentConfig {
                    break_glass_role_arns: Some(vec!["arn:aws:iam::*:role/*".into()]),
                    no_break_glass: None,
                    ..Default::default()
                }),
                "--break-glass-role-arn",
            ),
            (
                enforce(EnvironmentConfig {
                    deployers: Some(vec!["arn:aws:iam::111122223333:role/*".into()]),
                    ..Default::default()
                }),
                "--deployer",
            ),
            (EnvironmentConfig { rcp_mode: Some(RcpMode::Enforce), ..Default::default() }, "scp_mode: enforce"),
        ] {
            let error = resolve(env("main"), flags.clone(), None, &[]).expect_err(refused);
            assert!(error.message.contains(refused), "{refused}: {error:?}");
        }
        let (settings, _) = resolve(
            env("main"),
            enforce(EnvironmentConfig { rcp_mode: Some(RcpMode::Enforce), ..Default::default() }),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(settings.deploy.scp.rcp_mode, RcpMode::Enforce);
    }

    #[test]
    fn environment_names() {
        for good in ["main", "a", "dev2", "abcdefghijklmnop"] {
            assert!(validate_env_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Main", "2dev", "dev-", "dev-2", "main-eu", "dev_2", "abcdefghijklmnopq", "dev.x"] {
            assert!(validate_env_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_an_environment_the_error_says_how_to_name_one() {
        let error = resolve(Selection::default(), EnvironmentConfig::default(), None, &[]).unwrap_err();
        assert!(error.hint.contains("--env"), "{}", error.hint);
        let two = ConfigFile {
            environments: [("a".to_string(), Default::default()), ("b".to_string(), Default::default())].into(),
        };
        let error = resolve(Selection::default(), EnvironmentConfig::default(), Some(&two), &[]).unwrap_err();
        assert!(error.hint.contains("`a`, `b`"), "{}", error.hint);
    }
}
