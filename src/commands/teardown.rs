//! `sentinel-tvm teardown`: type the environment's name (or `--yes`), delete the SCP stack in the
//! management account first (`--org-profile`; when that account cannot be reached and the SCP is
//! enforced, stop: the TVM is not removed while an SCP naming it may exist), delete the smoke
//! test's client user if an interrupted `smoke-test --as-client` left it, delete the stacks in reverse
//! dependency order (emptying the artifact bucket of every version first), remove a log group the
//! Lambda made outside its stack, then list anything still named for the environment. Exit 1 if
//! anything is left. Stacks and users not tagged for this environment are never touched.

use anyhow::Result;
use futures_util::future::try_join_all;
use serde_json::json;

use crate::aws::iam;
use crate::aws::residue::{Leftover, Residue};
use crate::cli::GlobalArgs;
use crate::commands::steps::scp::remove_for_teardown;
use crate::commands::steps::session::{Session, environment_stacks};
use crate::commands::steps::smoke_client::{ClientUser, client_user};
use crate::config::EnvironmentConfig;
use crate::deploy::model::Deployed;
use crate::deploy::stacks::Part;
use crate::error::Outcome;
use crate::names::client_user_name;
use crate::ui::output::Reporter;
use crate::ui::prompt::Cancelled;

pub async fn run(global: &GlobalArgs, out: &Reporter) -> Result<Outcome> {
    let session = Session::open(global, out, &EnvironmentConfig::default()).await?;
    let stacks = environment_stacks(&session).await?;
    let iam = aws_sdk_iam::Client::new(&session.sdk);
    let client_user = smoke_client_user(&iam, session.env()).await?;
    if (!stacks.is_empty() || client_user.is_some()) && !confirmed(&session, &stacks, client_user.as_deref())? {
        session.out.note("teardown cancelled: nothing was deleted");
        session.out.json(json!({"type": "result", "command": "teardown", "outcome": "declined"}));
        return Ok(Outcome::Refused);
    }
    // The SCP names the TVM: it goes first, or teardown stops here.
    remove_for_teardown(&session).await?;
    // Then the user: it holds the client policy, and IAM refuses to delete a policy still attached.
    if let Some(user) = &client_user {
        iam::remove_user(&iam, user).await?;
        session
            .out
            .note(&format!("deleted the IAM user {user}, which an interrupted `smoke-test --as-client` had left"));
    }
    delete_stacks(&session, &stacks).await?;
    let leftovers = remaining(&session).await?;
    Ok(report(&session, stacks.len(), &leftovers))
}

/// The smoke test's temporary client user, when one tagged for `env` is there.
async fn smoke_client_user(iam: &aws_sdk_iam::Client, env: &str) -> Result<Option<String>> {
    Ok((client_user(iam, env).await? == ClientUser::Ours).then(|| client_user_name(env)))
}

/// Deletes the log group the Lambda made outside its stack, then lists everything still named
/// for the environment, stacks included.
async fn remaining(session: &Session) -> Result<Vec<Leftover>> {
    let names = session.names();
    let residue = Residue::new(&session.sdk, session.s3());
    let lambda_log_group = names.log_groups()[0].clone();
    if residue.log_group_exists(&lambda_log_group).await? {
        residue.delete_log_group(&lambda_log_group).await?;
        session
            .out
            .note(&format!("deleted the log group {lambda_log_group}, which the Lambda had created outside its stack"));
    }
    let mut leftovers = residue.leftovers(&names).await?;
    let remaining_stacks = environment_stacks(session).await?;
    leftovers.extend(
        remaining_stacks.iter().map(|s| Leftover { kind: "stack", name: format!("{} ({})", s.name, s.status) }),
    );
    Ok(leftovers)
}

fn report(session: &Session, deleted_stacks: usize, leftovers: &[Leftover]) -> Outcome {
    let env = session.env();
    for leftover in leftovers {
        session.out.json(json!({"type": "leftover", "kind": leftover.kind, "name": leftover.name}));
    }
    let outcome = if leftovers.is_empty() { "clean" } else { "leftovers" };
    session
        .out
        .json(json!({"type": "result", "command": "teardown", "outcome": outcome, "deleted_stacks": deleted_stacks}));
    if leftovers.is_empty() {
        session.out.data(&format!("teardown: deleted {deleted_stacks} stacks; nothing named for `{env}` is left\n"));
        Outcome::Success
    } else {
        let lines: Vec<String> = leftovers.iter().map(|l| format!("  {}: {}\n", l.kind, l.name)).collect();
        session.out.data(&format!("teardown: these are still named for `{env}`:\n{}", lines.concat()));
        Outcome::Refused
    }
}

fn confirmed(session: &Session, stacks: &[Deployed], client_user: Option<&str>) -> Result<bool> {
    if session.yes {
        return Ok(true);
    }
    let env = session.env();
    let mut list: Vec<String> = stacks.iter().map(|s| format!("stack {}", s.name)).collect();
    list.extend(client_user.map(|user| format!("IAM user {user}")));
    session.out.data(&format!(
        "teardown deletes these in account {}:\n  {}\n",
        session.identity.account_id,
        list.join("\n  ")
    ));
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
