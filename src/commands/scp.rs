//! `sentinel-tvm scp show` (the exact document, `--kind scp|rcp`, offline from the ARNs or from
//! the installed environment) and `scp check` (IAM's policy simulator over the case tables of
//! `scp::cases`, for the SCP and, with `rcp_mode: enforce`, the RCP).

use anyhow::{Context, Result, bail};

use crate::aws::simulator::Guardrail as Simulated;
use crate::cli::{GlobalArgs, GuardrailKind, ScpArgs};
use crate::commands::steps::scp::{
    TvmArns, caller_principal, deployers_in_effect, rcp_document, scp_document, simulated_verdicts,
};
use crate::commands::steps::session::Session;
use crate::config::RcpMode;
use crate::deploy::stacks::Part;
use crate::error::{Fixable, Outcome};
use crate::model::verdict::{self, Verdict};
use crate::names::{Names, is_role_arn};
use crate::scp::cases::{self, CHECK, Principals};
use crate::settings::{Settings, Sources};
use crate::ui::output::Reporter;

/// The ARNs the documents name, from flags (no AWS call) or from the installed environment.
async fn named(global: &GlobalArgs, args: &ScpArgs, session: Option<&Session>) -> Result<(Settings, TvmArns)> {
    if let Some(execution_role_arn) = args.execution_role_arn.clone() {
        let settings = match session {
            Some(session) => session.settings.clone(),
            None => offline_settings(global, args)?,
        };
        return Ok((settings.clone(), offline_arns(&settings, args, execution_role_arn)?));
    }
    let session = session.context("reading the installed environment needs AWS credentials")?;
    let cfn = session.cloudformation();
    let read = async |part: Part, key: &str| -> Result<String> {
        let name = part.stack_name(session.env());
        let stack = cfn.describe(&name).await?.ok_or_else(|| {
            Fixable::new(
                format!("environment `{}` has no stack `{name}`", session.env()),
                "install it first, or name the ARNs with `--execution-role-arn` and `--function-arn`",
            )
        })?;
        stack.outputs.get(key).cloned().with_context(|| format!("`{name}` has no output {key}"))
    };
    let arns = [
        read(Part::ExecutionRole, "RoleArn").await?,
        read(Part::Api, "FunctionArn").await?,
        read(Part::Artifacts, "BucketName").await?,
    ];
    let arns = TvmArns::new(&session.settings, &session.identity.partition, &session.identity.account_id, arns);
    Ok((session.settings.clone(), arns))
}

/// The ARNs from the flags: the function's ARN gives the account and region, and with them
/// the bucket's name unless `--bucket-name` says.
fn offline_arns(settings: &Settings, args: &ScpArgs, execution_role_arn: String) -> Result<TvmArns> {
    if !is_role_arn(&execution_role_arn) {
        bail!(Fixable::new(
            format!("`{execution_role_arn}` is not a role ARN"),
            "pass the execution role's ARN, `arn:aws:iam::111122223333:role/sentinel-tvm-main-execution`"
        ));
    }
    let Some(function_arn) = args.function_arn.clone() else {
        bail!(Fixable::new(
            "the SCP names the TVM function, and `--execution-role-arn` alone does not say which",
            "pass `--function-arn arn:aws:lambda:REGION:ACCOUNT:function:sentinel-tvm-ENV` too"
        ));
    };
    let parts: Vec<String> = function_arn.splitn(7, ':').map(str::to_string).collect();
    let [arn, partition, lambda, region, account, function, _] = parts.as_slice() else {
        bail!(not_a_function(&function_arn));
    };
    if (arn.as_str(), lambda.as_str(), function.as_str()) != ("arn", "lambda", "function") {
        bail!(not_a_function(&function_arn));
    }
    let names = Names {
        env: settings.env.clone(),
        role_prefix: settings.deploy.role_prefix.clone(),
        account_id: account.to_string(),
        region: region.to_string(),
    };
    let bucket = args.bucket_name.clone().unwrap_or_else(|| names.bucket());
    Ok(TvmArns::new(settings, partition, account, [execution_role_arn, function_arn, bucket]))
}

