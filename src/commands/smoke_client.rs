//! `smoke-test --as-client`: the positive path again, as a temporary IAM user that holds only the
//! generated client policy. It proves the client policy itself grants what a client needs. The
//! user is removed afterwards, also when a check failed, and a leftover from an interrupted run
//! is removed first.

use std::time::Duration;

use anyhow::Result;
use aws_credential_types::Credentials;

use super::session::Session;
use super::smoke_test::{Target, env_tag, identity_is_protected_role, timed_check, vend_credentials};
use crate::aws::errors::sdk_error;
use crate::smoke::{Check, client_user_name};
use crate::tvm_client::TvmClient;

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
    remove_user(&iam, &user).await?;
    let credentials = create_user(session, &iam, &user, policy_arn).await?;
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
            identity_is_protected_role(session, target, credentials, &user_name).await
        })
        .await,
    );
    checks.push(timed_check("the temporary client user is removed", remove_user(&iam, &user)).await);
    Ok(checks)
}

async fn create_user(
    session: &Session,
    iam: &aws_sdk_iam::Client,
    user: &str,
    policy_arn: &str,
) -> Result<Credentials> {
    iam.create_user()
        .user_name(user)
        .tags(env_tag(session))
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:CreateUser `{user}`")))?;
    iam.attach_user_policy()
        .user_name(user)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:AttachUserPolicy `{user}`")))?;
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:CreateAccessKey `{user}`")))?;
    let key = key.access_key().ok_or_else(|| anyhow::anyhow!("iam:CreateAccessKey returned no key"))?;
    Ok(Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "sentinel-tvm-smoke-client"))
}

/// Deletes the user with its keys and policy attachments; a user that is not there is fine.
async fn remove_user(iam: &aws_sdk_iam::Client, user: &str) -> Result<()> {
    match iam.get_user().user_name(user).send().await {
        Ok(_) => {}
        Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => return Ok(()),
        Err(error) => return Err(sdk_error(error, format_args!("iam:GetUser `{user}`"))),
    }
    let keys = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:ListAccessKeys `{user}`")))?;
    for key in keys.access_key_metadata() {
        if let Some(id) = key.access_key_id() {
            iam.delete_access_key()
                .user_name(user)
                .access_key_id(id)
                .send()
                .await
                .map_err(|e| sdk_error(e, "iam:DeleteAccessKey"))?;
        }
    }
    let attached = iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, "iam:ListAttachedUserPolicies"))?;
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            iam.detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| sdk_error(e, "iam:DetachUserPolicy"))?;
        }
    }
    iam.delete_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:DeleteUser `{user}`")))?;
    Ok(())
}
