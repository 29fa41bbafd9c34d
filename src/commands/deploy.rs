//! `deploy`: config → local inputs → preflight and plan per target → show → (confirm) → apply
//! → report. The dry run is the same path, stopping after "show".

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;

use super::Exit;
use super::inputs;
use crate::aws::{AwsCloud, Connection};
use crate::cli::{DeployArgs, Global, OutputFormat};
use crate::config::{self, CredentialsSource, TargetConfig};
use crate::plan::executor::Executor;
use crate::plan::follow::Pace;
use crate::plan::planner::{self, Shared};
use crate::plan::{Action, Cancel, LambdaZip, Outcome, StepKind, TargetPlan, TargetResult, Watch};
use crate::secret::Secret;
use crate::template::Template;
use crate::ui::{Printer, render};

/// A target's preflight: its clients and plan, or every problem found.
type Planned = Result<(AwsCloud, TargetPlan), planner::PreflightFailed>;

/// Print a list of input problems and return exit 2 (with a JSON document when asked).
fn bad_input(printer: &Printer, problems: &[String], failed: Vec<TargetResult>) -> Exit {
    for p in problems {
        printer.error(p);
    }
    if printer.format == OutputFormat::Json {
        printer.out(&render::json("deploy", false, &failed));
    }
    Exit::BadInput
}

