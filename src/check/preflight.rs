//! Pre-flight verdicts, pure: what each check before an install concluded, and how the list
//! reads. The checks themselves (which call AWS) run in `commands::preflight`; nothing here
//! touches AWS or prints.

use super::verdict::Verdict;
use crate::deploy::model::Deployed;
use crate::deploy::stacks::TAG_ENV;

/// The credentials worked (`sts:GetCallerIdentity` answered).
pub fn credentials(caller_arn: &str) -> Verdict {
    Verdict::pass("credentials", format!("valid, acting as {caller_arn}"))
}

/// `expected_account` (saved by the first install) against the credentials' account; a
/// mismatch never gets here (opening the session refuses it).
pub fn account(expected: Option<&str>, account_id: &str) -> Verdict {
    match expected {
        Some(expected) if expected == account_id => {
            Verdict::pass("account", format!("{account_id}, the account this environment belongs to"))
        }
        Some(expected) => Verdict::fail(
            "account",
            format!("the credentials are for {account_id}, the environment belongs to {expected}"),
            "use credentials for the right account",
        ),
        None => Verdict::pass("account", format!("{account_id} (saved as expected_account for later runs)")),
    }
}

pub fn region(region: &str) -> Verdict {
    if crate::names::is_region(region) {
        Verdict::pass("region", region.to_string())
    } else {
        Verdict::fail(
            "region",
            format!("`{region}` is not an AWS region"),
            "pass `--region` with a region like eu-west-2",
        )
    }
}

/// Every stack already named for the environment must carry its tag: anything else is someone
/// else's, and is never touched.
pub fn ownership(env: &str, stacks: &[Deployed]) -> Verdict {
    let foreign: Vec<&str> = stacks
        .iter()
        .filter(|s| s.tags.get(TAG_ENV).map(String::as_str) != Some(env))
        .map(|s| s.name.as_str())
        .collect();
    match (foreign.as_slice(), stacks.len()) {
        ([], 0) => Verdict::pass("stacks", format!("none of `{env}` exist yet")),
        ([], n) => Verdict::pass(
            "stacks",
            format!("{n} of `{env}` exist, all made by sentinel-tvm (only changes are applied)"),
        ),
        (foreign, _) => Verdict::fail(
            "stacks",
            format!("{} named for `{env}` but not made by sentinel-tvm for it", foreign.join(", ")),
            "choose another `--env`, or delete those stacks yourself if they are leftovers",
        ),
    }
}

/// A Lambda log group that outlived its stack (an earlier teardown that could not delete it)
/// makes the API stack fail to create: `found` is whether it exists while the API stack does not.
pub fn leftover_log_group(name: &str, found: bool) -> Verdict {
    if found {
        Verdict::fail(
            "log group",
            format!("{name} is left from an earlier install and would make the API stack fail"),
            format!("answer yes to delete it, pass --yes, or `aws logs delete-log-group --log-group-name {name}`"),
        )
    } else {
        Verdict::pass("log group", format!("no leftover {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::verdict::{Status, failures};

    #[test]
    fn each_verdict_reads_as_one_line_and_a_fix() {
        assert_eq!(Verdict::pass("credentials", "valid").line(), "✓ credentials: valid\n");
        assert_eq!(
            Verdict::fail("account", "111 is not 222", "use 222's credentials").line(),
            "✗ account: 111 is not 222\n    fix: use 222's credentials\n"
        );
        assert_eq!(Verdict::skipped("permissions", "root").line(), "- permissions: root\n");
        let verdicts = [Verdict::pass("a", "ok"), Verdict::warn("b", "hm", "look"), Verdict::fail("c", "no", "do x")];
        assert_eq!(failures(&verdicts), [&verdicts[2]]);
        assert_eq!(verdicts[1].json()["status"], "warn");
    }

    #[test]
    fn verdicts_by_situation() {
        let stack = |name: &str, env: Option<&str>| Deployed {
            name: name.into(),
            tags: env.map(|e| [(TAG_ENV.to_string(), e.to_string())].into()).unwrap_or_default(),
            ..Deployed::default()
        };
        let ours = stack("sentinel-tvm-main-api", Some("main"));
        let theirs = stack("sentinel-tvm-main-policy", None);
        for (verdict, status, mentions) in [
            (account(None, "111122223333"), Status::Pass, "saved as expected_account"),
            (account(Some("111122223333"), "111122223333"), Status::Pass, "belongs to"),
            (account(Some("444455556666"), "111122223333"), Status::Fail, "belongs to 444455556666"),
            (region("eu-west-2"), Status::Pass, "eu-west-2"),
            (region("moon-1"), Status::Fail, "not an AWS region"),
            (ownership("main", &[]), Status::Pass, "none of `main`"),
            (ownership("main", std::slice::from_ref(&ours)), Status::Pass, "1 of `main` exist"),
            (ownership("main", &[ours.clone(), theirs]), Status::Fail, "sentinel-tvm-main-policy named for"),
            (leftover_log_group("/aws/lambda/sentinel-tvm-main", true), Status::Fail, "left from an earlier"),
            (leftover_log_group("/aws/lambda/sentinel-tvm-main", false), Status::Pass, "no leftover"),
        ] {
            assert_eq!(verdict.status, status, "{verdict:?}");
            assert!(verdict.detail.contains(mentions), "{verdict:?} should mention {mentions}");
            assert_eq!(verdict.fix.is_some(), status == Status::Fail, "{verdict:?}");
        }
    }
}
