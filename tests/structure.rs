//! Layout rules for `src/`, checked by reading its source files (std only, no parser crate).
//!
//! A module layout is a decision, and without a check it erodes one convenient import at a time.
//! These tests keep later work from bringing back:
//!
//! 1. `no_import_cycles`: files that import each other, directly or around a loop, cannot be read,
//!    tested or moved on their own;
//! 2. `aws_layer_is_thin`: `src/aws/` is thin SDK wrappers that import plain data, names and errors,
//!    never a decision or the UI; `ground_floor_stands_alone`: `src/model/`, the plain data, imports
//!    only names and errors;
//! 3. `commands_do_not_import_each_other`: what two commands share lives in `src/commands/steps/`;
//! 4. `terminal_output_only_through_the_reporter`: only the reporter and the prompts touch the
//!    terminal, so `--output json` stays machine-readable and nothing prints behind their back;
//! 5. `top_of_src_is_small`: at most ten files directly in `src/`; the rest live in folders;
//! 6. `top_level_modules_form_layers`: the top-level modules of `src/` (`aws`, `deploy`, `ui`, …)
//!    import one another in one direction only: no two import each other and no longer circle
//!    closes, so each can be read as a floor standing on the ones below it.
//!
//! How the code is read: every `.rs` file under `src/` is one module (`src/a/b.rs` is `crate::a::b`,
//! `src/a/mod.rs` is `crate::a`, `src/lib.rs` is the crate root, `src/main.rs` is a module of its
//! own that reaches the library as `sentinel_tvm::`). Comments, string and char literals and items
//! marked `#[cfg(test)]` are blanked out first. In what remains, every path (in `use` items and
//! inline) that starts at `crate::`, `super::`, `self::`, `sentinel_tvm::` (main.rs) or at the name
//! of a child module (`use failure::x;` in a `mod.rs`, which Rust reads as `self::failure::x`) is
//! an import of the longest prefix of it that is a module file. A path into the crate root or the
//! file's own module imports nothing, and `mod x;` is a declaration, not an import.
//!
//! Each rule is a checker over a `Tree` of (path, source) pairs. The first tests run them over the
//! real `src/`; the rest feed them small synthetic trees to prove that each rule can fail.
//!
//! Run: `cargo test --test structure`, or without cargo:
//! `CARGO_MANIFEST_DIR=$PWD rustc --edition 2024 --test tests/structure.rs -o /tmp/structure && /tmp/structure`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::Path;

/// What a file under `src/aws/` may import. The AWS layer is thin SDK wrappers: they take and
/// return plain data (the deploy model), names and errors. Deciding what an answer means (checks,
/// plans, commands) and showing it (the UI) happen above this layer, so it never imports them.
const AWS_LAYER_MAY_IMPORT: &[&str] = &["crate::aws", "crate::names", "crate::error", "crate::model"];

/// What a file under `src/model/` may import. The ground floor is plain data every layer shares;
/// it stands on the names and the errors alone, so anything may import it without importing a
/// decision, the SDK layer or the UI.
const GROUND_FLOOR_MAY_IMPORT: &[&str] = &["crate::model", "crate::names", "crate::error"];

/// The folder of commands, and the folder inside it for the steps commands share.
const COMMANDS_DIR: &str = "src/commands/";
const SHARED_COMMAND_STEPS: &str = "steps";

/// The files that may write to the terminal: the reporter (all output, text or JSON) and the prompts.
const TERMINAL_MODULES: &[&str] = &["src/ui/output.rs", "src/ui/prompt.rs"];
/// Asking questions (dialoguer) is the prompt module's alone.
const PROMPT_MODULE: &[&str] = &["src/ui/prompt.rs"];

/// Every way of reaching the terminal, and where it is allowed. Handing a child process its stdio
/// (`Stdio::inherit()`, `Stdio::from(io::stderr())`) does not count: the child writes, not we.
const TERMINAL_ACCESS: &[TerminalAccess] = &[
    TerminalAccess { spelling: Spelling::Macro("println"), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Macro("print"), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Macro("eprintln"), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Macro("eprint"), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Macro("dbg"), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Path(&["io", "stdout"]), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Path(&["io", "stderr"]), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Path(&["indicatif"]), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Path(&["console", "Term"]), allowed_in: TERMINAL_MODULES },
    TerminalAccess { spelling: Spelling::Path(&["dialoguer"]), allowed_in: PROMPT_MODULE },
];

const MAX_FILES_AT_TOP_OF_SRC: usize = 10;

// ---------------------------------------------------------------------------------------------
// The rules, over the real `src/`.
// ---------------------------------------------------------------------------------------------

#[test]
fn no_import_cycles() {
    let rule = "no file imports itself through other files (a parent mod.rs and its child count too)";
    assert_rule_holds("no_import_cycles", rule, import_cycles(&source_tree()));
}

#[test]
fn aws_layer_is_thin() {
    let rule = format!("files under src/aws/ import only {}", AWS_LAYER_MAY_IMPORT.join(", "));
    assert_rule_holds("aws_layer_is_thin", &rule, aws_layer_violations(&source_tree()));
}

#[test]
fn ground_floor_stands_alone() {
    let rule = format!("files under src/model/ import only {}", GROUND_FLOOR_MAY_IMPORT.join(", "));
    assert_rule_holds(
        "ground_floor_stands_alone",
        &rule,
        limited_imports(&source_tree(), "src/model/", GROUND_FLOOR_MAY_IMPORT),
    );
}

#[test]
fn commands_do_not_import_each_other() {
    let rule = "a file directly in src/commands/ imports no other command; shared code lives in src/commands/steps/";
    assert_rule_holds("commands_do_not_import_each_other", rule, command_to_command_imports(&source_tree()));
}

#[test]
fn terminal_output_only_through_the_reporter() {
    let rule = "only src/ui/output.rs and src/ui/prompt.rs write to the terminal, and only the prompt uses dialoguer";
    assert_rule_holds("terminal_output_only_through_the_reporter", rule, stray_terminal_output(&source_tree()));
}

#[test]
fn top_level_modules_form_layers() {
    let rule =
        "the top-level modules of src/ import each other without a loop (no two import each other, no longer circle)";
    assert_rule_holds("top_level_modules_form_layers", rule, layer_loops(&source_tree()));
}

#[test]
fn top_of_src_is_small() {
    let rule = format!("at most {MAX_FILES_AT_TOP_OF_SRC} .rs files directly in src/");
    assert_rule_holds("top_of_src_is_small", &rule, crowded_top_of_src(&source_tree()));
}

fn assert_rule_holds(name: &str, rule: &str, violations: Vec<String>) {
    if !violations.is_empty() {
        let listed: Vec<String> = violations.iter().map(|violation| format!("  - {violation}")).collect();
        panic!("{name}: {rule}.\n{} violation(s):\n{}", violations.len(), listed.join("\n"));
    }
}

