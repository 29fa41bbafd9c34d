//! The first errors a newcomer meets, each one line naming the cause and the fix, exit 2, no
//! SDK debug text: no credentials, a profile that does not exist, an expired SSO session,
//! keys AWS refuses, no region, a region the account has not enabled, an endpoint that does
//! not answer. What needs no AWS is still reported beside them.

use std::path::Path;

use crate::harness::{Account, Inputs, REGION, Run, Tool, bucket_name, plus, s, set_flag};

/// The SDK's own words that must never reach a user.
const DEBUG_TEXT: &[&str] = &["Attempted:", "DispatchFailure", "Some(", "ConnectorError"];

/// Exit 2, each `want` on one `error:` line, nothing of the SDK's debug output.
fn refused(run: &Run, want: &[&str]) {
    run.assert_code(2);
    for w in want {
        run.line("error:", &[w]);
    }
    for d in DEBUG_TEXT {
        assert!(!run.stderr.contains(d), "{d:?} on stderr:\n{}", run.stderr);
    }
    assert!(run.stdout.trim().is_empty(), "{}", run.stdout);
}

/// A dry run's flags (a bucket that need not exist: nothing gets that far).
fn dry_run(inputs: &Inputs) -> Vec<String> {
    plus(
        inputs.deploy_args(&bucket_name("first-contact")),
        &["--dry-run"],
    )
}

/// The tool without the account's keys: with the AWS config file `config` and, when given,
/// the shared credentials file `credentials`.
fn with_files(acct: &Account, config: &Path, credentials: Option<&Path>) -> Tool {
    let tool = acct
        .tool()
        .without_keys()
        .env("AWS_CONFIG_FILE", &s(config));
    match credentials {
        Some(c) => tool.env("AWS_SHARED_CREDENTIALS_FILE", &s(c)),
        None => tool,
    }
}

#[tokio::test]
async fn no_credentials_anywhere_is_said_with_every_other_problem() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let missing = s(&inputs.path("missing-credentials.txt"));
    let args = set_flag(dry_run(&inputs), "--credentials", &missing);
    let args = plus(args, &["--integration-type", "vpcflow"]);
    let run = acct
        .tool()
        .without_keys()
        .env("AWS_REGION", REGION)
        .args(&args)
        .run();
    refused(
        &run,
        &[
            "AWS credentials: none found",
            "aws configure",
            "--credentials",
            "missing-credentials.txt: no such file",
            "vpcflow",
        ],
    );
}

#[tokio::test]
async fn a_profile_that_does_not_exist_is_named_with_the_ones_that_do() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let (config, credentials) = acct.profile_files(inputs.dir.path(), "ops");
    let files = || with_files(&acct, &config, Some(&credentials));
    let opps = ["--profile", "opps", "--region", REGION];
    let run = files().args(dry_run(&inputs)).args(opps).run();
    refused(
        &run,
        &[
            "--profile opps: no such profile",
            "the profiles there: ops",
            "aws configure --profile opps",
        ],
    );
    // The same files with the right name work.
    let run = files().verify(&["--profile", "ops"]);
    assert!(!run.stderr.contains("no such profile"), "{}", run.stderr);
}

#[tokio::test]
async fn an_expired_sso_session_says_how_to_log_in_again() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let home = inputs.dir.path().join("home");
    let cache = home.join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let config = inputs.write(
        "sso-config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
    );
    // The SDK's cache file for session "corp": sha1("corp"), a token that expired long ago.
    std::fs::write(
        cache.join("ee0bfd2552fbd840c02cc48b6e823320543c450f.json"),
        r#"{"startUrl":"https://corp.awsapps.com/start","region":"us-east-1","accessToken":"old","expiresAt":"2020-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let tool = with_files(&acct, &config, None).env("HOME", &s(&home));
    let run = tool.args(dry_run(&inputs)).args(["--profile", "dev"]).run();
    refused(
        &run,
        &["SSO session of profile dev", "aws sso login --profile dev"],
    );
}

#[tokio::test]
async fn keys_aws_refuses_are_told_from_a_region_that_is_not_enabled() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let (key, _secret) = crate::iam::user_with(
        &acct,
        "first-contact",
        &serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    .await;
    crate::iam::enforce(&acct, true);
    let run = acct
        .tool()
        .without_keys()
        .env("AWS_ACCESS_KEY_ID", &key)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .env("AWS_REGION", "eu-west-1")
        .args(dry_run(&inputs))
        .run();
    crate::iam::enforce(&acct, false);
    refused(
        &run,
        &["AWS credentials: refused by AWS", "AWS_SECRET_ACCESS_KEY"],
    );
    assert!(!run.stderr.contains("not enabled"), "{}", run.stderr);

    // Good credentials in a region the account has not enabled: only the region is named.
    let run = acct
        .tool()
        .args(dry_run(&inputs))
        .args(["--region", "eu-future-1"])
        .run();
    refused(
        &run,
        &[
            "region eu-future-1",
            &format!("not enabled for account {}", acct.id),
            "aws account enable-region --region-name eu-future-1",
        ],
    );
    assert!(!run.stderr.contains("AWS credentials"), "{}", run.stderr);
}

#[tokio::test]
async fn no_region_anywhere_names_the_flags_that_give_one() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let run = acct
        .tool()
        .env_remove("AWS_REGION")
        .args(dry_run(&inputs))
        .run();
    refused(&run, &["no region", "--region REGION", "AWS_REGION"]);
}

#[tokio::test]
async fn an_endpoint_that_does_not_answer_is_named() {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = acct
        .tool()
        .env("AWS_ENDPOINT_URL", &url)
        .args(dry_run(&inputs))
        .run();
    refused(
        &run,
        &[
            &format!("--endpoint-url {url}: does not answer"),
            "Connection refused",
        ],
    );
}
