//! The optional guardrails' steps: the SCP (and RCP) stacks in the organization's management
//! account, deployed after the TVM's stacks by `install`/`upgrade` (`scp_mode`/`rcp_mode:
//! enforce`, after the organization's pre-flight and the lock-out guard), the 0.1 SCP migrated,
//! stacks no longer wanted retired, and, for `teardown`, the list of what it deletes. Only
//! stacks `deploy::ownership` finds this TVM's are ever updated or deleted (T11). The documents are
//! `crate::scp::document` and `crate::scp::rcp`; the organization's facts mean what
//! `crate::scp::organization` says; the simulated cases are `crate::scp::cases`.

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;

use super::guardrails;
use super::session::Org;
use super::session::Session;
use crate::aws::cloudformation::CloudFormation;
use crate::aws::iam::role_arn;
use crate::aws::organizations::Organizations;
use crate::aws::simulator::{self, Guardrail as Simulated, Simulation};
use crate::config::{RcpMode, ScpMode};
use crate::deploy::ownership;
use crate::deploy::stacks::{Inputs, Outputs, Part};
use crate::error::Fixable;
use crate::model::cloudformation::Deployed;
use crate::model::verdict::{self, Verdict};
use crate::names::{Guardrail, guardrail_policy_name};
use crate::rollout::stacks::{Mode, StackResult};
use crate::scp::cases::{self, Case, LOCKOUT_CHECK};
use crate::scp::deployers::{self, Caller};
use crate::scp::guarded::Tvm;
use crate::scp::organization::{self, Facts, RcpFacts};
use crate::scp::{document, rcp};
use crate::settings::Settings;

/// What became of the guardrail stacks in an install, upgrade or diff.
pub enum Applied {
    /// No guardrail is wanted, and none of this TVM's was found to retire.
    Nothing,
    Done(Vec<StackResult>),
    /// Stacks deleted because they are no longer wanted (or, in a preview, to be).
    Retired(String),
    Declined,
}

/// The TVM's resources the documents name, owned: from the stacks' outputs, or (offline
/// `scp show`) from flags.
#[derive(Debug, Clone)]
pub struct TvmArns {
    pub partition: String,
    pub account_id: String,
    pub env: String,
    pub role_name_prefix: String,
    pub other_accounts: Vec<String>,
    pub execution_role_arn: String,
    pub function_arn: String,
    pub bucket_name: String,
}

impl TvmArns {
    pub fn new(settings: &Settings, partition: &str, account_id: &str, arns: [String; 3]) -> Self {
        let [execution_role_arn, function_arn, bucket_name] = arns;
        TvmArns {
            partition: partition.to_string(),
            account_id: account_id.to_string(),
            env: settings.env.clone(),
            role_name_prefix: format!("{}{}-", settings.deploy.role_prefix, settings.env),
            other_accounts: settings.deploy.allowed_accounts.clone(),
            execution_role_arn,
            function_arn,
            bucket_name,
        }
    }

    pub fn tvm(&self) -> Tvm<'_> {
        Tvm {
            partition: &self.partition,
            account_id: &self.account_id,
            env: &self.env,
            role_name_prefix: self.role_name_prefix.clone(),
            other_accounts: &self.other_accounts,
            execution_role_arn: &self.execution_role_arn,
            function_arn: &self.function_arn,
            bucket_name: &self.bucket_name,
        }
    }

    /// From the deployed stacks' outputs: never derived from names.
    pub fn from_outputs(session: &Session, outputs: &Outputs) -> Result<Self> {
        let output = |part: Part, key: &str| {
            outputs
                .get(&part)
                .and_then(|o| o.get(key))
                .cloned()
                .with_context(|| format!("the {} stack has no output {key}", part.label()))
        };
        let arns = [
            output(Part::ExecutionRole, "RoleArn")?,
            output(Part::Api, "FunctionArn")?,
            output(Part::Artifacts, "BucketName")?,
        ];
        Ok(Self::new(&session.settings, &session.identity.partition, &session.identity.account_id, arns))
    }
}

