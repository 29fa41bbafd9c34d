//! What a test account holds before the tool runs: a CloudTrail bucket, with other people's
//! notification entries on it, topics, functions.

use aws_sdk_s3::types as s3t;

use crate::harness::{Account, zip_bytes};

/// A bucket in `region` (created through the client of that region).
pub async fn bucket(acct: &Account, name: &str, region: &str) {
    let mut req = acct.s3_in(region).create_bucket().bucket(name);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.expect("create a bucket");
}

/// A KMS key of `policy` (the default policy, which delegates to IAM, when `None`): its ARN.
pub async fn key(acct: &Account, policy: Option<serde_json::Value>) -> String {
    let mut key = acct.kms().create_key();
    if let Some(p) = policy {
        key = key.policy(p.to_string());
    }
    let out = key.send().await.expect("create a key");
    out.key_metadata().unwrap().arn().unwrap().to_string()
}

/// A key policy that neither delegates to IAM nor names the function's role: only the
/// account's `KeyAdmins` role may use the key.
pub fn admins_only_key_policy(acct: &Account) -> serde_json::Value {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyTheAdmins", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:role/KeyAdmins", acct.id)},
        "Action": "kms:*", "Resource": "*"}]})
}

/// Replace the policy of `key` with `admins_only_key_policy` (as someone might, later).
pub async fn close_key(acct: &Account, key: &str) {
    acct.kms()
        .put_key_policy()
        .key_id(key)
        .policy_name("default")
        .policy(admins_only_key_policy(acct).to_string())
        .send()
        .await
        .expect("put the key's policy");
}

/// A topic `topic_name` and an entry `id` of the bucket's notification configuration that sends
/// it the `event`s of every object (the bucket's only entry): the topic's ARN.
pub async fn topic_entry(
    acct: &Account,
    bucket: &str,
    topic_name: &str,
    id: &str,
    event: &str,
) -> String {
    let topic = topic(acct, topic_name).await;
    let config = s3t::NotificationConfiguration::builder()
        .topic_configurations(
            s3t::TopicConfiguration::builder()
                .id(id)
                .topic_arn(&topic)
                .events(s3t::Event::from(event))
                .build()
                .unwrap(),
        )
        .build();
    put_notifications(acct, bucket, config).await;
    topic
}

/// A statement `sid` on the policy of `function` that lets S3 invoke it, from `source_arn`
/// only or (with `None`) from any bucket.
pub async fn s3_permission(acct: &Account, function: &str, sid: &str, source_arn: Option<&str>) {
    acct.lambda()
        .add_permission()
        .function_name(function)
        .statement_id(sid)
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .set_source_arn(source_arn.map(str::to_string))
        .send()
        .await
        .expect("add a permission");
}

/// The statement `sid` off the policy of `function`.
pub async fn remove_permission(acct: &Account, function: &str, sid: &str) {
    acct.lambda()
        .remove_permission()
        .function_name(function)
        .statement_id(sid)
        .send()
        .await
        .expect("remove a permission");
}

/// An object `key` holding `body` in `bucket`.
pub async fn object(acct: &Account, bucket: &str, key: &str, body: &[u8]) {
    acct.s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .expect("put an object");
}

/// A topic that S3 may publish the events of the account's buckets to (as AWS requires of a
/// topic in a bucket's notification configuration).
pub async fn topic(acct: &Account, name: &str) -> String {
    let arn = acct
        .sns()
        .create_topic()
        .name(name)
        .send()
        .await
        .expect("create a topic")
        .topic_arn()
        .unwrap()
        .to_string();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "s3-publishes",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": acct.id}},
        }],
    });
    topic_policy(acct, &arn, policy).await;
    arn
}

/// Replace the policy of `topic`.
pub async fn topic_policy(acct: &Account, topic: &str, policy: serde_json::Value) {
    acct.sns()
        .set_topic_attributes()
        .topic_arn(topic)
        .attribute_name("Policy")
        .attribute_value(policy.to_string())
        .send()
        .await
        .expect("set the topic's policy");
}

/// A queue that S3 may send `bucket`'s events to: made through a stack, with its queue policy.
pub async fn queue(acct: &Account, bucket: &str) -> String {
    let template = format!(
        r#"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: {bucket}-audit
  Allow:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{ Service: s3.amazonaws.com }}
            Action: sqs:SendMessage
            Resource: !GetAtt Queue.Arn
            Condition:
              ArnLike: {{ "aws:SourceArn": "arn:aws:s3:::{bucket}" }}
              StringEquals: {{ "aws:SourceAccount": !Ref AWS::AccountId }}
Outputs:
  Arn:
    Value: !GetAtt Queue.Arn
"#
    );
    stack_output(acct, "audit-queue", &template).await
}

/// Create a stack and return its first output.
async fn stack_output(acct: &Account, name: &str, template: &str) -> String {
    let cfn = acct.cfn();
    cfn.create_stack()
        .stack_name(name)
        .template_body(template)
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create stack {name}: {e:?}"));
    let out = cfn.describe_stacks().stack_name(name).send().await.unwrap();
    let stack = &out.stacks()[0];
    assert_eq!(stack.stack_status().unwrap().as_str(), "CREATE_COMPLETE");
    stack.outputs()[0].output_value().unwrap().to_string()
}

