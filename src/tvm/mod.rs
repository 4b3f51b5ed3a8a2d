//! The client side of the TVM: what a client says and hears (`wire`), the signed HTTP calls
//! (`http`) and the caller proof each carries (`proof`), the TVM's URL from the api stack's outputs (`endpoint`), and `exec`'s loopback
//! credentials bridge with the child's environment (`bridge`). Shared by the client commands and
//! the smoke test.

pub mod bridge;
pub mod endpoint;
pub mod http;
pub mod proof;
pub mod wire;
