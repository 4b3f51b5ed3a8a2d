//! The stack engine: applies one wave of stacks (stacks that do not depend on each other) the
//! way rain and the CDK do. Plan every stack; stop before touching anything if one is blocked;
//! recreate empty leftovers; create every needed change set at once (if one cannot be made, the
//! others are removed again); show them; ask once (unless `--yes`); execute them together and
//! follow their events live until every stack settles; and on failure end with what failed, why,
//! and what to do about each failed stack's final status. "No changes" is success.
//! `Mode::Preview` is `diff`: the same up to the question, then every change set (and any stack
//! it had to create) is deleted again.
//!
//! A stack created while resources it retains exist (`DesiredStack::adopt`: the api stack's log
//! groups after a teardown) is created by an import change set of exactly those, shown and
//! confirmed like any other; once executed, an update with the whole template follows.

mod failure;
mod follow;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use futures_util::future::{join_all, try_join_all};

use failure::{combined, deploy_failed};
pub use follow::{Settled, is_settled, is_success};

use crate::aws::cloudformation::CloudFormation;
use crate::deploy::plan::{self, Action};
use crate::deploy::stacks::{DesiredStack, Part, TAG_TEMPLATE_SHA256, import_template, sha256_hex};
use crate::error::{Fixable, Interrupted};
use crate::model::cloudformation::Deployed;
use crate::model::cloudformation::{ChangeSet, ChangeSetKind, StackEvent, StackRequest};
use crate::ui::output::Reporter;
use crate::ui::prompt::{self, Prompt};
use crate::ui::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Preview,
}

