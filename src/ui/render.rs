//! How plans, change sets, events and statuses look: as text for people and as one JSON object
//! per line for machines. Pure functions of plain data, pinned by snapshot tests; where the text
//! goes (stdout or stderr, spinner or plain line) is `output`'s business.

use serde_json::{Value, json};

use crate::deploy::drift::Finding;
use crate::deploy::plan::Action;
use crate::error::Fixable;
use crate::model::cloudformation::{ResourceChange, StackEvent};
use crate::tvm::aws_config::{Change, ProfileChange};

/// `+` add, `~` modify, `-` remove, `>` import, `?` dynamic.
pub fn change_marker(action: &str) -> char {
    match action {
        "Add" => '+',
        "Modify" => '~',
        "Remove" => '-',
        "Import" => '>',
        _ => '?',
    }
}

/// The flags worth a reader's attention: replacement, and changes to who may do what.
fn change_flags(change: &ResourceChange) -> Vec<&'static str> {
    let mut flags = Vec::new();
    match change.replacement.as_deref() {
        Some("True") => flags.push("REPLACE"),
        Some("Conditional") => flags.push("may replace"),
        _ => {}
    }
    if change.resource_type.starts_with("AWS::IAM::") {
        flags.push("IAM");
    }
    if change.resource_type.starts_with("AWS::Organizations::") {
        flags.push("SCP");
    }
    if change.resource_type == "AWS::Lambda::Permission" {
        flags.push("permission");
    }
    flags
}

/// One line per plan decision: `sentinel-tvm-main-api  update (template, parameter X)`.
pub fn plan_line(stack: &str, action: &Action) -> String {
    match action {
        Action::Update { changed } => format!("{stack}  update ({})", changed.join(", ")),
        Action::Restore { drifted } => {
            format!("{stack}  restore (changed outside CloudFormation: {})", drifted.join(", "))
        }
        Action::Recreate { status } => format!("{stack}  recreate (an empty stack in {status} is deleted first)"),
        Action::Blocked { reason, .. } => format!("{stack}  blocked: {reason}"),
        other => format!("{stack}  {}", other.verb()),
    }
}

/// A drift finding as a security finding: stack, resource, property, expected against actual.
pub fn drift_finding(finding: &Finding) -> String {
    let resource = format!("{} ({} {})", finding.logical_id, finding.resource_type, finding.physical_id);
    match &finding.property {
        None => format!("drift: stack `{}`: {resource} was deleted outside CloudFormation", finding.stack),
        Some(property) => format!(
            "drift: stack `{}`: {resource} {property} was changed outside CloudFormation\n    expected {}\n    actual   {}",
            finding.stack, finding.expected, finding.actual
        ),
    }
}

