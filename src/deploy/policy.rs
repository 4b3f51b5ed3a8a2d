//! The policy the installer deploys: the user's file (or a generated starter), validated with
//! the Lambda's own parser, with the smoke-test rule put first. Problems name the file and line;
//! nothing invalid ever reaches the policy stack.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sentinel_tvm_lambda::policy::{self, PolicyError};

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

/// Reads `--policy-file`, or generates the starter policy.
pub fn user_policy(env: &str, account_id: &str, deploy: &Deploy) -> Result<UserPolicy> {
    match &deploy.policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the policy file `{}`", path.display()))?;
            Ok(UserPolicy { text, source: path.display().to_string() })
        }
        None => {
            Ok(UserPolicy { text: starter(env, account_id, deploy), source: "the generated starter policy".into() })
        }
    }
}

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

/// Lets the smoke test's principals (and nobody else) have the smoke profile.
pub fn smoke_rule(env: &str, principals: &[String]) -> String {
    let principals: Vec<String> =
        principals.iter().map(|p| serde_json::to_string(p).expect("strings serialize")).collect();
    format!(
        "- name: {SMOKE_RULE}\n  effect: allow\n  reason: sentinel-tvm smoke test\n  max_server_duration: 15m\n  conditions:\n    profiles: [\"{env}-{SMOKE_PROFILE}\"]\n    principals: [{}]\n",
        principals.join(", ")
    )
}

/// A starting point when no policy file is given: principals of this account (that also hold
/// the client policy, or they could not call the TVM at all) may have each protected profile.
pub fn starter(env: &str, account_id: &str, deploy: &Deploy) -> String {
    let profiles: Vec<String> =
        deploy.protected.iter().filter(|p| p.name != SMOKE_PROFILE).map(|p| format!("{env}-{}", p.name)).collect();
    let mut text = String::from("version: \"1\"\nrules:");
    if profiles.is_empty() {
        text.push_str(" []\n");
        return text;
    }
    text.push_str(&format!(
        "\n  - name: account-principals\n    effect: allow\n    reason: principals of this account that hold the client policy\n    max_server_duration: 1h\n    conditions:\n      profiles: [{}]\n      accounts: [\"{account_id}\"]\n",
        profiles.join(", ")
    ));
    text
}

/// `policy init`: the starter policy for `env` with comments that explain the format and
/// examples to adapt. Without a known account no rule is active (every request is denied until
/// one is added): a guessed account would grant nothing, or the wrong thing. Comments count
/// toward the deployed policy's 4096 bytes, so they are brief.
pub fn commented_starter(env: &str, account_id: Option<&str>, profiles: &[String]) -> String {
    let header = [
        format!("# TVM policy for environment `{env}`: which callers get which protected profiles."),
        "# Rules are read top to bottom; the first whose conditions all match decides; no match".into(),
        "# denies. Format: docs/POLICY.md. Check: `sentinel-tvm policy validate FILE`.".into(),
        "version: \"1\"".into(),
    ];
    let rules = match account_id {
        Some(account) if !profiles.is_empty() => vec![
            "rules:".to_string(),
            "  # Principals of this account that hold the client policy, for at most an hour.".into(),
            "  - name: account-principals".into(),
            "    effect: allow".into(),
            "    reason: principals of this account that hold the client policy".into(),
            "    max_server_duration: 1h".into(),
            "    conditions:".into(),
            format!("      profiles: [{}]", profiles.join(", ")),
            format!("      accounts: [\"{account}\"]"),
        ],
        _ => vec!["# No rule is active yet: every request is denied until you add one.".into(), "rules: []".into()],
    };
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
        "  #      users: [alice, bob]".into(),
        "  #      time: {days: [monday, tuesday, wednesday, thursday, friday], hours: {start: \"08:00\", end: \"18:00\"}, timezone: Europe/London}".into(),
    ];
    let mut text = header.into_iter().chain(rules).chain(examples).collect::<Vec<_>>().join("\n");
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
        Sources::flags_only(&selection, &flags).resolve().unwrap().0.deploy
    }

    #[test]
    fn the_smoke_rule_comes_first_and_grants_only_the_smoke_profile() {
        let user = UserPolicy { text: starter("main", "111122223333", &deploy(&["prod"])), source: "starter".into() };
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

    #[test]
    fn a_starter_without_protected_profiles_has_no_rules_of_its_own() {
        let text = starter("main", "111122223333", &deploy(&[]));
        assert!(policy::parse(&text).unwrap().rules.is_empty());
    }

    #[test]
    fn the_commented_starter_is_valid_and_grants_only_with_a_known_account() {
        let profiles = vec!["main-prod".to_string(), "main-billing".to_string()];
        let with_account = commented_starter("main", Some("111122223333"), &profiles);
        let policy = policy::parse(&with_account).unwrap();
        assert_eq!(policy.rules.len(), 1, "{with_account}");
        assert_eq!(policy.rules[0].conditions.profiles.as_deref(), Some(&profiles[..]));
        assert!(with_account.starts_with("# TVM policy for environment `main`"), "{with_account}");
        assert!(with_account.contains("#  - name: ops-office-hours"), "{with_account}");
        for unknown in [commented_starter("main", None, &profiles), commented_starter("main", Some("1"), &[])] {
            assert!(policy::parse(&unknown).unwrap().rules.is_empty(), "{unknown}");
            assert!(unknown.contains("every request is denied"), "{unknown}");
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
        let error = for_deploy("main", &user, &["arn:aws:iam::1:user/x".into()]).unwrap_err();
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
            for_deploy("main", &reserved, &["arn:aws:iam::1:user/x".into()])
                .unwrap_err()
                .to_string()
                .contains("sentinel-tvm-smoke-test")
        );
        let mut big = String::from("version: \"1\"\nrules:\n");
        for i in 0..60 {
            big.push_str(&format!("  - {{name: rule-{i}, effect: allow, reason: a reason that takes some room, conditions: {{profiles: [p{i}]}}}}\n"));
        }
        let error =
            for_deploy("main", &UserPolicy { text: big, source: "big.yaml".into() }, &["arn:aws:iam::1:user/x".into()])
                .unwrap_err();
        assert!(error.to_string().contains("at most 4096"), "{error}");
    }
}
