//! The one place that asks the user anything. Commands hold a `&dyn Prompt`: on a terminal it is
//! dialoguer; without one (CI, `--non-interactive`) every question is an error naming the flag
//! that answers it; in tests a script of answers.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Mutex;

use anyhow::{Result, bail};

use crate::error::Fixable;

/// A question the user turned down or cancelled (Esc, Ctrl-C at a prompt): not an error.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

pub trait Prompt: Send + Sync {
    /// Yes or no. `flag` names what answers it without a terminal (`--yes`).
    fn confirm(&self, question: &str, default: bool, flag: &str) -> Result<bool>;
    /// Free text, checked by `valid` until it passes.
    fn input(
        &self,
        question: &str,
        default: Option<&str>,
        flag: &str,
        valid: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String>;
    /// One of `items`; returns its index.
    fn select(&self, question: &str, items: &[String], default: usize, flag: &str) -> Result<usize>;
    /// Any of `items`; returns their indexes.
    fn multi_select(&self, question: &str, items: &[String], chosen: &[bool], flag: &str) -> Result<Vec<usize>>;
    /// Whether questions get answers (a terminal, or a test's script), so it is worth asking.
    fn interactive(&self) -> bool {
        false
    }
}

/// `confirm`, with a cancelled question (Esc, Ctrl-C at the prompt) taken as a no.
pub fn agreed(prompt: &dyn Prompt, question: &str, default: bool, flag: &str) -> Result<bool> {
    match prompt.confirm(question, default, flag) {
        Err(error) if error.is::<Cancelled>() => Ok(false),
        answer => answer,
    }
}

/// The prompt for this session: dialoguer when stdin and stderr are terminals and prompting is
/// allowed, else one that refuses with the flag to use.
pub fn for_session(allow_prompts: bool) -> Box<dyn Prompt> {
    if allow_prompts && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Box::new(Terminal)
    } else {
        Box::new(NoTerminal)
    }
}

pub struct Terminal;

impl Terminal {
    fn theme() -> dialoguer::theme::ColorfulTheme {
        dialoguer::theme::ColorfulTheme::default()
    }
}

/// dialoguer reports Esc/Ctrl-C as an interrupted read: the user cancelled.
fn cancelled(error: dialoguer::Error) -> anyhow::Error {
    match error {
        dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => Cancelled.into(),
        other => anyhow::Error::new(other).context("the prompt failed"),
    }
}

impl Prompt for Terminal {
    fn interactive(&self) -> bool {
        true
    }

    fn confirm(&self, question: &str, default: bool, _flag: &str) -> Result<bool> {
        dialoguer::Confirm::with_theme(&Self::theme())
            .with_prompt(question)
            .default(default)
            .interact()
            .map_err(cancelled)
    }

