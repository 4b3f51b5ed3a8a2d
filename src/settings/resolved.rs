//! What settings resolve to: the `Target` every AWS-facing command needs, the whole `Settings` of
//! a command that deploys, and the plain values they are made of. Types only; the rules are
//! `super::deploy`'s and the layers `super::sources`'.

use std::path::PathBuf;

use crate::config::{Architecture, IdentityProof, RcpMode, ScpMode};
use crate::model::connection::Connection;

/// Which environment, and how to reach AWS: all that a command that deploys nothing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub env: String,
    pub connection: Connection,
}

/// What every command that talks to AWS knows of its settings: the environment and the
/// connection (`Target`, or the whole `Settings` of a command that deploys).
pub trait Scope {
    fn env(&self) -> &str;
    fn connection(&self) -> &Connection;
}

impl Scope for Target {
    fn env(&self) -> &str {
        &self.env
    }
    fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl Scope for Settings {
    fn env(&self) -> &str {
        &self.env
    }
    fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Everything needed to deploy one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub env: String,
    pub connection: Connection,
    pub deploy: Deploy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    pub expected_account: Option<String>,
    pub architecture: Architecture,
    /// The smoke profile first, then the configured ones.
    pub protected: Vec<ProtectedProfile>,
    pub invokers: Invokers,
    pub policy_file: Option<PathBuf>,
    pub log_retention_days: u32,
    pub role_prefix: String,
    pub allowed_accounts: Vec<String>,
    pub allowed_org_id: Option<String>,
    pub rate_limit: u32,
    pub rate_window_seconds: u32,
    pub default_duration_seconds: u32,
    pub throttling_burst_limit: u32,
    pub throttling_rate_limit: u32,
    pub require_source_identity: bool,
    /// Whether the TVM requires a caller proof on every request.
    pub identity_proof: IdentityProof,
    /// As saved; the deploying principal is added when deploying (`Session::smoke_principals`).
    pub smoke_principals: Vec<String>,
    pub scp: Scp,
}

/// The optional Service Control Policy, validated for its mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scp {
    pub mode: ScpMode,
    pub targets: Vec<String>,
    pub break_glass_role_arns: Vec<String>,
    /// As configured; empty means the installing principal (resolved with its path when
    /// deploying, `commands::steps::deployers`), never nobody.
    pub deployers: Vec<String>,
    pub rcp_mode: RcpMode,
    pub strict: bool,
    pub org_profile: Option<String>,
    pub trail_log_group: Option<String>,
    pub alarm_topic_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedProfile {
    /// Without the environment: `prod`. Clients ask for `<env>-prod`.
    pub name: String,
    pub managed_policy_arns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invokers {
    pub roles: Vec<String>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

/// The global flags that choose the environment and how to reach AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub env: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// A value a flag gave that the config file had otherwise: worth a one-line notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub key: &'static str,
    pub flag: &'static str,
}
