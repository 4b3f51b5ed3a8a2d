//! Every identifier rule and every physical name, once. What a valid environment name, account
//! ID, region, role prefix, profile or SCP target looks like; and what each resource of an
//! environment is called (stacks, function, bucket, roles, log groups, parameter, users).
//!
//! Where the Lambda has the same rule, this module calls the Lambda crate's (one definition for
//! installer and TVM alike). Pure: no AWS, no output. The templates in `stacks/` spell the same
//! names; a test in `deploy::stacks` renders each template and checks them against this module.

use sentinel_tvm_lambda::{identity, profile};

/// The profile of the role the installer always deploys for the smoke test.
pub const SMOKE_PROFILE: &str = "smoke";
/// The role-name prefix protected roles get unless configured otherwise (the TVM's own default).
pub const DEFAULT_ROLE_PREFIX: &str = sentinel_tvm_lambda::settings::DEFAULT_ROLE_PREFIX;
/// IAM's limit on a role name.
pub const MAX_ROLE_NAME: usize = profile::MAX_ROLE_NAME;
/// A protected profile is part of a stack name; 24 leaves room for the rest of it.
pub const MAX_PROTECTED_PROFILE: usize = 24;
/// A role prefix leaves room in IAM's 64 characters for the environment and the profile.
pub const MAX_ROLE_PREFIX: usize = 40;

/// 12 digits.
pub fn is_account_id(text: &str) -> bool {
    identity::is_account_id(text)
}

/// `o-` and 10-32 of a-z 0-9.
pub fn is_org_id(text: &str) -> bool {
    text.strip_prefix("o-").is_some_and(|rest| (10..=32).contains(&rest.len()) && is_lower_alnum(rest))
}

/// An SCP target as AWS Organizations spells it: a root `r-[0-9a-z]{4,32}`, an OU
/// `ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}`, or an account (12 digits). One rule for the config file,
/// the flags, the wizard and the pre-flight.
pub fn is_scp_target(id: &str) -> bool {
    let word = |s: &str, min: usize, max: usize| (min..=max).contains(&s.len()) && is_lower_alnum(s);
    if let Some(rest) = id.strip_prefix("r-") {
        word(rest, 4, 32)
    } else if let Some(rest) = id.strip_prefix("ou-") {
        rest.split_once('-').is_some_and(|(root, ou)| word(root, 4, 32) && word(ou, 8, 32))
    } else {
        is_account_id(id)
    }
}

/// 127.0.0.0/8, ::1 (with or without brackets) or `localhost`: this machine, where only an
/// emulator answers for AWS.
pub fn is_loopback_host(host: &str) -> bool {
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `endpoint_url` (`--endpoint-url`, `AWS_ENDPOINT_URL`) is an emulator on this machine.
pub fn is_emulator_endpoint(endpoint_url: Option<&str>) -> bool {
    endpoint_url
        .and_then(|url| url.parse::<http::Uri>().ok())
        .is_some_and(|uri| uri.host().is_some_and(is_loopback_host))
}

/// A region name like `eu-west-2` or `us-gov-west-1`.
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let letters = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    match parts.as_slice() {
        [area, rest @ .., number] if !rest.is_empty() && rest.len() <= 2 => {
            area.len() == 2
                && letters(area)
                && rest.iter().all(letters)
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// 1-16 of a-z 0-9, starting with a letter. It goes into bucket, role, function and stack names,
/// each followed by `-`: without a hyphen of its own, no environment's names (or IAM patterns
/// like `role/<prefix><env>-*`) can reach into another's (`main-*` would cover `main-eu-*`).
pub fn is_env_name(env: &str) -> bool {
    profile::is_environment_name(env)
}

/// 1-40 of the characters the TVM accepts in role names (`A-Z a-z 0-9 _ -`): the TVM resolves
/// profiles to roles by this prefix.
pub fn is_role_prefix(prefix: &str) -> bool {
    (1..=MAX_ROLE_PREFIX).contains(&prefix.len()) && profile::is_profile_name(prefix)
}

/// A profile the installer protects: a profile name the TVM accepts, without `_` (it is part of a
/// stack name, and CloudFormation allows only letters, digits and `-`), at most 24 long.
pub fn is_protected_profile(name: &str) -> bool {
    name.len() <= MAX_PROTECTED_PROFILE && profile::is_profile_name(name) && !name.contains('_')
}

/// `arn:<partition>:iam::<12 digits or *>:role/<name>`.
pub fn is_role_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            partition.starts_with("aws")
                && (*account == "*" || is_account_id(account))
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
                && !text.contains(char::is_whitespace)
        }
        _ => false,
    }
}

