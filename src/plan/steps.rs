//! The steps of a plan: what a step works on (`StepKind`, whose name is stable in output and
//! JSON), what it does (`Action`), how it went (`Status`), and its result as rendered.

use serde::Serialize;

use super::StackParam;

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
            name: step.kind,
            action: step.action,
            status,
            detail: detail.into(),
            parameters: step.parameters.clone(),
        }
    }
}
