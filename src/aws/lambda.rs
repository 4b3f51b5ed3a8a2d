//! Lambda, thinly: one synchronous invoke with a given payload, as anyone holding
//! `lambda:InvokeFunction` could make it (the smoke test's forged-event probe).

use anyhow::Result;
use aws_config::SdkConfig;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;

use super::errors::sdk_error;

/// How an invoke ended: the function's answer, or a refusal before it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoked {
    /// What the function returned (its response document).
    Answered(String),
    /// IAM or an SCP refused `lambda:InvokeFunction` itself: the error's message.
    Denied(String),
}

/// Invokes `function` synchronously with `payload`.
pub async fn invoke(config: &SdkConfig, function: &str, payload: &str) -> Result<Invoked> {
    let lambda = aws_sdk_lambda::Client::new(config);
    match lambda.invoke().function_name(function).payload(Blob::new(payload.as_bytes())).send().await {
        Ok(output) => {
            let bytes = output.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default();
            Ok(Invoked::Answered(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Err(error) if matches!(error.code(), Some("AccessDeniedException" | "AccessDenied")) => {
            Ok(Invoked::Denied(error.message().unwrap_or("access denied").to_string()))
        }
        Err(error) => Err(sdk_error(error, format_args!("lambda:Invoke of `{function}`"))),
    }
}
