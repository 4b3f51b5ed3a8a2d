//! The incoming event (CONTRACT.md §1–§2): an API Gateway HTTP API payload 2.0 or a Function URL event,
//! which share one shape. Only the fields the TVM uses are read; every other field is ignored,
//! so nothing unexpected in an event can turn a good request into an error.
//!
//! Who is calling comes from the caller proof (`headers[x-sentinel-tvm-proof]`, checked by
//! `proof` and STS) and, with proofs off, from `requestContext.authorizer.iam` alone. The body
//! never says.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    pub raw_path: Option<String>,
    pub raw_query_string: Option<String>,
    /// Lowercase names in payload 2.0; any value that is not a string is ignored.
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    pub request_context: RequestContext,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestContext {
    pub http: Http,
    pub authorizer: Option<Authorizer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Http {
    pub method: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Authorizer {
    pub iam: Option<IamAuthorizer>,
}

/// What API Gateway (or the Function URL) verified about the SigV4 signer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IamAuthorizer {
    pub account_id: Option<String>,
    pub user_arn: Option<String>,
    pub user_id: Option<String>,
    pub access_key: Option<String>,
    pub principal_org_id: Option<String>,
}

/// Where a request goes, from `rawPath` with one trailing `/` removed (empty means `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/`: vending, any method.
    Vend,
    /// `/profiles`: discovery, GET only.
    Profiles,
    NotFound,
}

impl Event {
    pub fn route(&self) -> Route {
        let path = self.raw_path.as_deref().unwrap_or("");
        let path = path.strip_suffix('/').unwrap_or(path);
        match path {
            "" => Route::Vend,
            "/profiles" => Route::Profiles,
            _ => Route::NotFound,
        }
    }

    pub fn method(&self) -> &str {
        self.request_context.http.method.as_deref().unwrap_or("")
    }

    /// A request header, by its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_ref()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
    }

    pub fn iam(&self) -> Option<&IamAuthorizer> {
        self.request_context.authorizer.as_ref()?.iam.as_ref()
    }

    /// A query parameter, percent-decoded. A repeated parameter comes back joined with `,` (as
    /// API Gateway's `queryStringParameters` has it), which no valid value contains.
    pub fn query(&self, name: &str) -> Option<String> {
        query_param(self.raw_query_string.as_deref().unwrap_or(""), name)
    }
}

/// Reads `name` from a raw query string (`a=1&b=2`); see `Event::query`.
pub fn query_param(raw_query: &str, name: &str) -> Option<String> {
    let values: Vec<String> = raw_query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key) == name).then(|| percent_decode(value))
        })
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// `%XX` and `+` decoding. A malformed escape stays as written; invalid UTF-8 becomes U+FFFD,
/// which every validator downstream rejects.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%').then(|| bytes.get(i + 1..i + 3)).flatten();
        match (escaped.and_then(|pair| hex_pair(pair[0], pair[1])), bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_with_path(path: Option<&str>) -> Event {
        Event { raw_path: path.map(str::to_string), ..Event::default() }
    }

    #[test]
    fn routes_follow_raw_path_with_one_trailing_slash_removed() {
        for (path, route) in [
            (Some("/"), Route::Vend),
            (Some(""), Route::Vend),
            (None, Route::Vend),
            (Some("/profiles"), Route::Profiles),
            (Some("/profiles/"), Route::Profiles),
            (Some("/profiles//"), Route::NotFound),
            (Some("//"), Route::NotFound),
            (Some("/Profiles"), Route::NotFound),
            (Some("/default/"), Route::NotFound),
            (Some("/credentials"), Route::NotFound),
        ] {
            assert_eq!(event_with_path(path).route(), route, "{path:?}");
        }
    }

    #[test]
    fn query_parameters_are_decoded_and_repeats_joined() {
        for (raw, name, expected) in [
            ("profile=prod&duration=900", "profile", Some("prod")),
            ("profile=prod&duration=900", "duration", Some("900")),
            ("profile=prod", "duration", None),
            ("", "profile", None),
            ("profile=", "profile", Some("")),
            ("profile", "profile", Some("")),
            ("profile=a%2Fb", "profile", Some("a/b")),
            ("profile=a+b", "profile", Some("a b")),
            ("profile=%ZZ", "profile", Some("%ZZ")),
            ("profile=%4", "profile", Some("%4")),
            ("profile=%", "profile", Some("%")),
            ("profile=%00", "profile", Some("\0")),
            ("profile=%FF", "profile", Some("\u{FFFD}")),
            ("profile=a&profile=b", "profile", Some("a,b")),
            ("%70rofile=x", "profile", Some("x")),
        ] {
            assert_eq!(query_param(raw, name).as_deref(), expected, "{raw:?} {name}");
        }
    }
}
