//! CloudTrail trails: which one `--trail` names, what it tells (the bucket, where the logs land,
//! the KMS key, the SNS topic), and what is worth saying about a region's trails. Pure.

use super::cloud::Trail;
use super::observe::{Fact, Observed};
use crate::config::TargetConfig;
use crate::input::{Input, Problem, Source};
use crate::kinds::Trigger;

/// The trail of that name (or ARN), preferring the one whose home is this region.
pub fn find<'a>(trails: &'a [Trail], name: &str, region: &str) -> Option<&'a Trail> {
    let named = |t: &&Trail| t.name == name || t.arn == name;
    trails
        .iter()
        .filter(named)
        .find(|t| t.home_region == region)
        .or_else(|| trails.iter().find(named))
}

/// Where the trail's log objects land: `{S3KeyPrefix}/AWSLogs/`, or `AWSLogs/`.
pub fn log_prefix(t: &Trail) -> String {
    match t.prefix.as_deref().map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("{p}/AWSLogs/"),
        _ => "AWSLogs/".to_string(),
    }
}

/// The target with what the flags and the rollout file left open filled from the trail it
/// names, and the problem when that trail cannot be found. Without `--trail`, the target as is.
pub fn filled(target: &TargetConfig, seen: &Observed) -> (TargetConfig, Option<Problem>) {
    let Some(name) = &target.trail else {
        return (target.clone(), None);
    };
    let about = |m: String| Problem::value(Input::Trail, name, m);
    let trails = match &seen.trails {
        Fact::Known(t) => t,
        Fact::Failed(e) => {
            return (
                target.clone(),
                Some(about(format!("cannot list the trails ({e})"))),
            );
        }
        Fact::NotRead => return (target.clone(), None),
    };
    let Some(trail) = find(trails, name, &target.region) else {
        let known: Vec<&str> = trails.iter().map(|t| t.name.as_str()).collect();
        let p = about(format!("no such trail in {}", target.region)).fix(if known.is_empty() {
            "this region sees no trail: give --notification-bucket".to_string()
        } else {
            format!("the region sees: {}", known.join(", "))
        });
        return (target.clone(), Some(p));
    };
    let mut t = fill(target, trail);
    if t.trigger == Trigger::Sns && t.sns_topic_arn.is_none() {
        let p = Problem::new(
            Input::SnsTopicArn,
            format!("--trigger sns needs a topic, and trail {name} publishes to none"),
        )
        .fix("give --sns-topic-arn ARN: the topic that announces new log objects");
        return (t, Some(p));
    }
    // The bucket's default key, when the trail names none.
    if let Fact::Known(Some(key)) = &seen.bucket_key
        && t.bucket_kms_key_arn.is_none()
    {
        t.bucket_kms_key_arn = Some(key.clone());
        t.sources.insert(Input::BucketKmsKeyArn, Source::Trail);
    }
    (t, None)
}

/// Fill the bucket, the prefix, the KMS key and (for an SNS trigger) the topic from `trail`,
/// where the user gave none.
pub fn fill(target: &TargetConfig, trail: &Trail) -> TargetConfig {
    let mut t = target.clone();
    let from_trail = |t: &mut TargetConfig, input: Input| {
        t.sources.insert(input, Source::Trail);
    };
    if !t.given(Input::NotificationBucket) || t.notification_bucket.is_empty() {
        t.notification_bucket = trail.bucket.clone();
        from_trail(&mut t, Input::NotificationBucket);
    }
    if !t.given(Input::Prefix) {
        t.prefix = log_prefix(trail);
        from_trail(&mut t, Input::Prefix);
    }
    if t.bucket_kms_key_arn.is_none()
        && let Some(key) = &trail.kms_key
    {
        t.bucket_kms_key_arn = Some(key.clone());
        from_trail(&mut t, Input::BucketKmsKeyArn);
    }
    if t.trigger == Trigger::Sns
        && t.sns_topic_arn.is_none()
        && let Some(topic) = &trail.sns_topic
    {
        t.sns_topic_arn = Some(topic.clone());
        from_trail(&mut t, Input::SnsTopicArn);
    }
    t
}

