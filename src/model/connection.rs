//! Where and as whom to talk to AWS: the one value every SDK client is configured from
//! (`aws::sdk_config`), resolved once per run by `settings`.

/// Where and as whom to talk to AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}
