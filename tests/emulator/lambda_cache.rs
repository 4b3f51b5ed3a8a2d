//! The installer's own Lambda build, cached, against the emulator through the real binary: an
//! install without `--lambda-zip` finds the build `scripts/test` made with the installer's `build`
//! (the same key: the same sources and tools), and then a no-op `upgrade --yes
//! --skip-smoke-test` with no other flag runs no cargo, cargo-lambda or rustc at all: it neither
//! builds nor asks a tool its version, nor reads the zip.
//!
//! How "no call" is seen: the run's PATH starts with shims for `cargo`, `cargo-lambda` and
//! `rustc` that log every call and pass it to the real tool, and refuse (exit 97) once a `forbid`
//! file exists. The install's own calls show in the log (so the shims are where the tools are
//! looked for); the upgrade, after `forbid`, must add none.

use std::path::{Path, PathBuf};

use sentinel_tvm::deploy::stacks::Part;

use crate::support::{Workdir, unique_name};
use crate::{emulator_or_skip, seeded_lambda_cache_or_skip};

#[tokio::test]
async fn a_no_op_upgrade_runs_no_cargo_cargo_lambda_or_rustc() {
    let emulator = emulator_or_skip!();
    seeded_lambda_cache_or_skip!();
    let env = unique_name("nc");
    let dir = Workdir::new(&env);
    let shims = dir.path.join("shims");
    let log = dir.path.join("tool-calls.log");
    let forbid = dir.path.join("forbid");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let real: Vec<PathBuf> = std::env::split_paths(&path).collect();
    std::fs::create_dir_all(&shims).unwrap();
    for tool in ["cargo", "cargo-lambda", "rustc"] {
        let found =
            real.iter().map(|dir| dir.join(tool)).find(|p| p.is_file()).unwrap_or_else(|| panic!("no {tool} on PATH"));
        shim(&shims.join(tool), &found, &log, &forbid);
    }
    let shimmed = std::env::join_paths(std::iter::once(shims.clone()).chain(real)).unwrap();
    let run = |args: &[&str]| emulator.sentinel_tvm_on_path(&dir, args, &shimmed);

    let install =
        run(&["--env", &env, "--yes", "install", "--architecture", "x86_64", "--protect", "app", "--skip-smoke-test"]);
    install.assert_code(0);
    assert!(install.stderr.contains("is built already"), "the install found the seeded build:\n{}", install.stderr);
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(calls.contains("cargo lambda --version"), "the shims are where the tools are looked for:\n{calls}");

    std::fs::write(&forbid, "").unwrap();
    let upgrade = run(&["--yes", "upgrade", "--skip-smoke-test"]);
    upgrade.assert_code(0);
    let after = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(after, calls, "the no-op upgrade ran a tool:\n{}", upgrade.stderr);
    assert!(upgrade.stderr.contains("is built already"), "{}", upgrade.stderr);
    assert!(!upgrade.stderr.contains("uploaded"), "the code in the bucket is trusted, not uploaded again");
    assert!(emulator.stack_exists(&Part::Api.stack_name(&env)).await);

    run(&["--env", &env, "--yes", "teardown", "--delete-logs"]).assert_code(0);
}

/// A shell script at `at` that logs `<tool> ARGS…` to `log`, refuses while `forbid` exists, and
/// otherwise runs `real` with the same arguments.
fn shim(at: &Path, real: &Path, log: &Path, forbid: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let tool = at.file_name().unwrap().to_string_lossy();
    let script = format!(
        "#!/bin/sh\necho \"{tool} $*\" >> '{}'\n[ -e '{}' ] && exit 97\nexec '{}' \"$@\"\n",
        log.display(),
        forbid.display(),
        real.display()
    );
    std::fs::write(at, script).unwrap();
    std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o755)).unwrap();
}
