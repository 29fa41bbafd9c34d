//! Several Lambda stacks of one account and region in one run: the work done once per account
//! and region (the zip bucket, the zip, large templates, the shared stack) is done by the
//! first, skipped by the others; a second shared stack there is refused.

use std::collections::BTreeMap;

use super::Decision;
use crate::input::{Input, Problem};
use crate::plan::{Action, Op, Step, StepKind, TargetPlan};

/// The steps done once per account and region, whatever the number of Lambda stacks there.
fn once_key(plan: &TargetPlan, step: &Step) -> Option<String> {
    let t = &plan.target;
    match &step.op {
        Op::LambdaBucket => Some(format!("bucket {}", t.lambda_bucket)),
        Op::UploadZip { key, .. } => Some(format!("object {}/{key}", t.lambda_bucket)),
        Op::UploadTemplates(_) => Some(format!("templates {}", step.detail)),
        Op::SharedStack(_) | Op::DeleteSharedStack { .. } => {
            Some(format!("{} {}", step.kind().name(), t.shared_stack_name))
        }
        _ => None,
    }
}

/// Several Lambda stacks of one account and region in one run share the work done once per
/// account and region (the zip bucket, the zip, large templates, the shared stack): the first
/// does it, the others skip it. A second shared stack there would fight the first for its
/// exports: refused.
pub fn share_once(decisions: &mut [&mut Decision]) {
    // (account, region) -> (Lambda stack, shared stack, once-steps it does)
    let mut first: BTreeMap<(String, String), (String, String, Vec<String>)> = BTreeMap::new();
    for d in decisions.iter_mut() {
        // A deploy's plan (it makes or keeps a Lambda stack).
        let deploys =
            |p: &&mut TargetPlan| p.steps.iter().any(|s| s.kind() == StepKind::LambdaStack);
        let Some(plan) = d.plan.as_mut().filter(deploys) else {
            continue;
        };
        let key = (plan.account.clone(), plan.target.region.clone());
        let Some((stack, shared, done)) = first.get(&key).cloned() else {
            let done = plan
                .steps
                .iter()
                .filter(|s| s.action != Action::Skip)
                .filter_map(|s| once_key(plan, s))
                .collect();
            let owner = (
                plan.target.stack_name.clone(),
                plan.target.shared_stack_name.clone(),
                done,
            );
            first.insert(key, owner);
            continue;
        };
        if plan.target.shared_stack_name != shared {
            d.preflight.problem(
                Problem::value(Input::SharedStackName, &plan.target.shared_stack_name, format!(
                    "stack {stack} of this run uses shared stack {shared} in {}; the shared stack is once per account and region",
                    plan.target.region
                ))
                .fix(format!("use --shared-stack-name {shared} for every Lambda stack there")),
            );
            continue;
        }
        let steps: Vec<(usize, Option<String>)> = plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (i, once_key(plan, s)))
            .collect();
        for (i, k) in steps {
            if let Some(k) = k.filter(|k| done.contains(k)) {
                let s = &mut plan.steps[i];
                s.action = Action::Skip;
                s.detail = format!(
                    "{k}: done once for this account and region, by stack {stack}'s steps in this run"
                );
            }
        }
    }
}
