//! Whether events flow: the function's log since `--since`, and the test event
//! (`--test-event`): the object it is for, the invocation, and its check.

use super::{CheckName, CheckStatus, Checks};
use crate::config::TargetConfig;
use crate::input::Input;
use crate::plan::cloud::{CloudReads, FunctionInfo, Invocation, LogSummary};
use crate::plan::marks::notification_id;
use crate::plan::observe::{Fact, Observed};
use crate::template::names;

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
pub async fn probe<C: CloudReads>(cloud: &C, t: &TargetConfig, seen: &mut Observed) {
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

impl Checks<'_> {
    pub(super) fn log(&mut self, f: &FunctionInfo) {
        use CheckStatus::*;
        let s: &LogSummary = match &self.seen.logs {
            Fact::Known(s) => s,
            Fact::Failed(e) => {
                return self.push(
                    CheckName::Log,
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
                CheckName::Log,
                Warning,
                format!("the search of the log since {since} gave only empty pages so far (CloudWatch searches in pieces); run verify again, or with a shorter --since"),
            );
        }
        if !s.group || nothing {
            return self.push(
                CheckName::Log,
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
                CheckName::Log,
                Warning,
                format!("{uploads}; {} error lines, the last: {last}", s.errors),
            );
        } else if s.uploads == 0 {
            self.push(
                CheckName::Log,
                Warning,
                format!("{uploads}, though invoked {} times", s.invocations),
            );
        } else {
            self.push(CheckName::Log, Ok, uploads);
        }
    }

    pub(super) fn test_event(&mut self) {
        use CheckStatus::*;
        match &self.seen.invocation {
            Fact::Known((what, a)) if a.status == 0 => self.push(
                CheckName::TestEvent,
                Warning,
                format!("no log object under {what} to send a test event for"),
            ),
            Fact::Known((what, a)) => match &a.function_error {
                Some(kind) => self.push(
                    CheckName::TestEvent,
                    Failed,
                    format!(
                        "the function failed ({kind}) on a test event for {what}: {}",
                        excerpt(&a.payload)
                    ),
                ),
                None => self.push(
                    CheckName::TestEvent,
                    Ok,
                    format!(
                        "the function answered {} to a test event for {what} (a real log object: XDR ingests it again): {}",
                        a.status,
                        excerpt(&a.payload)
                    ),
                ),
            },
            Fact::Failed(e) => self.push(
                CheckName::TestEvent,
                Failed,
                format!("cannot invoke the function ({e})"),
            ),
            Fact::NotRead => {}
        }
    }
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
