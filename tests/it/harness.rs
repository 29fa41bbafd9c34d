//! The test cloud and the tool under test: one emulator per test binary on a free 127.0.0.1
//! port, a fresh AWS account per test (sts:AssumeRole into a unique 12-digit account), SDK
//! clients for seeding and inspecting, and the real binary run as a user would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;

pub const REGION: &str = "us-east-1";

pub struct Emulator {
    pub url: String,
    pub port: u16,
    _child: Child,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Start a test server of the emulator's venv (`script`, relative to the repository) on a
/// free 127.0.0.1 port; it prints `port N`, then `ready`, and ends with this test binary.
pub fn start_python_server(script: &str) -> (Child, u16) {
    let python = std::env::var_os("TAEGIS_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-emulator/bin/python"));
    assert!(
        python.exists(),
        "the emulator's Python is missing at {}: run scripts/test.sh (it creates the venv from tests/emulator/requirements.lock)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(repo().join(script))
        .args(["--host", "127.0.0.1", "--port", "0", "--parent-pid"])
        .arg(std::process::id().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {script}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut port = 0u16;
    for line in lines.by_ref() {
        let line = line.expect("read the server's stdout");
        if let Some(p) = line.strip_prefix("port ") {
            port = p.trim().parse().expect("a port number");
        }
        if line.trim() == "ready" {
            break;
        }
    }
    assert!(port > 0, "{script} did not report its port");
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// The emulator of this test binary, started on first use.
pub fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let (child, port) = start_python_server("tests/emulator/taegis_moto.py");
        let emu = Emulator {
            url: format!("http://127.0.0.1:{port}"),
            port,
            _child: child,
        };
        // There is no Docker here: Lambda invocations answer with the payload they got.
        let (status, body) = request(
            port,
            "POST",
            "/moto-api/config",
            Some(r#"{"lambda": {"use_docker": false}}"#),
        );
        assert!((200..300).contains(&status), "{status} {body}");
        emu
    })
}

/// A minimal HTTP/1.1 request to the emulator's admin API; returns (status, body).
pub fn http(method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    request(emulator().port, method, path, body)
}

fn request(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the emulator");
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A unique 12-digit account id for one test.
fn unique_account() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = N.fetch_add(1, Ordering::SeqCst);
    let v = (nanos / 1000 + n * 7919 + u64::from(std::process::id()) * 104729) % 900_000_000_000
        + 100_000_000_000;
    v.to_string()
}

/// One test's own AWS account, with credentials for the tool and SDK clients for the test.
pub struct Account {
    pub id: String,
    pub access_key: String,
    secret_key: String,
    session_token: String,
    pub config: aws_config::SdkConfig,
}

impl Account {
    pub async fn new() -> Account {
        Account::with_id(&unique_account()).await
    }

