//! Many targets from one CI job: every account and region, several Lambda stacks in one
//! region, one target failing while the others go on, and a re-run of just what did not finish.

use serde_json::json;

use crate::harness::{Account, Inputs, accounts, bucket_name, detail, each_target, find, s};
use crate::seed;

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-southeast-1",
];

#[tokio::test]
async fn a_fleet_of_24_targets_with_one_failing_then_a_retry_of_just_that_one() {
    let ([caller, a, b, c], inputs) = (accounts().await, Inputs::new());
    let accounts = [a, b, c];
    let base = bucket_name("fleet");
    // Every account and region has its trail bucket, but one.
    let (missing_account, missing_region) = (&accounts[1], "eu-west-2");
    for acct in &accounts {
        for region in REGIONS {
            if (acct.id.as_str(), region) != (missing_account.id.as_str(), missing_region) {
                seed::bucket(acct, &format!("{base}-{}-{region}", acct.id), region).await;
            }
        }
    }
    let ids: Vec<String> = accounts.iter().map(|a| format!("\"{}\"", a.id)).collect();
    let file = inputs.write(
        "fleet.yaml",
        format!(
            "taegis_region: delta\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: \"{base}-{{account}}-{{region}}\"\nprefix: AWSLogs/\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\naccounts: [{}]\nregions: [{}]\nconcurrency: 8\n",
            ids.join(", "),
            REGIONS.join(", ")
        ),
    );
    let flags = ["--yes", "--output", "json"];
    let run = caller.deploy_config(&flags, &file);
    let doc = run.assert_code(1).json();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 24);
    let failed: Vec<&serde_json::Value> = targets
        .iter()
        .filter(|t| t["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{doc:#}");
    assert_eq!(failed[0]["account"], missing_account.id.as_str());
    assert_eq!(failed[0]["region"], missing_region);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains("no such bucket"), "{}", failed[0]);
    assert!(targets.iter().filter(|t| t["outcome"] == "created").count() == 23);
    run.assert_stderr(&[&format!("[{}/{missing_region}]", missing_account.id)]);

    // The bucket is made; a re-run from the result works on that target alone.
    seed::bucket(
        missing_account,
        &format!("{base}-{}-{missing_region}", missing_account.id),
        missing_region,
    )
    .await;
    let result = inputs.write("result.json", &run.stdout);
    let marks: Vec<usize> = accounts
        .iter()
        .map(|a| a.requests_in_account().len())
        .collect();
    let result = s(&result);
    let retry = [&flags[..], &["--retry-from", &result]].concat();
    let doc = caller.deploy_config(&retry, &file).assert_code(0).json();
    assert_eq!(each_target(&doc, "outcome"), ["created"], "{doc:#}");
    for (acct, mark) in accounts.iter().zip(marks) {
        let touched: Vec<_> = acct.requests_in_account().into_iter().skip(mark).collect();
        if acct.id == missing_account.id {
            assert!(
                touched
                    .iter()
                    .all(|r| r.region.as_deref() == Some(missing_region) || r.region.is_none()),
                "{touched:?}"
            );
            assert!(!touched.is_empty());
        } else {
            assert!(touched.is_empty(), "{} was touched: {touched:?}", acct.id);
        }
    }
}

