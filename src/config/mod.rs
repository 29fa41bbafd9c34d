//! Command-line options plus an optional rollout file become per-target settings, each value
//! with where it came from. Pure: no AWS, no terminal, no files (the rollout file arrives
//! parsed). Every problem is collected with the input it is about; targets are still built from
//! what could be read, so that the later stages of the preflight report their problems in the
//! same run.

pub mod checks;
pub mod rollout;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

pub use checks::{
    check_arn, check_bucket_name, check_region, check_stack_name, expand, is_account_id,
    is_role_arn, normalize_bucket, xdr_region_from_url,
};
pub use rollout::{Keys, Rollout};

use crate::cli::DeployArgs;
use crate::input::{Input, Preflight, Problem, Source};
use crate::kinds::{OnFailure, Trigger};

pub const DEFAULT_SHARED_STACK: &str = "taegis-shared-resources";
pub const DEFAULT_STACK: &str = "taegis-cloudtrail";
pub const DEFAULT_INTEGRATION_TYPE: &str = "awscloudtrail";
pub const DEFAULT_LAMBDA_ZIP: &str = "taegis-lambda-amd64.zip";
pub const DEFAULT_LAMBDA_BUCKET: &str = "taegis-lambda-{account}-{region}";
/// What the guide names the function: `{stack}` + this + `{integration type}`.
pub const FUNCTION_INFIX: &str = "-scwx-tdr-lambda-";
/// Lambda function names are capped at 64 characters.
pub const MAX_FUNCTION_NAME: usize = 64;
/// Stands in for `{account}` while checking a name before the account is known.
const SOME_ACCOUNT: &str = "123456789012";

/// The XDR regions and their login hosts.
pub const XDR_REGIONS: &[(&str, &str)] = &[
    ("ctpx", "ctpx.secureworks.com"),
    ("delta", "delta.taegis.secureworks.com"),
    ("foxtrot", "foxtrot.taegis.secureworks.com"),
    ("echo", "echo.taegis.secureworks.com"),
    ("golf", "golf.taegis.secureworks.com"),
];

/// Where the credentials text comes from. The text itself is read by the command, once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredentialsSource {
    File(PathBuf),
    Stdin,
    /// None given: needed only where the shared stack is created or the credentials re-sent.
    Missing,
}

impl std::fmt::Display for CredentialsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsSource::File(p) => write!(f, "{}", p.display()),
            CredentialsSource::Stdin => f.write_str("standard input"),
            CredentialsSource::Missing => f.write_str("(none given)"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced {
    pub value: String,
    pub source: Source,
}

/// Everything one target (an account and a region) needs. `{region}` is expanded everywhere,
/// `{account}` once the account is known ([`TargetConfig::for_account`]).
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
    /// `--trail`: the bucket, prefix, KMS key and topic not given come from this trail.
    pub trail: Option<String>,
    pub trigger: Trigger,
    pub prefix: String,
    pub sns_topic_arn: Option<String>,
    pub bucket_kms_key_arn: Option<String>,
    pub lambda_env_kms_key_arn: Option<String>,
    /// `--parameter` values and the rollout file's `parameters:`.
    pub parameters: BTreeMap<String, Sourced>,
    /// Where each input's value came from; an input not listed took the tool's default.
    pub sources: BTreeMap<Input, Source>,
    /// ` (rollout file F, target N)` for a target of a rollout file's `targets:`, else empty.
    pub origin: String,
    /// Inputs that already have a problem: later stages neither read nor judge them.
    pub flawed: BTreeSet<Input>,
}

impl TargetConfig {
    /// `account/region`, or just the region for the caller's own account.
    pub fn label(&self) -> String {
        let place = match &self.account {
            Some(a) => format!("{a}/{}", self.region),
            None => self.region.clone(),
        };
        with_stack(place, &self.stack_name)
    }

    /// Where the value of `input` came from.
    pub fn source(&self, input: Input) -> Source {
        self.sources.get(&input).copied().unwrap_or(Source::Default)
    }

    /// Was `input` given (by a flag or the file) rather than defaulted?
    pub fn given(&self, input: Input) -> bool {
        self.source(input) != Source::Default
    }

    /// The same target with `{account}` expanded in every string value.
    pub fn for_account(&self, account: &str) -> TargetConfig {
        let mut t = self.clone();
        t.expand_placeholders(Some(account));
        t
    }

    /// The role to assume, with its placeholders expanded.
    pub fn role(&self) -> Option<String> {
        let account = self.account.as_deref().unwrap_or("{account}");
        self.role_arn
            .as_ref()
            .map(|r| expand(r, account, &self.region))
    }

