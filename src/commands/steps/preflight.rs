//! The checks `install` makes before it touches any stack, each printed as a one-line verdict
//! with its fix: credentials, account, region, that the caller may create what the templates
//! need, the policy as it would be deployed, that every existing stack of the environment is
//! sentinel-tvm's, that no other environment's protected roles overlap this one's, that the Lambda can be built here (cargo, cargo-lambda, zig and the Rust target
//! for another architecture), and the log groups an earlier install kept (adopted, never
//! deleted). The verdicts themselves are `crate::check::preflight`.

use std::path::Path;

use anyhow::Result;
use aws_config::SdkConfig;

use super::scp::org_verdicts;
use super::session::Session;
use super::starter;
use crate::aws::iam::role_arn;
use crate::aws::logs::log_group_exists;
use crate::aws::simulator::denied_actions;
use crate::check::permissions::{self, Principal};
use crate::check::preflight;
use crate::check::toolchain::{self, Toolchain};
use crate::config::ScpMode;
use crate::deploy::build;
use crate::deploy::policy::{self, MAX_POLICY_BYTES};
use crate::deploy::stacks::Part;
use crate::error::Fixable;
use crate::model::cloudformation::Deployed;
use crate::model::verdict::{self, Verdict};

/// Runs every check and prints its verdict; `false` when one failed (nothing was touched).
/// `stacks` are those named for the environment (`stack_prefix`), whoever made them.
pub async fn run(session: &Session, stacks: &[Deployed], lambda_zip: Option<&Path>) -> Result<bool> {
    let identity = &session.identity;
    let region = session.sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let mut verdicts = vec![
        build(session, lambda_zip),
        preflight::credentials(&identity.arn),
        preflight::account(session.settings.deploy.expected_account.as_deref(), &identity.account_id),
        preflight::region(&region),
        permissions(session).await,
        policy(session).await,
        preflight::ownership(session.env(), stacks),
        role_scope(session).await?,
        log_groups(session, stacks).await?,
    ];
    if session.settings.deploy.scp.mode == ScpMode::Enforce {
        verdicts.extend(organization(session).await);
    }
    for verdict in &verdicts {
        session.out.json(verdict.json());
        session.out.note(verdict.line().trim_end());
    }
    let failed = verdict::failures(&verdicts);
    if let Some(first) = failed.first() {
        let names: Vec<&str> = failed.iter().map(|v| v.check).collect();
        session.out.json(
            serde_json::json!({"type": "result", "command": "install", "outcome": "preflight-failed", "failed": names}),
        );
        session.out.data(&format!(
            "install: pre-flight check failed ({}); nothing was changed. First fix: {}\n",
            names.join(", "),
            first.fix.as_deref().unwrap_or("see above")
        ));
    }
    Ok(failed.is_empty())
}

/// No other environment installed in this account reaches into this one's protected roles, nor
/// this one into theirs (threat model T10).
async fn role_scope(session: &Session) -> Result<Verdict> {
    let iam = aws_sdk_iam::Client::new(&session.sdk);
    let grants = crate::aws::iam::execution_role_grants(&iam).await?;
    let scope = session.names().protected_role_prefix();
    Ok(preflight::role_scope(session.env(), &scope, &session.identity.account_id, &grants))
}

/// Whether the Lambda can be built here (or a prebuilt zip is given), before anything is saved.
fn build(session: &Session, lambda_zip: Option<&Path>) -> Verdict {
    let architecture = session.settings.deploy.architecture;
    let cross = build::cross_compiles(architecture);
    let prebuilt = lambda_zip.map(|zip| zip.display().to_string());
    if prebuilt.is_some() {
        return toolchain::build_verdict(architecture, cross, prebuilt.as_deref(), &Toolchain::default());
    }
    toolchain::build_verdict(architecture, cross, None, &toolchain_here(cross))
}

/// What this machine has for building the Lambda (`cross`: also zig and the Rust targets).
pub fn toolchain_here(cross: bool) -> Toolchain {
    Toolchain {
        cargo: first_line("cargo", &["--version"]),
        // As the build runs it: cargo finds `cargo-lambda` on PATH or in ~/.cargo/bin.
        cargo_lambda: first_line("cargo", &["lambda", "--version"]),
        zig: if cross {
            first_line("zig", &["version"]).or_else(|| first_line("python3", &["-m", "ziglang", "version"]))
        } else {
            None
        },
        installed_targets: if cross { first_lines("rustup", &["target", "list", "--installed"]) } else { None },
    }
}