pub async fn run(g: &Global, args: &DeployArgs, printer: &Printer) -> Exit {
    let conn = Connection {
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
    };

    // 1. Configuration: flags, rollout file, defaults.
    let rollout = match &args.config {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match config::Rollout::parse(path, &text) {
                Ok(r) => Some(r),
                Err(e) => return bad_input(printer, &[e], Vec::new()),
            },
            Err(e) => {
                return bad_input(
                    printer,
                    &[format!("--config {}: cannot read it ({e})", path.display())],
                    Vec::new(),
                );
            }
        },
    };
    let env_region = match &g.region {
        Some(_) => None,
        None => crate::aws::default_region(&conn).await,
    };
    let cfg = match config::resolve(
        args,
        g.region.as_deref(),
        env_region.as_deref(),
        rollout.as_ref(),
    ) {
        Ok(c) => c,
        Err(problems) => return bad_input(printer, &problems, Vec::new()),
    };
    for n in &cfg.notices {
        printer.info(n);
    }

    // 2. Local inputs, each read once.
    let mut problems = Vec::new();
    let mut secrets: BTreeMap<CredentialsSource, Arc<Secret>> = BTreeMap::new();
    let mut zips: BTreeMap<PathBuf, Arc<LambdaZip>> = BTreeMap::new();
    let mut templates: BTreeMap<(bool, Option<PathBuf>), Arc<Template>> = BTreeMap::new();
    for t in &cfg.targets {
        if !secrets.contains_key(&t.credentials) {
            match inputs::read_credentials(&t.credentials) {
                Ok(s) => {
                    printer.redact(&s);
                    secrets.insert(t.credentials.clone(), Arc::new(s));
                }
                Err(e) => problems.push(e),
            }
        }
        if !zips.contains_key(&t.lambda_zip) {
            match inputs::read_zip(&t.lambda_zip) {
                Ok(z) => {
                    zips.insert(t.lambda_zip.clone(), z);
                }
                Err(e) => problems.push(e),
            }
        }
        for (shared, path) in [(true, &t.shared_template), (false, &t.lambda_template)] {
            let key = (shared, path.clone());
            if templates.contains_key(&key) {
                continue;
            }
            let loaded = if shared {
                inputs::read_template(
                    path.as_deref(),
                    "--shared-template",
                    Template::bundled_shared,
                )
            } else {
                inputs::read_template(
                    path.as_deref(),
                    "--lambda-template",
                    Template::bundled_lambda,
                )
            };
            match loaded {
                Ok(t) => {
                    templates.insert(key, t);
                }
                Err(e) => problems.push(e),
            }
        }
    }
    problems.dedup();
    if !problems.is_empty() {
        return bad_input(printer, &problems, Vec::new());
    }

    // 3. Preflight and plan, per target, reading only.
    let today = inputs::today();
    let pace = Pace {
        interval: g.poll_interval.unwrap_or(Pace::default().interval),
        timeout: cfg.timeout,
        ..Pace::default()
    };
    let shared_for = |t: &TargetConfig| Shared {
        zip: zips[&t.lambda_zip].clone(),
        shared_template: templates[&(true, t.shared_template.clone())].clone(),
        lambda_template: templates[&(false, t.lambda_template.clone())].clone(),
        secret: secrets[&t.credentials].clone(),
        update_credentials: cfg.update_credentials,
        today: today.clone(),
    };
    let cancel = Arc::new(Cancel::default());
    listen_for_interrupts(cancel.clone(), printer.clone());
    let progress = printer.progress();
    let watch = Watch {
        reporter: &progress,
        pace,
        cancel: &cancel,
    };
    // The preflight only reads: an interruption stops it at once.
    let planning = futures::stream::iter(cfg.targets.iter().cloned())
        .map(|t| {
            let conn = &conn;
            let shared = shared_for(&t);
            async move {
                let res = async {
                    let cloud = AwsCloud::connect(conn, &t.region, role_for(&t).as_deref())
                        .await
                        .map_err(|e| {
                            planner::PreflightFailed::new(
                                None,
                                vec![format!(
                                    "cannot set up AWS clients for {}: {e:#}",
                                    t.label()
                                )],
                            )
                        })?;
                    let plan = planner::plan_target(&cloud, &t, &shared, watch).await?;
                    Ok((cloud, plan))
                }
                .await;
                (t, res)
            }
        })
        .buffered(cfg.concurrency)
        .collect::<Vec<(TargetConfig, Planned)>>();
    let planned = tokio::select! {
        planned = planning => planned,
        _ = cancel.cancelled() => {
            progress.finish();
            printer.error("interrupted during the preflight; nothing was changed");
            if printer.format == OutputFormat::Json {
                printer.out(&render::json("deploy", cfg.dry_run, &[]));
            }
            return Exit::Interrupted;
        }
    };
    let mut ready: Vec<(AwsCloud, TargetPlan)> = Vec::new();
    let mut failed: Vec<TargetResult> = Vec::new();
    let many = planned.len() > 1;
    for (t, res) in planned {
        match res {
            Ok(p) => ready.push(p),
            Err(failure) => {
                let problems = &failure.problems;
                for p in problems {
                    printer.error(&if many {
                        format!("[{}] {p}", t.label())
                    } else {
                        p.clone()
                    });
                }
                failed.push(TargetResult::failed(
                    failure.account.clone().or(t.account.clone()),
                    &t.region,
                    format!("preflight failed: {}", problems.join("; ")),
                    Vec::new(),
                ));
            }
        }
    }
    for (_, p) in &ready {
        for w in &p.warnings {
            printer.warn(&if many {
                format!("[{}] {w}", p.label())
            } else {
                w.clone()
            });
        }
    }
    if ready.is_empty() {
        progress.finish();
        if printer.format == OutputFormat::Json {
            printer.out(&render::json("deploy", cfg.dry_run, &failed));
        }
        return Exit::BadInput;
    }

    // 4. Show.
    let plans: Vec<TargetPlan> = ready.iter().map(|(_, p)| p.clone()).collect();
    if cfg.dry_run {
        progress.finish();
        let mut results: Vec<TargetResult> = plans.iter().map(TargetResult::planned).collect();
        results.extend(failed.iter().cloned());
        match printer.format {
            OutputFormat::Json => printer.out(&render::json("deploy", true, &results)),
            OutputFormat::Text => printer.out(render::plan_text(&plans).trim_end()),
        }
        return if failed.is_empty() {
            Exit::Ok
        } else {
            Exit::Failed
        };
    }
    if plans.iter().any(TargetPlan::changes) {
        printer.info(render::plan_text(&plans).trim_end());
    }

    // 5. Confirm what needs it: creating buckets.
    let new_buckets: Vec<String> = plans
        .iter()
        .flat_map(|p| {
            p.steps
                .iter()
                .filter(|s| s.kind == StepKind::LambdaBucket && s.action == Action::Create)
                .map(|_| format!("{} ({})", p.inputs.lambda_bucket, p.inputs.config.region))
        })
        .collect();
    if !new_buckets.is_empty() && !g.yes {
        let q = format!(
            "Create bucket{} {}?",
            if new_buckets.len() == 1 { "" } else { "s" },
            new_buckets.join(", ")
        );
        match printer.confirm(&q) {
            Some(true) => {}
            Some(false) => {
                return bad_input(
                    printer,
                    &["cancelled; nothing was changed".to_string()],
                    failed,
                );
            }
            None => {
                return bad_input(
                    printer,
                    &[format!(
                        "the plan creates bucket {}; pass --yes to allow it (or create the bucket yourself and give --lambda-bucket)",
                        new_buckets.join(", ")
                    )],
                    failed,
                );
            }
        }
    }

    // 6. Apply, exactly the plan.
    let mut results: Vec<TargetResult> = futures::stream::iter(ready.iter())
        .map(|(cloud, plan)| {
            let exec = Executor {
                cloud,
                watch,
                on_failure: cfg.on_failure,
            };
            async move { exec.apply(plan).await }
        })
        .buffered(cfg.concurrency)
        .collect()
        .await;
    progress.finish();
    results.extend(failed);

    // 7. Report.
    match printer.format {
        OutputFormat::Json => printer.out(&render::json("deploy", false, &results)),
        OutputFormat::Text => printer.out(render::results_text(&results).trim_end()),
    }
    for r in &results {
        if let Some(e) = &r.error {
            let who = r
                .account
                .as_ref()
                .map(|a| format!("{a}/{}", r.region))
                .unwrap_or_else(|| r.region.clone());
            printer.error(&format!("{who}: {e}"));
        }
    }
    if cancel.is_cancelled() {
        printer
            .error("interrupted: what is done is listed above; re-run the same command to resume");
        return Exit::Interrupted;
    }
    exit_for(&results)
}

/// The first Ctrl-C (or SIGTERM) stops starting new steps and stops waiting; the write in
/// flight finishes. A second one exits at once.
fn listen_for_interrupts(cancel: Arc<Cancel>, printer: Printer) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        printer.warn("interrupted: finishing the call in flight, starting nothing new (press Ctrl-C again to exit at once)");
        cancel.cancel();
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        printer.error("interrupted again: exiting now; re-run the same command to resume");
        std::process::exit(Exit::Interrupted as i32);
    });
}

fn role_for(t: &TargetConfig) -> Option<String> {
    match (&t.role_arn, &t.account) {
        (Some(r), Some(a)) => Some(config::expand(r, a, &t.region)),
        (Some(r), None) => Some(r.clone()),
        _ => None,
    }
}

fn exit_for(results: &[TargetResult]) -> Exit {
    if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed | Outcome::InProgress))
    {
        Exit::Failed
    } else {
        Exit::Ok
    }
}