fn not_a_function(arn: &str) -> Fixable {
    Fixable::new(
        format!("`{arn}` is not a Lambda function ARN"),
        "pass `--function-arn arn:aws:lambda:REGION:ACCOUNT:function:NAME`",
    )
}

/// Settings without AWS: flags over the config file.
fn offline_settings(global: &GlobalArgs, args: &ScpArgs) -> Result<Settings> {
    let file = crate::config::load(&crate::config::path(global.config.as_deref()))?;
    let selection = global.selection();
    let sources = Sources::new(&selection, &args.settings, file.as_ref());
    Ok(sources.resolve()?.settings)
}

/// `scp show`: the exact document, on standard output. Offline, the deployers are the
/// configured ones; with none, the document exempts only the break-glass roles, and says so.
pub async fn show(global: &GlobalArgs, out: &Reporter, args: &ScpArgs) -> Result<Outcome> {
    let session = match args.execution_role_arn {
        Some(_) => None,
        None => Some(Session::open(global, out, &args.settings).await?),
    };
    let (settings, arns) = named(global, args, session.as_ref()).await?;
    let (kind, document) = match args.kind {
        GuardrailKind::Rcp => ("rcp", rcp_document(&settings, &arns)?),
        GuardrailKind::Scp => {
            let deployers = match &session {
                Some(session) => deployers_in_effect(session).await?,
                None => settings.deploy.scp.deployers.clone(),
            };
            if deployers.is_empty() {
                out.warn("no deployers configured (`--deployer`, config key `deployers`): this document exempts only the break-glass roles from the statement guarding the TVM's controls; `install` names the installing principal");
            }
            ("scp", scp_document(&settings, &arns, &deployers)?)
        }
    };
    out.json(serde_json::json!({"type": "document", "kind": kind, "document": serde_json::from_str::<serde_json::Value>(&document)?}));
    out.data(&format!("{document}\n"));
    Ok(Outcome::Success)
}

/// `scp check`: the simulation, one verdict per case; exit 1 if any came out wrong.
pub async fn check(global: &GlobalArgs, out: &Reporter, args: &ScpArgs) -> Result<Outcome> {
    let session = Session::open(global, out, &args.settings).await?;
    let (settings, arns) = named(global, args, Some(&session)).await?;
    let deployers = deployers_in_effect(&session).await?;
    let caller = caller_principal(&session).await?;
    let scp = &settings.deploy.scp;
    let tvm = arns.tvm();
    let who = Principals {
        tvm: &tvm,
        strict: scp.strict,
        caller: &caller,
        deployers: &deployers,
        break_glass: &scp.break_glass_role_arns,
    };
    let document = scp_document(&settings, &arns, &deployers)?;
    let mut verdicts = simulated_verdicts(&session.sdk, Simulated::Scp(&document), CHECK, &cases::cases(&who)).await?;
    if scp.rcp_mode == RcpMode::Enforce {
        verdicts.extend(rcp_verdicts(&session, &settings, &arns).await?);
    }
    for verdict in &verdicts {
        session.out.json(verdict.json());
        session.out.data(&verdict.line());
    }
    let failed = verdict::failures(&verdicts).len();
    session.out.json(serde_json::json!({"type": "result", "command": "scp check", "outcome": if failed == 0 { "pass" } else { "fail" }}));
    session.out.data(&match failed {
        0 => format!("scp check: all {} cases as expected\n", verdicts.len()),
        n => format!("scp check: {n} of {} cases not as expected\n", verdicts.len()),
    });
    Ok(if failed == 0 { Outcome::Success } else { Outcome::Refused })
}

/// The RCP simulated as the protected role's resource policy; the simulator needs a user as the
/// caller of a resource policy, and this one need not exist.
async fn rcp_verdicts(session: &Session, settings: &Settings, arns: &TvmArns) -> Result<Vec<Verdict>> {
    let document = rcp_document(settings, arns)?;
    let caller = format!("arn:{}:iam::{}:user/sentinel-tvm-rcp-check", arns.partition, arns.account_id);
    let cases = cases::rcp_cases(&arns.tvm(), &settings.deploy.scp.break_glass_role_arns);
    simulated_verdicts(&session.sdk, Simulated::Rcp { document: &document, caller_arn: &caller }, CHECK, &cases).await
}
