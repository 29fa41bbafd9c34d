//! The verdict on each account × region, from what was read. Pure.
//!
//! An account × region is covered when every trail that logs it delivers to an integration
//! function: through an entry of its bucket's notifications whose prefix covers the trail's
//! keys (directly, or through a topic the entry publishes to), or through a subscription to
//! the trail's own topic. A trail that logs it and reaches no integration leaves it
//! uncovered, named, even when another trail's copy of the events does reach XDR: that
//! trail's events (its data events, its selectors) are not in XDR.

use super::{
    AccountCoverage, AccountView, BucketView, Cell, Deliveries, INTEGRATION_MARK, RegionView,
    Status, key_prefix, logging_trails,
};
use crate::plan::cloud::{NotificationEntry, NotificationKind, Trail};
use crate::plan::fact::Fact;
use crate::plan::marks;

/// The verdicts of every account, in the order read.
pub fn judge(accounts: &[AccountView], d: &Deliveries) -> Vec<AccountCoverage> {
    accounts
        .iter()
        .map(|a| AccountCoverage {
            account: a.id.clone(),
            name: a.name.clone(),
            regions: a.regions.iter().map(|r| cell(a, r, d)).collect(),
        })
        .collect()
}

/// How one trail's logs of an account × region fare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// They reach XDR: the function, and the way (`bucket B (entry E)`, `topic T`).
    Reaches { function: String, via: String },
    /// They do not: why.
    Misses(String),
    /// Cannot tell: why.
    Unsure(String),
}

fn blank(region: &str, status: Status, reason: String) -> Cell {
    Cell {
        region: region.to_string(),
        status,
        trail: None,
        bucket: None,
        prefix: None,
        function: None,
        reason,
        missing: Vec::new(),
    }
}

fn cell(a: &AccountView, r: &RegionView, d: &Deliveries) -> Cell {
    let region = r.region.as_str();
    if let Some(why) = &a.unreachable {
        return blank(region, Status::Unknown, why.clone());
    }
    let trails = match &r.trails {
        Fact::Known(t) => t,
        Fact::Failed(e) => {
            let why = format!("cannot list the trails in {region} ({e})");
            return blank(region, Status::Unknown, why);
        }
        Fact::NotRead => {
            let why = format!("the trails in {region} were not read");
            return blank(region, Status::Unknown, why);
        }
    };
    let logging = logging_trails(trails, &a.id, region);
    if logging.is_empty() {
        let why = format!(
            "no trail logs {region}: create one, or an organisation trail that logs every account"
        );
        return blank(region, Status::Uncovered, why);
    }
    let routes: Vec<(&Trail, Route)> = logging
        .into_iter()
        .map(|t| (t, route(t, a, region, d)))
        .collect();
    verdict(a, region, &routes)
}

/// One verdict from each logging trail's route: a miss first, then an unsure one, else
/// covered by the first that reaches.
fn verdict(a: &AccountView, region: &str, routes: &[(&Trail, Route)]) -> Cell {
    let prefix = |t: &Trail| key_prefix(t, a.org_id.as_deref(), &a.id, region);
    let about = |t: &Trail, status, function: Option<&String>, reason: String| Cell {
        region: region.to_string(),
        status,
        trail: Some(t.arn.clone()),
        bucket: Some(t.bucket.clone()).filter(|b| !b.is_empty()),
        prefix: Some(prefix(t)),
        function: function.cloned(),
        reason,
        missing: routes
            .iter()
            .filter(|(_, r)| matches!(r, Route::Misses(_)))
            .map(|(t, _)| t.arn.clone())
            .collect(),
    };
    let reaching: Vec<(&Trail, &String, &String)> = routes
        .iter()
        .filter_map(|(t, r)| match r {
            Route::Reaches { function, via } => Some((*t, function, via)),
            _ => None,
        })
        .collect();
    let carried = reaching
        .first()
        .map(|(t, f, _)| format!("; trail {} does reach XDR, through {f}", t.name))
        .unwrap_or_default();
    if let Some((t, Route::Misses(why))) =
        routes.iter().find(|(_, r)| matches!(r, Route::Misses(_)))
    {
        return about(t, Status::Uncovered, None, format!("{why}{carried}"));
    }
    if let Some((t, Route::Unsure(why))) =
        routes.iter().find(|(_, r)| matches!(r, Route::Unsure(_)))
    {
        return about(t, Status::Unknown, None, format!("{why}{carried}"));
    }
    let Some((t, function, via)) = reaching.first() else {
        unreachable!("every route reaches, misses or is unsure");
    };
    let mut reason = format!("trail {} → {via} → {function}", t.name);
    if let Some((other, f, _)) = reaching.get(1) {
        reason.push_str(&format!(
            "; trail {} reaches XDR too (through {f}): these events are ingested twice",
            other.name
        ));
    }
    about(t, Status::Covered, Some(function), reason)
}

