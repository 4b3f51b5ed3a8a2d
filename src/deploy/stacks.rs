//! The embedded CloudFormation templates: which stacks an environment has, what each is named,
//! the order they deploy in, and the parameters each receives. Pure: what is deployed, and how
//! to deploy it, belong to `plan` and `rollout::stacks`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::config::ScpMode;
use crate::model::cloudformation::{ImportResource, StackRequest};
use crate::names::{Guardrail, Names, TAG_TVM_ACCOUNT, is_account_id, stack_prefix};
use crate::settings::Deploy;

/// Every template in `stacks/`, by file name. A template not listed here is never deployed; a
/// unit test checks the folder and this list agree.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("artifacts.yaml", include_str!("../../stacks/artifacts.yaml")),
    ("policy.yaml", include_str!("../../stacks/policy.yaml")),
    ("execution-role.yaml", include_str!("../../stacks/execution-role.yaml")),
    ("api.yaml", include_str!("../../stacks/api.yaml")),
    ("client-policy.yaml", include_str!("../../stacks/client-policy.yaml")),
    ("protected-role.yaml", include_str!("../../stacks/protected-role.yaml")),
    ("scp.yaml", include_str!("../../stacks/scp.yaml")),
    ("rcp.yaml", include_str!("../../stacks/rcp.yaml")),
    ("scp-audit.yaml", include_str!("../../stacks/scp-audit.yaml")),
];

/// Tag keys every stack carries.
pub use crate::names::{TAG_ENV, TAG_TEMPLATE_SHA256, TAG_VERSION};

/// One stack of an environment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Artifacts,
    Policy,
    ExecutionRole,
    Api,
    ClientPolicy,
    /// A protected role, by profile name (without the environment prefix).
    ProtectedRole(String),
    /// `scp_mode: audit`: a metric filter and alarm on the CloudTrail log group, in this account.
    ScpAudit,
    /// `scp_mode`/`rcp_mode: enforce`: an organization policy in the management account, for
    /// the TVM of account `tvm_account`. Never one of `parts()`: it deploys after them, with the
    /// organization's credentials (`commands::steps::scp`). `tvm_account: None` is the SCP stack
    /// of sentinel-tvm 0.1, named without the account: only ever migrated or left alone.
    Guardrail {
        kind: Guardrail,
        tvm_account: Option<String>,
    },
}

impl Part {
    /// The template file this part deploys.
    pub fn template_file(&self) -> &'static str {
        match self {
            Part::Artifacts => "artifacts.yaml",
            Part::Policy => "policy.yaml",
            Part::ExecutionRole => "execution-role.yaml",
            Part::Api => "api.yaml",
            Part::ClientPolicy => "client-policy.yaml",
            Part::ProtectedRole(_) => "protected-role.yaml",
            Part::ScpAudit => "scp-audit.yaml",
            Part::Guardrail { kind: Guardrail::Scp, .. } => "scp.yaml",
            Part::Guardrail { kind: Guardrail::Rcp, .. } => "rcp.yaml",
        }
    }

    pub fn template(&self) -> &'static str {
        template(self.template_file()).expect("every part's template is embedded")
    }

    /// `sentinel-tvm-<env>-<part>`.
    pub fn stack_name(&self, env: &str) -> String {
        match self {
            Part::ProtectedRole(profile) => format!("{}protected-{profile}", stack_prefix(env)),
            Part::Guardrail { kind, tvm_account: Some(account) } => {
                format!("{}{}-{account}", stack_prefix(env), kind.as_str())
            }
            other => format!("{}{}", stack_prefix(env), other.template_file().trim_end_matches(".yaml")),
        }
    }

    /// The part a stack name names, for stacks of `env`.
    pub fn from_stack_name(env: &str, stack_name: &str) -> Option<Part> {
        let suffix = stack_name.strip_prefix(&stack_prefix(env))?;
        Some(match suffix {
            "artifacts" => Part::Artifacts,
            "policy" => Part::Policy,
            "execution-role" => Part::ExecutionRole,
            "api" => Part::Api,
            "client-policy" => Part::ClientPolicy,
            "scp-audit" => Part::ScpAudit,
            "scp" => Part::Guardrail { kind: Guardrail::Scp, tvm_account: None },
            other => match (other.split_once('-'), other.strip_prefix("protected-")) {
                (_, Some(profile)) if !profile.is_empty() => Part::ProtectedRole(profile.to_string()),
                (Some(("scp", account)), _) if is_account_id(account) => {
                    Part::Guardrail { kind: Guardrail::Scp, tvm_account: Some(account.to_string()) }
                }
                (Some(("rcp", account)), _) if is_account_id(account) => {
                    Part::Guardrail { kind: Guardrail::Rcp, tvm_account: Some(account.to_string()) }
                }
                _ => return None,
            },
        })
    }

    /// Deploy order: parts of one wave depend only on earlier waves, so they deploy together.
    /// Teardown runs the waves backwards.
    pub fn wave(&self) -> usize {
        match self {
            Part::Artifacts | Part::Policy | Part::ExecutionRole => 0,
            Part::Api | Part::ProtectedRole(_) => 1,
            Part::ClientPolicy | Part::ScpAudit => 2,
            Part::Guardrail { kind: Guardrail::Scp, .. } => 3,
            Part::Guardrail { kind: Guardrail::Rcp, .. } => 4,
        }
    }

    /// A short label for progress lines and tables.
    pub fn label(&self) -> String {
        match self {
            Part::ProtectedRole(profile) => format!("protected-{profile}"),
            Part::Guardrail { kind, .. } => kind.as_str().to_string(),
            other => other.template_file().trim_end_matches(".yaml").to_string(),
        }
    }
}

