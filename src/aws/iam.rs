//! The one IAM user the installer makes outside any stack: the temporary client user of
//! `smoke-test --as-client` (`crate::names::client_user_name`). Created with one managed policy and
//! one access key, and removed with them: by the smoke test when it is done, and by teardown when
//! an interrupted run left it behind (its policy attachment would block deleting the client policy).
//! And what the installer reads of IAM: invoker candidates, role ARNs with their paths, and what
//! other environments' execution roles may assume.

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::{Tag, User};

use super::errors::{is_access_denied, sdk_error};
use crate::names;

/// The user, or `None` when there is no such user.
pub async fn get_user(iam: &Client, user: &str) -> Result<Option<User>> {
    match iam.get_user().user_name(user).send().await {
        Ok(output) => Ok(output.user),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => Ok(None),
        Err(error) => Err(sdk_error(error, format_args!("iam:GetUser `{user}`"))),
    }
}

/// Creates `user` with `tags`, attaches `policy_arn` and makes an access key for it. A user left
/// half made (the attachment or the key failed) is removed again before the error is returned.
pub async fn create_user_with_key(iam: &Client, user: &str, tags: Vec<Tag>, policy_arn: &str) -> Result<Credentials> {
    iam.create_user()
        .user_name(user)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:CreateUser `{user}`")))?;
    match attach_and_make_key(iam, user, policy_arn).await {
        Ok(credentials) => Ok(credentials),
        Err(error) => match remove_user(iam, user).await {
            Ok(_) => Err(error),
            Err(cleanup) => Err(error.context(format!(
                "setting up the IAM user `{user}` failed, and removing it again failed too ({cleanup:#}); `teardown` removes it"
            ))),
        },
    }
}

async fn attach_and_make_key(iam: &Client, user: &str, policy_arn: &str) -> Result<Credentials> {
    iam.attach_user_policy()
        .user_name(user)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:AttachUserPolicy `{user}`")))?;
    let output = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:CreateAccessKey `{user}`")))?;
    let key = output.access_key().ok_or_else(|| anyhow::anyhow!("iam:CreateAccessKey returned no key"))?;
    Ok(Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "sentinel-tvm-smoke-client"))
}

/// Deletes the user with its access keys and policy attachments; returns whether there was one
/// (a user that is not there is fine).
pub async fn remove_user(iam: &Client, user: &str) -> Result<bool> {
    if get_user(iam, user).await?.is_none() {
        return Ok(false);
    }
    let keys = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:ListAccessKeys `{user}`")))?;
    for id in keys.access_key_metadata().iter().filter_map(|key| key.access_key_id()) {
        iam.delete_access_key()
            .user_name(user)
            .access_key_id(id)
            .send()
            .await
            .map_err(|e| sdk_error(e, format_args!("iam:DeleteAccessKey `{user}`")))?;
    }
    let attached = iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:ListAttachedUserPolicies `{user}`")))?;
    for arn in attached.attached_policies().iter().filter_map(|policy| policy.policy_arn()) {
        iam.detach_user_policy()
            .user_name(user)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_error(e, format_args!("iam:DetachUserPolicy `{user}`")))?;
    }
    iam.delete_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| sdk_error(e, format_args!("iam:DeleteUser `{user}`")))?;
    Ok(true)
}

/// The roles and users `install` offers as invokers: what people and CI run as, without AWS's
/// service roles or sentinel-tvm's own. At most `limit` of each, by name.
pub async fn invoker_candidates(iam: &Client, role_prefix: &str, limit: usize) -> Result<(Vec<String>, Vec<String>)> {
    let mut roles = Vec::new();
    let mut pages = iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error(e, "iam:ListRoles"))?;
        roles.extend(
            page.roles()
                .iter()
                .filter(|r| !r.path().starts_with("/aws-service-role/") && !r.path().starts_with("/service-role/"))
                .map(|r| r.role_name().to_string()),
        );
    }
    let mut users = Vec::new();
    let mut pages = iam.list_users().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error(e, "iam:ListUsers"))?;
        users.extend(page.users().iter().map(|u| u.user_name().to_string()));
    }
    Ok((offered(roles, role_prefix, limit), offered(users, role_prefix, limit)))
}

/// Sorted, without sentinel-tvm's own (its execution roles, protected roles and smoke user), at
/// most `limit`.
fn offered(mut names: Vec<String>, role_prefix: &str, limit: usize) -> Vec<String> {
    names.retain(|name| !name.starts_with("sentinel-tvm-") && !name.starts_with(role_prefix));
    names.sort_by_key(|name| name.to_lowercase());
    names.truncate(limit);
    names
}

/// The other installed environments' execution roles in this account, each with the document of
/// its `VEND_POLICY` (the roles it may assume), as IAM returns it: `(environment, document)`.
/// A role without that policy is left out.
pub async fn execution_role_grants(iam: &Client) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut pages = iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error(e, "iam:ListRoles"))?;
        for role in page.roles() {
            let Some(env) = names::env_of_execution_role(role.role_name()) else { continue };
            let name = role.role_name();
            match iam.get_role_policy().role_name(name).policy_name(names::VEND_POLICY).send().await {
                Ok(output) => found.push((env.to_string(), output.policy_document().to_string())),
                Err(error) if error.code() == Some("NoSuchEntity") => {}
                Err(error) => {
                    return Err(sdk_error(error, format_args!("iam:GetRolePolicy `{name}` `{}`", names::VEND_POLICY)));
                }
            }
        }
    }
    Ok(found)
}

/// The ARN (with its path) of the role named `name`; `None` when the caller may not read it.
pub async fn role_arn(iam: &Client, name: &str) -> Result<Option<String>> {
    let output = match iam.get_role().role_name(name).send().await {
        Ok(output) => output,
        Err(error) if is_access_denied(&error) => return Ok(None),
        Err(error) => return Err(sdk_error(error, format_args!("iam:GetRole `{name}`"))),
    };
    let role = output.role().with_context(|| format!("iam:GetRole `{name}` returned no role"))?;
    Ok(Some(role.arn().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_tvm_s_own_principals_are_not_offered() {
        let names = ["ci", "sentinel-tvm-main-execution", "SentinelProtected-main-prod", "Admin", "deploy"];
        let offered = offered(names.map(String::from).into(), "SentinelProtected-", 2);
        assert_eq!(offered, ["Admin", "ci"]);
    }
}
