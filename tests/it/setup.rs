//! `setup` in a real pseudo-terminal, as an operator would go through it.

use std::time::Duration;

use rexpect::session::{PtySession, spawn_command};

use crate::harness::{Account, Inputs, REGION, bucket_name, s};
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
fn in_pty_with(tool: crate::harness::Tool, inputs: &Inputs, args: &[&str]) -> PtySession {
    let mut cmd = tool.args(args).cmd;
    cmd.current_dir(inputs.dir.path())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit());
    spawn_command(cmd, Some(60_000)).expect("start setup in a pty")
}

/// Wait for `text`, then answer `line` (Enter alone takes the default).
fn answer(p: &mut PtySession, text: &str, line: &str) {
    p.exp_string(text)
        .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"));
    p.send_line(line).unwrap();
}

/// Wait for the yes/no question `text`, then press one key.
fn press(p: &mut PtySession, text: &str, key: &str) {
    p.exp_string(text)
        .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"));
    p.send(key).unwrap();
    p.flush().unwrap();
}

/// One turn of a conversation at the terminal.
enum Turn<'a> {
    /// Wait for the question, then type the line (empty: Enter takes the default).
    Answer(&'a str, &'a str),
    /// Wait for the yes/no question, then press the key.
    Press(&'a str, &'a str),
    /// Wait for the text.
    See(&'a str),
}

/// A conversation, turn by turn.
fn converse(p: &mut PtySession, turns: &[Turn]) {
    for turn in turns {
        match turn {
            Turn::Answer(q, line) => answer(p, q, line),
            Turn::Press(q, key) => press(p, q, key),
            Turn::See(text) => {
                p.exp_string(text)
                    .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"));
            }
        }
    }
}

/// The function's questions, each answered with its default (the other parameters left).
const FUNCTION_DEFAULTS: &[Turn<'static>] = &[
    Turn::Answer("What does the bucket hold?", ""),
    Turn::Answer("Shared stack name", ""),
    Turn::Answer("Lambda stack name", ""),
    Turn::Answer("Lambda zip from XDR", ""),
    Turn::Answer("Bucket for the zip", ""),
];

fn exit_code(p: &mut PtySession) -> i32 {
    match p.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("setup ended with {other:?}"),
    }
}

