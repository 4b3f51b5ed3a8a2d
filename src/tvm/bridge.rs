//! The credentials bridge of `exec`: a tiny HTTP server on 127.0.0.1 that answers an AWS SDK's
//! container-credentials requests (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) with credentials from
//! the TVM, and the environment that makes the command's SDK ask it.
//!
//! Why a bridge: an SDK's container provider sends an unsigned GET, which the IAM-authorised API
//! refuses. The bridge answers it locally and signs each refresh itself (a `Source`).
//!
//! What protects it: it listens on 127.0.0.1 only, never another address, and answers only a
//! request whose `Authorization` header is the random token handed to the command (compared in
//! constant time). One request per connection; a request head is capped at 8 KiB and 5 s.
//! Credentials are cached, and fetched again min(15 minutes, half their lifetime) before they
//! expire, at most once per 10 s. A fetch runs in a task of its own, bounded by one timeout
//! (and each answer's body by 64 KiB, `tvm::http`): the cache's lock is never held across it, so
//! while credentials that are still valid are renewed, every request is answered at once with
//! them; requests that have nothing valid to get wait for the one fetch under way.
//!
//! Which credentials the command's SDK uses. Every SDK walks a chain and takes the first source
//! that has credentials: environment keys → the profile files (`~/.aws/credentials`, and
//! `~/.aws/config`: keys, `credential_process`, SSO, `role_arn`) → web identity → container (this
//! bridge) → instance metadata. For the bridge to win, the command gets:
//! - none of the variables that name another source (`SHADOWING`; `AWS_PROFILE` among them, so it
//!   uses the `default` profile). Region and endpoint variables stay: the command needs them;
//! - `AWS_SHARED_CREDENTIALS_FILE=/dev/null`: a `[default]` with keys there is the usual setup
//!   and would silently win. That file holds only credentials, so nothing else is lost;
//! - the user's config file as it is (region, output format, endpoints, CA bundle), unless its
//!   `default` profile has credentials of its own (`credential_process`, SSO, `role_arn` with
//!   `source_profile`, keys), which would win too. Then `AWS_CONFIG_FILE=/dev/null` as well, that
//!   profile's region passed on as `AWS_REGION`/`AWS_DEFAULT_REGION` when neither is set, and a
//!   note on stderr. Pointing `AWS_PROFILE` at a profile that does not exist is no way out: SDKs
//!   fail on a missing profile instead of moving down the chain.
//!
//! A command that names a profile itself (`aws --profile x`) gets what it asked for. The mark of
//! `exec`'s own credential lookup (`tvm::recursion::MARK`) is removed too, so a `sentinel-tvm` the
//! command runs works.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tvm::aws_config::DefaultProfile;
use crate::tvm::recursion;
use crate::tvm::wire::Vended;

/// The only path the bridge serves.
pub const CREDENTIALS_PATH: &str = "/credentials";
/// Fetch again at the latest this many seconds before expiry (earlier for short-lived
/// credentials: half their lifetime).
pub const REFRESH_BEFORE_SECONDS: i64 = 15 * 60;
/// At most one fetch starts within this long, whatever it answered.
pub const MIN_FETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long one fetch from the source (the TVM, with its retries) may take in all.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a request head (request line and headers) may be.
pub const HEAD_LIMIT: usize = 8 * 1024;
/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Variables that would make an SDK take credentials from somewhere else than the bridge.
pub const SHADOWING: [&str; 11] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
];

/// Where fresh credentials come from (the TVM, in `exec`).
pub trait Source: Send + Sync + 'static {
    fn vend(&self) -> impl Future<Output = Result<Vended, Failure>> + Send;
}

/// Why a `Source` has no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The TVM said no: its own words.
    Refused(String),
    /// The TVM could not be asked.
    Unavailable(String),
}

/// A request, as far as the bridge cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// Every `Authorization` header given.
    pub authorization: Vec<String>,
}

/// An answer: always JSON, always the last on its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Answer with the (cached or fresh) credentials.
    Credentials,
    Answer(Response),
}

