//! The Lambda's environment (CONTRACT.md §9), read once at cold start by a pure function over a lookup,
//! so every rule is table-tested. A malformed variable is an error naming it; the service then
//! answers every request with `CONFIG_ERROR` (fail closed).

use crate::duration::{MAX_SECONDS, MIN_SECONDS};
use crate::identity::{AllowedAccounts, is_account_id};
use crate::policy::pin::{PolicyPin, is_sha256_hex};
use crate::profile::{MAX_ROLE_NAME, is_environment_name};

pub const DEFAULT_ROLE_PREFIX: &str = "SentinelProtected-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `TVM_POLICY_PARAMETER` (or `SENTINEL_POLICY_PARAMETER`), `<name>:<version>`, and
    /// `TVM_POLICY_SHA256`: the one policy version this TVM obeys (threat model T3).
    pub policy: PolicyPin,
    /// `TVM_ROLE_PREFIX`: profile → role name prefix.
    pub role_prefix: String,
    /// `TVM_ENVIRONMENT`: the environment whose roles alone this TVM vends, `<prefix><env>-*`
    /// (threat model T10).
    pub environment: String,
    /// `TVM_ALLOWED_ACCOUNTS`: callers' accounts allowed (default: the function's own).
    pub allowed_accounts: AllowedAccounts,
    /// `TVM_ALLOWED_ORG_ID`: if set, callers' `principalOrgId` must equal it.
    pub allowed_org_id: Option<String>,
    /// `TVM_RATE_LIMIT` per `TVM_RATE_WINDOW_SECONDS`, per caller; 0 disables.
    pub rate_limit: u32,
    pub rate_window_seconds: u32,
    /// `TVM_DEFAULT_DURATION_SECONDS`: when neither request nor rule says.
    pub default_duration_seconds: u32,
    /// `TVM_IDENTITY_PROOF`: `required` (the default) or `off` (legacy clients: the authorizer
    /// context is trusted as it comes).
    pub identity_proof: ProofMode,
    /// `TVM_PROOF_AUDIENCES`: the API ids a caller proof may name (comma-separated); required
    /// with proofs.
    pub proof_audiences: Vec<String>,
    /// `AWS_REGION`: the region a proof's credential scope must name.
    pub region: String,
    /// Where proofs go: the STS endpoint the function's own SDK would use.
    pub sts_endpoint: String,
}

/// Whether a request must carry a caller proof (CONTRACT.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofMode {
    Required,
    Off,
}

