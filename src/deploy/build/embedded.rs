//! The Lambda's sources as this binary carries them (packed by `build.rs`): the workspace's own
//! `Cargo.toml` and `Cargo.lock`, every file of `lambda/` but its tests, and a stand-in for the
//! installer's sources.
//!
//! Why the whole workspace manifest and not a standalone one for the Lambda: `lambda/Cargo.toml`
//! inherits its versions from `[workspace.dependencies]`, and `--locked` accepts a lock file only
//! if resolving the workspace would write exactly that file. A standalone manifest resolves to a
//! smaller graph than the workspace lock lists (the installer and its dependencies, and features
//! unified across both packages), so the lock would have to be generated for it, and would no
//! longer be the one CI tested. The real manifest with the real lock passes `--locked` by
//! construction; the installer's package only needs a `src/main.rs` to be a valid package, and
//! `cargo lambda build -p sentinel-tvm-lambda` never compiles it.

use std::path::Path;

use anyhow::{Context, Result};

/// The installer package's one target in the build directory: never compiled (`-p` builds only
/// the Lambda), present because a package without a target is no package.
pub const STAND_IN_MAIN: &str = "src/main.rs";
const STAND_IN_MAIN_TEXT: &[u8] =
    b"// A stand-in for the installer's sources: only the Lambda (`-p sentinel-tvm-lambda`) is built here.\nfn main() {}\n";

/// `(path relative to the workspace, content)` of every file packed by `build.rs`, sorted by path.
const PACKED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/lambda_workspace.rs"));

/// Every file of the build directory, the stand-in included, sorted by path.
pub fn files() -> Vec<(&'static str, &'static [u8])> {
    let mut files: Vec<_> = PACKED.iter().copied().chain([(STAND_IN_MAIN, STAND_IN_MAIN_TEXT)]).collect();
    files.sort_by_key(|(path, _)| *path);
    files
}

/// SHA-256 (hex) over every file's path and content: what the sources add to the cache key.
pub fn digest(files: &[(&str, &[u8])]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (path, content) in files {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(content);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `files` as the folder `dir`, which appears whole or not at all: they are written beside it
/// and renamed into place. A `dir` that exists was made that way, and is left as it is (another
/// run may be building in it; its key says its content is the same).
pub fn write_into(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let partial = dir.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    for (path, content) in files {
        let target = partial.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&target, content).with_context(|| format!("cannot write `{}`", target.display()))?;
    }
    match std::fs::rename(&partial, dir) {
        Ok(()) => Ok(()),
        // Another run renamed its own copy into place first.
        Err(_) if dir.exists() => Ok(std::fs::remove_dir_all(&partial)?),
        Err(error) => Err(error).with_context(|| format!("cannot write `{}`", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_manifest_lock_and_lambda_package_are_carried_without_its_tests() {
        let files = files();
        let paths: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
        for needed in
            ["Cargo.toml", "Cargo.lock", "lambda/Cargo.toml", "lambda/src/main.rs", "lambda/src/lib.rs", STAND_IN_MAIN]
        {
            assert!(paths.contains(&needed), "{needed} is not carried: {paths:?}");
        }
        assert!(paths.iter().all(|path| !path.starts_with("lambda/tests/")), "{paths:?}");
        assert!(paths.windows(2).all(|pair| pair[0] < pair[1]), "sorted, each once: {paths:?}");
        let manifest = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/lambda/Cargo.toml")).unwrap();
        assert_eq!(files.iter().find(|(path, _)| *path == "lambda/Cargo.toml").unwrap().1, manifest.as_slice());
    }

    #[test]
    fn the_digest_follows_every_path_and_byte() {
        let base: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2")];
        let digest_of = |files: &[(&str, &[u8])]| digest(files);
        assert_eq!(digest_of(base), digest_of(base));
        for changed in [
            &[("a", b"1" as &[u8]), ("b", b"3")][..],
            &[("a", b"1"), ("c", b"2")],
            &[("a", b"12"), ("b", b"")],
            &[("a", b"1")],
        ] {
            assert_ne!(digest_of(base), digest_of(changed), "{changed:?}");
        }
    }

    #[test]
    fn the_folder_appears_whole_and_is_then_left_alone() {
        let parent = std::env::temp_dir().join(format!("sentinel-tvm-embedded-{}", std::process::id()));
        let dir = parent.join("workspace");
        write_into(&dir, &[("Cargo.toml", b"x"), ("lambda/src/lib.rs", b"y")]).unwrap();
        assert_eq!(std::fs::read(dir.join("lambda/src/lib.rs")).unwrap(), b"y");
        let left: Vec<_> = std::fs::read_dir(&parent).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["workspace"], "no partial folder left");
        write_into(&dir, &[("Cargo.toml", b"other")]).unwrap();
        assert_eq!(std::fs::read(dir.join("Cargo.toml")).unwrap(), b"x", "an existing folder is not written over");
        std::fs::remove_dir_all(&parent).unwrap();
    }
}
