//! The Lambda's code as a zip: built (`deploy::build`) or taken from `--lambda-zip`, checked to
//! hold a `bootstrap` for the chosen architecture, and named by the SHA-256 of what it holds, so
//! CloudFormation sees a code change exactly when the code changed. Only its hashes are kept in
//! memory: the bytes are read again for an upload (`read_bytes`), which S3 checks against the
//! SHA-256 it is sent with, so a zip changed in between is refused, never deployed.
//!
//! In the bucket, a name is not trusted (threat model T4: anyone with `s3:PutObject` there could
//! have written over it). The zip is uploaded with its SHA-256 (`ChecksumSHA256`, which S3
//! verifies), an object already there is trusted only when S3 reports that same checksum
//! (`is_trusted`), and the function is pinned to the object version the installer uploaded or
//! checked (the api stack's `ArtifactVersion`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::Architecture;
use crate::error::Fixable;
use crate::model::objects::StoredObject;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    /// Of the zip, in bytes.
    pub size: u64,
    /// Of the files inside, not of the zip (see `content_sha256`).
    pub sha256: String,
    /// Base64 of the SHA-256 of the zip itself, as S3's `ChecksumSHA256` spells it.
    pub checksum_sha256: String,
}

impl Artifact {
    /// The S3 key: `lambda/<sha256>.zip`.
    pub fn key(&self) -> String {
        format!("lambda/{}.zip", self.sha256)
    }

    /// Whether `stored` (the latest version under `key()`) is exactly this zip: S3 holds its
    /// SHA-256 and it is this one. An object without a checksum, or with another, is replaced.
    pub fn is_trusted(&self, stored: Option<&StoredObject>) -> bool {
        stored.and_then(|object| object.checksum_sha256.as_deref()) == Some(self.checksum_sha256.as_str())
    }

    /// The zip's bytes, for an upload (sent with `checksum_sha256`, which S3 verifies).
    pub fn read_bytes(&self) -> Result<Vec<u8>> {
        std::fs::read(&self.path).with_context(|| format!("cannot read the Lambda zip `{}`", self.path.display()))
    }
}

/// Base64 (standard, padded) of the raw SHA-256 digest of `bytes`: S3's `ChecksumSHA256`.
pub fn checksum_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let url = sentinel_tvm_lambda::proof::base64url_encode(&Sha256::digest(bytes));
    let mut text: String = url
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

/// Reads a zip and checks it holds a `bootstrap` built for `architecture`.
pub fn load(path: &Path, architecture: Architecture) -> Result<Artifact> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the Lambda zip `{}`", path.display()))?;
    let not_a_lambda_zip = |problem: String| {
        Fixable::new(
            format!("`{}` is not a Lambda zip with a `bootstrap`: {problem}", path.display()),
            format!(
                "`sentinel-tvm build --architecture {}` builds one and prints its path; or leave out --lambda-zip",
                architecture.as_str()
            ),
        )
    };
    let entries = entries(&bytes).map_err(not_a_lambda_zip)?;
    let bootstrap = bootstrap(&entries).map_err(not_a_lambda_zip)?;
    let machine = elf_machine(bootstrap).map_err(|problem| {
        Fixable::new(
            format!("`bootstrap` in `{}` {problem}", path.display()),
            "`sentinel-tvm build` builds the Lambda and prints its path; or leave out --lambda-zip",
        )
    })?;
    if machine != architecture {
        bail!(Fixable::new(
            format!(
                "`{}` holds a {} `bootstrap`, but the Lambda is configured for {}",
                path.display(),
                machine.as_str(),
                architecture.as_str()
            ),
            format!("pass `--architecture {}`, or build the zip for {}", machine.as_str(), architecture.as_str())
        ));
    }
    Ok(Artifact {
        path: path.to_path_buf(),
        size: bytes.len() as u64,
        sha256: content_sha256(&entries),
        checksum_sha256: checksum_sha256(&bytes),
    })
}

/// The ELF machine of a binary's first bytes.
fn elf_machine(header: &[u8]) -> Result<Architecture, String> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return Err("is not an ELF executable".into());
    }
    if header[5] != 1 {
        return Err("is not little-endian".into());
    }
    match u16::from_le_bytes([header[18], header[19]]) {
        62 => Ok(Architecture::X86_64),
        183 => Ok(Architecture::Arm64),
        other => Err(format!("is built for ELF machine {other}, neither x86_64 (62) nor arm64 (183)")),
    }
}

