//! The deploy flow shared by `install`, `upgrade` and `diff`: policy → code → wave after wave of
//! stacks, the code uploaded as soon as its bucket exists, each wave's outputs feeding the next;
//! then the stacks no longer configured are retired, the SCP deployed or retired in the
//! management account (`commands::scp`), and old code pruned.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use futures_util::future::try_join_all;
use serde_json::json;

use super::session::{Session, environment_stacks_of};
use super::{drift, policy_pin, scp, starter};
use crate::aws::logs::log_group_exists;
use crate::config::{Architecture, IdentityProof};
use crate::deploy::artifact::{self, Artifact};
use crate::deploy::build::{self, Prepared};
use crate::deploy::policy;
use crate::deploy::stacks::{self, DesiredStack, Inputs, MissingInput, Outputs, Part};
use crate::error::Fixable;
use crate::model::cloudformation::Deployed;
use crate::model::objects::StoredObject;
use crate::rollout::stacks::{Engine, Mode, StackOutcome, StackResult, WaveOutcome};
use crate::tvm::endpoint::tvm_url;
use crate::ui::output::Reporter;

/// What a deploy (or preview) did.
pub struct Report {
    pub mode: Mode,
    pub results: Vec<StackResult>,
    /// Stacks no longer configured (protected roles, the audit or SCP stack): deleted, or in a
    /// preview, to be deleted.
    pub retired: Vec<String>,
    pub endpoint: Option<String>,
    /// The user declined a wave's changes: `results` holds what earlier waves applied.
    pub declined: bool,
}

impl Report {
    pub fn changed(&self) -> bool {
        !self.retired.is_empty()
            || self
                .results
                .iter()
                .any(|r| !matches!(r.outcome, StackOutcome::Unchanged | StackOutcome::Previewed { changes: 0 }))
    }

    /// The stacks this run created or updated.
    pub fn applied(&self) -> Vec<&str> {
        let applied = |r: &&StackResult| {
            matches!(r.outcome, StackOutcome::Created | StackOutcome::Updated | StackOutcome::Restored)
        };
        self.results.iter().filter(applied).map(|r| r.name.as_str()).collect()
    }

    /// One line per outcome kind: `3 created, 1 updated, 4 unchanged`.
    pub fn summary(&self) -> String {
        let count = |f: fn(&StackOutcome) -> bool| self.results.iter().filter(|r| f(&r.outcome)).count();
        let parts = [
            (count(|o| *o == StackOutcome::Created), "created"),
            (count(|o| *o == StackOutcome::Updated), "updated"),
            (count(|o| *o == StackOutcome::Restored), "restored"),
            (count(|o| matches!(o, StackOutcome::Previewed { changes } if *changes > 0)), "would change"),
            (count(|o| *o == StackOutcome::Unchanged || *o == StackOutcome::Previewed { changes: 0 }), "unchanged"),
            (self.retired.len(), if self.mode == Mode::Preview { "would be deleted" } else { "deleted" }),
        ];
        let text: Vec<String> = parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
        if text.is_empty() { "no stacks".into() } else { text.join(", ") }
    }

    /// The closing JSON object.
    pub fn json(&self, command: &str, outcome: &str) -> serde_json::Value {
        let retired = if self.mode == Mode::Preview { "would-delete" } else { "deleted" };
        let stacks: BTreeMap<&str, &str> = self
            .results
            .iter()
            .map(|r| {
                let outcome = match r.outcome {
                    StackOutcome::Created => "created",
                    StackOutcome::Updated => "updated",
                    StackOutcome::Restored => "restored",
                    StackOutcome::Unchanged => "unchanged",
                    StackOutcome::Previewed { changes: 0 } => "unchanged",
                    StackOutcome::Previewed { .. } => "would-change",
                };
                (r.name.as_str(), outcome)
            })
            .chain(self.retired.iter().map(|name| (name.as_str(), retired)))
            .collect();
        json!({"type": "result", "command": command, "outcome": outcome, "stacks": stacks, "endpoint": self.endpoint})
    }
}

/// The code to deploy: `--lambda-zip`, or the Lambda built from the sources this binary carries
/// (`lambda_build`).
pub fn artifact(session: &Session, lambda_zip: Option<&Path>) -> Result<Artifact> {
    match lambda_zip {
        Some(path) => artifact::load(path, session.settings.deploy.architecture),
        None => lambda_build(&session.out, session.settings.deploy.architecture),
    }
}

