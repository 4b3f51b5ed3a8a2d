//! One module per command, each a readable script of named steps; this file only dispatches.

use anyhow::Result;

use crate::cli::{Cli, Command, PolicyCommand};
use crate::error::{Fixable, Outcome};

pub async fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Install => not_built("install"),
        Command::Upgrade => not_built("upgrade"),
        Command::Diff => not_built("diff"),
        Command::Status => not_built("status"),
        Command::SmokeTest => not_built("smoke-test"),
        Command::Teardown => not_built("teardown"),
        Command::Policy(PolicyCommand::Validate { .. }) => not_built("policy validate"),
    }
}

/// A command the CLI already names but this build cannot run yet: an error, never a fake success.
fn not_built(command: &str) -> Result<Outcome> {
    Err(Fixable::new(
        format!("`sentinel-tvm {command}` is not available in this build yet"),
        "see the README for what this version can do",
    )
    .into())
}
