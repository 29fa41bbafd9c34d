//! The IAM actions behind every AWS call the tool makes: one row per operation, with the
//! resources it touches and the commands that make it. The AWS room looks every call up here
//! (a call missing from its command's rows is refused in debug builds and logged in release
//! builds), and `iam-policy` prints its least-privilege policy from the same rows, so the two
//! cannot drift. Imports nothing of ours but `kinds`.

mod policy;

pub use policy::{Document, Narrowing, Statement, policy};

use crate::kinds::Task;

/// What an action may be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// No resource-level permissions exist for the action.
    Any,
    /// Both stacks (the Lambda stack and the shared one).
    Stacks,
    /// The bucket holding the zip (and templates too large to send inline).
    ZipBucket,
    /// The objects in it.
    ZipObjects,
    /// The bucket CloudTrail writes to (`--for-bucket`).
    NotificationBucket,
    /// The function the Lambda stack makes.
    Function,
    /// The function's execution role (made by the Lambda stack).
    FunctionRole,
    /// The function's log group.
    FunctionLogs,
    /// SNS topics (a trigger through SNS).
    Topic,
    /// CloudTrail trails (discovery).
    Trail,
    /// KMS keys (their policies are read, never changed).
    Key,
    /// The credentials secret the shared stack makes.
    Secret,
    /// Any integration function a bucket entry or a topic subscription invokes (`coverage`
    /// reads what it finds, whatever stack made it).
    Functions,
}

/// Which commands make a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Used(u8);

impl Used {
    pub const DEPLOY: Used = Used(1);
    pub const VERIFY: Used = Used(2);
    pub const DESTROY: Used = Used(4);
    /// `setup`'s own reads (trail discovery, the questions); it also does a deploy and a verify.
    pub const SETUP: Used = Used(8);
    /// `coverage`: the organisation, each account's regions, trails and their deliveries.
    pub const COVERAGE: Used = Used(16);

    pub const fn and(self, other: Used) -> Used {
        Used(self.0 | other.0)
    }

    pub fn by(self, task: Task) -> bool {
        let bits = match task {
            Task::Deploy => Used::DEPLOY.0,
            Task::Verify => Used::VERIFY.0,
            Task::Destroy => Used::DESTROY.0,
            Task::Setup => Used::SETUP.0 | Used::DEPLOY.0 | Used::VERIFY.0,
            Task::Coverage => Used::COVERAGE.0,
        };
        self.0 & bits != 0
    }
}

const D: Used = Used::DEPLOY;
const V: Used = Used::VERIFY;
const X: Used = Used::DESTROY;
const S: Used = Used::SETUP;
const C: Used = Used::COVERAGE;

/// One AWS operation the tool calls itself.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The service as the SDK names it (its operation metadata).
    pub service: &'static str,
    pub operation: &'static str,
    /// The IAM action that authorises it.
    pub action: &'static str,
    /// The resources it touches, each for the commands that touch it.
    pub uses: &'static [(Scope, Used)],
}

impl Call {
    /// Which commands make the call.
    pub fn used(&self) -> Used {
        self.uses.iter().fold(Used(0), |u, (_, by)| u.and(*by))
    }
}

const fn call(
    service: &'static str,
    operation: &'static str,
    action: &'static str,
    uses: &'static [(Scope, Used)],
) -> Call {
    Call {
        service,
        operation,
        action,
        uses,
    }
}

use Scope::*;

