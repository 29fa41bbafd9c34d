//! `coverage`: an organisation of five accounts (management, log-archive with the organisation
//! trail's bucket, a member covered through it, a member with its own trail, a member whose
//! role refuses) before and after the one deployment `--suggest` proposes; a prefix that misses
//! the trail's keys; the accounts' own regions; bad input.

use serde_json::{Value, json};

use crate::harness::*;
use crate::seed;

const OTHER: &str = "eu-west-1";

struct Org {
    management: Account,
    log_archive: Account,
    member: Account,
    own: Account,
    refused: Account,
    bucket: String,
    trail: String,
    own_trail: String,
    org_id: String,
}

impl Org {
    fn all(&self) -> [&Account; 5] {
        [
            &self.management,
            &self.log_archive,
            &self.member,
            &self.own,
            &self.refused,
        ]
    }
}

/// A multi-region trail of `acct` over `bucket` (under `prefix`), logging.
async fn trail(
    acct: &Account,
    name: &str,
    bucket: &str,
    prefix: Option<&str>,
    org: bool,
) -> String {
    let arn = acct
        .cloudtrail()
        .create_trail()
        .name(name)
        .s3_bucket_name(bucket)
        .set_s3_key_prefix(prefix.map(str::to_string))
        .is_multi_region_trail(org)
        .is_organization_trail(org)
        .include_global_service_events(true)
        .send()
        .await
        .unwrap()
        .trail_arn
        .unwrap();
    acct.cloudtrail()
        .start_logging()
        .name(name)
        .send()
        .await
        .unwrap();
    arn
}

/// The organisation of the emulator's coverage scenario (tests/emulator/README.md).
async fn organisation() -> Org {
    let [management, log_archive, member, own, refused] = accounts::<5>().await;
    let body = json!({
        "management": management.id,
        "members": [
            {"id": log_archive.id, "name": "log-archive", "access_role": true},
            {"id": member.id, "name": "member"},
            {"id": own.id, "name": "own-trail"},
            {"id": refused.id, "name": "refusing"},
        ],
        "service_access": ["cloudtrail.amazonaws.com"],
    });
    let (status, answer) = http("POST", "/_taegis/organization", Some(&body.to_string()));
    assert_eq!(status, 200, "{answer}");
    let view: Value = serde_json::from_str(&answer).unwrap();
    let org_id = view["organization"]["Id"].as_str().unwrap().to_string();
    let bucket = bucket_name("org-central");
    seed::bucket(&log_archive, &bucket, REGION).await;
    let trail = trail(&management, "org", &bucket, Some("corp"), true).await;
    // The trail announces each log file on a topic too (nothing subscribed).
    seed::topic(&management, "org-news").await;
    management
        .cloudtrail()
        .update_trail()
        .name(&trail)
        .sns_topic_name("org-news")
        .send()
        .await
        .unwrap();
    let own_bucket = bucket_name("own-logs");
    seed::bucket(&own, &own_bucket, REGION).await;
    let own_trail = self::trail(&own, "own", &own_bucket, None, false).await;
    refused.behave(json!({"strict_roles": true}));
    Org {
        management,
        log_archive,
        member,
        own,
        refused,
        bucket,
        trail,
        own_trail,
        org_id,
    }
}

fn coverage(acct: &Account, extra: &[&str]) -> Run {
    let args = plus(
        vec![
            "coverage".into(),
            "--regions".into(),
            format!("{REGION},{OTHER}"),
        ],
        extra,
    );
    acct.tool().args(args).run()
}

/// The cell of `account` in `region`.
fn cell(doc: &Value, account: &str, region: &str) -> Value {
    let a = find(&doc["accounts"], "account", account);
    find(&a["regions"], "region", region)
}

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
}

