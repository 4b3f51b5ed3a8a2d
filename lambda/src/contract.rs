//! The wire contract clients depend on (CONTRACT.md §1, §3, §6): error codes with their status and
//! message, the exact success bodies, and the API Gateway v2 response that carries them.
//!
//! Pure data. Which check answers with which code, and in what order, is `service`'s business.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Every response carries this content type, success or error.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The `Code` of an error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    IamAuthRequired,
    AccountNotAllowed,
    InvalidIdentity,
    RateLimited,
    MissingProfile,
    InvalidProfile,
    InvalidDuration,
    ConfigError,
    PolicyDeny,
    ProfileNotAllowed,
    CredentialError,
    MethodNotAllowed,
    NotFound,
    ProofRequired,
    ProofInvalid,
    ProofExpired,
    ProofReplayed,
    ProofAudience,
    ProofMismatch,
    IdentityUnverified,
}

impl ErrorCode {
    /// Every code, in the order they are declared.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::IamAuthRequired,
        ErrorCode::AccountNotAllowed,
        ErrorCode::InvalidIdentity,
        ErrorCode::RateLimited,
        ErrorCode::MissingProfile,
        ErrorCode::InvalidProfile,
        ErrorCode::InvalidDuration,
        ErrorCode::ConfigError,
        ErrorCode::PolicyDeny,
        ErrorCode::ProfileNotAllowed,
        ErrorCode::CredentialError,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NotFound,
        ErrorCode::ProofRequired,
        ErrorCode::ProofInvalid,
        ErrorCode::ProofExpired,
        ErrorCode::ProofReplayed,
        ErrorCode::ProofAudience,
        ErrorCode::ProofMismatch,
        ErrorCode::IdentityUnverified,
    ];

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidIdentity
            | ErrorCode::MissingProfile
            | ErrorCode::InvalidProfile
            | ErrorCode::InvalidDuration => 400,
            ErrorCode::ProofRequired => 401,
            ErrorCode::IamAuthRequired
            | ErrorCode::ProofInvalid
            | ErrorCode::ProofExpired
            | ErrorCode::ProofReplayed
            | ErrorCode::ProofAudience
            | ErrorCode::ProofMismatch
            | ErrorCode::AccountNotAllowed
            | ErrorCode::PolicyDeny
            | ErrorCode::ProfileNotAllowed => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RateLimited => 429,
            ErrorCode::ConfigError | ErrorCode::CredentialError => 500,
            ErrorCode::IdentityUnverified => 503,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::IamAuthRequired => "IAM_AUTH_REQUIRED",
            ErrorCode::AccountNotAllowed => "ACCOUNT_NOT_ALLOWED",
            ErrorCode::InvalidIdentity => "INVALID_IDENTITY",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::MissingProfile => "MISSING_PROFILE",
            ErrorCode::InvalidProfile => "INVALID_PROFILE",
            ErrorCode::InvalidDuration => "INVALID_DURATION",
            ErrorCode::ConfigError => "CONFIG_ERROR",
            ErrorCode::PolicyDeny => "POLICY_DENY",
            ErrorCode::ProfileNotAllowed => "PROFILE_NOT_ALLOWED",
            ErrorCode::CredentialError => "CREDENTIAL_ERROR",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::ProofRequired => "PROOF_REQUIRED",
            ErrorCode::ProofInvalid => "PROOF_INVALID",
            ErrorCode::ProofExpired => "PROOF_EXPIRED",
            ErrorCode::ProofReplayed => "PROOF_REPLAYED",
            ErrorCode::ProofAudience => "PROOF_AUDIENCE",
            ErrorCode::ProofMismatch => "PROOF_MISMATCH",
            ErrorCode::IdentityUnverified => "IDENTITY_UNVERIFIED",
        }
    }

    /// The message clients see. Never carries input or internal detail: that goes to the log.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::IamAuthRequired => "IAM authorization required",
            ErrorCode::AccountNotAllowed => "Caller account is not allowed to use this TVM",
            ErrorCode::InvalidIdentity => "Could not extract username from identity",
            ErrorCode::RateLimited => "Too many requests; retry later",
            ErrorCode::MissingProfile => "Missing required 'profile' query parameter",
            ErrorCode::InvalidProfile => "Invalid profile name format",
            ErrorCode::InvalidDuration => "Invalid duration parameter",
            ErrorCode::ConfigError => "Failed to load configuration",
            ErrorCode::PolicyDeny => "Policy denied",
            ErrorCode::ProfileNotAllowed => "Profile does not resolve to a role this TVM may vend",
            ErrorCode::CredentialError => "Failed to vend credentials",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::NotFound => "Not found",
            ErrorCode::ProofRequired => "A caller proof (X-Sentinel-Tvm-Proof) is required",
            ErrorCode::ProofInvalid => "The caller proof is invalid",
            ErrorCode::ProofExpired => "The caller proof has expired; sign a new one",
            ErrorCode::ProofReplayed => "The caller proof was used before; sign a new one",
            ErrorCode::ProofAudience => "The caller proof is for another TVM",
            ErrorCode::ProofMismatch => "The caller proof names another caller than the request",
            ErrorCode::IdentityUnverified => "The caller's identity could not be verified; retry later",
        }
    }
}

