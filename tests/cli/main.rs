//! The binary as a user meets it: help, version, exit codes. No AWS involved.

use std::process::{Command, Output};

mod client;

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
        "build",
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
fn policy_validate_refuses_a_pattern_no_caller_matches_and_names_the_form_that_would() {
    let dir = scratch("policy-principals");
    let role = "version: \"1\"\nrules:\n  - name: no-contractors\n    effect: deny\n    conditions:\n      principals: [\"arn:aws:iam::111122223333:role/Contractors\"]\n";
    std::fs::write(dir.join("role.yaml"), role).unwrap();
    let refused = sentinel_tvm_in(&dir, &["policy", "validate", "role.yaml"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("role.yaml:6: rule `no-contractors`: conditions.principals: `arn:aws:iam::111122223333:role/Contractors` matches no caller ARN")
            && stderr(&refused).contains("write `arn:aws:sts::111122223333:assumed-role/Contractors/*`"),
        "{}",
        stderr(&refused)
    );

    // Valid, but worth a second look: a warning on stderr, exit 0.
    let loose = "version: \"1\"\nrules:\n  - {name: anywhere, effect: allow, conditions: {principals: [\"arn:aws:sts::*:assumed-role/Dev/*\"]}}\n";
    std::fs::write(dir.join("loose.yaml"), loose).unwrap();
    let warned = sentinel_tvm_in(&dir, &["policy", "validate", "loose.yaml"]);
    assert_eq!(warned.status.code(), Some(0), "{}", stderr(&warned));
    assert!(
        stderr(&warned).contains(
            "line 3: rule `anywhere`: principals: `arn:aws:sts::*:assumed-role/Dev/*` matches callers of any account"
        ),
        "{}",
        stderr(&warned)
    );
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
        assert!(stderr(&run).contains("the AWS profile `nope` is not defined"), "{args:?}: {}", stderr(&run));
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

#[test]
fn a_named_aws_profile_that_no_file_defines_is_named_before_any_call() {
    let dir = scratch("missing-profile");
    let config = dir.join("aws-config");
    std::fs::write(&config, "[profile other]\nregion = eu-west-2\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"))
        // A closed port: were any call made, it would fail otherwise.
        .args(["--aws-profile", "nope", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"])
        .args(["--env", "main", "status"])
        .current_dir(&dir)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(said.contains("the AWS profile `nope` is not defined"), "{said}");
    assert!(said.contains("aws configure list-profiles"), "{said}");
}

/// An SSO profile whose cached token expired (and holds no refresh token, so nothing is asked of
/// any SSO endpoint): the fix named is `aws sso login`, not the network.
#[test]
fn an_expired_sso_session_is_named_with_its_fix() {
    let home = scratch("expired-sso");
    std::fs::create_dir_all(home.join(".aws/sso/cache")).unwrap();
    std::fs::write(
        home.join(".aws/config"),
        "[profile corp]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n",
    )
    .unwrap();
    // The SDK finds a session's token under the SHA-1 of the session's name.
    let output = Command::new("sh").args(["-c", "printf corp | sha1sum | cut -d' ' -f1"]).output().unwrap();
    let name_hash = String::from_utf8(output.stdout).unwrap().trim().to_string();
    let cache = home.join(format!(".aws/sso/cache/{name_hash}.json"));
    std::fs::write(
        &cache,
        r#"{"startUrl":"https://example.awsapps.com/start","region":"us-east-1","accessToken":"expired","expiresAt":"2020-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"))
        // Closed loopback ports everywhere: nothing reaches a real address.
        .args(["--aws-profile", "corp", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"])
        .args(["--env", "main", "status"])
        .current_dir(&home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("your AWS SSO session has expired: run `aws sso login`"), "{}", stderr(&output));
}

/// No credentials at all, and an endpoint that refuses connections: each named with its own fix.
#[test]
fn no_credentials_and_a_refusing_endpoint_each_get_their_own_diagnosis() {
    let dir = scratch("diagnosis");
    let run = |keys: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"));
        command
            .args(["--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9", "--env", "main", "status"])
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if keys {
            command.env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE").env("AWS_SECRET_ACCESS_KEY", "secret");
        }
        command.output().unwrap()
    };
    let none = run(false);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("no AWS credentials found: pass `--aws-profile NAME`"), "{}", stderr(&none));
    let refused = run(true);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("AWS could not be reached"), "{}", stderr(&refused));
}
