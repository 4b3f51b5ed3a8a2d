//! `sentinel-tvm credentials --profile P`: a `credential_process` for any AWS SDK or CLI. Standard
//! output carries exactly the object an SDK reads, whatever `--output` says; a refusal is the
//! TVM's own words on stderr, exit 1. An out-of-range `--duration` is refused before anything
//! else runs.

use anyhow::Result;

use crate::cli::{CredentialsArgs, GlobalArgs};
use crate::commands::steps::tvm::{Connected, refused_or};
use crate::error::Outcome;
use crate::tvm::wire;
use crate::ui::output::Reporter;

/// `credentials`: the `credential_process` JSON on stdout; a refusal on stderr, exit 1.
pub async fn run(global: &GlobalArgs, out: &Reporter, args: &CredentialsArgs) -> Result<Outcome> {
    let lifetime = wire::lifetime(args.duration)?;
    let connected = Connected::open(global, &args.tvm).await?;
    match connected.vend(&args.profile, lifetime).await {
        Ok(vended) => {
            out.credential_process(&vended.credential_process_json());
            Ok(Outcome::Success)
        }
        Err(error) => refused_or(out, error),
    }
}
