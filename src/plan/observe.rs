//! Observe: the only part of planning that reads the cloud. Per target, everything the decisions
//! need goes into one [`Observed`] value; a read that does not apply (no stack yet, an input
//! that already has a problem) is simply absent, and a read that failed keeps its error for the
//! decision to report. A stack found mid-operation is followed here until it settles.

use crate::template::names;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::cloud::{
    AccountSettings, Cloud, ErrorKind, Export, FunctionInfo, Identity, Invocation, LogSummary,
    NotificationEntry, ObjectState, PolicyStatement, Probed, StackInfo, Subscription, TopicInfo,
    Trail,
};
use super::follow::{Follow, Settled, explain};
use super::status::Goal;
use super::{Event, Watch};
use crate::config::TargetConfig;

pub use super::fact::{Fact, ReadError, one_line};

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
pub async fn observe<C: Cloud>(
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
async fn read_at_once<C: Cloud>(
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
async fn read_what_follows<C: Cloud>(cloud: &C, reads: &Reads, region: &str, seen: &mut Observed) {
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

/// The deployed stack's SNS topic, when the command did not name one (`verify`): its owner and
/// policy, and the trails that may publish to it.
async fn read_stack_topic<C: Cloud>(cloud: &C, reads: &Reads, seen: &mut Observed) {
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
async fn settle_entry<C: Cloud>(
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
    let found = super::settle::until_visible(
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

/// The keys a deploy names, and the notification bucket's default key: the bucket's key, and
/// the keys' policies.
async fn read_given_keys<C: Cloud>(
    cloud: &C,
    reads: &Reads,
    region: &str,
    seen: &Observed,
) -> (Fact<Option<String>>, BTreeMap<String, Fact<String>>) {
    let mut keys: BTreeSet<String> = reads.keys.iter().cloned().collect();
    let mut bucket_key = Fact::NotRead;
    if reads.bucket_encryption
        && let Some(b) = &reads.notification_bucket
        && seen.notification_bucket.known() == Some(&Some(region.to_string()))
    {
        bucket_key = Fact::from_result(cloud.bucket_kms_key(b).await);
        keys.extend(bucket_key.known().cloned().flatten());
    }
    let mut policies = BTreeMap::new();
    for key in keys {
        let policy = Fact::from_result(cloud.key_policy(&key).await);
        policies.insert(key, policy);
    }
    (bucket_key, policies)
}

/// The keys the function depends on: the stack's, the function's, the bucket's default.
async fn read_keys<C: Cloud>(cloud: &C, seen: &mut Observed) {
    let Some(stack) = seen.healthy_lambda_stack() else {
        return;
    };
    let param = |k: &str| {
        stack
            .info
            .parameters
            .get(k)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let mut keys: BTreeSet<String> = [names::BUCKET_KMS_KEY, names::LAMBDA_ENV_KMS_KEY]
        .iter()
        .filter_map(|k| param(k))
        .collect();
    if let Some(bucket) = param(names::NOTIFICATION_BUCKET) {
        seen.bucket_key = Fact::from_result(cloud.bucket_kms_key(&bucket).await);
        keys.extend(seen.bucket_key.known().cloned().flatten());
    }
    if let Some(Some(f)) = seen.function.known() {
        keys.extend(f.kms_key_arn.clone());
    }
    for key in keys {
        let policy = Fact::from_result(cloud.key_policy(&key).await);
        seen.key_policies.insert(key, policy);
    }
}

/// Who imports each export of the shared stack.
async fn read_imports<C: Cloud>(cloud: &C, seen: &mut Observed) {
    let Some(Some(shared)) = seen.shared_stack.known() else {
        return;
    };
    for export in shared.info.export_names.clone() {
        let importers = Fact::from_result(cloud.imports(&export).await);
        seen.imports.insert(export, importers);
    }
}

/// The objects of the kinds the tool stores, in the Lambda stack's zip bucket (else
/// `fallback`), each with its state.
async fn read_stored<C: Cloud>(cloud: &C, fallback: &str, seen: &mut Observed) {
    let bucket = seen
        .lambda_stack
        .known()
        .and_then(Option::as_ref)
        .and_then(|s| s.info.parameters.get(names::LAMBDA_BUCKET).cloned())
        .unwrap_or_else(|| fallback.to_string());
    let listed = async {
        let mut found = Vec::new();
        for prefix in super::marks::STORED_PREFIXES {
            for key in cloud.list_objects(&bucket, prefix).await? {
                let state = cloud.object(&bucket, &key).await?;
                found.push((key, state));
            }
        }
        anyhow::Ok(found)
    };
    seen.stored = match listed.await {
        Ok(found) => Fact::Known(Some((bucket, found))),
        Err(e) if ReadError::of(&e).kind == ErrorKind::NotFound => Fact::Known(None),
        Err(e) => Fact::Failed(ReadError::of(&e)),
    };
}

/// The buckets' regions, and the objects of the zip bucket when it is in the region.
async fn read_buckets<C: Cloud>(cloud: &C, reads: &Reads, region: &str, seen: &mut Observed) {
    let account = seen.account().map(str::to_string);
    if let Some(b) = &reads.notification_bucket {
        let owner = account.as_deref().filter(|_| reads.own_notification_bucket);
        seen.notification_bucket = Fact::from_result(cloud.bucket_region(b, owner).await);
    }
    let Some(b) = &reads.lambda_bucket else {
        return;
    };
    let owner = account.as_deref();
    // The first object answers for its bucket too; only when it cannot, the bucket is asked.
    let mut probes = Vec::new();
    if let Some(first) = reads.objects.first() {
        let probed = cloud.probe_object(b, first, owner).await;
        probes.push(probed.unwrap_or(Probed::Unsure));
    }
    seen.lambda_bucket = match probes.first() {
        Some(Probed::NoBucket) => {
            seen.lambda_bucket = Fact::Known(None);
            return;
        }
        Some(Probed::Here(_)) => Fact::Known(Some(region.to_string())),
        _ => Fact::from_result(cloud.bucket_region(b, owner).await),
    };
    if seen.lambda_bucket.known() != Some(&Some(region.to_string())) {
        return;
    }
    // The bucket is ours and here: a refused key is a missing one (S3 says "no such key" only
    // to a caller that may list the bucket, and the deploy policy does not).
    for (i, key) in reads.objects.iter().enumerate() {
        let probed = match probes.get(i) {
            Some(p) => p.clone(),
            None => (cloud.probe_object(b, key, owner).await).unwrap_or(Probed::Unsure),
        };
        let state = match probed {
            Probed::Here(state) => Fact::Known(state),
            Probed::Refused | Probed::NoBucket => Fact::Known(ObjectState::Absent),
            Probed::Unsure => Fact::from_result(cloud.object(b, key).await),
        };
        seen.objects.insert(key.clone(), state);
    }
}

/// The Lambda stack's function and its policy.
async fn read_function<C: Cloud>(cloud: &C, seen: &mut Observed) {
    let Some(stack) = seen.healthy_lambda_stack() else {
        return;
    };
    seen.function = Fact::from_result(find_function(cloud, &stack.info).await);
    if let Some(Some(f)) = seen.function.known() {
        seen.statements = Fact::from_result(cloud.policy_statements(&f.name).await);
    }
}

/// The notification entries and subscriptions of the wanted trigger and the earlier one.
async fn read_triggers<C: Cloud>(
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

/// Read a stack; one found mid-operation (another run, or an interrupted one) is followed until
/// it settles, then read again. A healthy one's template is read too. Following only reads.
async fn settled_stack<C: Cloud>(
    cloud: &C,
    watch: Watch<'_>,
    label: &str,
    name: &str,
) -> Fact<Option<StackSeen>> {
    let read = |e: anyhow::Error| {
        Fact::Failed(ReadError::of(
            &e.context(format!("cannot read stack {name}")),
        ))
    };
    let info = match cloud.stack(name).await {
        Err(e) => return read(e),
        Ok(Some(s)) if s.status.in_progress() => match follow(cloud, watch, label, &s).await {
            Ok(info) => info,
            Err(e) => return read(e),
        },
        Ok(other) => other,
    };
    let Some(info) = info else {
        return Fact::Known(None);
    };
    let template = if info.status.healthy() {
        Fact::from_result(cloud.template_body(name).await)
    } else {
        Fact::NotRead
    };
    Fact::Known(Some(StackSeen { info, template }))
}

/// Follow a stack found mid-operation until it settles, and read it again.
async fn follow<C: Cloud>(
    cloud: &C,
    watch: Watch<'_>,
    label: &str,
    s: &StackInfo,
) -> Result<Option<StackInfo>> {
    watch.reporter.event(Event::Notice {
        target: label.to_string(),
        text: format!(
            "stack {} is {} (another run, or an interrupted one): following it until it settles",
            s.name, s.status
        ),
    });
    let until = cloud
        .stack_events(&s.id, None)
        .await
        .ok()
        .and_then(|e| e.into_iter().next().map(|e| e.id));
    let follow = Follow {
        cloud,
        watch,
        target: label,
        outputs: true,
    };
    match follow
        .run(&s.name, &s.id, until.as_deref(), Goal::Settled)
        .await?
    {
        Settled::Done {
            stack: Some(info), ..
        } => Ok(Some(*info)),
        Settled::Done { .. } | Settled::Failed { .. } => cloud.stack(&s.name).await,
        other => Err(explain(&s.name, &other)),
    }
}

/// The function of a Lambda stack: from its outputs, else from its resources.
pub async fn find_function<C: Cloud>(cloud: &C, stack: &StackInfo) -> Result<Option<FunctionInfo>> {
    let name = match stack
        .outputs
        .get("FunctionName")
        .or_else(|| stack.outputs.get("FunctionArn"))
    {
        Some(n) => Some(n.clone()),
        None => cloud.stack_function(&stack.name).await?,
    };
    match name {
        Some(n) => cloud.function(&n).await,
        None => Ok(None),
    }
}
