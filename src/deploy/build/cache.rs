//! Where built Lambdas are kept, and what names each: the cache directory (`root`: the platform's
//! cache folder), the key (everything that goes into a build: `key`), the folders under it
//! (`Layout`), and the record written beside each zip once it is built (`Record`: its size and
//! both hashes), so a build under an unchanged key is neither run again nor hashed again.
//!
//! A record is written last, and atomically: a build that was interrupted has none, so it is run
//! again. Trusting a recorded hash is safe for what it is used for: the hash names the code in the
//! bucket, and an upload is sent with the recorded SHA-256, which S3 verifies, so a zip changed in
//! the cache after it was recorded is refused by S3, never deployed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::tools::ToolVersions;
use crate::config::Architecture;
use crate::deploy::artifact::Artifact;
use crate::error::Fixable;

/// The operating systems whose cache folder differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    MacOs,
    Windows,
    /// Linux and every other Unix: the XDG base directories.
    Xdg,
}

impl Platform {
    pub fn this() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Xdg
        }
    }
}

/// What the cache folder is derived from, read from the environment by the caller.
#[derive(Debug, Clone, Default)]
pub struct CacheEnv {
    pub xdg_cache_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub local_app_data: Option<PathBuf>,
}

impl CacheEnv {
    pub fn from_env() -> CacheEnv {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        CacheEnv {
            xdg_cache_home: var("XDG_CACHE_HOME"),
            home: std::env::home_dir(),
            local_app_data: var("LOCALAPPDATA"),
        }
    }
}

/// The folder built Lambdas are kept in: `<cache>/sentinel-tvm/lambda`, where `<cache>` is
/// `XDG_CACHE_HOME` when set to an absolute path (on every platform: an explicit choice), else
/// `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows, `~/.cache` elsewhere. `None` when
/// none of them is known.
pub fn root(env: &CacheEnv, platform: Platform) -> Option<PathBuf> {
    let base = match (&env.xdg_cache_home, platform) {
        (Some(xdg), _) if xdg.is_absolute() => Some(xdg.clone()),
        (_, Platform::MacOs) => env.home.as_ref().map(|home| home.join("Library/Caches")),
        (_, Platform::Windows) => env.local_app_data.clone(),
        (_, Platform::Xdg) => env.home.as_ref().map(|home| home.join(".cache")),
    };
    base.map(|base| base.join("sentinel-tvm").join("lambda"))
}

/// `root` for this process, or an error naming the fix.
pub fn root_here() -> Result<PathBuf> {
    root(&CacheEnv::from_env(), Platform::this()).ok_or_else(|| {
        Fixable::new(
            "there is no cache folder to build the Lambda in: neither XDG_CACHE_HOME nor a home folder is known",
            "set XDG_CACHE_HOME to a writable folder, or pass `--lambda-zip PATH` with a prebuilt zip",
        )
        .into()
    })
}

/// The folders and files under the cache folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    /// cargo's target folder, shared by every key: a new key (another version of the sources or
    /// the compiler) recompiles only what changed.
    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }

    /// The tool versions learned under a fingerprint (`tools::fingerprint`).
    pub fn tool_versions(&self, fingerprint: &str) -> PathBuf {
        self.root.join("tools").join(format!("{fingerprint}.json"))
    }

    /// Everything of one key's build.
    pub fn build_dir(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The sources, written out for cargo.
    pub fn workspace(&self, key: &str) -> PathBuf {
        self.build_dir(key).join("workspace")
    }

    /// Where cargo-lambda puts the zip (`--lambda-dir` is the build folder).
    pub fn zip(&self, key: &str) -> PathBuf {
        self.build_dir(key).join("bootstrap").join("bootstrap.zip")
    }

    fn record(&self, key: &str) -> PathBuf {
        self.build_dir(key).join("build.json")
    }
}

/// Everything that goes into a build.
#[derive(Debug, Clone)]
pub struct KeyInputs<'a> {
    /// `embedded::digest`: the Lambda's sources, the manifest and the lock file.
    pub sources: &'a str,
    pub profile: &'a str,
    pub architecture: Architecture,
    pub tools: &'a ToolVersions,
    /// Variables that change what cargo builds (`build_variables`).
    pub variables: &'a [(String, String)],
    /// Cargo configuration files that apply to the build, with their content's SHA-256.
    pub cargo_config: &'a [(PathBuf, String)],
}

/// The key: SHA-256 (hex) of every input, each on a line of its own.
pub fn key(inputs: &KeyInputs) -> String {
    let KeyInputs { sources, profile, architecture, tools, variables, cargo_config } = inputs;
    let mut text = format!(
        "sentinel-tvm lambda build 1\nsources {sources}\nprofile {profile}\narchitecture {}\nrustc {}\ncargo-lambda {}\nzig {:?}\n",
        architecture.as_str(),
        tools.rustc,
        tools.cargo_lambda,
        tools.zig
    );
    for (name, value) in *variables {
        text.push_str(&format!("variable {name}={value:?}\n"));
    }
    for (path, sha256) in *cargo_config {
        text.push_str(&format!("cargo-config {} {sha256}\n", path.display()));
    }
    crate::deploy::stacks::sha256_hex(text.as_bytes())
}

