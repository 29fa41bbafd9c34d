//! `verify`: the same targets as `deploy`, observed (and, with `--test-event`, invoked once),
//! then checked as the guide does. Read-only otherwise; exit 0 when no check failed.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Exit;
use super::session::{Checked, Session};
use crate::aws::AwsCloud;
use crate::cli::{DeployArgs, Global, VerifyArgs};
use crate::config::{Needs, TargetConfig};
use crate::input::{Input, Preflight, Problem};
use crate::kinds::Task;
use crate::plan::observe::observe;
use crate::plan::verify::{self, CheckStatus, Options, Verdict};
use crate::plan::{TargetResult, Watch};
use crate::template::names;
use crate::ui::Printer;

pub async fn run(g: &Global, args: &VerifyArgs, printer: &Printer) -> Exit {
    let select = DeployArgs {
        targets: args.targets.clone(),
        ..DeployArgs::default()
    };
    let (session, cfg, mut pf) =
        match Session::configure(Task::Verify, g, &select, Needs::Targets, printer).await {
            Ok(c) => c,
            Err(exit) => return exit,
        };
    let opts = options(args, &mut pf);
    let xdr = super::xdr::prepare(&args.xdr, printer)
        .map_err(|p| pf.problem(p))
        .ok()
        .flatten();
    // The XDR regions the shared stacks name: the API to ask when no flag names it.
    let stack_regions = std::sync::Mutex::new(Vec::new());
    let check = async |t: &TargetConfig, cloud: &AwsCloud, watch: Watch<'_>| {
        let mut seen = observe(cloud, t, |x, seen| verify::reads(x, seen, &opts), watch).await;
        if let (true, Some(account)) = (opts.test_event, seen.account().map(str::to_string)) {
            verify::probe(cloud, &t.for_account(&account), &mut seen).await;
        }
        if let Some(Some(stack)) = seen.shared_stack.known()
            && let Some(region) = stack.info.parameters.get(names::TAEGIS_REGION)
            && let Ok(mut regions) = stack_regions.lock()
        {
            regions.push(region.clone());
        }
        verify::check(t, &opts, &seen)
    };
    let checked = match session.preflight(&cfg, check).await {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    if !pf.is_ok() {
        return session.bad_input(&pf.problems, &[]);
    }
    let results = verdicts(&session, checked);
    if results.iter().all(|r| !r.problems.is_empty()) {
        return session.bad_input(&[], &results);
    }
    let regions = stack_regions.into_inner().unwrap_or_default();
    match xdr {
        Some(xdr) => with_xdr(&session, &results, &xdr, args, &regions).await,
        None => session.report(&results),
    }
}

/// Each target's verdict as its result, its problems printed (labelled when there are
/// several).
fn verdicts(session: &Session, checked: Vec<Checked<Verdict>>) -> Vec<TargetResult> {
    let many = checked.len() > 1;
    checked
        .into_iter()
        .map(|c| {
            let verdict = c.outcome.unwrap_or_else(Verdict::unchecked);
            let problems = &verdict.preflight.problems;
            session
                .printer
                .target_errors(&c.target.label(), many, problems);
            verdict.result(&c.target)
        })
        .collect()
}

/// The report with the guide's Advanced Search in XDR: a failed query fails the run; a
/// search that could not be run is bad input (exit 2), after the checks are reported.
async fn with_xdr(
    session: &Session,
    results: &[TargetResult],
    xdr: &super::xdr::Prepared,
    args: &VerifyArgs,
    stack_regions: &[String],
) -> Exit {
    match xdr
        .run(since_of(args), &args.since, stack_regions, &session.printer)
        .await
    {
        Ok(check) => {
            let exit = session.report_with(results, Some(&check));
            match (exit, check.status) {
                (Exit::Ok, CheckStatus::Failed) => Exit::Failed,
                (exit, _) => exit,
            }
        }
        Err(line) => {
            session.report(results);
            session.printer.error(&line);
            Exit::BadInput
        }
    }
}

/// The window `--since` gives (zero when it is not a duration: a problem of [`options`]).
fn since_of(args: &VerifyArgs) -> std::time::Duration {
    crate::cli::parse_duration(&args.since).unwrap_or_default()
}

/// What verify checks against: the window from `--since`, the test event, today.
fn options(args: &VerifyArgs, pf: &mut Preflight) -> Options {
    if let Err(e) = crate::cli::parse_duration(&args.since) {
        pf.problem(Problem::new(Input::Since, e).fix("e.g. --since 24h"));
    }
    let since = since_of(args);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Options {
        since_ms: now.saturating_sub(since).as_millis() as i64,
        test_event: args.test_event,
        today: super::inputs::today(),
    }
}
