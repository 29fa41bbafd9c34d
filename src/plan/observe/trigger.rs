//! The triggers: the notification entries and subscriptions of the wanted trigger and the
//! earlier one, our entry read again until it shows, and the deployed stack's SNS topic.

use std::collections::{BTreeMap, BTreeSet};

use super::{Fact, Observed, Reads};
use crate::plan::Watch;
use crate::plan::cloud::{CloudReads, NotificationEntry, Subscription};
use crate::template::names;

/// The notification entries and subscriptions of the wanted trigger and the earlier one.
pub(super) async fn read_triggers<C: CloudReads>(
    cloud: &C,
    reads: &Reads,
    region: &str,
    seen: &Observed,
) -> (
    BTreeMap<String, Fact<Vec<NotificationEntry>>>,
    BTreeMap<String, Fact<Vec<Subscription>>>,
) {
    let mut buckets = BTreeSet::new();
    let mut topics = BTreeSet::new();
    if reads.notifications
        && let Some(b) = &reads.notification_bucket
        && seen.notification_bucket.known() == Some(&Some(region.to_string()))
    {
        buckets.insert(b.clone());
    }
    topics.extend(reads.topic.clone());
    if reads.earlier_trigger
        && let Some(stack) = seen.healthy_lambda_stack()
        && matches!(seen.function, Fact::Known(Some(_)))
    {
        let param = |k: &str| stack.info.parameters.get(k).filter(|v| !v.is_empty());
        buckets.extend(param(names::NOTIFICATION_BUCKET).cloned());
        topics.extend(param(names::SNS_TOPIC).cloned());
    }
    let mut notifications = BTreeMap::new();
    for b in buckets {
        let entries = Fact::from_result(cloud.notifications(&b).await);
        notifications.insert(b, entries);
    }
    let mut subscriptions = BTreeMap::new();
    if matches!(seen.function, Fact::Known(Some(_))) {
        for t in topics {
            let subs = Fact::from_result(cloud.subscriptions(&t).await);
            subscriptions.insert(t, subs);
        }
    }
    (notifications, subscriptions)
}

/// The deployed stack's SNS topic, when the command did not name one (`verify`): its owner and
/// policy, and the trails that may publish to it.
pub(super) async fn read_stack_topic<C: CloudReads>(cloud: &C, reads: &Reads, seen: &mut Observed) {
    if !reads.stack_topic {
        return;
    }
    let Some(topic) = seen
        .healthy_lambda_stack()
        .and_then(|s| s.info.parameters.get(names::SNS_TOPIC))
        .filter(|t| !t.is_empty())
        .cloned()
    else {
        return;
    };
    let (info, trails) = futures::join!(cloud.topic(&topic), async {
        match seen.trails {
            Fact::NotRead => Some(cloud.trails().await),
            _ => None,
        }
    });
    seen.topic = Fact::from_result(info);
    if let Some(trails) = trails {
        seen.trails = Fact::from_result(trails);
    }
}

/// Our entry missing from the S3-triggered stack's bucket: read again until it shows, for a
/// while (the pace's `settle`), saying it is not visible yet; still missing after that is
/// drift, for the decision to report.
pub(super) async fn settle_entry<C: CloudReads>(
    cloud: &C,
    (watch, label): (Watch<'_>, &str),
    id: &str,
    seen: &mut Observed,
) {
    let Some(stack) = seen.healthy_lambda_stack() else {
        return;
    };
    let param = |k: &str| stack.info.parameters.get(k).filter(|v| !v.is_empty());
    let Some(bucket) = param(names::NOTIFICATION_BUCKET).cloned() else {
        return;
    };
    if param(names::SNS_TOPIC).is_some() {
        return;
    }
    let has = |entries: &[NotificationEntry]| entries.iter().any(|e| e.id.as_deref() == Some(id));
    match seen.notifications.get(&bucket) {
        Some(Fact::Known(entries)) if !has(entries) => {}
        _ => return,
    }
    let what = format!("our entry {id}");
    let found = crate::plan::settle::until_visible(
        &watch,
        (label, &what),
        &bucket,
        || cloud.notifications(&bucket),
        has,
    )
    .await;
    if let Ok(entries) = found {
        seen.notifications.insert(bucket, Fact::Known(entries));
    }
}
