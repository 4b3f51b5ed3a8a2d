//! The smoke test's judgements, pure: what the vended identity must be, and how the checklist
//! reads. The checks themselves run in `commands::smoke_test`.

use sentinel_tvm_lambda::session::Discriminator;
use serde_json::{Value, json};

use crate::deploy::drift::findings;
use crate::model::cloudformation::ResourceDrift;
use crate::names::client_user_name;

/// The logical id of the role in `stacks/protected-role.yaml`.
pub const PROTECTED_ROLE_RESOURCE: &str = "ProtectedRole";

/// Whether a protected role's trust, as drift detection compared it, is what the template
/// renders: parsed and normalised, so only a real edit fails. A role whose drift cannot be
/// checked fails too: an unknown trust is not a known one.
pub fn trust_is_the_templates(drift: &ResourceDrift) -> Result<(), String> {
    match drift.status.as_str() {
        "IN_SYNC" => Ok(()),
        "MODIFIED" => {
            match findings(drift).into_iter().find(|f| f.property.as_deref() == Some("AssumeRolePolicyDocument")) {
                None => Ok(()),
                Some(finding) => Err(format!(
                    "its trust policy was changed outside CloudFormation: expected {}, actual {} (`sentinel-tvm upgrade` restores it)",
                    finding.expected, finding.actual
                )),
            }
        }
        "DELETED" => Err("the role was deleted outside CloudFormation".into()),
        other => Err(format!("its trust could not be compared with the template (drift status {other})")),
    }
}

/// One check: its name, whether it passed, how long it took, and what was seen when it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub seconds: f64,
    pub detail: Option<String>,
}

/// The identity STS must report for credentials the TVM vended for `role` to the caller whose
/// sanitised username is `user` and whose unique id is `unique_id` (CONTRACT.md §5):
/// `arn:<partition>:sts::<account>:assumed-role/<role>/tvm-<user>-<disc>-<16 lowercase hex>`,
/// `disc` computed by the Lambda's own function, so attribution is checked, not just its shape.
pub fn check_assumed_role_arn(
    arn: &str,
    partition: &str,
    account_id: &str,
    role: &str,
    user: &str,
    unique_id: &str,
) -> Result<(), String> {
    let disc = Discriminator::of(account_id, unique_id);
    let expected = format!("arn:{partition}:sts::{account_id}:assumed-role/{role}/tvm-{user}-{}-", disc.as_str());
    let request_id =
        arn.strip_prefix(&expected).ok_or_else(|| format!("expected `{expected}<16 hex>`, got `{arn}`"))?;
    let is_request_id =
        request_id.len() == 16 && request_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if is_request_id { Ok(()) } else { Err(format!("`{arn}` does not end in a 16-hex request id")) }
}

/// `✓ name (0.4 s)` per check; a failed one is followed by what was seen.
pub fn checklist(checks: &[Check]) -> String {
    let mut text = String::new();
    for check in checks {
        let mark = if check.passed { '✓' } else { '✗' };
        text.push_str(&format!("{mark} {} ({:.1} s)\n", check.name, check.seconds));
        if let Some(detail) = check.detail.as_deref().filter(|_| !check.passed) {
            for line in detail.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    text.push_str(&match failed {
        0 => format!("smoke test: all {} checks passed\n", checks.len()),
        n => format!("smoke test: {n} of {} checks failed\n", checks.len()),
    });
    text
}

/// A response body fit to show: credentials in it keep only their access key id.
pub fn redact(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut object)) if object.contains_key("SecretAccessKey") || object.contains_key("Token") => {
            for key in ["SecretAccessKey", "Token", "SessionToken"] {
                if let Some(value) = object.get_mut(key) {
                    *value = json!("[redacted]");
                }
            }
            Value::Object(object).to_string()
        }
        _ => body.chars().take(2000).collect(),
    }
}

pub fn json(check: &Check) -> Value {
    json!({"type": "check", "name": check.name, "passed": check.passed, "seconds": (check.seconds * 1000.0).round() / 1000.0, "detail": check.detail})
}

/// The principals an environment saves for its smoke rule: the saved ones, and the deployer
/// (every session of its role) if new. A list that only grows: whoever deployed the environment
/// can still smoke-test it after someone else (a CI role) upgraded it, and the deployed policy
/// does not flip between deployers.
pub fn saved_smoke_principals(saved: &[String], deployer_pattern: &str) -> Vec<String> {
    let mut principals = saved.to_vec();
    if !principals.iter().any(|p| p == deployer_pattern) {
        principals.push(deployer_pattern.to_string());
    }
    principals
}