/// A trail over an own bucket, with a KMS key that delegates to IAM and a topic.
async fn trail(acct: &Account, bucket: &str) -> String {
    let key = acct.kms().create_key().send().await.unwrap();
    let key = key.key_metadata().unwrap().arn().unwrap().to_string();
    seed::topic(acct, "setup-trail-news").await;
    acct.cloudtrail()
        .create_trail()
        .name("main")
        .s3_bucket_name(bucket)
        .s3_key_prefix("org")
        .kms_key_id(&key)
        .sns_topic_name("setup-trail-news")
        .include_global_service_events(true)
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    acct.cloudtrail()
        .start_logging()
        .name("main")
        .send()
        .await
        .unwrap();
    key
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_takes_the_discovered_answers_and_ends_where_deploy_does() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-setup");
    seed::bucket(&acct, &bucket, REGION).await;
    let key = trail(&acct, &bucket).await;
    let mut p = setup_in_pty(&acct, &inputs, &[]);
    answer(&mut p, "AWS region", "");
    p.exp_string(&format!("Account {}", acct.id)).unwrap();
    answer(
        &mut p,
        "XDR login URL or region",
        "https://foxtrot.taegis.secureworks.com/login",
    );
    answer(&mut p, "Credentials file from XDR", "");
    answer(&mut p, "Which CloudTrail logs should reach XDR?", "");
    p.exp_string("Trail main").unwrap();
    press(&mut p, "Trigger the function from S3", "y");
    converse(&mut p, FUNCTION_DEFAULTS);
    press(
        &mut p,
        "Change other parameters of the Lambda template?",
        "n",
    );
    p.exp_string("Plan for").unwrap();
    press(&mut p, "Deploy this plan?", "y");
    p.exp_string("The guide's checks").unwrap();
    press(&mut p, "Delete", "n");
    press(&mut p, "Save these answers as a rollout file", "y");
    answer(&mut p, "Rollout file", "");
    p.exp_string("Wrote").unwrap();
    assert_eq!(exit_code(&mut p), 0);

    // The equivalent deploy finds nothing to change.
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args([
            "--prefix",
            "org/AWSLogs/",
            "--bucket-kms-key-arn",
            &key,
            "--lambda-bucket",
            &format!("taegis-lambda-{}-{REGION}", acct.id),
            "--output",
            "json",
        ])
        .run();
    run.assert_code(0);
    assert_eq!(
        run.json()["targets"][0]["outcome"],
        "unchanged",
        "{}",
        run.stdout
    );
    // Nor does the rollout file it wrote.
    let rollout = inputs.path("taegis-rollout.yaml");
    let text = std::fs::read_to_string(&rollout).unwrap();
    for line in inputs.secret_text.lines() {
        assert!(!text.contains(line), "{text}");
    }
    let run = acct
        .tool()
        .args([
            "deploy",
            "--dry-run",
            "--output",
            "json",
            "--config",
            &s(&rollout),
        ])
        .run();
    run.assert_code(0);
    let doc = run.json();
    assert!(
        doc["targets"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "skip"),
        "{doc:#}"
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_answer_is_asked_again_and_ctrl_c_changes_nothing() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-setup-typed");
    seed::bucket(&acct, &bucket, REGION).await;
    let before = acct.requests().len();
    let mut p = setup_in_pty(&acct, &inputs, &[]);
    answer(&mut p, "AWS region", "");
    answer(
        &mut p,
        "XDR login URL or region",
        "https://example.com/login",
    );
    p.exp_string("not an XDR login URL").unwrap();
    answer(&mut p, "XDR login URL or region", "golf");
    answer(&mut p, "Credentials file from XDR", "missing.txt");
    p.exp_string("no such file").unwrap();
    answer(&mut p, "Credentials file from XDR", "");
    // No trail here: the bucket is typed.
    p.exp_string("No CloudTrail trail").unwrap();
    answer(
        &mut p,
        "Bucket CloudTrail writes its logs to",
        "no-such-bucket-for-setup",
    );
    p.exp_string("no bucket no-such-bucket-for-setup is visible")
        .unwrap();
    answer(&mut p, "Bucket CloudTrail writes its logs to", &bucket);
    p.exp_string("Key prefix of the log objects").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("interrupted; nothing was changed").unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert!(
        acct.writes_since(before).is_empty(),
        "{:?}",
        acct.writes_since(before)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overlapping_entry_leads_to_the_sns_trigger() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-setup-sns");
    seed::bucket(&acct, &bucket, REGION).await;
    trail(&acct, &bucket).await;
    let siem = seed::topic(&acct, "siem-feed").await;
    seed::put_notifications(
        &acct,
        &bucket,
        aws_sdk_s3::types::NotificationConfiguration::builder()
            .topic_configurations(
                aws_sdk_s3::types::TopicConfiguration::builder()
                    .id("siem-feed")
                    .topic_arn(&siem)
                    .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:*"))
                    .build()
                    .unwrap(),
            )
            .build(),
    )
    .await;
    let mut p = setup_in_pty(&acct, &inputs, &["--taegis-region", "foxtrot"]);
    answer(&mut p, "AWS region", "");
    answer(&mut p, "Credentials file from XDR", "");
    answer(&mut p, "Which CloudTrail logs should reach XDR?", "");
    p.exp_string("siem-feed").unwrap();
    p.exp_string("S3 refuses a second, overlapping trigger")
        .unwrap();
    answer(&mut p, "Which SNS topic announces the new log objects?", "");
    converse(&mut p, FUNCTION_DEFAULTS);
    press(
        &mut p,
        "Change other parameters of the Lambda template?",
        "n",
    );
    press(&mut p, "Deploy this plan?", "y");
    press(&mut p, "Delete", "n");
    press(&mut p, "Save these answers as a rollout file", "n");
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
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-setup-kms");
    seed::bucket(&acct, &bucket, REGION).await;
    let key = trail(&acct, &bucket).await;
    let closed = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyTheAdmins", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:role/KeyAdmins", acct.id)},
        "Action": "kms:*", "Resource": "*"}]});
    acct.kms()
        .put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(closed.to_string())
        .send()
        .await
        .unwrap();
    let before = acct.requests().len();
    let mut p = setup_in_pty(&acct, &inputs, &["--taegis-region", "foxtrot"]);
    answer(&mut p, "AWS region", "");
    answer(&mut p, "Credentials file from XDR", "");
    answer(&mut p, "Which CloudTrail logs should reach XDR?", "");
    p.exp_string("does not delegate to IAM").unwrap();
    p.exp_string("Enable IAM User Permissions").unwrap();
    press(&mut p, "Check the key policy again?", "n");
    p.exp_string("stopped before anything was changed").unwrap();
    assert_eq!(exit_code(&mut p), 2);
    assert!(acct.writes_since(before).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trail_bucket_of_another_account_is_explained() {
    let acct = Account::new().await;
    let owner = Account::new().await;
    let inputs = Inputs::new();
    let central = bucket_name("org-central-setup");
    seed::bucket(&owner, &central, REGION).await;
    trail(&acct, &central).await;
    let mut p = setup_in_pty(&acct, &inputs, &["--taegis-region", "foxtrot"]);
    answer(&mut p, "AWS region", "");
    answer(&mut p, "Credentials file from XDR", "");
    answer(&mut p, "Which CloudTrail logs should reach XDR?", "");
    p.exp_string("belongs to another account").unwrap();
    p.exp_string("made by the bucket's owner").unwrap();
    p.exp_string("Which CloudTrail logs should reach XDR?")
        .unwrap();
    p.send_control('c').unwrap();
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
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-setup-dry");
    seed::bucket(&acct, &bucket, REGION).await;
    trail(&acct, &bucket).await;
    let before = acct.requests().len();
    let mut p = setup_in_pty(&acct, &inputs, &["--dry-run", "--taegis-region", "foxtrot"]);
    // Every question answered, every yes/no with a yes.
    converse(
        &mut p,
        &[
            Turn::Answer("AWS region", ""),
            Turn::Answer("Credentials file from XDR", ""),
            Turn::Answer("Which CloudTrail logs should reach XDR?", ""),
            Turn::Press("Trigger the function from S3", "y"),
        ],
    );
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
    let run = acct
        .tool()
        .args(["deploy", "--dry-run", "--output", "json", "--config"])
        .arg_path(&inputs.path("taegis-rollout.yaml"))
        .run();
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["outcome"], "planned");
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
    let (acct, inputs, bucket) = crate::harness::setup("trail-ctrl-c").await;
    let args: Vec<String> = inputs
        .deploy_args(&bucket)
        .into_iter()
        .filter(|a| a != "--yes")
        .collect();
    let before = acct.requests().len();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = in_pty(&acct, &inputs, &refs);
    p.exp_string("Create bucket").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("interrupted").unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert!(acct.writes_since(before).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_ends_healthy_when_aws_takes_its_time() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-setup-slow");
    seed::bucket(&acct, &bucket, REGION).await;
    acct.behave(serde_json::json!({
        "permission_delay_seconds": 2,
        "notification_stale_seconds": 2,
        "busy_seconds": 2,
    }));
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
