//! The reads `verify` and `setup` add: the trails, the function's log, KMS key policies, the
//! bucket's default encryption, and the test invocation.

use anyhow::Result;
use aws_sdk_lambda::primitives::Blob;

use super::AwsCloud;
use super::errors::{classify, found};
use crate::plan::cloud::{Invocation, LogSummary, Trail};

/// How many log pages with events one verify reads at most (10,000 events each).
const MAX_LOG_PAGES: usize = 20;
/// How many pages without events one verify reads at most: FilterLogEvents searches the log
/// in pieces and may answer empty pages (with a token to go on) before it finds events.
const MAX_EMPTY_PAGES: usize = 200;
/// How many of the last error lines are kept.
const LAST_ERRORS: usize = 3;

/// Count one log line into the summary.
pub fn tally(summary: &mut LogSummary, message: &str, timestamp: i64) {
    let m = message.trim();
    if m.starts_with("REPORT RequestId") {
        summary.invocations += 1;
    }
    if m.contains("Uploading data to s3") {
        summary.uploads += 1;
        summary.last_upload = summary.last_upload.max(Some(timestamp));
    }
    let lower = m.to_ascii_lowercase();
    let error = lower.contains("\"level\":\"error\"")
        || m.starts_with("ERROR")
        || lower.contains("task timed out")
        || m.contains("Runtime.ExitError")
        || m.contains("\"errorMessage\"");
    if error {
        summary.errors += 1;
        summary.last_errors.push(m.chars().take(300).collect());
        if summary.last_errors.len() > LAST_ERRORS {
            summary.last_errors.remove(0);
        }
    }
}

impl AwsCloud {
    pub(super) async fn read_trails(&self) -> Result<Vec<Trail>> {
        let out = self
            .cloudtrail
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(classify)?;
        let mut trails = Vec::new();
        for t in out.trail_list() {
            let arn = t.trail_arn().unwrap_or_default().to_string();
            let logging = match self.cloudtrail.get_trail_status().name(&arn).send().await {
                Ok(s) => s.is_logging(),
                Err(_) => None,
            };
            trails.push(Trail {
                name: t.name().unwrap_or_default().to_string(),
                home_region: t.home_region().unwrap_or_default().to_string(),
                bucket: t.s3_bucket_name().unwrap_or_default().to_string(),
                prefix: t
                    .s3_key_prefix()
                    .filter(|p| !p.is_empty())
                    .map(str::to_string),
                kms_key: t.kms_key_id().map(str::to_string),
                sns_topic: t.sns_topic_arn().map(str::to_string),
                multi_region: t.is_multi_region_trail().unwrap_or(false),
                organization: t.is_organization_trail().unwrap_or(false),
                global_events: t.include_global_service_events().unwrap_or(false),
                logging,
                arn,
            });
        }
        Ok(trails)
    }

    pub(super) async fn read_log_summary(
        &self,
        function: &str,
        start_ms: i64,
    ) -> Result<LogSummary> {
        let group = format!("/aws/lambda/{function}");
        let mut summary = LogSummary {
            group: true,
            ..LogSummary::default()
        };
        let mut token: Option<String> = None;
        let (mut full, mut empty) = (0, 0);
        loop {
            if full == MAX_LOG_PAGES || empty == MAX_EMPTY_PAGES {
                summary.unfinished = true;
                break;
            }
            let req = self
                .logs
                .filter_log_events()
                .log_group_name(&group)
                .start_time(start_ms)
                .set_next_token(token.take());
            let Some(page) = found(req.send().await)? else {
                summary.group = false;
                return Ok(summary);
            };
            if page.events().is_empty() {
                empty += 1;
            } else {
                full += 1;
            }
            for e in page.events() {
                tally(
                    &mut summary,
                    e.message().unwrap_or_default(),
                    e.timestamp().unwrap_or(0),
                );
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(summary)
    }

    pub(super) async fn read_key_policy(&self, key: &str) -> Result<String> {
        let out = self
            .kms
            .get_key_policy()
            .key_id(key)
            .policy_name("default")
            .send()
            .await
            .map_err(classify)?;
        Ok(out.policy().unwrap_or_default().to_string())
    }

    pub(super) async fn read_bucket_kms_key(&self, bucket: &str) -> Result<Option<String>> {
        let out = match self.s3.get_bucket_encryption().bucket(bucket).send().await {
            Ok(o) => o,
            Err(e) => {
                let e = classify(e);
                return if super::errors::is_unencrypted(e.code.as_deref().unwrap_or_default()) {
                    Ok(None)
                } else {
                    Err(e.into())
                };
            }
        };
        Ok(out
            .server_side_encryption_configuration()
            .map(|c| c.rules())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.apply_server_side_encryption_by_default())
            .filter(|d| d.sse_algorithm().as_str().starts_with("aws:kms"))
            .find_map(|d| d.kms_master_key_id().map(str::to_string)))
    }

    pub(super) async fn invoke_function(
        &self,
        function: &str,
        payload: &str,
    ) -> Result<Invocation> {
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload.as_bytes()))
            .send()
            .await
            .map_err(classify)?;
        Ok(Invocation {
            status: out.status_code(),
            function_error: out.function_error().map(str::to_string),
            payload: out
                .payload()
                .map(|p| String::from_utf8_lossy(p.as_ref()).to_string())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_counted() {
        let mut s = LogSummary::default();
        for (m, t) in [
            ("START RequestId: 1 Version: $LATEST", 1),
            (
                r#"{"level":"debug","time":"2026-12-01T10:00:00Z","message":"Uploading data to s3"}"#,
                5,
            ),
            (
                r#"{"level":"debug","time":"2026-12-01T09:00:00Z","message":"Uploading data to s3"}"#,
                3,
            ),
            ("REPORT RequestId: 1 Duration: 10 ms", 6),
            (r#"{"level":"error","message":"cannot get credentials"}"#, 7),
            (
                "2026-12-01T10:00:00Z 1 Task timed out after 3.00 seconds",
                8,
            ),
        ] {
            tally(&mut s, m, t);
        }
        assert_eq!((s.invocations, s.uploads, s.errors), (1, 2, 2));
        assert_eq!(s.last_upload, Some(5));
        assert!(
            s.last_errors[1].contains("timed out"),
            "{:?}",
            s.last_errors
        );
    }
}