    /// Expand `{region}` and, when known, `{account}` in every string value.
    fn expand_placeholders(&mut self, account: Option<&str>) {
        let region = self.region.clone();
        let account = account
            .or(self.account.as_deref())
            .unwrap_or("{account}")
            .to_string();
        let x = |s: &mut String| *s = expand(s, &account, &region);
        let xp = |p: &mut PathBuf| {
            if let Some(s) = p.to_str().filter(|s| s.contains('{')) {
                *p = PathBuf::from(expand(s, &account, &region));
            }
        };
        for s in [
            &mut self.taegis_region,
            &mut self.lambda_bucket,
            &mut self.shared_stack_name,
            &mut self.stack_name,
            &mut self.integration_type,
            &mut self.notification_bucket,
            &mut self.prefix,
        ] {
            x(s);
        }
        for s in [
            &mut self.role_arn,
            &mut self.sns_topic_arn,
            &mut self.bucket_kms_key_arn,
            &mut self.lambda_env_kms_key_arn,
        ]
        .into_iter()
        .flatten()
        {
            x(s);
        }
        self.parameters.values_mut().for_each(|v| x(&mut v.value));
        xp(&mut self.lambda_zip);
        if let CredentialsSource::File(p) = &mut self.credentials {
            xp(p);
        }
        for p in [&mut self.shared_template, &mut self.lambda_template]
            .into_iter()
            .flatten()
        {
            xp(p);
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
    /// Entries without a usable region, as stand-ins (in us-east-1): no target comes of them,
    /// yet their local inputs are still checked, so every problem is reported in one run.
    pub unplaced: Vec<TargetConfig>,
}

/// What a command needs of each target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Everything a deploy sends: the credentials, the XDR region, the bucket.
    Deploy,
    /// Only which targets and stacks (`verify`, `destroy`): the rest is read from the stacks.
    Targets,
}

/// Merge flags, each target entry, the file's defaults and the built-in defaults (in that
/// order) into targets. Regions: `--regions`, then the target's, then `region_flag`
/// (`--region`), then the file's top level, then `env_region` (AWS_REGION or the profile's).
pub fn resolve(
    args: &DeployArgs,
    region_flag: Option<&str>,
    env_region: Option<&str>,
    rollout: Option<&Rollout>,
    needs: Needs,
) -> (DeployConfig, Preflight) {
    let mut pf = Preflight::default();
    let empty = Keys::default();
    let top = rollout.map(|r| &r.keys).unwrap_or(&empty);
    let run = RunSettings::resolve(args, top, &mut pf);
    let run_flawed = pf.flawed();
    let single = [Keys::default()];
    let entries: &[Keys] = top.targets.as_deref().unwrap_or(&single);
    let mut notices = Vec::new();
    let mut targets = Vec::new();
    let mut unplaced = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let layers = Layers {
            args,
            entry,
            top,
            rollout,
            needs,
            origin: match rollout {
                Some(r) if top.targets.is_some() => {
                    format!(" (rollout file {}, target {})", r.name, i + 1)
                }
                _ => String::new(),
            },
        };
        let mut found = Preflight::default();
        let built = layers.targets(region_flag, env_region, &run.parameters, &mut found);
        notices.extend(layers.notices());
        let flawed: BTreeSet<Input> = found.flawed().union(&run_flawed).copied().collect();
        let with_flaws = |t: TargetConfig| TargetConfig {
            flawed: flawed.clone(),
            ..t
        };
        match built {
            Ok(built) => targets.extend(built.into_iter().map(with_flaws)),
            Err(standin) => unplaced.push(with_flaws(*standin)),
        }
        pf.extend(found);
    }
    refuse_duplicates(&targets, &mut pf);
    notices.extend(unused_region_flag(args, region_flag, rollout));
    notices.dedup();
    let config = DeployConfig {
        targets,
        concurrency: run.concurrency,
        timeout: run.timeout,
        dry_run: args.dry_run,
        update_credentials: args.update_credentials,
        on_failure: run.on_failure,
        notices,
        unplaced,
    };
    (config, pf)
}

/// `--region` with a rollout file whose targets name their own regions: said, not lost.
fn unused_region_flag(
    args: &DeployArgs,
    region_flag: Option<&str>,
    rollout: Option<&Rollout>,
) -> Option<String> {
    let (region, rollout) = (region_flag?, rollout?);
    let entries = rollout.keys.targets.as_deref()?;
    if !args.targets.regions.is_empty() {
        return None;
    }
    let own = entries
        .iter()
        .filter(|e| e.regions.is_some() || e.region.is_some())
        .count();
    match own {
        0 => None,
        n if n == entries.len() => Some(format!(
            "--region {region} is not used: every target of rollout file {} names its own regions (--regions chooses the regions of every target)",
            rollout.name
        )),
        n => Some(format!(
            "--region {region} applies only to the {} targets of rollout file {} that name no region; the other {n} name their own (--regions chooses the regions of every target)",
            entries.len() - n,
            rollout.name
        )),
    }
}

/// The same account and region twice would race on the same stacks.
fn refuse_duplicates(targets: &[TargetConfig], pf: &mut Preflight) {
    let mut seen = BTreeSet::new();
    for t in targets {
        if !seen.insert((t.account.clone(), t.region.clone(), t.stack_name.clone())) {
            pf.problem(
                Problem::about(
                    Input::Regions,
                    format!("target {}", t.label()),
                    "is listed twice",
                )
                .fix("list each account and region once (per Lambda stack)"),
            );
        }
    }
}

