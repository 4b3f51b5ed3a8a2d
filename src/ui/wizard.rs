//! The first-install conversation: the questions `install` asks on a terminal for what neither
//! flags, environment nor the config file give, and the summary confirmed before anything is
//! created. Everything goes through `Prompt`, so tests script it; answers are validated by the
//! same rules as flags (`settings`). Reading AWS (the roles and users offered as invokers) is the
//! caller's job: this module never touches AWS.

use anyhow::Result;

use crate::config::{Architecture, EnvironmentConfig, IdentityProof, RcpMode, ScpMode};
use crate::names::SMOKE_PROFILE;
use crate::settings::{self, LOG_RETENTION_DAYS, Settings};
use crate::ui::prompt::Prompt;

/// The region offered when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The environment name offered for a first install.
pub const DEFAULT_ENV: &str = "main";

/// What the installer knows and may offer.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    /// IAM roles that could invoke the TVM, by name.
    pub roles: Vec<String>,
    /// IAM users that could invoke the TVM, by name.
    pub users: Vec<String>,
    /// Organizational units and accounts the SCP could be attached to: `(id, "path (kind)")`.
    /// Empty when the organization cannot be read: the IDs are typed then.
    pub scp_targets: Vec<(String, String)>,
}

/// Asks for the environment name.
pub fn ask_env(prompt: &dyn Prompt) -> Result<String> {
    let valid = |answer: &str| settings::validate_env_name(answer).map_err(|f| format!("{} ({})", f.message, f.hint));
    prompt.input(
        "Environment name (part of every stack, role and bucket name)",
        Some(DEFAULT_ENV),
        "--env NAME",
        &valid,
    )
}

/// Asks for the region to deploy to.
pub fn ask_region(prompt: &dyn Prompt) -> Result<String> {
    let valid = |answer: &str| {
        if crate::names::is_region(answer) { Ok(()) } else { Err(format!("`{answer}` is not a region like eu-west-2")) }
    };
    prompt.input("AWS region to deploy to", Some(DEFAULT_REGION), "--region REGION", &valid)
}

/// Asks for each deploy setting `given` (the file's section with the flags over it) lacks, and
/// returns the answers alone (every other field `None`).
pub fn ask_settings(
    prompt: &dyn Prompt,
    env: &str,
    given: &EnvironmentConfig,
    offer: &Offer,
) -> Result<EnvironmentConfig> {
    let mut answers = EnvironmentConfig::default();
    if given.architecture.is_none() {
        answers.architecture = Some(ask_architecture(prompt)?);
    }
    if given.protect.is_none() {
        answers.protect = Some(ask_protect(prompt, env, given)?);
    }
    if asks_invokers(given) && !(offer.roles.is_empty() && offer.users.is_empty()) {
        let (roles, users) = ask_invokers(prompt, offer)?;
        answers.invoker_roles = Some(roles);
        answers.invoker_users = Some(users);
    }
    if given.policy_file.is_none() {
        answers.policy_file = ask_policy_file(prompt)?;
    }
    if given.log_retention_days.is_none() {
        answers.log_retention_days = Some(ask_log_retention(prompt)?);
    }
    if given.identity_proof.is_none() {
        answers.identity_proof = Some(ask_identity_proof(prompt)?);
    }
    if given.scp_mode.is_none() {
        ask_scp(prompt, given, offer, &mut answers)?;
    }
    Ok(answers)
}

