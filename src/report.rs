//! How a failed command speaks to the user: one `error:` line, its causes, and a `hint:` when one
//! is known. Always stderr, so stdout stays clean for `--output json`.

use std::process::ExitCode;

use crate::error::{Fixable, Interrupted};

/// Exit code for an error (as opposed to a check that said no).
pub const ERROR_EXIT: u8 = 2;
/// Exit code after Ctrl-C.
pub const INTERRUPTED_EXIT: u8 = 130;

/// Prints `error` and returns the exit code for it.
pub fn failure(error: &anyhow::Error) -> ExitCode {
    eprint!("{}", render_failure(error));
    if error.chain().any(|cause| cause.is::<Interrupted>()) {
        return ExitCode::from(INTERRUPTED_EXIT);
    }
    ExitCode::from(ERROR_EXIT)
}

/// The text `failure` prints: the error, each cause once, then the first hint in the chain.
pub fn render_failure(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}\n");
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        // SDK errors often repeat their source's text; say each sentence once.
        if cause != previous {
            text.push_str(&format!("  caused by: {cause}\n"));
        }
        previous = cause;
    }
    if let Some(fixable) = error.chain().find_map(|cause| cause.downcast_ref::<Fixable>()) {
        text.push_str(&format!("hint: {}\n", fixable.hint));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_plain_error_is_one_line() {
        let error = anyhow::anyhow!("the stack is stuck");
        assert_eq!(render_failure(&error), "error: the stack is stuck\n");
    }

    #[test]
    fn causes_follow_in_order_and_the_hint_comes_last() {
        let error = Err::<(), _>(Fixable::new("no credentials found", "run `aws sso login`"))
            .context("could not read the caller identity")
            .unwrap_err();
        assert_eq!(
            render_failure(&error),
            "error: could not read the caller identity\n  caused by: no credentials found\nhint: run `aws sso login`\n"
        );
    }

    #[test]
    fn a_cause_that_repeats_its_parent_is_said_once() {
        let error = anyhow::anyhow!("service error").context("service error").context("deploy failed");
        assert_eq!(render_failure(&error), "error: deploy failed\n  caused by: service error\n");
    }
}
