//! `sentinel-tvm status`: each stack of the environment with its status, the version that
//! deployed it against this binary's, when it last changed, its outputs, and the endpoint; then
//! drift detection (unless `--no-drift`), each drifted property a security finding. Exit 1 when
//! nothing is installed, a stack is not in a settled, healthy state, or anything drifted.

use anyhow::Result;
use serde_json::json;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::commands::steps::drift;
use crate::commands::steps::session::{Session, environment_stacks};
use crate::deploy::stacks::{Part, TAG_VERSION};
use crate::error::Outcome;
use crate::rollout::stacks::is_success;
use crate::tvm::endpoint::tvm_url;
use crate::ui::output::Reporter;
use crate::ui::render::{StatusRow, status_table};

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn run(global: &GlobalArgs, out: &Reporter, args: &StatusArgs) -> Result<Outcome> {
    let session = Session::open_target(global, out).await?;
    let stacks = environment_stacks(&session).await?;
    if stacks.is_empty() {
        session
            .out
            .json(json!({"type": "result", "command": "status", "outcome": "not-installed", "env": session.env()}));
        session.out.data(&format!(
            "environment `{}` is not installed in account {}\n",
            session.env(),
            session.identity.account_id
        ));
        return Ok(Outcome::Refused);
    }
    let rows: Vec<StatusRow> = stacks
        .iter()
        .map(|s| StatusRow {
            stack: s.name.clone(),
            status: s.status.clone(),
            version: s.tags.get(TAG_VERSION).cloned(),
            updated: s.updated.clone(),
        })
        .collect();
    for stack in &stacks {
        session.out.json(json!({
            "type": "stack", "stack": stack.name, "status": stack.status, "version": stack.tags.get(TAG_VERSION),
            "binary_version": VERSION, "updated": stack.updated, "outputs": stack.outputs,
        }));
    }
    let api = stacks.iter().find(|s| Part::from_stack_name(session.env(), &s.name) == Some(Part::Api));
    let endpoint = api.and_then(|api| tvm_url(&api.outputs, session.emulator()));
    let settled = stacks.iter().all(|s| is_success(&s.status));
    let drifted = if args.no_drift {
        false
    } else {
        let found = drift::detect(&session, &stacks).await?;
        drift::report(&session, &found);
        !found.findings.is_empty()
    };
    let outcome = match (settled, drifted) {
        (_, true) => "drifted",
        (true, false) => "healthy",
        (false, false) => "unhealthy",
    };
    session.out.json(json!({"type": "result", "command": "status", "outcome": outcome, "endpoint": endpoint}));
    let mut text = status_table(&rows, VERSION);
    for stack in &stacks {
        for (key, value) in &stack.outputs {
            text.push_str(&format!("  {}.{key} = {value}\n", stack.name));
        }
    }
    if let Some(endpoint) = endpoint {
        text.push_str(&format!("endpoint: {endpoint}\n"));
    }
    if drifted {
        text.push_str(&format!(
            "drift: resources of `{}` were changed outside CloudFormation (above); `sentinel-tvm upgrade` restores them\n",
            session.env()
        ));
    }
    session.out.data(&text);
    Ok(if settled && !drifted { Outcome::Success } else { Outcome::Refused })
}
