//! `destroy`: the guide's removal, in the safe order, touching nothing that is not ours.

use crate::harness::{Account, Inputs, Run, bucket_name, s, setup};
use crate::seed;
use crate::state::FUNCTION;

fn destroy(acct: &Account, extra: &[&str]) -> Run {
    acct.tool()
        .args(["destroy", "--yes", "--output", "json"])
        .args(extra)
        .run()
}

async fn stack_exists(acct: &Account, name: &str) -> bool {
    acct.cfn()
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .is_ok_and(|o| {
            o.stacks()
                .first()
                .is_some_and(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
        })
}

#[tokio::test]
async fn destroy_removes_ours_and_leaves_everyone_elses_entries_as_they_were() {
    let (acct, inputs, bucket) = setup("trail-destroy").await;
    let foreign = seed::foreign_notifications(&acct, &bucket).await;
    let before = seed::notifications(&acct, &bucket).await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--prefix", "AWSLogs/"])
        .run()
        .assert_code(0);
    let secret_arn = acct
        .cfn()
        .describe_stacks()
        .stack_name("taegis-shared-resources")
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("SecretArn"))
        .and_then(|o| o.output_value())
        .unwrap()
        .to_string();

    // Without --yes and without a terminal: exit 2, nothing removed.
    let refused = acct.tool().args(["destroy"]).run();
    refused.assert_code(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(stack_exists(&acct, "taegis-cloudtrail").await);

    let run = destroy(&acct, &["--shared", "--delete-zip"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["outcome"], "destroyed", "{doc:#}");
    let after = seed::notifications(&acct, &bucket).await;
    assert_eq!(after.queue_configurations(), before.queue_configurations());
    assert_eq!(after.topic_configurations(), before.topic_configurations());
    assert_eq!(
        after.lambda_function_configurations(),
        foreign.lambda_function_configurations()
    );
    assert_eq!(
        after.event_bridge_configuration(),
        before.event_bridge_configuration()
    );
    assert!(!stack_exists(&acct, "taegis-cloudtrail").await);
    assert!(!stack_exists(&acct, "taegis-shared-resources").await);
    assert!(
        acct.lambda()
            .get_function()
            .function_name(FUNCTION)
            .send()
            .await
            .is_err(),
        "the function is gone"
    );
    assert!(
        acct.secrets()
            .describe_secret()
            .secret_id(&secret_arn)
            .send()
            .await
            .is_err(),
        "the secret is gone"
    );
    let zips = acct
        .s3()
        .list_objects_v2()
        .bucket(format!("{bucket}-zips"))
        .send()
        .await
        .unwrap();
    assert!(zips.contents().is_empty(), "{:?}", zips.contents());
    // The other consumer's function still has its own permission.
    assert!(
        acct.lambda()
            .get_policy()
            .function_name("other-consumer")
            .send()
            .await
            .is_ok()
    );

    // Again: nothing to do, nothing written; the dry run writes nothing either.
    for extra in [
        &["--shared", "--delete-zip"][..],
        &["--dry-run", "--shared"][..],
    ] {
        let before = acct.requests().len();
        let run = destroy(&acct, extra);
        run.assert_code(0);
        let doc = run.json();
        let outcome = &doc["targets"][0]["outcome"];
        assert!(outcome == "unchanged" || outcome == "planned", "{doc:#}");
        assert!(
            acct.writes_since(before).is_empty(),
            "{:?}",
            acct.writes_since(before)
        );
    }
}

#[tokio::test]
async fn an_sns_trigger_is_unsubscribed_and_a_hand_made_subscription_of_another_function_kept() {
    let (acct, inputs, bucket) = setup("trail-destroy-sns").await;
    let topic = seed::topic(&acct, "destroy-news").await;
    let other = seed::other_function(&acct, &bucket).await;
    acct.sns()
        .subscribe()
        .topic_arn(&topic)
        .protocol("lambda")
        .endpoint(&other)
        .send()
        .await
        .unwrap();
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--sns-topic-arn", &topic])
        .run()
        .assert_code(0);
    assert_eq!(
        seed::subscriptions(&acct, &topic)
            .await
            .subscriptions()
            .len(),
        2
    );
    destroy(&acct, &[]).assert_code(0);
    let subs = seed::subscriptions(&acct, &topic).await;
    let endpoints: Vec<_> = subs
        .subscriptions()
        .iter()
        .filter_map(|s| s.endpoint())
        .collect();
    assert_eq!(endpoints, [other.as_str()]);
    // Without --shared the shared stack stays.
    assert!(stack_exists(&acct, "taegis-shared-resources").await);
}

#[tokio::test]
async fn the_shared_stack_stays_while_another_stack_imports_it() {
    let (acct, inputs, bucket) = setup("trail-destroy-import").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--prefix", "AWSLogs/"])
        .run()
        .assert_code(0);
    // A second Lambda stack, on another prefix, imports the same exports.
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--prefix", "other/", "--stack-name", "second-ct"])
        .run()
        .assert_code(0);
    let run = destroy(&acct, &["--shared"]);
    run.assert_code(1);
    let doc = run.json();
    let step = crate::harness::step(&doc, "delete-shared-stack");
    assert_eq!(step["status"], "failed", "{doc:#}");
    assert!(
        step["detail"].as_str().unwrap().contains("second-ct"),
        "{step}"
    );
    assert!(stack_exists(&acct, "taegis-shared-resources").await);
    assert!(!stack_exists(&acct, "taegis-cloudtrail").await);
    // The second stack's trigger is untouched.
    let n = seed::notifications(&acct, &bucket).await;
    let ids: Vec<_> = n
        .lambda_function_configurations()
        .iter()
        .filter_map(|l| l.id())
        .collect();
    assert_eq!(ids, ["taegis-cloudtrail-second-ct"]);
}

#[tokio::test]
async fn a_destroy_killed_during_the_stack_delete_finishes_on_the_next_run() {
    let (acct, inputs, bucket) = setup("trail-destroy-kill").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    acct.behave(serde_json::json!({"stack_seconds": 3.0}));
    let mut child = acct
        .tool()
        .args(["destroy", "--yes", "--output", "json"])
        .spawn();
    let start = std::time::Instant::now();
    while !acct.requests().iter().any(|r| r.action == "DeleteStack") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no DeleteStack"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        stack_exists(&acct, "taegis-cloudtrail").await,
        "the delete is under way"
    );
    let run = destroy(&acct, &[]);
    acct.behave_normally();
    run.assert_code(0);
    assert!(!stack_exists(&acct, "taegis-cloudtrail").await);
}

#[tokio::test]
async fn verify_and_destroy_across_regions_and_accounts_from_a_rollout_file() {
    let caller = Account::new().await;
    let (a, b) = (Account::new().await, Account::new().await);
    let inputs = Inputs::new();
    let base = bucket_name("trail-fleet");
    for acct in [&a, &b] {
        for region in ["us-east-1", "eu-west-1"] {
            seed::bucket(acct, &format!("{base}-{}-{region}", acct.id), region).await;
        }
    }
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: \"{base}-{{account}}-{{region}}\"\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\nregions: [us-east-1, eu-west-1]\naccounts: [\"{}\", \"{}\"]\n",
            a.id, b.id
        ),
    );
    let config = s(&file);
    caller
        .tool()
        .args(["deploy", "--yes", "--config", &config])
        .run()
        .assert_code(0);
    let run = caller
        .tool()
        .args(["verify", "--output", "json", "--config", &config])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 4);
    assert!(targets.iter().all(|t| t["outcome"] == "healthy"), "{doc:#}");
    let run = caller
        .tool()
        .args([
            "destroy", "--yes", "--shared", "--output", "json", "--config", &config,
        ])
        .run();
    run.assert_code(0);
    let doc = run.json();
    assert!(
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["outcome"] == "destroyed"),
        "{doc:#}"
    );
    for acct in [&a, &b] {
        for region in ["us-east-1", "eu-west-1"] {
            let cfn = aws_sdk_cloudformation::Client::new(&acct.config_in(region));
            let live = cfn.list_stacks().send().await.unwrap();
            assert!(
                live.stack_summaries()
                    .iter()
                    .all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE")),
                "{region}: {:?}",
                live.stack_summaries()
            );
        }
    }
}

#[tokio::test]
async fn a_stack_that_will_not_delete_is_explained_and_a_re_run_finishes() {
    let (acct, inputs, bucket) = setup("trail-delete-failed").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    // Someone changed the log group by hand: CloudFormation cannot delete it.
    let reason = "Resource handler returned message: \"The log group is protected by a data protection policy\"";
    acct.behave(serde_json::json!({"failures": [{
        "stack": "taegis-cloudtrail", "resource": "TaegisLambdaLogGroup",
        "reason": reason, "operation": "delete"}]}));
    let run = destroy(&acct, &[]);
    run.assert_code(1);
    let doc = run.json();
    let step = doc["targets"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "delete-lambda-stack")
        .unwrap()
        .clone();
    assert_eq!(step["status"], "failed", "{doc:#}");
    let detail = step["detail"].as_str().unwrap();
    assert!(
        detail.contains("TaegisLambdaLogGroup") && detail.contains("data protection policy"),
        "{detail}"
    );
    assert!(stack_exists(&acct, "taegis-cloudtrail").await);
    // The cause removed, the same command finishes.
    acct.behave_normally();
    let run = destroy(&acct, &[]);
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["outcome"], "destroyed");
    assert!(!stack_exists(&acct, "taegis-cloudtrail").await);
}
