//! Waiting on CloudFormation, with bounds: a change set until it is ready, a stack operation
//! until it settles (streaming its events as they come and keeping every failure), a deletion
//! until the stack is gone. A settled status counts only once a stack-level event of the
//! operation confirms it (DescribeStacks may still show the status from before the operation).
//! Polls back off from 200 ms to 2 s.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::aws::cloudformation::CloudFormation;
use crate::error::Fixable;
use crate::model::cloudformation::{ChangeSet, StackEvent};
use crate::ui::output::Reporter;

/// CloudFormation's slowest operations here (a Lambda replacement, a role deletion) take minutes.
const STACK_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const CHANGE_SET_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long a settled status is doubted while no stack-level event has come at all: real
/// CloudFormation writes one within a second or two; an emulator might never write one.
const UNCONFIRMED_GRACE: Duration = Duration::from_secs(10);

/// How a followed stack operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub status: String,
    /// Every `*_FAILED` event seen, oldest first.
    pub failures: Vec<StackEvent>,
}

impl Settled {
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE`, `IMPORT_COMPLETE`, `DELETE_COMPLETE` (or gone).
    pub fn succeeded(&self) -> bool {
        is_success(&self.status)
    }
}

pub fn is_success(status: &str) -> bool {
    matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" | "DELETE_COMPLETE")
}

/// Whether CloudFormation is done with the stack for now (`REVIEW_IN_PROGRESS` waits for us).
pub fn is_settled(status: &str) -> bool {
    status == "REVIEW_IN_PROGRESS" || !status.ends_with("_IN_PROGRESS")
}

struct Backoff {
    delay: Duration,
    started: Instant,
}

impl Backoff {
    fn new() -> Self {
        Self { delay: Duration::from_millis(200), started: Instant::now() }
    }

    async fn wait(&mut self, progressed: bool) {
        self.delay = if progressed { Duration::from_millis(200) } else { (self.delay * 2).min(Duration::from_secs(2)) };
        tokio::time::sleep(self.delay).await;
    }

    fn expired(&self, limit: Duration) -> bool {
        self.started.elapsed() > limit
    }
}

/// Waits until change set `id` is ready (or failed) and returns it with its changes.
pub async fn change_set_ready(cfn: &CloudFormation, id: &str, stack: &str) -> Result<ChangeSet> {
    let mut backoff = Backoff::new();
    loop {
        let change_set = cfn.describe_change_set(id).await?;
        if change_set.settled() {
            return Ok(change_set);
        }
        if backoff.expired(CHANGE_SET_TIMEOUT) {
            bail!(Fixable::new(
                format!(
                    "the change set for `{stack}` was not ready after {} minutes",
                    CHANGE_SET_TIMEOUT.as_secs() / 60
                ),
                format!(
                    "look at it in the CloudFormation console, or `aws cloudformation describe-change-set --change-set-name {id}`"
                )
            ));
        }
        backoff.wait(false).await;
    }
}

/// The newest event id of `stack`, so following can start after it.
pub async fn newest_event(cfn: &CloudFormation, stack: &str) -> Result<Option<String>> {
    Ok(cfn.events_since(stack, None).await?.last().map(|event| event.id.clone()))
}

/// Streams `stack`'s events after `since` until the stack settles (see [`finished`]). A stack
/// that disappears (deleted) counts as `DELETE_COMPLETE`.
pub async fn stack_settled(
    cfn: &CloudFormation,
    out: &Reporter,
    stack: &str,
    since: Option<String>,
) -> Result<Settled> {
    let mut last_seen = since;
    let mut stack_event: Option<String> = None;
    let mut failures = Vec::new();
    let mut backoff = Backoff::new();
    loop {
        let events = match cfn.events_since(stack, last_seen.as_deref()).await {
            Ok(events) => events,
            Err(error) if error.to_string().contains("does not exist") => Vec::new(),
            Err(error) => return Err(error),
        };
        let progressed = !events.is_empty();
        for event in events {
            out.event(stack, &event);
            if event.is_failure() {
                failures.push(event.clone());
            }
            if event.logical_id == stack {
                stack_event = Some(event.status.clone());
            }
            last_seen = Some(event.id);
        }
        let described = cfn.describe(stack).await?.map(|d| d.status);
        if let Some(status) = finished(described.as_deref(), stack_event.as_deref(), backoff.started.elapsed()) {
            out.stack_finished(stack, &status);
            return Ok(Settled { status, failures });
        }
        if backoff.expired(STACK_TIMEOUT) {
            let status = described.unwrap_or_default();
            bail!(Fixable::new(
                format!("`{stack}` is still {status} after {} minutes", STACK_TIMEOUT.as_secs() / 60),
                format!(
                    "CloudFormation keeps going: follow it with `sentinel-tvm status`, or `aws cloudformation describe-stack-events --stack-name {stack}`"
                )
            ));
        }
        backoff.wait(progressed).await;
    }
}

/// The status a followed operation ended in, or `None` while it goes on. `described` is what
/// DescribeStacks says (`None`: the stack is gone, which is `DELETE_COMPLETE`); `stack_event` the
/// status of the newest stack-level event since following began; `waited` how long that is.
///
/// Right after ExecuteChangeSet or DeleteStack, DescribeStacks can still report the settled
/// status from before, so a settled status counts once the newest stack-level event agrees with
/// it. Without any stack-level event after `UNCONFIRMED_GRACE`, a settled status is taken as it is.
fn finished(described: Option<&str>, stack_event: Option<&str>, waited: Duration) -> Option<String> {
    let status = described.unwrap_or("DELETE_COMPLETE");
    let confirmed =
        status == "DELETE_COMPLETE" || stack_event.map_or(waited >= UNCONFIRMED_GRACE, |event| event == status);
    (is_settled(status) && confirmed).then(|| status.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_and_successful_statuses() {
        for (status, settled, success) in [
            ("CREATE_COMPLETE", true, true),
            ("UPDATE_COMPLETE", true, true),
            ("DELETE_COMPLETE", true, true),
            ("UPDATE_ROLLBACK_COMPLETE", true, false),
            ("ROLLBACK_COMPLETE", true, false),
            ("DELETE_FAILED", true, false),
            ("REVIEW_IN_PROGRESS", true, false),
            ("CREATE_IN_PROGRESS", false, false),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", false, false),
            ("UPDATE_ROLLBACK_IN_PROGRESS", false, false),
        ] {
            assert_eq!((is_settled(status), is_success(status)), (settled, success), "{status}");
        }
    }

    #[test]
    fn a_settled_status_counts_once_a_stack_event_confirms_it() {
        let soon = Duration::from_secs(1);
        let late = UNCONFIRMED_GRACE;
        for (described, stack_event, waited, expected) in [
            // Stale: the operation has not shown up yet.
            (Some("UPDATE_COMPLETE"), None, soon, None),
            (Some("REVIEW_IN_PROGRESS"), None, soon, None),
            (Some("ROLLBACK_COMPLETE"), None, soon, None),
            (Some("UPDATE_COMPLETE"), Some("UPDATE_IN_PROGRESS"), soon, None),
            (Some("UPDATE_COMPLETE"), Some("UPDATE_IN_PROGRESS"), late * 6, None),
            // Going on.
            (Some("UPDATE_IN_PROGRESS"), Some("UPDATE_IN_PROGRESS"), soon, None),
            (Some("CREATE_IN_PROGRESS"), None, late * 6, None),
            (Some("UPDATE_IN_PROGRESS"), Some("UPDATE_COMPLETE"), soon, None),
            // Over, and the events agree.
            (Some("UPDATE_COMPLETE"), Some("UPDATE_COMPLETE"), soon, Some("UPDATE_COMPLETE")),
            (Some("ROLLBACK_COMPLETE"), Some("ROLLBACK_COMPLETE"), soon, Some("ROLLBACK_COMPLETE")),
            (Some("DELETE_FAILED"), Some("DELETE_FAILED"), soon, Some("DELETE_FAILED")),
            // Gone.
            (None, None, soon, Some("DELETE_COMPLETE")),
            (None, Some("DELETE_IN_PROGRESS"), soon, Some("DELETE_COMPLETE")),
            (Some("DELETE_COMPLETE"), None, soon, Some("DELETE_COMPLETE")),
            // No stack-level event at all for long enough: trusted as it is.
            (Some("UPDATE_COMPLETE"), None, late, Some("UPDATE_COMPLETE")),
        ] {
            assert_eq!(
                finished(described, stack_event, waited).as_deref(),
                expected,
                "{described:?} / {stack_event:?} after {waited:?}"
            );
        }
    }
}
