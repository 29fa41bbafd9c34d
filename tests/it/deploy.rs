//! `deploy` to one region, end to end.

use std::time::Duration;

use serde_json::json;

use crate::harness::{
    Account, Inputs, REGION, Run, deployed, http, s, set_flag, setup, source, step,
};
use crate::seed;

const FUNCTION: &str = "taegis-cloudtrail-scwx-tdr-lambda-awscloudtrail";

/// The statement ids on the function's policy.
async fn statement_ids(acct: &Account) -> Vec<String> {
    let statements = acct.statements(FUNCTION).await;
    let ids = statements.iter().map(|s| s["Sid"].as_str().unwrap());
    ids.map(str::to_string).collect()
}

/// The flags of an SNS trigger from `topic`, with a JSON result.
fn sns_json(topic: &str) -> [&str; 6] {
    [
        "--trigger",
        "sns",
        "--sns-topic-arn",
        topic,
        "--output",
        "json",
    ]
}

fn steps(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["targets"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_no_secret(inputs: &Inputs, text: &str) {
    for needle in std::iter::once(inputs.secret_text.trim()).chain(inputs.secret_text.lines()) {
        assert!(
            !needle.is_empty() && !text.contains(needle),
            "the credentials text leaked:\n{text}"
        );
    }
}

#[tokio::test]
async fn fresh_deploy_creates_everything_and_keeps_other_entries() {
    let (acct, inputs, bucket) = setup("trail").await;
    let before = seed::foreign_notifications(&acct, &bucket).await;

    let run = acct.deploy(
        &inputs,
        &bucket,
        &["--prefix", "AWSLogs/", "--output", "json"],
    );
    let doc = run.assert_code(0).assert_outcome("created");
    let t = &doc["targets"][0];
    assert_eq!(t["function_name"], FUNCTION);
    assert_eq!(t["account"], acct.id.as_str());
    assert!(t["error"].is_null());

    // The zip object, content-addressed.
    let zb = format!("{bucket}-zips");
    let keys = acct.object_keys(REGION, &zb).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("taegis-lambda-amd64-") && keys[0].ends_with(".zip"));

    // The zip bucket the tool made is private and encrypted (as AWS makes every new bucket).
    let pab = acct
        .s3()
        .get_public_access_block()
        .bucket(&zb)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc = acct.s3().get_bucket_encryption().bucket(&zb).send().await;
    let enc = enc
        .unwrap()
        .server_side_encryption_configuration()
        .unwrap()
        .clone();
    let by_default = enc.rules()[0].apply_server_side_encryption_by_default();
    assert_eq!(by_default.unwrap().sse_algorithm().as_str(), "AES256");

    // Both stacks complete.
    for stack in ["taegis-shared-resources", "taegis-cloudtrail"] {
        let status = acct.stack_status(stack).await;
        assert_eq!(status.as_deref(), Some("CREATE_COMPLETE"), "{stack}");
    }

    // The function: custom runtime, reserved concurrency 5.
    let f = acct.lambda().get_function().function_name(FUNCTION).send();
    let f = f.await.unwrap();
    let configuration = f.configuration().unwrap();
    let runtime = configuration.runtime().unwrap().as_str();
    assert!(runtime.starts_with("provided."), "{runtime}");
    let reserved = f
        .concurrency()
        .and_then(|c| c.reserved_concurrent_executions());
    assert_eq!(reserved, Some(5));
    let function_arn = configuration.function_arn().unwrap().to_string();
    assert_eq!(t["function_arn"], function_arn.as_str());

    // The secret holds exactly the credentials text.
    assert_eq!(
        acct.shared_secret().await.as_deref(),
        Some(inputs.secret_text.as_str())
    );

    // Our notification, with the prefix; and the invoke permission scoped to the bucket.
    let after = seed::notifications(&acct, &bucket).await;
    let ours: Vec<_> = after
        .lambda_function_configurations()
        .iter()
        .filter(|l| l.lambda_function_arn() == function_arn)
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].id(), Some("taegis-cloudtrail-taegis-cloudtrail"));
    assert_eq!(ours[0].events()[0].as_str(), "s3:ObjectCreated:*");
    let rules = ours[0].filter().unwrap().key().unwrap().filter_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].value(), Some("AWSLogs/"));
    let st = acct.statements(FUNCTION).await;
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0]["Principal"]["Service"], "s3.amazonaws.com");
    let from_bucket = json!(format!("arn:aws:s3:::{bucket}"));
    assert_eq!(source(&st[0]), (from_bucket, json!(acct.id)));

    // Everyone else's entries are exactly as they were.
    assert_eq!(after.queue_configurations(), before.queue_configurations());
    assert_eq!(after.topic_configurations(), before.topic_configurations());
    let others: Vec<_> = after
        .lambda_function_configurations()
        .iter()
        .filter(|l| l.lambda_function_arn() != function_arn)
        .cloned()
        .collect();
    assert_eq!(others.as_slice(), before.lambda_function_configurations());
    assert!(
        after.event_bridge_configuration().is_some(),
        "EventBridge was dropped"
    );
}

