//! Pure: which IAM actions an install needs, and what a simulation of them concludes. The
//! actions come from the resource types in the embedded templates (CloudFormation acts with the
//! deployer's own permissions: there is no service role) plus the calls the installer makes
//! itself. `aws::permissions` asks IAM about them; nothing here touches AWS.
//!
//! Where the lists come from: each resource type's CloudFormation registry schema names the
//! permissions of its create, update and delete handlers (read from the schemas bundled with
//! cfn-lint 1.58). A handler's list covers every property the type has; only the write actions
//! for properties these templates set are kept, with the read actions (`Get*`, `List*`,
//! `Describe*`) the handlers make to check and read back. Left out: KMS, VPC, EFS, layers, code
//! signing, concurrency, S3 Tables, metadata tables and every other feature the templates do
//! not use. The stage's access-log delivery is from "Configuring logging for an HTTP API" in the
//! API Gateway developer guide.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::deploy::stacks::TEMPLATES;
use crate::model::simulation::Denied;
use crate::model::verdict::Verdict;

/// The name of this pre-flight check.
pub const CHECK: &str = "permissions";

/// Where the deployer's permissions are written down.
pub const DEPLOYER_DOCS: &str =
    "\"Permissions of the deployer\" under \"Before you start\" in docs/LAMBDA_TVM_DEPLOYMENT.md";

/// Templates deployed with other credentials: the SCP lives in the organization's management
/// account, whose checks are `crate::scp::organization`'s.
const ELSEWHERE: &[&str] = &["scp.yaml", "rcp.yaml"];

/// How many denied actions a verdict names before it counts the rest.
const SHOWN: usize = 8;

/// What CloudFormation needs, as the deployer, to create, update and delete each resource type
/// the templates hold. A unit test checks that every type in `stacks/` has an entry and every
/// entry is used.
pub const ACTIONS: &[(&str, &[&str])] = &[
    // scp_mode: audit.
    ("AWS::CloudWatch::Alarm", &["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"]),
    ("AWS::Logs::MetricFilter", &["logs:DeleteMetricFilter", "logs:DescribeMetricFilters", "logs:PutMetricFilter"]),
    (
        "AWS::ApiGatewayV2::Api",
        &["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"],
    ),
    (
        "AWS::ApiGatewayV2::Integration",
        &["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"],
    ),
    (
        "AWS::ApiGatewayV2::Route",
        &["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"],
    ),
    (
        "AWS::ApiGatewayV2::Stage",
        &[
            "apigateway:DELETE",
            "apigateway:GET",
            "apigateway:PATCH",
            "apigateway:POST",
            "apigateway:TagResource",
            "apigateway:UntagResource",
            // AccessLogSettings: API Gateway sets up the log delivery as the caller.
            "logs:CreateLogDelivery",
            "logs:CreateLogGroup",
            "logs:DeleteLogDelivery",
            "logs:DescribeLogGroups",
            "logs:DescribeResourcePolicies",
            "logs:GetLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:UpdateLogDelivery",
        ],
    ),
    (
        "AWS::IAM::ManagedPolicy",
        &[
            "iam:AttachGroupPolicy",
            "iam:AttachRolePolicy",
            "iam:AttachUserPolicy",
            "iam:CreatePolicy",
            "iam:CreatePolicyVersion",
            "iam:DeletePolicy",
            "iam:DeletePolicyVersion",
            "iam:DetachGroupPolicy",
            "iam:DetachRolePolicy",
            "iam:DetachUserPolicy",
            "iam:GetPolicy",
            "iam:ListEntitiesForPolicy",
            "iam:ListPolicyVersions",
        ],
    ),
    (
        "AWS::IAM::Role",
        &[
            "iam:AttachRolePolicy",
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListRolePolicies",
            "iam:PutRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
        ],
    ),
    (
        "AWS::Lambda::Function",
        &[
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:GetFunction",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:GetFunctionRecursionConfig",
            "lambda:GetRuntimeManagementConfig",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            // Handing the execution role to the function.
            "iam:PassRole",
            // Lambda reads the code zip from the artifact bucket as the caller, by version.
            "s3:GetObject",
            "s3:GetObjectVersion",
        ],
    ),
    ("AWS::Lambda::Permission", &["lambda:AddPermission", "lambda:RemovePermission"]),
    (
        "AWS::Logs::LogGroup",
        &[
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:DeleteRetentionPolicy",
            "logs:DescribeIndexPolicies",
            "logs:DescribeLogGroups",
            "logs:DescribeResourcePolicies",
            "logs:GetDataProtectionPolicy",
            "logs:ListTagsForResource",
            "logs:PutRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
        ],
    ),
    (
        "AWS::S3::Bucket",
        &[
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:GetBucketAcl",
            "s3:ListBucket",
            "s3:PutBucketOwnershipControls",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketTagging",
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "s3:PutLifecycleConfiguration",
        ],
    ),
    ("AWS::S3::BucketPolicy", &["s3:DeleteBucketPolicy", "s3:GetBucketPolicy", "s3:PutBucketPolicy"]),
    (
        "AWS::SSM::Parameter",
        &[
            "ssm:AddTagsToResource",
            "ssm:DeleteParameter",
            "ssm:GetParameters",
            "ssm:PutParameter",
            "ssm:RemoveTagsFromResource",
        ],
    ),
];

