//! Pure: what `scp check` asks IAM's policy simulator about an SCP document, and what each answer
//! means. Every case is one `sts:AssumeRole` on a protected role, simulated with the document
//! beside an allow-all policy and `aws:PrincipalArn` (and `lambda:SourceFunctionArn`) as context:
//! the allow-all policy stands in for whatever the principal's own policies grant, so only the
//! SCP's explicit denies can deny. `aws::scp_simulation` asks IAM; nothing here touches AWS.

use crate::check::verdict::Verdict;

/// The name of this check.
pub const CHECK: &str = "scp check";

/// The role that stands for everyone else: no such role needs to exist, the simulator only reads
/// its ARN as `aws:PrincipalArn`.
pub const ARBITRARY_ROLE: &str = "sentinel-tvm-scp-check-arbitrary";

/// One simulation: who asks, from where, and what the SCP must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Who this principal is ("the execution role, inside the TVM function").
    pub label: String,
    /// `aws:PrincipalArn` in the simulation.
    pub principal_arn: String,
    /// `lambda:SourceFunctionArn` in the simulation; `None` leaves the key out.
    pub function_arn: Option<String>,
    /// Whether the SCP must let this principal assume the protected roles.
    pub expect_allowed: bool,
}

impl Case {
    fn new(label: &str, principal_arn: &str, function_arn: Option<&str>, expect_allowed: bool) -> Self {
        Self {
            label: label.to_string(),
            principal_arn: principal_arn.to_string(),
            function_arn: function_arn.map(str::to_string),
            expect_allowed,
        }
    }
}

/// The cases for an SCP that exempts `execution_role_arn` and `break_glass` (ARNs or ARN
/// patterns) and, when `function_arn` is given (the strict variant), lets the execution role
/// through only from inside that function:
/// - the execution role (with the function as context when strict): allowed;
/// - strict only, the execution role without the function (its credentials used elsewhere): denied;
/// - the caller (`caller_arn` from `sts:GetCallerIdentity`): denied, unless it is the execution
///   role or a break-glass role, whose own cases cover it;
/// - an arbitrary role of `account_id`, [`ARBITRARY_ROLE`]: denied;
/// - each break-glass role: allowed (a pattern is simulated as one role it matches).
pub fn cases(
    execution_role_arn: &str,
    function_arn: Option<&str>,
    caller_arn: &str,
    break_glass: &[String],
    partition: &str,
    account_id: &str,
) -> Vec<Case> {
    let mut cases = Vec::new();
    match function_arn {
        Some(function_arn) => {
            cases.push(Case::new(
                "the execution role, inside the TVM function",
                execution_role_arn,
                Some(function_arn),
                true,
            ));
            cases.push(Case::new("the execution role, outside the TVM function", execution_role_arn, None, false));
        }
        None => cases.push(Case::new("the execution role", execution_role_arn, None, true)),
    }
    let caller = principal_arn(caller_arn);
    let exempt = same_role(&caller, execution_role_arn) || break_glass.iter().any(|b| same_role(&caller, b));
    if !exempt {
        cases.push(Case::new("the caller", &caller, None, false));
    }
    let arbitrary = format!("arn:{partition}:iam::{account_id}:role/{ARBITRARY_ROLE}");
    cases.push(Case::new("an arbitrary role", &arbitrary, None, false));
    for role in break_glass {
        cases.push(Case::new("a break-glass role", &example_of(role, account_id), None, true));
    }
    cases
}

/// `aws:PrincipalArn` for a caller: for a role session
/// (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) the role's ARN; anything else (a
/// user, the root, a federated user) as it is. The session ARN does not carry the role's path, so
/// the role's ARN is built without one: for a role with a path (`role/admin/Name`) the real
/// `aws:PrincipalArn` differs, which is why comparisons with it also go by role name.
pub fn principal_arn(caller_arn: &str) -> String {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    if let ["arn", partition, "sts", "", account, resource] = parts[..]
        && let Some(session) = resource.strip_prefix("assumed-role/")
        && let Some((role, _session)) = session.split_once('/')
    {
        return format!("arn:{partition}:iam::{account}:role/{role}");
    }
    caller_arn.to_string()
}

/// How IAM answered `case` (`allowed`, `explicitDeny`, `implicitDeny`), as a verdict.
pub fn verdict(case: &Case, decision: &str) -> Verdict {
    let who = describe(case);
    match (decision, case.expect_allowed) {
        ("allowed", true) => Verdict::pass(CHECK, format!("{who}: allowed, as it must be")),
        ("explicitDeny", false) => Verdict::pass(CHECK, format!("{who}: denied, as it must be")),
        ("allowed", false) => Verdict::fail(
            CHECK,
            format!("{who}: allowed, but the SCP must deny it"),
            format!(
                "the document must deny `sts:AssumeRole` on the protected roles to `{}`: check its role pattern and exempted principals with `sentinel-tvm scp show`",
                case.principal_arn
            ),
        ),
        ("explicitDeny", true) => Verdict::fail(
            CHECK,
            format!("{who}: denied, but it must be allowed"),
            format!(
                "deploying this SCP would lock `{}` out of the protected roles: the document must exempt it (check with `sentinel-tvm scp show`)",
                case.principal_arn
            ),
        ),
        ("implicitDeny", _) => Verdict::fail(
            CHECK,
            format!("{who}: implicitly denied, which the allow-all policy simulated beside the SCP should rule out"),
            "the simulation did not go as `scp check` set it up: run it again, and report it if it persists",
        ),
        (other, _) => Verdict::fail(
            CHECK,
            format!("{who}: IAM's simulator answered `{other}`, which `scp check` does not know"),
            "report it: this version of sentinel-tvm cannot read the answer",
        ),
    }
}

