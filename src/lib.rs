//! sentinel-tvm, the installer: builds the TVM Lambda, deploys it with the CloudFormation templates
//! embedded from `stacks/`, proves it with a smoke test, upgrades and removes it.
//!
//! `main.rs` only parses and maps outcomes to exit codes; every decision lives in these modules.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod error;
pub mod report;
