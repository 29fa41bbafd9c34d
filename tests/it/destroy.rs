//! `destroy`: the guide's removal, in the safe order, touching nothing that is not ours.

use crate::harness::{
    Account, Inputs, REGION, Run, accounts, bucket_name, deployed, detail, s, setup, step,
};
use crate::seed;
use crate::state::FUNCTION;

async fn stack_exists(acct: &Account, name: &str) -> bool {
    let status = acct.stack_status(name).await;
    status.is_some_and(|s| s != "DELETE_COMPLETE")
}

#[tokio::test]
async fn destroy_removes_ours_and_leaves_everyone_elses_entries_as_they_were() {
    let (acct, inputs, bucket) = setup("trail-destroy").await;
    let foreign = seed::foreign_notifications(&acct, &bucket).await;
    let before = seed::notifications(&acct, &bucket).await;
    acct.deploy(&inputs, &bucket, &["--prefix", "AWSLogs/"])
        .assert_code(0);
    let secret_arn = acct.stack_output("taegis-shared-resources", "SecretArn");
    let secret_arn = secret_arn.await.unwrap();

    // Without --yes and without a terminal: exit 2, nothing removed.
    let refused = acct.tool().args(["destroy"]).run();
    refused.assert_code(2).assert_stderr(&["--yes"]);
    assert!(stack_exists(&acct, "taegis-cloudtrail").await);

    let run = acct.destroy(&["--shared", "--delete-zip"]);
    run.assert_code(0).assert_outcome("destroyed");
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
    let function = acct.function_arn(REGION, FUNCTION).await;
    assert!(function.is_none(), "the function is gone");
    let secret = acct.secrets().describe_secret().secret_id(&secret_arn);
    assert!(secret.send().await.is_err(), "the secret is gone");
    let zips = acct.object_keys(REGION, &format!("{bucket}-zips")).await;
    assert!(zips.is_empty(), "{zips:?}");
    // The other consumer's function still has its own permission.
    let other = acct.lambda().get_policy().function_name("other-consumer");
    assert!(other.send().await.is_ok());

    // Again: nothing to do, nothing written; the dry run writes nothing either.
    for extra in [
        &["--shared", "--delete-zip"][..],
        &["--dry-run", "--shared"][..],
    ] {
        let run = acct.writing_nothing(|| acct.destroy(extra));
        let doc = run.assert_code(0).json();
        let outcome = &doc["targets"][0]["outcome"];
        assert!(outcome == "unchanged" || outcome == "planned", "{doc:#}");
    }
}

#[tokio::test]
async fn an_sns_trigger_is_unsubscribed_and_a_hand_made_subscription_of_another_function_kept() {
    let (acct, inputs, bucket) = setup("trail-destroy-sns").await;
    let topic = seed::topic(&acct, "destroy-news").await;
    let other = seed::other_function(&acct, &bucket).await;
    let subscribe = acct.sns().subscribe().topic_arn(&topic).protocol("lambda");
    subscribe.endpoint(&other).send().await.unwrap();
    let sns = ["--sns-topic-arn", &topic];
    acct.deploy(&inputs, &bucket, &sns).assert_code(0);
    let subs = seed::subscriptions(&acct, &topic).await;
    assert_eq!(subs.subscriptions().len(), 2);
    acct.destroy(&[]).assert_code(0);
    let subs = seed::subscriptions(&acct, &topic).await;
    let endpoints = subs.subscriptions().iter().filter_map(|s| s.endpoint());
    assert_eq!(endpoints.collect::<Vec<_>>(), [other.as_str()]);
    // Without --shared the shared stack stays.
    assert!(stack_exists(&acct, "taegis-shared-resources").await);
}

#[tokio::test]
async fn the_shared_stack_stays_while_another_stack_imports_it() {
    let prefix = ["--prefix", "AWSLogs/"];
    let (acct, inputs, bucket) = deployed("trail-destroy-import", &prefix).await;
    // A second Lambda stack, on another prefix, imports the same exports.
    let second = ["--prefix", "other/", "--stack-name", "second-ct"];
    acct.deploy(&inputs, &bucket, &second).assert_code(0);
    let run = acct.destroy(&["--shared"]);
    let doc = run.assert_code(1).json();
    let step = step(&doc, "delete-shared-stack");
    assert_eq!(step["status"], "failed", "{doc:#}");
    assert!(detail(&step).contains("second-ct"), "{step}");
    assert!(stack_exists(&acct, "taegis-shared-resources").await);
    assert!(!stack_exists(&acct, "taegis-cloudtrail").await);
    // The second stack's trigger is untouched.
    let n = seed::notifications(&acct, &bucket).await;
    let ids = n
        .lambda_function_configurations()
        .iter()
        .filter_map(|l| l.id());
    assert_eq!(ids.collect::<Vec<_>>(), ["taegis-cloudtrail-second-ct"]);
}

#[tokio::test]
async fn a_destroy_killed_during_the_stack_delete_finishes_on_the_next_run() {
    let (acct, _inputs, _bucket) = deployed("trail-destroy-kill", &[]).await;
    acct.behave(serde_json::json!({"stack_seconds": 3.0}));
    let destroy = acct.tool().args(["destroy", "--yes", "--output", "json"]);
    let mut child = destroy.spawn();
    acct.wait_for("DeleteStack", 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        stack_exists(&acct, "taegis-cloudtrail").await,
        "the delete is under way"
    );
    let run = acct.destroy(&[]);
    acct.behave_normally();
    run.assert_code(0);
    assert!(!stack_exists(&acct, "taegis-cloudtrail").await);
}
#[tokio::test]
async fn verify_and_destroy_across_regions_and_accounts_from_a_rollout_file() {
    let ([caller, a, b], inputs) = (accounts().await, Inputs::new());
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
    caller.deploy_config(&["--yes"], &file).assert_code(0);
    let outcomes = |run: &Run| {
        let doc = run.json();
        let targets = doc["targets"].as_array().unwrap().iter();
        targets
            .map(|t| t["outcome"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let run = caller.verify(&["--config", &config]);
    assert_eq!(outcomes(run.assert_code(0)), ["healthy"; 4]);
    let run = caller.destroy(&["--shared", "--config", &config]);
    let destroyed = outcomes(run.assert_code(0));
    assert!(destroyed.iter().all(|o| o == "destroyed"), "{destroyed:?}");
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
    let (acct, _inputs, _bucket) = deployed("trail-delete-failed", &[]).await;
    // Someone changed the log group by hand: CloudFormation cannot delete it.
    let reason = "Resource handler returned message: \"The log group is protected by a data protection policy\"";
    acct.fail("TaegisLambdaLogGroup", "delete", reason);
    let run = acct.destroy(&[]);
    let doc = run.assert_code(1).json();
    let step = step(&doc, "delete-lambda-stack");
    assert_eq!(step["status"], "failed", "{doc:#}");
    let detail = detail(&step);
    assert!(
        detail.contains("TaegisLambdaLogGroup") && detail.contains("data protection policy"),
        "{detail}"
    );
    assert!(stack_exists(&acct, "taegis-cloudtrail").await);
    // The cause removed, the same command finishes.
    acct.behave_normally();
    acct.destroy(&[]).assert_code(0).assert_outcome("destroyed");
    assert!(!stack_exists(&acct, "taegis-cloudtrail").await);
}