/// Someone else's Lambda that S3 may invoke from `bucket`: made through its own stack.
pub async fn other_function(acct: &Account, bucket: &str) -> String {
    let code_bucket = format!("{bucket}-other-code");
    self::bucket(acct, &code_bucket, "us-east-1").await;
    acct.s3()
        .put_object()
        .bucket(&code_bucket)
        .key("other.zip")
        .body(zip_bytes("bootstrap", 0o755, b"#!/bin/sh\n").into())
        .send()
        .await
        .unwrap();
    let template = format!(
        r#"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{ Service: lambda.amazonaws.com }}
            Action: sts:AssumeRole
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: other-consumer
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
      Code:
        S3Bucket: {code_bucket}
        S3Key: other.zip
  Allow:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: s3.amazonaws.com
      SourceArn: arn:aws:s3:::{bucket}
      SourceAccount: !Ref AWS::AccountId
Outputs:
  Arn:
    Value: !GetAtt Fn.Arn
"#
    );
    stack_output(acct, "other-consumer", &template).await
}

/// A notification configuration with a queue, a topic and another Lambda, none overlapping
/// `AWSLogs/` object-create events, plus EventBridge. Each destination exists and lets S3
/// deliver, as AWS checks on every write.
pub async fn foreign_notifications(acct: &Account, bucket: &str) -> s3t::NotificationConfiguration {
    let topic = topic(acct, &format!("{bucket}-other-topic")).await;
    let queue = queue(acct, bucket).await;
    let other = other_function(acct, bucket).await;
    let filter = |prefix: &str, suffix: &str| {
        let mut rules = vec![
            s3t::FilterRule::builder()
                .name(s3t::FilterRuleName::Prefix)
                .value(prefix)
                .build(),
        ];
        if !suffix.is_empty() {
            rules.push(
                s3t::FilterRule::builder()
                    .name(s3t::FilterRuleName::Suffix)
                    .value(suffix)
                    .build(),
            );
        }
        s3t::NotificationConfigurationFilter::builder()
            .key(
                s3t::S3KeyFilter::builder()
                    .set_filter_rules(Some(rules))
                    .build(),
            )
            .build()
    };
    let config = s3t::NotificationConfiguration::builder()
        .queue_configurations(
            s3t::QueueConfiguration::builder()
                .id("audit-queue")
                .queue_arn(&queue)
                .events(s3t::Event::from("s3:ObjectRemoved:*"))
                .build()
                .unwrap(),
        )
        .topic_configurations(
            s3t::TopicConfiguration::builder()
                .id("reports-topic")
                .topic_arn(&topic)
                .events(s3t::Event::from("s3:ObjectCreated:*"))
                .filter(filter("reports/", ""))
                .build()
                .unwrap(),
        )
        .lambda_function_configurations(
            s3t::LambdaFunctionConfiguration::builder()
                .id("thumbnails")
                .lambda_function_arn(&other)
                .events(s3t::Event::from("s3:ObjectCreated:Put"))
                .filter(filter("images/", ".png"))
                .build()
                .unwrap(),
        )
        .event_bridge_configuration(s3t::EventBridgeConfiguration::builder().build())
        .build();
    acct.s3()
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config.clone())
        .send()
        .await
        .expect("seed the bucket's notifications");
    config
}

/// The bucket's notification configuration as the SDK reads it.
pub async fn notifications(acct: &Account, bucket: &str) -> aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput{
    acct.s3()
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .expect("read the bucket's notifications")
}

pub async fn subscriptions(
    acct: &Account,
    topic: &str,
) -> aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput {
    acct.sns()
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .send()
        .await
        .expect("list the topic's subscriptions")
}

/// Replace the bucket's notification configuration (as a user would in the console).
pub async fn put_notifications(
    acct: &Account,
    bucket: &str,
    config: s3t::NotificationConfiguration,
) {
    acct.s3()
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .expect("put the bucket's notifications");
}

/// An empty notification configuration on the bucket (someone rewrote it without the entries).
pub async fn clear_notifications(acct: &Account, bucket: &str) {
    put_notifications(
        acct,
        bucket,
        s3t::NotificationConfiguration::builder().build(),
    )
    .await;
}

/// Log lines of `function` (timestamp in ms, message), in a stream of its log group (made when
/// missing), as the function would have written them.
pub async fn function_log(acct: &Account, function: &str, lines: &[(i64, &str)]) {
    let logs = acct.logs();
    let group = format!("/aws/lambda/{function}");
    let _ = logs.create_log_group().log_group_name(&group).send().await;
    let stream = format!("2026/12/01/[$LATEST]{}", lines.len());
    let _ = logs
        .create_log_stream()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .send()
        .await;
    let events = lines.iter().map(|(t, m)| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(*t)
            .message(*m)
            .build()
            .unwrap()
    });
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .set_log_events(Some(events.collect()))
        .send()
        .await
        .expect("put the function's log lines");
}
