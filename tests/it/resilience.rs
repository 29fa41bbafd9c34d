//! The tool in a cloud that behaves like AWS: slow stacks, failing resources, throttling, 5xx,
//! interruptions and kills. Every run ends in the same state as a clean one.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Account, Inputs, bucket_name, s, setup, step};
use crate::seed;
use crate::state::final_state;

/// A clean deploy's final state, to compare other histories with.
async fn reference() -> String {
    let (acct, inputs, bucket) = setup("trail-ref").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--prefix", "AWSLogs/"])
        .run()
        .assert_code(0);
    final_state(&acct, &bucket, &inputs.secret_text).await
}

fn args(inputs: &Inputs, bucket: &str) -> Vec<String> {
    let mut a = inputs.deploy_args(bucket);
    a.extend(["--prefix".into(), "AWSLogs/".into()]);
    a
}

/// A deploy with a JSON result.
fn deploy_run(acct: &Account, inputs: &Inputs, bucket: &str) -> crate::harness::Run {
    acct.tool()
        .args(args(inputs, bucket))
        .args(["--output", "json"])
        .run()
}

/// A deploy that must succeed, and its JSON result.
fn deploy_json(acct: &Account, inputs: &Inputs, bucket: &str) -> serde_json::Value {
    let run = deploy_run(acct, inputs, bucket);
    run.assert_code(0);
    run.json()
}

/// Wait until the account's request log holds `count` requests of `action`.
async fn wait_for_action(acct: &Account, action: &str, count: usize) {
    let start = Instant::now();
    while acct
        .requests()
        .iter()
        .filter(|r| r.action == action)
        .count()
        < count
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {action} #{count} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

#[tokio::test]
async fn throttling_and_server_errors_still_converge() {
    let want = reference().await;
    let (acct, inputs, bucket) = setup("trail-throttled").await;
    acct.behave(json!({"throttle": 0.2, "errors_5xx": 0.05, "seed": 20261130}));
    let run = deploy_run(&acct, &inputs, &bucket);
    let faulted = acct.requests().iter().filter(|r| r.status >= 429).count();
    acct.behave_normally();
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["outcome"], "created");
    assert!(
        faulted >= 3,
        "the emulator answered only {faulted} requests with faults"
    );
    assert_eq!(final_state(&acct, &bucket, &inputs.secret_text).await, want);
}

#[tokio::test]
async fn a_failed_lambda_stack_is_explained_and_a_rerun_succeeds() {
    let (acct, inputs, bucket) = setup("trail-fails").await;
    acct.behave(json!({"stack_seconds": 0.3, "failures": [{
        "stack": "taegis-cloudtrail", "resource": "TaegisLambdaFunction",
        "reason": "Simulated: Code storage limit exceeded.", "operation": "create"}]}));
    let run = deploy_run(&acct, &inputs, &bucket);
    run.assert_code(1);
    let doc = run.json();
    let error = doc["targets"][0]["error"].as_str().unwrap().to_string();
    assert_eq!(doc["targets"][0]["outcome"], "failed");
    for text in [&error, &run.stderr] {
        assert!(
            text.contains("TaegisLambdaFunction")
                && text.contains("Simulated: Code storage limit exceeded."),
            "{text}"
        );
    }
    assert!(!error.contains("Resource creation cancelled"), "{error}");
    // --on-failure delete (the default) left no failed stack behind.
    assert!(
        acct.cfn()
            .describe_stacks()
            .stack_name("taegis-cloudtrail")
            .send()
            .await
            .is_err()
    );
    assert!(error.contains("deleted"), "{error}");

    acct.behave_normally();
    assert_eq!(
        deploy_json(&acct, &inputs, &bucket)["targets"][0]["outcome"],
        "created"
    );
}

