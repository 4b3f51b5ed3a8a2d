//! Resolved settings for one environment. Precedence is decided here and only here:
//! flags > environment variables > config file > the wizard's answers (terminal only) > default.
//! Everything is validated on the way, and every error names the flag and the config key that
//! supply the value.
//!
//! One loader per run (`Sources::load`): the environment is decided once, the file's section and
//! the flags merged once, and the connection built once (`Loaded::target`, all that a command
//! that deploys nothing needs); a command that deploys then adds the wizard's answers, if any, and
//! validates the deploy settings once (`Loaded::resolve`). `sources` owns the layers and their
//! order, `deploy` the deploy settings' rules and defaults.

mod deploy;
mod resolved;
mod sources;

pub use deploy::{LOG_RETENTION_DAYS, deploy_settings, validate_env_name};
pub use resolved::{Deploy, Invokers, Override, ProtectedProfile, Scope, Scp, Selection, Settings, Target};
pub use sources::{Loaded, Resolved, Sources, overlay, process_environment, saved_connection};