/// A deployer or break-glass entry: the ARN of an IAM role (`role/<path><name>`), an IAM user
/// (`user/<path><name>`) or an account's root (`root`), in one 12-digit account, with at most
/// one `*`, and only as the very last character after at least one character of the name
/// (`role/BreakGlass*`). What the SCP exempts must be a fixed, named set: `arn:aws:iam::*:role/*`
/// (every role everywhere) or a `*` in the middle would exempt principals nobody chose. `?` is
/// refused for the same reason. `roles_only` (break-glass) refuses users and the root.
pub fn is_exempt_principal(text: &str, roles_only: bool) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts.as_slice() else {
        return false;
    };
    if !partition.starts_with("aws") || !is_account_id(account) || text.contains(char::is_whitespace) {
        return false;
    }
    if text.contains('?') || text.trim_end_matches('*').contains('*') || text.ends_with("**") {
        return false;
    }
    if *resource == "root" {
        return !roles_only;
    }
    let kind_and_name = if roles_only {
        resource.strip_prefix("role/")
    } else {
        resource.strip_prefix("role/").or_else(|| resource.strip_prefix("user/"))
    };
    // A fixed part of the name before any `*`: `role/*` or `role/ops/*` names no one in particular.
    kind_and_name
        .map(|path_and_name| path_and_name.trim_end_matches('*'))
        .is_some_and(|fixed| !fixed.is_empty() && !fixed.ends_with('/'))
}

/// The `principals:` pattern every session of the role `role` matches as a caller:
/// `arn:<partition>:sts::<account>:assumed-role/<role>/*`. A role's path never appears in the
/// ARN of its sessions.
pub fn role_sessions_pattern(partition: &str, account_id: &str, role: &str) -> String {
    format!("arn:{partition}:sts::{account_id}:assumed-role/{role}/*")
}

/// An IAM user's ARN, as the user's calls carry it: `arn:<partition>:iam::<account>:user/<path><name>`,
/// the path as IAM reports it (`/`, `/ci/`).
pub fn user_arn(partition: &str, account_id: &str, path: &str, user: &str) -> String {
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() || path.ends_with('/') { path.to_string() } else { format!("{path}/") };
    format!("arn:{partition}:iam::{account_id}:user/{path}{user}")
}

/// The partition a region belongs to (`cn-north-1` → `aws-cn`), for when no ARN says it.
pub fn partition_of_region(region: &str) -> &'static str {
    match region {
        r if r.starts_with("cn-") => "aws-cn",
        r if r.starts_with("us-gov-") => "aws-us-gov",
        r if r.starts_with("us-isob-") => "aws-iso-b",
        r if r.starts_with("us-iso-") => "aws-iso",
        _ => "aws",
    }
}

fn is_lower_alnum(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The tags every stack of an environment carries: which environment, which sentinel-tvm
/// version deployed it, and the SHA-256 of its template (what makes a no-op upgrade skip it).
pub const TAG_ENV: &str = "sentinel-tvm:env";
pub const TAG_VERSION: &str = "sentinel-tvm:version";
pub const TAG_TEMPLATE_SHA256: &str = "sentinel-tvm:template-sha256";

/// Whether resource tags (key, value) carry `sentinel-tvm:env: <env>`: what makes a resource
/// outside a stack (the smoke test's client user) this environment's to touch.
pub fn is_tagged_for<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>, env: &str) -> bool {
    tags.into_iter().any(|(key, value)| key == TAG_ENV && value == env)
}

/// `sentinel-tvm-<env>-`: the start of every stack name of an environment.
pub fn stack_prefix(env: &str) -> String {
    format!("sentinel-tvm-{env}-")
}

