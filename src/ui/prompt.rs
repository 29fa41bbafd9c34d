//! Questions at the terminal (dialoguer), on stderr. Each returns `Err(Interrupted)` on Ctrl-C,
//! with the terminal left as it was found (cursor shown, a clean line).

use dialoguer::{Confirm, Input, Select};

use super::Printer;

/// The operator pressed Ctrl-C at a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted at a prompt")
    }
}

impl std::error::Error for Interrupted {}

fn leave_clean<T>(r: dialoguer::Result<T>) -> Result<T, Interrupted> {
    r.map_err(|_| {
        let term = console::Term::stderr();
        let _ = term.show_cursor();
        let _ = term.write_line("");
        Interrupted
    })
}

impl Printer {
    /// A line of the conversation, on stderr.
    pub fn say(&self, text: &str) {
        self.err_at(0, text);
    }

    /// A line of text, with its default shown (Enter takes it). An empty answer is allowed
    /// only when `allow_empty`.
    pub fn ask(
        &self,
        question: &str,
        default: Option<&str>,
        allow_empty: bool,
    ) -> Result<String, Interrupted> {
        let mut input = Input::<String>::new()
            .with_prompt(question)
            .allow_empty(allow_empty);
        if let Some(d) = default {
            input = input.default(d.to_string());
        }
        leave_clean(tokio::task::block_in_place(|| input.interact_text()))
            .map(|s| s.trim().to_string())
    }

    /// One of `items` (arrow keys and Enter), starting at `default`.
    pub fn choose(
        &self,
        question: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, Interrupted> {
        let select = Select::new()
            .with_prompt(question)
            .items(items)
            .default(default.min(items.len().saturating_sub(1)));
        leave_clean(tokio::task::block_in_place(|| select.interact()))
    }

    /// Yes or no, with a default.
    pub fn agree(&self, question: &str, default: bool) -> Result<bool, Interrupted> {
        let confirm = Confirm::new().with_prompt(question).default(default);
        leave_clean(tokio::task::block_in_place(|| confirm.interact()))
    }
}
