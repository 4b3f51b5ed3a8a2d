//! Pure: what `scp check` asks IAM's policy simulator about the guardrail documents, and what
//! each answer means. A case is one principal doing a set of actions on one of the TVM's
//! resources, simulated with the document beside an allow-all policy (standing in for whatever
//! the principal's own policies grant, so only the document's explicit denies can deny) and
//! `aws:PrincipalArn` (and `lambda:SourceFunctionArn`) as context. The table, per guarded
//! resource (`scp::guarded`): a non-deployer denied, each deployer with its real path allowed,
//! each break-glass role allowed, the execution role (even inside the function) denied; on the
//! protected roles, `sts:AssumeRole` for the execution role inside the function only; invoking
//! the function directly denied to all. The lock-out guard (`lockout_cases`) is the same
//! simulation for the caller alone, every guarded action expected allowed. `aws::simulator`
//! asks IAM; nothing here touches AWS.

use super::guarded::{GUARDED, INVOKE_ACTIONS, Tvm};
use super::rcp::RCP_ACTIONS;
use crate::model::verdict::Verdict;

/// The name of this check.
pub const CHECK: &str = "scp check";
/// The name of the lock-out guard's check.
pub const LOCKOUT_CHECK: &str = "lock-out guard";

/// The role that stands for everyone else: no such role needs to exist, the simulator only reads
/// its ARN as `aws:PrincipalArn`.
pub const ARBITRARY_ROLE: &str = "sentinel-tvm-scp-check-arbitrary";

/// One simulation: who asks, from where, for what, and what the document must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Who this principal is ("the execution role, inside the TVM function").
    pub label: String,
    /// `aws:PrincipalArn` in the simulation.
    pub principal_arn: String,
    /// `lambda:SourceFunctionArn` in the simulation; `None` leaves the key out.
    pub function_arn: Option<String>,
    /// What the actions amount to ("changing the TVM function").
    pub what: String,
    pub resource_arn: String,
    pub actions: Vec<String>,
    /// Whether the document must let this principal do every one of `actions`.
    pub expect_allowed: bool,
}

/// Who the cases are about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals<'a> {
    /// The TVM's resources.
    pub tvm: &'a Tvm<'a>,
    /// The strict variant: the execution role assumes only from inside the function.
    pub strict: bool,
    /// The caller's `aws:PrincipalArn` (a role's ARN with its path, from `iam:GetRole`).
    pub caller: &'a str,
    pub deployers: &'a [String],
    pub break_glass: &'a [String],
}

impl Case {
    fn new(label: &str, principal_arn: &str, function_arn: Option<&str>, expect_allowed: bool) -> Self {
        Self {
            label: label.to_string(),
            principal_arn: principal_arn.to_string(),
            function_arn: function_arn.map(str::to_string),
            what: "assuming a protected role".into(),
            resource_arn: String::new(),
            actions: vec!["sts:AssumeRole".into()],
            expect_allowed,
        }
    }

    fn on(mut self, what: &str, resource_arn: String, actions: &[&str]) -> Self {
        self.what = what.to_string();
        self.resource_arn = resource_arn;
        self.actions = actions.iter().map(|a| a.to_string()).collect();
        self
    }
}

