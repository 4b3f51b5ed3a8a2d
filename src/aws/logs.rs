//! CloudWatch Logs, for the two log groups that outlive their stack (`DeletionPolicy: Retain`):
//! the decision log and the API's access log. Whether one exists (an install adopts it), and
//! deleting one (`teardown --delete-logs` only).

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;

use super::errors::sdk_error;

pub async fn log_group_exists(logs: &Client, name: &str) -> Result<bool> {
    let output = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|error| sdk_error(error, format_args!("logs:DescribeLogGroups `{name}`")))?;
    Ok(output.log_groups().iter().any(|group| group.log_group_name() == Some(name)))
}

/// Deletes the log group and every event in it; one already gone is fine.
pub async fn delete_log_group(logs: &Client, name: &str) -> Result<()> {
    match logs.delete_log_group().log_group_name(name).send().await {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(()),
        Err(error) => Err(sdk_error(error, format_args!("logs:DeleteLogGroup `{name}`"))),
    }
}
