//! Observe: the only part of planning that reads the cloud. Per target, everything the decisions
//! need goes into one [`Observed`] value; a read that does not apply (no stack yet, an input
//! that already has a problem) is simply absent, and a read that failed keeps its error for the
//! decision to report. A stack found mid-operation is followed here until it settles.
//!
//! The reads by part: `stacks` (each stack, followed while it runs, and the function),
//! `storage` (the buckets, the objects the tool stores, the KMS keys), `trigger` (the
//! notification entries, the subscriptions, the deployed stack's topic).

mod stacks;
mod storage;
mod trigger;

use std::collections::BTreeMap;

use super::Watch;
use super::cloud::{
    AccountSettings, CloudReads, Export, FunctionInfo, Identity, Invocation, LogSummary,
    NotificationEntry, ObjectState, PolicyStatement, StackInfo, Subscription, TopicInfo, Trail,
};
use crate::config::TargetConfig;
use stacks::{read_function, read_imports, settled_stack};
use storage::{read_buckets, read_given_keys, read_keys, read_stored};
use trigger::{read_stack_topic, read_triggers, settle_entry};

pub use super::fact::{Fact, ReadError, one_line};
pub use stacks::find_function;

/// A bucket and the objects of the kinds the tool stores there, each with its state.
pub type Stored = (String, Vec<(String, ObjectState)>);

/// A stack as found, settled, and the template it runs (read when it is healthy).
#[derive(Debug, Clone, PartialEq)]
pub struct StackSeen {
    pub info: StackInfo,
    pub template: Fact<String>,
}

/// Everything the decisions of one target need, as read.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub identity: Fact<Identity>,
    /// The identity asked in the partition's first region, read only when the target's region
    /// refused the credentials: a region not enabled, or credentials refused everywhere.
    pub identity_elsewhere: Fact<Identity>,
    /// The trails the region sees (read when the target names one).
    pub trails: Fact<Vec<Trail>>,
    /// The notification bucket's region; `Known(None)`: no such bucket.
    pub notification_bucket: Fact<Option<String>>,
    /// The zip bucket's region; `Known(None)`: no such bucket.
    pub lambda_bucket: Fact<Option<String>>,
    /// Objects in the zip bucket, by key: the zip, large templates.
    pub objects: BTreeMap<String, Fact<ObjectState>>,
    /// The wanted SNS topic (`deploy`), or the deployed stack's (`verify`): its owner and
    /// policy; `Known(None)`: no such topic.
    pub topic: Fact<Option<TopicInfo>>,
    pub shared_stack: Fact<Option<StackSeen>>,
    pub lambda_stack: Fact<Option<StackSeen>>,
    /// The Lambda stack's function.
    pub function: Fact<Option<FunctionInfo>>,
    /// The function's resource-policy statements.
    pub statements: Fact<Vec<PolicyStatement>>,
    /// Notification entries, by bucket: the wanted bucket and the earlier deploy's.
    pub notifications: BTreeMap<String, Fact<Vec<NotificationEntry>>>,
    /// Subscriptions, by topic: the wanted topic and the earlier deploy's.
    pub subscriptions: BTreeMap<String, Fact<Vec<Subscription>>>,
    pub account_settings: Fact<AccountSettings>,
    /// The exports of the account and region.
    pub exports: Fact<Vec<Export>>,
    /// The stacks that import each export of the shared stack.
    pub imports: BTreeMap<String, Fact<Vec<String>>>,
    /// The zip bucket and the objects of the kinds the tool stores there, with their state;
    /// `Known(None)` when there is no such bucket.
    pub stored: Fact<Option<Stored>>,
    /// The function's log over the period asked for.
    pub logs: Fact<LogSummary>,
    /// The KMS key of the notification bucket's default encryption.
    pub bucket_key: Fact<Option<String>>,
    /// The policies of the KMS keys the function uses, by key.
    pub key_policies: BTreeMap<String, Fact<String>>,
    /// A test invocation's answer (`verify --test-event`); not a read, but seen like one.
    pub invocation: Fact<(String, Invocation)>,
}

