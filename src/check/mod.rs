//! The checks' judgements, pure, each a `model::verdict::Verdict`: the pre-flight (`preflight`),
//! the build toolchain (`toolchain`), the deployer's permissions (`permissions`) and the smoke
//! test (`smoke`). Nothing here calls
//! AWS or prints: the steps in `commands::steps` gather the facts and report the verdicts.

pub mod permissions;
pub mod preflight;
pub mod smoke;
pub mod toolchain;