/// Whether to guard the protected roles with the SCP (or only audit), and what it needs.
fn ask_scp(
    prompt: &dyn Prompt,
    given: &EnvironmentConfig,
    offer: &Offer,
    answers: &mut EnvironmentConfig,
) -> Result<()> {
    let items = [
        "off: only the protected roles' trust policies guard them (the default)".to_string(),
        "audit: count assumptions around the TVM (a metric and alarm on your CloudTrail log group)".to_string(),
        "enforce: an SCP denies them (needs the organization's management account)".to_string(),
    ];
    let mode = match prompt.select("Service Control Policy", &items, 0, "--scp-mode off|audit|enforce")? {
        1 => ScpMode::Audit,
        2 => ScpMode::Enforce,
        _ => ScpMode::Off,
    };
    answers.scp_mode = Some(mode);
    match mode {
        ScpMode::Off => {}
        ScpMode::Audit if given.trail_log_group.is_none() => {
            let valid =
                |answer: &str| if answer.trim().is_empty() { Err("name the log group".to_string()) } else { Ok(()) };
            let group = prompt.input("CloudTrail log group to watch", None, "--trail-log-group NAME", &valid)?;
            answers.trail_log_group = Some(group.trim().to_string());
        }
        ScpMode::Audit => {}
        ScpMode::Enforce => {
            if given.scp_targets.is_none() {
                answers.scp_targets = Some(ask_scp_targets(prompt, offer)?);
            }
            if given.break_glass_role_arns.is_none() && given.no_break_glass.is_none() {
                let arns = ask_break_glass(prompt)?;
                answers.no_break_glass = arns.is_empty().then_some(true);
                answers.break_glass_role_arns = Some(arns);
            }
            if given.scp_strict.is_none() {
                let question = "Also deny the execution role's credentials outside the TVM function (strict)?";
                answers.scp_strict = Some(prompt.confirm(question, true, "--scp-strict")?);
            }
            if given.rcp_mode.is_none() {
                let question =
                    "Also deploy the RCP, which denies the protected roles to principals outside the organization too?";
                let rcp = prompt.confirm(question, false, "--rcp-mode off|enforce")?;
                answers.rcp_mode = Some(if rcp { RcpMode::Enforce } else { RcpMode::Off });
            }
        }
    }
    Ok(())
}

fn ask_scp_targets(prompt: &dyn Prompt, offer: &Offer) -> Result<Vec<String>> {
    if offer.scp_targets.is_empty() {
        let valid = |answer: &str| {
            let ids: Vec<&str> = answer.split_whitespace().collect();
            match ids.iter().find(|id| !crate::names::is_scp_target(id)) {
                _ if ids.is_empty() => Err("name at least one OU or account".to_string()),
                Some(bad) => Err(format!("`{bad}` is not an OU (ou-…) or account (12 digits)")),
                None => Ok(()),
            }
        };
        let answer =
            prompt.input("OUs or accounts to attach the SCP to, space-separated", None, "--scp-target ID", &valid)?;
        return Ok(answer.split_whitespace().map(str::to_string).collect());
    }
    let items: Vec<String> = offer.scp_targets.iter().map(|(id, label)| format!("{label} {id}")).collect();
    loop {
        let chosen = prompt.multi_select(
            "Attach the SCP to (space toggles; the root is never chosen for you)",
            &items,
            &vec![false; items.len()],
            "--scp-target ID",
        )?;
        if !chosen.is_empty() {
            return Ok(chosen.into_iter().map(|i| offer.scp_targets[i].0.clone()).collect());
        }
    }
}

/// Space-separated role ARNs; none only after saying so.
fn ask_break_glass(prompt: &dyn Prompt) -> Result<Vec<String>> {
    let valid = |answer: &str| match answer.split_whitespace().find(|arn| !crate::names::is_role_arn(arn)) {
        Some(bad) => Err(format!("`{bad}` is not a role ARN like arn:aws:iam::111122223333:role/BreakGlass")),
        None => Ok(()),
    };
    loop {
        let answer = prompt.input(
            "Break-glass roles the SCP still lets assume protected roles, space-separated ARNs (empty: none)",
            None,
            "--break-glass-role-arn ARN / --no-break-glass",
            &valid,
        )?;
        let arns: Vec<String> = answer.split_whitespace().map(str::to_string).collect();
        if !arns.is_empty()
            || prompt.confirm(
                "No break-glass role: nobody can get around the TVM in an emergency. Sure?",
                false,
                "--no-break-glass",
            )?
        {
            return Ok(arns);
        }
    }
}

/// Whether the invoker question comes up: what `Offer::roles`/`users` are read for.
pub fn asks_invokers(given: &EnvironmentConfig) -> bool {
    given.invoker_roles.is_none() && given.invoker_users.is_none() && given.invoker_groups.is_none()
}

