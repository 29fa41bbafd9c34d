//! AWS rules the emulator once let slide (see `../shared/reference/aws-rules.md` and the table
//! in `tests/emulator/README.md`): each test fails if the tool stops keeping its rule.

use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput as Notifications;
use serde_json::json;

use crate::harness::{Account, REGION, bucket_name, deployed, detail, s, setup, source, step};
use crate::seed;
use crate::state::FUNCTION;

const OUR_SID: &str = "taegis-cloudtrail-s3-invoke";

/// Rule 9: a different statement already under our id is removed and added again, and the
/// plan says so.
#[tokio::test]
async fn a_different_statement_under_our_id_is_replaced_and_the_plan_says_so() {
    let (acct, inputs, bucket) = deployed("trail-sid", &[]).await;
    seed::remove_permission(&acct, FUNCTION, OUR_SID).await;
    let elsewhere = Some("arn:aws:s3:::someone-elses-bucket");
    seed::s3_permission(&acct, FUNCTION, OUR_SID, elsewhere).await;
    let dry = acct.deploy(&inputs, &bucket, &["--dry-run", "--output", "json"]);
    let planned = step(&dry.assert_code(0).json(), "invoke-permission");
    assert_eq!(planned["action"], "update", "{planned}");
    assert!(
        detail(&planned).contains("someone-elses-bucket"),
        "{planned}"
    );
    acct.deploy(&inputs, &bucket, &[]).assert_code(0);
    let st = acct.statement(FUNCTION, OUR_SID).await.unwrap();
    let from_bucket = json!(format!("arn:aws:s3:::{bucket}"));
    assert_eq!(source(&st), (from_bucket, json!(acct.id)));
}

/// Rule 18: an update that fails rolls back; the run exits 1 naming the resource and the
/// reason, and the stack is left usable for the next run.
#[tokio::test]
async fn an_update_that_fails_rolls_back_and_the_next_run_finishes_it() {
    let (acct, inputs, bucket) = deployed("trail-update-fails", &[]).await;
    let reason = "Simulated: the function could not be replaced.";
    acct.fail("TaegisLambdaFunction", "update", reason);
    let generic = ["--integration-type", "generic", "--output", "json"];
    let run = acct.deploy(&inputs, &bucket, &generic);
    acct.behave_normally();
    let doc = run.assert_code(1).json();
    let error = doc["targets"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("UPDATE_ROLLBACK_COMPLETE")
            && error.contains("TaegisLambdaFunction")
            && error.contains(reason),
        "{error}"
    );
    let status = acct.stack_status("taegis-cloudtrail").await;
    assert_eq!(status.as_deref(), Some("UPDATE_ROLLBACK_COMPLETE"));
    let again = acct.deploy(&inputs, &bucket, &generic);
    let doc = again.assert_code(0).assert_outcome("updated");
    assert_eq!(
        doc["targets"][0]["function_name"],
        "taegis-cloudtrail-scwx-tdr-lambda-generic"
    );
}

/// Rule 16: a second shared stack in the same account and region is refused before any
/// change, naming the stack that already exports the names.
#[tokio::test]
async fn a_second_shared_stack_is_refused_naming_the_stack_that_exports() {
    let (acct, inputs, bucket) = deployed("trail-exports", &[]).await;
    let second = ["--shared-stack-name", "second-shared"];
    let run = acct.writing_nothing(|| acct.deploy(&inputs, &bucket, &second));
    run.assert_code(2).line(
        "error: --shared-stack-name second-shared",
        &["stack taegis-shared-resources already exports TaegisXdr"],
    );
}

/// Rule 13: a template whose IAM resources have names needs CAPABILITY_NAMED_IAM.
#[tokio::test]
async fn a_template_with_a_named_role_is_deployed_with_the_capability_it_needs() {
    let (acct, inputs, bucket) = setup("trail-named-iam").await;
    let bundled = include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");
    let named = bundled.replacen(
        "      AssumeRolePolicyDocument:",
        "      RoleName: !Sub \"${AWS::StackName}-taegis-role\"\n      AssumeRolePolicyDocument:",
        1,
    );
    assert_ne!(
        named, bundled,
        "the bundled template has an IAM role to name"
    );
    let template = inputs.write("named.yaml", named);
    let named = ["--lambda-template", &s(&template), "--output", "json"];
    acct.deploy(&inputs, &bucket, &named)
        .assert_code(0)
        .assert_outcome("created");
    let arn = acct.function_arn(REGION, FUNCTION).await;
    assert!(arn.is_some(), "the function exists");
}