/// The guardrails the settings want.
pub fn wanted(settings: &Settings) -> Vec<Guardrail> {
    let scp = &settings.deploy.scp;
    let mut wanted = Vec::new();
    if scp.mode == ScpMode::Enforce {
        wanted.push(Guardrail::Scp);
        if scp.rcp_mode == RcpMode::Enforce {
            wanted.push(Guardrail::Rcp);
        }
    }
    wanted
}

/// The SCP document for `arns`, exempting `deployers` from the control statement.
pub fn scp_document(settings: &Settings, arns: &TvmArns, deployers: &[String]) -> Result<String> {
    let scp = &settings.deploy.scp;
    Ok(document::document(&document::Inputs {
        tvm: arns.tvm(),
        break_glass_role_arns: &scp.break_glass_role_arns,
        deployers,
        strict: scp.strict,
    })?)
}

/// The RCP document for `arns`.
pub fn rcp_document(settings: &Settings, arns: &TvmArns) -> Result<String> {
    Ok(rcp::document(&rcp::Inputs {
        protected_role_patterns: arns.tvm().protected_role_patterns(),
        execution_role_arn: &arns.execution_role_arn,
        break_glass_role_arns: &settings.deploy.scp.break_glass_role_arns,
    })?)
}

/// The caller's `aws:PrincipalArn`: a role session's role with its path (`iam:GetRole`).
/// Fails closed: a deployer the SCP cannot name exactly is no deployer.
pub async fn caller_principal(session: &Session) -> Result<String> {
    let arn = &session.identity.arn;
    match deployers::caller(arn) {
        Caller::Known(arn) => Ok(arn),
        Caller::RoleNamed(name) => {
            let iam = aws_sdk_iam::Client::new(&session.sdk);
            role_arn(&iam, &name).await?.ok_or_else(|| {
                Fixable::new(
                    format!("cannot read the path of your role `{name}` (iam:GetRole was denied), which the SCP must name exactly"),
                    "allow iam:GetRole on it, or name the deployers with `--deployer ARN` (config key `deployers`), the role's ARN with its path",
                )
                .into()
            })
        }
        Caller::Unnameable(arn) => bail!(Fixable::new(
            format!("`{arn}` cannot be named in an SCP"),
            "name the deployers with `--deployer ARN` (config key `deployers`): role ARNs with their paths, users or the root",
        )),
    }
}

/// The deployers in effect: configured, else the caller resolved with its path.
pub async fn deployers_in_effect(session: &Session) -> Result<Vec<String>> {
    let gathered = session.gathered.deployers.get_or_try_init(|| find_deployers(session)).await?;
    Ok(gathered.clone())
}

async fn find_deployers(session: &Session) -> Result<Vec<String>> {
    let configured = &session.settings.deploy.scp.deployers;
    if !configured.is_empty() {
        return Ok(configured.clone());
    }
    let caller = caller_principal(session).await?;
    deployers::in_effect(configured, Some(&caller))
        .map_err(|why| Fixable::new(why, "name the deployers with `--deployer ARN` (config key `deployers`)").into())
}

