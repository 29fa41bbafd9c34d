//! AWS's clock (the emulator's rows w, x and y): a new invoke permission takes seconds to
//! reach S3, a bucket's notification configuration read right after a write may be the old
//! one, and a function that was just created or updated is busy for a while. The tool waits
//! for each (bounded, said on the target's line) and loses nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::harness::{Account, REGION, s, setup};
use crate::seed;

/// How long the tool may wait for AWS here (the emulator's windows are two seconds).
const SETTLE: &str = "30s";

/// Every entry Id on the bucket, read once the emulator is consistent again.
async fn entry_ids(acct: &Account, bucket: &str) -> BTreeSet<String> {
    acct.behave_normally();
    let n = seed::notifications(acct, bucket).await;
    let mut ids = BTreeSet::new();
    ids.extend(
        n.queue_configurations()
            .iter()
            .filter_map(|e| e.id())
            .map(String::from),
    );
    ids.extend(
        n.topic_configurations()
            .iter()
            .filter_map(|e| e.id())
            .map(String::from),
    );
    ids.extend(
        n.lambda_function_configurations()
            .iter()
            .filter_map(|e| e.id())
            .map(String::from),
    );
    ids
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
    let run = acct
        .tool()
        .env("TAEGIS_SETTLE", SETTLE)
        .args(inputs.deploy_args(&bucket))
        .args(["--prefix", "AWSLogs/", "--output", "json"])
        .run();
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["outcome"], "created");
    for said in [
        // the function, busy right after its stack made it
        "AWS asks to try again later",
        // the permission, not yet seen by S3
        "S3 does not see the new invoke permission yet",
        // the configuration, read back until it shows the write
        "is not visible on bucket",
    ] {
        assert!(run.stderr.contains(said), "{said}:\n{}", run.stderr);
    }
    // Right after: no drift, though reads may still lag.
    let verify = acct
        .tool()
        .env("TAEGIS_SETTLE", SETTLE)
        .args(["verify", "--output", "json"])
        .run();
    verify.assert_code(0);
    assert_eq!(
        verify.json()["targets"][0]["outcome"],
        "healthy",
        "{}",
        verify.stdout
    );
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
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: echo\ncredentials: {}\nlambda_zip: {}\nlambda_bucket: {bucket}-zips\nnotification_bucket: {bucket}\nregion: {REGION}\ntargets:\n  - stack_name: ct-a\n    prefix: a/\n  - stack_name: ct-b\n    prefix: b/\n    integration_type: generic\n",
            s(&inputs.credentials),
            s(&inputs.zip)
        ),
    );
    // Reads lag long enough that the second stack's read-merge-write would come inside the
    // window of the first's write, were the first not read back until it shows.
    slow_aws(&acct, 8).await;
    let run = acct
        .tool()
        .env("TAEGIS_SETTLE", SETTLE)
        .args(["deploy", "--yes", "--output", "json", "--config"])
        .arg_path(&file)
        .run();
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
    let (acct, inputs, bucket) = setup("trail-verify-lag").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    let ours = seed::notifications(&acct, &bucket).await;
    // Someone rewrites the configuration without our entry, then puts it back: reads right
    // after the second write still show the first.
    acct.behave(json!({"notification_stale_seconds": 2}));
    seed::put_notifications(
        &acct,
        &bucket,
        aws_sdk_s3::types::NotificationConfiguration::builder().build(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let back = aws_sdk_s3::types::NotificationConfiguration::builder()
        .set_lambda_function_configurations(Some(ours.lambda_function_configurations().to_vec()))
        .build();
    seed::put_notifications(&acct, &bucket, back).await;
    let run = acct
        .tool()
        .env("TAEGIS_SETTLE", SETTLE)
        .args(["verify", "--output", "json"])
        .run();
    run.assert_code(0);
    assert!(
        run.stderr.contains("not visible on bucket"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["targets"][0]["outcome"], "healthy");
    // Really gone stays drift, once the wait is over.
    acct.behave_normally();
    seed::put_notifications(
        &acct,
        &bucket,
        aws_sdk_s3::types::NotificationConfiguration::builder().build(),
    )
    .await;
    let run = acct.tool().args(["verify", "--output", "json"]).run();
    run.assert_code(1);
}

/// The log-archive account's topic and bucket, opened to `member` as an organisation would:
/// the bucket readable, the topic open to its subscription (or not, with `let_in` false).
async fn log_archive(archive: &Account, member: &Account, let_in: bool) -> (String, String) {
    let bucket = crate::harness::bucket_name("org-archive");
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
    archive
        .sns()
        .set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(topic_policy.to_string())
        .send()
        .await
        .unwrap();
    (bucket, topic)
}

#[tokio::test]
async fn a_topic_of_another_account_is_subscribed_to_with_a_permission_for_its_owner() {
    let archive = Account::new().await;
    let member = Account::new().await;
    let inputs = crate::harness::Inputs::new();
    let (bucket, topic) = log_archive(&archive, &member, true).await;
    let zips = crate::harness::bucket_name("member-zips");
    let mut args = inputs.deploy_args(&bucket);
    let i = args.iter().position(|a| a == "--lambda-bucket").unwrap();
    args[i + 1] = zips;
    args.extend(["--trigger", "sns", "--sns-topic-arn", &topic].map(String::from));
    member.tool().args(&args).run().assert_code(0);
    // The permission names the topic and its owner, no other account.
    let policy = member
        .lambda()
        .get_policy()
        .function_name(crate::state::FUNCTION)
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let sns = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "taegis-cloudtrail-sns-invoke")
        .unwrap_or_else(|| panic!("{doc:#}"))
        .clone();
    let condition = &sns["Condition"];
    assert_eq!(
        condition["ArnLike"]["AWS:SourceArn"],
        topic.as_str(),
        "{sns:#}"
    );
    assert_eq!(
        condition["StringEquals"]["AWS:SourceAccount"],
        archive.id.as_str(),
        "{sns:#}"
    );
    // The subscription is on the archive's topic.
    let subs = seed::subscriptions(&archive, &topic).await;
    assert!(
        subs.subscriptions()
            .iter()
            .any(|s| s.endpoint().is_some_and(|e| e.contains(&member.id))),
        "{subs:?}"
    );
    // verify passes, and says the topic lets the member in.
    let run = member.tool().args(["verify", "--output", "json"]).run();
    run.assert_code(0);
    let doc = run.json();
    let checks = doc["targets"][0]["checks"].as_array().unwrap();
    let topic_check = checks.iter().find(|c| c["name"] == "topic").unwrap();
    assert_eq!(topic_check["status"], "ok", "{doc:#}");
}

#[tokio::test]
async fn a_topic_policy_that_keeps_the_account_out_is_refused_in_preflight() {
    let archive = Account::new().await;
    let member = Account::new().await;
    let inputs = crate::harness::Inputs::new();
    let (bucket, topic) = log_archive(&archive, &member, false).await;
    let mut args = inputs.deploy_args(&bucket);
    args.extend(["--trigger", "sns", "--sns-topic-arn", &topic].map(String::from));
    let before = member.requests().len();
    let root = format!("arn:aws:iam::{}:root", member.id);
    member.tool().args(&args).run().assert_refused(
        &member,
        before,
        &[&topic, "sns:Subscribe", &root],
    );
}
