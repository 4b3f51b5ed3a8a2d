//! Clients that work from anywhere: an IAM user holding nothing but the generated client policy
//! writes its AWS profiles with `profiles --write-config`, and the awscli and boto3 use them
//! through `credential_process`, from a directory whose `sentinel-tvm.yaml` is broken. Credentials
//! last an hour unless the policy caps them, so ten boto3 calls cost at most two TVM calls
//! (counted in the TVM's decision log). `--env`, which needs `cloudformation:DescribeStacks`,
//! names `--endpoint` as the fix when it is denied.

use std::path::Path;
use std::time::Duration;

use sentinel_tvm::deploy::stacks::Part;

use crate::client::{BINARY, Client, aws_cli};
use crate::support::{Install, REGION, Run, Workdir, unique_name};
use crate::{emulator_or_skip, lambda_zip_or_skip};

/// The tools venv's Python with boto3 (`scripts/requirements.txt`), or `None` (said loudly)
/// outside CI.
fn boto3_python() -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/python");
    let has_boto3 = path.is_file()
        && std::process::Command::new(&path).args(["-c", "import boto3"]).status().is_ok_and(|s| s.success());
    match has_boto3 {
        true => Some(path.to_str().expect("a UTF-8 path").to_string()),
        false if std::env::var_os("CI").is_some() => {
            panic!("no boto3 in {}, but CI installs it (scripts/tools)", path.display())
        }
        false => {
            eprintln!("skipped: no boto3 in {}; run `scripts/tools` to install it", path.display());
            None
        }
    }
}

/// Ten STS calls through one boto3 session of `profile`, each printing the caller's ARN.
const TEN_BOTO3_CALLS: &str = "import sys, boto3\nsts = boto3.Session(profile_name=sys.argv[1]).client('sts')\nfor _ in range(10):\n    print(sts.get_caller_identity()['Arn'])\n";

