//! The pieces around the tool: the manual page, completions, the templates as files and
//! tables, the examples a team copies into its CI.

use std::process::Command;

use crate::harness::{Account, Inputs, each_target, s, setup};
use crate::seed;

fn tool_output(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_taegis-cloudtrail"))
        .args(args)
        .output()
        .expect("run taegis-cloudtrail")
}

/// Every long option of `cmd` and of its subcommands, by page name (`taegis-cloudtrail-deploy`).
fn options(cmd: &clap::Command, parent: &str, out: &mut Vec<(String, Vec<String>)>) {
    let name = if parent.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{parent}-{}", cmd.get_name())
    };
    let longs = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    out.push((name.clone(), longs));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        options(sub, &name, out);
    }
}

#[test]
fn man_writes_a_page_per_command_listing_every_option() {
    use clap::CommandFactory;
    let dir = tempfile::tempdir().unwrap();
    let out = tool_output(&["man", &s(dir.path())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cli = taegis_cloudtrail::cli::Cli::command();
    cli.build();
    let mut want = Vec::new();
    options(&cli, "", &mut want);
    assert!(want.len() > 10, "{want:?}");
    let mut missing = Vec::new();
    for (page, longs) in &want {
        let path = dir.path().join(format!("{page}.1"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no page {}: {e}", path.display()))
            .replace("\\-", "-");
        for long in longs {
            if !text.contains(long.as_str()) {
                missing.push(format!("{page}: {long}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "options missing from the pages: {missing:?}"
    );
    let deploy = std::fs::read_to_string(dir.path().join("taegis-cloudtrail-deploy.1")).unwrap();
    assert!(deploy.contains("notification\\-bucket"), "{deploy}");
    // The main page lists the commands.
    let main = std::fs::read_to_string(dir.path().join("taegis-cloudtrail.1")).unwrap();
    for sub in ["deploy", "setup", "verify", "destroy", "iam\\-policy"] {
        assert!(main.contains(sub), "{sub}: {main}");
    }
}

/// The tool writing into a pipe whose reader is already gone (`| head` after its line).
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(env!("CARGO_BIN_EXE_taegis-cloudtrail"))
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    for args in [
        &["completions", "zsh"][..],
        &["--help"],
        &["man"],
        &["template", "show", "lambda"],
        &["iam-policy", "deploy"],
    ] {
        let out = into_closed_pipe(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            out.status.code().is_some_and(|c| c == 0),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}

#[test]
fn template_show_and_export_honour_json() {
    let out = tool_output(&["template", "show", "lambda", "--output", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["template"], "lambda");
    assert!(
        doc["body"]
            .as_str()
            .unwrap()
            .contains("AWSTemplateFormatVersion")
    );
    let dir = tempfile::tempdir().unwrap();
    let out = tool_output(&["template", "export", &s(dir.path()), "--output", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for f in files {
        assert!(std::path::Path::new(f.as_str().unwrap()).exists(), "{f}");
    }
    // A template that cannot be read names the argument, not a flag that does not exist.
    let out = tool_output(&["template", "params", "missing.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("template missing.yaml") && !stderr.contains("--parameters"),
        "{stderr}"
    );
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
    assert_eq!(names, crate::preview::LAMBDA_PARAMETERS);
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
    let run = caller.deploy_config(&["--dry-run", "--output", "json"], &file);
    let doc = run.assert_code(0).json();
    assert_eq!(each_target(&doc, "outcome"), ["planned"; 7], "{doc:#}");
}

#[test]
fn the_ci_examples_are_yaml_with_their_jobs() {
    for (text, job) in [
        (include_str!("../../examples/github-actions.yml"), "jobs"),
        (
            include_str!("../../examples/gitlab-ci.yml"),
            "taegis-cloudtrail",
        ),
        (
            include_str!("../../examples/github-actions-sharded.yml"),
            "jobs",
        ),
        (
            include_str!("../../examples/gitlab-ci-sharded.yml"),
            "taegis-cloudtrail-rollout",
        ),
        (
            include_str!("../../examples/github-actions-coverage.yml"),
            "jobs",
        ),
    ] {
        let doc: serde_json::Value = taegis_cloudtrail::template::from_yaml(text).unwrap();
        assert!(doc.get(job).is_some(), "{job}: {doc:#}");
        let all = doc.to_string();
        if all.contains("taegis-coverage") {
            // The nightly gate: coverage's JSON, and the rollout it suggests kept.
            assert!(
                all.contains("coverage --suggest --output json")
                    && all.contains("suggestion.rollout"),
                "{all}"
            );
            continue;
        }
        assert!(
            all.contains("deploy --config")
                && all.contains("--output json")
                && all.contains("verify"),
            "{all}"
        );
        // The sharded ones run each part with --shard and gather the results.
        if job != "taegis-cloudtrail" && text.contains("shard") {
            assert!(
                all.contains("--shard") && all.contains("--retry-from"),
                "{all}"
            );
        }
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
    let json = ["--output", "json"];
    let run = acct
        .tool()
        .env("RUST_LOG", "trace")
        .deploy(&inputs, &bucket, &json);
    let doc = run.assert_code(0).json();
    assert_eq!(
        doc["targets"][0]["outcome"], "created",
        "stdout is the result alone"
    );
    run.assert_stderr(&["aws_smithy_runtime::client::orchestrator: transmitting request"]);
    assert!(!leaks(&run.stderr), "the credentials leaked into the logs");

    // -vvv: the SDK's internals too, while the credentials are sent again.
    let again = ["--update-credentials", "--output", "json", "-vvv"];
    let run = acct.deploy(&inputs, &bucket, &again);
    run.assert_code(0).assert_stderr(&[
        "aws_smithy_runtime",
        "CloudFormation UpdateStack (cloudformation:UpdateStack)",
    ]);
    assert!(!leaks(&run.stderr), "the credentials leaked into the logs");

    // -vv: each AWS call with its request id, nothing of the SDK's own.
    let run = acct.deploy(&inputs, &bucket, &["--output", "json", "-vv"]);
    run.assert_code(0).json();
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
