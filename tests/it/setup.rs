//! `setup` in a real pseudo-terminal, as an operator would go through it.

use std::time::Duration;

use rexpect::session::{PtySession, spawn_command};

use crate::harness::{Account, Inputs, REGION, bucket_name, s, setup, without};
use crate::seed;

/// `setup` at a terminal, in the inputs' folder (so the guide's file names are the defaults).
fn setup_in_pty(acct: &Account, inputs: &Inputs, extra: &[&str]) -> PtySession {
    let mut args = vec!["setup"];
    args.extend(extra);
    in_pty(acct, inputs, &args)
}

/// The tool at a terminal, in the inputs' folder.
fn in_pty(acct: &Account, inputs: &Inputs, args: &[&str]) -> PtySession {
    in_pty_with(acct.tool(), inputs, args)
}

/// `tool` at a terminal, in the inputs' folder.
pub(crate) fn in_pty_with(
    tool: crate::harness::Tool,
    inputs: &Inputs,
    args: &[&str],
) -> PtySession {
    let mut cmd = tool.args(args).cmd;
    cmd.current_dir(inputs.dir.path())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit());
    spawn_command(cmd, Some(60_000)).expect("start setup in a pty")
}

/// One turn of a conversation at the terminal.
pub(crate) enum Turn<'a> {
    /// Wait for the question, then type the line (empty: Enter takes the default).
    Answer(&'a str, &'a str),
    /// Wait for the yes/no question, then press the key.
    Press(&'a str, &'a str),
    /// Wait for the text.
    See(&'a str),
    /// Press Ctrl-C.
    CtrlC,
}

/// A conversation, turn by turn.
pub(crate) fn converse(p: &mut PtySession, turns: &[Turn]) {
    for turn in turns {
        let text = match turn {
            Turn::Answer(text, _) | Turn::Press(text, _) | Turn::See(text) => text,
            Turn::CtrlC => {
                p.send_control('c').unwrap();
                continue;
            }
        };
        p.exp_string(text)
            .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"));
        match turn {
            Turn::Answer(_, line) => {
                p.send_line(line).unwrap();
            }
            Turn::Press(_, key) => {
                p.send(key).unwrap();
                p.flush().unwrap();
            }
            _ => {}
        }
    }
}

/// The first questions, each answered with its default: the region, the credentials file and
/// the logs (a trail's).
const FIRST_DEFAULTS: &[Turn<'static>] = &[
    Turn::Answer("AWS region", ""),
    Turn::Answer("Credentials file from XDR", ""),
    Turn::Answer("Which CloudTrail logs should reach XDR?", ""),
];

/// The function's questions, each answered with its default (the other parameters left).
pub(crate) const FUNCTION_DEFAULTS: &[Turn<'static>] = &[
    Turn::Answer("What does the bucket hold?", ""),
    Turn::Answer("Shared stack name", ""),
    Turn::Answer("Lambda stack name", ""),
    Turn::Answer("Lambda zip from XDR", ""),
    Turn::Answer("Bucket for the zip", ""),
];

pub(crate) fn exit_code(p: &mut PtySession) -> i32 {
    match p.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("setup ended with {other:?}"),
    }
}

