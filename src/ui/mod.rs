//! The only module that imports indicatif, dialoguer and console: what reaches the terminal.
//! Results go to stdout (text or one JSON document); progress, prompts, warnings and errors go
//! to stderr. Everything written passes through the secret's redaction.

pub mod prompt;
pub mod render;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{ColorChoice, OutputFormat};
use crate::plan::{Event, Reporter, Status};
use crate::secret::Secret;

/// Decides what reaches the terminal.
#[derive(Clone)]
pub struct Printer {
    pub format: OutputFormat,
    /// -1 quiet, 0 normal, 1+ verbose.
    pub verbosity: i8,
    pub color: bool,
    pub stderr_tty: bool,
    pub interactive: bool,
    secrets: Arc<Mutex<Vec<Secret>>>,
}

impl Printer {
    pub fn new(
        format: OutputFormat,
        quiet: u8,
        verbose: u8,
        color: ColorChoice,
        no_input: bool,
    ) -> Printer {
        let stderr_tty = std::io::stderr().is_terminal();
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                stderr_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        console::set_colors_enabled_stderr(color);
        console::set_colors_enabled(color && std::io::stdout().is_terminal());
        Printer {
            format,
            verbosity: (verbose.min(100) as i8) - (quiet.min(100) as i8),
            color,
            stderr_tty,
            interactive: !no_input && std::io::stdin().is_terminal() && stderr_tty,
            secrets: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// From now on, every line written is scrubbed of this text.
    pub fn redact(&self, secret: &Secret) {
        self.secrets.lock().unwrap().push(secret.clone());
    }

    fn scrub(&self, text: &str) -> String {
        self.secrets
            .lock()
            .unwrap()
            .iter()
            .fold(text.to_string(), |t, s| s.redact(&t))
    }

    /// A result on stdout.
    pub fn out(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{}", self.scrub(text));
    }

    /// A line on stderr at the given minimum verbosity.
    pub fn err_at(&self, level: i8, text: &str) {
        if self.verbosity >= level {
            let _ = writeln!(std::io::stderr().lock(), "{}", self.scrub(text));
        }
    }

    pub fn info(&self, text: &str) {
        self.err_at(0, text);
    }

    pub fn warn(&self, text: &str) {
        let label = console::style("warning:").yellow().bold();
        self.err_at(-1, &format!("{label} {text}"));
    }

    pub fn error(&self, text: &str) {
        let label = console::style("error:").red().bold();
        let _ = writeln!(std::io::stderr().lock(), "{label} {}", self.scrub(text));
    }

    /// Ask a yes/no question on the terminal; `None` when no terminal can answer.
    pub fn confirm(&self, question: &str) -> Option<bool> {
        if !self.interactive {
            return None;
        }
        dialoguer::Confirm::new()
            .with_prompt(self.scrub(question))
            .default(false)
            .interact()
            .ok()
    }

    pub fn progress(&self) -> Progress {
        Progress::new(self.clone())
    }
}

/// Turns executor events into spinner updates (terminal) or plain lines (CI logs).
pub struct Progress {
    printer: Printer,
    spinner: Option<ProgressBar>,
}

impl Progress {
    fn new(printer: Printer) -> Progress {
        let spinner = (printer.stderr_tty && printer.verbosity >= 0).then(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        Progress { printer, spinner }
    }

    fn line(&self, level: i8, text: String) {
        if self.printer.verbosity < level {
            return;
        }
        let text = self.printer.scrub(&text);
        match &self.spinner {
            Some(pb) => pb.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    fn status(&self, text: String) {
        if let Some(pb) = &self.spinner {
            pb.set_message(self.printer.scrub(&text));
        }
    }

    pub fn finish(&self) {
        if let Some(pb) = &self.spinner {
            pb.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Reporter for Progress {
    fn event(&self, event: Event) {
        match event {
            Event::StepStarted {
                target,
                step,
                action,
                detail,
            } => {
                self.status(format!("[{target}] {step}: {detail}"));
                self.line(
                    1,
                    format!(
                        "[{target}] {step}: {} ({detail})",
                        render::action_word(action)
                    ),
                );
            }
            Event::StepFinished {
                target,
                step,
                status,
                detail,
            } => {
                let mark = match status {
                    Status::Done => console::style("✓").green(),
                    Status::Failed => console::style("✗").red(),
                    _ => console::style("-").dim(),
                };
                self.line(0, format!("[{target}] {mark} {step}: {detail}"));
            }
            Event::StackEvent {
                target,
                stack,
                resource,
                resource_type,
                status,
                reason,
            } => {
                let reason = reason
                    .filter(|r| !r.is_empty() && status.ends_with("FAILED"))
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                self.status(format!("[{target}] {stack}: {resource} {status}"));
                self.line(
                    0,
                    format!("[{target}]   {stack}: {resource} ({resource_type}) {status}{reason}"),
                );
            }
            Event::Waiting {
                target,
                stack,
                status,
                elapsed,
            } => {
                self.line(
                    0,
                    format!(
                        "[{target}]   {stack}: still {status} after {}s",
                        elapsed.as_secs()
                    ),
                );
            }
            Event::Notice { target, text } => self.line(0, format!("[{target}] {text}")),
        }
    }
}
