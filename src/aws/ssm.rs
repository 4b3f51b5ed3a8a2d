//! SSM Parameter Store, for the policy parameter: its versions and their values, so the api
//! stack can pin the version the policy stack wrote (threat model T3).

use anyhow::Result;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::ProvideErrorMetadata;

use super::errors::sdk_error;
use crate::model::objects::ParameterVersion;

/// The parameter's latest version, or `None` when the parameter does not exist.
pub async fn latest(ssm: &Client, name: &str) -> Result<Option<ParameterVersion>> {
    match ssm.get_parameter().name(name).with_decryption(true).send().await {
        Ok(output) => Ok(output.parameter().and_then(version_of)),
        Err(error) if error.code() == Some("ParameterNotFound") => Ok(None),
        Err(error) => Err(sdk_error(error, format_args!("ssm:GetParameter `{name}`"))),
    }
}

/// Every version SSM still keeps of the parameter (its last 100).
pub async fn history(ssm: &Client, name: &str) -> Result<Vec<ParameterVersion>> {
    let mut pages = ssm.get_parameter_history().name(name).with_decryption(true).into_paginator().send();
    let mut versions = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| sdk_error(error, format_args!("ssm:GetParameterHistory `{name}`")))?;
        versions.extend(page.parameters().iter().filter_map(history_version_of));
    }
    Ok(versions)
}

fn version_of(parameter: &aws_sdk_ssm::types::Parameter) -> Option<ParameterVersion> {
    plain(parameter.version(), parameter.value())
}

fn history_version_of(parameter: &aws_sdk_ssm::types::ParameterHistory) -> Option<ParameterVersion> {
    plain(parameter.version(), parameter.value())
}

/// One version as plain data; `None` for a version number out of range or no value.
fn plain(version: i64, value: Option<&str>) -> Option<ParameterVersion> {
    Some(ParameterVersion { version: u64::try_from(version).ok()?, value: value?.to_string() })
}
