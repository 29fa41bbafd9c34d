//! What every command that works on targets shares: reading the configuration, the interrupt
//! handling, the per-target observe-and-decide pass, showing and confirming a plan, applying
//! it, and reporting. The session is also the reporter the executor talks to: it keeps the
//! ledger up to date and passes every event on to the terminal.

use std::sync::Arc;

use futures::StreamExt;

use super::Exit;
use crate::aws::{AwsCloud, Connection};
use crate::cli::{DeployArgs, Global};
use crate::config::{self, DeployConfig, Needs, TargetConfig};
use crate::input::{Input, Preflight, Problem};
use crate::kinds::{OnFailure, Task};
use crate::plan::deploy::Decision;
use crate::plan::executor::Executor;
use crate::plan::follow::{Learnt, Pace};
use crate::plan::ledger::Ledger;
use crate::plan::{Cancel, Event, Outcome, Reporter, TargetPlan, TargetResult, Watch};
use crate::ui::{Printer, Progress, render};

/// A target after its preflight: what was decided, or why its clients could not be made. Its
/// clients are dropped once it is decided: memory grows with --concurrency, not with the
/// number of targets.
pub struct Checked<T> {
    pub target: TargetConfig,
    pub outcome: Result<T, Problem>,
}

/// A target ready to apply: its plan (its clients are made again when its turn comes, from
/// the run's shared configuration and credentials).
pub type Ready = TargetPlan;

pub struct Session {
    pub command: &'static str,
    pub printer: Printer,
    pub dry_run: bool,
    /// `--shard K/N`, named in the JSON result.
    pub shard: Option<crate::kinds::Shard>,
    pub conn: Connection,
    pace: Pace,
    /// How long a resource takes, learnt from this run's stacks (the follower's first guess).
    learnt: Learnt,
    cancel: Arc<Cancel>,
    ledger: Arc<Ledger>,
    progress: Progress,
}

impl Reporter for Session {
    fn event(&self, event: Event) {
        self.ledger.record(&event);
        crate::plan::Reporter::event(&self.progress, event);
    }
}

/// Why a confirmation did not give a yes.
#[derive(Debug)]
pub enum Refused {
    /// No, or no one to ask: a problem naming `--yes`.
    Problem(Problem),
    /// Ctrl-C at the question.
    Interrupted,
}

/// Read the rollout file, if one is given.
pub fn load_rollout(path: Option<&std::path::Path>) -> Result<Option<config::Rollout>, Problem> {
    let Some(path) = path else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::value(Input::Config, &shown, format!("cannot read it ({e})")))?;
    config::Rollout::parse(path, &text)
        .map(Some)
        .map_err(|e| Problem::about(Input::Config, "", e))
}

impl Session {
    /// The head of this run's result document.
    pub fn head(&self, dry_run: bool) -> render::Head {
        render::Head {
            command: self.command,
            dry_run,
            shard: self.shard.map(|s| s.to_string()),
        }
    }

    /// The configuration (flags, rollout file, defaults), and a session for it. A rollout file
    /// that cannot be read ends the run (exit 2).
    pub async fn configure(
        task: Task,
        g: &Global,
        args: &DeployArgs,
        needs: Needs,
        printer: &Printer,
    ) -> Result<(Session, DeployConfig, Preflight), Exit> {
        let rollout = load_rollout(args.targets.config.as_deref());
        Session::configure_from(task, g, args, rollout, needs, printer).await
    }

    /// The same, with the rollout file already read (or made: `setup`'s answers).
    pub async fn configure_from(
        task: Task,
        g: &Global,
        args: &DeployArgs,
        rollout: Result<Option<config::Rollout>, Problem>,
        needs: Needs,
        printer: &Printer,
    ) -> Result<(Session, DeployConfig, Preflight), Exit> {
        let command = task.name();
        let conn = Connection::new(g.profile.clone(), g.endpoint_url.clone(), task);
        let rollout = match rollout {
            Ok(r) => r,
            Err(p) => {
                printer.error(&p.to_string());
                let head = render::Head {
                    command,
                    dry_run: args.dry_run,
                    shard: args.targets.shard.map(|s| s.to_string()),
                };
                printer.json_only(|| render::json(&head, &[], &[p]));
                return Err(Exit::BadInput);
            }
        };
        let env_region = match &g.region {
            Some(_) => None,
            None => crate::aws::default_region(&conn).await,
        };
        let (cfg, pf) = config::resolve(
            args,
            g.region.as_deref(),
            env_region.as_deref(),
            rollout.as_ref(),
            needs,
        );
        for n in &cfg.notices {
            printer.info(n);
        }
        let session = Session {
            command,
            printer: printer.clone(),
            dry_run: cfg.dry_run,
            shard: args.targets.shard,
            conn,
            pace: Pace {
                interval: g.poll_interval.unwrap_or(Pace::default().interval),
                settle: g.settle.unwrap_or(Pace::default().settle),
                timeout: cfg.timeout,
                ..Pace::default()
            },
            learnt: Learnt::default(),
            cancel: Arc::new(Cancel::default()),
            ledger: Arc::new(Ledger::default()),
            progress: printer.progress(),
        };
        session.listen_for_interrupts();
        Ok((session, cfg, pf))
    }

