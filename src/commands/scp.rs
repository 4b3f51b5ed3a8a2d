//! The optional Service Control Policy: `scp show` and `scp check`, and its stack in the
//! organization's management account — deployed after the TVM's stacks by `install`/`upgrade`
//! (`scp_mode: enforce`, after the organization's pre-flight checks), retired when the mode
//! changes, and deleted first by `teardown`. The document itself is `crate::scp`; the
//! organization's checks are `crate::scp_preflight`; the simulation is `crate::scp_check`.

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;

use super::session::Session;
use crate::aws::cloudformation::CloudFormation;
use crate::aws::identity::{Identity, caller_identity};
use crate::aws::{Connection, organizations, scp_simulation, sdk_config};
use crate::cli::{GlobalArgs, ScpArgs};
use crate::config::ScpMode;
use crate::engine::{Engine, Mode, StackResult, WaveOutcome};
use crate::error::{Fixable, Outcome};
use crate::preflight::{self, Verdict};
use crate::scp::{self, Inputs as ScpInputs};
use crate::settings::{Settings, Sources};
use crate::stacks::{Inputs, Outputs, Part, TAG_ENV};

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
        let sdk = sdk_config(&connection).await;
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
    if let Some(failed) = preflight::failures(&verdicts).first() {
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
        artifact_key: None,
        scp_document: Some(&document),
        outputs,
    };
    let desired = inputs.desired(&Part::Scp).context("the SCP stack's parameters")?;
    let cfn = CloudFormation::new(&org.sdk);
    let engine =
        Engine { cfn: &cfn, out: &session.out, prompt: session.prompt.as_ref(), yes: session.yes, env: session.env() };
    Ok(match engine.run_wave(vec![desired], mode).await? {
        WaveOutcome::Done(results) => Applied::Done(results),
        WaveOutcome::Declined => Applied::Declined,
    })
}

/// The organization's checks (`crate::scp_preflight`) for this environment's SCP.
pub async fn org_verdicts(session: &Session, org: &Org) -> Result<Vec<Verdict>> {
    organizations::check(
        &organizations::Organizations::new(&org.sdk),
        &org.identity.account_id,
        &session.identity.account_id,
        &session.settings.deploy.scp.targets,
        &scp::policy_name(session.env()),
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
    let engine =
        Engine { cfn: &cfn, out: &session.out, prompt: session.prompt.as_ref(), yes: true, env: session.env() };
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
    let engine =
        Engine { cfn: &cfn, out: &session.out, prompt: session.prompt.as_ref(), yes: true, env: session.env() };
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

fn document(
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
    Ok(scp::document(&inputs)?)
}

/// The ARNs the document names: given, or read from the installed environment.
struct Named {
    settings: Settings,
    partition: String,
    execution_role_arn: String,
    function_arn: Option<String>,
}

async fn named(global: &GlobalArgs, args: &ScpArgs, session: Option<&Session>) -> Result<Named> {
    if let Some(execution_role_arn) = args.execution_role_arn.clone() {
        if !scp::is_role_arn(&execution_role_arn) {
            bail!(Fixable::new(
                format!("`{execution_role_arn}` is not a role ARN"),
                "pass the execution role's ARN, `arn:aws:iam::111122223333:role/sentinel-tvm-main-execution`"
            ));
        }
        let settings = match session {
            Some(session) => session.settings.clone(),
            None => offline_settings(global, args)?,
        };
        let partition = execution_role_arn.split(':').nth(1).unwrap_or("aws").to_string();
        return Ok(Named { settings, partition, execution_role_arn, function_arn: args.function_arn.clone() });
    }
    let session = session.context("reading the installed environment needs AWS credentials")?;
    let cfn = session.cloudformation();
    let read = async |part: Part, key: &str| -> Result<String> {
        let name = part.stack_name(session.env());
        let stack = cfn.describe(&name).await?.ok_or_else(|| {
            Fixable::new(
                format!("environment `{}` has no stack `{name}`", session.env()),
                "install it first, or name the ARNs with `--execution-role-arn` (and `--function-arn`)",
            )
        })?;
        stack.outputs.get(key).cloned().with_context(|| format!("`{name}` has no output {key}"))
    };
    Ok(Named {
        settings: session.settings.clone(),
        partition: session.identity.partition.clone(),
        execution_role_arn: read(Part::ExecutionRole, "RoleArn").await?,
        function_arn: Some(read(Part::Api, "FunctionArn").await?),
    })
}

/// Settings without AWS: flags over the config file.
fn offline_settings(global: &GlobalArgs, args: &ScpArgs) -> Result<Settings> {
    let file = crate::config::load(&crate::config::path(global.config.as_deref()))?;
    let selection = global.selection();
    let environment = |name: &str| std::env::var(name).ok();
    let sources =
        Sources { selection: &selection, flags: &args.settings, environment: &environment, file: file.as_ref() };
    Ok(sources.resolve()?.0)
}

/// `scp show`: the exact document, on standard output.
pub async fn show(global: &GlobalArgs, args: &ScpArgs) -> Result<Outcome> {
    let session = match args.execution_role_arn {
        Some(_) => None,
        None => Some(Session::open(global, &args.settings).await?),
    };
    let named = named(global, args, session.as_ref()).await?;
    let document =
        document(&named.settings, &named.partition, &named.execution_role_arn, named.function_arn.as_deref())?;
    println!("{document}");
    Ok(Outcome::Success)
}

/// `scp check`: the simulation, one verdict per case; exit 1 if any came out wrong.
pub async fn check(global: &GlobalArgs, args: &ScpArgs) -> Result<Outcome> {
    let session = Session::open(global, &args.settings).await?;
    let named = named(global, args, Some(&session)).await?;
    let document =
        document(&named.settings, &named.partition, &named.execution_role_arn, named.function_arn.as_deref())?;
    let scp = &named.settings.deploy.scp;
    let cases = crate::scp_check::cases(
        &named.execution_role_arn,
        named.function_arn.as_deref().filter(|_| scp.strict),
        &session.identity.arn,
        &scp.break_glass_role_arns,
        &named.partition,
        &session.identity.account_id,
    );
    let protected_role = format!(
        "arn:{}:iam::{}:role/{}{}-{}",
        named.partition,
        session.identity.account_id,
        named.settings.deploy.role_prefix,
        named.settings.env,
        crate::settings::SMOKE_PROFILE
    );
    let verdicts = scp_simulation::check(&session.sdk, &document, &protected_role, &cases).await?;
    for verdict in &verdicts {
        session.out.json(verdict.json());
        session.out.data(&verdict.line());
    }
    let failed = preflight::failures(&verdicts).len();
    session.out.json(serde_json::json!({"type": "result", "command": "scp check", "outcome": if failed == 0 { "pass" } else { "fail" }}));
    session.out.data(&match failed {
        0 => format!("scp check: all {} cases as expected\n", verdicts.len()),
        n => format!("scp check: {n} of {} cases not as expected\n", verdicts.len()),
    });
    Ok(if failed == 0 { Outcome::Success } else { Outcome::Refused })
}
