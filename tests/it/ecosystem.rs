//! The pieces around the tool: the manual page, completions, the templates as files and
//! tables, the examples a team copies into its CI.

use std::process::Command;

use crate::harness::{Account, Inputs, s, setup};
use crate::seed;

fn tool_output(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_taegis-cloudtrail"))
        .args(args)
        .output()
        .expect("run taegis-cloudtrail")
}

#[test]
fn the_manual_page_renders_and_the_bash_completion_parses() {
    let page = tool_output(&["man"]);
    assert!(page.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taegis-cloudtrail.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let shown = Command::new("man")
        .args(["-l", &s(&file)])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is installed");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(
        text.contains("taegis-cloudtrail") && text.contains("SYNOPSIS"),
        "{text}"
    );

    let completion = tool_output(&["completions", "bash"]);
    let script = dir.path().join("taegis-cloudtrail.bash");
    std::fs::write(&script, &completion.stdout).unwrap();
    let parsed = Command::new("bash")
        .args(["-n", &s(&script)])
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
}

#[test]
fn template_params_lists_every_parameter_in_order_short_forms_included() {
    let out = tool_output(&["template", "params", "lambda", "--output", "json"]);
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "IntegrationType",
            "NotificationBucket",
            "SNSNotificationarn",
            "NotificationBucketCustomerManagedKMSarn",
            "TaegisLambdaS3BucketName",
            "LambdaEnvKMSarn",
            "EnableObjectTagging",
            "TaegisLambdaS3Key",
            "ReservedConcurrency",
            "LambdaRuntime",
        ]
    );
    let shared = tool_output(&["template", "params", "shared", "--output", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&shared.stdout).unwrap();
    assert_eq!(rows[0]["name"], "SecretValue");
    assert_eq!(rows[0]["no_echo"], true);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.yaml");
    std::fs::write(
        &file,
        "Parameters:\n  Env:\n    Type: String\n    AllowedValues: [dev, prod]\n    Default: !Ref AWS::NoValue\n  Name:\n    Type: String\n    Description: !Sub \"the ${AWS::StackName} name\"\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\nResources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !If [IsProd, !Sub \"${Name}-prod\", !Ref Name]\n",
    )
    .unwrap();
    let out = tool_output(&["template", "params", &s(&file)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let env = text.find("\nEnv ").unwrap();
    let name = text.find("\nName ").unwrap();
    assert!(env < name, "{text}");
    assert!(text.contains("dev, prod"), "{text}");
}

#[test]
fn template_export_writes_the_pair_under_the_vendors_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = tool_output(&["template", "export", &s(&dir.path().join("cfn"))]);
    assert!(out.status.success());
    for name in [
        "taegis-cloudformation-shared-resources.yaml",
        "taegis-cloudformation-lambda-template.yaml",
    ] {
        let text = std::fs::read_to_string(dir.path().join("cfn").join(name)).unwrap();
        assert!(text.contains("Resources:"), "{name}");
    }
}

/// The bundled templates are clean under cfn-lint (installed with the emulator), as the
/// changelog says.
#[test]
fn the_bundled_templates_pass_cfn_lint() {
    let python = std::env::var_os("TAEGIS_EMULATOR_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-emulator/bin/python")
        });
    let lint = python.with_file_name("cfn-lint");
    assert!(
        lint.exists(),
        "cfn-lint is installed with the emulator: {}",
        lint.display()
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let out = Command::new(&lint)
        .arg(root.join("taegis-cloudformation-shared-resources.yaml"))
        .arg(root.join("taegis-cloudformation-lambda-template.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_example_rollout_file_plans_cleanly() {
    let caller = Account::new().await;
    let inputs = Inputs::new();
    for (id, regions) in [
        ("111111111111", &["us-east-1", "us-west-2", "eu-west-1"][..]),
        ("222222222222", &["us-east-1", "us-west-2", "eu-west-1"][..]),
    ] {
        let acct = Account::with_id(id).await;
        for region in regions {
            seed::bucket(&acct, &format!("cloudtrail-{id}-{region}"), region).await;
        }
    }
    let archive = Account::with_id("333333333333").await;
    seed::bucket(&archive, "org-trail-central-333333333333", "us-east-1").await;
    let example = include_str!("../../examples/rollout.org.yaml");
    let file = inputs.write("rollout.org.yaml", example);
    let run = caller
        .tool()
        .args([
            "deploy",
            "--dry-run",
            "--output",
            "json",
            "--config",
            &s(&file),
        ])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 7);
    assert!(targets.iter().all(|t| t["outcome"] == "planned"), "{doc:#}");
}

#[test]
fn the_ci_examples_are_yaml_with_their_jobs() {
    for (text, job) in [
        (include_str!("../../examples/github-actions.yml"), "jobs"),
        (
            include_str!("../../examples/gitlab-ci.yml"),
            "taegis-cloudtrail",
        ),
    ] {
        let doc: serde_json::Value = taegis_cloudtrail::template::from_yaml(text).unwrap();
        assert!(doc.get(job).is_some(), "{job}: {doc:#}");
        let all = doc.to_string();
        assert!(
            all.contains("deploy --config")
                && all.contains("--output json")
                && all.contains("verify"),
            "{all}"
        );
    }
}

#[tokio::test]
async fn logs_are_on_stderr_with_request_ids_and_never_show_the_credentials() {
    let (acct, inputs, bucket) = setup("logs").await;
    let leaks = |stderr: &str| {
        inputs
            .secret_text
            .split(['=', '\n'])
            .filter(|p| p.len() > 6)
            .any(|p| stderr.contains(p))
    };
    // RUST_LOG decides when set: everything, the SDK's traces of each request and response
    // included, while the credentials are sent.
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json"])
        .env("RUST_LOG", "trace")
        .run();
    run.assert_code(0);
    assert_eq!(
        run.json()["targets"][0]["outcome"],
        "created",
        "stdout is the result alone"
    );
    assert!(
        run.stderr
            .contains("aws_smithy_runtime::client::orchestrator: transmitting request")
    );
    assert!(!leaks(&run.stderr), "the credentials leaked into the logs");

    // -vvv: the SDK's internals too, while the credentials are sent again.
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--update-credentials", "--output", "json", "-vvv"])
        .run();
    run.assert_code(0);
    assert!(
        run.stderr.contains("aws_smithy_runtime"),
        "no SDK internals at -vvv"
    );
    assert!(
        run.stderr
            .contains("CloudFormation UpdateStack (cloudformation:UpdateStack)")
    );
    assert!(!leaks(&run.stderr), "the credentials leaked into the logs");

    // -vv: each AWS call with its request id, nothing of the SDK's own.
    let run = acct
        .tool()
        .args(inputs.deploy_args(&bucket))
        .args(["--output", "json", "-vv"])
        .run();
    run.assert_code(0);
    run.json();
    let calls: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(" attempt "))
        .collect();
    assert!(
        calls.iter().any(
            |l| l.contains("STS GetCallerIdentity (sts:GetCallerIdentity) attempt 1: HTTP 200")
        ),
        "{}",
        run.stderr
    );
    assert!(calls.iter().all(|l| l.contains("request id")), "{calls:#?}");
    assert!(
        calls.iter().any(|l| !l.ends_with("request id -")),
        "{calls:#?}"
    );
    assert!(!run.stderr.contains("aws_smithy_runtime"));
}
