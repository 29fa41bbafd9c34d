//! `verify`: the guide's checks after a deploy, each failing when the cloud drifts.

use crate::harness::{Account, Inputs, REGION, Run, setup};
use crate::state::FUNCTION;

/// `verify` of the default stacks, as JSON.
fn verify(acct: &Account, extra: &[&str]) -> Run {
    acct.tool()
        .args(["verify", "--output", "json"])
        .args(extra)
        .run()
}

/// The status and detail of check `name` of the first target.
fn check(run: &Run, name: &str) -> (String, String) {
    let doc = run.json();
    let c = doc["targets"][0]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks: {doc:#}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {doc:#}"))
        .clone();
    (
        c["status"].as_str().unwrap().to_string(),
        c["detail"].as_str().unwrap().to_string(),
    )
}

async fn deployed(what: &str) -> (Account, Inputs, String) {
    let (acct, inputs, bucket) = setup(what).await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--prefix", "AWSLogs/"])
        .run()
        .assert_code(0);
    (acct, inputs, bucket)
}

#[tokio::test]
async fn after_a_fresh_deploy_everything_is_ok_but_the_log_that_has_yet_to_come() {
    let (acct, _inputs, bucket) = deployed("trail-verify").await;
    let run = verify(&acct, &[]);
    run.assert_code(0);
    let doc = run.json();
    let t = &doc["targets"][0];
    assert_eq!(t["outcome"], "healthy", "{doc:#}");
    for c in t["checks"].as_array().unwrap() {
        let ok = c["status"] == "ok" || (c["name"] == "log" && c["status"] == "warning");
        assert!(ok, "{c}");
    }
    for name in [
        "shared-stack",
        "lambda-stack",
        "function",
        "runtime",
        "reserved-concurrency",
        "function-secret",
        "trigger",
        "invoke-permission",
        "concurrency-headroom",
        "log",
    ] {
        check(&run, name);
    }
    assert!(check(&run, "log").1.contains("no log yet"));
    assert!(check(&run, "trigger").1.contains(&bucket));
    assert!(
        t["notes"][0]
            .as_str()
            .unwrap()
            .contains("from cloudaudit where sensor_type = 'AWS CloudTrail'")
    );
    // The text form says the same.
    let text = acct.tool().args(["verify"]).run();
    text.assert_code(0);
    assert!(text.stdout.contains("healthy") && text.stdout.contains("invoke-permission"));
}

#[tokio::test]
async fn drift_is_named_by_its_check() {
    let (acct, _inputs, bucket) = deployed("trail-drift").await;
    let lambda = acct.lambda();
    // A permission that lets S3 invoke the function from any bucket.
    lambda
        .add_permission()
        .function_name(FUNCTION)
        .statement_id("too-open")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .send()
        .await
        .unwrap();
    let run = verify(&acct, &[]);
    run.assert_code(1);
    let (status, detail) = check(&run, "invoke-permission");
    assert_eq!(status, "failed");
    assert!(
        detail.contains("too-open") && detail.contains("broader"),
        "{detail}"
    );
    assert_eq!(run.json()["targets"][0]["outcome"], "unhealthy");
    lambda
        .remove_permission()
        .function_name(FUNCTION)
        .statement_id("too-open")
        .send()
        .await
        .unwrap();

    // Our permission gone.
    lambda
        .remove_permission()
        .function_name(FUNCTION)
        .statement_id("taegis-cloudtrail-s3-invoke")
        .send()
        .await
        .unwrap();
    let run = verify(&acct, &[]);
    run.assert_code(1);
    assert_eq!(check(&run, "invoke-permission").0, "failed");

    // Our bucket entry gone (someone rewrote the configuration without it).
    crate::seed::put_notifications(
        &acct,
        &bucket,
        aws_sdk_s3::types::NotificationConfiguration::builder().build(),
    )
    .await;
    let run = verify(&acct, &[]);
    run.assert_code(1);
    let (status, detail) = check(&run, "trigger");
    assert_eq!(status, "failed");
    assert!(detail.contains(&bucket), "{detail}");
}

#[tokio::test]
async fn the_deprecated_runtime_is_a_warning_not_a_failure() {
    let (acct, _inputs, _bucket) = deployed("trail-al2-verify").await;
    acct.lambda()
        .update_function_configuration()
        .function_name(FUNCTION)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2)
        .send()
        .await
        .unwrap();
    let run = verify(&acct, &[]);
    run.assert_code(0);
    let (status, detail) = check(&run, "runtime");
    assert_eq!(status, "warning");
    assert!(
        detail.contains("provided.al2023") && detail.contains("2027-02-01"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_log_tells_the_last_upload_and_the_last_error() {
    let (acct, _inputs, _bucket) = deployed("trail-logs-verify").await;
    let logs = acct.logs();
    let group = format!("/aws/lambda/{FUNCTION}");
    let _ = logs.create_log_group().log_group_name(&group).send().await;
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("2026/12/01/[$LATEST]abc")
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let upload_at = now - 60_000;
    let event = |t: i64, m: &str| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(t)
            .message(m)
            .build()
            .unwrap()
    };
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("2026/12/01/[$LATEST]abc")
        .log_events(event(
            upload_at - 1000,
            "START RequestId: 1 Version: $LATEST",
        ))
        .log_events(event(
            upload_at,
            r#"{"level":"debug","time":"2026-12-01T10:00:00Z","message":"Uploading data to s3"}"#,
        ))
        .log_events(event(
            upload_at + 1000,
            r#"{"level":"error","message":"token refresh failed: 401"}"#,
        ))
        .log_events(event(
            upload_at + 2000,
            "REPORT RequestId: 1 Duration: 12.3 ms",
        ))
        .send()
        .await
        .unwrap();
    let run = verify(&acct, &["--since", "1h"]);
    run.assert_code(0);
    let (status, detail) = check(&run, "log");
    assert_eq!(status, "warning", "{detail}");
    let at = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(upload_at as u64),
    )
    .to_string();
    assert!(detail.contains(&at), "{at} not in {detail}");
    assert!(detail.contains("token refresh failed: 401"), "{detail}");
}

#[tokio::test]
async fn a_test_event_invokes_the_function_for_a_real_log_object() {
    let (acct, _inputs, bucket) = deployed("trail-test-event").await;
    let key = format!(
        "AWSLogs/{}/CloudTrail/{REGION}/2026/12/01/{}_CloudTrail_{REGION}_20261201T0000Z_x.json.gz",
        acct.id, acct.id
    );
    acct.s3()
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let run = verify(&acct, &["--test-event"]);
    run.assert_code(0);
    let (status, detail) = check(&run, "test-event");
    assert_eq!(status, "ok", "{detail}");
    assert!(
        detail.contains(&key)
            && detail.contains("answered 200")
            && detail.contains("XDR ingests it again"),
        "{detail}"
    );
    // The help says so before anyone runs it.
    let help = acct.tool().args(["verify", "--help"]).run();
    assert!(
        help.stdout.contains("real log object") && help.stdout.contains("ingests"),
        "{}",
        help.stdout
    );
    let invoked = acct
        .requests()
        .iter()
        .filter(|r| r.action == "Invoke")
        .count();
    assert_eq!(invoked, 1);
}

#[tokio::test]
async fn a_key_whose_policy_keeps_the_function_out_is_reported_with_the_statement_to_add() {
    let (acct, inputs, bucket) = setup("trail-kms").await;
    let kms = acct.kms();
    let delegated = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", acct.id)},
        "Action": "kms:*", "Resource": "*"}]});
    let key = kms
        .create_key()
        .policy(delegated.to_string())
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--bucket-kms-key-arn", &key])
        .run()
        .assert_code(0);
    let run = verify(&acct, &[]);
    run.assert_code(0);
    assert_eq!(check(&run, "kms").0, "ok");
    // Later, someone replaces the policy with one that neither delegates to IAM nor names the
    // function's role.
    let closed = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyTheAdmins", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:role/KeyAdmins", acct.id)},
        "Action": "kms:*", "Resource": "*"}]});
    kms.put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(closed.to_string())
        .send()
        .await
        .unwrap();
    let run = verify(&acct, &[]);
    run.assert_code(1);
    let (status, detail) = check(&run, "kms");
    assert_eq!(status, "failed");
    assert!(
        detail.contains(&key) && detail.contains("\"kms:Decrypt\"") && detail.contains("role/"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_log_line_behind_empty_pages_is_found() {
    let (acct, _inputs, _bucket) = deployed("trail-log-pages").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    crate::seed::function_log(
        &acct,
        FUNCTION,
        &[(
            now - 60_000,
            r#"{"level":"debug","message":"Uploading data to s3"}"#,
        )],
    )
    .await;
    // More empty pages than a verify once read in all.
    acct.behave(serde_json::json!({"empty_log_pages": 30}));
    let run = verify(&acct, &[]);
    run.assert_code(0);
    let (status, detail) = check(&run, "log");
    assert_eq!(status, "ok", "{detail}");
    assert!(detail.contains("Uploading data to s3"), "{detail}");
}
