//! `verify --xdr`: the guide's Advanced Search through the XDR API, against the stand-in in
//! `tests/xdr/` (one per test binary; each test its own API client, so scripts never cross).

use std::process::Child;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::harness::{Account, Run};

const QUERY: &str = "from cloudaudit where sensor_type = 'AWS CloudTrail'";

struct StandIn {
    url: String,
    _child: Child,
}

/// The XDR stand-in of this test binary, started on first use.
fn standin() -> &'static StandIn {
    static XDR: OnceLock<StandIn> = OnceLock::new();
    XDR.get_or_init(|| {
        let (child, port) = crate::harness::start_python_server("tests/xdr/standin.py");
        StandIn {
            url: format!("http://127.0.0.1:{port}"),
            _child: child,
        }
    })
}

/// One test's API client, tenant and script on the stand-in.
struct Client {
    id: String,
    secret: String,
    tenant: String,
}

impl Client {
    /// A new client of the stand-in whose searches answer as `script` says.
    async fn new(name: &str, script: Value) -> Client {
        let c = Client {
            id: format!("it-{name}-{}", std::process::id()),
            secret: format!("secret-{name}-never-shown"),
            tenant: format!("{}", 50_000 + name.len() * 7),
        };
        admin(
            "/_xdr/clients",
            json!({"client_id": c.id, "client_secret": c.secret}),
        )
        .await;
        let mut script = script;
        script["client_id"] = c.id.clone().into();
        admin("/_xdr/script", script).await;
        c
    }

    /// What the stand-in recorded of this client: requests of `kind`.
    async fn record(&self, kind: &str) -> Vec<Value> {
        let url = format!(
            "{}/_xdr/requests?kind={kind}&client_id={}",
            standin().url,
            self.id
        );
        let body = reqwest::get(url).await.unwrap().text().await.unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        v.as_array()
            .cloned()
            .or_else(|| v["requests"].as_array().cloned())
            .unwrap_or_default()
    }

    /// `verify --xdr` as this client, at the stand-in, with `extra` flags.
    fn verify(&self, acct: &Account, extra: &[&str]) -> Run {
        acct.tool()
            .env("TAEGIS_CLIENT_ID", &self.id)
            .env("TAEGIS_CLIENT_SECRET", &self.secret)
            .env("TAEGIS_XDR_TIMEOUT", "3s")
            .args(["verify", "--xdr", "--xdr-api-url", &standin().url])
            .args(["--tenant", &self.tenant])
            .args(extra)
            .run()
    }
}

async fn admin(path: &str, body: Value) {
    let url = format!("{}{path}", standin().url);
    let answer = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
}

/// Neither the secret nor any token (a JWT starts `eyJ`) shows anywhere the user can see.
fn assert_nothing_secret(run: &Run, c: &Client) {
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(&c.secret),
            "the secret is on {what}:\n{text}"
        );
        assert!(!text.contains("eyJ"), "a token is on {what}:\n{text}");
        assert!(
            !text.contains("access-token-"),
            "a token is on {what}:\n{text}"
        );
    }
}

/// A deployed account: `verify`'s AWS checks pass, so the XDR part is what a test varies.
async fn deployed(what: &str) -> Account {
    crate::harness::deployed(what, &["--prefix", "AWSLogs/"])
        .await
        .0
}

