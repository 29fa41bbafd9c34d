//! S3: the bucket's region, the template object (its SHA-256 in user metadata, probed with a
//! one-byte GET), listing and deleting objects, creating the bucket, and the bucket's event
//! notifications (read, and rewritten with every entry but ours kept as it was).

use anyhow::{Context, Result, anyhow};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types as s3t;

use super::AwsCloud;
use super::errors::{self, classify, found};
use crate::plan::cloud::{
    ErrorKind, NotificationEntry, NotificationKind, ObjectState, OurNotification, Probed,
    RefusedDestination, RefusedDestinations,
};

/// The S3 user-metadata key holding the SHA-256 of an object the tool stored.
const HASH_METADATA: &str = "taegis-sha256";

pub(super) async fn bucket_region(
    aws: &AwsCloud,
    bucket: &str,
    expected_owner: Option<&str>,
) -> Result<Option<String>> {
    let req = aws
        .s3
        .get_bucket_location()
        .bucket(bucket)
        .set_expected_bucket_owner(expected_owner.map(str::to_string));
    let out = found(req.send().await)?;
    Ok(out.map(|o| region_of(o.location_constraint())))
}

pub(super) async fn object(aws: &AwsCloud, bucket: &str, key: &str) -> Result<ObjectState> {
    let out = found(aws.s3.head_object().bucket(bucket).key(key).send().await)?;
    Ok(match out {
        None => ObjectState::Absent,
        Some(o) => ObjectState::Present {
            sha256: o.metadata().and_then(|m| m.get(HASH_METADATA)).cloned(),
        },
    })
}

/// A GET of the object's first byte: its answer also says whether the bucket is there
/// (`NoSuchBucket` and `NoSuchKey` come with a body, unlike HeadObject's 404), and S3
/// answers a bucket of another region with a redirect, so an answer means "here".
pub(super) async fn probe_object(
    aws: &AwsCloud,
    bucket: &str,
    key: &str,
    expected_owner: Option<&str>,
) -> Result<Probed> {
    let sent = aws
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .range("bytes=0-0")
        .set_expected_bucket_owner(expected_owner.map(str::to_string))
        .send()
        .await;
    Ok(match sent {
        Ok(o) => Probed::Here(ObjectState::Present {
            sha256: o.metadata().and_then(|m| m.get(HASH_METADATA)).cloned(),
        }),
        Err(e) => {
            let e = classify(e);
            let code = e.code.as_deref().unwrap_or_default();
            if errors::is_no_such_key(code) {
                Probed::Here(ObjectState::Absent)
            } else if errors::is_no_such_bucket(code) {
                Probed::NoBucket
            } else if e.kind == ErrorKind::Denied {
                Probed::Refused
            } else {
                Probed::Unsure
            }
        }
    })
}

pub(super) async fn notifications(aws: &AwsCloud, bucket: &str) -> Result<Vec<NotificationEntry>> {
    let out = aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .map_err(classify)?;
    let entry = |kind, id: Option<&str>, arn: &str, ev: &[s3t::Event], filter| NotificationEntry {
        kind,
        id: id.map(str::to_string),
        target_arn: arn.to_string(),
        events: events(ev),
        prefix: filter_value(filter, "prefix"),
        suffix: filter_value(filter, "suffix"),
    };
    let mut v = Vec::new();
    for q in out.queue_configurations() {
        v.push(entry(
            NotificationKind::Queue,
            q.id(),
            q.queue_arn(),
            q.events(),
            q.filter(),
        ));
    }
    for t in out.topic_configurations() {
        v.push(entry(
            NotificationKind::Topic,
            t.id(),
            t.topic_arn(),
            t.events(),
            t.filter(),
        ));
    }
    for l in out.lambda_function_configurations() {
        v.push(entry(
            NotificationKind::Lambda,
            l.id(),
            l.lambda_function_arn(),
            l.events(),
            l.filter(),
        ));
    }
    Ok(v)
}

pub(super) async fn list_objects(
    aws: &AwsCloud,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(classify)?;
        out.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        match page.next_continuation_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// AWS makes every new bucket private (Block Public Access on, ACLs off) and encrypted
/// (SSE-S3) by itself, since 2023, in every partition: nothing more to ask for, and so no
/// permission to change either setting.
pub(super) async fn create_bucket(aws: &AwsCloud, bucket: &str, region: &str) -> Result<()> {
    let mut req = aws.s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = classify(e);
            // Our own bucket from an interrupted run is fine.
            if errors::is_own_bucket(e.code.as_deref().unwrap_or_default()) {
                Ok(())
            } else {
                Err(e.into())
            }
        }
    }
}

