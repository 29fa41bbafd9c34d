//! The only module that imports indicatif, dialoguer and console: what reaches the terminal.
//! Results go to stdout (text or one JSON document); progress, prompts, warnings and errors go
//! to stderr. Everything written passes through the secret's redaction.

pub mod coverage;
pub mod logs;
pub mod prompt;
pub mod render;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::kinds::{ColorChoice, OutputFormat};
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
    /// Logs (`-v`, `RUST_LOG`) share stderr: no live lines then.
    pub logs: bool,
    secrets: Arc<Mutex<Vec<Secret>>>,
    /// Results kept here instead of printed (`setup --output json` joins two documents).
    captured: Option<Arc<Mutex<Vec<String>>>>,
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
            logs: false,
            secrets: Arc::new(Mutex::new(Vec::new())),
            captured: None,
        }
    }

    /// The same printer, keeping the results it is given instead of printing them.
    pub fn capturing(&self) -> Printer {
        Printer {
            captured: Some(Arc::default()),
            ..self.clone()
        }
    }

    /// The results kept so far (scrubbed), in order.
    pub fn captured(&self) -> Vec<String> {
        self.captured
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
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

    /// A result on stdout. A closed pipe (`| head`) is not an error: what it would not take
    /// is dropped quietly.
    pub fn out(&self, text: &str) {
        let text = self.scrub(text);
        match &self.captured {
            Some(c) => c.lock().unwrap_or_else(|e| e.into_inner()).push(text),
            None => {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
        }
    }

    /// Bytes on stdout as they are (a manual page, a completion script), closed pipe or not.
    pub fn out_bytes(&self, bytes: &[u8]) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(bytes).and_then(|()| o.flush());
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

    /// Ask a yes/no question on the terminal (default no); `Ok(None)` when no terminal can
    /// answer, `Err` on Ctrl-C.
    /// A target's problems as errors, each labelled with the target when the run has several.
    pub fn target_errors(&self, target: &str, many: bool, problems: &[impl std::fmt::Display]) {
        for p in problems {
            match many {
                true => self.error(&format!("[{target}] {p}")),
                false => self.error(&p.to_string()),
            }
        }
    }

    /// The run's result on stdout, in the output's format: `text` (nothing when it is empty)
    /// or the JSON `doc`.
    pub fn result(&self, text: impl FnOnce() -> String, doc: impl FnOnce() -> String) {
        match self.format {
            OutputFormat::Text => {
                let text = text();
                if !text.trim().is_empty() {
                    self.out(text.trim_end());
                }
            }
            OutputFormat::Json => self.out(&doc()),
        }
    }

    /// A result that only JSON carries (in text, the errors already said it all).
    pub fn json_only(&self, doc: impl FnOnce() -> String) {
        if self.format == OutputFormat::Json {
            self.out(&doc());
        }
    }

    /// Is the result JSON (so that a command gathers it into one document)?
    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    pub fn confirm(&self, question: &str) -> Result<Option<bool>, prompt::Interrupted> {
        if !self.interactive {
            return Ok(None);
        }
        self.agree(&self.scrub(question), false).map(Some)
    }

    pub fn progress(&self) -> Progress {
        Progress::new(self.clone())
    }
}

/// Turns executor events into live lines (a terminal: one per running target, collapsed to a
/// one-line result when it ends) or plain lines, each naming its target (CI logs).
pub struct Progress {
    printer: Printer,
    /// On a terminal: the live lines, by target.
    live: Option<Live>,
}

struct Live {
    multi: MultiProgress,
    bars: Mutex<Vec<(String, ProgressBar)>>,
}

impl Live {
    /// The live line of `target`, made on its first event.
    fn bar(&self, target: &str) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, b)) = bars.iter().find(|(t, _)| t == target) {
            return b.clone();
        }
        let b = self.multi.add(ProgressBar::new_spinner());
        b.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.set_prefix(target.to_string());
        b.enable_steady_tick(Duration::from_millis(120));
        bars.push((target.to_string(), b.clone()));
        b
    }
}

impl Progress {
    fn new(printer: Printer) -> Progress {
        let live = (printer.stderr_tty && printer.verbosity >= 0 && !printer.logs).then(|| Live {
            multi: MultiProgress::new(),
            bars: Mutex::new(Vec::new()),
        });
        Progress { printer, live }
    }

    /// A line that stays: above the live lines on a terminal, else on its own.
    fn line(&self, level: i8, text: String) {
        if self.printer.verbosity < level {
            return;
        }
        let text = self.printer.scrub(&text);
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// What a target is doing now, on its live line (a terminal only).
    fn status(&self, target: &str, text: String) {
        if let Some(live) = &self.live {
            live.bar(target).set_message(self.printer.scrub(&text));
        }
    }

    /// A target is done: its live line collapses to its result.
    fn done(&self, target: &str, text: String) {
        match &self.live {
            Some(live) => live
                .bar(target)
                .finish_with_message(self.printer.scrub(&text)),
            None => self.line(0, format!("[{target}] {text}")),
        }
    }

    pub fn finish(&self) {
        if let Some(live) = &self.live {
            let bars = live.bars.lock().unwrap_or_else(|e| e.into_inner());
            for (_, b) in bars.iter().filter(|(_, b)| !b.is_finished()) {
                b.finish_and_clear();
            }
        }
    }
}

/// The mark before a finished step: done, failed, or neither.
fn step_mark(status: Status) -> console::StyledObject<&'static str> {
    match status {
        Status::Done => console::style("✓").green(),
        Status::Failed => console::style("✗").red(),
        _ => console::style("-").dim(),
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress {
    /// A resource (or the stack) changed status: the live line, and a line that stays when it
    /// failed (or when there is no live line).
    fn stack_event(&self, event: Event, tty: bool) {
        let Event::StackEvent {
            target,
            stack,
            resource,
            resource_type,
            status,
            reason,
        } = event
        else {
            return;
        };
        let failed = status.progress() == crate::plan::status::Progress::Failed;
        let reason = reason
            .filter(|r| !r.is_empty() && failed)
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        self.status(&target, format!("{stack}: {resource} {status}"));
        let level = i8::from(tty && !failed);
        let line = format!("[{target}]   {stack}: {resource} ({resource_type}) {status}");
        self.line(level, format!("{line}{reason}"));
    }
}

impl Reporter for Progress {
    fn event(&self, event: Event) {
        let tty = self.live.is_some();
        match event {
            Event::StepStarted {
                target,
                step,
                action,
                detail,
            } => {
                self.status(&target, format!("{step}: {detail}"));
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
                // On a terminal the live line says it; failures always stay.
                let level = i8::from(tty && status != Status::Failed);
                let line = format!("[{target}] {} {step}: {detail}", step_mark(status));
                self.line(level, line);
            }
            ev @ Event::StackEvent { .. } => self.stack_event(ev, tty),
            Event::Waiting {
                target,
                stack,
                status,
                elapsed,
            } if !tty => {
                let secs = elapsed.as_secs();
                self.line(
                    0,
                    format!("[{target}]   {stack}: still {status} after {secs}s"),
                );
            }
            Event::Waiting { .. } => {}
            Event::Notice { target, text } => self.line(0, format!("[{target}] {text}")),
            Event::TargetFinished {
                target,
                outcome,
                seconds,
            } => self.done(
                &target,
                format!("{} in {seconds:.1}s", render::outcome_word(outcome)),
            ),
        }
    }
}