/// A variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub variable: &'static str,
    pub problem: String,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "environment variable {} {}", self.variable, self.problem)
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in production). An empty
    /// value counts as unset, so a template can always pass every variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let error = |variable: &'static str, problem: String| SettingsError { variable, problem };

        let policy_parameter =
            get("TVM_POLICY_PARAMETER").or_else(|| get("SENTINEL_POLICY_PARAMETER")).ok_or_else(|| {
                error("TVM_POLICY_PARAMETER", "is required: name the SSM parameter that holds the policy".into())
            })?;
        let policy_sha256 = get("TVM_POLICY_SHA256").ok_or_else(|| {
            error("TVM_POLICY_SHA256", "is required: the SHA-256 of the policy version the TVM obeys".into())
        })?;
        let (name, version) =
            PolicyPin::parse_reference(&policy_parameter).map_err(|problem| error("TVM_POLICY_PARAMETER", problem))?;
        if !is_sha256_hex(&policy_sha256) {
            return Err(error("TVM_POLICY_SHA256", format!("`{policy_sha256}` is not 64 lowercase hex digits")));
        }
        let policy = PolicyPin { name, version, sha256: policy_sha256 };
        let environment = get("TVM_ENVIRONMENT").ok_or_else(|| {
            error("TVM_ENVIRONMENT", "is required: the environment whose roles this TVM vends".into())
        })?;
        if !is_environment_name(&environment) {
            return Err(error(
                "TVM_ENVIRONMENT",
                format!("`{environment}` is not 1-16 of a-z 0-9 starting with a letter"),
            ));
        }

        let role_prefix = get("TVM_ROLE_PREFIX").unwrap_or_else(|| DEFAULT_ROLE_PREFIX.into());
        // The characters a profile may have: a full role ARN is checked segment by segment
        // against the same set, so a prefix outside it could never be asked for by ARN.
        if role_prefix.len() >= MAX_ROLE_NAME
            || !role_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(error("TVM_ROLE_PREFIX", format!("`{role_prefix}` is not 1-63 of A-Z a-z 0-9 _ -")));
        }

        let allowed_org_id = get("TVM_ALLOWED_ORG_ID");
        if let Some(org) = allowed_org_id.as_ref().filter(|org| !is_org_id(org)) {
            return Err(error("TVM_ALLOWED_ORG_ID", format!("`{org}` is not an organization ID like `o-a1b2c3d4e5`")));
        }
        let allowed_accounts = match get("TVM_ALLOWED_ACCOUNTS") {
            None => AllowedAccounts::Own,
            Some(star) if star == "*" => match allowed_org_id {
                Some(_) => AllowedAccounts::Any,
                None => {
                    return Err(error(
                        "TVM_ALLOWED_ACCOUNTS",
                        "is `*`, which needs TVM_ALLOWED_ORG_ID to say which organization".into(),
                    ));
                }
            },
            Some(list) => AllowedAccounts::List(parse_accounts(&list).map_err(|p| error("TVM_ALLOWED_ACCOUNTS", p))?),
        };

        let number = |name: &'static str, default: u32| -> Result<u32, SettingsError> {
            get(name)
                .map_or(Ok(default), |v| v.parse().map_err(|_| error(name, format!("`{v}` is not a whole number"))))
        };
        // Either of them 0 disables the limit (CONTRACT.md §9).
        let rate_window_seconds = number("TVM_RATE_WINDOW_SECONDS", 60)?;
        let rate_limit = if rate_window_seconds == 0 { 0 } else { number("TVM_RATE_LIMIT", 100)? };
        let default_duration_seconds = number("TVM_DEFAULT_DURATION_SECONDS", MIN_SECONDS)?;
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&default_duration_seconds) {
            return Err(error(
                "TVM_DEFAULT_DURATION_SECONDS",
                format!("is {default_duration_seconds}; it must be within {MIN_SECONDS}..={MAX_SECONDS}"),
            ));
        }

        let identity_proof = match get("TVM_IDENTITY_PROOF").as_deref() {
            None | Some("required") => ProofMode::Required,
            Some("off") => ProofMode::Off,
            Some(other) => return Err(error("TVM_IDENTITY_PROOF", format!("is `{other}`, not `required` or `off`"))),
        };
        let proof_audiences: Vec<String> = get("TVM_PROOF_AUDIENCES")
            .map(|list| list.split(',').map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect())
            .unwrap_or_default();
        if let Some(bad) = proof_audiences.iter().find(|a| !is_api_id(a)) {
            return Err(error("TVM_PROOF_AUDIENCES", format!("holds `{bad}`, which is not an API id")));
        }
        if identity_proof == ProofMode::Required && proof_audiences.is_empty() {
            return Err(error("TVM_PROOF_AUDIENCES", "is required while TVM_IDENTITY_PROOF is `required`".into()));
        }
        let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")).unwrap_or_default();
        if identity_proof == ProofMode::Required && region.is_empty() {
            return Err(error("AWS_REGION", "is required to check caller proofs".into()));
        }
        let sts_endpoint = crate::proof::sts_endpoint(get, &region);

        Ok(Settings {
            identity_proof,
            proof_audiences,
            region,
            sts_endpoint,
            policy,
            role_prefix,
            environment,
            allowed_accounts,
            allowed_org_id,
            rate_limit,
            rate_window_seconds,
            default_duration_seconds,
        })
    }
}

fn parse_accounts(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(str::trim)
        .map(|account| {
            is_account_id(account)
                .then(|| account.to_string())
                .ok_or_else(|| format!("holds `{account}`, which is not a 12-digit account ID"))
        })
        .collect()
}

