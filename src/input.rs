//! The tool's inputs (each a flag and its rollout-file key), where a value came from, and typed
//! problems about them. A problem knows its input, so labels never come from message text.
//! Imports nothing of ours.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

/// One input: a flag of `deploy` (and the rollout key of the same name in snake_case), or the
/// AWS identity, or the state found in the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    Config,
    Region,
    Regions,
    Accounts,
    RoleArn,
    Credentials,
    TaegisRegion,
    XdrUrl,
    LambdaZip,
    LambdaBucket,
    SharedTemplate,
    LambdaTemplate,
    SharedStackName,
    StackName,
    IntegrationType,
    NotificationBucket,
    Trail,
    Trigger,
    Prefix,
    SnsTopicArn,
    BucketKmsKeyArn,
    LambdaEnvKmsKeyArn,
    Parameter,
    Concurrency,
    Timeout,
    OnFailure,
    RetryFrom,
    Yes,
    /// `template params TEMPLATE` (a file, or `shared`/`lambda`).
    TemplateFile,
    /// `verify --since DURATION`.
    Since,
    /// `verify --xdr`: the XDR API client, region and tenant.
    Xdr,
    /// `iam-policy --for-bucket LIST`.
    ForBucket,
    /// `iam-policy --kms-key LIST`.
    KmsKey,
    /// The AWS credentials, profile or role the tool runs as.
    AwsIdentity,
    /// `--profile NAME` (or `AWS_PROFILE`).
    Profile,
    /// `--endpoint-url URL` (or `AWS_ENDPOINT_URL`).
    EndpointUrl,
    /// State found in the account that no flag changes (a stuck stack, a quota).
    Account,
}

impl Input {
    /// Every input, in declaration order.
    pub const ALL: &[Input] = &[
        Input::Config,
        Input::Region,
        Input::Regions,
        Input::Accounts,
        Input::RoleArn,
        Input::Credentials,
        Input::TaegisRegion,
        Input::XdrUrl,
        Input::LambdaZip,
        Input::LambdaBucket,
        Input::SharedTemplate,
        Input::LambdaTemplate,
        Input::SharedStackName,
        Input::StackName,
        Input::IntegrationType,
        Input::NotificationBucket,
        Input::Trail,
        Input::Trigger,
        Input::Prefix,
        Input::SnsTopicArn,
        Input::BucketKmsKeyArn,
        Input::LambdaEnvKmsKeyArn,
        Input::Parameter,
        Input::Concurrency,
        Input::Timeout,
        Input::OnFailure,
        Input::RetryFrom,
        Input::Yes,
        Input::TemplateFile,
        Input::Since,
        Input::Xdr,
        Input::ForBucket,
        Input::KmsKey,
        Input::AwsIdentity,
        Input::Profile,
        Input::EndpointUrl,
        Input::Account,
    ];

