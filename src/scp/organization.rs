//! The guardrail stacks' pre-flight, pure: from what AWS Organizations says (`Facts`), one
//! verdict per check — all features, SCPs enabled on the root, each target exists, each target
//! has room for one more SCP, the caller may manage policies, the SCP reaches the TVM's own
//! account (or none of its controls are guarded) — and the two warnings that matter most: the
//! TVM in the management account (no SCP restricts it) and the root as a target (every
//! account); with the RCP, RCPs enabled and room for one more RCP. Reading the facts is
//! `commands::steps::scp`'s; nothing here calls AWS.

use crate::model::organizations::{AttachedPolicy, Overview, Target, TargetKind, Unavailable};
use crate::model::verdict::Verdict;
use crate::names::is_scp_target;

/// AWS's limit of SCPs attached directly to one root, OU or account.
pub const MAX_SCPS_PER_TARGET: usize = 5;

/// What the SCP pre-flight decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub overview: Overview,
    /// The account of the credentials that deploy the SCP (`--org-profile`, or the install's).
    pub caller_account_id: String,
    /// The account the TVM runs in.
    pub tvm_account_id: String,
    /// Each requested target id, what it is (`None`: not found, or not an id), and the SCPs
    /// attached directly to it.
    pub targets: Vec<(String, Option<Target>, Vec<AttachedPolicy>)>,
    /// This environment's SCP: when already attached to a target, it takes no new place there.
    /// The 0.1 SCP of an upgrade is attached under its old name meanwhile, so it counts too.
    pub our_policy_name: String,
    /// The TVM account's parents up to the root (`None`: not read, e.g. it is not a member).
    pub tvm_ancestors: Option<Vec<String>>,
    /// With the RCP: its name, and the RCPs attached directly to each found target.
    pub rcp: Option<RcpFacts>,
}

/// What the RCP's checks decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcpFacts {
    pub our_policy_name: String,
    pub attached: Vec<(String, Vec<AttachedPolicy>)>,
}

/// The verdicts, in the order above; never empty.
pub fn verdicts(facts: &Facts) -> Vec<Verdict> {
    let mut verdicts = vec![
        all_features(&facts.overview),
        scps_enabled(&facts.overview),
        targets_exist(&facts.targets),
        room_for_one_more("scp limit", "SCP", &facts.targets, &facts.our_policy_name),
        policy_management(&facts.overview.management_account_id, &facts.caller_account_id),
        management_account(&facts.overview.management_account_id, &facts.tvm_account_id, &facts.targets),
        tvm_covered(facts),
        root_target(&facts.targets),
    ];
    if let Some(rcp) = &facts.rcp {
        verdicts.push(rcps_enabled(&facts.overview));
        let targets: Vec<TargetFacts> = facts
            .targets
            .iter()
            .map(|(id, found, _)| {
                let attached = rcp.attached.iter().find(|(t, _)| t == id).map(|(_, a)| a.clone()).unwrap_or_default();
                (id.clone(), found.clone(), attached)
            })
            .collect();
        verdicts.push(room_for_one_more("rcp limit", "RCP", &targets, &rcp.our_policy_name));
    }
    verdicts
}

/// The SCP guards the TVM's own controls only where it applies: the TVM's account must be a
/// target, or lie under one.
fn tvm_covered(facts: &Facts) -> Verdict {
    const CHECK: &str = "tvm covered";
    let account = &facts.tvm_account_id;
    if *account == facts.overview.management_account_id {
        return Verdict::skipped(CHECK, "the TVM is in the management account, which no SCP restricts (warned above)");
    }
    let Some(ancestors) = &facts.tvm_ancestors else {
        return Verdict::fail(
            CHECK,
            format!(
                "the TVM's account {account} was not found in the organization, so the SCP would not guard its controls"
            ),
            "install the TVM in a member account of this organization, or use the management account's credentials of its own organization (`--org-profile`)",
        );
    };
    let covering: Vec<&str> = facts
        .targets
        .iter()
        .map(|(id, ..)| id.as_str())
        .filter(|id| *id == account || ancestors.iter().any(|a| a == id))
        .collect();
    if covering.is_empty() {
        return Verdict::fail(
            CHECK,
            format!(
                "no target holds the TVM's account {account}: the SCP would guard the protected roles elsewhere but not the TVM's own function, roles, policy and stacks"
            ),
            format!("add `--scp-target {account}` (or an OU above it: {})", ancestors.join(", ")),
        );
    }
    Verdict::pass(CHECK, format!("the TVM's account {account} is under {}", covering.join(", ")))
}