/// Rule 22: credentials from a profile of a config file (`--profile` and `AWS_PROFILE`), the
/// region from the profile too.
#[tokio::test]
async fn credentials_and_region_come_from_a_profile() {
    let (acct, inputs, bucket) = setup("trail-profile").await;
    let (config, credentials) = acct.profile_files(inputs.dir.path(), "taegis");
    let tool = || {
        acct.tool()
            .without_keys()
            .env("AWS_CONFIG_FILE", &s(&config))
            .env("AWS_SHARED_CREDENTIALS_FILE", &s(&credentials))
    };
    let profile = ["--output", "json", "--profile", "taegis", "--dry-run"];
    let run = tool().deploy(&inputs, &bucket, &profile);
    let doc = run.assert_code(0).json();
    assert_eq!(doc["targets"][0]["account"], acct.id.as_str(), "{doc:#}");
    assert_eq!(doc["targets"][0]["region"], REGION);
    let json = ["--output", "json"];
    let run = tool()
        .env("AWS_PROFILE", "taegis")
        .deploy(&inputs, &bucket, &json);
    run.assert_code(0).assert_outcome("created");
    // Without any credentials, the preflight says where they come from.
    let run = acct
        .tool()
        .without_keys()
        .deploy(&inputs, &bucket, &["--region", REGION]);
    run.assert_code(2).line("error:", &["--profile"]);
}

/// Rule 22: CI credentials through web identity (OIDC): AssumeRoleWithWebIdentity into the
/// role's account.
#[tokio::test]
async fn credentials_come_from_web_identity_as_in_ci() {
    let (acct, inputs, bucket) = setup("trail-oidc").await;
    let token = inputs.write(
        "token.jwt",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmV4YW1wbGUifQ.sig",
    );
    let run = acct
        .tool()
        .without_keys()
        .env("AWS_REGION", REGION)
        .env(
            "AWS_ROLE_ARN",
            &format!("arn:aws:iam::{}:role/ci-deployer", acct.id),
        )
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &s(&token))
        .env("AWS_ROLE_SESSION_NAME", "ci")
        .deploy(&inputs, &bucket, &["--output", "json"]);
    let doc = run.assert_code(0).assert_outcome("created");
    assert_eq!(doc["targets"][0]["account"], acct.id.as_str(), "{doc:#}");
}

/// Rules 3 and 23: a bucket of another account (an organisation trail's central bucket) is
/// refused before anything is made, with the way out.
#[tokio::test]
async fn a_bucket_of_another_account_is_refused_for_an_s3_trigger() {
    let owner = Account::new().await;
    let (acct, inputs, _own) = setup("trail-not-mine").await;
    let central = bucket_name("org-trail-central");
    seed::bucket(&owner, &central, REGION).await;
    let run = acct.writing_nothing(|| acct.deploy(&inputs, &central, &[]));
    let line = run
        .assert_code(2)
        .line("error: --notification-bucket", &[&central]);
    assert!(
        line.contains("belongs to another account")
            && line.contains(&acct.id)
            && line.contains("--trigger sns"),
        "{line}"
    );
    let stacks = acct.stack_names().await;
    assert!(stacks.is_empty(), "nothing was created: {stacks:?}");
}

/// Rule 1: S3 validates every destination on every write. When someone else's entry no longer
/// lets S3 deliver, our write fails: the tool names that entry and does not blame our
/// permission.
#[tokio::test]
async fn a_broken_foreign_destination_is_named_and_our_permission_not_blamed() {
    let (acct, inputs, bucket) = setup("trail-foreign-broken").await;
    let removed = "s3:ObjectRemoved:*";
    let topic = seed::topic_entry(&acct, &bucket, "reports-feed", "reports-topic", removed).await;
    // The topic's owner takes S3's right to publish away.
    let owners_only = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": acct.id},
        "Action": "SNS:Publish", "Resource": topic}]});
    seed::topic_policy(&acct, &topic, owners_only).await;
    let run = acct.deploy(&inputs, &bucket, &["--output", "json"]);
    let doc = run.assert_code(1).json();
    let notification = step(&doc, "bucket-notification");
    assert_eq!(notification["status"], "failed", "{doc:#}");
    let detail = detail(&notification);
    assert!(
        detail.contains("entry \"reports-topic\"")
            && detail.contains(&topic)
            && detail.contains("not this tool's")
            && !detail.contains("invoke permission for s3.amazonaws.com is missing"),
        "{detail}"
    );
    assert_eq!(step(&doc, "invoke-permission")["status"], "done");
}

