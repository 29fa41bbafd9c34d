//! The reads and writes the planner and executor need, as our own types. `aws::Cloud`
//! implements this trait; nothing here knows the SDK.

use std::collections::BTreeMap;

use anyhow::Result;

use super::ParamValue;
use super::status::{ResourceStatus, StackStatus};

/// A failed AWS call: the service's error code and message. `transient` marks throttling,
/// server faults and dropped connections: worth waiting out, never a reason to fail a success.
#[derive(Debug, Clone, Default)]
pub struct CallError {
    pub code: Option<String>,
    pub message: String,
    pub transient: bool,
    /// The (name, value) pairs some S3 errors add: for a refused notification configuration,
    /// each destination that could not be validated and why.
    pub arguments: Vec<(String, String)>,
    /// Why the call never reached AWS, when it did not.
    pub unsent: Option<Box<Unsent>>,
    /// What the failure means, classified once (by `aws::errors`) from AWS's code and words.
    pub kind: ErrorKind,
}

/// What a failed call means: the one classification of AWS's error codes (and, for its
/// generic codes, its words), made in the AWS room; everyone else matches these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing the tool knows by name.
    #[default]
    Other,
    /// The thing asked for is not there (no such bucket, key, function, topic...).
    NotFound,
    /// The caller may not: an IAM or resource policy keeps it out.
    Denied,
    /// AWS refuses the credentials themselves (or, in a region not enabled, every credential).
    CredentialsRefused,
    /// ... because the session token has expired.
    CredentialsExpired,
    /// ... because the secret key does not belong to the key id.
    SignatureMismatch,
    /// A Lambda function busy with an update ("An update is in progress").
    Busy,
    /// A Lambda statement id already taken.
    StatementIdTaken,
    /// CloudFormation: a name already taken.
    AlreadyExists,
    /// CloudFormation: the template makes IAM resources and a capability is missing.
    Capabilities,
    /// KMS refused the key (denied, disabled, missing, pending).
    KmsRefused,
    /// S3: the bucket answers from another region (PermanentRedirect).
    WrongRegion,
    /// A generic code (InvalidArgument, ValidationError, ...): the message tells which rule.
    Invalid,
}

/// Why a call never reached AWS: the first things a newcomer meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsent {
    /// No credentials anywhere in the SDK's chain (environment, profile, SSO, web identity,
    /// container or instance role).
    NoCredentials,
    /// The profile asked for (`--profile`, `AWS_PROFILE`) is in neither file; the profiles
    /// that are.
    ProfileMissing { profile: String, known: Vec<String> },
    /// The SSO session behind the profile has expired.
    SsoExpired { profile: Option<String> },
    /// The credentials provider failed otherwise: its own words, on one line.
    Credentials(String),
    /// The endpoint did not answer (no such host, connection refused, a timeout);
    /// `overridden`: an endpoint given with `--endpoint-url` or `AWS_ENDPOINT_URL`.
    Unreachable {
        endpoint: String,
        overridden: bool,
        cause: String,
    },
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    pub id: String,
    pub name: String,
    pub status: StackStatus,
    pub reason: Option<String>,
    /// Current parameter values (NoEcho ones as AWS shows them: `****`).
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    /// The names its outputs export.
    pub export_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    pub stack_id: String,
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    pub status: ResourceStatus,
    pub reason: Option<String>,
    /// When it happened, by AWS's clock (ms since the epoch).
    pub at_ms: Option<i64>,
}

impl StackEvent {
    /// An event of the stack itself (not of one of its resources).
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
            && (self.physical_id == self.stack_id || self.physical_id.is_empty())
    }

    /// The stack's status, for an event of the stack itself.
    pub fn stack_status(&self) -> Option<StackStatus> {
        self.is_stack()
            .then(|| StackStatus::parse(self.status.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub runtime: Option<String>,
    pub reserved_concurrency: Option<i32>,
    /// Pending, Active, Inactive, Failed.
    pub state: Option<String>,
    pub state_reason: Option<String>,
    /// The function's execution role.
    pub role: Option<String>,
    pub environment: BTreeMap<String, String>,
    /// The key encrypting the environment, when a customer key is set.
    pub kms_key_arn: Option<String>,
}

/// A CloudTrail trail as a region sees it (its own, or a shadow of a multi-region or
/// organisation trail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trail {
    pub name: String,
    pub arn: String,
    pub home_region: String,
    pub bucket: String,
    /// `S3KeyPrefix`: the logs land under `{prefix}/AWSLogs/`.
    pub prefix: Option<String>,
    pub kms_key: Option<String>,
    pub sns_topic: Option<String>,
    pub multi_region: bool,
    pub organization: bool,
    pub global_events: bool,
    /// From GetTrailStatus; `None` when it could not be read.
    pub logging: Option<bool>,
}

impl Trail {
    /// The account the trail belongs to (an organisation trail: the management account).
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }
}

