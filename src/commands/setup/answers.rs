//! What the operator answered (or gave as flags, or in the rollout file setup started from):
//! turned into the `deploy` arguments that do the work, into the equivalent command line, and
//! into a rollout file that replays it.

use std::path::{Path, PathBuf};

use crate::cli::{DeployArgs, GuideArgs, SetupArgs, TargetArgs};
use crate::config::{Keys, Rollout};
use crate::kinds::Trigger;

/// Every answer for one region; `None` until answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub region: Option<String>,
    pub taegis_region: Option<String>,
    /// `None` once the shared stack holds the credentials and none are to be re-sent.
    pub credentials: Option<PathBuf>,
    pub trail: Option<String>,
    pub notification_bucket: Option<String>,
    pub prefix: Option<String>,
    pub trigger: Option<Trigger>,
    pub sns_topic_arn: Option<String>,
    pub bucket_kms_key_arn: Option<String>,
    pub lambda_env_kms_key_arn: Option<String>,
    pub integration_type: Option<String>,
    pub shared_stack_name: Option<String>,
    pub stack_name: Option<String>,
    pub lambda_zip: Option<PathBuf>,
    pub lambda_bucket: Option<String>,
    pub lambda_template: Option<PathBuf>,
    /// Other template parameters, in template order.
    pub parameters: Vec<(String, String)>,
}

/// What holds for the whole conversation rather than one region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    /// The rollout file setup started from.
    pub config: Option<PathBuf>,
    pub role_arn: Option<String>,
    pub dry_run: bool,
    pub yes: bool,
}

