//! Building the TVM Lambda from the sources this binary carries (`embedded`), so an installed
//! binary needs no checkout: written into a cache folder named by a key over everything that goes
//! into the build (`cache`), and built there with `cargo lambda build --locked`. A key built before
//! is taken as it is, its zip's hashes from the record beside it: no cargo, cargo-lambda or
//! compiler runs, and the zip is not read, when nothing changed (`tools` learns the compiler's and
//! cargo-lambda's versions without running them).
//!
//! `prepare` decides; the command prints what it decided and runs the build (`Job::run`).

pub mod cache;
pub mod embedded;
pub mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use self::cache::{KeyInputs, Layout};
use crate::config::Architecture;
use crate::deploy::artifact::{self, Artifact};
use crate::error::Fixable;

/// The workspace profile the Lambda is built with (`[profile.lambda]` in `Cargo.toml`).
pub const PROFILE: &str = "lambda";

/// What `prepare` found.
pub enum Prepared {
    /// Built before under the same key: the zip and its recorded hashes.
    Cached { artifact: Artifact, key: String },
    /// Not built yet: `Job::run` builds it.
    Build(Job),
}

/// A build to run: the sources to write and where.
pub struct Job {
    architecture: Architecture,
    layout: Layout,
    pub key: String,
}

/// Finds the key of the build of `architecture` and whether the cache holds it. Runs a tool only
/// when the tools changed since they were last asked (`tools::ask`).
pub fn prepare(architecture: Architecture) -> Result<Prepared> {
    let layout = Layout { root: cache::root_here()? };
    let cross = cross_compiles(architecture);
    let places = tools::Places::from_env();
    let fingerprint = tools::fingerprint(&tools::stamps(&places, cross, &layout.root), &places.variables);
    std::fs::create_dir_all(&layout.root).map_err(|error| {
        Fixable::new(
            format!("cannot create the cache folder `{}`: {error}", layout.root.display()),
            "set XDG_CACHE_HOME to a writable folder, or pass `--lambda-zip PATH` with a prebuilt zip",
        )
    })?;
    let versions_file = layout.tool_versions(&fingerprint);
    let versions = match tools::kept(&versions_file) {
        Some(kept) => kept,
        None => {
            let asked = tools::ask(cross, &layout.root)?;
            cache::keep(&versions_file, &asked)?;
            asked
        }
    };
    let files = embedded::files();
    let cargo_config = cache::cargo_config_files(&cache::cargo_config_candidates(&layout.root, &places.cargo_home));
    let key = cache::key(&KeyInputs {
        sources: &embedded::digest(&files),
        profile: PROFILE,
        architecture,
        tools: &versions,
        variables: &cache::build_variables(std::env::vars()),
        cargo_config: &cargo_config,
    });
    Ok(match cache::built(&layout, &key) {
        Some(artifact) => Prepared::Cached { artifact, key },
        None => Prepared::Build(Job { architecture, layout, key }),
    })
}

impl Job {
    /// The folder the build is written to and run in.
    pub fn dir(&self) -> PathBuf {
        self.layout.build_dir(&self.key)
    }

    /// Writes the sources, runs cargo-lambda (its output goes to `output` and stderr), checks and
    /// hashes the zip, and records it under the key.
    pub fn run(self, output: Stdio) -> Result<Artifact> {
        let workspace = self.layout.workspace(&self.key);
        embedded::write_into(&workspace, &embedded::files())?;
        let mut command =
            build_command(self.architecture, &workspace, &self.layout.build_dir(&self.key), &self.layout.target_dir());
        let status = command.stdout(output).status().map_err(|error| {
            Fixable::new(
                format!("cannot run `cargo lambda`: {error}"),
                "install it with `pip install cargo-lambda`, or pass `--lambda-zip PATH`",
            )
        })?;
        if !status.success() {
            bail!(Fixable::new(
                format!("`cargo lambda build` failed ({status}) in `{}`", workspace.display()),
                "see its output above; `pip install cargo-lambda` provides it (with zig for arm64), or pass `--lambda-zip PATH`",
            ));
        }
        let artifact = artifact::load(&self.layout.zip(&self.key), self.architecture)?;
        cache::record(&self.layout, &self.key, &artifact)?;
        Ok(artifact)
    }
}

/// The cargo-lambda command that builds the TVM for `architecture` from `workspace` (with its lock
/// file, unchanged: `--locked`) into `lambda_dir`, compiling in `target_dir`.
pub fn build_command(architecture: Architecture, workspace: &Path, lambda_dir: &Path, target_dir: &Path) -> Command {
    let mut command = Command::new("cargo");
    command.current_dir(workspace).args(["lambda", "build", "--profile", PROFILE, "-p", "sentinel-tvm-lambda"]);
    command.args(["--output-format", "zip", "--locked"]);
    command.arg("--lambda-dir").arg(lambda_dir);
    // Not `--target-dir`: cargo-lambda 1.9 hands it to `cargo metadata`, which refuses it.
    command.env("CARGO_TARGET_DIR", target_dir);
    command.arg(match architecture {
        Architecture::X86_64 => "--x86-64",
        Architecture::Arm64 => "--arm64",
    });
    // The host's own target needs no cross-compiler: plain cargo, not zig.
    if !cross_compiles(architecture) {
        command.args(["--compiler", "cargo"]);
    }
    command
}

/// Whether building for `architecture` crosses from this machine's (through zig).
pub fn cross_compiles(architecture: Architecture) -> bool {
    let native = match architecture {
        Architecture::X86_64 => cfg!(all(target_arch = "x86_64", target_os = "linux")),
        Architecture::Arm64 => cfg!(all(target_arch = "aarch64", target_os = "linux")),
    };
    !native
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_command_is_locked_and_uses_plain_cargo_for_the_host_and_zig_otherwise() {
        let args = |arch| {
            let command = build_command(arch, Path::new("/c/k/workspace"), Path::new("/c/k"), Path::new("/c/target"));
            assert_eq!(command.get_current_dir(), Some(Path::new("/c/k/workspace")));
            let target = command.get_envs().find(|(name, _)| *name == "CARGO_TARGET_DIR").and_then(|(_, v)| v);
            assert_eq!(target, Some(std::ffi::OsStr::new("/c/target")));
            command.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
        };
        assert!(
            args(Architecture::X86_64).starts_with(
                "lambda build --profile lambda -p sentinel-tvm-lambda --output-format zip --locked --lambda-dir /c/k --x86-64"
            ),
            "{}",
            args(Architecture::X86_64)
        );
        if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            assert!(args(Architecture::X86_64).ends_with("--compiler cargo"));
            assert!(args(Architecture::Arm64).ends_with("--arm64"), "cross builds go through zig");
        }
    }
}