/// The crate's `src/`, read from disk.
fn source_tree() -> Tree {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    collect_rust_files(&src, "src", &mut sources);
    assert!(
        sources.iter().any(|(path, _)| path == "src/lib.rs"),
        "no src/lib.rs under {}: is CARGO_MANIFEST_DIR the crate?",
        src.display()
    );
    Tree::new(sources)
}

fn collect_rust_files(dir: &Path, relative: &str, sources: &mut Vec<(String, String)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    let mut entries: Vec<_> = entries.map(|entry| entry.expect("a directory entry").path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|name| name.to_str()).expect("a UTF-8 file name").to_owned();
        let relative = format!("{relative}/{name}");
        if path.is_dir() {
            collect_rust_files(&path, &relative, sources);
        } else if name.ends_with(".rs") {
            let source =
                fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            sources.push((relative, source));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checkers. Each returns one line per violation, naming the file and what it wrote.
// ---------------------------------------------------------------------------------------------

/// Rule 1: every cycle in the file-level import graph, as `a -> b -> a` followed by the imports
/// that make each step. Each import that lies on a cycle shows up in at least one reported cycle
/// (the shortest one through it).
fn import_cycles(tree: &Tree) -> Vec<String> {
    let graph = import_graph(tree);
    let mut cycles = BTreeSet::new();
    for (from, targets) in &graph {
        for to in targets.keys() {
            if let Some(way_back) = shortest_path(&graph, to, from) {
                let mut cycle = vec![from.clone()];
                cycle.extend(way_back);
                cycles.insert(starting_at_smallest(cycle));
            }
        }
    }
    cycles.iter().map(|cycle| describe_cycle(&graph, cycle)).collect()
}

/// Rule 2: imports from `src/aws/` of anything outside `AWS_LAYER_MAY_IMPORT`.
fn aws_layer_violations(tree: &Tree) -> Vec<String> {
    limited_imports(tree, "src/aws/", AWS_LAYER_MAY_IMPORT)
}

/// Imports from the files under `folder` of anything outside `may_import`.
fn limited_imports(tree: &Tree, folder: &str, may_import: &[&str]) -> Vec<String> {
    let allowed: Vec<Vec<&str>> = may_import.iter().map(|path| crate_relative_segments(path)).collect();
    let mut violations = Vec::new();
    for file in tree.files.iter().filter(|file| file.path.starts_with(folder)) {
        for import in tree.imports(file) {
            if !allowed.iter().any(|prefix| starts_with_segments(&import.absolute, prefix)) {
                violations.push(import.describe(&file.path));
            }
        }
    }
    violations
}

/// Rule 3: a command file (directly in `src/commands/`, not `mod.rs`) importing another command.
fn command_to_command_imports(tree: &Tree) -> Vec<String> {
    let mut violations = Vec::new();
    for file in &tree.files {
        let Some(own_name) = command_name(&file.path) else { continue };
        for import in tree.imports(file) {
            let Some(other) = commanded_module(&import.absolute) else { continue };
            if other != own_name && tree.is_command(other) {
                violations.push(import.describe(&file.path));
            }
        }
    }
    violations
}

/// Rule 4: every way of reaching the terminal used outside the files allowed to, as `file:line`.
fn stray_terminal_output(tree: &Tree) -> Vec<String> {
    let mut violations = BTreeSet::new();
    for file in &tree.files {
        for access in TERMINAL_ACCESS.iter().filter(|access| !access.allowed_in.contains(&file.path.as_str())) {
            for line in access.lines_using(file) {
                violations.insert((file.path.clone(), line, access.spelling.shown(), access.allowed_in.join(" and ")));
            }
        }
    }
    violations
        .into_iter()
        .map(|(path, line, shown, allowed_in)| format!("{path}:{line} uses {shown} (allowed only in {allowed_in})"))
        .collect()
}

/// Rule 6: every group of top-level modules that import each other around a loop (a strongly
/// connected group of the module-level graph), with one import per step between its members.
fn layer_loops(tree: &Tree) -> Vec<String> {
    let graph = top_level_graph(tree);
    let mut reported = Vec::new();
    for group in strongly_connected_groups(&graph) {
        let mut lines = vec![format!("modules that import each other around a loop: {}", group.join(", "))];
        for from in &group {
            for (to, example) in &graph[from] {
                if group.contains(to) {
                    lines.push(format!("      {from} -> {to}: {example}"));
                }
            }
        }
        reported.push(lines.join("\n"));
    }
    reported
}

/// Top-level module -> top-level module it imports -> one import that makes the edge (the first
/// found), as `file:line `path``. `src/main.rs` is the module `main`; the crate root imports nothing.
fn top_level_graph(tree: &Tree) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in &tree.files {
        let Some(from) = top_level_module(&file.path) else { continue };
        let edges = graph.entry(from.clone()).or_default();
        for import in tree.imports(file) {
            let Some(to) = import.target.as_deref().and_then(top_level_module) else { continue };
            if to != from {
                edges.entry(to).or_insert_with(|| format!("{}:{} `{}`", file.path, import.line, import.written));
            }
        }
    }
    graph
}

/// `src/aws/iam.rs` -> `aws`, `src/names.rs` -> `names`, `src/main.rs` -> `main`; the crate root none.
fn top_level_module(file: &str) -> Option<String> {
    let inside = file.strip_prefix("src/")?;
    let first = inside.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The groups of two or more nodes that all reach each other, each sorted, in order.
fn strongly_connected_groups(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([from.to_owned()]);
        while let Some(node) = queue.pop_front() {
            for next in graph.get(&node).into_iter().flat_map(|edges| edges.keys()) {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    queue.push_back(next.clone());
                }
            }
        }
        false
    };
    let mut groups: Vec<Vec<String>> = Vec::new();
    for node in graph.keys() {
        if groups.iter().any(|group| group.contains(node)) {
            continue;
        }
        let group: Vec<String> = graph
            .keys()
            .filter(|other| *other == node || (reaches(node, other) && reaches(other, node)))
            .cloned()
            .collect();
        if group.len() > 1 {
            groups.push(group);
        }
    }
    groups
}

/// Rule 5: more than `MAX_FILES_AT_TOP_OF_SRC` files directly in `src/`.
fn crowded_top_of_src(tree: &Tree) -> Vec<String> {
    let top: Vec<&str> =
        tree.files.iter().map(|file| file.path.as_str()).filter(|path| !path["src/".len()..].contains('/')).collect();
    if top.len() <= MAX_FILES_AT_TOP_OF_SRC {
        return Vec::new();
    }
    vec![format!("{} files directly in src/ (at most {MAX_FILES_AT_TOP_OF_SRC}): {}", top.len(), top.join(", "))]
}

// ---------------------------------------------------------------------------------------------
// The import graph.
// ---------------------------------------------------------------------------------------------