    /// The account of this id (examples name fixed ones).
    pub async fn with_id(id: &str) -> Account {
        let id = id.to_string();
        let emu = emulator();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&emu.url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&base);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/test"))
            .role_session_name("it")
            .send()
            .await
            .expect("assume a role in the test account");
        let c = out.credentials().unwrap();
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "test-account",
        );
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&emu.url)
            .credentials_provider(creds)
            .load()
            .await;
        let me = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert_eq!(me.account(), Some(id.as_str()));
        Account {
            id,
            access_key: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            session_token: c.session_token().to_string(),
            config,
        }
    }

    pub fn config_in(&self, region: &str) -> aws_config::SdkConfig {
        self.config
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        self.s3_in(REGION)
    }

    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config_in(region))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Every request this account's credentials made, oldest first: (action, method).
    pub fn requests(&self) -> Vec<Request> {
        self.logged(&format!("access_key={}", self.access_key))
    }

    /// Every request made in this account, by any credentials (roles assumed into it too).
    pub fn requests_in_account(&self) -> Vec<Request> {
        self.logged(&format!("account={}", self.id))
    }

    fn logged(&self, filter: &str) -> Vec<Request> {
        let (status, body) = http("GET", &format!("/_taegis/requests?{filter}"), None);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("request log JSON");
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| Request {
                service: r["service"].as_str().unwrap_or_default().to_string(),
                action: r["action"].as_str().unwrap_or_default().to_string(),
                method: r["method"].as_str().unwrap_or_default().to_string(),
                status: r["status"].as_u64().unwrap_or(0) as u16,
                fault: r["fault"].as_str().map(str::to_string),
                region: r["region"].as_str().map(str::to_string),
            })
            .collect()
    }

    /// Wait until this account's credentials have made `count` requests of `action`.
    pub async fn wait_for(&self, action: &str, count: usize) {
        let start = std::time::Instant::now();
        while self.calls(action) < count {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "no {action} #{count} within 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// How many requests of `action` this account's credentials made.
    pub fn calls(&self, action: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.action == action)
            .count()
    }

    /// The mutating requests made since `since` requests had been logged.
    pub fn writes_since(&self, since: usize) -> Vec<Request> {
        self.requests()
            .into_iter()
            .skip(since)
            .filter(Request::mutates)
            .collect()
    }

    /// Set the account's Lambda concurrency limit in the emulator.
    pub fn set_concurrency_limit(&self, limit: u32) {
        let (status, body) = http(
            "POST",
            "/_taegis/account-settings",
            Some(&format!(
                r#"{{"account":"{}","concurrent_executions":{limit}}}"#,
                self.id
            )),
        );
        assert_eq!(status, 200, "{body}");
    }

    /// Make the emulator behave like AWS for this account (see tests/emulator/README.md):
    /// `stack_seconds`, `failures`, `throttle`, `errors_5xx`, `drop`, `latency_ms` ...
    pub fn behave(&self, settings: serde_json::Value) {
        let mut body = settings;
        body["account"] = serde_json::Value::String(self.id.clone());
        let (status, answer) = http("POST", "/_taegis/behaviour", Some(&body.to_string()));
        assert_eq!(status, 200, "{answer}");
    }

    /// AWS's clock for this account: a new invoke permission takes 2 s to reach S3, a
    /// notification configuration read within `stale` seconds of a write may be the old one, a
    /// function just created or updated is busy for 2 s.
    pub fn behave_slowly(&self, stale: u64) {
        self.behave(serde_json::json!({
            "permission_delay_seconds": 2,
            "notification_stale_seconds": stale,
            "busy_seconds": 2,
        }));
    }

    /// An AWS config file and a shared credentials file holding this account's credentials
    /// as profile `name` (region us-east-1), as a user's machine would have them.
    pub fn profile_files(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let config = dir.join("aws-config");
        let credentials = dir.join("aws-credentials");
        std::fs::write(&config, format!("[profile {name}]\nregion = {REGION}\n")).unwrap();
        std::fs::write(
            &credentials,
            format!(
                "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
                self.access_key, self.secret_key, self.session_token
            ),
        )
        .unwrap();
        (config, credentials)
    }

    /// Regions AWS launched after the emulator's list, enabled for this account.
    pub fn enable_regions(&self, regions: &[&str]) {
        let body = serde_json::json!({"account": self.id, "enabled": regions});
        let (status, answer) = http("POST", "/_taegis/regions", Some(&body.to_string()));
        assert_eq!(status, 200, "{answer}");
    }

    /// The emulator fails `resource` of the Lambda stack `taegis-cloudtrail` on `operation`
    /// (create, update, delete) for `reason`, as CloudFormation would.
    pub fn fail(&self, resource: &str, operation: &str, reason: &str) {
        self.fail_in("taegis-cloudtrail", resource, operation, reason);
    }

    /// `fail`, in the stack `stack`.
    pub fn fail_in(&self, stack: &str, resource: &str, operation: &str, reason: &str) {
        let failure = serde_json::json!({
            "stack": stack, "resource": resource, "reason": reason, "operation": operation});
        self.behave(serde_json::json!({ "failures": [failure] }));
    }

    /// Regions the emulator's list has, not enabled for this account.
    pub fn disable_regions(&self, regions: &[&str]) {
        let body = serde_json::json!({"account": self.id, "disabled": regions});
        let (status, answer) = http("POST", "/_taegis/regions", Some(&body.to_string()));
        assert_eq!(status, 200, "{answer}");
    }

    /// The names of the stacks in the account (in the test region).
    pub async fn stack_names(&self) -> Vec<String> {
        let out = self.cfn().describe_stacks().send().await;
        let out = out.expect("describe the account's stacks");
        let names = out.stacks().iter().filter_map(|s| s.stack_name());
        names.map(str::to_string).collect()
    }

    /// Back to the emulator's plain behaviour for this account.
    pub fn behave_normally(&self) {
        let (status, answer) = http(
            "DELETE",
            &format!("/_taegis/behaviour?account={}", self.id),
            None,
        );
        assert_eq!(status, 200, "{answer}");
    }

    /// The tool, with this account's credentials, ready to run.
    pub fn tool(&self) -> Tool {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taegis-cloudtrail"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &emulator().url)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_key)
            .env("AWS_SESSION_TOKEN", &self.session_token)
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("TAEGIS_POLL_INTERVAL", "20ms")
            // The emulator is consistent unless a test says otherwise: a missing entry is
            // drift after a short look, not a minute's.
            .env("TAEGIS_SETTLE", "2s")
            .stdin(Stdio::null());
        Tool { cmd }
    }
}

