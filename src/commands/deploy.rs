//! `deploy`: config → local inputs → observe and decide per target → show → (confirm) → apply
//! → report. The dry run is the same path, stopping after "show". Every problem of every stage
//! and target is reported together, before anything changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::Exit;
use super::inputs;
use super::session::{Refused, Session};
use crate::cli::{DeployArgs, Global};
use crate::config::{CredentialsSource, Needs, TargetConfig};
use crate::input::{Input, Preflight, Problem};
use crate::kinds::Task;
use crate::plan::deploy::{self, Local};
use crate::plan::observe::observe;
use crate::plan::{Action, LambdaZip, StepKind, TargetPlan};
use crate::secret::Secret;
use crate::template::Template;
use crate::ui::Printer;

/// What a deploy asks before it changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Only creating a bucket needs a yes (`--yes`, or the terminal).
    Buckets,
    /// The whole plan, at the terminal (`setup`).
    Plan,
}

pub async fn run(g: &Global, args: &DeployArgs, printer: &Printer) -> Exit {
    let rollout = super::session::load_rollout(args.targets.config.as_deref());
    execute(g, args, rollout, printer, Confirm::Buckets).await
}

/// The deploy of `args` and the rollout file (read, or made by `setup`), asking what
/// `confirm` says before the first change.
pub async fn execute(
    g: &Global,
    args: &DeployArgs,
    rollout: Result<Option<crate::config::Rollout>, Problem>,
    printer: &Printer,
    confirm: Confirm,
) -> Exit {
    // 1. Configuration: flags, rollout file, defaults.
    let (session, mut cfg, mut pf) =
        match Session::configure_from(Task::Deploy, g, args, rollout, Needs::Deploy, printer).await
        {
            Ok(c) => c,
            Err(exit) => return exit,
        };
    if !args.retry_from.is_empty() {
        retry_only(&args.retry_from, &mut cfg.targets, &mut pf, printer);
        if cfg.targets.is_empty() && pf.is_ok() {
            return session.report(&[]);
        }
    }
    // 2. Local inputs, each read once (those of entries without a usable region too).
    let files = LocalFiles::read(&mut cfg.targets, cfg.update_credentials, printer, &mut pf);
    LocalFiles::check_unplaced(&mut cfg.unplaced, printer, &mut pf);
    // 3. Observe and decide, per target, reading only.
    let decide =
        async |t: &TargetConfig, cloud: &crate::aws::AwsCloud, watch: crate::plan::Watch<'_>| {
            let local = files.local_for(t);
            let seen = observe(cloud, t, |x, seen| deploy::reads(x, seen, &local), watch).await;
            deploy::decide(t, &local, &seen)
        };
    let checked = match session.preflight(&cfg, decide).await {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let (ready, failed) = match session.checked(&pf, checked) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    // 4. Show, and confirm what needs it.
    let plans: &[TargetPlan] = &ready;
    if cfg.dry_run {
        return session.show_dry_run(plans, failed);
    }
    session.show_plan(plans);
    if let Err(why) = confirm.ask(&session, g.yes, plans) {
        return session.refused(why, &failed);
    }
    // 5. Apply, exactly the plan; 6. report.
    let results = session
        .apply(&ready, &failed, cfg.concurrency, cfg.on_failure)
        .await;
    session.report(&results)
}

impl Confirm {
    /// Ask what needs asking before the first change of `plans`.
    fn ask(self, session: &Session, yes: bool, plans: &[TargetPlan]) -> Result<(), Refused> {
        match self {
            Confirm::Buckets => confirm_buckets(session, yes, plans),
            Confirm::Plan if plans.iter().any(TargetPlan::changes) => {
                session.confirm(yes, "Deploy this plan?", "setup asks before it deploys")
            }
            Confirm::Plan => Ok(()),
        }
    }
}

