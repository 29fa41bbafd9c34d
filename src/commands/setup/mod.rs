//! `setup`: the vendor's guide as a conversation at the terminal. It finds out what it can
//! from the account, asks only for the rest (a flag, or the rollout file it starts from,
//! answers a question in advance), shows the plan and asks to confirm, deploys with live
//! progress (the same observe, decide and apply as `deploy`), runs `verify`'s checks, and
//! offers to discard the credentials file and to save the answers as a rollout file. With
//! `--dry-run` it shows the plan and changes nothing, whatever is answered.

mod answers;
mod ask;

use std::path::PathBuf;

use answers::{Answers, RunFlags, command_line, rollout_yaml};
use ask::Talk;

use super::Exit;
use super::deploy::{self, Confirm};
use crate::aws::Connection;
use crate::cli::{DeployArgs, Global, SetupArgs, TargetArgs, VerifyArgs, XdrArgs};
use crate::config::{Keys, Rollout};
use crate::input::{Input, Problem};
use crate::kinds::Task;
use crate::ui::Printer;
use crate::ui::prompt::Interrupted;

/// What setup starts from: its own flags, the rollout file's answers per region, the regions.
struct Start {
    run: RunFlags,
    flags: Answers,
    /// Each region to ask about (`None`: ask which), with what the rollout file answers there.
    places: Vec<(Option<String>, Answers)>,
    /// The regions given as flags (for the equivalent command line).
    flag_regions: Vec<String>,
}

impl Start {
    fn read(g: &Global, args: &SetupArgs) -> Result<Start, Problem> {
        let mut run = RunFlags {
            config: args.config.clone(),
            role_arn: args.role_arn.clone(),
            dry_run: args.dry_run,
            yes: g.yes,
        };
        let flags = Answers::from_flags(args);
        let file = super::session::load_rollout(args.config.as_deref())?;
        let (file_role, account, mut places) = match &file {
            Some(r) => from_file(r)?,
            None => (None, None, vec![(None, Answers::default())]),
        };
        run.role_arn = run.role_arn.or(file_role);
        if let Some(role) = &run.role_arn {
            run.role_arn = Some(concrete_role(role, account.as_deref())?);
        }
        let flag_regions: Vec<String> = if args.regions.is_empty() {
            g.region.iter().cloned().collect()
        } else {
            args.regions.clone()
        };
        let file_has_regions = places.iter().any(|(r, _)| r.is_some());
        if !args.regions.is_empty() || (!file_has_regions && !flag_regions.is_empty()) {
            let answers = places.swap_remove(0).1;
            places = flag_regions
                .iter()
                .map(|r| (Some(r.trim().to_string()), answers.clone()))
                .collect();
        }
        Ok(Start {
            run,
            flags,
            places,
            flag_regions,
        })
    }

    /// Everything answered before the conversation, as one region's answers (for the command
    /// line's placeholders).
    fn file_answers(&self) -> Answers {
        self.places.iter().fold(Answers::default(), |acc, (r, a)| {
            acc.or(Answers {
                region: r.clone(),
                ..a.clone()
            })
        })
    }
}

/// What a rollout file answers: its role, its one account, and per region its values (a
/// target's over the top level's). Setup works in one account.
type FileAnswers = (
    Option<String>,
    Option<String>,
    Vec<(Option<String>, Answers)>,
);

