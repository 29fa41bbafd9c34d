//! The run's ledger: every target's result as it stands, kept up to date from the executor's
//! events, so that a run stopped at any moment (a second Ctrl-C) still reports every target.

use std::sync::Mutex;

use super::{Event, Outcome, Status, StepKind, TargetPlan, TargetResult};

#[derive(Default)]
pub struct Ledger {
    targets: Mutex<Vec<(String, TargetResult)>>,
}

impl Ledger {
    /// The targets about to be applied (not started yet), and those that already failed.
    pub fn begin(&self, plans: &[TargetPlan], failed: &[TargetResult]) {
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        for p in plans {
            let mut r = TargetResult::planned(p);
            r.outcome = Outcome::InProgress;
            for s in r.steps.iter_mut().filter(|s| s.status == Status::Planned) {
                s.status = Status::Skipped;
                s.detail = "not started: interrupted".into();
            }
            r.error = Some("interrupted: re-run the same command to resume".into());
            targets.push((p.label(), r));
        }
        targets.extend(failed.iter().map(|r| (String::new(), r.clone())));
    }

    /// A target's final result.
    pub fn finish(&self, result: &TargetResult) {
        let label = result.label();
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, r)) = targets.iter_mut().find(|(l, _)| *l == label) {
            *r = result.clone();
        }
    }

    /// Every target as it stands.
    pub fn snapshot(&self) -> Vec<TargetResult> {
        let targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        targets.iter().map(|(_, r)| r.clone()).collect()
    }

    /// Keep a target's steps up to date from the executor's events.
    pub fn record(&self, event: &Event) {
        match event {
            Event::StepStarted {
                target,
                step,
                detail,
                ..
            } => self.set(target, *step, Status::InProgress, detail),
            Event::StepFinished {
                target,
                step,
                status,
                detail,
            } => self.set(target, *step, *status, detail),
            _ => {}
        }
    }

    fn set(&self, target: &str, step: StepKind, status: Status, detail: &str) {
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, r)) = targets.iter_mut().find(|(l, _)| l == target)
            && let Some(s) = r.steps.iter_mut().find(|s| s.name == step)
        {
            s.status = status;
            s.detail = detail.to_string();
        }
    }
}
