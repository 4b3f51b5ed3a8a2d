//! The SCP pre-flight and target listing against the emulator's AWS Organizations: OUs (one
//! nested) listed with their paths, a target that does not exist, the 5-SCP limit reached by
//! attaching policies to an OU, and the warnings for the TVM in the management account and the
//! root as a target.
//!
//! MiniStack makes the caller (000000000000) the management account of an organization with all
//! features and SCPs enabled on its one root, so what it cannot show is the other side: an
//! account in no organization, access denied to a member account, consolidated billing only, SCPs
//! disabled (those verdicts are table-tested in `scp_preflight`). Every test shares the one
//! organization: each makes its own OUs and policies under unique names, never assumes the
//! organization is empty, and removes what it made before asserting.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::PolicyType;
use sentinel_tvm::aws::organizations::Organizations;
use sentinel_tvm::commands::steps::scp::organization_verdicts as check;
use sentinel_tvm::model::organizations::TargetKind;
use sentinel_tvm::model::verdict::{Status, Verdict};

use crate::emulator_or_skip;
use crate::support::unique_name;

/// MiniStack's management account: the emulator root's.
const MANAGEMENT: &str = "000000000000";
/// An account that runs the TVM in the tests where it is a member account.
const MEMBER: &str = "111122223333";

fn verdict<'a>(verdicts: &'a [Verdict], check: &str) -> &'a Verdict {
    verdicts.iter().find(|v| v.check == check).unwrap_or_else(|| panic!("no `{check}` verdict in {verdicts:#?}"))
}

async fn root_id(org: &Organizations) -> String {
    let overview = org.overview().await.expect("ListRoots answers").expect("the emulator has an organization");
    overview.roots[0].id.clone()
}

async fn create_ou(client: &Client, parent: &str, name: &str) -> String {
    let output = client.create_organizational_unit().parent_id(parent).name(name).send().await.expect("an OU");
    output.organizational_unit().and_then(|ou| ou.id()).expect("the OU's id").to_string()
}

async fn delete_ou(client: &Client, id: &str) {
    client.delete_organizational_unit().organizational_unit_id(id).send().await.expect("the OU is deleted");
}

/// A small valid SCP named `name`, attached to `target`; returns its id.
async fn attached_scp(client: &Client, name: &str, target: &str) -> String {
    let content = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/{name}"}}]}}"#
    );
    let output = client
        .create_policy()
        .name(name)
        .description("sentinel-tvm emulator test")
        .r#type(PolicyType::ServiceControlPolicy)
        .content(content)
        .send()
        .await
        .expect("a policy");
    let id =
        output.policy().and_then(|p| p.policy_summary()).and_then(|s| s.id()).expect("the policy's id").to_string();
    client.attach_policy().policy_id(&id).target_id(target).send().await.expect("the policy is attached");
    id
}

async fn detach_and_delete_scp(client: &Client, id: &str, target: &str) {
    client.detach_policy().policy_id(id).target_id(target).send().await.expect("the policy is detached");
    client.delete_policy().policy_id(id).send().await.expect("the policy is deleted");
}