fn rcps_enabled(overview: &Overview) -> Verdict {
    let disabled: Vec<&str> = overview.roots.iter().filter(|r| !r.rcp_enabled).map(|r| r.id.as_str()).collect();
    if disabled.is_empty() {
        return Verdict::pass("rcp policy type", "RCPs are enabled");
    }
    Verdict::fail(
        "rcp policy type",
        format!("RCPs are not enabled on {}", disabled.join(", ")),
        disabled
            .iter()
            .map(|id| {
                format!("`aws organizations enable-policy-type --root-id {id} --policy-type RESOURCE_CONTROL_POLICY`")
            })
            .collect::<Vec<_>>()
            .join(", then "),
    )
}

/// The verdict when the organization could not be read at all.
pub fn unavailable(reason: &Unavailable) -> Vec<Verdict> {
    let verdict = match reason {
        Unavailable::NotInOrganization => Verdict::fail(
            "organization",
            "the credentials' account is in no AWS organization, and SCPs exist only in one",
            "pass `--org-profile PROFILE` with credentials for the organization's management account, or install without the SCP stack",
        ),
        Unavailable::AccessDenied { message } => Verdict::fail(
            "organization",
            format!("reading the organization was denied: {message}"),
            "pass `--org-profile PROFILE` with credentials for the management account (or a delegated administrator for SCPs allowed organizations:Describe*, List*, CreatePolicy, UpdatePolicy, AttachPolicy, DetachPolicy and DeletePolicy)",
        ),
    };
    vec![verdict]
}

fn all_features(overview: &Overview) -> Verdict {
    if overview.feature_set == "ALL" {
        Verdict::pass("organization", "all features are enabled")
    } else {
        Verdict::fail(
            "organization",
            format!("the organization has only `{}` features; SCPs need all features", overview.feature_set),
            "enable all features in AWS Organizations (`aws organizations enable-all-features`; every member account must accept)",
        )
    }
}

fn scps_enabled(overview: &Overview) -> Verdict {
    let disabled: Vec<&str> = overview.roots.iter().filter(|r| !r.scp_enabled).map(|r| r.id.as_str()).collect();
    match (overview.roots.as_slice(), disabled.as_slice()) {
        ([], _) => Verdict::fail(
            "scp policy type",
            "the organization shows no root",
            "check the organization in the AWS Organizations console",
        ),
        (roots, []) => {
            let ids: Vec<&str> = roots.iter().map(|r| r.id.as_str()).collect();
            Verdict::pass("scp policy type", format!("SCPs are enabled on {}", ids.join(", ")))
        }
        (_, disabled) => Verdict::fail(
            "scp policy type",
            format!("SCPs are not enabled on {}", disabled.join(", ")),
            disabled
                .iter()
                .map(|id| {
                    format!(
                        "`aws organizations enable-policy-type --root-id {id} --policy-type SERVICE_CONTROL_POLICY`"
                    )
                })
                .collect::<Vec<_>>()
                .join(", then "),
        ),
    }
}

type TargetFacts = (String, Option<Target>, Vec<AttachedPolicy>);

fn describe(target: &Target) -> String {
    format!("{} ({} {})", target.id, target.kind, target.name)
}

