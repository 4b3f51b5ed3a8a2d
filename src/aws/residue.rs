//! What an environment leaves behind after its stacks are gone: every resource still named for
//! it, by type. The names mirror the templates' own (`stacks/*.yaml`) and the smoke test's client
//! user; the teardown test in the emulator suite checks both sides agree by finding each of them
//! before teardown.

use anyhow::Result;
use aws_config::SdkConfig;

use super::errors::sdk_error;
use crate::names::Names;

/// Something still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub kind: &'static str,
    pub name: String,
}

pub struct Residue {
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    apis: aws_sdk_apigatewayv2::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    ssm: aws_sdk_ssm::Client,
    s3: super::s3::S3,
}

impl Residue {
    pub fn new(config: &SdkConfig, s3: super::s3::S3) -> Self {
        Self {
            iam: aws_sdk_iam::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            apis: aws_sdk_apigatewayv2::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            s3,
        }
    }

    /// Everything still named for the environment, each type looked up once.
    pub async fn leftovers(&self, names: &Names) -> Result<Vec<Leftover>> {
        let mut found = Vec::new();
        found.extend(self.roles(names).await?.into_iter().map(|name| Leftover { kind: "IAM role", name }));
        found.extend(self.policies(names).await?.into_iter().map(|name| Leftover { kind: "IAM policy", name }));
        if super::iam::get_user(&self.iam, &names.smoke_client_user()).await?.is_some() {
            found.push(Leftover { kind: "IAM user", name: names.smoke_client_user() });
        }
        if self.function_exists(&names.function()).await? {
            found.push(Leftover { kind: "Lambda function", name: names.function() });
        }
        found.extend(self.apis(&names.api()).await?.into_iter().map(|name| Leftover { kind: "HTTP API", name }));
        found.extend(self.log_groups(names).await?.into_iter().map(|name| Leftover { kind: "log group", name }));
        if self.s3.bucket_exists(&names.bucket()).await? {
            found.push(Leftover { kind: "S3 bucket", name: names.bucket() });
        }
        found.extend(
            self.parameters(&names.parameter_path())
                .await?
                .into_iter()
                .map(|name| Leftover { kind: "SSM parameter", name }),
        );
        Ok(found)
    }

    async fn roles(&self, names: &Names) -> Result<Vec<String>> {
        let mut pages = self.iam.list_roles().into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| sdk_error(error, "iam:ListRoles"))?;
            for role in page.roles() {
                let name = role.role_name();
                if name == names.execution_role()
                    || (name.starts_with(&names.protected_role_prefix())
                        && self.role_tagged_for(name, &names.env).await?)
                {
                    found.push(name.to_string());
                }
            }
        }
        Ok(found)
    }

    async fn role_tagged_for(&self, role: &str, env: &str) -> Result<bool> {
        let output = self
            .iam
            .list_role_tags()
            .role_name(role)
            .send()
            .await
            .map_err(|error| sdk_error(error, format_args!("iam:ListRoleTags `{role}`")))?;
        Ok(output.tags().iter().any(|tag| tag.key() == crate::names::TAG_ENV && tag.value() == env))
    }

    async fn policies(&self, names: &Names) -> Result<Vec<String>> {
        let mut pages =
            self.iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| sdk_error(error, "iam:ListPolicies"))?;
            found.extend(
                page.policies()
                    .iter()
                    .filter_map(|p| p.policy_name())
                    .filter(|name| *name == names.client_policy())
                    .map(str::to_string),
            );
        }
        Ok(found)
    }

    async fn function_exists(&self, name: &str) -> Result<bool> {
        match self.lambda.get_function().function_name(name).send().await {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(false),
            Err(error) => Err(sdk_error(error, format_args!("lambda:GetFunction `{name}`"))),
        }
    }

    async fn apis(&self, name: &str) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .apis
                .get_apis()
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|error| sdk_error(error, "apigateway:GetApis"))?;
            found.extend(
                page.items()
                    .iter()
                    .filter(|api| api.name() == Some(name))
                    .map(|api| format!("{name} ({})", api.api_id().unwrap_or("?"))),
            );
            next = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
            if next.is_none() {
                return Ok(found);
            }
        }
    }

    async fn log_groups(&self, names: &Names) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for name in names.log_groups() {
            if self.log_group_exists(&name).await? {
                found.push(name);
            }
        }
        Ok(found)
    }

    pub async fn log_group_exists(&self, name: &str) -> Result<bool> {
        super::logs::log_group_exists(&self.logs, name).await
    }

    /// Deletes a log group (`teardown --delete-logs`).
    pub async fn delete_log_group(&self, name: &str) -> Result<()> {
        super::logs::delete_log_group(&self.logs, name).await
    }

    async fn parameters(&self, path: &str) -> Result<Vec<String>> {
        let mut pages = self.ssm.get_parameters_by_path().path(path).recursive(true).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| sdk_error(error, format_args!("ssm:GetParametersByPath `{path}`")))?;
            found.extend(page.parameters().iter().filter_map(|p| p.name()).map(str::to_string));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_environment_and_nothing_longer() {
        let names = Names {
            env: "main".into(),
            role_prefix: "SentinelProtected-".into(),
            account_id: "111122223333".into(),
            region: "eu-west-2".into(),
        };
        assert_eq!(names.execution_role(), "sentinel-tvm-main-execution");
        assert_eq!(names.client_policy(), "sentinel-tvm-main-invoke");
        assert_eq!(names.smoke_client_user(), "sentinel-tvm-main-smoke-client");
        assert!("SentinelProtected-main-smoke".starts_with(&names.protected_role_prefix()));
        assert!(!"SentinelProtected-mainline-smoke".starts_with(&names.protected_role_prefix()));
        assert_eq!(names.bucket(), "sentinel-tvm-main-111122223333-eu-west-2");
        assert_eq!(
            names.log_groups(),
            ["/aws/lambda/sentinel-tvm-main".to_string(), "/aws/http-api/sentinel-tvm-main".to_string()]
        );
    }
}
