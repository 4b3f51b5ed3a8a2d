//! The caller proof (CONTRACT.md §12): a SigV4-signed `sts:GetCallerIdentity` request the caller
//! made with its own credentials, carried in one request header, which the TVM replays to STS to
//! learn who is calling. The event's authorizer context cannot be trusted on its own: anything
//! that may invoke the function can write it.
//!
//! Pure: decoding the carrier, every check that can refuse a proof before any network call, the
//! request to send to STS, and reading STS's answer. The replay cache is `replay`; sending is the
//! runtime's (`aws::HttpsIdentityVerifier`); the order of the checks is `service`'s.

pub mod replay;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::DateTime;

use crate::contract::ErrorCode;
use crate::identity::is_account_id;

/// The request header that carries the proof.
pub const PROOF_HEADER: &str = "x-sentinel-tvm-proof";
/// A signed header naming the TVM the proof is for: its API id.
pub const AUDIENCE_HEADER: &str = "x-sentinel-tvm-audience";
/// A signed header of 128 random bits, hex: no two proofs are alike.
pub const NONCE_HEADER: &str = "x-sentinel-tvm-nonce";
/// The one body a proof may be signed for; the TVM sends it itself.
pub const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// The one content type a proof may be signed with.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// Lowercase hex SHA-256 of `BODY`, for a proof that signs `x-amz-content-sha256` too.
pub const BODY_SHA256: &str = "ab821ae955788b0e33ebd34c208442ccfc2d406e2edc5e7a39bd6458fbb4f843";
/// A proof's `x-amz-date` may be at most this old…
pub const MAX_AGE_SECONDS: i64 = 300;
/// …and at most this far ahead of the TVM's clock.
pub const MAX_AHEAD_SECONDS: i64 = 60;
/// The carrier's largest accepted size: API Gateway caps a request's line and headers at 10,240
/// bytes in all, and the outer request needs its own SigV4 headers too.
pub const MAX_CARRIER_BYTES: usize = 8 * 1024;
/// The headers a proof must sign (and `x-amz-security-token` whenever it carries one).
pub const REQUIRED_SIGNED: [&str; 4] = ["host", "x-amz-date", AUDIENCE_HEADER, NONCE_HEADER];

/// Why a proof was refused, before or after STS saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// Malformed, signed for something else, or refused by STS (`PROOF_INVALID`).
    Invalid(String),
    /// `x-amz-date` outside the window (`PROOF_EXPIRED`).
    Expired(String),
    /// Signed for another TVM (`PROOF_AUDIENCE`).
    Audience(String),
}

impl ProofError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ProofError::Invalid(_) => ErrorCode::ProofInvalid,
            ProofError::Expired(_) => ErrorCode::ProofExpired,
            ProofError::Audience(_) => ErrorCode::ProofAudience,
        }
    }

    /// For the decision log only.
    pub fn reason(&self) -> &str {
        match self {
            ProofError::Invalid(why) | ProofError::Expired(why) | ProofError::Audience(why) => why,
        }
    }
}

fn invalid(why: impl Into<String>) -> ProofError {
    ProofError::Invalid(why.into())
}

/// What a proof must match: all from the TVM's own configuration, never from the event.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The STS endpoint's host (and port), as signed in `host`.
    pub host: &'a str,
    /// The TVM's region: the credential scope's.
    pub region: &'a str,
    /// The API ids a proof may name as its audience.
    pub audiences: &'a [String],
    pub now: Timestamp,
}

/// A proof that passed every check the TVM can make itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The access key id that signed it (the credential scope's first part).
    pub key_id: String,
    /// Lowercase hex: the replay cache's key.
    pub signature: String,
    /// Its `x-amz-date`, in seconds since the epoch.
    pub signed_at: i64,
    /// Exactly what goes to STS: the authorization, the signed headers and the content type.
    pub forwarded: Vec<(String, String)>,
}

/// The carrier's headers: base64url (no padding) of a JSON object of header name → value.
/// Names are folded to lowercase; a name given twice (in any case) is refused.
pub fn decode(carrier: &str) -> Result<BTreeMap<String, String>, ProofError> {
    if carrier.len() > MAX_CARRIER_BYTES {
        return Err(invalid(format!("the proof is {} bytes, over {MAX_CARRIER_BYTES}", carrier.len())));
    }
    let bytes = base64url_decode(carrier.trim()).ok_or_else(|| invalid("the proof is not base64url"))?;
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| invalid("the proof is not a JSON object"))?;
    let mut headers = BTreeMap::new();
    for (name, value) in object {
        let serde_json::Value::String(value) = value else {
            return Err(invalid(format!("the proof's header `{name}` is not a string")));
        };
        if headers.insert(name.to_ascii_lowercase(), value).is_some() {
            return Err(invalid(format!("the proof names header `{name}` twice")));
        }
    }
    Ok(headers)
}

