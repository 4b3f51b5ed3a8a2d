//! sentinel-tvm, the installer: builds the TVM Lambda, deploys it with the CloudFormation templates
//! embedded from `stacks/`, proves it with a smoke test, upgrades and removes it, and gives clients
//! credentials through it.
//!
//! One folder per concern, layered so that nothing imports upward (a test, `tests/structure.rs`,
//! keeps it so: top-level modules in layers with no loop, no file-level import cycles, a thin SDK
//! layer, commands that never import each other, and terminal output only through the reporter
//! and the prompt). From the top:
//!
//! - `commands` — one file per command, each a script of named steps; `commands::steps` holds what
//!   several share (the session, the deploy flow, the pre-flight, the smoke test, the SCP's stack).
//! - `ui` — everything the user sees or answers: the one `Reporter`, rendering, the prompt, the
//!   install wizard.
//! - `rollout` — the engines that apply a plan and follow it live (CloudFormation stacks).
//! - `deploy`, `check`, `scp`, `tvm` — the concerns: what to deploy, the checks' judgements, the
//!   guardrail documents, the client side of the TVM. Decisions are pure.
//! - `aws` — thin SDK wrappers; they import only plain data (`model`), `names` and `error`.
//! - `settings`, `config`, `cli` — flags, environment and file resolved into one value per run.
//! - `model`, `names`, `error` — the ground floor: plain data, every name and rule, errors.
//!
//! `main.rs` only parses and maps outcomes to exit codes.

pub mod aws;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod error;
pub mod model;
pub mod names;
pub mod rollout;
pub mod scp;
pub mod settings;
pub mod tvm;
pub mod ui;
