//! The reads and writes the planner and executor need, as our own types. `aws::Cloud`
//! implements this trait; nothing here knows the SDK.

use std::collections::BTreeMap;

use anyhow::Result;

use super::ParamValue;

/// A failed AWS call: the service's error code and message. `transient` marks throttling,
/// server faults and dropped connections: worth waiting out, never a reason to fail a success.
#[derive(Debug, Clone)]
pub struct CallError {
    pub code: Option<String>,
    pub message: String,
    pub transient: bool,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{c}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for CallError {}

impl CallError {
    /// Is any error in this chain a transient call error?
    pub fn is_transient(e: &anyhow::Error) -> bool {
        e.chain()
            .any(|c| c.downcast_ref::<CallError>().is_some_and(|c| c.transient))
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Clone)]
pub struct StackInfo {
    pub id: String,
    pub name: String,
    pub status: String,
    pub reason: Option<String>,
    /// Current parameter values (NoEcho ones as AWS shows them: `****`).
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

impl StackInfo {
    /// Settled in a state that can be updated.
    pub fn healthy(&self) -> bool {
        matches!(
            self.status.as_str(),
            "CREATE_COMPLETE"
                | "UPDATE_COMPLETE"
                | "UPDATE_ROLLBACK_COMPLETE"
                | "IMPORT_COMPLETE"
                | "IMPORT_ROLLBACK_COMPLETE"
        )
    }

    /// A first create that failed, or an unexecuted change set: can only be deleted.
    pub fn needs_recreate(&self) -> bool {
        matches!(
            self.status.as_str(),
            "ROLLBACK_COMPLETE" | "REVIEW_IN_PROGRESS"
        )
    }

    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS") && self.status != "REVIEW_IN_PROGRESS"
    }
}

#[derive(Debug, Clone)]
pub struct StackEvent {
    pub id: String,
    pub stack_id: String,
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

impl StackEvent {
    /// An event of the stack itself (not of one of its resources).
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
            && (self.physical_id == self.stack_id || self.physical_id.is_empty())
    }
}

#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub runtime: Option<String>,
    pub reserved_concurrency: Option<i32>,
}

/// One statement of a function's resource policy, as far as we compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatement {
    pub sid: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
}

/// One entry of a bucket's notification configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationEntry {
    /// "queue", "topic", "lambda".
    pub kind: &'static str,
    pub id: Option<String>,
    pub target_arn: String,
    pub events: Vec<String>,
    pub prefix: String,
    pub suffix: String,
}

/// The entry we keep in a bucket's notification configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurNotification {
    pub id: String,
    pub function_arn: String,
    pub prefix: String,
    /// Other entries (by Id) that ours replaces.
    pub replaces: Vec<String>,
}

/// One subscription of an SNS topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub protocol: String,
    pub endpoint: String,
    pub arn: String,
}

#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub concurrent_executions: i32,
    pub unreserved_concurrent_executions: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateStarted {
    Started { stack_id: String },
    NoChanges,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Added,
    AlreadyThere,
}

#[allow(async_fn_in_trait)]
pub trait Cloud {
    // --- reads
    async fn identity(&self) -> Result<Identity>;
    /// The bucket's region, `None` when there is no such bucket.
    async fn bucket_region(&self, bucket: &str) -> Result<Option<String>>;
    /// The content hash we stored with an object, `Some(None)` when the object exists without
    /// one, `None` when there is no object.
    async fn object_hash(&self, bucket: &str, key: &str) -> Result<Option<Option<String>>>;
    async fn stack(&self, name_or_id: &str) -> Result<Option<StackInfo>>;
    async fn template_body(&self, stack: &str) -> Result<String>;
    /// Newest first; stops paging once `until` (an event id) is reached, excluding it.
    async fn stack_events(&self, stack_id: &str, until: Option<&str>) -> Result<Vec<StackEvent>>;
    /// The physical id of the stack's `AWS::Lambda::Function`, if any.
    async fn stack_function(&self, stack: &str) -> Result<Option<String>>;
    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>>;
    async fn policy_statements(&self, function: &str) -> Result<Vec<PolicyStatement>>;
    async fn notifications(&self, bucket: &str) -> Result<Vec<NotificationEntry>>;
    async fn topic_exists(&self, topic_arn: &str) -> Result<bool>;
    async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>>;
    async fn account_settings(&self) -> Result<AccountSettings>;

    // --- writes
    /// A private, encrypted bucket in `region`.
    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<()>;
    async fn put_object(&self, bucket: &str, key: &str, body: &[u8], sha256: &str) -> Result<()>;
    async fn create_stack(
        &self,
        name: &str,
        body: &str,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<String>;
    async fn update_stack(
        &self,
        name: &str,
        body: &str,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<UpdateStarted>;
    async fn delete_stack(&self, name_or_id: &str) -> Result<()>;
    async fn add_permission(&self, function: &str, statement: &PolicyStatement) -> Result<Added>;
    async fn remove_permission(&self, function: &str, sid: &str) -> Result<()>;
    /// Read the bucket's configuration, replace or add our entry (by Id), write it back with
    /// every other entry untouched.
    async fn put_notification(&self, bucket: &str, ours: &OurNotification) -> Result<()>;
    async fn subscribe(&self, topic_arn: &str, function_arn: &str) -> Result<()>;
    /// Remove our entry (by Id) from the bucket's configuration, every other entry untouched.
    async fn remove_notification(&self, bucket: &str, id: &str) -> Result<()>;
    async fn unsubscribe(&self, subscription_arn: &str) -> Result<()>;
}
