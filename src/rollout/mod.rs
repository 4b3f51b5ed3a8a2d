//! The engines that roll changes out and follow them until they settle, reporting as they go:
//! `stacks` (CloudFormation change sets, one wave of stacks at a time). Each engine takes its
//! plan from `deploy` and its plain data from `model`, calls AWS through `aws`, and speaks to
//! the user only through `ui`; the commands decide when to run it.

pub mod stacks;