impl Request {
    /// Parses a request head (up to, not including, the blank line). A malformed one is a 400.
    pub fn parse(head: &[u8]) -> Result<Request, Response> {
        let bad = || Response::error(400, "BAD_REQUEST", "the request is not HTTP/1.1");
        let text = std::str::from_utf8(head).map_err(|_| bad())?;
        let mut lines = text.split("\r\n");
        let mut words = lines.next().unwrap_or_default().split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(bad());
        };
        if method.is_empty() || !target.starts_with('/') || !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
            return Err(bad());
        }
        let mut authorization = Vec::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { return Err(bad()) };
            // No whitespace in or around a name: that also refuses folded (continued) headers.
            if name.is_empty() || name.contains([' ', '\t']) {
                return Err(bad());
            }
            if name.eq_ignore_ascii_case("authorization") {
                authorization.push(value.trim_matches([' ', '\t']).to_string());
            }
        }
        let path = target.split('?').next().unwrap_or_default().to_string();
        Ok(Request { method: method.to_string(), path, authorization })
    }
}

/// Routing and authorisation: only `GET /credentials` with exactly one `Authorization` header
/// equal to `token`.
pub fn route(request: &Request, token: &str) -> Route {
    if request.path != CREDENTIALS_PATH {
        return Route::Answer(Response::error(404, "NOT_FOUND", "the bridge serves only GET /credentials"));
    }
    if request.method != "GET" {
        return Route::Answer(Response::error(405, "METHOD_NOT_ALLOWED", "the bridge serves only GET /credentials"));
    }
    match request.authorization.as_slice() {
        [given] if !token.is_empty() && same(given.as_bytes(), token.as_bytes()) => Route::Credentials,
        _ => Route::Answer(Response::error(
            403,
            "FORBIDDEN",
            "the Authorization header must be the token `sentinel-tvm exec` gave its command (AWS_CONTAINER_AUTHORIZATION_TOKEN)",
        )),
    }
}

/// Credentials in the cache: what the source gave, and when (seconds since 1970).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub vended: Vended,
    pub received_unix: i64,
}

/// How long before expiry credentials that lasted `lifetime` seconds are fetched again:
/// min(`REFRESH_BEFORE_SECONDS`, half the lifetime).
pub fn refresh_margin(lifetime: i64) -> i64 {
    (lifetime / 2).clamp(0, REFRESH_BEFORE_SECONDS)
}

/// Whether the source should be asked again: nothing cached, an expiration that does not parse,
/// or less than `refresh_margin` of the credentials' lifetime left.
pub fn needs_refresh(cached: Option<&Held>, now_unix: i64) -> bool {
    let Some(held) = cached else { return true };
    let Some(left) = held.vended.seconds_left(now_unix) else { return true };
    left < refresh_margin(left + (now_unix - held.received_unix))
}

/// Whether a fetch may start `now`: none started within `MIN_FETCH_INTERVAL`.
pub fn may_fetch(last_started: Option<Instant>, now: Instant) -> bool {
    last_started.is_none_or(|started| now.saturating_duration_since(started) >= MIN_FETCH_INTERVAL)
}

/// The cached credentials while they are still valid.
fn still_valid(cached: Option<&Held>, now_unix: i64) -> Option<&Vended> {
    cached.map(|held| &held.vended).filter(|vended| vended.seconds_left(now_unix).is_some_and(|left| left > 0))
}

impl Response {
    pub fn credentials(vended: &Vended) -> Response {
        Response { status: 200, body: vended.container_json() }
    }

    pub fn error(status: u16, code: &str, message: &str) -> Response {
        Response { status, body: json!({"Code": code, "Message": message}).to_string() }
    }

    /// A 502 the command's SDK reports: the TVM's words when it refused.
    pub fn failure(failure: &Failure) -> Response {
        match failure {
            Failure::Refused(words) => Response::error(502, "TVM_REFUSED", words),
            Failure::Unavailable(why) => Response::error(502, "TVM_UNAVAILABLE", why),
        }
    }

    /// The whole HTTP/1.1 response.
    pub fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Bad Gateway",
        };
        let allow = if self.status == 405 { "Allow: GET\r\n" } else { "" };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\n{allow}Connection: close\r\n\r\n{}",
            self.status,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

