//! Many regions and accounts in one run, with per-target results.

use crate::harness::{Account, Inputs, accounts, bucket_name, each_target, find, plus};
use crate::seed;
use crate::state::FUNCTION;

/// A deploy to us-east-1 and eu-west-1 (XDR region echo), each with its own `{base}-{region}`
/// log bucket.
pub fn two_regions(inputs: &Inputs, base: &str) -> Vec<String> {
    let buckets = format!("{base}-{{region}}");
    let regions = ["--regions", "us-east-1,eu-west-1"];
    let flags = plus(inputs.base_args("echo"), &regions);
    plus(flags, &["--notification-bucket", &buckets, "--yes"])
}

/// `two_regions`, with a JSON result.
fn two_regions_json(inputs: &Inputs, base: &str) -> Vec<String> {
    plus(two_regions(inputs, base), &["--output", "json"])
}

/// A fresh account with a `{base}-{region}` bucket in each of `regions`: (account, inputs, base).
pub async fn regional_buckets(what: &str, regions: &[&str]) -> (Account, Inputs, String) {
    let (acct, inputs, base) = (Account::new().await, Inputs::new(), bucket_name(what));
    for region in regions {
        seed::bucket(&acct, &format!("{base}-{region}"), region).await;
    }
    (acct, inputs, base)
}

#[tokio::test]
async fn two_regions_in_one_run() {
    let both = ["us-east-1", "eu-west-1"];
    let (acct, inputs, base) = regional_buckets("trail-multi", &both).await;
    let run = acct.tool().args(two_regions_json(&inputs, &base)).run();
    let doc = run.assert_code(0).json();
    assert_eq!(each_target(&doc, "region"), ["us-east-1", "eu-west-1"]);
    assert_eq!(each_target(&doc, "outcome"), ["created"; 2], "{doc:#}");
    for region in ["us-east-1", "eu-west-1"] {
        // The function lives in its region, with its code from a bucket of that region.
        let arn = acct.function_arn(region, FUNCTION).await.unwrap();
        assert!(arn.contains(region), "{arn}");
        let zips = format!("taegis-lambda-{}-{region}", acct.id);
        assert_eq!(acct.object_keys(region, &zips).await.len(), 1);
    }
}

#[tokio::test]
async fn a_rollout_file_reaches_other_accounts_through_a_role() {
    // The caller's own account only assumes roles; the work happens in two others.
    let ([caller, a, b], inputs) = (accounts().await, Inputs::new());
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
    let run = caller.deploy_config(&["--yes", "--output", "json"], &file);
    let doc = run.assert_code(0).json();
    assert_eq!(each_target(&doc, "account"), [a.id.clone(), b.id.clone()]);
    for acct in [&a, &b] {
        let arn = acct.function_arn("us-east-1", FUNCTION).await.unwrap();
        assert!(arn.contains(&acct.id), "{arn}");
    }
    // One AssumeRole per account for the whole run, shared by every client of its targets.
    assert_eq!(caller.calls("AssumeRole"), 2);
    // Nothing landed in the caller's own account.
    assert!(caller.stack_names().await.is_empty());
}

#[tokio::test]
async fn a_target_failing_its_preflight_is_reported_while_the_others_go_on() {
    // Only us-east-1 has its bucket: eu-west-1 fails its preflight.
    let (acct, inputs, base) = regional_buckets("trail-partial", &["us-east-1"]).await;
    let run = acct.tool().args(two_regions_json(&inputs, &base)).run();
    let doc = run.assert_code(1).json();
    let by_region = |r: &str| find(&doc["targets"], "region", r);
    assert_eq!(by_region("us-east-1")["outcome"], "created");
    let eu = by_region("eu-west-1");
    assert_eq!(eu["outcome"], "failed");
    assert_eq!(eu["account"], acct.id.as_str());
    let error = eu["error"].as_str().unwrap();
    assert!(error.contains("no such bucket"), "{eu:#}");
    run.assert_stderr(&["[", "eu-west-1"]);
}

#[tokio::test]
async fn a_region_flag_the_targets_do_not_use_is_said() {
    let (acct, inputs, bucket) = crate::harness::setup("trail-region-flag").await;
    let files = inputs.files_yaml();
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\n{files}notification_bucket: {bucket}\nlambda_bucket: {bucket}-zips\ntargets:\n  - regions: [us-east-1]\n"
        ),
    );
    let flags = ["--dry-run", "--output", "json", "--region", "eu-west-1"];
    let run = acct.deploy_config(&flags, &file);
    run.assert_code(0)
        .assert_stderr(&["--region eu-west-1 is not used", "--regions"]);
    assert_eq!(run.json()["targets"][0]["region"], "us-east-1");
}

/// A region one account has enabled and another has not, and an account whose role does not
/// exist: each target says its own cause, the others are deployed.
#[tokio::test]
async fn a_region_off_in_one_account_and_a_missing_role_fail_only_their_targets() {
    let ([caller, on, off, roleless], inputs) = (accounts().await, Inputs::new());
    let base = bucket_name("trail-optin");
    let region = "af-south-1";
    for acct in [&on, &off, &roleless] {
        seed::bucket(acct, &format!("{base}-{}", acct.id), region).await;
    }
    off.disable_regions(&[region]);
    roleless.behave(serde_json::json!({"strict_roles": true}));
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: \"{base}-{{account}}\"\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\nregions: [{region}]\naccounts: [\"{}\", \"{}\", \"{}\"]\n",
            on.id, off.id, roleless.id
        ),
    );
    let run = caller.deploy_config(&["--yes", "--output", "json"], &file);
    let doc = run.assert_code(1).json();
    let outcome = |id: &str| {
        let targets = doc["targets"].as_array().unwrap().iter();
        let mut of = targets
            .filter(|t| t["account"] == id || t["error"].as_str().is_some_and(|e| e.contains(id)));
        of.next()
            .unwrap_or_else(|| panic!("no target of {id}: {doc:#}"))["outcome"]
            .clone()
    };
    assert_eq!(outcome(&on.id), "created", "{doc:#}");
    assert_eq!(outcome(&off.id), "failed");
    let off_said = format!("not enabled for account {}", off.id);
    run.line("error:", &[&off.id, &off_said]);
    run.line(
        "error:",
        &[&roleless.id, "cannot be assumed (AccessDenied: User: "],
    );
    assert!(
        !run.stderr.contains("DispatchFailure") && !run.stderr.contains("Some("),
        "{}",
        run.stderr
    );
}