/// `scp check`'s whole table for the SCP (see the module's comment).
pub fn cases(who: &Principals) -> Vec<Case> {
    let tvm = who.tvm;
    let account = tvm.account_id;
    let arbitrary = format!("arn:{}:iam::{account}:role/{ARBITRARY_ROLE}", tvm.partition);
    let exempt = |principal: &str, list: &[String]| list.iter().any(|p| matches_pattern(p, principal));
    let caller_changes = exempt(who.caller, who.deployers) || exempt(who.caller, who.break_glass);
    let mut cases = assume_cases(who, &arbitrary);
    for guarded in GUARDED {
        let on = |case: Case| case.on(guarded.what, tvm.example_arn(guarded.resource), guarded.checked_actions);
        cases.push(on(Case::new("a non-deployer", &arbitrary, None, false)));
        let inside = (who.strict).then_some(tvm.function_arn);
        cases.push(on(Case::new("the execution role", tvm.execution_role_arn, inside, false)));
        if !exempt(who.caller, &[tvm.execution_role_arn.to_string()]) {
            cases.push(on(Case::new("the caller", who.caller, None, caller_changes)));
        }
        for deployer in who.deployers.iter().filter(|d| !matches_pattern(d, who.caller)) {
            cases.push(on(Case::new("a deployer", &example_of(deployer, account), None, true)));
        }
        for role in who.break_glass {
            cases.push(on(Case::new("a break-glass role", &example_of(role, account), None, true)));
        }
    }
    let invoke = |case: Case| case.on("invoking the function directly", tvm.function_arn.to_string(), INVOKE_ACTIONS);
    cases.push(invoke(Case::new("a non-deployer", &arbitrary, None, false)));
    cases.push(invoke(Case::new("the caller", who.caller, None, false)));
    for role in who.break_glass {
        cases.push(invoke(Case::new("a break-glass role", &example_of(role, account), None, false)));
    }
    cases.push(invoke(Case::new("the execution role", tvm.execution_role_arn, Some(tvm.function_arn), false)));
    cases
}

/// `sts:AssumeRole` on a protected role: the execution role (from inside the function when
/// strict) and each break-glass role allowed; the execution role outside the function (strict),
/// the caller and an arbitrary role denied.
fn assume_cases(who: &Principals, arbitrary: &str) -> Vec<Case> {
    let tvm = who.tvm;
    let role = tvm.protected_role_example();
    let on = |case: Case| case.on("assuming a protected role", role.clone(), &["sts:AssumeRole"]);
    let mut cases = Vec::new();
    let exec = tvm.execution_role_arn;
    if who.strict {
        cases.push(on(Case::new("the execution role, inside the TVM function", exec, Some(tvm.function_arn), true)));
        cases.push(on(Case::new("the execution role, outside the TVM function", exec, None, false)));
    } else {
        cases.push(on(Case::new("the execution role", exec, None, true)));
    }
    let exempt = matches_pattern(exec, who.caller) || who.break_glass.iter().any(|b| matches_pattern(b, who.caller));
    if !exempt {
        cases.push(on(Case::new("the caller", who.caller, None, false)));
    }
    cases.push(on(Case::new("an arbitrary role", arbitrary, None, false)));
    for role in who.break_glass {
        cases.push(on(Case::new("a break-glass role", &example_of(role, tvm.account_id), None, true)));
    }
    cases
}

/// The lock-out guard: the caller, every guarded action on every guarded resource, expected
/// allowed. Attaching an SCP that denies any of them would leave the caller unable to upgrade
/// or tear down the TVM it just installed.
pub fn lockout_cases(tvm: &Tvm, caller: &str) -> Vec<Case> {
    GUARDED
        .iter()
        .map(|g| Case::new("the caller", caller, None, true).on(g.what, tvm.example_arn(g.resource), g.checked_actions))
        .collect()
}

/// The RCP's table: on a protected role, every action the RCP denies, for the execution role
/// and each break-glass role (allowed), an arbitrary role of this account and one of an account
/// outside the organization (denied).
pub fn rcp_cases(tvm: &Tvm, break_glass: &[String]) -> Vec<Case> {
    let role = tvm.protected_role_example();
    let on = |case: Case| case.on("assuming a protected role (RCP)", role.clone(), &RCP_ACTIONS);
    let arbitrary = format!("arn:{}:iam::{}:role/{ARBITRARY_ROLE}", tvm.partition, tvm.account_id);
    let outsider = format!("arn:{}:iam::{OUTSIDE_ACCOUNT}:role/{ARBITRARY_ROLE}", tvm.partition);
    let mut cases = vec![
        on(Case::new("the execution role", tvm.execution_role_arn, Some(tvm.function_arn), true)),
        on(Case::new("an arbitrary role", &arbitrary, None, false)),
        on(Case::new("a role of an account outside the organization", &outsider, None, false)),
    ];
    cases.extend(
        break_glass.iter().map(|r| on(Case::new("a break-glass role", &example_of(r, tvm.account_id), None, true))),
    );
    cases
}

