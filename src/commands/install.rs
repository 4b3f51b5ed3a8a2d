//! `sentinel-tvm install`: ask for what is missing (on a terminal), run the pre-flight checks,
//! confirm a first install's summary once, save the settings, build, deploy every stack, report
//! the endpoint, smoke test. On an environment that already exists it is an upgrade: only what
//! changed is applied.

use anyhow::{Result, bail};

use super::deploy;
use super::preflight;
use super::session::Session;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::engine::Mode;
use crate::error::{Fixable, Outcome};
use crate::stacks::stack_prefix;
use crate::wizard;

pub async fn run(global: &GlobalArgs, args: &ApplyArgs) -> Result<Outcome> {
    let (mut session, answers) = Session::open_asking(global, &args.deploy.settings, true).await?;
    require_protected_profiles(&session)?;
    let existing = session.cloudformation().list(&stack_prefix(session.env())).await?;
    if !preflight::run(&session, &existing).await? {
        return Ok(Outcome::Refused);
    }
    if wizard::asked_anything(&answers) {
        if !confirm_summary(&session)? {
            session.out.note("nothing was created");
            session.out.json(serde_json::json!({"type": "result", "command": "install", "outcome": "declined"}));
            return Ok(Outcome::Refused);
        }
        // The summary was the one confirmation of a first install: no question per wave. Where
        // stacks exist already, their change sets are still shown and confirmed.
        if existing.is_empty() {
            session.yes = true;
        }
    }
    session.save_config()?;
    let artifact = deploy::artifact(&session, args.deploy.lambda_zip.as_deref())?;
    let report = deploy::run(&session, Mode::Apply, &artifact).await?;
    if report.declined {
        return Ok(declined(&session, &report));
    }
    finish(&session, "install", &report);
    smoke_test_unless_skipped(&session, args).await
}

/// A TVM exists to guard protected roles: installing one without naming any is a mistake, so
/// without a terminal to ask on it is an error naming the flag and the key.
fn require_protected_profiles(session: &Session) -> Result<()> {
    if session.merged.protect.is_none() {
        bail!(Fixable::new(
            format!("no protected profiles given for `{}`", session.env()),
            "pass `--protect NAME[=POLICY_ARN,…]` (repeatable; config key `protect`), or run `sentinel-tvm install` on a terminal to be asked",
        ));
    }
    Ok(())
}

/// Shows what a first install creates and asks once.
fn confirm_summary(session: &Session) -> Result<bool> {
    let region = session.sdk.region().map(|r| r.to_string()).unwrap_or_default();
    session.out.data(&wizard::summary(&session.settings, &session.identity.account_id, &region));
    let question = format!("Create environment `{}` with these settings?", session.env());
    session.agrees(&question, true)
}

/// The smoke test that ends every applying command, unless `--skip-smoke-test`.
pub(super) async fn smoke_test_unless_skipped(session: &Session, args: &ApplyArgs) -> Result<Outcome> {
    if args.skip_smoke_test {
        session.out.note("smoke test skipped (--skip-smoke-test)");
        return Ok(Outcome::Success);
    }
    session.out.note("smoke test: proving the TVM vends what it should and refuses what it must");
    super::smoke_test::prove(session, &args.smoke).await
}

/// The closing lines every applying command prints.
pub(super) fn finish(session: &Session, command: &str, report: &deploy::Report) {
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
pub(super) fn declined(session: &Session, report: &deploy::Report) -> Outcome {
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