/// An API Gateway API id: 1-32 lowercase letters and digits.
fn is_api_id(text: &str) -> bool {
    (1..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `o-` and 10 to 32 lowercase letters or digits.
fn is_org_id(text: &str) -> bool {
    text.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// What every deployed function has besides the test's own variables (which win).
    const DEPLOYED: [(&str, &str); 2] = [("TVM_PROOF_AUDIENCES", "a1b2c3d4e5"), ("AWS_REGION", "eu-west-2")];
    /// The pin and the environment, which `exactly` adds too.
    const PINNED: [(&str, &str); 2] = [("TVM_POLICY_SHA256", SHA256), ("TVM_ENVIRONMENT", "main")];

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        exactly(&[vars, &DEPLOYED[..]].concat())
    }

    fn exactly(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: Vec<(String, String)> =
            vars.iter().chain(&PINNED).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn proofs_are_required_unless_turned_off_and_need_their_audiences() {
        let read = settings(&[("TVM_POLICY_PARAMETER", "/p:1")]).unwrap();
        assert_eq!(read.identity_proof, ProofMode::Required);
        assert_eq!(read.proof_audiences, ["a1b2c3d4e5"]);
        let off = exactly(&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_IDENTITY_PROOF", "off")]).unwrap();
        assert_eq!((off.identity_proof, off.proof_audiences.len()), (ProofMode::Off, 0));
        for (vars, variable) in [
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("AWS_REGION", "eu-west-2")][..], "TVM_PROOF_AUDIENCES"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_PROOF_AUDIENCES", "a1b2c3d4e5")][..], "AWS_REGION"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_IDENTITY_PROOF", "maybe")][..], "TVM_IDENTITY_PROOF"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_PROOF_AUDIENCES", "a1b2,Bad")][..], "TVM_PROOF_AUDIENCES"),
        ] {
            let vars = if variable == "AWS_REGION" { vars.to_vec() } else { [vars, &DEPLOYED[1..]].concat() };
            assert_eq!(exactly(&vars).map_err(|e| e.variable), Err(variable), "{vars:?}");
        }
    }

    #[test]
    fn proofs_go_to_the_sts_endpoint_the_functions_sdk_would_use() {
        let endpoint = |vars: &[(&str, &str)]| {
            settings(&[&[("TVM_POLICY_PARAMETER", "/p:1")], vars].concat()).unwrap().sts_endpoint
        };
        assert_eq!(endpoint(&[]), "https://sts.eu-west-2.amazonaws.com");
        assert_eq!(endpoint(&[("AWS_REGION", "cn-north-1")]), "https://sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(endpoint(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/")]), "http://127.0.0.1:4566");
        assert_eq!(
            endpoint(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"), ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")]),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn defaults_apply_with_only_the_policy_parameter() {
        assert_eq!(
            settings(&[("TVM_POLICY_PARAMETER", "/sentinel-tvm/main/policy:3")]),
            Ok(Settings {
                policy: PolicyPin { name: "/sentinel-tvm/main/policy".into(), version: 3, sha256: SHA256.into() },
                role_prefix: "SentinelProtected-".into(),
                environment: "main".into(),
                allowed_accounts: AllowedAccounts::Own,
                allowed_org_id: None,
                rate_limit: 100,
                rate_window_seconds: 60,
                default_duration_seconds: 900,
                identity_proof: ProofMode::Required,
                proof_audiences: vec!["a1b2c3d4e5".into()],
                region: "eu-west-2".into(),
                sts_endpoint: "https://sts.eu-west-2.amazonaws.com".into(),
            })
        );
    }

    #[test]
    fn every_variable_is_read() {
        let read = settings(&[
            ("SENTINEL_POLICY_PARAMETER", "/legacy:4"),
            ("TVM_ROLE_PREFIX", "Tvm-"),
            ("TVM_ALLOWED_ACCOUNTS", "111122223333, 444455556666"),
            ("TVM_ALLOWED_ORG_ID", "o-a1b2c3d4e5"),
            ("TVM_RATE_LIMIT", "0"),
            ("TVM_RATE_WINDOW_SECONDS", "10"),
            ("TVM_DEFAULT_DURATION_SECONDS", "3600"),
        ])
        .unwrap();
        assert_eq!((read.policy.name.as_str(), read.policy.version), ("/legacy", 4));
        assert_eq!(read.role_prefix, "Tvm-");
        assert_eq!(read.allowed_accounts, AllowedAccounts::List(vec!["111122223333".into(), "444455556666".into()]));
        assert_eq!(read.allowed_org_id.as_deref(), Some("o-a1b2c3d4e5"));
        assert_eq!((read.rate_limit, read.rate_window_seconds, read.default_duration_seconds), (0, 10, 3600));
    }

    #[test]
    fn the_new_policy_variable_wins_over_the_legacy_one_and_empty_means_unset() {
        let read = settings(&[
            ("TVM_POLICY_PARAMETER", "/new:2"),
            ("SENTINEL_POLICY_PARAMETER", "/old:1"),
            ("TVM_ALLOWED_ACCOUNTS", ""),
            ("TVM_ALLOWED_ORG_ID", " "),
        ])
        .unwrap();
        assert_eq!(read.policy.reference(), "/new:2");
        assert_eq!(read.allowed_accounts, AllowedAccounts::Own);
        assert_eq!(read.allowed_org_id, None);
    }

    #[test]
    fn a_zero_window_disables_the_limit_too() {
        let read =
            settings(&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_RATE_WINDOW_SECONDS", "0"), ("TVM_RATE_LIMIT", "5")])
                .unwrap();
        assert_eq!((read.rate_limit, read.rate_window_seconds), (0, 0));
    }

    #[test]
    fn any_account_needs_an_organization() {
        let with_org = settings(&[
            ("TVM_POLICY_PARAMETER", "/p:1"),
            ("TVM_ALLOWED_ACCOUNTS", "*"),
            ("TVM_ALLOWED_ORG_ID", "o-a1b2c3d4e5"),
        ]);
        assert_eq!(with_org.unwrap().allowed_accounts, AllowedAccounts::Any);
    }

    #[test]
    fn malformed_variables_are_named() {
        for (vars, variable) in [
            (&[][..], "TVM_POLICY_PARAMETER"),
            (&[("TVM_POLICY_PARAMETER", "/p")][..], "TVM_POLICY_PARAMETER"),
            (&[("TVM_POLICY_PARAMETER", "/p:latest")][..], "TVM_POLICY_PARAMETER"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_POLICY_SHA256", "")][..], "TVM_POLICY_SHA256"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_POLICY_SHA256", "abc")][..], "TVM_POLICY_SHA256"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ENVIRONMENT", "")][..], "TVM_ENVIRONMENT"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ENVIRONMENT", "Main")][..], "TVM_ENVIRONMENT"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ENVIRONMENT", "main-eu")][..], "TVM_ENVIRONMENT"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ROLE_PREFIX", "bad prefix")][..], "TVM_ROLE_PREFIX"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ROLE_PREFIX", &"x".repeat(64))][..], "TVM_ROLE_PREFIX"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ALLOWED_ACCOUNTS", "1234")][..], "TVM_ALLOWED_ACCOUNTS"),
            (
                &[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ALLOWED_ACCOUNTS", "111122223333,")][..],
                "TVM_ALLOWED_ACCOUNTS",
            ),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ALLOWED_ACCOUNTS", "*")][..], "TVM_ALLOWED_ACCOUNTS"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ALLOWED_ORG_ID", "org-1")][..], "TVM_ALLOWED_ORG_ID"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_RATE_LIMIT", "-1")][..], "TVM_RATE_LIMIT"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_RATE_LIMIT", "ten")][..], "TVM_RATE_LIMIT"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ROLE_PREFIX", "Sentinel.Protected-")][..], "TVM_ROLE_PREFIX"),
            (&[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_ALLOWED_ORG_ID", "\u{FFFD}")][..], "TVM_ALLOWED_ORG_ID"),
            (
                &[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_DEFAULT_DURATION_SECONDS", "43200")][..],
                "TVM_DEFAULT_DURATION_SECONDS",
            ),
            (
                &[("TVM_POLICY_PARAMETER", "/p:1"), ("TVM_DEFAULT_DURATION_SECONDS", "899")][..],
                "TVM_DEFAULT_DURATION_SECONDS",
            ),
        ] {
            let error = settings(vars).expect_err(variable);
            assert_eq!(error.variable, variable, "{error}");
            assert!(error.to_string().starts_with(&format!("environment variable {variable} ")), "{error}");
        }
    }
}
