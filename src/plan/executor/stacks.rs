//! The stacks: creating or updating one and following it until it settles (a failed create
//! deleted unless `--on-failure keep`), deleting one (the shared stack only when nothing
//! imports its exports), and the function the settled Lambda stack holds.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};

use super::{Executor, Run};
use crate::kinds::OnFailure;
use crate::plan::cloud::{Cloud, StackInfo, TemplateSource, UpdateStarted};
use crate::plan::follow::{Follow, Settled, explain};
use crate::plan::observe::find_function;
use crate::plan::status::Goal;
use crate::plan::{Action, FunctionRef, ParamValue, StackParam, Step};
use crate::template::Template;

impl<C: Cloud> Executor<'_, C> {
    /// The Lambda stack, then its function (a stack update may have replaced it).
    pub(super) async fn lambda_stack(
        &self,
        run: &mut Run<'_>,
        step: &Step,
        template: &Template,
    ) -> Result<String> {
        let (plan, action) = (run.plan, step.action);
        let name = &plan.target.stack_name;
        let source = plan.template_source(template);
        let params = sent(&step.parameters);
        let (done, settled) = self
            .stack_op(&run.label, name, &source, &params, (action, true))
            .await?;
        // The settled stack's outputs name the function (the bundled template's do); else it
        // is looked up.
        let outputs = settled.as_ref().map(|s| &s.outputs);
        let f = match outputs.and_then(|o| Some((o.get("FunctionName")?, o.get("FunctionArn")?))) {
            Some((name, arn)) => FunctionRef {
                name: name.clone(),
                arn: arn.clone(),
            },
            None => self.function_of(name, settled.as_ref()).await?,
        };
        let text = format!("{done}; function {}", f.name);
        run.function = Some(f);
        Ok(text)
    }

    /// The function of a stack that has settled (as it settled, when known).
    async fn function_of(&self, name: &str, settled: Option<&StackInfo>) -> Result<FunctionRef> {
        let f = self
            .persist(|| async {
                let stack = match settled {
                    Some(s) => s.clone(),
                    None => self
                        .cloud
                        .stack(name)
                        .await?
                        .ok_or_else(|| anyhow!("stack {name} is gone after it settled"))?,
                };
                find_function(self.cloud, &stack).await
            })
            .await
            .with_context(|| format!("failed to find the function of stack {name}"))?
            .ok_or_else(|| anyhow!("stack {name} holds no Lambda function"))?;
        Ok(FunctionRef {
            name: f.name,
            arn: f.arn,
        })
    }

    /// The shared stack goes only when no stack imports its exports any more.
    pub(super) async fn delete_shared_stack(
        &self,
        run: &Run<'_>,
        exports: &[String],
    ) -> Result<String> {
        let name = &run.plan.target.shared_stack_name;
        for export in exports {
            let importers = self
                .persist(|| self.cloud.imports(export))
                .await
                .with_context(|| format!("failed to list the stacks that import {export}"))?;
            if !importers.is_empty() {
                return Err(anyhow!(
                    "stack {} still imports {export}; stack {name} (and the credentials in it) is kept: delete that stack first (destroy it with --stack-name {}), then re-run",
                    importers.join(" and "),
                    importers[0]
                ));
            }
        }
        self.delete_stack(&run.label, name).await
    }

    /// A follower; `outputs`: the stack as it settled is wanted (see [`Follow::outputs`]).
    fn follower<'b>(&'b self, label: &'b str, outputs: bool) -> Follow<'b, C> {
        Follow {
            cloud: self.cloud,
            watch: self.watch,
            target: label,
            outputs,
        }
    }

    /// The id of the newest event of a stack, so that following starts after it.
    async fn newest_event(&self, stack_id: &str) -> Option<String> {
        self.persist(|| self.cloud.stack_events(stack_id, None))
            .await
            .ok()
            .and_then(|events| events.into_iter().next().map(|e| e.id))
    }

    pub(super) async fn delete_stack(&self, label: &str, name: &str) -> Result<String> {
        let Some(stack) = self
            .persist(|| self.cloud.stack(name))
            .await
            .with_context(|| format!("failed to read stack {name}"))?
        else {
            return Ok(format!("stack {name} was already gone"));
        };
        let until = self.newest_event(&stack.id).await;
        self.cloud
            .delete_stack(&stack.id)
            .await
            .with_context(|| format!("failed to delete stack {name}"))?;
        match self
            .follower(label, false)
            .run(name, &stack.id, until.as_deref(), Goal::Deleted)
            .await?
        {
            Settled::Done { .. } => Ok(format!("deleted stack {name} (was {})", stack.status)),
            other => Err(explain(name, &other)),
        }
    }

    /// Create or update a stack; what was done, and the stack as it settled (absent when there
    /// was nothing to update).
    pub(super) async fn stack_op(
        &self,
        label: &str,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
        (action, outputs): (Action, bool),
    ) -> Result<(String, Option<StackInfo>)> {
        match action {
            Action::Create => {
                self.create_stack(label, name, (template, params), outputs)
                    .await
            }
            Action::Update => {
                self.update_stack(label, name, (template, params), outputs)
                    .await
            }
            Action::Delete | Action::Skip => Err(anyhow!("no stack operation for {action:?}")),
        }
    }

    async fn create_stack(
        &self,
        label: &str,
        name: &str,
        (template, params): (&TemplateSource, &BTreeMap<String, ParamValue>),
        outputs: bool,
    ) -> Result<(String, Option<StackInfo>)> {
        let id = self
            .cloud
            .create_stack(name, template, params)
            .await
            .with_context(|| format!("failed to create stack {name}"))?;
        let failed = match self
            .follower(label, outputs)
            .run(name, &id, None, Goal::Created)
            .await?
        {
            Settled::Done { stack, .. } => {
                return Ok((format!("created stack {name}"), stack.map(|s| *s)));
            }
            failed @ Settled::Failed { .. } => failed,
            other => return Err(explain(name, &other)),
        };
        let err = explain(name, &failed);
        if self.on_failure == OnFailure::Keep {
            return Err(err.context(format!(
                "stack {name} was kept for inspection (--on-failure keep); the next deploy deletes and re-creates it"
            )));
        }
        match self.delete_stack(label, name).await {
            Ok(_) => Err(anyhow!(
                "{err:#}; the failed stack was deleted so that a re-run starts clean (--on-failure keep keeps it)"
            )),
            Err(e) => Err(anyhow!(
                "{err:#}; deleting the failed stack also failed: {e:#}"
            )),
        }
    }

    async fn update_stack(
        &self,
        label: &str,
        name: &str,
        (template, params): (&TemplateSource, &BTreeMap<String, ParamValue>),
        outputs: bool,
    ) -> Result<(String, Option<StackInfo>)> {
        let before = self
            .persist(|| self.cloud.stack(name))
            .await
            .with_context(|| format!("failed to read stack {name}"))?
            .ok_or_else(|| anyhow!("stack {name} disappeared before its update"))?;
        let until = self.newest_event(&before.id).await;
        let started = self
            .cloud
            .update_stack(name, template, params)
            .await
            .with_context(|| format!("failed to update stack {name}"))?;
        let UpdateStarted::Started { stack_id } = started else {
            return Ok((format!("stack {name} needed no update"), None));
        };
        match self
            .follower(label, outputs)
            .run(name, &stack_id, until.as_deref(), Goal::Updated)
            .await?
        {
            Settled::Done { stack, .. } => Ok((format!("updated stack {name}"), stack.map(|s| *s))),
            other => Err(explain(name, &other)),
        }
    }
}

/// The parameters that are sent (the rest take the template's default).
pub(super) fn sent(params: &[StackParam]) -> BTreeMap<String, ParamValue> {
    params
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.sent.clone()?)))
        .collect()
}