/// An account id no organization hands out (AWS documents 999999999999 as unused in examples):
/// it stands for a principal outside the organization.
pub const OUTSIDE_ACCOUNT: &str = "999999999999";

/// How IAM answered `case` — `(action, decision)` with decisions `allowed`, `explicitDeny`,
/// `implicitDeny` — as one verdict of `check`.
pub fn verdict(check: &'static str, case: &Case, decisions: &[(String, String)]) -> Verdict {
    let who = describe(case);
    let expected = if case.expect_allowed { "allowed" } else { "explicitDeny" };
    let wrong: Vec<&(String, String)> = decisions.iter().filter(|(_, decision)| decision != expected).collect();
    let answered: Vec<&str> = decisions.iter().map(|(action, _)| action.as_str()).collect();
    let missing: Vec<&String> = case.actions.iter().filter(|a| !answered.contains(&a.as_str())).collect();
    let n = case.actions.len();
    if wrong.is_empty() && missing.is_empty() {
        let how = if case.expect_allowed { "allowed" } else { "denied" };
        return Verdict::pass(check, format!("{who}, {}: {how} ({n} of {n} actions), as it must be", case.what));
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|a| a.as_str()).collect();
        return Verdict::fail(
            check,
            format!("{who}, {}: IAM's simulator gave no answer for {}", case.what, names.join(", ")),
            "run it again, and report it if it persists",
        );
    }
    let list = |decision: &str| -> Vec<&str> {
        wrong.iter().filter(|(_, d)| d == decision).map(|(a, _)| a.as_str()).collect()
    };
    let (allowed, denied, implicit) = (list("allowed"), list("explicitDeny"), list("implicitDeny"));
    let unknown: Vec<String> = wrong
        .iter()
        .filter(|(_, d)| !["allowed", "explicitDeny", "implicitDeny"].contains(&d.as_str()))
        .map(|(a, d)| format!("{a} (`{d}`)"))
        .collect();
    let mut problems = Vec::new();
    if !allowed.is_empty() {
        problems.push(format!("allowed {}, which the document must deny", allowed.join(", ")));
    }
    if !denied.is_empty() {
        problems.push(format!("denied {}, which it must allow", denied.join(", ")));
    }
    if !implicit.is_empty() {
        problems.push(format!(
            "implicitly denied {}, which the allow-all policy simulated beside it should rule out",
            implicit.join(", ")
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!("answered {}, which `scp check` does not know", unknown.join(", ")));
    }
    let fix = if !denied.is_empty() {
        format!(
            "deploying this document would lock `{}` out: it must be exempt (a deployer or break-glass role, with the path its ARN really has); check with `sentinel-tvm scp show`",
            case.principal_arn
        )
    } else if !allowed.is_empty() {
        format!(
            "the document must deny these to `{}`: check its resources and exempted principals with `sentinel-tvm scp show`",
            case.principal_arn
        )
    } else {
        "the simulation did not go as `scp check` set it up: run it again, and report it if it persists".to_string()
    };
    Verdict::fail(check, format!("{who}, {}: {}", case.what, problems.join("; ")), fix)
}

