//! The smoke test that ends `install`, `upgrade` and `smoke-test`: prove the deployed TVM vends
//! credentials for the smoke profile to a signed request, that those credentials are the protected
//! role, and that it refuses what it must: unsigned requests, ungranted profiles, a 2-hour
//! duration, and anyone assuming the protected role around it; and that every protected role's
//! trust is still what its template renders. `--as-client` repeats the positive
//! path as a temporary IAM user holding only the generated client policy.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use serde_json::json;

use super::probe::{Target, expect, identity_is_protected_role, timed, timed_check, vend_credentials};
use super::session::{Session, environment_stacks};
use super::smoke_client;
use crate::aws::errors::sdk_error;
use crate::aws::lambda::{self, Invoked};
use crate::check::smoke::{self, Check};
use crate::cli::SmokeArgs;
use crate::config::IdentityProof;
use crate::deploy::stacks::Part;
use crate::error::{Fixable, Outcome};
use crate::names::SMOKE_PROFILE;
use crate::tvm::endpoint::tvm_url;
use crate::tvm::http::TvmClient;
use crate::tvm::proof::ProofTarget;

/// Finds the environment and runs every check; what `install` and `upgrade` end with.
pub async fn prove(session: &Session, args: &SmokeArgs) -> Result<Outcome> {
    let target = target(session).await?;
    Ok(report(session, &checks(session, &target, args).await?))
}

/// Finds the endpoint, the smoke role and the client policy of the installed environment.
pub async fn target(session: &Session) -> Result<Target> {
    let env = session.env();
    let stacks = environment_stacks(session).await?;
    let outputs = |part: Part| {
        stacks.iter().find(|s| Part::from_stack_name(env, &s.name) == Some(part.clone())).map(|s| s.outputs.clone())
    };
    let not_installed = || {
        Fixable::new(
            format!("environment `{env}` is not installed (or not completely)"),
            format!("install it with `sentinel-tvm install --env {env}`"),
        )
    };
    let api = outputs(Part::Api).ok_or_else(not_installed)?;
    let url = tvm_url(&api, session.emulator()).ok_or_else(not_installed)?;
    let role = outputs(Part::ProtectedRole(SMOKE_PROFILE.into())).ok_or_else(not_installed)?;
    Ok(Target {
        url,
        role_arn: role.get("RoleArn").cloned().ok_or_else(not_installed)?,
        role_name: role.get("RoleName").cloned().ok_or_else(not_installed)?,
        client_policy_arn: outputs(Part::ClientPolicy).and_then(|o| o.get("PolicyArn").cloned()),
        function_name: api.get("FunctionName").cloned().ok_or_else(not_installed)?,
        protected_roles: stacks
            .iter()
            .filter_map(|stack| match Part::from_stack_name(env, &stack.name)? {
                Part::ProtectedRole(profile) => {
                    let role = stack.outputs.get("RoleName").cloned();
                    Some((stack.name.clone(), role.unwrap_or_else(|| format!("the role of `{env}-{profile}`"))))
                }
                _ => None,
            })
            .collect(),
    })
}

/// Prints the checklist (or JSON lines) and turns it into the outcome.
pub fn report(session: &Session, checks: &[Check]) -> Outcome {
    for check in checks {
        session.out.json(smoke::json(check));
    }
    let passed = checks.iter().all(|c| c.passed);
    session
        .out
        .json(json!({"type": "result", "command": "smoke-test", "outcome": if passed { "passed" } else { "failed" }}));
    session.out.data(&smoke::checklist(checks));
    if passed { Outcome::Success } else { Outcome::Refused }
}