#[tokio::test]
async fn an_organisation_is_uncovered_until_the_suggested_log_archive_deployment_covers_it() {
    let org = organisation().await;
    let inputs = Inputs::new();
    let before = coverage(&org.management, &["--output", "json", "--suggest"]);
    before.assert_code(1);
    let doc = before.json();
    assert_eq!(doc["command"], "coverage");
    let ids: Vec<&str> = org.all().iter().map(|a| a.id.as_str()).collect();
    let listed: Vec<&str> = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 5);
    assert!(ids.iter().all(|id| listed.contains(id)), "{listed:?}");
    assert_eq!(
        doc["summary"],
        json!({"covered": 0, "uncovered": 8, "unknown": 2})
    );
    for region in [REGION, OTHER] {
        let c = cell(&doc, &org.member.id, region);
        assert_eq!(
            (c["status"].as_str(), c["trail"].as_str()),
            (Some("uncovered"), Some(org.trail.as_str()))
        );
        assert_eq!(c["bucket"], org.bucket.as_str());
        let keys = format!(
            "corp/AWSLogs/{}/{}/CloudTrail/{region}/",
            org.org_id, org.member.id
        );
        assert_eq!(c["prefix"], keys.as_str());
        let r = cell(&doc, &org.refused.id, region);
        assert_eq!(r["status"], "unknown");
        let why = r["reason"].as_str().unwrap();
        assert!(
            why.contains(&format!("role {} cannot be assumed", role(&org.refused.id)))
                && why.contains("AccessDenied"),
            "{why}"
        );
    }
    // One deployment in the log-archive account covers the organisation trail; the member's
    // own trail needs its own.
    let deployments = doc["suggestion"]["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 2, "{deployments:?}");
    let central = find(
        &doc["suggestion"]["deployments"],
        "notification_bucket",
        &org.bucket,
    );
    assert_eq!(central["account"], org.log_archive.id.as_str());
    assert_eq!(central["role_arn"], role(&org.log_archive.id).as_str());
    assert_eq!(central["prefix"], "corp/AWSLogs/");
    let rollout = doc["suggestion"]["rollout"].as_str().unwrap();
    assert!(
        rollout.contains(&format!("notification_bucket: \"{}\"", org.bucket)),
        "{rollout}"
    );

    let deploy = plus(
        inputs.base_args("foxtrot"),
        &[
            "--accounts",
            central["account"].as_str().unwrap(),
            "--role-arn",
            central["role_arn"].as_str().unwrap(),
            "--regions",
            central["region"].as_str().unwrap(),
            "--notification-bucket",
            central["notification_bucket"].as_str().unwrap(),
            "--prefix",
            central["prefix"].as_str().unwrap(),
            "--lambda-bucket",
            &format!("{}-zips", org.bucket),
            "--yes",
        ],
    );
    org.management.tool().args(deploy).run().assert_code(0);

    let logged: Vec<usize> = org
        .all()
        .iter()
        .map(|a| a.requests_in_account().len())
        .collect();
    let after = coverage(&org.management, &["--output", "json"]);
    after.assert_code(1);
    // The management and log-archive accounts alone, in every region they have enabled: the
    // organisation trail logs them all, and the log-archive bucket's entry takes them all.
    let two = format!("{},{}", org.management.id, org.log_archive.id);
    let alone = org.management.tool();
    let alone = alone.args(["coverage", "--accounts", &two, "--output", "json"]);
    let alone = alone.run();
    alone.assert_code(0);
    let summary = &alone.json()["summary"];
    assert!(summary["covered"].as_u64().unwrap() > 40, "{summary}");
    // `iam-policy coverage` grants exactly what coverage called, in every account (the role
    // assumption aside: the caller's, noted with the policy).
    let mut called = std::collections::BTreeSet::new();
    for (a, since) in org.all().iter().zip(logged) {
        called.extend(crate::iam::called_in_account_since(a, since));
    }
    called.remove("sts:AssumeRole");
    crate::iam::compare(
        "coverage",
        &called,
        &crate::iam::policy(&org.management, "coverage").0,
    );
    let doc = after.json();
    assert_eq!(
        doc["summary"],
        json!({"covered": 7, "uncovered": 1, "unknown": 2})
    );
    for a in [&org.management, &org.log_archive, &org.member] {
        for region in [REGION, OTHER] {
            let c = cell(&doc, &a.id, region);
            assert_eq!(
                (c["status"].as_str(), c["trail"].as_str()),
                (Some("covered"), Some(org.trail.as_str())),
                "{c}"
            );
            let f = c["function"].as_str().unwrap();
            assert!(
                f.starts_with(&format!(
                    "arn:aws:lambda:{REGION}:{}:function:",
                    org.log_archive.id
                )),
                "{f}"
            );
        }
    }
    let own = cell(&doc, &org.own.id, REGION);
    assert_eq!(
        (own["status"].as_str(), own["trail"].as_str()),
        (Some("uncovered"), Some(org.own_trail.as_str()))
    );
    let why = own["reason"].as_str().unwrap();
    assert!(
        why.contains("trail own writes to bucket") && why.contains("trail org does reach XDR"),
        "{why}"
    );
    assert_eq!(cell(&doc, &org.own.id, OTHER)["status"], "covered");
    assert_eq!(cell(&doc, &org.refused.id, REGION)["status"], "unknown");

    // The table, on a terminal's stdout.
    let text = coverage(&org.management, &[]);
    text.assert_code(1);
    let row = out_line(&text, &org.own.id, &["own-trail", "✗", "✓"]);
    assert!(!row.contains('?'), "{row}");
    out_line(&text, &org.refused.id, &["refusing", "?"]);
    out_line(
        &text,
        "coverage:",
        &["7 of 10 account-regions covered, 1 uncovered, 2 unknown (5 accounts)"],
    );
    out_line(&text, "regions:", &["use1 us-east-1", "euw1 eu-west-1"]);
    out_line(
        &text,
        "✗ ",
        &[&org.own.id, "us-east-1: trail own writes to bucket"],
    );
}

