//! The docs' examples, run against the emulator. Every fenced block of `README.md` and
//! `docs/*.md` whose info string is `sh runnable` runs, file by file and in the file's order, as
//! one `bash -euo pipefail` script in a directory of its own, as a reader would type it: the
//! built `sentinel-tvm` and the awscli first on `PATH`, the emulator's root credentials, no
//! terminal and no AWS configuration of the machine's. A `console runnable` block is a session:
//! each `$ ` line runs, and its output (stdout and stderr together) must be the lines under it.
//! Where the emulator differs from AWS, `SUBSTITUTIONS` rewrites the commands, in one place.
//! After each file, every environment its blocks saved is torn down, and must leave nothing.
//!
//! Blocks left plain (`sh`, `console`, `yaml`…) and why they do not run here:
//! - `scripts/demo`, `scripts/test` and the `scripts/emulator` lines: each starts its own
//!   emulator; `scripts/test` runs this test.
//! - `cargo install` (from the clone or `--git`) and an install without `--yes`: the test runs the
//!   binary cargo built, and has no terminal to answer the questions and the confirmation
//!   (`wizard.rs` drives them in a pseudo-terminal); the scripted (`--yes`) installs run here.
//! - The `--scp-mode enforce` install, `--org-profile`, and `scp check`: MiniStack's
//!   CloudFormation has no `AWS::Organizations::Policy`, and its policy simulator always answers
//!   as the account root (docs/EMULATOR.md); `scp show` runs from LAMBDA_TVM_SCP.md.
//! - `exec --endpoint https://a1b2c3d4e5.execute-api…` with `terraform plan`, `profiles --write-config
//!   --endpoint https://a1b2c3d4e5.execute-api…` with an SSO profile, the `curl --aws-sigv4`
//!   request, `aws sts assume-role` on account 444455556666: real-AWS addresses and accounts.
//! - Samples of output (pre-flight and smoke-test lines), of `~/.aws/config`, of a policy and of
//!   `sentinel-tvm.yaml`, and the JSON of the client policy and the SCP: not commands.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Emulator, REGION, Workdir, unique_name};
use crate::{emulator_or_skip, lambda_zip_or_skip};

const BINARY: &str = env!("CARGO_BIN_EXE_sentinel-tvm");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// How the runnable blocks differ from what a reader types against AWS, applied to every
/// command line in this order. Each must still match some block: an unused one fails the test.
const SUBSTITUTIONS: [(&str, &str); 5] = [
    // The emulator's account, not the docs' example one.
    ("--expected-account 111122223333", "--expected-account 000000000000"),
    // Code: the zip `scripts/test` built (`SENTINEL_TVM_LAMBDA_ZIP`) instead of a cargo-lambda
    // build that takes minutes; x86_64, because MiniStack runs `bootstrap` as a process of this
    // host. And no `sts:SourceIdentity` condition on the protected roles: MiniStack never
    // matches one (docs/EMULATOR.md), so the smoke test could never vend.
    ("--architecture arm64", ""),
    (
        "install --",
        "install --architecture x86_64 --lambda-zip \"$SENTINEL_TVM_LAMBDA_ZIP\" --require-source-identity false --",
    ),
    ("sentinel-tvm upgrade", "sentinel-tvm upgrade --lambda-zip \"$SENTINEL_TVM_LAMBDA_ZIP\""),
    ("sentinel-tvm diff", "sentinel-tvm diff --lambda-zip \"$SENTINEL_TVM_LAMBDA_ZIP\""),
];

/// Files the docs assume the reader has, written into each file's directory (besides a copy of
/// `docs/examples/`, so `docs/examples/policy.yaml` means the same as in the repository).
const FIXTURES: [(&str, &str); 2] = [
    // The invalid policy POLICY.md validates.
    (
        "bad.yaml",
        "version: \"1\"\nrules:\n  - name: ops\n    effect: permit\n    conditions:\n      users: [alice.smith]\n      time: {days: [mon], timezone: Europe/Londres}\n",
    ),
    // The reader's own policy the deployment guide installs with: `main-prod` for the reader,
    // who is the emulator's root here (the starter would give it to nobody, threat model T9).
    (
        "policy.yaml",
        "version: \"1\"\nrules:\n  - name: reader\n    effect: allow\n    conditions:\n      profiles: [main-prod]\n      principals: [\"arn:aws:iam::000000000000:root\"]\n",
    ),
];

/// How long one file's blocks may take.
const FILE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Shell,
    Console,
}

/// One runnable block: where its opening fence is (1-based), and what is between the fences.
#[derive(Debug, PartialEq, Eq)]
struct Block {
    line: usize,
    kind: Kind,
    body: Vec<String>,
}

