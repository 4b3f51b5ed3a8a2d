//! Test support for everything that talks to AWS: the emulator's endpoint, SDK configuration for
//! it, and names no other test uses.
//!
//! The emulator is started outside the tests (`scripts/emulator run -- cargo test`, `.ci/run`),
//! and every test shares it, so tests never reset it: each one works only on resources named by
//! `unique_name`. Nothing here may ever talk to anything but a loopback address.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::config::Credentials;

/// The region every emulator test uses.
pub const REGION: &str = "us-east-1";

/// A running emulator, reached through `AWS_ENDPOINT_URL`.
#[derive(Clone)]
pub struct Emulator {
    pub endpoint: String,
    /// SDK configuration with the emulator's root credentials.
    pub config: SdkConfig,
    /// The AWS credentials file the binary under test reads (`None`: none, `/dev/null`).
    pub credentials_file: Option<PathBuf>,
}

/// The emulator for this test run, or `None` (with the reason printed) when it is absent and
/// this is not CI. In CI (`CI` set) an absent emulator fails the test: CI always starts one.
pub async fn emulator() -> Option<Emulator> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ if std::env::var_os("CI").is_some() => {
            panic!("AWS_ENDPOINT_URL is not set, but CI must run the emulator tests: run them through `scripts/test`")
        }
        _ => {
            eprintln!(
                "skipped: no emulator (AWS_ENDPOINT_URL is not set); run `scripts/emulator run -- cargo test` to include this test"
            );
            return None;
        }
    };
    assert_loopback(&endpoint);
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(sentinel_tvm::aws::https_client())
        .region(Region::new(REGION))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "emulator-root"))
        .load()
        .await;
    Some(Emulator { endpoint, config, credentials_file: None })
}

/// A directory of its own for one test (its `sentinel-tvm.yaml` lives there), removed when the
/// test passes and kept (path printed) when it fails.
pub struct Workdir {
    pub path: PathBuf,
}

