//! CloudFormation, thinly: each call converts SDK types to the plain data the planner and
//! renderers use, with context on every error. No decisions here.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetType, DeploymentMode, Parameter, ResourceToImport, Stack, StackResourceDrift,
    StackResourceDriftStatus, Tag,
};

use super::errors::sdk_error;
use crate::model::cloudformation::{
    ChangeSet, ChangeSetKind, Deployed, DriftDetection, ResourceChange, ResourceDrift, StackEvent, StackRequest,
};

#[derive(Debug, Clone)]
pub struct CloudFormation {
    client: Client,
}

impl CloudFormation {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: Client::new(config) }
    }

    /// Over a given client (tests: a mocked one).
    pub fn from_client(client: Client) -> Self {
        Self { client }
    }

    /// The stack named `name`, or `None` if there is none.
    pub async fn describe(&self, name: &str) -> Result<Option<Deployed>> {
        match self.client.describe_stacks().stack_name(name).send().await {
            Ok(output) => Ok(output.stacks().first().map(deployed)),
            Err(error) if error.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
            Err(error) => Err(sdk_error(error, format_args!("DescribeStacks for `{name}`"))),
        }
    }

    /// Every live stack whose name starts with `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Deployed>> {
        let mut pages = self.client.describe_stacks().into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| sdk_error(error, "DescribeStacks"))?;
            found.extend(
                page.stacks().iter().filter(|s| s.stack_name().is_some_and(|n| n.starts_with(prefix))).map(deployed),
            );
        }
        found.retain(|stack| stack.status != "DELETE_COMPLETE");
        Ok(found)
    }

    /// Creates change set `name` turning the stack into `desired` (`kind`: a new stack, an
    /// update, or a new stack of adopted resources); returns its id.
    pub async fn create_change_set(
        &self,
        desired: &StackRequest<'_>,
        kind: ChangeSetKind<'_>,
        name: &str,
    ) -> Result<String> {
        let parameters = desired
            .parameters
            .iter()
            .map(|(key, value)| Parameter::builder().parameter_key(key).parameter_value(value).build());
        let tags = desired.tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build());
        let output = self
            .client
            .create_change_set()
            .stack_name(desired.name)
            .change_set_name(name)
            .change_set_type(match kind {
                ChangeSetKind::Create => ChangeSetType::Create,
                ChangeSetKind::Update => ChangeSetType::Update,
                ChangeSetKind::Import(_) => ChangeSetType::Import,
            })
            .set_resources_to_import(resources_to_import(kind))
            .template_body(desired.template)
            .set_parameters(Some(parameters.collect()))
            .set_tags(Some(tags.collect()))
            .capabilities(Capability::CapabilityNamedIam)
            .set_deployment_mode(desired.revert_drift.then_some(DeploymentMode::RevertDrift))
            .description(format!("sentinel-tvm {}", env!("CARGO_PKG_VERSION")))
            .send()
            .await
            .map_err(|error| sdk_error(error, format_args!("CreateChangeSet for `{}`", desired.name)))?;
        output.id().map(str::to_string).context("CloudFormation returned no change set id")
    }

    /// The change set's status and every change (all pages).
    pub async fn describe_change_set(&self, id: &str) -> Result<ChangeSet> {
        let mut changes = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let output = self
                .client
                .describe_change_set()
                .change_set_name(id)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|error| sdk_error(error, "DescribeChangeSet"))?;
            changes.extend(output.changes().iter().filter_map(|change| change.resource_change()).map(resource_change));
            next = output.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(ChangeSet {
                    id: id.to_string(),
                    status: output.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    status_reason: output.status_reason().map(str::to_string),
                    changes,
                });
            }
        }
    }

    /// Starts drift detection on every resource of stack `name`; returns the detection's id.
    pub async fn detect_drift(&self, name: &str) -> Result<String> {
        let output = self
            .client
            .detect_stack_drift()
            .stack_name(name)
            .send()
            .await
            .map_err(|error| sdk_error(error, format_args!("DetectStackDrift for `{name}`")))?;
        output.stack_drift_detection_id().map(str::to_string).context("CloudFormation returned no drift detection id")
    }

    pub async fn drift_detection(&self, id: &str) -> Result<DriftDetection> {
        let output = self
            .client
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(id)
            .send()
            .await
            .map_err(|error| sdk_error(error, "DescribeStackDriftDetectionStatus"))?;
        Ok(DriftDetection {
            status: output.detection_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            stack_drift: output.stack_drift_status().map(|s| s.as_str().to_string()),
            reason: output.detection_status_reason().map(str::to_string),
        })
    }

    /// The resources of stack `name` the last detection found modified or deleted (all pages).
    pub async fn drifted_resources(&self, name: &str) -> Result<Vec<ResourceDrift>> {
        let mut pages = self
            .client
            .describe_stack_resource_drifts()
            .stack_name(name)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| sdk_error(error, format_args!("DescribeStackResourceDrifts for `{name}`")))?;
            found.extend(page.stack_resource_drifts().iter().map(|drift| resource_drift(name, drift)));
        }
        Ok(found)
    }

    /// Detects drift on one resource of stack `name`, synchronously.
    pub async fn resource_drift(&self, name: &str, logical_id: &str) -> Result<ResourceDrift> {
        let output = self
            .client
            .detect_stack_resource_drift()
            .stack_name(name)
            .logical_resource_id(logical_id)
            .send()
            .await
            .map_err(|error| {
                sdk_error(error, format_args!("DetectStackResourceDrift for `{logical_id}` of `{name}`"))
            })?;
        let drift = output.stack_resource_drift().context("CloudFormation returned no resource drift")?;
        Ok(resource_drift(name, drift))
    }

    pub async fn execute_change_set(&self, id: &str) -> Result<()> {
        self.client
            .execute_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|error| sdk_error(error, "ExecuteChangeSet"))?;
        Ok(())
    }

    pub async fn delete_change_set(&self, id: &str) -> Result<()> {
        self.client
            .delete_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|error| sdk_error(error, "DeleteChangeSet"))?;
        Ok(())
    }

    pub async fn delete_stack(&self, name: &str) -> Result<()> {
        self.client
            .delete_stack()
            .stack_name(name)
            .send()
            .await
            .map_err(|error| sdk_error(error, format_args!("DeleteStack for `{name}`")))?;
        Ok(())
    }

    /// The stack's events newer than `after` (an event id), oldest first. Without `after`, the
    /// newest page.
    pub async fn events_since(&self, stack: &str, after: Option<&str>) -> Result<Vec<StackEvent>> {
        let mut pages = self.client.describe_stack_events().stack_name(stack).into_paginator().send();
        let mut newest_first = Vec::new();
        'pages: while let Some(page) = pages.next().await {
            let page = page.map_err(|error| sdk_error(error, format_args!("DescribeStackEvents for `{stack}`")))?;
            for event in page.stack_events() {
                if after.is_some() && event.event_id() == after {
                    break 'pages;
                }
                newest_first.push(StackEvent {
                    id: event.event_id().unwrap_or_default().to_string(),
                    timestamp: event.timestamp().map(|t| t.to_string()).unwrap_or_default(),
                    logical_id: event.logical_resource_id().unwrap_or_default().to_string(),
                    resource_type: event.resource_type().unwrap_or_default().to_string(),
                    status: event.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    reason: event.resource_status_reason().filter(|r| !r.is_empty()).map(str::to_string),
                });
            }
            if after.is_none() {
                break;
            }
        }
        newest_first.reverse();
        Ok(newest_first)
    }
}