/// The runnable blocks of a Markdown text, in order. A `runnable` block of a language this
/// test cannot run, or an unclosed one, is an error: it must not pass untested.
fn runnable_blocks(markdown: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim_start();
        let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
        if ticks < 3 {
            continue;
        }
        let mut info = trimmed[ticks..].split_whitespace();
        let language = info.next().unwrap_or_default();
        let runnable = info.any(|word| word == "runnable");
        let mut body = Vec::new();
        let mut closed = false;
        for (_, inner) in lines.by_ref() {
            let inner_trimmed = inner.trim();
            if inner_trimmed.len() >= ticks && inner_trimmed.chars().all(|c| c == '`') {
                closed = true;
                break;
            }
            body.push(inner.to_string());
        }
        if !runnable {
            continue;
        }
        let kind = match language {
            "sh" | "bash" => Kind::Shell,
            "console" => Kind::Console,
            other => {
                return Err(format!("line {}: a `{other} runnable` block, but only sh and console run", index + 1));
            }
        };
        if !closed {
            return Err(format!("line {}: the runnable block is never closed", index + 1));
        }
        blocks.push(Block { line: index + 1, kind, body });
    }
    Ok(blocks)
}

/// A generated script, and for each of its lines (0-based) the doc line it came from.
struct Script {
    text: String,
    origin: Vec<Option<usize>>,
}

impl Script {
    fn push(&mut self, line: &str, origin: Option<usize>) {
        self.text.push_str(line);
        self.text.push('\n');
        self.origin.push(origin);
    }
}

const PRELUDE: &str = r#"# Generated by tests/emulator/docs.rs from the runnable blocks of one doc.
trap 'printf "\n__DOCS_FAILED__ %s %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
__docs_block() { printf '\n### %s\n' "$1"; printf '\n### %s\n' "$1" >&2; }
__docs_expect() {
  local expected
  expected=$(cat)
  [ "$1" = "$expected" ] && return 0
  echo "the output is not the doc's (- doc, + actual):" >&2
  diff <(printf '%s\n' "$expected") <(printf '%s\n' "$1") >&2 || true
  return 1
}"#;

/// Applies `SUBSTITUTIONS` to one command line, counting each use.
fn substitute(line: &str, used: &mut [usize]) -> String {
    let mut line = line.to_string();
    for (count, (from, to)) in used.iter_mut().zip(SUBSTITUTIONS) {
        if line.contains(from) {
            *count += 1;
            line = line.replace(from, to);
        }
    }
    line
}

/// The script for one file's blocks.
fn script(file: &str, blocks: &[Block], used: &mut [usize]) -> Result<Script, String> {
    let mut script = Script { text: String::new(), origin: Vec::new() };
    for line in PRELUDE.lines() {
        script.push(line, None);
    }
    for block in blocks {
        script.push(&format!("__docs_block '{file}:{}'", block.line), Some(block.line));
        let doc_line = |offset: usize| Some(block.line + 1 + offset);
        match block.kind {
            Kind::Shell => {
                for (offset, line) in block.body.iter().enumerate() {
                    script.push(&substitute(line, used), doc_line(offset));
                }
            }
            Kind::Console => console(&mut script, block, used).map_err(|e| format!("{file}:{e}"))?,
        }
    }
    Ok(script)
}

/// A console session: each `$ COMMAND` runs, and what it prints must be the lines under it.
fn console(script: &mut Script, block: &Block, used: &mut [usize]) -> Result<(), String> {
    let mut open = None;
    for (offset, line) in block.body.iter().enumerate() {
        let doc_line = block.line + 1 + offset;
        if let Some(command) = line.strip_prefix("$ ") {
            if let Some(start) = open.replace(doc_line) {
                script.push("__DOCS_EXPECTED__", Some(start));
            }
            // `}` on a line of its own: a `# comment` after the command must not swallow it.
            script.push(&format!("__docs_out=$( {{ {}", substitute(command, used)), Some(doc_line));
            script.push("} 2>&1 ) || true", Some(doc_line));
            script.push("__docs_expect \"$__docs_out\" <<'__DOCS_EXPECTED__'", Some(doc_line));
        } else if open.is_some() {
            script.push(line, Some(doc_line));
        } else {
            return Err(format!("{doc_line}: a console block starts with a `$ ` command"));
        }
    }
    if let Some(start) = open {
        script.push("__DOCS_EXPECTED__", Some(start));
    }
    Ok(())
}