/// After the TVM's stacks: deploys the wanted guardrails (after the organization's checks and
/// the lock-out guard), migrates the 0.1 SCP, retires what is no longer wanted, and names what
/// is another TVM's and left alone. `named` is the environment's listing in the TVM's account
/// (`session::named_stacks`): where the organization's credentials are the TVM account's in
/// the same region, the guardrail stacks are among them and are not listed again.
pub async fn apply(session: &Session, mode: Mode, outputs: &Outputs, named: &[Deployed]) -> Result<Applied> {
    let wanted = wanted(&session.settings);
    let org = match session.org().await {
        Ok(org) => org,
        // Nothing wanted and no way to look: nothing to retire that we could reach.
        Err(_) if wanted.is_empty() => return Ok(Applied::Nothing),
        Err(error) => return Err(error),
    };
    let cfn = CloudFormation::new(&org.sdk);
    let here = org.identity.account_id == session.identity.account_id && org.sdk.region() == session.sdk.region();
    let found = if here {
        guardrails::guardrail_stacks_of(session.env(), named.to_vec())
    } else {
        guardrails::guardrail_stacks(&cfn, session.env()).await?
    };
    let plan = ownership::plan(&found, session.env(), &session.identity.account_id, &wanted);
    for (name, whose) in &plan.foreign {
        session
            .out
            .note(&format!("left alone: the guardrail stack {name} ({whose}), in account {}", org.identity.account_id));
    }
    let mut results = Vec::new();
    if !wanted.is_empty() {
        let deployed = |part: Part| outputs.get(&part).is_some_and(|o| !o.is_empty());
        if mode == Mode::Preview && !(deployed(Part::ExecutionRole) && deployed(Part::Api) && deployed(Part::Artifacts))
        {
            session.out.note("the guardrails name the TVM's execution role, function and bucket, which are not deployed yet; `install` deploys them after those");
            return Ok(Applied::Nothing);
        }
        match deploy(session, org, &cfn, mode, outputs, &wanted, &plan.migrate).await? {
            Some(done) => results = done,
            None => return Ok(Applied::Declined),
        }
    }
    if plan.retire.is_empty() {
        return Ok(if results.is_empty() && wanted.is_empty() { Applied::Nothing } else { Applied::Done(results) });
    }
    let list = plan.retire.join(", ");
    if mode == Mode::Preview {
        session.out.note(&format!("no longer configured (`scp_mode`, `rcp_mode`), so `upgrade` would delete {list}"));
        return Ok(Applied::Retired(list));
    }
    let question = format!("no longer configured: delete {list} in account {}?", org.identity.account_id);
    if !session.agrees(&question, false)? {
        return Ok(Applied::Declined);
    }
    guardrails::delete_all(&session.engine(&cfn), &plan.retire).await?;
    Ok(Applied::Retired(list))
}

/// The organization's checks, the lock-out guard, then each wanted guardrail's stack in turn,
/// and the 0.1 SCP stacks after them; `None` when a question was declined.
async fn deploy(
    session: &Session,
    org: &Org,
    cfn: &CloudFormation,
    mode: Mode,
    outputs: &Outputs,
    wanted: &[Guardrail],
    legacy: &[String],
) -> Result<Option<Vec<StackResult>>> {
    // Printed by `install`'s pre-flight; here only a failure stops the guardrails.
    let verdicts = org_verdicts(session, org).await?;
    if let Some(failed) = verdict::failures(&verdicts).first() {
        bail!(Fixable::new(
            format!("the guardrails were not deployed: {}: {}", failed.check, failed.detail),
            failed.fix.clone().unwrap_or_else(|| "see the checks above".into()),
        ));
    }
    let arns = TvmArns::from_outputs(session, outputs)?;
    let deployers = deployers_in_effect(session).await?;
    if mode == Mode::Apply && session.settings.deploy.scp.deployers.is_empty() {
        session.save_deployers(&deployers)?;
    }
    let scp = scp_document(&session.settings, &arns, &deployers)?;
    lockout_guard(session, &scp, &arns).await?;
    let mut desired = Vec::new();
    for kind in wanted {
        let text = match kind {
            Guardrail::Scp => scp.clone(),
            Guardrail::Rcp => rcp_document(&session.settings, &arns)?,
        };
        let part = Part::Guardrail { kind: *kind, tvm_account: Some(session.identity.account_id.clone()) };
        let inputs = Inputs {
            env: session.env(),
            deploy: &session.settings.deploy,
            account_id: &session.identity.account_id,
            partition: &session.identity.partition,
            policy_text: "",
            policy_version: None,
            artifact_key: None,
            artifact_version: None,
            scp_document: Some(&text),
            outputs,
        };
        desired.push(inputs.desired(&part).with_context(|| format!("the {} stack's parameters", kind.as_str()))?);
    }
    let engine = session.engine(cfn);
    let agrees = |question: &str| session.agrees(question, true);
    let account = &session.identity.account_id;
    guardrails::converge(&engine, &session.out, account, desired, legacy, mode, &agrees).await
}

