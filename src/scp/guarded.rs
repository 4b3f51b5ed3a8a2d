//! What the guardrails guard, once: the TVM's resources (from its stacks' outputs, never from
//! a naming convention where an output exists) and, per resource, the actions that change what
//! the TVM decides (threat model P3, T1, T4, T5). The SCP document denies `document_actions`;
//! `scp check` simulates `checked_actions`, concrete actions each of which a document action
//! covers (a test below proves it). Pure.

/// One of the TVM's resources the SCP guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The TVM function, and its qualified forms (`:alias`, `:version`).
    Function,
    /// The execution role: whoever may pass it to a function of their own, or change its
    /// policies, decides what the TVM can do.
    ExecutionRole,
    /// This environment's protected roles (`role/<prefix><env>-*`) in the TVM's account and
    /// every allowed account: their trust decides who gets around the TVM.
    ProtectedRoles,
    /// `/sentinel-tvm/<env>/*`: the policy parameter.
    Parameters,
    /// The artifact bucket itself: its policy, versioning and lifecycle.
    Bucket,
    /// The code zips in the artifact bucket: the next create or update runs what is there.
    BucketObjects,
    /// The environment's stacks (`stack/sentinel-tvm-<env>-*`): every change above, by
    /// CloudFormation.
    Stacks,
}

/// Actions on one resource the SCP keeps to deployers and break-glass roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guarded {
    pub resource: Resource,
    /// What changing it means, for `scp check`'s lines.
    pub what: &'static str,
    /// As the document spells them (IAM wildcards allowed).
    pub document_actions: &'static [&'static str],
    /// Concrete actions `scp check` simulates, each covered by `document_actions`.
    pub checked_actions: &'static [&'static str],
}

const ROLE_ACTIONS: &[&str] = &[
    "iam:PassRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:DeleteRole",
    "iam:CreateRole",
];

/// Every action the SCP keeps to deployers, by resource.
pub const GUARDED: &[Guarded] = &[
    Guarded {
        resource: Resource::Function,
        what: "changing the TVM function",
        document_actions: &[
            "lambda:Update*",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:CreateFunctionUrlConfig",
            "lambda:DeleteFunction*",
            "lambda:PutFunction*",
            "lambda:PublishVersion",
            "lambda:*Alias",
        ],
        checked_actions: &[
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:CreateFunctionUrlConfig",
            "lambda:UpdateFunctionUrlConfig",
            "lambda:DeleteFunction",
            "lambda:PutFunctionConcurrency",
            "lambda:PublishVersion",
            "lambda:CreateAlias",
            "lambda:UpdateAlias",
            "lambda:DeleteAlias",
        ],
    },
    Guarded {
        resource: Resource::ExecutionRole,
        what: "changing or passing the execution role",
        document_actions: ROLE_ACTIONS,
        checked_actions: ROLE_ACTIONS,
    },
    Guarded {
        resource: Resource::ProtectedRoles,
        what: "changing a protected role (its trust)",
        document_actions: ROLE_ACTIONS,
        checked_actions: ROLE_ACTIONS,
    },
    Guarded {
        resource: Resource::Parameters,
        what: "changing the policy parameter",
        document_actions: &["ssm:PutParameter", "ssm:DeleteParameter*", "ssm:LabelParameterVersion"],
        checked_actions: &[
            "ssm:PutParameter",
            "ssm:DeleteParameter",
            "ssm:DeleteParameters",
            "ssm:LabelParameterVersion",
        ],
    },
    Guarded {
        resource: Resource::BucketObjects,
        what: "writing over the code in the artifact bucket",
        document_actions: &["s3:PutObject*", "s3:DeleteObject*"],
        checked_actions: &["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
    },
    Guarded {
        resource: Resource::Bucket,
        what: "changing the artifact bucket",
        document_actions: &[
            "s3:PutBucketPolicy",
            "s3:PutBucketVersioning",
            "s3:PutLifecycleConfiguration",
            "s3:DeleteBucket*",
        ],
        checked_actions: &[
            "s3:PutBucketPolicy",
            "s3:PutBucketVersioning",
            "s3:PutLifecycleConfiguration",
            "s3:DeleteBucket",
        ],
    },
    Guarded {
        resource: Resource::Stacks,
        what: "changing the TVM's stacks",
        document_actions: &[
            "cloudformation:Create*",
            "cloudformation:Update*",
            "cloudformation:Delete*",
            "cloudformation:Execute*",
            "cloudformation:Set*",
            "cloudformation:Continue*",
            "cloudformation:Cancel*",
            "cloudformation:Rollback*",
            "cloudformation:Signal*",
            "cloudformation:TagResource",
            "cloudformation:UntagResource",
        ],
        checked_actions: &[
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
            "cloudformation:DeleteStack",
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:SetStackPolicy",
            "cloudformation:ContinueUpdateRollback",
            "cloudformation:CancelUpdateStack",
            "cloudformation:RollbackStack",
            "cloudformation:SignalResource",
            "cloudformation:TagResource",
            "cloudformation:UntagResource",
        ],
    },
];

/// Invoking the function: denied to every principal, deployers included. API Gateway invokes
/// it as a service principal, which SCPs do not restrict, so the API keeps working; a direct
/// invoke with a hand-written event (T1) does not.
pub const INVOKE_ACTIONS: &[&str] = &["lambda:InvokeFunction", "lambda:InvokeFunctionUrl", "lambda:InvokeAsync"];

/// The TVM's resources as ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tvm<'a> {
    pub partition: &'a str,
    /// The TVM's account.
    pub account_id: &'a str,
    pub env: &'a str,
    /// `<role_prefix><env>-`.
    pub role_name_prefix: String,
    /// Other accounts whose protected roles the TVM may assume (`allowed_accounts`).
    pub other_accounts: &'a [String],
    /// From the execution-role stack's output.
    pub execution_role_arn: &'a str,
    /// From the api stack's output.
    pub function_arn: &'a str,
    /// From the artifacts stack's output.
    pub bucket_name: &'a str,
}

