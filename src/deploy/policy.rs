//! The policy the installer deploys: the user's file (or a generated starter), validated with
//! the Lambda's own parser, with the smoke-test rule put first. Problems name the file and line;
//! nothing invalid ever reaches the policy stack.
//!
//! The starter (threat model T9) admits exactly the configured invokers, by the ARN their calls
//! carry (`Admitted`): never "anyone in the account", which would include every administrator
//! and power user, who have `execute-api:Invoke` anyway and would get through the TVM what the
//! SCP keeps them from assuming directly. With no invokers it grants nothing but the smoke rule.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sentinel_tvm_lambda::policy::{self, PolicyError, lint};

use crate::model::objects::ParameterVersion;

use crate::error::Fixable;
use crate::names::SMOKE_PROFILE;
use crate::settings::Deploy;

/// The rule the installer owns; a user's policy may not use its name.
pub const SMOKE_RULE: &str = "sentinel-tvm-smoke-test";
/// A CloudFormation parameter value (and a Standard SSM parameter) holds at most this much.
pub const MAX_POLICY_BYTES: usize = 4096;

/// The user's policy text and where it came from (for messages).
pub struct UserPolicy {
    pub text: String,
    pub source: String,
}

/// Who the starter policy admits: each configured invoker role and user as the ARN pattern its
/// calls carry, and the invoker groups it cannot name (a group never appears in a caller's ARN).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    pub principals: Vec<String>,
    pub groups: Vec<String>,
}

impl Admitted {
    /// One warning per group left out, with the rule to write instead.
    pub fn group_warnings(&self, partition: &str, account_id: &str) -> Vec<String> {
        self.groups
            .iter()
            .map(|group| {
                format!(
                    "invoker group `{group}` is left out of the starter policy: a group never appears in a caller's ARN, so no rule can name it. Give its members a rule in your own policy (`--policy-file`): `principals: [\"{}\", \"{}\"]`, one pattern per member user or role",
                    crate::names::user_arn(partition, account_id, "/<path>/", "<member>"),
                    crate::names::role_sessions_pattern(partition, account_id, "<role>"),
                )
            })
            .collect()
    }
}

/// Reads `--policy-file`, or generates the starter policy for `admitted`.
pub fn user_policy(env: &str, deploy: &Deploy, admitted: &Admitted) -> Result<UserPolicy> {
    match &deploy.policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the policy file `{}`", path.display()))?;
            Ok(UserPolicy { text, source: path.display().to_string() })
        }
        None => Ok(UserPolicy { text: starter(env, deploy, admitted), source: "the generated starter policy".into() }),
    }
}

/// What the install summary and the deploy say about the starter policy when it grants nothing
/// (`None` when it grants something, or a policy file is given).
pub fn starter_grants_nothing(deploy: &Deploy, admitted: &Admitted) -> Option<String> {
    if deploy.policy_file.is_some() || (!admitted.principals.is_empty() && !protected_profiles(deploy).is_empty()) {
        return None;
    }
    Some(NOTHING_GRANTED.to_string())
}

const NOTHING_GRANTED: &str = "the starter policy grants no protected profile: no invoker role or user is configured, so every request but the smoke test's is denied; name invokers (`--invoker-role`, `--invoker-user`) or give a policy (`--policy-file`)";

/// Checks a policy file with the Lambda's own parser; the error names each problem's line.
pub fn validate_file(path: &Path) -> Result<policy::Policy> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    policy::parse(&text).map_err(|error| invalid(&path.display().to_string(), &error).into())
}

/// Checks policy text the installer generated.
pub fn validate_text(text: &str) -> Result<policy::Policy> {
    policy::parse(text).map_err(|error| invalid("the generated policy", &error).into())
}

/// The text to deploy: the smoke rule, then the user's rules.
pub fn for_deploy(env: &str, user: &UserPolicy, smoke_principals: &[String]) -> Result<String> {
    let parsed = policy::parse(&user.text).map_err(|error| invalid(&user.source, &error))?;
    if parsed.rules.iter().any(|rule| rule.name == SMOKE_RULE) {
        bail!(Fixable::new(
            format!("{} has a rule named `{SMOKE_RULE}`", user.source),
            "rename it: sentinel-tvm adds a rule of that name itself"
        ));
    }
    let text = policy::prepend_rules(&user.text, &smoke_rule(env, smoke_principals))
        .map_err(|error| invalid(&user.source, &error))?;
    if text.len() > MAX_POLICY_BYTES {
        bail!(Fixable::new(
            format!(
                "the policy is {} bytes as deployed; CloudFormation parameters (and Standard SSM parameters) hold at most {MAX_POLICY_BYTES}",
                text.len()
            ),
            "shorten it: merge rules that share conditions, and drop comments and reasons you can spare",
        ));
    }
    Ok(text)
}

