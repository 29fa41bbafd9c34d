//! `destroy`: the same targets as `deploy`, observed, then the removal decided in the safe
//! order, shown, confirmed (`--yes`, or at the terminal) and carried out by the same executor.

use super::Exit;
use super::session::Session;
use crate::aws::AwsCloud;
use crate::cli::{DeployArgs, DestroyArgs, Global};
use crate::config::{Needs, TargetConfig};
use crate::kinds::Task;
use crate::plan::destroy::{self, Scope};
use crate::plan::observe::observe;
use crate::plan::{TargetPlan, Watch};
use crate::ui::Printer;

pub async fn run(g: &Global, args: &DestroyArgs, printer: &Printer) -> Exit {
    let select = DeployArgs {
        targets: args.targets.clone(),
        dry_run: args.dry_run,
        ..DeployArgs::default()
    };
    let (session, cfg, pf) =
        match Session::configure(Task::Destroy, g, &select, Needs::Targets, printer).await {
            Ok(c) => c,
            Err(exit) => return exit,
        };
    let scope = Scope {
        shared: args.shared,
        zip: args.delete_zip,
    };
    let decide = async |t: &TargetConfig, cloud: &AwsCloud, watch: Watch<'_>| {
        let seen = observe(cloud, t, |x, seen| destroy::reads(x, seen, scope), watch).await;
        destroy::decide(t, scope, &seen)
    };
    let checked = match session.preflight(&cfg, decide).await {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let (ready, failed) = match session.checked(&pf, checked) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    let plans: &[TargetPlan] = &ready;
    if cfg.dry_run {
        return session.show_dry_run(plans, failed);
    }
    session.show_plan(plans);
    if plans.iter().any(TargetPlan::changes)
        && let Err(why) = session.confirm(
            g.yes,
            "Remove what is listed above?",
            "destroy removes what is listed above",
        )
    {
        return session.refused(why, &failed);
    }
    let results = session
        .apply(&ready, &failed, cfg.concurrency, cfg.on_failure)
        .await;
    session.report(&results)
}
