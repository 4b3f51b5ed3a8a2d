//! The `sentinel-tvm` binary: parse the command line, run it, turn the outcome into an exit code.
//! Nothing else lives here; everything it calls is in the library so tests can reach it.

use std::process::ExitCode;

use clap::Parser;
use sentinel_tvm::cli::Cli;
use sentinel_tvm::cli::OutputFormat;
use sentinel_tvm::commands;
use sentinel_tvm::error::{ERROR_EXIT, exit_code_for};
use sentinel_tvm::tvm::recursion;
use sentinel_tvm::ui::output::Reporter;

fn main() -> ExitCode {
    if let Some(refusal) = recursion::nested(std::env::var_os(recursion::MARK).as_deref()) {
        Reporter::new(OutputFormat::Text).failure(&anyhow::Error::from(refusal));
        return ExitCode::from(ERROR_EXIT);
    }
    forget_empty_endpoint_url();
    let cli = Cli::parse();
    if recursion::marks(&cli.command) {
        mark_credential_lookup();
    }
    let out = Reporter::new(cli.global.output);
    let failed = |error: anyhow::Error| {
        out.failure(&error);
        exit_code_for(&error)
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return failed(anyhow::Error::new(error).context("could not start the async runtime")),
    };
    match runtime.block_on(commands::run(cli, &out)) {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => failed(error),
    }
}

/// Marks this process's environment, which the AWS SDK's `credential_process` children inherit:
/// a `sentinel-tvm` among them refuses at once (`tvm::recursion`).
fn mark_credential_lookup() {
    // SAFETY: called in `main` before the runtime or anything else starts a thread, so no other
    // thread can be reading the environment.
    unsafe { std::env::set_var(recursion::MARK, "1") };
}

/// An empty `AWS_ENDPOINT_URL` means "no endpoint" to a person, but the AWS SDK reads it itself
/// and panics on the empty URL; forget it before anything reads it.
fn forget_empty_endpoint_url() {
    if std::env::var_os("AWS_ENDPOINT_URL").is_some_and(|url| url.is_empty()) {
        // SAFETY: called first thing in `main`, before the runtime or anything else starts a
        // thread, so no other thread can be reading the environment.
        unsafe { std::env::remove_var("AWS_ENDPOINT_URL") };
    }
}
