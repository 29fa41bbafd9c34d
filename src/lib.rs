//! taegis-cloudtrail: connect an AWS account's CloudTrail logs to Secureworks Taegis XDR.
//!
//! Who may import whom:
//! - `kinds`, `input`, `secret`, `template`: nothing of ours (`template` is the one YAML parser).
//! - `cli`: `kinds` (clap types only).
//! - `iam`: `kinds`: the table of the AWS calls and the policy built from it.
//! - `config`: `cli` (its argument types), `kinds`, `input`, `template` (to read YAML).
//! - `plan`: `config`, `input`, `kinds`, `secret`, `template`; never `cli`. It declares the
//!   `Cloud` trait the AWS room implements.
//! - `aws`: `plan` (to implement its trait and return its types), `iam` (every call is
//!   looked up there); the only room with the SDK.
//! - `ui`: renders `plan` and `input` types; never calls AWS; the only room with
//!   indicatif/dialoguer/console.
//! - `commands`: everything; glue only.

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
pub mod ui;