/// Temporary credentials as STS returned them. `Debug` never shows the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Timestamp,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// The AWS container-credentials body: exactly these four keys, in this order.
#[derive(Serialize)]
struct CredentialsBody<'a> {
    #[serde(rename = "AccessKeyId")]
    access_key_id: &'a str,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: &'a str,
    #[serde(rename = "Token")]
    token: &'a str,
    #[serde(rename = "Expiration")]
    expiration: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "Code")]
    code: &'static str,
    #[serde(rename = "Message")]
    message: &'a str,
}

/// One entry of `GET /profiles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileListing {
    pub name: String,
    pub role_arn: String,
}

#[derive(Serialize)]
struct ProfilesBody<'a> {
    profiles: &'a [ProfileListing],
}

/// RFC 3339, UTC, whole seconds, `Z`: `2026-01-25T14:30:00Z`.
pub fn format_expiration(expiration: Timestamp) -> String {
    expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A response as the HTTP API (payload 2.0) or a Function URL expects it from the Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// Whole seconds for a `Retry-After` header (rate limiting only).
    pub retry_after_seconds: Option<u64>,
    /// The error code, when this is an error (kept for the decision log, not sent separately).
    pub code: Option<ErrorCode>,
}

impl Response {
    /// An error answer with the code's own message.
    pub fn error(code: ErrorCode) -> Self {
        Self::error_with_message(code, code.message())
    }

    /// An error answer with a message of the caller's choosing (only `POLICY_DENY` needs one).
    pub fn error_with_message(code: ErrorCode, message: &str) -> Self {
        let body = serde_json::to_string(&ErrorBody { code: code.as_str(), message }).expect("strings serialize");
        Self { status: code.status(), body, retry_after_seconds: None, code: Some(code) }
    }