fn from_file(r: &Rollout) -> Result<FileAnswers, Problem> {
    let top = &r.keys;
    let single = [Keys::default()];
    let entries = top.targets.as_deref().unwrap_or(&single);
    let mut accounts: Vec<String> = Vec::new();
    let mut places = Vec::new();
    let mut role = top.role_arn.clone();
    for e in entries {
        let listed = e
            .account
            .iter()
            .chain(e.accounts.iter().flatten())
            .chain(top.account.iter())
            .chain(top.accounts.iter().flatten());
        for a in listed {
            if !accounts.contains(a) {
                accounts.push(a.clone());
            }
        }
        role = role.or(e.role_arn.clone());
        let answers = Answers::from_keys(e, r).or(Answers::from_keys(top, r));
        let regions = e
            .regions
            .clone()
            .or(e.region.clone().map(|r| vec![r]))
            .or(top.regions.clone())
            .or(top.region.clone().map(|r| vec![r]));
        match regions {
            Some(list) => places.extend(list.into_iter().map(|region| {
                (
                    Some(region.clone()),
                    Answers {
                        region: Some(region),
                        ..answers.clone()
                    },
                )
            })),
            None => places.push((None, answers)),
        }
    }
    if accounts.len() > 1 {
        return Err(Problem::value(
            Input::Config,
            &r.name,
            format!(
                "names {} accounts ({}); setup works in one account at a time",
                accounts.len(),
                accounts.join(", ")
            ),
        )
        .fix(format!(
            "run `taegis-cloudtrail deploy --config {}` for many accounts",
            r.name
        )));
    }
    Ok((role, accounts.pop(), places))
}

/// The role of `--role-arn` (or the file's), its `{account}` filled in when the file names
/// the account.
fn concrete_role(role: &str, account: Option<&str>) -> Result<String, Problem> {
    if !crate::config::is_role_arn(role) {
        return Err(Problem::value(
            Input::RoleArn,
            &format!("{role:?}"),
            "is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME",
        ));
    }
    match account {
        Some(a) => Ok(role.replace("{account}", a)),
        None if role.contains("{account}") => Err(Problem::value(
            Input::RoleArn,
            role,
            "names {account}, and setup works in one account that nothing names",
        )
        .fix("give the role's full ARN")),
        None => Ok(role.to_string()),
    }
}

pub async fn run(g: &Global, args: &SetupArgs, printer: &Printer) -> Exit {
    let conn = Connection::new(g.profile.clone(), g.endpoint_url.clone(), Task::Setup);
    let start = match Start::read(g, args) {
        Ok(s) => s,
        Err(p) => return refused(printer, args.dry_run, &p.to_string(), None),
    };
    if !printer.interactive {
        // The regions as flags; else the file's stand (it is passed on); else the
        // environment's or the profile's, which the terminal would have offered.
        let regions: Vec<String> = match start.flag_regions.as_slice() {
            [] if start.run.config.is_some() => Vec::new(),
            [] => crate::aws::default_region(&conn)
                .await
                .into_iter()
                .collect(),
            given => given.to_vec(),
        };
        let line = command_line(&start.flags, &regions, &start.file_answers(), &start.run);
        return refused(
            printer,
            args.dry_run,
            "setup asks its questions at a terminal, and there is none here (or --no-input was given); this deploy command does the same work, once the values in capitals are yours:",
            Some(&line),
        );
    }
    // Ctrl-C at a prompt comes back as an answer-less prompt, not as the end of the process.
    let _hold = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    let all = match converse_all(g, &start, conn, printer).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            printer.error("stopped before anything was changed; run setup again once the cause above is fixed");
            return Exit::BadInput;
        }
        Err(Interrupted) => {
            printer.error("interrupted; nothing was changed");
            return Exit::Interrupted;
        }
    };
    finish(g, &start.run, &all, printer).await
}

/// Exit 2 without a terminal (or with input setup cannot use): the reason on stderr, and the
/// `deploy` command that does the same on stdout (in a JSON document with `--output json`).
fn refused(printer: &Printer, dry_run: bool, why: &str, command: Option<&str>) -> Exit {
    printer.error(why);
    let doc = serde_json::json!({
        "command": "setup",
        "dry_run": dry_run,
        "targets": [],
        "error": why,
        "deploy_command": command,
    });
    printer.result(
        || command.unwrap_or_default().to_string(),
        || serde_json::to_string_pretty(&doc).unwrap_or_default(),
    );
    Exit::BadInput
}

