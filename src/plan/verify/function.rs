//! The checks of the stacks and the function (state, runtime, reserved concurrency, the
//! shared secret), of the KMS keys it depends on (with the key policy statements the fixes
//! name), and of the account's concurrency headroom.

use super::{CheckName, CheckStatus, Checks};
use crate::plan::cloud::FunctionInfo;
use crate::plan::deploy::al2_warning;
use crate::plan::observe::{Fact, StackSeen};
use crate::plan::policy::{decrypt_statement, key_allows};
use crate::template::names;

impl Checks<'_> {
    pub(super) fn stack(&mut self, name: CheckName, fact: &Fact<Option<StackSeen>>, stack: &str) {
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

    /// The function: there and Active.
    pub(super) fn function(&mut self) -> Option<FunctionInfo> {
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
                self.push(
                    CheckName::Function,
                    status,
                    format!("function {} is {word}", f.name),
                );
                Some(f.clone())
            }
            Fact::Known(None) => {
                self.push(
                    CheckName::Function,
                    Failed,
                    "the Lambda stack holds no function; run deploy",
                );
                None
            }
            Fact::Failed(e) => {
                self.push(
                    CheckName::Function,
                    Failed,
                    format!("cannot read the function ({e})"),
                );
                None
            }
            Fact::NotRead => None,
        }
    }

    /// Runtime, reserved concurrency, and the environment pointing at the shared secret.
    pub(super) fn function_settings(&mut self, f: &FunctionInfo) {
        use CheckStatus::*;
        match f.runtime.as_deref() {
            Some("provided.al2023") => self.push(CheckName::Runtime, Ok, "provided.al2023 (custom runtime on Amazon Linux 2023)"),
            Some("provided.al2") => self.push(CheckName::Runtime, Warning, al2_warning(&self.o.today)),
            Some(r) => self.push(CheckName::Runtime, Failed, format!("{r}: the Taegis function is a custom runtime (provided.al2023); re-deploy with the vendor's template")),
            None => self.push(CheckName::Runtime, Warning, "the function reports no runtime"),
        }
        let want: Option<i32> = self
            .lambda_param(names::RESERVED_CONCURRENCY)
            .and_then(|v| v.parse().ok());
        match (f.reserved_concurrency, want) {
            (Some(n), Some(w)) if n == w => {
                self.push(CheckName::ReservedConcurrency, Ok, format!("{n} reserved"))
            }
            (Some(n), None) => {
                self.push(CheckName::ReservedConcurrency, Ok, format!("{n} reserved"))
            }
            (n, w) => self.push(
                CheckName::ReservedConcurrency,
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
                self.push(CheckName::FunctionSecret, Ok, format!("the function reads the credentials from {arn}"))
            }
            Some(arn) => self.push(
                CheckName::FunctionSecret,
                Failed,
                format!("the function's environment does not point at the shared stack's secret {arn}; run deploy"),
            ),
            None => self.push(CheckName::FunctionSecret, Warning, "the shared stack has no SecretArn output to compare with"),
        }
    }

    /// Every key the function depends on must let its role decrypt; the bucket's default key
    /// must have been given to the stack.
    pub(super) fn kms(&mut self, f: &FunctionInfo) {
        use CheckStatus::*;
        let given = self.lambda_param(names::BUCKET_KMS_KEY);
        if let Fact::Known(Some(key)) = &self.seen.bucket_key
            && given.as_deref().is_none_or(|g| !same_key(g, key))
        {
            self.push(
                CheckName::Kms,
                Failed,
                format!("the bucket's objects are encrypted with KMS key {key}, but the stack was deployed without it, so the function cannot read them; re-deploy with --bucket-kms-key-arn {key}"),
            );
        }
        let role = f.role.clone().unwrap_or_default();
        for (key, policy) in &self.seen.key_policies {
            match policy {
                Fact::Known(p) if key_allows(p, self.account, &role) => {
                    self.push(CheckName::Kms, Ok, format!("key {key} lets the function's role decrypt"))
                }
                Fact::Known(_) => self.push(
                    CheckName::Kms,
                    Failed,
                    format!("key {key}: its policy neither delegates to IAM nor lets role {role} decrypt; add this statement to the key policy: {}", decrypt_statement(&role)),
                ),
                Fact::Failed(e) => self.push(
                    CheckName::Kms,
                    Warning,
                    format!("cannot read the policy of key {key} ({e}); make sure it lets role {role} use kms:Decrypt"),
                ),
                Fact::NotRead => {}
            }
        }
    }

    /// Unreserved concurrency above the account's minimum.
    pub(super) fn headroom(&mut self) {
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
            CheckName::ConcurrencyHeadroom,
            status,
            format!(
                "{} unreserved of {} (the account keeps at least {minimum}): {word}",
                a.unreserved_concurrent_executions, a.concurrent_executions
            ),
        );
    }
}

fn same_key(a: &str, b: &str) -> bool {
    let id = |k: &str| k.rsplit('/').next().unwrap_or(k).to_string();
    a == b || id(a) == id(b)
}
