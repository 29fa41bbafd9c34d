//! The buckets and keys: the buckets' regions, the zip bucket's objects (probed, each answer
//! also saying where its bucket is), the objects the tool stores, and the KMS keys with
//! their policies.

use std::collections::{BTreeMap, BTreeSet};

use super::{Fact, Observed, ReadError, Reads};
use crate::plan::cloud::{CloudReads, ErrorKind, ObjectState, Probed};
use crate::template::names;

/// The buckets' regions, and the objects of the zip bucket when it is in the region.
pub(super) async fn read_buckets<C: CloudReads>(
    cloud: &C,
    reads: &Reads,
    region: &str,
    seen: &mut Observed,
) {
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

/// The objects of the kinds the tool stores, in the Lambda stack's zip bucket (else
/// `fallback`), each with its state.
pub(super) async fn read_stored<C: CloudReads>(cloud: &C, fallback: &str, seen: &mut Observed) {
    let bucket = seen
        .lambda_stack
        .known()
        .and_then(Option::as_ref)
        .and_then(|s| s.info.parameters.get(names::LAMBDA_BUCKET).cloned())
        .unwrap_or_else(|| fallback.to_string());
    let listed = async {
        let mut found = Vec::new();
        for prefix in crate::plan::marks::STORED_PREFIXES {
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

/// The keys a deploy names, and the notification bucket's default key: the bucket's key, and
/// the keys' policies.
pub(super) async fn read_given_keys<C: CloudReads>(
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
pub(super) async fn read_keys<C: CloudReads>(cloud: &C, seen: &mut Observed) {
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
