//! `--trail NAME`: the bucket, where the logs land, the KMS key and the topic come from the
//! trail, and what is worth knowing about the region's trails is said before anything changes.

use crate::harness::{Account, Inputs, REGION, bucket_name, s, step};
use crate::seed;

/// A trail over `bucket` (prefix `org`), with a KMS key of `key_policy` (the default policy, which
/// delegates to IAM, when `None`) and an SNS topic; returns (key ARN, topic ARN).
pub async fn trail(
    acct: &Account,
    name: &str,
    bucket: &str,
    key_policy: Option<serde_json::Value>,
) -> (String, String) {
    let mut key = acct.kms().create_key();
    if let Some(p) = key_policy {
        key = key.policy(p.to_string());
    }
    let key = key
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let topic_name = format!("{name}-news");
    let topic = seed::topic(acct, &topic_name).await;
    acct.cloudtrail()
        .create_trail()
        .name(name)
        .s3_bucket_name(bucket)
        .s3_key_prefix("org")
        .kms_key_id(&key)
        .sns_topic_name(&topic_name)
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

fn deploy_args(inputs: &Inputs) -> Vec<String> {
    [
        "deploy",
        "--credentials",
        &s(&inputs.credentials),
        "--taegis-region",
        "foxtrot",
        "--lambda-zip",
        &s(&inputs.zip),
        "--yes",
        "--output",
        "json",
    ]
    .map(String::from)
    .to_vec()
}

fn parameter(doc: &serde_json::Value, step_name: &str, name: &str) -> (String, String) {
    let p = step(doc, step_name)["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no parameter {name}: {doc:#}"))
        .clone();
    (
        p["value"].as_str().unwrap().into(),
        p["source"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn the_trail_gives_the_bucket_the_prefix_the_key_and_the_topic() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-named");
    seed::bucket(&acct, &bucket, REGION).await;
    let (key, topic) = trail(&acct, "main", &bucket, None).await;
    let run = acct
        .tool()
        .args(deploy_args(&inputs))
        .args([
            "--trail",
            "main",
            "--lambda-bucket",
            &format!("{bucket}-zips"),
            "--dry-run",
        ])
        .run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(
        parameter(&doc, "lambda-stack", "NotificationBucket"),
        (bucket.clone(), "trail".into())
    );
    assert_eq!(
        parameter(
            &doc,
            "lambda-stack",
            "NotificationBucketCustomerManagedKMSarn"
        ),
        (key.clone(), "trail".into())
    );
    let detail = step(&doc, "bucket-notification")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("prefix \"org/AWSLogs/\""), "{detail}");
    // For an SNS trigger, the trail's topic.
    let run = acct
        .tool()
        .args(deploy_args(&inputs))
        .args([
            "--trail",
            "main",
            "--trigger",
            "sns",
            "--lambda-bucket",
            &format!("{bucket}-zips"),
        ])
        .run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["outcome"], "created", "{doc:#}");
    assert_eq!(
        acct.stack_parameter("taegis-cloudtrail", "SNSNotificationarn")
            .await
            .as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(
        acct.stack_parameter(
            "taegis-cloudtrail",
            "NotificationBucketCustomerManagedKMSarn"
        )
        .await
        .as_deref(),
        Some(key.as_str())
    );
}

#[tokio::test]
async fn two_trails_with_global_events_are_named_together() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-dup");
    seed::bucket(&acct, &bucket, REGION).await;
    trail(&acct, "main", &bucket, None).await;
    trail(&acct, "audit", &bucket, None).await;
    let run = acct
        .tool()
        .args(deploy_args(&inputs))
        .args([
            "--trail",
            "main",
            "--lambda-bucket",
            &format!("{bucket}-zips"),
            "--dry-run",
        ])
        .run();
    run.assert_code(0);
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("global service events"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        warning.contains("audit") && warning.contains("main") && warning.contains("de-duplicate"),
        "{warning}"
    );
    let warnings = run.json()["targets"][0]["warnings"].to_string();
    assert!(warnings.contains("global service events"), "{warnings}");
}

#[tokio::test]
async fn a_trail_whose_bucket_is_another_accounts_is_explained_before_anything_is_made() {
    let acct = Account::new().await;
    let owner = Account::new().await;
    let inputs = Inputs::new();
    let central = bucket_name("org-central");
    seed::bucket(&owner, &central, REGION).await;
    trail(&acct, "org", &central, None).await;
    let before = acct.requests().len();
    let run = acct
        .tool()
        .args(deploy_args(&inputs))
        .args(["--trail", "org"])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: --notification-bucket")
                && l.contains(&central)
                && l.contains("belongs to another account")
                && l.contains("account that owns the bucket")),
        "{}",
        run.stderr
    );
    assert!(acct.writes_since(before).is_empty());
}

#[tokio::test]
async fn a_trail_key_that_does_not_delegate_to_iam_is_refused_with_the_statement_to_add() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-kms-closed");
    seed::bucket(&acct, &bucket, REGION).await;
    let closed = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyTheAdmins", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:role/KeyAdmins", acct.id)},
        "Action": "kms:*", "Resource": "*"}]});
    let (key, _) = trail(&acct, "main", &bucket, Some(closed)).await;
    let before = acct.requests().len();
    let run = acct
        .tool()
        .args(deploy_args(&inputs))
        .args([
            "--trail",
            "main",
            "--lambda-bucket",
            &format!("{bucket}-zips"),
        ])
        .run();
    run.assert_code(2);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: --bucket-kms-key-arn"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        line.contains(&key)
            && line.contains("does not delegate to IAM")
            && line.contains("Enable IAM User Permissions")
            && line.contains(&format!("arn:aws:iam::{}:root", acct.id)),
        "{line}"
    );
    assert!(acct.writes_since(before).is_empty());
}
