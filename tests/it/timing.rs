//! AWS's clock (the emulator's rows w, x and y): a new invoke permission takes seconds to
//! reach S3, a bucket's notification configuration read right after a write may be the old
//! one, and a function that was just created or updated is busy for a while. The tool waits
//! for each (bounded, said on the target's line) and loses nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::harness::{
    Account, Inputs, REGION, Tool, bucket_name, deployed, find, plus, set_flag, setup, source,
};
use crate::seed;
use crate::state::FUNCTION;

/// How long the tool may wait for AWS here (the emulator's windows are two seconds).
const SETTLE: &str = "30s";

/// Every entry Id on the bucket, read once the emulator is consistent again.
async fn entry_ids(acct: &Account, bucket: &str) -> BTreeSet<String> {
    acct.behave_normally();
    let n = seed::notifications(acct, bucket).await;
    let queues = n.queue_configurations().iter().map(|e| e.id());
    let topics = n.topic_configurations().iter().map(|e| e.id());
    let lambdas = n.lambda_function_configurations().iter().map(|e| e.id());
    let ids = queues.chain(topics).chain(lambdas).flatten();
    ids.map(String::from).collect()
}

/// The tool, waiting for AWS as long as `SETTLE`.
fn patient(acct: &Account) -> Tool {
    acct.tool().env("TAEGIS_SETTLE", SETTLE)
}

/// AWS's timing on (reads lagging writes by `stale` seconds), once the seeded destinations and
/// the seeded configuration are older than the windows (the emulator notes every write's
/// time): no read may miss what someone else wrote before the run.
async fn slow_aws(acct: &Account, stale: u64) {
    tokio::time::sleep(Duration::from_millis(500 + 1000 * stale.max(2))).await;
    acct.behave_slowly(stale);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_deploy_waits_for_aws_to_catch_up_and_verify_sees_no_drift() {
    let (acct, inputs, bucket) = setup("trail-slow-aws").await;
    seed::foreign_notifications(&acct, &bucket).await;
    slow_aws(&acct, 2).await;
    let json = ["--prefix", "AWSLogs/", "--output", "json"];
    let run = patient(&acct).deploy(&inputs, &bucket, &json);
    run.assert_code(0).assert_outcome("created");
    run.assert_stderr(&[
        // the function, busy right after its stack made it
        "AWS asks to try again later",
        // the permission, not yet seen by S3
        "S3 does not see the new invoke permission yet",
        // the configuration, read back until it shows the write
        "is not visible on bucket",
    ]);
    // Right after: no drift, though reads may still lag.
    let verify = patient(&acct).verify(&[]);
    verify.assert_code(0).assert_outcome("healthy");
    let ids = entry_ids(&acct, &bucket).await;
    for id in [
        "audit-queue",
        "reports-topic",
        "thumbnails",
        "taegis-cloudtrail-taegis-cloudtrail",
    ] {
        assert!(ids.contains(id), "{id} lost: {ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stacks_on_one_bucket_keep_each_others_entries_under_stale_reads() {
    let (acct, inputs, bucket) = setup("trail-two-slow").await;
    seed::foreign_notifications(&acct, &bucket).await;
    let files = inputs.files_yaml();
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: echo\n{files}lambda_bucket: {bucket}-zips\nnotification_bucket: {bucket}\nregion: {REGION}\ntargets:\n  - stack_name: ct-a\n    prefix: a/\n  - stack_name: ct-b\n    prefix: b/\n    integration_type: generic\n"
        ),
    );
    // Reads lag long enough that the second stack's read-merge-write would come inside the
    // window of the first's write, were the first not read back until it shows.
    slow_aws(&acct, 8).await;
    let run = patient(&acct).deploy_config(&["--yes", "--output", "json"], &file);
    run.assert_code(0);
    let ids = entry_ids(&acct, &bucket).await;
    let want: BTreeSet<String> = [
        "audit-queue",
        "reports-topic",
        "thumbnails",
        "taegis-cloudtrail-ct-a",
        "taegis-cloudtrail-ct-b",
    ]
    .map(String::from)
    .into();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn verify_reads_a_missing_entry_again_before_it_calls_it_drift() {
    let (acct, _inputs, bucket) = deployed("trail-verify-lag", &[]).await;
    let ours = seed::notifications(&acct, &bucket).await;
    // Someone rewrites the configuration without our entry, then puts it back: reads right
    // after the second write still show the first.
    acct.behave(json!({"notification_stale_seconds": 2}));
    seed::clear_notifications(&acct, &bucket).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let back = aws_sdk_s3::types::NotificationConfiguration::builder()
        .set_lambda_function_configurations(Some(ours.lambda_function_configurations().to_vec()))
        .build();
    seed::put_notifications(&acct, &bucket, back).await;
    let run = patient(&acct).verify(&[]);
    run.assert_code(0).assert_stderr(&["not visible on bucket"]);
    run.assert_outcome("healthy");
    // Really gone stays drift, once the wait is over.
    acct.behave_normally();
    seed::clear_notifications(&acct, &bucket).await;
    acct.verify(&[]).assert_code(1);
}

/// The log-archive account's topic and bucket, opened to `member` as an organisation would:
/// the bucket readable, the topic open to its subscription (or not, with `let_in` false).
async fn log_archive(archive: &Account, member: &Account, let_in: bool) -> (String, String) {
    let bucket = bucket_name("org-archive");
    seed::bucket(archive, &bucket, REGION).await;
    let bucket_policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", member.id)},
        "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]}]});
    archive
        .s3()
        .put_bucket_policy()
        .bucket(&bucket)
        .policy(bucket_policy.to_string())
        .send()
        .await
        .unwrap();
    let topic = seed::topic(archive, &format!("{bucket}-news")).await;
    let who = if let_in {
        member.id.clone()
    } else {
        "222222222222".into()
    };
    let topic_policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{who}:root")},
        "Action": ["sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"],
        "Resource": topic}]});
    seed::topic_policy(archive, &topic, topic_policy).await;
    (bucket, topic)
}

