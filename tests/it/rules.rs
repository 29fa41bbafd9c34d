//! AWS rules the emulator once let slide (see `../shared/reference/aws-rules.md` and the table
//! in `tests/emulator/README.md`): each test fails if the tool stops keeping its rule.

use serde_json::json;

use crate::harness::{Account, Inputs, REGION, s, setup, step};
use crate::state::FUNCTION;

const OUR_SID: &str = "taegis-cloudtrail-s3-invoke";

/// The function's statement of id `sid`, as JSON.
async fn statement(acct: &Account, sid: &str) -> Option<serde_json::Value> {
    let p = acct
        .lambda()
        .get_policy()
        .function_name(FUNCTION)
        .send()
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(p.policy()?).ok()?;
    v["Statement"]
        .as_array()?
        .iter()
        .find(|s| s["Sid"] == sid)
        .cloned()
}

/// Rule 9: a different statement already under our id is removed and added again, and the
/// plan says so.
#[tokio::test]
async fn a_different_statement_under_our_id_is_replaced_and_the_plan_says_so() {
    let (acct, inputs, bucket) = setup("trail-sid").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    let lambda = acct.lambda();
    lambda
        .remove_permission()
        .function_name(FUNCTION)
        .statement_id(OUR_SID)
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name(FUNCTION)
        .statement_id(OUR_SID)
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::someone-elses-bucket")
        .send()
        .await
        .unwrap();
    let dry = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--dry-run", "--output", "json"])
        .run();
    dry.assert_code(0);
    let planned = step(&dry.json(), "invoke-permission");
    assert_eq!(planned["action"], "update", "{planned}");
    assert!(
        planned["detail"]
            .as_str()
            .unwrap()
            .contains("someone-elses-bucket"),
        "{planned}"
    );
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    let st = statement(&acct, OUR_SID).await.unwrap();
    assert_eq!(
        st["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:s3:::{bucket}")
    );
    assert_eq!(
        st["Condition"]["StringEquals"]["AWS:SourceAccount"],
        acct.id.as_str()
    );
}

/// Rule 18: an update that fails rolls back; the run exits 1 naming the resource and the
/// reason, and the stack is left usable for the next run.
#[tokio::test]
async fn an_update_that_fails_rolls_back_and_the_next_run_finishes_it() {
    let (acct, inputs, bucket) = setup("trail-update-fails").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    acct.behave(json!({"failures": [{
        "stack": "taegis-cloudtrail", "resource": "TaegisLambdaFunction",
        "reason": "Simulated: the function could not be replaced.", "operation": "update"}]}));
    let generic = || {
        let mut a = inputs.deploy_args(&bucket);
        a.extend(["--integration-type", "generic", "--output", "json"].map(String::from));
        a
    };
    let run = acct.tool().args(generic()).run();
    acct.behave_normally();
    run.assert_code(1);
    let doc = run.json();
    let error = doc["targets"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("UPDATE_ROLLBACK_COMPLETE")
            && error.contains("TaegisLambdaFunction")
            && error.contains("Simulated: the function could not be replaced."),
        "{error}"
    );
    let status = acct
        .cfn()
        .describe_stacks()
        .stack_name("taegis-cloudtrail")
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(status, "UPDATE_ROLLBACK_COMPLETE");
    let again = acct.tool().args(generic()).run();
    again.assert_code(0);
    let doc = again.json();
    assert_eq!(doc["targets"][0]["outcome"], "updated", "{doc:#}");
    assert_eq!(
        doc["targets"][0]["function_name"],
        "taegis-cloudtrail-scwx-tdr-lambda-generic"
    );
}

/// Rule 16: a second shared stack in the same account and region is refused before any
/// change, naming the stack that already exports the names.
#[tokio::test]
async fn a_second_shared_stack_is_refused_naming_the_stack_that_exports() {
    let (acct, inputs, bucket) = setup("trail-exports").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    let before = acct.requests().len();
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--shared-stack-name", "second-shared"])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr.lines().any(
            |l| l.starts_with("error: --shared-stack-name second-shared")
                && l.contains("stack taegis-shared-resources already exports TaegisXdr")
        ),
        "{}",
        run.stderr
    );
    assert!(acct.writes_since(before).is_empty());
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
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--lambda-template", &s(&template), "--output", "json"])
        .run();
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["outcome"], "created");
    acct.lambda()
        .get_function()
        .function_name(FUNCTION)
        .send()
        .await
        .expect("the function exists");
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
            .args(inputs.deploy_args(&bucket))
            .args(["--output", "json"])
    };
    let run = tool().args(["--profile", "taegis", "--dry-run"]).run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["account"], acct.id.as_str(), "{doc:#}");
    assert_eq!(doc["targets"][0]["region"], REGION);
    let run = tool().env("AWS_PROFILE", "taegis").run();
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["outcome"], "created");
    // Without any credentials, the preflight says where they come from.
    let run = acct
        .tool()
        .without_keys()
        .args(inputs.deploy_args(&bucket))
        .args(["--region", REGION])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error:") && l.contains("--profile")),
        "{}",
        run.stderr
    );
}

/// Rule 22: CI credentials through web identity (OIDC): AssumeRoleWithWebIdentity into the
/// role's account.
#[tokio::test]
async fn credentials_come_from_web_identity_as_in_ci() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = crate::harness::bucket_name("trail-oidc");
    crate::seed::bucket(&acct, &bucket, REGION).await;
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
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json"])
        .run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["account"], acct.id.as_str(), "{doc:#}");
    assert_eq!(doc["targets"][0]["outcome"], "created");
}

