//! Pure: whose guardrail stack is this, and what an install, upgrade or teardown does with the
//! guardrail stacks it finds in the management account (threat model T11). Several TVM accounts
//! may share one management account and one environment name (the default is `main`): a stack
//! is this TVM's only when its name and its `sentinel-tvm:tvm-account` tag both carry this
//! TVM's account, or, for the SCP stack of sentinel-tvm 0.1 (named without an account), when the
//! execution role its document exempts is this account's. Anything else is left alone, and said.

use serde_json::Value;

use crate::deploy::stacks::Part;
use crate::model::cloudformation::Deployed;
use crate::names::{Guardrail, TAG_ENV, TAG_TVM_ACCOUNT};

/// Whose a guardrail stack is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This TVM's: `legacy` is the 0.1 SCP stack, to migrate.
    Ours { kind: Guardrail, legacy: bool },
    /// Another TVM account's: never updated or deleted from here.
    Another { account: String },
    /// Not a guardrail stack of this environment, or one whose owner cannot be read: never touched.
    Unknown { why: String },
}

/// Who owns `stack` (found in the management account), for the TVM of `tvm_account` and
/// environment `env`.
pub fn owner(stack: &Deployed, env: &str, tvm_account: &str) -> Owner {
    let Some(Part::Guardrail { kind, tvm_account: named }) = Part::from_stack_name(env, &stack.name) else {
        return Owner::Unknown { why: "not a guardrail stack".into() };
    };
    if stack.tags.get(TAG_ENV).map(String::as_str) != Some(env) {
        return Owner::Unknown { why: format!("no `{TAG_ENV}: {env}` tag: sentinel-tvm did not make it") };
    }
    match named {
        Some(named) => {
            let tagged = stack.tags.get(TAG_TVM_ACCOUNT).map(String::as_str);
            match tagged {
                Some(tag) if tag == named && named == tvm_account => Owner::Ours { kind, legacy: false },
                Some(tag) if tag == named => Owner::Another { account: named },
                Some(tag) => Owner::Unknown { why: format!("named for account {named} but tagged for {tag}") },
                None => {
                    Owner::Unknown { why: format!("named for account {named} but without a `{TAG_TVM_ACCOUNT}` tag") }
                }
            }
        }
        None => match legacy_account(stack) {
            Some(account) if account == tvm_account => Owner::Ours { kind, legacy: true },
            Some(account) => Owner::Another { account },
            None => Owner::Unknown { why: "its document names no execution role to tell whose it is".into() },
        },
    }
}

/// The account of the execution role a 0.1 SCP document exempts: the first `aws:PrincipalArn`
/// of its first statement (`OnlyTheTvmAssumesProtectedRoles`), which was always the execution
/// role's ARN, read from its stack.
fn legacy_account(stack: &Deployed) -> Option<String> {
    let text = format!(
        "{}{}",
        stack.parameters.get("PolicyDocument")?,
        stack.parameters.get("PolicyDocumentContinued").map_or("", String::as_str)
    );
    let document: Value = serde_json::from_str(&text).ok()?;
    let exempt = &document["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
    let first = exempt.get(0).unwrap_or(exempt).as_str()?;
    let account = first.split(':').nth(4)?;
    crate::names::is_account_id(account).then(|| account.to_string())
}

/// What to do with the guardrail stacks found, given which guardrails are wanted now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// This TVM's stacks of guardrails no longer wanted: deleted (after a question).
    pub retire: Vec<String>,
    /// This TVM's 0.1 SCP stack: deleted once the new SCP is attached (while both are attached,
    /// both count against each target's five).
    pub migrate: Vec<String>,
    /// Left alone: another TVM account's or unknown, with why.
    pub foreign: Vec<(String, String)>,
}

/// The plan for `found` when `wanted` guardrails are to be deployed.
pub fn plan(found: &[Deployed], env: &str, tvm_account: &str, wanted: &[Guardrail]) -> Plan {
    let mut plan = Plan::default();
    for stack in found {
        match owner(stack, env, tvm_account) {
            Owner::Ours { legacy: true, .. } if wanted.contains(&Guardrail::Scp) => {
                plan.migrate.push(stack.name.clone())
            }
            Owner::Ours { legacy: true, .. } => plan.retire.push(stack.name.clone()),
            Owner::Ours { kind, .. } if !wanted.contains(&kind) => plan.retire.push(stack.name.clone()),
            Owner::Ours { .. } => {}
            Owner::Another { account } => {
                plan.foreign.push((stack.name.clone(), format!("the TVM of account {account}'s")))
            }
            Owner::Unknown { why } if why != "not a guardrail stack" => plan.foreign.push((stack.name.clone(), why)),
            Owner::Unknown { .. } => {}
        }
    }
    plan
}

