//! Plans and results as text and as the JSON document of the command-line contract.

use serde::Serialize;

use crate::input::{Problem, Source};
use crate::plan::verify::{Check, CheckStatus};
use crate::plan::{Action, Outcome, StackParam, Status, TargetPlan, TargetResult};

pub fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Skip => "skip",
    }
}

fn action_mark(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Delete => "-",
        Action::Skip => "=",
    }
}

pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Planned => "planned",
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
        Outcome::Failed => "failed",
        Outcome::InProgress => "in progress",
        Outcome::Destroyed => "destroyed",
        Outcome::Healthy => "healthy",
        Outcome::Unhealthy => "unhealthy",
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Planned => "planned",
        Status::Done => "done",
        Status::Skipped => "skipped",
        Status::Failed => "failed",
        Status::InProgress => "running",
    }
}

/// The plan as shown before a run (and as a dry run's result).
pub fn plan_text(plans: &[TargetPlan]) -> String {
    let mut out = String::new();
    for p in plans {
        let changes = p.steps.iter().filter(|s| s.action != Action::Skip).count();
        out.push_str(&format!(
            "Plan for {} ({} change{}):\n",
            p.label(),
            changes,
            if changes == 1 { "" } else { "s" }
        ));
        let width = p
            .steps
            .iter()
            .map(|s| s.kind().name().len())
            .max()
            .unwrap_or(0);
        for s in &p.steps {
            out.push_str(&format!(
                "  {} {:<width$}  {:<6}  {}\n",
                action_mark(s.action),
                s.kind().name(),
                action_word(s.action),
                s.detail
            ));
            out.push_str(&parameters_text(&s.parameters));
        }
        if let Some(f) = &p.function {
            out.push_str(&format!("  function: {} ({})\n", f.name, f.arn));
        }
    }
    out
}

fn source_word(s: Source) -> &'static str {
    match s {
        Source::Flag => "flag",
        Source::File => "rollout file",
        Source::Default => "default",
        Source::Template => "template default",
        Source::Previous => "kept from the stack",
        Source::Trail => "from the trail",
    }
}

/// A value as shown in text: quoted when empty or when it has spaces.
fn shown(v: &str) -> String {
    if v.is_empty() || v.contains(char::is_whitespace) {
        format!("{v:?}")
    } else {
        v.to_string()
    }
}

/// A stack step's parameters: name, value (the credentials as `****`), where it came from,
/// and the value it replaces.
pub fn parameters_text(params: &[StackParam]) -> String {
    let width = params.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let values: Vec<String> = params
        .iter()
        .map(|p| match &p.previous {
            Some(old) => format!("{} -> {}", shown(old), shown(&p.shown)),
            None => shown(&p.shown),
        })
        .collect();
    let vwidth = values.iter().map(String::len).max().unwrap_or(0).min(48);
    let mut out = String::new();
    for (p, value) in params.iter().zip(values) {
        out.push_str(&format!(
            "        {:<width$}  {value:<vwidth$}  ({})\n",
            p.name,
            source_word(p.source)
        ));
    }
    out
}

/// `verify`'s checks: a mark, the name, what was found.
fn checks_text(checks: &[Check]) -> String {
    let width = checks
        .iter()
        .map(|c| c.name.as_str().len())
        .max()
        .unwrap_or(0);
    checks
        .iter()
        .map(|c| {
            let mark = match c.status {
                CheckStatus::Ok => "ok  ",
                CheckStatus::Warning => "warn",
                CheckStatus::Failed => "FAIL",
            };
            format!("  {mark}  {:<width$}  {}\n", c.name.as_str(), c.detail)
        })
        .collect()
}

/// A table of every target: where, what came of it, how long, and why it failed.
fn summary_table(results: &[TargetResult]) -> String {
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|r| {
            [
                r.account.clone().unwrap_or_default(),
                r.region.clone(),
                r.stack_name.clone(),
                outcome_word(r.outcome).to_string(),
                format!("{:.1}s", r.seconds),
            ]
        })
        .collect();
    let head = ["account", "region", "stack", "outcome", "time"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].len())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..5).map(width).collect();
    let line = |c: [&str; 5], error: &str| {
        format!(
            "{:<a$}  {:<b$}  {:<c$}  {:<d$}  {:>e$}  {error}\n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3],
            e = w[4]
        )
        .trim_end()
        .to_string()
            + "\n"
    };
    let mut out = line(head, "error");
    for (r, row) in results.iter().zip(&rows) {
        let cells = [&*row[0], &*row[1], &*row[2], &*row[3], &*row[4]];
        out.push_str(&line(cells, r.error.as_deref().unwrap_or("")));
    }
    out
}

