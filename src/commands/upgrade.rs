//! `sentinel-tvm upgrade`: the saved settings (and any flags), the code (rebuilt only when its
//! sources or tools changed: a cached build runs no cargo), and only the stacks whose template or
//! parameters changed; a stack that did not change gets no change set at all.
//! Applies them on confirmation and ends with the smoke test.

use anyhow::Result;

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::commands::steps::apply::{changes, smoke_test_unless_skipped};
use crate::commands::steps::session::Session;
use crate::error::Outcome;
use crate::rollout::stacks::Mode;
use crate::ui::output::Reporter;

pub async fn run(global: &GlobalArgs, out: &Reporter, args: &ApplyArgs) -> Result<Outcome> {
    let session = Session::open(global, out, &args.deploy.settings).await?;
    match changes(&session, &args.deploy, Mode::Apply).await? {
        Outcome::Success => smoke_test_unless_skipped(&session, args).await,
        refused => Ok(refused),
    }
}
