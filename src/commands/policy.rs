//! `sentinel-tvm policy validate FILE`: the Lambda's own parser over a policy file; no AWS.

use std::path::Path;

use anyhow::Result;

use crate::error::Outcome;
use crate::tvm_policy;

pub fn validate(file: &Path) -> Result<Outcome> {
    let policy = tvm_policy::validate_file(file)?;
    let rules = policy.rules.len();
    println!("{}: valid ({rules} rule{})", file.display(), if rules == 1 { "" } else { "s" });
    Ok(Outcome::Success)
}
