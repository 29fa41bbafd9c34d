//! `verify`: the guide's checks after a deploy, each failing when the cloud drifts.

use crate::harness::{Account, Inputs, REGION, Run, find, now_ms, setup};
use crate::seed;
use crate::state::FUNCTION;

/// The status and detail of check `name` of the first target.
fn check(run: &Run, name: &str) -> (String, String) {
    let c = find(&run.json()["targets"][0]["checks"], "name", name);
    (
        c["status"].as_str().unwrap().to_string(),
        c["detail"].as_str().unwrap().to_string(),
    )
}

/// Check `name` of the first target is `status`, its detail holding every one of `needles`.
fn assert_check(run: &Run, name: &str, status: &str, needles: &[&str]) {
    let (got, detail) = check(run, name);
    assert_eq!(got, status, "{name}: {detail}");
    for n in needles {
        assert!(detail.contains(n), "{name}: {n:?} not in {detail}");
    }
}

/// A fresh account, deployed to with the prefix `AWSLogs/`.
async fn deployed(what: &str) -> (Account, Inputs, String) {
    crate::harness::deployed(what, &["--prefix", "AWSLogs/"]).await
}

#[tokio::test]
async fn after_a_fresh_deploy_everything_is_ok_but_the_log_that_has_yet_to_come() {
    let (acct, _inputs, bucket) = deployed("trail-verify").await;
    let run = acct.verify(&[]);
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
    // A permission that lets S3 invoke the function from any bucket.
    seed::s3_permission(&acct, FUNCTION, "too-open", None).await;
    let run = acct.verify(&[]);
    run.assert_code(1).assert_outcome("unhealthy");
    assert_check(
        &run,
        "invoke-permission",
        "failed",
        &["too-open", "broader"],
    );
    seed::remove_permission(&acct, FUNCTION, "too-open").await;

    // Our permission gone.
    seed::remove_permission(&acct, FUNCTION, "taegis-cloudtrail-s3-invoke").await;
    let run = acct.verify(&[]);
    assert_check(run.assert_code(1), "invoke-permission", "failed", &[]);

    // Our bucket entry gone (someone rewrote the configuration without it).
    seed::clear_notifications(&acct, &bucket).await;
    let run = acct.verify(&[]);
    assert_check(run.assert_code(1), "trigger", "failed", &[&bucket]);
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
    let run = acct.verify(&[]);
    let al2023 = ["provided.al2023", "2027-02-01"];
    assert_check(run.assert_code(0), "runtime", "warning", &al2023);
}

#[tokio::test]
async fn the_log_tells_the_last_upload_and_the_last_error() {
    let (acct, _inputs, _bucket) = deployed("trail-logs-verify").await;
    let upload_at = now_ms() - 60_000;
    let lines = [
        (upload_at - 1000, "START RequestId: 1 Version: $LATEST"),
        (
            upload_at,
            r#"{"level":"debug","time":"2026-12-01T10:00:00Z","message":"Uploading data to s3"}"#,
        ),
        (
            upload_at + 1000,
            r#"{"level":"error","message":"token refresh failed: 401"}"#,
        ),
        (upload_at + 2000, "REPORT RequestId: 1 Duration: 12.3 ms"),
    ];
    seed::function_log(&acct, FUNCTION, &lines).await;
    let run = acct.verify(&["--since", "1h"]);
    let upload = std::time::UNIX_EPOCH + std::time::Duration::from_millis(upload_at as u64);
    let at = humantime::format_rfc3339_seconds(upload).to_string();
    let said = [at.as_str(), "token refresh failed: 401"];
    assert_check(run.assert_code(0), "log", "warning", &said);
}

#[tokio::test]
async fn a_test_event_invokes_the_function_for_a_real_log_object() {
    let (acct, _inputs, bucket) = deployed("trail-test-event").await;
    let key = format!(
        "AWSLogs/{}/CloudTrail/{REGION}/2026/12/01/{}_CloudTrail_{REGION}_20261201T0000Z_x.json.gz",
        acct.id, acct.id
    );
    seed::object(&acct, &bucket, &key, b"{}").await;
    let run = acct.verify(&["--test-event"]);
    let said = [key.as_str(), "answered 200", "XDR ingests it again"];
    assert_check(run.assert_code(0), "test-event", "ok", &said);
    // The help says so before anyone runs it.
    let help = acct.tool().args(["verify", "--help"]).run();
    assert!(
        help.stdout.contains("real log object") && help.stdout.contains("ingests"),
        "{}",
        help.stdout
    );
    assert_eq!(acct.calls("Invoke"), 1);
}

#[tokio::test]
async fn a_key_whose_policy_keeps_the_function_out_is_reported_with_the_statement_to_add() {
    let (acct, inputs, bucket) = setup("trail-kms").await;
    let delegated = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", acct.id)},
        "Action": "kms:*", "Resource": "*"}]});
    let key = seed::key(&acct, Some(delegated)).await;
    let kms = ["--bucket-kms-key-arn", &key];
    acct.deploy(&inputs, &bucket, &kms).assert_code(0);
    assert_check(acct.verify(&[]).assert_code(0), "kms", "ok", &[]);
    // Later, someone replaces the policy with one that neither delegates to IAM nor names the
    // function's role.
    seed::close_key(&acct, &key).await;
    let run = acct.verify(&[]);
    let said = [key.as_str(), "\"kms:Decrypt\"", "role/"];
    assert_check(run.assert_code(1), "kms", "failed", &said);
}

#[tokio::test]
async fn a_log_line_behind_empty_pages_is_found() {
    let (acct, _inputs, _bucket) = deployed("trail-log-pages").await;
    let upload = r#"{"level":"debug","message":"Uploading data to s3"}"#;
    seed::function_log(&acct, FUNCTION, &[(now_ms() - 60_000, upload)]).await;
    // More empty pages than a verify once read in all.
    acct.behave(serde_json::json!({"empty_log_pages": 30}));
    let run = acct.verify(&[]);
    assert_check(run.assert_code(0), "log", "ok", &["Uploading data to s3"]);
}
