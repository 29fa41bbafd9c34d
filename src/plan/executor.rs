//! Performs a target's planned steps in order, exactly as planned, and reports each one.
//! An interruption stops it between steps (the write in flight finishes); a stack that is
//! still running when the wait ends is reported as in progress, not as failed.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use super::cloud::{Added, Cloud, OurNotification, UpdateStarted};
use super::follow::{Follow, Settled, StillRunning, explain, hint, looks_transient};
use super::planner::{OBJECT_CREATED, find_function};
use super::{
    Action, Event, FunctionRef, Outcome, ParamValue, Status, Step, StepKind, StepResult,
    TargetPlan, TargetResult, TriggerSpec, Watch,
};
use crate::cli::OnFailure;

pub struct Executor<'a, C: Cloud> {
    pub cloud: &'a C,
    pub watch: Watch<'a>,
    pub on_failure: OnFailure,
}

/// The message of a failed step, with what to do about a known cause.
fn with_hint(e: &anyhow::Error) -> String {
    let msg = format!("{e:#}");
    match hint(&msg) {
        Some(h) => format!("{msg}. Hint: {h}"),
        None => msg,
    }
}

impl<C: Cloud> Executor<'_, C> {
    pub async fn apply(&self, plan: &TargetPlan) -> TargetResult {
        let label = plan.label();
        let mut function = plan.function.clone();
        let mut results: Vec<StepResult> = Vec::new();
        let mut error: Option<String> = None;
        let mut still_running = false;
        for planned in &plan.steps {
            // A trigger step planned as "already in place" was about the function the stack
            // had; when the stack update replaced the function (a new name), it is needed again.
            let replaced =
                function.as_ref().map(|f| &f.arn) != plan.function.as_ref().map(|f| &f.arn);
            let redo = planned.action == Action::Skip && planned.kind.is_trigger() && replaced;
            let redone;
            let step = if redo {
                redone = Step {
                    kind: planned.kind,
                    action: Action::Create,
                    detail: format!(
                        "the stack update replaced the function with {}: {}",
                        function
                            .as_ref()
                            .map(|f| f.name.as_str())
                            .unwrap_or("a new one"),
                        planned.detail
                    ),
                };
                &redone
            } else {
                planned
            };
            let stop = if error.is_some() {
                Some("not started: an earlier step did not finish")
            } else if step.action != Action::Skip && self.watch.cancel.is_cancelled() {
                still_running = true;
                error.get_or_insert_with(|| {
                    "interrupted before this step: re-run the same command to resume".into()
                });
                Some("not started: interrupted")
            } else {
                None
            };
            if let Some(why) = stop {
                results.push(StepResult {
                    name: step.kind.name(),
                    action: step.action,
                    status: Status::Skipped,
                    detail: why.into(),
                });
                continue;
            }
            if step.action == Action::Skip {
                results.push(StepResult {
                    name: step.kind.name(),
                    action: step.action,
                    status: Status::Skipped,
                    detail: step.detail.clone(),
                });
                continue;
            }
            self.watch.reporter.event(Event::StepStarted {
                target: label.clone(),
                step: step.kind.name(),
                action: step.action,
                detail: step.detail.clone(),
            });
            let (status, detail) = match self.step(plan, step, &label, &mut function).await {
                Ok(detail) => (Status::Done, detail),
                Err(e) if e.downcast_ref::<StillRunning>().is_some() => {
                    still_running = true;
                    let msg = format!("{e:#}");
                    error = Some(format!("{}: {msg}", step.kind.name()));
                    (Status::InProgress, msg)
                }
                Err(e) => {
                    let msg = with_hint(&e);
                    error = Some(format!("{}: {msg}", step.kind.name()));
                    (Status::Failed, msg)
                }
            };
            self.watch.reporter.event(Event::StepFinished {
                target: label.clone(),
                step: step.kind.name(),
                status,
                detail: detail.clone(),
            });
            results.push(StepResult {
                name: step.kind.name(),
                action: step.action,
                status,
                detail,
            });
        }
        let failed = results.iter().any(|r| r.status == Status::Failed);
        let outcome = if failed {
            Outcome::Failed
        } else if still_running {
            Outcome::InProgress
        } else if plan
            .steps
            .iter()
            .any(|s| s.kind == StepKind::LambdaStack && s.action == Action::Create)
        {
            Outcome::Created
        } else if plan.changes() {
            Outcome::Updated
        } else {
            Outcome::Unchanged
        };
        TargetResult {
            account: Some(plan.inputs.account.clone()),
            region: plan.inputs.config.region.clone(),
            outcome,
            steps: results,
            function_name: function.as_ref().map(|f| f.name.clone()),
            function_arn: function.as_ref().map(|f| f.arn.clone()),
            warnings: plan.warnings.clone(),
            error,
        }
    }

    /// Retry a read that failed for a passing reason, so that a throttled status read never
    /// turns a finished success into a failure.
    async fn persist<T, F, Fut>(&self, mut read: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut pause = self.watch.pace.interval.max(Duration::from_millis(100));
        let mut attempt = 0;
        loop {
            match read().await {
                Err(e) if looks_transient(&e) && attempt < 6 => {
                    attempt += 1;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(20));
                }
                other => return other,
            }
        }
    }

    /// One step; returns what was done, in a few words.
    async fn step(
        &self,
        plan: &TargetPlan,
        step: &Step,
        label: &str,
        function: &mut Option<FunctionRef>,
    ) -> Result<String> {
        let inputs = &plan.inputs;
        let cfg = &inputs.config;
        match step.kind {
            StepKind::LambdaBucket => {
                self.cloud
                    .create_bucket(&inputs.lambda_bucket, &cfg.region)
                    .await
                    .with_context(|| format!("failed to create bucket {}", inputs.lambda_bucket))?;
                Ok(format!(
                    "created bucket {} (private, encrypted)",
                    inputs.lambda_bucket
                ))
            }
            StepKind::UploadZip => {
                self.cloud
                    .put_object(
                        &inputs.lambda_bucket,
                        &inputs.zip_key,
                        &inputs.zip.bytes,
                        &inputs.zip.sha256,
                    )
                    .await
                    .with_context(|| {
                        format!(
                            "failed to upload the zip to s3://{}/{}",
                            inputs.lambda_bucket, inputs.zip_key
                        )
                    })?;
                Ok(format!(
                    "uploaded s3://{}/{} ({} bytes)",
                    inputs.lambda_bucket,
                    inputs.zip_key,
                    inputs.zip.bytes.len()
                ))
            }
            StepKind::DeleteSharedStack | StepKind::DeleteLambdaStack => {
                let name = if step.kind == StepKind::DeleteSharedStack {
                    &cfg.shared_stack_name
                } else {
                    &cfg.stack_name
                };
                self.delete_stack(label, name).await
            }
            StepKind::SharedStack => {
                self.stack_op(
                    label,
                    &cfg.shared_stack_name,
                    &inputs.shared_template.body,
                    &inputs.shared_params,
                    step.action,
                )
                .await
            }
            StepKind::LambdaStack => {
                let params = inputs
                    .lambda_params
                    .iter()
                    .map(|(k, v)| (k.clone(), ParamValue::Plain(v.clone())))
                    .collect();
                let done = self
                    .stack_op(
                        label,
                        &cfg.stack_name,
                        &inputs.lambda_template.body,
                        &params,
                        step.action,
                    )
                    .await?;
                let f = self
                    .persist(|| async {
                        let stack = self.cloud.stack(&cfg.stack_name).await?.ok_or_else(|| {
                            anyhow!("stack {} is gone after it settled", cfg.stack_name)
                        })?;
                        find_function(self.cloud, &stack).await
                    })
                    .await
                    .with_context(|| {
                        format!("failed to find the function of stack {}", cfg.stack_name)
                    })?
                    .ok_or_else(|| anyhow!("stack {} holds no Lambda function", cfg.stack_name))?;
                *function = Some(FunctionRef {
                    name: f.name.clone(),
                    arn: f.arn,
                });
                Ok(format!("{done}; function {}", f.name))
            }
            StepKind::InvokePermission => {
                let f = function
                    .as_ref()
                    .ok_or_else(|| anyhow!("the function is not known"))?;
                let statement = inputs.trigger.statement(&inputs.account);
                let (sid, principal) = (&statement.sid, &statement.principal);
                let source_arn = statement.source_arn.clone().unwrap_or_default();
                if step.action == Action::Update {
                    self.remove_statement(&f.name, sid).await?;
                }
                let added = self
                    .cloud
                    .add_permission(&f.name, &statement)
                    .await
                    .with_context(|| {
                        format!("failed to allow {principal} to invoke function {}", f.name)
                    })?;
                Ok(match added {
                    Added::Added => format!("{principal} may invoke {} from {source_arn}", f.name),
                    Added::AlreadyThere => format!("statement {sid} was already in place"),
                })
            }
            StepKind::BucketNotification => {
                let f = function
                    .as_ref()
                    .ok_or_else(|| anyhow!("the function is not known"))?;
                let TriggerSpec::S3 {
                    bucket,
                    prefix,
                    id,
                    replaces,
                    ..
                } = &inputs.trigger
                else {
                    return Err(anyhow!("no S3 trigger in this plan"));
                };
                self.cloud
                    .put_notification(
                        bucket,
                        &OurNotification {
                            id: id.clone(),
                            function_arn: f.arn.clone(),
                            prefix: prefix.clone(),
                            replaces: replaces.clone(),
                        },
                    )
                    .await
                    .with_context(|| {
                        format!("failed to write the notification configuration of bucket {bucket}")
                    })?;
                Ok(format!(
                    "bucket {bucket} sends {OBJECT_CREATED} (prefix {prefix:?}) to {}",
                    f.name
                ))
            }
            StepKind::RemoveOldTrigger => {
                let f = function
                    .as_ref()
                    .ok_or_else(|| anyhow!("the function is not known"))?;
                let old = &plan.old_trigger;
                if let Some((bucket, id)) = &old.notification {
                    self.cloud
                        .remove_notification(bucket, id)
                        .await
                        .with_context(|| {
                            format!("failed to remove entry {id} from bucket {bucket}")
                        })?;
                }
                for s in &old.subscriptions {
                    self.cloud
                        .unsubscribe(s)
                        .await
                        .with_context(|| format!("failed to remove subscription {s}"))?;
                }
                for sid in &old.statements {
                    self.remove_statement(&f.name, sid).await?;
                }
                Ok(old.describe().replacen(
                    "remove the earlier trigger",
                    "removed the earlier trigger",
                    1,
                ))
            }
            StepKind::SnsSubscription => {
                let f = function
                    .as_ref()
                    .ok_or_else(|| anyhow!("the function is not known"))?;
                let TriggerSpec::Sns { topic_arn, .. } = &inputs.trigger else {
                    return Err(anyhow!("no SNS trigger in this plan"));
                };
                self.cloud
                    .subscribe(topic_arn, &f.arn)
                    .await
                    .with_context(|| format!("failed to subscribe {} to {topic_arn}", f.name))?;
                Ok(format!("{} subscribed to {topic_arn}", f.name))
            }
        }
    }

    async fn remove_statement(&self, function: &str, sid: &str) -> Result<()> {
        self.cloud
            .remove_permission(function, sid)
            .await
            .with_context(|| format!("failed to remove statement {sid} from function {function}"))
    }

    fn follower<'b>(&'b self, label: &'b str) -> Follow<'b, C> {
        Follow {
            cloud: self.cloud,
            watch: self.watch,
            target: label,
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
            .follower(label)
            .run(name, &stack.id, until.as_deref(), "DELETE_COMPLETE")
            .await?
        {
            Settled::Done { .. } => Ok(format!("deleted stack {name} (was {})", stack.status)),
            other => Err(explain(name, &other)),
        }
    }

    async fn stack_op(
        &self,
        label: &str,
        name: &str,
        body: &str,
        params: &std::collections::BTreeMap<String, ParamValue>,
        action: Action,
    ) -> Result<String> {
        match action {
            Action::Create => {
                let id = self
                    .cloud
                    .create_stack(name, body, params)
                    .await
                    .with_context(|| format!("failed to create stack {name}"))?;
                match self
                    .follower(label)
                    .run(name, &id, None, "CREATE_COMPLETE")
                    .await?
                {
                    Settled::Done { .. } => Ok(format!("created stack {name}")),
                    failed @ Settled::Failed { .. } => {
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
                    other => Err(explain(name, &other)),
                }
            }
            Action::Update => {
                let before = self
                    .persist(|| self.cloud.stack(name))
                    .await
                    .with_context(|| format!("failed to read stack {name}"))?
                    .ok_or_else(|| anyhow!("stack {name} disappeared before its update"))?;
                let until = self.newest_event(&before.id).await;
                match self
                    .cloud
                    .update_stack(name, body, params)
                    .await
                    .with_context(|| format!("failed to update stack {name}"))?
                {
                    UpdateStarted::NoChanges => Ok(format!("stack {name} needed no update")),
                    UpdateStarted::Started { stack_id } => {
                        match self
                            .follower(label)
                            .run(name, &stack_id, until.as_deref(), "UPDATE_COMPLETE")
                            .await?
                        {
                            Settled::Done { .. } => Ok(format!("updated stack {name}")),
                            other => Err(explain(name, &other)),
                        }
                    }
                }
            }
            Action::Delete | Action::Skip => Err(anyhow!("no stack operation for {action:?}")),
        }
    }
}