/// The conversation for each region in turn: everything in the first, then in each further
/// region only what is the region's own (what the first answered for all is kept).
async fn converse_all(
    g: &Global,
    start: &Start,
    conn: Connection,
    printer: &Printer,
) -> Result<Option<Vec<Answers>>, Interrupted> {
    let mut all: Vec<Answers> = Vec::new();
    for (region, file) in &start.places {
        let mut a = start.flags.clone().or(file.clone());
        a.region = region.clone();
        if let Some(first) = all.first() {
            a.inherit(first);
            printer.say(&format!(
                "\nRegion {}:",
                region.as_deref().unwrap_or_default()
            ));
        }
        let mut talk = Talk::new(printer, conn.clone(), a, start.run.role_arn.clone());
        talk.first = all.is_empty();
        let default_region = g.region.clone().or(crate::aws::default_region(&conn).await);
        if !talk.who_and_where(default_region).await? {
            return Ok(None);
        }
        talk.xdr().await?;
        talk.cloudtrail().await?;
        if !talk.kms().await? {
            return Ok(None);
        }
        talk.trigger().await?;
        talk.function().await?;
        all.push(talk.a);
    }
    Ok(Some(all))
}

/// Deploy (or, in a dry run, show) what was answered, check it as the guide does, and offer
/// what comes after. With `--output json`, one document for the whole of it.
async fn finish(g: &Global, run: &RunFlags, all: &[Answers], printer: &Printer) -> Exit {
    // With --output json the results of deploy and verify are joined into one document.
    let json = printer.is_json();
    let result_printer = || {
        if json {
            printer.capturing()
        } else {
            printer.clone()
        }
    };
    let (deploying, verifying) = (result_printer(), result_printer());
    let g = Global {
        region: all[0].region.clone(),
        ..g.clone()
    };
    printer.say(if run.dry_run {
        "\nThe plan (a dry run: nothing will be changed):"
    } else {
        "\nThe plan:"
    });
    let deployed = deploy_answers(&g, run, all, &deploying).await;
    let mut checked = deployed;
    if deployed == Exit::Ok && !run.dry_run {
        let mut args = verify_args(all, run);
        match xdr_offer(printer, all) {
            Ok(xdr) => args.xdr = xdr,
            Err(Interrupted) => return Exit::Interrupted,
        }
        printer.say("\nThe guide's checks:");
        checked = super::verify::run(&g, &args, &verifying).await;
    } else if deployed == Exit::Ok {
        printer.say(&format!(
            "\nA dry run: nothing was changed. Run setup again without --dry-run to deploy it, or: {}",
            replay_hint(all, run)
        ));
    }
    let saved = if deployed == Exit::Ok {
        afterwards(printer, all, run)
    } else {
        Ok(None)
    };
    if json {
        let file = saved.as_ref().ok().cloned().flatten();
        let doc = joined(
            run.dry_run,
            &deploying.captured(),
            &verifying.captured(),
            file,
        );
        printer.out(&doc);
    }
    match saved {
        Ok(_) => checked,
        Err(Interrupted) => Exit::Interrupted,
    }
}

/// The deploy (a dry run when setup is one) of what was answered: one region's answers as
/// flags, several regions' as a rollout file of one target each.
async fn deploy_answers(g: &Global, run: &RunFlags, all: &[Answers], printer: &Printer) -> Exit {
    match all {
        [one] => {
            let args = one.deploy_args(run);
            deploy::execute(g, &args, Ok(None), printer, Confirm::Plan).await
        }
        many => {
            let yaml = rollout_yaml(many, run);
            let rollout = Rollout::parse(std::path::Path::new("setup's answers"), &yaml)
                .map(Some)
                .map_err(|e| Problem::about(Input::Config, "", e));
            let args = DeployArgs {
                dry_run: run.dry_run,
                ..DeployArgs::default()
            };
            deploy::execute(g, &args, rollout, printer, Confirm::Plan).await
        }
    }
}

