//! The `sentinel-tvm` binary: parse the command line, run it, turn the outcome into an exit code.
//! Nothing else lives here; everything it calls is in the library so tests can reach it.

use std::process::ExitCode;

use clap::Parser;
use sentinel_tvm::{cli::Cli, commands, report};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            return report::failure(&anyhow::Error::new(error).context("could not start the async runtime"));
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => report::failure(&error),
    }
}