/// What the function's log says about a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSummary {
    /// The log group exists.
    pub group: bool,
    /// Invocations (REPORT lines).
    pub invocations: usize,
    /// `"Uploading data to s3"` lines, and when the last was written (ms since the epoch).
    pub uploads: usize,
    pub last_upload: Option<i64>,
    /// Error lines (`"level":"error"`, `ERROR`, timeouts, runtime exits), and the last few.
    pub errors: usize,
    pub last_errors: Vec<String>,
    /// The search stopped before its end (too many pages, or only empty ones so far).
    pub unfinished: bool,
}

/// What GetTopicAttributes says of a topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicInfo {
    /// The account that owns the topic.
    pub owner: String,
    /// Its access policy (JSON), when it has one.
    pub policy: Option<String>,
}

/// The answer of a synchronous invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    pub status: i32,
    /// Set when the function failed (Unhandled, Handled).
    pub function_error: Option<String>,
    pub payload: String,
}

/// One statement of a function's resource policy, as far as we compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatement {
    pub sid: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
}

/// What a notification entry sends events to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    Queue,
    Topic,
    Lambda,
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotificationKind::Queue => "queue",
            NotificationKind::Topic => "topic",
            NotificationKind::Lambda => "lambda",
        })
    }
}

/// One entry of a bucket's notification configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationEntry {
    pub kind: NotificationKind,
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
    pub events: Vec<String>,
    pub prefix: String,
    /// Other entries (by Id) that ours replaces.
    pub replaces: Vec<String>,
}

/// A destination of a bucket's notification configuration that S3 could not validate when
/// the configuration was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedDestination {
    pub arn: String,
    pub reason: String,
    /// The Id of the entry that names it, when one does.
    pub entry: Option<String>,
    /// The entry is ours (our function): our permission is at fault, not someone else's.
    pub ours: bool,
}

/// S3 refused a notification configuration: it validates every destination of the whole
/// configuration on every write, other people's entries too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedDestinations(pub Vec<RefusedDestination>);

impl std::fmt::Display for RefusedDestinations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named: Vec<String> = self
            .0
            .iter()
            .map(|d| {
                let who = match (&d.entry, d.ours) {
                    (_, true) => "our entry".to_string(),
                    (Some(id), false) => format!("entry {id:?}"),
                    (None, false) => "an entry".to_string(),
                };
                format!("{who} -> {} ({})", d.arn, d.reason)
            })
            .collect();
        write!(
            f,
            "S3 could not validate these destinations of the bucket's notification configuration: {}",
            named.join("; ")
        )
    }
}

impl std::error::Error for RefusedDestinations {}

impl RefusedDestinations {
    /// Only other people's entries failed.
    pub fn foreign_only(&self) -> bool {
        !self.0.is_empty() && self.0.iter().all(|d| !d.ours)
    }
}

/// One subscription of an SNS topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub protocol: String,
    pub endpoint: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    pub concurrent_executions: i32,
    pub unreserved_concurrent_executions: i32,
}

/// An object the tool stores (the zip, a large template), as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectState {
    Absent,
    /// There, with the content hash the tool stored with it (none when someone else put it).
    Present {
        sha256: Option<String>,
    },
}

impl ObjectState {
    /// Holds exactly the content with this hash.
    pub fn holds(&self, sha256: &str) -> bool {
        matches!(self, ObjectState::Present { sha256: Some(h) } if h == sha256)
    }
}

/// What [`Cloud::probe_object`] settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// The bucket is the caller's and in the region; the object as found.
    Here(ObjectState),
    /// There is no such bucket.
    NoBucket,
    /// Access denied: S3's answer for a missing key to a caller without `s3:ListBucket` (the
    /// deploy policy has none), as for a bucket of another account.
    Refused,
    Unsure,
}

/// Where CloudFormation reads a template from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// Inline (up to 51,200 bytes).
    Body(String),
    /// An S3 object URL, for larger ones.
    Url(String),
}

/// A CloudFormation export of this account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub exporting_stack_id: String,
}

