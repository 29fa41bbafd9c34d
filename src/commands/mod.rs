//! Glue: each command wires config, templates, the AWS room, the planner/executor and the
//! terminal layer together. The only module that sees every other one.

pub mod deploy;
pub mod destroy;
pub mod iam_policy;
pub mod inputs;
pub mod session;
pub mod setup;
pub mod template;
pub mod verify;

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::ui::Printer;

/// The exit codes of the command-line contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, or nothing to change.
    Ok = 0,
    /// At least one target failed.
    Failed = 1,
    /// Bad input or a failed preflight; nothing was changed.
    BadInput = 2,
    /// Interrupted.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

pub async fn run(cli: Cli) -> Exit {
    let g = &cli.global;
    let mut printer = Printer::new(g.output, g.quiet, g.verbose, g.color, g.no_input);
    printer.logs = crate::ui::logs::init(&printer, g.verbose);
    match cli.command {
        Command::Setup(args) => setup::run(g, &args, &printer).await,
        Command::Deploy(args) => deploy::run(g, &args, &printer).await,
        Command::Verify(args) => verify::run(g, &args, &printer).await,
        Command::Destroy(args) => destroy::run(g, &args, &printer).await,
        Command::Template(args) => template::run(&args, &printer),
        Command::IamPolicy(args) => iam_policy::run(&args, &printer),
        Command::Man => {
            let page = clap_mangen::Man::new(Cli::command());
            match page.render(&mut std::io::stdout()) {
                Ok(()) => Exit::Ok,
                Err(e) => {
                    printer.error(&format!("cannot write the manual page ({e})"));
                    Exit::Failed
                }
            }
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "taegis-cloudtrail", &mut std::io::stdout());
            Exit::Ok
        }
    }
}