/// The warnings about a valid policy (`policy::lint`), each naming its line and rule.
pub fn warnings(policy: &policy::Policy) -> Vec<String> {
    lint::warnings(policy).iter().map(ToString::to_string).collect()
}

/// `warnings` of policy text; none for text that does not parse (it has errors instead).
pub fn text_warnings(text: &str) -> Vec<String> {
    policy::parse(text).map(|parsed| warnings(&parsed)).unwrap_or_default()
}

/// The newest of `versions` whose value is exactly `text`: the version the api stack pins
/// (threat model T3). Any version holding the same bytes is the same policy, so one written
/// over it later (out of band) is never chosen, and a rewrite back to the same text is harmless.
pub fn version_holding(text: &str, versions: &[ParameterVersion]) -> Option<u64> {
    versions.iter().filter(|v| v.value == text).map(|v| v.version).max()
}

/// Lets the smoke test's principals (and nobody else) have the smoke profile.
pub fn smoke_rule(env: &str, principals: &[String]) -> String {
    let principals: Vec<String> =
        principals.iter().map(|p| serde_json::to_string(p).expect("strings serialize")).collect();
    format!(
        "- name: {SMOKE_RULE}\n  effect: allow\n  reason: sentinel-tvm smoke test\n  max_server_duration: 15m\n  conditions:\n    profiles: [\"{env}-{SMOKE_PROFILE}\"]\n    principals: [{}]\n",
        principals.join(", ")
    )
}

fn protected_profiles(deploy: &Deploy) -> Vec<String> {
    deploy.protected.iter().filter(|p| p.name != SMOKE_PROFILE).map(|p| p.name.clone()).collect()
}

/// The rule the starter has when it admits anyone: the invokers, every protected profile, an
/// hour at most.
fn invokers_rule(profiles: &[String], principals: &[String], indent: &str) -> Vec<String> {
    let quoted: Vec<String> = principals.iter().map(|p| serde_json::to_string(p).expect("strings serialize")).collect();
    [
        "- name: invokers".to_string(),
        "  effect: allow".into(),
        "  reason: the configured invokers".into(),
        "  max_server_duration: 1h".into(),
        "  conditions:".into(),
        format!("    profiles: [{}]", profiles.join(", ")),
        format!("    principals: [{}]", quoted.join(", ")),
    ]
    .into_iter()
    .map(|line| format!("{indent}{line}"))
    .collect()
}

