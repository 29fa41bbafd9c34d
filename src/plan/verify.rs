//! `verify`: the guide's checks, as a pure function of what was observed. Each check is ok, a
//! warning, or failed with the fix; the target is healthy when none failed.

use crate::template::names;
use serde::Serialize;

use super::cloud::{Cloud, Invocation, LogSummary, PolicyStatement};
use super::deploy::{Decision, al2_warning};
use super::marks::{S3_STATEMENT_ID, SNS_STATEMENT_ID, notification_id};
use super::observe::{Fact, Observed, Reads, StackSeen};
use super::{FunctionRef, Outcome, TargetResult};
use crate::config::TargetConfig;
use crate::input::{Input, Preflight, Source};

/// The XDR Advanced Search query that shows the events arriving.
pub const XDR_QUERY: &str = "from cloudaudit where sensor_type = 'AWS CloudTrail'";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Warning,
    Failed,
}

/// One check of a target, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: CheckStatus,
    pub detail: String,
}

/// What `verify` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read the log from this time on (ms since the epoch).
    pub since_ms: i64,
    pub test_event: bool,
    /// YYYY-MM-DD, for the runtime's deprecation dates.
    pub today: String,
}

/// What `verify` reads for a target (its account expanded).
pub fn reads(t: &TargetConfig, _seen: &Observed, o: &Options) -> Reads {
    let ok = |i: Input| !t.flawed.contains(&i);
    Reads {
        lambda_stack: ok(Input::StackName).then(|| t.stack_name.clone()),
        shared_stack: ok(Input::SharedStackName).then(|| t.shared_stack_name.clone()),
        earlier_trigger: true,
        account_settings: true,
        logs_since: Some(o.since_ms),
        kms: true,
        settle_entry: ok(Input::StackName).then(|| notification_id(&t.stack_name)),
        stack_topic: true,
        ..Reads::default()
    }
}

/// The synthetic S3 event `--test-event` sends, for one object.
pub fn test_event(region: &str, partition: &str, bucket: &str, key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "taegis-cloudtrail-verify"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "taegis-cloudtrail-verify",
            "bucket": {"name": bucket, "arn": format!("arn:{partition}:s3:::{bucket}")},
            "object": {"key": key},
        },
    }]})
    .to_string()
}

/// The object a test event is for: a CloudTrail log file under the prefix (digests left out),
/// else any object there.
pub fn pick_object(keys: &[String]) -> Option<&String> {
    let log = |k: &&String| !k.contains("CloudTrail-Digest") && k.ends_with(".json.gz");
    keys.iter()
        .find(log)
        .or_else(|| keys.iter().find(|k| !k.ends_with('/')))
}

/// The guide's "test the Lambda": invoke the function with an S3 event for a real object under
/// the trigger's prefix. An invocation, not a read: only on `--test-event`.
pub async fn probe<C: Cloud>(cloud: &C, t: &TargetConfig, seen: &mut Observed) {
    let (Some(stack), Some(Some(f))) = (seen.healthy_lambda_stack(), seen.function.known()) else {
        return;
    };
    let Some(bucket) = stack
        .info
        .parameters
        .get(names::NOTIFICATION_BUCKET)
        .cloned()
    else {
        return;
    };
    let prefix = if t.given(Input::Prefix) {
        t.prefix.clone()
    } else {
        our_entry_prefix(seen, &t.stack_name, &bucket).unwrap_or_default()
    };
    let function = f.name.clone();
    let keys = match cloud.list_objects(&bucket, &prefix).await {
        Ok(k) => k,
        Err(e) => {
            seen.invocation = Fact::from_result(Err(e));
            return;
        }
    };
    let Some(key) = pick_object(&keys).cloned() else {
        seen.invocation = Fact::Known((format!("s3://{bucket}/{prefix}"), Invocation::default()));
        return;
    };
    let event = test_event(&t.region, &seen.partition(), &bucket, &key);
    let answer = cloud.invoke(&function, &event).await;
    seen.invocation = Fact::from_result(answer.map(|a| (format!("s3://{bucket}/{key}"), a)));
}

fn our_entry_prefix(seen: &Observed, stack: &str, bucket: &str) -> Option<String> {
    let id = notification_id(stack);
    seen.notifications
        .get(bucket)?
        .known()?
        .iter()
        .find(|e| e.id.as_deref() == Some(id.as_str()))
        .map(|e| e.prefix.clone())
}

