//! Follows one stack operation from its first event until the stack's own terminal event, reports
//! every resource transition, and confirms the result with DescribeStacks. The pace is injected;
//! there is no other waiting in the tool.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::cloud::{Cloud, StackEvent};
use super::{Event, Watch};

/// How often to poll, and how long to wait at most.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub interval: Duration,
    pub timeout: Duration,
    /// Print a "still waiting" line this often when nothing happens.
    pub heartbeat: Duration,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            interval: Duration::from_millis(1500),
            timeout: Duration::from_secs(30 * 60),
            heartbeat: Duration::from_secs(30),
        }
    }
}

/// How a followed operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The stack reached the wanted status.
    Done { status: String },
    /// It settled elsewhere: the failing resource and reason, when known.
    Failed { status: String, reason: String },
    /// Still in progress when the wait ran out.
    TimedOut { status: String },
    /// The user interrupted the wait; the operation goes on in AWS.
    Interrupted { status: String },
}

/// `CREATE_COMPLETE`, `ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_FAILED` ... (not `..._IN_PROGRESS`).
pub fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
        && (status.ends_with("_COMPLETE") || status.ends_with("_FAILED"))
}

/// The first failed resource that was not merely cancelled: "Resource: reason".
pub fn first_failure(events_oldest_first: &[StackEvent]) -> Option<String> {
    events_oldest_first
        .iter()
        .filter(|e| e.status.ends_with("_FAILED"))
        .filter(|e| {
            let r = e.reason.as_deref().unwrap_or("");
            !r.contains("Resource creation cancelled")
                && !r.contains("Resource update cancelled")
                && !r.contains("cancelled")
        })
        .find(|e| !e.is_stack() || e.reason.is_some())
        .map(|e| {
            format!(
                "{} ({}) {}: {}",
                e.logical_id,
                e.resource_type,
                e.status,
                e.reason.as_deref().unwrap_or("no reason given")
            )
        })
}

pub struct Follow<'a, C: Cloud> {
    pub cloud: &'a C,
    pub watch: Watch<'a>,
    pub target: &'a str,
}

/// Any settled status will do (used when a stack is found mid-operation).
pub const ANY: &str = "";

impl<C: Cloud> Follow<'_, C> {
    /// Follow the stack `stack_id` until it settles; `until` is the newest event before the
    /// operation started (events up to it are not ours). `wanted` is the success status, or
    /// [`ANY`].
    pub async fn run(
        &self,
        stack_name: &str,
        stack_id: &str,
        until: Option<&str>,
        wanted: &str,
    ) -> Result<Settled> {
        let pace = self.watch.pace;
        let started = Instant::now();
        let mut seen: HashSet<String> = HashSet::new();
        let mut ours: Vec<StackEvent> = Vec::new();
        let mut last_status = String::from("IN_PROGRESS");
        let mut last_heartbeat = Instant::now();
        let mut quiet_polls = 0u32;
        let mut interval = pace.interval;
        loop {
            let events = match self.cloud.stack_events(stack_id, until).await {
                Ok(e) => {
                    interval = pace.interval;
                    e
                }
                Err(e) if looks_transient(&e) => {
                    // Throttled or a passing fault: slow down instead of failing.
                    interval =
                        (interval * 2).clamp(Duration::from_millis(200), Duration::from_secs(20));
                    Vec::new()
                }
                Err(e) => {
                    return Err(
                        e.context(format!("failed to read the events of stack {stack_name}"))
                    );
                }
            };
            let (fresh, terminal_seen) =
                self.report(stack_name, events, &mut seen, &mut ours, &mut last_status);
            if fresh == 0 {
                quiet_polls += 1;
            } else {
                quiet_polls = 0;
            }
            // Confirm with DescribeStacks on a terminal event, and now and then while quiet
            // (an event stream can lag behind the stack's status).
            if terminal_seen || quiet_polls % 5 == 4 {
                match self.cloud.stack(stack_id).await {
                    Ok(Some(s)) if is_terminal(&s.status) => {
                        if !terminal_seen {
                            // The status ran ahead of the events: show the rest of them.
                            if let Ok(events) = self.cloud.stack_events(stack_id, until).await {
                                self.report(
                                    stack_name,
                                    events,
                                    &mut seen,
                                    &mut ours,
                                    &mut last_status,
                                );
                            }
                        }
                        return Ok(settle(&s.status, wanted, &ours, s.reason.as_deref()));
                    }
                    Ok(Some(s)) => last_status = s.status,
                    Ok(None) if wanted == "DELETE_COMPLETE" || wanted == ANY => {
                        return Ok(Settled::Done {
                            status: "DELETE_COMPLETE".to_string(),
                        });
                    }
                    Ok(None) => {
                        return Ok(Settled::Failed {
                            status: "DELETED".into(),
                            reason: first_failure(&ours)
                                .unwrap_or_else(|| format!("stack {stack_name} disappeared")),
                        });
                    }
                    Err(e) if looks_transient(&e) => {}
                    Err(e) => return Err(e.context(format!("failed to read stack {stack_name}"))),
                }
            }
            let elapsed = started.elapsed();
            if elapsed >= pace.timeout {
                return Ok(Settled::TimedOut {
                    status: last_status,
                });
            }
            if last_heartbeat.elapsed() >= pace.heartbeat {
                last_heartbeat = Instant::now();
                self.watch.reporter.event(Event::Waiting {
                    target: self.target.to_string(),
                    stack: stack_name.to_string(),
                    status: last_status.clone(),
                    elapsed,
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(interval.min(pace.timeout.saturating_sub(elapsed))) => {}
                _ = self.watch.cancel.cancelled() => return Ok(Settled::Interrupted { status: last_status }),
            }
        }
    }
}

impl<C: Cloud> Follow<'_, C> {
    /// Report the events not seen yet (oldest first); returns how many were new and whether
    /// the stack's own terminal event was among them.
    fn report(
        &self,
        stack_name: &str,
        newest_first: Vec<StackEvent>,
        seen: &mut HashSet<String>,
        ours: &mut Vec<StackEvent>,
        last_status: &mut String,
    ) -> (usize, bool) {
        let mut fresh = 0;
        let mut terminal = false;
        for ev in newest_first.into_iter().rev() {
            if !seen.insert(ev.id.clone()) {
                continue;
            }
            fresh += 1;
            self.watch.reporter.event(Event::StackEvent {
                target: self.target.to_string(),
                stack: stack_name.to_string(),
                resource: ev.logical_id.clone(),
                resource_type: ev.resource_type.clone(),
                status: ev.status.clone(),
                reason: ev.reason.clone(),
            });
            if ev.is_stack() {
                *last_status = ev.status.clone();
                terminal |= is_terminal(&ev.status);
            }
            ours.push(ev);
        }
        (fresh, terminal)
    }
}

