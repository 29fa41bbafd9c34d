//! The stacks: each read, one found mid-operation followed until it settles (only reading),
//! a healthy one's template; the Lambda stack's function and its policy; who imports the
//! shared stack's exports.

use anyhow::Result;

use super::{Fact, Observed, ReadError, StackSeen};
use crate::plan::cloud::{CloudReads, FunctionInfo, StackInfo};
use crate::plan::follow::{Follow, Settled, explain};
use crate::plan::status::Goal;
use crate::plan::{Event, Watch};

/// Read a stack; one found mid-operation (another run, or an interrupted one) is followed until
/// it settles, then read again. A healthy one's template is read too. Following only reads.
pub(super) async fn settled_stack<C: CloudReads>(
    cloud: &C,
    watch: Watch<'_>,
    label: &str,
    name: &str,
) -> Fact<Option<StackSeen>> {
    let read = |e: anyhow::Error| {
        Fact::Failed(ReadError::of(
            &e.context(format!("cannot read stack {name}")),
        ))
    };
    let info = match cloud.stack(name).await {
        Err(e) => return read(e),
        Ok(Some(s)) if s.status.in_progress() => match follow(cloud, watch, label, &s).await {
            Ok(info) => info,
            Err(e) => return read(e),
        },
        Ok(other) => other,
    };
    let Some(info) = info else {
        return Fact::Known(None);
    };
    let template = if info.status.healthy() {
        Fact::from_result(cloud.template_body(name).await)
    } else {
        Fact::NotRead
    };
    Fact::Known(Some(StackSeen { info, template }))
}

/// Follow a stack found mid-operation until it settles, and read it again.
async fn follow<C: CloudReads>(
    cloud: &C,
    watch: Watch<'_>,
    label: &str,
    s: &StackInfo,
) -> Result<Option<StackInfo>> {
    watch.reporter.event(Event::Notice {
        target: label.to_string(),
        text: format!(
            "stack {} is {} (another run, or an interrupted one): following it until it settles",
            s.name, s.status
        ),
    });
    let until = cloud
        .stack_events(&s.id, None)
        .await
        .ok()
        .and_then(|e| e.into_iter().next().map(|e| e.id));
    let follow = Follow {
        cloud,
        watch,
        target: label,
        outputs: true,
    };
    match follow
        .run(&s.name, &s.id, until.as_deref(), Goal::Settled)
        .await?
    {
        Settled::Done {
            stack: Some(info), ..
        } => Ok(Some(*info)),
        Settled::Done { .. } | Settled::Failed { .. } => cloud.stack(&s.name).await,
        other => Err(explain(&s.name, &other)),
    }
}

/// The function of a Lambda stack: from its outputs, else from its resources.
pub async fn find_function<C: CloudReads>(
    cloud: &C,
    stack: &StackInfo,
) -> Result<Option<FunctionInfo>> {
    let name = match stack
        .outputs
        .get("FunctionName")
        .or_else(|| stack.outputs.get("FunctionArn"))
    {
        Some(n) => Some(n.clone()),
        None => cloud.stack_function(&stack.name).await?,
    };
    match name {
        Some(n) => cloud.function(&n).await,
        None => Ok(None),
    }
}

/// The Lambda stack's function and its policy.
pub(super) async fn read_function<C: CloudReads>(cloud: &C, seen: &mut Observed) {
    let Some(stack) = seen.healthy_lambda_stack() else {
        return;
    };
    seen.function = Fact::from_result(find_function(cloud, &stack.info).await);
    if let Some(Some(f)) = seen.function.known() {
        seen.statements = Fact::from_result(cloud.policy_statements(&f.name).await);
    }
}

/// Who imports each export of the shared stack.
pub(super) async fn read_imports<C: CloudReads>(cloud: &C, seen: &mut Observed) {
    let Some(Some(shared)) = seen.shared_stack.known() else {
        return;
    };
    for export in shared.info.export_names.clone() {
        let importers = Fact::from_result(cloud.imports(&export).await);
        seen.imports.insert(export, importers);
    }
}
