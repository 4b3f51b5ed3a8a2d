//! The user's AWS config file (`~/.aws/config`) as text: what its `default` profile holds
//! (`default_profile`, for `exec`), whose credentials come from sentinel-tvm itself
//! (`runs_sentinel_tvm`), and the profiles `profiles --write-config` writes (`write_profiles`):
//! one section per profile the TVM would vend, a `credential_process` line and a `region =` line
//! each. Every other section, key, comment and line ending is left exactly as it was.
//!
//! Pure: text in, text out. Where the file is, reading it and writing it are the command's.

use std::path::PathBuf;

use crate::error::Fixable;
use crate::tvm::http::signing_region;

/// Keys that make a profile a source of credentials.
pub const CREDENTIAL_KEYS: [&str; 14] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "credential_process",
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
    "login_session",
];

/// Where SDKs read one of their files: `variable`'s value (`AWS_CONFIG_FILE`,
/// `AWS_SHARED_CREDENTIALS_FILE`; a leading `~/` is the home directory), else `~/.aws/<name>`.
/// `None` without a home directory to find it in.
pub fn file_path(variable: Option<String>, home: Option<PathBuf>, name: &str) -> Option<PathBuf> {
    match variable.filter(|path| !path.is_empty()) {
        Some(path) if path.starts_with("~/") => Some(home?.join(&path[2..])),
        Some(path) => Some(PathBuf::from(path)),
        None => Some(home?.join(".aws").join(name)),
    }
}

/// The profile written lines sign with: `--base-profile`, else the one this run signed with
/// (`signed_with`), else `default` when this run took it from there (no keys exported, and the
/// files define it). Exported keys, instance roles and the like cannot be named in a line.
pub fn base_profile(
    given: Option<&str>,
    signed_with: Option<&str>,
    keys_exported: bool,
    default_defined: bool,
) -> Result<String, Fixable> {
    match (given.or(signed_with), keys_exported, default_defined) {
        (Some(name), _, _) => Ok(name.to_string()),
        (None, false, true) => Ok("default".to_string()),
        _ => Err(Fixable::new(
            "this run signs with credentials no profile names (exported keys, or an instance or container role), which a `credential_process` line cannot point at",
            "name the profile the written lines should sign with: `--base-profile NAME` (your SSO or keys profile)",
        )),
    }
}

/// Refuses a base profile that would make a written line call itself: one of the profiles being
/// written, or one whose way to its credentials runs sentinel-tvm (`runs_sentinel_tvm`).
pub fn check_base(base: &str, written: &[String], config: &str, credentials: &str) -> Result<(), Fixable> {
    let hint = "sign with a profile whose credentials come from elsewhere (SSO, keys, a role): `--base-profile NAME`";
    if written.iter().any(|name| name == base) {
        return Err(Fixable::new(
            format!("the base profile `{base}` is one of the profiles being written: each line would call itself"),
            hint,
        ));
    }
    match runs_sentinel_tvm(config, credentials, base) {
        Some(culprit) => Err(Fixable::new(
            format!(
                "the base profile `{base}` gets its credentials from sentinel-tvm (through `{culprit}`): the written lines would call sentinel-tvm inside sentinel-tvm"
            ),
            hint,
        )),
        None => Ok(()),
    }
}

/// One `[section]` of the file.
#[derive(Debug)]
struct Section {
    /// The header's words joined by one space: `profile main-prod`, `default`, `sso-session corp`.
    name: String,
    /// The header's line index.
    header: usize,
    /// One past its last line: the next header's index, or the number of lines.
    end: usize,
    /// Its own settings, in file order: the key (lowercase), the value, the line's index. Comments
    /// and indented lines (a nested setting's: `s3 =` then `  addressing_style = path`) are not.
    settings: Vec<(String, String, usize)>,
}

impl Section {
    fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.settings.iter().filter(move |(k, _, _)| k == key).map(|(_, v, _)| v.as_str())
    }
}

/// The file's lines, each with its line ending.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The sections of `lines`; what comes before the first header belongs to none.
fn sections(lines: &[&str]) -> Vec<Section> {
    let mut found: Vec<Section> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if let Some(last) = found.last_mut() {
                last.end = index;
            }
            let name = header.split_whitespace().collect::<Vec<_>>().join(" ");
            found.push(Section { name, header: index, end: lines.len(), settings: Vec::new() });
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) || line.starts_with([' ', '\t']) {
            continue;
        }
        if let (Some(section), Some((key, value))) = (found.last_mut(), trimmed.split_once('=')) {
            section.settings.push((key.trim().to_ascii_lowercase(), value.trim().to_string(), index));
        }
    }
    found
}

