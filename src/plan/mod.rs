//! The plan as a value: per target, the steps with their action and reason. The planner
//! (`planner`) only reads the cloud; the executor (`executor`) performs exactly the planned steps
//! and reports progress as events. `cloud` declares the reads and writes both need; the `aws`
//! module implements them.

pub mod cloud;
pub mod executor;
pub mod follow;
pub mod planner;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::config::TargetConfig;
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
}

/// What a step works on. The name is the step's stable name in output and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    LambdaBucket,
    UploadZip,
    DeleteSharedStack,
    SharedStack,
    DeleteLambdaStack,
    LambdaStack,
    InvokePermission,
    BucketNotification,
    SnsSubscription,
    RemoveOldTrigger,
}

impl StepKind {
    /// The steps that wire the function to its event source.
    pub fn is_trigger(self) -> bool {
        matches!(
            self,
            StepKind::InvokePermission | StepKind::BucketNotification | StepKind::SnsSubscription
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            StepKind::LambdaBucket => "lambda-bucket",
            StepKind::UploadZip => "upload-lambda-zip",
            StepKind::DeleteSharedStack => "delete-shared-stack",
            StepKind::SharedStack => "shared-stack",
            StepKind::DeleteLambdaStack => "delete-lambda-stack",
            StepKind::LambdaStack => "lambda-stack",
            StepKind::InvokePermission => "invoke-permission",
            StepKind::BucketNotification => "bucket-notification",
            StepKind::SnsSubscription => "sns-subscription",
            StepKind::RemoveOldTrigger => "remove-old-trigger",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    pub action: Action,
    /// Why, in a few words: what was found and what will be done.
    pub detail: String,
}

/// The Lambda function of a deployed stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionRef {
    pub name: String,
    pub arn: String,
}

/// A parameter value as sent to CloudFormation.
#[derive(Debug, Clone)]
pub enum ParamValue {
    Plain(String),
    Secret(Arc<Secret>),
    UsePrevious,
}

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
    /// and the account.
    pub fn statement(&self, account: &str) -> cloud::PolicyStatement {
        let (sid, principal, source) = match self {
            TriggerSpec::S3 {
                bucket_arn,
                statement_id,
                ..
            } => (statement_id, "s3.amazonaws.com", bucket_arn),
            TriggerSpec::Sns {
                topic_arn,
                statement_id,
            } => (statement_id, "sns.amazonaws.com", topic_arn),
        };
        cloud::PolicyStatement {
            sid: sid.clone(),
            principal: principal.into(),
            source_arn: Some(source.clone()),
            source_account: Some(account.to_string()),
        }
    }
}

/// What is left of the trigger of an earlier deploy that this one no longer wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OldTrigger {
    /// (bucket, our entry's Id)
    pub notification: Option<(String, String)>,
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
        if let Some((bucket, id)) = &self.notification {
            parts.push(format!("entry {id} of bucket {bucket}"));
        }
        for s in &self.subscriptions {
            parts.push(format!("subscription {s}"));
        }
        for s in &self.statements {
            parts.push(format!("statement {s}"));
        }
        format!("remove the earlier trigger: {}", parts.join(", "))
    }
}

/// The Lambda zip as read from disk.
#[derive(Debug)]
pub struct LambdaZip {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Everything the executor needs for one target, resolved by the planner.
#[derive(Debug, Clone)]
pub struct TargetInputs {
    pub config: TargetConfig,
    pub account: String,
    pub lambda_bucket: String,
    pub zip: Arc<LambdaZip>,
    pub zip_key: String,
    pub shared_template: Arc<Template>,
    pub lambda_template: Arc<Template>,
    pub shared_params: BTreeMap<String, ParamValue>,
    pub lambda_params: BTreeMap<String, String>,
    pub trigger: TriggerSpec,
}

#[derive(Debug, Clone)]
pub struct TargetPlan {
    pub inputs: TargetInputs,
    pub steps: Vec<Step>,
    /// Known when the Lambda stack already exists.
    pub function: Option<FunctionRef>,
    /// Removed by the `remove-old-trigger` step.
    pub old_trigger: OldTrigger,
    pub warnings: Vec<String>,
}

impl TargetPlan {
    pub fn label(&self) -> String {
        format!("{}/{}", self.inputs.account, self.inputs.config.region)
    }

    /// What the plan will do, as the outcome a dry run reports.
    pub fn changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::Skip)
    }
}

/// One target's result, as rendered in text and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: &'static str,
    pub action: Action,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub account: Option<String>,
    pub region: String,
    pub outcome: Outcome,
    pub steps: Vec<StepResult>,
    pub function_name: Option<String>,
    pub function_arn: Option<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

impl TargetResult {
    /// The result of a plan that was only shown.
    pub fn planned(plan: &TargetPlan) -> TargetResult {
        TargetResult {
            account: Some(plan.inputs.account.clone()),
            region: plan.inputs.config.region.clone(),
            outcome: Outcome::Planned,
            steps: plan
                .steps
                .iter()
                .map(|s| StepResult {
                    name: s.kind.name(),
                    action: s.action,
                    status: if s.action == Action::Skip {
                        Status::Skipped
                    } else {
                        Status::Planned
                    },
                    detail: s.detail.clone(),
                })
                .collect(),
            function_name: plan.function.as_ref().map(|f| f.name.clone()),
            function_arn: plan.function.as_ref().map(|f| f.arn.clone()),
            warnings: plan.warnings.clone(),
            error: None,
        }
    }

    /// A target that failed before it had a plan (preflight).
    pub fn failed(
        account: Option<String>,
        region: &str,
        error: String,
        warnings: Vec<String>,
    ) -> TargetResult {
        TargetResult {
            account,
            region: region.to_string(),
            outcome: Outcome::Failed,
            steps: Vec::new(),
            function_name: None,
            function_arn: None,
            warnings,
            error: Some(error),
        }
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
        status: String,
        reason: Option<String>,
    },
    /// Still waiting for a stack.
    Waiting {
        target: String,
        stack: String,
        status: String,
        elapsed: std::time::Duration,
    },
    Notice {
        target: String,
        text: String,
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
}

#[cfg(test)]
mod tests;
