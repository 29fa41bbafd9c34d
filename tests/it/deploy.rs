//! `deploy` to one region, end to end.

use std::time::Duration;

use crate::harness::{Account, Inputs, REGION, http, s, setup, step};
use crate::seed;

const FUNCTION: &str = "taegis-cloudtrail-scwx-tdr-lambda-awscloudtrail";

async fn stack_status(acct: &Account, name: &str) -> Option<String> {
    let out = acct
        .cfn()
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .ok()?;
    out.stacks()
        .first()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_string())
}

/// The function's policy statements as JSON values.
async fn statements(acct: &Account, function: &str) -> Vec<serde_json::Value> {
    let p = acct
        .lambda()
        .get_policy()
        .function_name(function)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(p.policy().unwrap()).unwrap();
    v["Statement"].as_array().cloned().unwrap_or_default()
}

/// The statement ids on the function's policy.
async fn statement_ids(acct: &Account) -> Vec<String> {
    statements(acct, FUNCTION)
        .await
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_string())
        .collect()
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

    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--prefix", "AWSLogs/", "--output", "json"])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let t = &doc["targets"][0];
    assert_eq!(t["outcome"], "created", "{doc:#}");
    assert_eq!(t["function_name"], FUNCTION);
    assert_eq!(t["account"], acct.id.as_str());
    assert!(t["error"].is_null());

    // The zip object, content-addressed.
    let zips = acct
        .s3()
        .list_objects_v2()
        .bucket(format!("{bucket}-zips"))
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = zips.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("taegis-lambda-amd64-") && keys[0].ends_with(".zip"));

    // The zip bucket the tool made is private and encrypted (as AWS makes every new bucket).
    let zb = format!("{bucket}-zips");
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
    let enc = acct
        .s3()
        .get_bucket_encryption()
        .bucket(&zb)
        .send()
        .await
        .unwrap();
    let rules = enc.server_side_encryption_configuration().unwrap().rules();
    assert_eq!(
        rules[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );

    // Both stacks complete.
    assert_eq!(
        stack_status(&acct, "taegis-shared-resources")
            .await
            .as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        stack_status(&acct, "taegis-cloudtrail").await.as_deref(),
        Some("CREATE_COMPLETE")
    );

    // The function: custom runtime, reserved concurrency 5.
    let f = acct
        .lambda()
        .get_function()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    let runtime = f
        .configuration()
        .unwrap()
        .runtime()
        .unwrap()
        .as_str()
        .to_string();
    assert!(runtime.starts_with("provided."), "{runtime}");
    assert_eq!(
        f.concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        Some(5)
    );
    let function_arn = f
        .configuration()
        .unwrap()
        .function_arn()
        .unwrap()
        .to_string();
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
    let st = statements(&acct, FUNCTION).await;
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0]["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(
        st[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:s3:::{bucket}")
    );
    assert_eq!(
        st[0]["Condition"]["StringEquals"]["AWS:SourceAccount"],
        acct.id.as_str()
    );

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
    let sns = [
        "--trigger",
        "sns",
        "--sns-topic-arn",
        &topic,
        "--output",
        "json",
    ];

    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(sns)
        .run();
    run.assert_code(0);
    let doc = run.json();
    let names: Vec<_> = steps(&doc).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"sns-subscription".to_string())
            && !names.contains(&"bucket-notification".to_string())
    );

    let arn = doc["targets"][0]["function_arn"]
        .as_str()
        .unwrap()
        .to_string();
    let subs = seed::subscriptions(&acct, &topic).await;
    let lambda_subs: Vec<_> = subs
        .subscriptions()
        .iter()
        .filter(|s| s.protocol() == Some("lambda") && s.endpoint() == Some(arn.as_str()))
        .collect();
    assert_eq!(lambda_subs.len(), 1);
    let st = statements(&acct, FUNCTION).await;
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0]["Principal"]["Service"], "sns.amazonaws.com");
    assert_eq!(
        st[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        topic.as_str()
    );
    // The stack got the topic too.
    let p = acct
        .stack_parameter("taegis-cloudtrail", "SNSNotificationarn")
        .await;
    assert_eq!(p.as_deref(), Some(topic.as_str()));
    // No S3 notification of ours.
    let n = seed::notifications(&acct, &bucket).await;
    assert!(n.lambda_function_configurations().is_empty());

    // And a second run changes nothing.
    let before = acct.requests().len();
    let again = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(sns)
        .run();
    again.assert_code(0);
    assert_eq!(again.json()["targets"][0]["outcome"], "unchanged");
    assert!(
        acct.writes_since(before).is_empty(),
        "{:?}",
        acct.writes_since(before)
    );
}