fn targets_exist(targets: &[TargetFacts]) -> Verdict {
    if targets.is_empty() {
        return Verdict::fail(
            "scp targets",
            "no target chosen: the SCP is attached only to OUs or accounts named explicitly",
            "choose the OUs or accounts whose protected roles the SCP guards",
        );
    }
    let malformed: Vec<&str> =
        targets.iter().filter(|(id, ..)| !is_scp_target(id)).map(|(id, ..)| id.as_str()).collect();
    let missing: Vec<&str> = targets
        .iter()
        .filter(|(id, found, _)| found.is_none() && is_scp_target(id))
        .map(|(id, ..)| id.as_str())
        .collect();
    if malformed.is_empty() && missing.is_empty() {
        let found: Vec<String> = targets.iter().filter_map(|(_, t, _)| t.as_ref()).map(describe).collect();
        return Verdict::pass("scp targets", found.join(", "));
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("{} not found in the organization", missing.join(", ")));
    }
    if !malformed.is_empty() {
        problems.push(format!("{} not a root (r-…), OU (ou-…-…) or account (12 digits) id", malformed.join(", ")));
    }
    Verdict::fail(
        "scp targets",
        problems.join("; "),
        "check the ids (`aws organizations list-organizational-units-for-parent`, `aws organizations list-accounts`), or pick from the list `install` shows",
    )
}

fn room_for_one_more(check: &'static str, kind: &str, targets: &[TargetFacts], our_policy_name: &str) -> Verdict {
    let found: Vec<(&Target, &Vec<AttachedPolicy>)> =
        targets.iter().filter_map(|(_, t, attached)| t.as_ref().map(|t| (t, attached))).collect();
    if found.is_empty() {
        return Verdict::skipped(check, format!("no target found to count {kind}s on"));
    }
    let after = |attached: &[AttachedPolicy]| {
        let ours = attached.iter().any(|p| p.name == our_policy_name);
        attached.len() + usize::from(!ours)
    };
    let full: Vec<String> = found
        .iter()
        .filter(|(_, attached)| after(attached) > MAX_SCPS_PER_TARGET)
        .map(|(target, attached)| {
            let names: Vec<&str> = attached.iter().map(|p| p.name.as_str()).collect();
            format!("{} has {} attached ({})", describe(target), attached.len(), names.join(", "))
        })
        .collect();
    if full.is_empty() {
        let counts: Vec<String> = found
            .iter()
            .map(|(target, attached)| format!("{} {} of {MAX_SCPS_PER_TARGET}", target.id, after(attached)))
            .collect();
        return Verdict::pass(check, format!("room for this {kind}: {}", counts.join(", ")));
    }
    Verdict::fail(
        check,
        format!(
            "AWS allows at most {MAX_SCPS_PER_TARGET} {kind}s per target, and this would be one more: {}",
            full.join("; ")
        ),
        format!(
            "detach an {kind} from each of those targets (or merge two into one), or target their child OUs or accounts instead"
        ),
    )
}

fn policy_management(management_account_id: &str, caller_account_id: &str) -> Verdict {
    if caller_account_id == management_account_id {
        Verdict::pass("scp management", format!("the credentials are the management account's ({caller_account_id})"))
    } else {
        Verdict::warn(
            "scp management",
            format!(
                "the credentials are for {caller_account_id}, not the management account {management_account_id}: only the management account or a delegated administrator can create and attach SCPs"
            ),
            format!(
                "pass `--org-profile PROFILE` with the management account's credentials, or make {caller_account_id} a delegated administrator whose resource-based delegation policy allows organizations:CreatePolicy, UpdatePolicy, DeletePolicy, AttachPolicy and DetachPolicy"
            ),
        )
    }
}

/// The TVM in the management account is the prominent warning; a management account among the
/// targets (where the SCP does nothing) the lesser one.
fn management_account(management_account_id: &str, tvm_account_id: &str, targets: &[TargetFacts]) -> Verdict {
    if tvm_account_id == management_account_id {
        return Verdict::warn(
            "management account",
            format!(
                "THE SCP DOES NOT PROTECT THIS TVM: it runs in the management account {tvm_account_id}, which no SCP restricts, so its protected roles there stay assumable around the TVM"
            ),
            "install the TVM in a member account (the SCP then guards the protected roles of the accounts it targets)",
        );
    }
    if targets.iter().any(|(id, ..)| id == management_account_id) {
        return Verdict::warn(
            "management account",
            format!(
                "the target {management_account_id} is the management account, which no SCP restricts: the SCP does nothing there"
            ),
            "target member accounts or OUs only",
        );
    }
    Verdict::pass("management account", format!("the TVM's account {tvm_account_id} is not the management account"))
}

