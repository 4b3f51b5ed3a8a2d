//! The grammar of caller ARNs (docs/POLICY.md, threat model T8), and whether a `principals:`
//! pattern can match any of them. A pattern that matches no caller is a condition that never
//! holds: in a deny rule, a rule that silently denies nothing. So the loader refuses it and names
//! the form that would work.
//!
//! Callers are exactly these (`P` a partition, `A` a 12-digit account):
//!
//! ```text
//! arn:P:iam::A:root
//! arn:P:iam::A:user/<name>                      arn:P:iam::A:user/<path…>/<name>
//! arn:P:sts::A:assumed-role/<role>/<session>
//! arn:P:sts::A:federated-user/<name>
//! ```
//!
//! A pattern matches when its `*`s (any run of characters) can be filled so that it spells one.
//! Deciding that is a walk of a small automaton for the grammar, reading the pattern: a literal
//! character takes the edges that accept it, a `*` every state reachable from the current ones.

use std::sync::OnceLock;

use crate::identity::PARTITIONS;

/// Why a `principals:` pattern is refused: the message for the author, naming the fix.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if !pattern.starts_with("arn:") || !pattern.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(format!("`{pattern}` is not an ARN pattern (`arn:…`, `*` as wildcard)"));
    }
    if pattern.contains('?') {
        return Some(format!(
            "`{pattern}` has a `?`, which is not a wildcard here (only `*` is, for any run of characters), and no caller ARN has one: write `*`"
        ));
    }
    if matches_a_caller(pattern) {
        return None;
    }
    Some(format!("`{pattern}` matches no caller ARN{}", suggestion(pattern)))
}

/// Whether some caller ARN of the grammar matches `pattern`.
pub fn matches_a_caller(pattern: &str) -> bool {
    // Built once: a policy's patterns are checked at every load, the Lambda's and the installer's.
    static GRAMMAR: OnceLock<Grammar> = OnceLock::new();
    let grammar = GRAMMAR.get_or_init(Grammar::callers);
    let mut states = grammar.closure(&[0]);
    for byte in pattern.bytes() {
        states = if byte == b'*' { grammar.reachable(&states) } else { grammar.step(&states, byte) };
        if states.is_empty() {
            return false;
        }
    }
    states.contains(&grammar.accept)
}

/// Whether the pattern's account field may be any account: a `*` in it, or fewer than six
/// fields (a `*` stands for the account too). A `*` in an earlier field cannot reach the account:
/// no caller ARN has a `:` after its account field.
pub fn any_account(pattern: &str) -> bool {
    let fields: Vec<&str> = pattern.splitn(6, ':').collect();
    fields.len() < 6 || fields[4].contains('*')
}

/// What the loader says when no common mistake explains a pattern: the forms callers have.
const FORMS: &str = "; callers are `arn:<partition>:iam::<account>:user/…`, `…:root`, `arn:<partition>:sts::<account>:assumed-role/<role>/<session>` or `…:federated-user/<name>`";

/// `: ` and the form that would work, when the pattern looks like a common mistake.
fn suggestion(pattern: &str) -> String {
    let fields: Vec<&str> = pattern.splitn(6, ':').collect();
    let [_, partition, service, _, account, resource] = fields.as_slice() else {
        return FORMS.into();
    };
    let segments: Vec<&str> = resource.split('/').collect();
    let sts = |rest: &str| format!("arn:{partition}:sts::{account}:{rest}");
    match (*service, segments.as_slice()) {
        ("iam", ["role", .., role]) => format!(
            ": callers are never roles but their sessions; write `{}` (a role's path is not part of its sessions' ARNs)",
            sts(&format!("assumed-role/{role}/*"))
        ),
        ("iam", ["group", ..]) => format!(
            ": a group is never a caller; name its users (`arn:{partition}:iam::{account}:user/<name>`) or the role they use"
        ),
        ("sts", ["assumed-role", .., role, session]) if segments.len() > 3 => {
            format!(": an assumed role's ARN has no path; write `{}`", sts(&format!("assumed-role/{role}/{session}")))
        }
        ("iam", ["assumed-role", ..] | ["federated-user", ..]) => {
            format!(": sessions are STS ARNs; write `{}`", sts(&segments.join("/")))
        }
        ("sts", ["user", ..] | ["root"]) => {
            format!(": users and root are IAM ARNs; write `arn:{partition}:iam::{account}:{}`", segments.join("/"))
        }
        _ => FORMS.into(),
    }
}

/// What an edge accepts.
#[derive(Debug, Clone, Copy)]
enum Accepts {
    Nothing,
    Byte(u8),
    /// Characters of IAM and STS names: `A-Z a-z 0-9 + = , . @ _ -`.
    Name,
    /// Characters of an IAM path segment: printable ASCII but `/`.
    PathSegment,
    Digit,
}