/// Rules 3 and 23: a bucket of another account (an organisation trail's central bucket) is
/// refused before anything is made, with the way out.
#[tokio::test]
async fn a_bucket_of_another_account_is_refused_for_an_s3_trigger() {
    let owner = Account::new().await;
    let (acct, inputs, _own) = setup("trail-not-mine").await;
    let central = crate::harness::bucket_name("org-trail-central");
    crate::seed::bucket(&owner, &central, REGION).await;
    let before = acct.requests().len();
    let run = acct.tool().args(inputs.deploy_args(&central)).run();
    run.assert_code(2);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: --notification-bucket") && l.contains(&central))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        line.contains("belongs to another account")
            && line.contains(&acct.id)
            && line.contains("--trigger sns"),
        "{line}"
    );
    assert!(acct.writes_since(before).is_empty());
    assert!(
        acct.cfn()
            .describe_stacks()
            .send()
            .await
            .unwrap()
            .stacks()
            .is_empty(),
        "nothing was created"
    );
}

/// Rule 1: S3 validates every destination on every write. When someone else's entry no longer
/// lets S3 deliver, our write fails: the tool names that entry and does not blame our
/// permission.
#[tokio::test]
async fn a_broken_foreign_destination_is_named_and_our_permission_not_blamed() {
    let (acct, inputs, bucket) = setup("trail-foreign-broken").await;
    let topic = crate::seed::topic(&acct, "reports-feed").await;
    let config = aws_sdk_s3::types::NotificationConfiguration::builder()
        .topic_configurations(
            aws_sdk_s3::types::TopicConfiguration::builder()
                .id("reports-topic")
                .topic_arn(&topic)
                .events(aws_sdk_s3::types::Event::from("s3:ObjectRemoved:*"))
                .build()
                .unwrap(),
        )
        .build();
    crate::seed::put_notifications(&acct, &bucket, config).await;
    // The topic's owner takes S3's right to publish away.
    acct.sns()
        .set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": acct.id},
                "Action": "SNS:Publish", "Resource": topic}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json"])
        .run();
    run.assert_code(1);
    let doc = run.json();
    let notification = step(&doc, "bucket-notification");
    assert_eq!(notification["status"], "failed", "{doc:#}");
    let detail = notification["detail"].as_str().unwrap();
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
    acct.behave(json!({"failures": [{
        "stack": "taegis-cloudtrail", "resource": "TaegisLambdaFunction",
        "reason": "Simulated: the last resource failed.", "operation": "create"}]}));
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--lambda-template", &s(&template), "--output", "json"])
        .run();
    acct.behave_normally();
    run.assert_code(1);
    let error = run.json()["targets"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("TaegisLambdaFunction")
            && error.contains("Simulated: the last resource failed."),
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
        .position(|r| r.contains("Simulated: the last resource failed."))
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
    crate::seed::foreign_notifications(&acct, &bucket).await;
    let before = crate::seed::notifications(&acct, &bucket).await;
    let topic = crate::seed::topic(&acct, "switch-foreign-news").await;
    let ours = |o: &aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput| {
        o.lambda_function_configurations()
            .iter()
            .filter(|l| l.lambda_function_arn().contains(FUNCTION))
            .count()
    };
    let theirs = |o: &aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput| {
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
    let deploy = |extra: &[&str]| {
        let mut a = inputs.deploy_args(&bucket);
        a.extend(["--prefix", "AWSLogs/"].map(String::from));
        a.extend(extra.iter().map(|s| s.to_string()));
        acct.tool().args(a).run()
    };
    deploy(&[]).assert_code(0);
    let now = crate::seed::notifications(&acct, &bucket).await;
    assert_eq!((ours(&now), theirs(&now)), (1, want.clone()));
    deploy(&["--trigger", "sns", "--sns-topic-arn", &topic]).assert_code(0);
    let now = crate::seed::notifications(&acct, &bucket).await;
    assert_eq!((ours(&now), theirs(&now)), (0, want.clone()));
    deploy(&[]).assert_code(0);
    let now = crate::seed::notifications(&acct, &bucket).await;
    assert_eq!((ours(&now), theirs(&now)), (1, want));
}

/// Rule 9: AddPermission whose answer is lost after AWS applied it: the retry finds the
/// identical statement, which is done, not an error.
#[tokio::test]
async fn a_permission_whose_answer_was_lost_is_found_in_place() {
    let (acct, inputs, bucket) = setup("trail-lost-permission").await;
    acct.behave(
        json!({"faults": [{"action": "AddPermission", "fault": "drop_after", "times": 1}]}),
    );
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json"])
        .run();
    acct.behave_normally();
    run.assert_code(0);
    let doc = run.json();
    let permission = step(&doc, "invoke-permission");
    assert_eq!(permission["status"], "done", "{doc:#}");
    assert!(
        permission["detail"]
            .as_str()
            .unwrap()
            .contains("was already in place"),
        "{permission}"
    );
    let faults: Vec<_> = acct
        .requests()
        .into_iter()
        .filter(|r| r.action == "AddPermission")
        .map(|r| r.fault)
        .collect();
    assert_eq!(faults, [Some("drop_after".to_string()), None]);
    assert_eq!(doc["targets"][0]["outcome"], "created");
}
