//! Performs a target's planned steps in order, exactly as planned, and reports each one. One
//! method per step kind. An interruption stops it between steps (the write in flight
//! finishes); a stack that is still running when the wait ends is reported as in progress, not
//! as failed.

use std::collections::BTreeMap;
use std::future::Future;

use anyhow::{Context, Result, anyhow};

use super::cloud::{Added, Cloud, OurNotification, StackInfo, TemplateSource, UpdateStarted};
use super::follow::{Follow, Settled, StillRunning, explain, looks_transient};
use super::hints::with_hint;
use super::marks::OBJECT_CREATED;
use super::observe::find_function;
use super::settle;
use super::status::Goal;
use super::{
    Action, Event, FunctionRef, OldTrigger, Outcome, ParamValue, StackParam, Status, Step,
    StepKind, StepResult, TargetPlan, TargetResult, TriggerSpec, Watch, Work,
};
use crate::kinds::OnFailure;

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
        if planned.action == Action::Skip && planned.kind.is_trigger() && replaced {
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
            .any(|s| s.kind == StepKind::LambdaStack && s.action == Action::Create);
        if self.results.iter().any(|r| r.status == Status::Failed) {
            Outcome::Failed
        } else if self.still_running {
            Outcome::InProgress
        } else if !self.plan.changes() {
            Outcome::Unchanged
        } else if matches!(self.plan.work, Work::Destroy(_)) {
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
                .filter(move |(_, s)| s.kind.is_shared_stack() == shared)
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
        let name = step.kind.name();
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
        match step.kind {
            StepKind::LambdaBucket => self.create_bucket(plan).await,
            StepKind::UploadZip => self.upload_zip(plan).await,
            StepKind::UploadTemplate => self.upload_templates(plan).await,
            StepKind::DeleteSharedStack => self.delete_shared_stack(run).await,
            StepKind::DeleteLambdaStack => self.delete_stack(&run.label, &cfg.stack_name).await,
            StepKind::SharedStack => {
                let w = plan.deploy()?;
                let source = plan.template_source(&w.shared_template);
                let params = sent(&w.shared_params);
                let name = &cfg.shared_stack_name;
                self.stack_op(&run.label, name, &source, &params, (step.action, false))
                    .await
                    .map(|(done, _)| done)
            }
            StepKind::LambdaStack => self.lambda_stack(run, step.action).await,
            StepKind::InvokePermission => self.invoke_permission(run, step.action).await,
            StepKind::BucketNotification => self.bucket_notification(run).await,
            StepKind::SnsSubscription => self.subscribe(run).await,
            StepKind::RemoveOldTrigger => {
                let old = &plan.deploy()?.old_trigger;
                let done = self.remove_trigger(run, function(run)?, old).await?;
                Ok(format!("removed the earlier trigger: {done}"))
            }
            StepKind::RemoveNotification
            | StepKind::RemovePermission
            | StepKind::RemoveSubscription => self.remove_part(run, step.kind).await,
            StepKind::DeleteZip => self.delete_zip(plan).await,
        }
    }

    async fn create_bucket(&self, plan: &TargetPlan) -> Result<String> {
        let bucket = &plan.target.lambda_bucket;
        self.cloud
            .create_bucket(bucket, &plan.target.region)
            .await
            .with_context(|| format!("failed to create bucket {bucket}"))?;
        Ok(format!("created bucket {bucket} (private, encrypted)"))
    }

    async fn upload_zip(&self, plan: &TargetPlan) -> Result<String> {
        let w = plan.deploy()?;
        let (bucket, key) = (&plan.target.lambda_bucket, &w.zip_key);
        self.cloud
            .put_object(bucket, key, w.zip.bytes.clone(), &w.zip.sha256)
            .await
            .with_context(|| format!("failed to upload the zip to s3://{bucket}/{key}"))?;
        Ok(format!(
            "uploaded s3://{bucket}/{key} ({} bytes)",
            w.zip.bytes.len()
        ))
    }

    async fn upload_templates(&self, plan: &TargetPlan) -> Result<String> {
        plan.deploy()?;
        let bucket = &plan.target.lambda_bucket;
        let mut done = Vec::new();
        for (key, t) in plan.large_templates() {
            self.cloud
                .put_object(bucket, &key, t.body.clone().into(), &t.sha256)
                .await
                .with_context(|| {
                    format!("failed to upload the {} to s3://{bucket}/{key}", t.source)
                })?;
            done.push(format!("s3://{bucket}/{key} ({} bytes)", t.body.len()));
        }
        Ok(format!("uploaded {}", done.join(", ")))
    }

    /// The Lambda stack, then its function (a stack update may have replaced it).
    async fn lambda_stack(&self, run: &mut Run<'_>, action: Action) -> Result<String> {
        let plan = run.plan;
        let w = plan.deploy()?;
        let name = &plan.target.stack_name;
        let source = plan.template_source(&w.lambda_template);
        let params = sent(&w.lambda_params);
        let (done, settled) = self
            .stack_op(&run.label, name, &source, &params, (action, true))
            .await?;
        // The settled stack's outputs name the function (the bundled template's do); else it
        // is looked up.
        let outputs = settled.as_ref().map(|s| &s.outputs);
        let f = match outputs.and_then(|o| Some((o.get("FunctionName")?, o.get("FunctionArn")?))) {
            Some((name, arn)) => FunctionRef {
                name: name.clone(),
                arn: arn.clone(),
            },
            None => self.function_of(name, settled.as_ref()).await?,
        };
        let text = format!("{done}; function {}", f.name);
        run.function = Some(f);
        Ok(text)
    }

    /// The function of a stack that has settled (as it settled, when known).
    async fn function_of(&self, name: &str, settled: Option<&StackInfo>) -> Result<FunctionRef> {
        let f = self
            .persist(|| async {
                let stack = match settled {
                    Some(s) => s.clone(),
                    None => self
                        .cloud
                        .stack(name)
                        .await?
                        .ok_or_else(|| anyhow!("stack {name} is gone after it settled"))?,
                };
                find_function(self.cloud, &stack).await
            })
            .await
            .with_context(|| format!("failed to find the function of stack {name}"))?
            .ok_or_else(|| anyhow!("stack {name} holds no Lambda function"))?;
        Ok(FunctionRef {
            name: f.name,
            arn: f.arn,
        })
    }

    async fn invoke_permission(&self, run: &mut Run<'_>, action: Action) -> Result<String> {
        let f = function(run)?.clone();
        let statement = run.plan.deploy()?.trigger.statement(&run.plan.account);
        let (sid, principal) = (&statement.sid, &statement.principal);
        let source_arn = statement.source_arn.clone().unwrap_or_default();
        if action == Action::Update {
            self.remove_statement(&run.label, &f.name, sid).await?;
        }
        // A function just made or updated is busy for a while: AWS asks to try again.
        let added = settle::patiently(
            &self.watch,
            &run.label,
            |e| settle::catching_up(e, false),
            || self.cloud.add_permission(&f.name, &statement),
        )
        .await
        .with_context(|| format!("failed to allow {principal} to invoke function {}", f.name))?;
        run.allowed_now |= added == Added::Added;
        Ok(match added {
            Added::Added => format!("{principal} may invoke {} from {source_arn}", f.name),
            Added::AlreadyThere => format!("statement {sid} was already in place"),
        })
    }

    async fn bucket_notification(&self, run: &Run<'_>) -> Result<String> {
        let f = function(run)?;
        let TriggerSpec::S3 {
            bucket,
            prefix,
            id,
            replaces,
            ..
        } = &run.plan.deploy()?.trigger
        else {
            return Err(anyhow!("no S3 trigger in this plan"));
        };
        let ours = OurNotification {
            id: id.clone(),
            function_arn: f.arn.clone(),
            events: vec![OBJECT_CREATED.to_string()],
            prefix: prefix.clone(),
            replaces: replaces.clone(),
        };
        // Our own destination refused right after the permission was added: it has not
        // reached S3 yet. Anyone else's refused destination is said at once.
        settle::patiently(
            &self.watch,
            &run.label,
            |e| settle::catching_up(e, run.allowed_now),
            || self.cloud.put_notification(bucket, &ours),
        )
        .await
        .with_context(|| {
            format!("failed to write the notification configuration of bucket {bucket}")
        })?;
        let gone = replaces.clone();
        self.until_visible(&run.label, bucket, |entries| {
            entries
                .iter()
                .any(|e| e.id.as_deref() == Some(id.as_str()) && e.target_arn == f.arn)
                && !entries
                    .iter()
                    .any(|e| e.id.as_ref().is_some_and(|i| gone.contains(i)))
        })
        .await?;
        Ok(format!(
            "bucket {bucket} sends {OBJECT_CREATED} (prefix {prefix:?}) to {}",
            f.name
        ))
    }

    /// Read the bucket's entries until our write shows (see [`settle::until_visible`]).
    async fn until_visible(
        &self,
        label: &str,
        bucket: &str,
        seen: impl Fn(&[super::cloud::NotificationEntry]) -> bool,
    ) -> Result<()> {
        settle::until_visible(
            &self.watch,
            (label, "the configuration just written"),
            bucket,
            || self.cloud.notifications(bucket),
            seen,
        )
        .await
        .map(|_| ())
        .with_context(|| {
            format!("failed to read back the notification configuration of bucket {bucket}")
        })
    }

    async fn subscribe(&self, run: &Run<'_>) -> Result<String> {
        let f = function(run)?;
        let TriggerSpec::Sns { topic_arn, .. } = &run.plan.deploy()?.trigger else {
            return Err(anyhow!("no SNS trigger in this plan"));
        };
        self.cloud
            .subscribe(topic_arn, &f.arn)
            .await
            .with_context(|| format!("failed to subscribe {} to {topic_arn}", f.name))?;
        Ok(format!("{} subscribed to {topic_arn}", f.name))
    }

    /// Remove a trigger: its bucket entries, subscriptions and statements, in that order.
    async fn remove_trigger(
        &self,
        run: &Run<'_>,
        f: &FunctionRef,
        old: &OldTrigger,
    ) -> Result<String> {
        if let Some((bucket, ids)) = &old.notification {
            self.cloud
                .remove_notifications(bucket, ids)
                .await
                .with_context(|| {
                    format!(
                        "failed to remove entr{} {} from bucket {bucket}",
                        plural_y(ids.len()),
                        ids.join(", ")
                    )
                })?;
            self.until_visible(&run.label, bucket, |entries| {
                !entries
                    .iter()
                    .any(|e| e.id.as_ref().is_some_and(|i| ids.contains(i)))
            })
            .await?;
        }
        for s in &old.subscriptions {
            self.cloud
                .unsubscribe(s)
                .await
                .with_context(|| format!("failed to remove subscription {s}"))?;
        }
        for sid in &old.statements {
            self.remove_statement(&run.label, &f.name, sid).await?;
        }
        Ok(old.describe())
    }

    /// One part of our trigger (destroy): the bucket entries, the statements or the
    /// subscriptions.
    async fn remove_part(&self, run: &Run<'_>, kind: StepKind) -> Result<String> {
        let all = &run.plan.destroy()?.trigger;
        let part = match kind {
            StepKind::RemoveNotification => OldTrigger {
                notification: all.notification.clone(),
                ..OldTrigger::default()
            },
            StepKind::RemovePermission => OldTrigger {
                statements: all.statements.clone(),
                ..OldTrigger::default()
            },
            _ => OldTrigger {
                subscriptions: all.subscriptions.clone(),
                ..OldTrigger::default()
            },
        };
        let done = self.remove_trigger(run, function(run)?, &part).await?;
        Ok(format!("removed {done}"))
    }

    /// The shared stack goes only when no stack imports its exports any more.
    async fn delete_shared_stack(&self, run: &Run<'_>) -> Result<String> {
        let name = &run.plan.target.shared_stack_name;
        if let Work::Destroy(w) = &run.plan.work {
            for export in &w.shared_exports {
                let importers = self
                    .persist(|| self.cloud.imports(export))
                    .await
                    .with_context(|| format!("failed to list the stacks that import {export}"))?;
                if !importers.is_empty() {
                    return Err(anyhow!(
                        "stack {} still imports {export}; stack {name} (and the credentials in it) is kept: delete that stack first (destroy it with --stack-name {}), then re-run",
                        importers.join(" and "),
                        importers[0]
                    ));
                }
            }
        }
        self.delete_stack(&run.label, name).await
    }

    async fn delete_zip(&self, plan: &TargetPlan) -> Result<String> {
        let Some((bucket, keys)) = &plan.destroy()?.objects else {
            return Ok("no objects to delete".into());
        };
        self.cloud
            .delete_objects(bucket, keys)
            .await
            .with_context(|| format!("failed to delete objects of bucket {bucket}"))?;
        Ok(format!("deleted {} from bucket {bucket}", keys.join(", ")))
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

    async fn remove_statement(&self, label: &str, function: &str, sid: &str) -> Result<()> {
        settle::patiently(
            &self.watch,
            label,
            |e| settle::catching_up(e, false),
            || self.cloud.remove_permission(function, sid),
        )
        .await
        .with_context(|| format!("failed to remove statement {sid} from function {function}"))
    }

    /// A follower; `outputs`: the stack as it settled is wanted (see [`Follow::outputs`]).
    fn follower<'b>(&'b self, label: &'b str, outputs: bool) -> Follow<'b, C> {
        Follow {
            cloud: self.cloud,
            watch: self.watch,
            target: label,
            outputs,
        }
    }

    /// The id of the newest event of a stack, so that following starts after it.
    async fn newest_event(&self, stack_id: &str) -> Option<String> {
        self.persist(|| self.cloud.stack_events(stack_id, None))
            .await
            .ok()
            .and_then(|events| events.into_iter().next().map(|e| e.id))
    }

    async fn delete_stack(&self, label: &str, name: &str) -> Result<String> {
        let Some(stack) = self
            .persist(|| self.cloud.stack(name))
            .await
            .with_context(|| format!("failed to read stack {name}"))?
        else {
            return Ok(format!("stack {name} was already gone"));
        };
        let until = self.newest_event(&stack.id).await;
        self.cloud
            .delete_stack(&stack.id)
            .await
            .with_context(|| format!("failed to delete stack {name}"))?;
        match self
            .follower(label, false)
            .run(name, &stack.id, until.as_deref(), Goal::Deleted)
            .await?
        {
            Settled::Done { .. } => Ok(format!("deleted stack {name} (was {})", stack.status)),
            other => Err(explain(name, &other)),
        }
    }

    /// Create or update a stack; what was done, and the stack as it settled (absent when there
    /// was nothing to update).
    async fn stack_op(
        &self,
        label: &str,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
        (action, outputs): (Action, bool),
    ) -> Result<(String, Option<StackInfo>)> {
        match action {
            Action::Create => {
                self.create_stack(label, name, (template, params), outputs)
                    .await
            }
            Action::Update => {
                self.update_stack(label, name, (template, params), outputs)
                    .await
            }
            Action::Delete | Action::Skip => Err(anyhow!("no stack operation for {action:?}")),
        }
    }

    async fn create_stack(
        &self,
        label: &str,
        name: &str,
        (template, params): (&TemplateSource, &BTreeMap<String, ParamValue>),
        outputs: bool,
    ) -> Result<(String, Option<StackInfo>)> {
        let id = self
            .cloud
            .create_stack(name, template, params)
            .await
            .with_context(|| format!("failed to create stack {name}"))?;
        let failed = match self
            .follower(label, outputs)
            .run(name, &id, None, Goal::Created)
            .await?
        {
            Settled::Done { stack, .. } => {
                return Ok((format!("created stack {name}"), stack.map(|s| *s)));
            }
            failed @ Settled::Failed { .. } => failed,
            other => return Err(explain(name, &other)),
        };
        let err = explain(name, &failed);
        if self.on_failure == OnFailure::Keep {
            return Err(err.context(format!(
                "stack {name} was kept for inspection (--on-failure keep); the next deploy deletes and re-creates it"
            )));
        }
        match self.delete_stack(label, name).await {
            Ok(_) => Err(anyhow!(
                "{err:#}; the failed stack was deleted so that a re-run starts clean (--on-failure keep keeps it)"
            )),
            Err(e) => Err(anyhow!(
                "{err:#}; deleting the failed stack also failed: {e:#}"
            )),
        }
    }

    async fn update_stack(
        &self,
        label: &str,
        name: &str,
        (template, params): (&TemplateSource, &BTreeMap<String, ParamValue>),
        outputs: bool,
    ) -> Result<(String, Option<StackInfo>)> {
        let before = self
            .persist(|| self.cloud.stack(name))
            .await
            .with_context(|| format!("failed to read stack {name}"))?
            .ok_or_else(|| anyhow!("stack {name} disappeared before its update"))?;
        let until = self.newest_event(&before.id).await;
        let started = self
            .cloud
            .update_stack(name, template, params)
            .await
            .with_context(|| format!("failed to update stack {name}"))?;
        let UpdateStarted::Started { stack_id } = started else {
            return Ok((format!("stack {name} needed no update"), None));
        };
        match self
            .follower(label, outputs)
            .run(name, &stack_id, until.as_deref(), Goal::Updated)
            .await?
        {
            Settled::Done { stack, .. } => Ok((format!("updated stack {name}"), stack.map(|s| *s))),
            other => Err(explain(name, &other)),
        }
    }
}

/// How many of the plan's first steps go in two lanes (0: none): the zip bucket, the zip and
/// the large templates, beside the shared stack (and the delete before it), when both lanes
/// have work and the shared stack's template is sent inline (not through that bucket).
fn side_by_side(plan: &TargetPlan) -> usize {
    let Ok(w) = plan.deploy() else {
        return 0;
    };
    let n = plan
        .steps
        .iter()
        .take_while(|s| s.kind.is_shared_stack() || s.kind.is_upload())
        .count();
    let works = |shared: bool| {
        plan.steps[..n]
            .iter()
            .any(|s| s.kind.is_shared_stack() == shared && s.action != Action::Skip)
    };
    if w.shared_template.fits_inline() && works(true) && works(false) {
        n
    } else {
        0
    }
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

/// The function the trigger steps work on.
fn function<'r>(run: &'r Run<'_>) -> Result<&'r FunctionRef> {
    run.function
        .as_ref()
        .ok_or_else(|| anyhow!("the function is not known"))
}

/// The parameters that are sent (the rest take the template's default).
fn sent(params: &[StackParam]) -> BTreeMap<String, ParamValue> {
    params
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.sent.clone()?)))
        .collect()
}