pub(super) async fn put_object(
    aws: &AwsCloud,
    bucket: &str,
    key: &str,
    body: bytes::Bytes,
    sha256: &str,
) -> Result<()> {
    aws.s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .metadata(HASH_METADATA, sha256)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

pub(super) async fn put_notification(
    aws: &AwsCloud,
    bucket: &str,
    ours: &OurNotification,
) -> Result<()> {
    let mut entry = s3t::LambdaFunctionConfiguration::builder()
        .id(&ours.id)
        .lambda_function_arn(&ours.function_arn)
        .set_events(Some(
            ours.events
                .iter()
                .map(|e| s3t::Event::from(e.as_str()))
                .collect(),
        ));
    if !ours.prefix.is_empty() {
        entry = entry.filter(
            s3t::NotificationConfigurationFilter::builder()
                .key(
                    s3t::S3KeyFilter::builder()
                        .filter_rules(
                            s3t::FilterRule::builder()
                                .name(s3t::FilterRuleName::Prefix)
                                .value(&ours.prefix)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        );
    }
    let mut drop = vec![ours.id.as_str()];
    drop.extend(ours.replaces.iter().map(String::as_str));
    rewrite_notifications(aws, bucket, &drop, Some(entry.build()?)).await
}

pub(super) async fn remove_notifications(
    aws: &AwsCloud,
    bucket: &str,
    ids: &[String],
) -> Result<()> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    rewrite_notifications(aws, bucket, &ids, None).await
}

pub(super) async fn delete_objects(aws: &AwsCloud, bucket: &str, keys: &[String]) -> Result<()> {
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| s3t::ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()?;
        let out = aws
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(s3t::Delete::builder().set_objects(Some(objects)).build()?)
            .send()
            .await
            .map_err(classify)?;
        if let Some(e) = out.errors().first() {
            return Err(anyhow!(
                "failed to delete {}: {} {}",
                e.key().unwrap_or_default(),
                e.code().unwrap_or_default(),
                e.message().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Read the bucket's notification configuration, drop the Lambda entries `drop` (by Id),
/// add `ours` when given, and write it back: every other entry (queue, topic, other
/// Lambdas, EventBridge) exactly as it was.
async fn rewrite_notifications(
    aws: &AwsCloud,
    bucket: &str,
    drop: &[&str],
    ours: Option<s3t::LambdaFunctionConfiguration>,
) -> Result<()> {
    let current = aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .map_err(classify)
        .context("failed to read the current configuration")?;
    let mut lambdas: Vec<s3t::LambdaFunctionConfiguration> = current
        .lambda_function_configurations()
        .iter()
        .filter(|l| !l.id().is_some_and(|i| drop.contains(&i)))
        .cloned()
        .collect();
    let our_arn = ours.as_ref().map(|o| o.lambda_function_arn().to_string());
    lambdas.extend(ours);
    let config = s3t::NotificationConfiguration::builder()
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .set_queue_configurations(Some(current.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(lambdas))
        .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
        .build();
    let entries = entry_ids(&config);
    match aws
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(refused_destinations(
            classify(e),
            &entries,
            our_arn.as_deref(),
        )),
    }
}

/// S3 refused the configuration: when it names the destinations it could not reach, which
/// entries they are, and whether ours is one.
fn refused_destinations(
    e: crate::plan::cloud::CallError,
    entries: &[(Option<String>, String)],
    our_arn: Option<&str>,
) -> anyhow::Error {
    if e.arguments.is_empty() {
        return e.into();
    }
    // S3 names a function as "ARN, null".
    let refused = e
        .arguments
        .iter()
        .map(|(name, reason)| (name.split(", ").next().unwrap_or(name), reason))
        .map(|(arn, reason)| RefusedDestination {
            arn: arn.to_string(),
            reason: reason.clone(),
            entry: entries
                .iter()
                .find(|(_, a)| a == arn)
                .and_then(|(id, _)| id.clone()),
            ours: our_arn == Some(arn),
        })
        .collect();
    anyhow::Error::new(RefusedDestinations(refused))
}

/// Each entry of a configuration: (its Id, its destination ARN).
fn entry_ids(config: &s3t::NotificationConfiguration) -> Vec<(Option<String>, String)> {
    let q = config
        .queue_configurations()
        .iter()
        .map(|c| (c.id().map(str::to_string), c.queue_arn().to_string()));
    let t = config
        .topic_configurations()
        .iter()
        .map(|c| (c.id().map(str::to_string), c.topic_arn().to_string()));
    let l = config.lambda_function_configurations().iter().map(|c| {
        (
            c.id().map(str::to_string),
            c.lambda_function_arn().to_string(),
        )
    });
    q.chain(t).chain(l).collect()
}

pub(super) fn region_of(constraint: Option<&s3t::BucketLocationConstraint>) -> String {
    match constraint.map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    }
}

fn filter_value(filter: Option<&s3t::NotificationConfigurationFilter>, name: &str) -> String {
    filter
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default()
        .iter()
        .find(|r| {
            r.name()
                .is_some_and(|n| n.as_str().eq_ignore_ascii_case(name))
        })
        .and_then(|r| r.value())
        .unwrap_or_default()
        .to_string()
}

fn events(e: &[s3t::Event]) -> Vec<String> {
    e.iter().map(|e| e.as_str().to_string()).collect()
}
