//! `sentinel-tvm teardown`: list every stack it deletes, the guardrail (SCP, RCP) stacks in the
//! organization's account included, and have the environment's name typed (or `--yes`) whenever
//! it deletes anything; delete this TVM's guardrail stacks first (when that account cannot be
//! reached and the SCP is enforced, stop: the TVM is not removed while an SCP naming it may
//! exist). A guardrail stack is deleted only when the environment has stacks in this region, or
//! `--delete-guardrails` asks: a teardown in the wrong region must not strip the guardrails of a
//! TVM that lives elsewhere. Another TVM account's guardrails are never touched. Delete the smoke
//! test's client user if an interrupted `smoke-test --as-client` left it, delete the stacks in reverse
//! dependency order (emptying the artifact bucket of every version first), then list anything
//! still named for the environment. Exit 1 if anything is left. Stacks and users not tagged for
//! this environment are never touched.
//!
//! The decision log and the API access log outlive their stack (`DeletionPolicy: Retain`): they
//! are the only record of who received which credentials (threat model T12). Teardown keeps
//! them, and lists them as kept, not as residue; `--delete-logs` deletes them, named in the
//! confirmation and once more as each goes.

use anyhow::Result;
use futures_util::future::try_join_all;
use serde_json::json;

use crate::aws::iam;
use crate::aws::residue::{Leftover, Residue};
use crate::cli::{GlobalArgs, TeardownArgs};
use crate::commands::steps::guardrails::{
    TeardownGuardrails, delete_for_teardown, for_teardown as guardrails_for_teardown,
};
use crate::commands::steps::session::{Session, environment_stacks};
use crate::commands::steps::smoke_client::{ClientUser, client_user};
use crate::config::EnvironmentConfig;
use crate::deploy::stacks::Part;
use crate::error::Outcome;
use crate::model::cloudformation::Deployed;
use crate::names::client_user_name;
use crate::ui::output::Reporter;
use crate::ui::prompt::Cancelled;

pub async fn run(global: &GlobalArgs, out: &Reporter, args: &TeardownArgs) -> Result<Outcome> {
    let session = Session::open(global, out, &EnvironmentConfig::default()).await?;
    let stacks = environment_stacks(&session).await?;
    let iam = aws_sdk_iam::Client::new(&session.sdk);
    let client_user = smoke_client_user(&iam, session.env()).await?;
    let residue = Residue::new(&session.sdk, session.s3());
    let mut log_groups = Vec::new();
    for name in session.names().log_groups() {
        if residue.log_group_exists(&name).await? {
            log_groups.push(name);
        }
    }
    let doomed_logs: &[String] = if args.delete_logs { &log_groups } else { &[] };
    let guardrails = guardrails_for_teardown(&session, !stacks.is_empty(), args.delete_guardrails).await?;
    let doomed_guardrails = guardrails.as_ref().map_or(&[][..], |g| g.plan.delete.as_slice());
    report_kept_guardrails(&session, guardrails.as_ref());
    let anything =
        !stacks.is_empty() || client_user.is_some() || !doomed_logs.is_empty() || !doomed_guardrails.is_empty();
    let doomed = Doomed { stacks: &stacks, guardrails: guardrails.as_ref(), client_user: client_user.as_deref() };
    if anything && !confirmed(&session, &doomed, &log_groups, args.delete_logs)? {
        session.out.note("teardown cancelled: nothing was deleted");
        session.out.json(json!({"type": "result", "command": "teardown", "outcome": "declined"}));
        return Ok(Outcome::Refused);
    }
    // The guardrails name the TVM: they go first, or teardown stops here.
    if let Some(guardrails) = &guardrails {
        delete_for_teardown(&session, guardrails).await?;
    }
    // Then the user: it holds the client policy, and IAM refuses to delete a policy still attached.
    if let Some(user) = &client_user {
        iam::remove_user(&iam, user).await?;
        session
            .out
            .note(&format!("deleted the IAM user {user}, which an interrupted `smoke-test --as-client` had left"));
    }
    delete_stacks(&session, &stacks).await?;
    if args.delete_logs {
        // Those of the stack, retained by its deletion, and any it never owned.
        for name in session.names().log_groups() {
            if residue.log_group_exists(&name).await? {
                residue.delete_log_group(&name).await?;
                session.out.note(&format!("deleted the log group {name} and every record in it (--delete-logs)"));
            }
        }
    }
    let (leftovers, kept) =
        kept_apart(remaining(&session, &residue).await?, &session.names().log_groups(), args.delete_logs);
    Ok(report(&session, stacks.len() + doomed_guardrails.len(), &leftovers, &kept))
}

