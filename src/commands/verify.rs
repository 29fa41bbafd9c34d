//! `verify`: the same targets as `deploy`, observed (and, with `--test-event`, invoked once),
//! then checked as the guide does. Read-only otherwise; exit 0 when no check failed.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Exit;
use super::session::Session;
use crate::aws::AwsCloud;
use crate::cli::{DeployArgs, Global, VerifyArgs};
use crate::config::{Needs, TargetConfig};
use crate::input::{Input, Preflight, Problem};
use crate::kinds::Task;
use crate::plan::observe::observe;
use crate::plan::verify::{self, Options, Verdict};
use crate::plan::{TargetResult, Watch};
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
    let check = async |t: &TargetConfig, cloud: &AwsCloud, watch: Watch<'_>| {
        let mut seen = observe(cloud, t, |x, seen| verify::reads(x, seen, &opts), watch).await;
        if let (true, Some(account)) = (opts.test_event, seen.account().map(str::to_string)) {
            verify::probe(cloud, &t.for_account(&account), &mut seen).await;
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
    let many = checked.len() > 1;
    let results: Vec<TargetResult> = checked
        .into_iter()
        .map(|c| {
            let verdict = match c.outcome {
                Ok(v) => v,
                Err(p) => Verdict::unchecked(p),
            };
            let problems = &verdict.preflight.problems;
            session
                .printer
                .target_errors(&c.target.label(), many, problems);
            verdict.result(&c.target)
        })
        .collect();
    if results.iter().all(|r| !r.problems.is_empty()) {
        return session.bad_input(&[], &results);
    }
    session.report(&results)
}

/// What verify checks against: the window from `--since`, the test event, today.
fn options(args: &VerifyArgs, pf: &mut Preflight) -> Options {
    let since = match crate::cli::parse_duration(&args.since) {
        Ok(d) => d,
        Err(e) => {
            pf.problem(Problem::new(Input::Since, e).fix("e.g. --since 24h"));
            Default::default()
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Options {
        since_ms: now.saturating_sub(since).as_millis() as i64,
        test_event: args.test_event,
        today: super::inputs::today(),
    }
}
