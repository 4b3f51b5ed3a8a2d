//! `sentinel-tvm build`: the TVM Lambda built from the sources this binary carries, into the
//! cache `install` and `upgrade` use (or found built there), and the zip's path on stdout. No AWS.

use anyhow::Result;
use serde_json::json;

use crate::cli::BuildArgs;
use crate::commands::steps::deploy::lambda_build;
use crate::error::Outcome;
use crate::ui::output::Reporter;

pub fn run(out: &Reporter, args: &BuildArgs) -> Result<Outcome> {
    let artifact = lambda_build(out, args.architecture)?;
    out.json(json!({
        "type": "result",
        "command": "build",
        "outcome": "built",
        "architecture": args.architecture.as_str(),
        "path": artifact.path,
        "sha256": artifact.sha256,
    }));
    out.data(&format!("{}\n", artifact.path.display()));
    Ok(Outcome::Success)
}
