//! The plan as a value. A run is observe → decide → show → (confirm) → apply → report:
//! `observe` is the only part of planning that reads the cloud (`cloud` declares the reads and
//! writes, the `aws` room implements them); `deploy` decides, purely, from what was observed;
//! the `executor` performs exactly the planned steps and reports progress as events, which the
//! terminal layer (and the `ledger`) turn into output.

pub mod cloud;
pub mod deploy;
pub mod destroy;
pub mod executor;
pub mod fact;
pub mod follow;
pub mod hints;
pub mod identity;
pub mod ledger;
pub mod marks;
pub mod observe;
pub mod policy;
pub mod settle;
pub mod status;
pub mod trail;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::TargetConfig;
use crate::input::{Problem, Source};
use crate::secret::Secret;
use crate::template::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Planned,
    Done,
    Skipped,
    Failed,
    /// Started, and still running in AWS when the run stopped waiting (timeout, interruption).
    InProgress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Planned,
    Created,
    Updated,
    Unchanged,
    Failed,
    /// A stack operation is still running in AWS; re-running the command resumes.
    #[serde(rename = "in_progress")]
    InProgress,
    /// `destroy` removed something.
    Destroyed,
    /// `verify`: every check ok (warnings allowed).
    Healthy,
    /// `verify`: a check failed.
    Unhealthy,
}

/// What a step works on. The name is the step's stable name in output and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    LambdaBucket,
    UploadZip,
    UploadTemplate,
    DeleteSharedStack,
    SharedStack,
    DeleteLambdaStack,
    LambdaStack,
    InvokePermission,
    BucketNotification,
    SnsSubscription,
    RemoveOldTrigger,
    RemoveNotification,
    RemovePermission,
    RemoveSubscription,
    DeleteZip,
}

impl StepKind {
    /// The steps that wire the function to its event source.
    pub fn is_trigger(self) -> bool {
        matches!(
            self,
            StepKind::InvokePermission | StepKind::BucketNotification | StepKind::SnsSubscription
        )
    }

    /// The steps that make the shared stack (deleting a dead one first).
    pub fn is_shared_stack(self) -> bool {
        matches!(self, StepKind::DeleteSharedStack | StepKind::SharedStack)
    }

    /// The zip bucket and what is uploaded to it.
    pub fn is_upload(self) -> bool {
        matches!(
            self,
            StepKind::LambdaBucket | StepKind::UploadZip | StepKind::UploadTemplate
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            StepKind::LambdaBucket => "lambda-bucket",
            StepKind::UploadZip => "upload-lambda-zip",
            StepKind::UploadTemplate => "upload-template",
            StepKind::DeleteSharedStack => "delete-shared-stack",
            StepKind::SharedStack => "shared-stack",
            StepKind::DeleteLambdaStack => "delete-lambda-stack",
            StepKind::LambdaStack => "lambda-stack",
            StepKind::InvokePermission => "invoke-permission",
            StepKind::BucketNotification => "bucket-notification",
            StepKind::SnsSubscription => "sns-subscription",
            StepKind::RemoveOldTrigger => "remove-old-trigger",
            StepKind::RemoveNotification => "remove-bucket-notification",
            StepKind::RemovePermission => "remove-invoke-permission",
            StepKind::RemoveSubscription => "remove-sns-subscription",
            StepKind::DeleteZip => "delete-lambda-zip",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    pub action: Action,
    /// Why, in a few words: what was found and what will be done.
    pub detail: String,
    /// For a stack step: every parameter its template declares, as it will be sent.
    pub parameters: Vec<StackParam>,
}

impl Step {
    pub fn new(kind: StepKind, action: Action, detail: impl Into<String>) -> Step {
        Step {
            kind,
            action,
            detail: detail.into(),
            parameters: Vec::new(),
        }
    }
}

/// The Lambda function of a deployed stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionRef {
    pub name: String,
    pub arn: String,
}

/// A parameter value as sent to CloudFormation.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Plain(String),
    Secret(Arc<Secret>),
    UsePrevious,
}