/// The tag every guardrail stack (and its policy) carries: the account of the TVM it guards.
/// Several TVM accounts may share one management account, and environment names (the default is
/// `main`) do not tell them apart (threat model T11).
pub const TAG_TVM_ACCOUNT: &str = "sentinel-tvm:tvm-account";

/// The organization policies an environment may deploy: each its own stack in the management
/// account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Guardrail {
    /// The Service Control Policy: limits the organization's own principals.
    Scp,
    /// The Resource Control Policy: limits access to the protected roles from anyone, outside
    /// the organization too.
    Rcp,
}

impl Guardrail {
    /// `scp` or `rcp`: in stack and policy names, and `scp show --kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Guardrail::Scp => "scp",
            Guardrail::Rcp => "rcp",
        }
    }
}

/// The name of the organization policy an environment of the TVM in `tvm_account` deploys:
/// `sentinel-tvm-<env>-<account>-protect-roles` (SCP) or `…-protect-roles-rcp` (RCP).
pub fn guardrail_policy_name(env: &str, tvm_account: &str, kind: Guardrail) -> String {
    match kind {
        Guardrail::Scp => format!("sentinel-tvm-{env}-{tvm_account}-protect-roles"),
        Guardrail::Rcp => format!("sentinel-tvm-{env}-{tvm_account}-protect-roles-rcp"),
    }
}

/// The name the SCP had before it carried the TVM's account (sentinel-tvm 0.1): any TVM account
/// with environment `env` would have made the same one. Only ever read, to migrate or leave alone.
pub fn legacy_scp_policy_name(env: &str) -> String {
    format!("sentinel-tvm-{env}-protect-roles")
}

/// The temporary IAM user `smoke-test --as-client` creates (and the smoke rule admits): a fixed
/// name, so the deployed policy does not change from run to run.
pub fn client_user_name(env: &str) -> String {
    format!("sentinel-tvm-{env}-smoke-client")
}

/// A protected role's name: `<prefix><env>-<profile>`.
pub fn protected_role_name(role_prefix: &str, env: &str, profile: &str) -> String {
    profile::role_name(&format!("{role_prefix}{env}-"), profile)
}

/// The environment an execution role serves, from its name (`sentinel-tvm-<env>-execution`,
/// `Names::execution_role`); `None` for any other role.
pub fn env_of_execution_role(role_name: &str) -> Option<&str> {
    let env = role_name.strip_prefix("sentinel-tvm-")?.strip_suffix("-execution")?;
    is_env_name(env).then_some(env)
}

/// The execution role's inline policy that names the roles it may assume (`execution-role.yaml`).
pub const VEND_POLICY: &str = "vend-protected-roles";

/// The physical names an environment's stacks create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub env: String,
    pub role_prefix: String,
    pub account_id: String,
    pub region: String,
}

