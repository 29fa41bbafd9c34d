//! `iam-policy`: the policy it prints grants every action the tool is seen calling (in the
//! emulator's request log) and nothing the tool never calls.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::harness::*;
use crate::seed;

/// The IAM action that authorises an API operation, as AWS's service authorization reference
/// gives it: the service prefix and the operation's name, but for these.
fn iam_action(service: &str, operation: &str) -> String {
    let renamed = [
        ("s3", "HeadObject", "s3:GetObject"),
        ("s3", "ListObjectsV2", "s3:ListBucket"),
        ("s3", "HeadBucket", "s3:ListBucket"),
        ("s3", "DeleteObjects", "s3:DeleteObject"),
        (
            "s3",
            "GetBucketNotificationConfiguration",
            "s3:GetBucketNotification",
        ),
        (
            "s3",
            "PutBucketNotificationConfiguration",
            "s3:PutBucketNotification",
        ),
        ("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
        ("lambda", "Invoke", "lambda:InvokeFunction"),
        ("s3", "ListBuckets", "s3:ListAllMyBuckets"),
    ];
    renamed
        .iter()
        .find(|(s, o, _)| *s == service && *o == operation)
        .map(|(_, _, a)| a.to_string())
        .unwrap_or_else(|| format!("{service}:{operation}"))
}

/// The actions of the requests made since `since` requests had been logged.
fn called_since(acct: &Account, since: usize) -> BTreeSet<String> {
    acct.requests()
        .iter()
        .skip(since)
        .map(|r| iam_action(&r.service, &r.action))
        .collect()
}

/// The actions of the requests made in `acct` (by any credentials) since `since` had been
/// logged there.
pub(crate) fn called_in_account_since(acct: &Account, since: usize) -> BTreeSet<String> {
    acct.requests_in_account()
        .iter()
        .skip(since)
        .map(|r| iam_action(&r.service, &r.action))
        .collect()
}

/// Run the tool and keep the actions it called.
fn run<S: AsRef<std::ffi::OsStr>>(
    acct: &Account,
    args: &[S],
    code: i32,
    into: &mut BTreeSet<String>,
) {
    let before = acct.requests().len();
    let out = acct.tool().args(args).run();
    out.assert_code(code);
    into.extend(called_since(acct, before));
}

/// The actions `iam-policy` grants, split into the tool's own calls and what CloudFormation
/// does in the caller's name.
pub(crate) fn policy(acct: &Account, task: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let out = acct.tool().args(["iam-policy", task]).run();
    out.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("a JSON policy");
    assert_eq!(doc["Version"], "2012-10-17");
    let mut own = BTreeSet::new();
    let mut via = BTreeSet::new();
    for st in doc["Statement"].as_array().unwrap() {
        assert_eq!(st["Effect"], "Allow");
        let sid = st["Sid"].as_str().unwrap();
        let into = if sid.starts_with("Calls") {
            &mut own
        } else {
            assert!(sid.starts_with("ViaCloudFormation"), "{sid}");
            &mut via
        };
        for a in st["Action"].as_array().unwrap() {
            into.insert(a.as_str().unwrap().to_string());
        }
    }
    (own, via)
}

pub(crate) fn compare(task: &str, called: &BTreeSet<String>, granted: &BTreeSet<String>) {
    let missing: Vec<_> = called.difference(granted).collect();
    let unused: Vec<_> = granted.difference(called).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "{task}: called but not granted {missing:?}; granted but never called {unused:?}"
    );
}

