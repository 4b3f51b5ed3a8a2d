//! Drift, pure: from what CloudFormation's drift detection reports (`ResourceDrift`) to security
//! findings, one per drifted property. A protected role's trust *is* the security boundary, so
//! an edit made outside CloudFormation is a finding, never a footnote.
//!
//! Property values are compared parsed and normalised, never as strings: IAM returns policy
//! documents URL-encoded, reorders them, and turns a one-element list into its element. A
//! resource CloudFormation calls MODIFIED only for how a document is spelled is no finding; one
//! whose properties cannot be read is a finding (fail closed).
//!
//! Owns no AWS call (`aws::cloudformation` detects) and no rendering (`ui::render`).

use serde_json::{Map, Value};

use crate::model::cloudformation::ResourceDrift;

/// One drifted property (or a deleted resource) of one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub stack: String,
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    /// The top-level property that differs; `None` when the resource itself is gone.
    pub property: Option<String>,
    /// The template's value and the resource's, normalised.
    pub expected: Value,
    pub actual: Value,
}

impl Finding {
    /// `ProtectedRole.AssumeRolePolicyDocument`, or `ProtectedRole` for a deleted resource.
    pub fn what(&self) -> String {
        match &self.property {
            Some(property) => format!("{}.{property}", self.logical_id),
            None => self.logical_id.clone(),
        }
    }
}

