//! Attack T1/T2 against the real Lambda on the emulator (MiniStack verifies SigV4, so a proof's
//! signature is really checked by its STS): a hand-written event claiming the deployer gets no
//! credentials in any shape the Lambda accepts, by direct invoke and through the HTTP API, with no
//! proof, a made-up one, one signed by another principal, one for another environment's API, an
//! expired one and a replayed one. The negative control: the same forged event against an
//! environment installed with `--identity-proof off` does vend, so the probes are real.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_lambda::primitives::Blob;
use sentinel_tvm::check::smoke::forged_event;
use sentinel_tvm::deploy::stacks::Part;
use sentinel_tvm::tvm::http::TvmClient;
use sentinel_tvm::tvm::proof::{ProofTarget, sign, sign_at};
use serde_json::{Value, json};

use crate::support::{Emulator, Install, REGION, Workdir, unique_name};
use crate::{emulator_or_skip, lambda_zip_or_skip};

/// The emulator's root: the deployer every install here runs as.
const ROOT: &str = "arn:aws:iam::000000000000:root";

fn root() -> Credentials {
    Credentials::new("test", "test", None, None, "root")
}

/// Installs `env` (extra install flags in `extra`) and returns its API id and function name.
async fn install(emulator: &Emulator, zip: &str, env: &str, extra: &[&str]) -> (String, String) {
    let dir = Workdir::new(env);
    Install::new(env, zip)
        .source_identity_off()
        .protect("app")
        .args(extra)
        .skip_smoke_test()
        .run(emulator, &dir)
        .assert_code(0);
    let api = Part::Api.stack_name(env);
    (emulator.stack_output(&api, "ApiId").await, emulator.stack_output(&api, "FunctionName").await)
}

/// An IAM user with an access key and no permissions: someone else.
async fn someone_else(emulator: &Emulator, name: &str) -> Credentials {
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    iam.create_user().user_name(name).send().await.unwrap();
    let key = iam.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().unwrap();
    Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "someone-else")
}

/// Invokes `function` with `event` (as anyone with lambda:InvokeFunction may) and returns the
/// status and `Code` of what it answered.
async fn invoke(emulator: &Emulator, function: &str, event: &Value) -> (u64, String) {
    let lambda = aws_sdk_lambda::Client::new(&emulator.config);
    let output = lambda.invoke().function_name(function).payload(Blob::new(event.to_string())).send().await.unwrap();
    let answer: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or("{}")).unwrap_or_default();
    (answer["statusCode"].as_u64().unwrap_or(0), body["Code"].as_str().unwrap_or("").to_string())
}

/// The forged event claiming the deployer, in one of the shapes the Lambda accepts, with `proof`.
fn forged(env: &str, shape: &str, proof: Option<&str>) -> Value {
    let mut event: Value =
        serde_json::from_str(&forged_event(&format!("{env}-smoke"), ROOT, "000000000000", "test")).unwrap();
    match shape {
        "api gateway" => {}
        "function url" => event["requestContext"]["domainName"] = json!("abcdefgh.lambda-url.us-east-1.on.aws"),
        "post" => event["requestContext"]["http"]["method"] = json!("POST"),
        "discovery" => event["rawPath"] = json!("/profiles"),
        other => panic!("no shape {other}"),
    }
    if let Some(proof) = proof {
        event["headers"]["x-sentinel-tvm-proof"] = json!(proof);
    }
    event
}

#[tokio::test]
async fn a_forged_event_gets_nothing_with_proofs_and_everything_without() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let env = unique_name("pf");
    let legacy = unique_name("pl");
    let (api_id, function) = install(&emulator, &zip, &env, &[]).await;
    let (legacy_api_id, legacy_function) = install(&emulator, &zip, &legacy, &["--identity-proof", "off"]).await;
    let mallory = someone_else(&emulator, &format!("{env}-mallory")).await;
    let url = format!("{}/_aws/execute-api/{api_id}/?profile={env}-smoke", emulator.endpoint);
    let target = ProofTarget::for_url(&url, REGION).unwrap();
    let elsewhere = ProofTarget { audience: legacy_api_id.clone(), ..target.clone() };
    let stale = SystemTime::now() - Duration::from_secs(600);

    // A good proof by the deployer works through the API, and proves the path is alive.
    let client = TvmClient::for_tvm(&url, REGION).unwrap();
    let good = sign(&root(), &target).unwrap();
    let vended = client.get_with_proof(&url, &root(), &good).await.unwrap();
    assert_eq!(vended.status, 200, "{}", vended.body);

    // By direct invoke: every shape, every kind of bad proof.
    let probes: Vec<(&str, Option<String>, &str)> = vec![
        ("no proof", None, "PROOF_REQUIRED"),
        ("a made-up proof", Some("eyJob3N0IjoiYSJ9".into()), "PROOF_INVALID"),
        ("a proof signed by someone else", Some(sign(&mallory, &target).unwrap()), "PROOF_MISMATCH"),
        ("a proof for another environment's API", Some(sign(&root(), &elsewhere).unwrap()), "PROOF_AUDIENCE"),
        ("an expired proof", Some(sign_at(&root(), &target, stale, &"a".repeat(32)).unwrap()), "PROOF_EXPIRED"),
        ("a replayed proof", Some(good.clone()), "PROOF_REPLAYED"),
    ];
    for shape in ["api gateway", "function url", "post", "discovery"] {
        for (what, proof, code) in &probes {
            // Another signature per shape for the ones that must reach STS to be refused.
            let proof = match *what {
                "a proof signed by someone else" => Some(sign(&mallory, &target).unwrap()),
                _ => proof.clone(),
            };
            let (status, got) = invoke(&emulator, &function, &forged(&env, shape, proof.as_deref())).await;
            assert_ne!(status, 200, "{shape}, {what}: credentials for a forged event");
            assert_eq!(got, *code, "{shape}, {what}: {status}");
        }
    }

    // Through the HTTP API: the outer request is the deployer's, the proof another's, or stale.
    for (what, proof, code) in [
        ("signed by someone else", sign(&mallory, &target).unwrap(), "PROOF_MISMATCH"),
        ("for another environment's API", sign(&root(), &elsewhere).unwrap(), "PROOF_AUDIENCE"),
        ("expired", sign_at(&root(), &target, stale, &"b".repeat(32)).unwrap(), "PROOF_EXPIRED"),
        ("replayed", good.clone(), "PROOF_REPLAYED"),
    ] {
        let answer = client.get_with_proof(&url, &root(), &proof).await.unwrap();
        assert_eq!(
            (answer.status, answer.code().as_deref()),
            (403, Some(code)),
            "through the API, {what}: {}",
            answer.body
        );
    }

    // The negative control: without proofs, the very same forged event vends.
    let (status, code) = invoke(&emulator, &legacy_function, &forged(&legacy, "api gateway", None)).await;
    assert_eq!((status, code.as_str()), (200, ""), "identity_proof off trusts the forged event");

    for env in [&env, &legacy] {
        emulator.sentinel_tvm(&Workdir::new(env), &["--env", env, "--yes", "teardown"]);
    }
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    let name = format!("{env}-mallory");
    iam.delete_access_key().user_name(&name).access_key_id(mallory.access_key_id()).send().await.unwrap();
    iam.delete_user().user_name(&name).send().await.unwrap();
}