/// The docs, as paths relative to the repository: README.md, then docs/*.md by name.
fn doc_files() -> Vec<String> {
    let mut docs: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("the docs folder")
        .map(|entry| entry.expect("a docs entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    docs.insert(0, "README.md".to_string());
    docs
}

/// The awscli `scripts/tools` installs (the docs' `aws …` lines), or `None` (said loudly) outside CI.
fn tools_bin() -> Option<PathBuf> {
    let bin = Path::new(ROOT).join("target/tools/venv/bin");
    match bin.join("aws").is_file() {
        true => Some(bin),
        false if std::env::var_os("CI").is_some() => {
            panic!("{} is missing, but CI installs it (scripts/tools)", bin.display())
        }
        false => {
            eprintln!("skipped: no awscli in {}; run `scripts/tools` to install it", bin.display());
            None
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a fixture folder");
    for entry in std::fs::read_dir(from).expect("a folder to copy") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copied fixture");
        }
    }
}

/// The last `lines` lines of the part of `output` that the block at `marker` printed.
fn tail_of_block(output: &str, marker: &str, lines: usize) -> String {
    let from_block = output.rfind(marker).map_or(output, |at| &output[at + marker.len()..]);
    let all: Vec<&str> = from_block.lines().filter(|line| !line.starts_with("__DOCS_FAILED__")).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

struct Run<'a> {
    emulator: &'a Emulator,
    zip: &'a str,
    tools: &'a Path,
}

impl Run<'_> {
    /// Runs one file's blocks; `Err` says which block failed, how, and what it printed.
    async fn file(&self, file: &str, blocks: &[Block], script: &Script, dir: &Workdir) -> Result<(), String> {
        let path = dir.path.join("docs-blocks.sh");
        std::fs::write(&path, &script.text).expect("the script is written");
        let bin_dir = Path::new(BINARY).parent().expect("the binary's folder");
        let path_var = std::env::join_paths(
            [bin_dir.to_path_buf(), self.tools.to_path_buf()]
                .into_iter()
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .expect("a PATH");
        let mut command = tokio::process::Command::new("bash");
        command
            .args(["-euo", "pipefail"])
            .arg(&path)
            .current_dir(&dir.path)
            .env_clear()
            .env("PATH", path_var)
            .env("HOME", &dir.path)
            .env("AWS_ENDPOINT_URL", &self.emulator.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION) // the awscli (v1) reads only this one
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("NO_COLOR", "1")
            .env("SENTINEL_TVM_LAMBDA_ZIP", self.zip)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = match tokio::time::timeout(FILE_TIMEOUT, command.output()).await {
            Ok(output) => output.expect("bash runs"),
            Err(_) => return Err(format!("{file}: the blocks did not finish within {FILE_TIMEOUT:?}")),
        };
        if output.status.success() {
            return Ok(());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let failed = stderr.lines().rev().find_map(|line| line.strip_prefix("__DOCS_FAILED__ "));
        let (script_line, command) = failed
            .and_then(|rest| rest.split_once(' '))
            .and_then(|(line, command)| Some((line.parse::<usize>().ok()?, command)))
            .unwrap_or((0, "?"));
        let doc_line = script.origin.get(script_line.wrapping_sub(1)).copied().flatten();
        let block = doc_line
            .and_then(|line| blocks.iter().rev().find(|block| block.line <= line))
            .or(blocks.last())
            .expect("a file with a block");
        let marker = format!("### {file}:{}\n", block.line);
        // The command as the doc writes it, and as it ran when a substitution changed it.
        let written = doc_line.and_then(|line| block.body.get(line.checked_sub(block.line + 1)?)).map(|l| l.trim());
        let written = written.map_or(command, |line| line.strip_prefix("$ ").unwrap_or(line));
        let ran = match command != written && !command.starts_with("return") {
            true => format!(" (run as `{command}`)"),
            false => String::new(),
        };
        Err(format!(
            "{file}:{}: `{written}`{ran} failed ({}) in the block at line {}:\n{}\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}\n",
            doc_line.unwrap_or(block.line),
            output.status,
            block.line,
            block.body.join("\n"),
            tail_of_block(&stdout, &marker, 30),
            tail_of_block(&stderr, &marker, 40),
        ))
    }

    /// Tears down every environment the blocks saved in `dir`: each must leave nothing behind.
    fn teardown(&self, file: &str, dir: &Workdir) -> Result<(), String> {
        let saved = sentinel_tvm::config::load(&dir.path.join("sentinel-tvm.yaml"))
            .map_err(|e| format!("{file}: the blocks left an unreadable sentinel-tvm.yaml: {e:#}"))?;
        for env in saved.map(|file| file.environments.into_keys().collect::<Vec<_>>()).unwrap_or_default() {
            let run = self.emulator.sentinel_tvm(dir, &["--env", &env, "--yes", "teardown"]);
            if run.code != Some(0) {
                return Err(format!("{file}: tearing down `{env}` after the blocks failed:\n{}", run.stderr));
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_runnable_blocks_of_the_docs_run_against_the_emulator() {
    let emulator = emulator_or_skip!();
    let zip = lambda_zip_or_skip!();
    let Some(tools) = tools_bin() else { return };
    let run = Run { emulator: &emulator, zip: &zip, tools: &tools };
    let mut used = [0; SUBSTITUTIONS.len()];
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut dirs = Vec::new();
    for file in doc_files() {
        let markdown = std::fs::read_to_string(Path::new(ROOT).join(&file)).expect("a readable doc");
        let blocks = runnable_blocks(&markdown).unwrap_or_else(|e| panic!("{file}:{e}"));
        if blocks.is_empty() {
            continue;
        }
        let script = script(&file, &blocks, &mut used).unwrap_or_else(|e| panic!("{e}"));
        let dir = Workdir::new(&unique_name("docs"));
        copy_dir(&Path::new(ROOT).join("docs/examples"), &dir.path.join("docs/examples"));
        for (name, text) in FIXTURES {
            std::fs::write(dir.path.join(name), text).expect("a fixture");
        }
        let started = Instant::now();
        let outcome = run.file(&file, &blocks, &script, &dir).await;
        let teardown = run.teardown(&file, &dir);
        eprintln!("docs: {file}: {} runnable blocks in {:.1} s", blocks.len(), started.elapsed().as_secs_f64());
        ran += blocks.len();
        failures.extend(outcome.err());
        failures.extend(teardown.err());
        dirs.push(dir); // removed when the test passes, kept (and named) when it fails
    }
    let unused: Vec<_> = SUBSTITUTIONS.iter().zip(used).filter(|(_, count)| *count == 0).map(|(s, _)| s.0).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran > 0, "no runnable block in the docs");
    assert!(unused.is_empty(), "substitutions no runnable block uses any more (remove them): {unused:?}");
}

#[test]
fn the_extractor_keeps_runnable_blocks_in_order_with_their_lines_and_ignores_the_rest() {
    let markdown = "# Title\n\n```sh runnable\necho one\necho two\n```\n\n```sh\nnot run\n```\n\n```\nplain\n```\n\n````md\n```sh runnable\ninside a longer fence\n```\n````\n\n```console runnable\n$ echo hi\nhi\n```\n\n```yaml\nkey: value\n```\n```bash runnable\necho three\n```\n";
    let blocks = runnable_blocks(markdown).unwrap();
    let summary: Vec<(usize, Kind, Vec<String>)> = blocks.into_iter().map(|b| (b.line, b.kind, b.body)).collect();
    let lines = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        [
            (3, Kind::Shell, lines(&["echo one", "echo two"])),
            (22, Kind::Console, lines(&["$ echo hi", "hi"])),
            (30, Kind::Shell, lines(&["echo three"])),
        ]
    );
}

#[test]
fn a_runnable_block_that_cannot_run_is_an_error() {
    assert_eq!(
        runnable_blocks("text\n```yaml runnable\na: 1\n```\n").unwrap_err(),
        "line 2: a `yaml runnable` block, but only sh and console run"
    );
    assert_eq!(runnable_blocks("```sh runnable\necho\n").unwrap_err(), "line 1: the runnable block is never closed");
}

#[test]
fn substitutions_and_console_sessions_map_back_to_their_doc_lines() {
    let blocks = runnable_blocks("```console runnable\n$ sentinel-tvm upgrade\nok\n\n$ true\n```\n").unwrap();
    let mut used = [0; SUBSTITUTIONS.len()];
    let script = script("X.md", &blocks, &mut used).unwrap();
    assert_eq!(used, [0, 0, 0, 1, 0]);
    let generated: Vec<(&str, Option<usize>)> =
        script.text.lines().zip(script.origin.iter().copied()).skip(PRELUDE.lines().count()).collect();
    assert_eq!(
        generated,
        [
            ("__docs_block 'X.md:1'", Some(1)),
            ("__docs_out=$( { sentinel-tvm upgrade --lambda-zip \"$SENTINEL_TVM_LAMBDA_ZIP\"", Some(2)),
            ("} 2>&1 ) || true", Some(2)),
            ("__docs_expect \"$__docs_out\" <<'__DOCS_EXPECTED__'", Some(2)),
            ("ok", Some(3)),
            ("", Some(4)),
            ("__DOCS_EXPECTED__", Some(2)),
            ("__docs_out=$( { true", Some(5)),
            ("} 2>&1 ) || true", Some(5)),
            ("__docs_expect \"$__docs_out\" <<'__DOCS_EXPECTED__'", Some(5)),
            ("__DOCS_EXPECTED__", Some(5)),
        ]
    );
}
