//! `sentinel-tvm profiles`: what the TVM would vend to you, one `NAME<TAB>ROLE_ARN` per line
//! (with `--output json`, the TVM's own JSON object).

use anyhow::{Context, Result, bail};

use crate::cli::{GlobalArgs, TvmArgs};
use crate::commands::steps::tvm::{Connected, Refused, refused_or};
use crate::error::Outcome;
use crate::tvm::wire;
use crate::ui::output::Reporter;

/// `profiles`: one per line (or the TVM's JSON with `--output json`).
pub async fn run(global: &GlobalArgs, out: &Reporter, tvm: &TvmArgs) -> Result<Outcome> {
    let connected = Connected::open(global, tvm).await?;
    let answer = connected.profiles().await?;
    if answer.status != 200 {
        return refused_or(out, Refused(wire::refusal(&answer)).into());
    }
    let body: serde_json::Value = serde_json::from_str(&answer.body).context("the TVM's profiles are not JSON")?;
    if out.is_json() {
        out.json(body);
        return Ok(Outcome::Success);
    }
    let Some(profiles) = body.get("profiles").and_then(|p| p.as_array()) else {
        bail!("the TVM's answer has no profiles list: {body}");
    };
    if profiles.is_empty() {
        out.stderr_block("the TVM's policy grants you no profile\n");
    }
    let mut lines = String::new();
    for profile in profiles {
        let name = profile.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        let role = profile.get("role_arn").and_then(|r| r.as_str()).unwrap_or_default();
        lines.push_str(&format!("{name}\t{role}\n"));
    }
    out.data(&lines);
    Ok(Outcome::Success)
}