    /// 429 with the seconds to wait.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self { retry_after_seconds: Some(retry_after_seconds), ..Self::error(ErrorCode::RateLimited) }
    }

    /// `POLICY_DENY` with the deciding rule's reason (or `no matching rule`).
    pub fn policy_deny(reason: &str) -> Self {
        Self::error_with_message(ErrorCode::PolicyDeny, &format!("Policy denied: {reason}"))
    }

    /// 200 with the container-credentials body.
    pub fn credentials(credentials: &Credentials) -> Self {
        let body = CredentialsBody {
            access_key_id: &credentials.access_key_id,
            secret_access_key: &credentials.secret_access_key,
            token: &credentials.session_token,
            expiration: format_expiration(credentials.expiration),
        };
        Self::ok(serde_json::to_string(&body).expect("strings serialize"))
    }

    /// 200 with the discovery body; `profiles` is always an array, never `null`.
    pub fn profiles(profiles: &[ProfileListing]) -> Self {
        Self::ok(serde_json::to_string(&ProfilesBody { profiles }).expect("strings serialize"))
    }

    fn ok(body: String) -> Self {
        Self { status: 200, body, retry_after_seconds: None, code: None }
    }

    fn headers(&self) -> BTreeMap<&'static str, String> {
        let mut headers = BTreeMap::from([
            ("content-type", CONTENT_TYPE.to_string()),
            // Credentials must never sit in a cache between the TVM and its client.
            ("cache-control", "no-store".to_string()),
        ]);
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert("retry-after", seconds.to_string());
        }
        headers
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("statusCode", &self.status)?;
        map.serialize_entry("headers", &self.headers())?;
        map.serialize_entry("body", &self.body)?;
        map.serialize_entry("isBase64Encoded", &false)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_has_the_status_of_the_contract() {
        use ErrorCode::*;
        for (code, status, text) in [
            (IamAuthRequired, 403, "IAM_AUTH_REQUIRED"),
            (AccountNotAllowed, 403, "ACCOUNT_NOT_ALLOWED"),
            (InvalidIdentity, 400, "INVALID_IDENTITY"),
            (RateLimited, 429, "RATE_LIMITED"),
            (MissingProfile, 400, "MISSING_PROFILE"),
            (InvalidProfile, 400, "INVALID_PROFILE"),
            (InvalidDuration, 400, "INVALID_DURATION"),
            (ConfigError, 500, "CONFIG_ERROR"),
            (PolicyDeny, 403, "POLICY_DENY"),
            (ProfileNotAllowed, 403, "PROFILE_NOT_ALLOWED"),
            (CredentialError, 500, "CREDENTIAL_ERROR"),
            (MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
            (NotFound, 404, "NOT_FOUND"),
            (ProofRequired, 401, "PROOF_REQUIRED"),
            (ProofInvalid, 403, "PROOF_INVALID"),
            (ProofExpired, 403, "PROOF_EXPIRED"),
            (ProofReplayed, 403, "PROOF_REPLAYED"),
            (ProofAudience, 403, "PROOF_AUDIENCE"),
            (ProofMismatch, 403, "PROOF_MISMATCH"),
            (IdentityUnverified, 503, "IDENTITY_UNVERIFIED"),
        ] {
            assert_eq!((code.status(), code.as_str()), (status, text));
            assert_eq!(serde_json::to_value(code).unwrap(), text, "serde name of {text}");
        }
    }

    #[test]
    fn all_holds_every_code_once_in_declaration_order() {
        for (position, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code as usize, position, "{code:?}");
        }
        // No `_` arm: a new code does not compile here until it is given its place in ALL.
        let last = |code: ErrorCode| match code {
            ErrorCode::IdentityUnverified => true,
            ErrorCode::IamAuthRequired
            | ErrorCode::AccountNotAllowed
            | ErrorCode::InvalidIdentity
            | ErrorCode::RateLimited
            | ErrorCode::MissingProfile
            | ErrorCode::InvalidProfile
            | ErrorCode::InvalidDuration
            | ErrorCode::ConfigError
            | ErrorCode::PolicyDeny
            | ErrorCode::ProfileNotAllowed
            | ErrorCode::CredentialError
            | ErrorCode::MethodNotAllowed
            | ErrorCode::NotFound
            | ErrorCode::ProofRequired
            | ErrorCode::ProofInvalid
            | ErrorCode::ProofExpired
            | ErrorCode::ProofReplayed
            | ErrorCode::ProofAudience
            | ErrorCode::ProofMismatch => false,
        };
        assert!(last(ErrorCode::ALL[ErrorCode::ALL.len() - 1]), "the last code declared ends ALL");
    }

    #[test]
    fn the_contract_messages_are_exact() {
        for (code, message) in [
            (ErrorCode::IamAuthRequired, "IAM authorization required"),
            (ErrorCode::InvalidIdentity, "Could not extract username from identity"),
            (ErrorCode::MissingProfile, "Missing required 'profile' query parameter"),
            (ErrorCode::InvalidProfile, "Invalid profile name format"),
            (ErrorCode::InvalidDuration, "Invalid duration parameter"),
            (ErrorCode::ConfigError, "Failed to load configuration"),
            (ErrorCode::CredentialError, "Failed to vend credentials"),
        ] {
            assert_eq!(code.message(), message);
        }
    }

    #[test]
    fn the_credentials_body_has_exactly_the_container_credentials_keys() {
        let credentials = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: "2026-01-25T14:30:00.750Z".parse().unwrap(),
        };
        let response = Response::credentials(&credentials);
        assert_eq!(response.status, 200);
        assert_eq!(
            response.body,
            r#"{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","Token":"token","Expiration":"2026-01-25T14:30:00Z"}"#
        );
    }

    #[test]
    fn debug_output_of_credentials_hides_the_secret_and_token() {
        let credentials = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: "very-token".into(),
            expiration: Timestamp::UNIX_EPOCH,
        };
        let debug = format!("{credentials:?}");
        assert!(debug.contains("ASIAEXAMPLE") && !debug.contains("very-secret") && !debug.contains("very-token"));
    }

    #[test]
    fn an_error_response_is_the_v2_shape_with_the_json_content_type() {
        let value = serde_json::to_value(Response::policy_deny("outside business hours")).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "statusCode": 403,
                "headers": {"content-type": CONTENT_TYPE, "cache-control": "no-store"},
                "body": r#"{"Code":"POLICY_DENY","Message":"Policy denied: outside business hours"}"#,
                "isBase64Encoded": false,
            })
        );
    }

    #[test]
    fn rate_limited_carries_retry_after_in_whole_seconds() {
        let value = serde_json::to_value(Response::rate_limited(17)).unwrap();
        assert_eq!(value["statusCode"], 429);
        assert_eq!(value["headers"]["retry-after"], "17");
    }

    #[test]
    fn an_empty_profile_list_is_an_array_not_null() {
        assert_eq!(Response::profiles(&[]).body, r#"{"profiles":[]}"#);
        let listing = ProfileListing {
            name: "dev".into(),
            role_arn: "arn:aws:iam::111122223333:role/SentinelProtected-dev".into(),
        };
        assert_eq!(
            Response::profiles(&[listing]).body,
            r#"{"profiles":[{"name":"dev","role_arn":"arn:aws:iam::111122223333:role/SentinelProtected-dev"}]}"#
        );
    }
}
