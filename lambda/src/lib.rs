//! The sentinel-tvm token vending machine, as pure logic: who is calling, what they may have,
//! and what to answer. The wire contract is `shared/spec/tvm-contract.md`; `main.rs` wires this
//! library to the Lambda runtime, STS and SSM and must hold no decisions of its own.
