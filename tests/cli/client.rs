//! The client commands where no TVM answers: what they refuse before calling it, and a
//! `credential_process` profile that calls itself, through the AWS SDK in `sentinel-tvm` and
//! through the awscli, refused in one step. Every address is a closed port on 127.0.0.1; the
//! base credentials are made up, and never sent anywhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{scratch, stderr};

const BINARY: &str = env!("CARGO_BIN_EXE_sentinel-tvm");
/// A TVM URL in the emulator's path form on a closed port: nothing is ever sent there.
const NOWHERE: &str = "http://127.0.0.1:9/_aws/execute-api/a1b2c3/";
/// The most `sentinel-tvm` processes one case may start before the fuse (`shim`) stops it.
const FUSE: usize = 6;
/// How long one case may run before its process group is killed.
const PATIENCE: Duration = Duration::from_secs(60);

/// A command with no AWS configuration of the machine's, no instance metadata and every AWS
/// address a closed loopback port.
fn isolated(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null());
    command
}

fn with_keys(mut command: Command) -> Command {
    command.env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12").env("AWS_SECRET_ACCESS_KEY", "made-up");
    command
}

#[test]
fn an_out_of_range_duration_is_refused_before_anything_else_naming_the_range() {
    let dir = scratch("client-duration");
    for args in [
        &["credentials", "--profile", "main-app", "--endpoint", NOWHERE, "--duration", "300"][..],
        &["exec", "--profile", "main-app", "--endpoint", NOWHERE, "--duration", "7200", "--", "true"][..],
    ] {
        // No credentials at all: a run that got past the duration would fail on them instead.
        let run = isolated(BINARY, &dir).args(args).output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        let said = stderr(&run);
        assert!(said.contains("is outside 900..3600 seconds") && said.contains("hint:"), "{said}");
    }
}

#[test]
fn with_an_endpoint_no_sentinel_tvm_yaml_is_read_and_each_failure_says_what_to_do() {
    let dir = scratch("client-endpoint");
    std::fs::write(dir.join("sentinel-tvm.yaml"), "environments: [this is: not valid\n").unwrap();

    // No base credentials: the documented message and its fix, not the SDK's "an error occurred".
    let none = isolated(BINARY, &dir).args(["credentials", "--profile", "main-app", "--endpoint", NOWHERE]).output();
    let said = stderr(&none.unwrap());
    assert!(said.starts_with("error: no AWS credentials found to sign the request to the TVM with\n"), "{said}");
    assert!(said.contains("hint: no AWS credentials found: pass `--aws-profile NAME`"), "{said}");
    assert!(!said.contains("sentinel-tvm.yaml"), "the deployer's file is none of a client's business: {said}");

    // A TVM that cannot be reached: the endpoint and the network, after the retries.
    let unreachable = with_keys(isolated(BINARY, &dir))
        .args(["credentials", "--profile", "main-app", "--endpoint", NOWHERE])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    let said = stderr(&unreachable);
    assert!(said.contains("cannot reach the TVM at"), "{said}");
    assert!(said.contains(&format!("hint: check the endpoint `{NOWHERE}`")) && said.contains("network"), "{said}");

    // Without `--endpoint` the file is the deployer's settings, and read.
    let env = with_keys(isolated(BINARY, &dir)).args(["credentials", "--profile", "main-app"]).output().unwrap();
    assert!(stderr(&env).contains("sentinel-tvm.yaml"), "{}", stderr(&env));
}

#[test]
fn a_sentinel_tvm_started_with_the_mark_refuses_at_once_naming_aws_profile() {
    let dir = scratch("client-mark");
    for args in [&["credentials", "--profile", "main-app", "--endpoint", NOWHERE][..], &["--version"][..]] {
        let run = isolated(BINARY, &dir).args(args).env("SENTINEL_TVM_CREDENTIAL_LOOKUP", "1").output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert_eq!(run.stdout, b"", "{args:?}");
        assert!(stderr(&run).contains("`--aws-profile NAME`"), "{}", stderr(&run));
    }
}

