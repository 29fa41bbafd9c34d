//! The preflight as one pass: every problem of every stage at once, any region AWS has, and
//! the inputs that only a rollout file gives.

use crate::harness::{Account, Inputs, REGION, bucket_name, s, setup};
use crate::seed;
use crate::state::FUNCTION;

#[tokio::test]
async fn a_bad_flag_a_missing_file_and_a_bucket_in_another_region_come_out_together() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let far = bucket_name("trail-together");
    seed::bucket(&acct, &far, "eu-west-1").await;
    let mut args = inputs.deploy_args(&far);
    let i = args.iter().position(|a| a == "--credentials").unwrap();
    args[i + 1] = s(&inputs.path("gone.txt"));
    args.extend(["--stack-name".into(), "ct demo".into()]);
    for json in [false, true] {
        let before = acct.requests().len();
        let mut tool = acct.tool().args(&args);
        if json {
            tool = tool.args(["--output", "json"]);
        }
        let run = tool.run();
        run.assert_code(2);
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        for want in [
            ["--stack-name", "ct demo"],
            ["--credentials", "gone.txt"],
            ["--notification-bucket", "eu-west-1"],
        ] {
            assert!(
                errors.iter().any(|l| want.iter().all(|w| l.contains(w))),
                "{want:?} not in one error line:\n{}",
                run.stderr
            );
        }
        assert!(acct.writes_since(before).is_empty());
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
            let of = |input: &str| {
                t["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["input"] == input)
                    .unwrap_or_else(|| panic!("no {input} problem: {doc:#}"))
                    .clone()
            };
            assert!(
                of("notification_bucket")["fix"]
                    .as_str()
                    .unwrap()
                    .contains("--region eu-west-1")
            );
            assert!(
                of("credentials")["message"]
                    .as_str()
                    .unwrap()
                    .contains("no such file")
            );
        } else {
            assert!(run.stdout.trim().is_empty(), "{}", run.stdout);
        }
    }
}

#[tokio::test]
async fn a_region_the_tool_never_heard_of_reaches_aws() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    // A region AWS launched after this release: enabled for the account, unknown to the tool.
    acct.enable_regions(&["eu-future-1"]);
    let bucket = bucket_name("trail-future");
    seed::bucket(&acct, &bucket, "eu-future-1").await;
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--region", "eu-future-1", "--output", "json"])
        .run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["outcome"], "created", "{doc:#}");
    assert_eq!(doc["targets"][0]["region"], "eu-future-1");
    let lambda = aws_sdk_lambda::Client::new(&acct.config_in("eu-future-1"));
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
            .contains(":eu-future-1:")
    );
}

#[tokio::test]
async fn a_region_not_enabled_is_named_by_its_first_call_and_a_malformed_one_by_its_flag() {
    let (acct, inputs, bucket) = setup("trail-regions").await;
    let before = acct.requests().len();
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--region", "ap-future-2"])
        .run();
    run.assert_code(2);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:") && l.contains("ap-future-2"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
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

    let before = acct.requests().len();
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--region", "useast1"])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: --region") && l.contains("\"useast1\"")),
        "{}",
        run.stderr
    );
    let asked: Vec<_> = acct.requests()[before..]
        .iter()
        .filter(|r| r.action == "GetCallerIdentity")
        .cloned()
        .collect();
    assert!(
        asked.is_empty(),
        "a malformed region reached AWS: {asked:?}"
    );
}

#[tokio::test]
async fn accounts_from_the_flag_take_their_role_from_the_rollout_file() {
    let caller = Account::new().await;
    let other = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name("trail-role-file");
    seed::bucket(&other, &bucket, REGION).await;
    let file = inputs.write(
        "rollout.yaml",
        format!(
            "taegis_region: golf\ncredentials: credentials.txt\nlambda_zip: taegis-lambda-amd64.zip\nnotification_bucket: {bucket}\nrole_arn: \"arn:aws:iam::{{account}}:role/TaegisDeployer\"\n"
        ),
    );
    let run = caller
        .tool()
        .args(["deploy", "--yes", "--output", "json", "--config", &s(&file)])
        .args(["--accounts", &other.id, "--region", REGION])
        .run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["account"], other.id.as_str(), "{doc:#}");
    assert_eq!(doc["targets"][0]["outcome"], "created");
    other
        .lambda()
        .get_function()
        .function_name(FUNCTION)
        .send()
        .await
        .expect("the function is in the other account");
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
    let args = || {
        let mut a = inputs.deploy_args(&bucket);
        a.extend([
            "--lambda-template".into(),
            s(&template),
            "--output".into(),
            "json".into(),
        ]);
        a
    };
    let run = acct.tool().args(args()).run();
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["outcome"], "created", "{doc:#}");
    let upload = crate::harness::step(&doc, "upload-template");
    assert_eq!(upload["status"], "done", "{upload}");
    let keys: Vec<String> = acct
        .s3()
        .list_objects_v2()
        .bucket(format!("{bucket}-zips"))
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("taegis-cloudformation-template-")),
        "{keys:?}"
    );
    let body = acct
        .cfn()
        .get_template()
        .stack_name("taegis-cloudtrail")
        .send()
        .await
        .unwrap();
    assert_eq!(body.template_body().unwrap().trim(), big.trim());
    // The next run finds it all in place.
    let again = acct.tool().args(args()).run();
    again.assert_code(0);
    assert_eq!(again.json()["targets"][0]["outcome"], "unchanged");
}

#[tokio::test]
async fn once_the_shared_stack_holds_them_the_credentials_file_may_go() {
    let (acct, inputs, bucket) = setup("trail-creds-gone").await;
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    // As the guide says: discard credentials.txt once the stack holds it.
    std::fs::remove_file(&inputs.credentials).unwrap();
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json"])
        .run();
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["outcome"], "unchanged");
    // Re-sending them needs them.
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--update-credentials"])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: --credentials") && l.contains("no such file")),
        "{}",
        run.stderr
    );
}
