//! The guard against a client that asks itself for its own credentials. A `credential_process`
//! line that runs `sentinel-tvm credentials` without `--aws-profile`, used with `AWS_PROFILE` set
//! to that same profile (or written in `[default]`), makes `sentinel-tvm` look up its base
//! credentials in the profile that runs it: it starts itself again, which starts itself again,
//! without end (thousands of processes in minutes).
//!
//! So the client commands (`credentials`, `exec`, `profiles`) mark the environment their own
//! credential lookup runs in (`MARK`, which a `credential_process` child inherits), and a
//! `sentinel-tvm` started with the mark refuses at once, exit 2, before it reads anything: at most
//! one nested `sentinel-tvm` ever starts. The outer command recognises that refusal in its lookup's
//! error (`is_nested_refusal`) and says one thing, naming `--aws-profile` (`looked_up_itself`).
//! `exec` removes the mark from its command's environment (`tvm::bridge::child_env`), so a
//! `sentinel-tvm` run inside `exec` works.
//!
//! Owns the mark's name and the words of both refusals; setting the variable is `main`'s (before
//! any thread starts), reading errors is `commands::steps::tvm`'s.

use crate::cli::Command;
use crate::error::Fixable;

/// Set (to `1`) in the environment of a client command's own credential lookup.
pub const MARK: &str = "SENTINEL_TVM_CREDENTIAL_LOOKUP";

/// The words a nested `sentinel-tvm` refuses with, which the outer one looks for in its lookup's
/// error (the AWS SDK passes a `credential_process`'s stderr on).
const NESTED: &str = "sentinel-tvm was started to supply the AWS credentials of another sentinel-tvm";

/// Whether `command` looks up base credentials to call the TVM with, and so marks the lookup.
pub fn marks(command: &Command) -> bool {
    matches!(command, Command::Credentials(_) | Command::Exec(_) | Command::Profiles(_))
}

/// The refusal of a `sentinel-tvm` started with the mark: `Some` whenever the variable is set,
/// to anything (an empty value too: nobody but this guard sets it).
pub fn nested(mark: Option<&std::ffi::OsStr>) -> Option<Fixable> {
    mark?;
    Some(Fixable::new(
        format!("{NESTED} ({MARK} is set): it would start itself again without end, so it stops here"),
        "give the `credential_process` line `--aws-profile NAME`, a profile whose credentials do not come from sentinel-tvm (`sentinel-tvm profiles --write-config` writes such lines)",
    ))
}

/// Whether a credential lookup failed because a nested `sentinel-tvm` refused (`nested`).
pub fn is_nested_refusal(detail: &str) -> bool {
    detail.contains(NESTED)
}

/// The outer command's one message when its lookup ran into `nested`: `profile` is where it
/// looked (`--aws-profile`, AWS_PROFILE, else `default`).
pub fn looked_up_itself(profile: &str) -> Fixable {
    Fixable::new(
        format!(
            "cannot read your AWS credentials to sign with: the AWS profile `{profile}` gets them by running sentinel-tvm, which would ask itself without end"
        ),
        "name the profile your own credentials come from with `--aws-profile NAME` (in a `credential_process` line: `sentinel-tvm credentials … --aws-profile NAME`), one that does not run sentinel-tvm; `sentinel-tvm profiles --write-config` writes such lines",
    )
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    #[test]
    fn the_client_commands_mark_their_lookup_and_no_other_does() {
        for (args, marked) in [
            (&["credentials", "--profile", "p"][..], true),
            (&["exec", "--profile", "p", "--", "true"][..], true),
            (&["profiles"][..], true),
            (&["status"][..], false),
            (&["smoke-test"][..], false),
            (&["policy", "validate", "f"][..], false),
        ] {
            let cli = Cli::try_parse_from([&["sentinel-tvm"][..], args].concat()).unwrap();
            assert_eq!(marks(&cli.command), marked, "{args:?}");
        }
    }

    #[test]
    fn a_marked_start_refuses_naming_aws_profile_and_the_outer_one_recognises_it() {
        assert!(nested(None).is_none());
        for mark in ["1", ""] {
            let refusal = nested(Some(OsStr::new(mark))).expect("refused");
            assert!(refusal.message.contains(MARK), "{}", refusal.message);
            assert!(refusal.hint.contains("--aws-profile"), "{}", refusal.hint);
            // As the AWS SDK reports a failed `credential_process`: its stderr, passed on.
            let outer = format!(
                "Error retrieving credentials: external process exited with code exit status: 2. Stderr: error: {}\nhint: {}",
                refusal.message, refusal.hint
            );
            assert!(is_nested_refusal(&outer));
        }
        assert!(!is_nested_refusal("the credential provider was not enabled"));
        let outer = looked_up_itself("prod");
        assert!(outer.message.contains("`prod`") && outer.hint.contains("--aws-profile NAME"), "{outer:?}");
    }
}
