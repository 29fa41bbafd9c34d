//! The steps of a plan: what a step works on (`StepKind`, whose name is stable in output and
//! JSON), what it does (`Action`), how it went (`Status`), and its result as rendered.

use std::sync::Arc;

use serde::Serialize;

use super::cloud::PolicyStatement;
use super::{LambdaZip, OldTrigger, StackParam, TriggerSpec};
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

/// What a step does, with what it needs to do it: the executor matches on this once, and a
/// step cannot be written without its data.
#[derive(Debug, Clone)]
pub enum Op {
    /// The target's zip bucket, in its region.
    LambdaBucket,
    UploadZip {
        zip: Arc<LambdaZip>,
        key: String,
    },
    /// The templates too large to send inline: (key, template), stored next to the zip.
    UploadTemplates(Vec<(String, Arc<Template>)>),
    /// The shared stack; its delete waits until nothing imports these exports.
    DeleteSharedStack {
        exports: Vec<String>,
    },
    /// The shared stack made or updated from this template (the step's parameters are sent).
    SharedStack(Arc<Template>),
    DeleteLambdaStack,
    /// The Lambda stack made or updated from this template (the step's parameters are sent).
    LambdaStack(Arc<Template>),
    /// The statement that lets the event source invoke the function.
    InvokePermission(PolicyStatement),
    BucketNotification(TriggerSpec),
    SnsSubscription(TriggerSpec),
    /// What a deploy's new trigger leaves of the earlier one.
    RemoveOldTrigger(OldTrigger),
    /// Destroy's parts of our trigger.
    RemoveNotification(OldTrigger),
    RemovePermission(OldTrigger),
    RemoveSubscription(OldTrigger),
    /// The zip bucket and the objects this tool stored there (nothing: none found).
    DeleteZip(Option<(String, Vec<String>)>),
}

impl Op {
    pub fn kind(&self) -> StepKind {
        match self {
            Op::LambdaBucket => StepKind::LambdaBucket,
            Op::UploadZip { .. } => StepKind::UploadZip,
            Op::UploadTemplates(_) => StepKind::UploadTemplate,
            Op::DeleteSharedStack { .. } => StepKind::DeleteSharedStack,
            Op::SharedStack(_) => StepKind::SharedStack,
            Op::DeleteLambdaStack => StepKind::DeleteLambdaStack,
            Op::LambdaStack(_) => StepKind::LambdaStack,
            Op::InvokePermission(_) => StepKind::InvokePermission,
            Op::BucketNotification(_) => StepKind::BucketNotification,
            Op::SnsSubscription(_) => StepKind::SnsSubscription,
            Op::RemoveOldTrigger(_) => StepKind::RemoveOldTrigger,
            Op::RemoveNotification(_) => StepKind::RemoveNotification,
            Op::RemovePermission(_) => StepKind::RemovePermission,
            Op::RemoveSubscription(_) => StepKind::RemoveSubscription,
            Op::DeleteZip(_) => StepKind::DeleteZip,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub op: Op,
    pub action: Action,
    /// Why, in a few words: what was found and what will be done.
    pub detail: String,
    /// For a stack step: every parameter its template declares, as it will be sent.
    pub parameters: Vec<StackParam>,
}

impl Step {
    pub fn new(op: Op, action: Action, detail: impl Into<String>) -> Step {
        Step {
            op,
            action,
            detail: detail.into(),
            parameters: Vec::new(),
        }
    }

    /// What the step works on (its stable name in output and JSON).
    pub fn kind(&self) -> StepKind {
        self.op.kind()
    }
}

impl Serialize for StepKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One step's result, as rendered in text and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: StepKind,
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
            name: step.kind(),
            action: step.action,
            status,
            detail: detail.into(),
            parameters: step.parameters.clone(),
        }
    }
}