/// A member account and the log-archive account of `log_archive`: (archive, member, the
/// member's inputs, the archive's topic, the member's deploy of an SNS trigger from it).
async fn archive_and_member(let_in: bool) -> (Account, Account, Inputs, String, Vec<String>) {
    let (archive, member, inputs) = (Account::new().await, Account::new().await, Inputs::new());
    let (bucket, topic) = log_archive(&archive, &member, let_in).await;
    let sns = ["--trigger", "sns", "--sns-topic-arn", &topic];
    let args = plus(inputs.deploy_args(&bucket), &sns);
    (archive, member, inputs, topic, args)
}

#[tokio::test]
async fn a_topic_of_another_account_is_subscribed_to_with_a_permission_for_its_owner() {
    let (archive, member, _inputs, topic, args) = archive_and_member(true).await;
    let zips = bucket_name("member-zips");
    let args = set_flag(args, "--lambda-bucket", &zips);
    member.tool().args(&args).run().assert_code(0);
    // The permission names the topic and its owner, no other account.
    let sns = member
        .statement(FUNCTION, "taegis-cloudtrail-sns-invoke")
        .await;
    let sns = sns.expect("a statement for the topic");
    assert_eq!(source(&sns), (json!(topic), json!(archive.id)), "{sns:#}");
    // The subscription is on the archive's topic.
    let subs = seed::subscriptions(&archive, &topic).await;
    assert!(
        subs.subscriptions()
            .iter()
            .any(|s| s.endpoint().is_some_and(|e| e.contains(&member.id))),
        "{subs:?}"
    );
    // verify passes, and says the topic lets the member in.
    let run = member.verify(&[]);
    let doc = run.assert_code(0).json();
    let topic_check = find(&doc["targets"][0]["checks"], "name", "topic");
    assert_eq!(topic_check["status"], "ok", "{doc:#}");
}

#[tokio::test]
async fn a_topic_policy_that_keeps_the_account_out_is_refused_in_preflight() {
    let (_archive, member, _inputs, topic, args) = archive_and_member(false).await;
    let before = member.requests().len();
    let root = format!("arn:aws:iam::{}:root", member.id);
    let needles = [topic.as_str(), "sns:Subscribe", &root];
    let run = member.tool().args(&args).run();
    run.assert_refused(&member, before, &needles);
}
