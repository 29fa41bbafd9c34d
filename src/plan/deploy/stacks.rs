//! The two stacks: whether each is created, updated, re-created or left alone, and why.

use super::Ctx;
use crate::input::{Input, Problem};
use crate::plan::observe::{Fact, StackSeen};
use std::sync::Arc;

use crate::plan::{Action, FunctionRef, Op, StackParam, Step};
use crate::template::Template;
use crate::template::names;

/// Which of the two stacks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Shared,
    Lambda,
}

impl Which {
    fn word(self) -> &'static str {
        match self {
            Which::Shared => "shared",
            Which::Lambda => "Lambda",
        }
    }

    fn input(self) -> Input {
        match self {
            Which::Shared => Input::SharedStackName,
            Which::Lambda => Input::StackName,
        }
    }

    /// The steps that delete a dead stack, and that make (or update) it from `template`.
    fn ops(self, template: Arc<Template>) -> (Op, Op) {
        match self {
            Which::Shared => (
                Op::DeleteSharedStack {
                    exports: Vec::new(),
                },
                Op::SharedStack(template),
            ),
            Which::Lambda => (Op::DeleteLambdaStack, Op::LambdaStack(template)),
        }
    }
}

impl<'a> Ctx<'a> {
    pub(super) fn stacks(&mut self) {
        self.stack(Which::Shared);
        self.stack(Which::Lambda);
    }

    fn stack(&mut self, which: Which) {
        let seen = self.stack_fact(which);
        let name = match which {
            Which::Shared => self.t.shared_stack_name.clone(),
            Which::Lambda => self.t.stack_name.clone(),
        };
        let s = match seen {
            Fact::NotRead => return,
            Fact::Failed(e) => {
                let p = Problem::about(which.input(), format!("stack {name}"), e.to_string());
                self.problem(p);
                return;
            }
            Fact::Known(None) => return self.create(which, &name, false),
            Fact::Known(Some(s)) => s,
        };
        let status = &s.info.status;
        if status.needs_recreate() {
            self.create(which, &name, true);
        } else if status.healthy() {
            match which {
                Which::Shared => self.shared_update(s),
                Which::Lambda => self.lambda_update(s),
            }
        } else {
            let p = stuck(which, s);
            self.problem(p);
        }
    }

    /// Export names are unique per account and region: another stack that already exports
    /// the shared stack's names makes its create fail after the fact.
    fn exports_taken(&mut self, name: &str) {
        let Fact::Known(exports) = &self.seen.exports else {
            return;
        };
        let wanted = self
            .local
            .shared_template
            .export_names(name, &self.t.region, &self.account);
        for e in exports
            .iter()
            .filter(|e| wanted.contains(&e.name) && e.stack_name() != name)
        {
            let p = Problem::value(
                Input::SharedStackName,
                name,
                format!(
                    "stack {} already exports {} in {}; export names are unique per account and region, so a second shared stack cannot be created",
                    e.stack_name(),
                    e.name,
                    self.t.region
                ),
            )
            .fix(format!(
                "use that stack (--shared-stack-name {}), or delete it if it is a leftover",
                e.stack_name()
            ));
            self.problem(p);
        }
    }

    /// Create the stack; first delete one that can only be deleted.
    fn create(&mut self, which: Which, name: &str, recreate: bool) {
        if which == Which::Shared {
            self.exports_taken(name);
        }
        let template = match which {
            Which::Shared => self.local.shared_template.clone(),
            Which::Lambda => self.local.lambda_template.clone(),
        };
        let (delete, make) = which.ops(template);
        if recreate && let Fact::Known(Some(s)) = self.stack_fact(which) {
            let detail = format!(
                "stack {name} is {}: delete it, then create it again",
                s.info.status
            );
            self.step(delete, Action::Delete, detail);
        }
        let detail = match which {
            Which::Shared => format!(
                "create stack {name} (XDR region {}, credentials from {})",
                self.t.taegis_region, self.t.credentials
            ),
            Which::Lambda => format!(
                "create stack {name} (bucket {}, code s3://{}/{})",
                self.t.notification_bucket,
                self.t.lambda_bucket,
                self.zip_key()
            ),
        };
        let params = self.params(which);
        self.steps.push(Step {
            parameters: params,
            ..Step::new(make, Action::Create, detail)
        });
    }

