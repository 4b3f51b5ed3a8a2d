//! Which compiler and cargo-lambda a build would run, and their versions, learned without running
//! either when nothing changed: the versions are kept in the cache under a fingerprint of the
//! files that decide which tools run (each found the way cargo finds it, named by path, size and
//! modification time) and the variables that choose them. A changed file or variable is another
//! fingerprint, so the tools are asked again (`ask`: `rustc -vV`, `cargo lambda --version`).
//!
//! rustup's proxies (`~/.cargo/bin/rustc`) stay the same file when `rustup update` or
//! `rustup default` changes the compiler behind them, so the fingerprint also covers rustup's
//! settings, every installed toolchain's `rustc`, and the `rust-toolchain` files rustup would
//! read for the build directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::error::Fixable;

/// The versions that go into the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolVersions {
    /// `rustc -vV`, whole: release, commit, host and LLVM.
    pub rustc: String,
    /// `cargo lambda --version`.
    pub cargo_lambda: String,
    /// `zig version`, for a cross build only.
    pub zig: Option<String>,
}

/// One file that decides which tool runs: where it is, and its size and modification time
/// (`None`: not there, which counts too: a file that appears changes the fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub path: PathBuf,
    pub seen: Option<(u64, u128)>,
}

/// The variables that choose which tools run, besides PATH (whose effect the stamps show).
const CHOOSING_VARIABLES: [&str; 4] = ["RUSTC", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "CARGO_HOME"];