/// What teardown deletes, for its confirmation.
struct Doomed<'a> {
    stacks: &'a [Deployed],
    guardrails: Option<&'a TeardownGuardrails>,
    client_user: Option<&'a str>,
}

/// Guardrail stacks teardown does not delete, and why.
fn report_kept_guardrails(session: &Session, guardrails: Option<&TeardownGuardrails>) {
    let Some(guardrails) = guardrails else { return };
    for name in &guardrails.plan.kept {
        session.out.warn(&format!(
            "kept the guardrail stack {name} in account {}: environment `{}` has no stacks in this region, so its TVM may live elsewhere; `--delete-guardrails` deletes it",
            guardrails.account_id,
            session.env()
        ));
    }
    for (name, whose) in &guardrails.plan.foreign {
        session
            .out
            .note(&format!("left alone: the guardrail stack {name} ({whose}) in account {}", guardrails.account_id));
    }
}

/// The audit logs (`log_groups`), unless they were to be deleted, are kept, not left over.
fn kept_apart(found: Vec<Leftover>, log_groups: &[String], delete_logs: bool) -> (Vec<Leftover>, Vec<Leftover>) {
    found.into_iter().partition(|l| delete_logs || l.kind != "log group" || !log_groups.contains(&l.name))
}

/// The smoke test's temporary client user, when one tagged for `env` is there.
async fn smoke_client_user(iam: &aws_sdk_iam::Client, env: &str) -> Result<Option<String>> {
    Ok((client_user(iam, env).await? == ClientUser::Ours).then(|| client_user_name(env)))
}

/// Everything still named for the environment, stacks included.
async fn remaining(session: &Session, residue: &Residue) -> Result<Vec<Leftover>> {
    let mut leftovers = residue.leftovers(&session.names()).await?;
    let remaining_stacks = environment_stacks(session).await?;
    leftovers.extend(
        remaining_stacks.iter().map(|s| Leftover { kind: "stack", name: format!("{} ({})", s.name, s.status) }),
    );
    Ok(leftovers)
}

fn report(session: &Session, deleted_stacks: usize, leftovers: &[Leftover], kept: &[Leftover]) -> Outcome {
    let env = session.env();
    for leftover in leftovers {
        session.out.json(json!({"type": "leftover", "kind": leftover.kind, "name": leftover.name}));
    }
    for kept in kept {
        session.out.json(json!({"type": "kept", "kind": kept.kind, "name": kept.name}));
    }
    let outcome = if leftovers.is_empty() { "clean" } else { "leftovers" };
    let kept_names: Vec<&str> = kept.iter().map(|k| k.name.as_str()).collect();
    session.out.json(json!({"type": "result", "command": "teardown", "outcome": outcome, "deleted_stacks": deleted_stacks, "kept": kept_names}));
    let kept_line = if kept.is_empty() {
        String::new()
    } else {
        format!(
            "teardown: kept the audit logs {} (who received which credentials; `sentinel-tvm teardown --delete-logs` deletes them)\n",
            kept_names.join(", ")
        )
    };
    if leftovers.is_empty() {
        let rest = if kept.is_empty() { "" } else { " but the audit logs" };
        session.out.data(&format!(
            "teardown: deleted {deleted_stacks} stacks; nothing named for `{env}` is left{rest}\n{kept_line}"
        ));
        Outcome::Success
    } else {
        let lines: Vec<String> = leftovers.iter().map(|l| format!("  {}: {}\n", l.kind, l.name)).collect();
        session.out.data(&format!("teardown: these are still named for `{env}`:\n{}{kept_line}", lines.concat()));
        Outcome::Refused
    }
}

