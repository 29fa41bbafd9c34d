//! A target's plan (`TargetPlan`) and what its steps work with: the function, the stack
//! parameters as sent and shown, the trigger wanted and the one left from before, the zip,
//! and the templates (inline, or stored next to the zip).

use std::sync::Arc;

use serde::Serialize;

use super::{Action, Step, cloud};
use crate::config::TargetConfig;
use crate::input::{Problem, Source};
use crate::secret::Secret;
use crate::template::Template;

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