/// The summary after a run: each target's steps (or checks), then a table when there are
/// several targets.
pub fn results_text(results: &[TargetResult]) -> String {
    let mut out = String::new();
    for r in results {
        let who = match &r.account {
            Some(a) => format!("{a}/{}", r.region),
            None => r.region.clone(),
        };
        out.push_str(&format!("{who}: {}\n", outcome_word(r.outcome)));
        let width = r
            .steps
            .iter()
            .map(|s| s.name.name().len())
            .max()
            .unwrap_or(0);
        for s in &r.steps {
            out.push_str(&format!(
                "  {:<width$}  {:<6}  {:<7}  {}\n",
                s.name,
                action_word(s.action),
                status_word(s.status),
                s.detail
            ));
        }
        out.push_str(&checks_text(&r.checks));
        for n in &r.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        if let Some(name) = &r.function_name {
            out.push_str(&format!("  function: {name}"));
            if let Some(arn) = &r.function_arn {
                out.push_str(&format!(" ({arn})"));
            }
            out.push('\n');
        }
        if let Some(e) = &r.error {
            out.push_str(&format!("  error: {e}\n"));
        }
    }
    if results.len() > 1 {
        out.push('\n');
        out.push_str(&summary_table(results));
    }
    out
}

/// What every result document starts with: the command, whether it was a dry run, and the
/// shard of the run's targets it worked on (`--shard K/N`).
#[derive(Debug, Clone, Serialize)]
pub struct Head {
    pub command: &'static str,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    head: &'a Head,
    targets: &'a [TargetResult],
    /// Problems with the input that are not about one target.
    #[serde(skip_serializing_if = "<[Problem]>::is_empty")]
    problems: &'a [Problem],
    #[serde(skip_serializing_if = "Option::is_none")]
    xdr: Option<&'a XdrCheck>,
}

/// `verify --xdr`: the guide's Advanced Search, once for the run.
#[derive(Debug, Clone, Serialize)]
pub struct XdrCheck {
    pub query: String,
    /// The window, as `--since` gave it.
    pub since: String,
    /// `None` when the search could not be run or failed.
    pub events: Option<u64>,
    /// The newest event's time (RFC 3339), where the rows carry one.
    pub newest: Option<String>,
    pub status: crate::plan::verify::CheckStatus,
    pub detail: String,
}

/// The results, then the XDR check's line when there is one.
pub fn results_with_xdr_text(results: &[TargetResult], xdr: Option<&XdrCheck>) -> String {
    let text = results_text(results);
    match xdr {
        Some(x) => format!("{}\n{}", text.trim_end(), xdr_text(x)),
        None => text,
    }
}

/// Where a result is: `account/region`, or the region when the account is not known.
pub fn place(r: &TargetResult) -> String {
    match &r.account {
        Some(a) => format!("{a}/{}", r.region),
        None => r.region.clone(),
    }
}

/// The XDR check as a line of text.
pub fn xdr_text(x: &XdrCheck) -> String {
    format!("XDR Advanced Search: {} {}", mark(x.status), x.detail)
}

fn mark(status: crate::plan::verify::CheckStatus) -> &'static str {
    use crate::plan::verify::CheckStatus;
    match status {
        CheckStatus::Ok => "ok",
        CheckStatus::Warning => "warning:",
        CheckStatus::Failed => "FAILED:",
    }
}

pub fn json(head: &Head, targets: &[TargetResult], problems: &[Problem]) -> String {
    json_with(head, targets, problems, None)
}

/// The document, with the run's XDR check when there is one.
pub fn json_with(
    head: &Head,
    targets: &[TargetResult],
    problems: &[Problem],
    xdr: Option<&XdrCheck>,
) -> String {
    serde_json::to_string_pretty(&Document {
        head,
        targets,
        problems,
        xdr,
    })
    .unwrap_or_else(|e| format!("{{\"error\":\"cannot render JSON: {e}\"}}"))
}