/// Whether the SCP's targets may be asked for: what `Offer::scp_targets` is read for.
pub fn may_ask_scp_targets(given: &EnvironmentConfig) -> bool {
    given.scp_targets.is_none() && matches!(given.scp_mode, None | Some(ScpMode::Enforce))
}

/// Whether `answers` holds anything: a first install asked something, so it ends with the
/// summary and one confirmation instead of a question per wave.
pub fn asked_anything(answers: &EnvironmentConfig) -> bool {
    *answers != EnvironmentConfig::default()
}

fn ask_architecture(prompt: &dyn Prompt) -> Result<Architecture> {
    let items = ["arm64 (Graviton: cheaper, the default)".to_string(), "x86_64".to_string()];
    let chosen = prompt.select("Lambda architecture", &items, 0, "--architecture arm64|x86_64")?;
    Ok(if chosen == 1 { Architecture::X86_64 } else { Architecture::Arm64 })
}

/// Space-separated `NAME` or `NAME=POLICY_ARN[,POLICY_ARN…]`, checked as `--protect` is.
fn ask_protect(prompt: &dyn Prompt, env: &str, given: &EnvironmentConfig) -> Result<Vec<String>> {
    let valid = |answer: &str| {
        let entries = split_protect(answer);
        if entries.is_empty() {
            return Err("name at least one profile to protect: the TVM exists to guard them".to_string());
        }
        let trial = EnvironmentConfig { protect: Some(entries), ..given.clone() };
        settings::deploy_settings(env, &trial).map(|_| ()).map_err(|f| format!("{} ({})", f.message, f.hint))
    };
    let question = format!(
        "Profiles to protect, space-separated: NAME or NAME=POLICY_ARN[,POLICY_ARN…] (clients ask for {env}-NAME; `{SMOKE_PROFILE}` is always added)"
    );
    let answer = prompt.input(&question, None, "--protect NAME[=POLICY_ARN,…]", &valid)?;
    Ok(split_protect(&answer))
}

fn split_protect(answer: &str) -> Vec<String> {
    answer.split_whitespace().map(str::to_string).collect()
}

/// Roles and users chosen from the offer (none is a valid answer: attach the client policy later).
fn ask_invokers(prompt: &dyn Prompt, offer: &Offer) -> Result<(Vec<String>, Vec<String>)> {
    let items: Vec<String> = offer
        .roles
        .iter()
        .map(|r| format!("role/{r}"))
        .chain(offer.users.iter().map(|u| format!("user/{u}")))
        .collect();
    let chosen = prompt.multi_select(
        "Who may call the TVM? (space toggles, enter accepts; none: attach the client policy yourself later)",
        &items,
        &vec![false; items.len()],
        "--invoker-role NAME / --invoker-user NAME",
    )?;
    let (mut roles, mut users) = (Vec::new(), Vec::new());
    for index in chosen {
        match items[index].split_once('/') {
            Some(("role", name)) => roles.push(name.to_string()),
            Some((_, name)) => users.push(name.to_string()),
            None => {}
        }
    }
    Ok((roles, users))
}

/// A policy file that passes validation, or `None` for the generated starter policy.
fn ask_policy_file(prompt: &dyn Prompt) -> Result<Option<std::path::PathBuf>> {
    let valid = |answer: &str| {
        if answer.trim().is_empty() {
            return Ok(());
        }
        crate::deploy::policy::validate_file(std::path::Path::new(answer.trim()))
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    };
    let answer = prompt.input(
        "TVM policy file (empty: a generated starter policy; `sentinel-tvm policy init` writes one to edit)",
        Some(""),
        "--policy-file FILE",
        &valid,
    )?;
    Ok(Some(answer.trim()).filter(|a| !a.is_empty()).map(Into::into))
}