pub fn template(file: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|(name, _)| *name == file).map(|(_, body)| *body)
}

/// Lowercase hex SHA-256, as the `sentinel-tvm:template-sha256` tag records it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A stack as it should be: its template, parameters and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredStack {
    pub part: Part,
    pub name: String,
    pub template: &'static str,
    pub template_sha256: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Resources it retains that exist already (`retained`, found by the deploy): when the
    /// stack is created, it adopts them first (an import change set), as they are.
    pub adopt: Vec<ImportResource>,
}

impl DesiredStack {
    /// The plain request `aws::cloudformation` makes a change set from.
    pub fn request(&self) -> StackRequest<'_> {
        StackRequest {
            name: &self.name,
            template: self.template,
            parameters: &self.parameters,
            tags: &self.tags,
            revert_drift: false,
        }
    }

    pub fn new(env: &str, part: Part, parameters: BTreeMap<String, String>) -> Self {
        let template = part.template();
        let template_sha256 = sha256_hex(template.as_bytes());
        let tags = BTreeMap::from([
            (TAG_ENV.to_string(), env.to_string()),
            (TAG_VERSION.to_string(), env!("CARGO_PKG_VERSION").to_string()),
            (TAG_TEMPLATE_SHA256.to_string(), template_sha256.clone()),
        ]);
        Self { name: part.stack_name(env), part, template, template_sha256, parameters, tags, adopt: Vec::new() }
    }
}

/// The resources `part`'s template keeps when its stack is deleted (`DeletionPolicy: Retain`),
/// by their names in `names`: the api stack's decision log and access log. A stack created
/// while they exist must adopt them (CloudFormation cannot create a log group that exists).
pub fn retained(part: &Part, names: &Names) -> Vec<ImportResource> {
    if *part != Part::Api {
        return Vec::new();
    }
    let [decision_log, access_log] = names.log_groups();
    [("FunctionLogGroup", decision_log), ("AccessLogGroup", access_log)]
        .into_iter()
        .map(|(logical_id, name)| ImportResource {
            logical_id: logical_id.into(),
            resource_type: "AWS::Logs::LogGroup".into(),
            identifier: BTreeMap::from([("LogGroupName".to_string(), name)]),
        })
        .collect()
}

/// The template of the import change set that creates `part`'s stack from `resources` alone:
/// each as the part's template has it, retained, with only its identifier as properties, spelled
/// exactly as there (the same `!Sub`, so the update that follows changes no name and replaces
/// nothing). CloudFormation takes an imported resource as it is; the update brings the whole
/// template, and with it the properties (retention, tags) the resources must have. Its only
/// parameter is `EnvName`.
///
/// Why an import, and not log groups made outside the stack: the groups stay CloudFormation's
/// (status, drift and `diff` see them), an existing environment only gains `Retain` on upgrade
/// (moving them out of the api stack would delete them under the old template's policy), and
/// CloudFormation's automatic import (`ImportExistingResources`) takes only literal names, where
/// the templates have `!Sub`.
pub fn import_template(part: &Part, resources: &[ImportResource]) -> String {
    let resources: serde_json::Map<String, serde_json::Value> = resources
        .iter()
        .map(|resource| {
            let properties: serde_json::Map<String, serde_json::Value> = resource
                .identifier
                .keys()
                .map(|key| {
                    let expression = sub_expression(part.template(), &resource.logical_id, key).unwrap_or_else(|| {
                        panic!("{} spells {}.{key} as a `!Sub` string", part.template_file(), resource.logical_id)
                    });
                    (key.clone(), serde_json::json!({"Fn::Sub": expression}))
                })
                .collect();
            let definition = serde_json::json!({
                "Type": resource.resource_type,
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": properties,
            });
            (resource.logical_id.clone(), definition)
        })
        .collect();
    serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "sentinel-tvm: adopting retained resources (an import); the update that follows brings the whole template",
        "Parameters": {"EnvName": {"Type": "String"}},
        "Resources": resources,
    })
    .to_string()
}

