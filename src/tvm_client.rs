//! Calling a deployed TVM the way any client does: a GET signed with SigV4 for the
//! `execute-api` service, in the region the endpoint names. One implementation, used by the smoke
//! test and the client commands.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const USER_AGENT: &str = concat!("sentinel-tvm/", env!("CARGO_PKG_VERSION"));

/// An answer from the TVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The error `Code` of a JSON error body, if it is one.
    pub fn code(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.body).ok()?.get("Code")?.as_str().map(str::to_string)
    }
}

pub struct TvmClient {
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    region: String,
}

impl TvmClient {
    /// A client that signs for `region` (see `signing_region`).
    pub fn new(region: String) -> Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .context("cannot load this machine's trusted certificates")?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self { http: Client::builder(TokioExecutor::new()).build(https), region })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// One GET of `url`: signed with `credentials`, or unsigned when `None`.
    pub async fn get(&self, url: &str, credentials: Option<&Credentials>) -> Result<Answer> {
        let mut request =
            http::Request::get(url).header(http::header::USER_AGENT, USER_AGENT).body(Empty::<Bytes>::new())?;
        if let Some(credentials) = credentials {
            let identity: Identity = credentials.clone().into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(&self.region)
                .name("execute-api")
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()?
                .into();
            let headers = request.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or_default()));
            let signable = SignableRequest::new("GET", url, headers, SignableBody::Bytes(&[]))?;
            let (instructions, _) = sign(signable, &params)?.into_parts();
            instructions.apply_to_request_http1x(&mut request);
        }
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| anyhow!("the TVM did not answer within {} s", REQUEST_TIMEOUT.as_secs()))?
            .with_context(|| format!("cannot reach the TVM at {url}"))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.context("the TVM's answer broke off")?.to_bytes();
        Ok(Answer { status, body: String::from_utf8_lossy(&body).into_owned() })
    }

    /// GETs until `done` accepts the answer or `patience` runs out (then the last answer), with
    /// backoff from 0.5 s to 5 s. For eventually consistent moments, like right after a deploy.
    pub async fn get_until(
        &self,
        url: &str,
        credentials: Option<&Credentials>,
        patience: Duration,
        done: impl Fn(&Answer) -> bool,
    ) -> Result<Answer> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(500);
        loop {
            let answer = self.get(url, credentials).await?;
            if done(&answer) || started.elapsed() + delay > patience {
                return Ok(answer);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// The region to sign for: the one in an `execute-api` host
/// (`<api>.execute-api.<region>.amazonaws.com[.cn]`), else `fallback` (the emulator's path form,
/// a custom domain).
pub fn signing_region(url: &str, fallback: &str) -> String {
    let host = url.split_once("://").map_or(url, |(_, rest)| rest).split(['/', ':']).next().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [_, "execute-api", region, "amazonaws", "com", ..] | [_, "execute-api", region, "amazonaws", "com", "cn"]
            if !region.is_empty() =>
        {
            region.to_string()
        }
        _ => fallback.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_region_comes_from_the_endpoint_when_it_names_one() {
        for (url, fallback, region) in [
            ("https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/", "us-east-1", "eu-west-2"),
            ("https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/?profile=x", "us-east-1", "cn-north-1"),
            ("https://a1b2c3d4e5.execute-api.us-gov-west-1.amazonaws.com", "us-east-1", "us-gov-west-1"),
            ("http://127.0.0.1:4566/_aws/execute-api/a1b2c3/", "eu-central-1", "eu-central-1"),
            ("https://tvm.example.com/", "ap-southeast-2", "ap-southeast-2"),
            ("https://execute-api.example.com/", "us-west-2", "us-west-2"),
        ] {
            assert_eq!(signing_region(url, fallback), region, "{url}");
        }
    }

    #[test]
    fn error_codes_are_read_from_json_bodies_only() {
        let answer = |body: &str| Answer { status: 403, body: body.into() };
        assert_eq!(
            answer(r#"{"Code":"POLICY_DENY","Message":"Policy denied: no matching rule"}"#).code().as_deref(),
            Some("POLICY_DENY")
        );
        assert_eq!(answer(r#"{"message":"Forbidden"}"#).code(), None);
        assert_eq!(answer("<html>").code(), None);
    }
}