fn settle(status: &str, wanted: &str, ours: &[StackEvent], stack_reason: Option<&str>) -> Settled {
    if status == wanted || wanted == ANY {
        Settled::Done {
            status: status.to_string(),
        }
    } else {
        Settled::Failed {
            status: status.to_string(),
            reason: first_failure(ours)
                .or_else(|| stack_reason.map(str::to_string))
                .unwrap_or_else(|| format!("the stack ended in {status}")),
        }
    }
}

/// Errors worth waiting out rather than failing on: throttling, 5xx, dropped connections.
pub fn looks_transient(e: &anyhow::Error) -> bool {
    super::cloud::CallError::is_transient(e)
}

/// A stack operation that is still running in AWS when the run stopped waiting for it: not a
/// failure; re-running the command resumes.
#[derive(Debug)]
pub struct StillRunning(pub String);

impl std::fmt::Display for StillRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StillRunning {}

/// A failure message for an operation that did not settle as wanted.
pub fn explain(stack: &str, settled: &Settled) -> anyhow::Error {
    match settled {
        Settled::Done { .. } => anyhow!("stack {stack} succeeded"),
        Settled::Failed { status, reason } => anyhow!("stack {stack} ended in {status}: {reason}"),
        Settled::TimedOut { status } => anyhow::Error::new(StillRunning(format!(
            "stack {stack} is still {status} after the --timeout; it has not failed: re-run the same command to follow it to the end"
        ))),
        Settled::Interrupted { status } => anyhow::Error::new(StillRunning(format!(
            "interrupted while stack {stack} was {status}; it goes on in AWS: re-run the same command to resume"
        ))),
    }
}

