//! What a client of the TVM says and hears, pure: the request URLs, the vended credentials as the
//! TVM sends them (the container-credentials shape), as `credential_process` prints them, and a
//! refusal as the user should read it. The calls themselves go through `tvm_client`; nothing here
//! touches the network.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};

use crate::error::Fixable;
use crate::tvm::http::Answer;
use sentinel_tvm_lambda::duration;

/// Credentials the TVM vended.
#[derive(Clone, PartialEq, Eq)]
pub struct Vended {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    /// RFC 3339.
    pub expiration: String,
}

impl std::fmt::Debug for Vended {
    /// Never the secret or the token: a `Debug` can end up in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vended")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl Vended {
    /// The TVM's 200 body: exactly `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`.
    pub fn parse(body: &str) -> Result<Vended> {
        let body: Value = serde_json::from_str(body).context("the TVM's 200 body is not JSON")?;
        let keys: Vec<&String> = body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        if keys != ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] {
            bail!("the TVM's body must have exactly AccessKeyId, SecretAccessKey, Token, Expiration; it has {keys:?}");
        }
        let field =
            |key: &str| body[key].as_str().map(str::to_string).with_context(|| format!("{key} is not a string"));
        Ok(Vended {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            token: field("Token")?,
            expiration: field("Expiration")?,
        })
    }

    /// What `credential_process` must print (Version 1).
    pub fn credential_process_json(&self) -> String {
        json!({
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.token,
            "Expiration": self.expiration,
        })
        .to_string()
    }

    /// What an SDK's container-credentials provider reads (the TVM's own shape).
    pub fn container_json(&self) -> String {
        json!({
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.token,
            "Expiration": self.expiration,
        })
        .to_string()
    }

    /// Seconds from `now_unix` until expiry; `None` when the expiration does not parse.
    pub fn seconds_left(&self, now_unix: i64) -> Option<i64> {
        let expires = DateTime::from_str(&self.expiration, DateTimeFormat::DateTime).ok()?;
        Some(expires.secs() - now_unix)
    }
}

/// `GET <tvm>?profile=P[&duration=S]`.
pub fn vend_url(tvm_url: &str, profile: &str, duration: Option<u32>) -> String {
    let base = tvm_url.split('?').next().unwrap_or(tvm_url);
    let base = if base.ends_with('/') { base.to_string() } else { format!("{base}/") };
    match duration {
        Some(seconds) => format!("{base}?profile={profile}&duration={seconds}"),
        None => format!("{base}?profile={profile}"),
    }
}

/// `GET <tvm>profiles`.
pub fn profiles_url(tvm_url: &str) -> String {
    let base = tvm_url.split('?').next().unwrap_or(tvm_url);
    format!("{}/profiles", base.trim_end_matches('/'))
}

/// A profile name as the TVM accepts one, checked before anything is signed.
pub fn check_profile(profile: &str) -> Result<()> {
    let valid = (1..=64).contains(&profile.len())
        && profile.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        bail!(Fixable::new(
            format!("`{profile}` is not a profile name"),
            "profiles are 1-64 of A-Z a-z 0-9 _ -, as the policy names them (`main-prod`); `sentinel-tvm profiles` lists yours"
        ));
    }
    Ok(())
}

/// The lifetime a client asks for when `--duration` is not given: one hour, the most the TVM
/// grants (a rule's `max_server_duration` caps it lower). AWS SDKs and the CLI fetch credentials
/// again once less than 15 minutes are left, so with 900-second credentials every AWS call would
/// be a TVM call.
pub const DEFAULT_LIFETIME_SECONDS: u32 = duration::MAX_SECONDS;

/// The `duration` to ask for: `--duration` when given, checked here against the TVM's own range
/// (which answers anything else with a bare `INVALID_DURATION`), else `DEFAULT_LIFETIME_SECONDS`.
pub fn lifetime(asked: Option<u32>) -> Result<u32, Fixable> {
    let (min, max) = (duration::MIN_SECONDS, duration::MAX_SECONDS);
    match asked {
        None => Ok(DEFAULT_LIFETIME_SECONDS),
        Some(seconds) if (min..=max).contains(&seconds) => Ok(seconds),
        Some(seconds) => Err(Fixable::new(
            format!("`--duration {seconds}` is outside {min}..{max} seconds, the lifetimes the TVM grants"),
            format!("give {min} to {max}, or leave `--duration` out for one hour (or less where the policy caps it)"),
        )),
    }
}