/// File -> imported file -> line -> the paths on that line that make the edge.
type Graph = BTreeMap<String, BTreeMap<String, BTreeMap<usize, Vec<String>>>>;

fn import_graph(tree: &Tree) -> Graph {
    let mut graph = Graph::new();
    for file in &tree.files {
        for import in tree.imports(file) {
            if let Some(target) = import.target {
                let edge = graph.entry(file.path.clone()).or_default().entry(target).or_default();
                edge.entry(import.line).or_default().push(import.written);
            }
        }
    }
    graph
}

/// The shortest chain of imports from `from` to `to`, both included (breadth-first).
fn shortest_path(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to.to_owned()];
            let mut step = to;
            while step != from {
                step = came_from[step];
                path.push(step.to_owned());
            }
            path.reverse();
            return Some(path);
        }
        for next in graph.get(node).into_iter().flat_map(|targets| targets.keys()) {
            if next != from && !came_from.contains_key(next.as_str()) {
                came_from.insert(next.as_str(), node);
                queue.push_back(next.as_str());
            }
        }
    }
    None
}

/// The same cycle (`a -> b -> a`), written from its smallest file, so each cycle is reported once.
fn starting_at_smallest(mut cycle: Vec<String>) -> Vec<String> {
    cycle.pop();
    let start = (0..cycle.len()).min_by_key(|&index| &cycle[index]).unwrap_or(0);
    cycle.rotate_left(start);
    cycle.push(cycle[0].clone());
    cycle
}

fn describe_cycle(graph: &Graph, cycle: &[String]) -> String {
    let mut lines = vec![format!("import cycle: {}", cycle.join(" -> "))];
    for step in cycle.windows(2) {
        for (line, paths) in &graph[&step[0]][&step[1]] {
            let more = match paths.len() {
                1 => String::new(),
                n => format!(" (and {} more on that line)", n - 1),
            };
            lines.push(format!("      {}:{line} `{}`{more} -> {}", step[0], paths[0], step[1]));
        }
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// The tree: every file's module, its code tokens and the paths written in it.
// ---------------------------------------------------------------------------------------------

struct Tree {
    files: Vec<SourceFile>,
    /// Module path (`["aws", "iam"]`) -> the file that is that module (`src/aws/iam.rs`).
    module_files: BTreeMap<Vec<String>, String>,
}

struct SourceFile {
    path: String,
    /// The code with comments, literals and `#[cfg(test)]` items gone.
    tokens: Vec<Token>,
    paths: Vec<WrittenPath>,
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    line: usize,
}

/// A path as written: `super::session::Session`, or one leaf of a `use` tree, expanded.
#[derive(Debug, Clone)]
struct WrittenPath {
    line: usize,
    /// Where it starts in the file's tokens (a `use` leaf: where its last segment is).
    token: usize,
    segments: Vec<String>,
    glob: bool,
    /// The inline `mod name { ... }` blocks the path is written in (`super::` starts there).
    inline_modules: Vec<String>,
}

/// A path that names a module of this crate.
struct Import {
    line: usize,
    written: String,
    /// From the crate root: `crate::aws::iam::get_user` is `["aws", "iam", "get_user"]`.
    absolute: Vec<String>,
    /// The file imported, if the path reaches into a module file other than the root and its own.
    target: Option<String>,
}

impl Import {
    fn describe(&self, file: &str) -> String {
        let target = self.target.as_deref().unwrap_or("no module file (the crate root)");
        format!("{file}:{} imports `{}` ({target})", self.line, self.written)
    }
}

impl Tree {
    fn new(sources: Vec<(String, String)>) -> Tree {
        let mut module_files = BTreeMap::new();
        let mut files = Vec::new();
        for (path, source) in sources {
            if let Some(module) = module_path_of(&path) {
                module_files.entry(module).or_insert_with(|| path.clone());
            }
            let tokens = without_test_only_items(tokenize(&blank_comments_and_literals(&source)));
            let paths = written_paths(&tokens);
            files.push(SourceFile { path, tokens, paths });
        }
        Tree { files, module_files }
    }

    fn imports(&self, file: &SourceFile) -> Vec<Import> {
        let mut imports = Vec::new();
        for path in &file.paths {
            let Some(absolute) = self.absolute_path(&file.path, path) else { continue };
            let target = self.file_containing(&absolute).filter(|target| *target != file.path).map(str::to_owned);
            let mut written = path.segments.join("::");
            if path.glob {
                written.push_str("::*");
            }
            imports.push(Import { line: path.line, written, absolute, target });
        }
        imports
    }

    /// The path from the crate root, or `None` if it does not start inside this crate.
    fn absolute_path(&self, file: &str, path: &WrittenPath) -> Option<Vec<String>> {
        let (first, rest) = path.segments.split_first()?;
        let Some(own) = module_path_of(file) else {
            // src/main.rs: only its `sentinel_tvm::` paths reach the library.
            return (first == "sentinel_tvm").then(|| rest.to_vec());
        };
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" | "super" => {
                let mut base: Vec<String> = own.iter().chain(&path.inline_modules).cloned().collect();
                let mut segments = path.segments.as_slice();
                while let Some((head, tail)) = segments.split_first() {
                    match head.as_str() {
                        "self" => {}
                        "super" => {
                            base.pop()?;
                        }
                        _ => break,
                    }
                    segments = tail;
                }
                base.extend(segments.iter().cloned());
                Some(base)
            }
            child if path.inline_modules.is_empty() && self.has_child_module(&own, child) => {
                Some(own.iter().chain(&path.segments).cloned().collect())
            }
            _ => None,
        }
    }

    /// The file of the longest prefix of `absolute` that is a module, or `None` for the crate root.
    fn file_containing(&self, absolute: &[String]) -> Option<&str> {
        (1..=absolute.len()).rev().find_map(|length| self.module_files.get(&absolute[..length]).map(String::as_str))
    }

    fn has_child_module(&self, parent: &[String], name: &str) -> bool {
        self.module_files
            .keys()
            .any(|module| module.len() > parent.len() && module.starts_with(parent) && module[parent.len()] == name)
    }

    /// `crate::commands::<name>` is a command: a module directly in `src/commands/`, not the steps.
    fn is_command(&self, name: &str) -> bool {
        name != SHARED_COMMAND_STEPS && self.module_files.contains_key(&["commands".to_owned(), name.to_owned()][..])
    }
}

/// `src/a/b.rs` -> `["a", "b"]`, `src/a/mod.rs` -> `["a"]`, `src/lib.rs` -> `[]`; `src/main.rs`
/// is no module of the library.
fn module_path_of(file: &str) -> Option<Vec<String>> {
    let inside = file.strip_prefix("src/")?.strip_suffix(".rs")?;
    match inside {
        "main" => None,
        "lib" => Some(Vec::new()),
        _ => {
            let mut segments: Vec<String> = inside.split('/').map(str::to_owned).collect();
            if segments.last().is_some_and(|last| last == "mod") {
                segments.pop();
            }
            Some(segments)
        }
    }
}