impl Workdir {
    pub fn new(name: &str) -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a test directory");
        Self { path }
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the test directory {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// How one run of the binary ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Every stdout line as JSON (for `--output json` runs).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}\n{}", self.stderr))
            })
            .collect()
    }

    /// The JSON lines of one `type`.
    pub fn of_type(&self, kind: &str) -> Vec<serde_json::Value> {
        self.json_lines().into_iter().filter(|line| line["type"] == kind).collect()
    }

    /// The closing `result` object.
    pub fn result(&self) -> serde_json::Value {
        self.of_type("result")
            .pop()
            .unwrap_or_else(|| panic!("no result line\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

impl Emulator {
    /// The same emulator, with the binary under test pointed at `proxy` in front of it (the
    /// test's own SDK calls still go straight to the emulator).
    pub fn through(&self, proxy: &proxy::Proxy) -> Emulator {
        Emulator { endpoint: proxy.endpoint.clone(), ..self.clone() }
    }

    /// The same emulator, with the binary under test reading the profiles of `file`.
    pub fn with_credentials_file(&self, file: &Path) -> Emulator {
        Emulator { credentials_file: Some(file.to_path_buf()), ..self.clone() }
    }

    /// A new IAM user `name` whose one inline policy (`only`) has `statements`, and its key.
    pub async fn iam_user(&self, name: &str, statements: serde_json::Value) -> Credentials {
        let iam = aws_sdk_iam::Client::new(&self.config);
        iam.create_user().user_name(name).send().await.unwrap();
        let document = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
        iam.put_user_policy()
            .user_name(name)
            .policy_name("only")
            .policy_document(document.to_string())
            .send()
            .await
            .unwrap();
        let key = iam.create_access_key().user_name(name).send().await.unwrap();
        let key = key.access_key().unwrap();
        Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "test-user")
    }

    /// `sentinel-tvm --env ENV --output json --yes ARGS…` in `dir` (see `sentinel_tvm`).
    pub fn run_json(&self, dir: &Workdir, env: &str, args: &[&str]) -> Run {
        let mut all = vec!["--env", env, "--output", "json", "--yes"];
        all.extend_from_slice(args);
        self.sentinel_tvm(dir, &all)
    }

    /// Credentials of a session of `role_arn` named `session_name`, assumed as the emulator's root.
    pub async fn assumed_role(&self, role_arn: &str, session_name: &str) -> Credentials {
        let session = aws_sdk_sts::Client::new(&self.config)
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("assuming {role_arn}: {e}"));
        let keys = session.credentials().expect("AssumeRole returns credentials");
        Credentials::new(
            keys.access_key_id(),
            keys.secret_access_key(),
            Some(keys.session_token().to_string()),
            None,
            "assumed-role",
        )
    }

    /// The output `key` of the deployed `stack`; a missing one fails the test.
    pub async fn stack_output(&self, stack: &str, key: &str) -> String {
        let described = self.describe_stack(stack).await;
        let found = described.outputs().iter().find(|o| o.output_key() == Some(key)).and_then(|o| o.output_value());
        found.unwrap_or_else(|| panic!("`{stack}` has no output {key}")).to_string()
    }

    /// The parameter `key` of the deployed `stack`; a missing one fails the test.
    pub async fn stack_parameter(&self, stack: &str, key: &str) -> String {
        let described = self.describe_stack(stack).await;
        let found =
            described.parameters().iter().find(|p| p.parameter_key() == Some(key)).and_then(|p| p.parameter_value());
        found.unwrap_or_else(|| panic!("`{stack}` has no parameter {key}")).to_string()
    }

    /// Whether `stack` exists (and is not deleted).
    pub async fn stack_exists(&self, stack: &str) -> bool {
        let cfn = aws_sdk_cloudformation::Client::new(&self.config);
        match cfn.describe_stacks().stack_name(stack).send().await {
            Ok(output) => {
                output.stacks().iter().any(|s| s.stack_status().is_some_and(|s| s.as_str() != "DELETE_COMPLETE"))
            }
            Err(_) => false,
        }
    }

    async fn describe_stack(&self, stack: &str) -> aws_sdk_cloudformation::types::Stack {
        let cfn = aws_sdk_cloudformation::Client::new(&self.config);
        let output = cfn.describe_stacks().stack_name(stack).send().await.unwrap_or_else(|e| panic!("`{stack}`: {e}"));
        output.stacks().first().cloned().unwrap_or_else(|| panic!("`{stack}` does not exist"))
    }

    /// Runs the `sentinel-tvm` binary in `dir` against the emulator, as its root, with no
    /// standard input (so never a prompt) and no AWS configuration of the machine's. Its cache
    /// of Lambda builds is `XDG_CACHE_HOME` when the run sets one (`scripts/test`: the cache its
    /// one Lambda build went into), else one in `dir`, so no test writes to the machine's.
    pub fn sentinel_tvm(&self, dir: &Workdir, args: &[&str]) -> Run {
        self.sentinel_tvm_on_path(dir, args, &std::env::var_os("PATH").unwrap_or_default())
    }

    /// As `sentinel_tvm`, with `path` as its PATH (a machine without some tool).
    pub fn sentinel_tvm_on_path(&self, dir: &Workdir, args: &[&str], path: &std::ffi::OsStr) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_sentinel-tvm"))
            .args(args)
            .current_dir(&dir.path)
            .env_clear()
            .env("PATH", path)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials_file.as_deref().unwrap_or(Path::new("/dev/null")))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .env("XDG_CACHE_HOME", std::env::var_os("XDG_CACHE_HOME").unwrap_or_else(|| dir.path.join(".cache").into()))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the sentinel-tvm binary runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A zip whose `bootstrap` is only an x86_64 ELF header: passes the installer's checks, never
/// runs. For deploy tests that do not invoke the function.
pub fn header_only_lambda_zip() -> String {
    format!("{}/tests/fixtures/bootstrap-header-only-x86_64.zip", env!("CARGO_MANIFEST_DIR"))
}

/// One `sentinel-tvm install` command line of a test, so the tests spell out only what they
/// change. `Install::new(&env, &zip)` is the run most tests make:
///
/// ```text
/// --env ENV --yes install --architecture x86_64 --lambda-zip ZIP
/// ```
///
/// x86_64 because MiniStack runs the Lambda's `bootstrap` on this host; `--yes` because no test
/// has a terminal to confirm on (except through `Install::interactive`). The global flags always
/// come before `install`; the install flags follow in the order they are added (clap reads them
/// in any order, and keeps repeated ones such as `--protect` in theirs).
///
/// ```ignore
/// Install::new(&env, &zip).json().protect("app").skip_smoke_test().run(&emulator, &dir);
/// ```
#[derive(Debug, Clone)]
pub struct Install {
    env: Option<String>,
    yes: bool,
    json: bool,
    architecture: bool,
    zip: String,
    args: Vec<String>,
}

impl Install {
    /// `--env ENV --yes install --architecture x86_64 --lambda-zip ZIP`.
    pub fn new(env: &str, zip: &str) -> Self {
        Self { env: Some(env.into()), yes: true, json: false, architecture: true, zip: zip.into(), args: Vec::new() }
    }

    /// `install --lambda-zip ZIP` and nothing else: the wizard asks for the rest (in a terminal).
    pub fn interactive(zip: &str) -> Self {
        Self { env: None, yes: false, json: false, architecture: false, zip: zip.into(), args: Vec::new() }
    }

    /// `--output json` (before `install`): JSON lines on stdout, for `Run::of_type`.
    pub fn json(mut self) -> Self {
        self.json = true;
        self
    }

    /// No `--yes`: the binary would ask for confirmation (and, without a terminal, refuses).
    pub fn without_yes(mut self) -> Self {
        self.yes = false;
        self
    }

    /// No `--architecture`: the one saved in `sentinel-tvm.yaml` holds.
    pub fn without_architecture(mut self) -> Self {
        self.architecture = false;
        self
    }

    /// `--protect PROFILE` (repeatable; `name=policy-arn` attaches a managed policy).
    pub fn protect(self, profile: &str) -> Self {
        self.args(["--protect", profile])
    }

    /// `--skip-smoke-test`: for a header-only zip, whose function never runs.
    pub fn skip_smoke_test(self) -> Self {
        self.arg("--skip-smoke-test")
    }

    /// `--require-source-identity false`. MiniStack does not evaluate `sts:SourceIdentity` in
    /// trust policies (a condition on it never matches), so environments whose Lambda is
    /// invoked are installed without that condition.
    pub fn source_identity_off(self) -> Self {
        self.args(["--require-source-identity", "false"])
    }

    /// Any other install flag (or its value), after those added so far.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Other install flags and their values, in order, after those added so far.
    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.args.extend(args.into_iter().map(|arg| arg.as_ref().to_string()));
        self
    }

    /// The whole command line, global flags first.
    pub fn argv(&self) -> Vec<&str> {
        let mut argv = Vec::new();
        if let Some(env) = &self.env {
            argv.extend(["--env", env]);
        }
        if self.yes {
            argv.push("--yes");
        }
        if self.json {
            argv.extend(["--output", "json"]);
        }
        argv.push("install");
        if self.architecture {
            argv.extend(["--architecture", "x86_64"]);
        }
        argv.extend(["--lambda-zip", &self.zip]);
        argv.extend(self.args.iter().map(String::as_str));
        argv
    }

    /// Runs it in `dir` against the emulator (see `Emulator::sentinel_tvm`).
    pub fn run(&self, emulator: &Emulator, dir: &Workdir) -> Run {
        emulator.sentinel_tvm(dir, &self.argv())
    }
}

