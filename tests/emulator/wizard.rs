//! The interactive install, for real: the binary in a pseudo-terminal, every question answered
//! the way a person would (keys, not flags), against the emulator; then the saved file and the
//! deployed stacks are checked. And the promise the saved file makes: installing from flags
//! only and from the file only gives the same stacks.

use std::collections::BTreeMap;
use std::process::Command;

use aws_sdk_cloudformation::Client as Cfn;
use rexpect::reader::{ReadUntil, Regex};
use sentinel_tvm::deploy::stacks::{Part, TAG_TEMPLATE_SHA256};

use crate::emulator_or_skip;
use crate::support::{Emulator, Install, REGION, Workdir, header_only_lambda_zip, unique_name};

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";

/// The binary in a pseudo-terminal in `dir`, as the emulator's root, with no region configured.
fn spawn_in_terminal(emulator: &Emulator, dir: &Workdir, args: &[&str]) -> rexpect::session::PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"));
    command
        .args(args)
        .current_dir(&dir.path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        // Without a region the SDK would ask the EC2 metadata service, off this machine.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1");
    rexpect::session::spawn_command(command, Some(60_000)).expect("the binary starts in a pseudo-terminal")
}

/// Types `keys` (rexpect buffers what it sends until a newline or a flush).
fn press(terminal: &mut rexpect::session::PtySession, keys: &str) {
    terminal.send(keys).unwrap();
    terminal.flush().unwrap();
}

/// Answers every question of a first install; returns what the terminal showed.
fn answer_the_wizard(mut terminal: rexpect::session::PtySession, env: &str) -> String {
    let mut shown = String::new();
    let mut expect = |terminal: &mut rexpect::session::PtySession, text: &str| {
        let before = terminal.exp_string(text).unwrap_or_else(|e| panic!("waiting for `{text}`: {e}\n{shown}"));
        shown.push_str(&before);
        shown.push_str(text);
        // The question is drawn before the terminal is switched to read keys one by one: keys
        // typed in between would wait for a newline that never comes.
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    expect(&mut terminal, "Environment name");
    press(&mut terminal, &format!("{env}{ENTER}"));
    expect(&mut terminal, "AWS region to deploy to");
    press(&mut terminal, &format!("{REGION}{ENTER}"));
    expect(&mut terminal, "account 000000000000");
    expect(&mut terminal, "Lambda architecture");
    press(&mut terminal, DOWN); // x86_64: the test's zip is built for it
    press(&mut terminal, ENTER);
    expect(&mut terminal, "Profiles to protect");
    press(&mut terminal, &format!("app{ENTER}"));
    // Other tests' roles and users may be there to offer, or none at all.
    let invokers = Regex::new("Who may call the TVM|TVM policy file").unwrap();
    let (_, asked) = terminal.exp_any(vec![ReadUntil::Regex(invokers)]).expect("the invoker or policy question");
    std::thread::sleep(std::time::Duration::from_millis(300));
    if asked.starts_with("Who may call") {
        press(&mut terminal, ENTER); // nobody yet
        expect(&mut terminal, "TVM policy file");
    }
    press(&mut terminal, ENTER); // the generated starter policy
    expect(&mut terminal, "Keep the decision log and access log for");
    press(&mut terminal, ENTER); // 90 days
    expect(&mut terminal, "Caller proofs");
    press(&mut terminal, ENTER); // required
    expect(&mut terminal, "Service Control Policy");
    press(&mut terminal, ENTER); // off
    // rexpect reads bytes as single characters: only ASCII can be matched (no ✓).
    expect(&mut terminal, "credentials: valid");
    expect(&mut terminal, "protects         ");
    expect(&mut terminal, "caller proofs    required");
    expect(&mut terminal, "scp              off");
    expect(&mut terminal, &format!("Create environment `{env}` with these settings?"));
    press(&mut terminal, "y");
    expect(&mut terminal, "install: ");
    let rest = terminal.exp_eof().unwrap_or_default();
    shown.push_str(&rest);
    let status = terminal.process().wait().expect("the binary ends");
    // rexpect does not re-export nix's WaitStatus; its Debug form says enough.
    let status = format!("{status:?}");
    assert!(status.starts_with("Exited(") && status.ends_with(", 0)"), "install ended {status}:\n{shown}");
    shown
}

async fn stacks_of(cfn: &Cfn, env: &str) -> BTreeMap<String, (String, BTreeMap<String, String>)> {
    let mut stacks = BTreeMap::new();
    let prefix = format!("sentinel-tvm-{env}-");
    let mut pages = cfn.describe_stacks().into_paginator().send();
    let mut described = Vec::new();
    while let Some(page) = pages.next().await {
        described.extend(page.unwrap().stacks().iter().cloned());
    }
    for stack in described.iter().filter(|s| s.stack_name().is_some_and(|n| n.starts_with(&prefix))) {
        if stack.stack_status().is_some_and(|s| s.as_str() == "DELETE_COMPLETE") {
            continue;
        }
        let part = stack.stack_name().unwrap().trim_start_matches(&prefix).to_string();
        let template = stack.tags().iter().find(|t| t.key() == Some(TAG_TEMPLATE_SHA256)).and_then(|t| t.value());
        // Parameters with the environment's own name (and names made from it) made neutral.
        let parameters = stack
            .parameters()
            .iter()
            .map(|p| {
                let value = p.parameter_value().unwrap_or_default().replace(env, "ENV");
                (p.parameter_key().unwrap_or_default().to_string(), value)
            })
            .filter(|(key, _)| key != "ApiId")
            .collect();
        stacks.insert(part, (template.unwrap_or_default().to_string(), parameters));
    }
    stacks
}

#[tokio::test]
async fn an_interactive_install_asks_saves_and_deploys() {
    let emulator = emulator_or_skip!();
    let env = unique_name("w");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let terminal = spawn_in_terminal(&emulator, &dir, &Install::interactive(&zip).skip_smoke_test().argv());
    let env_name = env.clone();
    let shown = tokio::task::spawn_blocking(move || answer_the_wizard(terminal, &env_name)).await.unwrap();

    let saved = std::fs::read_to_string(dir.path.join("sentinel-tvm.yaml")).expect("the answers are saved");
    for expected in [
        format!("  {env}:"),
        format!("region: {REGION}"),
        "architecture: x86_64".into(),
        "- app".into(),
        "log_retention_days: 90".into(),
        "expected_account: \"000000000000\"".into(),
    ] {
        assert!(saved.contains(&expected), "`{expected}` missing from the saved file:\n{saved}\n{shown}");
    }
    let cfn = Cfn::new(&emulator.config);
    let stacks = stacks_of(&cfn, &env).await;
    assert_eq!(stacks.len(), 7, "{stacks:?}");
    assert_eq!(stacks["api"].1["Architecture"], "x86_64");
    assert!(stacks.contains_key("protected-app"), "{stacks:?}");

    // Every later command reuses the answers: a plain upgrade changes nothing.
    let upgrade =
        emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "upgrade", "--lambda-zip", &zip, "--skip-smoke-test"]);
    upgrade.assert_code(0);
    assert!(upgrade.stdout.contains("7 unchanged"), "{}", upgrade.stdout);
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}

