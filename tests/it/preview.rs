//! `--dry-run` previews the exact parameters each stack will get, and where each came from.

use crate::harness::setup;

/// The bundled Lambda template's parameters, in order.
pub const LAMBDA_PARAMETERS: [&str; 10] = [
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
];

/// The parameters of the step `name` of the first target: (name, value, source, previous).
fn parameters(
    doc: &serde_json::Value,
    name: &str,
) -> Vec<(String, String, String, Option<String>)> {
    crate::harness::step(doc, name)["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("no parameters on {name}: {doc:#}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["value"].as_str().unwrap().to_string(),
                p["source"].as_str().unwrap().to_string(),
                p["previous"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn names(ps: &[(String, String, String, Option<String>)]) -> Vec<&str> {
    ps.iter().map(|p| p.0.as_str()).collect()
}

#[tokio::test]
async fn the_dry_run_lists_every_parameter_with_its_value_and_source() {
    let (acct, inputs, bucket) = setup("trail-preview").await;
    let base = || {
        let mut a = inputs.deploy_args(&bucket);
        a.extend(["--dry-run".to_string()]);
        a
    };
    let run = acct.tool().args(base()).args(["--output", "json"]).run();
    run.assert_code(0);
    let doc = run.json();
    let shared = parameters(&doc, "shared-stack");
    assert_eq!(names(&shared), ["SecretValue", "TaegisRegion"]);
    assert_eq!(shared[0].1, "****");
    assert_eq!(
        shared[1],
        ("TaegisRegion".into(), "foxtrot".into(), "flag".into(), None)
    );
    let lambda = parameters(&doc, "lambda-stack");
    assert_eq!(names(&lambda), LAMBDA_PARAMETERS);
    let by = |n: &str| lambda.iter().find(|p| p.0 == n).unwrap().clone();
    assert_eq!(by("IntegrationType").1, "awscloudtrail");
    assert_eq!(by("IntegrationType").2, "default");
    assert_eq!(by("NotificationBucket").1, bucket);
    assert_eq!(by("NotificationBucket").2, "flag");
    assert_eq!(by("ReservedConcurrency").2, "template");
    assert!(
        by("TaegisLambdaS3Key")
            .1
            .starts_with("taegis-lambda-amd64-")
    );

    // The text plan shows the same.
    let text = acct.tool().args(base()).run();
    text.assert_code(0);
    for want in [
        "SecretValue",
        "****",
        "TaegisRegion",
        "foxtrot",
        "(flag)",
        "ReservedConcurrency",
        "(template default)",
    ] {
        assert!(text.stdout.contains(want), "{want}:\n{}", text.stdout);
    }
    for out in [&run.stdout, &run.stderr, &text.stdout, &text.stderr] {
        for line in inputs.secret_text.lines() {
            assert!(!out.contains(line), "the credentials leaked:\n{out}");
        }
    }

    // Deployed, then a change of integration type: old -> new.
    acct.tool()
        .args(inputs.deploy_args(&bucket))
        .run()
        .assert_code(0);
    let run = acct
        .tool()
        .args(base())
        .args(["--integration-type", "generic", "--output", "json"])
        .run();
    run.assert_code(0);
    let doc = run.json();
    let lambda = parameters(&doc, "lambda-stack");
    let it = lambda.iter().find(|p| p.0 == "IntegrationType").unwrap();
    assert_eq!(
        (it.1.as_str(), it.2.as_str(), it.3.as_deref()),
        ("generic", "flag", Some("awscloudtrail"))
    );
    assert!(
        lambda
            .iter()
            .filter(|p| p.0 != "IntegrationType")
            .all(|p| p.3.is_none()),
        "{lambda:?}"
    );
    let secret = &parameters(&doc, "shared-stack")[0];
    assert_eq!((secret.1.as_str(), secret.2.as_str()), ("****", "previous"));
    let text = acct
        .tool()
        .args(base())
        .args(["--integration-type", "generic"])
        .run();
    assert!(
        text.stdout.contains("awscloudtrail -> generic"),
        "{}",
        text.stdout
    );
}