#[tokio::test]
async fn the_policy_of_each_command_grants_exactly_the_calls_it_makes() {
    let (acct, inputs, bucket) = setup("iam-trail").await;
    crate::trails::trail(&acct, "main", &bucket, None).await;
    let zips = format!("{bucket}-zips");
    let deploy = ["--lambda-bucket", &zips, "--trail", "main", "--yes"];
    let deploy = plus(inputs.base_args("foxtrot"), &deploy);
    let with = |extra: &[&str]| plus(deploy.clone(), extra);
    let mut called: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();

    // deploy: fresh through SNS, then switched to S3, then a no-op re-run; a second Lambda
    // stack whose first create fails (kept in ROLLBACK_COMPLETE), then recovered and re-run.
    let d = called.entry("deploy").or_default();
    run(&acct, &(with(&["--trigger", "sns"])), 0, d);
    run(&acct, &(with(&[])), 0, d);
    run(&acct, &(with(&[])), 0, d);
    acct.fail_in(
        "second",
        "TaegisLambdaRole",
        "create",
        "Simulated: role quota exceeded",
    );
    // Its template (a vendor's, say) has no outputs: the function is found among the
    // stack's resources.
    let bundled = include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");
    let bare = inputs.write("bare.yaml", bundled.split("\nOutputs:").next().unwrap());
    let bare = s(&bare);
    let second = with(&[
        "--stack-name",
        "second",
        "--trigger",
        "sns",
        "--lambda-template",
        &bare,
    ]);
    let keep = plus(second.clone(), &["--on-failure", "keep"]);
    run(&acct, &keep, 1, d);
    acct.behave_normally();
    run(&acct, &second, 0, d);
    run(&acct, &second, 0, d);

    // verify, with a log object for the test event.
    let key = format!(
        "org/AWSLogs/{}/CloudTrail/{REGION}/2026/12/01/x.json.gz",
        acct.id
    );
    seed::object(&acct, &bucket, &key, b"{}").await;
    let v = called.entry("verify").or_default();
    run(&acct, &["verify", "--test-event"], 0, v);
    run(&acct, &["verify", "--stack-name", "second"], 0, v);

    // destroy: the S3 stack, then the SNS one with the shared stack and the zips.
    let x = called.entry("destroy").or_default();
    // The bucket named in a rollout file is looked at too (our entry may outlive its stack).
    let rollout = inputs.write("rollout.yaml", format!("notification_bucket: {bucket}\n"));
    run(&acct, &["destroy", "--config", &s(&rollout), "--yes"], 0, x);
    let last = [
        "destroy",
        "--stack-name",
        "second",
        "--shared",
        "--delete-zip",
        "--yes",
    ];
    run(&acct, &last, 0, x);

    for (task, called) in &called {
        let (own, via) = policy(&acct, task);
        compare(task, called, &own);
        // What CloudFormation does in the caller's name never shows as the tool's call.
        assert!(called.is_disjoint(&via.difference(&own).cloned().collect()));
    }
}

#[tokio::test]
async fn narrowing_flags_are_checked_and_name_the_bad_value() {
    let acct = Account::new().await;
    let before = acct.requests().len();
    let out = acct
        .tool()
        .args([
            "iam-policy",
            "deploy",
            "--accounts",
            "12345",
            "--regions",
            "us-east-1,moon-1",
        ])
        .run();
    out.assert_code(2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("--accounts") && out.stderr.contains("12345"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("moon-1"), "{}", out.stderr);
    assert_eq!(acct.requests().len(), before, "iam-policy calls no AWS API");

    let out = acct
        .tool()
        .args([
            "iam-policy",
            "destroy",
            "--accounts",
            "111111111111",
            "--regions",
            "eu-west-1",
            "--for-bucket",
            "org-trail",
        ])
        .run();
    out.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let resources: Vec<String> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Resource"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    assert!(
        resources.contains(&"arn:aws:s3:::org-trail".to_string()),
        "{resources:?}"
    );
    assert!(
        resources
            .iter()
            .filter(|r| r.starts_with("arn:aws:cloudformation:"))
            .all(|r| r.starts_with("arn:aws:cloudformation:eu-west-1:111111111111:stack/")),
        "{resources:?}"
    );
}

