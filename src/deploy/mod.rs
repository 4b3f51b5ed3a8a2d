//! Deploying an environment: the embedded templates and every parameter each stack gets
//! (`stacks`), the plain CloudFormation data both sides of the SDK share (`model`), the planner
//! (`plan`), drift findings (`drift`), the engine that applies a wave of stacks (`engine`), the Lambda's code (`artifact`),
//! its build from the sources the binary carries (`build`) and the policy as deployed (`policy`). The flow that strings them together is
//! `commands::steps::deploy`.

pub mod artifact;
pub mod build;
pub mod drift;
pub mod engine;
pub mod model;
pub mod plan;
pub mod policy;
pub mod stacks;
