//! Where values come from and in which order: flags > environment variables > the config file >
//! the wizard's answers > default. `Sources::load` decides the environment, merges its file
//! section with the flags and builds the connection, each once; `Loaded::resolve` lays the
//! wizard's answers under them and validates the deploy settings (`super::deploy`).

use super::deploy::{deploy_settings, validate_env_name};
use super::resolved::{Override, Selection, Settings, Target};
use crate::config::{ConfigFile, EnvironmentConfig};
use crate::error::Fixable;
use crate::model::connection::Connection;

/// Where values come from, highest precedence first (the wizard's answers are laid under them
/// by `Loaded::resolve`).
pub struct Sources<'a> {
    pub selection: &'a Selection,
    pub flags: &'a EnvironmentConfig,
    /// Environment variables (`SENTINEL_TVM_ENV`).
    pub environment: &'a dyn Fn(&str) -> Option<String>,
    pub file: Option<&'a ConfigFile>,
}

/// One environment's settings as far as flags, environment and file decide them: the target,
/// what the wizard need not ask, and the notices due. A command that deploys nothing stops here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub target: Target,
    /// The file's section for the environment with the flags laid over it.
    pub given: EnvironmentConfig,
    /// A value a flag or variable gave that the file had otherwise, one notice each.
    pub overrides: Vec<Override>,
}

/// Everything resolved for a command that deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub settings: Settings,
    /// What the run saves: the file's section, the flags laid over it, the answers under both.
    pub merged: EnvironmentConfig,
    pub overrides: Vec<Override>,
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
    /// The environment name: `--env`, `SENTINEL_TVM_ENV`, or the config file's only environment
    /// (checked by `load`, as is the wizard's answer).
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
        Ok(env)
    }

    /// Environment `env` (`env_name`, or the wizard's answer when nothing named one): its file
    /// section merged with the flags, and its connection.
    pub fn load(&self, env: String) -> Result<Loaded, Fixable> {
        validate_env_name(&env)?;
        let (given, mut overrides) = self.merged(&env);
        let (connection, connection_overrides) = self.connection(&given)?;
        overrides.extend(connection_overrides);
        Ok(Loaded { target: Target { env, connection }, given, overrides })
    }

    /// `env_name`, `load` and `Loaded::resolve` without answers: everything from flags,
    /// environment and file alone.
    pub fn resolve(&self) -> Result<Resolved, Fixable> {
        self.load(self.env_name()?)?.resolve(&EnvironmentConfig::default())
    }

    /// The file's section for `env` with the flags laid over it, and which flags overrode it.
    fn merged(&self, env: &str) -> (EnvironmentConfig, Vec<Override>) {
        let file = self.file.and_then(|file| file.environments.get(env)).cloned().unwrap_or_default();
        overlay(self.flags, &file)
    }

    /// Profile and region (flag, variable, file) and the endpoint (flag or AWS_ENDPOINT_URL).
    fn connection(&self, given: &EnvironmentConfig) -> Result<(Connection, Vec<Override>), Fixable> {
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
            given.profile.as_deref(),
            "profile",
        );
        let (region, region_override) = connection_value(
            self.selection.region.as_deref(),
            ("--region", "AWS_REGION", env_var(&["AWS_REGION", "AWS_DEFAULT_REGION"])),
            given.region.as_deref(),
            "region",
        );
        let overrides = profile_override.into_iter().chain(region_override).collect();
        Ok((Connection::new(profile, region, endpoint_url), overrides))
    }
}

impl Loaded {
    /// The deploy settings, validated once: `answers` (the wizard's, empty without one) fill only
    /// what neither flags, environment nor file gave.
    pub fn resolve(&self, answers: &EnvironmentConfig) -> Result<Resolved, Fixable> {
        let (mut merged, _) = overlay(&self.given, answers);
        // The connection is the flags' and the file's: the answers never hold one.
        (merged.profile, merged.region) = (self.given.profile.clone(), self.given.region.clone());
        let deploy = deploy_settings(&self.target.env, &merged)?;
        let Target { env, connection } = self.target.clone();
        Ok(Resolved { settings: Settings { env, connection, deploy }, merged, overrides: self.overrides.clone() })
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

/// `http://host[:port][/…]` or `https://…`, with a host.
fn is_http_url(text: &str) -> bool {
    let rest = text.strip_prefix("http://").or_else(|| text.strip_prefix("https://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', ':']) && !rest.contains(char::is_whitespace))
}

fn join_quoted(items: &[&String]) -> String {
    items.iter().map(|item| format!("`{item}`")).collect::<Vec<_>>().join(", ")
}

/// What the tests of both files resolve through: every layer given, the answers empty.
#[cfg(test)]
pub(super) mod test_support {
    use super::*;

    pub fn file(env: &str, config: EnvironmentConfig) -> ConfigFile {
        ConfigFile { environments: [(env.to_string(), config)].into() }
    }

    pub fn resolve(
        selection: Selection,
        flags: EnvironmentConfig,
        file: Option<&ConfigFile>,
        vars: &[(&str, &str)],
    ) -> Result<(Settings, Vec<Override>), Fixable> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let resolved = Sources { selection: &selection, flags: &flags, environment: &lookup, file }.resolve()?;
        Ok((resolved.settings, resolved.overrides))
    }

    pub fn env(name: &str) -> Selection {
        Selection { env: Some(name.into()), ..Selection::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{env, file, resolve};
    use super::*;
    use crate::config::Architecture;

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
