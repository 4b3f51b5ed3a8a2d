//! The guardrail stacks in the organization's account, as stacks: finding them, bringing
//! this TVM's to what is wanted (the new SCP attached before the 0.1 one goes, and never a
//! stack another TVM account owns), deleting them, and what teardown does with them. Whose a
//! stack is decides `crate::deploy::ownership`; the documents and the organization's checks are
//! `commands::steps::scp`'s; the organization's credentials are the session's (`Session::org`).

use anyhow::{Result, bail};

use super::session::Session;
use crate::aws::cloudformation::CloudFormation;
use crate::config::ScpMode;
use crate::deploy::ownership::{self, Owner};
use crate::deploy::stacks::{DesiredStack, Part};
use crate::error::Fixable;
use crate::model::cloudformation::Deployed;
use crate::names::stack_prefix;
use crate::rollout::stacks::{Engine, Mode, StackResult, WaveOutcome};
use crate::ui::output::Reporter;

/// The guardrail stacks of environment `env` in the organization's account, whoever's.
pub async fn guardrail_stacks(cfn: &CloudFormation, env: &str) -> Result<Vec<Deployed>> {
    Ok(guardrail_stacks_of(env, cfn.list(&stack_prefix(env)).await?))
}

/// Of the stacks named for `env` (`stack_prefix`), the guardrail stacks, whoever's.
pub fn guardrail_stacks_of(env: &str, mut named: Vec<Deployed>) -> Vec<Deployed> {
    named.retain(|s| matches!(Part::from_stack_name(env, &s.name), Some(Part::Guardrail { .. })));
    named
}

/// Brings each of `desired` (this TVM's guardrail stacks, in order) to what it should be, then
/// deletes the 0.1 SCP stacks `legacy`: the new SCP is attached before the old one goes, and
/// while both are attached both count against each target's five. A stack of a desired name
/// that is not this TVM's (`ownership::owner`: its tag names another account, or none) stops
/// everything before any change. `None` when a question was declined (`agrees` asks about the
/// deletion; the engine about each change set).
pub async fn converge(
    engine: &Engine<'_>,
    out: &Reporter,
    tvm_account: &str,
    desired: Vec<DesiredStack>,
    legacy: &[String],
    mode: Mode,
    agrees: &dyn Fn(&str) -> Result<bool>,
) -> Result<Option<Vec<StackResult>>> {
    for stack in &desired {
        if let Some(found) = engine.cfn.describe(&stack.name).await?
            && !matches!(ownership::owner(&found, engine.env, tvm_account), Owner::Ours { .. })
        {
            bail!(Fixable::new(
                format!(
                    "nothing was changed: the guardrail stack {} exists but is not this TVM's (account {tvm_account}): {:?}",
                    stack.name,
                    ownership::owner(&found, engine.env, tvm_account)
                ),
                "find out who made it; delete it yourself only if it is really a leftover",
            ));
        }
    }
    let mut results = Vec::new();
    for stack in desired {
        match engine.run_wave(vec![stack], mode).await? {
            WaveOutcome::Done(done) => results.extend(done),
            WaveOutcome::Declined => return Ok(None),
        }
    }
    if legacy.is_empty() {
        return Ok(Some(results));
    }
    let list = legacy.join(", ");
    if mode == Mode::Preview {
        out.note(&format!("`upgrade` would then delete {list}, the SCP as sentinel-tvm 0.1 named it"));
        return Ok(Some(results));
    }
    if !agrees(&format!("The new SCP is attached: delete {list}, the SCP as sentinel-tvm 0.1 named it?"))? {
        out.note(&format!("kept {list}: both SCPs stay attached, each counting against the targets' five"));
        return Ok(None);
    }
    delete_all(engine, legacy).await?;
    Ok(Some(results))
}

/// Deletes `names` (asked already), one after the other, each waited for.
pub async fn delete_all(engine: &Engine<'_>, names: &[String]) -> Result<()> {
    for name in names {
        engine.delete_and_wait(name).await?;
    }
    Ok(())
}

