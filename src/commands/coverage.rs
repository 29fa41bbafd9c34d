//! `coverage`: for every account of the organisation (or those given) and each region, do its
//! CloudTrail logs reach XDR, and through which trail and function. Reads only. Exit 0 when
//! all are covered, 1 when some are not (or cannot be told), 2 on bad input or an
//! organisation that cannot be listed.

use super::Exit;
use crate::aws::{AwsCloud, Connection};
use crate::cli::{CoverageArgs, Global};
use crate::config::checks::{check_region, is_account_id};
use crate::input::{Input, Problem};
use crate::kinds::Task;
use crate::plan::cloud::CloudReads;
use crate::plan::coverage::observe::{self, Reach};
use crate::plan::coverage::suggest::suggest;
use crate::plan::coverage::{AccountReads, OrgAccount, Summary, judge::judge};
use crate::plan::fact::{Fact, ReadError};
use crate::plan::identity::{Place, explain};
use crate::ui::{Printer, coverage as render};

/// What the flags and the rollout file ask for.
struct Asked {
    accounts: Vec<String>,
    regions: Vec<String>,
    /// The role ARN with `{account}`.
    role: String,
}

pub async fn run(g: &Global, args: &CoverageArgs, printer: &Printer) -> Exit {
    let asked = match asked(args) {
        Ok(a) => a,
        Err(problems) => return bad_input(printer, &problems),
    };
    let conn = Connection::new(g.profile.clone(), g.endpoint_url.clone(), Task::Coverage);
    let (cloud, me, home) = match start(g, &conn, &asked).await {
        Ok(c) => c,
        Err(p) => return bad_input(printer, &[*p]),
    };
    let list = match accounts(&cloud, &asked).await {
        Ok(l) => l,
        Err(p) => return bad_input(printer, &[p]),
    };
    printer.info(&format!(
        "coverage: reading {} account(s) as {me}",
        list.len()
    ));
    let role_of = |account: &str| (account != me).then(|| asked.role.replace("{account}", account));
    let connect = |account: &str, region: &str| {
        let role = role_of(account);
        let (conn, region) = (conn.clone(), region.to_string());
        let fut = async move { AwsCloud::connect(&conn, &region, role.as_deref()).await };
        Box::pin(fut) as futures::future::BoxFuture<'_, anyhow::Result<AwsCloud>>
    };
    let reach = Reach {
        connect: &connect,
        role_of: &role_of,
        home,
        concurrency: args.concurrency,
    };
    let regions = (!asked.regions.is_empty()).then_some(asked.regions.as_slice());
    let read = observe::accounts(&list, regions, &reach).await;
    let deliveries = observe::deliveries(&read, &reach).await;
    let views: Vec<_> = read.into_iter().map(|r| r.view).collect();
    let report = judge(&views, &deliveries);
    let suggestion = args
        .suggest
        .then(|| suggest(&report, &views, &deliveries, &role_of));
    printer.result(
        || render::text(&report, suggestion.as_ref()),
        || render::json(&report, suggestion.as_ref(), &[]),
    );
    match Summary::of(&report).all_covered() {
        true => Exit::Ok,
        false => Exit::Failed,
    }
}

/// The region of the first calls, the caller's client there and its account.
async fn start(
    g: &Global,
    conn: &Connection,
    asked: &Asked,
) -> Result<(AwsCloud, String, String), Box<Problem>> {
    let home = match &g.region {
        Some(r) => Some(r.clone()),
        None => crate::aws::default_region(conn).await,
    };
    let Some(home) = home.or_else(|| asked.regions.first().cloned()) else {
        let p = Problem::new(
            Input::Region,
            "no region: coverage makes its first calls there",
        )
        .fix("give --region, set AWS_REGION, or give --regions");
        return Err(Box::new(p));
    };
    let (cloud, me) = caller(conn, &home).await?;
    Ok((cloud, me, home))
}

fn bad_input(printer: &Printer, problems: &[Problem]) -> Exit {
    for p in problems {
        printer.error(&p.to_string());
    }
    printer.json_only(|| render::json(&[], None, problems));
    Exit::BadInput
}

/// The flags and the rollout file, checked: every bad value named.
fn asked(args: &CoverageArgs) -> Result<Asked, Vec<Problem>> {
    let rollout = super::session::load_rollout(args.config.as_deref()).map_err(|p| vec![p])?;
    let mut accounts = args.accounts.clone();
    let mut regions = args.regions.clone();
    let mut role = args.role_arn.clone();
    if let Some(r) = &rollout {
        let entries = std::iter::once(&r.keys).chain(r.keys.targets.iter().flatten());
        for k in entries {
            accounts.extend(k.account.iter().chain(k.accounts.iter().flatten()).cloned());
            if args.regions.is_empty() {
                regions.extend(k.region.iter().chain(k.regions.iter().flatten()).cloned());
            }
            role = role.or(k.role_arn.clone());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    accounts.retain(|a| seen.insert(a.clone()));
    let mut seen = std::collections::BTreeSet::new();
    regions.retain(|r| seen.insert(r.clone()));
    let mut problems = Vec::new();
    for a in accounts.iter().filter(|a| !is_account_id(a)) {
        problems.push(
            Problem::value(Input::Accounts, a, "is not an account id")
                .fix("give 12-digit account ids, comma-separated"),
        );
    }
    for r in &regions {
        if let Err(e) = check_region(r) {
            problems.push(Problem::value(Input::Regions, r, e));
        }
    }
    let role = role.unwrap_or_else(|| format!("arn:aws:iam::{{account}}:role/{}", args.role_name));
    if !role.starts_with("arn:") || !role.contains(":role/") {
        problems.push(
            Problem::value(Input::RoleArn, &role, "is not a role ARN")
                .fix("give arn:aws:iam::{account}:role/NAME, or --role-name NAME"),
        );
    }
    match problems.is_empty() {
        true => Ok(Asked {
            accounts,
            regions,
            role,
        }),
        false => Err(problems),
    }
}

/// The caller's client in the home region, and its account; or why the caller cannot even
/// be read (no credentials, a refused key, ...).
async fn caller(conn: &Connection, home: &str) -> Result<(AwsCloud, String), Box<Problem>> {
    let place = Place {
        region: home.to_string(),
        role: None,
        origin: String::new(),
        region_input: Input::Region,
    };
    let fail = |e: anyhow::Error| Box::new(explain(&place, &ReadError::of(&e), &Fact::NotRead));
    let cloud = AwsCloud::connect(conn, home, None).await.map_err(fail)?;
    let me = cloud.identity().await.map_err(fail)?;
    Ok((cloud, me.account))
}

/// The accounts to report on: those given, or the organisation's active ones.
async fn accounts(cloud: &AwsCloud, asked: &Asked) -> Result<Vec<OrgAccount>, Problem> {
    if !asked.accounts.is_empty() {
        return Ok(asked
            .accounts
            .iter()
            .map(|id| OrgAccount {
                id: id.clone(),
                name: String::new(),
                active: true,
            })
            .collect());
    }
    let listed = cloud.org_accounts().await.map_err(|e| {
        Problem::about(
            Input::Accounts,
            "the organisation's accounts",
            format!("cannot be listed ({})", ReadError::of(&e)),
        )
        .fix("run coverage with the management account's credentials (or a delegated administrator's), or give --accounts")
    })?;
    Ok(listed.into_iter().filter(|a| a.active).collect())
}