/// The first line `program args…` prints, when it runs and succeeds.
fn first_line(program: &str, args: &[&str]) -> Option<String> {
    first_lines(program, args)?.into_iter().next()
}

fn first_lines(program: &str, args: &[&str]) -> Option<Vec<String>> {
    let output = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

/// The simulation of what the templates need; a check that cannot run is a warning, not a stop.
async fn permissions(session: &Session) -> Verdict {
    match permissions_verdict(&session.sdk, &session.identity.arn).await {
        Ok(verdict) => verdict,
        Err(error) => Verdict::warn(
            "permissions",
            format!("could not be checked: {error:#}"),
            "grant iam:SimulatePrincipalPolicy to check them before deploying, or read the deployer permissions in docs/LAMBDA_TVM_DEPLOYMENT.md",
        ),
    }
}

/// The organization's checks for the SCP; credentials that do not reach it fail here.
async fn organization(session: &Session) -> Vec<Verdict> {
    let checked = match session.org().await {
        Ok(org) => org_verdicts(session, org).await,
        Err(error) => Err(error),
    };
    checked.unwrap_or_else(|error| {
        vec![Verdict::fail(
            "organization",
            format!("the SCP cannot be checked: {error:#}"),
            "pass `--org-profile PROFILE` with credentials of the management account (or a delegated administrator)",
        )]
    })
}

/// The policy as it would be deployed: valid, and small enough.
async fn policy(session: &Session) -> Verdict {
    let env = session.env();
    let deployed = starter::user_policy(session, false)
        .await
        .and_then(|user| policy::for_deploy(env, &user, &session.smoke_principals()));
    match deployed {
        Ok(text) => Verdict::pass("policy", format!("valid, {} of {MAX_POLICY_BYTES} bytes as deployed", text.len())),
        Err(error) => match error.downcast_ref::<Fixable>() {
            Some(fixable) => Verdict::fail("policy", fixable.message.clone(), fixable.hint.clone()),
            None => Verdict::fail("policy", format!("{error:#}"), "fix the policy file, or leave out --policy-file"),
        },
    }
}

/// The log groups an earlier install kept (threat model T12: the only record of who received
/// which credentials). Never deleted here: the API stack adopts them when it is created.
async fn log_groups(session: &Session, stacks: &[Deployed]) -> Result<Verdict> {
    let api = Part::Api.stack_name(session.env());
    let names = session.names();
    let api_exists = stacks.iter().any(|s| s.name == api);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&session.sdk);
    let mut kept = Vec::new();
    for name in names.log_groups() {
        if !api_exists && log_group_exists(&logs, &name).await? {
            kept.push(name);
        }
    }
    Ok(preflight::kept_log_groups(api_exists, &kept))
}

/// Whether `caller_arn` (from `sts:GetCallerIdentity`) may do what an install needs: the principal
/// behind the caller (`iam:GetRole` for a role session), then `iam:SimulatePrincipalPolicy` of
/// every action an install needs (`check::permissions`). A caller who may not run the simulation
/// gets a warning, not a failure: the deploy itself will tell.
pub async fn permissions_verdict(config: &SdkConfig, caller_arn: &str) -> Result<Verdict> {
    let principal = match permissions::simulation_principal(caller_arn) {
        Ok(principal) => principal,
        Err(why) => return Ok(permissions::skipped(why)),
    };
    let iam = aws_sdk_iam::Client::new(config);
    let principal_arn = match principal {
        Principal::User(arn) => arn,
        Principal::Role { name } => match role_arn(&iam, &name).await? {
            Some(arn) => arn,
            None => return Ok(permissions::unverifiable(caller_arn, "iam:GetRole")),
        },
    };
    match denied_actions(&iam, &principal_arn, &permissions::required_actions()).await? {
        Some(denied) => Ok(permissions::verdict(&principal_arn, &denied)),
        None => Ok(permissions::unverifiable(caller_arn, "iam:SimulatePrincipalPolicy")),
    }
}