/// The string of `key: !Sub "…"` in resource `logical_id` of `template` (two-space resources,
/// six-space properties, as every template here is written).
fn sub_expression<'t>(template: &'t str, logical_id: &str, key: &str) -> Option<&'t str> {
    let start = template.find(&format!("\n  {logical_id}:\n"))?;
    let block = template[start + 1..].lines().skip(1).take_while(|line| line.is_empty() || line.starts_with("    "));
    let prefix = format!("      {key}: !Sub \"");
    block.into_iter().find_map(|line| line.strip_prefix(prefix.as_str())?.strip_suffix('"'))
}

/// Outputs of deployed stacks, by part.
pub type Outputs = BTreeMap<Part, BTreeMap<String, String>>;

/// The parts an environment consists of, in deploy order.
pub fn parts(deploy: &Deploy) -> Vec<Part> {
    let mut parts = vec![Part::Artifacts, Part::Policy, Part::ExecutionRole, Part::Api];
    parts.extend(deploy.protected.iter().map(|profile| Part::ProtectedRole(profile.name.clone())));
    parts.push(Part::ClientPolicy);
    if deploy.scp.mode == ScpMode::Audit {
        parts.push(Part::ScpAudit);
    }
    parts
}

/// Stacks deployed for `env` whose part the settings no longer have: protected roles whose
/// `--protect` entry was removed (or a retired profile's role would stay assumable by the TVM),
/// and the audit stack when `scp_mode` is no longer `audit`. The other parts always exist; the
/// SCP stack, in the management account, is retired by `commands::scp`.
pub fn retired<'a>(env: &str, parts: &[Part], deployed: &'a [String]) -> Vec<&'a str> {
    let optional = |part: &Part| matches!(part, Part::ProtectedRole(_) | Part::ScpAudit);
    deployed
        .iter()
        .filter(|name| Part::from_stack_name(env, name).is_some_and(|part| optional(&part) && !parts.contains(&part)))
        .map(String::as_str)
        .collect()
}

/// What stack parameters are computed from.
pub struct Inputs<'a> {
    pub env: &'a str,
    pub deploy: &'a Deploy,
    /// The deploying account and its partition (from the caller identity).
    pub account_id: &'a str,
    pub partition: &'a str,
    /// The policy YAML as it will be stored (already validated and composed).
    pub policy_text: &'a str,
    /// The policy parameter's version holding `policy_text`, once the policy stack wrote it
    /// (`commands::steps::policy_pin`): the api stack pins it (threat model T3).
    pub policy_version: Option<u64>,
    /// `lambda/<sha256>.zip`, once the code is uploaded.
    pub artifact_key: Option<&'a str>,
    /// The S3 version of that key the installer uploaded or checked (`deploy::artifact`).
    pub artifact_version: Option<&'a str>,
    /// A guardrail part's document (`crate::scp::document`, `crate::scp::rcp`), once the stacks
    /// it names are deployed.
    pub scp_document: Option<&'a str>,
    /// Outputs of the stacks this part depends on.
    pub outputs: &'a Outputs,
}

/// A parameter needs an output of a stack that is not deployed (or lacks it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stack part `{part}` has no output `{output}` yet")]
pub struct MissingInput {
    pub part: String,
    pub output: String,
}

fn policy_version_missing() -> MissingInput {
    MissingInput { part: "policy".into(), output: "the parameter version holding the policy".into() }
}

/// What the api stack pins the policy's value to (`TVM_POLICY_SHA256`): the Lambda's own digest.
pub fn policy_sha256(policy_text: &str) -> String {
    sentinel_tvm_lambda::policy::pin::sha256_hex(policy_text.as_bytes())
}

fn artifact_version_missing() -> MissingInput {
    MissingInput { part: "artifact".into(), output: "the S3 version of the code zip".into() }
}