/// The findings of one resource's drift: none when it is in sync (or differs only in spelling).
pub fn findings(drift: &ResourceDrift) -> Vec<Finding> {
    let finding = |property: Option<String>, expected: Value, actual: Value| Finding {
        stack: drift.stack.clone(),
        logical_id: drift.logical_id.clone(),
        physical_id: drift.physical_id.clone(),
        resource_type: drift.resource_type.clone(),
        property,
        expected,
        actual,
    };
    match drift.status.as_str() {
        "DELETED" => vec![finding(None, Value::from("exists"), Value::from("deleted"))],
        "MODIFIED" => {
            let (Some(expected), Some(actual)) =
                (properties(drift.expected.as_deref()), properties(drift.actual.as_deref()))
            else {
                // Unreadable: report what CloudFormation named, as it is.
                let paths =
                    if drift.differing_paths.is_empty() { vec!["/".into()] } else { drift.differing_paths.clone() };
                return paths
                    .iter()
                    .map(|path| {
                        finding(Some(top_level(path)), raw(drift.expected.as_deref()), raw(drift.actual.as_deref()))
                    })
                    .collect();
            };
            let mut keys: Vec<&String> = expected.keys().chain(actual.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter_map(|key| {
                    let want = normalise(expected.get(key).unwrap_or(&Value::Null));
                    let got = normalise(actual.get(key).unwrap_or(&Value::Null));
                    (want != got).then(|| finding(Some(key.clone()), want, got))
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The first segment of a property path: `/AssumeRolePolicyDocument/Statement/0` → the document.
fn top_level(path: &str) -> String {
    path.trim_start_matches('/').split('/').next().filter(|p| !p.is_empty()).unwrap_or("(properties)").to_string()
}

fn raw(text: Option<&str>) -> Value {
    text.map_or(Value::Null, Value::from)
}

fn properties(text: Option<&str>) -> Option<Map<String, Value>> {
    match serde_json::from_str(text?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Keys whose value IAM may give as one element or as a list of them.
const LIST_VALUED: [&str; 5] = ["Statement", "Action", "NotAction", "Resource", "NotResource"];

/// One form for values that mean the same: documents held as (URL-encoded) JSON text parsed,
/// one-element policy lists as lists, lists in a fixed order without repeats.
pub fn normalise(value: &Value) -> Value {
    match value {
        Value::String(text) => embedded_json(text).map_or_else(|| value.clone(), |parsed| normalise(&parsed)),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalise).collect();
            items.sort_by_cached_key(Value::to_string);
            items.dedup();
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let item = match key.as_str() {
                        key if LIST_VALUED.contains(&key) => as_list(normalise(item)),
                        // Each principal type's and each condition key's values are lists too.
                        "Principal" | "NotPrincipal" => map_values(item, |v| as_list(normalise(v))),
                        "Condition" => map_values(item, |keys| map_values(keys, |v| as_list(normalise(v)))),
                        _ => normalise(item),
                    };
                    (key.clone(), item)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn as_list(value: Value) -> Value {
    match value {
        Value::Array(_) => value,
        single => Value::Array(vec![single]),
    }
}

fn map_values(value: &Value, f: impl Fn(&Value) -> Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), f(v))).collect()),
        other => normalise(other),
    }
}

/// A JSON object or list held as text, plain or URL-encoded (as IAM returns documents).
pub fn embedded_json(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    let decoded = if trimmed.starts_with("%7B") || trimmed.starts_with("%7b") || trimmed.starts_with("%5B") {
        percent_decode(trimmed)?
    } else {
        trimmed.to_string()
    };
    if !(decoded.starts_with('{') || decoded.starts_with('[')) {
        return None;
    }
    serde_json::from_str(&decoded).ok().filter(|v: &Value| v.is_object() || v.is_array())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyTheTvm","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/sentinel-tvm-main-execution"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Condition":{"StringLike":{"sts:SourceIdentity":"sentinel.*"}}}]}"#;

    fn role_drift(status: &str, expected: Value, actual: Value) -> ResourceDrift {
        ResourceDrift {
            stack: "sentinel-tvm-main-protected-app".into(),
            logical_id: "ProtectedRole".into(),
            physical_id: "SentinelProtected-main-app".into(),
            resource_type: "AWS::IAM::Role".into(),
            status: status.into(),
            expected: Some(expected.to_string()),
            actual: Some(actual.to_string()),
            differing_paths: vec!["/AssumeRolePolicyDocument/Statement/0/Principal/AWS".into()],
        }
    }

    fn trust() -> Value {
        serde_json::from_str(TRUST).unwrap()
    }

    #[test]
    fn the_same_document_spelled_as_iam_spells_it_is_no_finding() {
        let encoded: String = TRUST
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let reordered = json!({
            "Statement": {
                "Condition": {"StringLike": {"sts:SourceIdentity": ["sentinel.*"]}},
                "Action": ["sts:SetSourceIdentity", "sts:AssumeRole"],
                "Principal": {"AWS": ["arn:aws:iam::111122223333:role/sentinel-tvm-main-execution"]},
                "Effect": "Allow",
                "Sid": "OnlyTheTvm",
            },
            "Version": "2012-10-17",
        });
        for (how, actual) in [
            ("URL-encoded text", Value::from(encoded)),
            ("plain text", Value::from(TRUST)),
            ("reordered, lists unwrapped and wrapped", reordered),
        ] {
            let drift = role_drift(
                "MODIFIED",
                json!({"AssumeRolePolicyDocument": trust()}),
                json!({"AssumeRolePolicyDocument": actual}),
            );
            assert_eq!(findings(&drift), vec![], "{how}");
        }
    }

    #[test]
    fn a_widened_trust_is_a_finding_naming_the_property_with_both_values() {
        let mut widened = trust();
        widened["Statement"][0]["Principal"]["AWS"] =
            json!(["arn:aws:iam::111122223333:role/sentinel-tvm-main-execution", "arn:aws:iam::111122223333:root"]);
        let drift = role_drift(
            "MODIFIED",
            json!({"AssumeRolePolicyDocument": trust(), "MaxSessionDuration": 3600}),
            json!({"AssumeRolePolicyDocument": widened, "MaxSessionDuration": 3600}),
        );
        let found = findings(&drift);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].what(), "ProtectedRole.AssumeRolePolicyDocument");
        assert_eq!(found[0].expected, normalise(&trust()));
        assert!(found[0].actual.to_string().contains(":root"), "{}", found[0].actual);
    }

    #[test]
    fn each_status_and_shape_gives_its_findings() {
        let in_sync = role_drift("IN_SYNC", json!({}), json!({}));
        assert_eq!(findings(&in_sync), vec![]);
        let not_checked = ResourceDrift { status: "NOT_CHECKED".into(), ..in_sync.clone() };
        assert_eq!(findings(&not_checked), vec![]);

        let deleted = findings(&ResourceDrift { status: "DELETED".into(), ..in_sync.clone() });
        assert_eq!(
            (deleted.len(), deleted[0].property.clone(), deleted[0].actual.clone()),
            (1, None, json!("deleted"))
        );

        // A property the resource lost, or one it gained.
        let lost = findings(&role_drift("MODIFIED", json!({"Description": "d", "Path": "/"}), json!({"Path": "/"})));
        assert_eq!((lost.len(), lost[0].actual.clone()), (1, Value::Null));
        let gained = findings(&role_drift("MODIFIED", json!({}), json!({"PermissionsBoundary": "arn:x"})));
        assert_eq!(gained[0].property.as_deref(), Some("PermissionsBoundary"));

        // Unreadable properties: what CloudFormation named, reported anyway.
        let unreadable =
            ResourceDrift { expected: Some("not json".into()), ..role_drift("MODIFIED", json!({}), json!({})) };
        let found = findings(&unreadable);
        assert_eq!(found.iter().map(Finding::what).collect::<Vec<_>>(), ["ProtectedRole.AssumeRolePolicyDocument"]);
    }

    #[test]
    fn normalising_keeps_what_differs() {
        for (a, b) in [
            (json!({"Action": "sts:AssumeRole"}), json!({"Action": "sts:TagSession"})),
            (json!({"Effect": "Allow"}), json!({"Effect": "Deny"})),
            (json!({"Principal": "*"}), json!({"Principal": {"AWS": "*"}})),
            (json!(["a", "b"]), json!(["a"])),
            (json!("%7B%22a%22%3A1%7D"), json!({"a": 2})),
        ] {
            assert_ne!(normalise(&a), normalise(&b), "{a} vs {b}");
        }
        assert_eq!(normalise(&json!("%7B%22a%22%3A1%7D")), json!({"a": 1}));
        assert_eq!(normalise(&json!("100%")), json!("100%"));
    }
}