/// A `credential_process` profile that runs `sentinel-tvm credentials` without `--aws-profile`,
/// selected by AWS_PROFILE or written as `[default]`: `sentinel-tvm` asks that very profile for its
/// base credentials. Run through `sentinel-tvm` itself (the Rust SDK runs the line) and through
/// the awscli (botocore runs it): each refused in one step, at most one nested `sentinel-tvm`, and
/// one message naming `--aws-profile`.
#[test]
fn a_profile_that_calls_itself_is_refused_in_one_step() {
    let awscli = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/aws");
    if !awscli.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing, but CI installs it (scripts/tools)",
            awscli.display()
        );
        eprintln!(
            "note: no awscli at {}; only the sentinel-tvm half runs (`scripts/tools` installs it)",
            awscli.display()
        );
    }
    for (outer, via_default) in [("sentinel-tvm", false), ("sentinel-tvm", true), ("aws", false), ("aws", true)] {
        if outer == "aws" && !awscli.is_file() {
            continue;
        }
        let case = format!("{outer}, {}", if via_default { "[default]" } else { "AWS_PROFILE" });
        let dir = scratch(&format!("client-loop-{outer}-{via_default}"));
        let shim = shim(&dir);
        let line =
            format!("credential_process = {} credentials --profile main-app --endpoint {NOWHERE}\n", shim.display());
        let section = if via_default { "[default]" } else { "[profile loop]" };
        std::fs::write(dir.join("aws-config"), format!("{section}\nregion = us-east-1\n{line}")).unwrap();
        let mut command = match outer {
            "aws" => {
                let mut command = isolated(&awscli, &dir);
                command.args(["sts", "get-caller-identity"]);
                command
            }
            _ => {
                let mut command = isolated(&shim, &dir);
                command.args(["credentials", "--profile", "main-app", "--endpoint", NOWHERE]);
                command
            }
        };
        command.env("AWS_CONFIG_FILE", dir.join("aws-config"));
        if !via_default {
            command.env("AWS_PROFILE", "loop");
        }
        let run = bounded(command, &case);
        let starts = std::fs::read_to_string(dir.join("starts")).unwrap_or_default().lines().count();
        let said = stderr(&run);
        assert!(!said.contains("fuse"), "{case}: it ran away (the fuse stopped it): {said}");
        assert_eq!(starts, 2, "{case}: the outer sentinel-tvm and one nested one: {said}");
        assert_ne!(run.status.code(), Some(0), "{case}");
        assert_eq!(said.matches("hint:").count(), 1, "{case}: one message: {said}");
        assert!(said.contains("`--aws-profile NAME`"), "{case}: {said}");
        let profile = if via_default { "`default`" } else { "`loop`" };
        assert!(
            said.contains(&format!("the AWS profile {profile} gets them by running sentinel-tvm")),
            "{case}: {said}"
        );
    }
}

/// `dir/sentinel-tvm`: counts its starts in `dir/starts` and runs the real binary, except past
/// `FUSE` starts, when it refuses: whatever the code under test does, the nesting ends there.
fn shim(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("sentinel-tvm");
    let starts = dir.join("starts");
    let script = format!(
        "#!/bin/sh\necho $$ >> '{starts}'\nif [ \"$(wc -l < '{starts}')\" -gt {FUSE} ]; then echo 'fuse: too many nested sentinel-tvm' >&2; exit 99; fi\nexec '{BINARY}' \"$@\"\n",
        starts = starts.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs `command` in a process group of its own, killed whole if it outlives `PATIENCE`.
fn bounded(mut command: Command, case: &str) -> Output {
    use std::os::unix::process::CommandExt;
    let child = command.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let group = child.id();
    let started = Instant::now();
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match waited.recv_timeout(PATIENCE) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status();
            panic!("{case}: still running after {:?}; its process group was killed", started.elapsed());
        }
    }
}
