//! `sentinel-tvm install`: save the settings, build, deploy every stack, report the endpoint.
//! On an environment that already exists it is an upgrade: only what changed is applied.

use anyhow::Result;

use super::deploy;
use super::session::Session;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::engine::Mode;
use crate::error::Outcome;

pub async fn run(global: &GlobalArgs, args: &ApplyArgs) -> Result<Outcome> {
    let session = Session::open(global, &args.deploy.settings).await?;
    session.save_config()?;
    let artifact = deploy::artifact(&session, args.deploy.lambda_zip.as_deref())?;
    let Some(report) = deploy::run(&session, Mode::Apply, &artifact).await? else {
        return Ok(declined(&session));
    };
    finish(&session, "install", &report);
    smoke_test_unless_skipped(&session, args).await
}

/// The smoke test that ends every applying command, unless `--skip-smoke-test`.
pub(super) async fn smoke_test_unless_skipped(session: &Session, args: &ApplyArgs) -> Result<Outcome> {
    if args.skip_smoke_test {
        session.out.note("smoke test skipped (--skip-smoke-test)");
        return Ok(Outcome::Success);
    }
    session.out.note("smoke test: proving the TVM vends what it should and refuses what it must");
    super::smoke_test::prove(session, &args.smoke).await
}

/// The closing lines every applying command prints.
pub(super) fn finish(session: &Session, command: &str, report: &deploy::Report) {
    let outcome = match (command, report.changed()) {
        (_, false) => "no-changes",
        ("diff", true) => "changes",
        (_, true) => "success",
    };
    session.out.json(report.json(command, outcome));
    let mut text = format!("{command}: {}\n", report.summary());
    if let Some(endpoint) = &report.endpoint {
        text.push_str(&format!("endpoint: {endpoint}\n"));
    }
    session.out.data(&text);
}

pub(super) fn declined(session: &Session) -> Outcome {
    session.out.json(serde_json::json!({"type": "result", "outcome": "declined"}));
    session.out.note("declined: nothing was changed, and the change sets made for the question were removed");
    Outcome::Refused
}
