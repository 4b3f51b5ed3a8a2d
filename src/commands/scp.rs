//! `sentinel-tvm scp show` (the exact document, offline from the ARNs or from the installed
//! environment) and `scp check` (IAM's policy simulator over one case per principal that matters).

use anyhow::{Context, Result, bail};

use crate::check::verdict;
use crate::cli::{GlobalArgs, ScpArgs};
use crate::commands::steps::scp::{document, simulated_verdicts};
use crate::commands::steps::session::Session;
use crate::deploy::stacks::Part;
use crate::error::{Fixable, Outcome};
use crate::settings::{Settings, Sources};
use crate::ui::output::Reporter;

/// The ARNs the document names: given, or read from the installed environment.
struct Named {
    settings: Settings,
    partition: String,
    execution_role_arn: String,
    function_arn: Option<String>,
}

async fn named(global: &GlobalArgs, args: &ScpArgs, session: Option<&Session>) -> Result<Named> {
    if let Some(execution_role_arn) = args.execution_role_arn.clone() {
        if !crate::names::is_role_arn(&execution_role_arn) {
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
    let sources = Sources::new(&selection, &args.settings, file.as_ref());
    Ok(sources.resolve()?.0)
}

/// `scp show`: the exact document, on standard output.
pub async fn show(global: &GlobalArgs, out: &Reporter, args: &ScpArgs) -> Result<Outcome> {
    let session = match args.execution_role_arn {
        Some(_) => None,
        None => Some(Session::open(global, out, &args.settings).await?),
    };
    let named = named(global, args, session.as_ref()).await?;
    let document =
        document(&named.settings, &named.partition, &named.execution_role_arn, named.function_arn.as_deref())?;
    out.json(serde_json::json!({"type": "document", "kind": "scp", "document": serde_json::from_str::<serde_json::Value>(&document)?}));
    out.data(&format!("{document}\n"));
    Ok(Outcome::Success)
}

/// `scp check`: the simulation, one verdict per case; exit 1 if any came out wrong.
pub async fn check(global: &GlobalArgs, out: &Reporter, args: &ScpArgs) -> Result<Outcome> {
    let session = Session::open(global, out, &args.settings).await?;
    let named = named(global, args, Some(&session)).await?;
    let document =
        document(&named.settings, &named.partition, &named.execution_role_arn, named.function_arn.as_deref())?;
    let scp = &named.settings.deploy.scp;
    let cases = crate::scp::cases::cases(
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
        crate::names::SMOKE_PROFILE
    );
    let verdicts = simulated_verdicts(&session.sdk, &document, &protected_role, &cases).await?;
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
