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
    for command in [
        "install",
        "upgrade",
        "diff",
        "status",
        "smoke-test",
        "teardown",
        "policy",
        "scp",
        "credentials",
        "exec",
        "profiles",
    ] {
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

fn sentinel_tvm_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"))
        .args(args)
        .current_dir(dir)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SENTINEL_TVM_ENV")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the binary runs")
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn policy_validate_accepts_a_good_file_and_names_the_line_of_a_bad_one() {
    let dir = scratch("policy");
    std::fs::write(
        dir.join("good.yaml"),
        "version: \"1\"\nrules:\n  - {name: dev, effect: allow, conditions: {profiles: [dev]}}\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad.yaml"), "version: \"1\"\nrules:\n  - name: dev\n    effect: allow\n    conditions: {profiles: [dev], time: {days: [someday]}}\n").unwrap();

    let good = sentinel_tvm_in(&dir, &["policy", "validate", "good.yaml"]);
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    assert_eq!(stdout(&good), "good.yaml: valid (1 rule)\n");

    let bad = sentinel_tvm_in(&dir, &["policy", "validate", "bad.yaml"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("bad.yaml:5: rule `dev`: conditions.time.days: `someday` is not a day"),
        "{}",
        stderr(&bad)
    );
    assert!(stderr(&bad).contains("hint:"), "{}", stderr(&bad));
}

