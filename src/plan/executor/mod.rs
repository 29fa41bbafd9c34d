//! Performs a target's planned steps in order, exactly as planned, and reports each one. One
//! method per step kind. An interruption stops it between steps (the write in flight
//! finishes); a stack that is still running when the wait ends is reported as in progress, not
//! as failed. The steps themselves, by kind: `objects` (the zip bucket and what goes into it),
//! `stacks`, `trigger`.

mod objects;
mod stacks;
mod trigger;

use std::future::Future;

use anyhow::{Result, anyhow};

use super::cloud::Cloud;
use super::follow::{StillRunning, looks_transient};
use super::hints::with_hint;
use super::{
    Action, Event, FunctionRef, Op, Outcome, Status, Step, StepKind, StepResult, TargetPlan,
    TargetResult, Watch,
};
use crate::kinds::OnFailure;
use stacks::sent;

pub struct Executor<'a, C: Cloud> {
    pub cloud: &'a C,
    pub watch: Watch<'a>,
    pub on_failure: OnFailure,
}

/// A target's run so far.
struct Run<'p> {
    plan: &'p TargetPlan,
    label: String,
    /// The function as it is now: a stack update may replace it.
    function: Option<FunctionRef>,
    results: Vec<StepResult>,
    error: Option<String>,
    still_running: bool,
    started: std::time::Instant,
    /// The invoke permission was added in this run: S3 may not see it for a few seconds.
    allowed_now: bool,
}

impl Run<'_> {
    /// The step to perform for `planned`: a trigger step planned as "already in place" was
    /// about the function the stack had; when the stack update replaced the function (a new
    /// name), it is needed again.
    fn adjust(&self, planned: &Step) -> Step {
        let replaced =
            self.function.as_ref().map(|f| &f.arn) != self.plan.function.as_ref().map(|f| &f.arn);
        if planned.action == Action::Skip && planned.kind().is_trigger() && replaced {
            let name = self
                .function
                .as_ref()
                .map(|f| f.name.as_str())
                .unwrap_or("a new one");
            return Step {
                action: Action::Create,
                detail: format!(
                    "the stack update replaced the function with {name}: {}",
                    planned.detail
                ),
                ..planned.clone()
            };
        }
        planned.clone()
    }

    /// Why `step` is not started, if it is not.
    fn stop(&mut self, step: &Step, cancelled: bool) -> Option<&'static str> {
        if self.error.is_some() {
            Some("not started: an earlier step did not finish")
        } else if step.action != Action::Skip && cancelled {
            self.still_running = true;
            self.error =
                Some("interrupted before this step: re-run the same command to resume".into());
            Some("not started: interrupted")
        } else {
            None
        }
    }

    fn outcome(&self) -> Outcome {
        let created = self
            .plan
            .steps
            .iter()
            .any(|s| s.kind() == StepKind::LambdaStack && s.action == Action::Create);
        if self.results.iter().any(|r| r.status == Status::Failed) {
            Outcome::Failed
        } else if self.still_running {
            Outcome::InProgress
        } else if !self.plan.changes() {
            Outcome::Unchanged
        } else if !self
            .plan
            .steps
            .iter()
            .any(|s| s.kind() == StepKind::LambdaStack)
        {
            // Only a destroy has no Lambda stack to make or keep.
            Outcome::Destroyed
        } else if created {
            Outcome::Created
        } else {
            Outcome::Updated
        }
    }

    fn result(self) -> TargetResult {
        TargetResult {
            account: Some(self.plan.account.clone()),
            region: self.plan.target.region.clone(),
            stack_name: self.plan.target.stack_name.clone(),
            outcome: self.outcome(),
            seconds: self.started.elapsed().as_secs_f64(),
            function_name: self.function.as_ref().map(|f| f.name.clone()),
            function_arn: self.function.as_ref().map(|f| f.arn.clone()),
            warnings: self.plan.warnings.iter().map(ToString::to_string).collect(),
            problems: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            steps: self.results,
            error: self.error,
        }
    }
}