fn ask_log_retention(prompt: &dyn Prompt) -> Result<u32> {
    let items: Vec<String> = LOG_RETENTION_DAYS.iter().map(|d| format!("{d} days")).collect();
    let default = LOG_RETENTION_DAYS.iter().position(|d| *d == 90).unwrap_or(0);
    let chosen =
        prompt.select("Keep the decision log and access log for", &items, default, "--log-retention-days N")?;
    Ok(LOG_RETENTION_DAYS[chosen])
}

/// Whether the TVM requires caller proofs. `off` is offered only with what it gives up.
fn ask_identity_proof(prompt: &dyn Prompt) -> Result<IdentityProof> {
    let items = [
        "required: the TVM verifies every caller with STS itself (the default)".to_string(),
        "off: trust the API's authorizer context (only for legacy clients; anyone who may invoke the function can pose as anyone)".to_string(),
    ];
    let chosen = prompt.select("Caller proofs", &items, 0, "--identity-proof required|off")?;
    Ok(if chosen == 1 { IdentityProof::Off } else { IdentityProof::Required })
}

/// What a first install is about to create, for the one confirmation; `deployers`, with an
/// enforced SCP, who may change the TVM once it is attached.
pub fn summary(settings: &Settings, account_id: &str, region: &str, deployers: &[String]) -> String {
    let d = &settings.deploy;
    let env = &settings.env;
    let mut text = format!("environment `{env}` in account {account_id}, region {region}\n");
    text.push_str(&format!("  architecture     {}\n", d.architecture.as_str()));
    for profile in &d.protected {
        let policies = if profile.managed_policy_arns.is_empty() {
            "no permissions".to_string()
        } else {
            profile.managed_policy_arns.join(", ")
        };
        text.push_str(&format!(
            "  protects         {env}-{} → role {}{env}-{} ({policies})\n",
            profile.name, d.role_prefix, profile.name
        ));
    }
    let invokers: Vec<String> = d
        .invokers
        .roles
        .iter()
        .map(|r| format!("role/{r}"))
        .chain(d.invokers.users.iter().map(|u| format!("user/{u}")))
        .chain(d.invokers.groups.iter().map(|g| format!("group/{g}")))
        .collect();
    let invokers =
        if invokers.is_empty() { "nobody yet (attach the client policy later)".into() } else { invokers.join(", ") };
    text.push_str(&format!("  may call the TVM {invokers}\n"));
    let names_someone = !(d.invokers.roles.is_empty() && d.invokers.users.is_empty());
    let policy = match &d.policy_file {
        Some(path) => path.display().to_string(),
        None if names_someone => {
            "the generated starter: the roles and users above (never a group) may have every protected profile, for up to 1 h".into()
        }
        None => "the generated starter, which grants no protected profile: no role or user is named to call the TVM, so every request but the smoke test's is denied".into(),
    };
    text.push_str(&format!("  policy           {policy}\n"));
    text.push_str(&format!("  logs kept        {} days\n", d.log_retention_days));
    text.push_str(&format!("  caller proofs    {}\n", d.identity_proof.as_str()));
    let scp = &d.scp;
    let scp_line = match scp.mode {
        ScpMode::Off => "off".to_string(),
        ScpMode::Audit => format!("audit: an alarm on {}", scp.trail_log_group.as_deref().unwrap_or("?")),
        ScpMode::Enforce => format!(
            "enforce{}{} on {}; break glass: {}",
            if scp.strict { " (strict)" } else { "" },
            if scp.rcp_mode == RcpMode::Enforce { ", with the RCP" } else { "" },
            scp.targets.join(", "),
            if scp.break_glass_role_arns.is_empty() { "none".into() } else { scp.break_glass_role_arns.join(", ") }
        ),
    };
    text.push_str(&format!("  scp              {scp_line}\n"));
    if scp.mode == ScpMode::Enforce {
        let who = if deployers.is_empty() { "nobody but break glass".to_string() } else { deployers.join(", ") };
        text.push_str(&format!("  deployers        {who} (only they may change the TVM)\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::prompt::Scripted;

    fn offer() -> Offer {
        Offer {
            roles: vec!["Developers".into(), "ci".into()],
            users: vec!["alice".into()],
            scp_targets: vec![("ou-ab12-cd34ef56".into(), "Root/Workloads (OU)".into())],
        }
    }

    #[test]
    fn a_first_install_asks_everything_and_returns_the_answers() {
        let script = Scripted::new(&[
            "x86_64",
            "prod=arn:aws:iam::aws:policy/ReadOnlyAccess billing",
            "role/ci,user/alice",
            "",
            "30 days",
            "off: trust the API's authorizer context (only for legacy clients; anyone who may invoke the function can pose as anyone)",
            "off: only the protected roles' trust policies guard them (the default)",
        ]);
        let answers = ask_settings(&script, "main", &EnvironmentConfig::default(), &offer()).unwrap();
        assert_eq!(
            answers,
            EnvironmentConfig {
                architecture: Some(Architecture::X86_64),
                protect: Some(vec!["prod=arn:aws:iam::aws:policy/ReadOnlyAccess".into(), "billing".into()]),
                invoker_roles: Some(vec!["ci".into()]),
                invoker_users: Some(vec!["alice".into()]),
                log_retention_days: Some(30),
                identity_proof: Some(IdentityProof::Off),
                scp_mode: Some(ScpMode::Off),
                ..Default::default()
            }
        );
        assert!(asked_anything(&answers));
        assert_eq!(script.asked.lock().unwrap().len(), 7);
    }

    #[test]
    fn only_what_is_missing_is_asked() {
        let given = EnvironmentConfig {
            architecture: Some(Architecture::Arm64),
            protect: Some(vec!["prod".into()]),
            invoker_roles: Some(vec![]),
            policy_file: Some("policy.yaml".into()),
            scp_mode: Some(ScpMode::Off),
            identity_proof: Some(IdentityProof::Required),
            ..Default::default()
        };
        let script = Scripted::new(&["90 days"]);
        let answers = ask_settings(&script, "main", &given, &offer()).unwrap();
        assert_eq!(answers, EnvironmentConfig { log_retention_days: Some(90), ..Default::default() });
        assert_eq!(script.asked.lock().unwrap().len(), 1, "{:?}", script.asked.lock().unwrap());

        let everything = EnvironmentConfig { log_retention_days: Some(7), ..given };
        let silent = Scripted::new(&[]);
        assert!(!asked_anything(&ask_settings(&silent, "main", &everything, &offer()).unwrap()));
    }

    #[test]
    fn with_nobody_to_offer_the_invoker_question_is_skipped() {
        let script = Scripted::new(&[
            "arm64 (Graviton: cheaper, the default)",
            "app",
            "",
            "90 days",
            "required: the TVM verifies every caller with STS itself (the default)",
            "off: only the protected roles' trust policies guard them (the default)",
        ]);
        let answers = ask_settings(&script, "dev", &EnvironmentConfig::default(), &Offer::default()).unwrap();
        assert_eq!(answers.invoker_roles, None);
        assert_eq!(answers.architecture, Some(Architecture::Arm64));
    }

    #[test]
    fn answers_are_checked_like_flags() {
        for bad in ["", "smoke", "db_admin", "prod=ReadOnlyAccess", "a a"] {
            let script = Scripted::new(&["x86_64", bad]);
            let error = ask_settings(&script, "main", &EnvironmentConfig::default(), &offer()).unwrap_err();
            assert!(error.to_string().contains("is invalid"), "{bad}: {error:#}");
        }
        for bad in ["Main", "main-eu", "x".repeat(17).as_str()] {
            assert!(ask_env(&Scripted::new(&[bad])).is_err(), "{bad}");
        }
        assert_eq!(ask_env(&Scripted::new(&["dev2"])).unwrap(), "dev2");
        let missing = Scripted::new(&["x86_64", "app", "", "/nonexistent/policy.yaml"]);
        let error = ask_settings(&missing, "main", &EnvironmentConfig::default(), &offer()).unwrap_err();
        assert!(error.to_string().contains("cannot read"), "{error:#}");
    }

    #[test]
    fn the_summary_names_every_role_to_be_created() {
        let selection = settings::Selection { env: Some("main".into()), ..Default::default() };
        let flags = EnvironmentConfig {
            protect: Some(vec!["prod=arn:aws:iam::aws:policy/ReadOnlyAccess".into()]),
            invoker_roles: Some(vec!["Developers".into()]),
            ..Default::default()
        };
        let sources = settings::Sources::flags_only(&selection, &flags);
        let text = summary(&sources.resolve().unwrap().settings, "111122223333", "eu-west-2", &[]);
        assert_eq!(
            text,
            "environment `main` in account 111122223333, region eu-west-2\n  architecture     arm64\n  protects         main-smoke → role SentinelProtected-main-smoke (no permissions)\n  protects         main-prod → role SentinelProtected-main-prod (arn:aws:iam::aws:policy/ReadOnlyAccess)\n  may call the TVM role/Developers\n  policy           the generated starter: the roles and users above (never a group) may have every protected profile, for up to 1 h\n  logs kept        90 days\n  caller proofs    required\n  scp              off\n"
        );
    }

    #[test]
    fn the_summary_says_when_the_starter_grants_nothing() {
        let selection = settings::Selection { env: Some("main".into()), ..Default::default() };
        for (groups, file, grants_nothing) in
            [(None, None, true), (Some(vec!["Admins".into()]), None, true), (None, Some("p.yaml"), false)]
        {
            let flags = EnvironmentConfig {
                protect: Some(vec!["prod".into()]),
                invoker_groups: groups.clone(),
                policy_file: file.map(Into::into),
                ..Default::default()
            };
            let text =
                summary(&settings::Sources::flags_only(&selection, &flags).resolve().unwrap().settings, "1", "r", &[]);
            assert_eq!(text.contains("grants no protected profile"), grants_nothing, "{groups:?} {file:?}: {text}");
        }
    }

    #[test]
    fn an_enforced_scp_asks_targets_break_glass_and_strictness() {
        let given = EnvironmentConfig {
            architecture: Some(Architecture::Arm64),
            protect: Some(vec!["prod".into()]),
            invoker_roles: Some(vec![]),
            policy_file: Some("policy.yaml".into()),
            log_retention_days: Some(90),
            identity_proof: Some(IdentityProof::Required),
            ..Default::default()
        };
        let enforce = "enforce: an SCP denies them (needs the organization's management account)";
        let script = Scripted::new(&[
            enforce,
            "Root/Workloads (OU) ou-ab12-cd34ef56",
            "arn:aws:iam::111122223333:role/BreakGlass",
            "y",
            "y",
        ]);
        let answers = ask_settings(&script, "main", &given, &offer()).unwrap();
        assert_eq!(answers.rcp_mode, Some(RcpMode::Enforce), "the RCP is asked for with the SCP");
        assert_eq!(answers.scp_mode, Some(ScpMode::Enforce));
        assert_eq!(answers.scp_targets, Some(vec!["ou-ab12-cd34ef56".into()]));
        assert_eq!(answers.break_glass_role_arns, Some(vec!["arn:aws:iam::111122223333:role/BreakGlass".into()]));
        assert_eq!((answers.no_break_glass, answers.scp_strict), (None, Some(true)));

        // No break glass only after saying so; typed targets when the organization cannot be read.
        let script = Scripted::new(&[enforce, "ou-ab12-cd34ef56 111122223333", "", "y", "n", "n"]);
        let answers = ask_settings(&script, "main", &given, &Offer::default()).unwrap();
        assert_eq!(answers.scp_targets, Some(vec!["ou-ab12-cd34ef56".into(), "111122223333".into()]));
        assert_eq!((answers.no_break_glass, answers.break_glass_role_arns), (Some(true), Some(vec![])));

        let audit = "audit: count assumptions around the TVM (a metric and alarm on your CloudTrail log group)";
        let answers = ask_settings(&Scripted::new(&[audit, "/aws/cloudtrail/org"]), "main", &given, &offer()).unwrap();
        assert_eq!(
            (answers.scp_mode, answers.trail_log_group.as_deref()),
            (Some(ScpMode::Audit), Some("/aws/cloudtrail/org"))
        );
    }
}
