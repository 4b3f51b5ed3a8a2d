//! One module per command, each a readable script of named steps; this file only dispatches.

mod deploy;
mod install;
mod policy;
mod session;
mod status;
mod teardown;
mod upgrade;

use anyhow::Result;

use crate::cli::{Cli, Command, PolicyCommand};
use crate::engine::Mode;
use crate::error::{Fixable, Outcome};

pub async fn run(cli: Cli) -> Result<Outcome> {
    let global = &cli.global;
    match &cli.command {
        Command::Install(args) => install::run(global, args).await,
        Command::Upgrade(args) => upgrade::run(global, args, Mode::Apply).await,
        Command::Diff(args) => upgrade::run(global, args, Mode::Preview).await,
        Command::Status => status::run(global).await,
        Command::SmokeTest => not_built("smoke-test"),
        Command::Teardown => teardown::run(global).await,
        Command::Policy(PolicyCommand::Validate { file }) => policy::validate(file),
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