/// The config file's section for profile `name`: `[profile NAME]`, or `[default]` too for `default`.
fn is_profile(section: &Section, name: &str) -> bool {
    section.name == format!("profile {name}") || (name == "default" && section.name == "default")
}

/// What the `default` profile of a config file holds that matters to `exec`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DefaultProfile {
    /// Its credential keys (lowercase), in file order.
    pub credential_keys: Vec<String>,
    pub region: Option<String>,
}

/// Reads `[default]` and `[profile default]` of an AWS config file.
pub fn default_profile(config: &str) -> DefaultProfile {
    let mut profile = DefaultProfile::default();
    for section in sections(&lines(config)).iter().filter(|s| is_profile(s, "default")) {
        for (key, value, _) in &section.settings {
            if CREDENTIAL_KEYS.contains(&key.as_str()) && !profile.credential_keys.contains(key) {
                profile.credential_keys.push(key.clone());
            } else if key == "region" && !value.is_empty() {
                profile.region = Some(value.clone());
            }
        }
    }
    profile
}

/// Whether a `credential_process` command runs sentinel-tvm: its program's file name says so.
fn command_runs_sentinel_tvm(command: &str) -> bool {
    program(command).rsplit('/').next().is_some_and(|name| name.starts_with("sentinel-tvm"))
}

/// A command's first word as a POSIX shell reads it: quotes (`'…'`, `"…"`, as `quote` writes
/// them) and backslashes removed, up to the first unquoted blank.
fn program(command: &str) -> String {
    let mut word = String::new();
    let mut chars = command.trim_start().chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => word.extend(chars.by_ref().take_while(|c| *c != '\'')),
            '"' => word.extend(chars.by_ref().take_while(|c| *c != '"')),
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => break,
            c => word.push(c),
        }
    }
    word
}

/// The profile on `base`'s way to its credentials (itself, then each `source_profile`) whose
/// `credential_process` runs sentinel-tvm, if one does: signing with `base` would start
/// sentinel-tvm inside sentinel-tvm. `config` is the config file's text, `credentials` the
/// credentials file's (`[NAME]` sections there).
pub fn runs_sentinel_tvm(config: &str, credentials: &str, base: &str) -> Option<String> {
    let (config, credentials) = (sections(&lines(config)), sections(&lines(credentials)));
    let mut seen: Vec<String> = Vec::new();
    let mut name = base.to_string();
    while !seen.contains(&name) {
        let own = config.iter().filter(|s| is_profile(s, &name)).chain(credentials.iter().filter(|s| s.name == name));
        let own: Vec<&Section> = own.collect();
        if own.iter().flat_map(|s| s.values("credential_process")).any(command_runs_sentinel_tvm) {
            return Some(name);
        }
        seen.push(name);
        match own.iter().find_map(|s| s.values("source_profile").next()) {
            Some(next) => name = next.to_string(),
            None => break,
        }
    }
    None
}

/// A profile `profiles --write-config` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvmProfile {
    /// The TVM's profile name, which is also the AWS profile's.
    pub name: String,
    /// The whole `credential_process` command (`credential_process_command`).
    pub credential_process: String,
    pub region: String,
}

impl TvmProfile {
    /// Its lines, in the order they are written.
    fn settings(&self) -> [(&'static str, &str); 2] {
        [("credential_process", &self.credential_process), ("region", &self.region)]
    }
}

/// The flags a written line needs, besides `--endpoint`, for the client to know the TVM's region:
/// none where the endpoint names it (`https://<api-id>.execute-api.<region>.<suffix>/`),
/// `--region` for the emulator's path form, which does not.
///
/// The seam with the endpoint grammar (threat model T18): what an endpoint names is asked of
/// `tvm::http::signing_region` here and nowhere else in this module. Every endpoint a client
/// reaches today names its API id (`tvm::proof::ProofTarget::for_url`); when the grammar takes
/// endpoints that do not (given with `--audience`), this is where that flag is added.
pub fn door_flags(tvm_url: &str, region: &str) -> Vec<String> {
    let names_region = !signing_region(tvm_url, "").is_empty();
    if names_region { Vec::new() } else { vec!["--region".into(), region.into()] }
}

/// The `credential_process` command for TVM profile `profile`: `program credentials --profile P
/// --endpoint URL [door flags] --aws-profile BASE`, each word quoted for a POSIX shell where it
/// needs to be (the AWS CLI and SDKs split the line as one).
pub fn credential_process_command(program: &str, profile: &str, tvm_url: &str, door: &[String], base: &str) -> String {
    let words = [program, "credentials", "--profile", profile, "--endpoint", tvm_url];
    let words = words.into_iter().chain(door.iter().map(String::as_str)).chain(["--aws-profile", base]);
    words.map(quote).collect::<Vec<_>>().join(" ")
}

/// `word` as a POSIX shell reads it back: as it is when it holds only safe characters, else in
/// single quotes (Python's `shlex.quote`).
fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r#"'"'"'"#))
}