#[tokio::test]
async fn two_lambda_stacks_in_one_region_share_one_shared_stack_made_once() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let (first, second) = (bucket_name("share-a"), bucket_name("share-b"));
    for b in [&first, &second] {
        seed::bucket(&acct, b, "us-east-1").await;
    }
    let file = inputs.write(
        "two.yaml",
        format!(
            "taegis_region: echo\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nregion: us-east-1\ntargets:\n  - stack_name: ct-a\n    notification_bucket: {first}\n  - stack_name: ct-b\n    notification_bucket: {second}\n"
        ),
    );
    let mark = acct.requests().len();
    let run = acct.deploy_config(&["--yes", "--output", "json"], &file);
    let doc = run.assert_code(0).json();
    assert_eq!(each_target(&doc, "outcome"), ["created"; 2], "{doc:#}");
    // The step `name` of both targets.
    let steps = |name: &str| [0, 1].map(|i| find(&doc["targets"][i]["steps"], "name", name));
    let [first_shared, second_shared] = steps("shared-stack");
    assert_eq!(first_shared["action"], "create");
    assert_eq!(second_shared["action"], "skip");
    assert!(
        detail(&second_shared).contains("by stack ct-a"),
        "{second_shared}"
    );
    let requests = acct.requests();
    let creates = requests[mark..]
        .iter()
        .filter(|r| r.action == "CreateStack");
    assert_eq!(creates.count(), 3, "one shared stack and two Lambda stacks");
    for name in ["lambda-bucket", "upload-lambda-zip"] {
        let actions = steps(name).map(|s| s["action"].clone());
        assert_eq!(actions, [json!("create"), json!("skip")], "{name} once");
    }
    // A second shared stack in the same region would fight the first for its exports.
    let other = inputs.write(
        "other.yaml",
        format!(
            "taegis_region: echo\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nregion: us-east-1\ntargets:\n  - stack_name: ct-c\n    notification_bucket: {first}\n    prefix: c/\n  - stack_name: ct-d\n    shared_stack_name: other-shared\n    notification_bucket: {second}\n    prefix: d/\n"
        ),
    );
    let run = acct.writing_nothing(|| acct.deploy_config(&["--yes", "--dry-run"], &other));
    // (ct-c also meets ct-a's entry on the same bucket: both targets fail their preflight.)
    let said = [
        "--shared-stack-name other-shared",
        "once per account and region",
    ];
    run.assert_code(2).line("", &said);
}

#[tokio::test]
async fn without_a_terminal_every_line_names_its_target_and_holds_no_control_character() {
    let both = ["us-east-1", "eu-west-1"];
    let (acct, inputs, base) = crate::rollout::regional_buckets("plain", &both).await;
    let args = crate::rollout::two_regions(&inputs, &base);
    let run = acct.tool().args(args).env("TERM", "xterm").run();
    run.assert_code(0);
    assert!(!run.stderr.is_empty());
    for line in run.stderr.lines() {
        assert!(
            line.starts_with(&format!("[{}/us-east-1]", acct.id))
                || line.starts_with(&format!("[{}/eu-west-1]", acct.id)),
            "a line without its target: {line:?}"
        );
        assert!(
            !line.chars().any(|c| c.is_control()),
            "a control character in {line:?}"
        );
    }
}

/// When `account`'s Lambda stack was created (the emulator's stack operation record).
fn lambda_stack_finished(account: &str) -> f64 {
    let (status, body) = crate::harness::http(
        "GET",
        &format!("/_taegis/stack-operations?account={account}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    doc["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["stack"] == "taegis-cloudtrail" && o["operation"] == "create")
        .and_then(|o| o["finished"].as_f64())
        .unwrap_or_else(|| panic!("no finished create of the Lambda stack in {account}: {doc:#}"))
}

/// Sixteen targets, two at a time, the first of them slow (its stacks take seconds per
/// resource): the other fifteen all finish in the second slot while it runs, and the results
/// keep the input order.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_target_holds_back_no_other() {
    let (caller, inputs) = (Account::new().await, Inputs::new());
    let accounts: [Account; 16] = accounts().await;
    let base = bucket_name("fleet-slow");
    for acct in &accounts {
        seed::bucket(acct, &format!("{base}-{}", acct.id), "us-east-1").await;
    }
    let slow = &accounts[0];
    slow.behave(serde_json::json!({"resource_seconds": 3}));
    let ids: Vec<String> = accounts.iter().map(|a| format!("\"{}\"", a.id)).collect();
    let file = inputs.write(
        "fleet.yaml",
        format!(
            "taegis_region: delta\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: \"{base}-{{account}}\"\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\naccounts: [{}]\nregion: us-east-1\nconcurrency: 2\n",
            ids.join(", ")
        ),
    );
    let run = caller.deploy_config(&["--yes", "--output", "json"], &file);
    slow.behave_normally();
    let order = each_target(&run.assert_code(0).json(), "account");
    let want: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(order, want, "results in input order");
    let slow_done = lambda_stack_finished(&slow.id);
    let late: Vec<&str> = accounts[1..]
        .iter()
        .filter(|a| lambda_stack_finished(&a.id) > slow_done)
        .map(|a| a.id.as_str())
        .collect();
    assert!(late.is_empty(), "waited for the slow target: {late:?}");
}