fn root_target(targets: &[TargetFacts]) -> Verdict {
    let roots: Vec<&str> = targets
        .iter()
        .filter_map(|(_, target, _)| target.as_ref().filter(|t| t.kind == TargetKind::Root))
        .map(|t| t.id.as_str())
        .collect();
    if roots.is_empty() {
        return Verdict::pass("root target", "the SCP applies only to the chosen OUs and accounts, not the root");
    }
    Verdict::warn(
        "root target",
        format!("{} is the root: the SCP applies to every account of the organization", roots.join(", ")),
        "target the OUs or accounts that hold protected roles instead, unless every account is meant",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::organizations::Root;
    use crate::model::verdict::Status;
    use crate::names::legacy_scp_policy_name;

    const MANAGEMENT: &str = "111111111111";
    const MEMBER: &str = "222222222222";
    const OURS: &str = "sentinel-tvm-main-protect-roles";

    fn policies(names: &[&str]) -> Vec<AttachedPolicy> {
        names.iter().enumerate().map(|(i, n)| AttachedPolicy { id: format!("p-{i:08}"), name: n.to_string() }).collect()
    }

    fn target(id: &str, name: &str, kind: TargetKind, attached: &[&str]) -> TargetFacts {
        (id.into(), Some(Target { id: id.into(), name: name.into(), kind }), policies(attached))
    }

    fn missing(id: &str) -> TargetFacts {
        (id.into(), None, Vec::new())
    }

    /// A member-account TVM, management-account credentials, one OU with room.
    fn good() -> Facts {
        Facts {
            overview: Overview {
                feature_set: "ALL".into(),
                management_account_id: MANAGEMENT.into(),
                roots: vec![Root { id: "r-ab12".into(), name: "Root".into(), scp_enabled: true, rcp_enabled: true }],
            },
            caller_account_id: MANAGEMENT.into(),
            tvm_account_id: MEMBER.into(),
            targets: vec![target("ou-ab12-cdef3456", "Workloads", TargetKind::OrganizationalUnit, &["FullAWSAccess"])],
            our_policy_name: OURS.into(),
            tvm_ancestors: Some(vec!["ou-ab12-cdef3456".into(), "r-ab12".into()]),
            rcp: None,
        }
    }

    fn verdict<'a>(verdicts: &'a [Verdict], check: &str) -> &'a Verdict {
        verdicts.iter().find(|v| v.check == check).unwrap_or_else(|| panic!("no `{check}` in {verdicts:#?}"))
    }

    #[test]
    fn a_ready_organization_passes_every_check() {
        let verdicts = verdicts(&good());
        assert_eq!(verdicts.len(), 8);
        for verdict in &verdicts {
            assert_eq!(verdict.status, Status::Pass, "{verdict:?}");
            assert!(verdict.fix.is_none(), "{verdict:?}");
        }
        assert_eq!(verdict(&verdicts, "scp targets").detail, "ou-ab12-cdef3456 (OU Workloads)");
        assert_eq!(verdict(&verdicts, "scp limit").detail, "room for this SCP: ou-ab12-cdef3456 2 of 5");
    }

    fn ou(attached: &[&str]) -> TargetFacts {
        target("ou-ab12-cdef3456", "Workloads", TargetKind::OrganizationalUnit, attached)
    }

    /// The case, the change to `good()`, the check concerned, its status, what it mentions.
    type Case = (&'static str, fn(&mut Facts), &'static str, Status, &'static [&'static str]);

    const FIVE: [&str; 5] = ["FullAWSAccess", "a", "b", "c", "d"];

    #[test]
    fn each_problem_is_named_with_its_fix() {
        let cases: [Case; 14] = [
            (
                "consolidated billing only",
                |f| f.overview.feature_set = "CONSOLIDATED_BILLING".into(),
                "organization",
                Status::Fail,
                &["`CONSOLIDATED_BILLING`", "SCPs need all features", "enable-all-features"],
            ),
            (
                "SCPs disabled",
                |f| f.overview.roots[0].scp_enabled = false,
                "scp policy type",
                Status::Fail,
                &["not enabled on r-ab12", "--root-id r-ab12 --policy-type SERVICE_CONTROL_POLICY"],
            ),
            ("no root", |f| f.overview.roots.clear(), "scp policy type", Status::Fail, &["no root"]),
            ("no targets", |f| f.targets.clear(), "scp targets", Status::Fail, &["no target chosen"]),
            (
                "a missing and a malformed target",
                |f| f.targets.extend([missing("ou-ab12-00000000"), missing("Workloads")]),
                "scp targets",
                Status::Fail,
                &["ou-ab12-00000000 not found", "Workloads not a root", "list-accounts"],
            ),
            ("four attached", |f| f.targets = vec![ou(&FIVE[..4])], "scp limit", Status::Pass, &["5 of 5"]),
            (
                "five attached",
                |f| f.targets = vec![ou(&FIVE)],
                "scp limit",
                Status::Fail,
                &["at most 5", "ou-ab12-cdef3456 (OU Workloads) has 5 attached (FullAWSAccess, a, b, c, d)", "detach"],
            ),
            (
                "five attached, ours among them (an upgrade)",
                |f| f.targets = vec![ou(&["FullAWSAccess", "a", "b", "c", OURS])],
                "scp limit",
                Status::Pass,
                &["5 of 5"],
            ),
            (
                "one of two targets full",
                |f| f.targets.push(target("111122223333", "prod", TargetKind::Account, &FIVE)),
                "scp limit",
                Status::Fail,
                &["111122223333 (account prod) has 5"],
            ),
            ("no target found", |f| f.targets = vec![missing("ou-ab12-00000000")], "scp limit", Status::Skipped, &[]),
            (
                "a member account's credentials",
                |f| f.caller_account_id = MEMBER.into(),
                "scp management",
                Status::Warn,
                &["not the management account 111111111111", "delegated administrator", "--org-profile"],
            ),
            (
                "the TVM in the management account",
                |f| f.tvm_account_id = MANAGEMENT.into(),
                "management account",
                Status::Warn,
                &["DOES NOT PROTECT", "no SCP restricts", "member account"],
            ),
            (
                "the management account as a target",
                |f| f.targets.push(target(MANAGEMENT, "management", TargetKind::Account, &["FullAWSAccess"])),
                "management account",
                Status::Warn,
                &["111111111111 is the management account", "does nothing there", "member accounts or OUs"],
            ),
            (
                "the root as a target",
                |f| f.targets.push(target("r-ab12", "Root", TargetKind::Root, &["FullAWSAccess"])),
                "root target",
                Status::Warn,
                &["r-ab12 is the root", "every account"],
            ),
        ];
        for (case, change, check, status, mentions) in cases {
            let mut facts = good();
            change(&mut facts);
            let verdicts = verdicts(&facts);
            let verdict = verdict(&verdicts, check);
            assert_eq!(verdict.status, status, "{case}: {verdict:?}");
            let text = format!("{} {}", verdict.detail, verdict.fix.as_deref().unwrap_or_default());
            for mention in mentions {
                assert!(text.contains(mention), "{case}: `{text}` should mention `{mention}`");
            }
            assert_eq!(verdict.fix.is_some(), matches!(status, Status::Fail | Status::Warn), "{case}: {verdict:?}");
            // a change concerns its own check only; with no target found there is also nothing to count
            let none_found = facts.targets.iter().all(|(_, found, _)| found.is_none());
            // (whether the TVM's account is under a target follows from the targets: its own test)
            for other in
                verdicts.iter().filter(|v| v.check != check && v.check != "tvm covered" && v.status != Status::Pass)
            {
                let expected = match other.check {
                    "scp targets" => Status::Fail,
                    "scp limit" => Status::Skipped,
                    _ => Status::Pass,
                };
                assert!(none_found && other.status == expected, "{case}: {other:?}");
            }
        }
    }

    #[test]
    fn the_tvm_s_own_account_must_be_under_a_target() {
        let mut facts = good();
        facts.tvm_ancestors = Some(vec!["ou-ab12-99999999".into(), "r-ab12".into()]);
        let elsewhere = verdicts(&facts);
        let covered = verdict(&elsewhere, "tvm covered");
        assert_eq!(covered.status, Status::Fail, "{covered:?}");
        assert!(covered.fix.as_deref().unwrap().contains(&format!("--scp-target {MEMBER}")), "{covered:?}");
        facts.targets.push(target(MEMBER, "tooling", TargetKind::Account, &["FullAWSAccess"]));
        assert_eq!(verdict(&verdicts(&facts), "tvm covered").status, Status::Pass);
        facts.tvm_ancestors = None;
        assert_eq!(verdict(&verdicts(&facts), "tvm covered").status, Status::Fail, "not found: fail closed");
        facts.tvm_account_id = MANAGEMENT.into();
        assert_eq!(verdict(&verdicts(&facts), "tvm covered").status, Status::Skipped, "warned about instead");
    }

    /// While an upgrade migrates, the 0.1 SCP (its old name) is still attached beside the new
    /// one: four others plus the old one leave no room.
    #[test]
    fn the_old_scp_counts_while_the_new_one_is_attached() {
        let mut facts = good();
        facts.our_policy_name = "sentinel-tvm-main-222222222222-protect-roles".into();
        let legacy = legacy_scp_policy_name("main");
        facts.targets = vec![ou(&["FullAWSAccess", "a", "b", "c", legacy.as_str()])];
        let limit = verdicts(&facts).into_iter().find(|v| v.check == "scp limit").unwrap();
        assert_eq!(limit.status, Status::Fail, "{limit:?}");
        facts.targets = vec![ou(&["FullAWSAccess", "a", "b", legacy.as_str()])];
        let limit = verdicts(&facts).into_iter().find(|v| v.check == "scp limit").unwrap();
        assert_eq!(limit.status, Status::Pass, "{limit:?}");
    }

    #[test]
    fn the_rcp_needs_its_policy_type_and_room_of_its_own() {
        let mut facts = good();
        let rcp = "sentinel-tvm-main-222222222222-protect-roles-rcp";
        let five: Vec<AttachedPolicy> = policies(&["RCPFullAWSAccess", "a", "b", "c", "d"]);
        facts.rcp = Some(RcpFacts { our_policy_name: rcp.into(), attached: vec![("ou-ab12-cdef3456".into(), five)] });
        let all = verdicts(&facts);
        assert_eq!(all.len(), 10);
        assert_eq!(verdict(&all, "rcp policy type").status, Status::Pass);
        let limit = verdict(&all, "rcp limit");
        assert_eq!(limit.status, Status::Fail, "{limit:?}");
        assert!(limit.detail.contains("5 RCPs per target"), "{limit:?}");
        assert_eq!(verdict(&all, "scp limit").status, Status::Pass, "the quotas are separate");
        facts.overview.roots[0].rcp_enabled = false;
        let disabled = verdicts(&facts);
        let policy_type = verdict(&disabled, "rcp policy type");
        assert_eq!(policy_type.status, Status::Fail);
        assert!(policy_type.fix.as_deref().unwrap().contains("RESOURCE_CONTROL_POLICY"));
    }

    #[test]
    fn an_unreadable_organization_says_which_credentials_to_use() {
        for (reason, mention) in [
            (Unavailable::NotInOrganization, "in no AWS organization"),
            (Unavailable::AccessDenied { message: "not authorized".into() }, "denied: not authorized"),
        ] {
            let verdicts = unavailable(&reason);
            assert_eq!(verdicts.len(), 1);
            assert_eq!(verdicts[0].status, Status::Fail);
            assert!(verdicts[0].detail.contains(mention), "{verdicts:?}");
            assert!(verdicts[0].fix.as_deref().unwrap_or_default().contains("--org-profile"), "{verdicts:?}");
        }
    }
}