/// How `t`'s logs of `a` in `region` fare.
fn route(t: &Trail, a: &AccountView, region: &str, d: &Deliveries) -> Route {
    if t.logging == Some(false) {
        return Route::Misses(format!(
            "trail {} is not logging (StartLogging): it delivers nothing",
            t.name
        ));
    }
    let keys = key_prefix(t, a.org_id.as_deref(), &a.id, region);
    let mut misses = Vec::new();
    let mut unsure = Vec::new();
    let mut take = |found: Found| match found {
        Found::Yes(function, via) => Some(Route::Reaches { function, via }),
        Found::No(why) => {
            misses.push(why);
            None
        }
        Found::Cannot(why) => {
            unsure.push(why);
            None
        }
    };
    let bucket = match d.buckets.get(&t.bucket) {
        Some(Fact::Known(b)) => through_bucket(t, b, &keys, d),
        Some(Fact::Failed(e)) => Found::Cannot(format!(
            "cannot read the notifications of bucket {}, where trail {} writes ({e})",
            t.bucket, t.name
        )),
        _ => Found::Cannot(format!("bucket {} was not read", t.bucket)),
    };
    if let Some(r) = take(bucket) {
        return r;
    }
    if let Some(topic) = &t.sns_topic
        && let Some(r) = take(through_topic(topic, d, format!("topic {topic}")))
    {
        return r;
    }
    match unsure.is_empty() {
        true => Route::Misses(misses.join("; ")),
        false => Route::Unsure(unsure.join("; ")),
    }
}

/// Whether a read reached an integration: the function and the way, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Yes(String, String),
    No(String),
    Cannot(String),
}

/// An entry that acts on the objects CloudTrail puts.
fn on_put(e: &NotificationEntry) -> bool {
    e.events
        .iter()
        .any(|ev| ev == marks::OBJECT_CREATED || ev == "s3:ObjectCreated:Put")
}

/// The entry's suffix filter lets CloudTrail's `.json.gz` log files through.
fn suffix_fits(e: &NotificationEntry) -> bool {
    "_CloudTrail_x.json.gz".ends_with(&e.suffix)
}

/// Through the trail's bucket: an entry for new objects whose prefix and suffix let the
/// trail's keys through, invoking an integration function (or publishing to a topic one is
/// subscribed to).
fn through_bucket(t: &Trail, b: &BucketView, keys: &str, d: &Deliveries) -> Found {
    let mut refusals = Vec::new();
    for e in b.entries.iter().filter(|e| on_put(e)) {
        let id = e.id.as_deref().unwrap_or("(no id)");
        let via = format!("bucket {} (entry {id})", t.bucket);
        let found = match e.kind {
            NotificationKind::Lambda => integration(d, &e.target_arn, e.id.as_deref(), via),
            NotificationKind::Topic => {
                through_topic(&e.target_arn, d, format!("{via} → topic {}", e.target_arn))
            }
            NotificationKind::Queue => continue,
        };
        if !matches!(found, Found::Yes(..)) {
            refusals.push(found);
            continue;
        }
        if !keys.starts_with(&e.prefix) {
            refusals.insert(0, Found::No(format!(
                "bucket {}'s entry {id} takes keys under {:?}, but trail {} writes them under {keys:?}: the prefixes do not match",
                t.bucket, e.prefix, t.name
            )));
            continue;
        }
        if !suffix_fits(e) {
            refusals.insert(0, Found::No(format!(
                "bucket {}'s entry {id} takes only keys ending in {:?}, and trail {}'s log files end in .json.gz",
                t.bucket, e.suffix, t.name
            )));
            continue;
        }
        return found;
    }
    refusals.into_iter().next().unwrap_or_else(|| {
        Found::No(format!(
            "trail {} writes to bucket {}, which sends no integration function its new objects",
            t.name, t.bucket
        ))
    })
}

/// Through a topic: a Lambda subscription of an integration function.
fn through_topic(topic: &str, d: &Deliveries, via: String) -> Found {
    let subs = match d.topics.get(topic) {
        Some(Fact::Known(s)) => s,
        Some(Fact::Failed(e)) => {
            return Found::Cannot(format!(
                "cannot list the subscriptions of topic {topic} ({e})"
            ));
        }
        _ => return Found::Cannot(format!("topic {topic} was not read")),
    };
    let mut refusals = Vec::new();
    for s in subs.iter().filter(|s| s.protocol == "lambda") {
        match integration(d, &s.endpoint, None, via.clone()) {
            yes @ Found::Yes(..) => return yes,
            other => refusals.push(other),
        }
    }
    refusals.into_iter().next().unwrap_or_else(|| {
        Found::No(format!(
            "topic {topic} has no integration function subscribed"
        ))
    })
}

/// Whether the function at `arn` is an integration: the vendor template's mark in its
/// environment, or our entry's Id on the way to it.
fn integration(d: &Deliveries, arn: &str, entry: Option<&str>, via: String) -> Found {
    let ours = entry.is_some_and(|id| id.starts_with(marks::NOTIFICATION_ID_PREFIX));
    match d.functions.get(arn) {
        Some(Fact::Known(Some(f))) if ours || f.environment.contains_key(INTEGRATION_MARK) => {
            Found::Yes(arn.to_string(), via)
        }
        Some(Fact::Known(Some(_))) => Found::No(format!(
            "{via} invokes {arn}, which is not a Taegis XDR integration function (no {INTEGRATION_MARK} in its environment)"
        )),
        Some(Fact::Known(None)) => Found::No(format!("{via} invokes {arn}, which does not exist")),
        Some(Fact::Failed(e)) => Found::Cannot(format!("cannot read function {arn} ({e})")),
        None | Some(Fact::NotRead) => Found::Cannot(format!("function {arn} was not read")),
    }
}
