//! Command-line options plus an optional rollout file become validated per-target settings.
//! Pure: no AWS, no terminal; the rollout file arrives as text. Every problem is collected, each
//! as one sentence naming the input and the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{DeployArgs, OnFailure, Trigger};

pub const DEFAULT_SHARED_STACK: &str = "taegis-shared-resources";
pub const DEFAULT_STACK: &str = "taegis-cloudtrail";
pub const DEFAULT_INTEGRATION_TYPE: &str = "awscloudtrail";
pub const DEFAULT_LAMBDA_ZIP: &str = "taegis-lambda-amd64.zip";
pub const DEFAULT_LAMBDA_BUCKET: &str = "taegis-lambda-{account}-{region}";
/// What the guide names the function: `{stack}` + this + `{integration type}`.
pub const FUNCTION_INFIX: &str = "-scwx-tdr-lambda-";
/// Lambda function names are capped at 64 characters.
pub const MAX_FUNCTION_NAME: usize = 64;

/// The XDR regions and their login hosts.
pub const XDR_REGIONS: &[(&str, &str)] = &[
    ("ctpx", "ctpx.secureworks.com"),
    ("delta", "delta.taegis.secureworks.com"),
    ("foxtrot", "foxtrot.taegis.secureworks.com"),
    ("echo", "echo.taegis.secureworks.com"),
    ("golf", "golf.taegis.secureworks.com"),
];

/// Commercial, GovCloud and China regions known to this release.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Where the credentials text comes from. The text itself is read by the command, once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredentialsSource {
    File(PathBuf),
    Stdin,
}

impl std::fmt::Display for CredentialsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsSource::File(p) => write!(f, "{}", p.display()),
            CredentialsSource::Stdin => f.write_str("standard input"),
        }
    }
}

/// Everything one target (an account and a region) needs, validated. Values that contain
/// `{account}` are expanded once the account is known.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetConfig {
    /// The account to assume a role in; `None` means the caller's own account.
    pub account: Option<String>,
    pub role_arn: Option<String>,
    pub region: String,
    pub credentials: CredentialsSource,
    pub taegis_region: String,
    pub lambda_zip: PathBuf,
    pub lambda_bucket: String,
    pub shared_template: Option<PathBuf>,
    pub lambda_template: Option<PathBuf>,
    pub shared_stack_name: String,
    pub stack_name: String,
    pub integration_type: String,
    pub notification_bucket: String,
    pub trigger: Trigger,
    pub prefix: String,
    pub sns_topic_arn: Option<String>,
    pub bucket_kms_key_arn: Option<String>,
    pub lambda_env_kms_key_arn: Option<String>,
    /// `--parameter` values, and the rollout file's `parameters:`.
    pub parameters: BTreeMap<String, String>,
    /// True when the integration type was given by the user rather than defaulted.
    pub integration_type_given: bool,
}