/// Names everything teardown deletes (the log groups too, with `--delete-logs`; else says they
/// are kept), and has the environment's name typed, unless `--yes`.
fn confirmed(session: &Session, doomed: &Doomed, log_groups: &[String], delete_logs: bool) -> Result<bool> {
    let env = session.env();
    let mut list: Vec<String> = Vec::new();
    if let Some(guardrails) = doomed.guardrails {
        list.extend(
            guardrails.plan.delete.iter().map(|name| format!("stack {name} in account {}", guardrails.account_id)),
        );
    }
    list.extend(doomed.stacks.iter().map(|s| format!("stack {}", s.name)));
    list.extend(doomed.client_user.map(|user| format!("IAM user {user}")));
    if delete_logs {
        list.extend(
            log_groups.iter().map(|g| format!("log group {g}, with every record of who received which credentials")),
        );
    }
    let kept = match (delete_logs, log_groups.is_empty()) {
        (false, false) => {
            format!("and keeps the audit logs {} (`--delete-logs` deletes them)\n", log_groups.join(", "))
        }
        _ => String::new(),
    };
    let listing =
        format!("teardown deletes these in account {}:\n  {}\n{kept}", session.identity.account_id, list.join("\n  "));
    if session.yes {
        // Named with `--yes` too, before anything goes (as progress: the result is the data).
        session.out.note(listing.trim_end());
        return Ok(true);
    }
    session.out.data(&listing);
    let question = format!("Type `{env}` to delete them");
    let answer = session.prompt.input(&question, None, "--yes", &|_| Ok(()));
    match answer {
        Ok(typed) => Ok(typed.trim() == env),
        Err(error) if error.is::<Cancelled>() => Ok(false),
        Err(error) => Err(error),
    }
}

/// Waves in reverse; within a wave, all at once. The artifact bucket is emptied (every version
/// and delete marker) before its stack is deleted: CloudFormation cannot delete a full bucket.
async fn delete_stacks(session: &Session, stacks: &[Deployed]) -> Result<()> {
    let cfn = session.cloudformation();
    let engine = session.engine(&cfn);
    let env = session.env();
    let mut waves: Vec<usize> =
        stacks.iter().filter_map(|s| Part::from_stack_name(env, &s.name)).map(|p| p.wave()).collect();
    waves.sort_unstable();
    waves.dedup();
    for wave in waves.into_iter().rev() {
        let in_wave: Vec<&Deployed> =
            stacks.iter().filter(|s| Part::from_stack_name(env, &s.name).map(|p| p.wave()) == Some(wave)).collect();
        for stack in &in_wave {
            let is_artifacts = Part::from_stack_name(env, &stack.name) == Some(Part::Artifacts);
            if let Some(bucket) = stack.outputs.get("BucketName").filter(|_| is_artifacts) {
                let deleted = session.s3().empty(bucket).await?;
                session.out.note(&format!("emptied s3://{bucket} ({deleted} object versions)"));
            }
        }
        try_join_all(in_wave.iter().map(|stack| engine.delete_and_wait(&stack.name))).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_logs_are_kept_not_left_over_unless_they_were_to_go() {
        let groups = ["/aws/lambda/sentinel-tvm-main".to_string(), "/aws/http-api/sentinel-tvm-main".to_string()];
        let found = || {
            vec![
                Leftover { kind: "log group", name: groups[0].clone() },
                Leftover { kind: "log group", name: groups[1].clone() },
                Leftover { kind: "log group", name: "/aws/lambda/other".into() },
                Leftover { kind: "IAM role", name: "/aws/lambda/sentinel-tvm-main".into() },
            ]
        };
        let names = |list: &[Leftover]| list.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        let (left, kept) = kept_apart(found(), &groups, false);
        assert_eq!(names(&kept), groups);
        assert_eq!(names(&left), ["/aws/lambda/other", "/aws/lambda/sentinel-tvm-main"]);
        let (left, kept) = kept_apart(found(), &groups, true);
        assert!(kept.is_empty(), "with --delete-logs a log group still there is residue");
        assert_eq!(left.len(), 4);
    }
}