/// A target's label: `account/region`, and the Lambda stack when it is not the default one
/// (an account and region may hold several).
pub fn with_stack(place: String, stack: &str) -> String {
    if stack == DEFAULT_STACK || stack.is_empty() {
        place
    } else {
        format!("{place}/{stack}")
    }
}

/// What holds for the whole run rather than one target.
struct RunSettings {
    concurrency: usize,
    timeout: Duration,
    on_failure: OnFailure,
    /// `--parameter` values.
    parameters: BTreeMap<String, String>,
}

impl RunSettings {
    fn resolve(args: &DeployArgs, top: &Keys, pf: &mut Preflight) -> RunSettings {
        let concurrency = args.targets.concurrency.or(top.concurrency).unwrap_or(8);
        if concurrency == 0 {
            pf.problem(Problem::new(Input::Concurrency, "must be at least 1"));
        }
        let timeout = match args.targets.timeout.clone().or(top.timeout.clone()) {
            None => Duration::from_secs(30 * 60),
            Some(t) => match crate::cli::parse_duration(&t) {
                Ok(d) if d.is_zero() => {
                    pf.problem(
                        Problem::new(Input::Timeout, "must be longer than zero").fix("e.g. 30m"),
                    );
                    d
                }
                Ok(d) => d,
                Err(e) => {
                    pf.problem(Problem::new(Input::Timeout, e));
                    Duration::ZERO
                }
            },
        };
        RunSettings {
            concurrency,
            timeout,
            on_failure: args
                .on_failure
                .or(top.on_failure)
                .unwrap_or(OnFailure::Delete),
            parameters: parse_parameters(&args.guide.parameters, pf),
        }
    }
}

fn parse_parameters(raw: &[String], pf: &mut Preflight) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in raw {
        match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.to_string());
            }
            _ => pf.problem(
                Problem::value(Input::Parameter, &format!("{p:?}"), "is not KEY=VALUE")
                    .fix("e.g. --parameter EnableObjectTagging=true"),
            ),
        }
    }
    out
}

/// The levels a value of one target entry can come from: the flags, the entry, the file's
/// top level.
struct Layers<'a> {
    args: &'a DeployArgs,
    entry: &'a Keys,
    top: &'a Keys,
    rollout: Option<&'a Rollout>,
    needs: Needs,
    origin: String,
}

