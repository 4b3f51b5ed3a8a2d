//! `sentinel-tvm exec --profile P -- COMMAND…`: runs a command whose AWS SDK takes its
//! credentials from the TVM. Asks the TVM once first (a refusal stops here, in the TVM's words,
//! before anything runs), starts the credentials bridge (`crate::tvm::bridge`, which also explains the
//! command's environment), runs the command, and exits with its exit code.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::{ExecArgs, GlobalArgs};
use crate::commands::steps::tvm::{Connected, Refused, aws_config_file, refused_or};
use crate::error::{Fixable, Outcome};
use crate::tvm::aws_config;
use crate::tvm::bridge::{self, Bridge, ChildEnv, Failure, Source};
use crate::tvm::wire::{self, Vended};
use crate::ui::output::Reporter;

pub async fn run(global: &GlobalArgs, out: &Reporter, args: &ExecArgs) -> Result<Outcome> {
    let wanted = &args.credentials;
    let lifetime = wire::lifetime(wanted.duration)?;
    let connected = Connected::open(global, &wanted.tvm).await?;
    let first = match connected.vend(&wanted.profile, lifetime).await {
        Ok(vended) => vended,
        Err(error) => return refused_or(out, error),
    };
    let tvm = Tvm { connected, profile: wanted.profile.clone(), lifetime, out: out.clone() };
    let bridge = Bridge::start(tvm, Some(first)).await?;
    let environment = environment_for(&bridge);
    if let Some(note) = &environment.note {
        out.plain_note(note);
    }
    let status = run_command(&args.command, &environment).await?;
    drop(bridge);
    Ok(Outcome::Exit(exit_code(status)))
}

/// The bridge's source: a fresh signed request to the TVM each time.
struct Tvm {
    connected: Connected,
    profile: String,
    lifetime: u32,
    /// Where a renewal that failed is said (the command's SDK only sees a 502).
    out: Reporter,
}

impl Source for Tvm {
    async fn vend(&self) -> Result<Vended, Failure> {
        let failure = match self.connected.vend(&self.profile, self.lifetime).await {
            Ok(vended) => return Ok(vended),
            Err(error) => match error.downcast_ref::<Refused>() {
                Some(Refused(words)) => Failure::Refused(words.clone()),
                None => Failure::Unavailable(format!("{error:#}")),
            },
        };
        let (Failure::Refused(words) | Failure::Unavailable(words)) = &failure;
        self.out
            .stderr_block(&format!("error: sentinel-tvm exec could not renew the command's credentials: {words}\n"));
        Err(failure)
    }
}

/// The command's environment, from the bridge and the user's AWS config file.
fn environment_for(bridge: &Bridge) -> ChildEnv {
    let config = aws_config_file().and_then(|path| {
        let text = std::fs::read_to_string(&path).ok()?;
        Some((path.display().to_string(), aws_config::default_profile(&text)))
    });
    let region_set =
        ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    bridge::child_env(&bridge.url(), bridge.token(), config.as_ref().map(|(path, p)| (path.as_str(), p)), region_set)
}

/// Runs the command with inherited stdio until it ends. Ctrl-C reaches the command from the
/// terminal itself; this process outlives it, keeping the bridge up while the command cleans up.
/// SIGTERM sent to this process alone is passed on.
async fn run_command(command: &[String], environment: &ChildEnv) -> Result<ExitStatus> {
    let (program, arguments) = command.split_first().context("no command to run")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut child = tokio::process::Command::new(program);
    child.args(arguments);
    for name in &environment.remove {
        child.env_remove(name);
    }
    for (name, value) in &environment.set {
        child.env(name, value);
    }
    let mut child = child.spawn().map_err(|error| {
        Fixable::new(format!("cannot run `{program}`: {error}"), "check the command's name, and PATH")
    })?;
    loop {
        tokio::select! {
            status = child.wait() => return status.with_context(|| format!("lost track of `{program}`")),
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {
                if let Some(pid) = child.id() {
                    // No signal API in our dependencies: kill(1) does it.
                    let _ = tokio::process::Command::new("kill").args(["-s", "TERM", &pid.to_string()]).status().await;
                }
            }
        }
    }
}

/// The command's exit code, or 128 + the number of the signal that ended it, as shells report.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_is_the_commands_or_128_plus_its_signal() {
        for (raw, code) in [(0, 0), (7 << 8, 7), (255 << 8, 255), (15, 143), (9, 137), (2, 130)] {
            assert_eq!(exit_code(ExitStatus::from_raw(raw)), code, "{raw}");
        }
    }
}
