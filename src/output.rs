//! Where everything a command says goes. Data (change sets, status, outputs) on stdout;
//! progress and chatter on stderr. On a terminal each stack gets a live spinner line with its
//! status and elapsed time; without one, plain timestamped lines; with `--output json`, one JSON
//! object per line on stdout and nothing decorative anywhere.
//!
//! Holds no decisions: callers say what happened, `render` says how it looks.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::aws::cloudformation::{ResourceChange, StackEvent};
use crate::cli::OutputFormat;
use crate::plan::Action;
use crate::render;

pub struct Reporter {
    json: bool,
    live: Option<Live>,
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
        let live = terminal.then(|| Live {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::default(),
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
            self.suspend(|| {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            });
        }
    }

    /// A JSON object for machines (stdout, JSON mode only).
    pub fn json(&self, value: Value) {
        if self.json {
            println!("{value}");
        }
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