#[test]
fn without_an_environment_or_a_terminal_the_error_names_the_flag() {
    let dir = scratch("no-env");
    let run = sentinel_tvm_in(&dir, &["install", "--yes"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("no environment given") && stderr(&run).contains("--env"), "{}", stderr(&run));
}

#[test]
fn bad_settings_are_refused_before_anything_reaches_aws() {
    let dir = scratch("bad-settings");
    for (args, expected) in [
        (&["--env", "Prod_1", "status"][..], "`Prod_1` is not a valid environment name"),
        (&["--env", "main", "install", "--protect", "a/b"][..], "--protect (config key `protect`)"),
        (
            &["--env", "main", "install", "--log-retention-days", "10"][..],
            "--log-retention-days (config key `log_retention_days`)",
        ),
    ] {
        let run = sentinel_tvm_in(&dir, args);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(stderr(&run).contains(expected), "{args:?}: {}", stderr(&run));
    }
    std::fs::write(dir.join("sentinel-tvm.yaml"), "environments:\n  main:\n    region: eu-west-2\n    colour: blue\n")
        .unwrap();
    let run = sentinel_tvm_in(&dir, &["--env", "main", "status"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("line 4") && stderr(&run).contains("colour"), "{}", stderr(&run));
}

#[test]
fn policy_init_writes_a_valid_starter_from_the_saved_settings_and_never_overwrites() {
    let dir = scratch("policy-init");
    let fresh = sentinel_tvm_in(&dir, &["policy", "init"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", stderr(&fresh));
    assert!(stdout(&fresh).contains("starter policy for `main` with 0 active rules"), "{}", stdout(&fresh));
    let validate = sentinel_tvm_in(&dir, &["policy", "validate", "policy.yaml"]);
    assert_eq!(validate.status.code(), Some(0), "{}", stderr(&validate));

    let again = sentinel_tvm_in(&dir, &["policy", "init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists") && stderr(&again).contains("--force"), "{}", stderr(&again));

    // Installed, but nobody named to call it: no rule, and the file says why (T9).
    let config = "environments:\n  dev:\n    expected_account: '111122223333'\n    region: cn-north-1\n    protect: [app, db=arn:aws:iam::aws:policy/ReadOnlyAccess]\n";
    std::fs::write(dir.join("sentinel-tvm.yaml"), config).unwrap();
    let nobody = sentinel_tvm_in(&dir, &["policy", "init", "--force"]);
    assert_eq!(nobody.status.code(), Some(0), "{}", stderr(&nobody));
    assert!(stdout(&nobody).contains("`dev` with 0 active rules;"), "{}", stdout(&nobody));
    let text = std::fs::read_to_string(dir.join("policy.yaml")).unwrap();
    assert!(text.contains("# No invoker role or user is configured") && !text.contains("accounts:"), "{text}");

    // With invokers: exactly them, by the ARN their calls carry; a group is left out, said why.
    let invokers = format!("{config}    invoker_roles: [Developers]\n    invoker_groups: [Admins]\n");
    std::fs::write(dir.join("sentinel-tvm.yaml"), invokers).unwrap();
    let saved = sentinel_tvm_in(&dir, &["policy", "init", "--force"]);
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
    let text = std::fs::read_to_string(dir.join("policy.yaml")).unwrap();
    assert!(text.contains("profiles: [dev-app, dev-db]"), "{text}");
    assert!(text.contains("principals: [\"arn:aws-cn:sts::111122223333:assumed-role/Developers/*\"]"), "{text}");
    assert!(!text.contains("accounts: [") && text.contains("# Group `Admins` is left out"), "{text}");
    assert!(stdout(&saved).contains("`dev` with 1 active rule;"), "{}", stdout(&saved));
    assert!(
        stderr(&saved).contains("invoker group `Admins` is left out of the starter policy")
            && stderr(&saved).contains("arn:aws-cn:iam::111122223333:user/<path>/<member>"),
        "{}",
        stderr(&saved)
    );
}

#[test]
fn the_tvm_profile_and_the_aws_profile_are_different_flags_in_either_order() {
    let dir = scratch("profiles-flags");
    for args in [
        &["credentials", "--profile", "main-app", "--endpoint", "http://127.0.0.1:1/", "--aws-profile", "nope"][..],
        &["--aws-profile", "nope", "credentials", "--profile", "main-app", "--endpoint", "http://127.0.0.1:1/"][..],
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"))
            .args(args)
            .current_dir(&dir)
            .env_clear()
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // A named AWS profile wins over exported keys, as `--profile` does for the AWS CLI.
            .env("AWS_ACCESS_KEY_ID", "AKIAEXPORTED")
            .env("AWS_SECRET_ACCESS_KEY", "exported")
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        // Parsed, and the missing profile is not papered over by the exported keys.
        assert!(stderr(&run).contains("cannot read your AWS credentials"), "{args:?}: {}", stderr(&run));
    }
}

/// Every stdout line of a `--output json` run, each parsed as one JSON object.
fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            value
        })
        .collect()
}

#[test]
fn with_output_json_policy_validate_prints_json_lines_for_a_result_and_for_an_error() {
    let dir = scratch("policy-json");
    std::fs::write(
        dir.join("good.yaml"),
        "version: \"1\"\nrules:\n  - {name: dev, effect: allow, conditions: {profiles: [dev]}}\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad.yaml"), "version: \"1\"\nrules:\n  - name: dev\n    effect: maybe\n").unwrap();

    let good = sentinel_tvm_in(&dir, &["--output", "json", "policy", "validate", "good.yaml"]);
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    let lines = json_lines(&good);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0]["type"].as_str(), lines[0]["outcome"].as_str(), lines[0]["rules"].as_u64()),
        (Some("result"), Some("valid"), Some(1))
    );

    let bad = sentinel_tvm_in(&dir, &["--output", "json", "policy", "validate", "bad.yaml"]);
    assert_eq!(bad.status.code(), Some(2));
    let lines = json_lines(&bad);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "error", "{lines:?}");
    let message = lines[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("bad.yaml:4") && message.contains("effect"), "{message}");
    assert!(lines[0]["hint"].is_string(), "{lines:?}");
}

#[test]
fn with_output_json_a_usage_level_error_is_a_json_line_too() {
    let dir = scratch("json-error");
    let run = sentinel_tvm_in(&dir, &["--output", "json", "--env", "Prod_1", "status"]);
    assert_eq!(run.status.code(), Some(2));
    let lines = json_lines(&run);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "error");
    assert!(lines[0]["message"].as_str().unwrap_or_default().contains("`Prod_1` is not a valid environment name"));
    assert!(stderr(&run).contains("error:"), "people still read it on stderr: {}", stderr(&run));
}