/// The first stdout line that starts with `start` and holds every one of `needles`.
fn out_line<'a>(run: &'a Run, start: &str, needles: &[&str]) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.starts_with(start) && needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line {start:?} with {needles:?}:\n{}", run.stdout))
}

#[tokio::test]
async fn an_entry_whose_prefix_misses_the_trails_keys_is_uncovered_with_both_prefixes() {
    let (acct, inputs, bucket) = setup("cov-prefix").await;
    let arn = trail(&acct, "main", &bucket, Some("corp"), false).await;
    acct.deploy(&inputs, &bucket, &["--prefix", "AWSLogs/"])
        .assert_code(0);
    let run = acct
        .tool()
        .args([
            "coverage",
            "--accounts",
            &acct.id,
            "--regions",
            REGION,
            "--output",
            "json",
        ])
        .run();
    run.assert_code(1);
    let c = cell(&run.json(), &acct.id, REGION);
    assert_eq!(
        (c["status"].as_str(), c["trail"].as_str()),
        (Some("uncovered"), Some(arn.as_str()))
    );
    let why = c["reason"].as_str().unwrap();
    let keys = format!("corp/AWSLogs/{}/CloudTrail/{REGION}/", acct.id);
    assert!(
        why.contains(&format!(
            "takes keys under \"AWSLogs/\", but trail main writes them under \"{keys}\""
        )),
        "{why}"
    );

    // Redeployed under the trail's prefix: covered, and the exit code says so. The account and
    // its region from a rollout file this time.
    acct.deploy(&inputs, &bucket, &["--prefix", "corp/AWSLogs/"])
        .assert_code(0);
    let rollout = format!(
        "targets:\n  - account: \"{}\"\n    regions: [{REGION}]\n",
        acct.id
    );
    let rollout = inputs.write("rollout.yaml", rollout);
    let run = acct
        .tool()
        .args(["coverage", "--config", &s(&rollout), "--output", "json"])
        .run();
    run.assert_code(0);
    assert_eq!(
        run.json()["summary"],
        json!({"covered": 1, "uncovered": 0, "unknown": 0})
    );
}

#[tokio::test]
async fn without_regions_each_account_is_read_in_the_regions_it_has_enabled() {
    let acct = Account::new().await;
    acct.disable_regions(&["af-south-1"]);
    let run = acct
        .tool()
        .args(["coverage", "--accounts", &acct.id, "--output", "json"])
        .run();
    run.assert_code(1);
    let doc = run.json();
    let regions: Vec<&str> = doc["accounts"][0]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["region"].as_str().unwrap())
        .collect();
    assert!(
        regions.contains(&"us-east-1") && regions.contains(&"ap-east-1"),
        "{regions:?}"
    );
    assert!(!regions.contains(&"af-south-1"), "{regions:?}");
    assert!(regions.len() > 20, "{regions:?}");
    let c = cell(&doc, &acct.id, "eu-west-1");
    assert_eq!(c["status"], "uncovered");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .starts_with("no trail logs eu-west-1"),
        "{c}"
    );
}

#[tokio::test]
async fn bad_input_and_an_organisation_that_cannot_be_listed_exit_2() {
    let acct = Account::new().await;
    for (args, needles) in [
        (
            vec!["--accounts", "12"],
            vec!["--accounts 12", "is not an account id"],
        ),
        (vec!["--regions", "nowhere"], vec!["--regions nowhere"]),
        (
            vec!["--role-arn", "OrganizationAccountAccessRole"],
            vec!["--role-arn", "is not a role ARN"],
        ),
        // An account in no organisation, without --accounts.
        (
            vec![],
            vec![
                "the organisation's accounts",
                "cannot be listed",
                "give --accounts",
            ],
        ),
    ] {
        let before = acct.requests().len();
        let run = acct.tool().args(plus(vec!["coverage".into()], &args)).run();
        run.assert_code(2).assert_stderr(&needles);
        assert!(acct.writes_since(before).is_empty());
        let json = acct
            .tool()
            .args(plus(
                vec!["coverage".into(), "--output".into(), "json".into()],
                &args,
            ))
            .run();
        json.assert_code(2);
        assert!(
            json.json()["problems"]
                .as_array()
                .is_some_and(|p| !p.is_empty()),
            "{}",
            json.stdout
        );
    }
}
