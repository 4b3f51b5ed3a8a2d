//! The Service Control Policy document, pure: deny assuming this environment's protected roles
//! to everyone but the TVM's execution role (and the break-glass roles), and, strictly, to the
//! execution role itself outside the TVM function. What deploys it, and where, belongs to
//! `commands::scp`; nothing here touches AWS.

use serde_json::{Value, json};

use crate::error::Fixable;

/// AWS's limit for an SCP document, whitespace included.
pub const MAX_SCP_CHARS: usize = 5120;
/// The document reaches CloudFormation as a parameter value, which holds at most this much: the
/// limit in effect.
pub const MAX_PARAMETER_CHARS: usize = 4096;

/// The ways to assume a role. A protected role trusts only the execution role, so the web
/// identity and SAML forms could only work after someone widened its trust policy; the SCP
/// denies them too (`aws:PrincipalArn` is absent there, so they are always denied).
const ASSUME_ACTIONS: [&str; 3] = ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"];

/// What the document is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs<'a> {
    pub partition: &'a str,
    /// `<role_prefix><env>-`: this environment's protected roles, in every account of the targets.
    pub role_name_prefix: String,
    /// From the execution-role stack's output, never from a naming convention.
    pub execution_role_arn: &'a str,
    pub break_glass_role_arns: &'a [String],
    /// The strict variant: the TVM function's ARN, required as `lambda:SourceFunctionArn`.
    pub strict_function_arn: Option<&'a str>,
}

/// The compact JSON document, or why it cannot be deployed.
pub fn document(inputs: &Inputs) -> Result<String, Fixable> {
    let text = serde_json::to_string(&value(inputs)).expect("a JSON value serializes");
    let limit = MAX_PARAMETER_CHARS.min(MAX_SCP_CHARS);
    if text.chars().count() > limit {
        return Err(Fixable::new(
            format!(
                "the SCP would be {} characters; it reaches CloudFormation as a parameter, which holds {MAX_PARAMETER_CHARS} (AWS allows {MAX_SCP_CHARS} for an SCP)",
                text.chars().count()
            ),
            "name fewer break-glass roles, or one ARN pattern for them (`arn:aws:iam::*:role/BreakGlass*`)",
        ));
    }
    Ok(text)
}

fn value(inputs: &Inputs) -> Value {
    let resource = format!("arn:{}:iam::*:role/{}*", inputs.partition, inputs.role_name_prefix);
    let allowed: Vec<&str> = std::iter::once(inputs.execution_role_arn)
        .chain(inputs.break_glass_role_arns.iter().map(String::as_str))
        .collect();
    let mut statements = vec![json!({
        "Sid": "OnlyTheTvmAssumesProtectedRoles",
        "Effect": "Deny",
        "Action": ASSUME_ACTIONS,
        "Resource": resource,
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": allowed}},
    })];
    if let Some(function_arn) = inputs.strict_function_arn {
        // A negated operator matches when the key is absent: the execution role's credentials
        // used anywhere but inside the function carry no lambda:SourceFunctionArn, and are denied.
        statements.push(json!({
            "Sid": "OnlyFromTheTvmFunction",
            "Effect": "Deny",
            "Action": ASSUME_ACTIONS,
            "Resource": resource,
            "Condition": {
                "ArnLike": {"aws:PrincipalArn": inputs.execution_role_arn},
                "ArnNotLike": {"lambda:SourceFunctionArn": function_arn},
            },
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC: &str = "arn:aws:iam::111122223333:role/sentinel-tvm-main-execution";
    const FUNCTION: &str = "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main";

    fn inputs<'a>(break_glass: &'a [String], strict: Option<&'a str>) -> Inputs<'a> {
        Inputs {
            partition: "aws",
            role_name_prefix: "SentinelProtected-main-".into(),
            execution_role_arn: EXEC,
            break_glass_role_arns: break_glass,
            strict_function_arn: strict,
        }
    }

    fn statements(text: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(text).unwrap()["Statement"].as_array().unwrap().clone()
    }

    #[test]
    fn the_document_for_each_combination_of_options() {
        let glass = ["arn:aws:iam::111122223333:role/BreakGlass".to_string()];
        for (break_glass, strict, expected_statements, allowed) in [
            (&[][..], None, 1, vec![EXEC]),
            (&glass[..], None, 1, vec![EXEC, "arn:aws:iam::111122223333:role/BreakGlass"]),
            (&[][..], Some(FUNCTION), 2, vec![EXEC]),
            (&glass[..], Some(FUNCTION), 2, vec![EXEC, "arn:aws:iam::111122223333:role/BreakGlass"]),
        ] {
            let text = document(&inputs(break_glass, strict)).unwrap();
            let statements = statements(&text);
            assert_eq!(statements.len(), expected_statements, "{text}");
            let first = &statements[0];
            assert_eq!(first["Effect"], "Deny");
            assert_eq!(first["Resource"], "arn:aws:iam::*:role/SentinelProtected-main-*");
            assert_eq!(first["Action"][0], "sts:AssumeRole");
            assert_eq!(first["Condition"]["ArnNotLike"]["aws:PrincipalArn"], json!(allowed));
            if let Some(second) = statements.get(1) {
                assert_eq!(second["Condition"]["ArnLike"]["aws:PrincipalArn"], EXEC);
                assert_eq!(second["Condition"]["ArnNotLike"]["lambda:SourceFunctionArn"], FUNCTION);
                assert!(
                    second["Condition"]["ArnNotLike"].get("aws:PrincipalArn").is_none(),
                    "break glass is not strict"
                );
            }
            assert!(!text.contains(' ') && !text.contains('\n'), "compact: {text}");
        }
    }

    #[test]
    fn a_document_past_the_limit_is_refused_naming_both_limits_and_the_fix() {
        let many: Vec<String> =
            (0..60).map(|i| format!("arn:aws:iam::111122223333:role/break-glass-role-number-{i:03}")).collect();
        let error = document(&inputs(&many, Some(FUNCTION))).unwrap_err();
        assert!(error.message.contains("4096") && error.message.contains("5120"), "{}", error.message);
        assert!(error.hint.contains("fewer break-glass roles"), "{}", error.hint);
        let fits: Vec<String> = many[..30].to_vec();
        let text = document(&inputs(&fits, Some(FUNCTION))).unwrap();
        assert!(text.len() <= MAX_PARAMETER_CHARS, "{}", text.len());
    }
}
