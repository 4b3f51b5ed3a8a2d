//! What an upgrade does besides applying change sets, against the emulator through the real
//! binary: a protected profile removed from the settings takes its role stack with it (shown by
//! `diff` first), old code zips are pruned while the current one stays, and the deployer is
//! saved as a smoke principal.

use sentinel_tvm::deploy::stacks::Part;

use crate::emulator_or_skip;
use crate::support::{Install, Workdir, header_only_lambda_zip, unique_name};

#[tokio::test]
async fn an_upgrade_retires_removed_roles_and_prunes_old_code() {
    let emulator = emulator_or_skip!();
    let env = unique_name("u");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let run = |args: &[&str]| {
        let mut all = vec!["--env", env.as_str(), "--output", "json", "--yes"];
        all.extend_from_slice(args);
        emulator.sentinel_tvm(&dir, &all)
    };
    let app = Part::ProtectedRole("app".into()).stack_name(&env);
    let ops = Part::ProtectedRole("ops".into()).stack_name(&env);

    Install::new(&env, &zip).json().protect("app").skip_smoke_test().run(&emulator, &dir).assert_code(0);
    assert!(emulator.stack_exists(&app).await);
    let saved = std::fs::read_to_string(dir.path.join("sentinel-tvm.yaml")).unwrap();
    assert!(saved.contains("smoke_principals:") && saved.contains("arn:aws:iam::000000000000:root"), "{saved}");

    // A code zip of an earlier version, which nothing runs any more.
    let bucket = emulator.stack_output(&Part::Artifacts.stack_name(&env), "BucketName").await;
    let current = emulator.stack_parameter(&Part::Api.stack_name(&env), "ArtifactKey").await;
    let old = format!("lambda/{}.zip", "0".repeat(64));
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emulator.config).force_path_style(true).build(),
    );
    s3.put_object().bucket(&bucket).key(&old).body(b"old".to_vec().into()).send().await.unwrap();

    // diff names the retiring stack and deletes nothing
    let diff = run(&["diff", "--protect", "ops", "--lambda-zip", &zip]);
    diff.assert_code(0);
    assert_eq!(diff.result()["stacks"][&app], "would-delete", "{}", diff.stdout);
    assert!(emulator.stack_exists(&app).await, "diff deleted nothing");

    let upgrade = run(&["upgrade", "--protect", "ops", "--lambda-zip", &zip, "--skip-smoke-test"]);
    upgrade.assert_code(0);
    let result = upgrade.result();
    assert_eq!(result["stacks"][&app], "deleted", "{result}");
    assert_eq!(result["stacks"][&ops], "created", "{result}");
    assert!(!emulator.stack_exists(&app).await, "the retired role's stack is gone");
    assert!(emulator.stack_exists(&ops).await);

    let keys: Vec<String> = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("lambda/")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(keys, [current], "old code is pruned, the running code kept");

    run(&["teardown"]).assert_code(0);
}