impl Tvm<'_> {
    /// The ARNs (patterns) a statement about `resource` names.
    pub fn arns(&self, resource: Resource) -> Vec<String> {
        let p = self.partition;
        match resource {
            Resource::Function => vec![self.function_arn.to_string(), format!("{}:*", self.function_arn)],
            Resource::ExecutionRole => vec![self.execution_role_arn.to_string()],
            Resource::ProtectedRoles => self.protected_role_patterns(),
            Resource::Parameters => {
                vec![format!("arn:{p}:ssm:*:{}:parameter/sentinel-tvm/{}/*", self.account_id, self.env)]
            }
            Resource::Bucket => vec![format!("arn:{p}:s3:::{}", self.bucket_name)],
            Resource::BucketObjects => vec![format!("arn:{p}:s3:::{}/*", self.bucket_name)],
            Resource::Stacks => {
                vec![format!(
                    "arn:{p}:cloudformation:*:{}:stack/{}*",
                    self.account_id,
                    crate::names::stack_prefix(self.env)
                )]
            }
        }
    }

    /// `role/<prefix><env>-*` in the TVM's account and each other allowed account: never
    /// `iam::*`, or the SCP of one TVM account would also deny another TVM account's roles of
    /// the same environment name wherever both SCPs reach (T11).
    pub fn protected_role_patterns(&self) -> Vec<String> {
        std::iter::once(self.account_id)
            .chain(self.other_accounts.iter().map(String::as_str).filter(|a| *a != self.account_id))
            .map(|account| format!("arn:{}:iam::{account}:role/{}*", self.partition, self.role_name_prefix))
            .collect()
    }

    /// One concrete resource `scp check` simulates for `resource`.
    pub fn example_arn(&self, resource: Resource) -> String {
        let p = self.partition;
        match resource {
            Resource::Function => self.function_arn.to_string(),
            Resource::ExecutionRole => self.execution_role_arn.to_string(),
            Resource::ProtectedRoles => self.protected_role_example(),
            Resource::Parameters => {
                let region = self.function_arn.split(':').nth(3).unwrap_or("us-east-1");
                format!("arn:{p}:ssm:{region}:{}:parameter/sentinel-tvm/{}/policy", self.account_id, self.env)
            }
            Resource::Bucket => format!("arn:{p}:s3:::{}", self.bucket_name),
            Resource::BucketObjects => format!("arn:{p}:s3:::{}/lambda/code.zip", self.bucket_name),
            Resource::Stacks => {
                let region = self.function_arn.split(':').nth(3).unwrap_or("us-east-1");
                format!(
                    "arn:{p}:cloudformation:{region}:{}:stack/{}api/00000000-0000-0000-0000-000000000000",
                    self.account_id,
                    crate::names::stack_prefix(self.env)
                )
            }
        }
    }

    /// The smoke profile's role in the TVM's account: always deployed.
    pub fn protected_role_example(&self) -> String {
        format!(
            "arn:{}:iam::{}:role/{}{}",
            self.partition,
            self.account_id,
            self.role_name_prefix,
            crate::names::SMOKE_PROFILE
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp::cases::matches_pattern;

    #[test]
    fn every_checked_action_is_one_the_document_denies_and_every_listed_action_is_checked() {
        for guarded in GUARDED {
            for action in guarded.checked_actions {
                assert!(
                    guarded.document_actions.iter().any(|pattern| matches_pattern(pattern, action)),
                    "{action} is checked but not denied on {:?}",
                    guarded.resource
                );
            }
            for pattern in guarded.document_actions {
                assert!(
                    guarded.checked_actions.iter().any(|action| matches_pattern(pattern, action)),
                    "{pattern} is denied on {:?} but never checked",
                    guarded.resource
                );
            }
        }
    }

    #[test]
    fn the_issue_s_actions_are_all_guarded() {
        let guarded = |resource: Resource, action: &str| {
            GUARDED
                .iter()
                .any(|g| g.resource == resource && g.document_actions.iter().any(|p| matches_pattern(p, action)))
        };
        for action in [
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:UpdateFunctionUrlConfig",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:CreateFunctionUrlConfig",
            "lambda:DeleteFunction",
            "lambda:PutFunctionConcurrency",
            "lambda:PublishVersion",
            "lambda:CreateAlias",
            "lambda:UpdateAlias",
            "lambda:DeleteAlias",
        ] {
            assert!(guarded(Resource::Function, action), "{action}");
        }
        for resource in [Resource::ExecutionRole, Resource::ProtectedRoles] {
            for action in ROLE_ACTIONS {
                assert!(guarded(resource, action), "{action}");
            }
        }
        for action in ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:LabelParameterVersion"] {
            assert!(guarded(Resource::Parameters, action), "{action}");
        }
        for action in ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"] {
            assert!(guarded(Resource::BucketObjects, action), "{action}");
        }
        for action in ["s3:PutBucketPolicy", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration"] {
            assert!(guarded(Resource::Bucket, action), "{action}");
        }
        for action in [
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
            "cloudformation:DeleteStack",
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DeleteChangeSet",
            "cloudformation:SetStackPolicy",
            "cloudformation:UpdateTerminationProtection",
            "cloudformation:ContinueUpdateRollback",
            "cloudformation:CancelUpdateStack",
            "cloudformation:RollbackStack",
            "cloudformation:SignalResource",
            "cloudformation:TagResource",
            "cloudformation:UntagResource",
        ] {
            assert!(guarded(Resource::Stacks, action), "{action}");
        }
        // Reading is not changing: none of these is guarded.
        for action in ["cloudformation:DescribeStacks", "lambda:GetFunction", "ssm:GetParameter", "s3:GetObject"] {
            assert!(!GUARDED.iter().any(|g| g.document_actions.iter().any(|p| matches_pattern(p, action))), "{action}");
        }
    }
}
