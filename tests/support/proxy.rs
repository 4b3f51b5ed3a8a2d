//! A recording HTTP proxy on 127.0.0.1 in front of the emulator: the binary under test is pointed
//! at it (`Emulator::through`), and every AWS call it makes is forwarded unchanged and written
//! down as (service, operation, access key). What a test counts with it is what the installer
//! really sent, whichever SDK client sent it.
//!
//! HTTP/1.1 only, one request per connection: the request is read whole (the AWS SDK always sends
//! a length), forwarded with `connection: close`, and the answer relayed as it came with
//! `connection: close` added, so the client opens a new connection for its next call. The
//! signature stays valid: no signed header is touched (`connection` is never signed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// One call the proxy forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// From the signature's credential scope: `cloudformation`, `sts`, `s3`, …
    pub service: String,
    /// `X-Amz-Target`'s operation, the query protocol's `Action`, or else `METHOD /path` (REST).
    pub operation: String,
    /// The signing access key id: whose call it was.
    pub access_key: String,
    /// The call asks for a later page (`NextToken`): part of a listing already counted.
    pub next_page: bool,
}

/// A running proxy; it stops with the test process.
pub struct Proxy {
    pub endpoint: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Proxy {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`, a loopback endpoint only).
    pub fn start(upstream: &str) -> Proxy {
        super::assert_loopback(upstream);
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("the proxy's address"));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, recorded) = (upstream.clone(), recorded.clone());
                thread::spawn(move || {
                    if let Err(error) = forward(client, &upstream, &recorded) {
                        eprintln!("proxy: {error}");
                    }
                });
            }
        });
        Proxy { endpoint, calls }
    }

    /// The calls recorded since the last `take`, in the order they arrived.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

/// How many calls of `calls` are first pages of `operation`.
pub fn count(calls: &[Call], operation: &str) -> usize {
    calls.iter().filter(|call| call.operation == operation && !call.next_page).count()
}

fn forward(mut client: TcpStream, upstream: &str, recorded: &Mutex<Vec<Call>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let head = read_head(&mut reader)?;
    if head.is_empty() {
        return Ok(());
    }
    let headers = parse_headers(&head);
    if header(&headers, "expect").is_some_and(|value| value.eq_ignore_ascii_case("100-continue")) {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if header(&headers, "transfer-encoding").is_some() {
        return Err(std::io::Error::other("a request without a length (transfer-encoding) is not supported"));
    }
    let length = header(&headers, "content-length").and_then(|value| value.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    recorded.lock().unwrap().push(call_of(&head, &headers, &body));

    let mut server = TcpStream::connect(upstream)?;
    server
        .write_all(with_header(&without_headers(&head, &["connection", "expect"]), "connection: close").as_bytes())?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |at| at + 4);
    let answer_head = String::from_utf8_lossy(&answer[..split]).into_owned();
    client.write_all(with_header(&without_headers(&answer_head, &["connection"]), "connection: close").as_bytes())?;
    client.write_all(&answer[split..])?;
    client.flush()?;
    client.shutdown(Shutdown::Both)
}

/// The request line and headers, up to and including the empty line (empty: the client left).
fn read_head(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(head);
        }
        head.push_str(&line);
        if line == "\r\n" {
            return Ok(head);
        }
    }
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// `head` without the headers named in `names` (lower case), still ending in the empty line.
fn without_headers(head: &str, names: &[&str]) -> String {
    head.split("\r\n")
        .filter(|line| {
            !line.split_once(':').is_some_and(|(n, _)| names.contains(&n.trim().to_ascii_lowercase().as_str()))
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// `head` (ending in `\r\n\r\n`) with one more header before the empty line.
fn with_header(head: &str, line: &str) -> String {
    format!("{}\r\n{line}\r\n\r\n", head.trim_end_matches("\r\n"))
}

fn call_of(head: &str, headers: &[(String, String)], body: &[u8]) -> Call {
    // `AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/cloudformation/aws4_request, …`
    let scope = header(headers, "authorization")
        .and_then(|value| value.split("Credential=").nth(1))
        .map(|credential| credential.split([',', ' ']).next().unwrap_or_default().split('/').collect::<Vec<_>>())
        .unwrap_or_default();
    let form = String::from_utf8_lossy(body);
    let form_value =
        |name: &str| form.split('&').find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')));
    let request_line: Vec<&str> = head.lines().next().unwrap_or_default().split(' ').collect();
    let path = request_line.get(1).map(|target| target.split('?').next().unwrap_or_default()).unwrap_or_default();
    let operation = header(headers, "x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        .map(str::to_string)
        .or_else(|| form_value("Action").map(str::to_string))
        .unwrap_or_else(|| format!("{} {path}", request_line.first().unwrap_or(&"?")));
    Call {
        service: scope.get(3).unwrap_or(&"").to_string(),
        operation,
        access_key: scope.first().unwrap_or(&"").to_string(),
        next_page: form_value("NextToken").is_some() || form.contains("\"NextToken\""),
    }
}