/// One parameter of a stack step: what is sent (nothing when the template's default applies),
/// what the user is shown, where the value came from, and the stack's value it replaces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackParam {
    pub name: String,
    #[serde(skip)]
    pub sent: Option<ParamValue>,
    /// The value as shown: `****` for the credentials and every NoEcho parameter.
    #[serde(rename = "value")]
    pub shown: String,
    pub source: Source,
    /// On an update, the stack's current value when it changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// What CloudFormation shows for a hidden value.
pub const MASKED: &str = "****";

/// The trigger wanted on the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerSpec {
    S3 {
        bucket: String,
        /// `arn:<partition>:s3:::<bucket>`, in the caller's partition.
        bucket_arn: String,
        prefix: String,
        /// Our entry's stable Id in the bucket's notification configuration.
        id: String,
        /// Entries (by Id) that already send these events to the function, added outside the
        /// tool: ours replaces them, as S3 refuses overlapping entries.
        replaces: Vec<String>,
        statement_id: String,
    },
    Sns {
        topic_arn: String,
        statement_id: String,
    },
}

impl TriggerSpec {
    /// The statement that lets the event source invoke the function, scoped to the source
    /// and the account that owns it: the bucket's (this account: an S3 trigger is made by the
    /// bucket's owner), or the topic's, which is another account's for an organisation trail's
    /// topic in the log-archive account (naming the function's own account there would deny
    /// every delivery, silently).
    pub fn statement(&self, account: &str) -> cloud::PolicyStatement {
        let (sid, principal, source, owner) = match self {
            TriggerSpec::S3 {
                bucket_arn,
                statement_id,
                ..
            } => (statement_id, "s3.amazonaws.com", bucket_arn, account),
            TriggerSpec::Sns {
                topic_arn,
                statement_id,
            } => (
                statement_id,
                "sns.amazonaws.com",
                topic_arn,
                topic_arn
                    .split(':')
                    .nth(4)
                    .filter(|a| !a.is_empty())
                    .unwrap_or(account),
            ),
        };
        cloud::PolicyStatement {
            sid: sid.clone(),
            principal: principal.into(),
            source_arn: Some(source.clone()),
            source_account: Some(owner.to_string()),
        }
    }
}

/// What is left of the trigger of an earlier deploy that this one no longer wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OldTrigger {
    /// (bucket, the Ids of the entries to remove)
    pub notification: Option<(String, Vec<String>)>,
    pub subscriptions: Vec<String>,
    /// Statement ids on the function.
    pub statements: Vec<String>,
}

impl OldTrigger {
    pub fn is_empty(&self) -> bool {
        self.notification.is_none() && self.subscriptions.is_empty() && self.statements.is_empty()
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some((bucket, ids)) = &self.notification {
            let s = if ids.len() == 1 { "y" } else { "ies" };
            parts.push(format!("entr{s} {} of bucket {bucket}", ids.join(", ")));
        }
        for s in &self.subscriptions {
            parts.push(format!("subscription {s}"));
        }
        for s in &self.statements {
            parts.push(format!("statement {s}"));
        }
        parts.join(", ")
    }
}

/// The Lambda zip as read from disk, once: every upload of it shares these bytes.
#[derive(Debug)]
pub struct LambdaZip {
    pub bytes: bytes::Bytes,
    pub sha256: String,
}

/// Everything the executor needs for one target: what was decided, and the inputs it uses.
#[derive(Debug, Clone)]
pub struct TargetPlan {
    /// The target's settings, `{account}` expanded.
    pub target: TargetConfig,
    pub account: String,
    /// aws, aws-us-gov, aws-cn: from the caller's ARN.
    pub partition: String,
    pub steps: Vec<Step>,
    /// Known when the Lambda stack already exists.
    pub function: Option<FunctionRef>,
    pub warnings: Vec<Problem>,
    /// What the steps work with, per command.
    pub work: Work,
}