/// The command a file is (`src/commands/install.rs` -> `install`), if it is directly in the folder.
fn command_name(file: &str) -> Option<&str> {
    let name = file.strip_prefix(COMMANDS_DIR)?.strip_suffix(".rs")?;
    (!name.contains('/') && name != "mod").then_some(name)
}

/// `crate::commands::<name>::...` -> `name`.
fn commanded_module(absolute: &[String]) -> Option<&str> {
    match absolute {
        [commands, name, ..] if commands == "commands" => Some(name.as_str()),
        _ => None,
    }
}

fn crate_relative_segments(path: &str) -> Vec<&str> {
    path.strip_prefix("crate::").unwrap_or(path).split("::").collect()
}

fn starts_with_segments(path: &[String], prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(segment, wanted)| segment == wanted)
}

// ---------------------------------------------------------------------------------------------
// Terminal access.
// ---------------------------------------------------------------------------------------------

struct TerminalAccess {
    spelling: Spelling,
    allowed_in: &'static [&'static str],
}

enum Spelling {
    /// `println!(...)`.
    Macro(&'static str),
    /// Segments that appear in a path, in `use` items or inline: `std::io::stdout()`.
    Path(&'static [&'static str]),
}

impl Spelling {
    fn shown(&self) -> String {
        match self {
            Spelling::Macro(name) => format!("{name}!"),
            Spelling::Path(segments) => segments.join("::"),
        }
    }
}

impl TerminalAccess {
    fn lines_using(&self, file: &SourceFile) -> Vec<usize> {
        match self.spelling {
            Spelling::Macro(name) => macro_calls(&file.tokens, name),
            Spelling::Path(wanted) => file
                .paths
                .iter()
                .filter(|path| path.segments.windows(wanted.len()).any(|window| window == wanted))
                .filter(|path| !handed_to_a_child_process(&file.tokens, path))
                .map(|path| path.line)
                .collect(),
        }
    }
}

/// `Stdio::from(std::io::stderr())`: a child process gets the handle, like `Stdio::inherit()`.
fn handed_to_a_child_process(tokens: &[Token], path: &WrittenPath) -> bool {
    path.token >= 4 && texts_at(tokens, path.token - 4, &["Stdio", "::", "from", "("])
}

/// Lines that call the macro `name!` (`(`, `[` or `{` after the `!`).
fn macro_calls(tokens: &[Token], name: &str) -> Vec<usize> {
    tokens
        .windows(3)
        .filter(|three| {
            three[0].text == name && three[1].text == "!" && matches!(three[2].text.as_str(), "(" | "[" | "{")
        })
        .map(|three| three[0].line)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading Rust: blank out comments and literals, tokenize, drop test-only items, find paths.
// ---------------------------------------------------------------------------------------------

/// The source with every comment and string or char literal replaced by spaces (newlines kept, so
/// line numbers still hold).
fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut index = 0;
    while index < chars.len() {
        let end = comment_end(&chars, index)
            .or_else(|| raw_string_end(&chars, index))
            .or_else(|| quoted_string_end(&chars, index))
            .or_else(|| char_literal_end(&chars, index));
        match end {
            Some(end) => {
                code.extend(chars[index..end].iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
                index = end;
            }
            None => {
                code.push(chars[index]);
                index += 1;
            }
        }
    }
    code
}

/// `// ...` to the end of the line, or `/* ... */` (they nest).
fn comment_end(chars: &[char], start: usize) -> Option<usize> {
    match chars.get(start..start + 2)? {
        ['/', '/'] => Some(chars[start..].iter().position(|&c| c == '\n').map_or(chars.len(), |at| start + at)),
        ['/', '*'] => {
            let mut depth = 0;
            let mut index = start;
            while index < chars.len() {
                match chars.get(index..index + 2) {
                    Some(['/', '*']) => {
                        depth += 1;
                        index += 2;
                    }
                    Some(['*', '/']) => {
                        depth -= 1;
                        index += 2;
                        if depth == 0 {
                            return Some(index);
                        }
                    }
                    _ => index += 1,
                }
            }
            Some(chars.len())
        }
        _ => None,
    }
}

/// `r"..."`, `r#"..."#` (any number of `#`), and their `b`/`c` prefixed forms.
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    if chars[start] != 'r' || !starts_a_literal(chars, start) {
        return None;
    }
    let hashes = chars[start + 1..].iter().take_while(|&&c| c == '#').count();
    let quote = start + 1 + hashes;
    if chars.get(quote) != Some(&'"') {
        return None;
    }
    let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    let body = quote + 1;
    let found = chars[body..].windows(closing.len()).position(|window| window == closing.as_slice());
    Some(found.map_or(chars.len(), |at| body + at + closing.len()))
}

/// An `r` that is not the end of a longer identifier (`br` and `cr` prefixes are fine).
fn starts_a_literal(chars: &[char], at: usize) -> bool {
    let before = |offset: usize| at.checked_sub(offset).map(|index| chars[index]);
    match before(1) {
        None => true,
        Some('b' | 'c') => !before(2).is_some_and(is_identifier_char),
        Some(c) => !is_identifier_char(c),
    }
}

/// `"..."` with `\` escapes.
fn quoted_string_end(chars: &[char], start: usize) -> Option<usize> {
    if chars[start] != '"' {
        return None;
    }
    let mut index = start + 1;
    while index < chars.len() {
        match chars[index] {
            '\\' => index += 2,
            '"' => return Some(index + 1),
            _ => index += 1,
        }
    }
    Some(chars.len())
}

/// `'x'` or `'\n'`, `'\''`, `'\u{..}'`; a lifetime (`'a`) is not a literal.
fn char_literal_end(chars: &[char], start: usize) -> Option<usize> {
    if chars[start] != '\'' {
        return None;
    }
    if chars.get(start + 1) == Some(&'\\') {
        let after_escape = start + 3;
        let closing = chars.get(after_escape..)?.iter().position(|&c| c == '\'')?;
        return Some(after_escape + closing + 1);
    }
    (chars.get(start + 2) == Some(&'\'') && chars.get(start + 1) != Some(&'\'')).then_some(start + 3)
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Identifiers (`r#raw` included), numbers, `::`, and every other character on its own. A macro's
/// `$crate` is read as `crate`.
fn tokenize(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let length = if c.is_whitespace() {
            line += usize::from(c == '\n');
            index += 1;
            continue;
        } else if c.is_alphanumeric() || c == '_' {
            let raw_prefix = if chars.get(index..index + 2) == Some(&['r', '#']) { 2 } else { 0 };
            raw_prefix + chars[index + raw_prefix..].iter().take_while(|&&c| is_identifier_char(c)).count()
        } else if chars.get(index..index + 2) == Some(&[':', ':']) {
            2
        } else if chars[index..].starts_with(&['$', 'c', 'r', 'a', 't', 'e'])
            && !chars.get(index + 6).is_some_and(|&c| is_identifier_char(c))
        {
            tokens.push(Token { text: "crate".to_owned(), line });
            index += 6;
            continue;
        } else {
            1
        };
        tokens.push(Token { text: chars[index..index + length].iter().collect(), line });
        index += length;
    }
    tokens
}