#[tokio::test]
async fn ous_nested_or_not_and_accounts_are_listed_with_their_paths() {
    let emulator = emulator_or_skip!();
    let (client, org) = (Client::new(&emulator.config), Organizations::new(&emulator.config));
    let root = root_id(&org).await;
    let (outer_name, inner_name) = (unique_name("Workloads"), unique_name("Prod"));
    let outer = create_ou(&client, &root, &outer_name).await;
    let inner = create_ou(&client, &outer, &inner_name).await;

    let tree = org.tree().await;
    let targets = (
        org.target(&root).await,
        org.target(&outer).await,
        org.target(&inner).await,
        org.target(MANAGEMENT).await,
        org.target("ou-zzzz-00000000").await,
        org.target("999999999999").await,
        org.target("Workloads").await,
    );
    delete_ou(&client, &inner).await;
    delete_ou(&client, &outer).await;

    let tree = tree.expect("the tree is listed");
    let entry = |id: &str| tree.iter().find(|e| e.id == id).unwrap_or_else(|| panic!("no {id} in {tree:#?}"));
    assert_eq!((entry(&root).kind, entry(&root).path.as_str()), (TargetKind::Root, "Root"));
    assert_eq!(
        (entry(&outer).kind, entry(&outer).path.clone()),
        (TargetKind::OrganizationalUnit, format!("Root/{outer_name}"))
    );
    assert_eq!(entry(&inner).path, format!("Root/{outer_name}/{inner_name}"));
    assert_eq!(entry(&inner).name, inner_name);
    assert_eq!(entry(MANAGEMENT).kind, TargetKind::Account);
    assert!(entry(MANAGEMENT).path.starts_with("Root/"), "{tree:#?}");
    assert!(tree.windows(2).all(|pair| pair[0].path <= pair[1].path), "sorted by path: {tree:#?}");

    let (root_target, outer_target, inner_target, account, no_ou, no_account, not_an_id) = targets;
    assert_eq!(root_target.expect("ListRoots").map(|t| t.kind), Some(TargetKind::Root));
    let outer_target = outer_target.expect("DescribeOrganizationalUnit").expect("the OU exists");
    assert_eq!((outer_target.kind, outer_target.name), (TargetKind::OrganizationalUnit, outer_name));
    assert_eq!(inner_target.expect("DescribeOrganizationalUnit").map(|t| t.name), Some(inner_name));
    assert_eq!(account.expect("DescribeAccount").map(|t| t.kind), Some(TargetKind::Account));
    assert_eq!(no_ou.expect("a missing OU is no error"), None);
    assert_eq!(no_account.expect("a missing account is no error"), None);
    assert_eq!(not_an_id.expect("no call for a malformed id"), None);
}

#[tokio::test]
async fn a_target_that_does_not_exist_fails_naming_it() {
    let emulator = emulator_or_skip!();
    let org = Organizations::new(&emulator.config);
    let targets = ["ou-zzzz-00000000".to_string(), "999999999999".to_string()];

    let verdicts =
        check(&org, MANAGEMENT, MEMBER, &targets, "sentinel-tvm-x-protect-roles", None).await.expect("the checks run");

    let targets = verdict(&verdicts, "scp targets");
    assert_eq!(targets.status, Status::Fail, "{verdicts:#?}");
    assert!(targets.detail.contains("ou-zzzz-00000000, 999999999999 not found"), "{targets:?}");
    // what MiniStack's organization is, as the other checks read it
    for check in ["organization", "scp policy type", "scp management", "management account", "root target"] {
        assert_eq!(verdict(&verdicts, check).status, Status::Pass, "{verdicts:#?}");
    }
    assert_eq!(verdict(&verdicts, "scp limit").status, Status::Skipped, "{verdicts:#?}");
}

