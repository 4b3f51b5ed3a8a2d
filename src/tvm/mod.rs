//! The client side of the TVM: what a client says and hears (`wire`), the signed HTTP calls
//! (`http`) and the caller proof each carries (`proof`), the TVM's URL from the api stack's
//! outputs (`endpoint`), `exec`'s loopback credentials bridge with the child's environment
//! (`bridge`), the user's AWS config file and the profiles written into it (`aws_config`), and the
//! guard against a client asking itself for its own credentials (`recursion`). Shared by the
//! client commands and the smoke test.

pub mod aws_config;
pub mod bridge;
pub mod endpoint;
pub mod http;
pub mod proof;
pub mod recursion;
pub mod wire;
