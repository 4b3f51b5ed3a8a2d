//! The guardrails around the TVM in AWS Organizations, pure: the Service Control Policy document
//! (`document`), the cases `scp check` simulates and what each must come out as (`cases`), and
//! what the organization's facts mean for deploying it (`organization`). Reading the organization
//! and deploying the stack are `commands::steps::scp`'s; the SDK calls are `aws::organizations`
//! and `aws::simulator`.

pub mod cases;
pub mod document;
pub mod organization;
