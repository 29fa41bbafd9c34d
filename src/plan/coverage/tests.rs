use std::collections::BTreeMap;

use super::judge::judge;
use super::suggest::suggest;
use super::*;
use crate::plan::cloud::NotificationKind;
use crate::plan::fact::ReadError;

const MGMT: &str = "111111111111";
const LOGS: &str = "222222222222";
const MEMBER: &str = "333333333333";
const FUNCTION: &str =
    "arn:aws:lambda:us-east-1:222222222222:function:x-scwx-tdr-lambda-awscloudtrail";

fn org_trail() -> Trail {
    Trail {
        name: "org".into(),
        arn: format!("arn:aws:cloudtrail:us-east-1:{MGMT}:trail/org"),
        home_region: "us-east-1".into(),
        bucket: "central".into(),
        prefix: Some("corp".into()),
        multi_region: true,
        organization: true,
        global_events: true,
        logging: Some(true),
        ..Trail::default()
    }
}

fn own_trail(account: &str) -> Trail {
    Trail {
        name: "own".into(),
        arn: format!("arn:aws:cloudtrail:us-east-1:{account}:trail/own"),
        home_region: "us-east-1".into(),
        bucket: "own-logs".into(),
        logging: Some(true),
        ..Trail::default()
    }
}

fn view(id: &str, trails: Vec<Trail>, regions: &[&str]) -> AccountView {
    AccountView {
        id: id.into(),
        name: format!("n{id}"),
        unreachable: None,
        org_id: Some("o-abc".into()),
        regions: regions
            .iter()
            .map(|r| RegionView {
                region: r.to_string(),
                trails: Fact::Known(trails.clone()),
            })
            .collect(),
    }
}

fn entry(kind: NotificationKind, id: &str, target: &str, prefix: &str) -> NotificationEntry {
    NotificationEntry {
        kind,
        id: Some(id.into()),
        target_arn: target.into(),
        events: vec!["s3:ObjectCreated:*".into()],
        prefix: prefix.into(),
        suffix: String::new(),
    }
}

fn integration_function() -> Fact<Option<FunctionInfo>> {
    let mut f = FunctionInfo {
        arn: FUNCTION.into(),
        ..FunctionInfo::default()
    };
    f.environment
        .insert(INTEGRATION_MARK.into(), "arn:aws:secretsmanager:...".into());
    Fact::Known(Some(f))
}

/// The central bucket with `entries`, the own bucket with none, and the integration function.
fn deliveries(entries: Vec<NotificationEntry>) -> Deliveries {
    let bucket = |owner: &str, entries| {
        Fact::Known(BucketView {
            owner: owner.into(),
            region: "us-east-1".into(),
            entries,
        })
    };
    Deliveries {
        buckets: BTreeMap::from([
            ("central".into(), bucket(LOGS, entries)),
            ("own-logs".into(), bucket(MEMBER, vec![])),
        ]),
        topics: BTreeMap::new(),
        functions: BTreeMap::from([(FUNCTION.into(), integration_function())]),
    }
}

fn ours(prefix: &str) -> NotificationEntry {
    entry(
        NotificationKind::Lambda,
        "taegis-cloudtrail-taegis-cloudtrail",
        FUNCTION,
        prefix,
    )
}

#[test]
fn an_organisation_trail_covers_every_account_through_the_log_archive_entry() {
    let accounts = [
        view(MGMT, vec![org_trail()], &["us-east-1", "eu-west-1"]),
        view(MEMBER, vec![org_trail()], &["us-east-1"]),
    ];
    let report = judge(&accounts, &deliveries(vec![ours("corp/AWSLogs/")]));
    let cells: Vec<&Cell> = report.iter().flat_map(|a| &a.regions).collect();
    assert_eq!(cells.len(), 3);
    for c in &cells {
        assert_eq!(c.status, Status::Covered, "{c:?}");
        assert_eq!(c.function.as_deref(), Some(FUNCTION));
        assert_eq!(c.bucket.as_deref(), Some("central"));
    }
    assert_eq!(
        cells[2].prefix.as_deref(),
        Some("corp/AWSLogs/o-abc/333333333333/CloudTrail/us-east-1/")
    );
    assert!(
        cells[0]
            .reason
            .contains("trail org → bucket central (entry taegis-cloudtrail-"),
        "{}",
        cells[0].reason
    );
    assert!(Summary::of(&report).all_covered());
}