/// What the steps of a command work with.
#[derive(Debug, Clone)]
pub enum Work {
    Deploy(Box<DeployWork>),
    Destroy(DestroyWork),
}

/// What a deploy's steps send.
#[derive(Debug, Clone)]
pub struct DeployWork {
    pub zip: Arc<LambdaZip>,
    pub zip_key: String,
    pub shared_template: Arc<Template>,
    pub lambda_template: Arc<Template>,
    pub shared_params: Vec<StackParam>,
    pub lambda_params: Vec<StackParam>,
    pub trigger: TriggerSpec,
    /// Removed by the `remove-old-trigger` step.
    pub old_trigger: OldTrigger,
}

/// What a destroy's steps remove.
#[derive(Debug, Clone, Default)]
pub struct DestroyWork {
    /// Our trigger: the bucket entries, subscriptions and statements.
    pub trigger: OldTrigger,
    /// The exports of the shared stack: its delete waits until nothing else imports them.
    pub shared_exports: Vec<String>,
    /// The zip bucket and the objects this tool stored there.
    pub objects: Option<(String, Vec<String>)>,
}

impl TargetPlan {
    pub fn label(&self) -> String {
        let place = format!("{}/{}", self.account, self.target.region);
        crate::config::with_stack(place, &self.target.stack_name)
    }

    /// What the plan will do, as the outcome a dry run reports.
    pub fn changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::Skip)
    }

    /// The deploy's work; an error for a plan of another command.
    pub fn deploy(&self) -> anyhow::Result<&DeployWork> {
        match &self.work {
            Work::Deploy(w) => Ok(w),
            Work::Destroy(_) => Err(anyhow::anyhow!("a destroy plan has no deploy steps")),
        }
    }

    /// The destroy's work; an error for a plan of another command.
    pub fn destroy(&self) -> anyhow::Result<&DestroyWork> {
        match &self.work {
            Work::Destroy(w) => Ok(w),
            Work::Deploy(_) => Err(anyhow::anyhow!("a deploy plan has no destroy steps")),
        }
    }

    /// The templates too large to send inline: (key, template), stored next to the zip.
    pub fn large_templates(&self) -> Vec<(String, &Arc<Template>)> {
        let Ok(w) = self.deploy() else {
            return Vec::new();
        };
        [&w.shared_template, &w.lambda_template]
            .into_iter()
            .filter(|t| !t.fits_inline())
            .map(|t| (template_key(t), t))
            .collect()
    }

    /// Where CloudFormation reads `template` from: inline, or its object next to the zip.
    pub fn template_source(&self, template: &Template) -> cloud::TemplateSource {
        if template.fits_inline() {
            return cloud::TemplateSource::Body(template.body.clone());
        }
        let domain = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        cloud::TemplateSource::Url(format!(
            "https://{}.s3.{}.{domain}/{}",
            self.target.lambda_bucket,
            self.target.region,
            template_key(template)
        ))
    }
}

/// The object key of a template stored for TemplateURL: content-addressed.
pub fn template_key(template: &Template) -> String {
    format!(
        "taegis-cloudformation-template-{}.yaml",
        &template.sha256[..16.min(template.sha256.len())]
    )
}

/// One step's result, as rendered in text and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: &'static str,
    pub action: Action,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<StackParam>,
}

impl StepResult {
    /// The result of `step`, with the parameters it planned.
    pub fn of(step: &Step, status: Status, detail: impl Into<String>) -> StepResult {
        StepResult {
            name: step.kind.name(),
            action: step.action,
            status,
            detail: detail.into(),
            parameters: step.parameters.clone(),
        }
    }
}

/// One target's result, as rendered in text and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub account: Option<String>,
    pub region: String,
    /// The Lambda stack (an account and region may hold several).
    pub stack_name: String,
    pub outcome: Outcome,
    /// How long its steps took, in seconds.
    pub seconds: f64,
    pub steps: Vec<StepResult>,
    pub function_name: Option<String>,
    pub function_arn: Option<String>,
    pub warnings: Vec<String>,
    /// What the preflight found, each with its input and fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// `verify`: each check, ok, warning or failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<verify::Check>,
    /// Things worth knowing that are not checks (where to look next).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub error: Option<String>,
}