/// What teardown does with the guardrail stacks in the organization's account.
pub struct TeardownGuardrails {
    pub cfn: CloudFormation,
    /// The account they are in.
    pub account_id: String,
    pub plan: ownership::Teardown,
}

/// This TVM's guardrail stacks to delete (only when the environment has stacks here,
/// `tvm_stacks_here`, or `--delete-guardrails`), those kept, and others' left alone. When the
/// organization's account cannot be reached and an SCP is enforced, teardown stops instead:
/// the TVM is not removed while an SCP naming it may exist.
pub async fn for_teardown(session: &Session, tvm_stacks_here: bool, asked: bool) -> Result<Option<TeardownGuardrails>> {
    let org = match session.org().await {
        Ok(org) => org,
        Err(error) if session.settings.deploy.scp.mode == ScpMode::Enforce => {
            return Err(error.context(Fixable::new(
                "teardown will not remove the TVM while its guardrail stacks may still exist in the organization's account",
                "make `--org-profile` work (or delete the guardrail stacks there yourself), then run teardown again",
            )));
        }
        Err(_) => return Ok(None),
    };
    let cfn = CloudFormation::new(&org.sdk);
    let found = guardrail_stacks(&cfn, session.env()).await?;
    let plan = ownership::teardown(&found, session.env(), &session.identity.account_id, tvm_stacks_here, asked);
    Ok(Some(TeardownGuardrails { cfn, account_id: org.identity.account_id.clone(), plan }))
}

/// Deletes the guardrail stacks teardown listed (and was allowed to), before the TVM they name.
pub async fn delete_for_teardown(session: &Session, guardrails: &TeardownGuardrails) -> Result<()> {
    delete_all(&session.engine(&guardrails.cfn), &guardrails.plan.delete).await.map_err(|error| {
        error.context(format!(
            "teardown will not remove the TVM while its guardrail stacks still exist in account {}",
            guardrails.account_id
        ))
    })
}