/// The tokens without any item marked `#[cfg(test)]`; a file marked `#![cfg(test)]` is all test.
fn without_test_only_items(tokens: Vec<Token>) -> Vec<Token> {
    if is_test_only_file(&tokens) {
        return Vec::new();
    }
    let mut kept = Vec::with_capacity(tokens.len());
    let mut index = 0;
    while index < tokens.len() {
        if texts_at(&tokens, index, &["#", "[", "cfg", "(", "test", ")", "]"]) {
            index = end_of_item(&tokens, index + 7);
        } else {
            kept.push(tokens[index].clone());
            index += 1;
        }
    }
    kept
}

/// `#![cfg(test)]` among the inner attributes the file starts with.
fn is_test_only_file(tokens: &[Token]) -> bool {
    let mut index = 0;
    while texts_at(tokens, index, &["#", "!", "["]) {
        if texts_at(tokens, index, &["#", "!", "[", "cfg", "(", "test", ")", "]"]) {
            return true;
        }
        index = matching_close(tokens, index + 2) + 1;
    }
    false
}

fn texts_at(tokens: &[Token], index: usize, texts: &[&str]) -> bool {
    tokens.get(index..index + texts.len()).is_some_and(|found| found.iter().zip(texts).all(|(t, text)| t.text == *text))
}

fn text_at(tokens: &[Token], index: usize) -> &str {
    tokens.get(index).map_or("", |token| token.text.as_str())
}

/// Where the item (or field, variant, statement) starting at `start` ends: after its `;`, after
/// the `}` of its body, or before the `}` that closes what it is in.
fn end_of_item(tokens: &[Token], start: usize) -> usize {
    let mut index = start;
    while texts_at(tokens, index, &["#", "["]) {
        index = matching_close(tokens, index + 1) + 1;
    }
    let keyword = first_keyword(tokens, index);
    let ends_at_semicolon = matches!(keyword, "use" | "let" | "static" | "type")
        || (keyword == "const" && !matches!(text_at(tokens, index + 1), "fn" | "unsafe" | "async" | "extern"));
    let is_item = ends_at_semicolon
        || matches!(keyword, "fn" | "mod" | "impl" | "trait" | "struct" | "enum" | "union" | "macro_rules" | "extern")
        || matches!(keyword, "const" | "unsafe" | "async");
    let mut depth = 0usize;
    for (offset, token) in tokens[index..].iter().enumerate() {
        let at = index + offset;
        match token.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" if depth == 0 => return at,
            closer @ (")" | "]" | "}") => {
                depth -= 1;
                if depth == 0 && closer == "}" && !ends_at_semicolon {
                    return at + 1;
                }
            }
            ";" if depth == 0 => return at + 1,
            "," if depth == 0 && !is_item => return at + 1,
            _ => {}
        }
    }
    tokens.len()
}

/// The item's keyword, past `pub` / `pub(crate)`.
fn first_keyword(tokens: &[Token], mut index: usize) -> &str {
    if text_at(tokens, index) == "pub" {
        index += 1;
        if text_at(tokens, index) == "(" {
            index = matching_close(tokens, index) + 1;
        }
    }
    text_at(tokens, index)
}

