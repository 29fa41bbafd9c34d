//! The tool in a cloud that behaves like AWS: slow stacks, failing resources, throttling, 5xx,
//! interruptions and kills. Every run ends in the same state as a clean one.

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    Account, Inputs, Request, Run, bucket_name, deployed, detail, s, setup, step,
};
use crate::seed;
use crate::state::final_state;

const PREFIX: [&str; 2] = ["--prefix", "AWSLogs/"];

/// A clean deploy's final state, to compare other histories with.
async fn reference() -> String {
    let (acct, inputs, bucket) = deployed("trail-ref", &PREFIX).await;
    final_state(&acct, &bucket, &inputs.secret_text).await
}

/// A deploy with the prefix, and `extra`.
fn deploy(acct: &Account, inputs: &Inputs, bucket: &str, extra: &[&str]) -> Run {
    acct.deploy(inputs, bucket, &[&PREFIX[..], extra].concat())
}

/// A deploy with the prefix and a JSON result.
fn deploy_run(acct: &Account, inputs: &Inputs, bucket: &str) -> Run {
    deploy(acct, inputs, bucket, &["--output", "json"])
}

/// A deploy that must succeed, and its JSON result.
fn deploy_json(acct: &Account, inputs: &Inputs, bucket: &str) -> serde_json::Value {
    deploy_run(acct, inputs, bucket).assert_code(0).json()
}

/// A deploy with the prefix, and `extra`, started.
fn spawn(acct: &Account, inputs: &Inputs, bucket: &str, extra: &[&str]) -> Child {
    let args = inputs.deploy_args(bucket);
    acct.tool().args(args).args(PREFIX).args(extra).spawn()
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

/// What the account holds now is `want`.
async fn assert_state(acct: &Account, inputs: &Inputs, bucket: &str, want: &str) {
    assert_eq!(final_state(acct, bucket, &inputs.secret_text).await, want);
}

/// A deploy while the emulator misbehaves as `behaviour` says, ending as a clean one does:
/// the account, its inputs and bucket, the run, and how many requests met a fault `faulty`.
async fn converged(
    what: &str,
    behaviour: serde_json::Value,
    faulty: fn(&Request) -> bool,
) -> (Account, Inputs, String, Run, usize) {
    let want = reference().await;
    let (acct, inputs, bucket) = setup(what).await;
    acct.behave(behaviour);
    let run = deploy_run(&acct, &inputs, &bucket);
    let faults = acct.requests().iter().filter(|r| faulty(r)).count();
    acct.behave_normally();
    run.assert_code(0);
    assert_state(&acct, &inputs, &bucket, &want).await;
    (acct, inputs, bucket, run, faults)
}

#[tokio::test]
async fn throttling_and_server_errors_still_converge() {
    let faults = json!({"throttle": 0.2, "errors_5xx": 0.05, "seed": 20261130});
    let (.., run, faulted) = converged("trail-throttled", faults, |r| r.status >= 429).await;
    run.assert_outcome("created");
    assert!(
        faulted >= 3,
        "the emulator answered only {faulted} requests with faults"
    );
}

#[tokio::test]
async fn a_failed_lambda_stack_is_explained_and_a_rerun_succeeds() {
    let (acct, inputs, bucket) = setup("trail-fails").await;
    acct.behave(json!({"stack_seconds": 0.3}));
    let reason = "Simulated: Code storage limit exceeded.";
    acct.fail("TaegisLambdaFunction", "create", reason);
    let run = deploy_run(&acct, &inputs, &bucket);
    let doc = run.assert_code(1).assert_outcome("failed");
    let error = doc["targets"][0]["error"].as_str().unwrap().to_string();
    for text in [&error, &run.stderr] {
        assert!(
            text.contains("TaegisLambdaFunction") && text.contains(reason),
            "{text}"
        );
    }
    assert!(!error.contains("Resource creation cancelled"), "{error}");
    // --on-failure delete (the default) left no failed stack behind.
    assert!(acct.stack_status("taegis-cloudtrail").await.is_none());
    assert!(error.contains("deleted"), "{error}");

    acct.behave_normally();
    deploy_run(&acct, &inputs, &bucket)
        .assert_code(0)
        .assert_outcome("created");
}

#[tokio::test]
async fn a_stack_left_in_rollback_complete_is_recovered() {
    let want = reference().await;
    let (acct, inputs, bucket) = setup("trail-rollback").await;
    let reason = "Simulated: role quota exceeded";
    acct.fail("TaegisLambdaRole", "create", reason);
    deploy(&acct, &inputs, &bucket, &["--on-failure", "keep"]).assert_code(1);
    let status = acct.stack_status("taegis-cloudtrail").await;
    assert_eq!(status.as_deref(), Some("ROLLBACK_COMPLETE"));

    acct.behave_normally();
    let doc = deploy_json(&acct, &inputs, &bucket);
    let recovery = step(&doc, "delete-lambda-stack");
    assert_eq!(
        (recovery["action"].as_str(), recovery["status"].as_str()),
        (Some("delete"), Some("done"))
    );
    assert!(detail(&recovery).contains("ROLLBACK_COMPLETE"));
    assert_state(&acct, &inputs, &bucket, &want).await;
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
        let mut child = spawn(&acct, &inputs, &bucket, &[]);
        acct.wait_for(action, n).await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "the tool had already finished when {action} #{n} was seen"
        );
        signal(&child, "-KILL");
        let _ = child.wait();
        let rerun = deploy_run(&acct, &inputs, &bucket);
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
    let child = spawn(&acct, &inputs, &bucket, &["--output", "json"]);
    acct.wait_for("CreateStack", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, "-INT");
    let run = Run::of(child);
    run.assert_code(130)
        .assert_stderr(&["re-run the same command to resume"]);
    run.assert_outcome("in_progress");
    // Nothing was started after the interruption.
    assert_eq!(acct.calls("AddPermission"), 0);

    let rerun = deploy(&acct, &inputs, &bucket, &[]);
    rerun
        .assert_code(0)
        .assert_stderr(&["following it until it settles"]);
    acct.behave_normally();
    assert_state(&acct, &inputs, &bucket, &want).await;
}