/// A target's checks, and the problems that kept it from being checked.
pub struct Verdict {
    pub checks: Vec<Check>,
    pub preflight: Preflight,
    pub account: Option<String>,
    pub function: Option<FunctionRef>,
}

impl Verdict {
    /// A target that could not be checked at all.
    pub fn unchecked(p: crate::input::Problem) -> Verdict {
        let mut preflight = Preflight::default();
        preflight.problem(p);
        Verdict {
            checks: Vec::new(),
            preflight,
            account: None,
            function: None,
        }
    }

    pub fn result(self, t: &TargetConfig) -> TargetResult {
        if !self.preflight.is_ok() {
            return TargetResult::failed(
                self.account,
                t,
                self.preflight.problems,
                &self.preflight.warnings,
            );
        }
        let failed = self.checks.iter().any(|c| c.status == CheckStatus::Failed);
        let mut r = TargetResult::failed(self.account, t, Vec::new(), &[]);
        r.outcome = if failed {
            Outcome::Unhealthy
        } else {
            Outcome::Healthy
        };
        r.error = failed.then(|| {
            let names: Vec<&str> = self
                .checks
                .iter()
                .filter(|c| c.status == CheckStatus::Failed)
                .map(|c| c.name)
                .collect();
            format!("failed checks: {}", names.join(", "))
        });
        r.function_name = self.function.as_ref().map(|f| f.name.clone());
        r.function_arn = self.function.map(|f| f.arn);
        r.checks = self.checks;
        r.notes = vec![format!(
            "in XDR, Advanced Search `{XDR_QUERY}` shows the events arriving; after a fresh deploy S3 delivery starts within minutes, and the first message is an s3:TestEvent"
        )];
        r
    }
}

/// Check a target from what was observed. Pure.
pub fn check(target: &TargetConfig, o: &Options, seen: &Observed) -> Verdict {
    let identity = Decision::identity(target, seen);
    let Some(account) = seen.account().map(str::to_string) else {
        return Verdict {
            checks: Vec::new(),
            preflight: identity,
            account: None,
            function: None,
        };
    };
    let t = target.for_account(&account);
    let mut c = Checks {
        t: &t,
        o,
        seen,
        account: &account,
        out: Vec::new(),
    };
    c.stack("shared-stack", &seen.shared_stack, &t.shared_stack_name);
    c.stack("lambda-stack", &seen.lambda_stack, &t.stack_name);
    let function = c.function();
    if let Some(f) = &function {
        c.function_settings(f);
        c.trigger(f);
        c.kms(f);
        c.log(f);
        c.test_event();
    }
    c.headroom();
    Verdict {
        checks: c.out,
        preflight: Preflight::default(),
        account: Some(account),
        function: function.map(|f| FunctionRef {
            name: f.name,
            arn: f.arn,
        }),
    }
}

struct Checks<'a> {
    t: &'a TargetConfig,
    o: &'a Options,
    seen: &'a Observed,
    account: &'a str,
    out: Vec<Check>,
}