fn describe(case: &Case) -> String {
    match &case.function_arn {
        Some(function_arn) => format!("{} `{}` (from `{function_arn}`)", case.label, case.principal_arn),
        None => format!("{} `{}`", case.label, case.principal_arn),
    }
}

/// Whether `principal` (an ARN) is the role `role` names (an ARN or an ARN pattern with `*` and
/// `?`): by ARN, or, since a session ARN loses the role's path, by account and role name.
fn same_role(principal: &str, role: &str) -> bool {
    if matches_pattern(role, principal) {
        return true;
    }
    match (role_parts(principal), role_parts(role)) {
        (Some((p_partition, p_account, p_name)), Some((r_partition, r_account, r_name))) => {
            p_partition == r_partition && matches_pattern(r_account, p_account) && matches_pattern(r_name, p_name)
        }
        _ => false,
    }
}

/// `(partition, account, name)` of an IAM role ARN; the name without its path.
fn role_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts[..] else {
        return None;
    };
    let path_and_name = resource.strip_prefix("role/")?;
    Some((partition, account, path_and_name.rsplit('/').next().unwrap_or(path_and_name)))
}

/// One role a break-glass ARN pattern matches: a `*` account is `account_id`, any other `*`
/// matches nothing and `?` one `x`. An ARN without wildcards is itself.
fn example_of(pattern: &str, account_id: &str) -> String {
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let pattern = match parts[..] {
        ["arn", partition, "iam", "", "*", resource] => format!("arn:{partition}:iam::{account_id}:{resource}"),
        _ => pattern.to_string(),
    };
    pattern.replace('*', "").replace('?', "x")
}

