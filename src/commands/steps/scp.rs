//! The optional Service Control Policy's steps: its stack in the organization's management
//! account, deployed after the TVM's stacks by `install`/`upgrade` (`scp_mode: enforce`, after the
//! organization's pre-flight checks), retired when the mode changes, and deleted first by
//! `teardown`; the organization's facts gathered for the pre-flight; and `scp check`'s
//! simulation. The document itself is `crate::scp::document`; what the organization's facts mean
//! is `crate::scp::organization`; what each simulated case must come out as is `crate::scp::cases`.

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;

use super::session::Session;
use crate::aws::cloudformation::CloudFormation;
use crate::aws::identity::{Identity, caller_identity};
use crate::aws::organizations::Organizations;
use crate::aws::simulator::{self, Caller};
use crate::aws::{Connection, sdk_config};
use crate::check::verdict::{self, Verdict};
use crate::config::ScpMode;
use crate::deploy::engine::{Engine, Mode, StackResult, WaveOutcome};
use crate::deploy::stacks::{Inputs, Outputs, Part, TAG_ENV};
use crate::error::Fixable;
use crate::scp::cases::{self as scp_cases, Case};
use crate::scp::document::{self as scp_document, Inputs as ScpInputs};
use crate::scp::organization::{self, Facts};
use crate::settings::Settings;

/// The credentials the SCP stack is deployed with: `--org-profile`, else the session's own.
pub struct Org {
    pub sdk: SdkConfig,
    pub identity: Identity,
}

impl Org {
    pub async fn open(session: &Session) -> Result<Org> {
        let Some(profile) = session.settings.deploy.scp.org_profile.clone() else {
            return Ok(Org { sdk: session.sdk.clone(), identity: session.identity.clone() });
        };
        let connection = Connection {
            profile: Some(profile.clone()),
            region: session.sdk.region().map(|r| r.to_string()),
            endpoint_url: session.settings.connection.endpoint_url.clone(),
        };
        let sdk = sdk_config(&connection).await?;
        let identity = caller_identity(&sdk)
            .await
            .with_context(|| format!("reading who `--org-profile {profile}` is (the organization's credentials)"))?;
        Ok(Org { sdk, identity })
    }
}

/// What became of the SCP stack in an install, upgrade or diff.
pub enum Applied {
    /// `scp_mode` is not `enforce`, and no SCP stack was found to retire.
    Nothing,
    Done(Vec<StackResult>),
    /// A stack deleted because the mode is no longer `enforce` (or, in a preview, to be).
    Retired(String),
    Declined,
}

/// After the TVM's stacks: deploys the SCP (`enforce`), or retires one no longer wanted.
pub async fn apply(session: &Session, mode: Mode, outputs: &Outputs) -> Result<Applied> {
    let settings = &session.settings.deploy.scp;
    if settings.mode != ScpMode::Enforce {
        return retire(session, mode).await;
    }
    let deployed = |part: Part| outputs.get(&part).is_some_and(|o| !o.is_empty());
    if mode == Mode::Preview && !(deployed(Part::ExecutionRole) && deployed(Part::Api)) {
        session.out.note("the SCP names the TVM's execution role and function, which are not deployed yet; `install` deploys it after them");
        return Ok(Applied::Nothing);
    }
    let org = Org::open(session).await?;
    // Printed by `install`'s pre-flight; here only a failure stops the SCP.
    let verdicts = org_verdicts(session, &org).await?;
    if let Some(failed) = verdict::failures(&verdicts).first() {
        bail!(Fixable::new(
            format!("the SCP was not deployed: {}: {}", failed.check, failed.detail),
            failed.fix.clone().unwrap_or_else(|| "see the checks above".into()),
        ));
    }
    let document = document_from_outputs(session, outputs)?;
    let inputs = Inputs {
        env: session.env(),
        deploy: &session.settings.deploy,
        account_id: &session.identity.account_id,
        partition: &session.identity.partition,
        policy_text: "",
        policy_version: None,
        artifact_key: None,
        artifact_version: None,
        scp_document: Some(&document),
        outputs,
    };
    let desired = inputs.desired(&Part::Scp).context("the SCP stack's parameters")?;
    let cfn = CloudFormation::new(&org.sdk);
    let engine = session.engine(&cfn);
    Ok(match engine.run_wave(vec![desired], mode).await? {
        WaveOutcome::Done(results) => Applied::Done(results),
        WaveOutcome::Declined => Applied::Declined,
    })
}

/// The organization's checks (`crate::scp::organization`) for this environment's SCP.
pub async fn org_verdicts(session: &Session, org: &Org) -> Result<Vec<Verdict>> {
    organization_verdicts(
        &Organizations::new(&org.sdk),
        &org.identity.account_id,
        &session.identity.account_id,
        &session.settings.deploy.scp.targets,
        &crate::names::scp_policy_name(session.env()),
    )
    .await
}