#[tokio::test]
async fn a_stack_left_in_rollback_complete_is_recovered() {
    let want = reference().await;
    let (acct, inputs, bucket) = setup("trail-rollback").await;
    acct.behave(json!({"failures": [{
        "stack": "taegis-cloudtrail", "resource": "TaegisLambdaRole",
        "reason": "Simulated: role quota exceeded", "operation": "create"}]}));
    acct.tool()
        .args(args(&inputs, &bucket))
        .args(["--on-failure", "keep"])
        .run()
        .assert_code(1);
    let out = acct
        .cfn()
        .describe_stacks()
        .stack_name("taegis-cloudtrail")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.stacks()[0].stack_status().unwrap().as_str(),
        "ROLLBACK_COMPLETE"
    );

    acct.behave_normally();
    let doc = deploy_json(&acct, &inputs, &bucket);
    let recovery = step(&doc, "delete-lambda-stack");
    assert_eq!(
        (recovery["action"].as_str(), recovery["status"].as_str()),
        (Some("delete"), Some("done"))
    );
    assert!(
        recovery["detail"]
            .as_str()
            .unwrap()
            .contains("ROLLBACK_COMPLETE")
    );
    assert_eq!(final_state(&acct, &bucket, &inputs.secret_text).await, want);
}

#[tokio::test]
async fn killed_at_any_point_a_rerun_converges() {
    let want = reference().await;
    // (the request after which the tool is killed, and how many of it to wait for)
    let points = [
        ("GetCallerIdentity", 1),
        ("CreateBucket", 1),
        ("PutObject", 1),
        ("CreateStack", 1),
        ("CreateStack", 2),
        ("AddPermission", 1),
    ];
    // One after another: each kill must land while that tool is still running.
    for (action, n) in points {
        let (acct, inputs, bucket) = setup("trail-killed").await;
        acct.behave(json!({"stack_seconds": 1.0, "latency_ms": 50}));
        let mut child = acct.tool().args(args(&inputs, &bucket)).spawn();
        wait_for_action(&acct, action, n).await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "the tool had already finished when {action} #{n} was seen"
        );
        signal(&child, "-KILL");
        let _ = child.wait();
        let rerun = acct
            .tool()
            .args(args(&inputs, &bucket))
            .args(["--output", "json"])
            .run();
        acct.behave_normally();
        rerun.assert_code(0);
        let got = final_state(&acct, &bucket, &inputs.secret_text).await;
        assert_eq!(got, want, "killed after {action} #{n}");
    }
}