/// The variables (of `all`) that change what cargo or cargo-lambda builds, sorted.
pub fn build_variables(all: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    const NAMES: [&str; 3] = ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"];
    const PREFIXES: [&str; 4] = [
        "CARGO_PROFILE_LAMBDA_",
        "CARGO_LAMBDA_",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_",
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_",
    ];
    let mut chosen: Vec<(String, String)> = all
        .into_iter()
        .filter(|(name, _)| NAMES.contains(&name.as_str()) || PREFIXES.iter().any(|prefix| name.starts_with(prefix)))
        .collect();
    chosen.sort();
    chosen
}

/// The cargo configuration files cargo would read for a build under `root`: `.cargo/config.toml`
/// (and the older `.cargo/config`) in `root` and every folder above it, then in `cargo_home`.
pub fn cargo_config_candidates(root: &Path, cargo_home: &Path) -> Vec<PathBuf> {
    let in_folder = |dir: &Path| [dir.join("config.toml"), dir.join("config")];
    root.ancestors().flat_map(|dir| in_folder(&dir.join(".cargo"))).chain(in_folder(cargo_home)).collect()
}

/// Those of `candidates` that exist, with their content's SHA-256.
pub fn cargo_config_files(candidates: &[PathBuf]) -> Vec<(PathBuf, String)> {
    candidates
        .iter()
        .filter_map(|path| {
            std::fs::read(path).ok().map(|text| (path.clone(), crate::deploy::stacks::sha256_hex(&text)))
        })
        .collect()
}

/// What is kept beside a built zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub size: u64,
    pub sha256: String,
    pub checksum_sha256: String,
}

impl Record {
    pub fn of(artifact: &Artifact) -> Record {
        Record {
            size: artifact.size,
            sha256: artifact.sha256.clone(),
            checksum_sha256: artifact.checksum_sha256.clone(),
        }
    }
}

/// The zip built under `key`, from its record: `None` when there is no complete build (no
/// record, or a zip that is gone or not the size recorded). Reads the record and one `stat`.
pub fn built(layout: &Layout, key: &str) -> Option<Artifact> {
    let record: Record = serde_json::from_slice(&std::fs::read(layout.record(key)).ok()?).ok()?;
    let path = layout.zip(key);
    (std::fs::metadata(&path).ok()?.len() == record.size).then_some(Artifact {
        path,
        size: record.size,
        sha256: record.sha256,
        checksum_sha256: record.checksum_sha256,
    })
}

/// Keeps the tool versions learned under a fingerprint (`Layout::tool_versions`).
pub fn keep(file: &Path, versions: &ToolVersions) -> Result<()> {
    write_atomically(file, &serde_json::to_vec_pretty(versions).context("cannot write the tool versions")?)
}

/// Records `artifact` as the build of `key`: the last step of a build.
pub fn record(layout: &Layout, key: &str, artifact: &Artifact) -> Result<()> {
    let text = serde_json::to_vec_pretty(&Record::of(artifact)).context("cannot write the build record")?;
    write_atomically(&layout.record(key), &text)
}