impl Checks<'_> {
    fn push(&mut self, name: &'static str, status: CheckStatus, detail: impl Into<String>) {
        self.out.push(Check {
            name,
            status,
            detail: detail.into(),
        });
    }

    fn stack(&mut self, name: &'static str, fact: &Fact<Option<StackSeen>>, stack: &str) {
        use CheckStatus::*;
        match fact {
            Fact::Known(Some(s)) if s.info.status.healthy() => {
                self.push(name, Ok, format!("stack {stack} is {}", s.info.status))
            }
            Fact::Known(Some(s)) => {
                let reason = s
                    .info
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                self.push(
                    name,
                    Failed,
                    format!(
                        "stack {stack} is {}{reason}; run deploy to repair it",
                        s.info.status
                    ),
                )
            }
            Fact::Known(None) => self.push(
                name,
                Failed,
                format!("stack {stack} is not there; run deploy"),
            ),
            Fact::Failed(e) => self.push(name, Failed, format!("cannot read stack {stack} ({e})")),
            Fact::NotRead => {}
        }
    }

    fn lambda_param(&self, key: &str) -> Option<String> {
        self.seen
            .healthy_lambda_stack()
            .and_then(|s| s.info.parameters.get(key))
            .filter(|v| !v.is_empty())
            .cloned()
    }

    /// The function: there and Active.
    fn function(&mut self) -> Option<super::cloud::FunctionInfo> {
        use CheckStatus::*;
        match &self.seen.function {
            Fact::Known(Some(f)) => {
                let (status, word) = match f.state.as_deref() {
                    None | Some("Active") => (Ok, "Active".to_string()),
                    Some("Pending") => (Warning, "Pending (still being set up)".into()),
                    Some(s) => (
                        Failed,
                        format!(
                            "{s}{}",
                            f.state_reason
                                .as_deref()
                                .map(|r| format!(": {r}"))
                                .unwrap_or_default()
                        ),
                    ),
                };
                self.push("function", status, format!("function {} is {word}", f.name));
                Some(f.clone())
            }
            Fact::Known(None) => {
                self.push(
                    "function",
                    Failed,
                    "the Lambda stack holds no function; run deploy",
                );
                None
            }
            Fact::Failed(e) => {
                self.push(
                    "function",
                    Failed,
                    format!("cannot read the function ({e})"),
                );
                None
            }
            Fact::NotRead => None,
        }
    }

    /// Runtime, reserved concurrency, and the environment pointing at the shared secret.
    fn function_settings(&mut self, f: &super::cloud::FunctionInfo) {
        use CheckStatus::*;
        match f.runtime.as_deref() {
            Some("provided.al2023") => self.push("runtime", Ok, "provided.al2023 (custom runtime on Amazon Linux 2023)"),
            Some("provided.al2") => self.push("runtime", Warning, al2_warning(&self.o.today)),
            Some(r) => self.push("runtime", Failed, format!("{r}: the Taegis function is a custom runtime (provided.al2023); re-deploy with the vendor's template")),
            None => self.push("runtime", Warning, "the function reports no runtime"),
        }
        let want: Option<i32> = self
            .lambda_param(names::RESERVED_CONCURRENCY)
            .and_then(|v| v.parse().ok());
        match (f.reserved_concurrency, want) {
            (Some(n), Some(w)) if n == w => {
                self.push("reserved-concurrency", Ok, format!("{n} reserved"))
            }
            (Some(n), None) => self.push("reserved-concurrency", Ok, format!("{n} reserved")),
            (n, w) => self.push(
                "reserved-concurrency",
                Warning,
                format!(
                    "{} reserved, the stack asks for {}; run deploy to set it again",
                    n.map(|n| n.to_string()).unwrap_or("none".into()),
                    w.map(|w| w.to_string()).unwrap_or("none".into())
                ),
            ),
        }
        let secret = self
            .seen
            .shared_stack
            .known()
            .and_then(Option::as_ref)
            .and_then(|s| s.info.outputs.get("SecretArn").cloned());
        match secret {
            Some(arn) if f.environment.values().any(|v| *v == arn) => {
                self.push("function-secret", Ok, format!("the function reads the credentials from {arn}"))
            }
            Some(arn) => self.push(
                "function-secret",
                Failed,
                format!("the function's environment does not point at the shared stack's secret {arn}; run deploy"),
            ),
            None => self.push("function-secret", Warning, "the shared stack has no SecretArn output to compare with"),
        }
    }

    /// Our bucket entry (or the subscription), and a permission for exactly that source.
    fn trigger(&mut self, f: &super::cloud::FunctionInfo) {
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
        use super::policy::{Grant, grants, subscribe_statement};
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
        self.push("topic", status, detail);
    }

    /// Something must publish to the topic: a trail the account sees (else it cannot tell).
    fn publisher(&mut self, topic: &str, account: &str) {
        use CheckStatus::*;
        let Fact::Known(trails) = &self.seen.trails else {
            return;
        };
        let publishes = |t: &&super::cloud::Trail| {
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
        self.push("publisher", status, detail);
    }

    fn subscription(&mut self, f: &super::cloud::FunctionInfo, topic: &str) {
        use CheckStatus::*;
        match self.seen.subscriptions.get(topic) {
            Some(Fact::Known(subs))
                if subs
                    .iter()
                    .any(|s| s.protocol == "lambda" && s.endpoint == f.arn) =>
            {
                self.push(
                    "trigger",
                    Ok,
                    format!("the function is subscribed to {topic}"),
                )
            }
            Some(Fact::Known(_)) => self.push(
                "trigger",
                Failed,
                format!("the function is not subscribed to {topic}; run deploy"),
            ),
            Some(Fact::Failed(e)) => self.push(
                "trigger",
                Failed,
                format!("cannot list the subscriptions of {topic} ({e})"),
            ),
            _ => {}
        }
    }

    fn bucket_entry(&mut self, f: &super::cloud::FunctionInfo, bucket: &str) {
        use CheckStatus::*;
        let id = notification_id(&self.t.stack_name);
        let entries = match self.seen.notifications.get(bucket) {
            Some(Fact::Known(e)) => e,
            Some(Fact::Failed(e)) => {
                return self.push(
                    "trigger",
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
                    self.push("trigger", Failed, format!("entry {id} of bucket {bucket} takes {} only, not every object-create event; run deploy", e.events.join(",")));
                } else if prefix_given && e.prefix != self.t.prefix {
                    self.push("trigger", Warning, format!("entry {id} of bucket {bucket} has prefix {:?}, not {:?}; run deploy", e.prefix, self.t.prefix));
                } else {
                    self.push("trigger", Ok, format!("bucket {bucket} sends {} (prefix {:?}) to the function (entry {id})", e.events.join(","), e.prefix));
                }
            }
            (None, Some(e)) => self.push(
                "trigger",
                Warning,
                format!("bucket {bucket} notifies the function through entry {:?}, made by hand; run deploy to replace it with ours", e.id.as_deref().unwrap_or("(no Id)")),
            ),
            (None, None) => self.push("trigger", Failed, format!("no entry of bucket {bucket} sends events to the function; run deploy")),
        }
    }

    /// A statement for exactly the source, and none broader.
    fn permission(
        &mut self,
        f: &super::cloud::FunctionInfo,
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
                    "invoke-permission",
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
                "invoke-permission",
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
            Some(s) => self.push("invoke-permission", Ok, format!("statement {} lets {principal} invoke the function from {source} only", s.sid)),
            None => self.push("invoke-permission", Failed, format!("no statement lets {principal} invoke the function from {source} (expected {sid}); run deploy")),
        }
    }

    /// Every key the function depends on must let its role decrypt; the bucket's default key
    /// must have been given to the stack.
    fn kms(&mut self, f: &super::cloud::FunctionInfo) {
        use CheckStatus::*;
        let given = self.lambda_param(names::BUCKET_KMS_KEY);
        if let Fact::Known(Some(key)) = &self.seen.bucket_key
            && given.as_deref().is_none_or(|g| !same_key(g, key))
        {
            self.push(
                "kms",
                Failed,
                format!("the bucket's objects are encrypted with KMS key {key}, but the stack was deployed without it, so the function cannot read them; re-deploy with --bucket-kms-key-arn {key}"),
            );
        }
        let role = f.role.clone().unwrap_or_default();
        for (key, policy) in &self.seen.key_policies {
            match policy {
                Fact::Known(p) if key_allows(p, self.account, &role) => {
                    self.push("kms", Ok, format!("key {key} lets the function's role decrypt"))
                }
                Fact::Known(_) => self.push(
                    "kms",
                    Failed,
                    format!("key {key}: its policy neither delegates to IAM nor lets role {role} decrypt; add this statement to the key policy: {}", decrypt_statement(&role)),
                ),
                Fact::Failed(e) => self.push(
                    "kms",
                    Warning,
                    format!("cannot read the policy of key {key} ({e}); make sure it lets role {role} use kms:Decrypt"),
                ),
                Fact::NotRead => {}
            }
        }
    }

    fn log(&mut self, f: &super::cloud::FunctionInfo) {
        use CheckStatus::*;
        let s: &LogSummary = match &self.seen.logs {
            Fact::Known(s) => s,
            Fact::Failed(e) => {
                return self.push(
                    "log",
                    Warning,
                    format!("cannot read the log of {} ({e})", f.name),
                );
            }
            Fact::NotRead => return,
        };
        let since = time(self.o.since_ms);
        let nothing = s.invocations == 0 && s.uploads == 0 && s.errors == 0;
        if s.group && nothing && s.unfinished {
            return self.push(
                "log",
                Warning,
                format!("the search of the log since {since} gave only empty pages so far (CloudWatch searches in pieces); run verify again, or with a shorter --since"),
            );
        }
        if !s.group || nothing {
            return self.push(
                "log",
                Warning,
                format!("no log yet since {since}: expected right after a deploy (S3 starts delivering within minutes)"),
            );
        }
        let uploads = match s.last_upload {
            Some(t) => format!(
                "last \"Uploading data to s3\" at {} ({} since {since})",
                time(t),
                s.uploads
            ),
            None => format!("no \"Uploading data to s3\" since {since}"),
        };
        if s.errors > 0 {
            let last = s.last_errors.last().cloned().unwrap_or_default();
            self.push(
                "log",
                Warning,
                format!("{uploads}; {} error lines, the last: {last}", s.errors),
            );
        } else if s.uploads == 0 {
            self.push(
                "log",
                Warning,
                format!("{uploads}, though invoked {} times", s.invocations),
            );
        } else {
            self.push("log", Ok, uploads);
        }
    }

    fn test_event(&mut self) {
        use CheckStatus::*;
        match &self.seen.invocation {
            Fact::Known((what, a)) if a.status == 0 => self.push(
                "test-event",
                Warning,
                format!("no log object under {what} to send a test event for"),
            ),
            Fact::Known((what, a)) => match &a.function_error {
                Some(kind) => self.push(
                    "test-event",
                    Failed,
                    format!(
                        "the function failed ({kind}) on a test event for {what}: {}",
                        excerpt(&a.payload)
                    ),
                ),
                None => self.push(
                    "test-event",
                    Ok,
                    format!(
                        "the function answered {} to a test event for {what} (a real log object: XDR ingests it again): {}",
                        a.status,
                        excerpt(&a.payload)
                    ),
                ),
            },
            Fact::Failed(e) => self.push(
                "test-event",
                Failed,
                format!("cannot invoke the function ({e})"),
            ),
            Fact::NotRead => {}
        }
    }

    /// Unreserved concurrency above the account's minimum.
    fn headroom(&mut self) {
        use CheckStatus::*;
        let Fact::Known(a) = &self.seen.account_settings else {
            return;
        };
        let minimum = a.concurrent_executions.min(100);
        let (status, word) = if a.unreserved_concurrent_executions > minimum {
            (Ok, "room for other reservations")
        } else {
            (
                Warning,
                "no room for another reservation: request a higher quota in Service Quotas",
            )
        };
        self.push(
            "concurrency-headroom",
            status,
            format!(
                "{} unreserved of {} (the account keeps at least {minimum}): {word}",
                a.unreserved_concurrent_executions, a.concurrent_executions
            ),
        );
    }
}