/// A refusal, as the user should read it: the TVM's `Code: Message`, or API Gateway's own
/// answer (a 403 before the TVM ran: the caller lacks the client policy or signed wrongly).
pub fn refusal(answer: &Answer) -> String {
    let parsed: Option<Value> = serde_json::from_str(&answer.body).ok();
    let text = |key: &str| parsed.as_ref().and_then(|v| v.get(key)).and_then(Value::as_str).map(str::to_string);
    match (text("Code"), text("Message"), text("message")) {
        (Some(code), Some(message), _) => format!("the TVM refused ({} {code}): {message}", answer.status),
        (None, _, Some(message)) => format!(
            "API Gateway refused ({}): {message} — the caller needs the client policy (execute-api:Invoke) and a valid signature",
            answer.status
        ),
        _ => format!("the TVM answered {}: {}", answer.status, answer.body.chars().take(300).collect::<String>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s3cr3t","Token":"t0k3n","Expiration":"2026-11-23T18:00:00Z"}"#;

    #[test]
    fn vended_credentials_parse_strictly_and_print_in_both_shapes() {
        let vended = Vended::parse(BODY).unwrap();
        let process: Value = serde_json::from_str(&vended.credential_process_json()).unwrap();
        assert_eq!(
            process,
            json!({"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s3cr3t", "SessionToken": "t0k3n", "Expiration": "2026-11-23T18:00:00Z"})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&vended.container_json()).unwrap(),
            serde_json::from_str::<Value>(BODY).unwrap()
        );
        let shown = format!("{vended:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("t0k3n"), "{shown}");
        let now = DateTime::from_str("2026-11-23T16:00:00Z", DateTimeFormat::DateTime).unwrap();
        assert_eq!(vended.seconds_left(now.secs()), Some(7200));
        for bad in [
            "",
            "{}",
            r#"{"AccessKeyId":"a","SecretAccessKey":"b","Token":"c"}"#,
            r#"{"AccessKeyId":1,"SecretAccessKey":"b","Token":"c","Expiration":"d"}"#,
        ] {
            assert!(Vended::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_for_vending_and_discovery() {
        for (base, expected) in [
            (
                "https://a1.execute-api.eu-west-2.amazonaws.com/",
                "https://a1.execute-api.eu-west-2.amazonaws.com/?profile=main-prod",
            ),
            (
                "https://a1.execute-api.eu-west-2.amazonaws.com",
                "https://a1.execute-api.eu-west-2.amazonaws.com/?profile=main-prod",
            ),
            (
                "http://127.0.0.1:4566/_aws/execute-api/a1/",
                "http://127.0.0.1:4566/_aws/execute-api/a1/?profile=main-prod",
            ),
            ("https://tvm.example.com/?x=1", "https://tvm.example.com/?profile=main-prod"),
        ] {
            assert_eq!(vend_url(base, "main-prod", None), expected, "{base}");
        }
        assert_eq!(vend_url("https://t/", "p", Some(900)), "https://t/?profile=p&duration=900");
        assert_eq!(
            profiles_url("http://127.0.0.1:4566/_aws/execute-api/a1/"),
            "http://127.0.0.1:4566/_aws/execute-api/a1/profiles"
        );
    }

    #[test]
    fn the_lifetime_is_an_hour_unless_asked_and_out_of_range_is_refused_here() {
        for (asked, expected) in [
            (None, Ok(3600)),
            (Some(900), Ok(900)),
            (Some(3600), Ok(3600)),
            (Some(899), Err(())),
            (Some(300), Err(())),
            (Some(3601), Err(())),
        ] {
            let got = lifetime(asked);
            assert_eq!(got.as_ref().map(|s| *s).map_err(|_| ()), expected, "{asked:?}");
            if let Err(error) = got {
                assert!(error.message.contains("900..3600"), "{}", error.message);
                assert!(error.hint.contains("--duration"), "{}", error.hint);
            }
        }
    }

    #[test]
    fn a_refusal_reads_as_the_tvm_or_api_gateway_said_it() {
        let answer = |status: u16, body: &str| Answer { status, body: body.into() };
        assert_eq!(
            refusal(&answer(403, r#"{"Code":"POLICY_DENY","Message":"Policy denied: no matching rule"}"#)),
            "the TVM refused (403 POLICY_DENY): Policy denied: no matching rule"
        );
        assert!(refusal(&answer(403, r#"{"message":"Forbidden"}"#)).contains("client policy"));
        assert_eq!(refusal(&answer(502, "<html>")), "the TVM answered 502: <html>");
        assert!(check_profile("main-prod").is_ok());
        for bad in ["", "main prod", "a/b", "main-prod&duration=1"] {
            assert!(check_profile(bad).is_err(), "{bad}");
        }
    }
}