/// Deletes an SCP stack of this environment when the mode is no longer `enforce`, asking first.
async fn retire(session: &Session, mode: Mode) -> Result<Applied> {
    let Ok(org) = Org::open(session).await else { return Ok(Applied::Nothing) };
    let cfn = CloudFormation::new(&org.sdk);
    let name = Part::Scp.stack_name(session.env());
    let ours = |tags: &std::collections::BTreeMap<String, String>| {
        tags.get(TAG_ENV).map(String::as_str) == Some(session.env())
    };
    let Some(_) = cfn.describe(&name).await.ok().flatten().filter(|stack| ours(&stack.tags)) else {
        return Ok(Applied::Nothing);
    };
    if mode == Mode::Preview {
        session.out.note(&format!("`scp_mode` is no longer enforce, so `upgrade` would delete the SCP stack {name}"));
        return Ok(Applied::Retired(name));
    }
    let question =
        format!("`scp_mode` is no longer enforce: delete the SCP stack {name} in account {}?", org.identity.account_id);
    if !session.agrees(&question, false)? {
        return Ok(Applied::Declined);
    }
    // Asked already (or teardown's own confirmation): the deletion itself asks nothing.
    let engine = Engine { yes: true, ..session.engine(&cfn) };
    engine.delete_and_wait(&name).await?;
    Ok(Applied::Retired(name))
}

/// Teardown's first step: the SCP stack goes before the TVM it names. When the management
/// account cannot be reached and an SCP may exist, teardown stops instead.
pub async fn remove_for_teardown(session: &Session) -> Result<()> {
    let scp = &session.settings.deploy.scp;
    if scp.org_profile.is_none() {
        // Same credentials: the SCP stack, if any, is one of the environment's stacks, and
        // teardown deletes it first (it is the last wave).
        return Ok(());
    }
    let org = match Org::open(session).await {
        Ok(org) => org,
        Err(error) if scp.mode == ScpMode::Enforce => {
            return Err(error.context(Fixable::new(
                "teardown will not remove the TVM while its SCP stack may still exist in the management account",
                "make `--org-profile` work (or delete the SCP stack there yourself), then run teardown again",
            )));
        }
        Err(_) => return Ok(()),
    };
    let cfn = CloudFormation::new(&org.sdk);
    let name = Part::Scp.stack_name(session.env());
    if cfn.describe(&name).await?.is_none() {
        return Ok(());
    }
    // Asked already (or teardown's own confirmation): the deletion itself asks nothing.
    let engine = Engine { yes: true, ..session.engine(&cfn) };
    engine.delete_and_wait(&name).await.map(|_| ()).map_err(|error| {
        error.context(format!(
            "teardown will not remove the TVM while the SCP stack {name} still exists in account {}",
            org.identity.account_id
        ))
    })
}

/// The document for the deployed environment: the execution role and function ARNs are read
/// from the stacks' outputs, never derived from names.
fn document_from_outputs(session: &Session, outputs: &Outputs) -> Result<String> {
    let output = |part: Part, key: &str| {
        outputs
            .get(&part)
            .and_then(|o| o.get(key))
            .cloned()
            .with_context(|| format!("the {} stack has no output {key}", part.label()))
    };
    let execution_role_arn = output(Part::ExecutionRole, "RoleArn")?;
    let function_arn = output(Part::Api, "FunctionArn")?;
    document(&session.settings, &session.identity.partition, &execution_role_arn, Some(&function_arn))
}

pub fn document(
    settings: &Settings,
    partition: &str,
    execution_role_arn: &str,
    function_arn: Option<&str>,
) -> Result<String> {
    let scp = &settings.deploy.scp;
    if scp.strict && function_arn.is_none() {
        bail!(Fixable::new(
            "the strict SCP needs the TVM function's ARN",
            "pass `--function-arn ARN` with `--execution-role-arn`, or leave out `--scp-strict`"
        ));
    }
    let inputs = ScpInputs {
        partition,
        role_name_prefix: format!("{}{}-", settings.deploy.role_prefix, settings.env),
        execution_role_arn,
        break_glass_role_arns: &scp.break_glass_role_arns,
        strict_function_arn: function_arn.filter(|_| scp.strict),
    };
    Ok(scp_document::document(&inputs)?)
}

/// The SCP pre-flight: reads the organization, each of `target_ids` and the SCPs attached to
/// it, and returns `scp::organization`'s verdicts (those of `organization::unavailable` when the
/// organization cannot be read). `our_policy_name` is the SCP this environment deploys: when
/// it is already attached (an upgrade), it does not count as one more.
pub async fn organization_verdicts(
    org: &Organizations,
    caller_account_id: &str,
    tvm_account_id: &str,
    target_ids: &[String],
    our_policy_name: &str,
) -> Result<Vec<Verdict>> {
    let overview = match org.overview().await? {
        Ok(overview) => overview,
        Err(reason) => return Ok(organization::unavailable(&reason)),
    };
    let mut targets = Vec::new();
    for id in target_ids {
        let target = org.target(id).await?;
        let attached = match &target {
            Some(_) => org.scps_attached(id).await?,
            None => Vec::new(),
        };
        targets.push((id.clone(), target, attached));
    }
    let facts = Facts {
        overview,
        caller_account_id: caller_account_id.to_string(),
        tvm_account_id: tvm_account_id.to_string(),
        targets,
        our_policy_name: our_policy_name.to_string(),
    };
    Ok(organization::verdicts(&facts))
}

/// `scp check`'s verdicts: one `iam:SimulateCustomPolicy` per case, judged by `scp::cases`.
pub async fn simulated_verdicts(
    sdk: &SdkConfig,
    document: &str,
    protected_role_arn: &str,
    cases: &[Case],
) -> Result<Vec<Verdict>> {
    let callers: Vec<Caller> = cases
        .iter()
        .map(|c| Caller { label: &c.label, principal_arn: &c.principal_arn, function_arn: c.function_arn.as_deref() })
        .collect();
    let decisions = simulator::custom_policy_decisions(sdk, document, protected_role_arn, &callers).await?;
    Ok(cases.iter().zip(&decisions).map(|(case, decision)| scp_cases::verdict(case, decision)).collect())
}