impl Layers<'_> {
    /// A value and its source: the flag, else the entry's key, else the file's top-level key.
    fn pick<T: Clone>(
        &self,
        flag: &Option<T>,
        key: impl Fn(&Keys) -> &Option<T>,
    ) -> Option<(T, Source)> {
        if let Some(v) = flag {
            return Some((v.clone(), Source::Flag));
        }
        key(self.entry)
            .clone()
            .or_else(|| key(self.top).clone())
            .map(|v| (v, Source::File))
    }

    /// A path: a file's path is relative to the file.
    fn pick_path(
        &self,
        flag: &Option<PathBuf>,
        key: impl Fn(&Keys) -> &Option<PathBuf>,
    ) -> Option<(PathBuf, Source)> {
        self.pick(flag, key)
            .map(|(p, src)| match (src, self.rollout) {
                (Source::File, Some(r)) => (r.path(&p), src),
                _ => (p, src),
            })
    }

    fn problem(&self, pf: &mut Preflight, p: Problem) {
        pf.problem(p.at(&self.origin));
    }

    /// A value a deploy cannot do without is missing: a problem only for a deploy.
    fn missing(&self, pf: &mut Preflight, p: Problem) {
        if self.needs == Needs::Deploy {
            self.problem(pf, p);
        }
    }

    /// Regions: `--regions` > the target's > `--region` > the file's top level > environment.
    fn regions(
        &self,
        region_flag: Option<&str>,
        env_region: Option<&str>,
        pf: &mut Preflight,
    ) -> Option<(Vec<String>, Input)> {
        let of = |k: &Keys| {
            k.regions
                .clone()
                .or_else(|| k.region.clone().map(|r| vec![r]))
        };
        let (regions, input) = if !self.args.targets.regions.is_empty() {
            (self.args.targets.regions.clone(), Input::Regions)
        } else if let Some(r) = of(self.entry) {
            (r, Input::Regions)
        } else if let Some(r) = region_flag {
            (vec![r.to_string()], Input::Region)
        } else if let Some(r) = of(self.top).or_else(|| env_region.map(|r| vec![r.to_string()])) {
            (r, Input::Region)
        } else {
            self.problem(
                pf,
                Problem::about(Input::Region, "no region", "none was given or configured").fix(
                    "give --region REGION or --regions LIST, set AWS_REGION, or set a region in the profile",
                ),
            );
            return None;
        };
        let regions: Vec<String> = regions.iter().map(|r| r.trim().to_string()).collect();
        let mut good = Vec::new();
        for r in regions {
            match check_region(&r) {
                Ok(()) => good.push(r),
                Err(e) => self.problem(pf, Problem::new(input, e)),
            }
        }
        Some((good, input))
    }

    /// Accounts: `--accounts` > the target's account(s) > the file's > the caller's own.
    fn accounts(&self, pf: &mut Preflight) -> (Vec<Option<String>>, Option<String>) {
        let accounts: Vec<Option<String>> = if !self.args.targets.accounts.is_empty() {
            self.args
                .targets
                .accounts
                .iter()
                .map(|a| Some(a.trim().to_string()))
                .collect()
        } else if let Some(a) = &self.entry.account {
            vec![Some(a.clone())]
        } else if let Some(a) = self.entry.accounts.clone().or(self.top.accounts.clone()) {
            a.into_iter().map(Some).collect()
        } else if let Some(a) = &self.top.account {
            vec![Some(a.clone())]
        } else {
            vec![None]
        };
        for a in accounts.iter().flatten().filter(|a| !is_account_id(a)) {
            self.problem(
                pf,
                Problem::about(
                    Input::Accounts,
                    format!("account {a:?}"),
                    "is not a 12-digit AWS account id",
                ),
            );
        }
        let role = self
            .pick(&self.args.targets.role_arn, |k| &k.role_arn)
            .map(|r| r.0);
        if accounts.iter().any(Option::is_some) && role.is_none() {
            self.problem(
                pf,
                Problem::about(Input::RoleArn, "accounts are listed", "but no role to assume")
                    .fix("give --role-arn arn:aws:iam::{account}:role/NAME (or role_arn: in the rollout file)"),
            );
        }
        if let Some(r) = role.as_ref().filter(|r| !is_role_arn(r)) {
            self.problem(
                pf,
                Problem::value(
                    Input::RoleArn,
                    &format!("{r:?}"),
                    "is not an IAM role ARN like arn:aws:iam::{account}:role/NAME",
                ),
            );
        }
        (accounts, role)
    }

    /// The XDR region: the first level that names one (flags, the target, the file) wins.
    fn taegis_region(&self, pf: &mut Preflight, sources: &mut Sources) -> String {
        let levels = [
            (
                &self.args.guide.taegis_region,
                &self.args.guide.xdr_url,
                Source::Flag,
            ),
            (&self.entry.taegis_region, &self.entry.xdr_url, Source::File),
            (&self.top.taegis_region, &self.top.xdr_url, Source::File),
        ];
        let found = levels
            .into_iter()
            .find(|(r, u, _)| r.is_some() || u.is_some());
        let names = || {
            XDR_REGIONS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match found {
            Some((Some(r), Some(_), src)) => {
                self.problem(
                    pf,
                    Problem::new(
                        Input::TaegisRegion,
                        "both taegis_region and xdr_url are set",
                    )
                    .fix("keep one"),
                );
                sources.insert(Input::TaegisRegion, src);
                r.clone()
            }
            Some((Some(r), None, src)) => {
                if r.trim().is_empty() {
                    self.problem(
                        pf,
                        Problem::new(Input::TaegisRegion, "is empty")
                            .fix(format!("give one of {}", names())),
                    );
                }
                sources.insert(Input::TaegisRegion, src);
                r.trim().to_string()
            }
            Some((None, Some(url), src)) => match xdr_region_from_url(url) {
                Ok(r) => {
                    sources.insert(Input::TaegisRegion, src);
                    r
                }
                Err(e) => {
                    self.problem(pf, Problem::about(Input::XdrUrl, "", e));
                    String::new()
                }
            },
            _ => {
                self.missing(
                    pf,
                    Problem::about(
                        Input::TaegisRegion,
                        "missing --taegis-region NAME",
                        format!(
                            "the XDR region, one of {}, or --xdr-url URL (your XDR login URL)",
                            names()
                        ),
                    ),
                );
                String::new()
            }
        }
    }

    /// What users say about the XDR URL and the bucket, for the notices.
    fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((url, _)) = self.pick(&self.args.guide.xdr_url, |k| &k.xdr_url)
            && self
                .pick(&self.args.guide.taegis_region, |k| &k.taegis_region)
                .is_none()
            && let Ok(r) = xdr_region_from_url(&url)
        {
            out.push(format!("XDR region {r} derived from {url}"));
        }
        if let Some((raw, _)) = self.pick(&self.args.guide.notification_bucket, |k| {
            &k.notification_bucket
        }) && let Ok((_, prefix, notice)) = normalize_bucket(&raw)
        {
            out.extend(notice);
            if let Some(p) = prefix
                && self.pick(&self.args.guide.prefix, |k| &k.prefix).is_some()
            {
                out.push(format!(
                    "--prefix wins over the prefix {p:?} in --notification-bucket {raw}"
                ));
            }
        }
        out
    }

    /// The notification bucket's name, and a prefix when a URL gave one.
    fn notification_bucket(
        &self,
        pf: &mut Preflight,
        sources: &mut Sources,
    ) -> (String, Option<String>) {
        let Some((raw, src)) = self.pick(&self.args.guide.notification_bucket, |k| {
            &k.notification_bucket
        }) else {
            if self.pick(&self.args.guide.trail, |k| &k.trail).is_some() {
                // The trail names it.
                return (String::new(), None);
            }
            self.missing(
                pf,
                Problem::about(
                    Input::NotificationBucket,
                    "missing --notification-bucket NAME",
                    "the bucket CloudTrail writes its logs to",
                ),
            );
            return (String::new(), None);
        };
        sources.insert(Input::NotificationBucket, src);
        match normalize_bucket(&raw) {
            Ok((name, prefix, _)) => (name, prefix),
            Err(e) => {
                self.problem(
                    pf,
                    Problem::value(Input::NotificationBucket, &format!("{raw:?}"), e),
                );
                (String::new(), None)
            }
        }
    }

    /// The trigger and its topic: a topic without an explicit trigger means SNS.
    fn trigger(&self, pf: &mut Preflight, sources: &mut Sources) -> (Trigger, Option<String>) {
        let topic = self
            .picked(
                &self.args.guide.sns_topic_arn,
                |k| &k.sns_topic_arn,
                Input::SnsTopicArn,
                sources,
            )
            .filter(|s| !s.is_empty());
        let trigger = self.pick(&self.args.guide.trigger, |k| &k.trigger);
        if let Some((_, src)) = trigger {
            sources.insert(Input::Trigger, src);
        }
        let trail = self.pick(&self.args.guide.trail, |k| &k.trail).is_some();
        match (trigger.map(|t| t.0), &topic) {
            (Some(Trigger::Sns), None) if !trail => {
                self.problem(
                    pf,
                    Problem::new(Input::SnsTopicArn, "--trigger sns needs a topic")
                        .fix("give --sns-topic-arn ARN: the topic that announces new log objects"),
                );
                (Trigger::Sns, None)
            }
            (Some(t), _) => (t, topic),
            (None, Some(_)) => (Trigger::Sns, topic),
            (None, None) => (Trigger::S3, None),
        }
    }

    /// A string value, its source recorded.
    fn picked(
        &self,
        flag: &Option<String>,
        key: impl Fn(&Keys) -> &Option<String>,
        input: Input,
        sources: &mut Sources,
    ) -> Option<String> {
        let (v, src) = self.pick(flag, key)?;
        sources.insert(input, src);
        Some(v)
    }

    /// A path value, its source recorded.
    fn picked_path(
        &self,
        flag: &Option<PathBuf>,
        key: impl Fn(&Keys) -> &Option<PathBuf>,
        input: Input,
        sources: &mut Sources,
    ) -> Option<PathBuf> {
        let (v, src) = self.pick_path(flag, key)?;
        sources.insert(input, src);
        Some(v)
    }

    /// The parameters: the file's, the target's, then the flags'.
    fn parameters(&self, flags: &BTreeMap<String, String>) -> BTreeMap<String, Sourced> {
        let file = |k: &Keys| k.parameters.clone().unwrap_or_default();
        let mut out = BTreeMap::new();
        for (k, v) in file(self.top).into_iter().chain(file(self.entry)) {
            out.insert(k, sourced(v, Source::File));
        }
        for (k, v) in flags {
            out.insert(k.clone(), sourced(v.clone(), Source::Flag));
        }
        out
    }

    /// Every target of this entry: its regions times its accounts.
    fn targets(
        &self,
        region_flag: Option<&str>,
        env_region: Option<&str>,
        flag_params: &BTreeMap<String, String>,
        pf: &mut Preflight,
    ) -> Result<Vec<TargetConfig>, Box<TargetConfig>> {
        let regions = self.regions(region_flag, env_region, pf);
        let (accounts, role_arn) = self.accounts(pf);
        let base = self.base(pf, flag_params, role_arn);
        let Some((regions, _)) = regions.filter(|(r, _)| !r.is_empty()) else {
            // No usable region: the names are still checked, as they would be in any region.
            let mut t = base;
            t.region = "us-east-1".into();
            self.check_names(&t, pf);
            return Err(Box::new(t));
        };
        let mut out = Vec::new();
        for region in &regions {
            for account in &accounts {
                let mut t = base.clone();
                t.region = region.clone();
                t.account = account.clone();
                t.expand_placeholders(None);
                self.check_names(&t, pf);
                self.check_arns(&t, pf);
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Where the credentials text comes from: a file, or `-` for stdin. None given is no
    /// problem yet: only a shared stack to create (or `--update-credentials`) needs them.
    fn credentials(&self, src: &mut Sources) -> CredentialsSource {
        let given = &self.args.guide.credentials;
        match self.picked_path(given, |k| &k.credentials, Input::Credentials, src) {
            None => CredentialsSource::Missing,
            Some(p) if p.as_os_str() == "-" => CredentialsSource::Stdin,
            Some(p) => CredentialsSource::File(p),
        }
    }

    /// The values every target of this entry shares, before placeholders are expanded.
    fn base(
        &self,
        pf: &mut Preflight,
        flag_params: &BTreeMap<String, String>,
        role_arn: Option<String>,
    ) -> TargetConfig {
        let a = self.args;
        let mut sources = Sources::new();
        let src = &mut sources;
        let credentials = self.credentials(src);
        let taegis_region = self.taegis_region(pf, src);
        let (notification_bucket, url_prefix) = self.notification_bucket(pf, src);
        let (trigger, sns_topic_arn) = self.trigger(pf, src);
        let pick = |l: &Self, f, k: fn(&Keys) -> &Option<String>, i, s: &mut Sources| {
            l.picked(f, k, i, s).filter(|v| !v.is_empty())
        };
        TargetConfig {
            account: None,
            role_arn,
            region: String::new(),
            credentials,
            taegis_region,
            lambda_zip: self
                .picked_path(
                    &a.guide.lambda_zip,
                    |k| &k.lambda_zip,
                    Input::LambdaZip,
                    src,
                )
                .unwrap_or_else(|| PathBuf::from(DEFAULT_LAMBDA_ZIP)),
            lambda_bucket: self
                .picked(
                    &a.guide.lambda_bucket,
                    |k| &k.lambda_bucket,
                    Input::LambdaBucket,
                    src,
                )
                .unwrap_or_else(|| DEFAULT_LAMBDA_BUCKET.to_string()),
            shared_template: self.picked_path(
                &a.shared_template,
                |k| &k.shared_template,
                Input::SharedTemplate,
                src,
            ),
            lambda_template: self.picked_path(
                &a.guide.lambda_template,
                |k| &k.lambda_template,
                Input::LambdaTemplate,
                src,
            ),
            shared_stack_name: self
                .picked(
                    &a.targets.shared_stack_name,
                    |k| &k.shared_stack_name,
                    Input::SharedStackName,
                    src,
                )
                .unwrap_or_else(|| DEFAULT_SHARED_STACK.to_string()),
            stack_name: self
                .picked(
                    &a.targets.stack_name,
                    |k| &k.stack_name,
                    Input::StackName,
                    src,
                )
                .unwrap_or_else(|| DEFAULT_STACK.to_string()),
            integration_type: self
                .picked(
                    &a.guide.integration_type,
                    |k| &k.integration_type,
                    Input::IntegrationType,
                    src,
                )
                .unwrap_or_else(|| DEFAULT_INTEGRATION_TYPE.to_string()),
            notification_bucket,
            trail: self.picked(&a.guide.trail, |k| &k.trail, Input::Trail, src),
            trigger,
            prefix: self
                .picked(&a.guide.prefix, |k| &k.prefix, Input::Prefix, src)
                .or(url_prefix)
                .unwrap_or_default(),
            sns_topic_arn,
            bucket_kms_key_arn: pick(
                self,
                &a.guide.bucket_kms_key_arn,
                |k| &k.bucket_kms_key_arn,
                Input::BucketKmsKeyArn,
                src,
            ),
            lambda_env_kms_key_arn: pick(
                self,
                &a.guide.lambda_env_kms_key_arn,
                |k| &k.lambda_env_kms_key_arn,
                Input::LambdaEnvKmsKeyArn,
                src,
            ),
            parameters: self.parameters(flag_params),
            sources,
            origin: self.origin.clone(),
            flawed: BTreeSet::new(),
        }
    }

    /// The checks of one target's names, once `{region}` is expanded (`{account}` stands in
    /// for any account).
    fn check_names(&self, t: &TargetConfig, pf: &mut Preflight) {
        let some = |s: &str| expand(s, SOME_ACCOUNT, &t.region);
        let mut problem = |p: Problem| self.problem(pf, p);
        if t.given(Input::IntegrationType) && t.integration_type.trim().is_empty() {
            problem(
                Problem::new(Input::IntegrationType, "is empty")
                    .fix("use awscloudtrail or generic"),
            );
        }
        for (input, name, kind) in [
            (Input::SharedStackName, &t.shared_stack_name, None),
            (
                Input::StackName,
                &t.stack_name,
                Some(t.integration_type.as_str()),
            ),
        ] {
            if let Err(e) = check_stack_name(&some(name), kind) {
                problem(Problem::value(input, &format!("{name:?}"), e));
            }
        }
        if t.shared_stack_name == t.stack_name {
            problem(
                Problem::about(
                    Input::StackName,
                    "--stack-name and --shared-stack-name",
                    format!("are both {:?}", t.stack_name),
                )
                .fix("the two stacks need different names"),
            );
        }
        for (input, name) in [
            (Input::LambdaBucket, &t.lambda_bucket),
            (Input::NotificationBucket, &t.notification_bucket),
        ] {
            if !name.is_empty()
                && let Err(e) = check_bucket_name(&some(name))
            {
                problem(Problem::value(input, &format!("{name:?}"), e));
            }
        }
        if t.prefix.starts_with('/') {
            problem(
                Problem::value(
                    Input::Prefix,
                    &format!("{:?}", t.prefix),
                    "starts with \"/\"",
                )
                .fix("S3 keys written by CloudTrail do not: drop the leading slash"),
            );
        }
    }

    /// The ARNs must be of the target's region.
    fn check_arns(&self, t: &TargetConfig, pf: &mut Preflight) {
        let some = |s: &str| expand(s, SOME_ACCOUNT, &t.region);
        for (input, arn, kms) in [
            (Input::SnsTopicArn, &t.sns_topic_arn, false),
            (Input::BucketKmsKeyArn, &t.bucket_kms_key_arn, true),
            (Input::LambdaEnvKmsKeyArn, &t.lambda_env_kms_key_arn, true),
        ] {
            let service = if kms { "kms" } else { "sns" };
            if let Some(arn) = arn
                && let Err(e) = check_arn(&some(arn), service, &t.region, kms)
            {
                self.problem(pf, Problem::value(input, &format!("{arn:?}"), e));
            }
        }
    }
}

type Sources = BTreeMap<Input, Source>;

fn sourced(value: String, source: Source) -> Sourced {
    Sourced { value, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{GuideArgs, TargetArgs};
    use std::path::Path;

    fn base() -> DeployArgs {
        DeployArgs {
            guide: GuideArgs {
                credentials: Some("creds.txt".into()),
                taegis_region: Some("foxtrot".into()),
                notification_bucket: Some("trail-logs".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn ok(args: &DeployArgs, region: Option<&str>, rollout: Option<&Rollout>) -> DeployConfig {
        let (c, pf) = resolve(args, None, region, rollout, Needs::Deploy);
        assert!(pf.is_ok(), "{:?}", pf.problems);
        c
    }

    fn one(args: &DeployArgs) -> TargetConfig {
        let c = ok(args, Some("us-east-1"), None);
        assert_eq!(c.targets.len(), 1);
        c.targets[0].clone()
    }

    fn problems(args: &DeployArgs, region: Option<&str>, rollout: Option<&Rollout>) -> Vec<String> {
        let (_, pf) = resolve(args, None, region, rollout, Needs::Deploy);
        assert!(!pf.is_ok());
        pf.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn defaults() {
        let t = one(&base());
        assert_eq!(t.stack_name, "taegis-cloudtrail");
        assert_eq!(t.shared_stack_name, "taegis-shared-resources");
        assert_eq!(t.integration_type, "awscloudtrail");
        assert_eq!(t.lambda_bucket, "taegis-lambda-{account}-us-east-1");
        assert_eq!(t.lambda_zip, PathBuf::from("taegis-lambda-amd64.zip"));
        assert_eq!(t.trigger, Trigger::S3);
        assert_eq!(t.region, "us-east-1");
        assert_eq!(t.credentials, CredentialsSource::File("creds.txt".into()));
        assert_eq!(t.source(Input::IntegrationType), Source::Default);
        assert_eq!(t.source(Input::NotificationBucket), Source::Flag);
        assert!(t.flawed.is_empty());
    }

    #[test]
    fn a_bucket_url_gives_name_and_prefix_and_prefix_wins() {
        let mut a = base();
        a.guide.notification_bucket = Some("s3://trail-logs/AWSLogs/".into());
        let t = one(&a);
        assert_eq!(
            (t.notification_bucket.as_str(), t.prefix.as_str()),
            ("trail-logs", "AWSLogs/")
        );
        a.guide.prefix = Some("other/".into());
        assert_eq!(one(&a).prefix, "other/");
    }

    #[test]
    fn missing_and_bad_inputs_are_all_reported() {
        let p = problems(&DeployArgs::default(), None, None);
        assert!(p.iter().any(|p| p.contains("no region")), "{p:?}");
        let p = problems(
            &DeployArgs {
                targets: TargetArgs {
                    regions: vec!["us-east-1".into()],
                    ..Default::default()
                },
                ..Default::default()
            },
            None,
            None,
        );
        for want in ["--taegis-region", "--notification-bucket"] {
            assert!(p.iter().any(|p| p.contains(want)), "{want}: {p:?}");
        }
        let mut a = base();
        a.targets.regions = vec!["us-east-1".into(), "mars-1".into()];
        a.guide.parameters = vec!["NoEquals".into()];
        a.guide.trigger = Some(Trigger::Sns);
        a.targets.timeout = Some("soon".into());
        let p = problems(&a, None, None);
        for want in ["\"mars-1\"", "NoEquals", "--sns-topic-arn", "--timeout"] {
            assert!(p.iter().any(|p| p.contains(want)), "{want}: {p:?}");
        }
    }

    #[test]
    fn targets_are_built_even_with_problems_and_know_which_inputs_are_flawed() {
        let mut a = base();
        a.targets.stack_name = Some("bad name".into());
        a.guide.prefix = Some("/x".into());
        let (c, pf) = resolve(&a, None, Some("us-east-1"), None, Needs::Deploy);
        assert_eq!(pf.problems.len(), 2, "{:?}", pf.problems);
        assert_eq!(c.targets.len(), 1);
        let flawed = &c.targets[0].flawed;
        assert!(flawed.contains(&Input::StackName) && flawed.contains(&Input::Prefix));
        assert!(!flawed.contains(&Input::NotificationBucket));
    }

    #[test]
    fn regions_and_accounts_multiply() {
        let mut a = base();
        a.targets.regions = vec!["us-east-1".into(), "eu-west-1".into()];
        a.targets.accounts = vec!["111111111111".into(), "222222222222".into()];
        a.targets.role_arn = Some("arn:aws:iam::{account}:role/Deployer".into());
        let c = ok(&a, None, None);
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
        assert_eq!(
            c.targets[1].role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/Deployer")
        );
        a.targets.regions = vec!["us-east-1".into(), "us-east-1".into()];
        assert!(problems(&a, None, None).iter().any(|p| p.contains("twice")));
    }

    #[test]
    fn any_well_formed_region_is_taken() {
        let mut a = base();
        a.targets.regions = vec!["eu-future-1".into()];
        assert_eq!(ok(&a, None, None).targets[0].region, "eu-future-1");
    }

    #[test]
    fn sns_topic_implies_sns_trigger() {
        let mut a = base();
        a.guide.sns_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:t".into());
        assert_eq!(one(&a).trigger, Trigger::Sns);
    }

    #[test]
    fn accounts_may_take_their_role_from_the_file() {
        let r = Rollout::parse(
            Path::new("f.yaml"),
            "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\nrole_arn: \"arn:aws:iam::{account}:role/D\"\n",
        )
        .unwrap();
        let a = DeployArgs {
            targets: TargetArgs {
                accounts: vec!["111111111111".into()],
                regions: vec!["us-east-1".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let c = ok(&a, None, Some(&r));
        assert_eq!(
            c.targets[0].role(),
            Some("arn:aws:iam::111111111111:role/D".into())
        );
    }

    #[test]
    fn placeholders_expand_in_every_string_key() {
        let r = Rollout::parse(
            Path::new("/etc/r/f.yaml"),
            "taegis_region: echo\ncredentials: \"creds-{account}.txt\"\nnotification_bucket: \"logs-{account}-{region}\"\nstack_name: \"ct-{region}\"\nshared_stack_name: \"shared-{account}\"\nprefix: \"AWSLogs/{account}/\"\nsns_topic_arn: \"arn:aws:sns:{region}:{account}:t\"\nparameters: { EnableObjectTagging: \"{region}\" }\ntargets:\n  - regions: [eu-west-1]\n",
        )
        .unwrap();
        let c = ok(&DeployArgs::default(), None, Some(&r));
        let t = &c.targets[0];
        assert_eq!(t.stack_name, "ct-eu-west-1");
        assert_eq!(t.parameters["EnableObjectTagging"].value, "eu-west-1");
        assert_eq!(t.origin, " (rollout file /etc/r/f.yaml, target 1)");
        let t = t.for_account("111111111111");
        assert_eq!(t.notification_bucket, "logs-111111111111-eu-west-1");
        assert_eq!(t.shared_stack_name, "shared-111111111111");
        assert_eq!(t.prefix, "AWSLogs/111111111111/");
        assert_eq!(
            t.sns_topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:111111111111:t")
        );
        assert_eq!(
            t.credentials,
            CredentialsSource::File("/etc/r/creds-111111111111.txt".into())
        );
        assert_eq!(t.source(Input::StackName), Source::File);
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
            targets: TargetArgs {
                stack_name: Some("ct".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = ok(&a, None, Some(&r));
        assert_eq!(c.targets.len(), 2);
        let t = &c.targets[1];
        assert_eq!(t.label(), "111111111111/eu-west-1/ct");
        assert_eq!(
            t.credentials,
            CredentialsSource::File("/etc/rollouts/creds.txt".into())
        );
        assert_eq!(t.taegis_region, "echo");
        assert_eq!(t.stack_name, "ct");
        assert_eq!(t.source(Input::StackName), Source::Flag);
        assert_eq!(t.notification_bucket, "logs-eu-west-1");
        assert_eq!(t.lambda_bucket, "zips-111111111111-eu-west-1");
        assert_eq!(t.parameters["EnableObjectTagging"].value, "true");
        assert_eq!(t.parameters["EnableObjectTagging"].source, Source::File);
        a.guide.taegis_region = Some("golf".into());
        assert_eq!(ok(&a, None, Some(&r)).targets[0].taegis_region, "golf");
    }

    #[test]
    fn flags_win_over_the_file_and_targets_over_region() {
        let r = Rollout::parse(
            Path::new("f.yaml"),
            "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\nregion: eu-west-1\n",
        )
        .unwrap();
        let a = DeployArgs {
            guide: GuideArgs {
                xdr_url: Some("https://golf.taegis.secureworks.com".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let resolve_ok = |region_flag, env| {
            let (c, pf) = resolve(&a, region_flag, env, Some(&r), Needs::Deploy);
            assert!(pf.is_ok(), "{:?}", pf.problems);
            c
        };
        let c = resolve_ok(Some("us-east-2"), Some("us-west-2"));
        assert_eq!(
            c.targets[0].taegis_region, "golf",
            "--xdr-url beats the file's taegis_region"
        );
        assert_eq!(
            c.targets[0].region, "us-east-2",
            "--region beats the file's top-level region"
        );
        let c = resolve_ok(None, Some("us-west-2"));
        assert_eq!(
            c.targets[0].region, "eu-west-1",
            "the file beats AWS_REGION"
        );
        let t = Rollout::parse(
            Path::new("f.yaml"),
            "taegis_region: echo\ncredentials: c\nnotification_bucket: b-logs\ntargets:\n  - regions: [ca-central-1]\n",
        )
        .unwrap();
        let (c, _) = resolve(
            &DeployArgs::default(),
            Some("us-east-2"),
            None,
            Some(&t),
            Needs::Deploy,
        );
        assert_eq!(
            c.targets[0].region, "ca-central-1",
            "a target's regions beat --region"
        );
    }
}
