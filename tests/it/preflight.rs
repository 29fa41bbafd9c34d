//! The preflight as one pass: every problem of every stage at once, any region AWS has, and
//! the inputs that only a rollout file gives.

use crate::harness::{
    Account, Inputs, REGION, bucket_name, deployed, find, plus, s, set_flag, setup, step,
};
use crate::seed;
use crate::state::FUNCTION;

#[tokio::test]
async fn a_bad_flag_a_missing_file_and_a_bucket_in_another_region_come_out_together() {
    let (acct, inputs) = (Account::new().await, Inputs::new());
    let far = bucket_name("trail-together");
    seed::bucket(&acct, &far, "eu-west-1").await;
    let missing = s(&inputs.path("gone.txt"));
    let args = set_flag(inputs.deploy_args(&far), "--credentials", &missing);
    let args = plus(args, &["--stack-name", "ct demo"]);
    for json in [false, true] {
        let before = acct.requests().len();
        let output: &[&str] = if json { &["--output", "json"] } else { &[] };
        let run = acct.tool().args(&args).args(output).run();
        for want in [
            ["--stack-name", "ct demo"],
            ["--credentials", "gone.txt"],
            ["--notification-bucket", "eu-west-1"],
        ] {
            run.assert_refused(&acct, before, &want);
        }
        if json {
            let doc = run.json();
            let global: Vec<&str> = doc["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["input"].as_str().unwrap())
                .collect();
            assert_eq!(global, ["stack_name"], "{doc:#}");
            let t = &doc["targets"][0];
            assert_eq!(t["outcome"], "failed");
            let of = |input: &str, field: &str| {
                let problem = find(&t["problems"], "input", input);
                problem[field].as_str().unwrap().to_string()
            };
            let fix = of("notification_bucket", "fix");
            assert!(fix.contains("--region eu-west-1"), "{fix}");
            let message = of("credentials", "message");
            assert!(message.contains("no such file"), "{message}");
        } else {
            assert!(run.stdout.trim().is_empty(), "{}", run.stdout);
        }
    }
}

#[tokio::test]
async fn a_region_the_tool_never_heard_of_reaches_aws() {
    let (acct, inputs) = (Account::new().await, Inputs::new());
    // A region AWS launched after this release: enabled for the account, unknown to the tool.
    acct.enable_regions(&["eu-future-1"]);
    let bucket = bucket_name("trail-future");
    seed::bucket(&acct, &bucket, "eu-future-1").await;
    let future = ["--region", "eu-future-1", "--output", "json"];
    let run = acct.deploy(&inputs, &bucket, &future);
    let doc = run.assert_code(0).assert_outcome("created");
    assert_eq!(doc["targets"][0]["region"], "eu-future-1");
    let arn = acct.function_arn("eu-future-1", FUNCTION).await.unwrap();
    assert!(arn.contains(":eu-future-1:"), "{arn}");
}

#[tokio::test]
async fn a_region_not_enabled_is_named_by_its_first_call_and_a_malformed_one_by_its_flag() {
    let (acct, inputs, bucket) = setup("trail-regions").await;
    let before = acct.requests().len();
    let run = acct.deploy(&inputs, &bucket, &["--region", "ap-future-2"]);
    let line = run.assert_code(2).line("error:", &["ap-future-2"]);
    assert!(
        line.contains("not enabled") && line.contains("InvalidClientTokenId"),
        "{line}"
    );
    let requests = acct.requests();
    assert!(
        requests[before..]
            .iter()
            .any(|r| r.action == "GetCallerIdentity" && r.status == 403),
        "the region was never asked: {:?}",
        &requests[before..]
    );
    assert!(acct.writes_since(before).is_empty());

    let asked = acct.calls("GetCallerIdentity");
    let run = acct.deploy(&inputs, &bucket, &["--region", "useast1"]);
    run.assert_code(2).line("error: --region", &["\"useast1\""]);
    let asked = acct.calls("GetCallerIdentity") - asked;
    assert_eq!(asked, 0, "a malformed region reached AWS");
}

#[tokio::test]
async fn accounts_from_the_flag_take_their_role_from_the_rollout_file() {
    let (caller, other) = (Account::new().await, Account::new().await);
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-role-file");
    seed::bucket(&other, &bucket, REGION).await;
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: {bucket}\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\n"
        ),
    );
    let flags = [
        "--yes",
        "--output",
        "json",
        "--accounts",
        &other.id,
        "--region",
        REGION,
    ];
    let doc = caller.deploy_config(&flags, &file).assert_code(0).json();
    assert_eq!(doc["targets"][0]["account"], other.id.as_str(), "{doc:#}");
    assert_eq!(doc["targets"][0]["outcome"], "created");
    let arn = other.function_arn(REGION, FUNCTION).await;
    assert!(arn.is_some(), "the function is in the other account");
}

#[tokio::test]
async fn a_lambda_template_over_the_inline_limit_goes_through_s3() {
    let (acct, inputs, bucket) = setup("trail-big").await;
    let bundled = include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");
    let big = format!(
        "{bundled}\n# {}\n",
        "padding so the template is over the inline limit ".repeat(1100)
    );
    assert!(big.len() > 51_200);
    let template = inputs.write("big.yaml", &big);
    let big_json = ["--lambda-template", &s(&template), "--output", "json"];
    let run = acct.deploy(&inputs, &bucket, &big_json);
    let doc = run.assert_code(0).assert_outcome("created");
    let upload = step(&doc, "upload-template");
    assert_eq!(upload["status"], "done", "{upload}");
    let keys = acct.object_keys(REGION, &format!("{bucket}-zips")).await;
    let uploaded = keys
        .iter()
        .any(|k| k.starts_with("taegis-cloudformation-template-"));
    assert!(uploaded, "{keys:?}");
    let body = acct.cfn().get_template().stack_name("taegis-cloudtrail");
    let body = body.send().await.unwrap();
    assert_eq!(body.template_body().unwrap().trim(), big.trim());
    // The next run finds it all in place.
    let again = acct.deploy(&inputs, &bucket, &big_json);
    again.assert_code(0).assert_outcome("unchanged");
}

#[tokio::test]
async fn once_the_shared_stack_holds_them_the_credentials_file_may_go() {
    let (acct, inputs, bucket) = deployed("trail-creds-gone", &[]).await;
    // As the guide says: discard credentials.txt once the stack holds it.
    std::fs::remove_file(&inputs.credentials).unwrap();
    let run = acct.deploy(&inputs, &bucket, &["--output", "json"]);
    run.assert_code(0).assert_outcome("unchanged");
    // Re-sending them needs them.
    let run = acct.deploy(&inputs, &bucket, &["--update-credentials"]);
    run.assert_code(2)
        .line("error: --credentials", &["no such file"]);
}
