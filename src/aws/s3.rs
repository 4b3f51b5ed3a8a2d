//! S3 for the artifact bucket: upload code once per hash, and empty every version at teardown.

use anyhow::Result;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::errors::sdk_error;

#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
}

impl S3 {
    /// Path-style addressing when an endpoint is given: emulators serve buckets by path.
    pub fn new(config: &SdkConfig, path_style: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build();
        Self { client: Client::from_conf(s3_config) }
    }

    /// Uploads `bytes` to `key` unless an object is already there; returns whether it uploaded.
    pub async fn upload_if_missing(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<bool> {
        match self.client.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => return Ok(false),
            Err(error) if error.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {}
            Err(error) => return Err(sdk_error(error, format_args!("HeadObject s3://{bucket}/{key}"))),
        }
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .content_type("application/zip")
            .send()
            .await
            .map_err(|error| sdk_error(error, format_args!("PutObject s3://{bucket}/{key}")))?;
        Ok(true)
    }

    /// Every object version and delete marker in the bucket.
    pub async fn versions(&self, bucket: &str) -> Result<Vec<ObjectIdentifier>> {
        let mut found = Vec::new();
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(bucket)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|error| sdk_error(error, format_args!("ListObjectVersions s3://{bucket}")))?;
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
        let versions = self.versions(bucket).await?;
        for batch in versions.chunks(1000) {
            let delete = Delete::builder().set_objects(Some(batch.to_vec())).quiet(true).build()?;
            let output = self
                .client
                .delete_objects()
                .bucket(bucket)
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
        Ok(versions.len())
    }

    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool> {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(error) if error.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(error) if error.code() == Some("NotFound") || error.code() == Some("NoSuchBucket") => Ok(false),
            Err(error) => Err(sdk_error(error, format_args!("HeadBucket s3://{bucket}"))),
        }
    }
}
