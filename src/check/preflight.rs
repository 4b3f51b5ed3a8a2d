//! Pre-flight verdicts, pure: what each check before an install concluded, and how the list
//! reads. The checks themselves (which call AWS) run in `commands::preflight`; nothing here
//! touches AWS or prints.

use crate::model::verdict::Verdict;
use serde_json::Value;

use crate::deploy::drift::embedded_json;
use crate::deploy::stacks::TAG_ENV;
use crate::model::cloudformation::Deployed;

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

/// Threat model T10: this environment's protected roles (`arn:…:role/<scope>*`, `scope` being
/// `<prefix><env>-`) and those another installed environment's execution role may assume
/// (`grants`: environment and its `VEND_POLICY` document) must not reach into each other: one
/// scope the start of the other would let one TVM vend the other's roles. Only patterns in this
/// account count: IAM is per account.
pub fn role_scope(env: &str, scope: &str, account_id: &str, grants: &[(String, String)]) -> Verdict {
    let overlapping: Vec<String> = grants
        .iter()
        .filter(|(other, _)| other != env)
        .flat_map(|(other, document)| {
            assumable_role_prefixes(document, account_id)
                .into_iter()
                .filter(|prefix| scope.starts_with(prefix.as_str()) || prefix.starts_with(scope))
                .map(move |prefix| format!("`{other}` may assume `role/{prefix}*`"))
        })
        .collect();
    if overlapping.is_empty() {
        let others = grants.iter().filter(|(other, _)| other != env).count();
        return Verdict::pass(
            "role scope",
            format!("`role/{scope}*` overlaps none of the {others} other environment(s) installed in this account"),
        );
    }
    Verdict::fail(
        "role scope",
        format!("`role/{scope}*` overlaps another environment's protected roles: {}", overlapping.join("; ")),
        "choose a --role-prefix (or --env) whose `<prefix><env>-` neither starts with nor is the start of theirs",
    )
}

/// The role-name prefixes of the `role/<prefix>*` resources an execution role's document lets it
/// `sts:AssumeRole` in `account_id`.
fn assumable_role_prefixes(document: &str, account_id: &str) -> Vec<String> {
    let Some(document) = embedded_json(document) else { return Vec::new() };
    let as_list = |value: &Value| match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Value::String(one) => vec![one.clone()],
        _ => Vec::new(),
    };
    let statements = match document.get("Statement") {
        Some(Value::Array(statements)) => statements.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements
        .iter()
        .filter(|statement| statement.get("Action").is_some_and(|a| as_list(a).iter().any(|a| a == "sts:AssumeRole")))
        .flat_map(|statement| statement.get("Resource").map(as_list).unwrap_or_default())
        .filter_map(|resource| {
            let (head, role) = resource.split_once(":role/")?;
            (head.ends_with(&format!(":iam::{account_id}"))).then(|| role.trim_end_matches('*').to_string())
        })
        .collect()
}

/// The log groups an earlier install of the environment kept (`kept`, looked for only while
/// the API stack does not exist): never in the way, the API stack adopts them.
pub fn kept_log_groups(api_exists: bool, kept: &[String]) -> Verdict {
    if api_exists {
        return Verdict::pass("log groups", "the decision log and access log belong to the existing API stack");
    }
    if kept.is_empty() {
        return Verdict::pass("log groups", "none kept from an earlier install; the API stack creates them");
    }
    Verdict::pass(
        "log groups",
        format!("{} kept from an earlier install; the API stack adopts them (an import change set)", kept.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_environment_whose_roles_reach_into_anothers_is_refused() {
        let grant = |env: &str, resources: &[&str]| {
            let document = serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Resource": resources},
            ]});
            (env.to_string(), document.to_string())
        };
        let own = "arn:aws:iam::111122223333:role/";
        for (scope, grants, passes) in [
            ("SentinelProtected-main-", vec![], true),
            ("SentinelProtected-main-", vec![grant("dev", &[&format!("{own}SentinelProtected-dev-*")])], true),
            // Another prefix that is this environment's scope and more: `main`'s roles cover `x`'s.
            ("SentinelProtected-main-x-", vec![grant("main", &[&format!("{own}SentinelProtected-main-*")])], false),
            // …and the reverse.
            ("SentinelProtected-", vec![grant("main", &[&format!("{own}SentinelProtected-main-*")])], false),
            // Another account's roles are that account's business.
            (
                "SentinelProtected-main-x-",
                vec![grant("main", &["arn:aws:iam::444455556666:role/SentinelProtected-main-*"])],
                true,
            ),
            // The environment's own execution role is not another's.
            ("SentinelProtected-main-", vec![grant("main", &[&format!("{own}SentinelProtected-main-*")])], true),
            // As IAM returns it: URL-encoded, a single resource as a string.
            (
                "SentinelProtected-main-x-",
                vec![(
                    "main".into(),
                    "%7B%22Statement%22%3A%7B%22Action%22%3A%22sts%3AAssumeRole%22%2C%22Resource%22%3A%22arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FSentinelProtected-main-%2A%22%7D%7D".into(),
                )],
                false,
            ),
        ] {
            let env = if scope.ends_with("-main-") { "main" } else { "x" };
            let verdict = super::role_scope(env, scope, "111122223333", &grants);
            assert_eq!(verdict.status == crate::model::verdict::Status::Pass, passes, "{scope}: {verdict:?}");
        }
    }

    use super::*;
    use crate::model::verdict::{Status, failures};

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
            (kept_log_groups(false, &["/aws/lambda/sentinel-tvm-main".into()]), Status::Pass, "adopts them"),
            (kept_log_groups(false, &[]), Status::Pass, "none kept"),
            (kept_log_groups(true, &[]), Status::Pass, "existing API stack"),
        ] {
            assert_eq!(verdict.status, status, "{verdict:?}");
            assert!(verdict.detail.contains(mentions), "{verdict:?} should mention {mentions}");
            assert_eq!(verdict.fix.is_some(), status == Status::Fail, "{verdict:?}");
        }
    }
}
