//! The sentinel-tvm token vending machine, as pure logic: who is calling, what they may have,
//! and what to answer. The wire contract is `docs/CONTRACT.md`; `main.rs` wires this
//! library to the Lambda runtime, STS and SSM and holds no decisions of its own.
//!
//! Everything but `aws` (the SDK adapters, feature `runtime`) is free of I/O and table-tested.
//! What a vend decides before any network call is `decide`'s, and why the policy says so is
//! `policy::explain`'s: the installer's policy tools call the same two, never a copy.

pub mod contract;
pub mod decide;
pub mod decision_log;
pub mod duration;
pub mod event;
pub mod identity;
pub mod policy;
pub mod profile;
pub mod proof;
pub mod rate_limit;
pub mod service;
pub mod session;
pub mod settings;

#[cfg(feature = "runtime")]
pub mod aws;