impl Observed {
    /// The account the tool runs in, once the identity was read.
    pub fn account(&self) -> Option<&str> {
        self.identity.known().map(|i| i.account.as_str())
    }

    /// aws, aws-us-gov, aws-cn: from the caller's own ARN.
    pub fn partition(&self) -> String {
        self.identity
            .known()
            .and_then(|i| i.arn.split(':').nth(1).map(str::to_string))
            .filter(|p| p.starts_with("aws"))
            .unwrap_or_else(|| "aws".to_string())
    }

    /// The concurrency the Lambda stack's function reserves now (0 when there is none).
    pub fn reserved_now(&self) -> i32 {
        self.function
            .known()
            .and_then(Option::as_ref)
            .and_then(|f| f.reserved_concurrency)
            .unwrap_or(0)
    }

    /// The shared stack was read and is yet to be made: there is none, or one fit only to be
    /// deleted and made again.
    pub fn shared_stack_to_make(&self) -> bool {
        match &self.shared_stack {
            Fact::Known(None) => true,
            Fact::Known(Some(s)) => s.info.status.needs_recreate(),
            _ => false,
        }
    }

    /// The Lambda stack, when it exists and is healthy.
    pub fn healthy_lambda_stack(&self) -> Option<&StackSeen> {
        self.lambda_stack
            .known()
            .and_then(Option::as_ref)
            .filter(|s| s.info.status.healthy())
    }
}

/// What a command wants read, once the target's names are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    pub notification_bucket: Option<String>,
    /// The notification bucket must be the caller's (an S3 trigger is made by the bucket's
    /// owner). The zip bucket must always be the caller's.
    pub own_notification_bucket: bool,
    pub lambda_bucket: Option<String>,
    /// Object keys in the zip bucket.
    pub objects: Vec<String>,
    pub topic: Option<String>,
    pub shared_stack: Option<String>,
    pub lambda_stack: Option<String>,
    /// Read the notification entries of `notification_bucket`, when it is in the region.
    pub notifications: bool,
    /// Also read the trigger the Lambda stack was last deployed with (its bucket and topic).
    pub earlier_trigger: bool,
    pub account_settings: bool,
    /// With `account_settings`: the reservation the function would get; the settings are read
    /// only when that is more than the function reserves now (`None`: always).
    pub reserving: Option<i32>,
    /// The account's exports, read only when the shared stack is yet to be made (export names
    /// are unique per region: only a create can collide).
    pub exports: bool,
    /// The stacks that import the shared stack's exports.
    pub imports: bool,
    /// List the objects the tool stores in the zip bucket: the Lambda stack's, else this one.
    pub stored_objects: Option<String>,
    /// Read the function's log from this time on (ms since the epoch).
    pub logs_since: Option<i64>,
    /// Read the KMS keys the function depends on, and their policies.
    pub kms: bool,
    /// Read these keys' policies.
    pub keys: Vec<String>,
    /// Read the notification bucket's default encryption (and its key's policy).
    pub bucket_encryption: bool,
    /// Read the deployed stack's SNS topic (owner, policy) and the trails (`verify`).
    pub stack_topic: bool,
    /// The id of our bucket entry, read again for a while when the deployed stack's bucket
    /// does not show it (`verify`: a read right after a write may still be the old one).
    pub settle_entry: Option<String>,
}

