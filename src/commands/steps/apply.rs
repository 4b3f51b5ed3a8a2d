//! How an applying command (`install`, `upgrade`, `diff`) goes on after its settings: the shared
//! upgrade flow, the closing lines, a declined question, and the smoke test at the end.

use anyhow::{Result, bail};

use super::deploy;
use super::session::{Session, named_stacks};
use super::smoke::prove;
use crate::cli::{ApplyArgs, DeployArgs};
use crate::deploy::stacks::Part;
use crate::error::{Fixable, Outcome};
use crate::model::cloudformation::Deployed;
use crate::rollout::stacks::Mode;

/// The shared flow of `upgrade` and `diff`: the environment must exist; rebuild, then deploy
/// (or preview) only what changed.
pub async fn changes(session: &Session, args: &DeployArgs, mode: Mode) -> Result<Outcome> {
    let named = named_stacks(session).await?;
    require_installed(session, &named)?;
    let artifact = deploy::artifact(session, args.lambda_zip.as_deref())?;
    let report = deploy::run(session, mode, &artifact, !args.no_drift, &named).await?;
    if report.declined {
        return Ok(declined(session, &report));
    }
    if mode == Mode::Apply {
        session.save_config()?;
    }
    finish(session, if mode == Mode::Preview { "diff" } else { "upgrade" }, &report);
    Ok(Outcome::Success)
}

/// Refuses an environment whose api stack is missing from `named` (the environment's listing).
pub fn require_installed(session: &Session, named: &[Deployed]) -> Result<()> {
    let api = Part::Api.stack_name(session.env());
    if !named.iter().any(|stack| stack.name == api) {
        bail!(Fixable::new(
            format!(
                "environment `{}` is not installed in account {} (no stack `{api}`)",
                session.env(),
                session.identity.account_id
            ),
            format!("install it with `sentinel-tvm install --env {}`", session.env()),
        ));
    }
    Ok(())
}

/// The smoke test that ends every applying command, unless `--skip-smoke-test`.
pub async fn smoke_test_unless_skipped(session: &Session, args: &ApplyArgs) -> Result<Outcome> {
    if args.skip_smoke_test {
        session.out.note("smoke test skipped (--skip-smoke-test)");
        return Ok(Outcome::Success);
    }
    session.out.note("smoke test: proving the TVM vends what it should and refuses what it must");
    prove(session, &args.smoke).await
}

/// The closing lines every applying command prints.
pub fn finish(session: &Session, command: &str, report: &deploy::Report) {
    let outcome = match (command, report.changed()) {
        (_, false) => "no-changes",
        ("diff", true) => "changes",
        (_, true) => "success",
    };
    session.out.json(report.json(command, outcome));
    let mut text = format!("{command}: {}\n", report.summary());
    if let Some(endpoint) = &report.endpoint {
        text.push_str(&format!("endpoint: {endpoint}\n"));
    }
    session.out.data(&text);
}

/// A declined question: what was applied before it stays (earlier waves), and says so.
pub fn declined(session: &Session, report: &deploy::Report) -> Outcome {
    let applied = report.applied();
    session.out.json(serde_json::json!({"type": "result", "outcome": "declined", "applied": applied}));
    session.out.note(&declined_message(&applied));
    Outcome::Refused
}

fn declined_message(applied: &[&str]) -> String {
    let removed = "the change sets made for the question were removed";
    if applied.is_empty() {
        format!("declined: nothing was changed, and {removed}")
    } else {
        format!(
            "declined: {removed}, but these stacks were already applied before the question: {}. Run the command again to finish, or `teardown` to remove them",
            applied.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decline_names_what_earlier_waves_applied() {
        assert!(declined_message(&[]).contains("nothing was changed"));
        let message = declined_message(&["sentinel-tvm-main-artifacts", "sentinel-tvm-main-policy"]);
        assert!(!message.contains("nothing was changed"), "{message}");
        assert!(message.contains("sentinel-tvm-main-artifacts, sentinel-tvm-main-policy"), "{message}");
    }
}
