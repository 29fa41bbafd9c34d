//! taegis-cloudtrail: connect an AWS account's CloudTrail logs to Secureworks Taegis XDR.
//!
//! Who may import whom (`tests/it/rooms.rs` reads these lines and checks every file against
//! them; within a room, no module imports one that imports it back):
//! - `kinds`, `input`, `secret`, `template`: nothing of ours (`template` is the one YAML parser).
//! - `cli`: may import `kinds`, `input`; clap types, and the per-target options a rollout
//!   file reads too (serde), each with the input a problem about it names.
//! - `iam`: may import `kinds`; the table of the AWS calls and the policy built from it.
//! - `config`: may import `cli`, `kinds`, `input`, `template`; its argument types, and YAML
//!   through the template room.
//! - `plan`: may import `config`, `input`, `kinds`, `secret`, `template`; never the command
//!   line. It declares the `Cloud` trait the AWS room implements.
//! - `aws`: may import `plan`, `iam`, `kinds`; to implement the plan's trait and return its
//!   types, every call looked up in the IAM table; the only room with the SDK.
//! - `ui`: may import `plan`, `input`, `kinds`, `secret`; renders them, never calls AWS; the only
//!   room with indicatif, dialoguer and console.
//! - `xdr`: may import `secret`; the Taegis XDR API (a token, the Advanced Search); the only
//!   room with reqwest and tungstenite, and it knows nothing of AWS.
//! - `commands`: may import everything; glue only.
//! - `main`: may import `cli`, `commands`.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod iam;
pub mod input;
pub mod kinds;
pub mod plan;
pub mod secret;
pub mod template;
#[allow(clippy::disallowed_methods)] // the printer: the one room that writes to the terminal
pub mod ui;
pub mod xdr;
