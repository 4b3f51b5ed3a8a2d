//! One verdict type for every check: pre-flight, permissions, the SCP's organization checks and
//! `scp check`'s cases. A check concludes pass, warn, fail or skipped, in one line with its fix;
//! how a list of them reads, as text or JSON. Pure: no AWS, no output.

use serde_json::{Value, json};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// Worth reading, but the install may go on.
    Warn,
    /// The install must not start.
    Fail,
    /// The check could not be made here (said why in `detail`).
    Skipped,
}

/// One check's one-line verdict, and the fix when it did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Verdict {
    pub fn pass(check: &'static str, detail: impl Into<String>) -> Self {
        Self { check, status: Status::Pass, detail: detail.into(), fix: None }
    }
    pub fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check, status: Status::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub fn skipped(check: &'static str, why: impl Into<String>) -> Self {
        Self { check, status: Status::Skipped, detail: why.into(), fix: None }
    }

    /// `✓ check: detail`, with `    fix: …` under a verdict that did not pass.
    pub fn line(&self) -> String {
        let mark = match self.status {
            Status::Pass => '✓',
            Status::Warn => '!',
            Status::Fail => '✗',
            Status::Skipped => '-',
        };
        let mut line = format!("{mark} {}: {}\n", self.check, self.detail);
        if let Some(fix) = &self.fix {
            line.push_str(&format!("    fix: {fix}\n"));
        }
        line
    }

    pub fn json(&self) -> Value {
        let status = match self.status {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
        };
        json!({"type": "preflight", "check": self.check, "status": status, "detail": self.detail, "fix": self.fix})
    }
}

/// The verdicts that stop the install.
pub fn failures(verdicts: &[Verdict]) -> Vec<&Verdict> {
    verdicts.iter().filter(|v| v.status == Status::Fail).collect()
}
