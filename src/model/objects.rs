//! What S3 and SSM hold that a deploy decides on: the Lambda zip's stored version and checksum
//! (`StoredObject`), and a version of the policy parameter (`ParameterVersion`). Plain data.

/// An S3 object's latest version as HeadObject (with `ChecksumMode=ENABLED`) or PutObject
/// report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredObject {
    /// `None` in a bucket without versioning.
    pub version_id: Option<String>,
    /// Base64 of the object's SHA-256, when it was stored with one.
    pub checksum_sha256: Option<String>,
}

/// One version of an SSM parameter, as `GetParameter` or `GetParameterHistory` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterVersion {
    pub version: u64,
    pub value: String,
}