/// Every check the TVM makes before it sends the proof to STS.
pub fn check(headers: &BTreeMap<String, String>, expected: &Expected) -> Result<Proof, ProofError> {
    let header = |name: &str| headers.get(name).map(String::as_str);
    let authorization = Authorization::parse(header("authorization").ok_or_else(|| invalid("no authorization"))?)?;
    for required in REQUIRED_SIGNED {
        if !authorization.signed.iter().any(|h| h == required) {
            return Err(invalid(format!("`{required}` is not signed")));
        }
    }
    if header("x-amz-security-token").is_some() && !authorization.signed.iter().any(|h| h == "x-amz-security-token") {
        return Err(invalid("the session token is not signed"));
    }
    if let Some(missing) = authorization.signed.iter().find(|h| !headers.contains_key(h.as_str())) {
        return Err(invalid(format!("signed header `{missing}` is not in the proof")));
    }
    let host = header("host").unwrap_or_default();
    if host != expected.host {
        return Err(invalid(format!("signed for host `{host}`, not `{}`", expected.host)));
    }
    if authorization.region != expected.region || authorization.service != "sts" {
        return Err(invalid(format!(
            "signed for {}/{}, not {}/sts",
            authorization.region, authorization.service, expected.region
        )));
    }
    if header("content-type").is_some_and(|t| t != CONTENT_TYPE) {
        return Err(invalid("signed for another content type"));
    }
    if header("x-amz-content-sha256").is_some_and(|h| h != BODY_SHA256) {
        return Err(invalid("signed for another body"));
    }
    let nonce = header(NONCE_HEADER).unwrap_or_default();
    if nonce.len() != 32 || !is_lower_hex(nonce) {
        return Err(invalid("the nonce is not 128 bits of lowercase hex"));
    }
    let signed_at = check_date(header("x-amz-date").unwrap_or_default(), &authorization.date, expected.now)?;
    let audience = header(AUDIENCE_HEADER).unwrap_or_default();
    if !expected.audiences.iter().any(|a| a == audience) {
        return Err(ProofError::Audience(format!("the proof is for `{audience}`, not this TVM")));
    }
    let forwarded = headers
        .iter()
        .filter(|(name, _)| *name == "authorization" || *name == "content-type" || authorization.signed.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Ok(Proof { key_id: authorization.key_id, signature: authorization.signature, signed_at, forwarded })
}

/// `x-amz-date` (`YYYYMMDDTHHMMSSZ`) within the window, on the credential scope's day.
fn check_date(amz_date: &str, scope_date: &str, now: Timestamp) -> Result<i64, ProofError> {
    let signed = parse_amz_date(amz_date).ok_or_else(|| invalid("x-amz-date is not YYYYMMDDTHHMMSSZ"))?;
    if !amz_date.starts_with(scope_date) {
        return Err(invalid("x-amz-date is not the credential scope's day"));
    }
    let age = now.as_second() - signed;
    if age > MAX_AGE_SECONDS {
        return Err(ProofError::Expired(format!("signed {age} s ago, over {MAX_AGE_SECONDS} s")));
    }
    if -age > MAX_AHEAD_SECONDS {
        return Err(ProofError::Expired(format!("signed {} s ahead, over {MAX_AHEAD_SECONDS} s", -age)));
    }
    Ok(signed)
}

fn parse_amz_date(text: &str) -> Option<i64> {
    let valid = text.len() == 16
        && text.as_bytes()[8] == b'T'
        && text.ends_with('Z')
        && text.bytes().enumerate().all(|(i, b)| i == 8 || i == 15 || b.is_ascii_digit());
    if !valid {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i16>().ok();
    let civil = DateTime::new(
        number(0..4)?,
        i8::try_from(number(4..6)?).ok()?,
        i8::try_from(number(6..8)?).ok()?,
        i8::try_from(number(9..11)?).ok()?,
        i8::try_from(number(11..13)?).ok()?,
        i8::try_from(number(13..15)?).ok()?,
        0,
    )
    .ok()?;
    Some(civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}

/// `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
/// SignedHeaders=<a;b;c>, Signature=<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authorization {
    key_id: String,
    date: String,
    region: String,
    service: String,
    signed: Vec<String>,
    signature: String,
}

impl Authorization {
    fn parse(text: &str) -> Result<Self, ProofError> {
        let rest = text
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or_else(|| invalid("the authorization is not AWS4-HMAC-SHA256 header signing"))?;
        let mut fields = BTreeMap::new();
        for part in rest.split(',').map(str::trim) {
            let (key, value) = part.split_once('=').ok_or_else(|| invalid("the authorization is malformed"))?;
            if fields.insert(key, value).is_some() {
                return Err(invalid(format!("the authorization names `{key}` twice")));
            }
        }
        let field = |name: &str| fields.get(name).copied().ok_or_else(|| invalid(format!("no {name}")));
        let scope: Vec<&str> = field("Credential")?.split('/').collect();
        let [key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(invalid("the credential scope is not <key>/<date>/<region>/<service>/aws4_request"));
        };
        let signed: Vec<String> = field("SignedHeaders")?.split(';').map(str::to_string).collect();
        let sorted = signed.windows(2).all(|pair| pair[0] < pair[1]);
        if !sorted || signed.iter().any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase())) {
            return Err(invalid("SignedHeaders is not sorted lowercase names"));
        }
        let signature = field("Signature")?;
        if signature.len() != 64 || !is_lower_hex(signature) {
            return Err(invalid("the signature is not 64 lowercase hex digits"));
        }
        if key_id.is_empty() || !key_id.bytes().all(|b| b.is_ascii_alphanumeric()) || date.len() != 8 {
            return Err(invalid("the credential scope's key id or date is malformed"));
        }
        Ok(Authorization {
            key_id: key_id.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            signed,
            signature: signature.to_string(),
        })
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Who STS says signed the proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub arn: String,
    pub account_id: String,
    pub user_id: String,
}

/// How STS answered: a caller, a refusal of the proof (4xx), or no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified(VerifiedIdentity),
    Refused(String),
    Unverified(String),
}

