//! What one read found (`Fact`), and a read that failed (`ReadError`): the vocabulary every
//! decision reads the cloud in, shared by `observe` and the decide modules without their
//! importing each other.

use anyhow::Result;

use super::cloud::{CallError, ErrorKind, Unsent};

/// A read that failed: AWS's error code, when it gave one, and the message on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub code: Option<String>,
    pub message: String,
    /// The endpoint never answered (no such host, connection refused): a passing fault, or a
    /// region that does not exist.
    pub unreachable: bool,
    /// Why the call never reached AWS, when it did not (no credentials, an expired SSO
    /// session, an endpoint that does not answer, ...).
    pub unsent: Option<Unsent>,
    /// What the failure means (see [`ErrorKind`]).
    pub kind: ErrorKind,
}

impl ReadError {
    /// A read that could not be made, in our own words.
    pub fn said(message: impl Into<String>) -> ReadError {
        ReadError {
            code: None,
            message: message.into(),
            unreachable: false,
            unsent: None,
            kind: ErrorKind::Other,
        }
    }

    pub fn of(e: &anyhow::Error) -> ReadError {
        let call = e.chain().find_map(|c| c.downcast_ref::<CallError>());
        ReadError {
            code: call.and_then(|c| c.code.clone()),
            message: one_line(e),
            unreachable: call.is_some_and(|c| c.code.is_none() && c.transient),
            unsent: call.and_then(|c| c.unsent.as_deref().cloned()),
            kind: call.map(|c| c.kind).unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What one read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fact<T> {
    /// Not read: it does not apply, or its input already has a problem.
    #[default]
    NotRead,
    Failed(ReadError),
    Known(T),
}

impl<T> Fact<T> {
    pub fn from_result(r: Result<T>) -> Fact<T> {
        match r {
            Ok(v) => Fact::Known(v),
            Err(e) => Fact::Failed(ReadError::of(&e)),
        }
    }

    pub fn known(&self) -> Option<&T> {
        match self {
            Fact::Known(v) => Some(v),
            _ => None,
        }
    }
}

/// The first line of an error chain, for messages that must stay on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    let s = format!("{e:#}");
    s.lines().next().unwrap_or_default().to_string()
}