#[tokio::test]
async fn sns_trigger_subscribes_the_function() {
    let (acct, inputs, bucket) = setup("trail-sns").await;
    let topic = seed::topic(&acct, "trail-news").await;
    let sns = sns_json(&topic);

    let doc = acct.deploy(&inputs, &bucket, &sns).assert_code(0).json();
    let names: Vec<_> = steps(&doc).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"sns-subscription".to_string())
            && !names.contains(&"bucket-notification".to_string())
    );

    let arn = doc["targets"][0]["function_arn"].as_str().unwrap();
    let subs = seed::subscriptions(&acct, &topic).await;
    let lambda_subs: Vec<_> = subs
        .subscriptions()
        .iter()
        .filter(|s| s.protocol() == Some("lambda") && s.endpoint() == Some(arn))
        .collect();
    assert_eq!(lambda_subs.len(), 1);
    let st = acct.statements(FUNCTION).await;
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0]["Principal"]["Service"], "sns.amazonaws.com");
    assert_eq!(source(&st[0]).0, topic.as_str());
    // The stack got the topic too.
    let p = acct.stack_parameter("taegis-cloudtrail", "SNSNotificationarn");
    assert_eq!(p.await.as_deref(), Some(topic.as_str()));
    // No S3 notification of ours.
    let n = seed::notifications(&acct, &bucket).await;
    assert!(n.lambda_function_configurations().is_empty());

    // And a second run changes nothing.
    let again = acct.writing_nothing(|| acct.deploy(&inputs, &bucket, &sns));
    again.assert_code(0).assert_outcome("unchanged");
}

#[tokio::test]
async fn second_identical_run_is_unchanged_and_writes_nothing() {
    let (acct, inputs, bucket) = setup("trail-again").await;
    seed::foreign_notifications(&acct, &bucket).await;
    let args = ["--prefix", "AWSLogs/", "--output", "json"];
    acct.deploy(&inputs, &bucket, &args).assert_code(0);
    let writes_first = acct.requests().iter().filter(|r| r.mutates()).count();
    assert!(
        writes_first >= 6,
        "the first run should have written: {writes_first}"
    );

    let before = acct.requests().len();
    let run = acct.deploy(&inputs, &bucket, &args);
    let doc = run.assert_code(0).assert_outcome("unchanged");
    assert!(steps(&doc).iter().all(|(_, a)| a == "skip"));
    let writes = acct.writes_since(before);
    assert!(writes.is_empty(), "a no-op run wrote: {writes:?}");
    // And it reads only what can have changed: not the account's Lambda settings (the
    // reservation does not grow), nor its exports (the shared stack is there), nor the zip
    // bucket's region (the zip's own read says the bucket is here): at most 12 calls.
    let reads: Vec<String> = acct.requests()[before..]
        .iter()
        .map(|r| r.action.clone())
        .collect();
    assert!(reads.len() <= 12, "{} calls: {reads:?}", reads.len());
    for unneeded in ["GetAccountSettings", "ListExports", "HeadObject"] {
        assert!(
            !reads.iter().any(|a| a == unneeded),
            "{unneeded}: {reads:?}"
        );
    }
    let locations = reads.iter().filter(|a| *a == "GetBucketLocation").count();
    assert_eq!(locations, 1, "the notification bucket's only: {reads:?}");

    let st = acct.statements(FUNCTION).await;
    let ours = st
        .iter()
        .filter(|s| s["Sid"] == "taegis-cloudtrail-s3-invoke");
    assert_eq!(ours.count(), 1);
    assert_eq!(st.len(), 1);
    let n = seed::notifications(&acct, &bucket).await;
    let ours = n
        .lambda_function_configurations()
        .iter()
        .filter(|l| {
            l.id() == Some("taegis-cloudtrail-taegis-cloudtrail")
                || l.lambda_function_arn().contains(FUNCTION)
        })
        .count();
    assert_eq!(ours, 1);
}