/// What to do about the known causes of a failure, from its message.
pub fn hint(reason: &str) -> Option<&'static str> {
    let r = reason.to_ascii_lowercase();
    let has = |s: &str| r.contains(&s.to_ascii_lowercase());
    if has("PermanentRedirect") || has("bucket is in this region") {
        Some(
            "the Lambda code bucket must be in the function's region: use a bucket per region, e.g. --lambda-bucket 'taegis-lambda-{account}-{region}'",
        )
    } else if has("ReservedConcurrentExecutions") && has("minimum value") {
        Some(
            "the account's unreserved Lambda concurrency is too low: request a higher \"Concurrent executions\" quota in Service Quotas, or lower --parameter ReservedConcurrency",
        )
    } else if has("kms")
        && (has("AccessDenied")
            || has("not authorized")
            || has("access denied")
            || has("KMS key is disabled"))
    {
        Some(
            "the KMS key's policy does not let this role use it: allow kms:Decrypt (and kms:CreateGrant for the function's environment key) to the deploying role and the function's role",
        )
    } else if has("Unable to validate the following destination configurations") {
        Some(
            "S3 could not validate the function as a destination: the invoke permission for s3.amazonaws.com was missing; re-run the same command, which adds it first",
        )
    } else if has("Configurations overlap") {
        Some(
            "another notification on the bucket takes the same events and prefix: use --trigger sns with a topic that fans out to both, or a --prefix that does not overlap",
        )
    } else if has("cannot be deleted as it is in use by")
        || (has("Cannot update export") && has("in use by"))
    {
        Some(
            "another stack imports this stack's exports: delete or update the importing stack first",
        )
    } else if has("No export named") {
        Some(
            "the shared stack's exports are missing in this region: deploy the shared stack here first (same account and region)",
        )
    } else if has("already exists") {
        Some(
            "a resource with this name already exists (a leftover, or another deploy with the same names): delete it or choose another --stack-name",
        )
    } else if has("runtime")
        && (has("no longer supported") || has("deprecated") || has("not supported"))
    {
        Some(
            "AWS blocks this runtime for new functions: use provided.al2023 (--parameter LambdaRuntime=provided.al2023)",
        )
    } else if has("not authorized to perform") || has("AccessDenied") || has("Access Denied") {
        Some(
            "the deploying identity lacks the permission named above: add it to the role or user that runs taegis-cloudtrail",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(logical: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            id: format!("{logical}-{status}"),
            stack_id: "sid".into(),
            logical_id: logical.into(),
            physical_id: if logical == "stack" {
                "sid".into()
            } else {
                "p".into()
            },
            resource_type: if logical == "stack" {
                "AWS::CloudFormation::Stack".into()
            } else {
                "AWS::Lambda::Function".into()
            },
            status: status.into(),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn terminal_statuses() {
        for s in [
            "CREATE_COMPLETE",
            "ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
            "DELETE_COMPLETE",
            "CREATE_FAILED",
        ] {
            assert!(is_terminal(s), "{s}");
        }
        for s in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
        ] {
            assert!(!is_terminal(s), "{s}");
        }
    }

    #[test]
    fn first_real_failure_wins_over_cancellations() {
        let events = vec![
            ev("stack", "CREATE_IN_PROGRESS", Some("User Initiated")),
            ev("Role", "CREATE_FAILED", Some("Resource creation cancelled")),
            ev(
                "Fn",
                "CREATE_FAILED",
                Some("Specified ReservedConcurrentExecutions ..."),
            ),
            ev(
                "stack",
                "ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [Fn]"),
            ),
        ];
        let f = first_failure(&events).unwrap();
        assert!(
            f.starts_with("Fn (AWS::Lambda::Function) CREATE_FAILED: Specified"),
            "{f}"
        );
        assert_eq!(first_failure(&events[..2]), None);
    }

    #[test]
    fn hints_for_known_causes() {
        for (reason, want) in [
            (
                "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is in this region: eu-west-1.",
                "code bucket",
            ),
            (
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
                "Service Quotas",
            ),
            (
                "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: kms:CreateGrant (Service: Kms, AccessDeniedException)",
                "KMS key",
            ),
            (
                "InvalidArgument: Unable to validate the following destination configurations",
                "invoke permission",
            ),
            (
                "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                "--trigger sns",
            ),
            (
                "Export TaegisXdrSecretArn cannot be deleted as it is in use by taegis-cloudtrail",
                "imports",
            ),
            ("No export named TaegisXdrSecretArn found", "shared stack"),
            (
                "Resource of type 'AWS::Logs::LogGroup' with identifier '/aws/lambda/x' already exists.",
                "already exists",
            ),
            (
                "The runtime parameter of provided.al2 is no longer supported for creating or updating AWS Lambda functions.",
                "provided.al2023",
            ),
            (
                "User: x is not authorized to perform: iam:CreateRole",
                "permission",
            ),
        ] {
            let h = hint(reason).unwrap_or_else(|| panic!("no hint for {reason}"));
            assert!(h.contains(want), "{reason} -> {h}");
        }
        assert_eq!(hint("Internal failure"), None);
    }

    #[test]
    fn transient_errors() {
        use crate::plan::cloud::CallError;
        let err = |transient| CallError {
            code: Some("Throttling".into()),
            message: "Rate exceeded".into(),
            transient,
        };
        assert!(looks_transient(
            &anyhow::Error::new(err(true)).context("failed to read")
        ));
        assert!(!looks_transient(&anyhow::Error::new(err(false))));
        assert!(!looks_transient(&anyhow!("Throttling")));
    }
}