/// Every AWS operation the tool calls (role assumption aside: the SDK's credentials provider
/// makes `sts:AssumeRole` as the caller, before any of these).
#[rustfmt::skip]
pub const CALLS: &[Call] = &[
    call("STS", "GetCallerIdentity", "sts:GetCallerIdentity", &[(Any, D.and(V).and(X).and(S).and(C))]),
    // The buckets.
    call("S3", "GetBucketLocation", "s3:GetBucketLocation", &[(NotificationBucket, D.and(X).and(S).and(C)), (ZipBucket, D)]),
    call("S3", "GetBucketNotificationConfiguration", "s3:GetBucketNotification", &[(NotificationBucket, D.and(V).and(X).and(S).and(C))]),
    call("S3", "ListBuckets", "s3:ListAllMyBuckets", &[(Any, C)]),
    call("S3", "PutBucketNotificationConfiguration", "s3:PutBucketNotification", &[(NotificationBucket, D.and(X))]),
    call("S3", "GetBucketEncryption", "s3:GetEncryptionConfiguration", &[(NotificationBucket, D.and(S))]),
    call("S3", "ListObjectsV2", "s3:ListBucket", &[(NotificationBucket, V), (ZipBucket, X)]),
    call("S3", "CreateBucket", "s3:CreateBucket", &[(ZipBucket, D)]),
    call("S3", "GetObject", "s3:GetObject", &[(ZipObjects, D)]),
    call("S3", "HeadObject", "s3:GetObject", &[(ZipObjects, D.and(X))]),
    call("S3", "PutObject", "s3:PutObject", &[(ZipObjects, D)]),
    call("S3", "DeleteObjects", "s3:DeleteObject", &[(ZipObjects, X)]),
    // The stacks.
    call("CloudFormation", "DescribeStacks", "cloudformation:DescribeStacks", &[(Stacks, D.and(V).and(X).and(S))]),
    call("CloudFormation", "DescribeStackEvents", "cloudformation:DescribeStackEvents", &[(Stacks, D.and(X))]),
    call("CloudFormation", "DescribeStackResources", "cloudformation:DescribeStackResources", &[(Stacks, D.and(V).and(X))]),
    call("CloudFormation", "GetTemplate", "cloudformation:GetTemplate", &[(Stacks, D)]),
    call("CloudFormation", "ListExports", "cloudformation:ListExports", &[(Any, D)]),
    call("CloudFormation", "ListImports", "cloudformation:ListImports", &[(Any, X)]),
    call("CloudFormation", "CreateStack", "cloudformation:CreateStack", &[(Stacks, D)]),
    call("CloudFormation", "UpdateStack", "cloudformation:UpdateStack", &[(Stacks, D)]),
    call("CloudFormation", "DeleteStack", "cloudformation:DeleteStack", &[(Stacks, D.and(X))]),
    // The function.
    call("Lambda", "GetFunction", "lambda:GetFunction", &[(Function, D.and(V).and(X).and(S)), (Functions, C)]),
    call("Lambda", "GetPolicy", "lambda:GetPolicy", &[(Function, D.and(V).and(X))]),
    call("Lambda", "GetAccountSettings", "lambda:GetAccountSettings", &[(Any, D.and(V))]),
    call("Lambda", "AddPermission", "lambda:AddPermission", &[(Function, D)]),
    call("Lambda", "RemovePermission", "lambda:RemovePermission", &[(Function, D.and(X))]),
    call("Lambda", "Invoke", "lambda:InvokeFunction", &[(Function, V)]),
    // A trigger through SNS.
    call("SNS", "GetTopicAttributes", "sns:GetTopicAttributes", &[(Topic, D.and(V).and(S))]),
    call("SNS", "ListSubscriptionsByTopic", "sns:ListSubscriptionsByTopic", &[(Topic, D.and(V).and(X).and(C))]),
    call("SNS", "Subscribe", "sns:Subscribe", &[(Topic, D)]),
    call("SNS", "Unsubscribe", "sns:Unsubscribe", &[(Any, D.and(X))]),
    // Discovery and verification.
    call("CloudTrail", "DescribeTrails", "cloudtrail:DescribeTrails", &[(Any, D.and(V).and(S).and(C))]),
    call("CloudTrail", "GetTrailStatus", "cloudtrail:GetTrailStatus", &[(Trail, D.and(V).and(S).and(C))]),
    call("CloudWatch Logs", "FilterLogEvents", "logs:FilterLogEvents", &[(FunctionLogs, V)]),
    call("KMS", "GetKeyPolicy", "kms:GetKeyPolicy", &[(Key, D.and(V).and(S))]),
    // The organisation and each account's regions (coverage).
    call("Organizations", "DescribeOrganization", "organizations:DescribeOrganization", &[(Any, C)]),
    call("Organizations", "ListAccounts", "organizations:ListAccounts", &[(Any, C)]),
    call("Account", "ListRegions", "account:ListRegions", &[(Any, C)]),
];