#[tokio::test]
async fn dry_run_writes_nothing_and_shows_the_steps_the_run_takes() {
    let (acct, inputs, bucket) = setup("trail-dry").await;
    let deploy = |extra: &[&str]| acct.deploy(&inputs, &bucket, extra);

    let dry = acct.writing_nothing(|| deploy(&["--dry-run", "--output", "json"]));
    let planned = dry.assert_code(0).assert_outcome("planned");
    assert_eq!(planned["dry_run"], true);
    assert!(acct.stack_status("taegis-cloudtrail").await.is_none());

    // The text form of the dry run goes to stdout too, and also writes nothing.
    let text = acct.writing_nothing(|| deploy(&["--dry-run"]));
    text.assert_code(0);
    assert!(
        text.stdout.contains("Plan for") && text.stdout.contains("lambda-stack"),
        "{}",
        text.stdout
    );

    let done = deploy(&["--output", "json"]).assert_code(0).json();
    assert_eq!(steps(&planned), steps(&done));
    assert!(
        done["targets"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"]
                == if s["action"] == "skip" {
                    "skipped"
                } else {
                    "done"
                })
    );

    // Second round: a dry run of an up-to-date deploy plans only skips.
    let again = deploy(&["--dry-run", "--output", "json"]);
    assert!(
        steps(&again.assert_code(0).json())
            .iter()
            .all(|(_, a)| a == "skip")
    );
}

#[tokio::test]
async fn credentials_never_appear_in_any_output() {
    let (acct, inputs, bucket) = setup("trail-secret").await;
    let mut outputs = Vec::new();
    for (extra, code) in [
        (vec!["--dry-run", "-vvv"], 0),
        (vec!["--dry-run", "--output", "json", "-vvv"], 0),
        (vec!["-vvv"], 0),
        (vec!["--output", "json", "-vvv", "--update-credentials"], 0),
        (vec!["-vvv", "--update-credentials"], 0),
        // a failing preflight
        (vec!["-vvv", "--taegis-region", "nowhere"], 2),
        (
            vec!["--output", "json", "-vvv", "--taegis-region", "nowhere"],
            2,
        ),
    ] {
        let run = acct.deploy(&inputs, &bucket, &extra);
        run.assert_code(code);
        outputs.push(format!("{}\n{}", run.stdout, run.stderr));
    }
    // Through stdin as well.
    let args = set_flag(inputs.deploy_args(&bucket), "--credentials", "-");
    let mut child = acct
        .tool()
        .args(args)
        .args(["-vvv", "--update-credentials", "--output", "json"])
        .cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(inputs.secret_text.as_bytes()).unwrap();
    drop(stdin);
    let run = Run::of(child);
    run.assert_code(0);
    outputs.push(format!("{}\n{}", run.stdout, run.stderr));

    for o in &outputs {
        assert_no_secret(&inputs, o);
    }
    // The runs above did real work: the secret was sent.
    assert_eq!(
        acct.shared_secret().await.as_deref(),
        Some(inputs.secret_text.as_str())
    );
    // And the stack shows it as AWS does: masked.
    let shown = acct.stack_parameter("taegis-shared-resources", "SecretValue");
    assert_eq!(shown.await.as_deref(), Some("****"));
}

/// A Lambda template of the user's: the bundled one plus a custom resource that holds the
/// stack in CREATE_IN_PROGRESS until the test answers for it.
fn held_template(service_token: &str) -> String {
    let bundled = include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");
    let (head, tail) = bundled
        .split_once("\nResources:\n")
        .expect("a Resources section");
    format!(
        "{head}\nResources:\n  Hold:\n    Type: Custom::Hold\n    Properties:\n      ServiceToken: {service_token}\n{tail}"
    )
}

