//! The checks of the trigger: our bucket entry or the function's subscription, an invoke
//! permission for exactly that source (none broader), and an SNS topic's policy and
//! publisher.

use super::{CheckName, CheckStatus, Checks};
use crate::input::{Input, Source};
use crate::plan::cloud::{FunctionInfo, PolicyStatement, Trail};
use crate::plan::marks::{S3_STATEMENT_ID, SNS_STATEMENT_ID, notification_id};
use crate::plan::observe::Fact;
use crate::template::names;

impl Checks<'_> {
    /// Our bucket entry (or the subscription), and a permission for exactly that source.
    pub(super) fn trigger(&mut self, f: &FunctionInfo) {
        match self.lambda_param(names::SNS_TOPIC) {
            Some(topic) => {
                self.subscription(f, &topic);
                self.permission(f, SNS_STATEMENT_ID, "sns.amazonaws.com", &topic, false);
                self.topic(&topic);
            }
            None => {
                let Some(bucket) = self.lambda_param(names::NOTIFICATION_BUCKET) else {
                    return;
                };
                self.bucket_entry(f, &bucket);
                let arn = format!("arn:{}:s3:::{bucket}", self.seen.partition());
                self.permission(f, S3_STATEMENT_ID, "s3.amazonaws.com", &arn, true);
            }
        }
    }

    /// The topic of an SNS trigger: another account's must let this one subscribe, and
    /// something must publish to it.
    fn topic(&mut self, topic: &str) {
        let account = self.seen.account().unwrap_or_default().to_string();
        let owner = topic.split(':').nth(4).unwrap_or_default().to_string();
        if !owner.is_empty() && owner != account {
            self.topic_policy(topic, &owner, &account);
        }
        self.publisher(topic, &account);
    }

    /// Another account's topic: its policy must let this account subscribe.
    fn topic_policy(&mut self, topic: &str, owner: &str, account: &str) {
        use crate::plan::policy::{Grant, grants, subscribe_statement};
        use CheckStatus::*;
        let statement = subscribe_statement(account, topic);
        let whose = format!("topic {topic} of account {owner}");
        let (status, detail) = match &self.seen.topic {
            Fact::Known(Some(info)) => {
                let policy = info.policy.as_deref().unwrap_or("{}");
                match grants(policy, "sns:Subscribe", account) {
                    Grant::Allowed => (Ok, format!("{whose} lets account {account} subscribe")),
                    Grant::Refused => (
                        Failed,
                        format!(
                            "{whose} does not let account {account} subscribe; add to its policy: {statement}"
                        ),
                    ),
                    Grant::Unsure => (
                        Warning,
                        format!(
                            "{whose} lets account {account} subscribe only under conditions the tool cannot check"
                        ),
                    ),
                }
            }
            Fact::Known(None) => (
                Failed,
                format!("topic {topic} is gone or not visible to account {account}"),
            ),
            Fact::Failed(e) => (
                Warning,
                format!(
                    "cannot read {whose} ({e}); its policy must let account {account} subscribe: {statement}"
                ),
            ),
            Fact::NotRead => return,
        };
        self.push(CheckName::Topic, status, detail);
    }

    /// Something must publish to the topic: a trail the account sees (else it cannot tell).
    fn publisher(&mut self, topic: &str, account: &str) {
        use CheckStatus::*;
        let Fact::Known(trails) = &self.seen.trails else {
            return;
        };
        let publishes = |t: &&Trail| {
            t.sns_topic
                .as_deref()
                .is_some_and(|s| s == topic || topic.ends_with(&format!(":{s}")))
        };
        let names: Vec<&str> = trails
            .iter()
            .filter(publishes)
            .map(|t| t.name.as_str())
            .collect();
        let (status, detail) = match names.as_slice() {
            [] => (
                Warning,
                format!(
                    "no trail that account {account} sees publishes to {topic}: make sure one does (the trail's SNS topic, or the log bucket's topic entry in its owner's account)"
                ),
            ),
            names => (
                Ok,
                format!("trail {} publishes to {topic}", names.join(", ")),
            ),
        };
        self.push(CheckName::Publisher, status, detail);
    }

    fn subscription(&mut self, f: &FunctionInfo, topic: &str) {
        use CheckStatus::*;
        match self.seen.subscriptions.get(topic) {
            Some(Fact::Known(subs))
                if subs
                    .iter()
                    .any(|s| s.protocol == "lambda" && s.endpoint == f.arn) =>
            {
                self.push(
                    CheckName::Trigger,
                    Ok,
                    format!("the function is subscribed to {topic}"),
                )
            }
            Some(Fact::Known(_)) => self.push(
                CheckName::Trigger,
                Failed,
                format!("the function is not subscribed to {topic}; run deploy"),
            ),
            Some(Fact::Failed(e)) => self.push(
                CheckName::Trigger,
                Failed,
                format!("cannot list the subscriptions of {topic} ({e})"),
            ),
            _ => {}
        }
    }

    fn bucket_entry(&mut self, f: &FunctionInfo, bucket: &str) {
        use CheckStatus::*;
        let id = notification_id(&self.t.stack_name);
        let entries = match self.seen.notifications.get(bucket) {
            Some(Fact::Known(e)) => e,
            Some(Fact::Failed(e)) => {
                return self.push(
                    CheckName::Trigger,
                    Failed,
                    format!("cannot read the notification configuration of bucket {bucket} ({e})"),
                );
            }
            _ => return,
        };
        let ours = entries
            .iter()
            .find(|e| e.id.as_deref() == Some(id.as_str()) && e.target_arn == f.arn);
        let by_hand = entries.iter().find(|e| e.target_arn == f.arn);
        match (ours, by_hand) {
            (Some(e), _) => {
                let create = e.events.iter().any(|ev| ev == "s3:ObjectCreated:*" || ev == "s3:*");
                let prefix_given = self.t.source(Input::Prefix) != Source::Default;
                if !create {
                    self.push(CheckName::Trigger, Failed, format!("entry {id} of bucket {bucket} takes {} only, not every object-create event; run deploy", e.events.join(",")));
                } else if prefix_given && e.prefix != self.t.prefix {
                    self.push(CheckName::Trigger, Warning, format!("entry {id} of bucket {bucket} has prefix {:?}, not {:?}; run deploy", e.prefix, self.t.prefix));
                } else {
                    self.push(CheckName::Trigger, Ok, format!("bucket {bucket} sends {} (prefix {:?}) to the function (entry {id})", e.events.join(","), e.prefix));
                }
            }
            (None, Some(e)) => self.push(
                CheckName::Trigger,
                Warning,
                format!("bucket {bucket} notifies the function through entry {:?}, made by hand; run deploy to replace it with ours", e.id.as_deref().unwrap_or("(no Id)")),
            ),
            (None, None) => self.push(CheckName::Trigger, Failed, format!("no entry of bucket {bucket} sends events to the function; run deploy")),
        }
    }

    /// A statement for exactly the source, and none broader.
    fn permission(
        &mut self,
        f: &FunctionInfo,
        sid: &str,
        principal: &str,
        source: &str,
        account: bool,
    ) {
        use CheckStatus::*;
        let statements = match &self.seen.statements {
            Fact::Known(s) => s,
            Fact::Failed(e) => {
                return self.push(
                    CheckName::InvokePermission,
                    Failed,
                    format!("cannot read the policy of function {} ({e})", f.name),
                );
            }
            Fact::NotRead => return,
        };
        let exact = |s: &&PolicyStatement| {
            s.principal == principal
                && s.source_arn.as_deref() == Some(source)
                && (!account || s.source_account.as_deref() == Some(self.account))
        };
        let broad: Vec<&PolicyStatement> = statements.iter().filter(|s| broader(s)).collect();
        if let Some(b) = broad.first() {
            return self.push(
                CheckName::InvokePermission,
                Failed,
                format!(
                    "statement {} lets {} invoke the function from {}: broader than needed; remove it (aws lambda remove-permission --function-name {} --statement-id {}) and re-run deploy",
                    b.sid,
                    b.principal,
                    b.source_arn.as_deref().unwrap_or("any source"),
                    f.name,
                    b.sid
                ),
            );
        }
        match statements.iter().find(exact) {
            Some(s) => self.push(CheckName::InvokePermission, Ok, format!("statement {} lets {principal} invoke the function from {source} only", s.sid)),
            None => self.push(CheckName::InvokePermission, Failed, format!("no statement lets {principal} invoke the function from {source} (expected {sid}); run deploy")),
        }
    }
}

/// A statement that lets a service (or anyone) invoke the function from any source.
pub(super) fn broader(s: &PolicyStatement) -> bool {
    let open_source = s.source_arn.as_deref().is_none_or(|a| a.contains('*'));
    let service = matches!(
        s.principal.as_str(),
        "s3.amazonaws.com" | "sns.amazonaws.com" | "*"
    );
    service && open_source
}