fn resources_to_import(kind: ChangeSetKind<'_>) -> Option<Vec<ResourceToImport>> {
    let ChangeSetKind::Import(resources) = kind else { return None };
    let each = resources.iter().map(|resource| {
        ResourceToImport::builder()
            .logical_resource_id(&resource.logical_id)
            .resource_type(&resource.resource_type)
            .set_resource_identifier(Some(resource.identifier.clone().into_iter().collect()))
            .build()
    });
    Some(each.collect())
}

fn deployed(stack: &Stack) -> Deployed {
    let pairs = |items: Vec<(Option<&str>, Option<&str>)>| -> BTreeMap<String, String> {
        items.into_iter().filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string()))).collect()
    };
    Deployed {
        name: stack.stack_name().unwrap_or_default().to_string(),
        id: stack.stack_id().unwrap_or_default().to_string(),
        status: stack.stack_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        status_reason: stack.stack_status_reason().filter(|r| !r.is_empty()).map(str::to_string),
        tags: pairs(stack.tags().iter().map(|t| (t.key(), t.value())).collect()),
        parameters: pairs(stack.parameters().iter().map(|p| (p.parameter_key(), p.parameter_value())).collect()),
        outputs: pairs(stack.outputs().iter().map(|o| (o.output_key(), o.output_value())).collect()),
        updated: stack.last_updated_time().or(stack.creation_time()).map(|t| t.to_string()),
        created: stack.creation_time().map(|t| t.to_string()),
    }
}

fn resource_drift(stack: &str, drift: &StackResourceDrift) -> ResourceDrift {
    ResourceDrift {
        stack: stack.to_string(),
        logical_id: drift.logical_resource_id().unwrap_or_default().to_string(),
        physical_id: drift.physical_resource_id().unwrap_or_default().to_string(),
        resource_type: drift.resource_type().unwrap_or_default().to_string(),
        status: drift.stack_resource_drift_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        expected: drift.expected_properties().map(str::to_string),
        actual: drift.actual_properties().map(str::to_string),
        differing_paths: drift
            .property_differences()
            .iter()
            .filter_map(|d| d.property_path())
            .map(str::to_string)
            .collect(),
    }
}

fn resource_change(change: &aws_sdk_cloudformation::types::ResourceChange) -> ResourceChange {
    let mut details: Vec<String> = change
        .details()
        .iter()
        .filter_map(|detail| detail.target())
        .map(|target| {
            target
                .name()
                .map(str::to_string)
                .or_else(|| target.attribute().map(|a| a.as_str().to_string()))
                .unwrap_or_default()
        })
        .filter(|name| !name.is_empty())
        .collect();
    details.dedup();
    ResourceChange {
        action: change.action().map(|a| a.as_str().to_string()).unwrap_or_default(),
        logical_id: change.logical_resource_id().unwrap_or_default().to_string(),
        resource_type: change.resource_type().unwrap_or_default().to_string(),
        physical_id: change.physical_resource_id().filter(|id| !id.is_empty()).map(str::to_string),
        replacement: change.replacement().map(|r| r.as_str().to_string()).filter(|r| !r.is_empty()),
        details,
    }
}