/// What became of one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackOutcome {
    Unchanged,
    Created,
    Updated,
    /// Drift written back (a drift-aware change set), nothing else changed.
    Restored,
    /// `diff`: the changes it would make.
    Previewed {
        changes: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResult {
    pub part: Part,
    pub name: String,
    pub outcome: StackOutcome,
    pub outputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaveOutcome {
    Done(Vec<StackResult>),
    /// The user said no; every change set made for the question was removed.
    Declined,
}

pub struct Engine<'a> {
    pub cfn: &'a CloudFormation,
    pub out: &'a Reporter,
    pub prompt: &'a dyn Prompt,
    /// `--yes`: apply without asking.
    pub yes: bool,
    pub env: &'a str,
    /// Stacks whose resources drift detection found changed outside CloudFormation, with what
    /// drifted (`Resource.Property`): their change sets are drift-aware (`REVERT_DRIFT`).
    pub drifted: BTreeMap<String, Vec<String>>,
    /// The stacks as listed when the run began (`None`: describe each stack as it is planned).
    /// A run changes a wave's stacks only in that wave, so a listing made before the first is
    /// what each later wave would find too: planning from it calls CloudFormation no more.
    pub known: Option<&'a [Deployed]>,
}

/// A stack with a change set waiting for the question.
struct Pending {
    desired: DesiredStack,
    change_set: ChangeSet,
    /// Created by a CREATE change set: the stack exists only in REVIEW_IN_PROGRESS until executed.
    creating: bool,
    /// Only drift to write back.
    restoring: bool,
    /// Its outputs as deployed now (what a preview passes on to the next wave).
    current_outputs: BTreeMap<String, String>,
    /// An import change set adopting `desired.adopt`: the whole template follows as an update.
    adopting: bool,
}

impl Engine<'_> {
    /// Describes and plans every stack; reports the plan; refuses if any stack is blocked.
    pub async fn plan(&self, desired: &[DesiredStack]) -> Result<Vec<(Action, Option<Deployed>)>> {
        let deployed = match self.known {
            Some(known) => {
                let find = |name: &str| known.iter().find(|stack| stack.name == name).cloned();
                desired.iter().map(|stack| find(&stack.name)).collect()
            }
            None => try_join_all(desired.iter().map(|stack| self.cfn.describe(&stack.name))).await?,
        };
        let now = SystemTime::now();
        let planned: Vec<(Action, Option<Deployed>)> = desired
            .iter()
            .zip(deployed)
            .map(|(stack, deployed)| {
                let drifted = self.drifted.get(&stack.name).map_or(&[][..], Vec::as_slice);
                (plan::plan(self.env, stack, deployed.as_ref(), drifted, now), deployed)
            })
            .collect();
        for (stack, (action, _)) in desired.iter().zip(&planned) {
            self.out.plan(&stack.name, action);
        }
        if let Some((Action::Blocked { reason, fix }, _)) =
            planned.iter().find(|(action, _)| matches!(action, Action::Blocked { .. }))
        {
            bail!(Fixable::new(format!("nothing was changed: {reason}"), fix.clone()));
        }
        Ok(planned)
    }

    /// Brings one wave of stacks to `desired` (or, in preview, shows what that would change).
    pub async fn run_wave(&self, desired: Vec<DesiredStack>, mode: Mode) -> Result<WaveOutcome> {
        let planned = self.plan(&desired).await?;
        let mut results = Vec::new();
        let mut to_change = Vec::new();
        for (stack, (action, deployed)) in desired.into_iter().zip(planned) {
            match action {
                Action::Skip => results.push(unchanged(stack, deployed)),
                Action::Recreate { .. } if mode == Mode::Preview => {
                    self.out
                        .note(&format!("{} would be deleted (it is an empty leftover) and created again", stack.name));
                    results.push(StackResult {
                        part: stack.part,
                        name: stack.name,
                        outcome: StackOutcome::Previewed { changes: 0 },
                        outputs: BTreeMap::new(),
                    });
                }
                action => to_change.push((stack, action, deployed)),
            }
        }
        let recreate: Vec<&str> = to_change
            .iter()
            .filter(|(_, a, _)| matches!(a, Action::Recreate { .. }))
            .map(|(s, _, _)| s.name.as_str())
            .collect();
        try_join_all(recreate.iter().map(|name| self.delete_and_wait(name))).await?;

        let work = to_change
            .into_iter()
            .map(|(stack, action, deployed)| (stack.name.clone(), self.prepare(stack, action, deployed)));
        let prepared = all_or_undo(work, async |prepared: Vec<_>| {
            self.discard(&prepared.into_iter().filter_map(Result::ok).collect::<Vec<Pending>>()).await;
        })
        .await?;
        let mut pending = Vec::new();
        for prepared in prepared {
            match prepared {
                Ok(change) => pending.push(change),
                Err(stack) => results.push(unchanged(stack.0, stack.1)),
            }
        }
        for change in &pending {
            self.out.change_set(&change.desired.name, &change.change_set.changes);
        }
        if pending.is_empty() {
            return Ok(WaveOutcome::Done(results));
        }
        if mode == Mode::Preview {
            self.discard(&pending).await;
            results.extend(pending.into_iter().map(|p| StackResult {
                part: p.desired.part,
                name: p.desired.name,
                outcome: StackOutcome::Previewed { changes: p.change_set.changes.len() },
                outputs: p.current_outputs,
            }));
            return Ok(WaveOutcome::Done(results));
        }
        if !self.confirmed(&pending)? {
            self.discard(&pending).await;
            return Ok(WaveOutcome::Declined);
        }
        results.extend(self.execute(pending).await?);
        Ok(WaveOutcome::Done(results))
    }

    /// Creates the change set; `Err` carries the stack back when CloudFormation finds nothing
    /// to change (the change set is deleted again). On error nothing it made is left behind.
    async fn prepare(
        &self,
        desired: DesiredStack,
        action: Action,
        deployed: Option<Deployed>,
    ) -> Result<Result<Pending, (DesiredStack, Option<Deployed>)>> {
        let creating = !matches!(action, Action::Update { .. } | Action::Restore { .. });
        let restoring = matches!(action, Action::Restore { .. });
        let adopting = creating && !desired.adopt.is_empty();
        let current_outputs = deployed.as_ref().map(|d| d.outputs.clone()).unwrap_or_default();
        let request = change_set_request(&desired, &action, self.drifted.contains_key(&desired.name));
        let id = if adopting {
            let adopted: Vec<String> = desired.adopt.iter().map(|r| r.physical_name()).collect();
            self.out.note(&format!(
                "{}: adopting what an earlier install kept ({}) with an import change set; the rest of the stack follows as an update",
                desired.name,
                adopted.join(", ")
            ));
            // An import may not add tags (CloudFormation refuses it): `complete_import` adds them.
            let template = import_template(&desired.part, &desired.adopt);
            let parameters = import_parameters(&desired);
            let request = StackRequest {
                name: &desired.name,
                template: &template,
                parameters: &parameters,
                tags: &BTreeMap::new(),
                revert_drift: false,
            };
            self.cfn.create_change_set(&request, ChangeSetKind::Import(&desired.adopt), &change_set_name()).await?
        } else {
            let kind = if creating { ChangeSetKind::Create } else { ChangeSetKind::Update };
            self.cfn.create_change_set(&request, kind, &change_set_name()).await?
        };
        let change_set = match follow::change_set_ready(self.cfn, &id, &desired.name).await {
            Ok(change_set) => change_set,
            Err(error) => {
                self.remove_change_set(&desired.name, &id, creating).await;
                return Err(error);
            }
        };
        if change_set.is_empty_change() && request.revert_drift {
            self.cfn.delete_change_set(&id).await?;
            bail!(Fixable::new(
                format!(
                    "CloudFormation's drift-aware change set for `{}` changes nothing, yet drift detection found its resources changed outside CloudFormation",
                    desired.name
                ),
                format!(
                    "see `sentinel-tvm status --env {}` for what drifted, and restore it by hand or with `aws cloudformation create-change-set --deployment-mode REVERT_DRIFT`",
                    self.env
                ),
            ));
        }
        if change_set.is_empty_change() {
            // Only an update finds nothing to change, so the stack is as it was planned from.
            self.cfn.delete_change_set(&id).await?;
            return Ok(Err((desired, deployed)));
        }
        if change_set.status != "CREATE_COMPLETE" {
            let reason = change_set.status_reason.clone().unwrap_or_else(|| change_set.status.clone());
            self.discard(&[Pending {
                desired: desired.clone(),
                change_set,
                creating,
                restoring,
                current_outputs,
                adopting,
            }])
            .await;
            bail!("CloudFormation refused the change set for `{}`: {reason}", desired.name);
        }
        Ok(Ok(Pending { desired, change_set, creating, restoring, current_outputs, adopting }))
    }

    fn confirmed(&self, pending: &[Pending]) -> Result<bool> {
        if self.yes {
            return Ok(true);
        }
        let changes: usize = pending.iter().map(|p| p.change_set.changes.len()).sum();
        let question = format!("Apply {changes} change(s) to {} stack(s) of `{}`?", pending.len(), self.env);
        self.out.suspend(|| prompt::agreed(self.prompt, &question, false, "--yes"))
    }

    /// Executes every change set at once and follows them all to the end; fails with every
    /// failure collected, and a hint for each failed stack's final status.
    async fn execute(&self, pending: Vec<Pending>) -> Result<Vec<StackResult>> {
        let followed = join_all(pending.iter().map(|p| async {
            let since = follow::newest_event(self.cfn, &p.desired.name).await?;
            self.cfn.execute_change_set(&p.change_set.id).await?;
            let started = match (p.adopting, p.creating) {
                (true, _) => "IMPORT_IN_PROGRESS",
                (false, true) => "CREATE_IN_PROGRESS",
                (false, false) => "UPDATE_IN_PROGRESS",
            };
            self.out.stack_started(&p.desired.name, started);
            let settled = follow::stack_settled(self.cfn, self.out, &p.desired.name, since).await?;
            if !p.adopting || !settled.succeeded() {
                return Ok(settled);
            }
            self.complete_import(&p.desired, settled).await
        }));
        let names: Vec<&str> = pending.iter().map(|p| p.desired.name.as_str()).collect();
        let settled = tokio::select! {
            settled = followed => settled,
            _ = tokio::signal::ctrl_c() => return Err(interrupted(&names).into()),
        };
        let mut results = Vec::new();
        let mut failures: Vec<(String, StackEvent)> = Vec::new();
        let mut failed_stacks: Vec<(String, String)> = Vec::new();
        let mut errors = Vec::new();
        for (p, settled) in pending.into_iter().zip(settled) {
            let name = p.desired.name.clone();
            match settled {
                Ok(settled) if settled.succeeded() => match self.cfn.describe(&name).await {
                    Ok(deployed) => results.push(StackResult {
                        part: p.desired.part,
                        name,
                        outcome: match (p.creating, p.restoring) {
                            (true, _) => StackOutcome::Created,
                            (false, true) => StackOutcome::Restored,
                            (false, false) => StackOutcome::Updated,
                        },
                        outputs: deployed.map(|d| d.outputs).unwrap_or_default(),
                    }),
                    Err(error) => errors.push((name, error)),
                },
                Ok(settled) => {
                    failures.extend(settled.failures.into_iter().map(|event| (name.clone(), event)));
                    failed_stacks.push((name, settled.status));
                }
                Err(error) => errors.push((name, error)),
            }
        }
        if failed_stacks.is_empty() {
            return match combined(errors) {
                Some(error) => Err(error),
                None => Ok(results),
            };
        }
        if !failures.is_empty() {
            self.out.stderr_block(&render::failure_summary(&failures));
        }
        Err(deploy_failed(&failed_stacks, &failures, combined(errors)).into())
    }

    /// After an import: first the stack's tags, with the import's own template (a small update
    /// that leaves the stack this environment's even if the next one fails: an untagged stack
    /// would be refused as someone else's), then the whole template. The question was asked for
    /// all of it; each change set is shown as it runs.
    async fn complete_import(&self, desired: &DesiredStack, imported: Settled) -> Result<Settled> {
        let template = import_template(&desired.part, &desired.adopt);
        let parameters = import_parameters(desired);
        let mut tags = desired.tags.clone();
        tags.insert(TAG_TEMPLATE_SHA256.into(), sha256_hex(template.as_bytes()));
        let tagging = StackRequest {
            name: &desired.name,
            template: &template,
            parameters: &parameters,
            tags: &tags,
            revert_drift: false,
        };
        let tagged = self.update_now(&tagging).await?.unwrap_or(imported);
        if !tagged.succeeded() {
            return Ok(tagged);
        }
        Ok(self.update_now(&desired.request()).await?.unwrap_or(tagged))
    }

    /// Makes, shows, executes and follows one update; `None` when there is nothing to change.
    async fn update_now(&self, request: &StackRequest<'_>) -> Result<Option<Settled>> {
        let name = request.name;
        let id = self.cfn.create_change_set(request, ChangeSetKind::Update, &change_set_name()).await?;
        let change_set = match follow::change_set_ready(self.cfn, &id, name).await {
            Ok(change_set) => change_set,
            Err(error) => {
                self.remove_change_set(name, &id, false).await;
                return Err(error);
            }
        };
        if change_set.is_empty_change() {
            self.cfn.delete_change_set(&id).await?;
            return Ok(None);
        }
        if change_set.status != "CREATE_COMPLETE" {
            self.remove_change_set(name, &id, false).await;
            let reason = change_set.status_reason.unwrap_or(change_set.status);
            bail!(Fixable::new(
                format!("`{name}` adopted what an earlier install kept, but its update was refused: {reason}"),
                "run the same command again: the stack exists now, so it is updated like any other"
            ));
        }
        self.out.change_set(name, &change_set.changes);
        let since = follow::newest_event(self.cfn, name).await?;
        self.cfn.execute_change_set(&id).await?;
        self.out.stack_started(name, "UPDATE_IN_PROGRESS");
        follow::stack_settled(self.cfn, self.out, name, since).await.map(Some)
    }

    /// Deletes change sets made for a question that was not (or will not be) answered yes, and
    /// the empty stacks CREATE change sets made.
    async fn discard(&self, pending: &[Pending]) {
        for p in pending {
            self.remove_change_set(&p.desired.name, &p.change_set.id, p.creating).await;
        }
    }

    /// Deletes change set `id` of `stack` (and the stack, if the change set created it); warns
    /// if that fails.
    async fn remove_change_set(&self, stack: &str, id: &str, creating: bool) {
        let cleanup = async {
            self.cfn.delete_change_set(id).await?;
            if creating {
                self.cfn.delete_stack(stack).await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        if let Err(error) = cleanup.await {
            self.out.warn(&format!("could not remove the unused change set of `{stack}`: {error:#}"));
        }
    }

    /// Deletes a stack and waits until it is gone; refuses to go on if it will not go.
    pub async fn delete_and_wait(&self, name: &str) -> Result<Settled> {
        let since = follow::newest_event(self.cfn, name).await.unwrap_or(None);
        self.cfn.delete_stack(name).await?;
        self.out.stack_started(name, "DELETE_IN_PROGRESS");
        let settled = tokio::select! {
            settled = follow::stack_settled(self.cfn, self.out, name, since) => settled?,
            _ = tokio::signal::ctrl_c() => return Err(interrupted(&[name]).into()),
        };
        if settled.status != "DELETE_COMPLETE" {
            let cause =
                settled.failures.iter().find_map(|e| e.reason.clone()).unwrap_or_else(|| settled.status.clone());
            bail!(Fixable::new(
                format!("`{name}` could not be deleted: {cause}"),
                format!(
                    "remove what holds it (see the events above), then run this again; or `aws cloudformation delete-stack --stack-name {name}` and retry"
                )
            ));
        }
        Ok(settled)
    }
}

/// What the change set for `action` is made from: drift-aware when the stack drifted, so an
/// update also writes back what was changed outside CloudFormation (an ordinary update never
/// re-applies a property whose template value did not change).
fn change_set_request<'a>(desired: &'a DesiredStack, action: &Action, drifted: bool) -> StackRequest<'a> {
    let revert_drift = matches!(action, Action::Restore { .. }) || (drifted && matches!(action, Action::Update { .. }));
    StackRequest { revert_drift, ..desired.request() }
}