/// Reads STS's answer strictly: HTTP 200 with exactly one `Arn`, `Account` and `UserId`.
pub fn read_answer(status: u16, body: &str) -> Verdict {
    if (400..500).contains(&status) {
        let code = only_element(body, "Code").unwrap_or_else(|| "no error code".into());
        return Verdict::Refused(format!("STS refused the proof: {status} {code}"));
    }
    if status != 200 {
        return Verdict::Unverified(format!("STS answered {status}"));
    }
    let (Some(arn), Some(account_id), Some(user_id)) =
        (only_element(body, "Arn"), only_element(body, "Account"), only_element(body, "UserId"))
    else {
        return Verdict::Unverified("STS's answer does not hold exactly one Arn, Account and UserId".into());
    };
    if !arn.starts_with("arn:") || !is_account_id(&account_id) || arn.split(':').nth(4) != Some(account_id.as_str()) {
        return Verdict::Unverified("STS's answer names a malformed caller".into());
    }
    Verdict::Verified(VerifiedIdentity { arn, account_id, user_id })
}

/// The text of the one `<name>…</name>` in `xml`; `None` when there is none, several, or it
/// holds markup.
fn only_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    if xml.matches(&open).count() != 1 || xml.matches(&close).count() != 1 {
        return None;
    }
    let start = xml.find(&open)? + open.len();
    let value = &xml[start..start + xml[start..].find(&close)?];
    let value = value.trim();
    (!value.is_empty() && !value.contains(['<', '>', '&'])).then(|| value.to_string())
}

/// The STS endpoint the TVM's own SDK would use: `AWS_ENDPOINT_URL_STS`, else
/// `AWS_ENDPOINT_URL`, else the region's public endpoint. Without a trailing `/`.
pub fn sts_endpoint(lookup: impl Fn(&str) -> Option<String>, region: &str) -> String {
    let given = |name: &str| lookup(name).map(|v| v.trim().trim_end_matches('/').to_string()).filter(|v| !v.is_empty());
    given("AWS_ENDPOINT_URL_STS")
        .or_else(|| given("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://sts.{region}.{}", dns_suffix(region)))
}

/// The DNS suffix of a region's partition.
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else {
        "amazonaws.com"
    }
}

/// The host (and port) of `url`: what a proof for it signs as `host`.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or_default()
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding, as the carrier is encoded.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The inverse of `base64url_encode`; `None` for anything else (padding included).
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let value = |c: u8| BASE64URL.iter().position(|&b| b == c).map(|v| v as u32);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let n = chunk.iter().enumerate().try_fold(0u32, |n, (i, c)| Some(n | (value(*c)? << (18 - 6 * i))))?;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    // Bits past the last byte must be zero: one text per byte string.
    (base64url_encode(&out) == text).then_some(out)
}

#[cfg(test)]
mod tests;
