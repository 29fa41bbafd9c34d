//! One entry of a rollout file (or the flags alone) becomes targets: each value taken from
//! the flag, else the entry, else the file's top level, else the default, with its source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::*;
use crate::cli::GuideArgs;

/// A value of the file's own keys (not the guide's options) from the layers, its source
/// recorded: the flag's field and the file's key share a name; the input is what a problem
/// names.
macro_rules! pick {
    ($layers:expr, $sources:expr, path $args:ident . $key:ident, $input:ident) => {
        $layers.picked_path(&$args.$key, |k| &k.$key, Input::$input, $sources)
    };
    ($layers:expr, $sources:expr, $args:ident . $key:ident, $input:ident) => {
        $layers.picked(&$args.$key, |k| &k.$key, Input::$input, $sources)
    };
}

/// The levels a value of one target entry can come from: the flags, the entry, the file's
/// top level.
pub(super) struct Layers<'a> {
    pub(super) args: &'a DeployArgs,
    pub(super) entry: &'a Keys,
    pub(super) top: &'a Keys,
    pub(super) rollout: Option<&'a Rollout>,
    pub(super) needs: Needs,
    pub(super) origin: String,
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
        let g = &self.args.guide;
        let levels = [
            (&g.taegis_region, &g.xdr_url, Source::Flag),
            (
                &self.entry.guide.taegis_region,
                &self.entry.guide.xdr_url,
                Source::File,
            ),
            (
                &self.top.guide.taegis_region,
                &self.top.guide.xdr_url,
                Source::File,
            ),
        ];
        let found = levels
            .into_iter()
            .find(|(r, u, _)| r.is_some() || u.is_some());
        let Some((region, url, src)) = found else {
            let what = format!(
                "the XDR region, one of {}, or --xdr-url URL (your XDR login URL)",
                xdr_region_names()
            );
            let p = Problem::about(Input::TaegisRegion, "missing --taegis-region NAME", what);
            self.missing(pf, p);
            return String::new();
        };
        let chosen = match (region, url) {
            (Some(r), Some(_)) => {
                let both = "both taegis_region and xdr_url are set";
                self.problem(pf, Problem::new(Input::TaegisRegion, both).fix("keep one"));
                Some(r.clone())
            }
            (Some(r), None) => {
                if r.trim().is_empty() {
                    let fix = format!("give one of {}", xdr_region_names());
                    self.problem(pf, Problem::new(Input::TaegisRegion, "is empty").fix(fix));
                }
                Some(r.trim().to_string())
            }
            (None, Some(url)) => xdr_region_from_url(url)
                .map_err(|e| self.problem(pf, Problem::about(Input::XdrUrl, "", e)))
                .ok(),
            (None, None) => None,
        };
        chosen
            .inspect(|_| {
                sources.insert(Input::TaegisRegion, src);
            })
            .unwrap_or_default()
    }

    /// What users say about the XDR URL and the bucket, for the notices.
    pub(super) fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((url, _)) = self.pick(&self.args.guide.xdr_url, |k| &k.guide.xdr_url)
            && self
                .pick(&self.args.guide.taegis_region, |k| &k.guide.taegis_region)
                .is_none()
            && let Ok(r) = xdr_region_from_url(&url)
        {
            out.push(format!("XDR region {r} derived from {url}"));
        }
        if let Some((raw, _)) = self.pick(&self.args.guide.notification_bucket, |k| {
            &k.guide.notification_bucket
        }) && let Ok((_, prefix, notice)) = normalize_bucket(&raw)
        {
            out.extend(notice);
            if let Some(p) = prefix
                && self
                    .pick(&self.args.guide.prefix, |k| &k.guide.prefix)
                    .is_some()
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
            &k.guide.notification_bucket
        }) else {
            if self
                .pick(&self.args.guide.trail, |k| &k.guide.trail)
                .is_some()
            {
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
                |k| &k.guide.sns_topic_arn,
                Input::SnsTopicArn,
                sources,
            )
            .filter(|s| !s.is_empty());
        let trigger = self.pick(&self.args.guide.trigger, |k| &k.guide.trigger);
        if let Some((_, src)) = trigger {
            sources.insert(Input::Trigger, src);
        }
        let trail = self
            .pick(&self.args.guide.trail, |k| &k.guide.trail)
            .is_some();
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
    pub(super) fn targets(
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
        match self.picked_path(given, |k| &k.guide.credentials, Input::Credentials, src) {
            None => CredentialsSource::Missing,
            Some(p) if p.as_os_str() == "-" => CredentialsSource::Stdin,
            Some(p) => CredentialsSource::File(p),
        }
    }

    /// The guide's options of this entry, merged by the one rule: the flag, else the entry's
    /// key, else the file's top level (a file's paths relative to the file); and where each
    /// came from.
    fn merged(&self) -> (GuideArgs, Sources) {
        let level = |k: &Keys| match self.rollout {
            Some(r) => k.guide.clone().relative_to(|p| r.path(p)),
            None => k.guide.clone(),
        };
        let file = level(self.entry).or(level(self.top));
        let mut sources = Sources::new();
        sources.extend(file.inputs().into_iter().map(|i| (i, Source::File)));
        sources.extend(
            self.args
                .guide
                .inputs()
                .into_iter()
                .map(|i| (i, Source::Flag)),
        );
        // The XDR region is read level by level: a flag's URL wins over a file's name.
        sources.remove(&Input::TaegisRegion);
        sources.remove(&Input::XdrUrl);
        (self.args.guide.clone().or(file), sources)
    }

    /// The values every target of this entry shares, before placeholders are expanded.
    fn base(
        &self,
        pf: &mut Preflight,
        flag_params: &BTreeMap<String, String>,
        role_arn: Option<String>,
    ) -> TargetConfig {
        let (g, mut sources) = self.merged();
        let s = &mut sources;
        let credentials = self.credentials(s);
        let taegis_region = self.taegis_region(pf, s);
        let (notification_bucket, url_prefix) = self.notification_bucket(pf, s);
        let (trigger, sns_topic_arn) = self.trigger(pf, s);
        let (a, t) = (self.args, &self.args.targets.stacks);
        let shared_template = pick!(self, s, path a.shared_template, SharedTemplate);
        let shared_stack_name = pick!(self, s, t.shared_stack_name, SharedStackName);
        let stack_name = pick!(self, s, t.stack_name, StackName);
        let or = |v: Option<String>, default: &str| v.unwrap_or_else(|| default.to_string());
        let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
        TargetConfig {
            account: None,
            role_arn,
            region: String::new(),
            credentials,
            taegis_region,
            lambda_zip: g
                .lambda_zip
                .unwrap_or_else(|| PathBuf::from(DEFAULT_LAMBDA_ZIP)),
            lambda_bucket: or(g.lambda_bucket, DEFAULT_LAMBDA_BUCKET),
            shared_template,
            lambda_template: g.lambda_template,
            shared_stack_name: or(shared_stack_name, DEFAULT_SHARED_STACK),
            stack_name: or(stack_name, DEFAULT_STACK),
            integration_type: or(g.integration_type, DEFAULT_INTEGRATION_TYPE),
            notification_bucket,
            trail: g.trail,
            trigger,
            prefix: g.prefix.or(url_prefix).unwrap_or_default(),
            sns_topic_arn,
            bucket_kms_key_arn: non_empty(g.bucket_kms_key_arn),
            lambda_env_kms_key_arn: non_empty(g.lambda_env_kms_key_arn),
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

/// The XDR regions by name, for a problem's fix.
fn xdr_region_names() -> String {
    let names: Vec<&str> = XDR_REGIONS.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}