/// The Lambda for `architecture`, from the cache when this build was made before (nothing runs,
/// nothing is hashed), else built there with cargo-lambda, saying which.
pub fn lambda_build(out: &Reporter, architecture: Architecture) -> Result<Artifact> {
    match build::prepare(architecture)? {
        Prepared::Cached { artifact, key } => {
            out.note(&format!(
                "the TVM Lambda for {} is built already (cache key {}): {}",
                architecture.as_str(),
                &key[..12],
                artifact.path.display()
            ));
            Ok(artifact)
        }
        Prepared::Build(job) => {
            out.note(&format!(
                "building the TVM Lambda for {} with cargo-lambda in {} (a few minutes the first time)",
                architecture.as_str(),
                job.dir().display()
            ));
            out.suspend(|| job.run(out.child_stdout()))
        }
    }
}

/// Detects drift (unless `detect_drift` is off), runs the waves, retires the stacks no longer
/// configured, deploys (or retires) the SCP, and prunes old code. A declined question ends the
/// run there (`Report::declined`). `named` is every stack named for the environment, listed
/// once as the run began (`session::named_stacks`): the whole run plans from it and lists or
/// describes the environment's stacks no more.
pub async fn run(
    session: &Session,
    mode: Mode,
    artifact: &Artifact,
    detect_drift: bool,
    named: &[Deployed],
) -> Result<Report> {
    if session.settings.deploy.identity_proof == IdentityProof::Off {
        session.out.warn(IdentityProof::OFF_WARNING);
    }
    let (env, deploy, identity) = (session.env(), &session.settings.deploy, &session.identity);
    let user = starter::user_policy(session, true).await?;
    let policy_text = policy::for_deploy(env, &user, &session.smoke_principals())?;
    for warning in policy::text_warnings(&user.text) {
        session.out.warn(&format!("{}: {warning}", user.source));
    }
    let cfn = session.cloudformation();
    let mut engine = session.engine(&cfn);
    engine.known = Some(named);
    let deployed = environment_stacks_of(session.env(), named.to_vec());
    let restored =
        if detect_drift { drift_restores(session, &deployed, &mut engine, mode).await? } else { Some(Vec::new()) };
    let Some(restored) = restored else {
        return Ok(Report { mode, results: Vec::new(), retired: Vec::new(), endpoint: None, declined: true });
    };
    let key = artifact.key();
    let previous_key = deployed_artifact_key(session.env(), named);
    let parts = stacks::parts(deploy);
    let waves = parts.iter().map(Part::wave).max().unwrap_or(0);
    let mut outputs = Outputs::new();
    let mut results = Vec::new();
    let mut version: Option<String> = None;
    let mut policy_version: Option<u64> = None;
    for wave in 0..=waves {
        let inputs = Inputs {
            env,
            deploy,
            account_id: &identity.account_id,
            partition: &identity.partition,
            policy_text: &policy_text,
            policy_version,
            artifact_key: Some(&key),
            artifact_version: version.as_deref(),
            scp_document: None,
            outputs: &outputs,
        };
        let Some(mut desired) = desired_wave(session, &inputs, &parts, wave, mode)? else { break };
        find_retained(session, &deployed, &mut desired).await?;
        match engine.run_wave(desired, mode).await? {
            WaveOutcome::Declined => {
                return Ok(Report { mode, results, retired: Vec::new(), endpoint: None, declined: true });
            }
            WaveOutcome::Done(done) => {
                for result in &done {
                    session.out.outputs(&result.name, &result.outputs);
                    outputs.insert(result.part.clone(), result.outputs.clone());
                }
                results.extend(done);
            }
        }
        if wave == 0 {
            version = code_version(session, artifact, &outputs, mode).await?;
            policy_version = policy_pin::policy_version(session, &policy_text, &outputs, mode).await?;
        }
    }
    mark_restored(&mut results, &restored, mode);
    let endpoint = outputs.get(&Part::Api).and_then(|api| tvm_url(api, session.emulator()));
    let Some(mut retired) = retire(session, &engine, &parts, mode, &deployed).await? else {
        return Ok(Report { mode, results, retired: Vec::new(), endpoint, declined: true });
    };
    match scp::apply(session, mode, &outputs, named).await? {
        scp::Applied::Nothing => {}
        scp::Applied::Done(done) => results.extend(done),
        scp::Applied::Retired(name) => retired.push(name),
        scp::Applied::Declined => return Ok(Report { mode, results, retired, endpoint, declined: true }),
    }
    if mode == Mode::Apply {
        prune_code(session, &outputs, &key, previous_key).await?;
    }
    Ok(Report { mode, results, retired, endpoint, declined: false })
}

