//! Glue: each command wires config, templates, the AWS room, the planner/executor and the
//! terminal layer together. The only module that sees every other one.

pub mod coverage;
pub mod deploy;
pub mod destroy;
pub mod iam_policy;
pub mod inputs;
pub mod session;
pub mod setup;
pub mod template;
pub mod verify;
mod xdr;

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
        Command::Coverage(args) => coverage::run(g, &args, &printer).await,
        Command::Template(args) => template::run(&args, &printer),
        Command::IamPolicy(args) => iam_policy::run(&args, &printer),
        Command::Man { dir } => man(dir.as_deref(), &printer),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "taegis-cloudtrail", &mut script);
            printer.out_bytes(&script);
            Exit::Ok
        }
    }
}

/// The manual: the main page on stdout, or one page per command into `dir`
/// (`taegis-cloudtrail-deploy.1`, `taegis-cloudtrail-template-show.1`, ...), each listing
/// every option the command takes, the global ones included.
fn man(dir: Option<&std::path::Path>, printer: &Printer) -> Exit {
    let mut cli = Cli::command();
    cli.build();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        return match clap_mangen::Man::new(cli).render(&mut page) {
            Ok(()) => {
                printer.out_bytes(&page);
                Exit::Ok
            }
            Err(e) => {
                printer.error(&format!("cannot render the manual page ({e})"));
                Exit::Failed
            }
        };
    };
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        let mut pages = Vec::new();
        write_pages(&cli, "", dir, &mut pages)?;
        Ok(pages)
    });
    match written {
        Ok(pages) => {
            printer.info(&format!(
                "wrote {} manual pages into {}",
                pages.len(),
                dir.display()
            ));
            for p in pages {
                printer.out(&p.display().to_string());
            }
            Exit::Ok
        }
        Err(e) => {
            printer.error(&format!(
                "man {}: cannot write the manual pages ({e}); give a folder you can write to",
                dir.display()
            ));
            Exit::BadInput
        }
    }
}

/// The page of `cmd` and of each of its subcommands, named `parent-name.1`.
fn write_pages(
    cmd: &clap::Command,
    parent: &str,
    dir: &std::path::Path,
    out: &mut Vec<std::path::PathBuf>,
) -> std::io::Result<()> {
    let name = if parent.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{parent}-{}", cmd.get_name())
    };
    let page_cmd = cmd
        .clone()
        .name(name.clone())
        .bin_name(name.replace('-', " "));
    let mut page = Vec::new();
    clap_mangen::Man::new(page_cmd).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page)?;
    out.push(path);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, &name, dir, out)?;
    }
    Ok(())
}
