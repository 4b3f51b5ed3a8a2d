//! `sentinel-tvm upgrade` and `diff`: the saved settings (and any flags), rebuilt code, and only
//! the stacks whose template or parameters changed; a stack that did not change gets no change
//! set at all. `diff` stops after showing the change sets; `upgrade` applies them and ends with
//! the smoke test.

use anyhow::{Result, bail};

use super::deploy;
use super::install::{declined, finish, smoke_test_unless_skipped};
use super::session::Session;
use crate::cli::{ApplyArgs, DeployArgs, GlobalArgs};
use crate::engine::Mode;
use crate::error::{Fixable, Outcome};
use crate::stacks::Part;

pub async fn upgrade(global: &GlobalArgs, args: &ApplyArgs) -> Result<Outcome> {
    let session = Session::open(global, &args.deploy.settings).await?;
    match changes(&session, &args.deploy, Mode::Apply).await? {
        Outcome::Success => smoke_test_unless_skipped(&session, args).await,
        refused => Ok(refused),
    }
}

pub async fn diff(global: &GlobalArgs, args: &DeployArgs) -> Result<Outcome> {
    let session = Session::open(global, &args.settings).await?;
    changes(&session, args, Mode::Preview).await
}

async fn changes(session: &Session, args: &DeployArgs, mode: Mode) -> Result<Outcome> {
    require_installed(session).await?;
    let artifact = deploy::artifact(session, args.lambda_zip.as_deref())?;
    let report = deploy::run(session, mode, &artifact).await?;
    if report.declined {
        return Ok(declined(session, &report));
    }
    if mode == Mode::Apply {
        session.save_config()?;
    }
    finish(session, if mode == Mode::Preview { "diff" } else { "upgrade" }, &report);
    Ok(Outcome::Success)
}

async fn require_installed(session: &Session) -> Result<()> {
    let api = Part::Api.stack_name(session.env());
    if session.cloudformation().describe(&api).await?.is_none() {
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