#[tokio::test]
async fn written_profiles_serve_awscli_and_boto3_with_only_the_client_policy() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let (Some(aws), Some(python)) = (aws_cli(), boto3_python()) else { return };
    let aws = aws.to_str().expect("a UTF-8 path").to_string();
    let env = unique_name("w");
    let dir = Workdir::new(&env);
    let user_name = format!("{env}-client");
    let user_arn = format!("arn:aws:iam::000000000000:user/{user_name}");
    let (app, capped, ro) = (format!("{env}-app"), format!("{env}-capped"), format!("{env}-ro"));
    let policy = format!(
        "version: \"1\"\nrules:\n  - name: capped\n    effect: allow\n    max_server_duration: 30m\n    conditions:\n      profiles: [{capped}]\n      principals: [\"{user_arn}\"]\n  - name: app\n    effect: allow\n    conditions:\n      profiles: [{app}, {ro}]\n      principals: [\"{user_arn}\"]\n"
    );
    std::fs::write(dir.path.join("policy.yaml"), policy).unwrap();
    Install::new(&env, &zip)
        .source_identity_off()
        .protect("app")
        .protect("capped")
        .protect("ro")
        .args(["--policy-file", "policy.yaml"])
        .skip_smoke_test()
        .run(&emulator, &dir)
        .assert_code(0);
    let api_id = emulator.stack_output(&Part::Api.stack_name(&env), "ApiId").await;
    let policy_arn = emulator.stack_output(&Part::ClientPolicy.stack_name(&env), "PolicyArn").await;
    let tvm = format!("{}/_aws/execute-api/{api_id}/", emulator.endpoint);

    // The client: the client policy and nothing else, its key in the `base` profile of the file
    // the profiles are written to; and a deployer's `sentinel-tvm.yaml` that does not parse.
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    iam.create_user().user_name(&user_name).send().await.unwrap();
    iam.attach_user_policy().user_name(&user_name).policy_arn(&policy_arn).send().await.unwrap();
    let created = iam.create_access_key().user_name(&user_name).send().await.unwrap();
    let key = created.access_key().unwrap();
    let client =
        Client { emulator: &emulator, dir: &dir, key: (key.access_key_id().into(), key.secret_access_key().into()) };
    std::fs::write(dir.path.join("sentinel-tvm.yaml"), "environments: [this is: not valid\n").unwrap();
    let config = dir.path.join("aws-config");
    let others = format!(
        "# the user's own\n[profile base]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n[profile mine]\nregion = eu-west-1\n",
        client.key.0, client.key.1
    );
    std::fs::write(&config, &others).unwrap();
    let configured = |program: &str, args: &[&str], profile: Option<&str>| {
        let mut command = client.command(program, args, true);
        command.env("AWS_CONFIG_FILE", &config);
        if let Some(profile) = profile {
            command.env("AWS_PROFILE", profile);
        }
        client.run(command)
    };
    let write = ["profiles", "--write-config", "--endpoint", &tvm];

    // Without a terminal and without `--yes`: the changes shown, nothing written.
    let asked = configured(BINARY, &write, Some("base"));
    asked.assert_code(2);
    assert!(asked.stderr.contains("--yes"), "{}", asked.stderr);
    assert!(asked.stdout.contains(&format!("+ [profile {app}]")), "{}", asked.stdout);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), others);

    // Written: one profile per profile the TVM would vend, each signing with `base`; nothing else touched.
    let wrote = configured(BINARY, &[&["--yes"][..], &write].concat(), Some("base"));
    wrote.assert_code(0);
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.starts_with(&others), "the other profiles stay as they were:\n{written}");
    for profile in [&app, &capped, &ro] {
        let section = format!(
            "[profile {profile}]\ncredential_process = {BINARY} credentials --profile {profile} --endpoint {tvm} --region {REGION} --aws-profile base\nregion = {REGION}\n"
        );
        assert!(written.contains(&section), "{section}\nnot in:\n{written}");
    }
    let again = configured(BINARY, &[&["--yes"][..], &write].concat(), Some("base"));
    again.assert_code(0);
    assert!(again.stdout.contains(&format!("= [profile {app}] (unchanged)")), "{}", again.stdout);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written, "a second run changes nothing");
    let itself = configured(BINARY, &[&["--yes"][..], &write, &["--base-profile", &app]].concat(), Some("base"));
    itself.assert_code(2);
    assert!(itself.stderr.contains("one of the profiles being written"), "{}", itself.stderr);

    // The awscli through a written profile, run where the broken `sentinel-tvm.yaml` is.
    let caller = ["sts", "get-caller-identity", "--query", "Arn", "--output", "text"];
    let user = sentinel_tvm_lambda::identity::sanitise(&user_name);
    let session =
        |profile: &str| format!("arn:aws:sts::000000000000:assumed-role/SentinelProtected-{profile}/tvm-{user}-");
    let awscli = configured(&aws, &caller, Some(app.as_str()));
    awscli.assert_code(0);
    assert!(awscli.stdout.trim().starts_with(&session(&app)), "{}\nshould start {}", awscli.stdout, session(&app));

    // An hour unless the policy caps it lower.
    for (profile, lifetime) in [(&app, 3600), (&capped, 1800)] {
        let vended = configured(BINARY, &["credentials", "--profile", profile, "--endpoint", &tvm], Some("base"));
        vended.assert_code(0);
        let left = seconds_left(&vended);
        assert!((lifetime - 60..=lifetime).contains(&left), "{profile}: {left} s left, expected about {lifetime}");
    }

    // Ten boto3 calls through a written profile: at most two TVM calls.
    let boto3 = configured(&python, &["-c", TEN_BOTO3_CALLS, &ro], None);
    boto3.assert_code(0);
    assert_eq!(boto3.stdout.lines().filter(|arn| arn.starts_with(&session(&ro))).count(), 10, "{}", boto3.stdout);
    let tvm_calls = settled_vends(&emulator, &format!("sentinel-tvm-{env}"), &ro).await;
    eprintln!("ten boto3 calls made {tvm_calls} TVM calls");
    assert!((1..=2).contains(&tvm_calls), "ten boto3 calls made {tvm_calls} TVM calls");

    // `--env` needs DescribeStacks, which the client policy does not grant: the fix is `--endpoint`.
    let elsewhere = dir.path.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut by_env = client.command(BINARY, &["--env", &env, "credentials", "--profile", &app], false);
    by_env.current_dir(&elsewhere);
    let by_env = client.run(by_env);
    by_env.assert_code(2);
    let said = &by_env.stderr;
    assert!(
        said.contains("DescribeStacks") && said.contains("hint: pass the TVM's URL with `--endpoint URL`"),
        "{said}"
    );

    for key in iam.list_access_keys().user_name(&user_name).send().await.unwrap().access_key_metadata() {
        iam.delete_access_key().user_name(&user_name).access_key_id(key.access_key_id().unwrap()).send().await.unwrap();
    }
    iam.detach_user_policy().user_name(&user_name).policy_arn(&policy_arn).send().await.unwrap();
    iam.delete_user().user_name(&user_name).send().await.unwrap();
    std::fs::remove_file(dir.path.join("sentinel-tvm.yaml")).unwrap();
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}

/// Seconds from now until the `Expiration` `credentials` printed.
fn seconds_left(run: &Run) -> i64 {
    let printed: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let expiration = printed["Expiration"].as_str().unwrap();
    let expires: jiff::Timestamp = expiration.parse().unwrap_or_else(|e| panic!("{e}: {expiration}"));
    expires.as_second() - jiff::Timestamp::now().as_second()
}

/// How many requests for `profile` the function's decision log holds, once the count has stopped
/// growing (each line is written as its invocation ends).
async fn settled_vends(emulator: &crate::support::Emulator, function: &str, profile: &str) -> usize {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&emulator.config);
    let group = format!("/aws/lambda/{function}");
    let needle = format!("\"profile\":\"{profile}\"");
    let mut last = None;
    for _ in 0..20 {
        let pages = logs.filter_log_events().log_group_name(&group).into_paginator().send();
        let pages: Vec<_> = pages.collect::<Result<Vec<_>, _>>().await.unwrap();
        let count = pages
            .iter()
            .flat_map(|page| page.events())
            .filter_map(|event| event.message())
            .filter(|line| line.starts_with('{') && line.contains(&needle))
            .count();
        if count > 0 && last == Some(count) {
            return count;
        }
        last = Some(count);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    last.unwrap_or_default()
}
