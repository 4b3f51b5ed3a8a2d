//! The deploy settings' rules: what each key accepts, what it defaults to, and which keys a mode
//! needs (`scp_mode: enforce` its targets and a break-glass role, `audit` its trail). Pure, over
//! the merged section `super::sources` hands it; every refusal names the flag and the key.

use super::resolved::{Deploy, Invokers, ProtectedProfile, Scp};
use crate::config::{EnvironmentConfig, IdentityProof, RcpMode, ScpMode};
use crate::error::Fixable;
use crate::names::{
    DEFAULT_ROLE_PREFIX, MAX_ROLE_NAME, SMOKE_PROFILE, is_account_id, is_env_name, is_exempt_principal, is_org_id,
    is_protected_profile, is_role_prefix, is_scp_target, protected_role_name,
};

/// CloudWatch Logs accepts only these retention periods.
pub const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

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

fn invalid(flag: &str, key: &str, value: &str, why: &str) -> Fixable {
    Fixable::new(format!("`{value}` is not a valid value for {flag} (config key `{key}`)"), why.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::sources::test_support::{env, resolve};
    use super::*;
    use crate::config::Architecture;

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
}
