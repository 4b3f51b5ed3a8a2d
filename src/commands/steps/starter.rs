//! The policy a deploy starts from: `--policy-file`, or the starter, which admits exactly the
//! configured invokers (`deploy::policy::Admitted`). A role is named by the pattern of its
//! sessions; a user by its ARN, whose path only IAM knows (`iam:GetUser`); a group cannot be
//! named at all and is left out with a warning. Shared by the deploy, the pre-flight and
//! `policy init`.

use anyhow::Result;
use aws_config::SdkConfig;

use super::session::Session;
use crate::aws::iam::get_user;
use crate::deploy::policy::{self, Admitted, UserPolicy};
use crate::error::Fixable;
use crate::names::{role_sessions_pattern, user_arn};
use crate::settings::Invokers;

/// The policy to deploy as the user gives it: the file, or the starter for the invokers. With
/// `say`, the starter's gaps are said: each group left out, and a starter that grants nothing.
pub async fn user_policy(session: &Session, say: bool) -> Result<UserPolicy> {
    let (env, deploy, identity) = (session.env(), &session.settings.deploy, &session.identity);
    if deploy.policy_file.is_some() {
        return policy::user_policy(env, deploy, &Admitted::default());
    }
    let admitted = admitted(&session.sdk, &identity.partition, &identity.account_id, &deploy.invokers).await?;
    if say {
        for warning in admitted.group_warnings(&identity.partition, &identity.account_id) {
            session.out.warn(&warning);
        }
        if let Some(nothing) = policy::starter_grants_nothing(deploy, &admitted) {
            session.out.warn(&nothing);
        }
    }
    policy::user_policy(env, deploy, &admitted)
}

/// The invokers as the starter names them, in account `account_id`.
pub async fn admitted(sdk: &SdkConfig, partition: &str, account_id: &str, invokers: &Invokers) -> Result<Admitted> {
    let mut principals: Vec<String> =
        invokers.roles.iter().map(|role| role_sessions_pattern(partition, account_id, role)).collect();
    if !invokers.users.is_empty() {
        let iam = aws_sdk_iam::Client::new(sdk);
        for name in &invokers.users {
            let Some(user) = get_user(&iam, name).await? else {
                anyhow::bail!(Fixable::new(
                    format!("the invoker user `{name}` does not exist in account {account_id}"),
                    "create it, or leave it out of `--invoker-user` (config key `invoker_users`)",
                ));
            };
            principals.push(user_arn(partition, account_id, user.path(), name));
        }
    }
    Ok(Admitted { principals, groups: invokers.groups.clone() })
}