impl Accepts {
    fn admits(self, byte: u8) -> bool {
        match self {
            Accepts::Nothing => false,
            Accepts::Byte(expected) => byte == expected,
            Accepts::Name => byte.is_ascii_alphanumeric() || b"+=,.@_-".contains(&byte),
            Accepts::PathSegment => byte.is_ascii_graphic() && byte != b'/',
            Accepts::Digit => byte.is_ascii_digit(),
        }
    }
}

/// A nondeterministic automaton: `edges[state]` lists `(accepts, next)`; `Nothing` edges are
/// the empty moves.
struct Grammar {
    edges: Vec<Vec<(Accepts, usize)>>,
    accept: usize,
}

impl Grammar {
    fn callers() -> Grammar {
        let mut g = Builder { edges: vec![Vec::new()] };
        let start = 0;
        let after_arn = g.literal(start, "arn:");
        let after_partition = g.new_state();
        for partition in PARTITIONS {
            let end = g.literal(after_arn, partition);
            g.empty(end, after_partition);
        }
        let accept = g.new_state();
        let services =
            [("iam", &[Resource::Root, Resource::User][..]), ("sts", &[Resource::Role, Resource::Federated][..])];
        for (service, resources) in services {
            let head = g.literal(after_partition, &format!(":{service}::"));
            let account = g.repeat_exactly(head, Accepts::Digit, 12);
            let colon = g.literal(account, ":");
            for resource in resources {
                let end = resource.build(&mut g, colon);
                g.empty(end, accept);
            }
        }
        Grammar { edges: g.edges, accept }
    }

    /// `states` and everything their empty moves reach.
    fn closure(&self, states: &[usize]) -> Vec<usize> {
        self.spread(states, |accepts| matches!(accepts, Accepts::Nothing))
    }

    /// Everything reachable from `states` by reading any characters (what a `*` may stand for).
    fn reachable(&self, states: &[usize]) -> Vec<usize> {
        self.spread(states, |_| true)
    }

    fn spread(&self, states: &[usize], follows: impl Fn(Accepts) -> bool) -> Vec<usize> {
        let mut seen = vec![false; self.edges.len()];
        let mut stack: Vec<usize> = states.to_vec();
        while let Some(state) = stack.pop() {
            if std::mem::replace(&mut seen[state], true) {
                continue;
            }
            stack.extend(self.edges[state].iter().filter(|(accepts, _)| follows(*accepts)).map(|(_, next)| *next));
        }
        (0..self.edges.len()).filter(|state| seen[*state]).collect()
    }

    /// The states after reading `byte` from `states`.
    fn step(&self, states: &[usize], byte: u8) -> Vec<usize> {
        let next: Vec<usize> = states
            .iter()
            .flat_map(|state| &self.edges[*state])
            .filter(|(accepts, _)| accepts.admits(byte))
            .map(|(_, next)| *next)
            .collect();
        self.closure(&next)
    }
}

enum Resource {
    Root,
    User,
    Role,
    Federated,
}

impl Resource {
    /// Adds the resource part after `from`; returns its end state.
    fn build(&self, g: &mut Builder, from: usize) -> usize {
        match self {
            Resource::Root => g.literal(from, "root"),
            Resource::User => {
                // user/ (segment/)* name
                let path = g.literal(from, "user/");
                let segment = g.one_or_more(path, Accepts::PathSegment);
                g.edge(segment, Accepts::Byte(b'/'), path);
                g.one_or_more(path, Accepts::Name)
            }
            Resource::Role => {
                let role = g.literal(from, "assumed-role/");
                let name = g.one_or_more(role, Accepts::Name);
                let slash = g.literal(name, "/");
                g.one_or_more(slash, Accepts::Name)
            }
            Resource::Federated => {
                let user = g.literal(from, "federated-user/");
                g.one_or_more(user, Accepts::Name)
            }
        }
    }
}

struct Builder {
    edges: Vec<Vec<(Accepts, usize)>>,
}

impl Builder {
    fn new_state(&mut self) -> usize {
        self.edges.push(Vec::new());
        self.edges.len() - 1
    }

    fn edge(&mut self, from: usize, accepts: Accepts, to: usize) {
        self.edges[from].push((accepts, to));
    }

    fn empty(&mut self, from: usize, to: usize) {
        self.edge(from, Accepts::Nothing, to);
    }

    fn literal(&mut self, mut from: usize, text: &str) -> usize {
        for byte in text.bytes() {
            let next = self.new_state();
            self.edge(from, Accepts::Byte(byte), next);
            from = next;
        }
        from
    }

    fn repeat_exactly(&mut self, mut from: usize, accepts: Accepts, times: usize) -> usize {
        for _ in 0..times {
            let next = self.new_state();
            self.edge(from, accepts, next);
            from = next;
        }
        from
    }

