//! The deploy flow shared by `install`, `upgrade` and `diff`: policy → code → wave after wave of
//! stacks, the code uploaded as soon as its bucket exists, each wave's outputs feeding the next.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use super::session::Session;
use crate::artifact::{self, Artifact};
use crate::endpoint::tvm_url;
use crate::engine::{Mode, StackOutcome, StackResult, WaveOutcome};
use crate::smoke::smoke_principals;
use crate::stacks::{self, DesiredStack, Inputs, MissingInput, Outputs, Part};
use crate::tvm_policy;

/// What a deploy (or preview) did.
pub struct Report {
    pub results: Vec<StackResult>,
    pub endpoint: Option<String>,
}

impl Report {
    pub fn changed(&self) -> bool {
        self.results.iter().any(|r| !matches!(r.outcome, StackOutcome::Unchanged))
    }

    /// One line per outcome kind: `3 created, 1 updated, 4 unchanged`.
    pub fn summary(&self) -> String {
        let count = |f: fn(&StackOutcome) -> bool| self.results.iter().filter(|r| f(&r.outcome)).count();
        let parts = [
            (count(|o| *o == StackOutcome::Created), "created"),
            (count(|o| *o == StackOutcome::Updated), "updated"),
            (count(|o| matches!(o, StackOutcome::Previewed { changes } if *changes > 0)), "would change"),
            (count(|o| *o == StackOutcome::Unchanged || *o == StackOutcome::Previewed { changes: 0 }), "unchanged"),
        ];
        let text: Vec<String> = parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
        if text.is_empty() { "no stacks".into() } else { text.join(", ") }
    }

    /// The closing JSON object.
    pub fn json(&self, command: &str, outcome: &str) -> serde_json::Value {
        let stacks: BTreeMap<&str, &str> = self
            .results
            .iter()
            .map(|r| {
                let outcome = match r.outcome {
                    StackOutcome::Created => "created",
                    StackOutcome::Updated => "updated",
                    StackOutcome::Unchanged => "unchanged",
                    StackOutcome::Previewed { changes: 0 } => "unchanged",
                    StackOutcome::Previewed { .. } => "would-change",
                };
                (r.name.as_str(), outcome)
            })
            .collect();
        json!({"type": "result", "command": command, "outcome": outcome, "stacks": stacks, "endpoint": self.endpoint})
    }
}

/// The code to deploy: `--lambda-zip`, or a fresh cargo-lambda build.
pub fn artifact(session: &Session, lambda_zip: Option<&Path>) -> Result<Artifact> {
    let architecture = session.settings.deploy.architecture;
    match lambda_zip {
        Some(path) => artifact::load(path, architecture),
        None => {
            session.out.note(&format!(
                "building the TVM Lambda for {} with cargo-lambda (a few minutes the first time)",
                architecture.as_str()
            ));
            session.out.suspend(|| artifact::build(architecture))
        }
    }
}

/// Runs the waves; `None` when the user declined a wave's changes.
pub async fn run(session: &Session, mode: Mode, artifact: &Artifact) -> Result<Option<Report>> {
    let (env, deploy, identity) = (session.env(), &session.settings.deploy, &session.identity);
    let user = tvm_policy::user_policy(env, &identity.account_id, deploy)?;
    let principals = smoke_principals(&identity.principal_pattern(), &identity.partition, &identity.account_id, env);
    let policy_text = tvm_policy::for_deploy(env, &user, &principals)?;
    let cfn = session.cloudformation();
    let engine = session.engine(&cfn);
    let key = artifact.key();
    let parts = stacks::parts(deploy);
    let waves = parts.iter().map(Part::wave).max().unwrap_or(0);
    let mut outputs = Outputs::new();
    let mut results = Vec::new();
    for wave in 0..=waves {
        let inputs = Inputs {
            env,
            deploy,
            account_id: &identity.account_id,
            partition: &identity.partition,
            policy_text: &policy_text,
            artifact_key: Some(&key),
            outputs: &outputs,
        };
        let Some(desired) = desired_wave(session, &inputs, &parts, wave, mode)? else { break };
        match engine.run_wave(desired, mode).await? {
            WaveOutcome::Declined => return Ok(None),
            WaveOutcome::Done(done) => {
                for result in &done {
                    session.out.outputs(&result.name, &result.outputs);
                    outputs.insert(result.part.clone(), result.outputs.clone());
                }
                results.extend(done);
            }
        }
        if wave == 0 && mode == Mode::Apply {
            upload(session, artifact, &outputs).await?;
        }
    }
    let endpoint =
        outputs.get(&Part::Api).and_then(|api| tvm_url(api, session.settings.connection.endpoint_url.as_deref()));
    Ok(Some(Report { results, endpoint }))
}

/// The wave's desired stacks. In a preview, a wave whose inputs come from stacks not deployed
/// yet cannot be computed: it is reported and the preview ends there (`None`).
fn desired_wave(
    session: &Session,
    inputs: &Inputs,
    parts: &[Part],
    wave: usize,
    mode: Mode,
) -> Result<Option<Vec<DesiredStack>>> {
    let desired: Result<Vec<DesiredStack>, MissingInput> =
        parts.iter().filter(|p| p.wave() == wave).map(|p| inputs.desired(p)).collect();
    match desired {
        Ok(desired) => Ok(Some(desired)),
        Err(missing) if mode == Mode::Preview => {
            session.out.note(&format!("the remaining stacks depend on stacks that are not deployed yet ({missing}); they would be created by `install`"));
            Ok(None)
        }
        Err(missing) => Err(missing).context("a stack this one depends on did not report its outputs"),
    }
}

async fn upload(session: &Session, artifact: &Artifact, outputs: &Outputs) -> Result<()> {
    let bucket = outputs
        .get(&Part::Artifacts)
        .and_then(|o| o.get("BucketName"))
        .context("the artifacts stack has no BucketName output")?;
    let key = artifact.key();
    if session.s3().upload_if_missing(bucket, &key, artifact.bytes.clone()).await? {
        session.out.note(&format!(
            "uploaded {} ({} bytes) to s3://{bucket}/{key}",
            artifact.path.display(),
            artifact.bytes.len()
        ));
    }
    Ok(())
}
