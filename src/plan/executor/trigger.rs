//! The trigger steps: the invoke permission, the bucket notification (read back until S3
//! shows it), the SNS subscription, and removing an earlier trigger or ours (destroy).

use anyhow::{Context, Result, anyhow};

use super::{Executor, Run, function};
use crate::plan::cloud::{Added, Cloud, NotificationEntry, OurNotification, PolicyStatement};
use crate::plan::marks::OBJECT_CREATED;
use crate::plan::{Action, FunctionRef, OldTrigger, TriggerSpec, settle};

impl<C: Cloud> Executor<'_, C> {
    pub(super) async fn invoke_permission(
        &self,
        run: &mut Run<'_>,
        action: Action,
        statement: &PolicyStatement,
    ) -> Result<String> {
        let f = function(run)?.clone();
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
            || self.cloud.add_permission(&f.name, statement),
        )
        .await
        .with_context(|| format!("failed to allow {principal} to invoke function {}", f.name))?;
        run.allowed_now |= added == Added::Added;
        Ok(match added {
            Added::Added => format!("{principal} may invoke {} from {source_arn}", f.name),
            Added::AlreadyThere => format!("statement {sid} was already in place"),
        })
    }

    pub(super) async fn bucket_notification(
        &self,
        run: &Run<'_>,
        trigger: &TriggerSpec,
    ) -> Result<String> {
        let f = function(run)?;
        let TriggerSpec::S3 {
            bucket,
            prefix,
            id,
            replaces,
            ..
        } = trigger
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
        seen: impl Fn(&[NotificationEntry]) -> bool,
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

    pub(super) async fn subscribe(&self, run: &Run<'_>, trigger: &TriggerSpec) -> Result<String> {
        let f = function(run)?;
        let TriggerSpec::Sns { topic_arn, .. } = trigger else {
            return Err(anyhow!("no SNS trigger in this plan"));
        };
        self.cloud
            .subscribe(topic_arn, &f.arn)
            .await
            .with_context(|| format!("failed to subscribe {} to {topic_arn}", f.name))?;
        Ok(format!("{} subscribed to {topic_arn}", f.name))
    }

    /// Remove a trigger: its bucket entries, subscriptions and statements, in that order.
    pub(super) async fn remove_trigger(
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
    pub(super) async fn remove_part(&self, run: &Run<'_>, part: &OldTrigger) -> Result<String> {
        let done = self.remove_trigger(run, function(run)?, part).await?;
        Ok(format!("removed {done}"))
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
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}
