//! `coverage --suggest`: the deployments that would cover what is uncovered, one per bucket a
//! trail writes to (an organisation trail's bucket in the log-archive account is one
//! deployment for every account), as a rollout file; and what no deployment can cover. Pure.

use serde::Serialize;

use super::{AccountCoverage, AccountView, Deliveries, Status};
use crate::plan::cloud::Trail;
use crate::plan::fact::Fact;

/// One deployment that would cover some account × regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// The account that owns the bucket, where the function goes.
    pub account: String,
    /// The role that reaches it (`None`: the caller's account).
    pub role_arn: Option<String>,
    /// The bucket's region.
    pub region: String,
    pub notification_bucket: String,
    /// The trail's `{S3KeyPrefix}/AWSLogs/`: every account and region it logs.
    pub prefix: String,
    /// The account × regions it would cover (`ACCOUNT REGION`).
    pub covers: Vec<String>,
}

/// The deployments, and the account × regions no deployment covers (with why).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub deployments: Vec<Deployment>,
    pub left: Vec<String>,
}

/// What would cover the uncovered cells of `report`.
pub fn suggest(
    report: &[AccountCoverage],
    read: &[AccountView],
    d: &Deliveries,
    role_of: &dyn Fn(&str) -> Option<String>,
) -> Suggestion {
    let mut out = Suggestion::default();
    for (a, view) in report.iter().zip(read) {
        for cell in a.regions.iter().filter(|c| c.status != Status::Covered) {
            let place = format!("{} {}", a.account, cell.region);
            if cell.status == Status::Unknown {
                out.left.push(format!("{place}: unknown, {}", cell.reason));
                continue;
            }
            if cell.missing.is_empty() {
                out.left.push(format!("{place}: {}", cell.reason));
            }
            for arn in &cell.missing {
                match find(view, &cell.region, arn) {
                    Some(t) => place_for(&mut out, t, d, role_of, place.clone()),
                    None => out.left.push(format!("{place}: {}", cell.reason)),
                }
            }
        }
    }
    out
}

fn find<'a>(view: &'a AccountView, region: &str, arn: &str) -> Option<&'a Trail> {
    view.regions
        .iter()
        .filter(|r| r.region == region)
        .filter_map(|r| r.trails.known())
        .flatten()
        .find(|t| t.arn == arn)
}

/// The deployment for `t`'s bucket (one per bucket), now covering `place` too.
fn place_for(
    out: &mut Suggestion,
    t: &Trail,
    d: &Deliveries,
    role_of: &dyn Fn(&str) -> Option<String>,
    place: String,
) {
    if t.logging == Some(false) {
        out.left.push(format!(
            "{place}: trail {} is not logging: start it (StartLogging)",
            t.name
        ));
        return;
    }
    let Some(Fact::Known(b)) = d.buckets.get(&t.bucket) else {
        out.left.push(format!(
            "{place}: bucket {} of trail {} could not be read",
            t.bucket, t.name
        ));
        return;
    };
    if let Some(dep) = out
        .deployments
        .iter_mut()
        .find(|x| x.notification_bucket == t.bucket)
    {
        dep.covers.push(place);
        return;
    }
    out.deployments.push(Deployment {
        account: b.owner.clone(),
        role_arn: role_of(&b.owner),
        region: b.region.clone(),
        notification_bucket: t.bucket.clone(),
        prefix: crate::plan::trail::log_prefix(t),
        covers: vec![place],
    });
}

impl Suggestion {
    /// The rollout file: one target per deployment, then what it leaves, as comments.
    pub fn rollout(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut out = String::from(
            "# The rollout that would cover what `coverage` found uncovered. Deploy it with\n\
             #   taegis-cloudtrail deploy --config FILE --credentials FILE --taegis-region NAME\n\
             # (or add credentials:, taegis_region: and lambda_zip: here).\n",
        );
        if self.deployments.is_empty() {
            out.push_str("# No deployment would cover more.\n");
        } else {
            out.push_str("targets:\n");
        }
        for dep in &self.deployments {
            out.push_str(&format!("  - account: {}\n", q(&dep.account)));
            if let Some(role) = &dep.role_arn {
                out.push_str(&format!("    role_arn: {}\n", q(role)));
            }
            out.push_str(&format!("    regions: [{}]\n", q(&dep.region)));
            out.push_str(&format!(
                "    notification_bucket: {}\n",
                q(&dep.notification_bucket)
            ));
            out.push_str(&format!("    prefix: {}\n", q(&dep.prefix)));
            out.push_str(&format!("    # covers: {}\n", dep.covers.join(", ")));
        }
        if !self.left.is_empty() {
            out.push_str("# What no deployment covers:\n");
            for l in &self.left {
                out.push_str(&format!("#   {l}\n"));
            }
        }
        out
    }
}