#[tokio::test]
async fn sigint_during_a_stack_wait_exits_130_and_a_rerun_finishes() {
    let want = reference().await;
    let (acct, inputs, bucket) = setup("trail-sigint").await;
    // Long enough for the re-run to find the stack still in progress, even on a busy machine.
    acct.behave(json!({"stack_seconds": 10.0}));
    let child = acct
        .tool()
        .args(args(&inputs, &bucket))
        .args(["--output", "json"])
        .spawn();
    wait_for_action(&acct, "CreateStack", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("re-run the same command to resume"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON result");
    assert_eq!(doc["targets"][0]["outcome"], "in_progress");
    // Nothing was started after the interruption.
    assert!(acct.requests().iter().all(|r| r.action != "AddPermission"));

    let rerun = acct.tool().args(args(&inputs, &bucket)).run();
    rerun.assert_code(0);
    assert!(
        rerun.stderr.contains("following it until it settles"),
        "{}",
        rerun.stderr
    );
    acct.behave_normally();
    assert_eq!(final_state(&acct, &bucket, &inputs.secret_text).await, want);
}

#[tokio::test]
async fn timeout_reports_in_progress_not_failed() {
    let (acct, inputs, bucket) = setup("trail-timeout").await;
    acct.behave(json!({"stack_seconds": 4.0}));
    let run = acct
        .tool()
        .args(args(&inputs, &bucket))
        .args(["--timeout", "1s", "--output", "json"])
        .run();
    run.assert_code(1);
    let doc = run.json();
    let t = &doc["targets"][0];
    assert_eq!(t["outcome"], "in_progress", "{doc:#}");
    let shared = step(&doc, "shared-stack");
    assert_eq!(shared["status"], "in_progress");
    assert!(
        t["error"]
            .as_str()
            .unwrap()
            .contains("re-run the same command"),
        "{doc:#}"
    );
    assert!(
        run.stderr.contains("it has not failed") && !run.stderr.contains("ROLLBACK"),
        "{}",
        run.stderr
    );
    // The re-run follows the stack to its end and finishes the job.
    let again = acct.tool().args(args(&inputs, &bucket)).run();
    again.assert_code(0);
}

/// A user's Lambda template, changed by `edit`.
fn template_with(edit: impl Fn(&str) -> String) -> String {
    edit(include_str!(
        "../../templates/taegis-cloudformation-lambda-template.yaml"
    ))
}

#[tokio::test]
async fn aws_refusals_read_as_clear_messages() {
    // The code bucket in another region (a template that hard-codes it).
    let (acct, inputs, bucket) = setup("trail-refuse").await;
    let far = bucket_name("code-far");
    seed::bucket(&acct, &far, "eu-west-1").await;
    let t = inputs.write(
        "far.yaml",
        template_with(|b| {
            b.replace(
                "S3Bucket: !Ref TaegisLambdaS3BucketName",
                &format!("S3Bucket: {far}"),
            )
        }),
    );
    assert!(std::fs::read_to_string(&t).unwrap().contains(&far));
    let run = acct
        .tool()
        .args(args(&inputs, &bucket))
        .args(["--lambda-template", &s(&t)])
        .run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("PermanentRedirect")
            && run
                .stderr
                .contains("Hint: the Lambda code bucket must be in the function's region"),
        "{}",
        run.stderr
    );

    // Reserved concurrency below the account's minimum (a template that hard-codes it).
    let (acct, inputs, bucket) = setup("trail-refuse-rc").await;
    let t = inputs.write(
        "rc.yaml",
        template_with(|b| {
            b.replace(
                "ReservedConcurrentExecutions: !Ref ReservedConcurrency",
                "ReservedConcurrentExecutions: 990",
            )
        }),
    );
    assert!(std::fs::read_to_string(&t).unwrap().contains(": 990"));
    let run = acct
        .tool()
        .args(args(&inputs, &bucket))
        .args(["--lambda-template", &s(&t)])
        .run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("below its minimum value") && run.stderr.contains("Service Quotas"),
        "{}",
        run.stderr
    );

    // A name already taken: the function's log group exists.
    let (acct, inputs, bucket) = setup("trail-refuse-name").await;
    acct.cfn()
        .create_stack()
        .stack_name("leftover")
        .template_body(format!(
            "Resources:\n  G:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: /aws/lambda/{}\n",
            crate::state::FUNCTION
        ))
        .send()
        .await
        .unwrap();
    let run = acct.tool().args(args(&inputs, &bucket)).run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("already exists")
            && run
                .stderr
                .contains("Hint: a resource with this name already exists"),
        "{}",
        run.stderr
    );

    // "No updates are to be performed." is success.
    let (acct, inputs, bucket) = setup("trail-noop").await;
    acct.tool()
        .args(args(&inputs, &bucket))
        .run()
        .assert_code(0);
    let run = acct
        .tool()
        .args(args(&inputs, &bucket))
        .args(["--update-credentials", "--output", "json"])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let shared = step(&doc, "shared-stack");
    assert_eq!(shared["action"], "update");
    assert_eq!(shared["status"], "done");
    assert!(
        shared["detail"]
            .as_str()
            .unwrap()
            .contains("needed no update"),
        "{shared}"
    );
}