/// The stack's events are paged (100 a page): the reason of a failure that many later events
/// pushed off the first page is still found.
#[tokio::test]
async fn the_failure_reason_is_found_past_the_first_page_of_events() {
    let (acct, inputs, bucket) = setup("trail-many-events").await;
    let bundled = include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");
    let (head, tail) = bundled.split_once("\nResources:\n").unwrap();
    let topics: String = (0..70)
        .map(|i| format!("  Extra{i:02}:\n    Type: AWS::SNS::Topic\n"))
        .collect();
    let template = inputs.write("many.yaml", format!("{head}\nResources:\n{topics}{tail}"));
    let reason = "Simulated: the last resource failed.";
    acct.fail("TaegisLambdaFunction", "create", reason);
    let many = ["--lambda-template", &s(&template), "--output", "json"];
    let run = acct.deploy(&inputs, &bucket, &many);
    acct.behave_normally();
    let doc = run.assert_code(1).json();
    let error = doc["targets"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("TaegisLambdaFunction") && error.contains(reason),
        "{error}"
    );
    // The failure really was past the first page: newest first, more than 100 events after it.
    let cfn = acct.cfn();
    let stacks = cfn.list_stacks().send().await.unwrap();
    let id = stacks
        .stack_summaries()
        .iter()
        .find(|s| s.stack_name() == Some("taegis-cloudtrail"))
        .and_then(|s| s.stack_id())
        .unwrap()
        .to_string();
    let mut newest_first = Vec::new();
    let mut token = None;
    loop {
        let page = cfn
            .describe_stack_events()
            .stack_name(&id)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        newest_first.extend(
            page.stack_events()
                .iter()
                .map(|e| e.resource_status_reason().unwrap_or_default().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let at = newest_first
        .iter()
        .position(|r| r.contains(reason))
        .unwrap();
    assert!(
        at >= 100,
        "the failure is event {at} of {}",
        newest_first.len()
    );
}

/// Rule 1: switching S3 -> SNS and back, with the removal of the earlier trigger each time, on
/// a bucket seeded with other people's entries: theirs survive byte for byte.
#[tokio::test]
async fn switching_triggers_leaves_other_peoples_entries_byte_for_byte() {
    let (acct, inputs, bucket) = setup("trail-switch-foreign").await;
    seed::foreign_notifications(&acct, &bucket).await;
    let before = seed::notifications(&acct, &bucket).await;
    let topic = seed::topic(&acct, "switch-foreign-news").await;
    let ours = |o: &Notifications| {
        o.lambda_function_configurations()
            .iter()
            .filter(|l| l.lambda_function_arn().contains(FUNCTION))
            .count()
    };
    let theirs = |o: &Notifications| {
        (
            o.queue_configurations().to_vec(),
            o.topic_configurations().to_vec(),
            o.lambda_function_configurations()
                .iter()
                .filter(|l| !l.lambda_function_arn().contains(FUNCTION))
                .cloned()
                .collect::<Vec<_>>(),
            o.event_bridge_configuration().cloned(),
        )
    };
    let want = theirs(&before);
    let sns = ["--trigger", "sns", "--sns-topic-arn", &topic];
    // S3, then SNS, then S3 again: how many entries are ours after each.
    for (trigger, ours_after) in [(&[][..], 1), (&sns[..], 0), (&[][..], 1)] {
        let flags = [&["--prefix", "AWSLogs/"][..], trigger].concat();
        acct.deploy(&inputs, &bucket, &flags).assert_code(0);
        let now = seed::notifications(&acct, &bucket).await;
        let got = (ours(&now), theirs(&now));
        assert_eq!(got, (ours_after, want.clone()), "after {trigger:?}");
    }
}

/// Rule 9: AddPermission whose answer is lost after AWS applied it: the retry finds the
/// identical statement, which is done, not an error.
#[tokio::test]
async fn a_permission_whose_answer_was_lost_is_found_in_place() {
    let (acct, inputs, bucket) = setup("trail-lost-permission").await;
    acct.behave(
        json!({"faults": [{"action": "AddPermission", "fault": "drop_after", "times": 1}]}),
    );
    let run = acct.deploy(&inputs, &bucket, &["--output", "json"]);
    acct.behave_normally();
    let doc = run.assert_code(0).assert_outcome("created");
    let permission = step(&doc, "invoke-permission");
    assert_eq!(permission["status"], "done", "{doc:#}");
    let detail = detail(&permission);
    assert!(detail.contains("was already in place"), "{permission}");
    let requests = acct.requests().into_iter();
    let faults = requests
        .filter(|r| r.action == "AddPermission")
        .map(|r| r.fault);
    assert_eq!(
        faults.collect::<Vec<_>>(),
        [Some("drop_after".to_string()), None]
    );
}
