use super::*;
use crate::cli::{GuideArgs, TargetArgs};
use std::path::Path;

fn base() -> DeployArgs {
    DeployArgs {
        guide: GuideArgs {
            credentials: Some("creds.txt".into()),
            taegis_region: Some("foxtrot".into()),
            notification_bucket: Some("trail-logs".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn ok(args: &DeployArgs, region: Option<&str>, rollout: Option<&Rollout>) -> DeployConfig {
    let (c, pf) = resolve(args, None, region, rollout, Needs::Deploy);
    assert!(pf.is_ok(), "{:?}", pf.problems);
    c
}

fn one(args: &DeployArgs) -> TargetConfig {
    let c = ok(args, Some("us-east-1"), None);
    assert_eq!(c.targets.len(), 1);
    c.targets[0].clone()
}

fn problems(args: &DeployArgs, region: Option<&str>, rollout: Option<&Rollout>) -> Vec<String> {
    let (_, pf) = resolve(args, None, region, rollout, Needs::Deploy);
    assert!(!pf.is_ok());
    pf.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn defaults() {
    let t = one(&base());
    assert_eq!(t.stack_name, "taegis-cloudtrail");
    assert_eq!(t.shared_stack_name, "taegis-shared-resources");
    assert_eq!(t.integration_type, "awscloudtrail");
    assert_eq!(t.lambda_bucket, "taegis-lambda-{account}-us-east-1");
    assert_eq!(t.lambda_zip, PathBuf::from("taegis-lambda-amd64.zip"));
    assert_eq!(t.trigger, Trigger::S3);
    assert_eq!(t.region, "us-east-1");
    assert_eq!(t.credentials, CredentialsSource::File("creds.txt".into()));
    assert_eq!(t.source(Input::IntegrationType), Source::Default);
    assert_eq!(t.source(Input::NotificationBucket), Source::Flag);
    assert!(t.flawed.is_empty());
}

#[test]
fn a_bucket_url_gives_name_and_prefix_and_prefix_wins() {
    let mut a = base();
    a.guide.notification_bucket = Some("s3://trail-logs/AWSLogs/".into());
    let t = one(&a);
    assert_eq!(
        (t.notification_bucket.as_str(), t.prefix.as_str()),
        ("trail-logs", "AWSLogs/")
    );
    a.guide.prefix = Some("other/".into());
    assert_eq!(one(&a).prefix, "other/");
}

#[test]
fn missing_and_bad_inputs_are_all_reported() {
    let p = problems(&DeployArgs::default(), None, None);
    assert!(p.iter().any(|p| p.contains("no region")), "{p:?}");
    let p = problems(
        &DeployArgs {
            targets: TargetArgs {
                regions: vec!["us-east-1".into()],
                ..Default::default()
            },
            ..Default::default()
        },
        None,
        None,
    );
    for want in ["--taegis-region", "--notification-bucket"] {
        assert!(p.iter().any(|p| p.contains(want)), "{want}: {p:?}");
    }
    let mut a = base();
    a.targets.regions = vec!["us-east-1".into(), "mars-1".into()];
    a.guide.parameters = vec!["NoEquals".into()];
    a.guide.trigger = Some(Trigger::Sns);
    a.targets.timeout = Some("soon".into());
    let p = problems(&a, None, None);
    for want in ["\"mars-1\"", "NoEquals", "--sns-topic-arn", "--timeout"] {
        assert!(p.iter().any(|p| p.contains(want)), "{want}: {p:?}");
    }
}

#[test]
fn targets_are_built_even_with_problems_and_know_which_inputs_are_flawed() {
    let mut a = base();
    a.targets.stacks.stack_name = Some("bad name".into());
    a.guide.prefix = Some("/x".into());
    let (c, pf) = resolve(&a, None, Some("us-east-1"), None, Needs::Deploy);
    assert_eq!(pf.problems.len(), 2, "{:?}", pf.problems);
    assert_eq!(c.targets.len(), 1);
    let flawed = &c.targets[0].flawed;
    assert!(flawed.contains(&Input::StackName) && flawed.contains(&Input::Prefix));
    assert!(!flawed.contains(&Input::NotificationBucket));
}

#[test]
fn regions_and_accounts_multiply() {
    let mut a = base();
    a.targets.regions = vec!["us-east-1".into(), "eu-west-1".into()];
    a.targets.accounts = vec!["111111111111".into(), "222222222222".into()];
    a.targets.role_arn = Some("arn:aws:iam::{account}:role/Deployer".into());
    let c = ok(&a, None, None);
    let labels: Vec<_> = c.targets.iter().map(TargetConfig::label).collect();
    assert_eq!(
        labels,
        [
            "111111111111/us-east-1",
            "222222222222/us-east-1",
            "111111111111/eu-west-1",
            "222222222222/eu-west-1"
        ]
    );
    assert_eq!(
        c.targets[1].role_arn.as_deref(),
        Some("arn:aws:iam::222222222222:role/Deployer")
    );
    a.targets.regions = vec!["us-east-1".into(), "us-east-1".into()];
    assert!(problems(&a, None, None).iter().any(|p| p.contains("twice")));
}

#[test]
fn shards_deal_whole_account_and_region_groups_round_the_parts() {
    let mut a = base();
    a.targets.regions = vec!["us-east-1".into(), "eu-west-1".into(), "us-west-2".into()];
    a.targets.accounts = vec!["111111111111".into(), "222222222222".into()];
    a.targets.role_arn = Some("arn:aws:iam::{account}:role/Deployer".into());
    let whole: Vec<String> = ok(&a, None, None)
        .targets
        .iter()
        .map(TargetConfig::label)
        .collect();
    let mut union = Vec::new();
    for k in 1..=4 {
        a.targets.shard = Some(crate::kinds::Shard { k, n: 4 });
        let part: Vec<String> = ok(&a, None, None)
            .targets
            .iter()
            .map(TargetConfig::label)
            .collect();
        // Six groups over four parts: two, two, one, one.
        assert_eq!(part.len(), if k <= 2 { 2 } else { 1 }, "{k}/4: {part:?}");
        union.extend(part);
    }
    union.sort();
    let mut whole = whole;
    whole.sort();
    assert_eq!(union, whole);
    for (text, ok) in [
        ("2/4", true),
        ("4/4", true),
        ("0/4", false),
        ("5/4", false),
        ("x/y", false),
        ("3", false),
    ] {
        assert_eq!(text.parse::<crate::kinds::Shard>().is_ok(), ok, "{text}");
    }
}

#[test]
fn any_well_formed_region_is_taken() {
    let mut a = base();
    a.targets.regions = vec!["eu-future-1".into()];
    assert_eq!(ok(&a, None, None).targets[0].region, "eu-future-1");
}

#[test]
fn sns_topic_implies_sns_trigger() {
    let mut a = base();
    a.guide.sns_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:t".into());
    assert_eq!(one(&a).trigger, Trigger::Sns);
}

#[test]
fn accounts_may_take_their_role_from_the_file() {
    let r = Rollout::parse(
        Path::new("f.yaml"),
        "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\nrole_arn: \"arn:aws:iam::{account}:role/D\"\n",
    )
    .unwrap();
    let a = DeployArgs {
        targets: TargetArgs {
            accounts: vec!["111111111111".into()],
            regions: vec!["us-east-1".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let c = ok(&a, None, Some(&r));
    assert_eq!(
        c.targets[0].role(),
        Some("arn:aws:iam::111111111111:role/D".into())
    );
}

#[test]
fn placeholders_expand_in_every_string_key() {
    let r = Rollout::parse(
        Path::new("/etc/r/f.yaml"),
        "taegis_region: echo\ncredentials: \"creds-{account}.txt\"\nnotification_bucket: \"logs-{account}-{region}\"\nstack_name: \"ct-{region}\"\nshared_stack_name: \"shared-{account}\"\nprefix: \"AWSLogs/{account}/\"\nsns_topic_arn: \"arn:aws:sns:{region}:{account}:t\"\nparameters: { EnableObjectTagging: \"{region}\" }\ntargets:\n  - regions: [eu-west-1]\n",
    )
    .unwrap();
    let c = ok(&DeployArgs::default(), None, Some(&r));
    let t = &c.targets[0];
    assert_eq!(t.stack_name, "ct-eu-west-1");
    assert_eq!(t.parameters["EnableObjectTagging"].value, "eu-west-1");
    assert_eq!(t.origin, " (rollout file /etc/r/f.yaml, target 1)");
    let t = t.for_account("111111111111");
    assert_eq!(t.notification_bucket, "logs-111111111111-eu-west-1");
    assert_eq!(t.shared_stack_name, "shared-111111111111");
    assert_eq!(t.prefix, "AWSLogs/111111111111/");
    assert_eq!(
        t.sns_topic_arn.as_deref(),
        Some("arn:aws:sns:eu-west-1:111111111111:t")
    );
    assert_eq!(
        t.credentials,
        CredentialsSource::File("/etc/r/creds-111111111111.txt".into())
    );
    assert_eq!(t.source(Input::StackName), Source::File);
}

#[test]
fn rollout_file_flags_win_and_paths_are_relative_to_it() {
    let text = r#"
taegis_region: echo
credentials: creds.txt
lambda_bucket: "zips-{account}-{region}"
parameters: { EnableObjectTagging: "true" }
targets:
  - account: "111111111111"
role_arn: "arn:aws:iam::{account}:role/D"
regions: [us-east-1, eu-west-1]
notification_bucket: "logs-{region}"
prefix: "AWSLogs/"
"#;
    let r = Rollout::parse(Path::new("/etc/rollouts/prod.yaml"), text).unwrap();
    let mut a = DeployArgs {
        targets: TargetArgs {
            stacks: crate::cli::StackNames {
                stack_name: Some("ct".into()),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let c = ok(&a, None, Some(&r));
    assert_eq!(c.targets.len(), 2);
    let t = &c.targets[1];
    assert_eq!(t.label(), "111111111111/eu-west-1/ct");
    assert_eq!(
        t.credentials,
        CredentialsSource::File("/etc/rollouts/creds.txt".into())
    );
    assert_eq!(t.taegis_region, "echo");
    assert_eq!(t.stack_name, "ct");
    assert_eq!(t.source(Input::StackName), Source::Flag);
    assert_eq!(t.notification_bucket, "logs-eu-west-1");
    assert_eq!(t.lambda_bucket, "zips-111111111111-eu-west-1");
    assert_eq!(t.parameters["EnableObjectTagging"].value, "true");
    assert_eq!(t.parameters["EnableObjectTagging"].source, Source::File);
    a.guide.taegis_region = Some("golf".into());
    assert_eq!(ok(&a, None, Some(&r)).targets[0].taegis_region, "golf");
}

#[test]
fn flags_win_over_the_file_and_targets_over_region() {
    let r = Rollout::parse(
        Path::new("f.yaml"),
        "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\nregion: eu-west-1\n",
    )
    .unwrap();
    let a = DeployArgs {
        guide: GuideArgs {
            xdr_url: Some("https://golf.taegis.secureworks.com".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let resolve_ok = |region_flag, env| {
        let (c, pf) = resolve(&a, region_flag, env, Some(&r), Needs::Deploy);
        assert!(pf.is_ok(), "{:?}", pf.problems);
        c
    };
    let c = resolve_ok(Some("us-east-2"), Some("us-west-2"));
    assert_eq!(
        c.targets[0].taegis_region, "golf",
        "--xdr-url beats the file's taegis_region"
    );
    assert_eq!(
        c.targets[0].region, "us-east-2",
        "--region beats the file's top-level region"
    );
    let c = resolve_ok(None, Some("us-west-2"));
    assert_eq!(
        c.targets[0].region, "eu-west-1",
        "the file beats AWS_REGION"
    );
    let t = Rollout::parse(
        Path::new("f.yaml"),
        "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\ntargets:\n  - regions: [ca-central-1]\n",
    )
    .unwrap();
    let (c, _) = resolve(
        &DeployArgs::default(),
        Some("us-east-2"),
        None,
        Some(&t),
        Needs::Deploy,
    );
    assert_eq!(
        c.targets[0].region, "ca-central-1",
        "a target's regions beat --region"
    );
}
