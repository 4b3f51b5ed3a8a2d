//! The caller proof every client of ours sends (CONTRACT.md §12): an `sts:GetCallerIdentity`
//! request signed with the caller's own credentials, for this TVM (its API id, in a signed
//! header) and for this moment (a signed date and a random nonce), carried in the
//! `X-Sentinel-Tvm-Proof` header. The TVM replays it to STS and learns who signed it.
//!
//! Where a proof is for (`ProofTarget::for_url`) is pure; `sign` only adds the clock and the
//! random nonce. The wire format is the Lambda crate's (`sentinel_tvm_lambda::proof`), so both
//! sides share one definition.

use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sigv4_sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use sentinel_tvm_lambda::proof::{self, AUDIENCE_HEADER, NONCE_HEADER};

pub use sentinel_tvm_lambda::proof::PROOF_HEADER;

/// Where a proof for one TVM goes and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofTarget {
    /// The TVM's API id.
    pub audience: String,
    /// `https://sts.<region>.<suffix>`, or on an emulator its own endpoint.
    pub sts_url: String,
    /// The credential scope's region: the TVM's.
    pub region: String,
}

impl ProofTarget {
    /// The target for the TVM at `tvm_url`: `https://<api>.execute-api.<region>.<suffix>/…`
    /// (STS in the same region and partition), or an emulator's path form
    /// `<endpoint>/_aws/execute-api/<api>/…` (STS at the same endpoint, `fallback_region`).
    /// `None` for any other URL (a custom domain names no API id).
    pub fn for_url(tvm_url: &str, fallback_region: &str) -> Option<ProofTarget> {
        let (scheme, rest) = tvm_url.split_once("://")?;
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if let Some(emulated) = path.strip_prefix("_aws/execute-api/") {
            let audience = emulated.split(['/', '?']).next().filter(|id| !id.is_empty())?;
            return Some(ProofTarget {
                audience: audience.to_string(),
                sts_url: format!("{scheme}://{authority}/"),
                region: fallback_region.to_string(),
            });
        }
        let host = authority.split(':').next().unwrap_or_default();
        let (audience, rest) = host.split_once(".execute-api.")?;
        let (region, _suffix) = rest.split_once('.')?;
        (scheme == "https" && !audience.is_empty()).then(|| ProofTarget {
            audience: audience.to_string(),
            sts_url: format!("https://sts.{region}.{}/", proof::dns_suffix(region)),
            region: region.to_string(),
        })
    }
}

/// A fresh proof for `target`, signed with `credentials` now, as the header value to send.
pub fn sign(credentials: &Credentials, target: &ProofTarget) -> Result<String> {
    sign_at(credentials, target, SystemTime::now(), &nonce()?)
}

/// `sign` at a given time and nonce (tests).
pub fn sign_at(credentials: &Credentials, target: &ProofTarget, time: SystemTime, nonce: &str) -> Result<String> {
    let host = proof::host_of(&target.sts_url).to_string();
    let mut headers = vec![
        ("content-type".to_string(), proof::CONTENT_TYPE.to_string()),
        (AUDIENCE_HEADER.to_string(), target.audience.clone()),
        (NONCE_HEADER.to_string(), nonce.to_string()),
    ];
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&target.region)
        .name("sts")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .context("cannot set up the caller proof's signature")?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &target.sts_url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(proof::BODY.as_bytes()),
    )
    .context("cannot sign the caller proof")?;
    let (instructions, _) = sigv4_sign(signable, &params).context("cannot sign the caller proof")?.into_parts();
    headers.extend(instructions.headers().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())));
    headers.push(("host".into(), host));
    let object: serde_json::Map<String, serde_json::Value> =
        headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    Ok(proof::base64url_encode(serde_json::Value::Object(object).to_string().as_bytes()))
}

/// 128 random bits, lowercase hex.
fn nonce() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no random numbers for the proof's nonce: {error}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use jiff::Timestamp;
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn the_target_comes_from_the_tvms_url() {
        assert_eq!(
            ProofTarget::for_url("https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/?profile=x", "us-east-1"),
            Some(ProofTarget {
                audience: "a1b2c3d4e5".into(),
                sts_url: "https://sts.eu-west-2.amazonaws.com/".into(),
                region: "eu-west-2".into()
            })
        );
        assert_eq!(
            ProofTarget::for_url("https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/", "x").map(|t| t.sts_url),
            Some("https://sts.cn-north-1.amazonaws.com.cn/".into())
        );
        assert_eq!(
            ProofTarget::for_url("http://127.0.0.1:4566/_aws/execute-api/09137ce5/profiles", "us-east-1"),
            Some(ProofTarget {
                audience: "09137ce5".into(),
                sts_url: "http://127.0.0.1:4566/".into(),
                region: "us-east-1".into()
            })
        );
        for other in ["https://tvm.example.com/", "http://a1b2.execute-api.eu-west-2.amazonaws.com/", "nonsense"] {
            assert_eq!(ProofTarget::for_url(other, "us-east-1"), None, "{other}");
        }
    }

    #[test]
    fn a_signed_proof_passes_the_tvms_own_checks() {
        let credentials = Credentials::new("ASIAEXAMPLE", "secret", Some("token".repeat(400)), None, "test");
        let target = ProofTarget::for_url("https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/", "x").unwrap();
        let time = UNIX_EPOCH + Duration::from_secs(1_769_349_600);
        let nonce = "00112233445566778899aabbccddeeff";
        let carrier = sign_at(&credentials, &target, time, nonce).unwrap();
        assert!(carrier.len() < proof::MAX_CARRIER_BYTES, "a 2 KB session token fits: {}", carrier.len());
        let headers = proof::decode(&carrier).unwrap();
        let audiences = vec!["a1b2c3d4e5".to_string()];
        let expected = proof::Expected {
            host: "sts.eu-west-2.amazonaws.com",
            region: "eu-west-2",
            audiences: &audiences,
            now: Timestamp::from_second(1_769_349_600).unwrap(),
        };
        let checked = proof::check(&headers, &expected).unwrap();
        assert_eq!(checked.key_id, "ASIAEXAMPLE");
        assert_eq!(headers[NONCE_HEADER], nonce);
        assert!(headers["authorization"].contains("x-amz-security-token"), "{}", headers["authorization"]);
        // A different nonce is a different signature: nothing to replay.
        let other = proof::decode(&sign_at(&credentials, &target, time, &"f".repeat(32)).unwrap()).unwrap();
        assert_ne!(other["authorization"], headers["authorization"]);
    }

    #[test]
    fn the_lambdas_body_digest_is_the_bodys() {
        let digest: String = Sha256::digest(proof::BODY.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, proof::BODY_SHA256);
    }
}