/// Drift on the deployed stacks, detected before planning: on AWS handed to the engine, which
/// plans each drifted stack as a restore with a drift-aware change set; on an emulator restored
/// here (`drift::restore_on_emulator`), returning the stacks it restored. `None`: declined.
async fn drift_restores(
    session: &Session,
    deployed: &[Deployed],
    engine: &mut Engine<'_>,
    mode: Mode,
) -> Result<Option<Vec<String>>> {
    if deployed.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let found = drift::detect(session, deployed).await?;
    drift::report(session, &found);
    if found.findings.is_empty() {
        return Ok(Some(Vec::new()));
    }
    if !drift::restores_outside_cloudformation(session) {
        engine.drifted = found.by_stack();
        return Ok(Some(Vec::new()));
    }
    Ok(match drift::restore_on_emulator(session, &found, mode).await? {
        drift::Restored::Stacks(stacks) => Some(stacks),
        drift::Restored::Declined => None,
    })
}

/// The stacks restored before the waves (which then found nothing to change) count as restored.
fn mark_restored(results: &mut [StackResult], restored: &[String], mode: Mode) {
    for result in results.iter_mut().filter(|r| restored.contains(&r.name)) {
        result.outcome = match (mode, &result.outcome) {
            (Mode::Apply, StackOutcome::Unchanged) => StackOutcome::Restored,
            (Mode::Preview, StackOutcome::Previewed { changes: 0 } | StackOutcome::Unchanged) => {
                StackOutcome::Previewed { changes: 1 }
            }
            (_, outcome) => outcome.clone(),
        };
    }
}

/// The code the deployed API stack runs, if there is one.
fn deployed_artifact_key(env: &str, named: &[Deployed]) -> Option<String> {
    let api = Part::Api.stack_name(env);
    named.iter().find(|stack| stack.name == api).and_then(|api| api.parameters.get("ArtifactKey").cloned())
}

/// Removes code zips other than the current and the previous one (which a rollback of the API
/// stack may need), so the bucket does not grow with every code change.
async fn prune_code(session: &Session, outputs: &Outputs, current: &str, previous: Option<String>) -> Result<()> {
    let bucket = outputs
        .get(&Part::Artifacts)
        .and_then(|o| o.get("BucketName"))
        .context("the artifacts stack has no BucketName output")?;
    let keep: Vec<String> = std::iter::once(current.to_string()).chain(previous).collect();
    let removed = session.s3().delete_objects_except(bucket, "lambda/", &keep).await?;
    if removed > 0 {
        session.out.note(&format!("removed {removed} old code zip version(s) from s3://{bucket}/lambda/"));
    }
    Ok(())
}

/// Deletes the stacks no longer configured (`stacks::retired`: protected roles, the audit stack),
/// asking first unless `--yes`; in a preview, only names them. `None` when the user said no.
/// `deployed` is the environment's stacks as the run began: a stack the run created is
/// configured, so never retired.
async fn retire(
    session: &Session,
    engine: &Engine<'_>,
    parts: &[Part],
    mode: Mode,
    deployed: &[Deployed],
) -> Result<Option<Vec<String>>> {
    let deployed: Vec<String> = deployed.iter().map(|s| s.name.clone()).collect();
    let retired: Vec<String> =
        stacks::retired(session.env(), parts, &deployed).into_iter().map(str::to_string).collect();
    if retired.is_empty() {
        return Ok(Some(retired));
    }
    let list = retired.join(", ");
    if mode == Mode::Preview {
        session.out.note(&format!("no longer configured (`protect`, `scp_mode`), so `upgrade` would delete: {list}"));
        return Ok(Some(retired));
    }
    session.out.note(&format!("no longer configured (`protect`, `scp_mode`): {list}"));
    let question = format!("Delete {} stack(s) of `{}` that are no longer configured?", retired.len(), session.env());
    if !session.agrees(&question, false)? {
        return Ok(None);
    }
    try_join_all(retired.iter().map(|name| engine.delete_and_wait(name))).await?;
    Ok(Some(retired))
}

