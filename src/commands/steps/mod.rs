//! What several commands share, as named steps: the session every AWS-facing command opens, the
//! deploy flow and how an applying command ends, drift detection and restore, the pre-flight, the smoke test and its probes,
//! the SCP's stack, and the connection to a TVM. Steps may use each other; commands use steps,
//! never another command.

pub mod apply;
pub mod deploy;
pub mod drift;
pub mod guardrails;
pub mod policy_pin;
pub mod preflight;
pub mod probe;
pub mod scp;
pub mod session;
pub mod smoke;
pub mod smoke_client;
pub mod starter;
pub mod tvm;
