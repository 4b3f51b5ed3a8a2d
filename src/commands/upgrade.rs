//! `sentinel-tvm upgrade`: the saved settings (and any flags), rebuilt code, and only the stacks
//! whose template or parameters changed; a stack that did not change gets no change set at all.

use anyhow::{Result, bail};

use super::deploy;
use super::install::{declined, finish};
use super::session::Session;
use crate::cli::{DeployArgs, GlobalArgs};
use crate::engine::Mode;
use crate::error::{Fixable, Outcome};
use crate::stacks::Part;

pub async fn run(global: &GlobalArgs, args: &DeployArgs, mode: Mode) -> Result<Outcome> {
    let session = Session::open(global, &args.settings).await?;
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
    let artifact = deploy::artifact(&session, args.lambda_zip.as_deref())?;
    let Some(report) = deploy::run(&session, mode, &artifact).await? else {
        return Ok(declined(&session));
    };
    let command = if mode == Mode::Preview { "diff" } else { "upgrade" };
    if mode == Mode::Apply {
        session.save_config()?;
    }
    finish(&session, command, &report);
    Ok(Outcome::Success)
}
