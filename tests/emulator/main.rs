//! Tests against the local AWS emulator (MiniStack on 127.0.0.1), one binary so the AWS SDK is
//! linked once. Run through `scripts/test` or `scripts/emulator run -- cargo test`; without an
//! emulator each test prints why it skipped (and fails in CI).

#[path = "../support/mod.rs"]
mod support;

mod calls;
mod client;
mod client_config;
mod deploy;
mod docs;
mod drift;
mod guardrails;
mod harness;
mod lambda_cache;
mod organizations;
mod permissions;
mod proof;
mod rendering;
mod scp;
mod scp_check;
mod smoke;
mod tvm;
mod upgrade;
mod wizard;