#[tokio::test]
async fn timeout_reports_in_progress_not_failed() {
    let (acct, inputs, bucket) = setup("trail-timeout").await;
    acct.behave(json!({"stack_seconds": 4.0}));
    let run = deploy(
        &acct,
        &inputs,
        &bucket,
        &["--timeout", "1s", "--output", "json"],
    );
    let doc = run.assert_code(1).assert_outcome("in_progress");
    let shared = step(&doc, "shared-stack");
    assert_eq!(shared["status"], "in_progress");
    let error = doc["targets"][0]["error"].as_str().unwrap();
    assert!(error.contains("re-run the same command"), "{doc:#}");
    assert!(
        run.stderr.contains("it has not failed") && !run.stderr.contains("ROLLBACK"),
        "{}",
        run.stderr
    );
    // The re-run follows the stack to its end and finishes the job.
    deploy(&acct, &inputs, &bucket, &[]).assert_code(0);
}

/// A deploy with the user's Lambda template `name`: the bundled one with `from` replaced by
/// `to`.
fn deploy_template(acct: &Account, inputs: &Inputs, bucket: &str, edit: [&str; 3]) -> Run {
    let [name, from, to] = edit;
    let bundled = include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");
    let template = bundled.replace(from, to);
    assert!(template.contains(to), "{from} is not in the template");
    let file = inputs.write(name, template);
    deploy(acct, inputs, bucket, &["--lambda-template", &s(&file)])
}