#[tokio::test]
async fn installs_from_flags_and_from_the_saved_file_give_the_same_stacks() {
    let emulator = emulator_or_skip!();
    let (from_flags, from_file) = (unique_name("f"), unique_name("g"));
    let dir = Workdir::new(&from_flags);
    let zip = header_only_lambda_zip();
    Install::new(&from_flags, &zip)
        .protect("app=arn:aws:iam::aws:policy/ReadOnlyAccess")
        .protect("ops")
        .args(["--log-retention-days", "30", "--rate-limit", "7"])
        .skip_smoke_test()
        .run(&emulator, &dir)
        .assert_code(0);

    // The same settings, from the file only: the first environment's section under a new name.
    let saved = std::fs::read_to_string(dir.path.join("sentinel-tvm.yaml")).unwrap();
    let section = saved.split_once(&format!("  {from_flags}:\n")).expect("the section is saved").1;
    std::fs::write(dir.path.join("sentinel-tvm.yaml"), format!("environments:\n  {from_file}:\n{section}")).unwrap();
    Install::new(&from_file, &zip).without_architecture().skip_smoke_test().run(&emulator, &dir).assert_code(0);

    let cfn = Cfn::new(&emulator.config);
    let (a, b) = (stacks_of(&cfn, &from_flags).await, stacks_of(&cfn, &from_file).await);
    assert_eq!(a.len(), 8, "{a:?}");
    // Each environment's code is its own upload to its own bucket: the versions differ.
    let (mut a, mut b) = (a, b);
    for stacks in [&mut a, &mut b] {
        let version = stacks.get_mut(&Part::Api.label()).unwrap().1.remove("ArtifactVersion");
        assert!(version.is_some_and(|v| !v.is_empty()), "the function is pinned to a version");
        // The policy's digest: its text names its own environment.
        let digest = stacks.get_mut(&Part::Api.label()).unwrap().1.remove("PolicySha256");
        assert!(digest.is_some_and(|d| d.len() == 64), "the function is pinned to the policy's digest");
    }
    assert_eq!(a, b, "the same settings from flags and from the file give the same stacks");
    assert_eq!(a[&Part::Api.label()].1["RateLimit"], "7");
    for env in [&from_flags, &from_file] {
        emulator.sentinel_tvm(&dir, &["--env", env, "--yes", "teardown"]).assert_code(0);
    }
}

#[tokio::test]
async fn bad_input_without_a_terminal_is_refused_with_the_flag_that_fixes_it() {
    let emulator = emulator_or_skip!();
    let env = unique_name("b");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let install = |extra: &[&str]| Install::new(&env, &zip).without_yes().args(extra).run(&emulator, &dir);

    let no_profiles = install(&[]);
    no_profiles.assert_code(2);
    for expected in ["no protected profiles", "--protect", "config key `protect`"] {
        assert!(no_profiles.stderr.contains(expected), "{expected}: {}", no_profiles.stderr);
    }

    let wrong_account = install(&["--protect", "app", "--expected-account", "111122223333"]);
    wrong_account.assert_code(2);
    assert!(wrong_account.stderr.contains("belongs to account 111122223333"), "{}", wrong_account.stderr);

    std::fs::write(dir.path.join("policy.yaml"), "version: \"1\"\nrules:\n  - name: x\n    effect: permit\n").unwrap();
    let bad_policy = install(&["--protect", "app", "--policy-file", "policy.yaml"]);
    bad_policy.assert_code(1);
    assert!(bad_policy.stderr.contains("✗ policy: the policy is not valid"), "{}", bad_policy.stderr);
    assert!(bad_policy.stderr.contains("policy.yaml:4"), "{}", bad_policy.stderr);
    assert!(bad_policy.stdout.contains("pre-flight check failed (policy)"), "{}", bad_policy.stdout);

    let cfn = Cfn::new(&emulator.config);
    assert!(stacks_of(&cfn, &env).await.is_empty(), "nothing was created");
    assert!(!dir.path.join("sentinel-tvm.yaml").exists(), "nothing was saved");
}
