//! Plain AWS Organizations facts: the organization, its roots, OUs and accounts, and the SCPs
//! attached to a target, as `aws::organizations` reads them and `scp::organization` judges them.
//! Fields only: no SDK types, no decisions.

use std::fmt;

/// The organization as the SCP pre-flight needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// `ALL` or `CONSOLIDATED_BILLING`.
    pub feature_set: String,
    pub management_account_id: String,
    pub roots: Vec<Root>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub id: String,
    pub name: String,
    /// The root's `SERVICE_CONTROL_POLICY` policy type is `ENABLED`.
    pub scp_enabled: bool,
    /// The root's `RESOURCE_CONTROL_POLICY` policy type is `ENABLED`.
    pub rcp_enabled: bool,
}

/// Why the organization could not be read: answers to act on, not failures of the installer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The credentials' account belongs to no organization (`AWSOrganizationsNotInUseException`).
    NotInOrganization,
    /// The credentials may not read the organization (`AccessDeniedException`); `message` is AWS's.
    AccessDenied { message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKind {
    Root,
    OrganizationalUnit,
    Account,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Root => "root",
            TargetKind::OrganizationalUnit => "OU",
            TargetKind::Account => "account",
        })
    }
}

/// A root, OU or account an SCP can be attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub kind: TargetKind,
}

/// An SCP attached directly to a target (inherited ones are not listed, and do not count
/// towards its limit of 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub id: String,
    pub name: String,
}

/// One root, OU or account of the organization, for the wizard's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub id: String,
    pub name: String,
    pub kind: TargetKind,
    /// The names from the root down to this entry, `/`-separated: `Root/Workloads/Prod`.
    pub path: String,
}
