//! Many regions and accounts in one run, with per-target results.

use crate::harness::{Account, Inputs, bucket_name, s};
use crate::seed;
use crate::state::FUNCTION;

/// A deploy to us-east-1 and eu-west-1, each with its own `{base}-{region}` log bucket.
fn two_regions(inputs: &Inputs, base: &str) -> Vec<String> {
    [
        "deploy",
        "--credentials",
        &s(&inputs.credentials),
        "--taegis-region",
        "echo",
        "--lambda-zip",
        &s(&inputs.zip),
        "--regions",
        "us-east-1,eu-west-1",
        "--notification-bucket",
        &format!("{base}-{{region}}"),
        "--yes",
        "--output",
        "json",
    ]
    .map(str::to_string)
    .to_vec()
}

#[tokio::test]
async fn two_regions_in_one_run() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let base = bucket_name("trail-multi");
    for region in ["us-east-1", "eu-west-1"] {
        seed::bucket(&acct, &format!("{base}-{region}"), region).await;
    }
    let run = acct.tool().args(two_regions(&inputs, &base)).run();
    run.assert_code(0);
    let doc = run.json();
    let targets = doc["targets"].as_array().unwrap();
    let regions: Vec<_> = targets
        .iter()
        .map(|t| t["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["us-east-1", "eu-west-1"]);
    for t in targets {
        assert_eq!(t["outcome"], "created", "{t:#}");
        let region = t["region"].as_str().unwrap();
        // The function lives in its region, with its code from a bucket of that region.
        let lambda = aws_sdk_lambda::Client::new(&acct.config_in(region));
        let f = lambda
            .get_function()
            .function_name(FUNCTION)
            .send()
            .await
            .unwrap();
        assert!(
            f.configuration()
                .unwrap()
                .function_arn()
                .unwrap()
                .contains(region)
        );
        let zips = acct
            .s3_in(region)
            .list_objects_v2()
            .bucket(format!("taegis-lambda-{}-{region}", acct.id))
            .send()
            .await
            .unwrap();
        assert_eq!(zips.contents().len(), 1);
    }
}

#[tokio::test]
async fn a_rollout_file_reaches_other_accounts_through_a_role() {
    // The caller's own account only assumes roles; the work happens in two others.
    let caller = Account::new().await;
    let (a, b) = (Account::new().await, Account::new().await);
    let inputs = Inputs::new();
    let base = bucket_name("trail-org");
    for acct in [&a, &b] {
        seed::bucket(acct, &format!("{base}-{}", acct.id), "us-east-1").await;
    }
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: \"{base}-{{account}}\"\nprefix: AWSLogs/\ntargets:\n  - account: \"{}\"\n    role_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\n    regions: [us-east-1]\n  - account: \"{}\"\n    role_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\n    regions: [us-east-1]\n",
            a.id, b.id
        ),
    );
    let run = caller
        .tool()
        .args(["deploy", "--yes", "--output", "json", "--config", &s(&file)])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let accounts: Vec<_> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["account"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(accounts, [a.id.clone(), b.id.clone()]);
    for acct in [&a, &b] {
        let f = acct
            .lambda()
            .get_function()
            .function_name(FUNCTION)
            .send()
            .await
            .unwrap();
        assert!(
            f.configuration()
                .unwrap()
                .function_arn()
                .unwrap()
                .contains(&acct.id)
        );
    }
    // One AssumeRole per account for the whole run, shared by every client of its targets.
    let assumed = caller
        .requests()
        .iter()
        .filter(|r| r.action == "AssumeRole")
        .count();
    assert_eq!(assumed, 2);
    // Nothing landed in the caller's own account.
    assert!(
        caller
            .cfn()
            .describe_stacks()
            .send()
            .await
            .unwrap()
            .stacks()
            .is_empty()
    );
}

#[tokio::test]
async fn a_target_failing_its_preflight_is_reported_while_the_others_go_on() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let base = bucket_name("trail-partial");
    // Only us-east-1 has its bucket: eu-west-1 fails its preflight.
    seed::bucket(&acct, &format!("{base}-us-east-1"), "us-east-1").await;
    let run = acct.tool().args(two_regions(&inputs, &base)).run();
    run.assert_code(1);
    let doc = run.json();
    let by_region = |r: &str| {
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["region"] == r)
            .unwrap()
            .clone()
    };
    assert_eq!(by_region("us-east-1")["outcome"], "created");
    let eu = by_region("eu-west-1");
    assert_eq!(eu["outcome"], "failed");
    assert_eq!(eu["account"], acct.id.as_str());
    assert!(
        eu["error"].as_str().unwrap().contains("no such bucket"),
        "{eu:#}"
    );
    assert!(
        run.stderr.contains("[") && run.stderr.contains("eu-west-1"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_region_flag_the_targets_do_not_use_is_said() {
    let (acct, inputs, bucket) = crate::harness::setup("trail-region-flag").await;
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: {}\nlambda_zip: {}\nnotification_bucket: {bucket}\nlambda_bucket: {bucket}-zips\ntargets:\n  - regions: [us-east-1]\n",
            s(&inputs.credentials),
            s(&inputs.zip)
        ),
    );
    let run = acct
        .tool()
        .args([
            "deploy",
            "--dry-run",
            "--output",
            "json",
            "--region",
            "eu-west-1",
            "--config",
        ])
        .arg_path(&file)
        .run();
    run.assert_code(0);
    assert!(
        run.stderr.contains("--region eu-west-1 is not used") && run.stderr.contains("--regions"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["targets"][0]["region"], "us-east-1");
}

/// A region one account has enabled and another has not, and an account whose role does not
/// exist: each target says its own cause, the others are deployed.
#[tokio::test]
async fn a_region_off_in_one_account_and_a_missing_role_fail_only_their_targets() {
    let caller = Account::new().await;
    let (on, off, roleless) = (
        Account::new().await,
        Account::new().await,
        Account::new().await,
    );
    let inputs = Inputs::new();
    let base = bucket_name("trail-optin");
    let region = "af-south-1";
    for acct in [&on, &off, &roleless] {
        seed::bucket(acct, &format!("{base}-{}", acct.id), region).await;
    }
    let body = serde_json::json!({"account": off.id, "disabled": [region]}).to_string();
    let (status, answer) = crate::harness::http("POST", "/_taegis/regions", Some(&body));
    assert_eq!(status, 200, "{answer}");
    roleless.behave(serde_json::json!({"strict_roles": true}));
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: \"{base}-{{account}}\"\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\nregions: [{region}]\naccounts: [\"{}\", \"{}\", \"{}\"]\n",
            on.id, off.id, roleless.id
        ),
    );
    let run = caller
        .tool()
        .args(["deploy", "--yes", "--output", "json", "--config", &s(&file)])
        .run();
    run.assert_code(1);
    let doc = run.json();
    let outcome = |id: &str| {
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["account"] == id || t["error"].as_str().is_some_and(|e| e.contains(id)))
            .unwrap_or_else(|| panic!("no target of {id}: {doc:#}"))
            .clone()
    };
    assert_eq!(outcome(&on.id)["outcome"], "created", "{doc:#}");
    assert_eq!(outcome(&off.id)["outcome"], "failed");
    for (who, said) in [
        (&off.id, format!("not enabled for account {}", off.id)),
        (
            &roleless.id,
            "cannot be assumed (AccessDenied: User: ".to_string(),
        ),
    ] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with("error:") && l.contains(who.as_str()) && l.contains(&said)),
            "{said}:\n{}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains("DispatchFailure") && !run.stderr.contains("Some("),
        "{}",
        run.stderr
    );
}