    fn input(
        &self,
        question: &str,
        default: Option<&str>,
        _flag: &str,
        valid: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String> {
        let theme = Self::theme();
        let mut input = dialoguer::Input::<String>::with_theme(&theme).with_prompt(question);
        if let Some(default) = default {
            input = input.default(default.to_string());
        }
        input.validate_with(|text: &String| valid(text)).interact_text().map_err(cancelled)
    }

    fn select(&self, question: &str, items: &[String], default: usize, _flag: &str) -> Result<usize> {
        dialoguer::Select::with_theme(&Self::theme())
            .with_prompt(question)
            .items(items)
            .default(default)
            .interact()
            .map_err(cancelled)
    }

    fn multi_select(&self, question: &str, items: &[String], chosen: &[bool], _flag: &str) -> Result<Vec<usize>> {
        dialoguer::MultiSelect::with_theme(&Self::theme())
            .with_prompt(question)
            .items(items)
            .defaults(chosen)
            .interact()
            .map_err(cancelled)
    }
}

/// Without a terminal nothing is asked: the error names the flag that supplies the answer.
pub struct NoTerminal;

impl NoTerminal {
    fn refuse<T>(question: &str, flag: &str) -> Result<T> {
        Err(Fixable::new(
            format!("`{question}` needs an answer, but there is no terminal to ask on"),
            format!("pass {flag}"),
        )
        .into())
    }
}

impl Prompt for NoTerminal {
    fn confirm(&self, question: &str, _default: bool, flag: &str) -> Result<bool> {
        Self::refuse(question, flag)
    }
    fn input(
        &self,
        question: &str,
        _default: Option<&str>,
        flag: &str,
        _valid: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String> {
        Self::refuse(question, flag)
    }
    fn select(&self, question: &str, _items: &[String], _default: usize, flag: &str) -> Result<usize> {
        Self::refuse(question, flag)
    }
    fn multi_select(&self, question: &str, _items: &[String], _chosen: &[bool], flag: &str) -> Result<Vec<usize>> {
        Self::refuse(question, flag)
    }
}

/// Answers from a script, in order, for tests. Each answer is text: `y`/`n` for confirmations,
/// the item's text for selections, comma-separated items for multi-selections.
pub struct Scripted {
    answers: Mutex<VecDeque<String>>,
    pub asked: Mutex<Vec<String>>,
}

impl Scripted {
    pub fn new(answers: &[&str]) -> Self {
        Self { answers: Mutex::new(answers.iter().map(|a| a.to_string()).collect()), asked: Mutex::default() }
    }

    fn next(&self, question: &str) -> Result<String> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).push(question.to_string());
        match self.answers.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
            Some(answer) => Ok(answer),
            None => bail!("the script has no answer for `{question}`"),
        }
    }
}

impl Prompt for Scripted {
    fn interactive(&self) -> bool {
        true
    }
    fn confirm(&self, question: &str, _default: bool, _flag: &str) -> Result<bool> {
        Ok(matches!(self.next(question)?.as_str(), "y" | "yes"))
    }
    fn input(
        &self,
        question: &str,
        _default: Option<&str>,
        _flag: &str,
        valid: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String> {
        let answer = self.next(question)?;
        valid(&answer)
            .map_err(|problem| anyhow::anyhow!("scripted answer `{answer}` to `{question}` is invalid: {problem}"))?;
        Ok(answer)
    }
    fn select(&self, question: &str, items: &[String], _default: usize, _flag: &str) -> Result<usize> {
        let answer = self.next(question)?;
        items
            .iter()
            .position(|item| *item == answer)
            .ok_or_else(|| anyhow::anyhow!("`{answer}` is not an option of `{question}`"))
    }
    fn multi_select(&self, question: &str, items: &[String], _chosen: &[bool], _flag: &str) -> Result<Vec<usize>> {
        let answer = self.next(question)?;
        answer
            .split(',')
            .filter(|a| !a.is_empty())
            .map(|a| {
                items
                    .iter()
                    .position(|item| item == a)
                    .ok_or_else(|| anyhow::anyhow!("`{a}` is not an option of `{question}`"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_terminal_every_question_names_its_flag() {
        let error = NoTerminal.confirm("Apply these changes?", false, "--yes").unwrap_err();
        let fixable = error.downcast_ref::<Fixable>().unwrap();
        assert_eq!(fixable.hint, "pass --yes");
        assert!(NoTerminal.select("Architecture?", &["arm64".into()], 0, "--architecture arm64|x86_64").is_err());
    }

    #[test]
    fn a_script_answers_in_order_and_records_the_questions() {
        let script = Scripted::new(&["y", "x86_64", "a,c"]);
        assert!(script.confirm("go?", false, "--yes").unwrap());
        assert_eq!(script.select("arch?", &["arm64".into(), "x86_64".into()], 0, "").unwrap(), 1);
        assert_eq!(script.multi_select("which?", &["a".into(), "b".into(), "c".into()], &[], "").unwrap(), [0, 2]);
        assert!(script.confirm("more?", false, "--yes").is_err(), "the script ran out");
        assert_eq!(script.asked.lock().unwrap().len(), 4);
    }
}
