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
    let run = |args: &[&str]| emulator.run_json(&dir, &env, args);
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

/// Threat model T4: anyone with `s3:PutObject` on the artifact bucket writes over the code zip's
/// key. The next deploy does not trust the name: the object's SHA-256 is not the zip's, so the
/// zip is uploaded again and the function pinned to that upload's version, whether the object
/// written over it has no SHA-256 (as the SDK uploads by default) or its own.
#[tokio::test]
async fn code_written_over_in_the_bucket_is_noticed_replaced_and_the_function_pinned_to_the_upload() {
    let emulator = emulator_or_skip!();
    let env = unique_name("a");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    let zip_bytes = std::fs::read(&zip).unwrap();
    let checksum = sentinel_tvm::deploy::artifact::checksum_sha256(&zip_bytes);
    let upgrade = || {
        emulator.sentinel_tvm(
            &dir,
            &["--env", &env, "--output", "json", "--yes", "upgrade", "--lambda-zip", &zip, "--skip-smoke-test"],
        )
    };
    let api = Part::Api.stack_name(&env);
    Install::new(&env, &zip).json().protect("app").skip_smoke_test().run(&emulator, &dir).assert_code(0);
    let bucket = emulator.stack_output(&Part::Artifacts.stack_name(&env), "BucketName").await;
    let key = emulator.stack_parameter(&api, "ArtifactKey").await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emulator.config).force_path_style(true).build(),
    );
    let head = |s3: aws_sdk_s3::Client, bucket: String, key: String| async move {
        let head = s3.head_object().bucket(&bucket).key(&key).checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled);
        let head = head.send().await.unwrap();
        (head.version_id().unwrap().to_string(), head.checksum_sha256().map(str::to_string))
    };
    let (installed, stored) = head(s3.clone(), bucket.clone(), key.clone()).await;
    assert_eq!(stored.as_deref(), Some(checksum.as_str()), "uploaded with its SHA-256");
    assert_eq!(emulator.stack_parameter(&api, "ArtifactVersion").await, installed, "the function is pinned to it");

    // A no-op upgrade trusts the object: nothing is uploaded, nothing changes.
    let again = upgrade();
    again.assert_code(0);
    assert!(!again.stderr.contains("uploaded"), "{}", again.stderr);
    assert_eq!(again.result()["outcome"], "no-changes");

    let mut pinned = vec![installed];
    for (attack, expected) in [(None, "has no SHA-256 checksum"), (Some("evil"), "holds other bytes than this zip")] {
        let put = s3.put_object().bucket(&bucket).key(&key).body(b"evil".to_vec().into());
        let put = match attack {
            Some(body) => put.checksum_sha256(sentinel_tvm::deploy::artifact::checksum_sha256(body.as_bytes())),
            None => put,
        };
        let overwritten = put.send().await.unwrap().version_id().unwrap().to_string();

        let replaced = upgrade();
        replaced.assert_code(0);
        assert!(replaced.stderr.contains(expected) && replaced.stderr.contains("not trusted"), "{}", replaced.stderr);
        assert_eq!(replaced.result()["stacks"][&api], "updated", "{}", replaced.stdout);
        let (latest, stored) = head(s3.clone(), bucket.clone(), key.clone()).await;
        assert_eq!(stored.as_deref(), Some(checksum.as_str()));
        let version = emulator.stack_parameter(&api, "ArtifactVersion").await;
        assert_eq!(version, latest, "pinned to the new upload");
        assert!(version != overwritten && !pinned.contains(&version), "{version} is a version of its own");
        let object = s3.get_object().bucket(&bucket).key(&key).version_id(&version).send().await.unwrap();
        assert_eq!(object.body.collect().await.unwrap().into_bytes().as_ref(), &zip_bytes[..], "the zip itself");
        pinned.push(version);
    }

    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}
