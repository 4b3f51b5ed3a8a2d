//! sentinel-tvm, the installer: builds the TVM Lambda, deploys it with the CloudFormation templates
//! embedded from `stacks/`, proves it with a smoke test, upgrades and removes it.
//!
//! `main.rs` only parses and maps outcomes to exit codes; every decision lives in these modules.

pub mod artifact;
pub mod aws;
pub mod bridge;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod endpoint;
pub mod engine;
pub mod error;
pub mod output;
pub mod permissions;
pub mod plan;
pub mod preflight;
pub mod prompt;
pub mod render;
pub mod report;
pub mod scp;
pub mod scp_check;
pub mod scp_preflight;
pub mod settings;
pub mod smoke;
pub mod stacks;
pub mod tvm_client;
pub mod tvm_policy;
pub mod wizard;