impl TargetConfig {
    /// `account/region`, or just the region for the caller's own account.
    pub fn label(&self) -> String {
        match &self.account {
            Some(a) => format!("{a}/{}", self.region),
            None => self.region.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeployConfig {
    pub targets: Vec<TargetConfig>,
    pub concurrency: usize,
    pub timeout: Duration,
    pub dry_run: bool,
    pub update_credentials: bool,
    pub on_failure: OnFailure,
    /// Things worth telling the user about how the input was read (not problems).
    pub notices: Vec<String>,
}

/// The keys of a rollout file: the same as the `deploy` options in snake_case, at the top level
/// (defaults for every target) and in each entry of `targets:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    account: Option<String>,
    accounts: Option<Vec<String>>,
    role_arn: Option<String>,
    region: Option<String>,
    regions: Option<Vec<String>>,
    credentials: Option<PathBuf>,
    taegis_region: Option<String>,
    xdr_url: Option<String>,
    lambda_zip: Option<PathBuf>,
    lambda_bucket: Option<String>,
    shared_template: Option<PathBuf>,
    lambda_template: Option<PathBuf>,
    shared_stack_name: Option<String>,
    stack_name: Option<String>,
    integration_type: Option<String>,
    notification_bucket: Option<String>,
    trigger: Option<Trigger>,
    prefix: Option<String>,
    sns_topic_arn: Option<String>,
    bucket_kms_key_arn: Option<String>,
    lambda_env_kms_key_arn: Option<String>,
    parameters: Option<BTreeMap<String, String>>,
    concurrency: Option<usize>,
    timeout: Option<String>,
    on_failure: Option<OnFailure>,
    targets: Option<Vec<Keys>>,
}

/// A rollout file as read: its keys and the folder its relative paths start from.
pub struct Rollout {
    keys: Keys,
    dir: PathBuf,
    name: String,
}

impl Rollout {
    /// Parse the text of a rollout file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Rollout, String> {
        let name = path.display().to_string();
        if text.trim().is_empty() {
            return Err(format!(
                "rollout file {name} is empty; see assets/rollout.example.yaml"
            ));
        }
        let keys: Keys = serde_yaml::from_str(text).map_err(|e| {
            format!(
                "rollout file {name}: {}",
                e.to_string().lines().next().unwrap_or("not valid YAML")
            )
        })?;
        if let Some(targets) = &keys.targets {
            if targets.is_empty() {
                return Err(format!(
                    "rollout file {name}: `targets:` is empty; list at least one target or remove the key"
                ));
            }
            if targets.iter().any(|t| t.targets.is_some()) {
                return Err(format!(
                    "rollout file {name}: a target may not have its own `targets:`"
                ));
            }
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Rollout { keys, dir, name })
    }
}

/// Merge flags, a target entry, the file's defaults and the built-in defaults (in that order)
/// into validated targets. Regions: `--regions`, then the target's, then `region_flag`
/// (`--region`), then the file's top level, then `env_region` (AWS_REGION or the profile's).
pub fn resolve(
    args: &DeployArgs,
    region_flag: Option<&str>,
    env_region: Option<&str>,
    rollout: Option<&Rollout>,
) -> Result<DeployConfig, Vec<String>> {
    let mut problems = Vec::new();
    let mut notices = Vec::new();
    let empty = Keys::default();
    let top = rollout.map(|r| &r.keys).unwrap_or(&empty);
    let rel = |p: &PathBuf| -> PathBuf {
        match rollout {
            Some(r) if p.is_relative() && p.as_os_str() != "-" => r.dir.join(p),
            _ => p.clone(),
        }
    };

    // One entry per target group: the file's targets, or a single implicit one.
    let single = [Keys::default()];
    let entries: &[Keys] = top.targets.as_deref().unwrap_or(&single);

    let flag_params = match parse_parameters(&args.parameters) {
        Ok(p) => p,
        Err(e) => {
            problems.extend(e);
            BTreeMap::new()
        }
    };

    let concurrency = args.concurrency.or(top.concurrency).unwrap_or(8);
    if concurrency == 0 {
        problems.push("--concurrency must be at least 1".into());
    }
    let timeout = match args.timeout.clone().or(top.timeout.clone()) {
        None => Duration::from_secs(30 * 60),
        Some(t) => match crate::cli::parse_duration(&t) {
            Ok(d) if d.is_zero() => {
                problems.push("--timeout must be longer than zero, e.g. 30m".into());
                d
            }
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("--timeout: {e}"));
                Duration::ZERO
            }
        },
    };

    let mut targets = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = match rollout {
            Some(r) if top.targets.is_some() => {
                format!(" (rollout file {}, target {})", r.name, i + 1)
            }
            _ => String::new(),
        };
        // flag > target entry > file defaults
        macro_rules! pick {
            ($field:ident) => {
                args.$field
                    .clone()
                    .or_else(|| entry.$field.clone())
                    .or_else(|| top.$field.clone())
            };
        }
        macro_rules! pick_path {
            ($field:ident) => {
                args.$field
                    .clone()
                    .or_else(|| entry.$field.as_ref().map(&rel))
                    .or_else(|| top.$field.as_ref().map(&rel))
            };
        }

        // Regions: --regions > the target's regions > --region / environment / profile.
        let regions: Vec<String> = if !args.regions.is_empty() {
            args.regions.clone()
        } else if let Some(r) = entry
            .regions
            .clone()
            .or_else(|| entry.region.clone().map(|r| vec![r]))
        {
            r
        } else if let Some(r) = region_flag {
            vec![r.to_string()]
        } else if let Some(r) = top
            .regions
            .clone()
            .or_else(|| top.region.clone().map(|r| vec![r]))
        {
            r
        } else if let Some(r) = env_region {
            vec![r.to_string()]
        } else {
            problems.push(format!(
                "no region{at}: give --region REGION or --regions LIST, set AWS_REGION, or set a region in the profile"
            ));
            continue;
        };
        let regions: Vec<String> = regions.iter().map(|r| r.trim().to_string()).collect();
        for r in &regions {
            if let Err(e) = check_region(r) {
                problems.push(format!("{e}{at}"));
            }
        }

        // Accounts: --accounts > target account(s) > the caller's own.
        let accounts: Vec<Option<String>> = if !args.accounts.is_empty() {
            args.accounts
                .iter()
                .map(|a| Some(a.trim().to_string()))
                .collect()
        } else if let Some(a) = &entry.account {
            vec![Some(a.clone())]
        } else if let Some(a) = entry.accounts.clone().or_else(|| top.accounts.clone()) {
            a.into_iter().map(Some).collect()
        } else if let Some(a) = &top.account {
            vec![Some(a.clone())]
        } else {
            vec![None]
        };
        let role_arn = pick!(role_arn);
        for a in accounts.iter().flatten() {
            if !is_account_id(a) {
                problems.push(format!(
                    "account {a:?}{at} is not a 12-digit AWS account id"
                ));
            }
        }
        if accounts.iter().any(Option::is_some) && role_arn.is_none() {
            problems.push(format!(
                "accounts are listed{at} but no role to assume: give --role-arn arn:aws:iam::{{account}}:role/NAME"
            ));
        }
        if let Some(r) = &role_arn
            && !is_role_arn(r)
        {
            problems.push(format!(
                "--role-arn {r:?}{at} is not an IAM role ARN like arn:aws:iam::{{account}}:role/NAME"
            ));
        }

        let credentials = match pick_path!(credentials) {
            None => {
                problems.push(format!("missing --credentials FILE{at}: the credentials file downloaded from XDR (\"-\" reads stdin)"));
                CredentialsSource::Stdin
            }
            Some(p) if p.as_os_str() == "-" => CredentialsSource::Stdin,
            Some(p) => CredentialsSource::File(p),
        };

        // The first level that names the XDR region wins: flags, the target, the file.
        let levels = [
            (args.taegis_region.clone(), args.xdr_url.clone()),
            (entry.taegis_region.clone(), entry.xdr_url.clone()),
            (top.taegis_region.clone(), top.xdr_url.clone()),
        ];
        let taegis_region = match levels.into_iter().find(|(r, u)| r.is_some() || u.is_some()) {
            Some((Some(r), Some(_))) => {
                problems.push(format!(
                    "both taegis_region and xdr_url are set{at}; keep one"
                ));
                r
            }
            Some((Some(r), None)) => r.trim().to_string(),
            Some((None, Some(url))) => match xdr_region_from_url(&url) {
                Ok(r) => {
                    notices.push(format!("XDR region {r} derived from {url}"));
                    r
                }
                Err(e) => {
                    problems.push(format!("{e}{at}"));
                    String::new()
                }
            },
            _ => {
                problems.push(format!(
                    "missing --taegis-region NAME{at} (one of {}) or --xdr-url URL (your XDR login URL)",
                    XDR_REGIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ));
                String::new()
            }
        };
        if taegis_region.is_empty() && (args.taegis_region.is_some()) {
            problems.push(
                "--taegis-region is empty; give one of ctpx, delta, echo, foxtrot, golf".into(),
            );
        }

        let lambda_zip =
            pick_path!(lambda_zip).unwrap_or_else(|| PathBuf::from(DEFAULT_LAMBDA_ZIP));
        let lambda_bucket =
            pick!(lambda_bucket).unwrap_or_else(|| DEFAULT_LAMBDA_BUCKET.to_string());
        if let Err(e) = check_bucket_name(&expand(&lambda_bucket, "123456789012", "us-east-1")) {
            problems.push(format!("--lambda-bucket {lambda_bucket:?}{at}: {e}"));
        }

        let shared_stack_name =
            pick!(shared_stack_name).unwrap_or_else(|| DEFAULT_SHARED_STACK.to_string());
        let stack_name = pick!(stack_name).unwrap_or_else(|| DEFAULT_STACK.to_string());
        let integration_type_given = args.integration_type.is_some()
            || entry.integration_type.is_some()
            || top.integration_type.is_some();
        let integration_type =
            pick!(integration_type).unwrap_or_else(|| DEFAULT_INTEGRATION_TYPE.to_string());
        if integration_type.trim().is_empty() {
            problems.push(format!(
                "--integration-type is empty{at}; use awscloudtrail or generic"
            ));
        }
        if let Err(e) = check_stack_name(&shared_stack_name, None) {
            problems.push(format!(
                "--shared-stack-name {shared_stack_name:?}{at}: {e}"
            ));
        }
        if let Err(e) = check_stack_name(&stack_name, Some(&integration_type)) {
            problems.push(format!("--stack-name {stack_name:?}{at}: {e}"));
        }
        if shared_stack_name == stack_name {
            problems.push(format!(
                "--stack-name and --shared-stack-name are both {stack_name:?}{at}; the two stacks need different names"
            ));
        }

        let (notification_bucket, derived_prefix) = match pick!(notification_bucket) {
            None => {
                problems.push(format!("missing --notification-bucket NAME{at}: the bucket CloudTrail writes its logs to"));
                (String::new(), None)
            }
            Some(raw) => match normalize_bucket(&raw) {
                Ok((name, prefix, notice)) => {
                    notices.extend(notice);
                    if let Some(p) = &prefix
                        && pick!(prefix).is_some()
                    {
                        notices.push(format!(
                            "--prefix wins over the prefix {p:?} in --notification-bucket {raw}"
                        ));
                    }
                    if let Err(e) = check_bucket_name(&expand(&name, "123456789012", "us-east-1")) {
                        problems.push(format!("--notification-bucket {raw:?}{at}: {e}"));
                    }
                    (name, prefix)
                }
                Err(e) => {
                    problems.push(format!("--notification-bucket {raw:?}{at}: {e}"));
                    (String::new(), None)
                }
            },
        };
        let prefix = pick!(prefix).or(derived_prefix).unwrap_or_default();
        if prefix.starts_with('/') {
            problems.push(format!(
                "--prefix {prefix:?}{at} starts with \"/\"; S3 keys written by CloudTrail do not, drop the leading slash"
            ));
        }

        let trigger = pick!(trigger).unwrap_or(Trigger::S3);
        let sns_topic_arn = pick!(sns_topic_arn).filter(|s| !s.is_empty());
        let bucket_kms_key_arn = pick!(bucket_kms_key_arn).filter(|s| !s.is_empty());
        let lambda_env_kms_key_arn = pick!(lambda_env_kms_key_arn).filter(|s| !s.is_empty());
        if trigger == Trigger::Sns && sns_topic_arn.is_none() {
            problems.push(format!("--trigger sns needs --sns-topic-arn ARN{at}: the topic that announces new log objects"));
        }
        // A topic without an explicit trigger means the user wants the SNS trigger.
        let trigger = if sns_topic_arn.is_some()
            && args.trigger.is_none()
            && entry.trigger.is_none()
            && top.trigger.is_none()
        {
            Trigger::Sns
        } else {
            trigger
        };

        let mut parameters = top.parameters.clone().unwrap_or_default();
        parameters.extend(entry.parameters.clone().unwrap_or_default());
        parameters.extend(flag_params.clone());

        for region in &regions {
            if let Some(arn) = &sns_topic_arn
                && let Err(e) = check_arn(arn, "sns", region, false)
            {
                problems.push(format!("--sns-topic-arn {arn:?}{at}: {e}"));
            }
            for (flag, arn) in [
                ("--bucket-kms-key-arn", &bucket_kms_key_arn),
                ("--lambda-env-kms-key-arn", &lambda_env_kms_key_arn),
            ] {
                if let Some(arn) = arn
                    && let Err(e) = check_arn(arn, "kms", region, true)
                {
                    problems.push(format!("{flag} {arn:?}{at}: {e}"));
                }
            }
            for account in &accounts {
                targets.push(TargetConfig {
                    account: account.clone(),
                    role_arn: role_arn.clone(),
                    region: region.clone(),
                    credentials: credentials.clone(),
                    taegis_region: taegis_region.clone(),
                    lambda_zip: lambda_zip.clone(),
                    lambda_bucket: lambda_bucket.clone(),
                    shared_template: pick_path!(shared_template),
                    lambda_template: pick_path!(lambda_template),
                    shared_stack_name: shared_stack_name.clone(),
                    stack_name: stack_name.clone(),
                    integration_type: integration_type.clone(),
                    notification_bucket: notification_bucket.clone(),
                    trigger,
                    prefix: prefix.clone(),
                    sns_topic_arn: sns_topic_arn.clone(),
                    bucket_kms_key_arn: bucket_kms_key_arn.clone(),
                    lambda_env_kms_key_arn: lambda_env_kms_key_arn.clone(),
                    parameters: parameters.clone(),
                    integration_type_given,
                });
            }
        }
    }

    // The same account and region twice would race on the same stacks.
    let mut seen = std::collections::BTreeSet::new();
    for t in &targets {
        if !seen.insert((t.account.clone(), t.region.clone())) {
            problems.push(format!(
                "target {} is listed twice; list each account and region once",
                t.label()
            ));
        }
    }

    notices.dedup();
    if problems.is_empty() {
        Ok(DeployConfig {
            targets,
            concurrency,
            timeout,
            dry_run: args.dry_run,
            update_credentials: args.update_credentials,
            on_failure: args
                .on_failure
                .or(top.on_failure)
                .unwrap_or(OnFailure::Delete),
            notices,
        })
    } else {
        problems.dedup();
        Err(problems)
    }
}

