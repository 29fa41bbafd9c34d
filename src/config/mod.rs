//! Command-line options plus an optional rollout file become per-target settings, each value
//! with where it came from. Pure: no AWS, no terminal, no files (the rollout file arrives
//! parsed). Every problem is collected with the input it is about; targets are still built from
//! what could be read, so that the later stages of the preflight report their problems in the
//! same run.

pub mod checks;
mod layers;
pub mod rollout;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

pub use checks::{
    check_arn, check_bucket_name, check_region, check_stack_name, expand, is_account_id,
    is_role_arn, normalize_bucket, xdr_region_from_url,
};
pub use rollout::{Keys, Rollout};

use layers::Layers;

use crate::cli::DeployArgs;
use crate::input::{Input, Preflight, Problem, Source};
use crate::kinds::{OnFailure, Shard, Trigger};

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
    let (mut pf, empty) = (Preflight::default(), Keys::default());
    let top = rollout.map(|r| &r.keys).unwrap_or(&empty);
    let run = RunSettings::resolve(args, top, &mut pf);
    let run_flawed = pf.flawed();
    let single = [Keys::default()];
    let entries: &[Keys] = top.targets.as_deref().unwrap_or(&single);
    let (mut notices, mut targets, mut unplaced) = (Vec::new(), Vec::new(), Vec::new());
    for (i, entry) in entries.iter().enumerate() {
        let origin = match rollout {
            Some(r) if top.targets.is_some() => {
                format!(" (rollout file {}, target {})", r.name, i + 1)
            }
            _ => String::new(),
        };
        let layers = Layers {
            args,
            entry,
            top,
            rollout,
            needs,
            origin,
        };
        let mut found = Preflight::default();
        let built = layers.targets(region_flag, env_region, &run.parameters, &mut found);
        notices.extend(layers.notices());
        let flawed: BTreeSet<Input> = found.flawed().union(&run_flawed).copied().collect();
        let with_flaws = |t| TargetConfig {
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
    let targets = sharded(args, targets, &mut notices);
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

/// `--shard K/N` applied to the run's targets, said in a notice.
fn sharded(
    args: &DeployArgs,
    targets: Vec<TargetConfig>,
    notices: &mut Vec<String>,
) -> Vec<TargetConfig> {
    let Some(shard) = args.targets.shard else {
        return targets;
    };
    let all = targets.len();
    let part = shard_of(targets, shard);
    notices.push(format!(
        "--shard {shard}: {} of the run's {all} targets",
        part.len()
    ));
    part
}

/// Part K of N of the targets: the account-and-region groups, in the order they first
/// appear, dealt round the N parts (so each group, whose once-per-region work is shared, stays
/// in one part, and the parts differ by at most one group); the targets keep their order.
pub fn shard_of(targets: Vec<TargetConfig>, shard: Shard) -> Vec<TargetConfig> {
    let mut groups: Vec<(Option<String>, String)> = Vec::new();
    for t in &targets {
        let g = (t.account.clone(), t.region.clone());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    targets
        .into_iter()
        .filter(|t| {
            let g = (t.account.clone(), t.region.clone());
            let i = groups.iter().position(|x| *x == g).unwrap_or_default();
            i % shard.n == shard.k - 1
        })
        .collect()
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

type Sources = BTreeMap<Input, Source>;

fn sourced(value: String, source: Source) -> Sourced {
    Sourced { value, source }
}

#[cfg(test)]
mod tests;