/// Returns the emulator or ends the calling test early (see `emulator`).
#[macro_export]
macro_rules! emulator_or_skip {
    () => {
        match $crate::support::emulator().await {
            Some(emulator) => emulator,
            None => return,
        }
    };
}

/// Refuses any endpoint that is not on this machine: tests must never reach a real account.
pub fn assert_loopback(endpoint: &str) {
    let host = endpoint_host(endpoint);
    assert!(
        matches!(host, "127.0.0.1" | "localhost" | "[::1]"),
        "refusing to run tests against `{endpoint}`: the emulator must listen on 127.0.0.1"
    );
}

/// The host part of `scheme://host:port/path`.
fn endpoint_host(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.strip_prefix('[') {
        Some(_) => authority.split_inclusive(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    }
}

/// A short name no other test in this run (or a parallel run) uses: `<prefix><8 base-36 chars>`,
/// a valid environment name when the prefix is a lowercase letter.
/// Short on purpose: names end up inside IAM role names, which stop at 64 characters.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64;
    let this_process = u64::from(std::process::id()) << 32 | u64::from(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{prefix}{}", base36(splitmix64(nanos ^ splitmix64(this_process)) % 36u64.pow(8), 8))
}

/// A well-mixing 64-bit hash (SplitMix64), so nearby inputs give unrelated names.
fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn base36(mut value: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value % 36) as usize];
        value /= 36;
    }
    String::from_utf8(out).expect("ascii digits")
}

/// The real TVM Lambda zip (x86_64: the emulator runs it on this host), built once by
/// `scripts/test` and named by `SENTINEL_TVM_LAMBDA_ZIP`. `None` (with the reason printed) when
/// absent outside CI; in CI an absent zip fails the test.
pub fn lambda_zip() -> Option<String> {
    match std::env::var("SENTINEL_TVM_LAMBDA_ZIP") {
        Ok(path) if Path::new(&path).is_file() => Some(path),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "SENTINEL_TVM_LAMBDA_ZIP does not name a built Lambda zip, but CI must run the Lambda's tests: run them through `scripts/test`"
            )
        }
        _ => {
            eprintln!(
                "skipped: no Lambda zip (SENTINEL_TVM_LAMBDA_ZIP is not set); `scripts/test` builds one and sets it"
            );
            None
        }
    }
}