/// `impl Account { pub fn NAME(&self) -> SDK::Client }` for each `NAME: SDK`: the SDK's client
/// with the account's credentials, in the test region.
macro_rules! clients {
    ($($name:ident: $sdk:ident),* $(,)?) => {
        impl Account {
            $(
                pub fn $name(&self) -> $sdk::Client {
                    $sdk::Client::new(&self.config)
                }
            )*
        }
    };
}

clients!(
    cfn: aws_sdk_cloudformation,
    lambda: aws_sdk_lambda,
    cloudtrail: aws_sdk_cloudtrail,
    kms: aws_sdk_kms,
    logs: aws_sdk_cloudwatchlogs,
    sns: aws_sdk_sns,
    secrets: aws_sdk_secretsmanager,
);

#[derive(Debug, Clone)]
pub struct Request {
    #[allow(dead_code)] // shown in failure messages
    pub service: String,
    pub action: String,
    pub method: String,
    /// The HTTP status the emulator answered with (faults included).
    pub status: u16,
    /// The fault the emulator injected, if any.
    pub fault: Option<String>,
    /// The region the request was signed for.
    pub region: Option<String>,
}

impl Request {
    /// Anything but a read.
    pub fn mutates(&self) -> bool {
        let read_action = ["Get", "List", "Describe", "Head", "AssumeRole"]
            .iter()
            .any(|p| self.action.starts_with(p));
        !read_action && self.method != "GET" && self.method != "HEAD"
    }
}

pub struct Tool {
    pub cmd: Command,
}

/// What a run of the tool left behind.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }
}

impl Run {
    /// What the tool started as `child` left behind, once it ends.
    pub fn of(child: Child) -> Run {
        Run::from(
            child
                .wait_with_output()
                .expect("wait for taegis-cloudtrail"),
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Refused before any change: exit 2, one `error:` line holding every one of `needles`,
    /// and no write by `acct`'s credentials since `before` requests had been logged.
    pub fn assert_refused(&self, acct: &Account, before: usize, needles: &[&str]) -> &Run {
        self.assert_code(2);
        self.line("error:", needles);
        let writes = acct.writes_since(before);
        assert!(writes.is_empty(), "refused, yet it wrote: {writes:?}");
        self
    }

    pub fn assert_code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code {} (want {want})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// The JSON result, its first target's outcome checked to be `want`.
    pub fn assert_outcome(&self, want: &str) -> serde_json::Value {
        let doc = self.json();
        assert_eq!(doc["targets"][0]["outcome"], want, "{doc:#}");
        doc
    }

    /// Every one of `needles` somewhere on stderr.
    pub fn assert_stderr(&self, needles: &[&str]) -> &Run {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "{n:?} not on stderr:\n{}",
                self.stderr
            );
        }
        self
    }

    /// The first stderr line that starts with `start` and holds every one of `needles`.
    pub fn line(&self, start: &str, needles: &[&str]) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with(start) && needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| {
                panic!(
                    "no line starts with {start:?} and holds all of {needles:?}:\n{}",
                    self.stderr
                )
            })
    }
}

impl Tool {
    pub fn args<I, S>(mut self, args: I) -> Tool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Tool {
        self.cmd.env(k, v);
        self
    }

    pub fn arg_path(mut self, p: &Path) -> Tool {
        self.cmd.arg(p);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Tool {
        self.cmd.env_remove(k);
        self
    }

    /// Without the account's keys in the environment: the credentials come from elsewhere.
    pub fn without_keys(mut self) -> Tool {
        for k in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
        ] {
            self.cmd.env_remove(k);
        }
        self
    }

    /// `deploy` of `inputs` to `bucket` (the flags of `Inputs::deploy_args`) and `extra`.
    pub fn deploy(self, inputs: &Inputs, bucket: &str, extra: &[&str]) -> Run {
        self.args(inputs.deploy_args(bucket)).args(extra).run()
    }

    /// `verify --output json` with `extra` flags.
    pub fn verify(self, extra: &[&str]) -> Run {
        self.args(["verify", "--output", "json"]).args(extra).run()
    }

    /// `deploy` with `flags`, of the rollout file `file`.
    pub fn deploy_config(self, flags: &[&str], file: &Path) -> Run {
        let deploy = self.args(["deploy"]).args(flags);
        deploy.args(["--config"]).arg_path(file).run()
    }

    pub fn run(mut self) -> Run {
        Run::from(self.cmd.output().expect("run taegis-cloudtrail"))
    }