/// Read what `reads` asks for (given the target with its account expanded). The identity comes
/// first: without it, nothing else is read.
pub async fn observe<C: CloudReads>(
    cloud: &C,
    target: &TargetConfig,
    reads: impl FnOnce(&TargetConfig, &Observed) -> Reads,
    watch: Watch<'_>,
) -> Observed {
    let started = std::time::Instant::now();
    let mut seen = Observed {
        identity: Fact::from_result(cloud.identity().await),
        ..Observed::default()
    };
    let Some(account) = seen.account().map(str::to_string) else {
        if let Fact::Failed(e) = &seen.identity
            && super::identity::refused(e)
            && let Some(home) = super::identity::home_region(&target.region)
        {
            seen.identity_elsewhere = Fact::from_result(cloud.identity_in(home).await);
        }
        return seen;
    };
    let target = target.for_account(&account);
    if target.trail.is_some() {
        seen.trails = Fact::from_result(cloud.trails().await);
    }
    let reads = reads(&target, &seen);
    let label = format!("{account}/{}", target.region);
    read_at_once(cloud, &reads, &target.region, (watch, &label), &mut seen).await;
    read_what_follows(cloud, &reads, &target.region, &mut seen).await;
    if let Some(id) = &reads.settle_entry {
        settle_entry(cloud, (watch, &label), id, &mut seen).await;
    }
    if reads.imports {
        read_imports(cloud, &mut seen).await;
    }
    if let Some(fallback) = &reads.stored_objects {
        read_stored(cloud, fallback, &mut seen).await;
    }
    if let (Some(since), Some(Some(f))) = (reads.logs_since, seen.function.known()) {
        seen.logs = Fact::from_result(cloud.log_summary(&f.name, since).await);
    }
    if reads.kms {
        read_keys(cloud, &mut seen).await;
    }
    tracing::info!(
        "{}/{}: observed in {} ms",
        account,
        target.region,
        started.elapsed().as_millis()
    );
    seen
}

/// What does not depend on another read, read at once: the buckets, the topic, each stack (and
/// the Lambda stack's function). A stack found mid-operation is followed (`follow`: the watch
/// and the target's label).
async fn read_at_once<C: CloudReads>(
    cloud: &C,
    reads: &Reads,
    region: &str,
    follow: (Watch<'_>, &str),
    seen: &mut Observed,
) {
    let stack = |name: &Option<String>| {
        let label = follow.1;
        let name = name.clone();
        async move {
            match name {
                Some(name) => settled_stack(cloud, follow.0, label, &name).await,
                None => Fact::NotRead,
            }
        }
    };
    let (buckets, topic, shared_stack, lambda) = futures::join!(
        async {
            let mut part = Observed {
                identity: seen.identity.clone(),
                ..Observed::default()
            };
            read_buckets(cloud, reads, region, &mut part).await;
            part
        },
        async {
            match &reads.topic {
                Some(topic) => Fact::from_result(cloud.topic(topic).await),
                None => Fact::NotRead,
            }
        },
        stack(&reads.shared_stack),
        async {
            let mut part = Observed {
                lambda_stack: stack(&reads.lambda_stack).await,
                ..Observed::default()
            };
            read_function(cloud, &mut part).await;
            part
        },
    );
    seen.notification_bucket = buckets.notification_bucket;
    seen.lambda_bucket = buckets.lambda_bucket;
    seen.objects = buckets.objects;
    seen.topic = topic;
    seen.shared_stack = shared_stack;
    seen.lambda_stack = lambda.lambda_stack;
    seen.function = lambda.function;
    seen.statements = lambda.statements;
}

/// What depends on those, read at once too: the triggers, the account's settings and exports,
/// the keys.
async fn read_what_follows<C: CloudReads>(
    cloud: &C,
    reads: &Reads,
    region: &str,
    seen: &mut Observed,
) {
    let (triggers, account_settings, exports, keys) = futures::join!(
        read_triggers(cloud, reads, region, seen),
        async {
            if reads.account_settings && reads.reserving.is_none_or(|r| r > seen.reserved_now()) {
                Fact::from_result(cloud.account_settings().await)
            } else {
                Fact::NotRead
            }
        },
        async {
            if reads.exports && seen.shared_stack_to_make() {
                Fact::from_result(cloud.exports().await)
            } else {
                Fact::NotRead
            }
        },
        read_given_keys(cloud, reads, region, seen),
    );
    (seen.notifications, seen.subscriptions) = triggers;
    read_stack_topic(cloud, reads, seen).await;
    seen.account_settings = account_settings;
    seen.exports = exports;
    (seen.bucket_key, seen.key_policies) = keys;
}