/// What writing did to one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Unchanged,
}

/// One profile's change: its name, and its lines that sentinel-tvm owns before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    pub name: String,
    pub change: Change,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// The file after writing, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub text: String,
    pub changes: Vec<ProfileChange>,
}

/// `config` with `profiles` written in: a missing profile is appended as a section of its own; one
/// that sentinel-tvm wrote before (its only credential key a `credential_process` running
/// sentinel-tvm) gets its `credential_process` and `region` set, in place, its other keys kept.
/// Any other section of that name is someone else's: nothing is written, and the error names it.
pub fn write_profiles(config: &str, profiles: &[TvmProfile]) -> Result<Written, Fixable> {
    let lines = lines(config);
    let sections = sections(&lines);
    let ending = if config.contains("\r\n") { "\r\n" } else { "\n" };
    let mut replaced: Vec<(usize, String)> = Vec::new();
    let mut inserted: Vec<(usize, String)> = Vec::new();
    let mut appended = String::new();
    let mut changes = Vec::new();
    for profile in profiles {
        let owned: Vec<&Section> = sections.iter().filter(|s| is_profile(s, &profile.name)).collect();
        let after: Vec<String> = profile.settings().iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let change = match owned.as_slice() {
            [] => {
                appended.push_str(&format!("[profile {}]{ending}", profile.name));
                after.iter().for_each(|line| appended.push_str(&format!("{line}{ending}")));
                ProfileChange { name: profile.name.clone(), change: Change::Added, before: Vec::new(), after }
            }
            [section] => {
                check_ours(section, &profile.name)?;
                let mut before = Vec::new();
                for ((key, value), line) in profile.settings().into_iter().zip(&after) {
                    match section.settings.iter().find(|(k, _, _)| k == key) {
                        Some((_, old, index)) => {
                            before.push(format!("{key} = {old}"));
                            if old != value {
                                replaced.push((*index, format!("{line}{}", line_ending(lines[*index]))));
                            }
                        }
                        None => inserted.push((last_setting_line(section), format!("{line}{ending}"))),
                    }
                }
                let change = if before == after { Change::Unchanged } else { Change::Updated };
                ProfileChange { name: profile.name.clone(), change, before, after }
            }
            _ => {
                return Err(Fixable::new(
                    format!("the AWS config file has the profile `{}` more than once", profile.name),
                    "keep one of its sections and run this again",
                ));
            }
        };
        changes.push(change);
    }
    let text = assemble(&lines, &replaced, &inserted, &appended, ending);
    Ok(Written { text, changes })
}

/// A section `write_profiles` may change: sentinel-tvm wrote it, so its only credential key is one
/// `credential_process` that runs sentinel-tvm, and no key of its own appears twice.
fn check_ours(section: &Section, name: &str) -> Result<(), Fixable> {
    let keys: Vec<&str> = section.settings.iter().map(|(k, _, _)| k.as_str()).collect();
    let credential_keys: Vec<&str> = keys.iter().copied().filter(|k| CREDENTIAL_KEYS.contains(k)).collect();
    let processes: Vec<&str> = section.values("credential_process").collect();
    let ours = credential_keys.iter().all(|k| *k == "credential_process")
        && matches!(processes.as_slice(), [one] if command_runs_sentinel_tvm(one));
    if !ours {
        let held = if credential_keys.is_empty() {
            "no credentials".to_string()
        } else {
            credential_keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        };
        return Err(Fixable::new(
            format!(
                "the AWS config file already has a profile `{name}` that sentinel-tvm did not write ({held}); nothing was written"
            ),
            "rename or remove that profile, or write to another file with `--file PATH`",
        ));
    }
    if keys.iter().filter(|k| **k == "region").count() > 1 {
        return Err(Fixable::new(
            format!("the profile `{name}` in the AWS config file sets `region` more than once"),
            "keep one `region =` line in it and run this again",
        ));
    }
    Ok(())
}

