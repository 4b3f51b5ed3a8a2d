//! The Resource Control Policy document, pure. An SCP limits only the organization's own
//! principals: once someone widens a protected role's trust to an outside account, nothing in
//! the SCP stops that account (T5). An RCP is evaluated on the resource side, for every
//! principal that calls it, outside the organization too: this one denies the STS actions that
//! take a protected role's credentials to every principal but the execution role and the
//! break-glass roles.
//!
//! Checked against AWS Organizations' "RCP syntax" and "Resource control policies" pages: an
//! RCP's only effect (but the AWS-managed `RCPFullAWSAccess`) is `Deny`, its `Principal` is
//! `"*"` (principals are narrowed by conditions, `aws:PrincipalArn` here), STS is among the
//! services RCPs apply to, and RCPs do not affect resources in the management account (the
//! pre-flight warns about a TVM there). `sts:SetSourceIdentity` and `sts:TagSession` are
//! authorized on the role being assumed, as `sts:AssumeRole` is. `aws:PrincipalArn` is absent
//! for the SAML and web identity forms and for AWS service principals; `ArnNotLike` matches
//! when the key is absent, so those are denied: no service has any business assuming a
//! protected role (AWS's data-perimeter examples exempt services with
//! `aws:PrincipalIsAWSService`; this policy deliberately does not).

use serde_json::{Value, json};

use super::document::{ASSUME_ACTIONS, within_limit};
use crate::error::Fixable;

/// What the RCP denies on the protected roles.
pub const RCP_ACTIONS: [&str; 5] =
    [ASSUME_ACTIONS[0], ASSUME_ACTIONS[1], ASSUME_ACTIONS[2], "sts:SetSourceIdentity", "sts:TagSession"];

/// What the RCP is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs<'a> {
    /// `role/<prefix><env>-*` in each account the TVM assumes roles in
    /// (`scp::guarded::Tvm::protected_role_patterns`).
    pub protected_role_patterns: Vec<String>,
    /// From the execution-role stack's output.
    pub execution_role_arn: &'a str,
    pub break_glass_role_arns: &'a [String],
}

/// The compact JSON document, or why it cannot be deployed.
pub fn document(inputs: &Inputs) -> Result<String, Fixable> {
    within_limit("RCP", serde_json::to_string(&value(inputs)).expect("a JSON value serializes"))
}

fn value(inputs: &Inputs) -> Value {
    let allowed: Vec<&str> = std::iter::once(inputs.execution_role_arn)
        .chain(inputs.break_glass_role_arns.iter().map(String::as_str))
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OnlyTheTvmAssumesProtectedRoles",
            "Effect": "Deny",
            "Principal": "*",
            "Action": RCP_ACTIONS,
            "Resource": inputs.protected_role_patterns,
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": allowed}},
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp::document::tests::{EXEC, denies};

    #[test]
    fn the_rcp_denies_every_sts_way_in_to_all_but_the_execution_role_and_break_glass() {
        let glass = ["arn:aws:iam::111122223333:role/BreakGlass".to_string()];
        let text = document(&Inputs {
            protected_role_patterns: vec!["arn:aws:iam::111122223333:role/SentinelProtected-main-*".into()],
            execution_role_arn: EXEC,
            break_glass_role_arns: &glass,
        })
        .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let statement = &value["Statement"][0];
        assert_eq!(value["Statement"].as_array().unwrap().len(), 1);
        assert_eq!((&statement["Effect"], &statement["Principal"]), (&json!("Deny"), &json!("*")));
        assert_eq!(statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"], json!([EXEC, glass[0]]));
        let role = "arn:aws:iam::111122223333:role/SentinelProtected-main-prod";
        for action in RCP_ACTIONS {
            // An outside account's role, which no SCP restricts, and a principal of this one.
            for outsider in ["arn:aws:iam::999988887777:role/Attacker", "arn:aws:iam::111122223333:role/PowerUser"] {
                assert!(denies(&text, outsider, None, action, role), "{action} for {outsider}");
            }
            assert!(!denies(&text, EXEC, None, action, role), "{action} for the execution role");
            assert!(!denies(&text, &glass[0], None, action, role), "{action} for break glass");
        }
        assert!(!denies(
            &text,
            "arn:aws:iam::999988887777:role/Attacker",
            None,
            "sts:AssumeRole",
            "arn:aws:iam::111122223333:role/Other"
        ));
        assert!(!text.contains(' '), "compact: {text}");
    }
}