/// What the installer calls itself, outside CloudFormation. `sts:GetCallerIdentity` is not here:
/// no policy can deny it, and a simulation would report it denied for a caller whose policies
/// never mention it.
pub const INSTALLER_ACTIONS: &[&str] = &[
    // aws::cloudformation: change sets, stacks, events.
    "cloudformation:CreateChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks",
    "cloudformation:ExecuteChangeSet",
    // aws::cloudformation: drift detection (`status`, `upgrade`, `diff`, the smoke test).
    "cloudformation:DescribeStackDriftDetectionStatus",
    "cloudformation:DescribeStackResourceDrifts",
    "cloudformation:DetectStackDrift",
    "cloudformation:DetectStackResourceDrift",
    // aws::s3: HeadBucket, HeadObject, PutObject, ListObjectVersions, DeleteObjects by version.
    "s3:DeleteObjectVersion",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:PutObject",
    // aws::residue and aws::logs: what teardown looks for; the retained log groups an install
    // adopts and `teardown --delete-logs` deletes.
    "apigateway:GET",
    "iam:ListPolicies",
    "iam:ListRoleTags",
    "iam:ListRoles",
    "lambda:GetFunction",
    "logs:DeleteLogGroup",
    "logs:DescribeLogGroups",
    "ssm:GetParametersByPath",
    // aws::iam: the temporary client user of `smoke-test --as-client`, which teardown removes too.
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:CreateUser",
    "iam:DeleteAccessKey",
    "iam:DeleteUser",
    "iam:DetachUserPolicy",
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:ListAttachedUserPolicies",
    "iam:TagUser",
    // aws::iam: the roles and users an interactive install offers as invokers.
    "iam:ListUsers",
    // aws::iam: what the other environments' execution roles may assume (no overlapping scopes).
    "iam:GetRolePolicy",
    // aws::ssm: the policy parameter's version the api stack pins.
    "ssm:GetParameter",
    "ssm:GetParameterHistory",
    // The smoke test signs its requests to the TVM as the deployer.
    "execute-api:Invoke",
];

/// Just enough of a template to see its resources' types; everything else (with its `!Sub`,
/// `!Ref`, `!If` and `!GetAtt` tags) is skipped unread.
#[derive(Deserialize)]
struct Template {
    #[serde(rename = "Resources")]
    resources: BTreeMap<String, Resource>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
}