fn parse_parameters(raw: &[String]) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for p in raw {
        match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.to_string());
            }
            _ => problems.push(format!(
                "--parameter {p:?} is not KEY=VALUE, e.g. --parameter EnableObjectTagging=true"
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Replace `{account}` and `{region}`.
pub fn expand(s: &str, account: &str, region: &str) -> String {
    s.replace("{account}", account).replace("{region}", region)
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (is_account_id(parts[4]) || parts[4] == "{account}")
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

pub fn check_region(r: &str) -> Result<(), String> {
    if KNOWN_REGIONS.contains(&r) {
        Ok(())
    } else if r.is_empty() {
        Err("a region is empty; give a region such as us-east-1".into())
    } else {
        let near: Vec<&str> = KNOWN_REGIONS
            .iter()
            .copied()
            .filter(|k| k.starts_with(r.get(..2).unwrap_or(r)))
            .collect();
        Err(format!(
            "region {r:?} is not an AWS region{}",
            if near.is_empty() {
                ", e.g. us-east-1".to_string()
            } else {
                format!("; did you mean one of {}?", near.join(", "))
            }
        ))
    }
}

/// CloudFormation stack names; for the Lambda stack (`integration_type` given), also the room the
/// function name `{stack}-scwx-tdr-lambda-{type}` leaves within Lambda's 64 characters.
pub fn check_stack_name(name: &str, integration_type: Option<&str>) -> Result<(), String> {
    if name.is_empty() {
        return Err("a stack name may not be empty".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("a stack name must start with a letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "a stack name may hold only letters, digits and hyphens, not {bad:?}"
        ));
    }
    if name.len() > 128 {
        return Err(format!(
            "a stack name is at most 128 characters; this one has {}",
            name.len()
        ));
    }
    if let Some(t) = integration_type {
        let budget = MAX_FUNCTION_NAME.saturating_sub(FUNCTION_INFIX.len() + t.len());
        if name.len() > budget {
            return Err(format!(
                "the function is named {name}{FUNCTION_INFIX}{t}, longer than Lambda's {MAX_FUNCTION_NAME} characters; use a stack name of at most {budget} characters"
            ));
        }
    }
    Ok(())
}

/// S3 bucket naming rules (general purpose buckets).
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let n = name.len();
    if !(3..=63).contains(&n) {
        return Err(format!(
            "a bucket name has 3 to 63 characters; this one has {n}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "a bucket name holds only lowercase letters, digits, dots and hyphens, not {bad:?}"
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("a bucket name starts and ends with a letter or digit".into());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err("a bucket name may not hold \"..\", \".-\" or \"-.\"".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("a bucket name may not look like an IP address".into());
    }
    Ok(())
}

/// Turn what users paste for a bucket (`s3://b/prefix`, `arn:aws:s3:::b`,
/// `https://b.s3.<region>.amazonaws.com/prefix`) into a name and an optional prefix, with a notice
/// when it was not a plain name.
pub fn normalize_bucket(raw: &str) -> Result<(String, Option<String>, Option<String>), String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the bucket name is empty".into());
    }
    let split = |rest: &str| -> (String, Option<String>) {
        match rest.split_once('/') {
            Some((b, p)) if !p.is_empty() => (b.to_string(), Some(p.to_string())),
            Some((b, _)) => (b.to_string(), None),
            None => (rest.to_string(), None),
        }
    };
    let (name, prefix) = if let Some(rest) = raw.strip_prefix("s3://") {
        split(rest)
    } else if let Some(rest) = raw
        .strip_prefix("arn:aws:s3:::")
        .or_else(|| raw.strip_prefix("arn:aws-us-gov:s3:::"))
        .or_else(|| raw.strip_prefix("arn:aws-cn:s3:::"))
    {
        split(rest)
    } else if let Some(rest) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.split(['?', '#']).next().unwrap_or("");
        if let Some(idx) = host.find(".s3.").or_else(|| host.find(".s3-")) {
            // virtual-hosted style: b.s3.<region>.amazonaws.com/prefix
            if !host.ends_with(".amazonaws.com") {
                return Err("not an S3 URL; give the bucket's name".into());
            }
            let p = (!path.is_empty()).then(|| path.to_string());
            (host[..idx].to_string(), p)
        } else if host.starts_with("s3.") || host.starts_with("s3-") {
            // path style: s3.<region>.amazonaws.com/b/prefix
            split(path)
        } else {
            return Err("not an S3 URL; give the bucket's name, e.g. my-trail-logs".into());
        }
    } else if raw.contains("://") || raw.starts_with("arn:") {
        return Err(
            "not a bucket name, s3:// URL, S3 ARN or S3 URL; give the bucket's name".into(),
        );
    } else if raw.contains('/') {
        return Err("a bucket name holds no \"/\"; give the prefix with --prefix".into());
    } else {
        return Ok((raw.to_string(), None, None));
    };
    if name.is_empty() {
        return Err("no bucket name in it; give the bucket's name".into());
    }
    let notice = format!(
        "--notification-bucket {raw} read as bucket {name}{}",
        prefix
            .as_ref()
            .map(|p| format!(" with prefix {p}"))
            .unwrap_or_default()
    );
    Ok((name, prefix, Some(notice)))
}

/// Check `arn:<partition>:<service>:<region>:<account>:<resource>`.
pub fn check_arn(arn: &str, service: &str, region: &str, kms: bool) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let what = if kms {
        "a KMS key ARN"
    } else {
        "an SNS topic ARN"
    };
    let example = if kms {
        format!("arn:aws:kms:{region}:123456789012:key/<key-id>")
    } else {
        format!("arn:aws:sns:{region}:123456789012:<topic>")
    };
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return Err(format!("not {what}; expected {example}"));
    }
    if parts[2] != service {
        return Err(format!(
            "is an ARN of service {:?}, not {what}; expected {example}",
            parts[2]
        ));
    }
    if !is_account_id(parts[4]) {
        return Err(format!(
            "the account {:?} is not 12 digits; expected {example}",
            parts[4]
        ));
    }
    if parts[5].is_empty()
        || (kms && !(parts[5].starts_with("key/") || parts[5].starts_with("alias/")))
        || parts[5].len() > 256
    {
        return Err(format!(
            "the resource part {:?} is not valid; expected {example}",
            parts[5]
        ));
    }
    if parts[3] != region {
        return Err(format!(
            "is in region {:?}, but the target region is {region}; it must be in the same region",
            parts[3]
        ));
    }
    Ok(())
}

