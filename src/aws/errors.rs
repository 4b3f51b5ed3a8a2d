//! Turning SDK errors into one sentence with the fix: missing or expired credentials, access
//! denied, throttling that outlasted the SDK's retries. Everything else keeps the SDK's own
//! detail under the caller's context.

use std::fmt::Display;

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::Fixable;

/// Wraps `error` from the call described by `doing` ("CreateChangeSet for sentinel-tvm-main-api").
pub fn sdk_error<E, R>(error: SdkError<E, R>, doing: impl Display) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().unwrap_or_default().to_string();
    let message = error.message().map(str::to_string);
    let detail = DisplayErrorContext(&error).to_string();
    match explain(&code, &detail) {
        Some(hint) => {
            let what = message.unwrap_or_else(|| first_sentence(&detail));
            Fixable::new(format!("{doing} failed: {what}"), hint).into()
        }
        None => anyhow::anyhow!("{doing} failed: {}", message.unwrap_or(detail)),
    }
}

/// The fix for a call refused for want of a permission.
const DENIED: &str = "the caller lacks this permission: see the deployer's permissions in docs/LAMBDA_TVM_DEPLOYMENT.md, or use a role that has them";

/// Whether `error` is a call `sdk_error` found refused for want of a permission: for a caller
/// whose fix is not the deployer's permissions (a client, which has another way).
pub fn is_denied(error: &anyhow::Error) -> bool {
    error.chain().filter_map(|cause| cause.downcast_ref::<Fixable>()).any(|fixable| fixable.hint == DENIED)
}

/// The fix for an error code (or, for client-side failures, its text), when one is known.
pub fn explain(code: &str, detail: &str) -> Option<String> {
    let hint = match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "your AWS credentials have expired: refresh them (`aws sso login`, or new keys) and run this again"
        }
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException" => {
            "AWS does not accept these credentials: check the access key, secret and session token (and `--aws-profile`)"
        }
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => DENIED,
        "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            "AWS is throttling this account even after retries: wait a minute and run this again"
        }
        _ if detail.contains("SSO token has expired") || detail.contains("ExpiredToken") => {
            "your AWS SSO session has expired: run `aws sso login` (with `--profile` of the profile you use) and run this again"
        }
        _ if detail.contains("no credentials")
            || detail.contains("credential provider was not enabled")
            || detail.contains("CredentialsNotLoaded")
            || detail.contains("failed to load credentials") =>
        {
            "no AWS credentials found: pass `--aws-profile NAME`, set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        }
        _ if detail.contains("timeout") || detail.contains("timed out") => {
            "AWS did not answer in time: check the network and `--endpoint-url` if you set one (an endpoint that accepts connections but never answers looks like this)"
        }
        _ if detail.contains("dispatch failure")
            || detail.contains("error trying to connect")
            || detail.contains("Connection refused") =>
        {
            "AWS could not be reached: check the network, `--region`, and `--endpoint-url` if you set one"
        }
        _ => return None,
    };
    Some(hint.to_string())
}

fn first_sentence(detail: &str) -> String {
    detail.split(": ").next().unwrap_or(detail).to_string()
}

/// IAM's and most services' way of saying the caller may not.
pub fn is_access_denied<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error.code(), Some("AccessDenied" | "AccessDeniedException"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_call_is_known_as_one() {
        let denied: anyhow::Error = Fixable::new("DescribeStacks failed: not authorized", DENIED).into();
        assert!(is_denied(&denied.context("finding the TVM")));
        let other: anyhow::Error = Fixable::new("DescribeStacks failed", explain("ExpiredToken", "").unwrap()).into();
        assert!(!is_denied(&other));
        assert!(!is_denied(&anyhow::anyhow!("AccessDenied")));
    }

    #[test]
    fn known_failures_get_a_fix() {
        for (code, detail, expected) in [
            ("ExpiredToken", "", Some("expired")),
            ("AccessDenied", "", Some("lacks this permission")),
            ("AccessDeniedException", "", Some("lacks this permission")),
            ("ThrottlingException", "", Some("throttling")),
            ("InvalidClientTokenId", "", Some("does not accept")),
            ("", "dispatch failure: other: no credentials in the property bag", Some("no AWS credentials")),
            ("", "dispatch failure: io error: Connection refused (os error 111)", Some("could not be reached")),
            // A named profile that supplies nothing (the SDK 1.x wording, as seen with `--aws-profile nope`).
            (
                "",
                "dispatch failure: other: the credential provider was not enabled (DispatchFailure(DispatchFailure { source: ConnectorError { kind: Other(None), source: CredentialsNotLoaded(CredentialsNotLoaded { source: None }), connection: Unknown } }))",
                Some("no AWS credentials"),
            ),
            (
                "",
                "timeout: operation timeout (all attempts including retries) occurred after 60s",
                Some("did not answer"),
            ),
            (
                "",
                "dispatch failure: other: an error occurred while loading credentials: an error occurred while loading an access token: the SSO token has expired and cannot be refreshed (DispatchFailure(… ExpiredToken …))",
                Some("aws sso login"),
            ),
            ("ValidationError", "Template format error", None),
        ] {
            let hint = explain(code, detail);
            assert_eq!(
                hint.as_deref().map(|h| expected.is_some_and(|e| h.contains(e))),
                expected.map(|_| true),
                "{code} {detail}: {hint:?}"
            );
        }
    }
}