impl Names {
    pub fn function(&self) -> String {
        format!("sentinel-tvm-{}", self.env)
    }
    pub fn api(&self) -> String {
        self.function()
    }
    /// The function's decision log, then the API's access log.
    pub fn log_groups(&self) -> [String; 2] {
        [format!("/aws/lambda/sentinel-tvm-{}", self.env), format!("/aws/http-api/sentinel-tvm-{}", self.env)]
    }
    pub fn bucket(&self) -> String {
        format!("sentinel-tvm-{}-{}-{}", self.env, self.account_id, self.region)
    }
    pub fn parameter_path(&self) -> String {
        format!("/sentinel-tvm/{}/", self.env)
    }
    pub fn policy_parameter(&self) -> String {
        format!("{}policy", self.parameter_path())
    }
    pub fn execution_role(&self) -> String {
        format!("sentinel-tvm-{}-execution", self.env)
    }
    pub fn client_policy(&self) -> String {
        format!("sentinel-tvm-{}-invoke", self.env)
    }
    /// The DynamoDB table of spent caller proofs (threat model T17: a proof is used once across
    /// the function's instances).
    pub fn spent_proofs_table(&self) -> String {
        format!("sentinel-tvm-{}-spent-proofs", self.env)
    }
    /// Not from a stack: `smoke-test --as-client` makes it, and an interrupted run leaves it.
    pub fn smoke_client_user(&self) -> String {
        client_user_name(&self.env)
    }
    /// `<prefix><env>-`: every protected role's name starts with it.
    pub fn protected_role_prefix(&self) -> String {
        format!("{}{}-", self.role_prefix, self.env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_roles_name_their_environment() {
        let names = Names {
            env: "main".into(),
            role_prefix: "SentinelProtected-".into(),
            account_id: "111122223333".into(),
            region: "eu-west-2".into(),
        };
        assert_eq!(env_of_execution_role(&names.execution_role()), Some("main"));
        for other in ["sentinel-tvm-main-invoke", "sentinel-tvm--execution", "sentinel-tvm-a-b-execution", "Admin"] {
            assert_eq!(env_of_execution_role(other), None, "{other}");
        }
        let template = include_str!("../stacks/execution-role.yaml");
        assert!(template.contains(&format!("        - PolicyName: {VEND_POLICY}\n")), "{template}");
    }

    #[test]
    fn only_this_machine_counts_as_an_emulator() {
        for (url, emulator) in [
            (Some("http://127.0.0.1:4566"), true),
            (Some("http://localhost:4566/"), true),
            (Some("http://[::1]:4566"), true),
            (Some("http://127.0.0.1.example.com:4566"), false),
            (Some("https://cloudformation.eu-west-2.amazonaws.com"), false),
            (Some("http://emulator.example.com:4566"), false),
            (Some("not a url"), false),
            (None, false),
        ] {
            assert_eq!(is_emulator_endpoint(url), emulator, "{url:?}");
        }
    }

    #[test]
    fn target_ids_by_shape() {
        for (id, valid) in [
            ("r-ab12", true),
            ("r-0123456789abcdefghijklmnopqrstuv", true),
            ("r-ab1", false),
            ("r-AB12", false),
            ("r-", false),
            ("ou-ab12-cdef3456", true),
            ("ou-ab12-cdef345", false),
            ("ou-ab1-cdef3456", false),
            ("ou-ab12", false),
            ("ou-ab12-cdef3456-x", false),
            ("ou-ab12-CDEF3456", false),
            ("111122223333", true),
            ("11112222333", false),
            ("1111222233334", false),
            ("11112222333a", false),
            ("", false),
            ("Workloads", false),
        ] {
            assert_eq!(is_scp_target(id), valid, "{id}");
        }
    }

    #[test]
    fn regions_look_like_regions() {
        for good in ["eu-west-2", "us-east-1", "us-gov-west-1", "cn-north-1", "ap-southeast-5", "il-central-1"] {
            assert!(is_region(good), "{good}");
        }
        for bad in ["", "eu", "eu-west", "EU-WEST-2", "eu-west-2a", "europe-west-2", "eu--2", "eu-west-2-"] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn environment_names_have_no_hyphen_and_start_with_a_letter() {
        for good in ["main", "a", "prod2", "abcdefghijklmnop"] {
            assert!(is_env_name(good), "{good}");
        }
        for bad in ["", "2prod", "main-eu", "Main", "abcdefghijklmnopq", "ma_in"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn prefixes_and_profiles_use_the_tvms_characters() {
        assert!(is_role_prefix("SentinelProtected-") && is_role_prefix("a_b-"));
        assert!(!is_role_prefix("") && !is_role_prefix("Sentinel.Protected-") && !is_role_prefix(&"x".repeat(41)));
        assert!(is_protected_profile("prod") && is_protected_profile("read-only"));
        assert!(
            !is_protected_profile("read_only") && !is_protected_profile("") && !is_protected_profile(&"p".repeat(25))
        );
    }

    #[test]
    fn break_glass_entries_must_be_role_arns() {
        for good in [
            "arn:aws:iam::111122223333:role/BreakGlass",
            "arn:aws:iam::*:role/BreakGlass*",
            "arn:aws-cn:iam::111122223333:role/ops/BreakGlass",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "BreakGlass",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:sts::111122223333:assumed-role/BreakGlass/x",
            "arn:aws:iam::1:role/x",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a b",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn deployers_and_break_glass_name_principals_with_at_most_a_trailing_star() {
        for (entry, deployer, break_glass) in [
            ("arn:aws:iam::111122223333:role/BreakGlass", true, true),
            ("arn:aws:iam::111122223333:role/BreakGlass*", true, true),
            (
                "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-2/AWSReservedSSO_Admin_0123abcd",
                true,
                true,
            ),
            ("arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_*", true, true),
            ("arn:aws-cn:iam::111122223333:role/ops/BreakGlass", true, true),
            ("arn:aws:iam::111122223333:user/ci/deployer", true, false),
            ("arn:aws:iam::111122223333:root", true, false),
            // What break-glass accepted before: every role of every account.
            ("arn:aws:iam::*:role/*", false, false),
            ("arn:aws:iam::*:role/BreakGlass", false, false),
            ("arn:aws:iam::111122223333:role/*", false, false),
            ("arn:aws:iam::111122223333:role/ops/*", false, false),
            ("arn:aws:iam::111122223333:role/*Admin", false, false),
            ("arn:aws:iam::111122223333:role/Break*Glass*", false, false),
            ("arn:aws:iam::111122223333:role/BreakGlass**", false, false),
            ("arn:aws:iam::111122223333:role/BreakGlas?", false, false),
            ("arn:aws:iam::111122223333:*", false, false),
            ("arn:aws:sts::111122223333:assumed-role/Admin/alice", false, false),
            ("arn:aws:iam::1111:role/Admin", false, false),
            ("BreakGlass", false, false),
            ("arn:aws:iam::111122223333:role/a b", false, false),
        ] {
            assert_eq!(is_exempt_principal(entry, false), deployer, "as a deployer: {entry}");
            assert_eq!(is_exempt_principal(entry, true), break_glass, "as break glass: {entry}");
        }
    }

    #[test]
    fn guardrail_names_carry_the_tvm_account() {
        assert_eq!(
            guardrail_policy_name("main", "111122223333", Guardrail::Scp),
            "sentinel-tvm-main-111122223333-protect-roles"
        );
        assert_eq!(
            guardrail_policy_name("main", "111122223333", Guardrail::Rcp),
            "sentinel-tvm-main-111122223333-protect-roles-rcp"
        );
        assert_ne!(
            guardrail_policy_name("main", "111122223333", Guardrail::Scp),
            guardrail_policy_name("main", "444455556666", Guardrail::Scp),
            "two TVM accounts with one environment name"
        );
        assert_eq!(legacy_scp_policy_name("main"), "sentinel-tvm-main-protect-roles");
    }

    #[test]
    fn callers_arns_by_kind() {
        assert_eq!(
            role_sessions_pattern("aws", "111122223333", "Developers"),
            "arn:aws:sts::111122223333:assumed-role/Developers/*"
        );
        for (path, arn) in [
            ("/", "arn:aws-cn:iam::111122223333:user/alice"),
            ("", "arn:aws-cn:iam::111122223333:user/alice"),
            ("/ci/", "arn:aws-cn:iam::111122223333:user/ci/alice"),
            ("/ci/eu/", "arn:aws-cn:iam::111122223333:user/ci/eu/alice"),
            ("/ci", "arn:aws-cn:iam::111122223333:user/ci/alice"),
        ] {
            assert_eq!(user_arn("aws-cn", "111122223333", path, "alice"), arn, "{path:?}");
        }
        for (region, partition) in [
            ("eu-west-2", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("us-east-1", "aws"),
        ] {
            assert_eq!(partition_of_region(region), partition, "{region}");
        }
    }

    #[test]
    fn only_the_environment_tag_with_this_environment_counts() {
        for (tags, ours) in [
            (vec![(TAG_ENV, "main")], true),
            (vec![("team", "ops"), (TAG_ENV, "main")], true),
            (vec![(TAG_ENV, "mainx")], false),
            (vec![(TAG_ENV, "")], false),
            (vec![("sentinel-tvm:Env", "main")], false),
            (vec![("owner", "main")], false),
            (vec![], false),
        ] {
            assert_eq!(is_tagged_for(tags.clone(), "main"), ours, "{tags:?}");
        }
    }

    #[test]
    fn the_default_prefix_is_the_tvms() {
        assert_eq!(DEFAULT_ROLE_PREFIX, "SentinelProtected-");
        assert_eq!(protected_role_name(DEFAULT_ROLE_PREFIX, "main", "app"), "SentinelProtected-main-app");
    }
}