/// Runs every check; a failed check is a result, not an error.
pub async fn checks(session: &Session, target: &Target, args: &SmokeArgs) -> Result<Vec<Check>> {
    let region = session.sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let client = TvmClient::for_tvm(&target.url, &region)?;
    let patience = Duration::from_secs(args.wait);
    let deployer = deployer_credentials(session).await?;
    let profile = format!("{}-{SMOKE_PROFILE}", session.env());
    let vend = format!("{}?profile={profile}&duration=900", target.url);
    let deployer_user = sentinel_tvm_lambda::identity::username(&session.identity.arn).unwrap_or_default();
    let mut checks = Vec::new();

    let (check, vended) = timed(
        format!("a signed request gets credentials for `{profile}`"),
        vend_credentials(&client, &vend, &deployer, patience),
    )
    .await;
    checks.push(check);
    checks.push(
        timed_check("the credentials are the protected role, stamped for the caller", async {
            let credentials = vended.as_ref().context("no credentials were vended")?;
            identity_is_protected_role(session, target, credentials, &deployer_user, &session.identity.user_id).await
        })
        .await,
    );
    checks.push(
        timed_check("an unsigned request is refused (403)", async {
            expect(&client.get(&vend, None).await?, 403, None)
        })
        .await,
    );
    let ungranted = format!("{}?profile={}-not-granted-by-policy", target.url, session.env());
    checks.push(
        timed_check("a profile the policy does not grant is refused (403 POLICY_DENY)", async {
            expect(&client.get(&ungranted, Some(&deployer)).await?, 403, Some("POLICY_DENY"))
        })
        .await,
    );
    let too_long = format!("{}?profile={profile}&duration=7200", target.url);
    checks.push(
        timed_check("duration=7200 is refused cleanly (400 INVALID_DURATION)", async {
            expect(&client.get(&too_long, Some(&deployer)).await?, 400, Some("INVALID_DURATION"))
        })
        .await,
    );
    checks.push(
        timed_check(
            "the protected role cannot be assumed around the TVM",
            direct_assume_refused(session, &target.role_arn),
        )
        .await,
    );
    if session.settings.deploy.identity_proof == IdentityProof::Required {
        checks.push(
            timed_check(
                "a forged direct invoke is refused",
                forged_invoke_refused(session, target, &deployer, &profile),
            )
            .await,
        );
        let elsewhere =
            client.proof_target().cloned().map(|target| ProofTarget { audience: OTHER_AUDIENCE.into(), ..target });
        let misdirected = TvmClient::for_tvm(&target.url, &region)?.with_proof_target(elsewhere);
        checks.push(
            timed_check("a proof for another audience is refused (403 PROOF_AUDIENCE)", async {
                expect(&misdirected.get(&vend, Some(&deployer)).await?, 403, Some("PROOF_AUDIENCE"))
            })
            .await,
        );
    } else {
        session.out.warn(&format!("{}; the smoke test does not probe forged invokes", IdentityProof::OFF_WARNING));
    }
    checks.extend(trust_checks(session, target).await);
    if args.as_client {
        checks.extend(smoke_client::checks(session, target, &client, &vend, patience).await?);
    }
    Ok(checks)
}

/// One check per protected role: its trust is what the template renders (drift detection on the
/// role, compared parsed and normalised), so a trust widened by hand fails the smoke test.
async fn trust_checks(session: &Session, target: &Target) -> Vec<Check> {
    let cfn = session.cloudformation();
    let mut checks = Vec::new();
    for (stack, role) in &target.protected_roles {
        let name = format!("the trust of `{role}` is the template's");
        checks.push(
            timed_check(&name, async {
                let drift = cfn.resource_drift(stack, smoke::PROTECTED_ROLE_RESOURCE).await?;
                smoke::trust_is_the_templates(&drift).map_err(anyhow::Error::msg)
            })
            .await,
        );
    }
    checks
}

/// The audience of the misdirected proof: no API has it.
const OTHER_AUDIENCE: &str = "sentineltvmsmoketestnoapi";

/// Invoking the function directly with an event that claims to be the deployer, and no proof,
/// must get nothing; says which layer refused.
async fn forged_invoke_refused(
    session: &Session,
    target: &Target,
    deployer: &Credentials,
    profile: &str,
) -> Result<()> {
    let identity = &session.identity;
    let event = smoke::forged_event(profile, &identity.arn, &identity.account_id, deployer.access_key_id());
    match lambda::invoke(&session.sdk, &target.function_name, &event).await? {
        Invoked::Denied(why) => {
            session.out.note(&format!("the forged invoke was refused before the function ran (IAM or an SCP): {why}"));
            Ok(())
        }
        Invoked::Answered(answer) => smoke::forged_invoke_refused(&answer).map(drop).map_err(anyhow::Error::msg),
    }
}

/// The deployer itself calling `sts:AssumeRole` on the smoke role must be denied.
async fn direct_assume_refused(session: &Session, role_arn: &str) -> Result<()> {
    let sts = aws_sdk_sts::Client::new(&session.sdk);
    match sts.assume_role().role_arn(role_arn).role_session_name("sentinel-tvm-bypass-check").send().await {
        Ok(_) => bail!(
            "{} assumed {role_arn} directly: its trust policy must admit only the TVM's execution role",
            session.identity.arn
        ),
        Err(error) if aws_sdk_sts::error::ProvideErrorMetadata::code(&error) == Some("AccessDenied") => Ok(()),
        Err(error) => Err(sdk_error(error, "the direct sts:AssumeRole check")),
    }
}

async fn deployer_credentials(session: &Session) -> Result<Credentials> {
    let provider = session.sdk.credentials_provider().context("no credentials provider is configured")?;
    provider.provide_credentials().await.context("cannot read the deploying credentials")
}