/// A trail `main` over `bucket`, with a KMS key that delegates to IAM and a topic: the key.
async fn trail(acct: &Account, bucket: &str) -> String {
    let main = crate::trails::trail_with_topic(acct, "main", "setup-trail-news", bucket, None);
    main.await.0
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_takes_the_discovered_answers_and_ends_where_deploy_does() {
    let (acct, inputs, bucket) = setup("trail-setup").await;
    let key = trail(&acct, &bucket).await;
    let mut p = setup_in_pty(&acct, &inputs, &[]);
    let account = format!("Account {}", acct.id);
    let xdr = "https://foxtrot.taegis.secureworks.com/login";
    converse(
        &mut p,
        &[
            Turn::Answer("AWS region", ""),
            Turn::See(&account),
            Turn::Answer("XDR login URL or region", xdr),
            Turn::Answer("Credentials file from XDR", ""),
            Turn::Answer("Which CloudTrail logs should reach XDR?", ""),
            Turn::See("Trail main"),
            Turn::Press("Trigger the function from S3", "y"),
        ],
    );
    converse(&mut p, FUNCTION_DEFAULTS);
    converse(
        &mut p,
        &[
            Turn::Press("Change other parameters of the Lambda template?", "n"),
            Turn::See("Plan for"),
            Turn::Press("Deploy this plan?", "y"),
            // No XDR API client is set: how to get one, for the guide's last step.
            Turn::See("make an API client in XDR"),
            Turn::See("TAEGIS_CLIENT_SECRET"),
            Turn::See("The guide's checks"),
            Turn::Press("Delete", "n"),
            Turn::Press("Save these answers as a rollout file", "y"),
            Turn::Answer("Rollout file", ""),
            Turn::See("Wrote"),
        ],
    );
    assert_eq!(exit_code(&mut p), 0);

    // The equivalent deploy finds nothing to change.
    let zips = format!("taegis-lambda-{}-{REGION}", acct.id);
    let equivalent = [
        "--prefix",
        "org/AWSLogs/",
        "--bucket-kms-key-arn",
        &key,
        "--lambda-bucket",
        &zips,
        "--output",
        "json",
    ];
    let run = acct.deploy(&inputs, &bucket, &equivalent);
    run.assert_code(0).assert_outcome("unchanged");
    // Nor does the rollout file it wrote.
    let rollout = inputs.path("taegis-rollout.yaml");
    let text = std::fs::read_to_string(&rollout).unwrap();
    for line in inputs.secret_text.lines() {
        assert!(!text.contains(line), "{text}");
    }
    let run = acct.deploy_config(&["--dry-run", "--output", "json"], &rollout);
    let doc = run.assert_code(0).json();
    let steps = doc["targets"][0]["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["action"] == "skip"), "{doc:#}");
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_answer_is_asked_again_and_ctrl_c_changes_nothing() {
    let (acct, inputs, bucket) = setup("trail-setup-typed").await;
    let before = acct.requests().len();
    let mut p = setup_in_pty(&acct, &inputs, &[]);
    let trail_bucket = "Bucket CloudTrail writes its logs to";
    converse(
        &mut p,
        &[
            Turn::Answer("AWS region", ""),
            Turn::Answer("XDR login URL or region", "https://example.com/login"),
            Turn::See("not an XDR login URL"),
            Turn::Answer("XDR login URL or region", "golf"),
            Turn::Answer("Credentials file from XDR", "missing.txt"),
            Turn::See("no such file"),
            Turn::Answer("Credentials file from XDR", ""),
            // No trail here: the bucket is typed.
            Turn::See("No CloudTrail trail"),
            Turn::Answer(trail_bucket, "no-such-bucket-for-setup"),
            Turn::See("no bucket no-such-bucket-for-setup is visible"),
            Turn::Answer(trail_bucket, &bucket),
            Turn::See("Key prefix of the log objects"),
            Turn::CtrlC,
            Turn::See("interrupted; nothing was changed"),
        ],
    );
    assert_eq!(exit_code(&mut p), 130);
    let writes = acct.writes_since(before);
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overlapping_entry_leads_to_the_sns_trigger() {
    let (acct, inputs, bucket) = setup("trail-setup-sns").await;
    trail(&acct, &bucket).await;
    let created = "s3:ObjectCreated:*";
    seed::topic_entry(&acct, &bucket, "siem-feed", "siem-feed", created).await;
    let mut p = setup_in_pty(&acct, &inputs, &["--taegis-region", "foxtrot"]);
    converse(&mut p, FIRST_DEFAULTS);
    converse(
        &mut p,
        &[
            Turn::See("siem-feed"),
            Turn::See("S3 refuses a second, overlapping trigger"),
            Turn::Answer("Which SNS topic announces the new log objects?", ""),
        ],
    );
    converse(&mut p, FUNCTION_DEFAULTS);
    converse(
        &mut p,
        &[
            Turn::Press("Change other parameters of the Lambda template?", "n"),
            Turn::Press("Deploy this plan?", "y"),
            Turn::Press("Delete", "n"),
            Turn::Press("Save these answers as a rollout file", "n"),
        ],
    );
    assert_eq!(exit_code(&mut p), 0);
    let topic = acct
        .stack_parameter("taegis-cloudtrail", "SNSNotificationarn")
        .await
        .unwrap();
    assert!(topic.ends_with(":setup-trail-news"), "{topic}");
    // The other consumer's entry is still the only one on the bucket.
    let n = seed::notifications(&acct, &bucket).await;
    assert_eq!(n.topic_configurations().len(), 1);
    assert!(n.lambda_function_configurations().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_keeps_the_function_out_is_said_before_anything_is_made() {
    let (acct, inputs, bucket) = setup("trail-setup-kms").await;
    let key = trail(&acct, &bucket).await;
    seed::close_key(&acct, &key).await;
    let before = acct.requests().len();
    let mut p = setup_in_pty(&acct, &inputs, &["--taegis-region", "foxtrot"]);
    converse(&mut p, FIRST_DEFAULTS);
    converse(
        &mut p,
        &[
            Turn::See("does not delegate to IAM"),
            Turn::See("Enable IAM User Permissions"),
            Turn::Press("Check the key policy again?", "n"),
            Turn::See("stopped before anything was changed"),
        ],
    );
    assert_eq!(exit_code(&mut p), 2);
    assert!(acct.writes_since(before).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trail_bucket_of_another_account_is_explained() {
    let (acct, inputs) = (Account::new().await, Inputs::new());
    let owner = Account::new().await;
    let central = bucket_name("org-central-setup");
    seed::bucket(&owner, &central, REGION).await;
    trail(&acct, &central).await;
    let mut p = setup_in_pty(&acct, &inputs, &["--taegis-region", "foxtrot"]);
    converse(&mut p, FIRST_DEFAULTS);
    converse(
        &mut p,
        &[
            Turn::See("belongs to another account"),
            Turn::See("made by the bucket's owner"),
            Turn::See("Which CloudTrail logs should reach XDR?"),
            Turn::CtrlC,
        ],
    );
    assert_eq!(exit_code(&mut p), 130);
}

#[tokio::test]
async fn without_a_terminal_setup_prints_the_deploy_command_instead() {
    let acct = Account::new().await;
    let run = acct
        .tool()
        .args([
            "setup",
            "--taegis-region",
            "echo",
            "--notification-bucket",
            "my-trail-logs",
        ])
        .run();
    run.assert_code(2);
    assert!(run.stderr.contains("terminal"), "{}", run.stderr);
    let line = run.stdout.trim();
    assert!(
        line.starts_with("taegis-cloudtrail deploy ")
            && line.contains("--taegis-region echo")
            && line.contains("--notification-bucket my-trail-logs")
            && line.contains("--region us-east-1"),
        "{line}"
    );
    assert!(acct.requests().iter().all(|r| r.action != "CreateStack"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_changes_nothing_whatever_is_answered() {
    let (acct, inputs, bucket) = setup("trail-setup-dry").await;
    trail(&acct, &bucket).await;
    let before = acct.requests().len();
    let mut p = setup_in_pty(&acct, &inputs, &["--dry-run", "--taegis-region", "foxtrot"]);
    // Every question answered, every yes/no with a yes.
    converse(&mut p, FIRST_DEFAULTS);
    converse(&mut p, &[Turn::Press("Trigger the function from S3", "y")]);
    converse(&mut p, FUNCTION_DEFAULTS);
    converse(
        &mut p,
        &[
            Turn::Press("Change other parameters of the Lambda template?", "y"),
            Turn::Answer("LambdaEnvKMSarn", ""),
            Turn::Answer("EnableObjectTagging", ""),
            Turn::Answer("ReservedConcurrency", ""),
            Turn::Answer("LambdaRuntime", ""),
            Turn::See("a dry run: nothing will be changed"),
            Turn::See("Plan for"),
            Turn::See("nothing was changed"),
            Turn::Press("Save these answers as a rollout file", "y"),
            Turn::Answer("Rollout file", ""),
            Turn::See("Wrote"),
        ],
    );
    assert_eq!(exit_code(&mut p), 0);
    let writes = acct.writes_since(before);
    assert!(writes.is_empty(), "a dry run wrote: {writes:?}");
    assert!(inputs.credentials.exists(), "the credentials file is kept");
    // What it saved is what a deploy would do.
    let rollout = inputs.path("taegis-rollout.yaml");
    let run = acct.deploy_config(&["--dry-run", "--output", "json"], &rollout);
    run.assert_code(0).assert_outcome("planned");
}

#[tokio::test]
async fn without_a_terminal_a_dry_run_setup_prints_a_dry_run_deploy() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let rollout = inputs.write(
        "start.yaml",
        "taegis_region: echo\nprefix: org/AWSLogs/\ntargets:\n  - regions: [us-east-1, eu-west-1]\n",
    );
    let run = acct
        .tool()
        .args(["setup", "--dry-run", "--yes", "--config"])
        .arg_path(&rollout)
        .args([
            "--role-arn",
            &format!("arn:aws:iam::{}:role/Deployer", acct.id),
            "--notification-bucket",
            "my-trail-logs",
            "--lambda-env-kms-key-arn",
            &format!("arn:aws:kms:us-east-1:{}:key/abc", acct.id),
        ])
        .run();
    run.assert_code(2);
    let line = run.stdout.trim();
    assert!(line.starts_with("taegis-cloudtrail deploy "), "{line}");
    for want in [
        "--dry-run",
        &format!("--config {}", s(&rollout)),
        &format!("--role-arn arn:aws:iam::{}:role/Deployer", acct.id),
        "--notification-bucket my-trail-logs",
        "--lambda-env-kms-key-arn",
        "--credentials ./credentials.txt",
    ] {
        assert!(line.contains(want), "{want}: {line}");
    }
    for unwanted in ["--yes", "XDR_REGION", "--region "] {
        assert!(!line.contains(unwanted), "{unwanted}: {line}");
    }
    // With --output json: one document.
    let run = acct
        .tool()
        .args(["setup", "--dry-run", "--output", "json", "--region", REGION])
        .run();
    run.assert_code(2);
    let doc = run.json();
    assert_eq!(doc["command"], "setup");
    assert_eq!(doc["dry_run"], true);
    let command = doc["deploy_command"].as_str().unwrap();
    assert!(
        command.contains("--dry-run") && command.contains("--region us-east-1"),
        "{command}"
    );
    assert!(acct.requests().iter().all(|r| !r.mutates()));
}

#[tokio::test]
async fn setup_refuses_the_flags_it_does_not_use_and_a_file_of_many_accounts() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    for flag in [
        ["--accounts", "111111111111"],
        ["--concurrency", "4"],
        ["--on-failure", "keep"],
        ["--shared-template", "x.yaml"],
        ["--retry-from", "r.json"],
    ] {
        let run = acct.tool().args(["setup"]).args(flag).run();
        run.assert_code(2);
        assert!(
            run.stderr
                .contains(&format!("unexpected argument '{}'", flag[0])),
            "{}",
            run.stderr
        );
    }
    let many = inputs.write(
        "many.yaml",
        "taegis_region: echo\nrole_arn: \"arn:aws:iam::{account}:role/D\"\ntargets:\n  - account: \"111111111111\"\n  - account: \"222222222222\"\n",
    );
    let run = acct
        .tool()
        .args(["setup", "--config"])
        .arg_path(&many)
        .run();
    run.assert_code(2);
    assert!(
        run.stderr.contains("2 accounts") && run.stderr.contains("deploy --config"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_a_confirmation_exits_130_and_changes_nothing() {
    let (acct, inputs, bucket) = setup("trail-ctrl-c").await;
    let args = without(inputs.deploy_args(&bucket), "--yes");
    let before = acct.requests().len();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = in_pty(&acct, &inputs, &refs);
    let interrupted = [
        Turn::See("Create bucket"),
        Turn::CtrlC,
        Turn::See("interrupted"),
    ];
    converse(&mut p, &interrupted);
    assert_eq!(exit_code(&mut p), 130);
    assert!(acct.writes_since(before).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_ends_healthy_when_aws_takes_its_time() {
    let (acct, inputs, bucket) = setup("trail-setup-slow").await;
    acct.behave_slowly(2);
    let tool = acct.tool().env("TAEGIS_SETTLE", "30s");
    let args = [
        "setup",
        "--taegis-region",
        "foxtrot",
        "--notification-bucket",
        &bucket,
        "--prefix",
        "AWSLogs/",
        "--trigger",
        "s3",
    ];
    let mut p = in_pty_with(tool, &inputs, &args);
    converse(
        &mut p,
        &[
            Turn::Answer("AWS region", ""),
            Turn::Answer("Credentials file from XDR", ""),
        ],
    );
    converse(&mut p, FUNCTION_DEFAULTS);
    converse(
        &mut p,
        &[
            Turn::Press("Change other parameters of the Lambda template?", "n"),
            Turn::Press("Deploy this plan?", "y"),
            Turn::See("does not see the new invoke permission yet"),
            Turn::See("The guide's checks"),
            Turn::See("healthy"),
            Turn::Press("Delete", "n"),
            Turn::Press("Save these answers as a rollout file", "n"),
        ],
    );
    assert_eq!(exit_code(&mut p), 0);
}