#[tokio::test]
async fn second_identical_run_is_unchanged_and_writes_nothing() {
    let (acct, inputs, bucket) = setup("trail-again").await;
    seed::foreign_notifications(&acct, &bucket).await;
    let args = || {
        let mut a = inputs.deploy_args(&bucket);
        a.extend([
            "--prefix".into(),
            "AWSLogs/".into(),
            "--output".into(),
            "json".into(),
        ]);
        a
    };
    acct.tool().args(args()).run().assert_code(0);
    let writes_first = acct.requests().iter().filter(|r| r.mutates()).count();
    assert!(
        writes_first >= 6,
        "the first run should have written: {writes_first}"
    );

    let before = acct.requests().len();
    let run = acct.tool().args(args()).run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["outcome"], "unchanged", "{doc:#}");
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

    let st = statements(&acct, FUNCTION).await;
    assert_eq!(
        st.iter()
            .filter(|s| s["Sid"] == "taegis-cloudtrail-s3-invoke")
            .count(),
        1
    );
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
    let args = |extra: &[&str]| {
        let mut a = inputs.deploy_args(&bucket);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let before = acct.requests().len();
    let dry = acct
        .tool()
        .args(args(&["--dry-run", "--output", "json"]))
        .run();
    dry.assert_code(0);
    assert!(
        acct.writes_since(before).is_empty(),
        "{:?}",
        acct.writes_since(before)
    );
    let planned = dry.json();
    assert_eq!(planned["dry_run"], true);
    assert_eq!(planned["targets"][0]["outcome"], "planned");
    assert!(stack_status(&acct, "taegis-cloudtrail").await.is_none());

    // The text form of the dry run goes to stdout too, and also writes nothing.
    let before = acct.requests().len();
    let text = acct.tool().args(args(&["--dry-run"])).run();
    text.assert_code(0);
    assert!(
        text.stdout.contains("Plan for") && text.stdout.contains("lambda-stack"),
        "{}",
        text.stdout
    );
    assert!(acct.writes_since(before).is_empty());

    let real = acct.tool().args(args(&["--output", "json"])).run();
    real.assert_code(0);
    let done = real.json();
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
    let again = acct
        .tool()
        .args(args(&["--dry-run", "--output", "json"]))
        .run();
    again.assert_code(0);
    assert!(steps(&again.json()).iter().all(|(_, a)| a == "skip"));
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
        let run = acct
            .tool()
            .args(inputs.deploy_args(&bucket))
            .args(&extra)
            .run();
        run.assert_code(code);
        outputs.push(format!("{}\n{}", run.stdout, run.stderr));
    }
    // Through stdin as well.
    let mut args = inputs.deploy_args(&bucket);
    let i = args.iter().position(|a| a == "--credentials").unwrap();
    args[i + 1] = "-".into();
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
    child
        .stdin
        .take()
        .unwrap()
        .write_all(inputs.secret_text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outputs.push(format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));

    for o in &outputs {
        assert_no_secret(&inputs, o);
    }
    // The runs above did real work: the secret was sent.
    assert_eq!(
        acct.shared_secret().await.as_deref(),
        Some(inputs.secret_text.as_str())
    );
    // And the stack shows it as AWS does: masked.
    let out = acct
        .cfn()
        .describe_stacks()
        .stack_name("taegis-shared-resources")
        .send()
        .await
        .unwrap();
    let shown = out.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("SecretValue"))
        .and_then(|p| p.parameter_value())
        .unwrap()
        .to_string();
    assert_eq!(shown, "****");
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

    let mut child = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--lambda-template", &s(&template)])
        .env("TAEGIS_POLL_INTERVAL", "50ms")
        .spawn();

    // Wait until the Lambda stack is being created and held.
    let started = std::time::Instant::now();
    let stack_id = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the Lambda stack never went in progress"
        );
        if let Ok(o) = acct
            .cfn()
            .describe_stacks()
            .stack_name("taegis-cloudtrail")
            .send()
            .await
        {
            let st = &o.stacks()[0];
            if st.stack_status().map(|s| s.as_str()) == Some("CREATE_IN_PROGRESS") {
                break st.stack_id().unwrap().to_string();
            }
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

    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Hold (Custom::Hold) CREATE_IN_PROGRESS"),
        "{stderr}"
    );
    let held = stderr
        .find("Hold (Custom::Hold) CREATE_IN_PROGRESS")
        .unwrap();
    let done = stderr
        .find("taegis-cloudtrail (AWS::CloudFormation::Stack) CREATE_COMPLETE")
        .unwrap_or_else(|| panic!("no stack completion line:\n{stderr}"));
    assert!(held < done);
    assert_eq!(
        stack_status(&acct, "taegis-cloudtrail").await.as_deref(),
        Some("CREATE_COMPLETE")
    );
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
    let (acct, inputs, bucket) = setup("trail-replaced").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    // A new integration type renames the function: CloudFormation replaces it.
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--integration-type", "generic", "--output", "json"])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let t = &doc["targets"][0];
    assert_eq!(t["outcome"], "updated");
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
    let st = statements(&acct, new).await;
    assert_eq!(st.len(), 1, "{st:?}");
    assert!(
        acct.lambda()
            .get_function()
            .function_name(FUNCTION)
            .send()
            .await
            .is_err(),
        "the old function is gone"
    );
    // And now all is in place: the next run has nothing to do.
    let again = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--integration-type", "generic", "--output", "json"])
        .run();
    again.assert_code(0);
    assert_eq!(again.json()["targets"][0]["outcome"], "unchanged");
}

