//! `--trail NAME`: the bucket, where the logs land, the KMS key and the topic come from the
//! trail, and what is worth knowing about the region's trails is said before anything changes.

use crate::harness::{Account, Inputs, REGION, Run, bucket_name, detail, find, plus, setup, step};
use crate::seed;

/// A trail over `bucket` (prefix `org`), with a KMS key of `key_policy` (the default policy, which
/// delegates to IAM, when `None`) and an SNS topic `{name}-news`; returns (key ARN, topic ARN).
pub async fn trail(
    acct: &Account,
    name: &str,
    bucket: &str,
    key_policy: Option<serde_json::Value>,
) -> (String, String) {
    trail_with_topic(acct, name, &format!("{name}-news"), bucket, key_policy).await
}

/// `trail`, with the topic `topic_name`.
pub async fn trail_with_topic(
    acct: &Account,
    name: &str,
    topic_name: &str,
    bucket: &str,
    key_policy: Option<serde_json::Value>,
) -> (String, String) {
    let key = seed::key(acct, key_policy).await;
    let topic = seed::topic(acct, topic_name).await;
    acct.cloudtrail()
        .create_trail()
        .name(name)
        .s3_bucket_name(bucket)
        .s3_key_prefix("org")
        .kms_key_id(&key)
        .sns_topic_name(topic_name)
        .include_global_service_events(true)
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    acct.cloudtrail()
        .start_logging()
        .name(name)
        .send()
        .await
        .unwrap();
    (key, topic)
}

/// A deploy of the trail `name` (the bucket, the prefix, the key from the trail), as JSON.
fn deploy_trail(acct: &Account, inputs: &Inputs, name: &str, extra: &[&str]) -> Run {
    let args = plus(inputs.base_args("foxtrot"), &["--yes", "--output", "json"]);
    acct.tool()
        .args(args)
        .args(["--trail", name])
        .args(extra)
        .run()
}

/// `deploy_trail` as a dry run, the zip to `{bucket}-zips`.
fn plan_trail(acct: &Account, inputs: &Inputs, bucket: &str, name: &str) -> Run {
    let zips = format!("{bucket}-zips");
    deploy_trail(acct, inputs, name, &["--lambda-bucket", &zips, "--dry-run"])
}

fn parameter(doc: &serde_json::Value, step_name: &str, name: &str) -> (String, String) {
    let p = find(&step(doc, step_name)["parameters"], "name", name);
    (
        p["value"].as_str().unwrap().into(),
        p["source"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn the_trail_gives_the_bucket_the_prefix_the_key_and_the_topic() {
    let (acct, inputs, bucket) = setup("trail-named").await;
    let (key, topic) = trail(&acct, "main", &bucket, None).await;
    let zips = format!("{bucket}-zips");
    let run = plan_trail(&acct, &inputs, &bucket, "main");
    let doc = run.assert_code(0).json();
    let from_trail = |name: &str| parameter(&doc, "lambda-stack", name);
    let kms = "NotificationBucketCustomerManagedKMSarn";
    assert_eq!(
        from_trail("NotificationBucket"),
        (bucket.clone(), "trail".into())
    );
    assert_eq!(from_trail(kms), (key.clone(), "trail".into()));
    let detail = detail(&step(&doc, "bucket-notification"));
    assert!(detail.contains("prefix \"org/AWSLogs/\""), "{detail}");
    // For an SNS trigger, the trail's topic.
    let sns = ["--trigger", "sns", "--lambda-bucket", &zips];
    let run = deploy_trail(&acct, &inputs, "main", &sns);
    run.assert_code(0).assert_outcome("created");
    for (name, want) in [
        ("SNSNotificationarn", &topic),
        ("NotificationBucketCustomerManagedKMSarn", &key),
    ] {
        let got = acct.stack_parameter("taegis-cloudtrail", name).await;
        assert_eq!(got.as_deref(), Some(want.as_str()), "{name}");
    }
}

#[tokio::test]
async fn two_trails_with_global_events_are_named_together() {
    let (acct, inputs, bucket) = setup("trail-dup").await;
    trail(&acct, "main", &bucket, None).await;
    trail(&acct, "audit", &bucket, None).await;
    let run = plan_trail(&acct, &inputs, &bucket, "main");
    run.assert_code(0);
    let warning = run.line("", &["global service events"]);
    assert!(
        warning.contains("audit") && warning.contains("main") && warning.contains("de-duplicate"),
        "{warning}"
    );
    let warnings = run.json()["targets"][0]["warnings"].to_string();
    assert!(warnings.contains("global service events"), "{warnings}");
}

#[tokio::test]
async fn a_trail_whose_bucket_is_another_accounts_is_explained_before_anything_is_made() {
    let (acct, inputs) = (Account::new().await, Inputs::new());
    let owner = Account::new().await;
    let central = bucket_name("org-central");
    seed::bucket(&owner, &central, REGION).await;
    trail(&acct, "org", &central, None).await;
    let before = acct.requests().len();
    let run = deploy_trail(&acct, &inputs, "org", &[]);
    run.assert_code(2).line(
        "error: --notification-bucket",
        &[
            &central,
            "belongs to another account",
            "account that owns the bucket",
        ],
    );
    assert!(acct.writes_since(before).is_empty());
}

#[tokio::test]
async fn a_trail_key_that_does_not_delegate_to_iam_is_refused_with_the_statement_to_add() {
    let (acct, inputs, bucket) = setup("trail-kms-closed").await;
    let closed = seed::admins_only_key_policy(&acct);
    let (key, _) = trail(&acct, "main", &bucket, Some(closed)).await;
    let before = acct.requests().len();
    let zips = format!("{bucket}-zips");
    let run = deploy_trail(&acct, &inputs, "main", &["--lambda-bucket", &zips]);
    let line = run.assert_code(2).line("error: --bucket-kms-key-arn", &[]);
    assert!(
        line.contains(&key)
            && line.contains("does not delegate to IAM")
            && line.contains("Enable IAM User Permissions")
            && line.contains(&format!("arn:aws:iam::{}:root", acct.id)),
        "{line}"
    );
    assert!(acct.writes_since(before).is_empty());
}