/// Every resource type (`AWS::…`) of every embedded template.
pub fn resource_types() -> BTreeSet<String> {
    TEMPLATES
        .iter()
        .filter(|(name, _)| !ELSEWHERE.contains(name))
        .flat_map(|(name, body)| {
            let template: Template =
                serde_saphyr::from_str(body).unwrap_or_else(|e| panic!("the embedded {name} is not a template: {e}"));
            template.resources.into_values().map(|resource| resource.kind)
        })
        .collect()
}

/// Every action an install, upgrade, smoke test and teardown need: sorted, each once.
pub fn required_actions() -> Vec<&'static str> {
    let types = resource_types();
    let from_templates =
        ACTIONS.iter().filter(|(kind, _)| types.contains(*kind)).flat_map(|(_, actions)| actions.iter().copied());
    let all: BTreeSet<&'static str> = from_templates.chain(INSTALLER_ACTIONS.iter().copied()).collect();
    all.into_iter().collect()
}

/// Whose policies to simulate for a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user: its own ARN.
    User(String),
    /// A session of this role (by name). The session's ARN drops the role's path, so the role's
    /// ARN comes from IAM (`iam:GetRole`).
    Role { name: String },
}

/// The principal whose policies decide what `caller_arn` (from `sts:GetCallerIdentity`) may do,
/// or why the check cannot be made.
pub fn simulation_principal(caller_arn: &str) -> Result<Principal, String> {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    let [_arn, _partition, service, _region, _account, resource] = parts[..] else {
        return Err(format!("`{caller_arn}` is not an ARN, so there is nothing to simulate"));
    };
    match (service, resource.split_once('/')) {
        ("iam", None) if resource == "root" => {
            Err("the account root may do everything; simulation does not apply".into())
        }
        ("iam", Some(("user", name))) if !name.is_empty() => Ok(Principal::User(caller_arn.to_string())),
        ("sts", Some(("assumed-role", session))) => match session.split_once('/') {
            Some((role, _session)) if !role.is_empty() => Ok(Principal::Role { name: role.to_string() }),
            _ => Err(format!("`{caller_arn}` is not the ARN of a role session")),
        },
        ("sts", Some(("federated-user", _))) => Err(format!(
            "`{caller_arn}` is a federated user, whose permissions depend on its session policy; IAM cannot simulate them"
        )),
        _ => Err(format!("`{caller_arn}` is neither an IAM user nor a role session; IAM cannot simulate it")),
    }
}

/// The check could not be made for `why`.
pub fn skipped(why: impl Into<String>) -> Verdict {
    Verdict::skipped(CHECK, why)
}

/// The verdict on what the simulation did not allow `principal_arn`.
pub fn verdict(principal_arn: &str, denied: &Denied) -> Verdict {
    let needed = required_actions().len();
    if !denied.explicit.is_empty() {
        return Verdict::fail(
            CHECK,
            format!(
                "`{principal_arn}` is denied {} of the {needed} actions an install needs: {}",
                denied.explicit.len(),
                shortened(&denied.explicit)
            ),
            format!("remove the deny for them, or use other credentials (see {DEPLOYER_DOCS})"),
        );
    }
    if !denied.implicit.is_empty() {
        return Verdict::warn(
            CHECK,
            format!(
                "`{principal_arn}` is not allowed {} of the {needed} actions an install needs on every resource: {}",
                denied.implicit.len(),
                shortened(&denied.implicit)
            ),
            format!(
                "fine if they are allowed on the environment's own resources (`sentinel-tvm-<env>-*`, the role prefix); otherwise grant them (see {DEPLOYER_DOCS})"
            ),
        );
    }
    Verdict::pass(CHECK, format!("`{principal_arn}` may do all {needed} actions an install needs"))
}

