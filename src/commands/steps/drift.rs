//! Drift detection and restore, shared by `status`, `upgrade`, `diff` and the smoke test: ask
//! CloudFormation to detect drift on every stack of the environment at once, wait for it with
//! progress, and turn what it found into findings (`deploy::drift`). An out-of-band edit of a
//! protected role's trust is exactly how a TVM is walked around, so each finding is reported as a
//! security finding.
//!
//! Restoring is a drift-aware change set (`REVERT_DRIFT`) in the engine, on AWS always. An
//! emulator on this machine may have no drift-aware change sets (MiniStack 1.5 ignores
//! `DeploymentMode`): there, and only there, `restore_on_emulator` writes the template's trust
//! policy back through IAM and confirms with a second detection that the stack is in sync.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures_util::future::try_join_all;

use super::session::{Session, environment_stacks};
use crate::aws::cloudformation::CloudFormation;
use crate::aws::iam_role;
use crate::deploy::drift::{self, Finding};
use crate::deploy::plan::Action;
use crate::error::Fixable;
use crate::model::cloudformation::Deployed;
use crate::rollout::stacks::Mode;
use crate::settings::Scope;
use crate::ui::output::Reporter;
use crate::ui::prompt;
use crate::ui::render;

/// How long one stack's detection may take (AWS: seconds per stack, more for many resources).
const DETECTION_TIMEOUT: Duration = Duration::from_secs(300);
const POLL_EVERY: Duration = Duration::from_secs(2);
/// How often a terminal hears that detection is still running.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// What drift detection found on an environment's stacks.
#[derive(Debug, Default)]
pub struct Drift {
    pub findings: Vec<Finding>,
    /// Stacks whose detection failed or could not run, with why: their drift is unknown.
    pub unchecked: Vec<(String, String)>,
}

impl Drift {
    /// What drifted in each stack, as `Resource.Property`.
    pub fn by_stack(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_stack: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for finding in &self.findings {
            by_stack.entry(finding.stack.clone()).or_default().push(finding.what());
        }
        by_stack
    }
}

/// Detects drift on every stack in `stacks` that CloudFormation can check, all at once.
pub async fn detect<S: Scope>(session: &Session<S>, stacks: &[Deployed]) -> Result<Drift> {
    let cfn = session.cloudformation();
    let (checkable, busy): (Vec<&Deployed>, Vec<&Deployed>) = stacks.iter().partition(|s| detectable(&s.status));
    if !checkable.is_empty() {
        session.out.note(&format!("detecting drift on {} stack(s) (`--no-drift` skips this)", checkable.len()));
    }
    let progress = Progress { started: Instant::now(), told: Mutex::new(Instant::now()) };
    let detected =
        try_join_all(checkable.iter().map(|stack| detect_one(&cfn, session, &stack.name, &progress))).await?;
    let mut drift = Drift::default();
    for (findings, unchecked) in detected {
        drift.findings.extend(findings);
        drift.unchecked.extend(unchecked);
    }
    drift.unchecked.extend(busy.iter().map(|s| (s.name.clone(), format!("it is {}", s.status))));
    Ok(drift)
}

/// The statuses CloudFormation detects drift in.
fn detectable(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "UPDATE_ROLLBACK_FAILED"
            | "IMPORT_COMPLETE"
    )
}

/// One "still detecting" line every `PROGRESS_EVERY` for all stacks together.
struct Progress {
    started: Instant,
    told: Mutex<Instant>,
}

impl Progress {
    fn tick(&self, out: &Reporter) {
        let mut told = self.told.lock().unwrap_or_else(PoisonError::into_inner);
        if told.elapsed() >= PROGRESS_EVERY {
            out.note(&format!("still detecting drift ({} s)", self.started.elapsed().as_secs()));
            *told = Instant::now();
        }
    }
}

