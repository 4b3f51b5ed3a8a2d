//! The client commands against the real TVM Lambda, as a client runs them: an IAM user holding
//! the client policy signs with its own access key. The awscli (from PyPI, in the tools venv)
//! gets the protected role through `exec` and through a `credential_process` profile; the bridge
//! `exec` starts serves only its token, on loopback only; a denial reads as the TVM's words.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sentinel_tvm::deploy::stacks::Part;

use crate::support::{Emulator, Install, REGION, Run, Workdir, unique_name};
use crate::{emulator_or_skip, lambda_zip_or_skip};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_sentinel-tvm");

/// The awscli that `scripts/tools` installs, or `None` (said loudly) outside CI.
pub(crate) fn aws_cli() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/aws");
    match path.is_file() {
        true => Some(path),
        false if std::env::var_os("CI").is_some() => {
            panic!("{} is missing, but CI installs it (scripts/tools)", path.display())
        }
        false => {
            eprintln!("skipped: no awscli at {}; run `scripts/tools` to install it", path.display());
            None
        }
    }
}

/// Runs commands as a client: the emulator's endpoint and region, no AWS configuration of the
/// machine's, and, unless `keyless`, the client user's access key in the environment.
pub(crate) struct Client<'a> {
    pub emulator: &'a Emulator,
    pub dir: &'a Workdir,
    pub key: (String, String),
}

impl Client<'_> {
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str], keyless: bool) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.dir.path)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.dir.path)
            .env("AWS_ENDPOINT_URL", &self.emulator.endpoint)
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if !keyless {
            command.env("AWS_ACCESS_KEY_ID", &self.key.0).env("AWS_SECRET_ACCESS_KEY", &self.key.1);
        }
        command
    }

    pub fn run(&self, mut command: Command) -> Run {
        let output = command.output().expect("the command runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn sentinel_tvm(&self, args: &[&str]) -> Run {
        self.run(self.command(BINARY, args, false))
    }
}