#[tokio::test]
async fn dropped_connections_and_lost_answers_still_converge() {
    let want = reference().await;
    let (acct, inputs, bucket) = setup("trail-dropped").await;
    // Some requests never arrive; for others the write happens and the answer is lost, so the
    // SDK's retry meets what the first attempt already did.
    acct.behave(json!({"drop": 0.05, "drop_after": 0.15, "seed": 77}));
    let run = deploy_run(&acct, &inputs, &bucket);
    let lost = acct.requests().iter().filter(|r| r.fault.is_some()).count();
    acct.behave_normally();
    run.assert_code(0);
    assert!(lost >= 3, "only {lost} requests were dropped");
    assert_eq!(final_state(&acct, &bucket, &inputs.secret_text).await, want);
    // A second run finds nothing to do.
    assert_eq!(
        deploy_json(&acct, &inputs, &bucket)["targets"][0]["outcome"],
        "unchanged"
    );
}

#[tokio::test]
async fn the_first_sigint_lets_the_call_in_flight_finish_and_a_second_exits_at_once() {
    let (acct, inputs, bucket) = setup("trail-sigint2").await;
    acct.behave(json!({"stack_seconds": 60.0}));
    let child = acct.tool().args(args(&inputs, &bucket)).spawn();
    wait_for_action(&acct, "CreateStack", 1).await;
    // The tool follows the shared stack. From now on every call of this account takes 10 s:
    // the next one is in flight when the signals come.
    acct.behave(json!({"latency_ms": 10000}));
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, "-INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut child = child;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first SIGINT did not wait for the call in flight"
    );
    signal(&child, "-INT");
    let second = Instant::now();
    let out = child.wait_with_output().unwrap();
    let waited = second.elapsed();
    acct.behave_normally();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("finishing the call in flight") && stderr.contains("exiting now"),
        "{stderr}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "the second SIGINT took {waited:?}"
    );
}

#[tokio::test]
async fn a_stack_left_in_review_in_progress_is_recovered() {
    let want = reference().await;
    let (acct, inputs, bucket) = setup("trail-review").await;
    // An unexecuted change set leaves the shared stack in REVIEW_IN_PROGRESS.
    acct.cfn()
        .create_change_set()
        .stack_name("taegis-shared-resources")
        .change_set_name("someone-elses")
        .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
        .template_body("Resources:\n  T:\n    Type: AWS::SNS::Topic\n")
        .send()
        .await
        .unwrap();
    let doc = deploy_json(&acct, &inputs, &bucket);
    let recovery = step(&doc, "delete-shared-stack");
    assert_eq!(recovery["status"], "done");
    assert!(
        recovery["detail"]
            .as_str()
            .unwrap()
            .contains("REVIEW_IN_PROGRESS"),
        "{recovery}"
    );
    assert_eq!(final_state(&acct, &bucket, &inputs.secret_text).await, want);
}

#[tokio::test]
async fn a_second_sigint_still_prints_every_target_as_json() {
    let (acct, inputs, bucket) = setup("trail-sigint-json").await;
    acct.behave(json!({"stack_seconds": 60.0}));
    let child = acct
        .tool()
        .args(args(&inputs, &bucket))
        .args(["--output", "json"])
        .spawn();
    wait_for_action(&acct, "CreateStack", 1).await;
    acct.behave(json!({"latency_ms": 10000}));
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, "-INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    acct.behave_normally();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let t = &doc["targets"][0];
    assert_eq!(t["outcome"], "in_progress", "{doc:#}");
    assert_eq!(t["account"], acct.id.as_str());
    let status = |name: &str| step(&doc, name)["status"].as_str().unwrap().to_string();
    assert_eq!(status("upload-lambda-zip"), "done", "{doc:#}");
    assert_eq!(status("shared-stack"), "in_progress", "{doc:#}");
    assert_eq!(status("lambda-stack"), "skipped", "{doc:#}");
    assert!(
        step(&doc, "lambda-stack")["detail"]
            .as_str()
            .unwrap()
            .contains("interrupted")
    );
}
