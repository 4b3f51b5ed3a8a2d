//! The SCP through the real binary, as far as the emulator goes. MiniStack serves the
//! Organizations API (so the organization's pre-flight checks run for real: features, policy
//! type, targets, the five-SCP limit, the management-account warning), but its CloudFormation
//! does not know `AWS::Organizations::Policy`: the SCP stack's change set is refused, and this
//! test asserts exactly that — the TVM installed, the SCP stack refused with the emulator's
//! reason — instead of skipping. Its simulation ignores context keys, so `scp check`'s verdicts
//! are unit-tested against recorded requests (`aws::scp_simulation`), not here.

use aws_sdk_organizations::Client as Organizations;
use sentinel_tvm::deploy::stacks::Part;
use serde_json::Value;

use crate::emulator_or_skip;
use crate::support::{Install, Workdir, header_only_lambda_zip, unique_name};

const BREAK_GLASS: &str = "arn:aws:iam::000000000000:role/BreakGlass";

async fn new_ou(org: &Organizations, name: &str) -> String {
    let roots = org.list_roots().send().await.unwrap();
    let root = roots.roots()[0].id().unwrap().to_string();
    let ou = org.create_organizational_unit().parent_id(root).name(name).send().await.unwrap();
    ou.organizational_unit().unwrap().id().unwrap().to_string()
}

#[tokio::test]
async fn an_enforced_scp_is_checked_then_refused_by_the_emulator_and_its_document_names_the_deployed_role() {
    let emulator = emulator_or_skip!();
    let env = unique_name("p");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let org = Organizations::new(&emulator.config);
    let ou = new_ou(&org, &env).await;
    let run = |args: &[&str]| {
        let mut all = vec!["--env", env.as_str(), "--yes"];
        all.extend_from_slice(args);
        emulator.sentinel_tvm(&dir, &all)
    };
    let install = |target: &str| {
        Install::new(&env, &zip)
            .protect("app")
            .skip_smoke_test()
            .args(["--scp-mode", "enforce", "--scp-target", target, "--break-glass-role-arn", BREAK_GLASS])
            .run(&emulator, &dir)
    };

    // A target that does not exist stops the install before anything is touched.
    let missing = install("ou-0000-00000000");
    missing.assert_code(1);
    assert!(missing.stderr.contains("ou-0000-00000000"), "{}", missing.stderr);
    assert!(missing.stdout.contains("pre-flight check failed"), "{}", missing.stdout);

    let installed = install(&ou);
    for checked in
        ["organization: all features", &format!("scp targets: {ou}"), "management account: THE SCP DOES NOT PROTECT"]
    {
        assert!(installed.stderr.contains(checked), "`{checked}` in\n{}", installed.stderr);
    }
    // What the emulator can do: everything but the SCP itself.
    installed.assert_code(2);
    assert!(
        installed.stderr.contains("Unrecognized resource types: [AWS::Organizations::Policy]"),
        "{}",
        installed.stderr
    );
    let execution_role = emulator.stack_output(&Part::ExecutionRole.stack_name(&env), "RoleArn").await;

    // The document names the deployed execution role (read from its stack) and the break glass.
    let show = run(&["scp", "show"]);
    show.assert_code(0);
    let document: Value = serde_json::from_str(show.stdout.trim()).expect("scp show prints the JSON document");
    let deny = &document["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(
        deny["Resource"],
        serde_json::json!([format!("arn:aws:iam::000000000000:role/SentinelProtected-{env}-*")])
    );
    let change =
        document["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "OnlyDeployersChangeTheTvm").unwrap();
    // The installing principal (the emulator's root) is the deployer, and break glass.
    assert_eq!(
        change["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::000000000000:root", BREAK_GLASS])
    );
    let config = std::fs::read_to_string(dir.path.join("sentinel-tvm.yaml")).unwrap();
    assert!(config.contains("arn:aws:iam::000000000000:root"), "the deployers are saved: {config}");
    let rcp = run(&["scp", "show", "--kind", "rcp"]);
    rcp.assert_code(0);
    let rcp: Value = serde_json::from_str(rcp.stdout.trim()).expect("scp show --kind rcp prints the JSON document");
    assert_eq!(rcp["Statement"][0]["Principal"], "*");
    assert_eq!(
        rcp["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!([execution_role, BREAK_GLASS])
    );
    assert_eq!(deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"], serde_json::json!([execution_role, BREAK_GLASS]));

    // Without an installed environment, from ARNs alone, and strict.
    let offline = emulator.sentinel_tvm(
        &dir,
        &[
            "--env",
            "other",
            "scp",
            "show",
            "--execution-role-arn",
            "arn:aws:iam::111122223333:role/x",
            "--function-arn",
            "arn:aws:lambda:eu-west-2:111122223333:function:f",
            "--scp-strict",
            "--no-break-glass",
        ],
    );
    offline.assert_code(0);
    assert!(offline.stderr.contains("no deployers configured"), "{}", offline.stderr);
    let strict: Value = serde_json::from_str(offline.stdout.trim()).unwrap();
    assert_eq!(
        strict["Statement"][1]["Condition"]["ArnNotLike"]["lambda:SourceFunctionArn"],
        "arn:aws:lambda:eu-west-2:111122223333:function:f"
    );

    run(&["teardown"]).assert_code(0);
    org.delete_organizational_unit().organizational_unit_id(&ou).send().await.unwrap();
}

#[tokio::test]
async fn audit_mode_watches_the_trail_and_retires_when_turned_off() {
    let emulator = emulator_or_skip!();
    let env = unique_name("a");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let trail = format!("/cloudtrail/{env}");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&emulator.config);
    logs.create_log_group().log_group_name(&trail).send().await.unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--env", env.as_str(), "--yes", "--output", "json"];
        all.extend_from_slice(args);
        emulator.sentinel_tvm(&dir, &all)
    };
    let audit = Part::ScpAudit.stack_name(&env);

    let install = Install::new(&env, &zip)
        .json()
        .protect("app")
        .skip_smoke_test()
        .args(["--scp-mode", "audit", "--trail-log-group", &trail])
        .run(&emulator, &dir);
    install.assert_code(0);
    assert_eq!(install.result()["stacks"][&audit], "created", "{}", install.stdout);
    let filters = logs.describe_metric_filters().log_group_name(&trail).send().await.unwrap();
    let pattern = filters.metric_filters()[0].filter_pattern().unwrap_or_default().to_string();
    assert!(pattern.contains(&format!("SentinelProtected-{env}-")), "{pattern}");

    let off = run(&["upgrade", "--scp-mode", "off", "--lambda-zip", &zip, "--skip-smoke-test"]);
    off.assert_code(0);
    assert_eq!(off.result()["stacks"][&audit], "deleted", "{}", off.stdout);
    let filters = logs.describe_metric_filters().log_group_name(&trail).send().await.unwrap();
    assert!(filters.metric_filters().is_empty(), "the metric filter went with its stack");

    run(&["teardown"]).assert_code(0);
    logs.delete_log_group().log_group_name(&trail).send().await.unwrap();
}
