//! What a deploy asks of AWS, counted: the binary runs against the emulator through the
//! recording proxy (`support::proxy`), which writes down every call it forwards. An install lists
//! or describes the environment's stacks once before its first wave, a no-op upgrade once in all,
//! and a run opens the organization's credentials (`--org-profile`) at most once, however many
//! steps need them (the pre-flight's checks, the deployers, the guardrails' deploy).

use crate::emulator_or_skip;
use crate::support::proxy::{Call, Proxy, count};
use crate::support::{Install, Workdir, header_only_lambda_zip, unique_name};

/// The calls before the first change set: what the install read before it changed anything.
fn before_first_change(calls: &[Call]) -> &[Call] {
    let first = calls.iter().position(|call| call.operation == "CreateChangeSet").unwrap_or(calls.len());
    &calls[..first]
}

fn listing(calls: &[Call]) -> String {
    calls.iter().map(|call| format!("{} {}", call.service, call.operation)).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn an_install_reads_the_stacks_once_before_its_first_wave_and_a_no_op_upgrade_once_in_all() {
    let emulator = emulator_or_skip!();
    let env = unique_name("n");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let proxy = Proxy::start(&emulator.endpoint);
    let through = emulator.through(&proxy);

    Install::new(&env, &zip).json().protect("app").skip_smoke_test().run(&through, &dir).assert_code(0);
    let install = proxy.take();
    let before = before_first_change(&install);
    assert!(before.len() < install.len(), "the install made change sets:\n{}", listing(&install));
    assert_eq!(count(before, "DescribeStacks"), 1, "before the first wave:\n{}", listing(before));

    let upgrade = through.run_json(&dir, &env, &["upgrade", "--lambda-zip", &zip, "--skip-smoke-test"]);
    upgrade.assert_code(0);
    assert_eq!(upgrade.result()["outcome"], "no-changes", "{}", upgrade.stdout);
    let upgrade = proxy.take();
    assert_eq!(count(&upgrade, "DescribeStacks"), 1, "a no-op upgrade:\n{}", listing(&upgrade));
    assert_eq!(count(&upgrade, "CreateChangeSet"), 0, "a no-op upgrade:\n{}", listing(&upgrade));
    eprintln!(
        "figures: install {} calls ({} before the first wave), no-op upgrade {} calls",
        install.len(),
        before.len(),
        upgrade.len()
    );

    emulator.run_json(&dir, &env, &["teardown"]).assert_code(0);
}

#[tokio::test]
async fn a_run_opens_the_organizations_credentials_once() {
    let emulator = emulator_or_skip!();
    let env = unique_name("o");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    // The organization's credentials: a user of their own in the emulator's one account, so their
    // calls can be told from the deployer's by the access key that signed them.
    let everything = serde_json::json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]);
    let org_user = emulator.iam_user(&format!("{env}-org"), everything).await;
    let credentials = dir.path.join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[org]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            org_user.access_key_id(),
            org_user.secret_access_key()
        ),
    )
    .unwrap();
    let organizations = aws_sdk_organizations::Client::new(&emulator.config);
    let root = organizations.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_string();
    let ou = organizations.create_organizational_unit().parent_id(root).name(&env).send().await.unwrap();
    let ou = ou.organizational_unit().unwrap().id().unwrap().to_string();
    let proxy = Proxy::start(&emulator.endpoint);
    let through = emulator.through(&proxy).with_credentials_file(&credentials);

    // Pre-flight (the organization's checks), the deploy and the guardrails, which the emulator's
    // CloudFormation then refuses (no AWS::Organizations::Policy: tests/emulator/scp.rs).
    let install = Install::new(&env, &zip)
        .protect("app")
        .skip_smoke_test()
        .args(["--scp-mode", "enforce", "--scp-target", &ou, "--no-break-glass", "--org-profile", "org"])
        .run(&through, &dir);
    install.assert_code(2);
    assert!(
        install.stderr.contains("AWS::Organizations::Policy"),
        "the run reached the guardrails:\n{}",
        install.stderr
    );
    let calls = proxy.take();
    let as_org: Vec<Call> = calls.iter().filter(|call| call.access_key == org_user.access_key_id()).cloned().collect();
    assert_eq!(count(&as_org, "GetCallerIdentity"), 1, "the organization's credentials:\n{}", listing(&as_org));
    assert_eq!(count(&as_org, "DescribeOrganization"), 1, "the organization's checks:\n{}", listing(&as_org));

    emulator.with_credentials_file(&credentials).run_json(&dir, &env, &["teardown"]).assert_code(0);
}