/// The lock-out guard: the SCP must let the caller (with its real path) do every guarded
/// action, or attaching it would leave nobody here able to upgrade or remove the TVM. A
/// simulation that cannot run refuses too.
async fn lockout_guard(session: &Session, scp: &str, arns: &TvmArns) -> Result<()> {
    let caller = caller_principal(session).await?;
    let cases = cases::lockout_cases(&arns.tvm(), &caller);
    let verdicts =
        simulated_verdicts(&session.sdk, Simulated::Scp(scp), LOCKOUT_CHECK, &cases).await.map_err(|error| {
            error.context(Fixable::new(
                "the guardrails were not deployed: the lock-out guard could not simulate the SCP for you",
                "allow iam:SimulateCustomPolicy, then run this again",
            ))
        })?;
    if let Some(failed) = verdict::failures(&verdicts).first() {
        session.out.note(failed.line().trim_end());
        bail!(Fixable::new(
            format!("the SCP was not attached: it would lock you (`{caller}`) out of the TVM"),
            failed.fix.clone().unwrap_or_else(|| "name yourself with `--deployer ARN`".into()),
        ));
    }
    session.out.note(&format!(
        "lock-out guard: the SCP lets `{caller}` make every guarded change ({} checks)",
        verdicts.len()
    ));
    Ok(())
}

/// The organization's checks (`crate::scp::organization`) for this environment's guardrails,
/// made once per run.
pub async fn org_verdicts(session: &Session, org: &Org) -> Result<Vec<Verdict>> {
    let gathered = session.gathered.org_verdicts.get_or_try_init(|| check_organization(session, org)).await?;
    Ok(gathered.clone())
}

async fn check_organization(session: &Session, org: &Org) -> Result<Vec<Verdict>> {
    let account = &session.identity.account_id;
    let rcp = wanted(&session.settings)
        .contains(&Guardrail::Rcp)
        .then(|| guardrail_policy_name(session.env(), account, Guardrail::Rcp));
    organization_verdicts(
        &Organizations::new(&org.sdk),
        &org.identity.account_id,
        account,
        &session.settings.deploy.scp.targets,
        &guardrail_policy_name(session.env(), account, Guardrail::Scp),
        rcp.as_deref(),
    )
    .await
}

/// The guardrails' pre-flight: reads the organization, each of `target_ids` and the policies
/// attached to it, and where the TVM's account sits, and returns `scp::organization`'s verdicts
/// (those of `organization::unavailable` when the organization cannot be read).
/// `our_policy_name` (and `rcp_policy_name`, with the RCP) is what this environment deploys:
/// when it is attached already (an upgrade), it does not count as one more.
pub async fn organization_verdicts(
    org: &Organizations,
    caller_account_id: &str,
    tvm_account_id: &str,
    target_ids: &[String],
    our_policy_name: &str,
    rcp_policy_name: Option<&str>,
) -> Result<Vec<Verdict>> {
    let overview = match org.overview().await? {
        Ok(overview) => overview,
        Err(reason) => return Ok(organization::unavailable(&reason)),
    };
    let mut targets = Vec::new();
    let mut rcps = Vec::new();
    for id in target_ids {
        let target = org.target(id).await?;
        let attached = match &target {
            Some(_) => org.scps_attached(id).await?,
            None => Vec::new(),
        };
        if target.is_some() && rcp_policy_name.is_some() {
            rcps.push((id.clone(), org.rcps_attached(id).await?));
        }
        targets.push((id.clone(), target, attached));
    }
    let facts = Facts {
        overview,
        caller_account_id: caller_account_id.to_string(),
        tvm_account_id: tvm_account_id.to_string(),
        targets,
        our_policy_name: our_policy_name.to_string(),
        tvm_ancestors: org.ancestors(tvm_account_id).await?,
        rcp: rcp_policy_name.map(|name| RcpFacts { our_policy_name: name.to_string(), attached: rcps }),
    };
    Ok(organization::verdicts(&facts))
}

/// One verdict of `check` per case: one `iam:SimulateCustomPolicy` each, judged by `scp::cases`.
pub async fn simulated_verdicts(
    sdk: &SdkConfig,
    guardrail: Simulated<'_>,
    check: &'static str,
    cases: &[Case],
) -> Result<Vec<Verdict>> {
    let simulations: Vec<Simulation> = cases
        .iter()
        .map(|c| Simulation {
            label: &c.label,
            principal_arn: &c.principal_arn,
            function_arn: c.function_arn.as_deref(),
            resource_arn: &c.resource_arn,
            actions: &c.actions,
        })
        .collect();
    let decisions = simulator::custom_policy_decisions(sdk, guardrail, &simulations).await?;
    Ok(cases.iter().zip(&decisions).map(|(case, decisions)| cases::verdict(check, case, decisions)).collect())
}