/// Where tools are looked for, read from the environment once.
#[derive(Debug, Clone)]
pub struct Places {
    pub path: Vec<PathBuf>,
    pub cargo_home: PathBuf,
    pub rustup_home: PathBuf,
    /// `RUSTC`, which cargo runs instead of `rustc` from PATH.
    pub rustc: Option<PathBuf>,
    pub variables: Vec<(&'static str, Option<String>)>,
}

impl Places {
    pub fn from_env() -> Places {
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let home = std::env::home_dir().unwrap_or_default();
        Places {
            path: var("PATH").map(|path| std::env::split_paths(&path).collect()).unwrap_or_default(),
            cargo_home: var("CARGO_HOME").map_or_else(|| home.join(".cargo"), PathBuf::from),
            rustup_home: var("RUSTUP_HOME").map_or_else(|| home.join(".rustup"), PathBuf::from),
            rustc: var("RUSTC").map(PathBuf::from),
            variables: CHOOSING_VARIABLES
                .iter()
                .map(|name| (*name, var(name).map(|value| value.to_string_lossy().into_owned())))
                .collect(),
        }
    }
}

/// Where cargo looks for `cargo-lambda`: `$CARGO_HOME/bin` first unless PATH names it (then PATH
/// decides), then PATH in order (cargo's `search_directories`).
pub fn subcommand_dirs(path: &[PathBuf], cargo_home: &Path) -> Vec<PathBuf> {
    let home_bin = cargo_home.join("bin");
    let mut dirs = path.to_vec();
    if !dirs.contains(&home_bin) {
        dirs.insert(0, home_bin);
    }
    dirs
}

/// The files whose change can change the tools a build of `build_root` runs. Stats only.
pub fn stamps(places: &Places, cross: bool, build_root: &Path) -> Vec<Stamp> {
    let exe = |name: &str| format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let on = |dirs: &[PathBuf], name: &str| {
        dirs.iter().map(|dir| dir.join(exe(name))).find(|path| path.is_file()).unwrap_or_else(|| PathBuf::from(name))
    };
    let mut files = vec![
        on(&places.path, "cargo"),
        places.rustc.clone().unwrap_or_else(|| on(&places.path, "rustc")),
        on(&subcommand_dirs(&places.path, &places.cargo_home), "cargo-lambda"),
        places.rustup_home.join("settings.toml"),
    ];
    if cross {
        files.extend([on(&places.path, "zig"), on(&places.path, "python3")]);
    }
    if let Ok(toolchains) = std::fs::read_dir(places.rustup_home.join("toolchains")) {
        let mut compilers: Vec<PathBuf> =
            toolchains.flatten().map(|t| t.path().join("bin").join(exe("rustc"))).collect();
        compilers.sort();
        files.extend(compilers);
    }
    for dir in build_root.ancestors() {
        files.extend(["rust-toolchain", "rust-toolchain.toml"].map(|name| dir.join(name)));
    }
    files.into_iter().map(stamp).collect()
}

fn stamp(path: PathBuf) -> Stamp {
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let seen = std::fs::metadata(&path).ok().map(|metadata| {
        let modified = metadata.modified().ok().and_then(|time| time.duration_since(UNIX_EPOCH).ok());
        (metadata.len(), modified.map_or(0, |since| since.as_nanos()))
    });
    Stamp { path, seen }
}

/// SHA-256 (hex) of the stamps and the choosing variables, in order: the name of the versions
/// learned under them.
pub fn fingerprint(stamps: &[Stamp], variables: &[(&str, Option<String>)]) -> String {
    let mut text = String::new();
    for Stamp { path, seen } in stamps {
        text.push_str(&format!("file {} {seen:?}\n", path.display()));
    }
    for (name, value) in variables {
        text.push_str(&format!("var {name} {value:?}\n"));
    }
    crate::deploy::stacks::sha256_hex(text.as_bytes())
}

/// The versions kept in `file` (`None`: none, or unreadable).
pub fn kept(file: &Path) -> Option<ToolVersions> {
    serde_json::from_slice(&std::fs::read(file).ok()?).ok()
}

/// The versions the tools report: runs `rustc -vV`, `cargo lambda --version` (as the build runs
/// it: cargo finds cargo-lambda) and, for a cross build, zig; in `dir`, where rustup reads the
/// same overrides as for the build.
pub fn ask(cross: bool, dir: &Path) -> Result<ToolVersions> {
    let or_zip = "or pass `--lambda-zip PATH` with a prebuilt zip";
    let rustc = std::env::var_os("RUSTC").filter(|v| !v.is_empty()).unwrap_or_else(|| OsString::from("rustc"));
    let rustc = output(Command::new(rustc).arg("-vV"), dir).ok_or_else(|| {
        Fixable::new(
            "the Rust compiler did not answer `rustc -vV`",
            format!("install Rust with rustup (https://rustup.rs), {or_zip}"),
        )
    })?;
    let cargo_lambda = output(Command::new("cargo").args(["lambda", "--version"]), dir).ok_or_else(|| {
        Fixable::new(
            "cargo-lambda is not installed (`cargo lambda --version` failed)",
            format!("`pip install cargo-lambda` (it brings zig for arm64), {or_zip}"),
        )
    })?;
    let zig = if cross {
        let zig = output(Command::new("zig").arg("version"), dir)
            .or_else(|| output(Command::new("python3").args(["-m", "ziglang", "version"]), dir));
        Some(zig.ok_or_else(|| {
            Fixable::new(
                "zig, which cargo-lambda cross-compiles with, is not installed",
                format!("`pip install ziglang`, choose `--architecture` of this machine, {or_zip}"),
            )
        })?)
    } else {
        None
    };
    Ok(ToolVersions { rustc, cargo_lambda: first_line(&cargo_lambda), zig: zig.as_deref().map(first_line) })
}

/// What `command` prints on stdout, when it runs in `dir` and succeeds.
fn output(command: &mut Command, dir: &Path) -> Option<String> {
    let output = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lambda_is_looked_for_where_cargo_looks() {
        let home = Path::new("/h/.cargo");
        let path = |dirs: &[&str]| dirs.iter().map(PathBuf::from).collect::<Vec<_>>();
        for (given, searched) in [
            (path(&["/usr/bin", "/venv/bin"]), path(&["/h/.cargo/bin", "/usr/bin", "/venv/bin"])),
            (path(&["/venv/bin", "/h/.cargo/bin"]), path(&["/venv/bin", "/h/.cargo/bin"])),
            (path(&[]), path(&["/h/.cargo/bin"])),
        ] {
            assert_eq!(subcommand_dirs(&given, home), searched, "{given:?}");
        }
    }

    #[test]
    fn the_fingerprint_changes_with_any_file_or_variable() {
        let stamp = |path: &str, seen| Stamp { path: PathBuf::from(path), seen };
        let base = [stamp("/bin/cargo", Some((10, 1))), stamp("/r/toolchains/stable/bin/rustc", Some((20, 2)))];
        let variables = [("RUSTUP_TOOLCHAIN", None)];
        let of = |stamps: &[Stamp], variables: &[(&str, Option<String>)]| fingerprint(stamps, variables);
        let base_print = of(&base, &variables);
        assert_eq!(base_print, of(&base.clone(), &variables), "the same files, the same fingerprint");
        for (why, stamps, variables) in [
            (
                "rustup update: a toolchain's rustc rewritten",
                vec![base[0].clone(), stamp("/r/toolchains/stable/bin/rustc", Some((20, 3)))],
                variables.to_vec(),
            ),
            ("another size", vec![stamp("/bin/cargo", Some((11, 1))), base[1].clone()], variables.to_vec()),
            ("a file gone", vec![stamp("/bin/cargo", None), base[1].clone()], variables.to_vec()),
            ("another place", vec![stamp("/usr/bin/cargo", Some((10, 1))), base[1].clone()], variables.to_vec()),
            ("a toolchain chosen", base.to_vec(), vec![("RUSTUP_TOOLCHAIN", Some("nightly".to_string()))]),
        ] {
            assert_ne!(of(&stamps, &variables), base_print, "{why}");
        }
    }

    #[test]
    fn kept_versions_read_back_and_a_damaged_file_is_none() {
        let dir = std::env::temp_dir().join(format!("sentinel-tvm-tools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("kept.json");
        assert_eq!(kept(&file), None);
        let versions = ToolVersions { rustc: "rustc 9.9.9".into(), cargo_lambda: "cargo-lambda 9.9".into(), zig: None };
        std::fs::write(&file, serde_json::to_vec(&versions).unwrap()).unwrap();
        assert_eq!(kept(&file), Some(versions));
        std::fs::write(&file, b"{\"rustc\":").unwrap();
        assert_eq!(kept(&file), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
