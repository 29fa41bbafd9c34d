//! What `coverage` reads, and nothing else: each account reached (its role assumed), its
//! regions and each region's trails; then, once for the whole report, every bucket a trail
//! writes to (read by the account that owns it), every topic and every function on the way.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use futures::StreamExt;

use super::{AccountReads, AccountView, BucketView, Deliveries, OrgAccount, RegionView};
use crate::plan::cloud::{NotificationKind, Trail, Unsent};
use crate::plan::fact::{Fact, ReadError};

/// How to reach the accounts: a client for an account in a region, the role assumed for it
/// (`None`: the caller's own account), and how many reads run at once.
pub struct Reach<'a, C> {
    pub connect: &'a dyn Fn(&str, &str) -> futures::future::BoxFuture<'a, Result<C>>,
    pub role_of: &'a dyn Fn(&str) -> Option<String>,
    /// The region of the first call in each account.
    pub home: String,
    pub concurrency: usize,
}

/// An account as read, and the buckets it owns.
pub struct Read {
    pub view: AccountView,
    pub buckets: Vec<String>,
}

/// Every account of `list`, read `reach.concurrency` at a time, in the list's order. The
/// regions are `regions` when given, else each account's enabled ones.
pub async fn accounts<C: AccountReads>(
    list: &[OrgAccount],
    regions: Option<&[String]>,
    reach: &Reach<'_, C>,
) -> Vec<Read> {
    let mut read: Vec<(usize, Read)> = futures::stream::iter(list.iter().enumerate())
        .map(|(i, a)| async move { (i, account(a, regions, reach).await) })
        .buffer_unordered(reach.concurrency.max(1))
        .collect()
        .await;
    read.sort_by_key(|(i, _)| *i);
    let mut read: Vec<Read> = read.into_iter().map(|(_, r)| r).collect();
    fill_unreached(&mut read);
    read
}

/// An account that could not be reached has no regions of its own to list: it is unknown in
/// every region the others have.
fn fill_unreached(read: &mut [Read]) {
    let mut known: Vec<String> = Vec::new();
    for r in read.iter().flat_map(|r| &r.view.regions) {
        if !known.contains(&r.region) {
            known.push(r.region.clone());
        }
    }
    for r in read.iter_mut().filter(|r| r.view.regions.is_empty()) {
        r.view.regions = unread(known.iter().cloned());
    }
}

/// Regions not read yet.
fn unread(regions: impl IntoIterator<Item = String>) -> Vec<RegionView> {
    regions
        .into_iter()
        .map(|region| RegionView {
            region,
            trails: Fact::NotRead,
        })
        .collect()
}

/// One account: reached, its regions listed, each region's trails, its buckets.
async fn account<C: AccountReads>(
    a: &OrgAccount,
    regions: Option<&[String]>,
    reach: &Reach<'_, C>,
) -> Read {
    let mut view = AccountView {
        id: a.id.clone(),
        name: a.name.clone(),
        unreachable: None,
        org_id: None,
        regions: unread(regions.unwrap_or_default().iter().cloned()),
    };
    let reached = match reached(a, reach).await {
        Ok(c) => regions_of(c, regions.is_some()).await,
        Err(why) => Err(why),
    };
    let cloud = match reached {
        Ok((cloud, listed)) => {
            if let Some(listed) = listed {
                view.regions = unread(listed);
            }
            cloud
        }
        Err(why) => {
            view.unreachable = Some(why);
            return Read {
                view,
                buckets: Vec::new(),
            };
        }
    };
    trails(&mut view, reach).await;
    let organisation_trail = view
        .regions
        .iter()
        .filter_map(|r| r.trails.known())
        .flatten()
        .any(|t| t.organization);
    if organisation_trail && let Ok(Some(org)) = cloud.organization().await {
        view.org_id = Some(org.id);
    }
    // A refused ListBuckets leaves this account's buckets unowned: each says so when read.
    let buckets = cloud.bucket_names().await.unwrap_or_default();
    Read { view, buckets }
}

/// The account's enabled regions, unless they were given.
async fn regions_of<C: AccountReads>(
    cloud: C,
    given: bool,
) -> Result<(C, Option<Vec<String>>), String> {
    if given {
        return Ok((cloud, None));
    }
    match cloud.enabled_regions().await {
        Ok(list) => Ok((cloud, Some(list))),
        Err(e) => Err(format!(
            "cannot list the account's regions ({}); give --regions",
            ReadError::of(&e)
        )),
    }
}

/// Each region's trails, read in that region.
async fn trails<C: AccountReads>(view: &mut AccountView, reach: &Reach<'_, C>) {
    let id = view.id.as_str();
    let places: Vec<String> = view.regions.iter().map(|r| r.region.clone()).collect();
    let trails: Vec<Fact<Vec<Trail>>> = futures::stream::iter(places)
        .map(|region| async move {
            let read = async { (reach.connect)(id, &region).await?.trails().await };
            Fact::from_result(read.await)
        })
        .buffered(reach.concurrency.max(1))
        .collect()
        .await;
    for (r, t) in view.regions.iter_mut().zip(trails) {
        r.trails = t;
    }
}