    /// The command-line flag, e.g. `--notification-bucket`.
    pub fn flag(self) -> &'static str {
        match self {
            Input::Config => "--config",
            Input::Region => "--region",
            Input::Regions => "--regions",
            Input::Accounts => "--accounts",
            Input::RoleArn => "--role-arn",
            Input::Credentials => "--credentials",
            Input::TaegisRegion => "--taegis-region",
            Input::XdrUrl => "--xdr-url",
            Input::LambdaZip => "--lambda-zip",
            Input::LambdaBucket => "--lambda-bucket",
            Input::SharedTemplate => "--shared-template",
            Input::LambdaTemplate => "--lambda-template",
            Input::SharedStackName => "--shared-stack-name",
            Input::StackName => "--stack-name",
            Input::IntegrationType => "--integration-type",
            Input::NotificationBucket => "--notification-bucket",
            Input::Trail => "--trail",
            Input::Trigger => "--trigger",
            Input::Prefix => "--prefix",
            Input::SnsTopicArn => "--sns-topic-arn",
            Input::BucketKmsKeyArn => "--bucket-kms-key-arn",
            Input::LambdaEnvKmsKeyArn => "--lambda-env-kms-key-arn",
            Input::Parameter => "--parameter",
            Input::Concurrency => "--concurrency",
            Input::Timeout => "--timeout",
            Input::OnFailure => "--on-failure",
            Input::RetryFrom => "--retry-from",
            Input::Yes => "--yes",
            Input::TemplateFile => "template",
            Input::Since => "--since",
            Input::Xdr => "--xdr",
            Input::ForBucket => "--for-bucket",
            Input::KmsKey => "--kms-key",
            Input::AwsIdentity => "AWS credentials",
            Input::Profile => "--profile",
            Input::EndpointUrl => "--endpoint-url",
            Input::Account => "AWS account",
        }
    }

    /// The rollout-file key, e.g. `notification_bucket`.
    pub fn key(self) -> String {
        match self {
            Input::AwsIdentity => "aws_identity".into(),
            Input::Account => "account_state".into(),
            other => other.flag().trim_start_matches("--").replace('-', "_"),
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// The rollout file.
    File,
    /// The tool's own default.
    Default,
    /// The template's default (nothing is sent; CloudFormation applies it).
    Template,
    /// The value the stack already has (sent as UsePreviousValue).
    Previous,
    /// Read from the CloudTrail trail named by `--trail`.
    Trail,
}

/// A problem (or a warning) about one input: what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub input: Input,
    /// Who the sentence is about: the flag and its value by default (`--prefix "/x"`), or
    /// another subject (`stack taegis-cloudtrail`). Never the credentials text.
    pub subject: String,
    pub message: String,
    pub fix: Option<String>,
}

impl Problem {
    /// A problem about `input`, its subject the flag alone.
    pub fn new(input: Input, message: impl Into<String>) -> Problem {
        Problem {
            input,
            subject: input.flag().to_string(),
            message: message.into(),
            fix: None,
        }
    }

    /// A problem about the value `value` of `input`.
    pub fn value(input: Input, value: &str, message: impl Into<String>) -> Problem {
        Problem {
            subject: format!("{} {value}", input.flag()),
            ..Problem::new(input, message)
        }
    }

    /// A problem whose subject is something else than the flag (a stack, a region).
    pub fn about(input: Input, subject: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            subject: subject.into(),
            ..Problem::new(input, message)
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Problem {
        self.fix = Some(fix.into());
        self
    }

    /// Name where in the rollout file the value came from: ` (rollout file F, target N)`.
    pub fn at(mut self, origin: &str) -> Problem {
        self.subject.push_str(origin);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subject.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "{}: {}", self.subject, self.message)?;
        }
        match &self.fix {
            Some(fix) => write!(f, "; {fix}"),
            None => Ok(()),
        }
    }
}

/// Every problem and warning found before anything changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preflight {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Preflight {
    pub fn problem(&mut self, p: Problem) {
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    pub fn warn(&mut self, w: Problem) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    pub fn extend(&mut self, other: Preflight) {
        other.problems.into_iter().for_each(|p| self.problem(p));
        other.warnings.into_iter().for_each(|w| self.warn(w));
    }

    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The inputs that have a problem.
    pub fn flawed(&self) -> BTreeSet<Input> {
        self.problems.iter().map(|p| p.input).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_keys() {
        assert_eq!(Input::NotificationBucket.flag(), "--notification-bucket");
        assert_eq!(Input::NotificationBucket.key(), "notification_bucket");
        assert_eq!(Input::LambdaEnvKmsKeyArn.key(), "lambda_env_kms_key_arn");
        assert_eq!(Input::AwsIdentity.key(), "aws_identity");
    }

    #[test]
    fn problems_read_as_one_sentence() {
        let p = Problem::value(Input::Prefix, "\"/x\"", "starts with \"/\"")
            .fix("drop the leading slash")
            .at(" (rollout file f.yaml, target 1)");
        assert_eq!(
            p.to_string(),
            "--prefix \"/x\" (rollout file f.yaml, target 1): starts with \"/\"; drop the leading slash"
        );
        let mut pf = Preflight::default();
        pf.problem(p.clone());
        pf.problem(p);
        assert_eq!(pf.problems.len(), 1);
        assert!(pf.flawed().contains(&Input::Prefix));
    }
}