/// The index of the bracket that closes the one at `open`.
fn matching_close(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (offset, token) in tokens[open..].iter().enumerate() {
        match token.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return open + offset;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

fn is_identifier(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Every path in the code: each leaf of each `use` tree, and each inline path of two or more
/// segments (`crate::aws::iam::get_user`) that does not continue an earlier one.
fn written_paths(tokens: &[Token]) -> Vec<WrittenPath> {
    let mut paths = Vec::new();
    let mut depth = 0usize;
    let mut inline_modules: Vec<(String, usize)> = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let text = tokens[index].text.as_str();
        let names: Vec<String> = inline_modules.iter().map(|(name, _)| name.clone()).collect();
        match text {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                inline_modules.retain(|&(_, inside)| inside <= depth);
            }
            "mod" if is_identifier(text_at(tokens, index + 1)) && text_at(tokens, index + 2) == "{" => {
                inline_modules.push((tokens[index + 1].text.clone(), depth + 1));
            }
            // `use<'a>` in `impl Trait + use<'a>` captures lifetimes; it is no `use` item.
            "use" if text_at(tokens, index + 1) != "<" => {
                let mut leaves = Vec::new();
                let end = parse_use_tree(tokens, index + 1, &[], &mut leaves);
                paths.extend(leaves.into_iter().map(|mut leaf| {
                    leaf.inline_modules = names.clone();
                    leaf
                }));
                index = end;
                while index < tokens.len() && tokens[index].text != ";" {
                    index += 1;
                }
                continue;
            }
            _ if is_identifier(text)
                && !matches!(text_at(tokens, index.wrapping_sub(1)), "::" | ".")
                && text_at(tokens, index + 1) == "::"
                && is_identifier(text_at(tokens, index + 2)) =>
            {
                let mut segments = vec![text.to_owned()];
                let mut next = index + 1;
                while text_at(tokens, next) == "::" && is_identifier(text_at(tokens, next + 1)) {
                    segments.push(tokens[next + 1].text.clone());
                    next += 2;
                }
                let line = tokens[index].line;
                paths.push(WrittenPath { line, token: index, segments, glob: false, inline_modules: names });
                index = next;
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    paths
}

/// Expands one `use` tree (`a::{b::{c, d}, e as f, *}`) into its leaves, each a full path;
/// returns the index just past the tree.
fn parse_use_tree(tokens: &[Token], mut index: usize, prefix: &[String], leaves: &mut Vec<WrittenPath>) -> usize {
    let mut segments = prefix.to_vec();
    if text_at(tokens, index) == "::" {
        segments.push("::".to_owned()); // `use ::extern_crate::...`: never this crate.
        index += 1;
    }
    loop {
        match text_at(tokens, index) {
            "{" => {
                index += 1;
                while !matches!(text_at(tokens, index), "}" | "") {
                    index = parse_use_tree(tokens, index, &segments, leaves);
                    if text_at(tokens, index) == "," {
                        index += 1;
                    } else if text_at(tokens, index) != "}" {
                        return index;
                    }
                }
                return index + 1;
            }
            "*" => {
                let line = tokens[index].line;
                leaves.push(WrittenPath { line, token: index, segments, glob: true, inline_modules: Vec::new() });
                return index + 1;
            }
            name if is_identifier(name) => {
                let (line, token) = (tokens[index].line, index);
                if name != "self" || segments.is_empty() {
                    segments.push(name.to_owned());
                }
                index += 1;
                if text_at(tokens, index) == "::" {
                    index += 1;
                    continue;
                }
                if text_at(tokens, index) == "as" {
                    index += 2;
                }
                leaves.push(WrittenPath { line, token, segments, glob: false, inline_modules: Vec::new() });
                return index;
            }
            _ => return index,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checkers can fail: synthetic trees that break each rule, and one that breaks none.
// ---------------------------------------------------------------------------------------------

/// A tree of synthetic files; a source may start with a newline (dropped) so it reads as a block.
fn tree(files: &[(&str, &str)]) -> Tree {
    let source = |text: &str| text.strip_prefix('\n').unwrap_or(text).to_owned();
    Tree::new(files.iter().map(|(path, text)| (path.to_string(), source(text))).collect())
}

/// The files `file` imports, by the same resolution the rules use.
fn imported_files(tree: &Tree, file: &str) -> BTreeSet<String> {
    let file = tree.files.iter().find(|candidate| candidate.path == file).expect("the file is in the tree");
    tree.imports(file).into_iter().filter_map(|import| import.target).collect()
}

fn set(files: &[&str]) -> BTreeSet<String> {
    files.iter().map(|file| file.to_string()).collect()
}

fn every_violation(tree: &Tree) -> Vec<String> {
    let mut violations = import_cycles(tree);
    violations.extend(aws_layer_violations(tree));
    violations.extend(command_to_command_imports(tree));
    violations.extend(stray_terminal_output(tree));
    violations.extend(crowded_top_of_src(tree));
    violations.extend(layer_loops(tree));
    violations
}

const CLEAN_TREE: &[(&str, &str)] = &[
    ("src/lib.rs", "pub mod aws; pub mod commands; pub mod error; pub mod names; pub mod ui;"),
    ("src/main.rs", "use sentinel_tvm::{commands, ui::output};\nfn main() { commands::run(); }"),
    ("src/error.rs", "pub struct Fixable;"),
    ("src/names.rs", r#"pub fn stack() -> &'static str { "tvm" }"#),
    ("src/aws/mod.rs", "pub mod iam;\npub struct Connection;"),
    (
        "src/aws/iam.rs",
        "
use super::Connection;
use crate::{error::Fixable, names};
pub fn get_user(_: &Connection) -> Result<(), Fixable> {
    let _ = names::stack();
    Ok(())
}",
    ),
    ("src/commands/mod.rs", "mod install;\nmod steps;\npub fn run() { self::install::run(); }"),
    (
        "src/commands/install.rs",
        r#"use super::steps::session::Session; pub fn run() { crate::ui::output::line("x"); }"#,
    ),
    ("src/commands/steps/session.rs", "pub fn start() { crate::aws::iam::get_user(&crate::aws::Connection); }"),
    ("src/ui/output.rs", r#"pub fn line(text: &str) { println!("{text}"); let _ = std::io::stdout(); }"#),
    ("src/ui/prompt.rs", r#"pub fn ask() { let _ = dialoguer::Input::<String>::new(); eprintln!("?"); }"#),
    (
        "src/deploy/artifact.rs",
        r#"
use std::process::{Command, Stdio};
pub fn build() { Command::new("cargo").stdout(Stdio::inherit()); }"#,
    ),
];

#[test]
fn a_clean_synthetic_tree_passes_every_rule() {
    let clean = tree(CLEAN_TREE);
    assert_eq!(every_violation(&clean), Vec::<String>::new());
    assert_eq!(imported_files(&clean, "src/aws/iam.rs"), set(&["src/aws/mod.rs", "src/error.rs", "src/names.rs"]));
    assert_eq!(imported_files(&clean, "src/main.rs"), set(&["src/commands/mod.rs", "src/ui/output.rs"]));
}

#[test]
fn a_cycle_of_use_items_is_reported_with_each_step() {
    let cyclic = tree(&[
        ("src/lib.rs", ""),
        ("src/a.rs", "use crate::b::B;\npub struct A;"),
        ("src/b.rs", "use crate::c::C;\npub struct B;"),
        ("src/c.rs", "\n\n\nuse crate::a::A;\npub struct C;"),
    ]);
    let cycles = import_cycles(&cyclic);
    assert_eq!(cycles.len(), 1, "{cycles:#?}");
    assert!(cycles[0].starts_with("import cycle: src/a.rs -> src/b.rs -> src/c.rs -> src/a.rs"), "{}", cycles[0]);
    assert!(cycles[0].contains("src/c.rs:3 `crate::a::A` -> src/a.rs"), "{}", cycles[0]);
}

#[test]
fn a_cycle_made_only_by_inline_paths_is_reported() {
    let cyclic = tree(&[
        ("src/lib.rs", ""),
        ("src/a.rs", "pub fn f() -> u8 { crate::b::g() }"),
        ("src/b.rs", "pub fn g() -> u8 { let x: crate::a::Thing = todo!(); x.0 }"),
    ]);
    let cycles = import_cycles(&cyclic);
    assert_eq!(cycles.len(), 1, "{cycles:#?}");
    assert!(cycles[0].starts_with("import cycle: src/a.rs -> src/b.rs -> src/a.rs"), "{}", cycles[0]);
}

#[test]
fn a_parent_and_its_child_importing_each_other_is_a_cycle() {
    let cyclic = tree(&[
        ("src/lib.rs", ""),
        ("src/a/mod.rs", "mod child;\npub use self::child::Child;\npub struct Parent;"),
        ("src/a/child.rs", "use super::Parent;\npub struct Child(Parent);"),
    ]);
    let cycles = import_cycles(&cyclic);
    assert_eq!(cycles.len(), 1, "{cycles:#?}");
    assert!(cycles[0].starts_with("import cycle: src/a/child.rs -> src/a/mod.rs -> src/a/child.rs"), "{}", cycles[0]);
}

#[test]
fn a_bare_child_module_path_in_a_mod_rs_is_an_import() {
    let cyclic = tree(&[
        ("src/lib.rs", ""),
        (
            "src/engine/mod.rs",
            "
mod failure;
use failure::combined;
pub enum Mode { Apply }
pub fn run() { combined(); }",
        ),
        ("src/engine/failure.rs", "use super::Mode;\npub fn combined() {}"),
    ]);
    assert_eq!(imported_files(&cyclic, "src/engine/mod.rs"), set(&["src/engine/failure.rs"]));
    assert_eq!(import_cycles(&cyclic).len(), 1);
}

#[test]
fn super_from_a_mod_rs_is_the_parent_of_its_folder() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/b.rs", "pub struct B;"),
        ("src/a/mod.rs", "use super::b::B;\npub struct A(B);"),
        ("src/a/c.rs", "pub struct C;"),
    ]);
    assert_eq!(imported_files(&files, "src/a/mod.rs"), set(&["src/b.rs"]));
}

#[test]
fn super_from_a_leaf_file_is_its_folder() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/a/mod.rs", "pub struct A;"),
        ("src/a/b.rs", "use super::c::C;\nuse super::*;\nfn f() { super::super::top::f(); }"),
        ("src/a/c.rs", "pub struct C;"),
        ("src/top.rs", "pub fn f() {}"),
    ]);
    assert_eq!(imported_files(&files, "src/a/b.rs"), set(&["src/a/c.rs", "src/a/mod.rs", "src/top.rs"]));
}

#[test]
fn nested_brace_groups_import_every_leaf() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/a/mod.rs", ""),
        ("src/a/b.rs", "use crate::d::D;"),
        ("src/a/c.rs", ""),
        (
            "src/d.rs",
            "
use crate::{
    a::{b::B, c::{self, C as Renamed}},
    e,
};
pub struct D;",
        ),
        ("src/e.rs", ""),
    ]);
    assert_eq!(imported_files(&files, "src/d.rs"), set(&["src/a/b.rs", "src/a/c.rs", "src/e.rs"]));
    let cycles = import_cycles(&files);
    assert_eq!(cycles.len(), 1, "{cycles:#?}");
    assert!(cycles[0].contains("src/d.rs:2 `crate::a::b::B` -> src/a/b.rs"), "{}", cycles[0]);
}

#[test]
fn a_path_is_an_import_of_the_longest_prefix_that_is_a_module_file() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/aws/mod.rs", "pub mod iam;\npub struct Connection;"),
        ("src/aws/iam.rs", "pub fn get_user() {}"),
        ("src/user.rs", "fn f() { crate::aws::iam::get_user(); let _ = crate::aws::Connection; crate::RootItem; }"),
    ]);
    assert_eq!(imported_files(&files, "src/user.rs"), set(&["src/aws/iam.rs", "src/aws/mod.rs"]));
}

