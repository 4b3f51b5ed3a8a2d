//! What to deploy, decided without calling AWS: the embedded templates and every parameter each
//! stack gets (`stacks`), the planner (`plan`), drift findings (`drift`), whose guardrail stack is
//! whose (`ownership`), the Lambda's code (`artifact`) and its build from the sources the binary
//! carries (`build`), and the policy as deployed (`policy`). The engine that applies a plan is
//! `rollout`; the flow that strings them together is `commands::steps::deploy`. Nothing here
//! imports `aws`, `rollout`, `ui` or `commands`.

pub mod artifact;
pub mod build;
pub mod drift;
pub mod ownership;
pub mod plan;
pub mod policy;
pub mod stacks;
