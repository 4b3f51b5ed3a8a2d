//! The guardrails around the TVM in AWS Organizations, pure: what they guard (`guarded`), the
//! Service Control Policy document (`document`) and the Resource Control Policy (`rcp`), who the
//! deployers are (`deployers`), the cases `scp check` and the lock-out guard simulate and what
//! each must come out as (`cases`), and what the organization's facts mean for deploying them
//! (`organization`). Whose guardrail stack is whose is `deploy::ownership`'s; reading the
//! organization and deploying the stacks are `commands::steps::scp`'s; the SDK calls are
//! `aws::organizations` and `aws::simulator`. Nothing here imports `deploy` (which renders these
//! documents into stack parameters) or `check`.

pub mod cases;
pub mod deployers;
pub mod document;
pub mod guarded;
pub mod organization;
pub mod rcp;