    /// What was observed of the stack (borrowed from the observation, not from `self`).
    fn stack_fact(&self, which: Which) -> &'a Fact<Option<StackSeen>> {
        let seen: &'a crate::plan::observe::Observed = self.seen;
        match which {
            Which::Shared => &seen.shared_stack,
            Which::Lambda => &seen.lambda_stack,
        }
    }

    fn params(&self, which: Which) -> Vec<StackParam> {
        match which {
            Which::Shared => self.shared_params.clone(),
            Which::Lambda => self.lambda_params.clone(),
        }
    }

    /// Does the stack run another template than `template`? (A read failure is a problem.)
    fn template_changed(&mut self, which: Which, s: &StackSeen, template: &Template) -> bool {
        match &s.template {
            Fact::Known(body) => body.trim() != template.body.trim(),
            Fact::Failed(e) => {
                let p = Problem::about(
                    which.input(),
                    format!("stack {}", s.info.name),
                    format!("cannot read its template ({e})"),
                );
                self.problem(p);
                false
            }
            Fact::NotRead => false,
        }
    }

    fn shared_update(&mut self, s: &StackSeen) {
        let mut why = Vec::new();
        let previous = s.info.parameters.get(names::TAEGIS_REGION).cloned();
        let wanted = self.t.taegis_region.clone();
        if previous.as_deref() != Some(wanted.as_str()) {
            let previous = previous.unwrap_or_else(|| "(none)".into());
            if self
                .seen
                .lambda_stack
                .known()
                .and_then(Option::as_ref)
                .is_some_and(|l| !l.info.status.needs_recreate())
            {
                // The shared stack exports the XDR region and the Lambda stack imports it:
                // CloudFormation refuses to change an export that is in use.
                let lambda = self.t.stack_name.clone();
                self.problem(
                    Problem::value(
                        Input::TaegisRegion,
                        &wanted,
                        format!(
                            "stack {} was deployed for XDR region {previous}, and stack {lambda} imports it; CloudFormation cannot change an export in use",
                            s.info.name
                        ),
                    )
                    .fix(format!(
                        "delete stack {lambda} first (its trigger goes with it), then deploy again, or keep --taegis-region {previous}"
                    )),
                );
            }
            why.push(format!("XDR region {previous} -> {wanted}"));
        }
        let template = self.local.shared_template.clone();
        if self.template_changed(Which::Shared, s, &template) {
            why.push("template changed".to_string());
        }
        if self.local.update_credentials {
            why.push("re-send the credentials (--update-credentials)".to_string());
        }
        let (action, detail) = match why.is_empty() {
            true => (
                Action::Skip,
                format!(
                    "stack {} is {} and up to date; credentials kept",
                    s.info.name, s.info.status
                ),
            ),
            false => (
                Action::Update,
                format!("update stack {}: {}", s.info.name, why.join(", ")),
            ),
        };
        self.steps.push(Step {
            parameters: self.shared_params.clone(),
            ..Step::new(Op::SharedStack(template), action, detail)
        });
    }

    fn lambda_update(&mut self, s: &StackSeen) {
        match &self.seen.function {
            Fact::Known(Some(f)) => {
                self.reserved_now = f.reserved_concurrency.unwrap_or(0);
                self.function = Some(FunctionRef {
                    name: f.name.clone(),
                    arn: f.arn.clone(),
                });
            }
            Fact::Known(None) => self.warn(Problem::about(
                Input::StackName,
                format!("stack {}", s.info.name),
                "holds no Lambda function",
            )),
            Fact::Failed(e) => self.problem(Problem::about(
                Input::StackName,
                format!("stack {}", s.info.name),
                format!("cannot read its function ({e})"),
            )),
            Fact::NotRead => {}
        }
        // What the stack's parameters will be: ours, and the template's defaults for the rest
        // (an update resets a parameter that is not passed to its default).
        let mut why: Vec<String> = self
            .lambda_params
            .iter()
            .filter(|p| p.shown != crate::plan::MASKED)
            .filter(|p| s.info.parameters.get(&p.name) != Some(&p.shown))
            .map(|p| {
                let old = s
                    .info
                    .parameters
                    .get(&p.name)
                    .map(|c| format!("{c:?}"))
                    .unwrap_or("(none)".into());
                format!("{} {old} -> {:?}", p.name, p.shown)
            })
            .collect();
        let template = self.local.lambda_template.clone();
        if self.template_changed(Which::Lambda, s, &template) {
            why.push("template changed".into());
        }
        let (action, detail) = if why.is_empty() {
            (
                Action::Skip,
                format!("stack {} is {} and up to date", s.info.name, s.info.status),
            )
        } else {
            (
                Action::Update,
                format!("update stack {}: {}", s.info.name, why.join(", ")),
            )
        };
        self.steps.push(Step {
            parameters: self.lambda_params.clone(),
            ..Step::new(Op::LambdaStack(template), action, detail)
        });
    }
}

/// A stack in a state the tool cannot work from: in progress still (the follow ended), or
/// failed in a way only a person can repair.
fn stuck(which: Which, s: &StackSeen) -> Problem {
    let subject = format!("{} stack {}", which.word(), s.info.name);
    if s.info.status.in_progress() {
        return Problem::about(
            which.input(),
            subject,
            format!(
                "is {} (another deploy, or one that was interrupted)",
                s.info.status
            ),
        )
        .fix("wait until it settles and re-run");
    }
    let reason = s
        .info
        .reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    Problem::about(
        which.input(),
        subject,
        format!("is {}{reason}", s.info.status),
    )
    .fix("repair or delete it in CloudFormation, then re-run")
}