/// An IAM user of the account holding `policy`, made through a stack (the tests have no IAM
/// client): its access key id and secret.
pub(crate) async fn user_with(
    acct: &Account,
    name: &str,
    policy: &serde_json::Value,
) -> (String, String) {
    let template = json!({
        "Resources": {
            "User": {"Type": "AWS::IAM::User", "Properties": {"UserName": name}},
            "Grant": {"Type": "AWS::IAM::Policy", "Properties": {
                "PolicyName": "taegis-cloudtrail", "PolicyDocument": policy,
                "Users": [{"Ref": "User"}]}},
            "Key": {"Type": "AWS::IAM::AccessKey", "Properties": {"UserName": {"Ref": "User"}}},
        },
        "Outputs": {
            "Id": {"Value": {"Ref": "Key"}},
            "Secret": {"Value": {"Fn::GetAtt": ["Key", "SecretAccessKey"]}},
        },
    });
    let stack = format!("{name}-user");
    let cfn = acct.cfn();
    cfn.create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
        .send()
        .await
        .unwrap();
    let output = async |key: &str| {
        let value = acct.stack_output(&stack, key).await;
        value.unwrap_or_else(|| panic!("no output {key} on {stack}"))
    };
    (output("Id").await, output("Secret").await)
}

/// The printed policy as the emulator can enforce it: moto checks ARNs for S3 only and every
/// other action against `*`, so the other statements' resources are widened to `*`. Left
/// unchecked there: the ARNs of every non-S3 statement, conditions (moto takes them as met),
/// `sts:GetCallerIdentity` and `lambda:GetAccountSettings` (always allowed), and what
/// CloudFormation does in the caller's name (moto makes the resources without asking IAM).
fn enforceable(policy: &str) -> serde_json::Value {
    let mut doc: serde_json::Value = serde_json::from_str(policy).unwrap();
    for st in doc["Statement"].as_array_mut().unwrap() {
        let s3 = st["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.as_str().unwrap().starts_with("arn:aws:s3:::"));
        if !s3 {
            st["Resource"] = json!("*");
        }
    }
    doc
}

pub(crate) fn enforce(acct: &Account, on: bool) {
    let body = json!({"account": acct.id, "enforce": on}).to_string();
    let (status, answer) = http("POST", "/_taegis/iam-enforcement", Some(&body));
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_deploy_succeeds_as_a_user_that_holds_only_the_printed_policy() {
    let (acct, inputs, bucket) = setup("iam-least").await;
    let zips = format!("{bucket}-zips");
    let printed = acct
        .tool()
        .args([
            "iam-policy",
            "deploy",
            "--for-bucket",
            &bucket,
            "--lambda-bucket",
            &zips,
        ])
        .args(["--accounts", &acct.id, "--regions", REGION])
        .run();
    printed.assert_code(0);
    let policy = enforceable(&printed.stdout);
    let (id, secret) = user_with(&acct, "deployer", &policy).await;
    // Without one action the policy grants, the deploy is refused, naming it.
    let mut short = policy.clone();
    for st in short["Statement"].as_array_mut().unwrap() {
        let actions = st["Action"].as_array_mut().unwrap();
        actions.retain(|a| a != "lambda:AddPermission");
    }
    let (short_id, short_secret) = user_with(&acct, "short", &short).await;
    enforce(&acct, true);
    let as_user = |id: &str, secret: &str| {
        acct.tool()
            .without_keys()
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_REGION", REGION)
            .args(inputs.deploy_args(&bucket))
            .run()
    };
    let refused = as_user(&short_id, &short_secret);
    let ok = as_user(&id, &secret);
    // A new zip: the policy has no s3:ListBucket, so S3 answers its missing key with 403, not
    // 404; the tool takes it for missing (the bucket is its own and here) and uploads it.
    std::fs::write(
        &inputs.zip,
        zip_bytes("bootstrap", 0o755, b"#!/bin/sh\necho newer\n"),
    )
    .unwrap();
    let newer = as_user(&id, &secret);
    enforce(&acct, false);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("lambda:AddPermission"),
        "{}",
        refused.stderr
    );
    ok.assert_code(0);
    newer.assert_code(0);
    assert!(newer.stderr.contains("uploaded s3://"), "{}", newer.stderr);
    let denied: Vec<_> = acct
        .requests_in_account()
        .into_iter()
        .filter(|r| r.status == 403 && r.action != "AddPermission")
        .collect();
    assert!(
        denied.len() == 1 && denied[0].action == "GetObject",
        "only the new zip's first read: {denied:?}"
    );
}
