//! `--shard K/N`: one rollout split across N CI jobs, each account and region in one part.

use std::collections::BTreeSet;

use crate::harness::{Account, Inputs, accounts, bucket_name};
use crate::seed;

const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];

/// A rollout of 24 targets: three accounts (reached through a role) × four regions × two
/// Lambda stacks, each account and region with its own log bucket.
async fn rollout() -> (Account, Inputs, std::path::PathBuf) {
    let ([caller, a, b, c], inputs) = (accounts().await, Inputs::new());
    let base = bucket_name("shard");
    for acct in [&a, &b, &c] {
        for region in REGIONS {
            seed::bucket(acct, &format!("{base}-{}-{region}", acct.id), region).await;
        }
    }
    let ids = format!("[\"{}\", \"{}\", \"{}\"]", a.id, b.id, c.id);
    let entry = |stack: &str| {
        format!(
            "  - accounts: {ids}\n    regions: [{}]\n    stack_name: {stack}\n",
            REGIONS.join(", ")
        )
    };
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: \"{base}-{{account}}-{{region}}\"\nprefix: AWSLogs/\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\ntargets:\n{}{}",
            entry("taegis-one"),
            entry("taegis-two")
        ),
    );
    (caller, inputs, file)
}

/// Each target of a dry run's JSON result as (account, region, stack, its steps).
fn plans(doc: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    doc["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("{doc:#}"))
        .iter()
        .map(|t| {
            let steps: Vec<String> = t["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| format!("{}:{}", text(&s["name"]), text(&s["action"])))
                .collect();
            (
                text(&t["account"]),
                text(&t["region"]),
                text(&t["stack_name"]),
                steps.join(","),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_shards_of_a_rollout_are_exactly_the_whole_and_never_split_an_account_and_region() {
    let (caller, _inputs, file) = rollout().await;
    let dry = |extra: &[&str]| {
        let mut flags = vec!["--dry-run", "--output", "json"];
        flags.extend(extra);
        let run = caller.deploy_config(&flags, &file);
        run.assert_code(0);
        run.json()
    };
    let whole = plans(&dry(&[]));
    assert_eq!(whole.len(), 24);
    let mut union = Vec::new();
    let mut groups_seen: BTreeSet<(String, String)> = BTreeSet::new();
    for k in 1..=4 {
        let shard = format!("{k}/4");
        let doc = dry(&["--shard", &shard]);
        assert_eq!(doc["shard"], shard.as_str(), "the result names its shard");
        let part = plans(&doc);
        assert!(!part.is_empty(), "shard {shard} has work");
        let groups: BTreeSet<(String, String)> =
            part.iter().map(|p| (p.0.clone(), p.1.clone())).collect();
        for g in &groups {
            assert!(
                groups_seen.insert(g.clone()),
                "{g:?} is split across shards"
            );
            let in_part = part.iter().filter(|p| (&p.0, &p.1) == (&g.0, &g.1)).count();
            assert_eq!(
                in_part, 2,
                "both Lambda stacks of {g:?} are in shard {shard}"
            );
        }
        union.extend(part);
    }
    let (mut whole, mut union) = (whole, union);
    whole.sort();
    union.sort();
    assert_eq!(
        union, whole,
        "the shards together plan exactly what the whole run plans"
    );
}

#[tokio::test]
async fn a_shard_that_is_not_k_of_n_is_refused() {
    let acct = Account::new().await;
    let before = acct.requests().len();
    for bad in ["0/4", "5/4", "x/y", "4", "1/0"] {
        let run = acct
            .tool()
            .args(["deploy", "--dry-run", "--shard", bad])
            .run();
        run.assert_code(2);
        assert!(
            run.stderr.contains("--shard") && run.stderr.contains("K/N"),
            "{bad}: {}",
            run.stderr
        );
        assert_eq!(acct.requests().len(), before, "{bad}: asked AWS");
    }
}