#[test]
fn super_in_an_inline_module_stays_in_the_file() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/ui/mod.rs", "pub struct Shared;"),
        (
            "src/ui/render.rs",
            "
pub struct Row;
pub mod json {
    use super::Row;
    pub fn row(_: Row) {}
}",
        ),
    ]);
    assert_eq!(imported_files(&files, "src/ui/render.rs"), BTreeSet::new());
}

#[test]
fn imports_in_test_only_code_do_not_count() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/a.rs", "use crate::b::B;\npub struct A;"),
        (
            "src/b.rs",
            r#"
pub struct B;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::a::A;
    fn f() { println!("{}", crate::a::A); }
}
#[cfg(test)]
#[allow(dead_code)]
fn helper() -> crate::a::A { crate::a::A }
#[cfg(test)]
use crate::a::{A as Again};
#[cfg(test)]
impl B { fn a() -> crate::a::A { crate::a::A } }
pub fn after_the_tests() {}"#,
        ),
        ("src/c.rs", "#![cfg(test)]\nuse crate::a::A;\nfn f() { dbg!(1); }"),
    ]);
    assert_eq!(imported_files(&files, "src/b.rs"), BTreeSet::new());
    assert_eq!(imported_files(&files, "src/c.rs"), BTreeSet::new());
    assert_eq!(every_violation(&files), Vec::<String>::new());
    let b = files.files.iter().find(|file| file.path == "src/b.rs").expect("src/b.rs");
    assert!(b.tokens.iter().any(|token| token.text == "after_the_tests"), "code after the tests is kept");
}

#[test]
fn paths_in_strings_and_comments_do_not_count() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/a.rs", "use crate::b::B;"),
        (
            "src/b.rs",
            r##"
//! Module docs naming crate::a::A.
/// Item docs: `crate::a::A`.
pub struct B;
// crate::a::A
/* outer /* nested crate::a::A */ still a comment crate::a::A */
const TEXT: &str = "crate::a::A \" crate::a::A";
const RAW: &str = r#"a "quoted" crate::a::A"#;
const QUOTE: char = '"';
fn lifetimes<'a>(x: &'a str) -> &'a str { println!("not this {x}"); x }"##,
        ),
    ]);
    assert_eq!(imported_files(&files, "src/b.rs"), BTreeSet::new());
    assert_eq!(import_cycles(&files), Vec::<String>::new());
    let printing = stray_terminal_output(&files);
    assert_eq!(printing.len(), 1, "only the real println! counts: {printing:#?}");
    assert!(printing[0].starts_with("src/b.rs:9 uses println!"), "{}", printing[0]);
}

#[test]
fn code_after_a_char_literal_quote_is_still_read() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/a.rs", r#"fn f() -> char { let q = '"'; let _ = crate::b::B; q }"#),
        ("src/b.rs", "pub struct B;"),
    ]);
    assert_eq!(imported_files(&files, "src/a.rs"), set(&["src/b.rs"]));
}

#[test]
fn a_precise_capturing_use_is_not_a_use_item() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/a.rs", "fn f<'a>(x: &'a u8) -> impl Sized + use<'a> { let _ = crate::b::B; x }"),
        ("src/b.rs", "pub struct B;"),
    ]);
    assert_eq!(imported_files(&files, "src/a.rs"), set(&["src/b.rs"]));
}

#[test]
fn a_macro_reaches_the_crate_through_dollar_crate() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/a.rs", "macro_rules! fail { () => { use $crate::b::B; $crate::b::fail() }; }"),
        ("src/b.rs", "pub struct B;\npub fn fail() {}"),
    ]);
    assert_eq!(imported_files(&files, "src/a.rs"), set(&["src/b.rs"]));
}

#[test]
fn main_rs_reaches_the_library_as_sentinel_tvm() {
    let files = tree(&[
        ("src/lib.rs", "pub mod cli;"),
        ("src/cli.rs", "pub struct Cli;"),
        (
            "src/main.rs",
            "
use sentinel_tvm::cli::Cli;
fn main() { let _ = sentinel_tvm::cli::Cli; self::helper(); }
fn helper() {}",
        ),
    ]);
    assert_eq!(imported_files(&files, "src/main.rs"), set(&["src/cli.rs"]));
}

#[test]
fn the_aws_layer_may_not_import_a_decision() {
    let files = tree(&[
        ("src/lib.rs", ""),
        ("src/aws/mod.rs", "pub struct Connection;"),
        (
            "src/aws/organizations.rs",
            "
use super::Connection;
use crate::names::stack;
use crate::model::cloudformation::Stack;
use crate::preflight::Verdict;
fn f() { crate::ui::output::line(); }",
        ),
        ("src/preflight.rs", "pub enum Verdict {}"),
        ("src/ui/output.rs", "pub fn line() {}"),
    ]);
    let violations = aws_layer_violations(&files);
    let expected = [
        "src/aws/organizations.rs:4 imports `crate::preflight::Verdict` (src/preflight.rs)",
        "src/aws/organizations.rs:5 imports `crate::ui::output::line` (src/ui/output.rs)",
    ];
    assert_eq!(violations, expected);
}