async fn detect_one<S: Scope>(
    cfn: &CloudFormation,
    session: &Session<S>,
    stack: &str,
    progress: &Progress,
) -> Result<(Vec<Finding>, Option<(String, String)>)> {
    let id = cfn.detect_drift(stack).await?;
    let deadline = Instant::now() + DETECTION_TIMEOUT;
    let detection = loop {
        let detection = cfn.drift_detection(&id).await?;
        if !detection.in_progress() {
            break detection;
        }
        if Instant::now() >= deadline {
            bail!(Fixable::new(
                format!("drift detection on `{stack}` did not finish within {} s", DETECTION_TIMEOUT.as_secs()),
                "run it again; `--no-drift` skips detection",
            ));
        }
        progress.tick(&session.out);
        tokio::time::sleep(POLL_EVERY).await;
    };
    let findings = cfn.drifted_resources(stack).await?.iter().flat_map(drift::findings).collect();
    let unchecked = (detection.status != "DETECTION_COMPLETE").then(|| {
        (stack.to_string(), detection.reason.unwrap_or_else(|| format!("detection ended {}", detection.status)))
    });
    Ok((findings, unchecked))
}

/// Every finding as a security finding (text on stderr, or one JSON object each), and every
/// stack whose drift is unknown as a warning.
pub fn report<S: Scope>(session: &Session<S>, drift: &Drift) {
    for finding in &drift.findings {
        session.out.json(render::json::drift(finding));
        session.out.warn(&render::drift_finding(finding));
    }
    for (stack, why) in &drift.unchecked {
        session.out.warn(&format!("drift of `{stack}` is unknown: {why}"));
    }
}

/// Whether this run's restores need `restore_on_emulator` (an emulator on this machine) rather
/// than drift-aware change sets (AWS).
pub fn restores_outside_cloudformation(session: &Session) -> bool {
    session.emulator().is_some()
}

/// What became of the drift an emulator restore was asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Restored {
    /// These stacks are back in sync (or, in a preview, would be).
    Stacks(Vec<String>),
    Declined,
}

/// EMULATOR DEVIATION: MiniStack has no drift-aware change sets, so a restore there writes each
/// drifted trust policy back with `iam:UpdateAssumeRolePolicy` and then proves, with a second
/// detection, that the stacks are in sync. Anything else that drifted cannot be restored this
/// way and stops the run. Never used against AWS (`restores_outside_cloudformation`).
pub async fn restore_on_emulator(session: &Session, drift: &Drift, mode: Mode) -> Result<Restored> {
    let by_stack = drift.by_stack();
    for (stack, drifted) in &by_stack {
        session.out.plan(stack, &Action::Restore { drifted: drifted.clone() });
    }
    if let Some(other) = drift.findings.iter().find(|f| !is_trust_policy(f)) {
        bail!(Fixable::new(
            format!(
                "{} of stack `{}` drifted, and this emulator can only restore a role's trust policy outside CloudFormation",
                other.what(),
                other.stack
            ),
            "restore it by hand; on AWS, upgrade restores it with a drift-aware change set",
        ));
    }
    let stacks: Vec<String> = by_stack.keys().cloned().collect();
    if mode == Mode::Preview {
        return Ok(Restored::Stacks(stacks));
    }
    let question = format!("Restore {} drifted propert(ies) of {} stack(s)?", drift.findings.len(), stacks.len());
    if !session.yes && !session.out.suspend(|| prompt::agreed(session.prompt.as_ref(), &question, false, "--yes"))? {
        return Ok(Restored::Declined);
    }
    let iam = aws_sdk_iam::Client::new(&session.sdk);
    for finding in &drift.findings {
        session.out.note(&format!("restoring {} of `{}` through IAM (emulator)", finding.what(), finding.stack));
        iam_role::set_trust_policy(&iam, &finding.physical_id, &finding.expected.to_string()).await?;
    }
    let restored: Vec<Deployed> =
        environment_stacks(session).await?.into_iter().filter(|s| stacks.contains(&s.name)).collect();
    let again = detect(session, &restored).await?;
    if !again.findings.is_empty() {
        report(session, &again);
        bail!(
            "the restore did not bring {} back in sync",
            again.by_stack().keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(Restored::Stacks(stacks))
}

fn is_trust_policy(finding: &Finding) -> bool {
    finding.resource_type == "AWS::IAM::Role"
        && finding.property.as_deref() == Some("AssumeRolePolicyDocument")
        && finding.expected.is_object()
}