    pub fn watch(&self) -> Watch<'_> {
        Watch {
            reporter: self,
            pace: self.pace,
            cancel: &self.cancel,
            learnt: &self.learnt,
        }
    }

    pub fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Observe and decide every target, a few at a time; reads only. `None` when interrupted
    /// (then the run is over: exit 130).
    pub async fn preflight<T>(
        &self,
        cfg: &DeployConfig,
        decide: impl AsyncFn(&TargetConfig, &AwsCloud, Watch<'_>) -> T,
    ) -> Result<Vec<Checked<T>>, Exit> {
        let decide = &decide;
        let watch = self.watch();
        let conn = &self.conn;
        let all = at_most(
            cfg.concurrency,
            cfg.targets.iter().cloned(),
            |t| async move {
                let outcome = match AwsCloud::connect(conn, &t.region, t.role().as_deref()).await {
                    Ok(cloud) => Ok(decide(&t, &cloud, watch).await),
                    Err(e) => Err(unconnected(&t, e)),
                };
                Checked { target: t, outcome }
            },
        );
        tokio::select! {
            all = all => Ok(all),
            _ = self.cancel.cancelled() => {
                self.progress.finish();
                self.printer.error("interrupted during the preflight; nothing was changed");
                self.printer.json_only(|| render::json(&self.head(self.dry_run), &[], &[]));
                Err(Exit::Interrupted)
            }
        }
    }

    /// Print each target's problems and warnings (labelled when there are several), and split
    /// the targets into those ready to apply and those that failed their preflight.
    pub fn sort_out(&self, checked: Vec<Checked<Decision>>) -> (Vec<Ready>, Vec<TargetResult>) {
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
        // A problem of the run's own credentials, profile or endpoint is the same for every
        // target: said once, without a label.
        let mut said = std::collections::BTreeSet::new();
        let run_wide = |p: &Problem| {
            matches!(p.input, Input::Profile | Input::EndpointUrl)
                || (p.input == Input::AwsIdentity && !p.subject.contains(" role "))
        };
        for c in checked {
            let Decision { plan, preflight } = match c.outcome {
                Ok(d) => d,
                Err(p) => {
                    let mut preflight = Preflight::default();
                    preflight.problem(p);
                    Decision {
                        plan: None,
                        preflight,
                    }
                }
            };
            for p in &preflight.problems {
                if !run_wide(p) {
                    self.printer.error(&label(&c.target, &plan, p.to_string()));
                } else if said.insert(p.to_string()) {
                    self.printer.error(&p.to_string());
                }
            }
            for w in &preflight.warnings {
                self.printer.warn(&label(&c.target, &plan, w.to_string()));
            }
            match plan {
                Some(plan) if preflight.is_ok() => ready.push(plan),
                plan => failed.push(TargetResult::failed(
                    plan.map(|p| p.account).or(c.target.account.clone()),
                    &c.target,
                    preflight.problems,
                    &preflight.warnings,
                )),
            }
        }
        (ready, failed)
    }

    /// Print the problems of the whole run, then each target's; `Err(exit 2)` when the input
    /// has problems or no target is left.
    pub fn checked(
        &self,
        pf: &Preflight,
        mut checked: Vec<Checked<Decision>>,
    ) -> Result<(Vec<Ready>, Vec<TargetResult>), Exit> {
        for p in &pf.problems {
            self.printer.error(&p.to_string());
        }
        let mut decided: Vec<&mut Decision> = checked
            .iter_mut()
            .filter_map(|c| c.outcome.as_mut().ok())
            .collect();
        crate::plan::deploy::share_once(&mut decided);
        let (ready, failed) = self.sort_out(checked);
        if !pf.is_ok() || ready.is_empty() {
            self.progress.finish();
            return Err(self.input_exit(&pf.problems, &failed));
        }
        Ok((ready, failed))
    }

    /// Print every problem and return exit 2, with a JSON document when asked.
    pub fn bad_input(&self, problems: &[Problem], failed: &[TargetResult]) -> Exit {
        for p in problems {
            self.printer.error(&p.to_string());
        }
        self.input_exit(problems, failed)
    }

    /// Exit 2 for problems already printed, with a JSON document when asked.
    fn input_exit(&self, problems: &[Problem], failed: &[TargetResult]) -> Exit {
        let doc = || render::json(&self.head(self.dry_run), failed, problems);
        self.printer.json_only(doc);
        Exit::BadInput
    }

    /// The dry run's result: the plans, on stdout.
    pub fn show_dry_run(&self, plans: &[TargetPlan], failed: Vec<TargetResult>) -> Exit {
        self.progress.finish();
        let mut results: Vec<TargetResult> = plans.iter().map(TargetResult::planned).collect();
        let any_failed = !failed.is_empty();
        results.extend(failed);
        self.printer.result(
            || render::plan_text(plans),
            || render::json(&self.head(true), &results, &[]),
        );
        if any_failed { Exit::Failed } else { Exit::Ok }
    }

    /// The plan before a run, on stderr (stdout carries only the result).
    /// Without a terminal, every line names its target, as progress lines do.
    pub fn show_plan(&self, plans: &[TargetPlan]) {
        if !plans.iter().any(TargetPlan::changes) {
            return;
        }
        if self.printer.stderr_tty {
            self.printer.info(render::plan_text(plans).trim_end());
            return;
        }
        for p in plans {
            let label = p.label();
            for line in render::plan_text(std::slice::from_ref(p)).lines() {
                self.printer.info(&format!("[{label}] {line}"));
            }
        }
    }

    /// A yes from `--yes` or from the terminal; without either, a problem naming `--yes`.
    pub fn confirm(&self, yes: bool, question: &str, why: &str) -> Result<(), Refused> {
        if yes {
            return Ok(());
        }
        match self.printer.confirm(question) {
            Ok(Some(true)) => Ok(()),
            Ok(Some(false)) => Err(Refused::Problem(Problem::about(
                Input::Yes,
                "",
                "cancelled; nothing was changed",
            ))),
            Ok(None) => Err(Refused::Problem(
                Problem::about(Input::Yes, "", why.to_string())
                    .fix("pass --yes to allow it when no one can be asked"),
            )),
            Err(crate::ui::prompt::Interrupted) => Err(Refused::Interrupted),
        }
    }

    /// A confirmation that gave no yes ends the run before any change: exit 2 with the
    /// problem, or 130 when interrupted.
    pub fn refused(&self, why: Refused, failed: &[TargetResult]) -> Exit {
        match why {
            Refused::Problem(p) => self.bad_input(&[p], failed),
            Refused::Interrupted => {
                self.progress.finish();
                self.printer
                    .error("interrupted at the question; nothing was changed");
                self.printer
                    .json_only(|| render::json(&self.head(self.dry_run), failed, &[]));
                Exit::Interrupted
            }
        }
    }

    /// Apply every ready plan, a few targets at a time, exactly as planned.
    pub async fn apply(
        &self,
        ready: &[Ready],
        failed: &[TargetResult],
        concurrency: usize,
        on_failure: OnFailure,
    ) -> Vec<TargetResult> {
        self.ledger.begin(ready, failed);
        let watch = self.watch();
        let ledger = &self.ledger;
        let conn = &self.conn;
        // One account and region at a time per group: its Lambda stacks share its shared stack.
        let mut groups: Vec<Vec<(usize, &Ready)>> = Vec::new();
        for (i, r) in ready.iter().enumerate() {
            let key = (&r.account, &r.target.region);
            match groups
                .iter_mut()
                .find(|g| (&g[0].1.account, &g[0].1.target.region) == key)
            {
                Some(g) => g.push((i, r)),
                None => groups.push(vec![(i, r)]),
            }
        }
        let mut results: Vec<(usize, TargetResult)> =
            at_most(concurrency, groups, |group| async move {
                let mut done = Vec::new();
                for (i, plan) in group {
                    let t = &plan.target;
                    let r = match AwsCloud::connect(conn, &t.region, t.role().as_deref()).await {
                        Ok(cloud) => {
                            let exec = Executor {
                                cloud: &cloud,
                                watch,
                                on_failure,
                            };
                            exec.apply(plan).await
                        }
                        Err(e) => TargetResult::failed(
                            Some(plan.account.clone()),
                            t,
                            vec![unconnected(t, e)],
                            &plan.warnings,
                        ),
                    };
                    ledger.finish(&r);
                    done.push((i, r));
                }
                done
            })
            .await
            .into_iter()
            .flatten()
            .collect();
        results.sort_by_key(|(i, _)| *i);
        self.progress.finish();
        let mut results: Vec<TargetResult> = results.into_iter().map(|(_, r)| r).collect();
        results.extend(failed.iter().cloned());
        results
    }

    /// The results on stdout, the errors on stderr, and the exit code.
    pub fn report(&self, results: &[TargetResult]) -> Exit {
        self.report_with(results, None)
    }

    /// [`Session::report`], with the run's XDR check (`verify --xdr`).
    pub fn report_with(&self, results: &[TargetResult], xdr: Option<&render::XdrCheck>) -> Exit {
        self.progress.finish();
        self.printer.result(
            || render::results_with_xdr_text(results, xdr),
            || render::json_with(&self.head(self.dry_run), results, &[], xdr),
        );
        for r in results {
            if let Some(e) = &r.error {
                self.printer.error(&format!("{}: {e}", render::place(r)));
            }
        }
        if self.interrupted() {
            self.printer.error(
                "interrupted: what is done is listed above; re-run the same command to resume",
            );
            return Exit::Interrupted;
        }
        let failed = |o: Outcome| {
            matches!(
                o,
                Outcome::Failed | Outcome::InProgress | Outcome::Unhealthy
            )
        };
        if results.iter().any(|r| failed(r.outcome)) {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }

    /// The first Ctrl-C (or SIGTERM) stops starting new steps and stops waiting; the write in
    /// flight finishes. A second one prints every target as it stands and exits at once.
    fn listen_for_interrupts(&self) {
        let (cancel, ledger, printer) = (
            self.cancel.clone(),
            self.ledger.clone(),
            self.printer.clone(),
        );
        let head = self.head(self.dry_run);
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
            printer.result(
                || render::results_text(&now),
                || render::json(&head, &now, &[]),
            );
            printer.error("interrupted again: exiting now; re-run the same command to resume");
            std::process::exit(Exit::Interrupted as i32);
        });
    }
}

