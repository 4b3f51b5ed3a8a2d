//! The smoke test's probes, shared by its checklist (`smoke`) and its client checks
//! (`smoke_client`): vend through the TVM, read who the credentials are, compare an answer with
//! what it must be, and time each probe as one named check.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_credential_types::Credentials;

use super::session::Session;
use crate::aws::errors::sdk_error;
use crate::check::smoke::{self, Check};
use crate::deploy::stacks::TAG_ENV;
use crate::tvm::http::{Answer, TvmClient};

/// What the checks need to know about the deployed environment.
pub struct Target {
    pub url: String,
    pub role_arn: String,
    pub role_name: String,
    pub client_policy_arn: Option<String>,
    /// The TVM function, for the forged-invoke probe.
    pub function_name: String,
    /// Every protected role's stack and role name, for the trust checks.
    pub protected_roles: Vec<(String, String)>,
}

/// The positive path: 200 with exactly the container-credentials keys.
/// Retries a 403 or 5xx for up to `patience`: right after a deploy IAM may not have settled.
pub async fn vend_credentials(
    client: &TvmClient,
    url: &str,
    as_whom: &Credentials,
    patience: Duration,
) -> Result<Credentials> {
    let answer = client.get_until(url, Some(as_whom), patience, |a| a.status != 403 && a.status < 500).await?;
    expect(&answer, 200, None)?;
    let vended = crate::tvm::wire::Vended::parse(&answer.body)?;
    Ok(Credentials::new(vended.access_key_id, vended.secret_access_key, Some(vended.token), None, "sentinel-tvm"))
}

/// `sts:GetCallerIdentity` with the vended credentials names the protected role.
pub async fn identity_is_protected_role(
    session: &Session,
    target: &Target,
    credentials: &Credentials,
    user: &str,
    unique_id: &str,
) -> Result<()> {
    let config = aws_sdk_sts::config::Builder::from(&session.sdk).credentials_provider(credentials.clone()).build();
    let output = aws_sdk_sts::Client::from_conf(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| sdk_error(error, "sts:GetCallerIdentity with the vended credentials"))?;
    let arn = output.arn().unwrap_or_default();
    let identity = &session.identity;
    smoke::check_assumed_role_arn(arn, &identity.partition, &identity.account_id, &target.role_name, user, unique_id)
        .map_err(anyhow::Error::msg)
}

/// `status` (and `code`, when given) or an error showing the answer (credentials redacted).
pub fn expect(answer: &Answer, status: u16, code: Option<&str>) -> Result<()> {
    let code_ok = code.is_none_or(|code| answer.code().as_deref() == Some(code));
    if answer.status == status && code_ok {
        return Ok(());
    }
    let wanted = code.map_or(status.to_string(), |code| format!("{status} {code}"));
    bail!("expected {wanted}, got {}: {}", answer.status, smoke::redact(&answer.body))
}

/// Runs `work` as one check.
pub async fn timed_check(name: &str, work: impl Future<Output = Result<()>>) -> Check {
    timed(name.to_string(), work).await.0
}

pub async fn timed<T>(name: String, work: impl Future<Output = Result<T>>) -> (Check, Option<T>) {
    let started = Instant::now();
    let result = work.await;
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(value) => (Check { name, passed: true, seconds, detail: None }, Some(value)),
        Err(error) => (Check { name, passed: false, seconds, detail: Some(format!("{error:#}")) }, None),
    }
}

/// The tag temporary smoke-test principals carry.
pub fn env_tag(session: &Session) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder().key(TAG_ENV).value(session.env()).build().expect("key and value are set")
}
