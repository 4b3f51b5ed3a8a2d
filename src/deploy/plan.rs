//! The planner (pure): from a desired stack and what CloudFormation says is deployed, decide
//! create, update, skip, or recreate; or stop because the stack needs a human first.
//! The current time comes in as a parameter, so the planner stays pure.
//!
//! A stack whose template hash (the `sentinel-tvm:template-sha256` tag) and parameters are
//! unchanged is skipped without any change set, which is what makes a no-op upgrade fast.

use std::time::SystemTime;

use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};

use crate::deploy::stacks::{DesiredStack, TAG_ENV, TAG_TEMPLATE_SHA256};
use crate::model::cloudformation::Deployed;

/// A `REVIEW_IN_PROGRESS` stack younger than this may belong to another run that is waiting at
/// its question right now; older ones are taken for leftovers of a run that ended.
const REVIEW_MAY_BE_ACTIVE_MINUTES: i64 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    /// An empty leftover (`ROLLBACK_COMPLETE` after a failed create, or a `REVIEW_IN_PROGRESS`
    /// stack at least 10 minutes old from an unexecuted change set) is deleted first, then
    /// created again.
    Recreate {
        status: String,
    },
    Update {
        changed: Vec<String>,
    },
    /// Template and parameters unchanged, but resources were changed outside CloudFormation:
    /// write the template's values back (`drifted` names them, `Resource.Property`).
    Restore {
        drifted: Vec<String>,
    },
    Skip,
    /// Needs a human: why, and what to do.
    Blocked {
        reason: String,
        fix: String,
    },
}

impl Action {
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Recreate { .. } => "recreate",
            Action::Update { .. } => "update",
            Action::Restore { .. } => "restore",
            Action::Skip => "no changes",
            Action::Blocked { .. } => "blocked",
        }
    }
}

/// Decides what to do with one stack of environment `env`, at time `now`, whose resources
/// `drifted` (`Resource.Property`, from drift detection) were changed outside CloudFormation.
/// Drift alone makes a restore; with other changes it is part of the update.
pub fn plan(
    env: &str,
    desired: &DesiredStack,
    deployed: Option<&Deployed>,
    drifted: &[String],
    now: SystemTime,
) -> Action {
    let Some(deployed) = deployed.filter(|d| d.status != "DELETE_COMPLETE") else {
        return Action::Create;
    };
    let name = &desired.name;
    if deployed.tags.get(TAG_ENV).map(String::as_str) != Some(env) {
        return Action::Blocked {
            reason: format!(
                "stack `{name}` exists but sentinel-tvm did not create it for environment `{env}` (no `{TAG_ENV}: {env}` tag)"
            ),
            fix:
                "choose another environment name with `--env`, or delete that stack yourself if it is really a leftover"
                    .into(),
        };
    }
    let status = deployed.status.as_str();
    match status {
        "REVIEW_IN_PROGRESS" => match age_minutes(deployed, now) {
            Some(minutes) if minutes < REVIEW_MAY_BE_ACTIVE_MINUTES => Action::Blocked {
                reason: format!(
                    "stack `{name}` is in REVIEW_IN_PROGRESS: another run may be waiting to apply a change set to it (created {})",
                    minutes_ago(minutes)
                ),
                fix: format!(
                    "wait for that run to finish, then run this again; if no other run is active, `aws cloudformation delete-stack --stack-name {name}` and run this again"
                ),
            },
            _ => Action::Recreate { status: status.into() },
        },
        "ROLLBACK_COMPLETE" => Action::Recreate { status: status.into() },
        _ if status.ends_with("_IN_PROGRESS") => Action::Blocked {
            reason: format!("stack `{name}` is busy ({status})"),
            fix: format!("wait for it to finish (`sentinel-tvm status --env {env}`), then run this again"),
        },
        "ROLLBACK_FAILED" | "DELETE_FAILED" => Action::Blocked {
            reason: format!("stack `{name}` is stuck in {status}{}", reason_suffix(deployed)),
            fix: format!(
                "remove what blocks it, then `aws cloudformation delete-stack --stack-name {name}` and run this again"
            ),
        },
        "UPDATE_ROLLBACK_FAILED" => Action::Blocked {
            reason: format!("stack `{name}` is stuck in UPDATE_ROLLBACK_FAILED{}", reason_suffix(deployed)),
            fix: format!(
                "fix the cause, then `aws cloudformation continue-update-rollback --stack-name {name}` and run this again"
            ),
        },
        _ => {
            let mut changed = differences(desired, deployed);
            if changed.is_empty() && !drifted.is_empty() {
                return Action::Restore { drifted: drifted.to_vec() };
            }
            changed.extend(drifted.iter().map(|what| format!("drift {what}")));
            if changed.is_empty() { Action::Skip } else { Action::Update { changed } }
        }
    }
}

