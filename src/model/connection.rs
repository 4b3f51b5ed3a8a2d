//! Where and as whom to talk to AWS: the one value every SDK client is configured from
//! (`aws::sdk_config`), resolved once per run by `settings`, and the one answer to "is this an
//! emulator on this machine?".

use crate::names::is_emulator_endpoint;

/// Where and as whom to talk to AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

impl Connection {
    /// The one way to make a connection: a blank endpoint is none (the SDK panics on an empty
    /// `AWS_ENDPOINT_URL`, and a person means "no endpoint" by it).
    pub fn new(profile: Option<String>, region: Option<String>, endpoint_url: Option<String>) -> Self {
        Self { profile, region, endpoint_url: endpoint_url.filter(|url| !url.trim().is_empty()) }
    }

    /// The endpoint, when it is an emulator on this machine (a loopback host): where the TVM's
    /// URL takes the emulator's path form, S3 is addressed by path, and what CloudFormation
    /// cannot restore there is restored another way. Any other endpoint is AWS's.
    pub fn emulator(&self) -> Option<&str> {
        self.endpoint_url.as_deref().filter(|url| is_emulator_endpoint(Some(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_endpoint_is_none_and_only_a_loopback_one_is_an_emulator() {
        let at = |url: &str| Connection::new(None, None, Some(url.into()));
        assert_eq!(at("  ").endpoint_url, None);
        for (url, emulator) in [
            ("http://127.0.0.1:4566", true),
            ("http://localhost:4566/", true),
            ("http://[::1]:4566", true),
            ("https://vpce-0a1b.s3.eu-west-2.vpce.amazonaws.com", false),
            ("http://127.0.0.1.nip.io:4566", false),
        ] {
            assert_eq!(at(url).emulator().is_some(), emulator, "{url}");
        }
        assert_eq!(Connection::default().emulator(), None);
    }
}
