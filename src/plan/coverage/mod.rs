//! `coverage`: whether each account's CloudTrail logs reach XDR, region by region, and through
//! which trail and function. `observe` reads (the organisation, each account's regions and
//! trails, the buckets, topics and functions the trails deliver to); `judge` is pure: one
//! verdict per account and region from what was read; `suggest` is the rollout that would
//! cover what is not.

pub mod judge;
pub mod observe;
pub mod suggest;

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::cloud::{CloudReads, FunctionInfo, NotificationEntry, Subscription, Trail};
use super::fact::Fact;

/// The reads `coverage` needs beyond a target's: the organisation and an account's regions
/// and buckets.
#[allow(async_fn_in_trait)]
pub trait AccountReads: CloudReads {
    /// The organisation the caller's account belongs to (`None`: it belongs to none).
    async fn organization(&self) -> Result<Option<Organization>>;
    /// The organisation's accounts, as its management account (or a delegated
    /// administrator) lists them.
    async fn org_accounts(&self) -> Result<Vec<OrgAccount>>;
    /// The regions the account has enabled (by default or opted in).
    async fn enabled_regions(&self) -> Result<Vec<String>>;
    /// The names of the account's buckets.
    async fn bucket_names(&self) -> Result<Vec<String>>;
}

/// The organisation an account belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
}

/// An account of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// ACTIVE (not suspended, nor closing).
    pub active: bool,
}

/// What one account × region is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Covered,
    Uncovered,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Covered => "covered",
            Status::Uncovered => "uncovered",
            Status::Unknown => "unknown",
        }
    }
}

/// The verdict on one account × region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub region: String,
    pub status: Status,
    /// The trail the verdict is about: the one that carries the logs to XDR, or the one that
    /// does not.
    pub trail: Option<String>,
    pub bucket: Option<String>,
    /// Where that trail writes this account's and region's log objects.
    pub prefix: Option<String>,
    /// The integration function the logs reach.
    pub function: Option<String>,
    pub reason: String,
    /// Every trail logging it that reaches no integration (ARNs): what a deployment could
    /// cover.
    #[serde(skip)]
    pub missing: Vec<String>,
}

/// One account's verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountCoverage {
    pub account: String,
    pub name: String,
    pub regions: Vec<Cell>,
}

/// How many account × regions are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub covered: usize,
    pub uncovered: usize,
    pub unknown: usize,
}

impl Summary {
    pub fn of(accounts: &[AccountCoverage]) -> Summary {
        let mut s = Summary::default();
        for cell in accounts.iter().flat_map(|a| &a.regions) {
            match cell.status {
                Status::Covered => s.covered += 1,
                Status::Uncovered => s.uncovered += 1,
                Status::Unknown => s.unknown += 1,
            }
        }
        s
    }

    pub fn all_covered(&self) -> bool {
        self.uncovered == 0 && self.unknown == 0
    }
}

/// One account as read: how it was reached, and each region's trails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    /// Why the account could not be read at all (its role refused, no regions), if so.
    pub unreachable: Option<String>,
    /// The organisation's id, read when one of its trails is an organisation trail: the
    /// trail writes under `AWSLogs/{org-id}/{account}/`.
    pub org_id: Option<String>,
    pub regions: Vec<RegionView>,
}

/// The trails a region of an account sees (its own, and shadows of multi-region and
/// organisation trails).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionView {
    pub region: String,
    pub trails: Fact<Vec<Trail>>,
}

/// A bucket a trail writes to, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketView {
    pub owner: String,
    pub region: String,
    pub entries: Vec<NotificationEntry>,
}

/// Where the trails deliver: the buckets' notification entries, the topics' subscriptions,
/// and the functions these invoke, each read once for the whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    pub buckets: BTreeMap<String, Fact<BucketView>>,
    pub topics: BTreeMap<String, Fact<Vec<Subscription>>>,
    /// By ARN; `None`: no such function.
    pub functions: BTreeMap<String, Fact<Option<FunctionInfo>>>,
}

/// The environment variable the vendor's Lambda template sets on the integration function
/// (the shared stack's secret): what tells an integration function from any other.
pub const INTEGRATION_MARK: &str = "TAEGIS_SECRET_ARN";

/// The trails that log `account` in `region`: those whose home is the region or that log
/// every region, and that are the account's own or its organisation's.
pub fn logging_trails<'a>(trails: &'a [Trail], account: &str, region: &str) -> Vec<&'a Trail> {
    trails
        .iter()
        .filter(|t| t.home_region == region || t.multi_region)
        .filter(|t| t.organization || t.account() == account)
        .collect()
}

/// Where `trail` writes the log objects of `account` in `region`:
/// `{prefix}/AWSLogs/[{org-id}/]{account}/CloudTrail/{region}/`.
pub fn key_prefix(trail: &Trail, org_id: Option<&str>, account: &str, region: &str) -> String {
    let org = match (trail.organization, org_id) {
        (true, Some(id)) => format!("{id}/"),
        _ => String::new(),
    };
    format!(
        "{}{org}{account}/CloudTrail/{region}/",
        super::trail::log_prefix(trail)
    )
}

/// The short form of a region for a table's column: `us-east-1` is `use1`, `ap-southeast-2`
/// `apse2`, `us-gov-west-1` `usgw1`.
pub fn short_region(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((first, rest)) = parts.split_first() else {
        return region.to_string();
    };
    let mut out = first.to_string();
    for p in rest {
        out.push_str(match *p {
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            "central" => "c",
            "northeast" => "ne",
            "southeast" => "se",
            "northwest" => "nw",
            "southwest" => "sw",
            "gov" => "g",
            other if other.chars().all(|c| c.is_ascii_digit()) => other,
            other => &other[..other.len().min(1)],
        });
    }
    out
}

#[cfg(test)]
mod tests;