/// Equal bytes, in time that depends on the length only.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// 32 random bytes, hex.
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness for the bridge's token: {error}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The command's environment: what to remove, what to set, and a note for the user.
#[derive(Debug, PartialEq, Eq)]
pub struct ChildEnv {
    pub remove: Vec<&'static str>,
    pub set: Vec<(&'static str, String)>,
    pub note: Option<String>,
}

/// The environment that makes the command's SDK ask the bridge at `url` (see the module comment).
/// `config`: the user's config file (as shown) and its default profile, when there is one;
/// `region_set`: AWS_REGION or AWS_DEFAULT_REGION is already set.
pub fn child_env(url: &str, token: &str, config: Option<(&str, &DefaultProfile)>, region_set: bool) -> ChildEnv {
    let mut set = vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.to_string()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
    ];
    let mut note = None;
    if let Some((path, profile)) = config.filter(|(_, profile)| !profile.credential_keys.is_empty()) {
        set.push(("AWS_CONFIG_FILE", "/dev/null".to_string()));
        let keys = profile.credential_keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        let mut text = format!(
            "the default profile in `{path}` has credentials of its own ({keys}), which an AWS SDK would use instead of the TVM's: the command runs without that file"
        );
        if let (Some(region), false) = (&profile.region, region_set) {
            set.push(("AWS_REGION", region.clone()));
            set.push(("AWS_DEFAULT_REGION", region.clone()));
            text.push_str(&format!(", its region `{region}` passed on as AWS_REGION"));
        }
        note = Some(text);
    }
    // The mark of `exec`'s own credential lookup: a `sentinel-tvm` the command runs is no lookup.
    let remove = SHADOWING.iter().copied().chain([recursion::MARK]).collect();
    ChildEnv { remove, set, note }
}

/// A running bridge; it stops when dropped.
pub struct Bridge {
    addr: SocketAddr,
    token: String,
    task: JoinHandle<()>,
}

struct Shared<S> {
    source: S,
    token: String,
    /// Locked only to read or write it, never across an await.
    cache: Mutex<Cache>,
}

/// What one fetch ends with; `None` while it runs.
type Fetched = Option<Result<Vended, Failure>>;

#[derive(Default)]
struct Cache {
    held: Option<Held>,
    /// The fetch under way, for requests that have nothing valid to answer with.
    fetching: Option<watch::Receiver<Fetched>>,
    last_started: Option<Instant>,
    last_failure: Option<Failure>,
}

impl<S> Shared<S> {
    fn cache(&self) -> MutexGuard<'_, Cache> {
        // Nothing panics while holding it; if something did, the data is still whole.
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Bridge {
    /// Listens on 127.0.0.1, on a port the system picks; `first` seeds the cache.
    pub async fn start<S: Source>(source: S, first: Option<Vended>) -> Result<Bridge> {
        Self::start_with(source, first.map(|vended| Held { vended, received_unix: now_unix() })).await
    }

    async fn start_with<S: Source>(source: S, first: Option<Held>) -> Result<Bridge> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("cannot open the credentials bridge on 127.0.0.1")?;
        let addr = listener.local_addr().context("the credentials bridge has no address")?;
        let token = new_token()?;
        let cache = Mutex::new(Cache { held: first, ..Cache::default() });
        let shared = Arc::new(Shared { source, token: token.clone(), cache });
        Ok(Bridge { addr, token, task: tokio::spawn(accept(listener, shared)) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// For AWS_CONTAINER_CREDENTIALS_FULL_URI.
    pub fn url(&self) -> String {
        format!("http://{}{CREDENTIALS_PATH}", self.addr)
    }

    /// For AWS_CONTAINER_AUTHORIZATION_TOKEN.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept<S: Source>(listener: TcpListener, shared: Arc<Shared<S>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, shared.clone()));
            }
            // Out of file descriptors, or the like: let it pass.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// One connection: read the head, answer, close.
async fn serve<S: Source>(mut stream: TcpStream, shared: Arc<Shared<S>>) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => head,
        Err(_) => return,
    };
    let response = match head.and_then(|head| Request::parse(&head)) {
        Err(response) => response,
        Ok(request) => match route(&request, &shared.token) {
            Route::Answer(response) => response,
            Route::Credentials => credentials(&shared).await,
        },
    };
    let _ = tokio::time::timeout(READ_TIMEOUT, stream.write_all(&response.to_bytes())).await;
    let _ = stream.shutdown().await;
}

/// The bytes before the blank line; a head over `HEAD_LIMIT` is a 431.
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, Response> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await.unwrap_or(0);
        if read == 0 {
            return Err(Response::error(400, "BAD_REQUEST", "the request ended before its headers did"));
        }
        head.extend_from_slice(&chunk[..read]);
        let end = head.windows(4).position(|w| w == b"\r\n\r\n");
        if end.unwrap_or(head.len()) > HEAD_LIMIT {
            return Err(Response::error(431, "HEADERS_TOO_LARGE", "the request head is over 8 KiB"));
        }
        if let Some(end) = end {
            head.truncate(end);
            return Ok(head);
        }
    }
}

