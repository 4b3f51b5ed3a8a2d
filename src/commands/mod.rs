//! One module per command, each a readable script of named steps; this file only dispatches.

mod client;
mod deploy;
mod exec;
mod install;
mod policy;
mod preflight;
mod scp;
mod session;
mod smoke_client;
mod smoke_test;
mod status;
mod teardown;
mod upgrade;

use anyhow::Result;

use crate::cli::{Cli, Command, PolicyCommand, ScpCommand};
use crate::error::Outcome;

pub async fn run(cli: Cli) -> Result<Outcome> {
    let global = &cli.global;
    match &cli.command {
        Command::Install(args) => install::run(global, args).await,
        Command::Upgrade(args) => upgrade::upgrade(global, args).await,
        Command::Diff(args) => upgrade::diff(global, args).await,
        Command::Status => status::run(global).await,
        Command::SmokeTest(args) => smoke_test::run(global, args).await,
        Command::Teardown => teardown::run(global).await,
        Command::Policy(PolicyCommand::Validate { file }) => policy::validate(file),
        Command::Policy(PolicyCommand::Init { file, force }) => policy::init(global, file, *force),
        Command::Scp(ScpCommand::Show(args)) => scp::show(global, args).await,
        Command::Scp(ScpCommand::Check(args)) => scp::check(global, args).await,
        Command::Credentials(args) => client::credentials(global, args).await,
        Command::Profiles(args) => client::profiles(global, args).await,
        Command::Exec(args) => exec::run(global, args).await,
    }
}