#[cfg(test)]
mod tests {
    //! Mocked CloudFormation (aws-smithy-mocks): MiniStack's has no `AWS::Organizations::Policy`,
    //! so the order of a migration and the refusal of another account's stack are shown against
    //! a small fake that keeps each stack's status and events and records every call.

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::error::ErrorMetadata;
    use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
    use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
    use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use aws_sdk_cloudformation::operation::describe_stack_events::{
        DescribeStackEventsError, DescribeStackEventsOutput,
    };
    use aws_sdk_cloudformation::operation::describe_stacks::{DescribeStacksError, DescribeStacksOutput};
    use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
    use aws_sdk_cloudformation::types::{
        Change, ChangeAction, ChangeSetStatus, ResourceChange, ResourceStatus, Stack, StackEvent, StackStatus, Tag,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::cli::OutputFormat;
    use crate::names::{Guardrail, TAG_ENV, TAG_TVM_ACCOUNT};
    use crate::ui::prompt::Scripted;

    const OURS: &str = "111122223333";

    /// A stack's status, tags, and every status it went through (its stack-level events).
    type FakeStack = (String, BTreeMap<String, String>, Vec<String>);

    /// Each stack; and every mutating call, in order.
    #[derive(Default)]
    struct Fake {
        stacks: BTreeMap<String, FakeStack>,
        calls: Vec<String>,
    }

    impl Fake {
        fn set(&mut self, name: &str, status: &str) {
            let entry = self.stacks.entry(name.to_string()).or_default();
            entry.0 = status.to_string();
            entry.2.push(status.to_string());
        }
    }

    fn fake_cloudformation(fake: Arc<Mutex<Fake>>) -> CloudFormation {
        let (f1, f2, f3, f4, f5, f6, f7) =
            (fake.clone(), fake.clone(), fake.clone(), fake.clone(), fake.clone(), fake.clone(), fake.clone());
        let missing = mock!(Client::describe_stacks)
            .match_requests(move |r| !f1.lock().unwrap().stacks.contains_key(r.stack_name().unwrap_or_default()))
            .then_error(|| {
                DescribeStacksError::generic(
                    ErrorMetadata::builder().code("ValidationError").message("Stack does not exist").build(),
                )
            });
        let describe = mock!(Client::describe_stacks).then_compute_output(move |r| {
            let fake = f2.lock().unwrap();
            let name = r.stack_name().unwrap_or_default();
            let (status, tags, _) = &fake.stacks[name];
            let stack = Stack::builder()
                .stack_name(name)
                .stack_status(StackStatus::from(status.as_str()))
                .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                .build();
            DescribeStacksOutput::builder().stacks(stack).build()
        });
        let no_events = mock!(Client::describe_stack_events)
            .match_requests(move |r| !f3.lock().unwrap().stacks.contains_key(r.stack_name().unwrap_or_default()))
            .then_error(|| {
                DescribeStackEventsError::generic(
                    ErrorMetadata::builder().code("ValidationError").message("Stack does not exist").build(),
                )
            });
        let events = mock!(Client::describe_stack_events).then_compute_output(move |r| {
            let fake = f4.lock().unwrap();
            let name = r.stack_name().unwrap_or_default();
            // Newest first, one stack-level event per status the stack went through.
            let events = fake.stacks[name].2.iter().enumerate().rev().map(|(i, status)| {
                StackEvent::builder()
                    .event_id(format!("{name}-{i}"))
                    .stack_name(name)
                    .logical_resource_id(name)
                    .resource_status(ResourceStatus::from(status.as_str()))
                    .build()
            });
            DescribeStackEventsOutput::builder().set_stack_events(Some(events.collect())).build()
        });
        let create = mock!(Client::create_change_set).then_compute_output(move |r| {
            let mut fake = f5.lock().unwrap();
            let name = r.stack_name().unwrap_or_default().to_string();
            fake.calls.push(format!("CreateChangeSet {name}"));
            let tags =
                r.tags().iter().map(|t| (t.key().unwrap_or_default().into(), t.value().unwrap_or_default().into()));
            fake.set(&name, "REVIEW_IN_PROGRESS");
            fake.stacks.get_mut(&name).unwrap().1 = tags.collect();
            CreateChangeSetOutput::builder().id(format!("cs-{name}")).build()
        });
        let ready = mock!(Client::describe_change_set).then_output(|| {
            let change = ResourceChange::builder()
                .action(ChangeAction::Add)
                .logical_resource_id("ServiceControlPolicy")
                .resource_type("AWS::Organizations::Policy")
                .build();
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(Change::builder().resource_change(change).build())
                .build()
        });
        let execute = mock!(Client::execute_change_set).then_compute_output(move |r| {
            let mut fake = f6.lock().unwrap();
            let name = r.change_set_name().unwrap_or_default().trim_start_matches("cs-").to_string();
            fake.calls.push(format!("ExecuteChangeSet {name}"));
            fake.set(&name, "CREATE_COMPLETE");
            ExecuteChangeSetOutput::builder().build()
        });
        let delete = mock!(Client::delete_stack).then_compute_output(move |r| {
            let mut fake = f7.lock().unwrap();
            let name = r.stack_name().unwrap_or_default().to_string();
            fake.calls.push(format!("DeleteStack {name}"));
            fake.stacks.remove(&name);
            DeleteStackOutput::builder().build()
        });
        let discard = mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
        CloudFormation::from_client(mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            [&missing, &describe, &no_events, &events, &create, &ready, &execute, &delete, &discard]
        ))
    }

    fn desired_scp() -> DesiredStack {
        let part = Part::Guardrail { kind: Guardrail::Scp, tvm_account: Some(OURS.into()) };
        let mut desired = DesiredStack::new("main", part, BTreeMap::from([("EnvName".into(), "main".into())]));
        desired.tags.insert(TAG_TVM_ACCOUNT.into(), OURS.into());
        desired
    }

