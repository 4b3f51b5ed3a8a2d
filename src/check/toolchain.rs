//! Whether this machine can build the Lambda, pure: from what the pre-flight found on PATH
//! (`Toolchain`) to one verdict naming each missing piece and its fix, before any question is
//! confirmed, any setting saved or anything written to AWS. Probing is
//! `commands::steps::preflight`'s; building is `deploy::artifact`'s.

use crate::config::Architecture;
use crate::model::verdict::Verdict;

const CHECK: &str = "build";

/// What the pre-flight found: each tool's version line, or `None` when it is not there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Toolchain {
    pub cargo: Option<String>,
    pub cargo_lambda: Option<String>,
    /// Only looked for when the build crosses architectures.
    pub zig: Option<String>,
    /// The Rust targets rustup has installed; `None` when rustup could not be asked.
    pub installed_targets: Option<Vec<String>>,
}

/// The Rust target a Lambda of `architecture` is built for.
pub fn rust_target(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// One verdict for the build of `architecture` (`cross`: not this machine's own, so through
/// zig), or a pass without looking when a prebuilt zip is given.
pub fn build_verdict(architecture: Architecture, cross: bool, prebuilt: Option<&str>, found: &Toolchain) -> Verdict {
    if let Some(zip) = prebuilt {
        return Verdict::pass(CHECK, format!("prebuilt {zip} (--lambda-zip): nothing to build"));
    }
    let target = rust_target(architecture);
    let or_zip = "or pass `--lambda-zip PATH` with a prebuilt zip";
    let Some(cargo) = &found.cargo else {
        return Verdict::fail(
            CHECK,
            "cargo is not on PATH",
            format!("install Rust with rustup (https://rustup.rs), {or_zip}"),
        );
    };
    let Some(cargo_lambda) = &found.cargo_lambda else {
        return Verdict::fail(
            CHECK,
            "cargo-lambda is not installed",
            format!("`pip install cargo-lambda` (it brings zig for arm64), {or_zip}"),
        );
    };
    let mut have = vec![cargo.clone(), cargo_lambda.clone()];
    if cross {
        let Some(zig) = &found.zig else {
            return Verdict::fail(
                CHECK,
                format!("zig, which cargo-lambda cross-compiles {} with, is not installed", architecture.as_str()),
                format!(
                    "`pip install ziglang` (or `pip install cargo-lambda`, which brings it), choose `--architecture` of this machine, {or_zip}"
                ),
            );
        };
        have.push(format!("zig {zig}"));
        match &found.installed_targets {
            Some(targets) if targets.iter().any(|t| t == target) => have.push(format!("target {target}")),
            Some(_) => {
                return Verdict::fail(
                    CHECK,
                    format!("the Rust target {target} is not installed"),
                    format!("`rustup target add {target}`, {or_zip}"),
                );
            }
            None => {
                return Verdict::warn(
                    CHECK,
                    format!(
                        "{}; cannot tell whether the Rust target {target} is installed (no rustup)",
                        have.join(", ")
                    ),
                    format!("make sure `{target}` is installed, {or_zip}"),
                );
            }
        }
    }
    Verdict::pass(CHECK, format!("{} for {}", have.join(", "), architecture.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::verdict::Status;

    fn all() -> Toolchain {
        Toolchain {
            cargo: Some("cargo 1.95.0".into()),
            cargo_lambda: Some("cargo-lambda 1.9.2".into()),
            zig: Some("0.17.1".into()),
            installed_targets: Some(vec!["x86_64-unknown-linux-gnu".into(), "aarch64-unknown-linux-gnu".into()]),
        }
    }

    #[test]
    fn each_missing_piece_is_named_with_its_fix() {
        let native = Architecture::X86_64;
        let arm = Architecture::Arm64;
        for (architecture, cross, found, status, named) in [
            (native, false, all(), Status::Pass, "cargo-lambda 1.9.2"),
            (native, false, Toolchain { zig: None, installed_targets: None, ..all() }, Status::Pass, "cargo 1.95.0"),
            (native, false, Toolchain { cargo: None, ..all() }, Status::Fail, "rustup"),
            (native, false, Toolchain { cargo_lambda: None, ..all() }, Status::Fail, "pip install cargo-lambda"),
            (arm, true, all(), Status::Pass, "target aarch64-unknown-linux-gnu"),
            (arm, true, Toolchain { zig: None, ..all() }, Status::Fail, "pip install ziglang"),
            (
                arm,
                true,
                Toolchain { installed_targets: Some(vec![]), ..all() },
                Status::Fail,
                "rustup target add aarch64-unknown-linux-gnu",
            ),
            (arm, true, Toolchain { installed_targets: None, ..all() }, Status::Warn, "no rustup"),
        ] {
            let verdict = build_verdict(architecture, cross, None, &found);
            let said = format!("{} {}", verdict.detail, verdict.fix.clone().unwrap_or_default());
            assert_eq!(verdict.status, status, "{found:?}: {said}");
            assert!(said.contains(named), "{found:?}: {said}");
            if status == Status::Fail {
                assert!(said.contains("--lambda-zip"), "{said}");
            }
        }
        let prebuilt = build_verdict(arm, true, Some("tvm.zip"), &Toolchain::default());
        assert_eq!(prebuilt.status, Status::Pass);
    }
}
