//! Plain CloudFormation data, shared by both sides of the SDK boundary: what `aws::cloudformation`
//! returns (stacks, change sets, events, drift) and what it is asked to deploy (`StackRequest`).
//! Fields and tiny predicates only: no decisions, no SDK types, so the SDK layer can import it
//! without importing the planner, the engine or the templates.

use std::collections::BTreeMap;

/// A stack as DescribeStacks reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployed {
    pub name: String,
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    /// RFC 3339, when it was created or last updated.
    pub updated: Option<String>,
    /// RFC 3339, when it was created.
    pub created: Option<String>,
}

/// What a change set is made from: the stack's name, template body, parameters and tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackRequest<'a> {
    pub name: &'a str,
    pub template: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
    /// A drift-aware change set (`DeploymentMode=REVERT_DRIFT`): also writes the template's values
    /// back over what was changed outside CloudFormation.
    pub revert_drift: bool,
}

/// What a change set does to its stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSetKind<'a> {
    /// A new stack.
    Create,
    Update,
    /// A new stack made of exactly these existing resources, adopted as they are.
    Import(&'a [ImportResource]),
}

/// An existing resource an IMPORT change set adopts: which resource of the template it becomes,
/// and which one it is (its identifier, `LogGroupName` for a log group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportResource {
    pub logical_id: String,
    pub resource_type: String,
    pub identifier: BTreeMap<String, String>,
}

impl ImportResource {
    /// The identifier's values, for messages: the resource's physical name.
    pub fn physical_name(&self) -> String {
        self.identifier.values().cloned().collect::<Vec<_>>().join("|")
    }
}

/// One resource change of a change set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
    /// `True`, `False` or `Conditional` (modifications only).
    pub replacement: Option<String>,
    /// The properties (or other scopes) that change.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    pub id: String,
    /// `CREATE_PENDING`, `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `FAILED`, …
    pub status: String,
    pub status_reason: Option<String>,
    pub changes: Vec<ResourceChange>,
}

impl ChangeSet {
    pub fn settled(&self) -> bool {
        matches!(self.status.as_str(), "CREATE_COMPLETE" | "FAILED" | "DELETE_COMPLETE" | "DELETE_FAILED")
    }

    /// CloudFormation's way of saying the stack already is what was asked.
    pub fn is_empty_change(&self) -> bool {
        self.status == "FAILED"
            && self.status_reason.as_deref().is_some_and(|reason| {
                reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
            })
    }
}

/// One stack event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    /// RFC 3339.
    pub timestamp: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

impl StackEvent {
    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }
}

/// How a drift detection of one stack went (DescribeStackDriftDetectionStatus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftDetection {
    /// `DETECTION_IN_PROGRESS`, `DETECTION_COMPLETE` or `DETECTION_FAILED`.
    pub status: String,
    /// `DRIFTED`, `IN_SYNC`, `UNKNOWN` or `NOT_CHECKED`.
    pub stack_drift: Option<String>,
    pub reason: Option<String>,
}

impl DriftDetection {
    pub fn in_progress(&self) -> bool {
        self.status == "DETECTION_IN_PROGRESS"
    }
}

/// One resource's drift, as CloudFormation reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceDrift {
    pub stack: String,
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    /// `IN_SYNC`, `MODIFIED`, `DELETED`, `NOT_CHECKED`, `UNKNOWN`, `UNSUPPORTED`.
    pub status: String,
    /// The template's properties and the resource's, each a JSON object as text.
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// The property paths CloudFormation says differ (`/AssumeRolePolicyDocument/Statement/0/…`).
    pub differing_paths: Vec<String>,
}
