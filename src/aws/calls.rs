//! Every AWS call passes here (an interceptor on every client): it is looked up in the IAM
//! table for the running command, and each attempt is logged at debug level with its status,
//! request id and duration. A call missing from the table is refused in debug builds, so every
//! test run checks the table; release builds log it as a warning.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::iam;
use crate::kinds::Task;

#[derive(Debug, Clone, Copy)]
pub(super) struct Calls {
    pub task: Task,
}

/// When the current attempt was sent.
#[derive(Debug, Clone)]
struct Sent(Instant);

impl Storable for Sent {
    type Storer = StoreReplace<Sent>;
}

/// The operation's name and its IAM action, for the log.
fn describe(cfg: &ConfigBag) -> (String, String, &'static str) {
    match cfg.load::<Metadata>() {
        Some(m) => {
            let action = iam::find(m.service(), m.name()).map_or("?", |c| c.action);
            (m.service().to_string(), m.name().to_string(), action)
        }
        None => (String::new(), String::new(), "?"),
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "taegis-cloudtrail-calls"
    }

    /// The first hook that sees the operation's metadata (client interceptors' "before
    /// execution" runs before the operation's configuration is applied).
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let listed = cfg
            .load::<Metadata>()
            .and_then(|m| iam::find(m.service(), m.name()))
            .is_some_and(|c| c.used().by(self.task));
        if listed {
            return Ok(());
        }
        let (service, operation, _) = describe(cfg);
        let text = format!(
            "internal: the AWS call {service} {operation} is not in the IAM table for `{}` (src/iam), so `iam-policy` would not grant it",
            self.task.name()
        );
        if cfg!(debug_assertions) {
            return Err(text.into());
        }
        tracing::warn!("{text}");
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Sent(Instant::now()));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return Ok(());
        }
        let (service, operation, action) = describe(cfg);
        let ms = cfg
            .load::<Sent>()
            .map(|s| s.0.elapsed().as_millis())
            .unwrap_or_default();
        let attempt = cfg
            .load::<RequestAttempts>()
            .map(|a| a.attempts())
            .unwrap_or(1);
        let response = context.response();
        let header = |name: &str| {
            response
                .and_then(|r| r.headers().get(name))
                .unwrap_or("-")
                .to_string()
        };
        let request_id = match header("x-amzn-requestid").as_str() {
            "-" => header("x-amz-request-id"),
            id => id.to_string(),
        };
        match response {
            Some(r) => tracing::debug!(
                target: "taegis_cloudtrail::aws",
                "{service} {operation} ({action}) attempt {attempt}: HTTP {} in {ms} ms, request id {request_id}",
                r.status().as_u16()
            ),
            None => tracing::debug!(
                target: "taegis_cloudtrail::aws",
                "{service} {operation} ({action}) attempt {attempt}: no response after {ms} ms"
            ),
        }
        Ok(())
    }
}