#[tokio::test]
async fn a_stack_held_in_progress_is_followed_until_it_settles() {
    let (acct, inputs, bucket) = setup("trail-held").await;
    // The custom resource's handler: any existing function will do, the test answers for it.
    let handler = seed::other_function(&acct, &bucket).await;
    let template = inputs.write("held.yaml", held_template(&handler));

    let held = ["--lambda-template", &s(&template)];
    let tool = acct.tool().args(inputs.deploy_args(&bucket)).args(held);
    let mut child = tool.env("TAEGIS_POLL_INTERVAL", "50ms").spawn();

    // Wait until the Lambda stack is being created and held.
    let started = std::time::Instant::now();
    let stack_id = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the Lambda stack never went in progress"
        );
        if let Some(st) = acct.stack("taegis-cloudtrail").await
            && st.stack_status().map(|s| s.as_str()) == Some("CREATE_IN_PROGRESS")
        {
            break st.stack_id().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The tool keeps following while the stack is held.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the tool stopped while the stack was in progress"
    );

    let body = format!(
        r#"{{"Status":"SUCCESS","StackId":"{stack_id}","LogicalResourceId":"Hold","RequestId":"r","PhysicalResourceId":"hold-1","Data":{{}}}}"#
    );
    let (status, answer) = http(
        "PUT",
        &format!(
            "/cloudformation_{REGION}/cfnresponse?stack={}",
            encode(&stack_id)
        ),
        Some(&body),
    );
    assert!(status < 300, "cfnresponse: {status} {answer}");

    let run = Run::of(child);
    let stderr = &run.assert_code(0).stderr;
    let held = stderr.find("Hold (Custom::Hold) CREATE_IN_PROGRESS");
    let held = held.unwrap_or_else(|| panic!("{stderr}"));
    let done = stderr
        .find("taegis-cloudtrail (AWS::CloudFormation::Stack) CREATE_COMPLETE")
        .unwrap_or_else(|| panic!("no stack completion line:\n{stderr}"));
    assert!(held < done);
    let status = acct.stack_status("taegis-cloudtrail").await;
    assert_eq!(status.as_deref(), Some("CREATE_COMPLETE"));
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_function_replaced_by_a_stack_update_gets_the_trigger_again() {
    let (acct, inputs, bucket) = deployed("trail-replaced", &[]).await;
    // A new integration type renames the function: CloudFormation replaces it.
    let generic = ["--integration-type", "generic", "--output", "json"];
    let run = acct.deploy(&inputs, &bucket, &generic);
    let doc = run.assert_code(0).assert_outcome("updated");
    let t = &doc["targets"][0];
    let new = "taegis-cloudtrail-scwx-tdr-lambda-generic";
    assert_eq!(t["function_name"], new);
    let arn = t["function_arn"].as_str().unwrap();
    let n = seed::notifications(&acct, &bucket).await;
    let targets: Vec<_> = n
        .lambda_function_configurations()
        .iter()
        .map(|l| l.lambda_function_arn())
        .collect();
    assert_eq!(targets, [arn]);
    let st = acct.statements(new).await;
    assert_eq!(st.len(), 1, "{st:?}");
    let old = acct.function_arn(REGION, FUNCTION).await;
    assert!(old.is_none(), "the old function is gone");
    // And now all is in place: the next run has nothing to do.
    let again = acct.deploy(&inputs, &bucket, &generic);
    again.assert_code(0).assert_outcome("unchanged");
}

#[tokio::test]
async fn switching_the_trigger_removes_the_earlier_one() {
    let (acct, inputs, bucket) = setup("trail-switch").await;
    let topic = seed::topic(&acct, "trail-switch-news").await;
    acct.deploy(&inputs, &bucket, &[]).assert_code(0);
    let ours = async || {
        let n = seed::notifications(&acct, &bucket).await;
        let sids = statement_ids(&acct).await;
        let subs = seed::subscriptions(&acct, &topic).await;
        (
            n.lambda_function_configurations().len(),
            sids,
            subs.subscriptions().len(),
        )
    };

    // S3 -> SNS: the subscription and its permission in; our bucket entry and S3 permission out.
    let sns = sns_json(&topic);
    let doc = acct.deploy(&inputs, &bucket, &sns).assert_code(0).json();
    let removal = step(&doc, "remove-old-trigger");
    assert_eq!(removal["status"], "done", "{removal}");
    assert_eq!(
        ours().await,
        (0, vec!["taegis-cloudtrail-sns-invoke".into()], 1)
    );

    // SNS -> S3: and back.
    acct.deploy(&inputs, &bucket, &[]).assert_code(0);
    assert_eq!(
        ours().await,
        (1, vec!["taegis-cloudtrail-s3-invoke".into()], 0)
    );
    // The stack no longer names the topic.
    let p = acct.stack_parameter("taegis-cloudtrail", "SNSNotificationarn");
    assert_eq!(p.await.as_deref(), Some(""));
    // Settled: nothing left to do.
    let again = acct.deploy(&inputs, &bucket, &["--output", "json"]);
    again.assert_code(0).assert_outcome("unchanged");
}

#[tokio::test]
async fn a_trigger_added_by_hand_is_taken_over() {
    use aws_sdk_s3::types as s3t;
    let (acct, inputs, bucket) = deployed("trail-byhand", &[]).await;
    let n = seed::notifications(&acct, &bucket).await;
    let arn = n.lambda_function_configurations()[0]
        .lambda_function_arn()
        .to_string();
    // As the console guide does it: an entry with a generated Id for the same function.
    let by_hand = s3t::NotificationConfiguration::builder()
        .lambda_function_configurations(
            s3t::LambdaFunctionConfiguration::builder()
                .id("NjE5ZjQ1YzYtY2Q5Zi00")
                .lambda_function_arn(&arn)
                .events(s3t::Event::from("s3:ObjectCreated:*"))
                .build()
                .unwrap(),
        )
        .build();
    seed::put_notifications(&acct, &bucket, by_hand).await;
    let run = acct.deploy(&inputs, &bucket, &["--output", "json"]);
    let step = step(&run.assert_code(0).json(), "bucket-notification");
    assert_eq!(step["action"], "update", "{step}");
    let ids: Vec<_> = seed::notifications(&acct, &bucket)
        .await
        .lambda_function_configurations()
        .iter()
        .map(|l| l.id().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, ["taegis-cloudtrail-taegis-cloudtrail"]);
}