/// The import template's one parameter, `EnvName`, from the stack's own.
fn import_parameters(desired: &DesiredStack) -> BTreeMap<String, String> {
    desired.parameters.iter().filter(|(key, _)| *key == "EnvName").map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn unchanged(stack: DesiredStack, deployed: Option<Deployed>) -> StackResult {
    StackResult {
        part: stack.part,
        name: stack.name,
        outcome: StackOutcome::Unchanged,
        outputs: deployed.map(|d| d.outputs).unwrap_or_default(),
    }
}

/// Awaits one piece of `work` per named stack, all at once. If any fails, `undo` gets what the
/// others produced, and the error names every failure (see [`combined`]).
async fn all_or_undo<T, F: Future<Output = Result<T>>>(
    work: impl IntoIterator<Item = (String, F)>,
    undo: impl AsyncFnOnce(Vec<T>),
) -> Result<Vec<T>> {
    let (names, work): (Vec<String>, Vec<F>) = work.into_iter().unzip();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (name, outcome) in names.into_iter().zip(join_all(work).await) {
        match outcome {
            Ok(value) => done.push(value),
            Err(error) => failed.push((name, error)),
        }
    }
    match combined(failed) {
        Some(error) => {
            undo(done).await;
            Err(error)
        }
        None => Ok(done),
    }
}

fn interrupted(stacks: &[&str]) -> Interrupted {
    let stacks = stacks.join(", ");
    Interrupted(format!(
        "interrupted: CloudFormation keeps working on {stacks}. Follow it with `sentinel-tvm status`, \
         or cancel an update with `aws cloudformation cancel-update-stack --stack-name NAME`"
    ))
}

/// Unique per call: the emulator (and a retried run) must never see a name twice.
fn change_set_name() -> String {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).unwrap_or_default();
    format!("sentinel-tvm-{millis}-{}", random.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_sets_are_drift_aware_exactly_for_drifted_stacks_that_change() {
        let desired = DesiredStack::new("main", Part::Policy, BTreeMap::new());
        let restore = Action::Restore { drifted: vec!["Parameter.Value".into()] };
        let update = Action::Update { changed: vec!["template".into()] };
        for (action, drifted, expected) in [
            (&restore, true, true),
            (&update, true, true),
            (&update, false, false),
            (&Action::Create, true, false),
            (&Action::Recreate { status: "ROLLBACK_COMPLETE".into() }, true, false),
        ] {
            assert_eq!(change_set_request(&desired, action, drifted).revert_drift, expected, "{action:?} {drifted}");
        }
    }

    /// EMULATOR GAP, so mocked: MiniStack makes no drift-aware change sets. The mocked
    /// CloudFormation answers `CreateChangeSet` only when it asks for `REVERT_DRIFT`, so this
    /// fails if a drifted stack whose template and parameters are unchanged (what `upgrade` and
    /// `diff` hand the engine after drift detection) gets an ordinary change set, or none.
    #[tokio::test]
    async fn a_drifted_stack_gets_a_drift_aware_change_set() {
        use aws_sdk_cloudformation::Client;
        use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
        use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
        use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
        use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
        use aws_sdk_cloudformation::types::{
            Change, ChangeSetStatus, ChangeSetType, DeploymentMode, Parameter, Stack, StackStatus, Tag,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        use crate::cli::OutputFormat;
        use crate::ui::prompt::Scripted;

        let desired = DesiredStack::new(
            "main",
            Part::ProtectedRole("app".into()),
            BTreeMap::from([("EnvName".into(), "main".into())]),
        );
        let stack = Stack::builder()
            .stack_name(&desired.name)
            .stack_status(StackStatus::UpdateComplete)
            .set_tags(Some(desired.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .set_parameters(Some(
                desired
                    .parameters
                    .iter()
                    .map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build())
                    .collect(),
            ))
            .build();
        let describe = mock!(Client::describe_stacks)
            .then_output(move || DescribeStacksOutput::builder().stacks(stack.clone()).build());
        let create = mock!(Client::create_change_set)
            .match_requests(|request| {
                request.deployment_mode() == Some(&DeploymentMode::RevertDrift)
                    && request.change_set_type() == Some(&ChangeSetType::Update)
            })
            .then_output(|| CreateChangeSetOutput::builder().id("cs-revert").build());
        let ready = mock!(Client::describe_change_set).then_output(|| {
            let change = aws_sdk_cloudformation::types::ResourceChange::builder()
                .action(aws_sdk_cloudformation::types::ChangeAction::Modify)
                .logical_resource_id("ProtectedRole")
                .resource_type("AWS::IAM::Role")
                .build();
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(Change::builder().resource_change(change).build())
                .build()
        });
        let delete = mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
        let cfn = CloudFormation::from_client(mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&describe, &create, &ready, &delete]
        ));
        let out = Reporter::new(OutputFormat::Json);
        let prompt = Scripted::new(&[]);
        let drifted =
            BTreeMap::from([(desired.name.clone(), vec!["ProtectedRole.AssumeRolePolicyDocument".to_string()])]);
        let engine = Engine { cfn: &cfn, out: &out, prompt: &prompt, yes: false, env: "main", drifted, known: None };

        let outcome = engine.run_wave(vec![desired], Mode::Preview).await.unwrap();
        let WaveOutcome::Done(results) = outcome else { panic!("a preview asks nothing") };
        assert_eq!(results[0].outcome, StackOutcome::Previewed { changes: 1 });
        assert_eq!(create.num_calls(), 1, "one drift-aware change set");
        assert_eq!(delete.num_calls(), 1, "the preview removed it again");
    }

    #[test]
    fn change_set_names_are_valid_and_unique() {
        let a = change_set_name();
        let b = change_set_name();
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.len() <= 128 && name.starts_with("sentinel-tvm-"), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{name}");
        }
    }

    #[tokio::test]
    async fn when_one_stack_fails_what_the_others_made_is_undone() {
        use futures_util::future::ready;
        let undone = std::sync::Mutex::new(Vec::new());
        let undo = async |made: Vec<u32>| undone.lock().unwrap().extend(made);

        let work = [("a", Ok(1)), ("b", Err(anyhow::anyhow!("no"))), ("c", Ok(3))];
        let error = all_or_undo(work.map(|(name, outcome)| (name.to_string(), ready(outcome))), undo)
            .await
            .expect_err("b failed");
        assert_eq!(*undone.lock().unwrap(), [1, 3]);
        assert_eq!(format!("{error:#}"), "no");

        undone.lock().unwrap().clear();
        let work = [("a", Ok(1)), ("b", Ok(2))];
        let made = all_or_undo(work.map(|(name, outcome)| (name.to_string(), ready(outcome))), undo).await.unwrap();
        assert_eq!(made, [1, 2]);
        assert!(undone.lock().unwrap().is_empty(), "nothing undone when all succeed");
    }
}
