//! A target's result, as rendered in text and JSON: its outcome, its steps' results, what
//! the preflight found, and `verify`'s checks.

use serde::Serialize;

use super::{Action, Status, StepResult, TargetPlan, verify};
use crate::config::TargetConfig;
use crate::input::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Planned,
    Created,
    Updated,
    Unchanged,
    Failed,
    /// A stack operation is still running in AWS; re-running the command resumes.
    #[serde(rename = "in_progress")]
    InProgress,
    /// `destroy` removed something.
    Destroyed,
    /// `verify`: every check ok (warnings allowed).
    Healthy,
    /// `verify`: a check failed.
    Unhealthy,
}

/// One target's result, as rendered in text and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub account: Option<String>,
    pub region: String,
    /// The Lambda stack (an account and region may hold several).
    pub stack_name: String,
    pub outcome: Outcome,
    /// How long its steps took, in seconds.
    pub seconds: f64,
    pub steps: Vec<StepResult>,
    pub function_name: Option<String>,
    pub function_arn: Option<String>,
    pub warnings: Vec<String>,
    /// What the preflight found, each with its input and fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// `verify`: each check, ok, warning or failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<verify::Check>,
    /// Things worth knowing that are not checks (where to look next).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub error: Option<String>,
}

impl TargetResult {
    /// The result of a plan that was only shown.
    pub fn planned(plan: &TargetPlan) -> TargetResult {
        TargetResult {
            account: Some(plan.account.clone()),
            region: plan.target.region.clone(),
            stack_name: plan.target.stack_name.clone(),
            outcome: Outcome::Planned,
            seconds: 0.0,
            steps: plan
                .steps
                .iter()
                .map(|s| {
                    let status = if s.action == Action::Skip {
                        Status::Skipped
                    } else {
                        Status::Planned
                    };
                    StepResult::of(s, status, s.detail.clone())
                })
                .collect(),
            function_name: plan.function.as_ref().map(|f| f.name.clone()),
            function_arn: plan.function.as_ref().map(|f| f.arn.clone()),
            warnings: plan.warnings.iter().map(ToString::to_string).collect(),
            problems: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            error: None,
        }
    }

    /// A target that failed its preflight: nothing was changed.
    pub fn failed(
        account: Option<String>,
        target: &TargetConfig,
        problems: Vec<Problem>,
        warnings: &[Problem],
    ) -> TargetResult {
        let region = &target.region;
        let error = format!(
            "preflight failed: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
        TargetResult {
            account,
            region: region.to_string(),
            stack_name: target.stack_name.clone(),
            outcome: Outcome::Failed,
            seconds: 0.0,
            steps: Vec::new(),
            function_name: None,
            function_arn: None,
            warnings: warnings.iter().map(ToString::to_string).collect(),
            problems,
            checks: Vec::new(),
            notes: Vec::new(),
            error: Some(error),
        }
    }
}

impl TargetResult {
    /// `account/region` (or the region alone), and the Lambda stack when not the default one.
    pub fn label(&self) -> String {
        let place = match &self.account {
            Some(a) => format!("{a}/{}", self.region),
            None => self.region.clone(),
        };
        crate::config::with_stack(place, &self.stack_name)
    }
}