/// The files every target shares, each read once. A file that could not be read is `None`:
/// its problem is recorded, its input marked flawed on the targets that use it, and a stand-in
/// lets the other checks run.
struct LocalFiles {
    /// The credentials: needed only where a shared stack is created or they are re-sent, so
    /// their problem is the decision's to report.
    secrets: BTreeMap<CredentialsSource, Result<Arc<Secret>, Problem>>,
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
            if !f.secrets.contains_key(&t.credentials) {
                let secret = inputs::read_credentials(&t.credentials).map(|s| {
                    printer.redact(&s);
                    Arc::new(s)
                });
                f.secrets.insert(t.credentials.clone(), secret);
            }
            let zip = once(&mut f.zips, &t.lambda_zip, pf, || {
                inputs::read_zip(&t.lambda_zip)
            });
            let (shared, lambda) = f.templates_of(t, pf);
            for (ok, input) in [
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

    /// The target's two templates, each file (or bundled template) read once: whether each
    /// could be read.
    fn templates_of(&mut self, t: &TargetConfig, pf: &mut Preflight) -> (bool, bool) {
        let shared = once(
            &mut self.templates,
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
            &mut self.templates,
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
        (shared, lambda)
    }

    /// The entries without a usable region: their files and parameters are checked all the
    /// same, so that every problem is reported in one run.
    fn check_unplaced(unplaced: &mut [TargetConfig], printer: &Printer, pf: &mut Preflight) {
        for t in unplaced {
            let standin = LocalFiles::read(std::slice::from_mut(t), false, printer, pf);
            pf.extend(deploy::offline(t, &standin.local_for(t)));
        }
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
                    bytes: bytes::Bytes::new(),
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
            secret: self.secrets[&t.credentials].clone(),
            update_credentials: self.update_credentials,
            today: self.today.clone(),
        }
    }
}

/// The targets of an earlier run's JSON result that did not finish: (account, region, stack).
/// `--retry-from`: keep the targets the earlier results (one per shard) do not show finished.
fn retry_only(
    files: &[std::path::PathBuf],
    targets: &mut Vec<TargetConfig>,
    pf: &mut Preflight,
    printer: &Printer,
) {
    let mut seen = Vec::new();
    for path in files {
        match earlier(path) {
            Ok(results) => seen.extend(results),
            Err(p) => pf.problem(p),
        }
    }
    if pf.is_ok() {
        retain_unfinished(targets, &seen, printer);
    }
}

/// The targets of an earlier result: (account, region, stack) and whether it finished.
fn earlier(path: &std::path::Path) -> Result<Vec<(Earlier, bool)>, Problem> {
    let shown = path.display().to_string();
    let bad = |m: String| Problem::value(Input::RetryFrom, &shown, m);
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("is not a JSON result of taegis-cloudtrail ({e})")))?;
    let targets = doc["targets"].as_array().ok_or_else(|| {
        bad("has no `targets` list: give the --output json result of a deploy".into())
    })?;
    let finished = ["created", "updated", "unchanged", "planned"];
    Ok(targets
        .iter()
        .map(|t| {
            let text = |k: &str| t[k].as_str().map(str::to_string);
            let at = (
                text("account"),
                text("region").unwrap_or_default(),
                text("stack_name").unwrap_or(crate::config::DEFAULT_STACK.to_string()),
            );
            (
                at,
                finished.contains(&t["outcome"].as_str().unwrap_or_default()),
            )
        })
        .collect())
}

/// Where a target of an earlier result was: (account, region, Lambda stack).
type Earlier = (Option<String>, String, String);

/// Keep the targets that did not finish last time: those an earlier result (of any shard)
/// lists as unfinished, and those no result lists (not known to have finished).
fn retain_unfinished(targets: &mut Vec<TargetConfig>, seen: &[(Earlier, bool)], printer: &Printer) {
    let before = targets.len();
    let is = |t: &TargetConfig, (account, region, stack): &Earlier| {
        *region == t.region
            && *stack == t.stack_name
            && (t.account.is_none() || account.is_none() || *account == t.account)
    };
    let mut unlisted = 0;
    targets.retain(|t| {
        let listed: Vec<bool> = seen
            .iter()
            .filter(|(e, _)| is(t, e))
            .map(|(_, f)| *f)
            .collect();
        unlisted += usize::from(listed.is_empty());
        listed.is_empty() || listed.iter().any(|finished| !finished)
    });
    let unlisted = match unlisted {
        0 => String::new(),
        n => format!(" ({n} of them in no result given)"),
    };
    printer.info(&format!(
        "--retry-from: {} of {before} targets did not finish last time{unlisted}; working on those only",
        targets.len()
    ));
}

/// Creating a bucket needs a yes: `--yes`, or an answer at the terminal.
fn confirm_buckets(session: &Session, yes: bool, plans: &[TargetPlan]) -> Result<(), Refused> {
    let new_buckets: Vec<String> = plans
        .iter()
        .flat_map(|p| {
            p.steps
                .iter()
                .filter(|s| s.kind() == StepKind::LambdaBucket && s.action == Action::Create)
                .map(|_| format!("{} ({})", p.target.lambda_bucket, p.target.region))
        })
        .collect();
    if new_buckets.is_empty() {
        return Ok(());
    }
    let s = if new_buckets.len() == 1 { "" } else { "s" };
    let list = new_buckets.join(", ");
    session
        .confirm(
            yes,
            &format!("Create bucket{s} {list}?"),
            &format!("the plan creates bucket{s} {list}"),
        )
        .map_err(|why| match why {
            Refused::Problem(p) if p.fix.is_some() => Refused::Problem(p.fix(
                "pass --yes to allow it (or create the bucket yourself and give --lambda-bucket)",
            )),
            other => other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::TargetArgs;

    #[test]
    fn several_shards_results_retry_what_did_not_finish_and_what_none_of_them_lists() {
        let args = DeployArgs {
            targets: TargetArgs {
                regions: vec!["us-east-1".into(), "eu-west-1".into(), "us-west-2".into()],
                ..TargetArgs::default()
            },
            ..DeployArgs::default()
        };
        let (cfg, _) = crate::config::resolve(&args, None, None, None, Needs::Targets);
        let at = |region: &str| (None, region.to_string(), "taegis-cloudtrail".to_string());
        // Shard 1 finished us-east-1; shard 2 failed eu-west-1; no result lists us-west-2.
        let seen = [(at("us-east-1"), true), (at("eu-west-1"), false)];
        let mut targets = cfg.targets;
        let printer = Printer::new(
            crate::kinds::OutputFormat::Json,
            2,
            0,
            crate::kinds::ColorChoice::Never,
            true,
        );
        retain_unfinished(&mut targets, &seen, &printer);
        let left: Vec<&str> = targets.iter().map(|t| t.region.as_str()).collect();
        assert_eq!(left, ["eu-west-1", "us-west-2"]);
    }
}
