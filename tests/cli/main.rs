//! The binary as a user meets it: help, version, exit codes. No AWS involved.

use std::process::{Command, Output};

fn sentinel_tvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_command_of_the_design() {
    let output = sentinel_tvm(&["--help"]);
    assert!(output.status.success());
    for command in ["install", "upgrade", "diff", "status", "smoke-test", "teardown", "policy"] {
        assert!(
            stdout(&output).contains(&format!("\n  {command} ")),
            "`{command}` missing from --help:\n{}",
            stdout(&output)
        );
    }
}

#[test]
fn version_names_the_package_version() {
    let output = sentinel_tvm(&["--version"]);
    assert!(output.status.success());
    assert_eq!(stdout(&output), format!("sentinel-tvm {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn an_unknown_flag_is_a_usage_error_with_exit_code_2() {
    let output = sentinel_tvm(&["status", "--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--no-such-flag"), "{}", stderr(&output));
}