/// What differs: `template`, then each parameter whose value differs, in name order.
pub fn differences(desired: &DesiredStack, deployed: &Deployed) -> Vec<String> {
    let mut changed = Vec::new();
    if deployed.tags.get(TAG_TEMPLATE_SHA256) != Some(&desired.template_sha256) {
        changed.push("template".to_string());
    }
    let keys =
        desired.parameters.keys().chain(deployed.parameters.keys().filter(|k| !desired.parameters.contains_key(*k)));
    for key in keys {
        if desired.parameters.get(key) != deployed.parameters.get(key) {
            changed.push(format!("parameter {key}"));
        }
    }
    changed
}

/// Whole minutes since the stack was created; `None` if that time is unknown.
fn age_minutes(deployed: &Deployed, now: SystemTime) -> Option<i64> {
    let created = DateTime::from_str(deployed.created.as_deref()?, DateTimeFormat::DateTime).ok()?;
    let millis = DateTime::from(now).to_millis().ok()? - created.to_millis().ok()?;
    Some(millis.max(0) / 60_000)
}

fn minutes_ago(minutes: i64) -> String {
    match minutes {
        0 => "less than a minute ago".into(),
        1 => "1 minute ago".into(),
        _ => format!("{minutes} minutes ago"),
    }
}

fn reason_suffix(deployed: &Deployed) -> String {
    deployed.status_reason.as_deref().filter(|r| !r.is_empty()).map(|r| format!(": {r}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::stacks::{DesiredStack, Part};
    use crate::model::cloudformation::Deployed;

    fn desired() -> DesiredStack {
        DesiredStack::new(
            "main",
            Part::Policy,
            [("EnvName".into(), "main".into()), ("PolicyDocument".into(), "v1".into())].into(),
        )
    }

    fn now() -> SystemTime {
        DateTime::from_str("2026-11-23T12:00:00Z", DateTimeFormat::DateTime).unwrap().try_into().unwrap()
    }

    /// Deployed an hour before `now()`.
    fn deployed(status: &str) -> Deployed {
        let desired = desired();
        Deployed {
            name: desired.name.clone(),
            status: status.into(),
            tags: desired.tags.clone(),
            parameters: desired.parameters.clone(),
            created: Some("2026-11-23T11:00:00.123Z".into()),
            ..Deployed::default()
        }
    }

    #[test]
    fn actions_by_state() {
        let blocked = |action: &Action| matches!(action, Action::Blocked { .. });
        for (status, expected) in [
            ("CREATE_COMPLETE", "no changes"),
            ("UPDATE_COMPLETE", "no changes"),
            ("UPDATE_ROLLBACK_COMPLETE", "no changes"),
            ("IMPORT_COMPLETE", "no changes"),
            ("ROLLBACK_COMPLETE", "recreate"),
            ("REVIEW_IN_PROGRESS", "recreate"),
            ("DELETE_COMPLETE", "create"),
            ("CREATE_IN_PROGRESS", "blocked"),
            ("UPDATE_IN_PROGRESS", "blocked"),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "blocked"),
            ("DELETE_IN_PROGRESS", "blocked"),
            ("ROLLBACK_FAILED", "blocked"),
            ("DELETE_FAILED", "blocked"),
            ("UPDATE_ROLLBACK_FAILED", "blocked"),
        ] {
            let action = plan("main", &desired(), Some(&deployed(status)), &[], now());
            assert_eq!(action.verb(), expected, "{status}: {action:?}");
            if blocked(&action) {
                let Action::Blocked { reason, fix } = action else { unreachable!() };
                assert!(reason.contains("sentinel-tvm-main-policy") && !fix.is_empty(), "{reason} / {fix}");
            }
        }
        assert_eq!(plan("main", &desired(), None, &[], now()), Action::Create);
    }

    #[test]
    fn a_young_review_in_progress_stack_may_be_another_runs_and_is_left_alone() {
        for (created, expected) in [
            (Some("2026-11-23T11:59:30Z"), Some("created less than a minute ago")),
            (Some("2026-11-23T11:59:00Z"), Some("created 1 minute ago")),
            (Some("2026-11-23T11:50:00.001Z"), Some("created 9 minutes ago")),
            (Some("2026-11-23T12:00:05Z"), Some("created less than a minute ago")),
            (Some("2026-11-23T11:50:00Z"), None),
            (Some("2026-11-22T12:00:00Z"), None),
            (None, None),
            (Some("not a time"), None),
        ] {
            let mut review = deployed("REVIEW_IN_PROGRESS");
            review.created = created.map(str::to_string);
            let action = plan("main", &desired(), Some(&review), &[], now());
            match (expected, action) {
                (Some(age), Action::Blocked { reason, fix }) => {
                    assert!(reason.contains("another run may be waiting") && reason.contains(age), "{reason}");
                    assert!(fix.contains("delete-stack --stack-name sentinel-tvm-main-policy"), "{fix}");
                }
                (None, Action::Recreate { status }) => assert_eq!(status, "REVIEW_IN_PROGRESS"),
                (expected, action) => panic!("{created:?}: expected {expected:?}, got {action:?}"),
            }
        }
    }

    #[test]
    fn a_changed_template_or_parameter_is_an_update_naming_it() {
        let mut old_template = deployed("UPDATE_COMPLETE");
        old_template.tags.insert(TAG_TEMPLATE_SHA256.into(), "0".repeat(64));
        assert_eq!(
            plan("main", &desired(), Some(&old_template), &[], now()),
            Action::Update { changed: vec!["template".into()] }
        );

        let mut old_policy = deployed("CREATE_COMPLETE");
        old_policy.parameters.insert("PolicyDocument".into(), "v0".into());
        assert_eq!(
            plan("main", &desired(), Some(&old_policy), &[], now()),
            Action::Update { changed: vec!["parameter PolicyDocument".into()] }
        );

        let mut extra = deployed("CREATE_COMPLETE");
        extra.parameters.insert("Retired".into(), "x".into());
        assert_eq!(
            plan("main", &desired(), Some(&extra), &[], now()),
            Action::Update { changed: vec!["parameter Retired".into()] }
        );
    }

    #[test]
    fn drift_alone_is_a_restore_and_with_other_changes_part_of_the_update() {
        let drifted = ["ProtectedRole.AssumeRolePolicyDocument".to_string()];
        assert_eq!(
            plan("main", &desired(), Some(&deployed("UPDATE_COMPLETE")), &drifted, now()),
            Action::Restore { drifted: drifted.to_vec() }
        );
        let mut old_policy = deployed("CREATE_COMPLETE");
        old_policy.parameters.insert("PolicyDocument".into(), "v0".into());
        assert_eq!(
            plan("main", &desired(), Some(&old_policy), &drifted, now()),
            Action::Update {
                changed: vec!["parameter PolicyDocument".into(), "drift ProtectedRole.AssumeRolePolicyDocument".into()]
            }
        );
        // A busy or foreign stack stays blocked, drift or not.
        assert_eq!(plan("main", &desired(), Some(&deployed("UPDATE_IN_PROGRESS")), &drifted, now()).verb(), "blocked");
    }

    #[test]
    fn a_stack_of_another_owner_is_never_touched() {
        let mut foreign = deployed("CREATE_COMPLETE");
        foreign.tags.clear();
        let Action::Blocked { reason, .. } = plan("main", &desired(), Some(&foreign), &[], now()) else {
            panic!("must block")
        };
        assert!(reason.contains("did not create it"), "{reason}");
        let mut other_env = deployed("CREATE_COMPLETE");
        other_env.tags.insert(TAG_ENV.into(), "main-protected".into());
        assert!(matches!(plan("main", &desired(), Some(&other_env), &[], now()), Action::Blocked { .. }));
    }
}
