//! The names every AssumeRole carries (CONTRACT.md §5, threat model T7): a SourceIdentity and a
//! RoleSessionName that hold the caller's username, a discriminator derived from the verified
//! principal, and one random request id, which the decision log repeats, so CloudTrail and the
//! TVM's log can be joined.
//!
//! The username is what the caller's ARN ends in: a session or federated name the caller may
//! have chosen, sanitised and cut to 20 characters, so two people can share it. The
//! discriminator cannot be chosen: it hashes the account and the principal's unique id, which
//! AWS assigns, and it stays the same from one session to the next.

use sha2::{Digest, Sha256};

/// 8 bytes from the operating system's CSPRNG, as 16 lowercase hex characters: 64 bits, so a
/// TVM issuing a million credentials a day goes for ages without two alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn random() -> Result<RequestId, getrandom::Error> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn from_bytes(bytes: [u8; 8]) -> RequestId {
        RequestId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Base32 characters of the discriminator: 80 bits.
pub const DISCRIMINATOR_LEN: usize = 16;

/// Who the caller is, in a form no caller chooses: the first 16 lowercase base32 characters
/// (RFC 4648 alphabet) of SHA-256(account ‖ unique id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discriminator(String);

impl Discriminator {
    /// `unique_id` is the principal's id as `GetCallerIdentity` reports `UserId`: what comes
    /// before a `:` is kept (`AROA…` of the role, not the session after it; `AIDA…` of a user;
    /// the account for root and federated users).
    pub fn of(account_id: &str, unique_id: &str) -> Discriminator {
        let stable = unique_id.split(':').next().unwrap_or_default();
        let digest = Sha256::digest([account_id.as_bytes(), stable.as_bytes()].concat());
        Discriminator(base32(&digest).chars().take(DISCRIMINATOR_LEN).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lowercase RFC 4648 base32 without padding: letters and `2`–`7`, which STS allows in both names.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// `sentinel.<user>.<disc>.<reqid>`, at most 9 + 20 + 1 + 16 + 1 + 16 = 63 characters of
/// `[A-Za-z0-9.]`: within STS's 64 and its `[A-Za-z0-9_+=,.@-]`, and matching the protected
/// roles' trust condition `sentinel.*`.
pub fn source_identity(user: &str, disc: &Discriminator, id: &RequestId) -> String {
    format!("sentinel.{user}.{}.{}", disc.0, id.0)
}

/// `tvm-<user>-<disc>-<reqid>`: at most 58 characters.
pub fn session_name(user: &str, disc: &Discriminator, id: &RequestId) -> String {
    format!("tvm-{user}-{}-{}", disc.0, id.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::username;

    fn sts_allows(text: &str) -> bool {
        (2..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
    }

    #[test]
    fn base32_is_rfc_4648_lowercase_without_padding() {
        for (bytes, encoded) in [
            (&b""[..], ""),
            (b"f", "my"),
            (b"fo", "mzxq"),
            (b"foo", "mzxw6"),
            (b"foob", "mzxw6yq"),
            (b"fooba", "mzxw6ytb"),
            (b"foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32(bytes), encoded, "{bytes:?}");
        }
    }

    #[test]
    fn names_for_the_longest_username_fit_sts_limits() {
        let id = RequestId::from_bytes([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
        let disc = Discriminator::of("111122223333", "AIDACKCEVSQ6C2EXAMPLE");
        let user = "a".repeat(20);
        let identity = source_identity(&user, &disc, &id);
        assert_eq!(identity, format!("sentinel.{user}.{}.deadbeef00010203", disc.as_str()));
        assert_eq!(identity.len(), 63);
        assert!(sts_allows(&identity), "{identity}");
        let session = session_name(&user, &disc, &id);
        assert_eq!(session, format!("tvm-{user}-{}-deadbeef00010203", disc.as_str()));
        assert!(sts_allows(&session) && session.len() <= 64, "{session}");
    }

    #[test]
    fn two_callers_with_the_same_sanitised_name_get_different_names() {
        let id = RequestId::from_bytes([7; 8]);
        // Two IAM users whose names sanitise alike, and two people in one Identity Center
        // permission set whose e-mail addresses agree in their first 20 letters and digits.
        for ((arn_a, uid_a), (arn_b, uid_b)) in [
            (
                ("arn:aws:iam::111122223333:user/alice.x", "AIDAAAAAAAAAAAAAAAAA1"),
                ("arn:aws:iam::111122223333:user/alicex", "AIDAAAAAAAAAAAAAAAAA2"),
            ),
            (
                ("arn:aws:iam::111122223333:user/alice", "AIDAAAAAAAAAAAAAAAAA1"),
                ("arn:aws:iam::444455556666:user/alice", "AIDAAAAAAAAAAAAAAAAA1"),
            ),
            (
                (
                    "arn:aws:sts::111122223333:assumed-role/Dev/alice.bob@subsidiary.company.com",
                    "AROAAAAAAAAAAAAAAAAA1:alice.bob@subsidiary.company.com",
                ),
                (
                    "arn:aws:sts::111122223333:assumed-role/Ops/alice.bob@subsidiary.company.org",
                    "AROAAAAAAAAAAAAAAAAA2:alice.bob@subsidiary.company.org",
                ),
            ),
        ] {
            let (user_a, user_b) = (username(arn_a).unwrap(), username(arn_b).unwrap());
            assert_eq!(user_a, user_b, "the test needs names that sanitise alike");
            let account = |arn: &str| arn.split(':').nth(4).unwrap().to_string();
            let a = source_identity(&user_a, &Discriminator::of(&account(arn_a), uid_a), &id);
            let b = source_identity(&user_b, &Discriminator::of(&account(arn_b), uid_b), &id);
            assert_ne!(a, b, "{arn_a} and {arn_b}");
        }
    }

    #[test]
    fn the_discriminator_ignores_the_session_part_of_the_unique_id() {
        let first = Discriminator::of("111122223333", "AROAAAAAAAAAAAAAAAAA1:ci-run-1");
        assert_eq!(first, Discriminator::of("111122223333", "AROAAAAAAAAAAAAAAAAA1:ci-run-2"));
        assert_eq!(first, Discriminator::of("111122223333", "AROAAAAAAAAAAAAAAAAA1"));
        assert_eq!(first.as_str().len(), DISCRIMINATOR_LEN);
        assert!(first.as_str().bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)), "{first:?}");
    }

    #[test]
    fn random_ids_are_16_lowercase_hex_and_differ() {
        let a = RequestId::random().unwrap();
        let b = RequestId::random().unwrap();
        for id in [&a, &b] {
            assert_eq!(id.as_str().len(), 16);
            assert!(id.as_str().bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{id:?}");
        }
        assert_ne!(a, b, "two random 64-bit ids collided: suspect the RNG");
    }
}
