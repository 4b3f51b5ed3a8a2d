//! Packs what building the TVM Lambda takes into the installer, so an installed binary builds it
//! with no checkout (`src/deploy/build/embedded.rs` reads the result): the workspace's manifest
//! and lock file as they are, and every file of the Lambda package but its tests. `lambda/` is
//! walked, not listed, so a file added there is carried without a change here.
//!
//! The files are copied into OUT_DIR and included from there, never from this checkout: a
//! binary built from a copy of the source that is then deleted must still compile again from the
//! same target directory (cargo names workspace members by their path in the workspace, so the
//! copy and the checkout share build outputs).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// The workspace files the Lambda's build reads besides `lambda/`.
const WORKSPACE_FILES: [&str; 2] = ["Cargo.toml", "Cargo.lock"];

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files: Vec<String> = WORKSPACE_FILES.iter().map(|name| name.to_string()).collect();
    walk(&root, "lambda", &mut files);
    files.sort();

    let copies = out.join("lambda-workspace");
    let _ = fs::remove_dir_all(&copies);
    let mut list = String::from("&[\n");
    for file in &files {
        let copy = copies.join(file);
        fs::create_dir_all(copy.parent().expect("a file has a folder")).expect("OUT_DIR is writable");
        fs::copy(root.join(file), &copy).unwrap_or_else(|e| panic!("cannot copy `{file}` into OUT_DIR: {e}"));
        let included = format!("/lambda-workspace/{file}");
        writeln!(list, "    ({file:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), {included:?}))),").expect("a String");
    }
    list.push_str("]\n");
    fs::write(out.join("lambda_workspace.rs"), list).expect("OUT_DIR is writable");

    for watched in WORKSPACE_FILES.iter().chain(&["lambda"]) {
        println!("cargo:rerun-if-changed={watched}");
    }
}

/// Every file under `dir` (relative to `root`, `/`-separated) but the package's tests (not part of
/// its build, and large fixtures), a `target` folder and hidden files.
fn walk(root: &Path, dir: &str, files: &mut Vec<String>) {
    let entries = fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("cannot read `{dir}`: {e}"));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read `{dir}`: {e}"));
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{dir}/{name}");
        if name.starts_with('.') || path == "lambda/tests" || name == "target" {
            continue;
        }
        if entry.file_type().expect("a file type").is_dir() {
            walk(root, &path, files);
        } else {
            files.push(path);
        }
    }
}