fn describe(case: &Case) -> String {
    match &case.function_arn {
        Some(function_arn) => format!("{} `{}` (from `{function_arn}`)", case.label, case.principal_arn),
        None => format!("{} `{}`", case.label, case.principal_arn),
    }
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
pub fn matches_pattern(pattern: &str, text: &str) -> bool {
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
    use crate::model::verdict::Status;
    use crate::scp::document::tests::{EXEC, FUNCTION, SSO_DEPLOYER, denies, tvm};
    use crate::scp::document::{Inputs, document};

    const ADMIN_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
    const ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";
    const ARBITRARY: &str = "arn:aws:iam::111122223333:role/sentinel-tvm-scp-check-arbitrary";
    const GLASS: &str = "arn:aws:iam::111122223333:role/BreakGlass";

    /// What the document decides for each of a case's actions, by the unit tests' evaluator.
    fn decide(document: &str, case: &Case) -> Vec<(String, String)> {
        case.actions
            .iter()
            .map(|action| {
                let denied =
                    denies(document, &case.principal_arn, case.function_arn.as_deref(), action, &case.resource_arn);
                (action.clone(), if denied { "explicitDeny" } else { "allowed" }.to_string())
            })
            .collect()
    }

    /// `(label, what, expect_allowed)` of each case.
    fn summary(cases: &[Case]) -> Vec<(&str, &str, bool)> {
        cases.iter().map(|c| (c.label.as_str(), c.what.as_str(), c.expect_allowed)).collect()
    }

    #[test]
    fn the_scp_passes_its_own_table_for_a_deployer_with_a_path() {
        let tvm = tvm();
        let deployers = [SSO_DEPLOYER.to_string()];
        let glass = [GLASS.to_string()];
        let text =
            document(&Inputs { tvm: tvm.clone(), break_glass_role_arns: &glass, deployers: &deployers, strict: true })
                .unwrap();
        let who =
            Principals { tvm: &tvm, strict: true, caller: SSO_DEPLOYER, deployers: &deployers, break_glass: &glass };
        let cases = cases(&who);
        for case in &cases {
            let verdict = verdict(CHECK, case, &decide(&text, case));
            assert_eq!(verdict.status, Status::Pass, "{verdict:?}");
        }
        // Per guarded resource: a non-deployer, the execution role, the caller (a deployer), break glass.
        for guarded in GUARDED {
            let rows: Vec<(&str, bool)> =
                cases.iter().filter(|c| c.what == guarded.what).map(|c| (c.label.as_str(), c.expect_allowed)).collect();
            assert_eq!(
                rows,
                [
                    ("a non-deployer", false),
                    ("the execution role", false),
                    ("the caller", true),
                    ("a break-glass role", true)
                ],
                "{}",
                guarded.what
            );
        }
        let assume: Vec<(&str, &str, bool)> =
            summary(&cases).into_iter().filter(|(_, what, _)| *what == "assuming a protected role").collect();
        assert_eq!(
            assume.iter().map(|(label, _, allowed)| (*label, *allowed)).collect::<Vec<_>>(),
            [
                ("the execution role, inside the TVM function", true),
                ("the execution role, outside the TVM function", false),
                ("the caller", false),
                ("an arbitrary role", false),
                ("a break-glass role", true),
            ]
        );
        assert!(cases.iter().filter(|c| c.what == "invoking the function directly").all(|c| !c.expect_allowed));
    }

    /// Fails without the fix: a deployer named without its path (what GetCallerIdentity shows)
    /// is denied its own controls.
    #[test]
    fn a_deployer_named_without_its_path_fails_the_table_and_the_guard() {
        let tvm = tvm();
        let pathless = ["arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123abcd".to_string()];
        let text =
            document(&Inputs { tvm: tvm.clone(), break_glass_role_arns: &[], deployers: &pathless, strict: true })
                .unwrap();
        let guard = lockout_cases(&tvm, SSO_DEPLOYER);
        assert_eq!(guard.len(), GUARDED.len());
        for case in &guard {
            let verdict = verdict(LOCKOUT_CHECK, case, &decide(&text, case));
            assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
            assert!(verdict.fix.unwrap().contains("lock"), "the fix says what would happen");
        }
        let right = [SSO_DEPLOYER.to_string()];
        let text = document(&Inputs { tvm: tvm.clone(), break_glass_role_arns: &[], deployers: &right, strict: true })
            .unwrap();
        assert!(guard.iter().all(|case| verdict(LOCKOUT_CHECK, case, &decide(&text, case)).status == Status::Pass));
    }

    #[test]
    fn a_caller_who_is_no_deployer_is_expected_denied_and_the_deployers_get_cases_of_their_own() {
        let tvm = tvm();
        let deployers = [SSO_DEPLOYER.to_string(), "arn:aws:iam::111122223333:user/ci/deploy*".to_string()];
        let who = Principals { tvm: &tvm, strict: false, caller: ADMIN, deployers: &deployers, break_glass: &[] };
        let cases = cases(&who);
        let function: Vec<(&str, &str, bool)> = cases
            .iter()
            .filter(|c| c.what == "changing the TVM function")
            .map(|c| (c.label.as_str(), c.principal_arn.as_str(), c.expect_allowed))
            .collect();
        assert_eq!(
            function,
            [
                ("a non-deployer", ARBITRARY, false),
                ("the execution role", EXEC, false),
                ("the caller", ADMIN, false),
                ("a deployer", SSO_DEPLOYER, true),
                ("a deployer", "arn:aws:iam::111122223333:user/ci/deploy", true),
            ]
        );
        assert_eq!(cases[0].label, "the execution role", "not strict: one execution-role case");
        assert_eq!(cases[0].function_arn, None);
    }

    #[test]
    fn the_rcp_table() {
        let tvm = tvm();
        let glass = [GLASS.to_string()];
        let cases = rcp_cases(&tvm, &glass);
        let rows: Vec<(&str, bool)> = cases.iter().map(|c| (c.label.as_str(), c.expect_allowed)).collect();
        assert_eq!(
            rows,
            [
                ("the execution role", true),
                ("an arbitrary role", false),
                ("a role of an account outside the organization", false),
                ("a break-glass role", true),
            ]
        );
        assert!(cases.iter().all(|c| c.actions.len() == RCP_ACTIONS.len()));
        assert_eq!(cases[2].principal_arn, "arn:aws:iam::999999999999:role/sentinel-tvm-scp-check-arbitrary");
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
        let one = |decision: &str| vec![("sts:AssumeRole".to_string(), decision.to_string())];
        for (case, decisions, status, detail) in [
            (&allowed, one("allowed"), Status::Pass, "allowed (1 of 1 actions), as it must be"),
            (&allowed, one("explicitDeny"), Status::Fail, "denied sts:AssumeRole, which it must allow"),
            (&allowed, one("implicitDeny"), Status::Fail, "implicitly denied"),
            (&denied, one("explicitDeny"), Status::Pass, "denied (1 of 1 actions), as it must be"),
            (&denied, one("allowed"), Status::Fail, "allowed sts:AssumeRole, which the document must deny"),
            (&denied, one("implicitDeny"), Status::Fail, "implicitly denied"),
            (&denied, one("maybe"), Status::Fail, "answered sts:AssumeRole (`maybe`)"),
            (&denied, vec![], Status::Fail, "no answer for sts:AssumeRole"),
        ] {
            let verdict = verdict(CHECK, case, &decisions);
            assert_eq!(verdict.check, CHECK);
            assert_eq!(verdict.status, status, "{decisions:?} for {}", case.label);
            assert!(verdict.detail.contains(detail), "{decisions:?}: {}", verdict.detail);
            assert!(verdict.detail.contains(&case.principal_arn), "{}", verdict.detail);
            assert_eq!(verdict.fix.is_some(), status == Status::Fail);
        }
    }

    #[test]
    fn a_verdict_names_the_function_context() {
        let case = Case::new("the execution role, inside the TVM function", EXEC, Some(FUNCTION), true);
        assert_eq!(
            verdict(CHECK, &case, &[("sts:AssumeRole".into(), "allowed".into())]).line(),
            format!(
                "✓ scp check: the execution role, inside the TVM function `{EXEC}` (from `{FUNCTION}`), assuming a protected role: allowed (1 of 1 actions), as it must be\n"
            )
        );
    }
}
