//! Calling a deployed TVM the way any client does: a GET signed with SigV4 for the
//! `execute-api` service, in the region the endpoint names, carrying a fresh caller proof
//! (`tvm::proof`) whenever it is signed. One implementation, used by the smoke test and the
//! client commands.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::Fixable;
use crate::names::is_loopback_host;
use crate::tvm::proof::{self, PROOF_HEADER, ProofTarget};

/// How long one whole exchange may take: connecting, the answer's head and its body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The most of an answer's body that is read: the TVM's own answers are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
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
    /// Where the caller proofs this client sends are for; `None` sends none.
    proof: Option<ProofTarget>,
    /// `REQUEST_TIMEOUT`, shorter in tests.
    timeout: Duration,
}

impl TvmClient {
    /// A client for the TVM at `url`: signing for the region it names (else `fallback_region`),
    /// with a caller proof for its API on every signed request.
    pub fn for_tvm(url: &str, fallback_region: &str) -> Result<Self> {
        let mut client = Self::new(signing_region(url, fallback_region))?;
        client.proof = Some(ProofTarget::for_url(url, fallback_region).ok_or_else(|| {
            Fixable::new(
                format!("cannot tell the TVM's API id from `{url}`, which a caller proof must name"),
                "use the API's own URL, `https://<api-id>.execute-api.<region>.amazonaws.com/`",
            )
        })?);
        Ok(client)
    }

    /// The same client with its proofs for `target` instead (the smoke test's wrong-audience probe).
    pub fn with_proof_target(mut self, target: Option<ProofTarget>) -> Self {
        self.proof = target;
        self
    }

    pub fn proof_target(&self) -> Option<&ProofTarget> {
        self.proof.as_ref()
    }

    /// A client that signs for `region` (see `signing_region`) and sends no caller proof.
    pub fn new(region: String) -> Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .context("cannot load this machine's trusted certificates")?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            http: Client::builder(TokioExecutor::new()).build(https),
            region,
            proof: None,
            timeout: REQUEST_TIMEOUT,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// One GET of `url`: signed with `credentials`, or unsigned when `None`. Refuses plain
    /// `http://` to anything but this machine (see `check_transport`).
    pub async fn get(&self, url: &str, credentials: Option<&Credentials>) -> Result<Answer> {
        check_transport(url)?;
        self.send(self.request(url, credentials)?, url).await
    }

    /// One GET, retried (0.5 s, 1 s, 2 s) while the answer is a 5xx or a 429, or the TVM cannot
    /// be reached: what a client does; a denial is an answer, never retried.
    pub async fn get_retrying(&self, url: &str, credentials: Option<&Credentials>) -> Result<Answer> {
        check_transport(url)?;
        let mut delay = Duration::from_millis(500);
        for _ in 0..3 {
            match self.get(url, credentials).await {
                Ok(answer) if !is_transient(answer.status) => return Ok(answer),
                Ok(_) | Err(_) => tokio::time::sleep(delay).await,
            }
            delay *= 2;
        }
        self.get(url, credentials).await
    }