/// What is worth saying about the trails a region sees, and about the one chosen.
pub fn warnings(
    trails: &[Trail],
    chosen: Option<&Trail>,
    account: &str,
    region: &str,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut global: Vec<&Trail> = trails.iter().filter(|t| t.global_events).collect();
    global.sort_by(|a, b| a.arn.cmp(&b.arn));
    global.dedup_by(|a, b| a.arn == b.arn);
    if global.len() > 1 {
        let names: Vec<&str> = global.iter().map(|t| t.name.as_str()).collect();
        out.push(
            Problem::about(
                Input::Trail,
                format!("trails {}", names.join(" and ")),
                "each include global service events (IAM, STS, CloudFront ...), so XDR receives those events once per trail: it does not de-duplicate them",
            )
            .fix(format!(
                "keep them on one trail and turn them off on the others: aws cloudtrail update-trail --name NAME --no-include-global-service-events, for {}",
                names[1..].join(", ")
            )),
        );
    }
    let Some(t) = chosen else {
        return out;
    };
    if t.logging == Some(false) {
        out.push(
            Problem::value(
                Input::Trail,
                &t.name,
                "is not logging: no log object reaches the bucket",
            )
            .fix(format!("aws cloudtrail start-logging --name {}", t.arn)),
        );
    }
    if t.account() != account && !t.account().is_empty() {
        out.push(Problem::value(
            Input::Trail,
            &t.name,
            format!(
                "belongs to account {}{}; its bucket {} is usually in the central log-archive account, where the S3 trigger has to be made",
                t.account(),
                if t.organization { " (an organisation trail)" } else { "" },
                t.bucket
            ),
        ));
    }
    if !t.multi_region && t.home_region != region {
        out.push(Problem::value(
            Input::Trail,
            &t.name,
            format!("logs the events of {} only, not of {region}", t.home_region),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(name: &str, global: bool) -> Trail {
        Trail {
            name: name.into(),
            arn: format!("arn:aws:cloudtrail:us-east-1:123456789012:trail/{name}"),
            home_region: "us-east-1".into(),
            bucket: format!("{name}-logs"),
            prefix: Some("org/".into()),
            kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
            sns_topic: Some("arn:aws:sns:us-east-1:123456789012:trail-news".into()),
            multi_region: true,
            global_events: global,
            logging: Some(true),
            ..Trail::default()
        }
    }

    #[test]
    fn prefixes() {
        assert_eq!(log_prefix(&trail("a", true)), "org/AWSLogs/");
        let mut t = trail("a", true);
        t.prefix = None;
        assert_eq!(log_prefix(&t), "AWSLogs/");
    }

    #[test]
    fn duplicate_global_events_name_both_trails() {
        let trails = [
            trail("main", true),
            trail("audit", true),
            trail("data", false),
        ];
        let w = warnings(&trails, None, "123456789012", "us-east-1");
        assert_eq!(w.len(), 1);
        let text = w[0].to_string();
        assert!(
            text.contains("audit")
                && text.contains("main")
                && text.contains("--no-include-global-service-events"),
            "{text}"
        );
        assert!(warnings(&trails[..1], None, "123456789012", "us-east-1").is_empty());
    }

    #[test]
    fn a_trail_of_another_account_and_one_not_logging_are_said() {
        let mut t = trail("org", true);
        t.arn = "arn:aws:cloudtrail:us-east-1:999999999999:trail/org".into();
        t.organization = true;
        t.logging = Some(false);
        let w: Vec<String> = warnings(&[t.clone()], Some(&t), "123456789012", "us-east-1")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(w.iter().any(|w| w.contains("not logging")), "{w:?}");
        assert!(
            w.iter()
                .any(|w| w.contains("999999999999") && w.contains("organisation")),
            "{w:?}"
        );
    }
}