/// The cached credentials while valid (a renewal that is due starts in the background); else
/// what the one fetch under way brings; else the last failure, until another fetch may start.
async fn credentials<S: Source>(shared: &Arc<Shared<S>>) -> Response {
    let (valid, fetching, failure) = {
        let mut cache = shared.cache();
        let now = now_unix();
        if needs_refresh(cache.held.as_ref(), now)
            && cache.fetching.is_none()
            && may_fetch(cache.last_started, Instant::now())
        {
            cache.last_started = Some(Instant::now());
            cache.fetching = Some(start_fetch(shared.clone()));
        }
        (still_valid(cache.held.as_ref(), now).cloned(), cache.fetching.clone(), cache.last_failure.clone())
    };
    if let Some(vended) = valid {
        return Response::credentials(&vended);
    }
    let fetched = match fetching {
        Some(mut fetching) => fetching.wait_for(Option::is_some).await.ok().and_then(|done| done.clone()),
        None => None,
    };
    match fetched {
        Some(Ok(vended)) => Response::credentials(&vended),
        Some(Err(failure)) => Response::failure(&failure),
        None => Response::failure(&failure.unwrap_or_else(|| Failure::Unavailable("no credentials".into()))),
    }
}

/// Asks the source in a task of its own, bounded by `FETCH_TIMEOUT`; the result goes into the
/// cache and to every request waiting on the returned receiver.
fn start_fetch<S: Source>(shared: Arc<Shared<S>>) -> watch::Receiver<Fetched> {
    let (done, receiver) = watch::channel(None);
    tokio::spawn(async move {
        let result = tokio::time::timeout(FETCH_TIMEOUT, shared.source.vend()).await.unwrap_or_else(|_| {
            Err(Failure::Unavailable(format!("the TVM did not answer within {} s", FETCH_TIMEOUT.as_secs())))
        });
        {
            let mut cache = shared.cache();
            cache.fetching = None;
            match &result {
                Ok(vended) => {
                    cache.held = Some(Held { vended: vended.clone(), received_unix: now_unix() });
                    cache.last_failure = None;
                }
                // The source says why (`commands::exec`); the SDK gets the TVM's words as a 502.
                Err(failure) => cache.last_failure = Some(failure.clone()),
            }
        }
        let _ = done.send(Some(result));
    });
    receiver
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn vended(expiration: &str) -> Vended {
        Vended {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "s3cr3t".into(),
            token: "t0k3n".into(),
            expiration: expiration.into(),
        }
    }

    fn request(method: &str, path: &str, authorization: &[&str]) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            authorization: authorization.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn request_heads_parse_strictly() {
        let ok = |head: &str| Request::parse(head.as_bytes()).unwrap();
        assert_eq!(
            ok("GET /credentials HTTP/1.1\r\nHost: 127.0.0.1:1234\r\nAuthorization: abc\r\nAccept: application/json"),
            request("GET", "/credentials", &["abc"])
        );
        assert_eq!(ok("GET /credentials?x=1 HTTP/1.0"), request("GET", "/credentials", &[]));
        assert_eq!(
            ok("GET /credentials HTTP/1.1\r\nauthorization:\t abc \r\nAUTHORIZATION: def"),
            request("GET", "/credentials", &["abc", "def"])
        );
        for bad in [
            "",
            "GET /credentials",
            "GET /credentials HTTP/2",
            "GET  /credentials HTTP/1.1",
            "GET /credentials HTTP/1.1 extra",
            "GET credentials HTTP/1.1",
            " /credentials HTTP/1.1",
            "GET /credentials HTTP/1.1\r\nno colon",
            "GET /credentials HTTP/1.1\r\nAuthorization : abc",
            "GET /credentials HTTP/1.1\r\nAccept: a\r\n continued",
            "GET /credentials HTTP/1.1\r\n: empty name",
        ] {
            assert_eq!(Request::parse(bad.as_bytes()).map_err(|r| r.status), Err(400), "{bad:?}");
        }
        assert_eq!(Request::parse(b"GET /\xff HTTP/1.1").map_err(|r| r.status), Err(400));
    }

    #[test]
    fn only_get_credentials_with_the_one_right_token_is_served() {
        let wrong_length = &TOKEN[1..];
        let wrong_last = format!("{}0", &TOKEN[..63]);
        for (request, expected) in [
            (request("GET", "/credentials", &[TOKEN]), None),
            (request("GET", "/credentials", &[]), Some(403)),
            (request("GET", "/credentials", &[wrong_length]), Some(403)),
            (request("GET", "/credentials", &[&wrong_last]), Some(403)),
            (request("GET", "/credentials", &[&format!("Bearer {TOKEN}")]), Some(403)),
            (request("GET", "/credentials", &[TOKEN, TOKEN]), Some(403)),
            (request("GET", "/credentials", &[""]), Some(403)),
            (request("POST", "/credentials", &[TOKEN]), Some(405)),
            (request("HEAD", "/credentials", &[TOKEN]), Some(405)),
            (request("GET", "/", &[TOKEN]), Some(404)),
            (request("GET", "/credentials/", &[TOKEN]), Some(404)),
        ] {
            let status = match route(&request, TOKEN) {
                Route::Credentials => None,
                Route::Answer(response) => Some(response.status),
            };
            assert_eq!(status, expected, "{request:?}");
        }
        let empty = route(&request("GET", "/credentials", &[""]), "");
        assert!(matches!(empty, Route::Answer(Response { status: 403, .. })), "an empty token matches nothing");
    }

    #[test]
    fn credentials_are_fetched_again_fifteen_minutes_or_half_their_lifetime_before_they_expire() {
        use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
        let at = |time: &str| DateTime::from_str(time, DateTimeFormat::DateTime).unwrap().secs();
        let now = at("2026-11-23T16:00:00Z");
        let held = |expiration: &str, received: &str| Held { vended: vended(expiration), received_unix: at(received) };
        for (cached, refresh) in [
            (None, true),
            // an hour's credentials: fifteen minutes before
            (Some(held("2026-11-23T17:00:00Z", "2026-11-23T16:00:00Z")), false),
            (Some(held("2026-11-23T16:15:00Z", "2026-11-23T15:15:00Z")), false),
            (Some(held("2026-11-23T16:14:59Z", "2026-11-23T15:14:59Z")), true),
            (Some(held("2026-11-23T16:10:00Z", "2026-11-23T15:10:00Z")), true),
            // fifteen minutes' credentials: half their lifetime, 7.5 minutes, before
            (Some(held("2026-11-23T16:08:00Z", "2026-11-23T15:53:00Z")), false),
            (Some(held("2026-11-23T16:07:30Z", "2026-11-23T15:52:30Z")), false),
            (Some(held("2026-11-23T16:07:29Z", "2026-11-23T15:52:29Z")), true),
            (Some(held("2026-11-23T15:00:00Z", "2026-11-23T14:00:00Z")), true),
            (Some(held("soon", "2026-11-23T15:59:00Z")), true),
        ] {
            assert_eq!(needs_refresh(cached.as_ref(), now), refresh, "{cached:?}");
        }
        assert_eq!((refresh_margin(3600), refresh_margin(900), refresh_margin(-5)), (900, 450, 0));
    }

    #[test]
    fn at_most_one_fetch_starts_in_ten_seconds() {
        let now = Instant::now();
        let ago = |seconds: u64| now.checked_sub(Duration::from_secs(seconds));
        for (last_started, may) in [(None, true), (ago(0), false), (ago(9), false), (ago(10), true), (ago(600), true)] {
            assert_eq!(may_fetch(last_started, now), may, "{last_started:?}");
        }
    }

    #[test]
    fn responses_are_complete_http_messages() {
        let text = String::from_utf8(Response::error(405, "METHOD_NOT_ALLOWED", "no").to_bytes()).unwrap();
        let body = r#"{"Code":"METHOD_NOT_ALLOWED","Message":"no"}"#;
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nAllow: GET\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        );
        let refused = Response::failure(&Failure::Refused("the TVM refused (403 POLICY_DENY): lockdown".into()));
        assert_eq!(refused.status, 502);
        assert!(refused.body.contains("POLICY_DENY") && refused.body.contains("TVM_REFUSED"), "{}", refused.body);
        let token = new_token().unwrap();
        assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
        assert_ne!(token, new_token().unwrap());
    }

    #[test]
    fn the_command_loses_every_other_credential_source_and_keeps_its_region() {
        let url = "http://127.0.0.1:4567/credentials";
        let set = |env: &ChildEnv, name: &str| env.set.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        let plain = child_env(url, TOKEN, None, false);
        assert_eq!(plain.remove, [&SHADOWING[..], &[recursion::MARK]].concat(), "the mark goes too");
        assert_eq!(set(&plain, "AWS_CONTAINER_CREDENTIALS_FULL_URI").as_deref(), Some(url));
        assert_eq!(set(&plain, "AWS_CONTAINER_AUTHORIZATION_TOKEN").as_deref(), Some(TOKEN));
        assert_eq!(set(&plain, "AWS_SHARED_CREDENTIALS_FILE").as_deref(), Some("/dev/null"));
        assert_eq!((set(&plain, "AWS_CONFIG_FILE"), plain.note), (None, None));
        for kept in ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_CA_BUNDLE"] {
            assert!(!SHADOWING.contains(&kept), "{kept}");
        }

        let region_only = DefaultProfile { credential_keys: vec![], region: Some("eu-west-2".into()) };
        let kept = child_env(url, TOKEN, Some(("~/.aws/config", &region_only)), false);
        assert_eq!((set(&kept, "AWS_CONFIG_FILE"), set(&kept, "AWS_REGION"), kept.note), (None, None, None));

        let sso = DefaultProfile { credential_keys: vec!["sso_session".into()], region: Some("eu-west-2".into()) };
        let hidden = child_env(url, TOKEN, Some(("~/.aws/config", &sso)), false);
        assert_eq!(set(&hidden, "AWS_CONFIG_FILE").as_deref(), Some("/dev/null"));
        assert_eq!(set(&hidden, "AWS_REGION").as_deref(), Some("eu-west-2"));
        assert_eq!(set(&hidden, "AWS_DEFAULT_REGION").as_deref(), Some("eu-west-2"));
        let note = hidden.note.unwrap();
        assert!(
            note.contains("`~/.aws/config`") && note.contains("`sso_session`") && note.contains("`eu-west-2`"),
            "{note}"
        );

        let region_given = child_env(url, TOKEN, Some(("~/.aws/config", &sso)), true);
        assert_eq!(set(&region_given, "AWS_CONFIG_FILE").as_deref(), Some("/dev/null"));
        assert_eq!(set(&region_given, "AWS_REGION"), None, "the region already set wins");
        assert!(!region_given.note.unwrap().contains("eu-west-2"));
    }

    /// Counts its calls; answers after `delay` with credentials valid for an hour, or `failure`.
    struct Fake {
        calls: AtomicUsize,
        delay: Duration,
        failure: Option<Failure>,
    }

    impl Source for Arc<Fake> {
        async fn vend(&self) -> Result<Vended, Failure> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            match &self.failure {
                Some(failure) => Err(failure.clone()),
                None => {
                    let expires = rfc3339(now_unix() + 3600);
                    Ok(vended(&expires))
                }
            }
        }
    }

    /// `seconds` since 1970 as RFC 3339 (UTC), the shape the TVM sends.
    fn rfc3339(seconds: i64) -> String {
        use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
        DateTime::from_secs(seconds).fmt(DateTimeFormat::DateTime).unwrap()
    }

    /// Sends `raw` to the bridge; the status and body of its answer.
    async fn ask(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(raw).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        (head[9..12].parse().unwrap(), body.to_string())
    }

    fn get(token: Option<&str>) -> Vec<u8> {
        let authorization = token.map(|t| format!("Authorization: {t}\r\n")).unwrap_or_default();
        format!("GET /credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}\r\n").into_bytes()
    }

    #[tokio::test]
    async fn the_bridge_listens_on_loopback_and_serves_only_its_token() {
        let fake = Arc::new(Fake { calls: AtomicUsize::new(0), delay: Duration::from_millis(200), failure: None });
        let bridge = Bridge::start(fake.clone(), None).await.unwrap();
        assert_eq!(bridge.addr().ip(), Ipv4Addr::LOCALHOST);
        assert_eq!(bridge.url(), format!("http://127.0.0.1:{}/credentials", bridge.addr().port()));

        assert_eq!(ask(bridge.addr(), &get(None)).await.0, 403);
        assert_eq!(ask(bridge.addr(), &get(Some("guess"))).await.0, 403);
        assert_eq!(ask(bridge.addr(), b"GET /other HTTP/1.1\r\n\r\n").await.0, 404);
        let huge = format!("GET /credentials HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(HEAD_LIMIT));
        assert_eq!(ask(bridge.addr(), huge.as_bytes()).await.0, 431);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 0, "nothing is fetched for a refused request");

        // Five SDK requests at once share one fetch; the next is served from the cache.
        let token = bridge.token().to_string();
        let request = get(Some(&token));
        let answers = futures_util::future::join_all((0..5).map(|_| ask(bridge.addr(), &request))).await;
        for (status, body) in &answers {
            assert_eq!(*status, 200, "{body}");
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["AccessKeyId"], "ASIAEXAMPLE");
        }
        assert_eq!(ask(bridge.addr(), &get(Some(&token))).await.0, 200);
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);

        // The port is not open on any other address of this machine.
        match non_loopback_address() {
            Some(ip) => {
                let elsewhere = TcpStream::connect((ip, bridge.addr().port())).await;
                assert!(elsewhere.is_err(), "the bridge answered on {ip}");
            }
            None => eprintln!("note: this machine has no non-loopback address to probe the bridge from"),
        }
    }

    /// Threat model T14: a renewal that is due while the cached credentials are still valid runs
    /// beside the requests, never in front of them. Before, the cache's lock was held across the
    /// TVM call, so every request (and the command's SDK, which gives up on a slow bridge) waited
    /// for the TVM.
    #[tokio::test]
    async fn renewing_never_keeps_a_request_waiting_for_the_tvm_while_credentials_are_valid() {
        let fake = Arc::new(Fake { calls: AtomicUsize::new(0), delay: Duration::from_secs(2), failure: None });
        // Valid for ten more minutes of an hour: due (fifteen minutes before), not expired.
        let mut old = vended(&rfc3339(now_unix() + 600));
        old.access_key_id = "ASIAOLD".into();
        let held = Held { vended: old, received_unix: now_unix() - 3000 };
        let bridge = Bridge::start_with(fake.clone(), Some(held)).await.unwrap();
        let request = get(Some(bridge.token()));

        for _ in 0..3 {
            let started = Instant::now();
            let (status, body) = ask(bridge.addr(), &request).await;
            assert!(started.elapsed() < Duration::from_millis(500), "waited {:?}", started.elapsed());
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("ASIAOLD"), "the cached credentials, at once: {body}");
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (status, body) = ask(bridge.addr(), &request).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("ASIAEXAMPLE"), "the renewed credentials: {body}");
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "one renewal for all four requests");
    }

    /// A TVM that keeps failing is asked at most once per 10 s, however often the SDK asks.
    #[tokio::test]
    async fn a_failing_tvm_is_asked_at_most_once_in_ten_seconds() {
        let failure = Some(Failure::Unavailable("cannot reach the TVM".into()));
        let fake = Arc::new(Fake { calls: AtomicUsize::new(0), delay: Duration::ZERO, failure });
        let bridge = Bridge::start(fake.clone(), Some(vended("2020-01-01T00:00:00Z"))).await.unwrap();
        for _ in 0..4 {
            let (status, body) = ask(bridge.addr(), &get(Some(bridge.token()))).await;
            assert_eq!(status, 502, "{body}");
            assert!(body.contains("cannot reach the TVM"), "{body}");
        }
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refusal_while_renewing_reaches_the_sdk_as_a_502_in_the_tvms_words() {
        let words = "the TVM refused (403 POLICY_DENY): Policy denied: lockdown in force";
        let failure = Some(Failure::Refused(words.into()));
        let fake = Arc::new(Fake { calls: AtomicUsize::new(0), delay: Duration::ZERO, failure });
        let stale = vended("2020-01-01T00:00:00Z");
        let bridge = Bridge::start(fake.clone(), Some(stale)).await.unwrap();
        let (status, body) = ask(bridge.addr(), &get(Some(bridge.token()))).await;
        assert_eq!(status, 502);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, json!({"Code": "TVM_REFUSED", "Message": words}));
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    /// The address this machine would send from to a documentation address (no packet is sent),
    /// when it is not loopback.
    fn non_loopback_address() -> Option<std::net::IpAddr> {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
        socket.connect("192.0.2.1:9").ok()?;
        let ip = socket.local_addr().ok()?.ip();
        (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
    }
}