#[tokio::test]
async fn five_scps_on_an_ou_fail_the_limit_and_four_pass() {
    let emulator = emulator_or_skip!();
    let (client, org) = (Client::new(&emulator.config), Organizations::new(&emulator.config));
    let root = root_id(&org).await;
    let ou_name = unique_name("Full");
    let ou = create_ou(&client, &root, &ou_name).await;
    let names: Vec<String> = (0..5).map(|_| unique_name("scp")).collect();
    let mut policies = Vec::new();
    for name in &names {
        policies.push(attached_scp(&client, name, &ou).await);
    }
    let ours = "sentinel-tvm-x-protect-roles";
    let targets = [ou.clone()];

    let attached = org.scps_attached(&ou).await;
    let with_five = check(&org, MANAGEMENT, MEMBER, &targets, ours, None).await;
    // an upgrade: this environment's SCP is one of the five, so nothing new is attached
    let with_five_ours = check(&org, MANAGEMENT, MEMBER, &targets, &names[4], None).await;
    let last = policies.pop().expect("five policies");
    detach_and_delete_scp(&client, &last, &ou).await;
    let with_four = check(&org, MANAGEMENT, MEMBER, &targets, ours, None).await;
    for policy in &policies {
        detach_and_delete_scp(&client, policy, &ou).await;
    }
    delete_ou(&client, &ou).await;

    let mut attached: Vec<String> = attached.expect("ListPoliciesForTarget").into_iter().map(|p| p.name).collect();
    attached.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(attached, expected);

    let with_five = with_five.expect("the checks run");
    let limit = verdict(&with_five, "scp limit");
    assert_eq!(limit.status, Status::Fail, "{with_five:#?}");
    assert!(limit.detail.contains(&format!("{ou} (OU {ou_name}) has 5 attached")), "{limit:?}");
    for name in &names {
        assert!(limit.detail.contains(name.as_str()), "{limit:?} should name {name}");
    }
    assert!(limit.fix.as_deref().is_some_and(|fix| fix.contains("detach")), "{limit:?}");
    assert_eq!(verdict(&with_five, "scp targets").status, Status::Pass, "{with_five:#?}");

    let with_five_ours = with_five_ours.expect("the checks run");
    assert_eq!(verdict(&with_five_ours, "scp limit").status, Status::Pass, "{with_five_ours:#?}");

    let with_four = with_four.expect("the checks run");
    let limit = verdict(&with_four, "scp limit");
    assert_eq!(limit.status, Status::Pass, "{with_four:#?}");
    assert!(limit.detail.contains(&format!("{ou} 5 of 5")), "{limit:?}");
}

#[tokio::test]
async fn the_tvm_in_the_management_account_and_the_root_as_a_target_are_warned_about() {
    let emulator = emulator_or_skip!();
    let org = Organizations::new(&emulator.config);
    let root = root_id(&org).await;

    let verdicts =
        check(&org, MANAGEMENT, MANAGEMENT, std::slice::from_ref(&root), "sentinel-tvm-x-protect-roles", None)
            .await
            .expect("the checks run");

    let management = verdict(&verdicts, "management account");
    assert_eq!(management.status, Status::Warn, "{verdicts:#?}");
    assert!(management.detail.contains("THE SCP DOES NOT PROTECT THIS TVM"), "{management:?}");
    assert!(management.detail.contains(MANAGEMENT), "{management:?}");
    assert!(management.fix.as_deref().is_some_and(|fix| fix.contains("member account")), "{management:?}");
    let root_target = verdict(&verdicts, "root target");
    assert_eq!(root_target.status, Status::Warn, "{verdicts:#?}");
    assert!(root_target.detail.contains(&format!("{root} is the root")), "{root_target:?}");
    assert!(root_target.detail.contains("every account"), "{root_target:?}");
    assert_eq!(verdict(&verdicts, "scp targets").status, Status::Pass, "{verdicts:#?}");
}

/// Emulator Organizations API (ListParents): where the TVM's account sits, up to the root, is
/// what the "tvm covered" check compares the targets with; an account the organization does not
/// have is not found, and the check fails closed for it.
#[tokio::test]
async fn the_tvm_accounts_parents_decide_whether_the_scp_reaches_it() {
    let emulator = emulator_or_skip!();
    let org = Organizations::new(&emulator.config);
    let root = root_id(&org).await;

    let here = org.ancestors(MANAGEMENT).await.expect("ListParents answers");
    let nowhere = org.ancestors("999999999999").await.expect("a missing account is no error");
    let verdicts = check(&org, MANAGEMENT, MEMBER, std::slice::from_ref(&root), "sentinel-tvm-x-protect-roles", None)
        .await
        .expect("the checks run");

    assert_eq!(here, Some(vec![root.clone()]));
    assert_eq!(nowhere, None);
    let covered = verdict(&verdicts, "tvm covered");
    assert_eq!(covered.status, Status::Fail, "{MEMBER} is not in the emulator's organization: {covered:?}");
    assert!(covered.detail.contains("not found in the organization"), "{covered:?}");
}
