//! `sentinel-tvm install`: ask for what is missing (on a terminal), run the pre-flight checks,
//! confirm a first install's summary once, save the settings, build, deploy every stack, report
//! the endpoint, smoke test. On an environment that already exists it is an upgrade: only what
//! changed is applied.

use anyhow::{Result, bail};

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::commands::steps::apply::{declined, finish, smoke_test_unless_skipped};
use crate::commands::steps::scp::deployers_in_effect;
use crate::commands::steps::session::{Session, named_stacks};
use crate::commands::steps::{deploy, preflight};
use crate::config::ScpMode;
use crate::error::{Fixable, Outcome};
use crate::rollout::stacks::Mode;
use crate::ui::output::Reporter;
use crate::ui::wizard;

pub async fn run(global: &GlobalArgs, out: &Reporter, args: &ApplyArgs) -> Result<Outcome> {
    let (mut session, answers) = Session::open_asking(global, out, &args.deploy.settings, true).await?;
    require_protected_profiles(&session)?;
    let existing = named_stacks(&session).await?;
    if !preflight::run(&session, &existing, args.deploy.lambda_zip.as_deref()).await? {
        return Ok(Outcome::Refused);
    }
    if wizard::asked_anything(&answers) {
        if !confirm_summary(&session).await? {
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
    let report = deploy::run(&session, Mode::Apply, &artifact, !args.deploy.no_drift, &existing).await?;
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
async fn confirm_summary(session: &Session) -> Result<bool> {
    let region = session.sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let deployers = match session.settings.deploy.scp.mode {
        ScpMode::Enforce => deployers_in_effect(session).await?,
        _ => Vec::new(),
    };
    session.out.data(&wizard::summary(&session.settings, &session.identity.account_id, &region, &deployers));
    let question = format!("Create environment `{}` with these settings?", session.env());
    session.agrees(&question, true)
}
