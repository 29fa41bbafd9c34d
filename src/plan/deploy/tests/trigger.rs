//! The trigger: table cases of the bucket entry, the invoke permission and the SNS topic, the
//! earlier trigger removed, and which existing entries overlap ours.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    [entries(), sources(), sns()]
        .into_iter()
        .flatten()
        .collect()
}

/// Entries in the bucket that send its events elsewhere, or to our function.
fn entries() -> Vec<Case> {
    vec![
        Case {
            name: "a foreign entry overlapping ours",
            args: |_| {},
            seen: || {
                let mut o = fresh();
                o.notifications.insert(
                    BUCKET.into(),
                    Fact::Known(vec![NotificationEntry {
                        kind: NotificationKind::Queue,
                        id: Some("siem-feed".into()),
                        target_arn: "arn:aws:sqs:us-east-1:123456789012:siem".into(),
                        events: vec!["s3:ObjectCreated:Put".into()],
                        prefix: String::new(),
                        suffix: ".gz".into(),
                    }]),
                );
                o
            },
            want: Want::Problems(&[(Input::NotificationBucket, "\"siem-feed\"")]),
        },
        Case {
            name: "a trigger made by hand for our function",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                let mut by_hand = our_entry(&function_arn(FUNCTION));
                by_hand.id = Some("NjE5ZjQ1YzYtY2Q5Zi00".into());
                by_hand.prefix = String::new();
                o.notifications
                    .insert(BUCKET.into(), Fact::Known(vec![by_hand]));
                o
            },
            want: in_place(&[("bucket-notification", Update)]),
        },
    ]
}

/// The source the function is opened to, and the bucket's owner.
fn sources() -> Vec<Case> {
    vec![
        Case {
            name: "a statement of ours with another source",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                o.statements = Fact::Known(vec![PolicyStatement {
                    sid: S3_STATEMENT_ID.into(),
                    principal: "s3.amazonaws.com".into(),
                    source_arn: Some("arn:aws:s3:::another-bucket".into()),
                    source_account: Some(ACCOUNT.into()),
                }]);
                o
            },
            want: in_place(&[("invoke-permission", Update)]),
        },
        Case {
            name: "a trail bucket of another account, for an S3 trigger",
            args: |_| {},
            seen: || Observed {
                notification_bucket: Fact::Failed(failed("AccessDenied", "Access Denied")),
                notifications: BTreeMap::new(),
                ..fresh()
            },
            want: Want::Problems(&[(Input::NotificationBucket, "account that owns the bucket")]),
        },
    ]
}

/// An SNS trigger: switching to it, and a topic that is not there.
fn sns() -> Vec<Case> {
    vec![
        Case {
            name: "switching from S3 to SNS",
            args: |a| a.guide.sns_topic_arn = Some(TOPIC.into()),
            seen: || Observed {
                topic: Fact::Known(Some(crate::plan::cloud::TopicInfo {
                    owner: ACCOUNT.into(),
                    policy: None,
                })),
                subscriptions: BTreeMap::from([(TOPIC.to_string(), Fact::Known(Vec::new()))]),
                ..deployed()
            },
            want: Want::Steps(vec![
                ("lambda-bucket", Skip),
                ("upload-lambda-zip", Skip),
                ("shared-stack", Skip),
                ("lambda-stack", Update),
                ("invoke-permission", Create),
                ("sns-subscription", Create),
                ("remove-old-trigger", Delete),
            ]),
        },
        Case {
            name: "a topic that does not exist",
            args: |a| a.guide.sns_topic_arn = Some(TOPIC.into()),
            seen: || Observed {
                topic: Fact::Known(None),
                ..fresh()
            },
            want: Want::Problems(&[(Input::SnsTopicArn, "no such topic")]),
        },
    ]
}

#[test]
fn the_earlier_subscription_is_removed_when_going_back_to_s3() {
    let mut seen = deployed();
    if let Fact::Known(Some(s)) = &mut seen.lambda_stack {
        s.info
            .parameters
            .insert("SNSNotificationarn".into(), TOPIC.into());
    }
    seen.subscriptions.insert(
        TOPIC.into(),
        Fact::Known(vec![Subscription {
            protocol: "lambda".into(),
            endpoint: function_arn(FUNCTION),
            arn: format!("{TOPIC}:sub-1"),
        }]),
    );
    let plan = decide(&target(|_| {}), &local(), &seen).plan.unwrap();
    match &plan.steps.last().unwrap().op {
        Op::RemoveOldTrigger(old) => assert_eq!(old.subscriptions, [format!("{TOPIC}:sub-1")]),
        other => panic!("the last step removes the earlier trigger, not {other:?}"),
    }
}

#[test]
fn zip_keys_and_overlaps() {
    let l = Template::bundled_lambda();
    assert_eq!(
        zip_key(&l, "0123456789abcdef0123"),
        "taegis-lambda-amd64-0123456789abcdef.zip"
    );
    let fixed = Template::parse(
        "t",
        "Parameters:\n  A:\n    Type: String\nResources:\n  X:\n    Type: AWS::SNS::Topic\n",
    )
    .unwrap();
    assert_eq!(zip_key(&fixed, "0123"), "taegis-lambda-amd64.zip");
    let entry = |events: &[&str], prefix: &str| NotificationEntry {
        kind: NotificationKind::Queue,
        id: Some("q".into()),
        target_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        events: events.iter().map(|s| s.to_string()).collect(),
        prefix: prefix.into(),
        suffix: ".gz".into(),
    };
    assert!(overlaps(&entry(&["s3:ObjectCreated:Put"], ""), "AWSLogs/"));
    assert!(overlaps(
        &entry(&["s3:ObjectCreated:*"], "AWSLogs/123/"),
        "AWSLogs/"
    ));
    assert!(overlaps(&entry(&["s3:*"], "AWS"), "AWSLogs/"));
    assert!(!overlaps(
        &entry(&["s3:ObjectCreated:*"], "other/"),
        "AWSLogs/"
    ));
    assert!(!overlaps(&entry(&["s3:ObjectRemoved:*"], ""), ""));
}
