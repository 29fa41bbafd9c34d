use std::process::ExitCode;

use clap::Parser;
use taegis_cloudtrail::{cli::Cli, commands};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::run(cli).await.into()
}