/// A change set as a block of lines, one per resource change.
pub fn change_set(stack: &str, changes: &[ResourceChange]) -> String {
    let count = match changes.len() {
        1 => "1 change".to_string(),
        n => format!("{n} changes"),
    };
    let mut text = format!("{stack}: {count}\n");
    let id_width = changes.iter().map(|c| c.logical_id.len()).max().unwrap_or(0);
    let type_width = changes.iter().map(|c| c.resource_type.len()).max().unwrap_or(0);
    for change in changes {
        let mut line = format!(
            "  {} {:id_width$}  {:type_width$}",
            change_marker(&change.action),
            change.logical_id,
            change.resource_type
        );
        if !change.details.is_empty() {
            line.push_str(&format!("  {}", change.details.join(", ")));
        }
        let flags = change_flags(change);
        if !flags.is_empty() {
            line.push_str(&format!("  [{}]", flags.join(", ")));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// One stack event: `12:00:03  sentinel-tvm-main-api  CREATE_FAILED  Function (AWS::Lambda::Function): reason`.
pub fn event_line(stack: &str, event: &StackEvent) -> String {
    let time = event.timestamp.get(11..19).unwrap_or(&event.timestamp);
    let resource = if event.logical_id == stack {
        "stack".to_string()
    } else {
        format!("{} ({})", event.logical_id, event.resource_type)
    };
    match &event.reason {
        Some(reason) => format!("{time}  {stack}  {}  {resource}: {reason}", event.status),
        None => format!("{time}  {stack}  {}  {resource}", event.status),
    }
}

/// The failures collected while waiting, repeated at the end so the root cause is the last
/// thing on screen (the earliest failure is usually the cause; later ones are its echoes).
pub fn failure_summary(failures: &[(String, StackEvent)]) -> String {
    let mut text = String::from("what failed:\n");
    for (stack, event) in failures {
        text.push_str(&format!(
            "  {stack}: {} ({}) {}: {}\n",
            event.logical_id,
            event.resource_type,
            event.status,
            event.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    text
}

/// One row of `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    pub stack: String,
    pub status: String,
    pub version: Option<String>,
    pub updated: Option<String>,
}

/// The `status` table, with this binary's version for comparison.
pub fn status_table(rows: &[StatusRow], binary_version: &str) -> String {
    let stack_width = rows.iter().map(|r| r.stack.len()).max().unwrap_or(0).max("STACK".len());
    let status_width = rows.iter().map(|r| r.status.len()).max().unwrap_or(0).max("STATUS".len());
    let mut text = format!("{:stack_width$}  {:status_width$}  {:9}  UPDATED\n", "STACK", "STATUS", "VERSION");
    for row in rows {
        let version = match row.version.as_deref() {
            Some(v) if v == binary_version => v.to_string(),
            Some(v) => format!("{v}*"),
            None => "-".to_string(),
        };
        let line = format!(
            "{:stack_width$}  {:status_width$}  {:9}  {}",
            row.stack,
            row.status,
            version,
            row.updated.as_deref().unwrap_or("-")
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if rows.iter().any(|r| r.version.as_deref().is_some_and(|v| v != binary_version)) {
        // The planner compares templates and parameters, not versions: an upgrade leaves a
        // stack it does not need to change with its old version tag.
        text.push_str(&format!("* last changed by another version than this binary's ({binary_version}); `sentinel-tvm diff` shows whether this one would change it\n"));
    }
    text
}

/// What `profiles --write-config` would do to the AWS config file at `path`: each profile's own
/// lines, `+` added and `-` removed, and the profiles already as they should be.
pub fn profile_changes(path: &str, changes: &[ProfileChange]) -> String {
    let mut text = format!("{path}:\n");
    for change in changes {
        let (marker, note) = match change.change {
            Change::Added => ('+', ""),
            Change::Updated => ('~', ""),
            Change::Unchanged => ('=', " (unchanged)"),
        };
        text.push_str(&format!("{marker} [profile {}]{note}\n", change.name));
        if change.change == Change::Unchanged {
            continue;
        }
        for line in change.before.iter().filter(|line| !change.after.contains(line)) {
            text.push_str(&format!("-   {line}\n"));
        }
        for line in change.after.iter().filter(|line| !change.before.contains(line)) {
            text.push_str(&format!("+   {line}\n"));
        }
    }
    text
}

/// JSON-lines objects; every one has a `type`.
pub mod json {
    use super::*;

    pub fn plan(stack: &str, action: &Action) -> Value {
        let mut value = json!({"type": "plan", "stack": stack, "action": action.verb().replace(' ', "-")});
        match action {
            Action::Update { changed } => value["changed"] = json!(changed),
            Action::Restore { drifted } => value["drifted"] = json!(drifted),
            Action::Recreate { status } => value["status"] = json!(status),
            Action::Blocked { reason, fix } => {
                value["reason"] = json!(reason);
                value["fix"] = json!(fix);
            }
            _ => {}
        }
        value
    }

    pub fn change(stack: &str, change: &ResourceChange) -> Value {
        json!({
            "type": "change",
            "stack": stack,
            "action": change.action,
            "logical_id": change.logical_id,
            "resource_type": change.resource_type,
            "physical_id": change.physical_id,
            "replacement": change.replacement,
            "details": change.details,
            "flags": change_flags(change),
        })
    }

    pub fn event(stack: &str, event: &StackEvent) -> Value {
        json!({
            "type": "event",
            "stack": stack,
            "timestamp": event.timestamp,
            "logical_id": event.logical_id,
            "resource_type": event.resource_type,
            "status": event.status,
            "reason": event.reason,
        })
    }

    /// A failed command (or a refusal), for `--output json`.
    pub fn error(message: &str, hint: Option<&str>) -> Value {
        json!({"type": "error", "message": message, "hint": hint})
    }

    pub fn drift(finding: &Finding) -> Value {
        json!({
            "type": "drift",
            "stack": finding.stack,
            "logical_id": finding.logical_id,
            "resource_type": finding.resource_type,
            "physical_id": finding.physical_id,
            "property": finding.property,
            "expected": finding.expected,
            "actual": finding.actual,
        })
    }

    pub fn output(stack: &str, key: &str, value: &str) -> Value {
        json!({"type": "output", "stack": stack, "key": key, "value": value})
    }

    /// One profile `profiles --write-config` writes into the AWS config file `file`.
    pub fn profile_change(file: &str, change: &ProfileChange) -> Value {
        let action = match change.change {
            Change::Added => "add",
            Change::Updated => "update",
            Change::Unchanged => "unchanged",
        };
        json!({"type": "profile", "file": file, "name": change.name, "action": action, "lines": change.after})
    }
}

/// How a failed command reads: `error:` and the error, each cause once (`caused by:`), then the
/// first hint in the chain (`hint:`).
pub fn render_failure(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}\n");
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        // SDK errors often repeat their source's text; say each sentence once.
        if cause != previous {
            text.push_str(&format!("  caused by: {cause}\n"));
        }
        previous = cause;
    }
    if let Some(fixable) = error.chain().find_map(|cause| cause.downcast_ref::<Fixable>()) {
        text.push_str(&format!("hint: {}\n", fixable.hint));
    }
    text
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    fn change(action: &str, id: &str, kind: &str, replacement: Option<&str>, details: &[&str]) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: id.into(),
            resource_type: kind.into(),
            physical_id: None,
            replacement: replacement.map(str::to_string),
            details: details.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn changes() -> Vec<ResourceChange> {
        vec![
            change("Modify", "Function", "AWS::Lambda::Function", Some("False"), &["Code", "Environment"]),
            change("Add", "ProfilesRoute", "AWS::ApiGatewayV2::Route", None, &[]),
            change("Remove", "LegacyRoute", "AWS::ApiGatewayV2::Route", None, &[]),
            change("Modify", "ExecutionRole", "AWS::IAM::Role", Some("True"), &["RoleName"]),
            change("Modify", "InvokePermission", "AWS::Lambda::Permission", Some("Conditional"), &["SourceArn"]),
            change("Add", "ServiceControlPolicy", "AWS::Organizations::Policy", None, &[]),
        ]
    }

    fn event(status: &str, id: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            id: "e7d1c2b0-0000-4000-8000-000000000000".into(),
            timestamp: "2026-11-23T12:00:03.417Z".into(),
            logical_id: id.into(),
            resource_type: if id == "sentinel-tvm-main-api" {
                "AWS::CloudFormation::Stack".into()
            } else {
                "AWS::Lambda::Function".into()
            },
            status: status.into(),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn a_change_set_as_text() {
        insta::assert_snapshot!(change_set("sentinel-tvm-main-api", &changes()));
    }

    #[test]
    fn a_change_set_as_json_lines() {
        let lines: Vec<String> =
            changes().iter().map(|c| json::change("sentinel-tvm-main-api", c).to_string()).collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn plan_lines() {
        let lines = [
            plan_line("sentinel-tvm-main-artifacts", &Action::Skip),
            plan_line("sentinel-tvm-main-policy", &Action::Update { changed: vec!["parameter PolicyDocument".into()] }),
            plan_line("sentinel-tvm-main-api", &Action::Create),
            plan_line("sentinel-tvm-main-protected-smoke", &Action::Recreate { status: "ROLLBACK_COMPLETE".into() }),
            plan_line(
                "sentinel-tvm-main-client-policy",
                &Action::Blocked { reason: "stack is busy (UPDATE_IN_PROGRESS)".into(), fix: "wait".into() },
            ),
        ];
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn events_and_the_failure_summary() {
        let events = [
            event("CREATE_IN_PROGRESS", "sentinel-tvm-main-api", Some("User Initiated")),
            event(
                "CREATE_FAILED",
                "Function",
                Some("Resource handler returned message: \"Error occurred while GetObject. S3 Error Code: NoSuchKey\""),
            ),
            event("ROLLBACK_COMPLETE", "sentinel-tvm-main-api", None),
        ];
        let mut text: Vec<String> = events.iter().map(|e| event_line("sentinel-tvm-main-api", e)).collect();
        text.push(failure_summary(&[("sentinel-tvm-main-api".into(), events[1].clone())]));
        insta::assert_snapshot!(text.join("\n"));
        let json: Vec<String> = events.iter().map(|e| json::event("sentinel-tvm-main-api", e).to_string()).collect();
        insta::assert_snapshot!("events_as_json_lines", json.join("\n"),);
    }

    #[test]
    fn the_status_table_marks_other_versions() {
        let rows = [
            StatusRow {
                stack: "sentinel-tvm-main-artifacts".into(),
                status: "CREATE_COMPLETE".into(),
                version: Some("0.1.0".into()),
                updated: Some("2026-11-23T12:00:00Z".into()),
            },
            StatusRow {
                stack: "sentinel-tvm-main-api".into(),
                status: "UPDATE_COMPLETE".into(),
                version: Some("0.0.9".into()),
                updated: Some("2026-11-23T12:05:00Z".into()),
            },
            StatusRow {
                stack: "sentinel-tvm-main-client-policy".into(),
                status: "ROLLBACK_COMPLETE".into(),
                version: None,
                updated: None,
            },
        ];
        insta::assert_snapshot!(status_table(&rows, "0.1.0"));
    }

    #[test]
    fn a_plain_error_is_one_line() {
        let error = anyhow::anyhow!("the stack is stuck");
        assert_eq!(render_failure(&error), "error: the stack is stuck\n");
    }

    #[test]
    fn causes_follow_in_order_and_the_hint_comes_last() {
        let error = Err::<(), _>(Fixable::new("no credentials found", "run `aws sso login`"))
            .context("could not read the caller identity")
            .unwrap_err();
        assert_eq!(
            render_failure(&error),
            "error: could not read the caller identity\n  caused by: no credentials found\nhint: run `aws sso login`\n"
        );
    }

    #[test]
    fn a_cause_that_repeats_its_parent_is_said_once() {
        let error = anyhow::anyhow!("service error").context("service error").context("deploy failed");
        assert_eq!(render_failure(&error), "error: deploy failed\n  caused by: service error\n");
    }

    #[test]
    fn written_profiles_show_each_ones_own_lines() {
        let line = |name: &str, base: &str| {
            format!(
                "credential_process = /usr/local/bin/sentinel-tvm credentials --profile {name} --endpoint https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/ --aws-profile {base}"
            )
        };
        let changes = [
            ProfileChange {
                name: "main-prod".into(),
                change: Change::Added,
                before: vec![],
                after: vec![line("main-prod", "sso"), "region = eu-west-2".into()],
            },
            ProfileChange {
                name: "main-dev".into(),
                change: Change::Updated,
                before: vec![line("main-dev", "old"), "region = eu-west-2".into()],
                after: vec![line("main-dev", "sso"), "region = eu-west-2".into()],
            },
            ProfileChange {
                name: "main-ro".into(),
                change: Change::Unchanged,
                before: vec![line("main-ro", "sso")],
                after: vec![line("main-ro", "sso")],
            },
        ];
        insta::assert_snapshot!(profile_changes("/home/me/.aws/config", &changes));
        let json: Vec<String> = changes.iter().map(|c| json::profile_change("/f", c).to_string()).collect();
        insta::assert_snapshot!("written_profiles_as_json_lines", json.join("\n"));
    }
}
