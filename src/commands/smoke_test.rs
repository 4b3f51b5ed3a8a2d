//! `sentinel-tvm smoke-test`: prove the installed environment vends what it should and refuses
//! what it must (`steps::smoke`); `--as-client` repeats the positive path as a temporary IAM user
//! holding only the generated client policy.

use anyhow::Result;

use crate::cli::{GlobalArgs, SmokeArgs};
use crate::commands::steps::session::Session;
use crate::commands::steps::smoke::prove;
use crate::config::EnvironmentConfig;
use crate::error::Outcome;
use crate::ui::output::Reporter;

pub async fn run(global: &GlobalArgs, out: &Reporter, args: &SmokeArgs) -> Result<Outcome> {
    let session = Session::open(global, out, &EnvironmentConfig::default()).await?;
    prove(&session, args).await
}