    /// GETs until `done` accepts the answer or `patience` runs out (then the last answer, or the
    /// last error), with backoff from 0.5 s to 5 s. An error reaching the TVM (connection refused,
    /// a timeout) is retried like an answer `done` rejects. For eventually consistent moments,
    /// like right after a deploy.
    pub async fn get_until(
        &self,
        url: &str,
        credentials: Option<&Credentials>,
        patience: Duration,
        done: impl Fn(&Answer) -> bool,
    ) -> Result<Answer> {
        check_transport(url)?;
        let started = Instant::now();
        let mut delay = Duration::from_millis(500);
        loop {
            let answer = self.send(self.request(url, credentials)?, url).await;
            let accepted = answer.as_ref().is_ok_and(&done);
            if accepted || started.elapsed() + delay > patience {
                return answer;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// The GET, signed now when there are credentials, with a fresh caller proof (every retry
    /// too: the TVM accepts a proof once).
    fn request(&self, url: &str, credentials: Option<&Credentials>) -> Result<http::Request<Empty<Bytes>>> {
        let proof = match (credentials, &self.proof) {
            (Some(credentials), Some(target)) => Some(proof::sign(credentials, target)?),
            _ => None,
        };
        self.request_with(url, credentials, proof)
    }

    /// One GET signed with `credentials` that carries `proof` as it is (tests and probes: a proof
    /// made by someone else, or made up).
    pub async fn get_with_proof(&self, url: &str, credentials: &Credentials, proof: &str) -> Result<Answer> {
        check_transport(url)?;
        self.send(self.request_with(url, Some(credentials), Some(proof.to_string()))?, url).await
    }

    fn request_with(
        &self,
        url: &str,
        credentials: Option<&Credentials>,
        proof: Option<String>,
    ) -> Result<http::Request<Empty<Bytes>>> {
        let mut builder = http::Request::get(url).header(http::header::USER_AGENT, USER_AGENT);
        if let Some(proof) = proof {
            builder = builder.header(PROOF_HEADER, proof);
        }
        let mut request = builder.body(Empty::<Bytes>::new())?;
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
        Ok(request)
    }

    /// One exchange, bounded as a whole by `timeout` (a TVM, or anything posing as one, that
    /// sends its head and then dribbles the body gets no longer than one that never answers) and
    /// its body by `MAX_BODY_BYTES`.
    async fn send(&self, request: http::Request<Empty<Bytes>>, url: &str) -> Result<Answer> {
        tokio::time::timeout(self.timeout, self.exchange(request, url))
            .await
            .map_err(|_| anyhow!("the TVM did not answer within {} s", self.timeout.as_secs_f32()))?
    }

    async fn exchange(&self, request: http::Request<Empty<Bytes>>, url: &str) -> Result<Answer> {
        let response = self.http.request(request).await.with_context(|| format!("cannot reach the TVM at {url}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES).collect().await.map_err(|error| {
            if error.is::<LengthLimitError>() {
                anyhow!("the answer from {url} is larger than {} KiB, which no TVM answer is", MAX_BODY_BYTES / 1024)
            } else {
                anyhow!("the TVM's answer broke off: {error}")
            }
        })?;
        Ok(Answer { status, body: String::from_utf8_lossy(&body.to_bytes()).into_owned() })
    }
}

/// Refuses a URL a signed request must not go to: anything but `https://`, except plain
/// `http://` to this machine (127.0.0.0/8, ::1, `localhost`: an emulator). Over plaintext to
/// another host, the signed request (and the credentials in the answer) could be read or replayed.
pub fn check_transport(url: &str) -> Result<()> {
    let uri: http::Uri = url.parse().map_err(|_| Fixable::new(format!("`{url}` is not a URL"), USE_HTTPS))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if is_loopback_host(host) => Ok(()),
        Some("http") => Err(Fixable::new(
            format!("refusing to send a request to the TVM at `{url}` over plain http: it could be read or replayed on the way"),
            USE_HTTPS,
        )
        .into()),
        _ => Err(Fixable::new(format!("`{url}` is not an https:// URL"), USE_HTTPS).into()),
    }
}

const USE_HTTPS: &str = "use the endpoint's `https://` URL (plain `http://` is only for an emulator on 127.0.0.1)";

/// Worth asking again: the TVM or API Gateway was busy or broken for a moment.
pub fn is_transient(status: u16) -> bool {
    status == 429 || status >= 500
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

    /// API Gateway refuses a request whose request line and headers exceed 10,240 bytes. The
    /// emulator enforces no such limit and issues 134-character session tokens it validates, so
    /// this is measured on the request exactly as `request` builds it, with a 2 KB token in both
    /// the outer signature and the proof, a query as long as a role ARN profile, and the `Host`
    /// header hyper adds.
    #[test]
    fn a_request_with_a_2_kb_session_token_and_its_proof_fits_api_gateways_limit() {
        let url = format!(
            "https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/?profile=arn:aws:iam::111122223333:role/{}&duration=3600",
            "p".repeat(64)
        );
        let token = "t".repeat(2048);
        let credentials = Credentials::new("ASIAEXAMPLEEXAMPLE12", "secret", Some(token), None, "test");
        let client = TvmClient::for_tvm(&url, "eu-west-2").unwrap();
        let request = client.request(&url, Some(&credentials)).unwrap();
        let request_line = format!("GET {} HTTP/1.1\r\n", request.uri().path_and_query().unwrap());
        let host = "host: a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com\r\n".len();
        let headers: usize =
            request.headers().iter().map(|(name, value)| name.as_str().len() + 2 + value.len() + 2).sum();
        let total = request_line.len() + host + headers + 2;
        assert!(request.headers().contains_key(PROOF_HEADER), "the proof is sent");
        assert!(total < 10_240, "{total} bytes of request line and headers");
    }

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
    fn plain_http_is_only_for_this_machine() {
        for (url, allowed) in [
            ("https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/?profile=x", true),
            ("https://tvm.example.com/", true),
            ("http://127.0.0.1:4566/_aws/execute-api/a1b2c3/", true),
            ("http://127.10.20.30/", true),
            ("http://localhost:4566/", true),
            ("http://LocalHost/", true),
            ("http://[::1]:4566/", true),
            ("http://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/?profile=x", false),
            // Another machine (a documentation address, RFC 5737): refused before any connection.
            ("http://192.0.2.10:4566/", false),
            ("http://0.0.0.0:4566/", false),
            ("http://[::2]/", false),
            ("http://localhost.example.com/", false),
            ("http://127.0.0.1.nip.io/", false),
            ("ftp://127.0.0.1/", false),
            ("a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/", false),
            ("not a url", false),
        ] {
            let checked = check_transport(url);
            assert_eq!(checked.is_ok(), allowed, "{url}: {checked:?}");
            if let Err(error) = checked {
                let fixable = error.downcast_ref::<Fixable>().expect("a hint");
                assert!(fixable.hint.contains("`https://`"), "{url}: {}", fixable.hint);
            }
        }
    }

    /// Serves `200 ok` on `port` from `after` on: a TVM that is not reachable at first.
    fn serve_later(port: u16, after: Duration) {
        use std::io::{BufRead, BufReader, Write};
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is still free");
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            }
        });
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn get_until_retries_a_tvm_it_cannot_reach_yet() {
        let port = free_port();
        serve_later(port, Duration::from_millis(700));
        let client = TvmClient::new("us-east-1".into()).unwrap();
        let url = format!("http://127.0.0.1:{port}/");
        let answer = client.get_until(&url, None, Duration::from_secs(10), |a| a.status == 200).await.unwrap();
        assert_eq!(answer, Answer { status: 200, body: "ok".into() });
    }

