//! The Service Control Policy document, pure. Four statements:
//! - `OnlyTheTvmAssumesProtectedRoles`: assuming this environment's protected roles, denied to
//!   everyone but the execution role and the break-glass roles (T5, T6);
//! - `OnlyFromTheTvmFunction` (strict, the default): the execution role's own credentials too,
//!   outside the TVM function;
//! - `NobodyInvokesTheFunctionDirectly`: `lambda:Invoke*` on the function, denied to every
//!   principal (T1; API Gateway invokes as a service principal, which no SCP restricts);
//! - `OnlyDeployersChangeTheTvm`: every action of `scp::guarded::GUARDED` on the TVM's resources,
//!   denied to everyone but the deployers and break-glass roles (P3, T3, T4, T5).
//!
//! The last is one statement over every guarded resource, not one per service: actions and
//! resources of different services never meet (a `lambda:` request never names an `s3:` ARN),
//! so the cross product denies exactly the per-service pairs, and the list of exempt principals
//! is written once (size, below). What deploys it, and where, belongs to `commands::steps::scp`.

use serde_json::{Value, json};

use super::guarded::{GUARDED, INVOKE_ACTIONS, Resource, Tvm};
use crate::error::Fixable;

/// AWS's limit for an SCP (and an RCP) document, whitespace included.
pub const MAX_SCP_CHARS: usize = 5120;

/// The ways to assume a role. A protected role trusts only the execution role, so the web
/// identity and SAML forms could only work after someone widened its trust policy; the SCP
/// denies them too (`aws:PrincipalArn` is absent there, so they are always denied).
pub const ASSUME_ACTIONS: [&str; 3] = ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"];

/// What the document is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs<'a> {
    /// The TVM's resources, from its stacks' outputs.
    pub tvm: Tvm<'a>,
    /// ARNs (a `*` only at the end: `names::is_exempt_principal`).
    pub break_glass_role_arns: &'a [String],
    /// Who may change the TVM (resolved: never empty when deploying).
    pub deployers: &'a [String],
    /// The strict variant: the execution role only from inside the function.
    pub strict: bool,
}

/// The compact JSON document, or why it cannot be deployed.
pub fn document(inputs: &Inputs) -> Result<String, Fixable> {
    within_limit("SCP", serde_json::to_string(&value(inputs)).expect("a JSON value serializes"))
}

/// `text`, unless it is past AWS's limit for an organization policy.
pub fn within_limit(kind: &str, text: String) -> Result<String, Fixable> {
    let chars = text.chars().count();
    if chars > MAX_SCP_CHARS {
        return Err(Fixable::new(
            format!("the {kind} would be {chars} characters; AWS allows {MAX_SCP_CHARS}"),
            "name fewer deployers and break-glass roles, or one ARN pattern for several (`arn:aws:iam::111122223333:role/BreakGlass*`)",
        ));
    }
    Ok(text)
}

