//! The commands: one file per command, each a readable script of named steps, and this file,
//! which only dispatches. What several commands share (the session, the deploy flow, the
//! pre-flight, the smoke test, the SCP's stack, the TVM connection) lives in `steps/`; a command
//! never imports another command.

mod build;
mod credentials;
mod diff;
mod exec;
mod install;
mod policy;
mod profiles;
mod scp;
mod smoke_test;
mod status;
pub mod steps;
mod teardown;
mod upgrade;

use anyhow::Result;

use crate::cli::{Cli, Command, PolicyCommand, ScpCommand};
use crate::error::Outcome;
use crate::ui::output::Reporter;

pub async fn run(cli: Cli, out: &Reporter) -> Result<Outcome> {
    let global = &cli.global;
    match &cli.command {
        Command::Install(args) => install::run(global, out, args).await,
        Command::Upgrade(args) => upgrade::run(global, out, args).await,
        Command::Diff(args) => diff::run(global, out, args).await,
        Command::Status(args) => status::run(global, out, args).await,
        Command::SmokeTest(args) => smoke_test::run(global, out, args).await,
        Command::Teardown(args) => teardown::run(global, out, args).await,
        Command::Build(args) => build::run(out, args),
        Command::Policy(PolicyCommand::Validate { file }) => policy::validate(out, file),
        Command::Policy(PolicyCommand::Init { file, force }) => policy::init(global, out, file, *force).await,
        Command::Scp(ScpCommand::Show(args)) => scp::show(global, out, args).await,
        Command::Scp(ScpCommand::Check(args)) => scp::check(global, out, args).await,
        Command::Credentials(args) => credentials::run(global, out, args).await,
        Command::Profiles(args) => profiles::run(global, out, args).await,
        Command::Exec(args) => exec::run(global, out, args).await,
    }
}
