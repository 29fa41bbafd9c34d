//! `deploy`: config → local inputs → observe and decide per target → show → (confirm) → apply
//! → report. The dry run is the same path, stopping after "show". Every problem of every stage
//! and target is reported together, before anything changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;

use super::Exit;
use super::inputs;
use crate::aws::{AwsCloud, Connection};
use crate::cli::{DeployArgs, Global, OutputFormat};
use crate::config::{self, CredentialsSource, DeployConfig, TargetConfig};
use crate::input::{Input, Preflight, Problem};
use crate::plan::deploy::{self, Decision, Local};
use crate::plan::executor::Executor;
use crate::plan::follow::Pace;
use crate::plan::ledger::{Ledger, Tee};
use crate::plan::observe::observe;
use crate::plan::{Action, Cancel, LambdaZip, Outcome, StepKind, TargetPlan, TargetResult, Watch};
use crate::secret::Secret;
use crate::template::Template;
use crate::ui::{Printer, render};

pub async fn run(g: &Global, args: &DeployArgs, printer: &Printer) -> Exit {
    let conn = Connection {
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
    };
    // 1. Configuration: flags, rollout file, defaults.
    let rollout = match load_rollout(args) {
        Ok(r) => r,
        Err(p) => return bad_input(printer, false, &[p], &[]),
    };
    let env_region = match &g.region {
        Some(_) => None,
        None => crate::aws::default_region(&conn).await,
    };
    let (mut cfg, mut pf) = config::resolve(
        args,
        g.region.as_deref(),
        env_region.as_deref(),
        rollout.as_ref(),
    );
    for n in &cfg.notices {
        printer.info(n);
    }

    // 2. Local inputs, each read once.
    let files = LocalFiles::read(&mut cfg.targets, cfg.update_credentials, printer, &mut pf);

    // 3. Observe and decide, per target, reading only.
    let cancel = Arc::new(Cancel::default());
    let ledger = Arc::new(Ledger::default());
    listen_for_interrupts(cancel.clone(), ledger.clone(), printer.clone(), cfg.dry_run);
    let progress = printer.progress();
    let tee = Tee {
        ledger: &ledger,
        inner: &progress,
    };
    let watch = Watch {
        reporter: &tee,
        pace: Pace {
            interval: g.poll_interval.unwrap_or(Pace::default().interval),
            timeout: cfg.timeout,
            ..Pace::default()
        },
        cancel: &cancel,
    };
    let checked = tokio::select! {
        checked = preflight(&conn, &cfg, &files, watch) => checked,
        _ = cancel.cancelled() => {
            progress.finish();
            printer.error("interrupted during the preflight; nothing was changed");
            if printer.format == OutputFormat::Json {
                printer.out(&render::json("deploy", cfg.dry_run, &[], &[]));
            }
            return Exit::Interrupted;
        }
    };
    for p in &pf.problems {
        printer.error(&p.to_string());
    }
    let (ready, failed) = sort_out(printer, checked);
    if !pf.is_ok() || ready.is_empty() {
        progress.finish();
        return input_exit(printer, cfg.dry_run, &pf.problems, &failed);
    }

    // 4. Show, and confirm what needs it.
    let plans: Vec<TargetPlan> = ready.iter().map(|(_, p)| p.clone()).collect();
    if cfg.dry_run {
        progress.finish();
        return show_dry_run(printer, &plans, failed);
    }
    if plans.iter().any(TargetPlan::changes) {
        printer.info(render::plan_text(&plans).trim_end());
    }
    if let Err(why) = confirm_buckets(printer, g.yes, &plans) {
        return bad_input(printer, false, &[why], &failed);
    }

    // 5. Apply, exactly the plan.
    ledger.begin(&plans, &failed);
    let mut results = apply(&ready, &cfg, watch, &ledger).await;
    progress.finish();
    results.extend(failed);

    // 6. Report.
    report(printer, &results, cancel.is_cancelled())
}