fn value(inputs: &Inputs) -> Value {
    let tvm = &inputs.tvm;
    let protected = tvm.protected_role_patterns();
    let assumers: Vec<&str> = std::iter::once(tvm.execution_role_arn)
        .chain(inputs.break_glass_role_arns.iter().map(String::as_str))
        .collect();
    let mut statements = vec![json!({
        "Sid": "OnlyTheTvmAssumesProtectedRoles",
        "Effect": "Deny",
        "Action": ASSUME_ACTIONS,
        "Resource": protected,
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": assumers}},
    })];
    if inputs.strict {
        // A negated operator matches when the key is absent: the execution role's credentials
        // used anywhere but inside the function carry no lambda:SourceFunctionArn, and are denied.
        statements.push(json!({
            "Sid": "OnlyFromTheTvmFunction",
            "Effect": "Deny",
            "Action": ASSUME_ACTIONS,
            "Resource": protected,
            "Condition": {
                "ArnLike": {"aws:PrincipalArn": tvm.execution_role_arn},
                "ArnNotLike": {"lambda:SourceFunctionArn": tvm.function_arn},
            },
        }));
    }
    statements.push(json!({
        "Sid": "NobodyInvokesTheFunctionDirectly",
        "Effect": "Deny",
        "Action": INVOKE_ACTIONS,
        "Resource": tvm.arns(Resource::Function),
    }));
    let mut actions: Vec<&str> = Vec::new();
    let mut resources: Vec<String> = Vec::new();
    for guarded in GUARDED {
        for action in guarded.document_actions {
            if !actions.contains(action) {
                actions.push(action);
            }
        }
        for resource in tvm.arns(guarded.resource) {
            if !resources.contains(&resource) {
                resources.push(resource);
            }
        }
    }
    let changers: Vec<&str> = inputs.deployers.iter().chain(inputs.break_glass_role_arns).map(String::as_str).collect();
    let mut change = json!({
        "Sid": "OnlyDeployersChangeTheTvm",
        "Effect": "Deny",
        "Action": actions,
        "Resource": resources,
    });
    // With nobody to exempt (an offline `scp show` without deployers or break glass) the
    // statement denies everyone: what such an SCP would do, shown as it is.
    if !changers.is_empty() {
        change["Condition"] = json!({"ArnNotLike": {"aws:PrincipalArn": changers}});
    }
    statements.push(change);
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::deploy::stacks::{MAX_PARAMETER_CHARS, split_document};
    use crate::scp::cases::matches_pattern;

    pub const EXEC: &str = "arn:aws:iam::111122223333:role/sentinel-tvm-main-execution";
    pub const FUNCTION: &str = "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main";
    pub const BUCKET: &str = "sentinel-tvm-main-111122223333-eu-west-2";
    /// An Identity Center role: its ARN has a path that GetCallerIdentity does not show.
    pub const SSO_DEPLOYER: &str =
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-2/AWSReservedSSO_Admin_0123abcd";

    pub fn tvm() -> Tvm<'static> {
        Tvm {
            partition: "aws",
            account_id: "111122223333",
            env: "main",
            role_name_prefix: "SentinelProtected-main-".into(),
            other_accounts: &[],
            execution_role_arn: EXEC,
            function_arn: FUNCTION,
            bucket_name: BUCKET,
        }
    }

    fn inputs<'a>(break_glass: &'a [String], deployers: &'a [String], strict: bool) -> Inputs<'a> {
        Inputs { tvm: tvm(), break_glass_role_arns: break_glass, deployers, strict }
    }

    fn statements(text: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(text).unwrap()["Statement"].as_array().unwrap().clone()
    }

    fn sid<'a>(statements: &'a [Value], sid: &str) -> &'a Value {
        statements.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid} in {statements:#?}"))
    }

    /// A tiny SCP evaluator for these documents (Deny statements with `Action`, `Resource` and
    /// `ArnLike`/`ArnNotLike` conditions): whether `principal` doing `action` on `resource`
    /// (with `function` as `lambda:SourceFunctionArn`) is explicitly denied. The simulator on
    /// AWS is what `scp check` asks; this is what the unit tests can ask without it.
    pub fn denies(document: &str, principal: &str, function: Option<&str>, action: &str, resource: &str) -> bool {
        let any = |value: &Value, text: &str| match value {
            Value::String(p) => matches_pattern(p, text),
            Value::Array(ps) => ps.iter().any(|p| p.as_str().is_some_and(|p| matches_pattern(p, text))),
            _ => false,
        };
        let key = |name: &str| match name {
            "aws:PrincipalArn" => Some(principal),
            "lambda:SourceFunctionArn" => function,
            _ => None,
        };
        statements(document).iter().any(|statement| {
            let conditions = statement.get("Condition").and_then(Value::as_object);
            let holds = conditions.is_none_or(|conditions| {
                conditions.iter().all(|(operator, keys)| {
                    keys.as_object().unwrap().iter().all(|(name, patterns)| match (operator.as_str(), key(name)) {
                        ("ArnLike", Some(value)) => any(patterns, value),
                        ("ArnLike", None) => false,
                        ("ArnNotLike", Some(value)) => !any(patterns, value),
                        ("ArnNotLike", None) => true,
                        (other, _) => panic!("no evaluator for {other}"),
                    })
                })
            });
            statement["Effect"] == "Deny"
                && any(&statement["Action"], action)
                && any(&statement["Resource"], resource)
                && holds
        })
    }

    #[test]
    fn every_statement_for_each_combination_of_options() {
        let glass = ["arn:aws:iam::111122223333:role/BreakGlass".to_string()];
        let deployers = [SSO_DEPLOYER.to_string()];
        for (break_glass, strict, sids) in [
            (
                &[][..],
                false,
                vec![
                    "OnlyTheTvmAssumesProtectedRoles",
                    "NobodyInvokesTheFunctionDirectly",
                    "OnlyDeployersChangeTheTvm",
                ],
            ),
            (
                &glass[..],
                true,
                vec![
                    "OnlyTheTvmAssumesProtectedRoles",
                    "OnlyFromTheTvmFunction",
                    "NobodyInvokesTheFunctionDirectly",
                    "OnlyDeployersChangeTheTvm",
                ],
            ),
        ] {
            let text = document(&inputs(break_glass, &deployers, strict)).unwrap();
            let statements = statements(&text);
            let found: Vec<&str> = statements.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
            assert_eq!(found, sids, "{text}");
            let assume = sid(&statements, "OnlyTheTvmAssumesProtectedRoles");
            assert_eq!(assume["Resource"], json!(["arn:aws:iam::111122223333:role/SentinelProtected-main-*"]));
            let mut assumers = vec![EXEC.to_string()];
            assumers.extend(break_glass.iter().cloned());
            assert_eq!(assume["Condition"]["ArnNotLike"]["aws:PrincipalArn"], json!(assumers));
            let change = sid(&statements, "OnlyDeployersChangeTheTvm");
            let mut changers = vec![SSO_DEPLOYER.to_string()];
            changers.extend(break_glass.iter().cloned());
            assert_eq!(change["Condition"]["ArnNotLike"]["aws:PrincipalArn"], json!(changers));
            assert!(
                !change.to_string().contains(EXEC) || change["Resource"].to_string().contains(EXEC),
                "the execution role changes nothing"
            );
            let invoke = sid(&statements, "NobodyInvokesTheFunctionDirectly");
            assert!(invoke.get("Condition").is_none(), "no exemption from the invoke deny: {invoke}");
            assert!(!text.contains(' ') && !text.contains('\n'), "compact: {text}");
        }
    }

    /// The "done when": for a non-deployer, at least these are denied.
    #[test]
    fn a_non_deployer_is_denied_every_control_and_a_deployer_with_a_path_is_not() {
        let deployers = [SSO_DEPLOYER.to_string()];
        let glass = ["arn:aws:iam::111122223333:role/BreakGlass".to_string()];
        let text = document(&inputs(&glass, &deployers, true)).unwrap();
        let protected = "arn:aws:iam::111122223333:role/SentinelProtected-main-prod";
        let parameter = "arn:aws:ssm:eu-west-2:111122223333:parameter/sentinel-tvm/main/policy";
        let object = format!("arn:aws:s3:::{BUCKET}/lambda/abc.zip");
        let stack = "arn:aws:cloudformation:eu-west-2:111122223333:stack/sentinel-tvm-main-api/1234";
        let controls: Vec<(&str, &str)> = vec![
            ("lambda:UpdateFunctionCode", FUNCTION),
            ("lambda:UpdateFunctionConfiguration", FUNCTION),
            ("lambda:AddPermission", FUNCTION),
            ("lambda:UpdateAlias", "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main:live"),
            ("ssm:PutParameter", parameter),
            ("iam:UpdateAssumeRolePolicy", protected),
            ("iam:PassRole", EXEC),
            ("iam:PutRolePolicy", EXEC),
            ("s3:PutObject", &object),
            ("cloudformation:UpdateStack", stack),
        ];
        let power_user = "arn:aws:iam::111122223333:role/PowerUser";
        let sso_without_path = "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123abcd";
        for (action, resource) in &controls {
            assert!(denies(&text, power_user, None, action, resource), "{action} for a non-deployer");
            assert!(denies(&text, sso_without_path, None, action, resource), "{action}: the path is part of the ARN");
            assert!(
                denies(&text, EXEC, Some(FUNCTION), action, resource),
                "{action}: the execution role is no deployer"
            );
            assert!(!denies(&text, SSO_DEPLOYER, None, action, resource), "{action} for the deployer");
            assert!(!denies(&text, &glass[0], None, action, resource), "{action} for break glass");
        }
        for principal in [power_user, SSO_DEPLOYER, &glass[0], EXEC] {
            for action in INVOKE_ACTIONS {
                assert!(denies(&text, principal, Some(FUNCTION), action, FUNCTION), "{action} for {principal}");
            }
        }
        // sts:AssumeRole on protected roles: the execution role only from inside the function.
        assert!(denies(&text, power_user, None, "sts:AssumeRole", protected));
        assert!(denies(&text, SSO_DEPLOYER, None, "sts:AssumeRole", protected), "a deployer is no assumer");
        assert!(!denies(&text, EXEC, Some(FUNCTION), "sts:AssumeRole", protected));
        assert!(denies(&text, EXEC, None, "sts:AssumeRole", protected), "strict");
        assert!(!denies(&text, &glass[0], None, "sts:AssumeRole", protected));
        // Other environments' and other accounts' resources are not this SCP's business.
        assert!(!denies(
            &text,
            power_user,
            None,
            "lambda:UpdateFunctionCode",
            "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-other"
        ));
        assert!(!denies(
            &text,
            power_user,
            None,
            "iam:UpdateAssumeRolePolicy",
            "arn:aws:iam::444455556666:role/SentinelProtected-main-prod"
        ));
        assert!(!denies(
            &text,
            power_user,
            None,
            "cloudformation:UpdateStack",
            "arn:aws:cloudformation:eu-west-2:111122223333:stack/sentinel-tvm-mainx-api/1"
        ));
    }

    #[test]
    fn allowed_accounts_roles_are_guarded_too() {
        let others = ["444455556666".to_string(), "111122223333".to_string()];
        let deployers = [SSO_DEPLOYER.to_string()];
        let inputs = Inputs { tvm: Tvm { other_accounts: &others, ..tvm() }, ..inputs(&[], &deployers, true) };
        let text = document(&inputs).unwrap();
        assert_eq!(
            sid(&statements(&text), "OnlyTheTvmAssumesProtectedRoles")["Resource"],
            json!([
                "arn:aws:iam::111122223333:role/SentinelProtected-main-*",
                "arn:aws:iam::444455556666:role/SentinelProtected-main-*"
            ])
        );
    }

    #[test]
    fn without_anyone_to_exempt_the_change_statement_denies_everyone() {
        let text = document(&inputs(&[], &[], true)).unwrap();
        let change = sid(&statements(&text), "OnlyDeployersChangeTheTvm").clone();
        assert!(change.get("Condition").is_none(), "{change}");
        assert!(denies(&text, SSO_DEPLOYER, None, "lambda:UpdateFunctionCode", FUNCTION));
    }

    /// Figures for the notes: how big the document is for typical and for crowded settings.
    #[test]
    fn typical_documents_fit_one_parameter_and_crowded_ones_two() {
        let one = |n: usize, what: &str| -> Vec<String> {
            (0..n).map(|i| format!("arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-2/{what}_{i:02}_0123456789abcdef")).collect()
        };
        let (glass, deployers) = (one(1, "BreakGlass"), one(1, "AWSReservedSSO_Admin"));
        let typical = document(&inputs(&glass, &deployers, true)).unwrap();
        assert!(typical.len() < MAX_PARAMETER_CHARS, "{}", typical.len());
        assert_eq!(split_document(&typical), (typical.clone(), String::new()));
        let (glass, deployers) = (one(5, "BreakGlass"), one(10, "AWSReservedSSO_Admin"));
        let crowded = document(&inputs(&glass, &deployers, true)).unwrap();
        assert!(crowded.len() > MAX_PARAMETER_CHARS && crowded.len() <= MAX_SCP_CHARS, "{}", crowded.len());
        let (first, rest) = split_document(&crowded);
        assert_eq!(first.len(), MAX_PARAMETER_CHARS);
        assert_eq!(format!("{first}{rest}"), crowded);
        eprintln!(
            "SCP v2: {} characters typical (1 deployer, 1 break glass), {} crowded (10 + 5)",
            typical.len(),
            crowded.len()
        );
    }

    #[test]
    fn a_document_past_the_limit_is_refused_naming_the_limit_and_the_fix() {
        let many: Vec<String> =
            (0..60).map(|i| format!("arn:aws:iam::111122223333:role/break-glass-role-number-{i:03}")).collect();
        let error = document(&inputs(&many, &many, true)).unwrap_err();
        assert!(error.message.contains("5120"), "{}", error.message);
        assert!(error.hint.contains("fewer deployers and break-glass roles"), "{}", error.hint);
    }
}