/// The row of an operation, as the SDK names it.
pub fn find(service: &str, operation: &str) -> Option<&'static Call> {
    CALLS
        .iter()
        .find(|c| c.service == service && c.operation == operation)
}

/// When the stack's resources are made, changed or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Create and update (deploy; a deploy also rolls back and replaces).
    Write,
    /// Delete (destroy; a deploy too, when it recovers a stack or rolls back).
    Delete,
}

/// What CloudFormation calls with the caller's credentials to make a resource type of the
/// bundled templates (the tool passes no CloudFormation service role). The emulator makes
/// these inside the stack operation, so only the template's resource types check this list.
#[derive(Debug, Clone, Copy)]
pub struct OnBehalf {
    pub resource_type: &'static str,
    pub phase: Phase,
    pub actions: &'static [&'static str],
    pub scope: Scope,
}

const fn on_behalf(
    resource_type: &'static str,
    phase: Phase,
    scope: Scope,
    actions: &'static [&'static str],
) -> OnBehalf {
    OnBehalf {
        resource_type,
        phase,
        actions,
        scope,
    }
}

#[rustfmt::skip]
pub const ON_BEHALF: &[OnBehalf] = &[
    on_behalf("AWS::SecretsManager::Secret", Phase::Write, Secret, &[
        "secretsmanager:CreateSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:UpdateSecret",
        "secretsmanager:TagResource",
    ]),
    on_behalf("AWS::SecretsManager::Secret", Phase::Delete, Secret, &[
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
    ]),
    on_behalf("AWS::IAM::Role", Phase::Write, FunctionRole, &[
        "iam:CreateRole",
        "iam:GetRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRoleDescription",
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:TagRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
    ]),
    on_behalf("AWS::IAM::Role", Phase::Delete, FunctionRole, &[
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:DeleteRolePolicy",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
    ]),
    on_behalf("AWS::IAM::Policy", Phase::Write, FunctionRole, &[
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
    ]),
    on_behalf("AWS::IAM::Policy", Phase::Delete, FunctionRole, &["iam:DeleteRolePolicy"]),
    on_behalf("AWS::Logs::LogGroup", Phase::Write, FunctionLogs, &[
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:TagResource",
        "logs:ListTagsForResource",
    ]),
    // CloudFormation's log-group handler reads by name prefix, which IAM matches on `*` only.
    on_behalf("AWS::Logs::LogGroup", Phase::Write, Any, &["logs:DescribeLogGroups"]),
    on_behalf("AWS::Logs::LogGroup", Phase::Delete, Any, &["logs:DescribeLogGroups"]),
    on_behalf("AWS::Logs::LogGroup", Phase::Delete, FunctionLogs, &["logs:DeleteLogGroup"]),
    on_behalf("AWS::Lambda::Function", Phase::Write, Function, &[
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:TagResource",
        "lambda:ListTags",
    ]),
    // Lambda reads the code from the zip bucket in the caller's name.
    on_behalf("AWS::Lambda::Function", Phase::Write, ZipObjects, &["s3:GetObject"]),
    on_behalf("AWS::Lambda::Function", Phase::Delete, Function, &[
        "lambda:DeleteFunction",
        "lambda:GetFunction",
    ]),
];

/// The managed policy the function's role gets (the only one `iam:AttachRolePolicy` may attach).
pub const BASIC_EXECUTION_POLICY: &str = "iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

#[cfg(test)]
mod tests;
