//! What IAM's policy simulator concluded, as plain data: `aws::simulator` fills it, the
//! permissions pre-flight (`check::permissions`) judges it.

/// What a principal-policy simulation did not allow, by how it decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denied {
    /// A policy denies the action: the install would certainly fail.
    pub explicit: Vec<String>,
    /// No policy allows the action on every resource. It may still be allowed on the resources
    /// an install makes (a deployer scoped to `sentinel-tvm-*` looks like this), so this only warns.
    pub implicit: Vec<String>,
}