#[tokio::test]
async fn aws_refusals_read_as_clear_messages() {
    // The code bucket in another region (a template that hard-codes it).
    let (acct, inputs, bucket) = setup("trail-refuse").await;
    let far = bucket_name("code-far");
    seed::bucket(&acct, &far, "eu-west-1").await;
    let code = "S3Bucket: !Ref TaegisLambdaS3BucketName";
    let edit = ["far.yaml", code, &format!("S3Bucket: {far}")];
    let run = deploy_template(&acct, &inputs, &bucket, edit);
    run.assert_code(1).assert_stderr(&[
        "PermanentRedirect",
        "Hint: the Lambda code bucket must be in the function's region",
    ]);

    // Reserved concurrency below the account's minimum (a template that hard-codes it).
    let (acct, inputs, bucket) = setup("trail-refuse-rc").await;
    let reserved = "ReservedConcurrentExecutions: !Ref ReservedConcurrency";
    let low = "ReservedConcurrentExecutions: 990";
    let run = deploy_template(&acct, &inputs, &bucket, ["rc.yaml", reserved, low]);
    let said = ["below its minimum value", "Service Quotas"];
    run.assert_code(1).assert_stderr(&said);

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
    let run = deploy(&acct, &inputs, &bucket, &[]);
    let said = [
        "already exists",
        "Hint: a resource with this name already exists",
    ];
    run.assert_code(1).assert_stderr(&said);

    // "No updates are to be performed." is success.
    let (acct, inputs, bucket) = setup("trail-noop").await;
    deploy(&acct, &inputs, &bucket, &[]).assert_code(0);
    let update = ["--update-credentials", "--output", "json"];
    let doc = deploy(&acct, &inputs, &bucket, &update)
        .assert_code(0)
        .json();
    let shared = step(&doc, "shared-stack");
    assert_eq!(shared["action"], "update");
    assert_eq!(shared["status"], "done");
    assert!(detail(&shared).contains("needed no update"), "{shared}");
}

#[tokio::test]
async fn dropped_connections_and_lost_answers_still_converge() {
    // Some requests never arrive; for others the write happens and the answer is lost, so the
    // SDK's retry meets what the first attempt already did.
    let faults = json!({"drop": 0.05, "drop_after": 0.15, "seed": 77});
    let dropped = |r: &Request| r.fault.is_some();
    let (acct, inputs, bucket, _, lost) = converged("trail-dropped", faults, dropped).await;
    assert!(lost >= 3, "only {lost} requests were dropped");
    // A second run finds nothing to do.
    let again = deploy_run(&acct, &inputs, &bucket);
    again.assert_code(0).assert_outcome("unchanged");
}

/// A deploy with `extra`, interrupted once its shared stack is under way by SIGINT and by a
/// second SIGINT half a second later, while every call takes 10 s (the first waits for the
/// call in flight); what it left and the time the second took to end it.
async fn interrupted(what: &str, extra: &[&str]) -> (Account, Run, Duration) {
    let (acct, inputs, bucket) = setup(what).await;
    acct.behave(json!({"stack_seconds": 60.0}));
    let mut child = spawn(&acct, &inputs, &bucket, extra);
    acct.wait_for("CreateStack", 1).await;
    // The tool follows the shared stack. From now on every call of this account takes 10 s:
    // the next one is in flight when the signals come.
    acct.behave(json!({"latency_ms": 10000}));
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, "-INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first SIGINT did not wait for the call in flight"
    );
    signal(&child, "-INT");
    let second = Instant::now();
    let run = Run::of(child);
    let waited = second.elapsed();
    acct.behave_normally();
    (acct, run, waited)
}
#[tokio::test]
async fn the_first_sigint_lets_the_call_in_flight_finish_and_a_second_exits_at_once() {
    let (_acct, run, waited) = interrupted("trail-sigint2", &[]).await;
    let said = ["finishing the call in flight", "exiting now"];
    run.assert_code(130).assert_stderr(&said);
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
        detail(&recovery).contains("REVIEW_IN_PROGRESS"),
        "{recovery}"
    );
    assert_state(&acct, &inputs, &bucket, &want).await;
}

#[tokio::test]
async fn a_second_sigint_still_prints_every_target_as_json() {
    let (acct, run, _) = interrupted("trail-sigint-json", &["--output", "json"]).await;
    let doc = run.assert_code(130).assert_outcome("in_progress");
    assert_eq!(doc["targets"][0]["account"], acct.id.as_str());
    let status = |name: &str| step(&doc, name)["status"].as_str().unwrap().to_string();
    assert_eq!(status("upload-lambda-zip"), "done", "{doc:#}");
    assert_eq!(status("shared-stack"), "in_progress", "{doc:#}");
    assert_eq!(status("lambda-stack"), "skipped", "{doc:#}");
    assert!(detail(&step(&doc, "lambda-stack")).contains("interrupted"));
}
