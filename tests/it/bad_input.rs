//! Every bad input of the preflight list exits 2 with a one-line reason naming the input, and
//! changes nothing in the emulator.

use std::path::Path;

use crate::harness::{bucket_name, deployed, detail, s, set_flag, setup, step, without, zip_bytes};
use crate::seed;

/// One bad input: how to change a good deploy, and what the reason must mention.
struct Case {
    name: &'static str,
    /// (flag, value) pairs replacing the flag's value, or added when the flag is absent.
    set: Vec<(String, String)>,
    /// Flags to remove.
    drop: Vec<&'static str>,
    want: Vec<String>,
}

fn case(name: &'static str, set: &[(&str, String)], want: &[&str]) -> Case {
    Case {
        name,
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        drop: Vec::new(),
        want: want.iter().map(|w| w.to_string()).collect(),
    }
}

fn apply(mut args: Vec<String>, c: &Case) -> Vec<String> {
    for flag in &c.drop {
        if let Some(i) = args.iter().position(|a| a == flag) {
            args.drain(i..i + 2);
        }
    }
    for (flag, value) in &c.set {
        match args.iter().position(|a| a == flag) {
            Some(i) => args[i + 1] = value.clone(),
            None => args.extend([flag.clone(), value.clone()]),
        }
    }
    args
}

const TEMPLATE_NO_PARAMS: &str = "Resources:\n  T:\n    Type: AWS::SNS::Topic\n";