/// Quote a value for a shell command line when it needs it.
fn shell(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@{},".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// A YAML scalar: JSON's string quoting is valid YAML.
fn yaml(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn lower(t: Trigger) -> String {
    format!("{t:?}").to_lowercase()
}

impl Answers {
    /// What the flags given to `setup` already answer (the region aside: see `regions`).
    pub fn from_flags(a: &SetupArgs) -> Answers {
        let g = &a.guide;
        Answers {
            region: None,
            taegis_region: g.taegis_region.clone().or_else(|| {
                g.xdr_url
                    .as_deref()
                    .and_then(|u| crate::config::xdr_region_from_url(u).ok())
            }),
            credentials: g.credentials.clone(),
            trail: g.trail.clone(),
            notification_bucket: g.notification_bucket.clone(),
            prefix: g.prefix.clone(),
            trigger: g.trigger,
            sns_topic_arn: g.sns_topic_arn.clone(),
            bucket_kms_key_arn: g.bucket_kms_key_arn.clone(),
            lambda_env_kms_key_arn: g.lambda_env_kms_key_arn.clone(),
            integration_type: g.integration_type.clone(),
            shared_stack_name: a.shared_stack_name.clone(),
            stack_name: a.stack_name.clone(),
            lambda_zip: g.lambda_zip.clone(),
            lambda_bucket: g.lambda_bucket.clone(),
            lambda_template: g.lambda_template.clone(),
            parameters: g
                .parameters
                .iter()
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// What one level of a rollout file answers (its paths relative to the file).
    pub fn from_keys(k: &Keys, file: &Rollout) -> Answers {
        let path = |p: &Option<PathBuf>| p.as_deref().map(|p| file.path(p));
        Answers {
            region: k.region.clone(),
            taegis_region: k.taegis_region.clone().or_else(|| {
                k.xdr_url
                    .as_deref()
                    .and_then(|u| crate::config::xdr_region_from_url(u).ok())
            }),
            credentials: path(&k.credentials),
            trail: k.trail.clone(),
            notification_bucket: k.notification_bucket.clone(),
            prefix: k.prefix.clone(),
            trigger: k.trigger,
            sns_topic_arn: k.sns_topic_arn.clone(),
            bucket_kms_key_arn: k.bucket_kms_key_arn.clone(),
            lambda_env_kms_key_arn: k.lambda_env_kms_key_arn.clone(),
            integration_type: k.integration_type.clone(),
            shared_stack_name: k.shared_stack_name.clone(),
            stack_name: k.stack_name.clone(),
            lambda_zip: path(&k.lambda_zip),
            lambda_bucket: k.lambda_bucket.clone(),
            lambda_template: path(&k.lambda_template),
            parameters: k
                .parameters
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// These answers, with what they leave open taken from `under`.
    pub fn or(self, under: Answers) -> Answers {
        let mut parameters = self.parameters;
        for (k, v) in under.parameters {
            if !parameters.iter().any(|(have, _)| *have == k) {
                parameters.push((k, v));
            }
        }
        Answers {
            region: self.region.or(under.region),
            taegis_region: self.taegis_region.or(under.taegis_region),
            credentials: self.credentials.or(under.credentials),
            trail: self.trail.or(under.trail),
            notification_bucket: self.notification_bucket.or(under.notification_bucket),
            prefix: self.prefix.or(under.prefix),
            trigger: self.trigger.or(under.trigger),
            sns_topic_arn: self.sns_topic_arn.or(under.sns_topic_arn),
            bucket_kms_key_arn: self.bucket_kms_key_arn.or(under.bucket_kms_key_arn),
            lambda_env_kms_key_arn: self.lambda_env_kms_key_arn.or(under.lambda_env_kms_key_arn),
            integration_type: self.integration_type.or(under.integration_type),
            shared_stack_name: self.shared_stack_name.or(under.shared_stack_name),
            stack_name: self.stack_name.or(under.stack_name),
            lambda_zip: self.lambda_zip.or(under.lambda_zip),
            lambda_bucket: self.lambda_bucket.or(under.lambda_bucket),
            lambda_template: self.lambda_template.or(under.lambda_template),
            parameters,
        }
    }

    /// The answers every region shares, taken from the region asked about first where this
    /// one has none: the XDR side, the function, the zip (its bucket only when it names
    /// `{region}`: a bucket is in one region).
    pub fn inherit(&mut self, first: &Answers) {
        let common = Answers {
            taegis_region: first.taegis_region.clone(),
            credentials: first.credentials.clone(),
            integration_type: first.integration_type.clone(),
            shared_stack_name: first.shared_stack_name.clone(),
            stack_name: first.stack_name.clone(),
            lambda_zip: first.lambda_zip.clone(),
            lambda_template: first.lambda_template.clone(),
            lambda_env_kms_key_arn: first.lambda_env_kms_key_arn.clone(),
            lambda_bucket: first
                .lambda_bucket
                .clone()
                .filter(|b| b.contains("{region}")),
            parameters: first.parameters.clone(),
            ..Answers::default()
        };
        *self = std::mem::take(self).or(common);
    }

    /// The `deploy` flags that give these answers.
    fn guide_args(&self) -> GuideArgs {
        GuideArgs {
            credentials: self.credentials.clone(),
            taegis_region: self.taegis_region.clone(),
            notification_bucket: self.notification_bucket.clone(),
            trail: None,
            prefix: self.prefix.clone(),
            trigger: self.trigger,
            sns_topic_arn: self.sns_topic_arn.clone(),
            bucket_kms_key_arn: self.bucket_kms_key_arn.clone(),
            lambda_env_kms_key_arn: self.lambda_env_kms_key_arn.clone(),
            integration_type: self.integration_type.clone(),
            lambda_zip: self.lambda_zip.clone(),
            lambda_bucket: self.lambda_bucket.clone(),
            lambda_template: self.lambda_template.clone(),
            xdr_url: None,
            parameters: self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        }
    }

    /// The `deploy` arguments that do what was answered in this one region.
    pub fn deploy_args(&self, run: &RunFlags) -> DeployArgs {
        DeployArgs {
            targets: TargetArgs {
                regions: self.region.iter().cloned().collect(),
                role_arn: run.role_arn.clone(),
                shared_stack_name: self.shared_stack_name.clone(),
                stack_name: self.stack_name.clone(),
                ..TargetArgs::default()
            },
            guide: self.guide_args(),
            dry_run: run.dry_run,
            ..DeployArgs::default()
        }
    }

    /// The flags of the answers that nothing stands in for when they are missing, in the
    /// order `deploy --help` lists them.
    fn optional_flags(&self) -> Vec<(&'static str, Option<String>)> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let mut out = vec![
            ("prefix", self.prefix.clone()),
            ("trigger", self.trigger.map(lower)),
            ("sns-topic-arn", self.sns_topic_arn.clone()),
            ("bucket-kms-key-arn", self.bucket_kms_key_arn.clone()),
            (
                "lambda-env-kms-key-arn",
                self.lambda_env_kms_key_arn.clone(),
            ),
            ("integration-type", self.integration_type.clone()),
            ("shared-stack-name", self.shared_stack_name.clone()),
            ("stack-name", self.stack_name.clone()),
            ("lambda-zip", path(&self.lambda_zip)),
            ("lambda-bucket", self.lambda_bucket.clone()),
            ("lambda-template", path(&self.lambda_template)),
        ];
        out.extend(
            self.parameters
                .iter()
                .map(|(k, v)| ("parameter", Some(format!("{k}={v}")))),
        );
        out
    }

    /// The keys of these answers in a rollout file, one `key: value` line each (paths
    /// absolute; the credentials by their path, never their text).
    fn yaml_keys(&self, indent: &str) -> String {
        let mut out = String::new();
        let mut key = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push_str(&format!("{indent}{k}: {}\n", yaml(&v)));
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| absolute(p).display().to_string());
        key("region", self.region.clone());
        key("taegis_region", self.taegis_region.clone());
        key("credentials", path(&self.credentials));
        key("notification_bucket", self.notification_bucket.clone());
        key("prefix", self.prefix.clone());
        key("trigger", self.trigger.map(lower));
        key("sns_topic_arn", self.sns_topic_arn.clone());
        key("bucket_kms_key_arn", self.bucket_kms_key_arn.clone());
        key(
            "lambda_env_kms_key_arn",
            self.lambda_env_kms_key_arn.clone(),
        );
        key("integration_type", self.integration_type.clone());
        key("shared_stack_name", self.shared_stack_name.clone());
        key("stack_name", self.stack_name.clone());
        key("lambda_zip", path(&self.lambda_zip));
        key("lambda_bucket", self.lambda_bucket.clone());
        key("lambda_template", path(&self.lambda_template));
        if !self.parameters.is_empty() {
            out.push_str(&format!("{indent}parameters:\n"));
            for (k, v) in &self.parameters {
                out.push_str(&format!("{indent}  {k}: {}\n", yaml(v)));
            }
        }
        out
    }
}

/// A rollout file that replays the answers of every region with `deploy --config FILE`: one
/// region's answers at the top level, several as one target each.
pub fn rollout_yaml(all: &[Answers], run: &RunFlags) -> String {
    let mut out = String::from(
        "# Written by taegis-cloudtrail setup: `taegis-cloudtrail deploy --config THIS_FILE`\n# replays these answers. It holds the path of the credentials file, never its text.\n",
    );
    if let Some(role) = &run.role_arn {
        out.push_str(&format!("role_arn: {}\n", yaml(role)));
    }
    match all {
        [one] => out.push_str(&one.yaml_keys("")),
        many => {
            out.push_str("targets:\n");
            for a in many {
                let keys = a.yaml_keys("    ");
                out.push_str("  - ");
                out.push_str(keys.trim_start());
            }
        }
    }
    out
}

/// `--region R`, `--regions A,B`, or `--region REGION` when nothing names one.
fn region_flag(
    regions: &[String],
    from_file: &Answers,
    run: &RunFlags,
) -> (&'static str, Option<String>) {
    match regions {
        [] if from_file.region.is_none() && run.config.is_none() => {
            ("region", Some("REGION".into()))
        }
        [] => ("region", None),
        [one] => ("region", Some(one.clone())),
        many => ("regions", Some(many.join(","))),
    }
}

/// The `deploy` command line that does the same work as `setup` with these flags: every
/// answer given, in flags or the rollout file; what is answered nowhere shows as a
/// placeholder in capitals. A dry run stays one, and `--yes` is there only when it was given.
pub fn command_line(
    flags: &Answers,
    regions: &[String],
    from_file: &Answers,
    run: &RunFlags,
) -> String {
    let mut out = vec!["taegis-cloudtrail".to_string(), "deploy".into()];
    let known = |mine: bool, file: bool| mine || file;
    let mut flag = |name: &str, v: Option<String>, placeholder: Option<&str>| {
        if let Some(v) = v.or(placeholder.map(str::to_string)) {
            out.push(format!("--{name} {}", shell(&v)));
        }
    };
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let needed = |mine: &Option<String>, file: &Option<String>, placeholder: &'static str| {
        (!known(mine.is_some(), file.is_some())).then_some(placeholder)
    };
    flag("config", path(&run.config), None);
    let (name, value) = region_flag(regions, from_file, run);
    flag(name, value, None);
    flag("role-arn", run.role_arn.clone(), None);
    flag(
        "credentials",
        path(&flags.credentials),
        (!known(flags.credentials.is_some(), from_file.credentials.is_some()))
            .then_some("./credentials.txt"),
    );
    flag(
        "taegis-region",
        flags.taegis_region.clone(),
        needed(&flags.taegis_region, &from_file.taegis_region, "XDR_REGION"),
    );
    flag("trail", flags.trail.clone(), None);
    let by_trail = flags.trail.is_some() || from_file.trail.is_some();
    flag(
        "notification-bucket",
        flags.notification_bucket.clone(),
        needed(
            &flags.notification_bucket,
            &from_file.notification_bucket,
            "CLOUDTRAIL_BUCKET",
        )
        .filter(|_| !by_trail),
    );
    for (name, value) in flags.optional_flags() {
        flag(name, value, None);
    }
    if run.dry_run {
        out.push("--dry-run".into());
    } else if run.yes {
        out.push("--yes".into());
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered() -> Answers {
        Answers {
            region: Some("us-east-1".into()),
            taegis_region: Some("foxtrot".into()),
            credentials: Some("/tmp/x/credentials.txt".into()),
            notification_bucket: Some("org-trail".into()),
            prefix: Some("org/AWSLogs/".into()),
            trigger: Some(Trigger::S3),
            integration_type: Some("awscloudtrail".into()),
            lambda_zip: Some("/tmp/x/taegis-lambda-amd64.zip".into()),
            parameters: vec![("EnableObjectTagging".into(), "true".into())],
            ..Answers::default()
        }
    }

    #[test]
    fn the_command_line_does_the_same_work() {
        let a = answered();
        let regions = vec!["us-east-1".to_string()];
        let run = RunFlags {
            yes: true,
            ..RunFlags::default()
        };
        let line = command_line(&a, &regions, &Answers::default(), &run);
        assert_eq!(
            line,
            "taegis-cloudtrail deploy --region us-east-1 --credentials /tmp/x/credentials.txt --taegis-region foxtrot --notification-bucket org-trail --prefix org/AWSLogs/ --trigger s3 --integration-type awscloudtrail --lambda-zip /tmp/x/taegis-lambda-amd64.zip --parameter EnableObjectTagging=true --yes"
        );
        let empty = command_line(
            &Answers::default(),
            &[],
            &Answers::default(),
            &RunFlags::default(),
        );
        assert!(
            empty.contains("--region REGION")
                && empty.contains("--notification-bucket CLOUDTRAIL_BUCKET")
                && !empty.contains("--yes"),
            "{empty}"
        );
        assert_eq!(shell("a b"), "'a b'");
    }

    #[test]
    fn a_dry_run_prints_a_dry_run_and_never_yes() {
        let run = RunFlags {
            dry_run: true,
            yes: true,
            config: Some("/etc/r.yaml".into()),
            role_arn: Some("arn:aws:iam::111111111111:role/D".into()),
        };
        let line = command_line(
            &answered(),
            &["us-east-1".into(), "eu-west-1".into()],
            &Answers::default(),
            &run,
        );
        assert!(line.ends_with(" --dry-run"), "{line}");
        assert!(!line.contains("--yes"), "{line}");
        for want in [
            "--config /etc/r.yaml",
            "--regions us-east-1,eu-west-1",
            "--role-arn arn:aws:iam::111111111111:role/D",
        ] {
            assert!(line.contains(want), "{want}: {line}");
        }
        // What the rollout file answers is not asked for again.
        let file = Answers {
            credentials: Some("c.txt".into()),
            notification_bucket: Some("b".into()),
            ..Answers::default()
        };
        let line = command_line(&Answers::default(), &[], &file, &run);
        assert!(
            !line.contains("CLOUDTRAIL_BUCKET")
                && !line.contains("credentials")
                && !line.contains("--region REGION"),
            "{line}"
        );
    }

    #[test]
    fn the_rollout_file_reads_back_as_the_same_settings() {
        let text = rollout_yaml(&[answered()], &RunFlags::default());
        let r = crate::config::Rollout::parse(Path::new("/tmp/x/rollout.yaml"), &text).unwrap();
        let (cfg, pf) = crate::config::resolve(
            &DeployArgs::default(),
            None,
            None,
            Some(&r),
            crate::config::Needs::Deploy,
        );
        assert!(pf.is_ok(), "{:?}", pf.problems);
        let t = &cfg.targets[0];
        assert_eq!(t.region, "us-east-1");
        assert_eq!(t.prefix, "org/AWSLogs/");
        assert_eq!(t.parameters["EnableObjectTagging"].value, "true");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn several_regions_are_one_target_each_sharing_the_rest() {
        let first = answered();
        let mut second = Answers {
            region: Some("eu-west-1".into()),
            notification_bucket: Some("eu-trail".into()),
            ..Answers::default()
        };
        second.inherit(&first);
        assert_eq!(second.credentials, first.credentials);
        assert_eq!(second.prefix, None, "a prefix is the region's own");
        let text = rollout_yaml(&[first, second], &RunFlags::default());
        let r = crate::config::Rollout::parse(Path::new("/tmp/x/rollout.yaml"), &text).unwrap();
        let (cfg, pf) = crate::config::resolve(
            &DeployArgs::default(),
            None,
            None,
            Some(&r),
            crate::config::Needs::Deploy,
        );
        assert!(pf.is_ok(), "{:?}\n{text}", pf.problems);
        let got: Vec<(&str, &str)> = cfg
            .targets
            .iter()
            .map(|t| (t.region.as_str(), t.notification_bucket.as_str()))
            .collect();
        assert_eq!(got, [("us-east-1", "org-trail"), ("eu-west-1", "eu-trail")]);
    }

    #[test]
    fn flags_win_over_the_rollout_file() {
        let file = crate::config::Rollout::parse(
            Path::new("/srv/r.yaml"),
            "taegis_region: echo\ncredentials: c.txt\nprefix: AWSLogs/\n",
        )
        .unwrap();
        let flags = Answers {
            taegis_region: Some("golf".into()),
            ..Answers::default()
        };
        let a = flags.or(Answers::from_keys(&file.keys, &file));
        assert_eq!(a.taegis_region.as_deref(), Some("golf"));
        assert_eq!(a.credentials, Some(PathBuf::from("/srv/c.txt")));
        assert_eq!(a.prefix.as_deref(), Some("AWSLogs/"));
    }
}
