//! Errors the user can act on, and the outcome of a command that ran to its end.
//!
//! Anything else is an `anyhow::Error` with context on every step; the `Reporter` prints both
//! kinds (`ui::render::render_failure` says how they read).

use std::process::ExitCode;

/// An error with the sentence that tells the user how to fix it.
///
/// Attach one anywhere in an error chain (`Err(Fixable::new(..))?` or `.context(Fixable::new(..))`);
/// `Reporter::failure` prints the first one it finds as a `hint:` line.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Fixable {
    pub message: String,
    pub hint: String,
}

impl Fixable {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { message: message.into(), hint: hint.into() }
    }
}

/// The user pressed Ctrl-C while AWS was working: says what keeps going and how to follow it.
/// Exit code 130, like any interrupted command.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// How a command that did not error ended. Errors are exit code 2 and never an `Outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, including "nothing to change".
    Success,
    /// A check said no, or the user declined: exit code 1.
    Refused,
    /// `exec`'s command ended with this exit code (128 + the signal's number when a signal ended
    /// it), passed on as ours.
    Exit(u8),
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Refused => ExitCode::from(1),
            Outcome::Exit(code) => ExitCode::from(code),
        }
    }
}

/// Exit code for an error (as opposed to a check that said no).
pub const ERROR_EXIT: u8 = 2;
/// Exit code after Ctrl-C.
pub const INTERRUPTED_EXIT: u8 = 130;

/// The exit code for a command that failed with `error`: 130 when interrupted, else 2.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    if error.chain().any(|cause| cause.is::<Interrupted>()) {
        return ExitCode::from(INTERRUPTED_EXIT);
    }
    ExitCode::from(ERROR_EXIT)
}