/// A client in the account's home region whose identity answers: the account is reached.
/// Else why not, in one line naming the role.
async fn reached<C: AccountReads>(a: &OrgAccount, reach: &Reach<'_, C>) -> Result<C, String> {
    let attempt = async {
        let cloud = (reach.connect)(&a.id, &reach.home).await?;
        cloud.identity().await?;
        Ok::<C, anyhow::Error>(cloud)
    };
    attempt.await.map_err(|e| {
        let e = ReadError::of(&e);
        match ((reach.role_of)(&a.id), &e.unsent) {
            (Some(role), Some(Unsent::Credentials(why))) => {
                format!("role {role} cannot be assumed ({why})")
            }
            (Some(role), _) => format!("cannot read the account through role {role} ({e})"),
            (None, _) => format!("cannot read the account ({e})"),
        }
    })
}

/// The region and account an ARN names (`arn:aws:sns:REGION:ACCOUNT:...`).
fn place_of(arn: &str) -> (String, String) {
    let mut parts = arn.split(':').skip(3);
    let region = parts.next().unwrap_or_default().to_string();
    let account = parts.next().unwrap_or_default().to_string();
    (account, region)
}

/// Every bucket the logging trails write to, every topic on the way and every function
/// invoked, each read once by the account that owns it.
pub async fn deliveries<C: AccountReads>(read: &[Read], reach: &Reach<'_, C>) -> Deliveries {
    let trails: Vec<&Trail> = read
        .iter()
        .flat_map(|r| &r.view.regions)
        .filter_map(|r| r.trails.known())
        .flatten()
        .collect();
    let buckets = buckets(read, &trails, reach).await;
    let mut topics: BTreeSet<String> = trails.iter().filter_map(|t| t.sns_topic.clone()).collect();
    let mut functions = BTreeSet::new();
    for e in buckets
        .values()
        .filter_map(|b| b.known())
        .flat_map(|b| &b.entries)
    {
        match e.kind {
            NotificationKind::Topic => topics.insert(e.target_arn.clone()),
            NotificationKind::Lambda => functions.insert(e.target_arn.clone()),
            NotificationKind::Queue => false,
        };
    }
    let topics = each(topics, reach, async |cloud: C, t: &str| {
        cloud.subscriptions(t).await
    })
    .await;
    functions.extend(
        topics
            .values()
            .filter_map(|s| s.known())
            .flatten()
            .filter(|s| s.protocol == "lambda")
            .map(|s| s.endpoint.clone()),
    );
    let functions = each(functions, reach, async |cloud: C, f: &str| {
        cloud.function(f).await
    })
    .await;
    Deliveries {
        buckets,
        topics,
        functions,
    }
}

/// The trails' buckets, each read by the account whose bucket list holds it.
async fn buckets<C: AccountReads>(
    read: &[Read],
    trails: &[&Trail],
    reach: &Reach<'_, C>,
) -> BTreeMap<String, Fact<BucketView>> {
    let owners: BTreeMap<&str, &str> = read
        .iter()
        .flat_map(|r| r.buckets.iter().map(|b| (b.as_str(), r.view.id.as_str())))
        .collect();
    let owners = &owners;
    let names: BTreeSet<&str> = trails
        .iter()
        .map(|t| t.bucket.as_str())
        .filter(|b| !b.is_empty())
        .collect();
    futures::stream::iter(names)
        .map(|b| async move {
            (
                b.to_string(),
                bucket(b, owners.get(b).copied(), reach).await,
            )
        })
        .buffer_unordered(reach.concurrency.max(1))
        .collect()
        .await
}

/// `read` of each ARN, by the account and in the region the ARN names.
async fn each<C: AccountReads, T>(
    arns: BTreeSet<String>,
    reach: &Reach<'_, C>,
    read: impl AsyncFn(C, &str) -> Result<T>,
) -> BTreeMap<String, Fact<T>> {
    let read = &read;
    futures::stream::iter(arns)
        .map(|arn| async move {
            let (account, region) = place_of(&arn);
            let got = async { read((reach.connect)(&account, &region).await?, &arn).await };
            let got = Fact::from_result(got.await);
            (arn, got)
        })
        .buffer_unordered(reach.concurrency.max(1))
        .collect()
        .await
}

/// A bucket's notifications, read by its owner in its region.
async fn bucket<C: AccountReads>(
    name: &str,
    owner: Option<&str>,
    reach: &Reach<'_, C>,
) -> Fact<BucketView> {
    let Some(owner) = owner else {
        return Fact::Failed(ReadError::said(
            "it belongs to none of the accounts whose buckets were listed: add its account to --accounts, or run coverage where its owner is reached",
        ));
    };
    let read = async {
        let home = (reach.connect)(owner, &reach.home).await?;
        let region = home
            .bucket_region(name, Some(owner))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no such bucket"))?;
        let cloud = (reach.connect)(owner, &region).await?;
        let entries = cloud.notifications(name).await?;
        Ok(BucketView {
            owner: owner.to_string(),
            region,
            entries,
        })
    };
    Fact::from_result(read.await)
}