    fn one_or_more(&mut self, from: usize, accepts: Accepts) -> usize {
        let next = self.new_state();
        self.edge(from, accepts, next);
        self.edge(next, accepts, next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "111122223333";

    #[test]
    fn patterns_that_can_match_a_caller_are_accepted() {
        for pattern in [
            "arn:*".to_string(),
            format!("arn:aws:iam::{A}:root"),
            format!("arn:aws:iam::{A}:user/alice"),
            format!("arn:aws:iam::{A}:user/engineering/platform/alice"),
            format!("arn:aws:iam::{A}:user/*"),
            format!("arn:aws-cn:iam::{A}:user/a*e"),
            format!("arn:aws:sts::{A}:assumed-role/Deploy/*"),
            format!("arn:aws:sts::{A}:assumed-role/AWSReservedSSO_Ops_*/*"),
            format!("arn:aws:sts::{A}:assumed-role/*"),
            format!("arn:aws:sts::{A}:federated-user/bob"),
            "arn:aws:sts::*:assumed-role/Deploy/*".into(),
            "arn:aws:iam::*:user/alice".into(),
            "arn:*:sts::*:assumed-role/*/*".into(),
            format!("arn:aws:*:{A}:*"),
            // `*` may span a slash: a user path, or role and session at once.
            format!("arn:aws:sts::{A}:assumed-role/*@example.com"),
        ] {
            assert_eq!(pattern_problem(&pattern), None, "{pattern}");
        }
    }

    #[test]
    fn patterns_that_match_no_caller_are_refused_with_the_form_that_would_work() {
        for (pattern, problem) in [
            (
                format!("arn:aws:iam::{A}:role/Contractors"),
                format!("write `arn:aws:sts::{A}:assumed-role/Contractors/*`"),
            ),
            (
                format!("arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_1a2b"),
                format!("write `arn:aws:sts::{A}:assumed-role/AWSReservedSSO_Ops_1a2b/*`"),
            ),
            (format!("arn:aws:iam::{A}:role/*"), format!("write `arn:aws:sts::{A}:assumed-role/*/*`")),
            (format!("arn:aws:iam::{A}:group/Admins"), "a group is never a caller".into()),
            (
                format!("arn:aws:sts::{A}:assumed-role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_1a2b/*"),
                format!("has no path; write `arn:aws:sts::{A}:assumed-role/AWSReservedSSO_Ops_1a2b/*`"),
            ),
            (
                format!("arn:aws:iam::{A}:assumed-role/Deploy/*"),
                format!("write `arn:aws:sts::{A}:assumed-role/Deploy/*`"),
            ),
            (format!("arn:aws:sts::{A}:user/alice"), format!("write `arn:aws:iam::{A}:user/alice`")),
            (format!("arn:aws:sts::{A}:root"), format!("write `arn:aws:iam::{A}:root`")),
            (format!("arn:aws:iam::{A}:user/?lice"), "`?`".into()),
            (format!("arn:aws:sts::{A}:assumed-role/Deploy"), "matches no caller ARN".into()),
            (format!("arn:aws:sts::{A}:assumed-role/Deploy/a/b"), "has no path".into()),
            ("arn:aws:iam::1111:user/alice".into(), "matches no caller ARN".into()),
            (format!("arn:aws-mars:iam::{A}:user/alice"), "matches no caller ARN".into()),
            (format!("arn:aws:iam:eu-west-2:{A}:user/alice"), "matches no caller ARN".into()),
            (format!("arn:aws:iam::{A}:user/"), "matches no caller ARN".into()),
            ("arn:aws:s3:::bucket".into(), "matches no caller ARN".into()),
            ("alice".into(), "is not an ARN pattern".into()),
            ("arn:aws:iam::111122223333:user/al ice".into(), "is not an ARN pattern".into()),
        ] {
            let refused = pattern_problem(&pattern).unwrap_or_else(|| panic!("{pattern} was accepted"));
            assert!(refused.contains(&problem), "{pattern}: {refused}");
        }
    }

    #[test]
    fn a_wildcard_in_or_before_the_account_field_may_be_any_account() {
        for (pattern, any) in [
            (format!("arn:aws:sts::{A}:assumed-role/*"), false),
            ("arn:aws:sts::*:assumed-role/Deploy/*".into(), true),
            ("arn:aws:sts::1111*:assumed-role/Deploy/*".into(), true),
            ("arn:*".into(), true),
            ("*".into(), true),
            (format!("arn:*:iam::{A}:root"), false),
        ] {
            assert_eq!(any_account(&pattern), any, "{pattern}");
        }
    }

    #[test]
    fn every_caller_the_username_table_accepts_is_in_the_grammar() {
        for arn in [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/engineering/platform/alice",
            "arn:aws:iam::111122223333:user/user@example.com",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/alice.bob@sub.company.com",
            "arn:aws:sts::111122223333:federated-user/Bob",
            "arn:aws-iso-b:iam::111122223333:root",
        ] {
            assert!(crate::identity::username(arn).is_some(), "{arn}");
            assert!(matches_a_caller(arn), "{arn}");
        }
    }
}