#[tokio::test]
async fn clients_get_the_protected_role_through_exec_and_credential_process_and_hear_refusals() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let Some(aws) = aws_cli() else { return };
    let aws = aws.to_str().expect("a UTF-8 path").to_string();
    let env = unique_name("c");
    let dir = Workdir::new(&env);
    let user_name = format!("{env}-client");
    let user_arn = format!("arn:aws:iam::000000000000:user/{user_name}");
    let policy = format!(
        "version: \"1\"\nrules:\n  - name: blocked\n    effect: deny\n    reason: blocked for this test\n    conditions: {{profiles: [{env}-blocked]}}\n  - name: app\n    effect: allow\n    conditions:\n      profiles: [{env}-app, {env}-blocked]\n      principals: [\"{user_arn}\"]\n"
    );
    std::fs::write(dir.path.join("policy.yaml"), policy).unwrap();
    Install::new(&env, &zip)
        .source_identity_off()
        .protect("app")
        .protect("blocked")
        .args(["--policy-file", "policy.yaml"])
        .skip_smoke_test()
        .run(&emulator, &dir)
        .assert_code(0);

    // The client: an IAM user with the client policy, and (for `--env`) leave to read the api stack.
    let api_id = emulator.stack_output(&Part::Api.stack_name(&env), "ApiId").await;
    let policy_arn = emulator.stack_output(&Part::ClientPolicy.stack_name(&env), "PolicyArn").await;
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    iam.create_user().user_name(&user_name).send().await.unwrap();
    iam.attach_user_policy().user_name(&user_name).policy_arn(&policy_arn).send().await.unwrap();
    let describe = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cloudformation:DescribeStacks","Resource":"*"}]}"#;
    iam.put_user_policy().user_name(&user_name).policy_name("describe").policy_document(describe).send().await.unwrap();
    let created = iam.create_access_key().user_name(&user_name).send().await.unwrap();
    let key = created.access_key().unwrap();
    let client = Client {
        emulator: &emulator,
        dir: &dir,
        key: (key.access_key_id().to_string(), key.secret_access_key().to_string()),
    };
    let tvm = format!("{}/_aws/execute-api/{api_id}/", emulator.endpoint);
    let user = sentinel_tvm_lambda::identity::sanitise(&user_name);
    let role_session = format!("arn:aws:sts::000000000000:assumed-role/SentinelProtected-{env}-app/tvm-{user}-");
    let app = format!("{env}-app");
    let blocked = format!("{env}-blocked");

    // `profiles` lists what the policy could grant (never the always-denied profile)
    let profiles = client.sentinel_tvm(&["--env", &env, "profiles"]);
    profiles.assert_code(0);
    assert_eq!(profiles.stdout, format!("{app}\tarn:aws:iam::000000000000:role/SentinelProtected-{app}\n"));

    // `exec`: the awscli's own credential chain finds the bridge, and the base key is gone
    let caller = ["sts", "get-caller-identity", "--query", "Arn", "--output", "text"];
    let exec = client.sentinel_tvm(&[&["--env", &env, "exec", "--profile", &app, "--", &aws][..], &caller].concat());
    exec.assert_code(0);
    assert!(exec.stdout.trim().starts_with(&role_session), "{}\nshould start {role_session}", exec.stdout);

    // `exec` with another SDK as the child: the Rust SDK's default chain, in this very test
    // binary re-run as `exec`'s command (`rust_sdk_child` below), finds the bridge too.
    let this = std::env::current_exe().unwrap();
    let this = this.to_str().unwrap();
    let child = ["--exact", "client::rust_sdk_child", "--ignored", "--nocapture", "--test-threads", "1"];
    let rust = client.sentinel_tvm(&[&["--env", &env, "exec", "--profile", &app, "--", this][..], &child].concat());
    rust.assert_code(0);
    let arn = rust
        .stdout
        .lines()
        .find_map(|l| l.split_once(CHILD_SAYS).map(|(_, arn)| arn.trim()))
        .unwrap_or_else(|| panic!("{}", rust.stdout));
    assert!(arn.starts_with(&role_session), "{arn}\nshould start {role_session}");

    // `credential_process`: the awscli runs `sentinel-tvm credentials`, which signs with a profile
    let config = |profile: &str| {
        format!(
            "[default]\nregion = {REGION}\ncredential_process = \"{BINARY}\" credentials --profile {profile} --env {env} --aws-profile base\n\n[profile base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            client.key.0, client.key.1
        )
    };
    let with_config = |profile: &str, args: &[&str]| {
        let file = dir.path.join(format!("aws-config-{profile}"));
        std::fs::write(&file, config(profile)).unwrap();
        let mut command = client.command(&aws, args, true);
        command.env("AWS_CONFIG_FILE", &file);
        client.run(command)
    };
    let process = with_config(&app, &caller);
    process.assert_code(0);
    assert!(process.stdout.trim().starts_with(&role_session), "{}\nshould start {role_session}", process.stdout);

    bridge_serves_only_its_token_on_loopback(&client, &tvm, &app);

    // the command's exit code is `exec`'s, a signal's as 128 + its number
    let ends =
        |script: &str| client.sentinel_tvm(&["exec", "--profile", &app, "--endpoint", &tvm, "--", "sh", "-c", script]);
    ends("exit 7").assert_code(7);
    ends("kill -TERM $$").assert_code(143);

    // a `sentinel-tvm` the command runs is no nested credential lookup of `exec`'s: it works
    let inside = client.sentinel_tvm(&["exec", "--profile", &app, "--endpoint", &tvm, "--", BINARY, "--version"]);
    inside.assert_code(0);
    assert!(inside.stdout.starts_with("sentinel-tvm "), "{}", inside.stdout);

    // a denial reads as the TVM's Code and Message, and `exec` runs nothing
    let is_the_tvms_words = |run: &Run| {
        run.assert_code(1);
        assert!(run.stderr.contains("POLICY_DENY") && run.stderr.contains("blocked for this test"), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked") && !run.stderr.contains("Backtrace"), "{}", run.stderr);
    };
    let denied = client.sentinel_tvm(&["credentials", "--profile", &blocked, "--endpoint", &tvm]);
    is_the_tvms_words(&denied);
    assert_eq!(denied.stdout, "");
    let marker = dir.path.join("started");
    let script = format!("touch '{}'", marker.display());
    let denied_exec = client.sentinel_tvm(&["--env", &env, "exec", "--profile", &blocked, "--", "sh", "-c", &script]);
    is_the_tvms_words(&denied_exec);
    assert!(!marker.exists(), "the command must not run after a denial");
    let denied_process = with_config(&blocked, &caller);
    assert_ne!(denied_process.code, Some(0));
    assert!(
        denied_process.stderr.contains("POLICY_DENY"),
        "the awscli shows the TVM's words: {}",
        denied_process.stderr
    );

    for key in iam.list_access_keys().user_name(&user_name).send().await.unwrap().access_key_metadata() {
        iam.delete_access_key().user_name(&user_name).access_key_id(key.access_key_id().unwrap()).send().await.unwrap();
    }
    iam.delete_user_policy().user_name(&user_name).policy_name("describe").send().await.unwrap();
    iam.detach_user_policy().user_name(&user_name).policy_arn(&policy_arn).send().await.unwrap();
    iam.delete_user().user_name(&user_name).send().await.unwrap();
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);
}