fn load_rollout(args: &DeployArgs) -> Result<Option<config::Rollout>, Problem> {
    let Some(path) = &args.config else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::value(Input::Config, &shown, format!("cannot read it ({e})")))?;
    config::Rollout::parse(path, &text)
        .map(Some)
        .map_err(|e| Problem::about(Input::Config, "", e))
}

/// Print every problem and return exit 2, with a JSON document when asked.
fn bad_input(
    printer: &Printer,
    dry_run: bool,
    problems: &[Problem],
    failed: &[TargetResult],
) -> Exit {
    for p in problems {
        printer.error(&p.to_string());
    }
    input_exit(printer, dry_run, problems, failed)
}

/// Exit 2 for problems already printed, with a JSON document when asked.
fn input_exit(
    printer: &Printer,
    dry_run: bool,
    problems: &[Problem],
    failed: &[TargetResult],
) -> Exit {
    if printer.format == OutputFormat::Json {
        printer.out(&render::json("deploy", dry_run, failed, problems));
    }
    Exit::BadInput
}

/// The files every target shares, each read once. A file that could not be read is `None`:
/// its problem is recorded, its input marked flawed on the targets that use it, and a stand-in
/// lets the other checks run.
struct LocalFiles {
    secrets: BTreeMap<CredentialsSource, Option<Arc<Secret>>>,
    zips: BTreeMap<PathBuf, Option<Arc<LambdaZip>>>,
    templates: BTreeMap<(Input, Option<PathBuf>), Option<Arc<Template>>>,
    update_credentials: bool,
    today: String,
}

/// Read a file once per key: `Some` when it could be read, else `None` with its problem.
fn once<K: Ord + Clone, T>(
    map: &mut BTreeMap<K, Option<Arc<T>>>,
    key: &K,
    pf: &mut Preflight,
    read: impl FnOnce() -> Result<Arc<T>, Problem>,
) -> bool {
    if !map.contains_key(key) {
        let value = read().map_err(|p| pf.problem(p)).ok();
        map.insert(key.clone(), value);
    }
    map[key].is_some()
}

impl LocalFiles {
    fn read(
        targets: &mut [TargetConfig],
        cfg_update: bool,
        printer: &Printer,
        pf: &mut Preflight,
    ) -> LocalFiles {
        let mut f = LocalFiles {
            secrets: BTreeMap::new(),
            zips: BTreeMap::new(),
            templates: BTreeMap::new(),
            update_credentials: cfg_update,
            today: inputs::today(),
        };
        for t in targets.iter_mut() {
            let secret = once(&mut f.secrets, &t.credentials, pf, || {
                let s = inputs::read_credentials(&t.credentials)?;
                printer.redact(&s);
                Ok(Arc::new(s))
            });
            let zip = once(&mut f.zips, &t.lambda_zip, pf, || {
                inputs::read_zip(&t.lambda_zip)
            });
            let shared = once(
                &mut f.templates,
                &(Input::SharedTemplate, t.shared_template.clone()),
                pf,
                || {
                    inputs::read_template(
                        t.shared_template.as_deref(),
                        Input::SharedTemplate,
                        Template::bundled_shared,
                    )
                },
            );
            let lambda = once(
                &mut f.templates,
                &(Input::LambdaTemplate, t.lambda_template.clone()),
                pf,
                || {
                    inputs::read_template(
                        t.lambda_template.as_deref(),
                        Input::LambdaTemplate,
                        Template::bundled_lambda,
                    )
                },
            );
            for (ok, input) in [
                (secret, Input::Credentials),
                (zip, Input::LambdaZip),
                (shared, Input::SharedTemplate),
                (lambda, Input::LambdaTemplate),
            ] {
                if !ok {
                    t.flawed.insert(input);
                }
            }
        }
        f
    }

