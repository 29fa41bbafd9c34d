//! The small vocabulary every room shares: how events reach the function, and what to do with
//! a stack whose first create failed. Imports nothing of ours.

use clap::ValueEnum;
use serde::Deserialize;

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
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Deploy => "deploy",
            Task::Verify => "verify",
            Task::Destroy => "destroy",
            Task::Setup => "setup",
        }
    }
}
