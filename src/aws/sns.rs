//! SNS: a topic's owner and policy, its subscriptions, and subscribing or unsubscribing the
//! function.

use anyhow::Result;

use super::AwsCloud;
use super::errors::{classify, found};
use crate::plan::cloud::{Subscription, TopicInfo};

pub(super) async fn topic(aws: &AwsCloud, topic_arn: &str) -> Result<Option<TopicInfo>> {
    let out = found(
        aws.sns
            .get_topic_attributes()
            .topic_arn(topic_arn)
            .send()
            .await,
    )?;
    Ok(out.map(|o| {
        let attributes = o.attributes();
        let get = |k: &str| attributes.and_then(|a| a.get(k)).cloned();
        TopicInfo {
            owner: get("Owner")
                .or_else(|| topic_arn.split(':').nth(4).map(str::to_string))
                .unwrap_or_default(),
            policy: get("Policy").filter(|p| !p.is_empty()),
        }
    }))
}

pub(super) async fn subscriptions(aws: &AwsCloud, topic_arn: &str) -> Result<Vec<Subscription>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(classify)?;
        for s in page.subscriptions() {
            out.push(Subscription {
                protocol: s.protocol().unwrap_or_default().to_string(),
                endpoint: s.endpoint().unwrap_or_default().to_string(),
                arn: s.subscription_arn().unwrap_or_default().to_string(),
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

pub(super) async fn subscribe(aws: &AwsCloud, topic_arn: &str, function_arn: &str) -> Result<()> {
    aws.sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("lambda")
        .endpoint(function_arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

pub(super) async fn unsubscribe(aws: &AwsCloud, subscription_arn: &str) -> Result<()> {
    // Already gone is done.
    found(
        aws.sns
            .unsubscribe()
            .subscription_arn(subscription_arn)
            .send()
            .await,
    )?;
    Ok(())
}
