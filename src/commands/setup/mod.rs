//! `setup`: the vendor's guide as a conversation at the terminal. It finds out what it can
//! from the account, asks only for the rest, shows the plan and asks to confirm, deploys with
//! live progress (the same observe, decide and apply as `deploy`), runs `verify`'s checks, and
//! offers to discard the credentials file and to save the answers as a rollout file.

mod answers;
mod ask;

use answers::Answers;
use ask::Talk;

use super::Exit;
use super::deploy::{self, Confirm};
use crate::aws::Connection;
use crate::cli::{DeployArgs, Global, TargetArgs, VerifyArgs};
use crate::kinds::Task;
use crate::template::Template;
use crate::ui::Printer;
use crate::ui::prompt::Interrupted;

pub async fn run(g: &Global, args: &DeployArgs, printer: &Printer) -> Exit {
    let mut flags = Answers::from_flags(g, args);
    if !printer.interactive {
        if flags.region.is_none() {
            let conn = Connection::new(g.profile.clone(), g.endpoint_url.clone(), Task::Setup);
            flags.region = crate::aws::default_region(&conn).await;
        }
        printer.error("setup asks its questions at a terminal, and there is none here (or --no-input was given); this deploy command does the same work, once the values in capitals are yours:");
        printer.out(&flags.command_line());
        return Exit::BadInput;
    }
    // Ctrl-C at a prompt comes back as an answer-less prompt, not as the end of the process.
    let _hold = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    let answers = match converse(g, args, flags, printer).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            printer.error(
                "stopped before anything was created; run setup again once the key policy is fixed",
            );
            return Exit::BadInput;
        }
        Err(Interrupted) => {
            printer.error("interrupted; nothing was changed");
            return Exit::Interrupted;
        }
    };
    let g = Global {
        region: answers.region.clone(),
        ..g.clone()
    };
    printer.say("\nThe plan:");
    let deployed = deploy::execute(&g, &answers.deploy_args(), printer, Confirm::Plan).await;
    if deployed != Exit::Ok {
        return deployed;
    }
    printer.say("\nThe guide's checks:");
    let checked = super::verify::run(&g, &verify_args(&answers), printer).await;
    match afterwards(printer, &answers) {
        Ok(()) => checked,
        Err(Interrupted) => Exit::Interrupted,
    }
}

/// The questions, in the guide's order; `None` when the operator stops.
async fn converse(
    g: &Global,
    args: &DeployArgs,
    flags: Answers,
    printer: &Printer,
) -> Result<Option<Answers>, Interrupted> {
    let conn = Connection::new(g.profile.clone(), g.endpoint_url.clone(), Task::Setup);
    let default_region = match &g.region {
        Some(r) => Some(r.clone()),
        None => crate::aws::default_region(&conn).await,
    };
    let template = args
        .lambda_template
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok().map(|t| (p, t)))
        .and_then(|(p, t)| Template::parse(&p.display().to_string(), &t).ok())
        .unwrap_or_else(Template::bundled_lambda);
    let mut talk = Talk {
        p: printer,
        conn,
        a: flags,
        cloud: None,
        account: String::new(),
        template,
        trail_topic: None,
    };
    talk.who_and_where(default_region).await?;
    talk.xdr().await?;
    talk.cloudtrail().await?;
    if !talk.kms().await? {
        return Ok(None);
    }
    talk.trigger().await?;
    talk.function().await?;
    Ok(Some(talk.a))
}

fn verify_args(a: &Answers) -> VerifyArgs {
    VerifyArgs {
        targets: TargetArgs {
            regions: a.region.iter().cloned().collect(),
            shared_stack_name: a.shared_stack_name.clone(),
            stack_name: a.stack_name.clone(),
            ..TargetArgs::default()
        },
        since: "24h".into(),
        test_event: false,
    }
}

/// The guide says to discard credentials.txt once the stack holds it; and the answers can be
/// kept as a rollout file for `deploy --config`.
fn afterwards(p: &Printer, a: &Answers) -> Result<(), Interrupted> {
    if let Some(file) = &a.credentials
        && file.exists()
        && p.agree(
            &format!(
                "The shared stack now holds the credentials. Delete {}, as the guide advises?",
                file.display()
            ),
            false,
        )?
    {
        match std::fs::remove_file(file) {
            Ok(()) => p.say(&format!("Deleted {}.", file.display())),
            Err(e) => p.say(&format!("warning: cannot delete {} ({e})", file.display())),
        }
    }
    if p.agree(
        "Save these answers as a rollout file for deploy --config?",
        true,
    )? {
        let path = p.ask("Rollout file", Some("./taegis-rollout.yaml"), false)?;
        match std::fs::write(&path, a.rollout_yaml()) {
            Ok(()) => p.say(&format!(
                "Wrote {path}: `taegis-cloudtrail deploy --config {path} --yes` replays it (it names the credentials file, never its text)."
            )),
            Err(e) => p.say(&format!("warning: cannot write {path} ({e})")),
        }
    }
    Ok(())
}
