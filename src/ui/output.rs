//! Where everything a command says goes: the one `Reporter`, handed to every command. Data (change
//! sets, status, outputs) on stdout; progress, chatter and errors on stderr. On a terminal each stack gets a live spinner line with its
//! status and elapsed time; without one, plain timestamped lines; with `--output json`, one JSON
//! object per line on stdout (errors included, as `{"type":"error",…}`) and nothing decorative
//! anywhere. Two exceptions, on purpose: `credential_process` output is the exact object an SDK
//! reads whatever the format, and a child process (cargo-lambda, `exec`'s command) gets its own
//! stdio. Apart from the prompt module, nothing else in the crate writes to the terminal.
//!
//! Holds no decisions: callers say what happened, `render` says how it looks.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::deploy::plan::Action;
use crate::error::Fixable;
use crate::model::cloudformation::{ResourceChange, StackEvent};
use crate::ui::render;

/// Cheap to clone: every clone draws on the same terminal lines.
#[derive(Clone)]
pub struct Reporter {
    json: bool,
    live: Option<Arc<Live>>,
    started: Instant,
}

/// Spinners on a terminal.
struct Live {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Reporter {
    /// Spinners only when stderr is a terminal and the output is text.
    pub fn new(format: OutputFormat) -> Self {
        let json = format == OutputFormat::Json;
        let terminal = !json && std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let live = terminal.then(|| {
            Arc::new(Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::default(),
            })
        });
        Self { json, live, started: Instant::now() }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// A line of chatter (stderr).
    pub fn note(&self, message: &str) {
        self.stderr_line(&format!("==> {message}"));
    }

    pub fn warn(&self, message: &str) {
        self.stderr_line(&format!("warning: {message}"));
    }

    /// A block of data for people (stdout, text mode only).
    pub fn data(&self, text: &str) {
        if !self.json {
            self.stdout(text);
        }
    }

    /// A JSON object for machines (stdout, JSON mode only).
    pub fn json(&self, value: Value) {
        if self.json {
            self.stdout(&format!("{value}\n"));
        }
    }

    /// A failed command: the error, its causes and the hint on stderr; with `--output json` also
    /// one `{"type":"error","message":…,"hint":…}` line on stdout.
    pub fn failure(&self, error: &anyhow::Error) {
        if self.json {
            let hint = error.chain().find_map(|cause| cause.downcast_ref::<Fixable>()).map(|f| f.hint.clone());
            self.json(render::json::error(&format!("{error:#}"), hint.as_deref()));
        }
        self.stderr_block(&render::render_failure(error));
    }

    /// A refusal in someone else's words (the TVM's): `error: …` on stderr, and a JSON error line
    /// with `--output json`.
    pub fn refusal(&self, words: &str) {
        self.json(render::json::error(words, None));
        self.stderr_block(&format!("error: {words}\n"));
    }

    /// A `note: …` line on stderr, unprefixed by time: for commands whose stderr the user's own
    /// tools share (`exec`).
    pub fn plain_note(&self, message: &str) {
        self.stderr_block(&format!("note: {message}\n"));
    }

    /// Text for stderr as it is (a failure summary, a refusal).
    pub fn stderr_block(&self, text: &str) {
        self.suspend(|| {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(text.as_bytes());
            let _ = stderr.flush();
        });
    }

    /// The `credential_process` object on stdout, whatever `--output` says: an SDK reads it.
    pub fn credential_process(&self, json: &str) {
        self.stdout(&format!("{json}\n"));
    }

    /// Where a child process's standard output goes: stderr, so stdout stays ours (data, JSON).
    pub fn child_stdout(&self) -> std::process::Stdio {
        std::process::Stdio::from(std::io::stderr())
    }

    fn stdout(&self, text: &str) {
        self.suspend(|| {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        });
    }

    pub fn plan(&self, stack: &str, action: &Action) {
        self.json(render::json::plan(stack, action));
        if !self.json {
            self.stderr_line(&format!("plan: {}", render::plan_line(stack, action)));
        }
    }

    pub fn change_set(&self, stack: &str, changes: &[ResourceChange]) {
        for change in changes {
            self.json(render::json::change(stack, change));
        }
        self.data(&render::change_set(stack, changes));
    }

    /// A stack starts an operation that will produce events.
    pub fn stack_started(&self, stack: &str, status: &str) {
        match &self.live {
            Some(live) => {
                let bar = live.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}  {msg}  {elapsed}").expect("valid template"),
                );
                bar.set_prefix(stack.to_string());
                bar.set_message(status.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                live.bars.lock().unwrap_or_else(|e| e.into_inner()).insert(stack.to_string(), bar);
            }
            None => self.stderr_line(&format!("{stack}  {status}")),
        }
    }

    pub fn event(&self, stack: &str, event: &StackEvent) {
        self.json(render::json::event(stack, event));
        if self.json {
            return;
        }
        if let Some(bar) = self.bar(stack).filter(|_| event.logical_id == stack) {
            bar.set_message(event.status.clone());
        }
        self.stderr_line(&render::event_line(stack, event));
    }

    /// The stack's operation ended with `status`.
    pub fn stack_finished(&self, stack: &str, status: &str) {
        match self.live.as_ref().and_then(|live| live.bars.lock().unwrap_or_else(|e| e.into_inner()).remove(stack)) {
            Some(bar) => bar.finish_with_message(status.to_string()),
            None if !self.json => self.stderr_line(&format!("{stack}  {status}")),
            None => {}
        }
    }

    pub fn outputs(&self, stack: &str, outputs: &BTreeMap<String, String>) {
        for (key, value) in outputs {
            self.json(render::json::output(stack, key, value));
        }
    }

    /// Runs `f` with the spinners out of the way, so plain output is not drawn over.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.live {
            Some(live) => live.multi.suspend(f),
            None => f(),
        }
    }

    fn bar(&self, stack: &str) -> Option<ProgressBar> {
        self.live.as_ref()?.bars.lock().unwrap_or_else(|e| e.into_inner()).get(stack).cloned()
    }

    fn stderr_line(&self, line: &str) {
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(line);
            }
            None => eprintln!("[{:>6.1}s] {line}", self.started.elapsed().as_secs_f64()),
        }
    }
}