#[test]
fn a_trail_that_reaches_no_integration_leaves_its_region_uncovered_by_name() {
    let accounts = [view(
        MEMBER,
        vec![org_trail(), own_trail(MEMBER)],
        &["us-east-1", "eu-west-1"],
    )];
    let report = judge(&accounts, &deliveries(vec![ours("corp/AWSLogs/")]));
    let [home, other] = &report[0].regions[..] else {
        panic!()
    };
    assert_eq!(home.status, Status::Uncovered);
    assert_eq!(home.trail.as_deref(), Some(own_trail(MEMBER).arn.as_str()));
    assert_eq!(home.bucket.as_deref(), Some("own-logs"));
    assert!(home.reason.contains("trail own writes to bucket own-logs, which sends no integration function its new objects"), "{}", home.reason);
    assert!(
        home.reason.contains("trail org does reach XDR"),
        "{}",
        home.reason
    );
    // The own trail is single-region: elsewhere only the organisation trail logs.
    assert_eq!(other.status, Status::Covered);
    assert_eq!(
        Summary::of(&report),
        Summary {
            covered: 1,
            uncovered: 1,
            unknown: 0
        }
    );
}

#[test]
fn an_entry_whose_prefix_misses_the_trails_keys_is_named_with_both_prefixes() {
    let accounts = [view(MEMBER, vec![org_trail()], &["us-east-1"])];
    let report = judge(&accounts, &deliveries(vec![ours("AWSLogs/")]));
    let c = &report[0].regions[0];
    assert_eq!(c.status, Status::Uncovered);
    assert!(
        c.reason.contains(r#"takes keys under "AWSLogs/", but trail org writes them under "corp/AWSLogs/o-abc/333333333333/CloudTrail/us-east-1/""#),
        "{}",
        c.reason
    );
}

#[test]
fn what_is_not_an_integration_or_not_logging_or_absent_is_uncovered_and_why() {
    let mut plain = deliveries(vec![entry(
        NotificationKind::Lambda,
        "someone",
        "arn:aws:lambda:us-east-1:222222222222:function:other",
        "",
    )]);
    plain.functions.insert(
        "arn:aws:lambda:us-east-1:222222222222:function:other".into(),
        Fact::Known(Some(FunctionInfo::default())),
    );
    let mut stopped = org_trail();
    stopped.logging = Some(false);
    let mut elsewhere = own_trail(MEMBER);
    elsewhere.home_region = "eu-west-1".into();
    for (trails, d, want) in [
        (
            vec![org_trail()],
            plain,
            "which is not a Taegis XDR integration function",
        ),
        (
            vec![stopped],
            deliveries(vec![ours("")]),
            "trail org is not logging",
        ),
        (
            vec![elsewhere],
            deliveries(vec![]),
            "no trail logs us-east-1",
        ),
        (
            vec![org_trail()],
            deliveries(vec![entry(
                NotificationKind::Lambda,
                "taegis-cloudtrail-x",
                "arn:aws:lambda:us-east-1:2:function:gone",
                "",
            )]),
            "which does not exist",
        ),
    ] {
        let mut d = d;
        d.functions
            .entry("arn:aws:lambda:us-east-1:2:function:gone".into())
            .or_insert(Fact::Known(None));
        let report = judge(&[view(MEMBER, trails, &["us-east-1"])], &d);
        let c = &report[0].regions[0];
        assert_eq!(c.status, Status::Uncovered, "{want}");
        assert!(c.reason.contains(want), "{want}: {}", c.reason);
    }
}

#[test]
fn a_topic_with_an_integration_subscribed_covers_and_unreadable_things_are_unknown() {
    let topic = "arn:aws:sns:us-east-1:222222222222:trail-topic";
    let mut t = org_trail();
    t.sns_topic = Some(topic.into());
    let mut d = deliveries(vec![]);
    d.topics.insert(
        topic.into(),
        Fact::Known(vec![Subscription {
            protocol: "lambda".into(),
            endpoint: FUNCTION.into(),
            arn: format!("{topic}:1"),
        }]),
    );
    let report = judge(&[view(MEMBER, vec![t.clone()], &["us-east-1"])], &d);
    let c = &report[0].regions[0];
    assert_eq!(
        (c.status, c.function.as_deref()),
        (Status::Covered, Some(FUNCTION))
    );
    assert!(
        c.reason.contains(&format!("→ topic {topic} →")),
        "{}",
        c.reason
    );

    d.buckets.insert(
        "central".into(),
        Fact::Failed(ReadError::said("Access Denied")),
    );
    d.topics.insert(
        topic.into(),
        Fact::Failed(ReadError::said("AuthorizationError")),
    );
    let report = judge(&[view(MEMBER, vec![t], &["us-east-1"])], &d);
    assert_eq!(report[0].regions[0].status, Status::Unknown);
    let mut refused = view(MEMBER, vec![], &["us-east-1"]);
    refused.unreachable = Some("role R cannot be assumed (AccessDenied)".into());
    let report = judge(&[refused], &d);
    assert_eq!(report[0].regions[0].status, Status::Unknown);
    assert_eq!(
        report[0].regions[0].reason,
        "role R cannot be assumed (AccessDenied)"
    );
}

#[test]
fn the_suggestion_is_one_deployment_per_bucket_and_names_what_it_cannot_cover() {
    let accounts = [
        view(MGMT, vec![org_trail()], &["us-east-1", "eu-west-1"]),
        view(MEMBER, vec![org_trail(), own_trail(MEMBER)], &["us-east-1"]),
        view("444444444444", vec![], &["us-east-1"]),
    ];
    let d = deliveries(vec![]);
    let report = judge(&accounts, &d);
    let role = |a: &str| {
        (a != MGMT).then(|| format!("arn:aws:iam::{a}:role/OrganizationAccountAccessRole"))
    };
    let s = suggest(&report, &accounts, &d, &role);
    let [central, own] = &s.deployments[..] else {
        panic!("{s:?}")
    };
    assert_eq!(
        (
            central.account.as_str(),
            central.notification_bucket.as_str(),
            central.prefix.as_str()
        ),
        (LOGS, "central", "corp/AWSLogs/")
    );
    assert_eq!(
        central.covers,
        [
            "111111111111 us-east-1",
            "111111111111 eu-west-1",
            "333333333333 us-east-1"
        ]
    );
    assert_eq!((own.account.as_str(), own.covers.len()), (MEMBER, 1));
    assert_eq!(
        s.left,
        [
            "444444444444 us-east-1: no trail logs us-east-1: create one, or an organisation trail that logs every account"
        ]
    );
    let text = s.rollout();
    assert!(text.contains("  - account: \"222222222222\"\n    role_arn: \"arn:aws:iam::222222222222:role/OrganizationAccountAccessRole\"\n    regions: [\"us-east-1\"]\n    notification_bucket: \"central\"\n    prefix: \"corp/AWSLogs/\"\n"), "{text}");
}

#[test]
fn regions_have_short_names_for_the_table() {
    for (r, want) in [
        ("us-east-1", "use1"),
        ("ap-southeast-2", "apse2"),
        ("us-gov-west-1", "usgw1"),
        ("eu-central-1", "euc1"),
        ("il-central-1", "ilc1"),
    ] {
        assert_eq!(short_region(r), want);
    }
}
