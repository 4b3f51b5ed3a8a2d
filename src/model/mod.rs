//! The ground floor: plain data the SDK layer (`aws`) and the decisions above it (`deploy`,
//! `check`, `scp`, `rollout`) share, so neither has to import the other to agree on a type.
//! Fields and tiny predicates only. It imports nothing of the crate but `names` and `error`, and
//! nothing imports upward from here (`tests/structure.rs`: the layer rule).

pub mod cloudformation;
pub mod connection;
pub mod objects;
pub mod organizations;
pub mod simulation;
pub mod verdict;
