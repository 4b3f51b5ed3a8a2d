//! AWS Organizations for the optional SCP stack: what the organization is (features, roots and
//! whether SCPs are enabled), whether a chosen target exists and which SCPs it already carries,
//! and the tree of OUs and accounts the wizard offers as targets.
//!
//! Thin wrappers with context on every error; what the facts mean is `crate::scp::organization`'s.
//!
//! Two answers are not errors but facts: an account that is in no organization, and credentials
//! that may not read it. `overview` returns them as `Err(Unavailable)` inside `Ok`, so the
//! caller turns them into verdicts with a fix (`scp::organization::unavailable`) instead of failing.

use anyhow::Result;
use aws_config::SdkConfig;
use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::types::{PolicyType, PolicyTypeStatus};

use super::errors::sdk_error;
use crate::model::organizations::{AttachedPolicy, Overview, Root, Target, TargetKind, TreeEntry, Unavailable};

#[derive(Debug, Clone)]
pub struct Organizations {
    client: Client,
}

impl Organizations {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: Client::new(config) }
    }

    /// The organization's feature set, management account and roots, or why it cannot be read.
    pub async fn overview(&self) -> Result<Result<Overview, Unavailable>> {
        let organization = match self.client.describe_organization().send().await {
            Ok(output) => output.organization,
            Err(error) => {
                return match error.as_service_error() {
                    Some(e) if e.is_aws_organizations_not_in_use_exception() => Ok(Err(Unavailable::NotInOrganization)),
                    Some(e) if e.is_access_denied_exception() => Ok(Err(access_denied(e))),
                    _ => Err(sdk_error(error, "organizations:DescribeOrganization")),
                };
            }
        };
        let organization = organization
            .ok_or_else(|| anyhow::anyhow!("organizations:DescribeOrganization returned no organization"))?;
        let mut roots = Vec::new();
        let mut pages = self.client.list_roots().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    return match error.as_service_error() {
                        Some(e) if e.is_aws_organizations_not_in_use_exception() => {
                            Ok(Err(Unavailable::NotInOrganization))
                        }
                        Some(e) if e.is_access_denied_exception() => Ok(Err(access_denied(e))),
                        _ => Err(sdk_error(error, "organizations:ListRoots")),
                    };
                }
            };
            roots.extend(page.roots().iter().map(|root| Root {
                id: root.id().unwrap_or_default().to_string(),
                name: root.name().unwrap_or_default().to_string(),
                scp_enabled: enabled(root.policy_types(), &PolicyType::ServiceControlPolicy),
                rcp_enabled: enabled(root.policy_types(), &PolicyType::ResourceControlPolicy),
            }));
        }
        Ok(Ok(Overview {
            feature_set: organization.feature_set().map(|f| f.as_str().to_string()).unwrap_or_default(),
            management_account_id: organization.master_account_id().unwrap_or_default().to_string(),
            roots,
        }))
    }

    /// The root (`r-…`), OU (`ou-…`) or account (12 digits) `id`, or `None` when the
    /// organization has none by that id, or `id` has none of those shapes (no call is made).
    pub async fn target(&self, id: &str) -> Result<Option<Target>> {
        if !crate::names::is_scp_target(id) {
            return Ok(None);
        }
        if id.starts_with("r-") {
            return self.root(id).await;
        }
        if id.starts_with("ou-") {
            return match self.client.describe_organizational_unit().organizational_unit_id(id).send().await {
                Ok(output) => Ok(output.organizational_unit.map(|ou| Target {
                    id: id.to_string(),
                    name: ou.name().unwrap_or_default().to_string(),
                    kind: TargetKind::OrganizationalUnit,
                })),
                Err(error)
                    if error.as_service_error().is_some_and(|e| e.is_organizational_unit_not_found_exception()) =>
                {
                    Ok(None)
                }
                Err(error) => Err(sdk_error(error, format_args!("organizations:DescribeOrganizationalUnit `{id}`"))),
            };
        }
        match self.client.describe_account().account_id(id).send().await {
            Ok(output) => Ok(output.account.map(|account| Target {
                id: id.to_string(),
                name: account.name().unwrap_or_default().to_string(),
                kind: TargetKind::Account,
            })),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_account_not_found_exception()) => Ok(None),
            Err(error) => Err(sdk_error(error, format_args!("organizations:DescribeAccount `{id}`"))),
        }
    }

    async fn root(&self, id: &str) -> Result<Option<Target>> {
        let mut pages = self.client.list_roots().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(e, "organizations:ListRoots"))?;
            if let Some(root) = page.roots().iter().find(|root| root.id() == Some(id)) {
                let name = root.name().unwrap_or_default().to_string();
                return Ok(Some(Target { id: id.to_string(), name, kind: TargetKind::Root }));
            }
        }
        Ok(None)
    }

    /// The SCPs attached directly to `target_id`, AWS-managed ones (`FullAWSAccess`) included.
    pub async fn scps_attached(&self, target_id: &str) -> Result<Vec<AttachedPolicy>> {
        self.attached(target_id, PolicyType::ServiceControlPolicy).await
    }

    /// The RCPs attached directly to `target_id`, `RCPFullAWSAccess` included.
    pub async fn rcps_attached(&self, target_id: &str) -> Result<Vec<AttachedPolicy>> {
        self.attached(target_id, PolicyType::ResourceControlPolicy).await
    }

    /// The parents of account `account_id` from its OU up to the root (`None` when the
    /// organization has no such account): where an SCP reaches it.
    pub async fn ancestors(&self, account_id: &str) -> Result<Option<Vec<String>>> {
        let mut ancestors = Vec::new();
        let mut child = account_id.to_string();
        // An organization is at most five OUs deep under its root; the bound stops a loop anyway.
        for _ in 0..8 {
            let parents = match self.client.list_parents().child_id(&child).send().await {
                Ok(output) => output.parents.unwrap_or_default(),
                Err(error) if error.as_service_error().is_some_and(|e| e.is_child_not_found_exception()) => {
                    return Ok(None);
                }
                Err(error) => return Err(sdk_error(error, format_args!("organizations:ListParents `{child}`"))),
            };
            let Some(parent) = parents.first().and_then(|p| p.id()) else { break };
            ancestors.push(parent.to_string());
            if parent.starts_with("r-") {
                break;
            }
            child = parent.to_string();
        }
        Ok(Some(ancestors))
    }

    async fn attached(&self, target_id: &str, kind: PolicyType) -> Result<Vec<AttachedPolicy>> {
        let mut policies = Vec::new();
        let mut pages =
            self.client.list_policies_for_target().target_id(target_id).filter(kind).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk_error(e, format_args!("organizations:ListPoliciesForTarget `{target_id}`")))?;
            policies.extend(page.policies().iter().map(|policy| AttachedPolicy {
                id: policy.id().unwrap_or_default().to_string(),
                name: policy.name().unwrap_or_default().to_string(),
            }));
        }
        Ok(policies)
    }

    /// Every root, OU (at any depth) and account of the organization, sorted by path (then id).
    /// Roots are listed too, with their kind: never offer one as a default target.
    pub async fn tree(&self) -> Result<Vec<TreeEntry>> {
        let mut entries = Vec::new();
        let mut pages = self.client.list_roots().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(e, "organizations:ListRoots"))?;
            for root in page.roots() {
                let (id, name) = (root.id().unwrap_or_default(), root.name().unwrap_or_default());
                let entry = TreeEntry { id: id.into(), name: name.into(), kind: TargetKind::Root, path: name.into() };
                entries.push(entry);
            }
        }
        // The parents still to read: the roots, then each OU as it is found.
        let mut parents: Vec<(String, String)> = entries.iter().map(|e| (e.id.clone(), e.path.clone())).collect();
        while let Some((parent, path)) = parents.pop() {
            for (id, name) in self.children(&parent).await? {
                let path = format!("{path}/{name}");
                parents.push((id.clone(), path.clone()));
                entries.push(TreeEntry { id, name, kind: TargetKind::OrganizationalUnit, path });
            }
            for (id, name) in self.accounts_in(&parent).await? {
                let path = format!("{path}/{name}");
                entries.push(TreeEntry { id, name, kind: TargetKind::Account, path });
            }
        }
        entries.sort_by(|a, b| (&a.path, &a.id).cmp(&(&b.path, &b.id)));
        Ok(entries)
    }

    /// `(id, name)` of the OUs directly under `parent`.
    async fn children(&self, parent: &str) -> Result<Vec<(String, String)>> {
        let mut children = Vec::new();
        let mut pages = self.client.list_organizational_units_for_parent().parent_id(parent).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| sdk_error(e, format_args!("organizations:ListOrganizationalUnitsForParent `{parent}`")))?;
            children.extend(
                page.organizational_units()
                    .iter()
                    .map(|ou| (ou.id().unwrap_or_default().to_string(), ou.name().unwrap_or_default().to_string())),
            );
        }
        Ok(children)
    }

    /// `(id, name)` of the accounts directly under `parent`.
    async fn accounts_in(&self, parent: &str) -> Result<Vec<(String, String)>> {
        let mut accounts = Vec::new();
        let mut pages = self.client.list_accounts_for_parent().parent_id(parent).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk_error(e, format_args!("organizations:ListAccountsForParent `{parent}`")))?;
            accounts.extend(page.accounts().iter().map(|account| {
                (account.id().unwrap_or_default().to_string(), account.name().unwrap_or_default().to_string())
            }));
        }
        Ok(accounts)
    }
}

fn enabled(types: &[aws_sdk_organizations::types::PolicyTypeSummary], kind: &PolicyType) -> bool {
    types.iter().any(|p| p.r#type() == Some(kind) && p.status() == Some(&PolicyTypeStatus::Enabled))
}

fn access_denied(error: &impl ProvideErrorMetadata) -> Unavailable {
    Unavailable::AccessDenied { message: error.message().unwrap_or("access denied").to_string() }
}
