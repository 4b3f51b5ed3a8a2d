//! `sentinel-tvm diff`: what `upgrade` would change, as change sets shown and then deleted;
//! nothing is applied.

use anyhow::Result;

use crate::cli::{DeployArgs, GlobalArgs};
use crate::commands::steps::apply::changes;
use crate::commands::steps::session::Session;
use crate::error::Outcome;
use crate::rollout::stacks::Mode;
use crate::ui::output::Reporter;

pub async fn run(global: &GlobalArgs, out: &Reporter, args: &DeployArgs) -> Result<Outcome> {
    let session = Session::open(global, out, &args.settings).await?;
    changes(&session, args, Mode::Preview).await
}
