//! The names every AssumeRole carries (CONTRACT.md §5): a SourceIdentity and a RoleSessionName that
//! both hold the caller's username and one random request id, which the decision log repeats, so
//! CloudTrail and the TVM's log can be joined.

/// 8 lowercase hex characters from the operating system's CSPRNG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn random() -> Result<RequestId, getrandom::Error> {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes)?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn from_bytes(bytes: [u8; 4]) -> RequestId {
        RequestId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `sentinel.<user>.<reqid>`: STS allows only `[A-Za-z0-9_+=,.@-]` there, so never `:`.
pub fn source_identity(user: &str, id: &RequestId) -> String {
    format!("sentinel.{user}.{}", id.0)
}

/// `tvm-<user>-<reqid>`.
pub fn session_name(user: &str, id: &RequestId) -> String {
    format!("tvm-{user}-{}", id.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts_allows_as_source_identity(text: &str) -> bool {
        (2..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
    }

    #[test]
    fn names_for_the_longest_username_fit_sts_limits() {
        let id = RequestId::from_bytes([0xde, 0xad, 0xbe, 0xef]);
        let user = "a".repeat(20);
        let identity = source_identity(&user, &id);
        assert_eq!(identity, format!("sentinel.{user}.deadbeef"));
        assert!(sts_allows_as_source_identity(&identity), "{identity}");
        let session = session_name(&user, &id);
        assert_eq!(session, format!("tvm-{user}-deadbeef"));
        assert!(session.len() <= 64);
    }

    #[test]
    fn random_ids_are_8_lowercase_hex_and_differ() {
        let a = RequestId::random().unwrap();
        let b = RequestId::random().unwrap();
        for id in [&a, &b] {
            assert_eq!(id.as_str().len(), 8);
            assert!(id.as_str().bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{id:?}");
        }
        assert_ne!(a, b, "two random ids collided (1 in 4 billion): suspect the RNG");
    }
}