/// IAM's `ArnLike`/`StringLike` matching: `*` any run of characters, `?` exactly one,
/// case-sensitive.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer glob match with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::verdict::Status;

    const EXEC: &str = "arn:aws:iam::111122223333:role/sentinel-tvm-main-execution";
    const FUNCTION: &str = "arn:aws:lambda:eu-west-2:111122223333:function:sentinel-tvm-main";
    const ADMIN_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
    const ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";
    const ARBITRARY: &str = "arn:aws:iam::111122223333:role/sentinel-tvm-scp-check-arbitrary";

    /// `(label, principal, function, expect_allowed)` of each case, in order.
    fn summary(cases: &[Case]) -> Vec<(&str, &str, Option<&str>, bool)> {
        cases
            .iter()
            .map(|c| (c.label.as_str(), c.principal_arn.as_str(), c.function_arn.as_deref(), c.expect_allowed))
            .collect()
    }

    #[test]
    fn the_cases_for_each_combination_of_options() {
        let glass = ["arn:aws:iam::111122223333:role/BreakGlass".to_string()];
        let glass_pattern = ["arn:aws:iam::*:role/BreakGlass*".to_string()];
        let admin_glass = [ADMIN.to_string()];
        let admin_glass_with_path = ["arn:aws:iam::111122223333:role/emergency/Admin".to_string()];
        type Expected = Vec<(&'static str, &'static str, Option<&'static str>, bool)>;
        /// `(name, function, caller, break_glass, expected)`.
        type Row<'a> = (&'a str, Option<&'a str>, &'a str, &'a [String], Expected);
        let table: Vec<Row> = vec![
            (
                "plain, caller is a role session",
                None,
                ADMIN_SESSION,
                &[],
                vec![
                    ("the execution role", EXEC, None, true),
                    ("the caller", ADMIN, None, false),
                    ("an arbitrary role", ARBITRARY, None, false),
                ],
            ),
            (
                "strict: the execution role outside the function is denied",
                Some(FUNCTION),
                ADMIN_SESSION,
                &[],
                vec![
                    ("the execution role, inside the TVM function", EXEC, Some(FUNCTION), true),
                    ("the execution role, outside the TVM function", EXEC, None, false),
                    ("the caller", ADMIN, None, false),
                    ("an arbitrary role", ARBITRARY, None, false),
                ],
            ),
            (
                "break-glass roles are allowed",
                None,
                "arn:aws:iam::111122223333:user/ci",
                &glass,
                vec![
                    ("the execution role", EXEC, None, true),
                    ("the caller", "arn:aws:iam::111122223333:user/ci", None, false),
                    ("an arbitrary role", ARBITRARY, None, false),
                    ("a break-glass role", "arn:aws:iam::111122223333:role/BreakGlass", None, true),
                ],
            ),
            (
                "a break-glass pattern is simulated as a role it matches",
                None,
                ADMIN_SESSION,
                &glass_pattern,
                vec![
                    ("the execution role", EXEC, None, true),
                    ("the caller", ADMIN, None, false),
                    ("an arbitrary role", ARBITRARY, None, false),
                    ("a break-glass role", "arn:aws:iam::111122223333:role/BreakGlass", None, true),
                ],
            ),
            (
                "a caller who is a break-glass role is not also expected denied",
                Some(FUNCTION),
                ADMIN_SESSION,
                &admin_glass,
                vec![
                    ("the execution role, inside the TVM function", EXEC, Some(FUNCTION), true),
                    ("the execution role, outside the TVM function", EXEC, None, false),
                    ("an arbitrary role", ARBITRARY, None, false),
                    ("a break-glass role", ADMIN, None, true),
                ],
            ),
            (
                "a break-glass role with a path still recognises its session",
                None,
                ADMIN_SESSION,
                &admin_glass_with_path,
                vec![
                    ("the execution role", EXEC, None, true),
                    ("an arbitrary role", ARBITRARY, None, false),
                    ("a break-glass role", "arn:aws:iam::111122223333:role/emergency/Admin", None, true),
                ],
            ),
            (
                "a caller who is the execution role is not also expected denied",
                None,
                "arn:aws:sts::111122223333:assumed-role/sentinel-tvm-main-execution/sentinel-tvm-main",
                &[],
                vec![("the execution role", EXEC, None, true), ("an arbitrary role", ARBITRARY, None, false)],
            ),
        ];
        for (name, function, caller, break_glass, expected) in table {
            let cases = cases(EXEC, function, caller, break_glass, "aws", "111122223333");
            assert_eq!(summary(&cases), expected, "{name}");
        }
    }

    #[test]
    fn the_arbitrary_role_is_in_the_partition_and_account_given() {
        let cases = cases(EXEC, None, ADMIN_SESSION, &[], "aws-cn", "444455556666");
        assert!(
            cases
                .iter()
                .any(|c| c.principal_arn == "arn:aws-cn:iam::444455556666:role/sentinel-tvm-scp-check-arbitrary")
        );
    }

    #[test]
    fn the_principal_arn_of_a_caller() {
        for (caller, expected) in [
            (ADMIN_SESSION, ADMIN),
            ("arn:aws-us-gov:sts::111122223333:assumed-role/Ops/x/y", "arn:aws-us-gov:iam::111122223333:role/Ops"),
            ("arn:aws:iam::111122223333:user/ci", "arn:aws:iam::111122223333:user/ci"),
            ("arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root"),
            ("arn:aws:sts::111122223333:federated-user/bob", "arn:aws:sts::111122223333:federated-user/bob"),
            ("arn:aws:sts::111122223333:assumed-role/NoSession", "arn:aws:sts::111122223333:assumed-role/NoSession"),
        ] {
            assert_eq!(principal_arn(caller), expected, "{caller}");
        }
    }

    #[test]
    fn role_patterns_match_like_arn_like() {
        for (pattern, text, expected) in [
            ("arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::111122223333:role/BreakGlassAdmin", true),
            ("arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::111122223333:role/Admin", false),
            ("arn:aws:iam::1111222233?3:role/A", "arn:aws:iam::111122223333:role/A", true),
            ("arn:aws:iam::111122223333:role/A", "arn:aws:iam::111122223333:role/a", false),
            ("*", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
        ] {
            assert_eq!(matches_pattern(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn each_decision_against_each_expectation() {
        let allowed = Case::new("the execution role", EXEC, None, true);
        let denied = Case::new("the caller", ADMIN, None, false);
        for (case, decision, status, detail) in [
            (&allowed, "allowed", Status::Pass, "allowed, as it must be"),
            (&allowed, "explicitDeny", Status::Fail, "denied, but it must be allowed"),
            (&allowed, "implicitDeny", Status::Fail, "implicitly denied"),
            (&denied, "explicitDeny", Status::Pass, "denied, as it must be"),
            (&denied, "allowed", Status::Fail, "allowed, but the SCP must deny it"),
            (&denied, "implicitDeny", Status::Fail, "implicitly denied"),
            (&denied, "maybe", Status::Fail, "answered `maybe`"),
        ] {
            let verdict = verdict(case, decision);
            assert_eq!(verdict.check, CHECK);
            assert_eq!(verdict.status, status, "{decision} for {}", case.label);
            assert!(verdict.detail.contains(detail), "{decision}: {}", verdict.detail);
            assert!(verdict.detail.contains(&case.principal_arn), "{}", verdict.detail);
            assert_eq!(verdict.fix.is_some(), status == Status::Fail);
        }
    }

    #[test]
    fn a_verdict_names_the_function_context() {
        let case = Case::new("the execution role, inside the TVM function", EXEC, Some(FUNCTION), true);
        assert_eq!(
            verdict(&case, "allowed").line(),
            format!(
                "✓ scp check: the execution role, inside the TVM function `{EXEC}` (from `{FUNCTION}`): allowed, as it must be\n"
            )
        );
        let locked_out = verdict(&case, "explicitDeny");
        assert!(locked_out.fix.unwrap().contains("would lock"));
    }
}
