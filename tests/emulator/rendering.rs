//! What people read, pinned: the change set and the live events of an upgrade that changes one
//! stack, as the binary prints them against the emulator, with names, ids, ports and times
//! filtered out.

use crate::emulator_or_skip;
use crate::support::{Install, Workdir, header_only_lambda_zip, unique_name};

const POLICY: &str =
    "version: \"1\"\nrules:\n  - name: dev\n    effect: allow\n    conditions:\n      profiles: [r-dev]\n";

/// A policy change: the policy stack writes a new parameter version, then the api stack pins it
/// (its function's environment), each shown as its change set and its events.
#[tokio::test]
async fn a_policy_upgrade_reads_as_its_change_sets_and_events() {
    let emulator = emulator_or_skip!();
    let env = unique_name("r");
    let dir = Workdir::new(&env);
    let zip = header_only_lambda_zip();
    Install::new(&env, &zip).json().protect("app").skip_smoke_test().run(&emulator, &dir).assert_code(0);
    std::fs::write(dir.path.join("policy.yaml"), POLICY).unwrap();

    let upgrade = emulator.sentinel_tvm(
        &dir,
        &["--env", &env, "--yes", "upgrade", "--policy-file", "policy.yaml", "--lambda-zip", &zip, "--skip-smoke-test"],
    );
    upgrade.assert_code(0);
    emulator.sentinel_tvm(&dir, &["--env", &env, "--yes", "teardown"]).assert_code(0);

    let port = emulator.endpoint.rsplit(':').next().unwrap().to_string();
    insta::with_settings!({filters => vec![
        (env.as_str(), "[env]"),
        (port.as_str(), "[port]"),
        (r"/_aws/execute-api/[0-9a-z]+/", "/_aws/execute-api/[api-id]/"),
        (r"\[ *\d+\.\d+s\]", "[elapsed]"),
        (r"\b\d\d:\d\d:\d\d\b", "[time]"),
    ]}, {
        insta::assert_snapshot!("upgrade_stdout", upgrade.stdout);
        insta::assert_snapshot!("upgrade_stderr", upgrade.stderr);
    });
}