/// The starter deployed when no policy file is given: the configured invokers (`admitted`) may
/// have each protected profile; with none, it has no rule (every request denied but the smoke
/// rule's, which `for_deploy` adds).
pub fn starter(env: &str, deploy: &Deploy, admitted: &Admitted) -> String {
    let profiles: Vec<String> = protected_profiles(deploy).iter().map(|p| format!("{env}-{p}")).collect();
    if profiles.is_empty() || admitted.principals.is_empty() {
        return "version: \"1\"\nrules: []\n".into();
    }
    let mut text = String::from("version: \"1\"\nrules:\n");
    for line in invokers_rule(&profiles, &admitted.principals, "  ") {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// `policy init`: the starter policy for `env` with comments that explain the format and
/// examples to adapt. It admits the configured invokers (`admitted`, built for the saved
/// account); without any, or without a known account, no rule is active (every request is
/// denied until one is added), and the comments say why. Comments count toward the deployed
/// policy's 4096 bytes, so they are brief.
pub fn commented_starter(env: &str, account_id: Option<&str>, profiles: &[String], admitted: &Admitted) -> String {
    let header = [
        format!("# TVM policy for environment `{env}`: which callers get which protected profiles."),
        "# Rules are read top to bottom; the first whose conditions all match decides; no match".into(),
        "# denies. Format: docs/POLICY.md. Check: `sentinel-tvm policy validate FILE`.".into(),
        "version: \"1\"".into(),
    ];
    let why_none = match account_id {
        None => Some("# No account is saved for it yet (install it first), so no rule names the invokers."),
        Some(_) if admitted.principals.is_empty() => {
            Some("# No invoker role or user is configured (--invoker-role, --invoker-user), so no rule admits anyone.")
        }
        Some(_) if profiles.is_empty() => {
            Some("# No protected profile is configured (--protect), so no rule grants one.")
        }
        Some(_) => None,
    };
    let mut rules = match why_none {
        None => {
            let mut rules = vec![
                "rules:".to_string(),
                "  # The configured invokers (roles: every session; users: by ARN), for at most an hour.".into(),
            ];
            rules.extend(invokers_rule(profiles, &admitted.principals, "  "));
            rules
        }
        Some(why) => vec![
            why.to_string(),
            "# Every request is denied until you add a rule (the smoke test's own rule is added at deploy).".into(),
            "rules: []".into(),
        ],
    };
    for group in &admitted.groups {
        rules.push(format!(
            "  # Group `{group}` is left out: a group never appears in a caller's ARN; name its members."
        ));
    }
    let examples = [
        "  # Examples to adapt:".to_string(),
        "  #  - name: no-contractors".into(),
        "  #    effect: deny".into(),
        "  #    reason: contractors have no production access".into(),
        "  #    conditions:".into(),
        format!("  #      profiles: [{env}-prod]"),
        "  #      principals: [\"arn:aws:sts::111122223333:assumed-role/Contractors/*\"]".into(),
        "  #  - name: ops-office-hours".into(),
        "  #    effect: allow".into(),
        "  #    max_server_duration: 1h".into(),
        "  #    conditions:".into(),
        format!("  #      profiles: [{env}-prod]"),
        "  #      principals: [\"arn:aws:iam::111122223333:user/ops/*\"]".into(),
        "  #      time: {days: [monday, tuesday, wednesday, thursday, friday], hours: {start: \"08:00\", end: \"18:00\"}, timezone: Europe/London}".into(),
    ];
    let mut text = header.into_iter().chain(rules.drain(..)).chain(examples).collect::<Vec<_>>().join("\n");
    text.push('\n');
    text
}

fn invalid(source: &str, error: &PolicyError) -> Fixable {
    let problems: Vec<String> = error
        .problems
        .iter()
        .map(|problem| match problem.line {
            Some(line) => format!("{source}:{line}: {}", problem.message),
            None => format!("{source}: {}", problem.message),
        })
        .collect();
    Fixable::new(
        format!("the policy is not valid:\n  {}", problems.join("\n  ")),
        "fix each line named above (`sentinel-tvm policy validate FILE` checks a policy without deploying anything)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvironmentConfig;
    use crate::settings::{Selection, Sources};

    fn deploy(protect: &[&str]) -> Deploy {
        let flags =
            EnvironmentConfig { protect: Some(protect.iter().map(|p| p.to_string()).collect()), ..Default::default() };
        let selection = Selection { env: Some("main".into()), ..Selection::default() };
        Sources::flags_only(&selection, &flags).resolve().unwrap().settings.deploy
    }

    fn admitted(principals: &[&str], groups: &[&str]) -> Admitted {
        Admitted {
            principals: principals.iter().map(|p| p.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn the_pinned_version_is_the_newest_holding_exactly_the_deployed_text() {
        let ours = "version: \"1\"\nrules: []\n";
        let open = "version: \"1\"\nrules: [{name: open, effect: allow, conditions: {accounts: [\"111122223333\"]}}]\n";
        let v = |version: u64, value: &str| ParameterVersion { version, value: value.into() };
        for (versions, expected) in [
            (vec![v(1, ours)], Some(1)),
            (vec![v(1, "old"), v(2, ours)], Some(2)),
            (vec![v(1, ours), v(2, open)], Some(1)),
            (vec![v(1, ours), v(2, open), v(3, ours)], Some(3)),
            (vec![v(1, open), v(2, &format!("{ours} "))], None),
            (vec![], None),
        ] {
            assert_eq!(version_holding(ours, &versions), expected, "{versions:?}");
        }
    }

    #[test]
    fn warnings_name_the_line_and_rule() {
        let text = "version: \"1\"\nrules:\n  - {name: by-name, effect: deny, conditions: {users: [alice]}}\n";
        let found = text_warnings(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("line 3: rule `by-name`: its only condition on who calls is `users:`"),
            "{found:?}"
        );
        assert!(text_warnings("not: [a policy").is_empty(), "an invalid policy has errors, not warnings");
    }

    const DEVELOPERS: &str = "arn:aws:sts::111122223333:assumed-role/Developers/*";
    const CI_USER: &str = "arn:aws:iam::111122223333:user/ci/deployer";

    fn principal<'a>(arn: &'a str) -> sentinel_tvm_lambda::policy::Principal<'a> {
        let user = arn.rsplit('/').next().unwrap_or_default();
        sentinel_tvm_lambda::policy::Principal { user, arn, account_id: "111122223333" }
    }

    /// Who gets `profile` from `text`: what the Lambda's own `decide` answers in environment
    /// `main` (just now; no time condition is involved).
    fn allowed(text: &str, arn: &str, profile: &str) -> bool {
        use sentinel_tvm_lambda::decide::{self, DecisionSettings, OwnFunction, VendRequest};
        let settings = DecisionSettings {
            environment: "main",
            role_prefix: sentinel_tvm_lambda::settings::DEFAULT_ROLE_PREFIX,
            allowed_accounts: &sentinel_tvm_lambda::identity::AllowedAccounts::Own,
            default_duration_seconds: 900,
            own: OwnFunction { partition: "aws", account_id: "111122223333" },
        };
        let request = VendRequest { principal: principal(arn), profile: Some(profile), duration: None };
        let policy = policy::parse(text).unwrap();
        decide::decide(&settings, &policy, &request, jiff::Timestamp::now()).answer.is_ok()
    }

    #[test]
    fn the_smoke_rule_comes_first_and_grants_only_the_smoke_profile() {
        let starter = starter("main", &deploy(&["prod"]), &admitted(&[DEVELOPERS], &[]));
        let user = UserPolicy { text: starter, source: "starter".into() };
        let text = for_deploy("main", &user, &["arn:aws:iam::111122223333:user/deployer".into()]).unwrap();
        let policy = policy::parse(&text).unwrap();
        assert_eq!(policy.rules[0].name, SMOKE_RULE);
        assert_eq!(policy.rules[0].conditions.profiles.as_deref(), Some(&["main-smoke".to_string()][..]));
        assert_eq!(
            policy.rules[0].conditions.principals.as_deref(),
            Some(&["arn:aws:iam::111122223333:user/deployer".to_string()][..])
        );
        assert_eq!(
            policy.rules[1].conditions.profiles.as_deref(),
            Some(&["main-prod".to_string()][..]),
            "the starter covers the protected profiles"
        );
    }

    /// Threat model T9: the starter names who. Before, it allowed every principal of the
    /// account (`accounts: [<own>]`), administrators included.
    #[test]
    fn the_starter_admits_exactly_the_invokers_and_nobody_else_of_the_account() {
        let deploy = deploy(&["prod", "billing"]);
        let text = starter("main", &deploy, &admitted(&[DEVELOPERS, CI_USER], &[]));
        for (arn, profile, expected) in [
            ("arn:aws:sts::111122223333:assumed-role/Developers/alice", "main-prod", true),
            ("arn:aws:sts::111122223333:assumed-role/Developers/bob", "main-billing", true),
            ("arn:aws:iam::111122223333:user/ci/deployer", "main-prod", true),
            ("arn:aws:iam::111122223333:root", "main-prod", false),
            ("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/alice", "main-prod", false),
            ("arn:aws:sts::111122223333:assumed-role/DevelopersX/alice", "main-prod", false),
            ("arn:aws:iam::111122223333:user/deployer", "main-prod", false),
            ("arn:aws:iam::111122223333:user/ci/deployer2", "main-prod", false),
            ("arn:aws:sts::111122223333:assumed-role/Developers/alice", "main-other", false),
        ] {
            assert_eq!(allowed(&text, arn, profile), expected, "{arn} {profile}\n{text}");
        }
    }

    #[test]
    fn without_invokers_the_starter_grants_nothing_and_says_so() {
        let prod = deploy(&["prod"]);
        for (deploy, admitted) in [
            (&prod, admitted(&[], &[])),
            (&prod, admitted(&[], &["Admins"])),
            (&self::deploy(&[]), admitted(&[DEVELOPERS], &[])),
        ] {
            let text = starter("main", deploy, &admitted);
            assert!(policy::parse(&text).unwrap().rules.is_empty(), "{text}");
            let deployed = for_deploy("main", &UserPolicy { text, source: "s".into() }, &[CI_USER.into()]).unwrap();
            assert!(allowed(&deployed, CI_USER, "main-smoke"), "the smoke rule still holds");
            assert!(!allowed(&deployed, CI_USER, "main-prod"));
            assert!(starter_grants_nothing(deploy, &admitted).unwrap().contains("every request but the smoke test's"));
        }
        assert_eq!(starter_grants_nothing(&prod, &admitted(&[DEVELOPERS], &[])), None);
    }

    #[test]
    fn a_group_is_left_out_with_the_rule_to_write_instead() {
        let warnings = admitted(&[DEVELOPERS], &["Admins", "Ops"]).group_warnings("aws", "111122223333");
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].starts_with("invoker group `Admins` is left out of the starter policy"), "{warnings:?}");
        assert!(
            warnings[1].contains("arn:aws:iam::111122223333:user/<path>/<member>")
                && warnings[1].contains("arn:aws:sts::111122223333:assumed-role/<role>/*")
                && warnings[1].contains("--policy-file"),
            "{warnings:?}"
        );
        let text = starter("main", &deploy(&["prod"]), &admitted(&[DEVELOPERS], &["Admins"]));
        assert!(!text.contains("Admins"), "{text}");
    }

    #[test]
    fn the_commented_starter_is_valid_and_admits_only_the_invokers() {
        let profiles = vec!["main-prod".to_string(), "main-billing".to_string()];
        let invokers = admitted(&[DEVELOPERS, CI_USER], &["Admins"]);
        let with_account = commented_starter("main", Some("111122223333"), &profiles, &invokers);
        let policy = policy::parse(&with_account).unwrap();
        assert_eq!(policy.rules.len(), 1, "{with_account}");
        assert_eq!(policy.rules[0].conditions.profiles.as_deref(), Some(&profiles[..]));
        assert_eq!(policy.rules[0].conditions.principals.as_deref(), Some(&invokers.principals[..]));
        assert_eq!(policy.rules[0].conditions.accounts, None, "not the whole account");
        assert!(with_account.starts_with("# TVM policy for environment `main`"), "{with_account}");
        assert!(with_account.contains("#  - name: ops-office-hours"), "{with_account}");
        assert!(with_account.contains("# Group `Admins` is left out"), "{with_account}");
        for (unknown, why) in [
            (commented_starter("main", None, &profiles, &invokers), "No account is saved"),
            (commented_starter("main", Some("1"), &[], &invokers), "No protected profile"),
            (commented_starter("main", Some("1"), &profiles, &admitted(&[], &[])), "No invoker role or user"),
        ] {
            assert!(policy::parse(&unknown).unwrap().rules.is_empty(), "{unknown}");
            assert!(unknown.contains(why) && unknown.contains("Every request is denied"), "{unknown}");
        }
        // Uncommenting the examples gives a valid policy too.
        let uncommented =
            with_account.replace("  #  - ", "  - ").replace("  #    ", "    ").replace("  #      ", "      ");
        assert_eq!(policy::parse(&uncommented).unwrap().rules.len(), 3, "{uncommented}");
        let deployed = for_deploy(
            "main",
            &UserPolicy { text: with_account, source: "init".into() },
            &["arn:aws:iam::111122223333:user/deployer".into()],
        );
        assert!(deployed.is_ok(), "{deployed:?}");
    }

    #[test]
    fn problems_name_the_file_and_line() {
        let user = UserPolicy {
            text: "version: \"1\"\nrules:\n  - name: a\n    effect: permit\n    conditions: {users: [a]}\n".into(),
            source: "team.yaml".into(),
        };
        let error = for_deploy("main", &user, &["arn:aws:iam::111122223333:user/x".into()]).unwrap_err();
        let fixable = error.downcast_ref::<Fixable>().unwrap();
        assert!(fixable.message.contains("team.yaml:4: rule `a`: effect"), "{}", fixable.message);
    }

    #[test]
    fn the_smoke_rule_name_is_reserved_and_the_size_is_capped() {
        let reserved = UserPolicy {
            text: format!(
                "version: \"1\"\nrules:\n  - {{name: {SMOKE_RULE}, effect: deny, conditions: {{users: [a]}}}}\n"
            ),
            source: "p.yaml".into(),
        };
        assert!(
            for_deploy("main", &reserved, &["arn:aws:iam::111122223333:user/x".into()])
                .unwrap_err()
                .to_string()
                .contains("sentinel-tvm-smoke-test")
        );
        let mut big = String::from("version: \"1\"\nrules:\n");
        for i in 0..60 {
            big.push_str(&format!("  - {{name: rule-{i}, effect: allow, reason: a reason that takes some room, conditions: {{profiles: [p{i}]}}}}\n"));
        }
        let error = for_deploy(
            "main",
            &UserPolicy { text: big, source: "big.yaml".into() },
            &["arn:aws:iam::111122223333:user/x".into()],
        )
        .unwrap_err();
        assert!(error.to_string().contains("at most 4096"), "{error}");
    }
}
