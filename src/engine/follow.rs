//! Waiting on CloudFormation, with bounds: a change set until it is ready, a stack operation
//! until it settles (streaming its events as they come and keeping every failure), a deletion
//! until the stack is gone. Polls back off from 200 ms to 2 s.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::aws::cloudformation::{ChangeSet, CloudFormation, StackEvent};
use crate::error::Fixable;
use crate::output::Reporter;

/// CloudFormation's slowest operations here (a Lambda replacement, a role deletion) take minutes.
const STACK_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const CHANGE_SET_TIMEOUT: Duration = Duration::from_secs(5 * 60);

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

/// Streams `stack`'s events after `since` until the stack settles. A stack that disappears
/// (deleted) counts as `DELETE_COMPLETE`.
pub async fn stack_settled(
    cfn: &CloudFormation,
    out: &Reporter,
    stack: &str,
    since: Option<String>,
) -> Result<Settled> {
    let mut last_seen = since;
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
            last_seen = Some(event.id);
        }
        let status = cfn.describe(stack).await?.map_or_else(|| "DELETE_COMPLETE".to_string(), |d| d.status);
        if is_settled(&status) {
            out.stack_finished(stack, &status);
            return Ok(Settled { status, failures });
        }
        if backoff.expired(STACK_TIMEOUT) {
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
}
