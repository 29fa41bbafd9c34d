//! The small vocabulary every room shares: how events reach the function, and what to do with
//! a stack whose first create failed. Imports nothing of ours.

use clap::ValueEnum;
use serde::Deserialize;

/// `--shard K/N`: part K of N of a run's targets (1 ≤ K ≤ N), for N CI jobs side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not K/N with 1 <= K <= N (e.g. --shard 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The result's format on stdout (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Colour on the terminal (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How new log objects reach the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    S3,
    Sns,
}

/// What to do with a new stack whose create failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    Delete,
    Keep,
}

/// The commands that call AWS: the IAM table says which calls each one makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Task {
    Deploy,
    Verify,
    Destroy,
    Setup,
    Coverage,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Deploy => "deploy",
            Task::Verify => "verify",
            Task::Destroy => "destroy",
            Task::Setup => "setup",
            Task::Coverage => "coverage",
        }
    }
}
