//! The trigger: the invoke permission, our bucket entry or the topic subscription, and what is
//! left of an earlier deploy's trigger that this one no longer wants; and the SNS topic (there,
//! and, another account's, letting this one subscribe).

use super::{Ctx, OBJECT_CREATED, S3_STATEMENT_ID, SNS_STATEMENT_ID, notification_id};
use crate::input::{Input, Problem};
use crate::kinds::Trigger;
use crate::plan::cloud::{ErrorKind, NotificationEntry, NotificationKind, PolicyStatement};
use crate::plan::observe::Fact;
use crate::plan::policy::{Grant, grants, subscribe_statement};
use crate::plan::{Action, OldTrigger, Op, Step, TriggerSpec};
use crate::template::names;

/// Does an existing notification entry collide with ours (S3 would refuse both)?
pub fn overlaps(entry: &NotificationEntry, our_prefix: &str) -> bool {
    let events_overlap = entry
        .events
        .iter()
        .any(|e| e == "s3:*" || e == "s3:ObjectCreated:*" || e.starts_with("s3:ObjectCreated:"));
    let prefix_overlap =
        entry.prefix.starts_with(our_prefix) || our_prefix.starts_with(entry.prefix.as_str());
    // Our suffix is empty, so every suffix overlaps with it.
    events_overlap && prefix_overlap
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { one.into() } else { many.into() }
}