/// What teardown does with them: this TVM's are deleted only when the environment has stacks in
/// the region, or `--delete-guardrails` asks (a teardown in the wrong region must not strip the
/// guardrails of a TVM that lives elsewhere); others are named and left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teardown {
    pub delete: Vec<String>,
    /// This TVM's, kept because the environment has no stacks here and no flag asked.
    pub kept: Vec<String>,
    pub foreign: Vec<(String, String)>,
}

pub fn teardown(found: &[Deployed], env: &str, tvm_account: &str, tvm_stacks_here: bool, asked: bool) -> Teardown {
    let plan = plan(found, env, tvm_account, &[]);
    let ours = plan.retire;
    let (delete, kept) = if tvm_stacks_here || asked { (ours, Vec::new()) } else { (Vec::new(), ours) };
    Teardown { delete, kept, foreign: plan.foreign }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const OURS: &str = "111122223333";
    const THEIRS: &str = "444455556666";

    fn stack(name: &str, tags: &[(&str, &str)], document: Option<&str>) -> Deployed {
        Deployed {
            name: name.into(),
            status: "CREATE_COMPLETE".into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            parameters: document
                .map(|d| BTreeMap::from([("PolicyDocument".to_string(), d.to_string())]))
                .unwrap_or_default(),
            ..Deployed::default()
        }
    }

    fn legacy_document(account: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OnlyTheTvmAssumesProtectedRoles","Effect":"Deny","Action":["sts:AssumeRole"],"Resource":"arn:aws:iam::*:role/SentinelProtected-main-*","Condition":{{"ArnNotLike":{{"aws:PrincipalArn":["arn:aws:iam::{account}:role/sentinel-tvm-main-execution","arn:aws:iam::{account}:role/BreakGlass"]}}}}}}]}}"#
        )
    }

    /// The stacks two TVM accounts with environment `main` leave in one management account.
    fn shared_management_account() -> Vec<Deployed> {
        let tags = |account: &'static str| vec![(TAG_ENV, "main"), (TAG_TVM_ACCOUNT, account)];
        vec![
            stack(&format!("sentinel-tvm-main-scp-{OURS}"), &tags(OURS), None),
            stack(&format!("sentinel-tvm-main-rcp-{OURS}"), &tags(OURS), None),
            stack(&format!("sentinel-tvm-main-scp-{THEIRS}"), &tags(THEIRS), None),
            stack(&format!("sentinel-tvm-main-rcp-{THEIRS}"), &tags(THEIRS), None),
        ]
    }

    #[test]
    fn whose_each_stack_is() {
        let legacy_ours = legacy_document(OURS);
        let legacy_theirs = legacy_document(THEIRS);
        let table: Vec<(Deployed, Owner)> = vec![
            (
                stack("sentinel-tvm-main-scp-111122223333", &[(TAG_ENV, "main"), (TAG_TVM_ACCOUNT, OURS)], None),
                Owner::Ours { kind: Guardrail::Scp, legacy: false },
            ),
            (
                stack("sentinel-tvm-main-rcp-111122223333", &[(TAG_ENV, "main"), (TAG_TVM_ACCOUNT, OURS)], None),
                Owner::Ours { kind: Guardrail::Rcp, legacy: false },
            ),
            (
                stack("sentinel-tvm-main-scp-444455556666", &[(TAG_ENV, "main"), (TAG_TVM_ACCOUNT, THEIRS)], None),
                Owner::Another { account: THEIRS.into() },
            ),
            // Our name, their tag (or none): hand-made or tampered with, so nobody's to touch.
            (
                stack("sentinel-tvm-main-scp-111122223333", &[(TAG_ENV, "main"), (TAG_TVM_ACCOUNT, THEIRS)], None),
                Owner::Unknown { why: format!("named for account {OURS} but tagged for {THEIRS}") },
            ),
            (
                stack("sentinel-tvm-main-scp-111122223333", &[(TAG_ENV, "main")], None),
                Owner::Unknown { why: format!("named for account {OURS} but without a `{TAG_TVM_ACCOUNT}` tag") },
            ),
            (
                stack("sentinel-tvm-main-scp", &[(TAG_ENV, "main")], Some(&legacy_ours)),
                Owner::Ours { kind: Guardrail::Scp, legacy: true },
            ),
            (
                stack("sentinel-tvm-main-scp", &[(TAG_ENV, "main")], Some(&legacy_theirs)),
                Owner::Another { account: THEIRS.into() },
            ),
            (
                stack("sentinel-tvm-main-scp", &[(TAG_ENV, "main")], Some("{}")),
                Owner::Unknown { why: "its document names no execution role to tell whose it is".into() },
            ),
            (
                stack("sentinel-tvm-main-scp", &[(TAG_ENV, "other")], Some(&legacy_ours)),
                Owner::Unknown { why: format!("no `{TAG_ENV}: main` tag: sentinel-tvm did not make it") },
            ),
            (
                stack("sentinel-tvm-main-api", &[(TAG_ENV, "main")], None),
                Owner::Unknown { why: "not a guardrail stack".into() },
            ),
        ];
        for (stack, expected) in table {
            assert_eq!(owner(&stack, "main", OURS), expected, "{} {:?}", stack.name, stack.tags);
        }
    }

    /// Fails without the account in the names and the ownership rule: another TVM account's
    /// upgrade with the same environment name would retire or update this one's SCP.
    #[test]
    fn two_tvm_accounts_with_one_environment_name_never_touch_each_other() {
        let found = shared_management_account();
        for (wanted, retire) in [
            (vec![Guardrail::Scp, Guardrail::Rcp], vec![]),
            (vec![Guardrail::Scp], vec![format!("sentinel-tvm-main-rcp-{OURS}")]),
            (vec![], vec![format!("sentinel-tvm-main-scp-{OURS}"), format!("sentinel-tvm-main-rcp-{OURS}")]),
        ] {
            let plan = plan(&found, "main", OURS, &wanted);
            assert_eq!(plan.retire, retire, "{wanted:?}");
            assert!(plan.migrate.is_empty());
            let foreign: Vec<&str> = plan.foreign.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(foreign, [format!("sentinel-tvm-main-scp-{THEIRS}"), format!("sentinel-tvm-main-rcp-{THEIRS}")]);
        }
        // And from the other side.
        let theirs = plan(&found, "main", THEIRS, &[]);
        assert_eq!(
            theirs.retire,
            [format!("sentinel-tvm-main-scp-{THEIRS}"), format!("sentinel-tvm-main-rcp-{THEIRS}")]
        );
        let down = teardown(&found, "main", THEIRS, true, false);
        assert!(down.delete.iter().all(|name| name.ends_with(THEIRS)), "{down:?}");
    }

    #[test]
    fn the_old_unnamed_scp_is_migrated_only_when_its_execution_role_is_ours() {
        let ours = stack("sentinel-tvm-main-scp", &[(TAG_ENV, "main")], Some(&legacy_document(OURS)));
        let plan_ours = plan(std::slice::from_ref(&ours), "main", OURS, &[Guardrail::Scp]);
        assert_eq!(plan_ours.migrate, ["sentinel-tvm-main-scp"]);
        assert!(plan_ours.retire.is_empty());
        let off = plan(std::slice::from_ref(&ours), "main", OURS, &[]);
        assert_eq!(off.retire, ["sentinel-tvm-main-scp"], "scp_mode off: retired, not migrated");
        let theirs = plan(std::slice::from_ref(&ours), "main", THEIRS, &[Guardrail::Scp]);
        assert!(theirs.migrate.is_empty() && theirs.retire.is_empty());
        assert_eq!(theirs.foreign, [("sentinel-tvm-main-scp".to_string(), format!("the TVM of account {OURS}'s"))]);
    }

    /// Fails without the flag rule: a teardown in a region where the environment has no stacks
    /// deleted its SCP without asking.
    #[test]
    fn teardown_deletes_guardrails_only_with_the_environment_here_or_the_flag() {
        let found = shared_management_account();
        let ours = vec![format!("sentinel-tvm-main-scp-{OURS}"), format!("sentinel-tvm-main-rcp-{OURS}")];
        for (here, asked, delete, kept) in [
            (true, false, ours.clone(), vec![]),
            (false, false, vec![], ours.clone()),
            (false, true, ours.clone(), vec![]),
        ] {
            let down = teardown(&found, "main", OURS, here, asked);
            assert_eq!((down.delete, down.kept), (delete, kept), "here {here}, asked {asked}");
            assert_eq!(down.foreign.len(), 2, "another account's are named, never deleted");
        }
    }
}