impl Inputs<'_> {
    fn output(&self, part: Part, key: &str) -> Result<String, MissingInput> {
        self.outputs
            .get(&part)
            .and_then(|outputs| outputs.get(key))
            .cloned()
            .ok_or_else(|| MissingInput { part: part.label(), output: key.into() })
    }

    /// The stack `part` should be.
    pub fn desired(&self, part: &Part) -> Result<DesiredStack, MissingInput> {
        let mut desired = DesiredStack::new(self.env, part.clone(), self.parameters(part)?);
        if let Part::Guardrail { tvm_account: Some(account), .. } = part {
            // Whose guardrail it is: one management account may hold several TVM accounts' (T11).
            desired.tags.insert(TAG_TVM_ACCOUNT.to_string(), account.clone());
        }
        Ok(desired)
    }

    /// Every parameter the part's template declares, always all of them, so a deployed stack's
    /// parameters can be compared as a whole.
    pub fn parameters(&self, part: &Part) -> Result<BTreeMap<String, String>, MissingInput> {
        let d = self.deploy;
        let env = self.env;
        let mut p: Vec<(&str, String)> = vec![("EnvName", env.to_string())];
        match part {
            Part::Artifacts => p.push(("NoncurrentVersionExpirationDays", "30".into())),
            Part::Policy => p.push(("PolicyDocument", self.policy_text.to_string())),
            Part::ExecutionRole => {
                p.push(("RolePrefix", d.role_prefix.clone()));
                p.push(("OtherAccountRoleArns", self.other_account_role_arns().join(",")));
            }
            Part::Api => {
                let artifact_key = self
                    .artifact_key
                    .ok_or_else(|| MissingInput { part: "artifact".into(), output: "lambda/<sha256>.zip".into() })?;
                p.extend([
                    ("Architecture", d.architecture.as_str().to_string()),
                    ("ArtifactBucket", self.output(Part::Artifacts, "BucketName")?),
                    ("ArtifactKey", artifact_key.to_string()),
                    ("ArtifactVersion", self.artifact_version.ok_or_else(artifact_version_missing)?.to_string()),
                    ("ExecutionRoleArn", self.output(Part::ExecutionRole, "RoleArn")?),
                    ("PolicyParameterName", self.output(Part::Policy, "ParameterName")?),
                    ("PolicyParameterVersion", self.policy_version.ok_or_else(policy_version_missing)?.to_string()),
                    ("PolicySha256", policy_sha256(self.policy_text)),
                    ("RolePrefix", d.role_prefix.clone()),
                    ("AllowedAccounts", self.caller_accounts().join(",")),
                    ("AllowedOrgId", d.allowed_org_id.clone().unwrap_or_default()),
                    ("RateLimit", d.rate_limit.to_string()),
                    ("RateWindowSeconds", d.rate_window_seconds.to_string()),
                    ("DefaultDurationSeconds", d.default_duration_seconds.to_string()),
                    ("IdentityProof", d.identity_proof.as_str().to_string()),
                    ("LogRetentionDays", d.log_retention_days.to_string()),
                    ("ThrottlingBurstLimit", d.throttling_burst_limit.to_string()),
                    ("ThrottlingRateLimit", d.throttling_rate_limit.to_string()),
                ]);
            }
            Part::ClientPolicy => p.extend([
                ("ApiId", self.output(Part::Api, "ApiId")?),
                ("AttachToRoles", d.invokers.roles.join(",")),
                ("AttachToUsers", d.invokers.users.join(",")),
                ("AttachToGroups", d.invokers.groups.join(",")),
            ]),
            Part::ScpAudit => p.extend([
                ("TrailLogGroupName", d.scp.trail_log_group.clone().unwrap_or_default()),
                // CloudWatch Logs takes a wildcard only at the end of a value: this account's roles.
                (
                    "ProtectedRolePattern",
                    format!("arn:{}:iam::{}:role/{}{env}-*", self.partition, self.account_id, d.role_prefix),
                ),
                ("ExecutionRoleArn", self.output(Part::ExecutionRole, "RoleArn")?),
                ("AlarmTopicArn", d.scp.alarm_topic_arn.clone().unwrap_or_default()),
            ]),
            Part::Guardrail { kind, tvm_account } => {
                let document = self
                    .scp_document
                    .ok_or_else(|| MissingInput { part: kind.as_str().into(), output: "the policy document".into() })?;
                // A parameter holds 4,096 characters, an organization policy 5,120: two, joined.
                let (first, rest) = split_document(document);
                p.extend([
                    ("TvmAccountId", tvm_account.clone().unwrap_or_else(|| self.account_id.to_string())),
                    ("PolicyDocument", first),
                    ("PolicyDocumentContinued", rest),
                    ("TargetIds", d.scp.targets.join(",")),
                ]);
            }
            Part::ProtectedRole(profile) => {
                let policies = d.protected.iter().find(|p| &p.name == profile).map(|p| p.managed_policy_arns.join(","));
                p.extend([
                    ("ProfileName", profile.clone()),
                    ("RolePrefix", d.role_prefix.clone()),
                    ("ExecutionRoleArn", self.output(Part::ExecutionRole, "RoleArn")?),
                    ("ManagedPolicyArns", policies.unwrap_or_default()),
                    ("RequireSourceIdentity", d.require_source_identity.to_string()),
                ]);
            }
        }
        Ok(p.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The TVM's `TVM_ALLOWED_ACCOUNTS`: empty (its own account) unless others are allowed, and
    /// then its own account plus those.
    fn caller_accounts(&self) -> Vec<String> {
        let others = self.other_accounts();
        if others.is_empty() {
            return Vec::new();
        }
        std::iter::once(self.account_id.to_string()).chain(others).collect()
    }

    fn other_accounts(&self) -> Vec<String> {
        let mut others: Vec<String> =
            self.deploy.allowed_accounts.iter().filter(|a| *a != self.account_id).cloned().collect();
        others.sort();
        others.dedup();
        others
    }

    /// This environment's protected roles in the other allowed accounts, as ARN patterns.
    pub fn other_account_role_arns(&self) -> Vec<String> {
        self.other_accounts()
            .iter()
            .map(|account| {
                format!("arn:{}:iam::{account}:role/{}{}-*", self.partition, self.deploy.role_prefix, self.env)
            })
            .collect()
    }
}

/// A CloudFormation parameter value holds at most this much; the guardrail templates join two
/// parameters (`PolicyDocument`, `PolicyDocumentContinued`), so a document up to AWS's 5,120
/// characters for an organization policy fits.
pub const MAX_PARAMETER_CHARS: usize = 4096;

/// A guardrail document split into the template's two parameters, each within a parameter's limit.
pub fn split_document(document: &str) -> (String, String) {
    let split = document.char_indices().nth(MAX_PARAMETER_CHARS).map_or(document.len(), |(at, _)| at);
    (document[..split].to_string(), document[split..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvironmentConfig;
    use crate::settings::{Selection, Sources};
    use serde::Deserialize;

    /// Just enough of a template to see its parameters; everything else (with its `!Sub` and
    /// `!Ref` tags) is skipped unread.
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateHead {
        #[serde(default)]
        parameters: BTreeMap<String, ParameterDecl>,
        #[allow(dead_code)]
        resources: BTreeMap<String, serde::de::IgnoredAny>,
    }

    #[derive(Deserialize)]
    struct ParameterDecl {
        #[serde(rename = "Default")]
        default: Option<serde::de::IgnoredAny>,
    }

    fn head(body: &str) -> TemplateHead {
        serde_saphyr::from_str(body).expect("the template parses as YAML")
    }

    fn deploy(flags: EnvironmentConfig) -> Deploy {
        let selection = Selection { env: Some("main".into()), ..Selection::default() };
        Sources::flags_only(&selection, &flags).resolve().unwrap().settings.deploy
    }

    /// Inputs for environment `main` of account 111122223333, everything given; tests change
    /// what they are about.
    fn inputs<'a>(deploy: &'a Deploy, outputs: &'a Outputs) -> Inputs<'a> {
        Inputs {
            env: "main",
            deploy,
            account_id: "111122223333",
            partition: "aws",
            policy_text: "x",
            policy_version: Some(4),
            artifact_key: Some("lambda/x.zip"),
            artifact_version: Some("v1"),
            scp_document: Some("{}"),
            outputs,
        }
    }

    fn all_outputs() -> Outputs {
        let outputs = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        BTreeMap::from([
            (Part::Artifacts, outputs(&[("BucketName", "sentinel-tvm-main-111122223333-eu-west-2")])),
            (Part::Policy, outputs(&[("ParameterName", "/sentinel-tvm/main/policy")])),
            (
                Part::ExecutionRole,
                outputs(&[("RoleArn", "arn:aws:iam::111122223333:role/sentinel-tvm-main-execution")]),
            ),
            (Part::Api, outputs(&[("ApiId", "a1b2c3d4e5")])),
        ])
    }

    #[test]
    fn every_template_in_the_folder_is_registered_and_every_registered_one_exists() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
        let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let mut registered: Vec<String> = TEMPLATES.iter().map(|(name, _)| name.to_string()).collect();
        registered.sort();
        assert_eq!(on_disk, registered);
        for (name, body) in TEMPLATES {
            assert_eq!(
                *body,
                std::fs::read_to_string(folder.join(name)).unwrap(),
                "{name} is embedded as it is on disk"
            );
        }
    }

    #[test]
    fn each_template_declares_exactly_the_parameters_the_installer_passes() {
        let deploy = deploy(EnvironmentConfig {
            protect: Some(vec!["prod=arn:aws:iam::aws:policy/ReadOnlyAccess".into()]),
            scp_mode: Some(ScpMode::Audit),
            trail_log_group: Some("cloudtrail".into()),
            scp_targets: Some(vec!["ou-ab12-cd34ef56".into()]),
            ..Default::default()
        });
        let outputs = all_outputs();
        let inputs = Inputs {
            policy_text: "version: \"1\"\nrules: []\n",
            artifact_key: Some("lambda/0000000000000000000000000000000000000000000000000000000000000000.zip"),
            ..inputs(&deploy, &outputs)
        };
        let guardrail = |kind| Part::Guardrail { kind, tvm_account: Some("111122223333".into()) };
        let every_part: Vec<Part> =
            parts(&deploy).into_iter().chain([guardrail(Guardrail::Scp), guardrail(Guardrail::Rcp)]).collect();
        let templates: std::collections::BTreeSet<&str> = every_part.iter().map(Part::template_file).collect();
        assert_eq!(templates.len(), TEMPLATES.len(), "every template is some part's");
        for part in every_part {
            let declared = head(part.template()).parameters;
            let passed = inputs.parameters(&part).unwrap();
            let declared_names: Vec<&String> = declared.keys().collect();
            let passed_names: Vec<&String> = passed.keys().collect();
            assert_eq!(declared_names, passed_names, "{}: declared vs passed", part.template_file());
            for (name, decl) in &declared {
                assert!(
                    decl.default.is_some() || !passed[name].is_empty(),
                    "{}: required {name} is passed empty",
                    part.template_file()
                );
            }
        }
    }

    #[test]
    fn the_function_runs_the_code_version_the_installer_checked() {
        let template = Part::Api.template();
        assert!(template.contains("        S3ObjectVersion: !Ref ArtifactVersion\n"), "{template}");
        let deploy = deploy(EnvironmentConfig::default());
        let outputs = all_outputs();
        let pinned =
            Inputs { artifact_version: Some("3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"), ..inputs(&deploy, &outputs) };
        assert_eq!(pinned.parameters(&Part::Api).unwrap()["ArtifactVersion"], "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
        let unpinned = Inputs { artifact_version: None, ..inputs(&deploy, &outputs) };
        assert!(unpinned.parameters(&Part::Api).is_err(), "no api stack without a pinned version");
    }

    #[test]
    fn the_function_obeys_the_policy_version_and_digest_the_installer_read_back() {
        let template = Part::Api.template();
        assert!(
            template.contains("TVM_POLICY_PARAMETER: !Sub \"${PolicyParameterName}:${PolicyParameterVersion}\"\n")
                && template.contains("TVM_POLICY_SHA256: !Ref PolicySha256\n")
                && template.contains("TVM_ENVIRONMENT: !Ref EnvName\n"),
            "{template}"
        );
        let deploy = deploy(EnvironmentConfig::default());
        let outputs = all_outputs();
        let text = "version: \"1\"\nrules: []\n";
        let pinned = Inputs { policy_text: text, policy_version: Some(12), ..inputs(&deploy, &outputs) };
        let parameters = pinned.parameters(&Part::Api).unwrap();
        assert_eq!(parameters["PolicyParameterVersion"], "12");
        // The digest the Lambda checks, computed by the Lambda's own function.
        assert_eq!(parameters["PolicySha256"], sentinel_tvm_lambda::policy::pin::sha256_hex(text.as_bytes()));
        // …which is SHA-256 as Python's hashlib computes it.
        assert_eq!(parameters["PolicySha256"], "37450d9a8fc2327a8ffc10267890e33a68cd725db5f7d4bd31833fd2b7446e8c");
        let unpinned = Inputs { policy_version: None, ..inputs(&deploy, &outputs) };
        assert_eq!(
            unpinned.parameters(&Part::Api).unwrap_err().to_string(),
            "stack part `policy` has no output `the parameter version holding the policy` yet"
        );
    }

    #[test]
    fn the_api_stack_retains_both_log_groups_and_an_import_template_adopts_them() {
        let names = crate::names::Names {
            env: "main".into(),
            role_prefix: "SentinelProtected-".into(),
            account_id: "111122223333".into(),
            region: "eu-west-2".into(),
        };
        let retained = retained(&Part::Api, &names);
        let adopted: Vec<String> = retained.iter().map(ImportResource::physical_name).collect();
        assert_eq!(adopted, names.log_groups().to_vec());
        assert!(super::retained(&Part::Policy, &names).is_empty());
        // Each is the template's own log group, retained on deletion and on replacement.
        let template = Part::Api.template();
        for resource in &retained {
            let block = format!("  {}:\n    Type: {}\n", resource.logical_id, resource.resource_type);
            let at = template.find(&block).unwrap_or_else(|| panic!("no {block} in api.yaml"));
            let body: String = template[at + block.len()..]
                .lines()
                .take_while(|l| l.starts_with("    "))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                body.contains("    DeletionPolicy: Retain") && body.contains("    UpdateReplacePolicy: Retain"),
                "{body}"
            );
        }
        let import: serde_json::Value = serde_json::from_str(&import_template(&Part::Api, &retained)).unwrap();
        assert_eq!(import["Resources"].as_object().unwrap().len(), 2);
        assert_eq!(import["Parameters"], serde_json::json!({"EnvName": {"Type": "String"}}));
        let access = &import["Resources"]["AccessLogGroup"];
        assert_eq!(access["DeletionPolicy"], "Retain");
        assert_eq!(access["UpdateReplacePolicy"], "Retain");
        // The name exactly as api.yaml spells it, which renders to the one in `names`.
        for (logical, name) in [("FunctionLogGroup", &adopted[0]), ("AccessLogGroup", &adopted[1])] {
            let expression = import["Resources"][logical]["Properties"]["LogGroupName"]["Fn::Sub"].as_str().unwrap();
            assert!(template.contains(&format!("      LogGroupName: !Sub \"{expression}\"\n")), "{expression}");
            assert_eq!(&expression.replace("${EnvName}", "main"), name);
        }
    }

    #[test]
    fn a_parameter_from_a_missing_stack_is_named() {
        let deploy = deploy(EnvironmentConfig::default());
        let outputs = Outputs::new();
        let inputs =
            Inputs { policy_text: "", artifact_key: None, artifact_version: None, ..inputs(&deploy, &outputs) };
        assert_eq!(
            inputs.parameters(&Part::ProtectedRole("smoke".into())).unwrap_err().to_string(),
            "stack part `execution-role` has no output `RoleArn` yet"
        );
        assert!(inputs.parameters(&Part::Artifacts).is_ok());
    }

    #[test]
    fn stack_names_carry_the_environment_and_read_back() {
        for part in [
            Part::Artifacts,
            Part::Policy,
            Part::ExecutionRole,
            Part::Api,
            Part::ClientPolicy,
            Part::ProtectedRole("smoke".into()),
            Part::ScpAudit,
            Part::Guardrail { kind: Guardrail::Scp, tvm_account: None },
            Part::Guardrail { kind: Guardrail::Scp, tvm_account: Some("111122223333".into()) },
            Part::Guardrail { kind: Guardrail::Rcp, tvm_account: Some("111122223333".into()) },
        ] {
            let name = part.stack_name("main");
            assert!(name.starts_with("sentinel-tvm-main-"), "{name}");
            assert_eq!(Part::from_stack_name("main", &name), Some(part));
        }
        assert_eq!(Part::ProtectedRole("prod".into()).stack_name("dev"), "sentinel-tvm-dev-protected-prod");
        assert_eq!(Part::from_stack_name("main", "sentinel-tvm-main-protected-"), None);
        assert_eq!(Part::from_stack_name("main", "sentinel-tvm-other-api"), None);
        assert_eq!(
            Part::Guardrail { kind: Guardrail::Scp, tvm_account: Some("111122223333".into()) }.stack_name("main"),
            "sentinel-tvm-main-scp-111122223333"
        );
        assert_eq!(
            Part::Guardrail { kind: Guardrail::Scp, tvm_account: None }.stack_name("main"),
            "sentinel-tvm-main-scp"
        );
        assert_eq!(Part::from_stack_name("main", "sentinel-tvm-main-scp-1111"), None);
        assert_eq!(Part::from_stack_name("main", "sentinel-tvm-main-rcp"), None);
    }

    #[test]
    fn protected_roles_require_a_source_identity_unless_told_otherwise() {
        let outputs = all_outputs();
        let smoke = Part::ProtectedRole("smoke".into());
        for (flag, expected) in [(None, "true"), (Some(true), "true"), (Some(false), "false")] {
            let deploy = deploy(EnvironmentConfig { require_source_identity: flag, ..Default::default() });
            let inputs = inputs(&deploy, &outputs);
            assert_eq!(inputs.parameters(&smoke).unwrap()["RequireSourceIdentity"], expected, "{flag:?}");
        }
        let template = smoke.template();
        assert!(template.contains("sts:SourceIdentity: \"sentinel.*\""), "the condition names the TVM's stamp");
    }

    #[test]
    fn only_optional_parts_no_longer_configured_retire() {
        let deploy = deploy(EnvironmentConfig { protect: Some(vec!["prod".into()]), ..Default::default() });
        let deployed: Vec<String> = [
            "sentinel-tvm-main-api",
            "sentinel-tvm-main-protected-smoke",
            "sentinel-tvm-main-protected-prod",
            "sentinel-tvm-main-protected-billing",
            "sentinel-tvm-main-protected-",
            "sentinel-tvm-mainx-protected-old",
            "sentinel-tvm-main-scp-audit",
            "sentinel-tvm-main-scp",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            retired("main", &parts(&deploy), &deployed),
            ["sentinel-tvm-main-protected-billing", "sentinel-tvm-main-scp-audit"],
            "the SCP stack is retired by commands::scp, in the management account"
        );
        let audit = self::deploy(EnvironmentConfig {
            protect: Some(vec!["prod".into(), "billing".into()]),
            scp_mode: Some(ScpMode::Audit),
            trail_log_group: Some("trail".into()),
            ..Default::default()
        });
        assert!(retired("main", &parts(&audit), &deployed).is_empty());
    }

    #[test]
    fn other_allowed_accounts_widen_callers_and_roles_but_the_own_account_stays() {
        let deploy = deploy(EnvironmentConfig {
            allowed_accounts: Some(vec!["111122223333".into(), "444455556666".into()]),
            ..Default::default()
        });
        let outputs = all_outputs();
        let inputs = Inputs { partition: "aws-cn", ..inputs(&deploy, &outputs) };
        assert_eq!(inputs.other_account_role_arns(), ["arn:aws-cn:iam::444455556666:role/SentinelProtected-main-*"]);
        assert_eq!(inputs.parameters(&Part::Api).unwrap()["AllowedAccounts"], "111122223333,444455556666");
        let alone = self::deploy(EnvironmentConfig::default());
        let inputs = Inputs { deploy: &alone, ..inputs };
        assert_eq!(inputs.parameters(&Part::Api).unwrap()["AllowedAccounts"], "");
        assert_eq!(inputs.parameters(&Part::ExecutionRole).unwrap()["OtherAccountRoleArns"], "");
    }

    #[test]
    fn waves_respect_every_dependency() {
        let deploy = deploy(EnvironmentConfig::default());
        for part in parts(&deploy) {
            // A part's parameters may only need outputs of parts in earlier waves.
            let mut available = Outputs::new();
            for earlier in parts(&deploy).into_iter().filter(|p| p.wave() < part.wave()) {
                available.insert(earlier.clone(), all_outputs().get(&earlier).cloned().unwrap_or_default());
            }
            let inputs = inputs(&deploy, &available);
            assert!(inputs.parameters(&part).is_ok(), "{} needs a part of its own or a later wave", part.label());
        }
    }

    /// Each `!Sub` value of `key:` in `file`, rendered for environment `main` of account
    /// 111122223333 in eu-west-2, prefix `SentinelProtected-`, profile `app`.
    fn rendered(file: &str, key: &str) -> Vec<String> {
        let body = template(file).unwrap_or_else(|| panic!("no template {file}"));
        // `-` stands for list items: `- !Sub "…"` (however deeply nested).
        let prefix = if key == "-" { "!Sub \"".to_string() } else { format!("{key}: !Sub \"") };
        body.lines()
            .filter(|line| key != "-" || line.trim_start().starts_with("- "))
            .filter_map(|line| line.trim_start().trim_start_matches("- ").strip_prefix(&prefix)?.strip_suffix('"'))
            .map(|value| {
                [
                    ("${EnvName}", "main"),
                    ("${AWS::AccountId}", "111122223333"),
                    ("${TvmAccountId}", "111122223333"),
                    ("${AWS::Region}", "eu-west-2"),
                    ("${AWS::Partition}", "aws"),
                    ("${RolePrefix}", "SentinelProtected-"),
                    ("${ProfileName}", "app"),
                ]
                .iter()
                .fold(value.to_string(), |text, (from, to)| text.replace(from, to))
            })
            .collect()
    }

    #[test]
    fn every_physical_name_a_template_spells_is_the_one_in_names() {
        let names = crate::names::Names {
            env: "main".into(),
            role_prefix: "SentinelProtected-".into(),
            account_id: "111122223333".into(),
            region: "eu-west-2".into(),
        };
        let [decision_log, access_log] = names.log_groups();
        let arn = |service: &str, resource: &str| format!("arn:aws:{service}:eu-west-2:111122223333:{resource}");
        for (file, key, expected) in [
            ("artifacts.yaml", "BucketName", vec![names.bucket()]),
            ("policy.yaml", "Name", vec![names.policy_parameter()]),
            ("execution-role.yaml", "RoleName", vec![names.execution_role()]),
            ("execution-role.yaml", "Resource", vec![arn("logs", &format!("log-group:{decision_log}:*"))]),
            ("api.yaml", "LogGroupName", vec![decision_log.clone(), access_log]),
            ("api.yaml", "FunctionName", vec![names.function()]),
            ("api.yaml", "Name", vec![names.api()]),
            ("client-policy.yaml", "ManagedPolicyName", vec![names.client_policy()]),
            (
                "protected-role.yaml",
                "RoleName",
                vec![crate::names::protected_role_name(&names.role_prefix, &names.env, "app")],
            ),
            (
                "scp.yaml",
                "Name",
                vec![crate::names::guardrail_policy_name(&names.env, &names.account_id, Guardrail::Scp)],
            ),
            (
                "rcp.yaml",
                "Name",
                vec![crate::names::guardrail_policy_name(&names.env, &names.account_id, Guardrail::Rcp)],
            ),
        ] {
            assert_eq!(rendered(file, key), expected, "{file} {key}");
        }
        // The roles the execution role may assume, and the policy parameter it may read (itself,
        // and itself with a version selector: see the template), as list items.
        let protected = format!("arn:aws:iam::111122223333:role/{}*", names.protected_role_prefix());
        let parameter = arn("ssm", &format!("parameter{}", names.policy_parameter()));
        let selected = format!("{parameter}:*");
        let items = rendered("execution-role.yaml", "-");
        for expected in [&protected, &parameter, &selected] {
            assert!(items.contains(expected), "{expected} in {items:?}");
        }
        assert!(items.iter().all(|arn| [&protected, &parameter, &selected].contains(&arn)), "{items:?}");
    }
}