    fn tags(account: Option<&str>) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::from([(TAG_ENV.to_string(), "main".to_string())]);
        tags.extend(account.map(|a| (TAG_TVM_ACCOUNT.to_string(), a.to_string())));
        tags
    }

    #[tokio::test]
    async fn the_new_scp_is_attached_before_the_old_one_is_deleted() {
        let fake = Arc::new(Mutex::new(Fake::default()));
        fake.lock().unwrap().stacks.insert(
            "sentinel-tvm-main-scp".into(),
            ("CREATE_COMPLETE".into(), tags(None), vec!["CREATE_COMPLETE".into()]),
        );
        let cfn = fake_cloudformation(fake.clone());
        let out = Reporter::new(OutputFormat::Json);
        let prompt = Scripted::new(&[]);
        let engine = Engine {
            cfn: &cfn,
            out: &out,
            prompt: &prompt,
            yes: true,
            env: "main",
            drifted: BTreeMap::new(),
            known: None,
        };
        let asked = Mutex::new(Vec::new());
        let agrees = |question: &str| {
            asked.lock().unwrap().push(question.to_string());
            Ok(true)
        };

        let legacy = ["sentinel-tvm-main-scp".to_string()];
        let results = converge(&engine, &out, OURS, vec![desired_scp()], &legacy, Mode::Apply, &agrees).await.unwrap();

        assert_eq!(results.expect("not declined").len(), 1);
        let new = format!("sentinel-tvm-main-scp-{OURS}");
        assert_eq!(
            fake.lock().unwrap().calls,
            [
                format!("CreateChangeSet {new}"),
                format!("ExecuteChangeSet {new}"),
                "DeleteStack sentinel-tvm-main-scp".to_string()
            ],
            "create and attach the new one, then delete the old one"
        );
        assert_eq!(asked.lock().unwrap().len(), 1, "the deletion is asked about");
    }

    #[tokio::test]
    async fn declining_the_deletion_keeps_the_old_scp_and_a_preview_changes_nothing_of_it() {
        for (mode, answer) in [(Mode::Apply, false), (Mode::Preview, true)] {
            let fake = Arc::new(Mutex::new(Fake::default()));
            fake.lock().unwrap().stacks.insert(
                "sentinel-tvm-main-scp".into(),
                ("CREATE_COMPLETE".into(), tags(None), vec!["CREATE_COMPLETE".into()]),
            );
            let cfn = fake_cloudformation(fake.clone());
            let out = Reporter::new(OutputFormat::Json);
            let prompt = Scripted::new(&[]);
            let engine = Engine {
                cfn: &cfn,
                out: &out,
                prompt: &prompt,
                yes: true,
                env: "main",
                drifted: BTreeMap::new(),
                known: None,
            };
            let agrees = |_: &str| Ok(answer);
            let legacy = ["sentinel-tvm-main-scp".to_string()];
            converge(&engine, &out, OURS, vec![desired_scp()], &legacy, mode, &agrees).await.unwrap();
            let calls = fake.lock().unwrap().calls.clone();
            assert!(!calls.iter().any(|c| c == "DeleteStack sentinel-tvm-main-scp"), "{mode:?}: {calls:?}");
        }
    }

    /// Fails without the ownership check: a stack of this TVM's name tagged for another account
    /// (or untagged) would be updated in place.
    #[tokio::test]
    async fn a_stack_of_our_name_that_is_not_ours_stops_everything_before_any_change() {
        for tag in [Some("444455556666"), None] {
            let fake = Arc::new(Mutex::new(Fake::default()));
            let name = format!("sentinel-tvm-main-scp-{OURS}");
            fake.lock()
                .unwrap()
                .stacks
                .insert(name.clone(), ("CREATE_COMPLETE".into(), tags(tag), vec!["CREATE_COMPLETE".into()]));
            let cfn = fake_cloudformation(fake.clone());
            let out = Reporter::new(OutputFormat::Json);
            let prompt = Scripted::new(&[]);
            let engine = Engine {
                cfn: &cfn,
                out: &out,
                prompt: &prompt,
                yes: true,
                env: "main",
                drifted: BTreeMap::new(),
                known: None,
            };
            let legacy = ["sentinel-tvm-main-scp".to_string()];

            let error = converge(&engine, &out, OURS, vec![desired_scp()], &legacy, Mode::Apply, &|_| Ok(true))
                .await
                .expect_err("refused");

            assert!(format!("{error:#}").contains("is not this TVM's"), "{error:#}");
            assert!(fake.lock().unwrap().calls.is_empty(), "{tag:?}: nothing was called that changes anything");
        }
    }
}