impl TargetResult {
    /// The result of a plan that was only shown.
    pub fn planned(plan: &TargetPlan) -> TargetResult {
        TargetResult {
            account: Some(plan.account.clone()),
            region: plan.target.region.clone(),
            stack_name: plan.target.stack_name.clone(),
            outcome: Outcome::Planned,
            seconds: 0.0,
            steps: plan
                .steps
                .iter()
                .map(|s| {
                    let status = if s.action == Action::Skip {
                        Status::Skipped
                    } else {
                        Status::Planned
                    };
                    StepResult::of(s, status, s.detail.clone())
                })
                .collect(),
            function_name: plan.function.as_ref().map(|f| f.name.clone()),
            function_arn: plan.function.as_ref().map(|f| f.arn.clone()),
            warnings: plan.warnings.iter().map(ToString::to_string).collect(),
            problems: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            error: None,
        }
    }

    /// A target that failed its preflight: nothing was changed.
    pub fn failed(
        account: Option<String>,
        target: &TargetConfig,
        problems: Vec<Problem>,
        warnings: &[Problem],
    ) -> TargetResult {
        let region = &target.region;
        let error = format!(
            "preflight failed: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
        TargetResult {
            account,
            region: region.to_string(),
            stack_name: target.stack_name.clone(),
            outcome: Outcome::Failed,
            seconds: 0.0,
            steps: Vec::new(),
            function_name: None,
            function_arn: None,
            warnings: warnings.iter().map(ToString::to_string).collect(),
            problems,
            checks: Vec::new(),
            notes: Vec::new(),
            error: Some(error),
        }
    }
}

impl TargetResult {
    /// `account/region` (or the region alone), and the Lambda stack when not the default one.
    pub fn label(&self) -> String {
        let place = match &self.account {
            Some(a) => format!("{a}/{}", self.region),
            None => self.region.clone(),
        };
        crate::config::with_stack(place, &self.stack_name)
    }
}

/// What the executor and follower tell the terminal layer.
#[derive(Debug, Clone)]
pub enum Event {
    StepStarted {
        target: String,
        step: &'static str,
        action: Action,
        detail: String,
    },
    StepFinished {
        target: String,
        step: &'static str,
        status: Status,
        detail: String,
    },
    /// A resource (or the stack itself) changed status.
    StackEvent {
        target: String,
        stack: String,
        resource: String,
        resource_type: String,
        status: status::ResourceStatus,
        reason: Option<String>,
    },
    /// Still waiting for a stack.
    Waiting {
        target: String,
        stack: String,
        status: status::LastStatus,
        elapsed: Duration,
    },
    Notice {
        target: String,
        text: String,
    },
    /// A target's steps are over.
    TargetFinished {
        target: String,
        outcome: Outcome,
        seconds: f64,
    },
}

/// Receives events; implemented by the terminal layer (and by tests).
pub trait Reporter: Sync {
    fn event(&self, event: Event);
}

/// The first Ctrl-C: stop starting new steps and stop waiting; the write in flight finishes.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    pub fn cancel(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once `cancel` has been called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// How a run waits: where progress goes, at what pace, and what stops it.
#[derive(Clone, Copy)]
pub struct Watch<'a> {
    pub reporter: &'a dyn Reporter,
    pub pace: follow::Pace,
    pub cancel: &'a Cancel,
    /// How long a resource takes, as the run's stacks so far taught.
    pub learnt: &'a follow::Learnt,
}

impl Watch<'_> {
    /// The one way the tool waits: `false` when interrupted before `d` passed.
    pub async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.cancel.cancelled() => false,
        }
    }
}

#[cfg(test)]
mod tests;