    pub fn spawn(mut self) -> Child {
        self.cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start taegis-cloudtrail")
    }
}

/// Now, in milliseconds since the epoch (as log lines are stamped).
pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    since.as_millis() as i64
}

/// A unique bucket name (buckets are global by name, as in AWS).
pub fn bucket_name(what: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{what}-{}-{n}-{nanos}", std::process::id())
}

/// A zip holding `bootstrap` with the given Unix mode.
pub fn zip_bytes(name: &str, mode: u32, body: &[u8]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        w.start_file(name, opts).unwrap();
        w.write_all(body).unwrap();
        w.finish().unwrap();
    }
    buf.into_inner()
}

/// A work folder with the usual inputs: a good zip and a credentials file.
pub struct Inputs {
    pub dir: tempfile::TempDir,
    pub zip: PathBuf,
    pub credentials: PathBuf,
    pub secret_text: String,
}

impl Inputs {
    pub fn new() -> Inputs {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("taegis-lambda-amd64.zip");
        std::fs::write(
            &zip,
            zip_bytes("bootstrap", 0o755, b"#!/bin/sh\necho demo\n"),
        )
        .unwrap();
        let credentials = dir.path().join("credentials.txt");
        let secret_text = format!(
            "client_id=it-{}\nclient_secret=s3cr3t-{}-do-not-print\n",
            unique_account(),
            unique_account()
        );
        std::fs::write(&credentials, &secret_text).unwrap();
        Inputs {
            dir,
            zip,
            credentials,
            secret_text,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The lines of a rollout file that name these credentials and this zip.
    pub fn files_yaml(&self) -> String {
        let (credentials, zip) = (s(&self.credentials), s(&self.zip));
        format!("credentials: {credentials}\nlambda_zip: {zip}\n")
    }

    /// `deploy` with these credentials, this zip and the XDR region `taegis_region`: the flags
    /// every deploy of the inputs starts with.
    pub fn base_args(&self, taegis_region: &str) -> Vec<String> {
        let (credentials, zip) = (s(&self.credentials), s(&self.zip));
        let args = [
            "deploy",
            "--credentials",
            &credentials,
            "--taegis-region",
            taegis_region,
            "--lambda-zip",
            &zip,
        ];
        args.map(String::from).to_vec()
    }

    /// The flags of a plain deploy to `bucket`.
    pub fn deploy_args(&self, bucket: &str) -> Vec<String> {
        let zips = format!("{bucket}-zips");
        let extra = [
            "--notification-bucket",
            bucket,
            "--lambda-bucket",
            &zips,
            "--yes",
        ];
        plus(self.base_args("foxtrot"), &extra)
    }
}

/// `args` with `value` for `flag` (which they hold).
pub fn set_flag(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    let i = args.iter().position(|a| a == flag);
    let i = i.unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    args[i + 1] = value.to_string();
    args
}

/// `args` but `flag` (one without a value).
pub fn without(args: Vec<String>, flag: &str) -> Vec<String> {
    args.into_iter().filter(|a| a != flag).collect()
}

/// `args` and then `extra`.
pub fn plus(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

pub fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A fresh account with a bucket in the test region, and the usual inputs.
pub async fn setup(what: &str) -> (Account, Inputs, String) {
    let acct = Account::new().await;
    let inputs = Inputs::new();
    let bucket = bucket_name(what);
    crate::seed::bucket(&acct, &bucket, REGION).await;
    (acct, inputs, bucket)
}

/// `N` fresh accounts, made one after another.
pub async fn accounts<const N: usize>() -> [Account; N] {
    let mut made = Vec::new();
    for _ in 0..N {
        made.push(Account::new().await);
    }
    made.try_into().unwrap_or_else(|_| unreachable!())
}

/// A fresh account as `setup` makes it, deployed to with `extra` flags.
pub async fn deployed(what: &str, extra: &[&str]) -> (Account, Inputs, String) {
    let (acct, inputs, bucket) = setup(what).await;
    acct.deploy(&inputs, &bucket, extra).assert_code(0);
    (acct, inputs, bucket)
}

/// Whom a policy statement lets in: its condition's (`AWS:SourceArn`, `AWS:SourceAccount`).
pub fn source(statement: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    let condition = &statement["Condition"];
    (
        condition["ArnLike"]["AWS:SourceArn"].clone(),
        condition["StringEquals"]["AWS:SourceAccount"].clone(),
    )
}

/// The `detail` text of a step or check.
pub fn detail(v: &serde_json::Value) -> String {
    v["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {v:#}"))
        .to_string()
}

/// The `field` of every target of a JSON result, as text.
pub fn each_target(doc: &serde_json::Value, field: &str) -> Vec<String> {
    let targets = doc["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("{doc:#}"));
    let values = targets
        .iter()
        .map(|t| t[field].as_str().unwrap_or_default());
    values.map(str::to_string).collect()
}

/// The first element of the JSON list `list` whose `key` is `value`.
pub fn find(list: &serde_json::Value, key: &str, value: &str) -> serde_json::Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list:#}"))
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value:?} in {list:#}"))
        .clone()
}

/// The step `name` of the first target of a JSON result.
pub fn step(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    find(&doc["targets"][0]["steps"], "name", name)
}

impl Account {
    /// The stack `name`, `None` when there is no such stack.
    pub async fn stack(&self, name: &str) -> Option<aws_sdk_cloudformation::types::Stack> {
        let described = self.cfn().describe_stacks().stack_name(name).send().await;
        described.ok()?.stacks().first().cloned()
    }

    /// An output's value on a stack.
    pub async fn stack_output(&self, stack: &str, key: &str) -> Option<String> {
        let stack = self.stack(stack).await?;
        let output = stack.outputs().iter().find(|o| o.output_key() == Some(key));
        output?.output_value().map(str::to_string)
    }

    /// What the shared stack's secret holds.
    pub async fn shared_secret(&self) -> Option<String> {
        let arn = self.stack_output("taegis-shared-resources", "SecretArn");
        let arn = arn.await?;
        let v = self
            .secrets()
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .ok()?;
        v.secret_string().map(str::to_string)
    }

    /// A stack's status, `None` when there is no such stack.
    pub async fn stack_status(&self, name: &str) -> Option<String> {
        let stack = self.stack(name).await?;
        stack.stack_status().map(|s| s.as_str().to_string())
    }

    /// The ARN of the function `name` in `region`, `None` when there is no such function.
    pub async fn function_arn(&self, region: &str, name: &str) -> Option<String> {
        let lambda = aws_sdk_lambda::Client::new(&self.config_in(region));
        let f = lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .ok()?;
        Some(f.configuration()?.function_arn()?.to_string())
    }

    /// The statements of a function's policy, as JSON (none without a policy).
    pub async fn statements(&self, function: &str) -> Vec<serde_json::Value> {
        let Ok(p) = self
            .lambda()
            .get_policy()
            .function_name(function)
            .send()
            .await
        else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(p.policy().unwrap()).unwrap();
        v["Statement"].as_array().cloned().unwrap_or_default()
    }

    /// The statement `sid` of a function's policy, as JSON.
    pub async fn statement(&self, function: &str, sid: &str) -> Option<serde_json::Value> {
        let statements = self.statements(function).await;
        statements.into_iter().find(|s| s["Sid"] == sid)
    }

    /// The keys of the objects in `bucket` of `region`.
    pub async fn object_keys(&self, region: &str, bucket: &str) -> Vec<String> {
        let out = self
            .s3_in(region)
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await;
        let out = out.unwrap_or_else(|e| panic!("list the objects of {bucket}: {e:?}"));
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }

    /// `deploy` of `inputs` to `bucket` (the flags of `Inputs::deploy_args`) and `extra`.
    pub fn deploy(&self, inputs: &Inputs, bucket: &str, extra: &[&str]) -> Run {
        self.tool().deploy(inputs, bucket, extra)
    }

    /// `verify --output json` with `extra` flags.
    pub fn verify(&self, extra: &[&str]) -> Run {
        self.tool().verify(extra)
    }

    /// `destroy --yes --output json` with `extra` flags.
    pub fn destroy(&self, extra: &[&str]) -> Run {
        let destroy = self.tool().args(["destroy", "--yes", "--output", "json"]);
        destroy.args(extra).run()
    }

    /// `deploy` with `flags`, of the rollout file `file`.
    pub fn deploy_config(&self, flags: &[&str], file: &Path) -> Run {
        self.tool().deploy_config(flags, file)
    }

    /// What `f` returns, checked to have written nothing with this account's credentials.
    pub fn writing_nothing<T>(&self, f: impl FnOnce() -> T) -> T {
        let before = self.requests().len();
        let out = f();
        let writes = self.writes_since(before);
        assert!(writes.is_empty(), "it wrote: {writes:?}");
        out
    }

    /// A parameter's current value on a stack.
    pub async fn stack_parameter(&self, stack: &str, key: &str) -> Option<String> {
        let stack = self.stack(stack).await?;
        let parameter = stack
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key));
        parameter?.parameter_value().map(str::to_string)
    }
}