impl<C: Cloud> Executor<'_, C> {
    pub async fn apply(&self, plan: &TargetPlan) -> TargetResult {
        let mut run = Run {
            plan,
            label: plan.label(),
            function: plan.function.clone(),
            results: Vec::new(),
            error: None,
            still_running: false,
            started: std::time::Instant::now(),
            allowed_now: false,
        };
        let apart = side_by_side(plan);
        if apart > 0 {
            self.two_lanes(&mut run, &plan.steps[..apart]).await;
        }
        for planned in &plan.steps[apart..] {
            let result = self.next(&mut run, planned).await;
            run.results.push(result);
        }
        let label = run.label.clone();
        let result = run.result();
        self.watch.reporter.event(Event::TargetFinished {
            target: label,
            outcome: result.outcome,
            seconds: result.seconds,
        });
        result
    }

    /// The next step: performed, or skipped (planned so, or stopped).
    async fn next(&self, run: &mut Run<'_>, planned: &Step) -> StepResult {
        let step = run.adjust(planned);
        if let Some(why) = run.stop(&step, self.watch.cancel.is_cancelled()) {
            return StepResult::of(&step, Status::Skipped, why);
        }
        if step.action == Action::Skip {
            return StepResult::of(&step, Status::Skipped, step.detail.clone());
        }
        self.perform(run, &step).await
    }

    /// The first `steps` in two lanes side by side: the zip bucket and what goes into it, and
    /// the shared stack. A failure in one stops the rest of its own lane (the other's step is
    /// under way) and every step after both; the results keep the plan's order.
    async fn two_lanes(&self, run: &mut Run<'_>, steps: &[Step]) {
        let mut other = Run {
            plan: run.plan,
            label: run.label.clone(),
            function: run.function.clone(),
            results: Vec::new(),
            error: None,
            still_running: false,
            started: run.started,
            allowed_now: false,
        };
        let lane = |shared: bool| {
            steps
                .iter()
                .enumerate()
                .filter(move |(_, s)| s.kind().is_shared_stack() == shared)
        };
        let (mine, theirs) = futures::join!(
            async {
                let mut done = Vec::new();
                for (i, step) in lane(false) {
                    done.push((i, self.next(run, step).await));
                }
                done
            },
            async {
                let mut done = Vec::new();
                for (i, step) in lane(true) {
                    done.push((i, self.next(&mut other, step).await));
                }
                done
            },
        );
        let mut all: Vec<_> = mine.into_iter().chain(theirs).collect();
        all.sort_by_key(|(i, _)| *i);
        run.results.extend(all.into_iter().map(|(_, r)| r));
        run.error = run.error.take().or(other.error);
        run.still_running |= other.still_running;
    }

    /// Perform one step, with its start and end reported.
    async fn perform(&self, run: &mut Run<'_>, step: &Step) -> StepResult {
        let name = step.kind();
        self.watch.reporter.event(Event::StepStarted {
            target: run.label.clone(),
            step: name,
            action: step.action,
            detail: step.detail.clone(),
        });
        let (status, detail) = match self.step(run, step).await {
            Ok(detail) => (Status::Done, detail),
            Err(e) if e.downcast_ref::<StillRunning>().is_some() => {
                run.still_running = true;
                let msg = format!("{e:#}");
                run.error = Some(format!("{name}: {msg}"));
                (Status::InProgress, msg)
            }
            Err(e) => {
                let msg = with_hint(&e);
                run.error = Some(format!("{name}: {msg}"));
                (Status::Failed, msg)
            }
        };
        self.watch.reporter.event(Event::StepFinished {
            target: run.label.clone(),
            step: name,
            status,
            detail: detail.clone(),
        });
        StepResult::of(step, status, detail)
    }

    /// One step; returns what was done, in a few words.
    async fn step(&self, run: &mut Run<'_>, step: &Step) -> Result<String> {
        let plan = run.plan;
        let cfg = &plan.target;
        match &step.op {
            Op::LambdaBucket => self.create_bucket(plan).await,
            Op::UploadZip { zip, key } => self.upload_zip(plan, zip, key).await,
            Op::UploadTemplates(templates) => self.upload_templates(plan, templates).await,
            Op::DeleteSharedStack { exports } => self.delete_shared_stack(run, exports).await,
            Op::DeleteLambdaStack => self.delete_stack(&run.label, &cfg.stack_name).await,
            Op::SharedStack(template) => {
                let source = plan.template_source(template);
                let params = sent(&step.parameters);
                let name = &cfg.shared_stack_name;
                self.stack_op(&run.label, name, &source, &params, (step.action, false))
                    .await
                    .map(|(done, _)| done)
            }
            Op::LambdaStack(template) => self.lambda_stack(run, step, template).await,
            Op::InvokePermission(statement) => {
                self.invoke_permission(run, step.action, statement).await
            }
            Op::BucketNotification(trigger) => self.bucket_notification(run, trigger).await,
            Op::SnsSubscription(trigger) => self.subscribe(run, trigger).await,
            Op::RemoveOldTrigger(old) => {
                let done = self.remove_trigger(run, function(run)?, old).await?;
                Ok(format!("removed the earlier trigger: {done}"))
            }
            Op::RemoveNotification(part)
            | Op::RemovePermission(part)
            | Op::RemoveSubscription(part) => self.remove_part(run, part).await,
            Op::DeleteZip(objects) => self.delete_zip(objects).await,
        }
    }

    /// Retry a read that failed for a passing reason, so that a throttled status read never
    /// turns a finished success into a failure. Waits at the injected pace.
    async fn persist<T, F, Fut>(&self, mut read: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut pause = self.watch.pace.interval;
        for _ in 0..6 {
            match read().await {
                Err(e) if looks_transient(&e) => {
                    if !self.watch.pause(pause).await {
                        return Err(e);
                    }
                    pause = (pause * 2).min(std::time::Duration::from_secs(20));
                }
                other => return other,
            }
        }
        read().await
    }
}

/// How many of the plan's first steps go in two lanes (0: none): the zip bucket, the zip and
/// the large templates, beside the shared stack (and the delete before it), when both lanes
/// have work and the shared stack's template is sent inline (not through that bucket).
fn side_by_side(plan: &TargetPlan) -> usize {
    let inline = plan.steps.iter().any(|s| match &s.op {
        Op::SharedStack(template) => template.fits_inline(),
        _ => false,
    });
    let n = plan
        .steps
        .iter()
        .take_while(|s| s.kind().is_shared_stack() || s.kind().is_upload())
        .count();
    let works = |shared: bool| {
        plan.steps[..n]
            .iter()
            .any(|s| s.kind().is_shared_stack() == shared && s.action != Action::Skip)
    };
    if inline && works(true) && works(false) {
        n
    } else {
        0
    }
}

/// The function the trigger steps work on.
fn function<'r>(run: &'r Run<'_>) -> Result<&'r FunctionRef> {
    run.function
        .as_ref()
        .ok_or_else(|| anyhow!("the function is not known"))
}