/// `work` on each item, at most `limit` at once. A slot is freed the moment its item is done,
/// whatever the items before it are doing (one slow target never holds back the others); the
/// answers come back in the items' order.
async fn at_most<I, T, F, Fut>(limit: usize, items: impl IntoIterator<Item = I>, work: F) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut done: Vec<(usize, T)> = futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let answer = work(item);
            async move { (i, answer.await) }
        })
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, answer)| answer).collect()
}

/// Why a target's clients could not be made.
fn unconnected(t: &TargetConfig, e: anyhow::Error) -> Problem {
    Problem::about(
        Input::AwsIdentity,
        t.label(),
        format!("cannot set up AWS clients: {e:#}"),
    )
    .fix("check the AWS credentials, --profile and --role-arn")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::at_most;

    /// One slow item among fast ones, two at a time: the fast ones all finish in the other
    /// slot while the slow one runs, and the answers keep the items' order.
    #[tokio::test]
    async fn a_slow_item_holds_back_no_other() {
        let finished = Mutex::new(Vec::new());
        let pauses = [300u64, 5, 5, 5, 5, 5, 5, 5];
        let answers = at_most(2, pauses.iter().enumerate(), |(i, ms)| {
            let finished = &finished;
            async move {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                finished.lock().unwrap().push(i);
                i * 10
            }
        })
        .await;
        assert_eq!(answers, [0, 10, 20, 30, 40, 50, 60, 70]);
        let order = finished.into_inner().unwrap();
        assert_eq!(
            order.last(),
            Some(&0),
            "the slow one held the others: {order:?}"
        );
    }
}