/// Runs a command under `exec` that prints its environment and waits, and probes its bridge
/// meanwhile: only the token opens it, and only on 127.0.0.1.
fn bridge_serves_only_its_token_on_loopback(client: &Client, tvm: &str, profile: &str) {
    let args = ["exec", "--profile", profile, "--endpoint", tvm, "--", "sh", "-c", "env; echo ready; read _"];
    let mut command = client.command(BINARY, &args, false);
    // Leftovers an SDK would prefer to the bridge (the base key wins for `exec` itself).
    command.env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/leftover").env("AWS_ROLE_ARN", "arn:leftover");
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut environment = std::collections::BTreeMap::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && line.trim_end() != "ready" {
        if let Some((name, value)) = line.trim_end().split_once('=') {
            environment.insert(name.to_string(), value.to_string());
        }
        line.clear();
    }
    if line.trim_end() != "ready" {
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        panic!("the command did not start: {stderr}");
    }
    let var = |name: &str| environment.get(name).map(String::as_str);

    let url = var("AWS_CONTAINER_CREDENTIALS_FULL_URI").expect("the bridge's URL");
    let token = var("AWS_CONTAINER_AUTHORIZATION_TOKEN").expect("the bridge's token");
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/credentials"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{url} is not http://<address>/credentials"));
    assert!(addr.ip().is_loopback() && addr.ip().to_string() == "127.0.0.1", "{url}");
    for gone in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ROLE_ARN"]
    {
        assert_eq!(var(gone), None, "{gone} reaches the command");
    }
    assert_eq!(var("AWS_SHARED_CREDENTIALS_FILE"), Some("/dev/null"));
    assert_eq!(var("AWS_REGION"), Some(REGION), "the region stays");
    assert_eq!(var("AWS_ENDPOINT_URL"), Some(client.emulator.endpoint.as_str()), "the endpoint stays");

    assert_eq!(ask(addr, None).0, 403);
    assert_eq!(ask(addr, Some("0".repeat(64).as_str())).0, 403);
    let (status, body) = ask(addr, Some(token));
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"]);
    match non_loopback_address() {
        Some(ip) => assert!(TcpStream::connect((ip, addr.port())).is_err(), "the bridge answers on {ip}"),
        None => eprintln!("note: no non-loopback address on this machine to probe the bridge from"),
    }

    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// A `GET /credentials` with `token`: the status and body.
fn ask(addr: SocketAddr, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("the bridge accepts");
    let authorization = token.map(|t| format!("Authorization: {t}\r\n")).unwrap_or_default();
    write!(stream, "GET /credentials HTTP/1.1\r\nHost: {addr}\r\n{authorization}\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole HTTP response");
    (head[9..12].parse().expect("a status"), body.to_string())
}

/// This machine's address towards the network (no packet is sent), unless it has only loopback.
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// What `rust_sdk_child` prints before the ARN it was given credentials for.
const CHILD_SAYS: &str = "rust sdk child: ";

/// Not a test of its own: the child process `exec` runs in the test above (this binary again,
/// with only this test selected). It asks STS who it is through the Rust SDK's default
/// credential chain, which must find `exec`'s bridge. Run directly, it does nothing.
#[tokio::test]
#[ignore = "the child of the exec test above"]
async fn rust_sdk_child() {
    if std::env::var_os("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_none() {
        return;
    }
    // Region and endpoint from the environment `exec` passed on; credentials from its chain.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(sentinel_tvm::aws::https_client())
        .load()
        .await;
    let identity = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.expect("the bridge answers");
    println!("{CHILD_SAYS}{}", identity.arn().unwrap_or_default());
}