/// A statement that lets a service (or anyone) invoke the function from any source.
fn broader(s: &PolicyStatement) -> bool {
    let open_source = s.source_arn.as_deref().is_none_or(|a| a.contains('*'));
    let service = matches!(
        s.principal.as_str(),
        "s3.amazonaws.com" | "sns.amazonaws.com" | "*"
    );
    service && open_source
}

fn same_key(a: &str, b: &str) -> bool {
    let id = |k: &str| k.rsplit('/').next().unwrap_or(k).to_string();
    a == b || id(a) == id(b)
}

/// Does a key policy let `role` decrypt: directly, or by delegating to IAM (the guide's
/// "Enable IAM User Permissions" statement), where the function's role policy grants it?
pub fn key_allows(policy: &str, account: &str, role: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        o => vec![o.clone()],
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .any(|s| {
            let principals = list(&s["Principal"]["AWS"]);
            let actions = list(&s["Action"]);
            let decrypts = actions
                .iter()
                .any(|a| a == "kms:*" || a == "kms:Decrypt" || a == "*");
            let root = principals
                .iter()
                .any(|p| p == account || p.ends_with(&format!(":{account}:root")));
            let the_role = principals.iter().any(|p| p == role || p == "*");
            decrypts && (root || the_role)
        })
}

/// The key policy statement that delegates the key to IAM (the guide's "Enable IAM User
/// Permissions"): the role's own policy then decides.
pub fn delegation_statement(account: &str) -> String {
    serde_json::json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*",
    })
    .to_string()
}

/// The key policy statement that lets the function's role decrypt.
pub fn decrypt_statement(role: &str) -> String {
    serde_json::json!({
        "Sid": "AllowTaegisCloudTrailFunctionToDecrypt",
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": "kms:Decrypt",
        "Resource": "*",
    })
    .to_string()
}

fn time(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

fn excerpt(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        format!("{}…", one.chars().take(200).collect::<String>())
    } else {
        one
    }
}

#[cfg(test)]
mod tests;