fn le16(bytes: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn le32(bytes: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// Lambda's limit for unzipped code; no entry may inflate beyond it.
const MAX_UNZIPPED_BYTES: usize = 250 * 1024 * 1024;

/// One file of a zip, uncompressed.
struct Entry {
    name: Vec<u8>,
    content: Vec<u8>,
}

/// Every file of a zip, uncompressed, in its central directory's order.
fn entries(zip: &[u8]) -> Result<Vec<Entry>, String> {
    const END: &[u8] = b"PK\x05\x06";
    let end = (0..zip.len().saturating_sub(21))
        .rev()
        .find(|&at| zip[at..].starts_with(END))
        .ok_or("no zip directory found")?;
    let count = le16(zip, end + 10).ok_or("truncated zip directory")?;
    let mut at = le32(zip, end + 16).ok_or("truncated zip directory")?;
    let mut found = Vec::with_capacity(count);
    for _ in 0..count {
        if !zip.get(at..).is_some_and(|rest| rest.starts_with(b"PK\x01\x02")) {
            return Err("damaged zip directory".into());
        }
        let field = |offset| le16(zip, at + offset).ok_or("truncated zip entry");
        let (method, name_len, extra_len, comment_len) = (field(10)?, field(28)?, field(30)?, field(32)?);
        let compressed = le32(zip, at + 20).ok_or("truncated zip entry")?;
        let local = le32(zip, at + 42).ok_or("truncated zip entry")?;
        let name = zip.get(at + 46..at + 46 + name_len).ok_or("truncated zip entry")?.to_vec();
        let local_name = le16(zip, local + 26).ok_or("truncated entry")?;
        let local_extra = le16(zip, local + 28).ok_or("truncated entry")?;
        let start = local + 30 + local_name + local_extra;
        let data = zip.get(start..start + compressed).ok_or("truncated entry data")?;
        let content = match method {
            0 => data.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, MAX_UNZIPPED_BYTES).map_err(|error| {
                format!("`{}` does not decompress ({:?})", String::from_utf8_lossy(&name), error.status)
            })?,
            other => {
                return Err(format!(
                    "`{}` uses compression method {other}; only stored and deflate are read",
                    String::from_utf8_lossy(&name)
                ));
            }
        };
        found.push(Entry { name, content });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(found)
}

/// The `bootstrap` a zip holds.
fn bootstrap(entries: &[Entry]) -> Result<&[u8], String> {
    entries
        .iter()
        .find(|entry| entry.name == b"bootstrap")
        .map(|entry| entry.content.as_slice())
        .ok_or_else(|| "it has no file named `bootstrap` at its top level".into())
}

/// SHA-256 over every file's name and content, not the zip's bytes: zips record modification
/// times, so the same code built twice (a fresh clone, a CI runner) would otherwise get a new
/// key, and every upgrade would replace the Lambda for nothing.
fn content_sha256(entries: &[Entry]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for entry in entries {
        hasher.update((entry.name.len() as u64).to_le_bytes());
        hasher.update(&entry.name);
        hasher.update((entry.content.len() as u64).to_le_bytes());
        hasher.update(&entry.content);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal zip holding `name` with `content`, stored (method 0) or deflated (method 8).
    fn zip_with(name: &str, content: &[u8], deflate: bool) -> Vec<u8> {
        let data = if deflate { miniz_oxide::deflate::compress_to_vec(content, 6) } else { content.to_vec() };
        let method: u16 = if deflate { 8 } else { 0 };
        let mut zip = Vec::new();
        zip.extend(b"PK\x03\x04");
        zip.extend([20, 0, 0, 0]);
        zip.extend(method.to_le_bytes());
        zip.extend([0; 8]);
        zip.extend((data.len() as u32).to_le_bytes());
        zip.extend((content.len() as u32).to_le_bytes());
        zip.extend((name.len() as u16).to_le_bytes());
        zip.extend([0, 0]);
        zip.extend(name.as_bytes());
        zip.extend(&data);
        let directory = zip.len();
        zip.extend(b"PK\x01\x02");
        zip.extend([20, 0, 20, 0, 0, 0]);
        zip.extend(method.to_le_bytes());
        zip.extend([0; 8]);
        zip.extend((data.len() as u32).to_le_bytes());
        zip.extend((content.len() as u32).to_le_bytes());
        zip.extend((name.len() as u16).to_le_bytes());
        zip.extend([0; 12]);
        zip.extend(0u32.to_le_bytes());
        zip.extend(name.as_bytes());
        let directory_len = zip.len() - directory;
        zip.extend(b"PK\x05\x06");
        zip.extend([0; 4]);
        zip.extend(1u16.to_le_bytes());
        zip.extend(1u16.to_le_bytes());
        zip.extend((directory_len as u32).to_le_bytes());
        zip.extend((directory as u32).to_le_bytes());
        zip.extend([0, 0]);
        zip
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut header = b"\x7fELF\x02\x01\x01".to_vec();
        header.resize(18, 0);
        header.extend(machine.to_le_bytes());
        header.resize(4096, 0xAB);
        header
    }

    fn bootstrap_of(zip: &[u8]) -> Result<Vec<u8>, String> {
        bootstrap(&entries(zip)?).map(<[u8]>::to_vec)
    }

    #[test]
    fn the_elf_machine_is_read_from_stored_and_deflated_zips() {
        for deflate in [false, true] {
            for (machine, architecture) in [(62, Architecture::X86_64), (183, Architecture::Arm64)] {
                let bootstrap = bootstrap_of(&zip_with("bootstrap", &elf(machine), deflate)).unwrap();
                assert_eq!(bootstrap, elf(machine), "deflate {deflate}");
                assert_eq!(elf_machine(&bootstrap), Ok(architecture), "deflate {deflate}");
            }
        }
    }

    #[test]
    fn wrong_zips_are_refused_with_the_reason() {
        assert!(bootstrap_of(b"not a zip").unwrap_err().contains("no zip directory"));
        assert!(bootstrap_of(&zip_with("handler", &elf(62), true)).unwrap_err().contains("no file named `bootstrap`"));
        let bootstrap = bootstrap_of(&zip_with("bootstrap", b"#!/bin/sh\necho hi\n", false)).unwrap();
        assert_eq!(elf_machine(&bootstrap), Err("is not an ELF executable".into()));
        let bootstrap = bootstrap_of(&zip_with("bootstrap", &elf(40), true)).unwrap();
        assert!(elf_machine(&bootstrap).unwrap_err().contains("ELF machine 40"));
        let mut damaged = zip_with("bootstrap", &elf(62), true);
        damaged[40..60].fill(0xff);
        assert!(bootstrap_of(&damaged).unwrap_err().contains("does not decompress"), "{:?}", bootstrap_of(&damaged));
    }

    #[test]
    fn the_key_follows_the_content_not_the_zip() {
        let key = |zip: &[u8]| content_sha256(&entries(zip).unwrap());
        let stored = zip_with("bootstrap", &elf(62), false);
        let deflated = zip_with("bootstrap", &elf(62), true);
        assert_ne!(stored, deflated);
        assert_eq!(key(&stored), key(&deflated), "the same files, packed differently");
        let mut other_code = elf(62);
        other_code[100] ^= 1;
        assert_ne!(key(&stored), key(&zip_with("bootstrap", &other_code, false)));
        assert_ne!(key(&stored), key(&zip_with("bootstrapx", &elf(62), false)));
    }

    #[test]
    fn the_s3_checksum_is_base64_of_the_raw_sha256() {
        // `printf '' | openssl dgst -sha256 -binary | base64`, and of `abc` (FIPS 180-2).
        assert_eq!(checksum_sha256(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(checksum_sha256(b"abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }

    #[test]
    fn only_an_object_with_this_zips_checksum_is_trusted() {
        let artifact = Artifact {
            size: 3,
            sha256: "0".repeat(64),
            checksum_sha256: checksum_sha256(b"zip"),
            path: PathBuf::from("z.zip"),
        };
        let stored = |checksum: Option<&str>| StoredObject {
            version_id: Some("v1".into()),
            checksum_sha256: checksum.map(str::to_string),
        };
        for (object, trusted) in [
            (None, false),
            (Some(stored(None)), false),
            (Some(stored(Some(&checksum_sha256(b"other")))), false),
            (Some(stored(Some(""))), false),
            (Some(stored(Some(&checksum_sha256(b"zip")))), true),
        ] {
            assert_eq!(artifact.is_trusted(object.as_ref()), trusted, "{object:?}");
        }
    }

    #[test]
    fn a_zip_for_the_other_architecture_names_the_fix() {
        let dir = std::env::temp_dir().join(format!("sentinel-tvm-artifact-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bootstrap.zip");
        std::fs::write(&path, zip_with("bootstrap", &elf(62), true)).unwrap();
        let artifact = load(&path, Architecture::X86_64).unwrap();
        assert_eq!(artifact.key(), format!("lambda/{}.zip", artifact.sha256));
        assert_eq!(artifact.sha256.len(), 64);
        let error = load(&path, Architecture::Arm64).unwrap_err();
        let fixable = error.downcast_ref::<Fixable>().unwrap();
        assert!(
            fixable.message.contains("x86_64 `bootstrap`") && fixable.hint.contains("--architecture x86_64"),
            "{fixable:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
