//! taegis-cloudtrail: connect an AWS account's CloudTrail logs to Secureworks Taegis XDR.
//!
//! Who may import whom:
//! - `template`, `secret`: nothing of ours.
//! - `config`: `cli` (its argument types).
//! - `plan`: `template`, `config`, `secret`; declares the `Cloud` trait the AWS room implements.
//! - `aws`: `plan` (to implement its trait and return its types); the only room with the SDK.
//! - `ui`: renders `plan` types; never calls AWS; the only room with indicatif/dialoguer/console.
//! - `commands`: everything; glue only.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod plan;
pub mod secret;
pub mod template;
pub mod ui;