    /// The inputs of one target, with stand-ins for files that could not be read.
    fn local_for(&self, t: &TargetConfig) -> Local {
        let template = |input, path: &Option<PathBuf>, bundled: fn() -> Template| {
            self.templates[&(input, path.clone())]
                .clone()
                .unwrap_or_else(|| Arc::new(bundled()))
        };
        Local {
            zip: self.zips[&t.lambda_zip].clone().unwrap_or_else(|| {
                Arc::new(LambdaZip {
                    bytes: Vec::new(),
                    sha256: String::new(),
                })
            }),
            shared_template: template(
                Input::SharedTemplate,
                &t.shared_template,
                Template::bundled_shared,
            ),
            lambda_template: template(
                Input::LambdaTemplate,
                &t.lambda_template,
                Template::bundled_lambda,
            ),
            secret: self.secrets[&t.credentials]
                .clone()
                .unwrap_or_else(|| Arc::new(Secret::new(String::new()))),
            update_credentials: self.update_credentials,
            today: self.today.clone(),
        }
    }
}

/// A target after its preflight: its clients (when they could be made) and the decision.
struct Checked {
    target: TargetConfig,
    cloud: Option<AwsCloud>,
    decision: Decision,
}

/// Observe and decide every target, a few at a time. Reads only.
async fn preflight(
    conn: &Connection,
    cfg: &DeployConfig,
    files: &LocalFiles,
    watch: Watch<'_>,
) -> Vec<Checked> {
    futures::stream::iter(cfg.targets.iter().cloned())
        .map(|t| async move {
            let cloud = match AwsCloud::connect(conn, &t.region, t.role().as_deref()).await {
                Ok(c) => c,
                Err(e) => {
                    let mut preflight = Preflight::default();
                    preflight.problem(
                        Problem::about(
                            Input::AwsIdentity,
                            t.label(),
                            format!("cannot set up AWS clients: {e:#}"),
                        )
                        .fix("check the AWS credentials, --profile and --role-arn"),
                    );
                    let decision = Decision {
                        plan: None,
                        preflight,
                    };
                    return Checked {
                        target: t,
                        cloud: None,
                        decision,
                    };
                }
            };
            let local = files.local_for(&t);
            let seen = observe(&cloud, &t, |x| deploy::reads(x, &local), watch).await;
            let decision = deploy::decide(&t, &local, &seen);
            Checked {
                target: t,
                cloud: Some(cloud),
                decision,
            }
        })
        .buffered(cfg.concurrency.max(1))
        .collect()
        .await
}

/// Print each target's problems and warnings (labelled when there are several), and split
/// the targets into those ready to apply and those that failed their preflight.
fn sort_out(
    printer: &Printer,
    checked: Vec<Checked>,
) -> (Vec<(AwsCloud, TargetPlan)>, Vec<TargetResult>) {
    let many = checked.len() > 1;
    let label = |t: &TargetConfig, plan: &Option<TargetPlan>, text: String| {
        let who = plan
            .as_ref()
            .map(TargetPlan::label)
            .unwrap_or_else(|| t.label());
        if many {
            format!("[{who}] {text}")
        } else {
            text
        }
    };
    let mut ready = Vec::new();
    let mut failed = Vec::new();
    for c in checked {
        let Decision { plan, preflight } = c.decision;
        for p in &preflight.problems {
            printer.error(&label(&c.target, &plan, p.to_string()));
        }
        for w in &preflight.warnings {
            printer.warn(&label(&c.target, &plan, w.to_string()));
        }
        match (c.cloud, plan) {
            (Some(cloud), Some(plan)) if preflight.is_ok() => ready.push((cloud, plan)),
            (_, plan) => failed.push(TargetResult::failed(
                plan.map(|p| p.account).or(c.target.account.clone()),
                &c.target.region,
                preflight.problems,
                &preflight.warnings,
            )),
        }
    }
    (ready, failed)
}

