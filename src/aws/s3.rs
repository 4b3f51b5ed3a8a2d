//! S3 for the artifact bucket: read an object's version and SHA-256, upload code with its
//! SHA-256, prune code no stack uses, and empty every version at teardown. Every call names the account that must own the bucket
//! (`ExpectedBucketOwner`): a bucket name another account has taken is never read or written.

use anyhow::Result;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, Delete, ObjectIdentifier};

use super::errors::sdk_error;
use crate::model::objects::StoredObject;

#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
    /// The account ID every bucket touched must belong to.
    expected_owner: String,
}

impl S3 {
    /// Path-style addressing when an endpoint is given: emulators serve buckets by path. S3
    /// refuses (403) any call on a bucket not owned by `expected_owner` (an account ID).
    pub fn new(config: &SdkConfig, path_style: bool, expected_owner: &str) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build();
        Self { client: Client::from_conf(s3_config), expected_owner: expected_owner.to_string() }
    }

    /// The latest version of `key` with its SHA-256 as S3 stored it (`ChecksumMode=ENABLED`);
    /// `None` when there is no such object.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>> {
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&self.expected_owner)
            .checksum_mode(ChecksumMode::Enabled);
        match head.send().await {
            Ok(output) => Ok(Some(StoredObject {
                version_id: output.version_id().map(str::to_string),
                checksum_sha256: output.checksum_sha256().map(str::to_string),
            })),
            Err(error) if error.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(error) => Err(sdk_error(error, format_args!("HeadObject s3://{bucket}/{key}"))),
        }
    }

    /// Uploads `bytes` to `key` with their SHA-256 (`checksum_sha256`, base64), which S3 checks
    /// and keeps; returns the version it made.
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>, checksum_sha256: &str) -> Result<StoredObject> {
        let output = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&self.expected_owner)
            .body(ByteStream::from(bytes))
            .content_type("application/zip")
            .checksum_sha256(checksum_sha256)
            .send()
            .await
            .map_err(|error| sdk_error(error, format_args!("PutObject s3://{bucket}/{key}")))?;
        Ok(StoredObject {
            version_id: output.version_id().map(str::to_string),
            checksum_sha256: output.checksum_sha256().map(str::to_string),
        })
    }

    /// Every object version and delete marker in the bucket whose key starts with `prefix`.
    pub async fn versions(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectIdentifier>> {
        let mut found = Vec::new();
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(bucket)
                .expected_bucket_owner(&self.expected_owner)
                .set_prefix(Some(prefix.to_string()).filter(|p| !p.is_empty()))
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|error| sdk_error(error, format_args!("ListObjectVersions s3://{bucket}/{prefix}")))?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                if let Some(key) = key {
                    found.push(
                        ObjectIdentifier::builder().key(key).set_version_id(version.map(str::to_string)).build()?,
                    );
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        Ok(found)
    }

    /// Deletes every version and delete marker; returns how many it deleted.
    pub async fn empty(&self, bucket: &str) -> Result<usize> {
        let versions = self.versions(bucket, "").await?;
        self.delete(bucket, &versions).await
    }

    /// Deletes every version and delete marker of every key under `prefix` except the keys in
    /// `keep` (whole keys: `lambda/<sha256>.zip`); returns how many it deleted.
    pub async fn delete_objects_except(&self, bucket: &str, prefix: &str, keep: &[String]) -> Result<usize> {
        let mut doomed = self.versions(bucket, prefix).await?;
        doomed.retain(|object| !keep.iter().any(|key| key == object.key()));
        self.delete(bucket, &doomed).await
    }

    async fn delete(&self, bucket: &str, objects: &[ObjectIdentifier]) -> Result<usize> {
        for batch in objects.chunks(1000) {
            let delete = Delete::builder().set_objects(Some(batch.to_vec())).quiet(true).build()?;
            let output = self
                .client
                .delete_objects()
                .bucket(bucket)
                .expected_bucket_owner(&self.expected_owner)
                .delete(delete)
                .send()
                .await
                .map_err(|error| sdk_error(error, format_args!("DeleteObjects s3://{bucket}")))?;
            if let Some(error) = output.errors().first() {
                anyhow::bail!(
                    "could not delete s3://{bucket}/{}: {}",
                    error.key().unwrap_or("?"),
                    error.message().unwrap_or("no reason given")
                );
            }
        }
        Ok(objects.len())
    }

    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool> {
        match self.client.head_bucket().bucket(bucket).expected_bucket_owner(&self.expected_owner).send().await {
            Ok(_) => Ok(true),
            Err(error) if error.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(error) if error.code() == Some("NotFound") || error.code() == Some("NoSuchBucket") => Ok(false),
            Err(error) => Err(sdk_error(error, format_args!("HeadBucket s3://{bucket}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_s3::config::http::{HttpRequest, HttpResponse};
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_s3::primitives::SdkBody;
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };

    use super::*;

    const VERSIONS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>false</IsTruncated>
<Version><Key>lambda/old.zip</Key><VersionId>v1</VersionId><IsLatest>true</IsLatest></Version>
<Version><Key>lambda/kept.zip</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest></Version>
</ListVersionsResult>"#;

    /// Answers like S3 (no object yet, one page of versions) and records each request's method,
    /// URI and the headers that matter here. A mock because the emulator shows what S3 did, not
    /// which headers the SDK sent; the emulator suite checks what S3 does with them.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Seen>>>);

    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        uri: String,
        owner: Option<String>,
        checksum: Option<String>,
        checksum_mode: Option<String>,
    }

    impl HttpConnector for Recorder {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let header = |name: &str| request.headers().get(name).map(str::to_string);
            let owner = header("x-amz-expected-bucket-owner");
            let (checksum, checksum_mode) = (header("x-amz-checksum-sha256"), header("x-amz-checksum-mode"));
            let (method, uri) = (request.method().to_string(), request.uri().to_string());
            let (status, body) = match method.as_str() {
                "HEAD" if uri.contains("/b/lambda/") => (404, ""),
                "GET" => (200, VERSIONS),
                "POST" => (200, "<DeleteResult></DeleteResult>"),
                _ => (200, ""),
            };
            self.0.lock().unwrap().push(Seen { method, uri, owner, checksum, checksum_mode });
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body))))
        }
    }

    #[tokio::test]
    async fn every_call_names_the_expected_bucket_owner_and_code_travels_with_its_sha256() {
        let recorder = Recorder::default();
        let connector = recorder.clone();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
            .endpoint_url("http://s3.test")
            .force_path_style(true)
            .http_client(http_client_fn(move |_, _| SharedHttpConnector::new(connector.clone())))
            .build();
        let s3 = S3 { client: Client::from_conf(config), expected_owner: "111122223333".into() };

        assert_eq!(s3.head("b", "lambda/new.zip").await.unwrap(), None);
        s3.put("b", "lambda/new.zip", b"zip".to_vec(), ZIP_SHA256).await.unwrap();
        assert!(s3.bucket_exists("b").await.unwrap());
        assert_eq!(s3.empty("b").await.unwrap(), 2);
        assert_eq!(s3.delete_objects_except("b", "lambda/", &["lambda/kept.zip".into()]).await.unwrap(), 1);

        let requests = recorder.0.lock().unwrap().clone();
        let methods: Vec<&str> = requests.iter().map(|seen| seen.method.as_str()).collect();
        assert_eq!(methods, ["HEAD", "PUT", "HEAD", "GET", "POST", "GET", "POST"]);
        for seen in &requests {
            assert_eq!(seen.owner.as_deref(), Some("111122223333"), "{} {}", seen.method, seen.uri);
        }
        assert!(requests[5].uri.contains("prefix=lambda%2F"), "{}", requests[5].uri);
        assert_eq!(requests[0].checksum_mode.as_deref(), Some("ENABLED"), "HeadObject asks for the checksum");
        assert_eq!(requests[1].checksum.as_deref(), Some(ZIP_SHA256), "PutObject sends the zip's SHA-256");
    }

    /// `printf zip | openssl dgst -sha256 -binary | base64`
    const ZIP_SHA256: &str = "SnD+mqZDbgLC3qNA+9HjUuTvLYzmylKtJdS5VHH8i/I=";
}
