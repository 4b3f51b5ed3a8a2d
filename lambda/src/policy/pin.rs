//! The policy pin (CONTRACT.md §7, threat model T3): which SSM parameter version the TVM obeys and
//! the SHA-256 its value must have. The api stack sets both (`TVM_POLICY_PARAMETER` as
//! `<name>:<version>`, `TVM_POLICY_SHA256`), so a value written over the parameter out of band is a
//! version nobody pinned, and an edited version (which SSM does not allow) is refused.
//!
//! Pure. The installer computes the digest with `sha256_hex` too: one definition for both sides.

use sha2::{Digest, Sha256};

/// The parameter version and digest the TVM obeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPin {
    /// The parameter's name, without the selector.
    pub name: String,
    /// SSM's version number (from 1).
    pub version: u64,
    /// Lowercase hex SHA-256 of the exact UTF-8 value.
    pub sha256: String,
}

impl PolicyPin {
    /// `<name>:<version>`: the parameter and the version, or why not (for the settings error).
    pub fn parse_reference(reference: &str) -> Result<(String, u64), String> {
        let Some((name, version)) = reference.rsplit_once(':') else {
            return Err(format!("is `{reference}`: it must name the version the TVM obeys, `<name>:<version>`"));
        };
        let number = version
            .parse::<u64>()
            .ok()
            .filter(|v| *v > 0 && !version.starts_with('0'))
            .ok_or_else(|| format!("is `{reference}`: `{version}` is not a parameter version (1, 2, …)"))?;
        if name.is_empty() || name.contains(':') {
            return Err(format!("is `{reference}`: `{name}` is not a parameter name"));
        }
        Ok((name.to_string(), number))
    }

    /// What SSM's `GetParameter` is asked for: the version selector.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    /// The value SSM returned, if it is the pinned one; else why not, for the log (never the
    /// value itself: the log must not carry the policy text).
    pub fn check<'t>(&self, value: &'t str) -> Result<&'t str, String> {
        let found = sha256_hex(value.as_bytes());
        if found == self.sha256 {
            Ok(value)
        } else {
            Err(format!(
                "version {} of {} has SHA-256 {found}, not the pinned {}: refusing a policy nobody deployed",
                self.version, self.name, self.sha256
            ))
        }
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 lowercase hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn the_digest_is_lowercase_hex_sha256_of_the_exact_bytes() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
        assert_ne!(sha256_hex(b"rules: []\n"), sha256_hex(b"rules: []"), "a trailing newline is a change");
    }

    #[test]
    fn a_pin_names_a_version() {
        let parsed = PolicyPin::parse_reference("/sentinel-tvm/main/policy:12").unwrap();
        assert_eq!(parsed, ("/sentinel-tvm/main/policy".to_string(), 12));
        let pin = PolicyPin { name: parsed.0, version: parsed.1, sha256: EMPTY_SHA256.into() };
        assert_eq!(pin.reference(), "/sentinel-tvm/main/policy:12");
        for (reference, problem) in [
            ("/sentinel-tvm/main/policy", "`<name>:<version>`"),
            ("/sentinel-tvm/main/policy:", "is not a parameter version"),
            ("/sentinel-tvm/main/policy:0", "is not a parameter version"),
            ("/sentinel-tvm/main/policy:07", "is not a parameter version"),
            ("/sentinel-tvm/main/policy:latest", "is not a parameter version"),
            ("/sentinel-tvm/main/policy:-1", "is not a parameter version"),
            (":3", "is not a parameter name"),
            ("a:b:3", "is not a parameter name"),
        ] {
            let error = PolicyPin::parse_reference(reference).unwrap_err();
            assert!(error.contains(problem), "{reference}: {error}");
        }
    }

    #[test]
    fn a_digest_is_64_lowercase_hex_digits() {
        assert!(is_sha256_hex(EMPTY_SHA256));
        for bad in [EMPTY_SHA256.to_uppercase(), EMPTY_SHA256[1..].to_string(), String::new(), "g".repeat(64)] {
            assert!(!is_sha256_hex(&bad), "{bad}");
        }
    }

    #[test]
    fn only_the_pinned_value_passes_and_the_refusal_never_quotes_it() {
        let text = "version: \"1\"\nrules: []\n";
        let pin = PolicyPin { name: "/p".into(), version: 3, sha256: sha256_hex(text.as_bytes()) };
        assert_eq!(pin.check(text), Ok(text));
        let rewrite =
            "version: \"1\"\nrules: [{name: open, effect: allow, conditions: {accounts: [\"111122223333\"]}}]\n";
        let refusal = pin.check(rewrite).unwrap_err();
        assert!(refusal.contains("version 3 of /p") && refusal.contains(&pin.sha256), "{refusal}");
        assert!(!refusal.contains("open"), "the log must not carry the policy text: {refusal}");
    }
}