fn show_dry_run(printer: &Printer, plans: &[TargetPlan], failed: Vec<TargetResult>) -> Exit {
    let mut results: Vec<TargetResult> = plans.iter().map(TargetResult::planned).collect();
    let any_failed = !failed.is_empty();
    results.extend(failed);
    match printer.format {
        OutputFormat::Json => printer.out(&render::json("deploy", true, &results, &[])),
        OutputFormat::Text => printer.out(render::plan_text(plans).trim_end()),
    }
    if any_failed { Exit::Failed } else { Exit::Ok }
}

/// Creating a bucket needs a yes: `--yes`, or an answer at the terminal.
fn confirm_buckets(printer: &Printer, yes: bool, plans: &[TargetPlan]) -> Result<(), Problem> {
    let new_buckets: Vec<String> = plans
        .iter()
        .flat_map(|p| {
            p.steps
                .iter()
                .filter(|s| s.kind == StepKind::LambdaBucket && s.action == Action::Create)
                .map(|_| format!("{} ({})", p.target.lambda_bucket, p.target.region))
        })
        .collect();
    if new_buckets.is_empty() || yes {
        return Ok(());
    }
    let s = if new_buckets.len() == 1 { "" } else { "s" };
    match printer.confirm(&format!("Create bucket{s} {}?", new_buckets.join(", "))) {
        Some(true) => Ok(()),
        Some(false) => Err(Problem::about(
            Input::Yes,
            "",
            "cancelled; nothing was changed",
        )),
        None => Err(Problem::about(
            Input::Yes,
            "",
            format!("the plan creates bucket{s} {}", new_buckets.join(", ")),
        )
        .fix("pass --yes to allow it (or create the bucket yourself and give --lambda-bucket)")),
    }
}

async fn apply(
    ready: &[(AwsCloud, TargetPlan)],
    cfg: &DeployConfig,
    watch: Watch<'_>,
    ledger: &Ledger,
) -> Vec<TargetResult> {
    futures::stream::iter(ready.iter())
        .map(|(cloud, plan)| {
            let exec = Executor {
                cloud,
                watch,
                on_failure: cfg.on_failure,
            };
            async move {
                let r = exec.apply(plan).await;
                ledger.finish(&r);
                r
            }
        })
        .buffered(cfg.concurrency.max(1))
        .collect()
        .await
}

fn report(printer: &Printer, results: &[TargetResult], interrupted: bool) -> Exit {
    match printer.format {
        OutputFormat::Json => printer.out(&render::json("deploy", false, results, &[])),
        OutputFormat::Text => printer.out(render::results_text(results).trim_end()),
    }
    for r in results {
        if let Some(e) = &r.error {
            let who = r
                .account
                .as_ref()
                .map(|a| format!("{a}/{}", r.region))
                .unwrap_or_else(|| r.region.clone());
            printer.error(&format!("{who}: {e}"));
        }
    }
    if interrupted {
        printer
            .error("interrupted: what is done is listed above; re-run the same command to resume");
        return Exit::Interrupted;
    }
    if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed | Outcome::InProgress))
    {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

/// The first Ctrl-C (or SIGTERM) stops starting new steps and stops waiting; the write in
/// flight finishes. A second one prints every target as it stands and exits at once.
fn listen_for_interrupts(
    cancel: Arc<Cancel>,
    ledger: Arc<Ledger>,
    printer: Printer,
    dry_run: bool,
) {
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
        let now = ledger.snapshot();
        match printer.format {
            OutputFormat::Json => printer.out(&render::json("deploy", dry_run, &now, &[])),
            OutputFormat::Text if !now.is_empty() => {
                printer.out(render::results_text(&now).trim_end())
            }
            OutputFormat::Text => {}
        }
        printer.error("interrupted again: exiting now; re-run the same command to resume");
        std::process::exit(Exit::Interrupted as i32);
    });
}