#[tokio::test]
async fn switching_the_trigger_removes_the_earlier_one() {
    let (acct, inputs, bucket) = setup("trail-switch").await;
    let topic = seed::topic(&acct, "trail-switch-news").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);

    // S3 -> SNS: the subscription and its permission in; our bucket entry and S3 permission out.
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args([
            "--trigger",
            "sns",
            "--sns-topic-arn",
            &topic,
            "--output",
            "json",
        ])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let removal = step(&doc, "remove-old-trigger");
    assert_eq!(removal["status"], "done", "{removal}");
    assert!(
        seed::notifications(&acct, &bucket)
            .await
            .lambda_function_configurations()
            .is_empty()
    );
    let sids = statement_ids(&acct).await;
    assert_eq!(sids, ["taegis-cloudtrail-sns-invoke"]);
    let subs = seed::subscriptions(&acct, &topic).await;
    assert_eq!(subs.subscriptions().len(), 1);

    // SNS -> S3: and back.
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    assert_eq!(
        seed::notifications(&acct, &bucket)
            .await
            .lambda_function_configurations()
            .len(),
        1
    );
    let sids = statement_ids(&acct).await;
    assert_eq!(sids, ["taegis-cloudtrail-s3-invoke"]);
    let subs = seed::subscriptions(&acct, &topic).await;
    assert!(
        subs.subscriptions().is_empty(),
        "{:?}",
        subs.subscriptions()
    );
    // The stack no longer names the topic.
    let p = acct
        .stack_parameter("taegis-cloudtrail", "SNSNotificationarn")
        .await;
    assert_eq!(p.as_deref(), Some(""));
    // Settled: nothing left to do.
    let again = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json"])
        .run();
    again.assert_code(0);
    assert_eq!(again.json()["targets"][0]["outcome"], "unchanged");
}

#[tokio::test]
async fn a_trigger_added_by_hand_is_taken_over() {
    use aws_sdk_s3::types as s3t;
    let (acct, inputs, bucket) = setup("trail-byhand").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
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
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json"])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let step = step(&doc, "bucket-notification");
    assert_eq!(step["action"], "update", "{step}");
    let ids: Vec<_> = seed::notifications(&acct, &bucket)
        .await
        .lambda_function_configurations()
        .iter()
        .map(|l| l.id().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, ["taegis-cloudtrail-taegis-cloudtrail"]);
}