/// Writes `path` through a temporary file and a rename, so a reader sees all of it or nothing.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let folder = path.parent().context("a cache file has a folder")?;
    std::fs::create_dir_all(folder).with_context(|| format!("cannot create `{}`", folder.display()))?;
    let temporary = folder.join(format!(".{}.{}", std::process::id(), path.file_name().unwrap_or_default().display()));
    std::fs::write(&temporary, bytes).with_context(|| format!("cannot write `{}`", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_folder_is_the_platforms() {
        let home = Some(PathBuf::from("/home/a"));
        let env = |xdg: Option<&str>, home: Option<PathBuf>, local: Option<&str>| CacheEnv {
            xdg_cache_home: xdg.map(PathBuf::from),
            home,
            local_app_data: local.map(PathBuf::from),
        };
        for (env, platform, root_is) in [
            (env(None, home.clone(), None), Platform::Xdg, Some("/home/a/.cache/sentinel-tvm/lambda")),
            (env(Some("/x"), home.clone(), None), Platform::Xdg, Some("/x/sentinel-tvm/lambda")),
            (env(Some("relative"), home.clone(), None), Platform::Xdg, Some("/home/a/.cache/sentinel-tvm/lambda")),
            (env(None, home.clone(), None), Platform::MacOs, Some("/home/a/Library/Caches/sentinel-tvm/lambda")),
            (env(Some("/x"), home.clone(), None), Platform::MacOs, Some("/x/sentinel-tvm/lambda")),
            (env(None, home.clone(), Some("/l")), Platform::Windows, Some("/l/sentinel-tvm/lambda")),
            (env(None, home.clone(), None), Platform::Windows, None),
            (env(None, None, None), Platform::Xdg, None),
        ] {
            assert_eq!(root(&env, platform), root_is.map(PathBuf::from), "{env:?} on {platform:?}");
        }
    }

    fn tools() -> ToolVersions {
        ToolVersions {
            rustc: "rustc 1.95.0\nhost: x86_64".into(),
            cargo_lambda: "cargo-lambda 1.9.2".into(),
            zig: None,
        }
    }

    #[test]
    fn the_key_changes_with_every_input_and_nothing_else() {
        let tools = tools();
        let base = KeyInputs {
            sources: "s",
            profile: "lambda",
            architecture: Architecture::X86_64,
            tools: &tools,
            variables: &[],
            cargo_config: &[],
        };
        assert_eq!(key(&base), key(&base.clone()));
        assert_eq!(key(&base).len(), 64);
        let newer_rustc = ToolVersions { rustc: "rustc 1.96.0\nhost: x86_64".into(), ..tools.clone() };
        let newer_lambda = ToolVersions { cargo_lambda: "cargo-lambda 1.9.3".into(), ..tools.clone() };
        let with_zig = ToolVersions { zig: Some("0.14.1".into()), ..tools.clone() };
        let flags = [("RUSTFLAGS".to_string(), "-Ctarget-cpu=native".to_string())];
        let config = [(PathBuf::from("/h/.cargo/config.toml"), "c".to_string())];
        for (what, changed) in [
            ("sources", KeyInputs { sources: "t", ..base.clone() }),
            ("profile", KeyInputs { profile: "release", ..base.clone() }),
            ("architecture", KeyInputs { architecture: Architecture::Arm64, ..base.clone() }),
            ("rustc", KeyInputs { tools: &newer_rustc, ..base.clone() }),
            ("cargo-lambda", KeyInputs { tools: &newer_lambda, ..base.clone() }),
            ("zig", KeyInputs { tools: &with_zig, ..base.clone() }),
            ("RUSTFLAGS", KeyInputs { variables: &flags, ..base.clone() }),
            ("cargo config", KeyInputs { cargo_config: &config, ..base.clone() }),
        ] {
            assert_ne!(key(&changed), key(&base), "{what}");
        }
    }

    #[test]
    fn only_variables_that_change_the_build_are_kept() {
        let all = [
            ("RUSTFLAGS", "-Copt-level=1"),
            ("CARGO_PROFILE_LAMBDA_OPT_LEVEL", "3"),
            ("CARGO_LAMBDA_COMPILER", "cross"),
            ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER", "clang"),
            ("CARGO_TARGET_DIR", "/t"),
            ("CARGO_MANIFEST_DIR", "/src"),
            ("CARGO_PKG_VERSION", "0.1.0"),
            ("PATH", "/bin"),
            ("HOME", "/home/a"),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string()));
        let kept: Vec<String> = build_variables(all).into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            kept,
            [
                "CARGO_LAMBDA_COMPILER",
                "CARGO_PROFILE_LAMBDA_OPT_LEVEL",
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
                "RUSTFLAGS"
            ]
        );
    }

    #[test]
    fn cargo_configuration_is_looked_for_above_the_build_and_in_cargo_home() {
        let found = cargo_config_candidates(Path::new("/c/lambda"), Path::new("/h/.cargo"));
        let shown: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            shown,
            [
                "/c/lambda/.cargo/config.toml",
                "/c/lambda/.cargo/config",
                "/c/.cargo/config.toml",
                "/c/.cargo/config",
                "/.cargo/config.toml",
                "/.cargo/config",
                "/h/.cargo/config.toml",
                "/h/.cargo/config",
            ]
        );
    }

    #[test]
    fn a_build_counts_only_with_its_record_and_its_zip() {
        let root = std::env::temp_dir().join(format!("sentinel-tvm-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let layout = Layout { root: root.clone() };
        let zip = layout.zip("k");
        std::fs::create_dir_all(zip.parent().unwrap()).unwrap();
        std::fs::write(&zip, b"zip").unwrap();
        assert_eq!(built(&layout, "k"), None, "no record: an interrupted build");
        let artifact = Artifact { path: zip.clone(), size: 3, sha256: "a".repeat(64), checksum_sha256: "c".into() };
        record(&layout, "k", &artifact).unwrap();
        assert_eq!(built(&layout, "k"), Some(artifact));
        assert_eq!(built(&layout, "other"), None);
        std::fs::write(&zip, b"zip, rebuilt halfway").unwrap();
        assert_eq!(built(&layout, "k"), None, "not the size recorded");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
