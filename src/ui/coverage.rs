//! `coverage`'s result: a table of accounts × regions (one symbol each), what is not covered
//! and why, a summary line, and the suggested rollout; or the same as one JSON document.

use serde::Serialize;

use crate::input::Problem;
use crate::plan::coverage::suggest::Suggestion;
use crate::plan::coverage::{AccountCoverage, Status, Summary, short_region};

fn symbol(s: Status) -> &'static str {
    match s {
        Status::Covered => "✓",
        Status::Uncovered => "✗",
        Status::Unknown => "?",
    }
}

/// The regions of the report, in the order first met.
fn regions(report: &[AccountCoverage]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in report.iter().flat_map(|a| &a.regions) {
        if !out.contains(&c.region.as_str()) {
            out.push(&c.region);
        }
    }
    out
}

/// The table: an account per row, a region per column (its short name), a legend of the
/// short names when they differ from the names.
fn table(report: &[AccountCoverage]) -> String {
    let regions = regions(report);
    let shorts: Vec<String> = regions.iter().map(|r| short_region(r)).collect();
    let name_width = report
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!("{:<12}  {:<name_width$}", "ACCOUNT", "NAME");
    for s in &shorts {
        out.push_str(&format!("  {s:<5}"));
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    for a in report {
        out.push_str(&format!("{:<12}  {:<name_width$}", a.account, a.name));
        for r in &regions {
            let s = a
                .regions
                .iter()
                .find(|c| c.region == *r)
                .map_or("·", |c| symbol(c.status));
            out.push_str(&format!("  {s:<5}"));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    let legend: Vec<String> = regions
        .iter()
        .zip(&shorts)
        .map(|(r, s)| format!("{s} {r}"))
        .collect();
    out.push_str(&format!("regions: {}\n", legend.join(", ")));
    out
}

/// What is not covered, an account per line where all its regions say the same.
fn not_covered(report: &[AccountCoverage]) -> String {
    let mut out = String::new();
    for a in report {
        let open: Vec<_> = a
            .regions
            .iter()
            .filter(|c| c.status != Status::Covered)
            .collect();
        let who = match a.name.is_empty() {
            true => a.account.clone(),
            false => format!("{} ({})", a.account, a.name),
        };
        let same = open.len() == a.regions.len()
            && open.len() > 1
            && open
                .windows(2)
                .all(|w| w[0].reason == w[1].reason && w[0].status == w[1].status);
        if same {
            out.push_str(&format!(
                "{} {who} all regions: {}\n",
                symbol(open[0].status),
                open[0].reason
            ));
            continue;
        }
        for c in open {
            out.push_str(&format!(
                "{} {who} {}: {}\n",
                symbol(c.status),
                c.region,
                c.reason
            ));
        }
    }
    out
}

fn summary_line(s: &Summary, accounts: usize) -> String {
    let total = s.covered + s.uncovered + s.unknown;
    format!(
        "coverage: {} of {total} account-regions covered, {} uncovered, {} unknown ({accounts} accounts)",
        s.covered, s.uncovered, s.unknown
    )
}

/// The text result.
pub fn text(report: &[AccountCoverage], suggestion: Option<&Suggestion>) -> String {
    let summary = Summary::of(report);
    let mut out = table(report);
    let open = not_covered(report);
    if !open.is_empty() {
        out.push('\n');
        out.push_str(&open);
    }
    out.push('\n');
    out.push_str(&summary_line(&summary, report.len()));
    out.push('\n');
    if let Some(s) = suggestion {
        out.push('\n');
        out.push_str(&s.rollout());
    }
    out
}

#[derive(Serialize)]
struct Document<'a> {
    command: &'static str,
    accounts: &'a [AccountCoverage],
    summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggestion: Option<Suggested<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    problems: &'a [Problem],
}

#[derive(Serialize)]
struct Suggested<'a> {
    #[serde(flatten)]
    suggestion: &'a Suggestion,
    rollout: String,
}

/// The JSON result (`problems`: bad input, with no report).
pub fn json(
    report: &[AccountCoverage],
    suggestion: Option<&Suggestion>,
    problems: &[Problem],
) -> String {
    let doc = Document {
        command: "coverage",
        accounts: report,
        summary: Summary::of(report),
        suggestion: suggestion.map(|s| Suggested {
            suggestion: s,
            rollout: s.rollout(),
        }),
        problems,
    };
    serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot render JSON: {e}\"}}"))
}