#[test]
fn the_ground_floor_may_import_only_names_and_errors() {
    let files = tree(&[
        ("src/lib.rs", ""),
        (
            "src/model/cloudformation.rs",
            "use crate::names::stack;\nuse crate::error::Fixable;\nuse super::verdict::Verdict;",
        ),
        ("src/model/verdict.rs", "pub struct Verdict;\nfn f(_: crate::aws::Connection) {}"),
        ("src/aws/mod.rs", "pub struct Connection;"),
    ]);
    let violations = limited_imports(&files, "src/model/", GROUND_FLOOR_MAY_IMPORT);
    assert_eq!(violations, ["src/model/verdict.rs:2 imports `crate::aws::Connection` (src/aws/mod.rs)"]);
}

#[test]
fn commands_may_not_import_each_other() {
    let files = tree(&[
        ("src/lib.rs", ""),
        (
            "src/commands/mod.rs",
            "mod install;\nmod smoke_test;\nuse self::install::run;\nfn f() { smoke_test::run(); }",
        ),
        (
            "src/commands/install.rs",
            "
use super::smoke_test::prove;
use super::steps::deploy::apply;
use crate::commands::steps::session::Session;
fn f() { crate::commands::smoke_test::prove(); }",
        ),
        ("src/commands/smoke_test.rs", "pub fn prove() {}"),
        ("src/commands/steps/deploy.rs", "pub fn apply() {}\nfn f() { crate::commands::install::run(); }"),
        ("src/commands/steps/session.rs", "pub struct Session;"),
    ]);
    let violations = command_to_command_imports(&files);
    let expected = [
        "src/commands/install.rs:1 imports `super::smoke_test::prove` (src/commands/smoke_test.rs)",
        "src/commands/install.rs:4 imports `crate::commands::smoke_test::prove` (src/commands/smoke_test.rs)",
    ];
    assert_eq!(violations, expected);
}

#[test]
fn terminal_output_outside_the_reporter_is_reported() {
    let files = tree(&[
        ("src/lib.rs", ""),
        (
            "src/tvm/bridge.rs",
            r#"
use std::io::{self, Write};
use std::io::stderr;
fn f() {
    eprintln!("x");
    print!("y");
    let _ = dbg!(1);
    let _ = io::stdout().flush();
    let _ = indicatif::ProgressBar::new(1);
    let _ = console::Term::stdout();
    let _ = std::process::Stdio::inherit();
    let _ = Command::new("cargo").stdout(Stdio::from(std::io::stderr()));
    let x = println != 2;
}"#,
        ),
        ("src/ui/output.rs", r#"fn f() { println!("ok"); let _ = dialoguer::Confirm::new(); }"#),
        ("src/ui/prompt.rs", r#"use dialoguer::Input; fn f() { eprint!("ok"); }"#),
    ]);
    let outside = "(allowed only in src/ui/output.rs and src/ui/prompt.rs)";
    let expected = [
        format!("src/tvm/bridge.rs:2 uses io::stderr {outside}"),
        format!("src/tvm/bridge.rs:4 uses eprintln! {outside}"),
        format!("src/tvm/bridge.rs:5 uses print! {outside}"),
        format!("src/tvm/bridge.rs:6 uses dbg! {outside}"),
        format!("src/tvm/bridge.rs:7 uses io::stdout {outside}"),
        format!("src/tvm/bridge.rs:8 uses indicatif {outside}"),
        format!("src/tvm/bridge.rs:9 uses console::Term {outside}"),
        "src/ui/output.rs:1 uses dialoguer (allowed only in src/ui/prompt.rs)".to_owned(),
    ];
    assert_eq!(stray_terminal_output(&files), expected);
}

#[test]
fn more_than_ten_files_at_the_top_of_src_is_reported() {
    let names: Vec<String> = (0..11).map(|n| format!("src/m{n:02}.rs")).collect();
    let eleven: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "")).collect();
    let violations = crowded_top_of_src(&tree(&eleven));
    assert_eq!(violations.len(), 1);
    assert!(violations[0].starts_with("11 files directly in src/ (at most 10): src/m00.rs, "), "{}", violations[0]);
    let mut ten_and_a_folder = eleven[..10].to_vec();
    ten_and_a_folder.push(("src/deep/m.rs", ""));
    assert_eq!(crowded_top_of_src(&tree(&ten_and_a_folder)), Vec::<String>::new());
}

#[test]
fn two_folders_importing_each_other_through_different_files_are_a_loop() {
    // No file-level cycle: aws/s3.rs -> deploy/model.rs, and deploy/engine.rs -> aws/cloudformation.rs.
    let two = tree(&[
        ("src/lib.rs", "pub mod aws; pub mod deploy;"),
        ("src/aws/s3.rs", "use crate::deploy::model::Stored;"),
        ("src/aws/cloudformation.rs", "pub struct CloudFormation;"),
        ("src/deploy/model.rs", "pub struct Stored;"),
        ("src/deploy/engine.rs", "use crate::aws::cloudformation::CloudFormation;"),
    ]);
    assert_eq!(import_cycles(&two), Vec::<String>::new(), "the files form no cycle");
    let loops = layer_loops(&two);
    assert_eq!(loops.len(), 1, "{loops:?}");
    assert!(loops[0].starts_with("modules that import each other around a loop: aws, deploy"), "{}", loops[0]);
    assert!(loops[0].contains("aws -> deploy: src/aws/s3.rs:1 `crate::deploy::model::Stored`"), "{}", loops[0]);
    assert!(loops[0].contains("deploy -> aws: src/deploy/engine.rs:1"), "{}", loops[0]);
}

#[test]
fn a_longer_circle_of_folders_is_a_loop_and_a_one_way_stack_is_not() {
    let circle = tree(&[
        ("src/lib.rs", "pub mod a; pub mod b; pub mod c; pub mod d;"),
        ("src/a/x.rs", "use crate::b::y::Y;"),
        ("src/b/y.rs", "pub struct Y; fn f() { crate::c::z(); }"),
        ("src/c.rs", "pub fn z() { let _ = crate::a::x::X; }"),
        ("src/d.rs", "use crate::a::x::X;"),
    ]);
    let loops = layer_loops(&circle);
    assert_eq!(loops.len(), 1, "{loops:?}");
    assert!(loops[0].starts_with("modules that import each other around a loop: a, b, c\n"), "{}", loops[0]);
    let stack = tree(&[
        ("src/lib.rs", "pub mod a; pub mod b; pub mod c;"),
        ("src/a/x.rs", "use crate::b::y::Y;"),
        ("src/b/y.rs", "pub struct Y; fn f() { crate::c::z(); }"),
        ("src/c.rs", "pub fn z() {}"),
    ]);
    assert_eq!(layer_loops(&stack), Vec::<String>::new());
}