/// Marks, on each desired stack, the resources it retains that exist already (the log groups an
/// earlier install kept): if the stack is created, it adopts them (`rollout::stacks`). A stack that is
/// deployed (`deployed`, as the run began) and will not be created again adopts nothing, so an
/// upgrade asks CloudWatch Logs nothing.
async fn find_retained(session: &Session, deployed: &[Deployed], desired: &mut [DesiredStack]) -> Result<()> {
    let names = session.names();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&session.sdk);
    let stays = |name: &str| {
        deployed
            .iter()
            .any(|d| d.name == name && !matches!(d.status.as_str(), "ROLLBACK_COMPLETE" | "REVIEW_IN_PROGRESS"))
    };
    for stack in desired.iter_mut().filter(|stack| !stays(&stack.name)) {
        for resource in stacks::retained(&stack.part, &names) {
            if log_group_exists(&logs, &resource.physical_name()).await? {
                stack.adopt.push(resource);
            }
        }
    }
    Ok(())
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

/// The S3 version of the code the function is pinned to: the object under the artifact's key
/// when S3 holds this zip's SHA-256 there, else a fresh upload with it (threat model T4: anyone
/// with `s3:PutObject` on the bucket could have written over the key). A preview uploads
/// nothing: an object that would be replaced shows as a new version to come. `None` only in a
/// preview whose bucket does not exist yet.
async fn code_version(session: &Session, artifact: &Artifact, outputs: &Outputs, mode: Mode) -> Result<Option<String>> {
    let Some(bucket) = outputs.get(&Part::Artifacts).and_then(|o| o.get("BucketName")) else {
        if mode == Mode::Preview {
            return Ok(None);
        }
        anyhow::bail!("the artifacts stack has no BucketName output");
    };
    let key = artifact.key();
    let s3 = session.s3();
    let stored = s3.head(bucket, &key).await?;
    if artifact.is_trusted(stored.as_ref()) {
        return Ok(Some(pinned(bucket, &key, stored)?));
    }
    let replacing = match &stored {
        None => None,
        Some(object) if object.checksum_sha256.is_none() => Some("has no SHA-256 checksum"),
        Some(_) => Some("holds other bytes than this zip (another SHA-256)"),
    };
    if mode == Mode::Preview {
        if let Some(why) = replacing {
            session.out.warn(&format!(
                "s3://{bucket}/{key} {why}: `upgrade` would upload the code again and pin the function to that upload"
            ));
        }
        return Ok(Some(PREVIEW_VERSION.into()));
    }
    if let Some(why) = replacing {
        session.out.warn(&format!(
            "s3://{bucket}/{key} {why}, so it is not trusted: someone wrote over it, or an older sentinel-tvm uploaded it without a checksum. Uploading this zip again and pinning the function to that upload"
        ));
    }
    let uploaded = s3.put(bucket, &key, artifact.read_bytes()?, &artifact.checksum_sha256).await?;
    session.out.note(&format!(
        "uploaded {} ({} bytes, SHA-256 {}) to s3://{bucket}/{key}",
        artifact.path.display(),
        artifact.size,
        artifact.checksum_sha256
    ));
    Ok(Some(pinned(bucket, &key, Some(uploaded))?))
}

/// What a preview shows as the version of code it would upload.
const PREVIEW_VERSION: &str = "(a new upload)";

fn pinned(bucket: &str, key: &str, stored: Option<StoredObject>) -> Result<String> {
    stored.and_then(|object| object.version_id).filter(|v| !v.is_empty() && v != "null").ok_or_else(|| {
        Fixable::new(
            format!("S3 reports no version for s3://{bucket}/{key}, so the function cannot be pinned to it"),
            "turn versioning back on for the bucket (the artifacts stack enables it: `sentinel-tvm upgrade` restores it)",
        )
        .into()
    })
}