#[tokio::test]
async fn events_found_are_counted_from_the_guides_query_over_the_window() {
    let acct = deployed("xdr-events").await;
    let c = Client::new("events", json!({"script": "events", "rows": 3})).await;
    let run = c.verify(&acct, &["--output", "json", "--since", "1h", "-vvv"]);
    run.assert_code(0);
    let doc = run.json();
    let x = &doc["xdr"];
    assert_eq!(x["events"], 3, "{doc:#}");
    assert_eq!(x["status"], "ok");
    assert_eq!(x["since"], "1h");
    assert_eq!(x["query"], format!("{QUERY} EARLIEST=-1h"));
    assert!(
        x["newest"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{x}"
    );
    assert_nothing_secret(&run, &c);
    // What XDR was asked: a client-credentials token with Basic auth, then `eventQuery` with
    // the guide's query, as the tenant given.
    let tokens = c.record("token").await;
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["grant_type"], "client_credentials");
    assert_eq!(tokens[0]["basic_client_id"], c.id.as_str());
    assert_eq!(tokens[0]["secret_matched"], true);
    let subs = c.record("subscription").await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    let sub = subs[0].to_string();
    assert!(sub.contains("eventQuery"), "{sub}");
    assert!(sub.contains(&format!("{QUERY} EARLIEST=-1h")), "{sub}");
    assert!(sub.contains(&c.tenant), "{sub}");
    // And in words.
    let text = c.verify(&acct, &["--since", "1h"]);
    text.assert_code(0);
    assert!(
        text.stdout
            .contains("3 CloudTrail events in XDR in the last 1h"),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn no_events_yet_is_a_warning_that_says_why_and_a_failed_query_gives_xdrs_reason() {
    let acct = deployed("xdr-none").await;
    let none = Client::new("none", json!({"script": "none"})).await;
    let run = none.verify(&acct, &["--output", "json"]);
    run.assert_code(0);
    let x = &run.json()["xdr"];
    assert_eq!(
        (x["events"].clone(), x["status"].clone()),
        (json!(0), json!("warning"))
    );
    assert!(x["detail"].as_str().unwrap().contains("normal"), "{x}");
    let failed = Client::new(
        "failed",
        json!({"script": "failed", "reason": "the search backend is down for maintenance"}),
    )
    .await;
    let run = failed.verify(&acct, &["--output", "json"]);
    run.assert_code(1);
    let x = &run.json()["xdr"];
    assert_eq!(x["status"], "failed", "{x}");
    assert!(
        x["detail"]
            .as_str()
            .unwrap()
            .contains("down for maintenance"),
        "{x}"
    );
}

#[tokio::test]
async fn a_refused_client_a_refused_tenant_and_a_hung_api_are_one_line_each_and_exit_2() {
    let acct = deployed("xdr-refused").await;
    // The secret XDR does not know.
    let mut wrong = Client::new("wrong", json!({"script": "events"})).await;
    wrong.secret = "not-the-secret-either".into();
    let run = wrong.verify(&acct, &[]);
    run.assert_code(2);
    run.line(
        "error:",
        &[
            "refused the API client",
            "TAEGIS_CLIENT_ID",
            "TAEGIS_CLIENT_SECRET",
        ],
    );
    assert_nothing_secret(&run, &wrong);
    // A tenant the client may not see.
    let tenant = Client::new("tenant", json!({"script": "tenant_refused"})).await;
    let run = tenant.verify(&acct, &[]);
    run.assert_code(2);
    run.line("error:", &["refused tenant", &tenant.tenant, "--tenant"]);
    // An API that never answers: a bounded wait that names the host.
    let hung = Client::new(
        "hung",
        json!({"script": "slow", "target": "subscription", "seconds": null}),
    )
    .await;
    let run = hung.verify(&acct, &[]);
    run.assert_code(2);
    run.line("error:", &["gave no answer within 3s", "127.0.0.1"]);
    assert_nothing_secret(&run, &hung);
}

#[tokio::test]
async fn without_an_api_client_nothing_changes_and_the_variables_are_named() {
    let acct = Account::new().await;
    let before = acct.requests().len();
    let run = acct
        .tool()
        .args(["verify", "--xdr", "--xdr-api-url", &standin().url])
        .run();
    run.assert_refused(&acct, before, &["TAEGIS_CLIENT_ID", "TAEGIS_CLIENT_SECRET"]);
    // --tenant without --xdr is a mistake clap names.
    let run = acct.tool().args(["verify", "--tenant", "1"]).run();
    run.assert_code(2);
    assert!(run.stderr.contains("--xdr"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_at_a_terminal_ends_with_the_xdr_check_when_an_api_client_is_set() {
    use crate::setup::{FUNCTION_DEFAULTS, Turn, converse, exit_code, in_pty_with};
    let (acct, inputs, bucket) = crate::harness::setup("xdr-setup").await;
    crate::trails::trail_with_topic(&acct, "main", "xdr-setup-news", &bucket, None).await;
    let c = Client::new("setup", json!({"script": "events", "rows": 2})).await;
    let tool = acct
        .tool()
        .env("TAEGIS_CLIENT_ID", &c.id)
        .env("TAEGIS_CLIENT_SECRET", &c.secret)
        .env("TAEGIS_XDR_API_URL", &standin().url);
    let mut p = in_pty_with(tool, &inputs, &["setup"]);
    converse(
        &mut p,
        &[
            Turn::Answer("AWS region", ""),
            Turn::Answer("XDR login URL or region", "golf"),
            Turn::Answer("Credentials file from XDR", ""),
            Turn::Answer("Which CloudTrail logs should reach XDR?", ""),
            Turn::Press("Trigger the function from S3", "y"),
        ],
    );
    converse(&mut p, FUNCTION_DEFAULTS);
    let offer = format!("Advanced Search in XDR, as API client {}?", c.id);
    converse(
        &mut p,
        &[
            Turn::Press("Change other parameters of the Lambda template?", "n"),
            Turn::Press("Deploy this plan?", "y"),
            Turn::Press(&offer, "y"),
            Turn::See("The guide's checks"),
            Turn::See("XDR Advanced Search: ok 2 CloudTrail events in XDR in the last 24h"),
            Turn::Press("Delete", "n"),
            Turn::Press("Save these answers as a rollout file", "n"),
        ],
    );
    assert_eq!(exit_code(&mut p), 0);
    let subs = c.record("subscription").await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert!(
        subs[0]
            .to_string()
            .contains(&format!("{QUERY} EARLIEST=-24h"))
    );
}

#[tokio::test]
async fn the_api_follows_the_shared_stacks_region_and_an_api_that_does_not_answer_is_named() {
    let acct = deployed("xdr-host").await;
    let c = Client::new("host", json!({"script": "events"})).await;
    // Nothing listens there: refused at once, the host named.
    let closed = acct
        .tool()
        .env("TAEGIS_CLIENT_ID", &c.id)
        .env("TAEGIS_CLIENT_SECRET", &c.secret)
        .args(["verify", "--xdr", "--xdr-api-url", "http://127.0.0.1:9"])
        .run();
    closed.assert_code(2);
    closed.line(
        "error:",
        &["the XDR API at 127.0.0.1:9 did not answer", "--xdr-api-url"],
    );
    // No flag names the API: the shared stack's TaegisRegion (foxtrot) does. There is no
    // network here, so that host does not answer either; what matters is which host it asked.
    let from_stack = acct
        .tool()
        .env("TAEGIS_CLIENT_ID", &c.id)
        .env("TAEGIS_CLIENT_SECRET", &c.secret)
        .env("TAEGIS_XDR_TIMEOUT", "3s")
        .args(["verify", "--xdr"])
        .run();
    from_stack.assert_code(2);
    from_stack.line("error:", &["api.foxtrot.taegis.secureworks.com"]);
    assert_nothing_secret(&from_stack, &c);
}