/// The deploy command that does the same (one region: flags; several: ask for the file).
fn replay_hint(all: &[Answers], run: &RunFlags) -> String {
    match all {
        [one] => {
            let regions: Vec<String> = one.region.iter().cloned().collect();
            let plain = RunFlags {
                config: None,
                ..run.clone()
            };
            command_line(one, &regions, &Answers::default(), &plain)
        }
        _ => "save the answers below, then `taegis-cloudtrail deploy --config FILE`".into(),
    }
}

/// setup's JSON result: deploy's document, with verify's targets under `verify` and the
/// rollout file written, if any.
fn joined(dry_run: bool, deploy: &[String], verify: &[String], saved: Option<PathBuf>) -> String {
    let parse = |docs: &[String]| {
        docs.last()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
    };
    let mut doc = parse(deploy).unwrap_or_else(|| serde_json::json!({"targets": []}));
    doc["command"] = "setup".into();
    doc["dry_run"] = dry_run.into();
    doc["verify"] = parse(verify)
        .map(|v| v["targets"].clone())
        .unwrap_or(serde_json::Value::Null);
    doc["rollout_file"] = saved
        .map(|p| p.display().to_string().into())
        .unwrap_or(serde_json::Value::Null);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn verify_args(all: &[Answers], run: &RunFlags) -> VerifyArgs {
    VerifyArgs {
        targets: TargetArgs {
            regions: all.iter().filter_map(|a| a.region.clone()).collect(),
            role_arn: run.role_arn.clone(),
            stacks: all[0].stacks.clone(),
            ..TargetArgs::default()
        },
        since: "24h".into(),
        test_event: false,
        xdr: XdrArgs::default(),
    }
}

/// The guide's last step, Advanced Search in XDR: offered when an API client is set, else
/// how to get one.
fn xdr_offer(p: &Printer, all: &[Answers]) -> Result<XdrArgs, Interrupted> {
    let env = |k: &str| std::env::var(k).ok();
    let Ok(client) = crate::xdr::ApiClient::find(None, env) else {
        p.say(&format!(
            "\nThe guide's last step, Advanced Search in XDR, can run from here too: make an API client in XDR (or with `taegis clients create`), set {} and {}, and run `taegis-cloudtrail verify --xdr`.",
            crate::xdr::CLIENT_ID_VAR,
            crate::xdr::CLIENT_SECRET_VAR
        ));
        return Ok(XdrArgs::default());
    };
    let question = format!(
        "Also run the guide's last step, Advanced Search in XDR, as API client {}?",
        client.id
    );
    if !p.agree(&question, true)? {
        return Ok(XdrArgs::default());
    }
    Ok(XdrArgs {
        xdr: true,
        taegis_region: all[0].guide.taegis_region.clone(),
        ..XdrArgs::default()
    })
}

/// The guide says to discard credentials.txt once the stack holds it (not in a dry run: the
/// stack holds nothing yet); and the answers can be kept as a rollout file for
/// `deploy --config`. The file written, if any.
fn afterwards(
    p: &Printer,
    all: &[Answers],
    run: &RunFlags,
) -> Result<Option<PathBuf>, Interrupted> {
    if !run.dry_run
        && let Some(file) = &all[0].guide.credentials
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
    if !p.agree(
        "Save these answers as a rollout file for deploy --config?",
        true,
    )? {
        return Ok(None);
    }
    let path = p.ask("Rollout file", Some("./taegis-rollout.yaml"), false)?;
    match std::fs::write(&path, rollout_yaml(all, run)) {
        Ok(()) => {
            p.say(&format!(
                "Wrote {path}: `taegis-cloudtrail deploy --config {path} --yes` replays it (it names the credentials file, never its text)."
            ));
            Ok(Some(PathBuf::from(path)))
        }
        Err(e) => {
            p.say(&format!("warning: cannot write {path} ({e})"));
            Ok(None)
        }
    }
}
