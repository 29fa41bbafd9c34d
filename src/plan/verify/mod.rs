//! `verify`: the guide's checks, as a pure function of what was observed. Each check is ok, a
//! warning, or failed with the fix; the target is healthy when none failed.
//!
//! The checks themselves, by part: `function` (the stacks, the function, its KMS keys, the
//! account's headroom), `trigger` (the bucket entry or subscription, the invoke permission,
//! an SNS topic's policy and publisher), `activity` (the log, the test event).

mod activity;
mod function;
mod trigger;

use serde::Serialize;

pub use crate::plan::policy::{decrypt_statement, delegation_statement, key_allows};
pub use activity::{pick_object, probe, test_event};

use super::deploy::Decision;
use super::marks::notification_id;
use super::observe::{Observed, Reads};
use super::{FunctionRef, Outcome, TargetResult};
use crate::config::TargetConfig;
use crate::input::{Input, Preflight};

/// The XDR Advanced Search query that shows the events arriving.
pub const XDR_QUERY: &str = "from cloudaudit where sensor_type = 'AWS CloudTrail'";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Warning,
    Failed,
}

/// Which check: named in JSON and text as `../design/cli.md` lists them (`shared-stack`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    SharedStack,
    LambdaStack,
    Function,
    Runtime,
    ReservedConcurrency,
    FunctionSecret,
    Kms,
    Trigger,
    InvokePermission,
    ConcurrencyHeadroom,
    Log,
    TestEvent,
    Topic,
    Publisher,
}

impl CheckName {
    /// The name as JSON and text show it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::SharedStack => "shared-stack",
            CheckName::LambdaStack => "lambda-stack",
            CheckName::Function => "function",
            CheckName::Runtime => "runtime",
            CheckName::ReservedConcurrency => "reserved-concurrency",
            CheckName::FunctionSecret => "function-secret",
            CheckName::Kms => "kms",
            CheckName::Trigger => "trigger",
            CheckName::InvokePermission => "invoke-permission",
            CheckName::ConcurrencyHeadroom => "concurrency-headroom",
            CheckName::Log => "log",
            CheckName::TestEvent => "test-event",
            CheckName::Topic => "topic",
            CheckName::Publisher => "publisher",
        }
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check of a target, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: CheckName,
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
                .map(|c| c.name.as_str())
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
    c.stack(
        CheckName::SharedStack,
        &seen.shared_stack,
        &t.shared_stack_name,
    );
    c.stack(CheckName::LambdaStack, &seen.lambda_stack, &t.stack_name);
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
    fn push(&mut self, name: CheckName, status: CheckStatus, detail: impl Into<String>) {
        self.out.push(Check {
            name,
            status,
            detail: detail.into(),
        });
    }

    fn lambda_param(&self, key: &str) -> Option<String> {
        self.seen
            .healthy_lambda_stack()
            .and_then(|s| s.info.parameters.get(key))
            .filter(|v| !v.is_empty())
            .cloned()
    }
}

#[cfg(test)]
mod tests;