/// The principals the smoke rule admits: the saved ones with the deployer, and the temporary
/// client user of `smoke-test --as-client`.
pub fn smoke_principals(
    saved: &[String],
    deployer_pattern: &str,
    partition: &str,
    account_id: &str,
    env: &str,
) -> Vec<String> {
    let mut principals = saved_smoke_principals(saved, deployer_pattern);
    principals.push(format!("arn:{partition}:iam::{account_id}:user/{}", client_user_name(env)));
    principals
}

/// An API Gateway v2 event as anyone with `lambda:InvokeFunction` can write it: asking for
/// `profile` while claiming, in the authorizer context, to be `claimed_arn` (the deployer).
pub fn forged_event(profile: &str, claimed_arn: &str, account_id: &str, access_key: &str) -> String {
    json!({
        "version": "2.0",
        "routeKey": "GET /",
        "rawPath": "/",
        "rawQueryString": format!("profile={profile}"),
        "headers": {},
        "requestContext": {
            "accountId": account_id,
            "http": {"method": "GET", "path": "/"},
            "authorizer": {"iam": {"accountId": account_id, "userArn": claimed_arn, "accessKey": access_key}},
        },
    })
    .to_string()
}

/// The verdict on the function's answer to a forged event: refused, and by which layer.
pub fn forged_invoke_refused(answer: &str) -> Result<String, String> {
    let response: Value =
        serde_json::from_str(answer).map_err(|_| format!("the function answered: {}", redact(answer)))?;
    let status = response["statusCode"].as_u64().unwrap_or(0);
    let code = response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|b| b["Code"].as_str().map(str::to_string));
    match (status, code.as_deref()) {
        (200, _) => {
            Err("the function vended credentials to a hand-written event: the TVM trusts an identity it cannot verify"
                .into())
        }
        (401 | 403, Some(code)) if code.starts_with("PROOF_") => {
            Ok(format!("refused by the Lambda's proof check ({status} {code})"))
        }
        _ => Err(format!("expected a refusal by the proof check, got {status}: {}", redact(answer))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protected_role_resource_is_the_templates() {
        let template = crate::deploy::stacks::Part::ProtectedRole("x".into()).template();
        assert!(template.contains(&format!("\n  {PROTECTED_ROLE_RESOURCE}:\n    Type: AWS::IAM::Role\n")));
    }

    #[test]
    fn a_trust_passes_only_when_it_is_the_templates() {
        let trust = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/x"}, "Action": "sts:AssumeRole"}]});
        let mut widened = trust.clone();
        widened["Statement"][0]["Principal"]["AWS"] = json!("arn:aws:iam::1:root");
        let drift = |status: &str, actual: &Value| ResourceDrift {
            status: status.into(),
            expected: Some(json!({"AssumeRolePolicyDocument": trust, "Description": "d"}).to_string()),
            actual: Some(json!({"AssumeRolePolicyDocument": actual, "Description": "d"}).to_string()),
            ..ResourceDrift::default()
        };
        let reordered = json!({"Statement": {"Action": ["sts:AssumeRole"], "Principal": {"AWS": ["arn:aws:iam::1:role/x"]}, "Effect": "Allow"}});
        assert_eq!(trust_is_the_templates(&drift("IN_SYNC", &trust)), Ok(()));
        assert_eq!(trust_is_the_templates(&drift("MODIFIED", &reordered)), Ok(()), "spelling is no edit");
        let error = trust_is_the_templates(&drift("MODIFIED", &widened)).unwrap_err();
        assert!(error.contains(":root") && error.contains("upgrade"), "{error}");
        for status in ["DELETED", "NOT_CHECKED", "UNKNOWN", ""] {
            assert!(trust_is_the_templates(&drift(status, &trust)).is_err(), "{status}");
        }
    }

    #[test]
    fn a_forged_invoke_counts_as_refused_only_when_the_proof_check_refused_it() {
        let answer = |status: u16, code: &str| {
            json!({"statusCode": status, "body": json!({"Code": code, "Message": "m"}).to_string()}).to_string()
        };
        assert!(forged_invoke_refused(&answer(401, "PROOF_REQUIRED")).unwrap().contains("proof check"));
        assert!(forged_invoke_refused(&answer(403, "PROOF_MISMATCH")).is_ok());
        for wrong in [
            json!({"statusCode": 200, "body": "{\"AccessKeyId\":\"x\"}"}).to_string(),
            answer(403, "POLICY_DENY"),
            "not json".to_string(),
        ] {
            assert!(forged_invoke_refused(&wrong).is_err(), "{wrong}");
        }
        let event: Value = serde_json::from_str(&forged_event(
            "main-smoke",
            "arn:aws:iam::111122223333:user/ci",
            "111122223333",
            "AKIA",
        ))
        .unwrap();
        assert_eq!(event["requestContext"]["authorizer"]["iam"]["userArn"], "arn:aws:iam::111122223333:user/ci");
        assert_eq!(event["rawQueryString"], "profile=main-smoke");
    }

    #[test]
    fn the_assumed_role_arn_must_be_the_protected_role_with_a_tvm_session() {
        let role = "SentinelProtected-main-smoke";
        let check = |arn: &str| check_assumed_role_arn(arn, "aws", "111122223333", role, "alice", "AIDAALICE");
        let disc = Discriminator::of("111122223333", "AIDAALICE");
        let disc = disc.as_str();
        let bob = Discriminator::of("111122223333", "AIDABOB");
        let session = |user: &str, disc: &str, id: &str| {
            format!("arn:aws:sts::111122223333:assumed-role/SentinelProtected-main-smoke/tvm-{user}-{disc}-{id}")
        };
        assert_eq!(check(&session("alice", disc, "0a1b2c3d4e5f6a7b")), Ok(()));
        for wrong in [
            session("alice", disc, "0A1B2C3D4E5F6A7B"),
            session("alice", disc, "0a1b2c3d"),
            session("alice", bob.as_str(), "0a1b2c3d4e5f6a7b"),
            session("bob", disc, "0a1b2c3d4e5f6a7b"),
            format!(
                "arn:aws:sts::111122223333:assumed-role/SentinelProtected-main-prod/tvm-alice-{disc}-0a1b2c3d4e5f6a7b"
            ),
            format!(
                "arn:aws:sts::999999999999:assumed-role/SentinelProtected-main-smoke/tvm-alice-{disc}-0a1b2c3d4e5f6a7b"
            ),
            format!(
                "arn:aws-cn:sts::111122223333:assumed-role/SentinelProtected-main-smoke/tvm-alice-{disc}-0a1b2c3d4e5f6a7b"
            ),
            "arn:aws:sts::111122223333:assumed-role/SentinelProtected-main-smoke/alice".into(),
            "arn:aws:iam::111122223333:user/alice".into(),
        ] {
            assert!(check(&wrong).is_err(), "{wrong} should be refused");
        }
    }

    #[test]
    fn smoke_principals_keep_every_deployer_once_and_the_client_user_last() {
        let ci = "arn:aws:sts::111122223333:assumed-role/ci/*".to_string();
        let alice = "arn:aws:iam::111122223333:user/alice";
        let client = "arn:aws:iam::111122223333:user/sentinel-tvm-main-smoke-client";
        for (saved, deployer, expected) in [
            (vec![], alice, vec![alice, client]),
            (vec![ci.clone()], alice, vec![ci.as_str(), alice, client]),
            (vec![ci.clone()], ci.as_str(), vec![ci.as_str(), client]),
        ] {
            assert_eq!(smoke_principals(&saved, deployer, "aws", "111122223333", "main"), expected, "{saved:?}");
        }
    }

    #[test]
    fn credentials_in_a_shown_body_are_redacted() {
        let body = r#"{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s3cr3t","Token":"t0k3n","Expiration":"2026-01-25T14:30:00Z"}"#;
        let shown = redact(body);
        assert!(shown.contains("ASIAEXAMPLE") && !shown.contains("s3cr3t") && !shown.contains("t0k3n"), "{shown}");
        assert_eq!(
            redact(r#"{"Code":"POLICY_DENY","Message":"Policy denied: x"}"#),
            r#"{"Code":"POLICY_DENY","Message":"Policy denied: x"}"#
        );
    }

    #[test]
    fn the_checklist_marks_each_check_and_shows_what_a_failure_saw() {
        let checks = [
            Check { name: "a signed request gets credentials".into(), passed: true, seconds: 0.42, detail: None },
            Check {
                name: "an unsigned request is refused".into(),
                passed: false,
                seconds: 1.0,
                detail: Some("403 expected, got 200:\n{\"AccessKeyId\":\"…\"}".into()),
            },
        ];
        assert_eq!(
            checklist(&checks),
            "✓ a signed request gets credentials (0.4 s)\n✗ an unsigned request is refused (1.0 s)\n    403 expected, got 200:\n    {\"AccessKeyId\":\"…\"}\nsmoke test: 1 of 2 checks failed\n"
        );
    }
}
