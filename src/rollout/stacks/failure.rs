//! What the engine says when stacks fail: one error for several failed stacks, and for each
//! failed deploy a hint that follows the stack's final status. Pure: no AWS calls, no output.

use crate::error::Fixable;
use crate::model::cloudformation::StackEvent;

/// One error for the failures of several stacks: the first one whole (its hint included), the
/// others named in the message above it. `None` if nothing failed.
pub(super) fn combined(mut failed: Vec<(String, anyhow::Error)>) -> Option<anyhow::Error> {
    if failed.is_empty() {
        return None;
    }
    let (first, error) = failed.remove(0);
    if failed.is_empty() {
        return Some(error);
    }
    let others: Vec<String> = failed.iter().map(|(name, error)| format!("`{name}`: {error:#}")).collect();
    Some(error.context(format!("`{first}` failed (below), and so did {}", others.join("; "))))
}

/// The error for stacks whose deploy ended in a failed `(name, status)`; `failures` are their
/// failure events, `also` what went wrong with other stacks of the wave.
pub(super) fn deploy_failed(
    failed: &[(String, String)],
    failures: &[(String, StackEvent)],
    also: Option<anyhow::Error>,
) -> Fixable {
    let stacks: Vec<String> = failed.iter().map(|(name, status)| format!("{name} ({status})")).collect();
    let rolled_back =
        failed.iter().all(|(_, status)| matches!(status.as_str(), "ROLLBACK_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE"));
    let cause = failures.first().and_then(|(_, e)| e.reason.clone()).unwrap_or_else(|| "see the events above".into());
    let mut message = format!(
        "deploying {} failed{}: {cause}",
        stacks.join(", "),
        if rolled_back { " and CloudFormation rolled back" } else { "" }
    );
    if let Some(also) = also {
        message.push_str(&format!("; besides: {also:#}"));
    }
    let hints: Vec<String> = failed.iter().map(|(name, status)| failure_hint(name, status)).collect();
    Fixable::new(message, hints.join("; "))
}

/// What to do about `stack` after its deploy ended in `status`.
fn failure_hint(stack: &str, status: &str) -> String {
    match status {
        "ROLLBACK_COMPLETE" => format!(
            "`{stack}` was never created: fix the cause and run the same command again, which deletes and recreates it"
        ),
        "UPDATE_ROLLBACK_COMPLETE" => format!(
            "`{stack}` is back to its previous version: fix the cause and run the same command again to retry the update"
        ),
        "UPDATE_ROLLBACK_FAILED" => format!(
            "`{stack}` is stuck: fix the cause, then `aws cloudformation continue-update-rollback --stack-name {stack}` and run the same command again"
        ),
        "ROLLBACK_FAILED" | "DELETE_FAILED" => format!(
            "`{stack}` is stuck: remove what blocks it, then `aws cloudformation delete-stack --stack-name {stack}` and run the same command again"
        ),
        _ => format!(
            "`{stack}` ended {status}: see `aws cloudformation describe-stack-events --stack-name {stack}`, fix the cause and run the same command again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_for_a_failed_stack_follows_its_final_status() {
        for (status, expected) in [
            ("ROLLBACK_COMPLETE", "deletes and recreates it"),
            ("UPDATE_ROLLBACK_COMPLETE", "back to its previous version"),
            (
                "UPDATE_ROLLBACK_FAILED",
                "`aws cloudformation continue-update-rollback --stack-name sentinel-tvm-main-api`",
            ),
            ("ROLLBACK_FAILED", "`aws cloudformation delete-stack --stack-name sentinel-tvm-main-api`"),
            ("DELETE_FAILED", "`aws cloudformation delete-stack --stack-name sentinel-tvm-main-api`"),
            ("UPDATE_FAILED", "`aws cloudformation describe-stack-events --stack-name sentinel-tvm-main-api`"),
        ] {
            let hint = failure_hint("sentinel-tvm-main-api", status);
            assert!(hint.contains(expected) && hint.contains("run the same command again"), "{status}: {hint}");
        }
    }

    #[test]
    fn a_failed_deploy_names_every_stack_and_gives_each_its_hint() {
        let event = StackEvent { reason: Some("role not found".into()), ..StackEvent::default() };
        let failures = [("a".to_string(), event)];
        let rolled_back = [("a".to_string(), "ROLLBACK_COMPLETE".to_string())];
        let error = deploy_failed(&rolled_back, &failures, None);
        assert_eq!(
            error.message,
            "deploying a (ROLLBACK_COMPLETE) failed and CloudFormation rolled back: role not found"
        );
        assert_eq!(error.hint, failure_hint("a", "ROLLBACK_COMPLETE"));

        let mixed = [
            ("a".to_string(), "UPDATE_ROLLBACK_COMPLETE".to_string()),
            ("b".to_string(), "UPDATE_ROLLBACK_FAILED".to_string()),
        ];
        let error = deploy_failed(&mixed, &failures, Some(anyhow::anyhow!("`c` is still UPDATE_IN_PROGRESS")));
        assert_eq!(
            error.message,
            "deploying a (UPDATE_ROLLBACK_COMPLETE), b (UPDATE_ROLLBACK_FAILED) failed: role not found; \
             besides: `c` is still UPDATE_IN_PROGRESS"
        );
        assert_eq!(
            error.hint,
            format!(
                "{}; {}",
                failure_hint("a", "UPDATE_ROLLBACK_COMPLETE"),
                failure_hint("b", "UPDATE_ROLLBACK_FAILED")
            )
        );
    }

    #[test]
    fn several_failures_are_one_error_naming_each_and_keeping_the_first_hint() {
        assert!(combined(Vec::new()).is_none());
        let fixable = || anyhow::Error::new(Fixable::new("refused for `a`", "do x"));
        let one = combined(vec![("a".into(), fixable())]).unwrap();
        assert_eq!(crate::ui::render::render_failure(&one), "error: refused for `a`\nhint: do x\n");

        let several = combined(vec![
            ("a".into(), fixable()),
            ("b".into(), anyhow::anyhow!("throttled")),
            ("c".into(), anyhow::anyhow!("denied")),
        ])
        .unwrap();
        assert_eq!(
            crate::ui::render::render_failure(&several),
            "error: `a` failed (below), and so did `b`: throttled; `c`: denied\n  caused by: refused for `a`\nhint: do x\n"
        );
    }
}