/// `https://foxtrot.taegis.secureworks.com/...` → `foxtrot`.
pub fn xdr_region_from_url(url: &str) -> Result<String, String> {
    let rest = url.trim();
    let rest = rest
        .strip_prefix("https://")
        .or_else(|| rest.strip_prefix("http://"))
        .unwrap_or(rest);
    let host = rest
        .split(['/', '?', '#', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host.strip_prefix("api.").unwrap_or(&host);
    for (name, login) in XDR_REGIONS {
        if host == *login {
            return Ok(name.to_string());
        }
    }
    if let Some(name) = host.strip_suffix(".taegis.secureworks.com")
        && !name.is_empty()
        && !name.contains('.')
    {
        return Ok(name.to_string());
    }
    Err(format!(
        "--xdr-url {url:?} is not an XDR login URL such as https://foxtrot.taegis.secureworks.com; or give --taegis-region"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> DeployArgs {
        DeployArgs {
            credentials: Some("creds.txt".into()),
            taegis_region: Some("foxtrot".into()),
            notification_bucket: Some("trail-logs".into()),
            ..Default::default()
        }
    }

    fn one(args: &DeployArgs) -> TargetConfig {
        let c = resolve(args, None, Some("us-east-1"), None).unwrap();
        assert_eq!(c.targets.len(), 1);
        c.targets[0].clone()
    }

    fn problems(args: &DeployArgs, region: Option<&str>, rollout: Option<&Rollout>) -> Vec<String> {
        resolve(args, None, region, rollout).unwrap_err()
    }

    #[test]
    fn defaults() {
        let t = one(&base());
        assert_eq!(t.stack_name, "taegis-cloudtrail");
        assert_eq!(t.shared_stack_name, "taegis-shared-resources");
        assert_eq!(t.integration_type, "awscloudtrail");
        assert_eq!(t.lambda_bucket, "taegis-lambda-{account}-{region}");
        assert_eq!(t.lambda_zip, PathBuf::from("taegis-lambda-amd64.zip"));
        assert_eq!(t.trigger, Trigger::S3);
        assert_eq!(t.region, "us-east-1");
        assert_eq!(t.credentials, CredentialsSource::File("creds.txt".into()));
    }

    #[test]
    fn bucket_urls_become_name_and_prefix() {
        for (raw, name, prefix) in [
            ("trail-logs", "trail-logs", None),
            ("s3://trail-logs/AWSLogs/", "trail-logs", Some("AWSLogs/")),
            ("s3://trail-logs", "trail-logs", None),
            ("arn:aws:s3:::trail-logs", "trail-logs", None),
            (
                "https://trail-logs.s3.eu-west-1.amazonaws.com/org/",
                "trail-logs",
                Some("org/"),
            ),
            (
                "https://s3.eu-west-1.amazonaws.com/trail-logs/x",
                "trail-logs",
                Some("x"),
            ),
        ] {
            let (n, p, notice) = normalize_bucket(raw).unwrap();
            assert_eq!((n.as_str(), p.as_deref()), (name, prefix), "{raw}");
            assert_eq!(notice.is_some(), raw != name, "{raw}");
        }
        for raw in [
            "https://example.com/b",
            "arn:aws:sns:us-east-1:1:t",
            "a/b",
            "ftp://b",
            "s3://",
        ] {
            assert!(normalize_bucket(raw).is_err(), "{raw}");
        }
        let mut a = base();
        a.notification_bucket = Some("s3://trail-logs/AWSLogs/".into());
        let t = one(&a);
        assert_eq!(
            (t.notification_bucket.as_str(), t.prefix.as_str()),
            ("trail-logs", "AWSLogs/")
        );
        a.prefix = Some("other/".into());
        assert_eq!(one(&a).prefix, "other/");
    }

    #[test]
    fn stack_name_rules_and_function_budget() {
        assert!(check_stack_name("ct-demo", Some("awscloudtrail")).is_ok());
        assert!(
            check_stack_name("1abc", None)
                .unwrap_err()
                .contains("start with a letter")
        );
        assert!(check_stack_name("a b", None).unwrap_err().contains("' '"));
        assert!(
            check_stack_name(&"a".repeat(129), None)
                .unwrap_err()
                .contains("128")
        );
        // 64 - 17 - 13 = 34
        assert!(check_stack_name(&"a".repeat(34), Some("awscloudtrail")).is_ok());
        let e = check_stack_name(&"a".repeat(35), Some("awscloudtrail")).unwrap_err();
        assert!(e.contains("at most 34"), "{e}");
    }

    #[test]
    fn bucket_name_rules() {
        assert!(check_bucket_name("trail-logs.2026").is_ok());
        for bad in [
            "ab",
            "Trail",
            "-a-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
            "a_b",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arns_are_checked_for_service_and_region() {
        assert!(
            check_arn(
                "arn:aws:sns:us-east-1:123456789012:t",
                "sns",
                "us-east-1",
                false
            )
            .is_ok()
        );
        assert!(
            check_arn(
                "arn:aws:kms:us-east-1:123456789012:key/abc",
                "kms",
                "us-east-1",
                true
            )
            .is_ok()
        );
        let e = check_arn(
            "arn:aws:sns:eu-west-1:123456789012:t",
            "sns",
            "us-east-1",
            false,
        )
        .unwrap_err();
        assert!(e.contains("eu-west-1") && e.contains("us-east-1"), "{e}");
        let e = check_arn(
            "arn:aws:sqs:us-east-1:123456789012:q",
            "sns",
            "us-east-1",
            false,
        )
        .unwrap_err();
        assert!(e.contains("\"sqs\""), "{e}");
        assert!(
            check_arn(
                "arn:aws:kms:us-east-1:123456789012:abc",
                "kms",
                "us-east-1",
                true
            )
            .is_err()
        );
        assert!(check_arn("not-an-arn", "kms", "us-east-1", true).is_err());
        assert!(check_arn("arn:aws:sns:us-east-1:12:t", "sns", "us-east-1", false).is_err());
    }

    #[test]
    fn xdr_regions_from_urls() {
        for (url, r) in [
            ("https://ctpx.secureworks.com/", "ctpx"),
            ("https://foxtrot.taegis.secureworks.com/login", "foxtrot"),
            ("echo.taegis.secureworks.com", "echo"),
            ("https://api.delta.taegis.secureworks.com", "delta"),
        ] {
            assert_eq!(xdr_region_from_url(url).unwrap(), r);
        }
        assert!(xdr_region_from_url("https://example.com").is_err());
    }

    #[test]
    fn missing_and_bad_inputs_are_all_reported() {
        let p = problems(&DeployArgs::default(), None, None);
        assert!(p.iter().any(|p| p.contains("no region")), "{p:?}");
        let p = problems(
            &DeployArgs {
                regions: vec!["us-east-1".into()],
                ..Default::default()
            },
            None,
            None,
        );
        for want in ["--credentials", "--taegis-region", "--notification-bucket"] {
            assert!(p.iter().any(|p| p.contains(want)), "{want}: {p:?}");
        }
        let mut a = base();
        a.regions = vec!["us-east-1".into(), "mars-1".into()];
        a.parameters = vec!["NoEquals".into()];
        a.trigger = Some(Trigger::Sns);
        a.timeout = Some("soon".into());
        let p = problems(&a, None, None);
        for want in ["\"mars-1\"", "NoEquals", "--sns-topic-arn", "--timeout"] {
            assert!(p.iter().any(|p| p.contains(want)), "{want}: {p:?}");
        }
    }

    #[test]
    fn regions_and_accounts_multiply() {
        let mut a = base();
        a.regions = vec!["us-east-1".into(), "eu-west-1".into()];
        a.accounts = vec!["111111111111".into(), "222222222222".into()];
        a.role_arn = Some("arn:aws:iam::{account}:role/Deployer".into());
        let c = resolve(&a, None, None, None).unwrap();
        let labels: Vec<_> = c.targets.iter().map(TargetConfig::label).collect();
        assert_eq!(
            labels,
            [
                "111111111111/us-east-1",
                "222222222222/us-east-1",
                "111111111111/eu-west-1",
                "222222222222/eu-west-1"
            ]
        );
        a.regions = vec!["us-east-1".into(), "us-east-1".into()];
        assert!(problems(&a, None, None).iter().any(|p| p.contains("twice")));
    }

    #[test]
    fn sns_topic_implies_sns_trigger() {
        let mut a = base();
        a.sns_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:t".into());
        assert_eq!(one(&a).trigger, Trigger::Sns);
    }

    #[test]
    fn rollout_file_flags_win_and_paths_are_relative_to_it() {
        let text = r#"
taegis_region: echo
credentials: creds.txt
lambda_bucket: "zips-{account}-{region}"
parameters: { EnableObjectTagging: "true" }
targets:
  - account: "111111111111"
    role_arn: "arn:aws:iam::{account}:role/D"
    regions: [us-east-1, eu-west-1]
    notification_bucket: "logs-{region}"
    prefix: "AWSLogs/"
"#;
        let r = Rollout::parse(Path::new("/etc/rollouts/prod.yaml"), text).unwrap();
        let mut a = DeployArgs {
            stack_name: Some("ct".into()),
            ..Default::default()
        };
        let c = resolve(&a, None, None, Some(&r)).unwrap();
        assert_eq!(c.targets.len(), 2);
        let t = &c.targets[1];
        assert_eq!(t.label(), "111111111111/eu-west-1");
        assert_eq!(
            t.credentials,
            CredentialsSource::File("/etc/rollouts/creds.txt".into())
        );
        assert_eq!(t.taegis_region, "echo");
        assert_eq!(t.stack_name, "ct");
        assert_eq!(t.notification_bucket, "logs-{region}");
        assert_eq!(t.parameters["EnableObjectTagging"], "true");
        a.taegis_region = Some("golf".into());
        assert_eq!(
            resolve(&a, None, None, Some(&r)).unwrap().targets[0].taegis_region,
            "golf"
        );
    }

    #[test]
    fn flags_win_over_the_file_and_targets_over_region() {
        let r = Rollout::parse(
            Path::new("f.yaml"),
            "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\nregion: eu-west-1\n",
        )
        .unwrap();
        let a = DeployArgs {
            xdr_url: Some("https://golf.taegis.secureworks.com".into()),
            ..Default::default()
        };
        let c = resolve(&a, Some("us-east-2"), Some("us-west-2"), Some(&r)).unwrap();
        assert_eq!(
            c.targets[0].taegis_region, "golf",
            "--xdr-url beats the file's taegis_region"
        );
        assert_eq!(
            c.targets[0].region, "us-east-2",
            "--region beats the file's top-level region"
        );
        let c = resolve(&a, None, Some("us-west-2"), Some(&r)).unwrap();
        assert_eq!(
            c.targets[0].region, "eu-west-1",
            "the file beats AWS_REGION"
        );
        let t = Rollout::parse(
            Path::new("f.yaml"),
            "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\ntargets:\n  - regions: [ca-central-1]\n",
        )
        .unwrap();
        let c = resolve(&DeployArgs::default(), Some("us-east-2"), None, Some(&t)).unwrap();
        assert_eq!(
            c.targets[0].region, "ca-central-1",
            "a target's regions beat --region"
        );
    }

    #[test]
    fn rollout_file_mistakes_name_the_file() {
        for (text, want) in [
            ("", "empty"),
            ("taegis_regoin: echo\n", "unknown field `taegis_regoin`"),
            ("targets: 3\n", "targets"),
            ("targets: []\n", "`targets:` is empty"),
            ("concurrency: lots\n", "concurrency"),
            ("a: [\n", "prod.yaml"),
        ] {
            let e = Rollout::parse(Path::new("prod.yaml"), text).err().unwrap();
            assert!(e.contains("prod.yaml") && e.contains(want), "{text:?}: {e}");
        }
    }
}