#[tokio::test]
async fn each_bad_input_exits_2_naming_it_and_creates_nothing() {
    let (acct, inputs, bucket) = setup("trail-bad").await;
    let far_bucket = bucket_name("trail-far");
    seed::bucket(&acct, &far_bucket, "eu-west-1").await;
    let far_zips = bucket_name("zips-far");
    seed::bucket(&acct, &far_zips, "eu-west-1").await;
    let id = acct.id.clone();

    let dir = inputs.dir.path();
    std::fs::create_dir(dir.join("folder")).unwrap();
    let not_zip = inputs.write("not.zip", "hello");
    let no_bootstrap = inputs.write("nob.zip", zip_bytes("main", 0o755, b"x"));
    let not_exec = inputs.write("noexec.zip", zip_bytes("bootstrap", 0o644, b"x"));
    let empty_creds = inputs.write("empty.txt", "\n  \n");
    let bad_yaml = inputs.write("bad.yaml", "Parameters: [\n");
    let no_params = inputs.write("noparams.yaml", TEMPLATE_NO_PARAMS);
    let bundled = include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");
    let extra_required = inputs.write(
        "required.yaml",
        bundled.replacen(
            "\nParameters:\n",
            "\nParameters:\n  ExtraThing:\n    Type: String\n    Description: needed\n",
            1,
        ),
    );
    let shared = include_str!("../../templates/taegis-cloudformation-shared-resources.yaml");
    assert!(shared.contains("    NoEcho: true\n"));
    let echoing = inputs.write(
        "echoing.yaml",
        shared.replace(
            "    NoEcho: true\n",
            "    NoEcho: false\n    AllowedPattern: \"^nothing-like-it$\"\n",
        ),
    );

    let kms = |region: &str| {
        format!("arn:aws:kms:{region}:{id}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    };
    let cases = vec![
        case(
            "shared template that would show the credentials",
            &[("--shared-template", s(&echoing))],
            &[
                "--shared-template",
                "SecretValue is not NoEcho",
                "AllowedPattern",
            ],
        ),
        case(
            "zip missing",
            &[("--lambda-zip", s(&dir.join("missing.zip")))],
            &["--lambda-zip", "missing.zip", "no such file"],
        ),
        case(
            "zip is a directory",
            &[("--lambda-zip", s(&dir.join("folder")))],
            &["--lambda-zip", "is a directory"],
        ),
        case(
            "zip is not a zip",
            &[("--lambda-zip", s(&not_zip))],
            &["--lambda-zip", "not.zip", "not a zip"],
        ),
        case(
            "zip without bootstrap",
            &[("--lambda-zip", s(&no_bootstrap))],
            &["--lambda-zip", "bootstrap"],
        ),
        case(
            "bootstrap not executable",
            &[("--lambda-zip", s(&not_exec))],
            &["--lambda-zip", "not executable"],
        ),
        case(
            "credentials missing",
            &[("--credentials", s(&dir.join("nope.txt")))],
            &["--credentials", "nope.txt", "no such file"],
        ),
        case(
            "credentials empty",
            &[("--credentials", s(&empty_creds))],
            &["--credentials", "empty.txt", "is empty"],
        ),
        case(
            "credentials a directory",
            &[("--credentials", s(&dir.join("folder")))],
            &["--credentials", "is a directory"],
        ),
        case(
            "unknown XDR region",
            &[("--taegis-region", "hotel".into())],
            &["--taegis-region", "hotel", "allowed: ctpx"],
        ),
        Case {
            drop: vec!["--taegis-region"],
            ..case(
                "XDR URL of another site",
                &[("--xdr-url", "https://example.com/login".into())],
                &["--xdr-url", "example.com"],
            )
        },
        Case {
            drop: vec!["--taegis-region"],
            ..case("no XDR region at all", &[], &["--taegis-region"])
        },
        Case {
            drop: vec!["--credentials"],
            ..case("no credentials at all", &[], &["--credentials"])
        },
        case(
            "stack name with a space",
            &[("--stack-name", "ct demo".into())],
            &["--stack-name", "ct demo"],
        ),
        case(
            "stack name too long for the function",
            &[("--stack-name", "a".repeat(35))],
            &["--stack-name", "at most 34"],
        ),
        case(
            "shared stack name starting with a digit",
            &[("--shared-stack-name", "1shared".into())],
            &["--shared-stack-name", "1shared"],
        ),
        case(
            "unknown region",
            &[("--region", "us-east-7".into())],
            &["us-east-7", "not an AWS region"],
        ),
        case(
            "bucket as an ftp URL",
            &[("--notification-bucket", format!("ftp://{bucket}"))],
            &["--notification-bucket", "ftp://"],
        ),
        case(
            "bucket with a path",
            &[("--notification-bucket", format!("{bucket}/AWSLogs"))],
            &["--notification-bucket", "--prefix"],
        ),
        case(
            "bucket URL of another host",
            &[(
                "--notification-bucket",
                format!("https://example.com/{bucket}"),
            )],
            &["--notification-bucket", "example.com"],
        ),
        case(
            "bucket with capitals",
            &[("--notification-bucket", "Trail-Logs".into())],
            &["--notification-bucket", "Trail-Logs"],
        ),
        case(
            "bucket that does not exist",
            &[("--notification-bucket", bucket_name("nobody"))],
            &["--notification-bucket", "no such bucket"],
        ),
        case(
            "bucket in another region",
            &[("--notification-bucket", far_bucket.clone())],
            &["--notification-bucket", "eu-west-1", "--region eu-west-1"],
        ),
        case(
            "zip bucket in another region",
            &[("--lambda-bucket", far_zips.clone())],
            &["--lambda-bucket", "eu-west-1"],
        ),
        case(
            "KMS ARN malformed",
            &[("--bucket-kms-key-arn", "arn:aws:kms:us-east-1:nope".into())],
            &["--bucket-kms-key-arn", "KMS key ARN"],
        ),
        case(
            "KMS ARN of another region",
            &[("--lambda-env-kms-key-arn", kms("eu-west-1"))],
            &["--lambda-env-kms-key-arn", "eu-west-1"],
        ),
        case(
            "KMS ARN of another service",
            &[(
                "--bucket-kms-key-arn",
                format!("arn:aws:sqs:us-east-1:{id}:q"),
            )],
            &["--bucket-kms-key-arn", "\"sqs\""],
        ),
        case(
            "SNS ARN of another service",
            &[("--sns-topic-arn", format!("arn:aws:sqs:us-east-1:{id}:q"))],
            &["--sns-topic-arn", "\"sqs\""],
        ),
        case(
            "SNS ARN of another region",
            &[("--sns-topic-arn", format!("arn:aws:sns:eu-west-1:{id}:t"))],
            &["--sns-topic-arn", "eu-west-1"],
        ),
        case(
            "SNS topic that does not exist",
            &[(
                "--sns-topic-arn",
                format!("arn:aws:sns:us-east-1:{id}:nobody"),
            )],
            &["--sns-topic-arn", "no such topic"],
        ),
        case(
            "SNS trigger without topic",
            &[("--trigger", "sns".into())],
            &["--sns-topic-arn"],
        ),
        case(
            "template not YAML",
            &[("--lambda-template", s(&bad_yaml))],
            &["--lambda-template", "bad.yaml", "not valid YAML"],
        ),
        case(
            "template without Parameters",
            &[("--lambda-template", s(&no_params))],
            &["--lambda-template", "declares no Parameters"],
        ),
        case(
            "shared template without Parameters",
            &[("--shared-template", s(&no_params))],
            &["--shared-template", "declares no Parameters"],
        ),
        case(
            "undeclared parameter",
            &[("--parameter", "Colour=blue".into())],
            &["Colour", "not declared"],
        ),
        case(
            "parameter not KEY=VALUE",
            &[("--parameter", "Colour".into())],
            &["--parameter", "KEY=VALUE"],
        ),
        case(
            "required parameter without a value",
            &[("--lambda-template", s(&extra_required))],
            &["ExtraThing", "required", "--parameter ExtraThing="],
        ),
        case(
            "parameter value not allowed",
            &[("--parameter", "LambdaRuntime=python3.12".into())],
            &["LambdaRuntime", "python3.12", "allowed"],
        ),
        case(
            "integration type not allowed",
            &[("--integration-type", "vpcflow".into())],
            &["--integration-type", "vpcflow"],
        ),
        case(
            "parameter duplicating a flag",
            &[("--parameter", "NotificationBucket=other".into())],
            &["--parameter NotificationBucket", "--notification-bucket"],
        ),
        case(
            "timeout not a duration",
            &[("--timeout", "soon".into())],
            &["--timeout", "soon"],
        ),
    ];

    let good = inputs.deploy_args(&bucket);
    let mut failures = Vec::new();
    for c in &cases {
        let before = acct.requests().len();
        let run = acct.tool().args(apply(good.clone(), c)).run();
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        let named = c
            .want
            .iter()
            .all(|w| errors.iter().any(|l| l.contains(w.as_str())));
        let writes = acct.writes_since(before);
        let leaked = inputs
            .secret_text
            .lines()
            .any(|l| run.stdout.contains(l) || run.stderr.contains(l));
        if run.code != 2 || !named || !writes.is_empty() || !run.stdout.trim().is_empty() || leaked
        {
            failures.push(format!(
                "{}: exit {} (want 2), reason naming {:?}: {named}, writes: {writes:?}, credentials shown: {leaked}\nstdout: {}\nstderr: {}",
                c.name, run.code, c.want, run.stdout, run.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );

    // Nothing was made by any of them.
    let stacks = acct.stack_names().await;
    assert!(stacks.is_empty(), "{stacks:?}");
    let n = seed::notifications(&acct, &bucket).await;
    assert!(n.lambda_function_configurations().is_empty());
}

#[tokio::test]
async fn all_problems_are_reported_at_once() {
    let (acct, inputs, bucket) = setup("trail-many").await;
    let args = set_flag(
        inputs.deploy_args(&bucket),
        "--credentials",
        "/nonexistent/creds",
    );
    // The region refuses the first call; then it is not even a name (no target, yet the
    // files are still checked).
    for bad_region in ["us-east-7", "mars-1"] {
        // A region whose first call AWS refuses: the identity cannot be read there.
        let extra = ["--stack-name", "bad name", "--region", bad_region];
        let run = acct.tool().args(&args).args(extra).run();
        run.assert_code(2);
        for want in ["--stack-name", bad_region, "/nonexistent/creds"] {
            run.line("error:", &[want]);
        }
    }
}

#[tokio::test]
async fn too_little_unreserved_concurrency_fails_preflight() {
    let (acct, inputs, bucket) = setup("trail-quota").await;
    acct.set_concurrency_limit(50);
    let run = acct.writing_nothing(|| acct.deploy(&inputs, &bucket, &[]));
    run.assert_code(2)
        .assert_stderr(&["Service Quotas", "minimum of 50"]);
}

#[tokio::test]
async fn an_overlapping_notification_is_named_and_sns_suggested() {
    let (acct, inputs, bucket) = setup("trail-overlap").await;
    let created = "s3:ObjectCreated:*";
    seed::topic_entry(&acct, &bucket, "siem-feed", "siem-feed", created).await;
    let prefix = ["--prefix", "AWSLogs/"];
    let run = acct.writing_nothing(|| acct.deploy(&inputs, &bucket, &prefix));
    run.assert_code(2)
        .assert_stderr(&["\"siem-feed\"", "--trigger sns", "overlaps"]);
    // The entry is still there, alone.
    let n = seed::notifications(&acct, &bucket).await;
    assert_eq!(n.topic_configurations().len(), 1);
    assert!(n.lambda_function_configurations().is_empty());
}

#[tokio::test]
async fn bucket_urls_are_read_as_name_and_prefix_with_a_notice() {
    let (acct, inputs, bucket) = setup("trail-url").await;
    let zips = format!("{bucket}-zips");
    for (form, prefix) in [
        (format!("s3://{bucket}/AWSLogs/"), "AWSLogs/"),
        (format!("arn:aws:s3:::{bucket}"), ""),
        (
            format!("https://{bucket}.s3.us-east-1.amazonaws.com/org/AWSLogs/"),
            "org/AWSLogs/",
        ),
    ] {
        let dry = ["--lambda-bucket", &zips, "--dry-run", "--output", "json"];
        let run = acct.deploy(&inputs, &form, &dry);
        run.assert_code(0)
            .assert_stderr(&[&format!("read as bucket {bucket}")]);
        let detail = detail(&step(&run.json(), "bucket-notification"));
        assert!(
            detail.contains(&format!("bucket {bucket}:"))
                && detail.contains(&format!("prefix {prefix:?}")),
            "{form}: {detail}"
        );
    }
}

#[tokio::test]
async fn provided_al2_is_warned_about_with_its_dates() {
    let (acct, inputs, bucket) = setup("trail-al2").await;
    let al2 = ["--parameter", "LambdaRuntime=provided.al2", "--dry-run"];
    let run = acct.deploy(&inputs, &bucket, &al2);
    let warning = run.assert_code(0).line("", &["warning:"]);
    assert!(
        warning.contains("provided.al2")
            && warning.contains("2027-02-01")
            && warning.contains("provided.al2023"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn provided_al2_is_refused_in_preflight_after_aws_dates() {
    let (acct, inputs, bucket) = setup("trail-al2-late").await;
    let on = |today: &str| acct.tool().env("TAEGIS_TODAY", today);
    let al2 = ["--parameter", "LambdaRuntime=provided.al2"];
    // Before the date: the preview gives both dates, nothing is refused.
    let dry = [&al2[..], &["--dry-run"]].concat();
    let run = on("2027-01-20").deploy(&inputs, &bucket, &dry);
    run.assert_code(0)
        .assert_stderr(&["2027-02-01", "2027-03-03"]);
    // On the day creates are blocked: refused before any change, with the fix.
    let before = acct.requests().len();
    let run = on("2027-02-01").deploy(&inputs, &bucket, &al2);
    run.assert_refused(
        &acct,
        before,
        &[
            "runtime provided.al2",
            "create",
            "LambdaRuntime=provided.al2023",
        ],
    );
}

/// Rollout files: each bad one exits 2 naming the file or the key, and changes nothing.
#[tokio::test]
async fn each_bad_rollout_file_exits_2_naming_it_and_creates_nothing() {
    let (acct, inputs, bucket) = setup("trail-rollout").await;
    let creds = s(&inputs.credentials);
    let zip = s(&inputs.zip);
    let good = format!(
        "taegis_region: foxtrot\ncredentials: {creds}\nlambda_zip: {zip}\nlambda_bucket: {bucket}-zips\nnotification_bucket: {bucket}\n"
    );
    let loop_a = inputs.path("loop-a");
    let loop_b = inputs.path("loop-b");
    std::os::unix::fs::symlink(&loop_b, &loop_a).unwrap();
    std::os::unix::fs::symlink(&loop_a, &loop_b).unwrap();

    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("empty file", String::new(), vec!["rollout.yaml", "empty"]),
        (
            "malformed YAML",
            format!("{good}targets: [\n"),
            vec!["rollout.yaml"],
        ),
        (
            "unknown key",
            format!("{good}taegis_regoin: echo\n"),
            vec!["rollout.yaml", "taegis_regoin"],
        ),
        (
            "number as text",
            format!("{good}concurrency: lots\n"),
            vec!["rollout.yaml", "concurrency"],
        ),
        (
            "list as text",
            format!("{good}regions: us-east-1\n"),
            vec!["rollout.yaml", "regions"],
        ),
        (
            "map as list",
            format!("{good}parameters: [a, b]\n"),
            vec!["rollout.yaml", "parameters"],
        ),
        (
            "empty targets",
            format!("{good}targets: []\n"),
            vec!["rollout.yaml", "targets"],
        ),
        (
            "nested targets",
            format!("{good}targets:\n  - regions: [us-east-1]\n    targets: []\n"),
            vec!["rollout.yaml", "targets"],
        ),
        (
            "account not 12 digits",
            format!(
                "{good}targets:\n  - account: \"12345\"\n    role_arn: arn:aws:iam::{{account}}:role/D\n"
            ),
            vec!["\"12345\"", "12-digit"],
        ),
        (
            "accounts without a role",
            format!("{good}accounts: [\"111111111111\"]\n"),
            vec!["--role-arn"],
        ),
        (
            "role ARN of another service",
            format!("{good}accounts: [\"111111111111\"]\nrole_arn: arn:aws:s3:::bucket\n"),
            vec!["--role-arn", "arn:aws:s3:::bucket"],
        ),
        (
            "unknown trigger",
            format!("{good}trigger: ftp\n"),
            vec!["rollout.yaml", "trigger"],
        ),
        (
            "unknown region in a target",
            format!("{good}targets:\n  - regions: [us-esat-1]\n"),
            vec!["us-esat-1", "target 1"],
        ),
        (
            "same region twice",
            format!("{good}regions: [us-east-1, us-east-1]\n"),
            vec!["twice"],
        ),
        (
            "relative credentials missing",
            good.replace(&creds, "missing-creds.txt"),
            vec!["--credentials", "missing-creds.txt"],
        ),
        (
            "credentials path that loops",
            good.replace(&creds, &s(&loop_a)),
            vec!["--credentials", "loop-a"],
        ),
        (
            "bucket URL of another host",
            good.replace(
                &format!("notification_bucket: {bucket}"),
                "notification_bucket: https://example.com/b",
            ),
            vec!["--notification-bucket", "example.com"],
        ),
        (
            "timeout of zero",
            format!("{good}timeout: 0s\n"),
            vec!["--timeout"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, text, want) in &cases {
        let file = inputs.write("rollout.yaml", text);
        let before = acct.requests().len();
        let run = acct.deploy_config(&["--yes"], &file);
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        let named = want.iter().all(|w| errors.iter().any(|l| l.contains(w)));
        let writes = acct.writes_since(before);
        if run.code != 2 || !named || !writes.is_empty() {
            failures.push(format!(
                "{name}: exit {}, named {want:?}: {named}, writes {writes:?}\nstderr: {}",
                run.code, run.stderr
            ));
        }
    }
    // The config path itself.
    for (name, path, want) in [
        ("config is a directory", s(inputs.dir.path()), "--config"),
        ("config missing", s(&inputs.path("nope.yaml")), "--config"),
    ] {
        let run = acct.deploy_config(&["--yes"], Path::new(&path));
        let named = run
            .stderr
            .lines()
            .any(|l| l.starts_with("error:") && l.contains(want));
        if run.code != 2 || !named {
            failures.push(format!("{name}: exit {}\nstderr: {}", run.code, run.stderr));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );

    // The good file works, as a control.
    let file = inputs.write("rollout.yaml", &good);
    acct.deploy_config(&["--yes", "--dry-run"], &file)
        .assert_code(0);
    assert!(acct.stack_names().await.is_empty());
}

#[tokio::test]
async fn creating_the_zip_bucket_needs_yes_when_no_one_can_be_asked() {
    let (acct, inputs, bucket) = setup("trail-noyes").await;
    let args = without(inputs.deploy_args(&bucket), "--yes");
    let before = acct.requests().len();
    let run = acct.tool().args(args).run();
    run.assert_refused(&acct, before, &["--yes", &format!("{bucket}-zips")]);
}

#[tokio::test]
async fn changing_the_xdr_region_under_an_importing_stack_is_refused_before_any_change() {
    let (acct, inputs, bucket) = deployed("trail-xdr-move", &[]).await;
    let before = acct.requests().len();
    let run = acct.deploy(&inputs, &bucket, &["--taegis-region", "echo"]);
    let said = ["--taegis-region echo", "imports it", "foxtrot"];
    run.assert_refused(&acct, before, &said);
}