/// Where a setting added to `section` goes: after its last setting, else after its header.
fn last_setting_line(section: &Section) -> usize {
    section.settings.last().map_or(section.header, |(_, _, index)| *index)
}

fn line_ending(line: &str) -> &'static str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

/// The file again: `lines` with `replaced` lines swapped, `inserted` lines after theirs, and
/// `appended` sections at the end, a blank line before them.
fn assemble(
    lines: &[&str],
    replaced: &[(usize, String)],
    inserted: &[(usize, String)],
    appended: &str,
    ending: &str,
) -> String {
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        match replaced.iter().find(|(at, _)| *at == index) {
            Some((_, new)) => text.push_str(new),
            None => text.push_str(line),
        }
        for (_, new) in inserted.iter().filter(|(at, _)| *at == index) {
            if !text.ends_with('\n') {
                text.push_str(ending);
            }
            text.push_str(new);
        }
    }
    if !appended.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push_str(ending);
        }
        if !text.is_empty() && !text.ends_with(&format!("{ending}{ending}")) {
            text.push_str(ending);
        }
        text.push_str(appended);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_is_read_for_credentials_and_region() {
        let profile = |keys: &[&str], region: Option<&str>| DefaultProfile {
            credential_keys: keys.iter().map(|k| k.to_string()).collect(),
            region: region.map(str::to_string),
        };
        for (config, expected) in [
            ("", profile(&[], None)),
            ("[default]\nregion = eu-west-2\noutput = json\n", profile(&[], Some("eu-west-2"))),
            (
                "[default]\nregion=eu-west-2\nsso_session = corp\nsso_account_id = 1\n[sso-session corp]\nsso_start_url = https://x\n",
                profile(&["sso_session", "sso_account_id"], Some("eu-west-2")),
            ),
            ("[profile default]\ncredential_process = /bin/helper\n", profile(&["credential_process"], None)),
            (
                "[ profile   default ]\nRole_Arn = arn\nsource_profile = base\n",
                profile(&["role_arn", "source_profile"], None),
            ),
            ("[default]\n# aws_access_key_id = AKIA\n; credential_process = x\n", profile(&[], None)),
            ("[default]\ns3 =\n  aws_access_key_id = nested\n", profile(&[], None)),
            (
                "[profile base]\naws_access_key_id = AKIA\nregion = us-east-1\n[default]\nregion = eu-west-1\n",
                profile(&[], Some("eu-west-1")),
            ),
            (
                "[profile defaults]\ncredential_process = x\n[sso-session default]\nsso_start_url = x\n",
                profile(&[], None),
            ),
            ("aws_access_key_id = before any section\n", profile(&[], None)),
        ] {
            assert_eq!(default_profile(config), expected, "{config:?}");
        }
    }

    #[test]
    fn the_files_are_where_sdks_look_for_them() {
        let home = || Some(PathBuf::from("/home/u"));
        for (variable, home, expected) in [
            (None, home(), Some("/home/u/.aws/config")),
            (Some(""), home(), Some("/home/u/.aws/config")),
            (Some("~/work/aws"), home(), Some("/home/u/work/aws")),
            (Some("/etc/aws"), None, Some("/etc/aws")),
            (None, None, None),
        ] {
            let found = file_path(variable.map(str::to_string), home, "config");
            assert_eq!(found.as_deref(), expected.map(std::path::Path::new), "{variable:?}");
        }
    }

    #[test]
    fn the_base_profile_is_the_one_given_or_signed_with_and_never_one_that_calls_itself() {
        for (given, signed_with, keys, default, expected) in [
            (Some("sso"), Some("other"), true, false, Some("sso")),
            (None, Some("sso"), true, false, Some("sso")),
            (None, None, false, true, Some("default")),
            (None, None, true, true, None),
            (None, None, false, false, None),
        ] {
            let base = base_profile(given, signed_with, keys, default);
            assert_eq!(base.as_deref().ok(), expected, "{given:?} {signed_with:?} {keys} {default}");
            if let Err(error) = base {
                assert!(error.hint.contains("--base-profile"), "{}", error.hint);
            }
        }
        let written = ["main-prod".to_string(), "main-dev".to_string()];
        let config = "[profile base]\nsso_session = corp\n[profile hop]\nsource_profile = main-prod\n[profile main-prod]\ncredential_process = sentinel-tvm credentials\n";
        assert!(check_base("base", &written, config, "").is_ok());
        for (base, names) in [("main-dev", "one of the profiles being written"), ("hop", "through `main-prod`")] {
            let error = check_base(base, &written, config, "").unwrap_err();
            assert!(error.message.contains(names), "{}", error.message);
            assert!(error.hint.contains("--base-profile"), "{}", error.hint);
        }
    }

    #[test]
    fn a_line_is_quoted_where_a_shell_would_split_it_and_names_the_region_only_where_the_endpoint_does_not() {
        let aws = "https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/";
        let emulator = "http://127.0.0.1:4566/_aws/execute-api/a1b2c3/";
        assert_eq!(door_flags(aws, "us-east-1"), Vec::<String>::new());
        assert_eq!(door_flags(emulator, "us-east-1"), ["--region", "us-east-1"]);
        assert_eq!(
            credential_process_command("/usr/local/bin/sentinel-tvm", "main-prod", aws, &[], "sso-dev"),
            format!(
                "/usr/local/bin/sentinel-tvm credentials --profile main-prod --endpoint {aws} --aws-profile sso-dev"
            )
        );
        assert_eq!(
            credential_process_command("/opt/my tools/sentinel-tvm", "p", emulator, &door_flags(emulator, "r"), "it's"),
            format!(
                "'/opt/my tools/sentinel-tvm' credentials --profile p --endpoint {emulator} --region r --aws-profile 'it'\"'\"'s'"
            )
        );
        assert_eq!(quote(""), "''");
        // What `quote` writes, `program` reads back, so a line written once is known as ours.
        for path in ["/usr/local/bin/sentinel-tvm", "/opt/my tools/sentinel-tvm", "/it's/sentinel-tvm"] {
            let line = credential_process_command(path, "p", emulator, &[], "b");
            assert!(command_runs_sentinel_tvm(&line), "{line}");
        }
        assert_eq!(program("  \"/a b/sentinel-tvm\" credentials"), "/a b/sentinel-tvm");
        assert_eq!(program("/a\\ b/sentinel-tvm credentials"), "/a b/sentinel-tvm");
    }

    #[test]
    fn a_base_profile_that_reaches_sentinel_tvm_is_found_along_its_source_profiles() {
        let config = "[default]\ncredential_process = sentinel-tvm credentials --profile main-dev\n\
            [profile sso]\nsso_session = corp\n\
            [profile loop]\ncredential_process = \"/opt/bin/sentinel-tvm\" credentials --profile main-prod\n\
            [profile hop]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = loop\n\
            [profile cycle]\nsource_profile = cycle\n\
            [profile helper]\ncredential_process = /usr/bin/aws-vault export --format=json sentinel-tvm\n";
        let credentials = "[keys]\naws_access_key_id = AKIA\n[wrapped]\ncredential_process = sentinel-tvm-wrapper\n";
        for (base, found) in [
            ("default", Some("default")),
            ("sso", None),
            ("loop", Some("loop")),
            ("hop", Some("loop")),
            ("cycle", None),
            ("helper", None),
            ("keys", None),
            ("wrapped", Some("wrapped")),
            ("missing", None),
        ] {
            assert_eq!(runs_sentinel_tvm(config, credentials, base).as_deref(), found, "{base}");
        }
    }

    fn tvm_profile(name: &str, region: &str) -> TvmProfile {
        TvmProfile {
            name: name.into(),
            credential_process: format!("/bin/sentinel-tvm credentials --profile {name} --aws-profile base"),
            region: region.into(),
        }
    }

    const OTHERS: &str = "# my settings\n[default]\nregion = eu-west-1\n\n[profile base]\nsso_session = corp\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n";

    #[test]
    fn new_profiles_are_appended_and_nothing_else_moves() {
        let written = write_profiles(OTHERS, &[tvm_profile("main-prod", "eu-west-2")]).unwrap();
        assert_eq!(
            written.text,
            format!(
                "{OTHERS}\n[profile main-prod]\ncredential_process = /bin/sentinel-tvm credentials --profile main-prod --aws-profile base\nregion = eu-west-2\n"
            )
        );
        assert_eq!(written.changes[0].change, Change::Added);
        assert_eq!(written.changes[0].before, Vec::<String>::new());
        assert_eq!(written.changes[0].after.len(), 2);
        // Idempotent: the same profiles again change nothing.
        let again = write_profiles(&written.text, &[tvm_profile("main-prod", "eu-west-2")]).unwrap();
        assert_eq!(again.text, written.text);
        assert_eq!(again.changes[0].change, Change::Unchanged);
        // An empty or missing file, one without a final newline, and CRLF line endings.
        let empty = write_profiles("", &[tvm_profile("a-b", "r")]).unwrap().text;
        assert!(empty.starts_with("[profile a-b]\ncredential_process"), "{empty}");
        let unterminated = write_profiles("[profile x]\nregion = r", &[tvm_profile("a-b", "r")]).unwrap().text;
        assert!(unterminated.starts_with("[profile x]\nregion = r\n\n[profile a-b]\n"), "{unterminated}");
        let crlf = write_profiles("[profile x]\r\nregion = r\r\n", &[tvm_profile("a-b", "r")]).unwrap().text;
        assert!(
            crlf.starts_with("[profile x]\r\nregion = r\r\n\r\n[profile a-b]\r\n") && !crlf.contains("r\n["),
            "{crlf:?}"
        );
    }

    #[test]
    fn a_profile_sentinel_tvm_wrote_is_updated_in_place_keeping_the_users_own_keys() {
        let before = "[profile main-prod]\n# mine\noutput = json\ncredential_process = /old/sentinel-tvm credentials --profile main-prod\nregion = us-east-1\ncli_pager =\n[profile other]\nregion = x\n";
        let written = write_profiles(before, &[tvm_profile("main-prod", "eu-west-2")]).unwrap();
        assert_eq!(
            written.text,
            "[profile main-prod]\n# mine\noutput = json\ncredential_process = /bin/sentinel-tvm credentials --profile main-prod --aws-profile base\nregion = eu-west-2\ncli_pager =\n[profile other]\nregion = x\n"
        );
        let change = &written.changes[0];
        assert_eq!(change.change, Change::Updated);
        assert_eq!(
            change.before,
            ["credential_process = /old/sentinel-tvm credentials --profile main-prod", "region = us-east-1"]
        );
        // A missing `region` is added after the section's last setting.
        let no_region = "[profile main-prod]\ncredential_process = sentinel-tvm credentials\n\n[profile other]\n";
        let written = write_profiles(no_region, &[tvm_profile("main-prod", "r")]).unwrap();
        assert_eq!(
            written.text,
            "[profile main-prod]\ncredential_process = /bin/sentinel-tvm credentials --profile main-prod --aws-profile base\nregion = r\n\n[profile other]\n"
        );
    }

    #[test]
    fn someone_elses_profile_of_that_name_stops_the_whole_write() {
        for (config, names) in [
            ("[profile main-prod]\nsso_session = corp\n", "`sso_session`"),
            ("[profile main-prod]\nregion = eu-west-1\n", "no credentials"),
            ("[profile main-prod]\ncredential_process = aws-vault export main-prod\n", "`credential_process`"),
            (
                "[profile main-prod]\ncredential_process = sentinel-tvm credentials\naws_access_key_id = AKIA\n",
                "`credential_process`, `aws_access_key_id`",
            ),
        ] {
            let error = write_profiles(config, &[tvm_profile("a-b", "r"), tvm_profile("main-prod", "r")]).unwrap_err();
            assert!(error.message.contains("`main-prod`") && error.message.contains(names), "{}", error.message);
            assert!(error.hint.contains("--file"), "{}", error.hint);
        }
        let twice = "[profile main-prod]\ncredential_process = sentinel-tvm\n[profile main-prod]\nregion = r\n";
        assert!(
            write_profiles(twice, &[tvm_profile("main-prod", "r")]).unwrap_err().message.contains("more than once")
        );
        let regions = "[profile main-prod]\ncredential_process = sentinel-tvm\nregion = a\nregion = b\n";
        assert!(write_profiles(regions, &[tvm_profile("main-prod", "r")]).unwrap_err().message.contains("`region`"));
    }
}