/// Returns the Lambda zip or ends the calling test early (see `lambda_zip`).
#[macro_export]
macro_rules! lambda_zip_or_skip {
    () => {
        match $crate::support::lambda_zip() {
            Some(zip) => zip,
            None => return,
        }
    };
}

/// The cache of Lambda builds (`XDG_CACHE_HOME`) when it holds the build of the Lambda zip
/// (`SENTINEL_TVM_LAMBDA_ZIP`, built by `scripts/test` with the installer's own `build` into
/// its cache), so an install without `--lambda-zip` finds it built. `None` (with the reason
/// printed) otherwise outside CI; in CI it fails the test.
pub fn seeded_lambda_cache() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
    let zip = std::env::var_os("SENTINEL_TVM_LAMBDA_ZIP").map(PathBuf::from);
    match (cache, zip) {
        (Some(cache), Some(zip)) if zip.starts_with(cache.join("sentinel-tvm/lambda")) && zip.is_file() => Some(cache),
        _ if std::env::var_os("CI").is_some() => panic!(
            "SENTINEL_TVM_LAMBDA_ZIP is not a build in the cache XDG_CACHE_HOME names, but CI must run this test: run it through `scripts/test`"
        ),
        _ => {
            eprintln!("skipped: no Lambda build in XDG_CACHE_HOME (`scripts/test` makes one there and sets both)");
            None
        }
    }
}

/// Returns the seeded cache or ends the calling test early (see `seeded_lambda_cache`).
#[macro_export]
macro_rules! seeded_lambda_cache_or_skip {
    () => {
        match $crate::support::seeded_lambda_cache() {
            Some(cache) => cache,
            None => return,
        }
    };
}

/// Polls until the stack's status stops ending in `_IN_PROGRESS`; `None` once it no longer exists.
pub async fn settle(
    cloudformation: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Option<aws_sdk_cloudformation::types::StackStatus> {
    for _ in 0..300 {
        let status = match cloudformation.describe_stacks().stack_name(stack).send().await {
            Ok(output) => output.stacks().first().and_then(|s| s.stack_status().cloned()),
            Err(error) if format!("{error:?}").contains("does not exist") => return None,
            Err(error) => panic!("DescribeStacks failed: {error:?}"),
        };
        match status {
            Some(status) if status.as_str().ends_with("_IN_PROGRESS") => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await
            }
            other => return other,
        }
    }
    panic!("stack {stack} did not settle within 60 s");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_host_reads_the_host_of_each_form() {
        for (endpoint, host) in [
            ("http://127.0.0.1:4566", "127.0.0.1"),
            ("http://localhost:4566/", "localhost"),
            ("http://[::1]:4566", "[::1]"),
            ("https://sts.amazonaws.com", "sts.amazonaws.com"),
            ("127.0.0.1:4566", "127.0.0.1"),
        ] {
            assert_eq!(endpoint_host(endpoint), host, "{endpoint}");
        }
    }

    #[test]
    #[should_panic(expected = "must listen on 127.0.0.1")]
    fn a_remote_endpoint_is_refused() {
        assert_loopback("https://cloudformation.us-east-1.amazonaws.com");
    }

    #[test]
    fn install_lines_put_the_global_flags_first_and_keep_the_order_of_the_rest() {
        assert_eq!(
            Install::new("e", "z.zip").json().protect("app").skip_smoke_test().argv(),
            ["--env", "e", "--yes", "--output", "json", "install", "--architecture", "x86_64", "--lambda-zip", "z.zip"]
                .into_iter()
                .chain(["--protect", "app", "--skip-smoke-test"])
                .collect::<Vec<_>>()
        );
        assert_eq!(
            Install::new("e", "z.zip").without_yes().without_architecture().source_identity_off().arg("--x").argv(),
            ["--env", "e", "install", "--lambda-zip", "z.zip", "--require-source-identity", "false", "--x"]
        );
        assert_eq!(Install::interactive("z.zip").argv(), ["install", "--lambda-zip", "z.zip"]);
    }

    #[test]
    fn unique_names_differ_and_stay_short() {
        let names: std::collections::HashSet<_> = (0..1000).map(|_| unique_name("t")).collect();
        assert_eq!(names.len(), 1000);
        assert!(
            names.iter().all(|name| name.len() == 9 && sentinel_tvm::settings::validate_env_name(name).is_ok()),
            "{names:?}"
        );
    }
}