    #[tokio::test]
    async fn get_until_returns_the_last_error_when_patience_runs_out() {
        let client = TvmClient::new("us-east-1".into()).unwrap();
        let url = format!("http://127.0.0.1:{}/", free_port());
        let started = Instant::now();
        let error = client.get_until(&url, None, Duration::from_millis(1200), |_| true).await.unwrap_err();
        assert!(format!("{error:#}").contains("cannot reach the TVM"), "{error:#}");
        assert!(started.elapsed() >= Duration::from_millis(500), "it tried again: {:?}", started.elapsed());

        let refused = client.get_until("http://192.0.2.1/", None, Duration::from_secs(60), |_| true).await;
        assert!(refused.unwrap_err().downcast_ref::<Fixable>().is_some(), "plain http is refused at once");
    }

    /// Answers every connection with a 200 head, then `body` in `chunks` pieces `pause` apart.
    fn serve_body(body: Vec<u8>, chunks: usize, pause: Duration) -> u16 {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let body = body.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    let head =
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                    let _ = (&stream).write_all(head.as_bytes());
                    for piece in body.chunks(body.len().div_ceil(chunks.max(1)).max(1)) {
                        if (&stream).write_all(piece).is_err() {
                            return;
                        }
                        std::thread::sleep(pause);
                    }
                });
            }
        });
        port
    }

    /// Threat model T14: `exec`'s bridge waits on this exchange, so a body that never ends, or
    /// never stops, must not hold it. Without the bound, the slow answer takes 40 s and the big
    /// one is read whole.
    #[tokio::test]
    async fn the_whole_exchange_is_bounded_in_time_and_size() {
        let mut client = TvmClient::new("us-east-1".into()).unwrap();
        client.timeout = Duration::from_secs(1);

        let slow = serve_body(vec![b'x'; 40], 40, Duration::from_secs(1));
        let started = Instant::now();
        let answer =
            tokio::time::timeout(Duration::from_secs(10), client.get(&format!("http://127.0.0.1:{slow}/"), None))
                .await
                .expect("the client gives up by itself");
        assert!(format!("{:#}", answer.unwrap_err()).contains("did not answer within 1 s"));
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

        let big = serve_body(vec![b'x'; MAX_BODY_BYTES + 1], 1, Duration::ZERO);
        let error = client.get(&format!("http://127.0.0.1:{big}/"), None).await.unwrap_err();
        assert!(format!("{error:#}").contains("larger than 64 KiB"), "{error:#}");

        let fits = serve_body(vec![b'x'; MAX_BODY_BYTES], 4, Duration::ZERO);
        let answer = client.get(&format!("http://127.0.0.1:{fits}/"), None).await.unwrap();
        assert_eq!((answer.status, answer.body.len()), (200, MAX_BODY_BYTES));
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