impl Export {
    /// The exporting stack's name, from its id (`arn:...:stack/NAME/uuid`).
    pub fn stack_name(&self) -> &str {
        self.exporting_stack_id
            .split('/')
            .nth(1)
            .unwrap_or(&self.exporting_stack_id)
    }
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

/// What the tool reads of AWS: all that `observe` (and the follower, and verify's probe)
/// may call. A decision never holds a way to write.
#[allow(async_fn_in_trait)]
pub trait CloudReads {
    async fn identity(&self) -> Result<Identity>;
    /// The caller's identity asked in another region (the partition's first): where the
    /// region asked first refused the credentials, this tells a region that is not enabled
    /// from credentials AWS refuses everywhere.
    async fn identity_in(&self, region: &str) -> Result<Identity>;
    /// The bucket's region, `None` when there is no such bucket. With `expected_owner`, a
    /// bucket of another account is refused (AccessDenied), whatever its policy allows.
    async fn bucket_region(
        &self,
        bucket: &str,
        expected_owner: Option<&str>,
    ) -> Result<Option<String>>;
    /// An object, and the content hash `put_object` stored with it.
    async fn object(&self, bucket: &str, key: &str) -> Result<ObjectState>;
    /// An object of a bucket that must be the caller's and in the client's region, in one
    /// call that also tells whether the bucket is there. Anything it cannot settle (another
    /// region, another owner, a refusal, a passing fault) is [`Probed::Unsure`]: ask
    /// [`CloudReads::bucket_region`].
    async fn probe_object(
        &self,
        _bucket: &str,
        _key: &str,
        _expected_owner: Option<&str>,
    ) -> Result<Probed> {
        Ok(Probed::Unsure)
    }
    async fn stack(&self, name_or_id: &str) -> Result<Option<StackInfo>>;
    async fn template_body(&self, stack: &str) -> Result<String>;
    /// Newest first; stops paging once `until` (an event id) is reached, excluding it.
    async fn stack_events(&self, stack_id: &str, until: Option<&str>) -> Result<Vec<StackEvent>>;
    /// The physical id of the stack's `AWS::Lambda::Function`, if any.
    async fn stack_function(&self, stack: &str) -> Result<Option<String>>;
    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>>;
    async fn policy_statements(&self, function: &str) -> Result<Vec<PolicyStatement>>;
    async fn notifications(&self, bucket: &str) -> Result<Vec<NotificationEntry>>;
    /// The topic's owner and policy; `None`: no such topic (for this caller).
    async fn topic(&self, topic_arn: &str) -> Result<Option<TopicInfo>>;
    async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>>;
    async fn account_settings(&self) -> Result<AccountSettings>;
    /// Every export of this account and region.
    async fn exports(&self) -> Result<Vec<Export>>;
    /// The trails this region sees, shadow trails included, each with its logging status.
    async fn trails(&self) -> Result<Vec<Trail>>;
    /// The function's log events from `start_ms` on, summed up.
    async fn log_summary(&self, function: &str, start_ms: i64) -> Result<LogSummary>;
    /// A KMS key's policy document (JSON).
    async fn key_policy(&self, key: &str) -> Result<String>;
    /// The KMS key of the bucket's default encryption, if it uses one.
    async fn bucket_kms_key(&self, bucket: &str) -> Result<Option<String>>;
    /// Invoke the function with `payload`, waiting for its answer.
    async fn invoke(&self, function: &str, payload: &str) -> Result<Invocation>;
    /// The names of the stacks that import `export` (none when nothing does).
    async fn imports(&self, export: &str) -> Result<Vec<String>>;
    /// The keys of a bucket's objects under `prefix`.
    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<String>>;
}

/// The writes, for the executor only (it reads too: to follow stacks and to see its own
/// writes arrive).
#[allow(async_fn_in_trait)]
pub trait Cloud: CloudReads {
    /// A private, encrypted bucket in `region`.
    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<()>;
    /// Store an object with its content hash, for `object` to read back.
    /// Store an object with its content hash; the bytes are shared, not copied.
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: bytes::Bytes,
        sha256: &str,
    ) -> Result<()>;
    async fn create_stack(
        &self,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<String>;
    async fn update_stack(
        &self,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<UpdateStarted>;
    async fn delete_stack(&self, name_or_id: &str) -> Result<()>;
    async fn add_permission(&self, function: &str, statement: &PolicyStatement) -> Result<Added>;
    async fn remove_permission(&self, function: &str, sid: &str) -> Result<()>;
    /// Read the bucket's configuration, replace or add our entry (by Id), write it back with
    /// every other entry untouched.
    async fn put_notification(&self, bucket: &str, ours: &OurNotification) -> Result<()>;
    async fn subscribe(&self, topic_arn: &str, function_arn: &str) -> Result<()>;
    /// Remove entries (by Id) from the bucket's configuration, every other entry untouched.
    async fn remove_notifications(&self, bucket: &str, ids: &[String]) -> Result<()>;
    async fn unsubscribe(&self, subscription_arn: &str) -> Result<()>;
    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<()>;
}
