//! Drift as a security finding, against the emulator through the real binary: a fresh install
//! reports none; a protected role's trust widened by hand makes `status` exit 1 naming the role
//! and the property, and fails the smoke test's check for that role; `upgrade --yes` restores it
//! (on MiniStack through IAM: it has no drift-aware change sets, see `commands::steps::drift`),
//! after which `status` and the smoke test pass again.

use sentinel_tvm::deploy::drift::normalise;
use sentinel_tvm::deploy::stacks::Part;

use crate::support::{Install, Workdir, unique_name};
use crate::{emulator_or_skip, lambda_zip_or_skip};

#[tokio::test]
async fn a_hand_widened_trust_is_found_failed_and_restored() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("dr");
    let dir = Workdir::new(&env);
    let run = |args: &[&str]| emulator.run_json(&dir, &env, args);
    let role = format!("SentinelProtected-{env}-app");
    let stack = Part::ProtectedRole("app".into()).stack_name(&env);
    let trust_check = format!("the trust of `{role}` is the template's");
    let check_passed = |run: &crate::support::Run| {
        let checks = run.of_type("check");
        checks.iter().find(|c| c["name"] == trust_check.as_str()).unwrap_or_else(|| panic!("{checks:?}"))["passed"]
            .as_bool()
            .unwrap()
    };

    Install::new(&env, &zip).json().protect("app").source_identity_off().run(&emulator, &dir).assert_code(0);

    // A fresh install: no drift, no false positive from tags or how IAM spells a document.
    let fresh = run(&["status"]);
    fresh.assert_code(0);
    assert_eq!(fresh.of_type("drift"), Vec::<serde_json::Value>::new(), "{}", fresh.stderr);
    assert_eq!(fresh.result()["outcome"], "healthy");

    // Widen the trust by hand: the account root may assume the role too.
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    let current = iam.get_role().role_name(&role).send().await.unwrap();
    let document = current.role().unwrap().assume_role_policy_document().unwrap().to_string();
    // IAM returns the document URL-encoded; the installer's own reading of it parses it.
    let mut trust = normalise(&serde_json::Value::String(document));
    trust["Statement"].as_array_mut().unwrap().push(serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
        "Action": "sts:AssumeRole",
    }));
    iam.update_assume_role_policy().role_name(&role).policy_document(trust.to_string()).send().await.unwrap();

    let drifted = run(&["status"]);
    drifted.assert_code(1);
    let findings = drifted.of_type("drift");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["stack"], stack.as_str());
    assert_eq!(findings[0]["physical_id"], role.as_str());
    assert_eq!(findings[0]["property"], "AssumeRolePolicyDocument");
    assert!(findings[0]["actual"].to_string().contains(":root"), "{}", findings[0]);
    assert!(!findings[0]["expected"].to_string().contains(":root"), "{}", findings[0]);
    assert_eq!(drifted.result()["outcome"], "drifted");
    assert!(
        drifted.stderr.contains(&role) && drifted.stderr.contains("AssumeRolePolicyDocument"),
        "{}",
        drifted.stderr
    );

    let smoke = run(&["smoke-test"]);
    smoke.assert_code(1);
    assert!(!check_passed(&smoke), "the widened role's check fails");

    // `--no-drift` skips detection, and so the restore.
    let skipped = run(&["upgrade", "--lambda-zip", &zip, "--skip-smoke-test", "--no-drift"]);
    skipped.assert_code(0);
    assert_eq!(skipped.result()["stacks"][&stack], "unchanged", "{}", skipped.stdout);
    run(&["status"]).assert_code(1);

    let upgrade = run(&["upgrade", "--lambda-zip", &zip, "--skip-smoke-test"]);
    upgrade.assert_code(0);
    assert_eq!(upgrade.result()["stacks"][&stack], "restored", "{}", upgrade.stdout);
    let plan = upgrade.of_type("plan");
    assert!(plan.iter().any(|p| p["stack"] == stack.as_str() && p["action"] == "restore"), "{plan:?}");

    run(&["status"]).assert_code(0);
    let smoke = run(&["smoke-test"]);
    smoke.assert_code(0);
    assert!(check_passed(&smoke));

    run(&["teardown"]).assert_code(0);
}