/// The caller may not make `call` (`iam:SimulatePrincipalPolicy`, or `iam:GetRole` for a role
/// session), so its permissions could not be simulated. Not a failure: the deploy will tell.
pub fn unverifiable(caller_arn: &str, call: &str) -> Verdict {
    Verdict::warn(
        CHECK,
        format!("not checked: `{caller_arn}` may not call {call}"),
        format!(
            "to have them checked, grant iam:SimulatePrincipalPolicy (and iam:GetRole, for a role); \
             otherwise compare the caller's permissions with {DEPLOYER_DOCS}"
        ),
    )
}

/// `a, b, c` — or the first few and `and N more`.
fn shortened(actions: &[String]) -> String {
    let shown = actions.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    match actions.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::verdict::Status;

    /// The types written in `stacks/*.yaml` as text, read independently of the YAML parser.
    fn types_on_disk() -> BTreeSet<String> {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
        let mut types = BTreeSet::new();
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if ELSEWHERE.iter().any(|name| path.ends_with(name)) {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            types.extend(
                text.lines()
                    .filter_map(|line| line.trim().strip_prefix("Type: AWS::"))
                    .map(|rest| format!("AWS::{}", rest.trim())),
            );
        }
        types
    }

    #[test]
    fn every_resource_type_in_the_templates_is_found_despite_their_tags() {
        let types = resource_types();
        assert_eq!(types, types_on_disk());
        for expected in ["AWS::IAM::Role", "AWS::Lambda::Function", "AWS::ApiGatewayV2::Stage", "AWS::S3::Bucket"] {
            assert!(types.contains(expected), "{expected} in {types:?}");
        }
    }

    #[test]
    fn every_resource_type_has_actions_and_every_entry_is_used() {
        let types = resource_types();
        let listed: BTreeSet<String> = ACTIONS.iter().map(|(kind, _)| kind.to_string()).collect();
        let missing: Vec<&String> = types.difference(&listed).collect();
        let unused: Vec<&String> = listed.difference(&types).collect();
        assert!(missing.is_empty(), "resource types without an ACTIONS entry: {missing:?}");
        assert!(unused.is_empty(), "ACTIONS entries no template uses: {unused:?}");
        assert_eq!(ACTIONS.len(), listed.len(), "one entry per type");
    }

    #[test]
    fn every_action_is_written_service_colon_action() {
        for action in ACTIONS.iter().flat_map(|(_, actions)| actions.iter()).chain(INSTALLER_ACTIONS) {
            let (service, name) = action.split_once(':').unwrap_or_else(|| panic!("{action}"));
            assert!(
                !service.is_empty()
                    && service.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
                    && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "{action}"
            );
        }
    }

    #[test]
    fn the_required_actions_are_sorted_unique_and_cover_templates_and_installer() {
        let actions = required_actions();
        assert!(actions.windows(2).all(|pair| pair[0] < pair[1]), "sorted and unique");
        for action in [
            "cloudformation:CreateChangeSet",
            "iam:CreateRole",
            "iam:PassRole",
            "iam:UpdateAssumeRolePolicy",
            "lambda:CreateFunction",
            "lambda:AddPermission",
            "apigateway:POST",
            "logs:CreateLogDelivery",
            "s3:CreateBucket",
            "s3:PutObject",
            "s3:DeleteObjectVersion",
            "ssm:PutParameter",
            "execute-api:Invoke",
        ] {
            assert!(actions.contains(&action), "{action}");
        }
        assert!(!actions.contains(&"sts:GetCallerIdentity"), "no policy can deny it");
    }

    #[test]
    fn the_principal_to_simulate_follows_the_kind_of_caller() {
        let role = |name: &str| Ok(Principal::Role { name: name.into() });
        let user = |arn: &str| Ok(Principal::User(arn.into()));
        for (caller, expected) in [
            ("arn:aws:iam::111122223333:user/deployer", user("arn:aws:iam::111122223333:user/deployer")),
            ("arn:aws:iam::111122223333:user/ci/deployer", user("arn:aws:iam::111122223333:user/ci/deployer")),
            ("arn:aws-cn:iam::111122223333:user/deployer", user("arn:aws-cn:iam::111122223333:user/deployer")),
            ("arn:aws:sts::111122223333:assumed-role/Deployer/ci-run-42", role("Deployer")),
            (
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
                role("AWSReservedSSO_Admin_0123456789abcdef"),
            ),
            ("arn:aws-us-gov:sts::111122223333:assumed-role/Deployer/x", role("Deployer")),
        ] {
            assert_eq!(simulation_principal(caller), expected, "{caller}");
        }
        for (caller, reason) in [
            ("arn:aws:iam::000000000000:root", "root may do everything"),
            ("arn:aws:sts::111122223333:federated-user/bob", "federated user"),
            ("arn:aws:sts::111122223333:assumed-role/Deployer", "not the ARN of a role session"),
            ("arn:aws:sts::111122223333:assumed-role//session", "not the ARN of a role session"),
            ("arn:aws:iam::111122223333:user/", "neither an IAM user nor a role session"),
            ("arn:aws:iam::111122223333:role/Deployer", "neither an IAM user nor a role session"),
            ("arn:aws:sts::111122223333:self", "neither an IAM user nor a role session"),
            ("deployer", "not an ARN"),
        ] {
            let why = simulation_principal(caller).expect_err(caller);
            assert!(why.contains(reason), "{caller}: {why}");
        }
    }

    #[test]
    fn the_verdict_fails_on_a_deny_warns_on_no_allow_and_shortens_many() {
        let arn = "arn:aws:iam::111122223333:user/deployer";
        let needed = required_actions().len();
        let pass = verdict(arn, &Denied::default());
        assert_eq!(pass.status, Status::Pass);
        assert_eq!(pass.detail, format!("`{arn}` may do all {needed} actions an install needs"));

        let two = vec!["iam:CreateRole".to_string(), "iam:PassRole".to_string()];
        let denied = verdict(arn, &Denied { explicit: two.clone(), implicit: vec!["s3:PutObject".into()] });
        assert_eq!(denied.status, Status::Fail);
        assert_eq!(
            denied.detail,
            format!("`{arn}` is denied 2 of the {needed} actions an install needs: iam:CreateRole, iam:PassRole")
        );
        assert!(denied.fix.as_deref().is_some_and(|fix| fix.contains("docs/LAMBDA_TVM_DEPLOYMENT.md")), "{denied:?}");

        let not_allowed = verdict(arn, &Denied { explicit: vec![], implicit: two });
        assert_eq!(not_allowed.status, Status::Warn);
        assert!(not_allowed.detail.contains("not allowed 2 of"), "{not_allowed:?}");

        let many: Vec<String> = (1..=11).map(|n| format!("s3:Action{n}")).collect();
        let detail = verdict(arn, &Denied { explicit: many.clone(), implicit: vec![] }).detail;
        assert!(detail.ends_with(": s3:Action1, s3:Action2, s3:Action3, s3:Action4, s3:Action5, s3:Action6, s3:Action7, s3:Action8 and 3 more"), "{detail}");
        let eight = Denied { explicit: many[..8].to_vec(), implicit: vec![] };
        assert!(verdict(arn, &eight).detail.ends_with("s3:Action8"), "exactly eight are all shown");
    }

    #[test]
    fn what_cannot_be_checked_is_skipped_or_a_warning_never_a_failure() {
        let skipped = skipped("the account root may do everything; simulation does not apply");
        assert_eq!(skipped.line(), "- permissions: the account root may do everything; simulation does not apply\n");
        let warning = unverifiable("arn:aws:iam::111122223333:user/ci", "iam:SimulatePrincipalPolicy");
        assert_eq!(warning.status, Status::Warn);
        assert_eq!(
            warning.detail,
            "not checked: `arn:aws:iam::111122223333:user/ci` may not call iam:SimulatePrincipalPolicy"
        );
        assert!(warning.fix.as_deref().is_some_and(|fix| fix.contains("grant iam:SimulatePrincipalPolicy")));
    }
}