impl Ctx<'_> {
    /// The function's statements (none before the function exists).
    fn statements(&mut self) -> Vec<PolicyStatement> {
        match &self.seen.statements {
            Fact::Known(s) => s.clone(),
            Fact::Failed(e) => {
                let name = self
                    .function
                    .as_ref()
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                self.problem(Problem::about(
                    Input::StackName,
                    format!("function {name}"),
                    format!("cannot read its policy ({e})"),
                ));
                Vec::new()
            }
            Fact::NotRead => Vec::new(),
        }
    }

    /// The trigger wanted, and the statement that lets its source invoke the function.
    pub(super) fn permission(&mut self) -> TriggerSpec {
        let t = &self.t;
        let trigger = match t.trigger {
            Trigger::S3 => TriggerSpec::S3 {
                bucket: t.notification_bucket.clone(),
                bucket_arn: format!(
                    "arn:{}:s3:::{}",
                    self.seen.partition(),
                    t.notification_bucket
                ),
                prefix: t.prefix.clone(),
                id: notification_id(&t.stack_name),
                replaces: Vec::new(),
                statement_id: S3_STATEMENT_ID.into(),
            },
            Trigger::Sns => TriggerSpec::Sns {
                topic_arn: t.sns_topic_arn.clone().unwrap_or_default(),
                statement_id: SNS_STATEMENT_ID.into(),
            },
        };
        let wanted = trigger.statement(&self.account);
        let (sid, principal) = (wanted.sid.clone(), wanted.principal.clone());
        let source = wanted.source_arn.clone().unwrap_or_default();
        let existing = self.statements().into_iter().find(|s| s.sid == sid);
        let (action, detail) = match existing {
            None => (
                Action::Create,
                format!("allow {principal} to invoke the function from {source} (statement {sid})"),
            ),
            Some(s) if s == wanted => (
                Action::Skip,
                format!("statement {sid} already allows {principal} from {source}"),
            ),
            Some(s) => (
                Action::Update,
                format!(
                    "statement {sid} allows {} from {}: replace it with {principal} from {source}",
                    s.principal,
                    s.source_arn.as_deref().unwrap_or("anywhere")
                ),
            ),
        };
        self.step(Op::InvokePermission(wanted), action, detail);
        trigger
    }

    /// Our bucket entry, or the subscription.
    pub(super) fn trigger(&mut self, mut trigger: TriggerSpec) -> TriggerSpec {
        match &mut trigger {
            TriggerSpec::S3 {
                bucket,
                prefix,
                id,
                replaces,
                ..
            } => {
                let (action, detail) = self.s3_trigger(bucket, prefix, id, replaces);
                let op = Op::BucketNotification(trigger.clone());
                self.steps.push(Step::new(op, action, detail));
            }
            TriggerSpec::Sns { topic_arn, .. } => {
                let (action, detail) = self.subscription(topic_arn);
                let op = Op::SnsSubscription(trigger.clone());
                self.steps.push(Step::new(op, action, detail));
            }
        }
        trigger
    }

    /// The bucket's entries, as read (none when they could not or need not be read).
    fn entries(&mut self, bucket: &str) -> Vec<NotificationEntry> {
        match self.seen.notifications.get(bucket) {
            Some(Fact::Known(e)) => e.clone(),
            Some(Fact::Failed(e)) => {
                self.problem(Problem::value(
                    Input::NotificationBucket,
                    bucket,
                    format!("cannot read its notification configuration ({e})"),
                ));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn s3_trigger(
        &mut self,
        bucket: &str,
        prefix: &str,
        id: &str,
        replaces: &mut Vec<String>,
    ) -> (Action, String) {
        let entries = self.entries(bucket);
        let function_arn = self.function.as_ref().map(|f| f.arn.clone());
        for other in entries.iter().filter(|e| e.id.as_deref() != Some(id)) {
            if !overlaps(other, prefix) {
                continue;
            }
            if function_arn.as_deref() == Some(other.target_arn.as_str()) {
                // Someone wired the function to the bucket by hand (as the guide does): our
                // entry takes its place.
                replaces.push(other.id.clone().unwrap_or_default());
            } else {
                self.problem(overlap_problem(bucket, prefix, other));
            }
        }
        let ours = entries.iter().find(|e| e.id.as_deref() == Some(id));
        let up_to_date = |e: &NotificationEntry| {
            function_arn.as_deref() == Some(e.target_arn.as_str())
                && e.kind == NotificationKind::Lambda
                && e.events == [OBJECT_CREATED]
                && e.prefix == prefix
                && e.suffix.is_empty()
        };
        let others = entries.len() - usize::from(ours.is_some()) - replaces.len();
        let (adopt, keep) = (adopt_text(replaces), keep_text(others));
        let (action, detail) = match ours {
            None if replaces.is_empty() => (Action::Create, "add"),
            None => (Action::Update, "add"),
            Some(e) if up_to_date(e) && replaces.is_empty() => {
                return (
                    Action::Skip,
                    format!(
                        "bucket {bucket} already notifies the function (entry {id}, prefix {prefix:?})"
                    ),
                );
            }
            Some(_) => (Action::Update, "replace"),
        };
        let to = if detail == "add" { "to" } else { "on" };
        (
            action,
            format!(
                "{detail} entry {id} {to} bucket {bucket}: all object-create events, prefix {prefix:?}{adopt}{keep}"
            ),
        )
    }

    fn subscription(&mut self, topic: &str) -> (Action, String) {
        let subscribed = match (&self.function, self.seen.subscriptions.get(topic)) {
            (Some(f), Some(Fact::Known(subs))) => subs
                .iter()
                .any(|s| s.protocol == "lambda" && s.endpoint == f.arn),
            (Some(_), Some(Fact::Failed(e))) => {
                self.problem(Problem::value(
                    Input::SnsTopicArn,
                    topic,
                    format!("cannot list its subscriptions ({e})"),
                ));
                false
            }
            _ => false,
        };
        if subscribed {
            (
                Action::Skip,
                format!("the function is subscribed to {topic}"),
            )
        } else {
            (Action::Create, format!("subscribe the function to {topic}"))
        }
    }

    /// The trigger this deploy no longer wants (another trigger type, bucket or topic than
    /// last time): removed after the new one is in place, so no event is lost.
    pub(super) fn earlier_trigger(&mut self, trigger: &TriggerSpec) -> OldTrigger {
        let mut old = OldTrigger::default();
        let (Some(f), Some(s)) = (self.function.clone(), self.seen.healthy_lambda_stack()) else {
            return old;
        };
        let id = notification_id(&self.t.stack_name);
        let previous_bucket = s.info.parameters.get(names::NOTIFICATION_BUCKET).cloned();
        let stale_bucket = match trigger {
            TriggerSpec::Sns { .. } => previous_bucket.or(Some(self.t.notification_bucket.clone())),
            TriggerSpec::S3 { bucket, .. } => previous_bucket.filter(|b| b != bucket),
        };
        if let Some(b) = stale_bucket
            && let Some(Fact::Known(entries)) = self.seen.notifications.get(&b)
            && entries
                .iter()
                .any(|e| e.id.as_deref() == Some(id.as_str()) && e.target_arn == f.arn)
        {
            old.notification = Some((b, vec![id]));
        }
        let wanted_topic = match trigger {
            TriggerSpec::Sns { topic_arn, .. } => Some(topic_arn),
            TriggerSpec::S3 { .. } => None,
        };
        if let Some(topic) = s
            .info
            .parameters
            .get(names::SNS_TOPIC)
            .filter(|t| !t.is_empty() && Some(*t) != wanted_topic)
            && let Some(Fact::Known(subs)) = self.seen.subscriptions.get(topic)
        {
            old.subscriptions = subs
                .iter()
                .filter(|s| s.protocol == "lambda" && s.endpoint == f.arn)
                .map(|s| s.arn.clone())
                .collect();
        }
        let other_sid = match trigger {
            TriggerSpec::S3 { .. } => SNS_STATEMENT_ID,
            TriggerSpec::Sns { .. } => S3_STATEMENT_ID,
        };
        if let Fact::Known(st) = &self.seen.statements
            && st.iter().any(|s| s.sid == other_sid)
        {
            old.statements.push(other_sid.to_string());
        }
        old
    }
}

fn overlap_problem(bucket: &str, prefix: &str, other: &NotificationEntry) -> Problem {
    Problem::value(
        Input::NotificationBucket,
        bucket,
        format!(
            "its {} notification {} ({} for {}, prefix {:?}, suffix {:?}) overlaps the trigger this deploy needs (s3:ObjectCreated:*, prefix {prefix:?}); S3 refuses overlapping configurations",
            other.kind,
            other
                .id
                .as_deref()
                .map(|i| format!("{i:?}"))
                .unwrap_or_else(|| "(no Id)".into()),
            other.events.join(","),
            other.target_arn,
            other.prefix,
            other.suffix,
        ),
    )
    .fix("use --trigger sns with a topic that fans out to both, or a --prefix that does not overlap")
}

/// `; replace entries "a", "b" that already send these events to the function`, or nothing.
fn adopt_text(replaces: &[String]) -> String {
    if replaces.is_empty() {
        return String::new();
    }
    let n = replaces.len();
    let ids: Vec<String> = replaces.iter().map(|r| format!("{r:?}")).collect();
    format!(
        "; replace entr{} {} that already send{} these events to the function",
        plural(n, "y", "ies"),
        ids.join(", "),
        plural(n, "s", "")
    )
}

/// `; keep the N other entries`, or nothing.
fn keep_text(others: usize) -> String {
    match others {
        0 => String::new(),
        n => format!("; keep the {n} other entr{}", plural(n, "y", "ies")),
    }
}

impl Ctx<'_> {
    /// The SNS topic must exist.
    pub(super) fn topic(&mut self) {
        let Some(topic) = self.t.sns_topic_arn.clone() else {
            return;
        };
        let about = |m: String| Problem::value(Input::SnsTopicArn, &topic, m);
        let owner = topic.split(':').nth(4).unwrap_or_default().to_string();
        let foreign = !owner.is_empty() && owner != self.account;
        let statement = subscribe_statement(&self.account, &topic);
        match &self.seen.topic {
            Fact::Known(None) => {
                let p = about(format!("no such topic visible to account {}", self.account));
                self.problem(p);
            }
            // Another account's topic that keeps this one from reading it: a subscription
            // would fail after the stacks are made, so it is refused here, with the statement
            // that lets the account read it and subscribe.
            Fact::Failed(e) if foreign && e.kind == ErrorKind::Denied => self.problem(
                about(format!(
                    "belongs to account {owner}, and its policy does not let account {} read it ({e})",
                    self.account
                ))
                .fix(format!("add this statement to the topic's policy in account {owner}: {statement}")),
            ),
            Fact::Failed(e) => self.problem(about(format!("cannot read it ({e})"))),
            Fact::Known(Some(info)) if foreign => {
                let policy = info.policy.as_deref().unwrap_or("{}");
                match grants(policy, "sns:Subscribe", &self.account) {
                    Grant::Allowed => {}
                    Grant::Refused => self.problem(
                        about(format!(
                            "belongs to account {owner}, and its policy does not let account {} subscribe",
                            self.account
                        ))
                        .fix(format!("add this statement to the topic's policy in account {owner}: {statement}")),
                    ),
                    Grant::Unsure => self.warn(about(format!(
                        "belongs to account {owner}; its policy lets account {} subscribe only under conditions the tool cannot check; if the subscription is refused, add: {statement}",
                        self.account
                    ))),
                }
            }
            _ => {}
        }
    }
}
