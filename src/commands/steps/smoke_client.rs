//! `smoke-test --as-client`: the positive path again, as a temporary IAM user that holds only the
//! generated client policy. It proves the client policy itself grants what a client needs. The
//! user is removed afterwards, also when a check failed or the user was only half made, and a
//! leftover from an interrupted run is removed first (teardown removes one too: `aws::iam`).
//! Only a user tagged for this environment is ever removed: a same-named user without the tag
//! is someone else's, and the smoke test stops before touching it.

use std::time::Duration;

use anyhow::Result;

use super::probe::{Target, env_tag, identity_is_protected_role, timed_check, vend_credentials};
use super::session::Session;
use crate::aws::iam::{create_user_with_key, get_user, remove_user};
use crate::check::smoke::Check;
use crate::names::{TAG_ENV, client_user_name, is_tagged_for};
use crate::tvm::http::TvmClient;

pub async fn checks(
    session: &Session,
    target: &Target,
    client: &TvmClient,
    vend_url: &str,
    patience: Duration,
) -> Result<Vec<Check>> {
    let name = "a principal holding only the client policy gets credentials";
    let Some(policy_arn) = target.client_policy_arn.as_deref() else {
        return Ok(vec![Check {
            name: name.into(),
            passed: false,
            seconds: 0.0,
            detail: Some("the client-policy stack is not deployed".into()),
        }]);
    };
    let iam = aws_sdk_iam::Client::new(&session.sdk);
    let user = client_user_name(session.env());
    match client_user(&iam, session.env()).await? {
        ClientUser::Absent => {}
        ClientUser::Ours => {
            remove_user(&iam, &user).await?;
        }
        ClientUser::Foreign => {
            return Ok(vec![Check {
                name: name.into(),
                passed: false,
                seconds: 0.0,
                detail: Some(foreign_user(&user, session.env())),
            }]);
        }
    }
    let credentials = create_user_with_key(&iam, &user, vec![env_tag(session)], policy_arn).await?;
    let user_name = sentinel_tvm_lambda::identity::sanitise(&user);
    let mut checks = Vec::new();
    let mut vended = None;
    checks.push(
        timed_check(name, async {
            let result = vend_credentials(client, vend_url, &credentials, patience).await;
            vended = result.as_ref().ok().cloned();
            result.map(|_| ()).map_err(|error| {
                error.context(format!("{user}, holding only {policy_arn}, was refused: the client policy must allow execute-api:Invoke on this API's routes"))
            })
        })
        .await,
    );
    checks.push(
        timed_check("its credentials are the protected role, stamped for the client", async {
            let credentials = vended.as_ref().ok_or_else(|| anyhow::anyhow!("no credentials were vended"))?;
            let created =
                get_user(&iam, &user).await?.ok_or_else(|| anyhow::anyhow!("the client user `{user}` is gone"))?;
            identity_is_protected_role(session, target, credentials, &user_name, created.user_id()).await
        })
        .await,
    );
    let removed = async { remove_user(&iam, &user).await.map(|_| ()) };
    checks.push(timed_check("the temporary client user is removed", removed).await);
    Ok(checks)
}

/// The smoke test's client user, as far as this environment may touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientUser {
    Absent,
    /// Tagged for this environment: made by a smoke test, left by an interrupted one.
    Ours,
    /// Same name, without this environment's tag: never touched.
    Foreign,
}

/// Whether the client user's name is free, taken by this environment's own, or by someone else.
pub async fn client_user(iam: &aws_sdk_iam::Client, env: &str) -> Result<ClientUser> {
    Ok(match get_user(iam, &client_user_name(env)).await? {
        None => ClientUser::Absent,
        Some(user) if is_tagged_for(user.tags().iter().map(|tag| (tag.key(), tag.value())), env) => ClientUser::Ours,
        Some(_) => ClientUser::Foreign,
    })
}

/// Why a same-named user without the tag stops the client check, and what to do.
pub fn foreign_user(user: &str, env: &str) -> String {
    format!(
        "an IAM user `{user}` exists without the tag `{TAG_ENV}: {env}`, so it is not this environment's and was left alone; rename or delete it yourself (`aws iam get-user --user-name {user}`), then run this again"
    )
}
