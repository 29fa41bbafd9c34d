//! What the operator answered (or gave as flags, or in the rollout file setup started from):
//! turned into the `deploy` arguments that do the work, into the equivalent command line, and
//! into a rollout file that replays it.

use std::path::{Path, PathBuf};

use crate::cli::{DeployArgs, GuideArgs, SetupArgs, StackNames, TargetArgs};
use crate::config::{Keys, Rollout};

/// Every answer for one region; `None` until answered. The guide's answers are the
/// `deploy` options themselves (`GuideArgs`), so that every option setup does not ask about
/// is carried through as it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub region: Option<String>,
    /// `credentials` is `None` once the shared stack holds them and none are to be re-sent;
    /// `xdr_url` is turned into `taegis_region`; `parameters` are kept below, by name.
    pub guide: GuideArgs,
    pub stacks: StackNames,
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

/// The XDR region of a login URL (`--xdr-url`), as an answer.
fn with_region_of_url(mut g: GuideArgs) -> GuideArgs {
    if g.taegis_region.is_none() {
        g.taegis_region = g
            .xdr_url
            .as_deref()
            .and_then(|u| crate::config::xdr_region_from_url(u).ok());
    }
    g
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

impl Answers {
    /// What the flags given to `setup` already answer (the region aside: see `regions`).
    pub fn from_flags(a: &SetupArgs) -> Answers {
        Answers {
            region: None,
            guide: with_region_of_url(a.guide.clone()),
            stacks: a.stacks.clone(),
            parameters: a
                .guide
                .parameters
                .iter()
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// What one level of a rollout file answers (its paths relative to the file).
    pub fn from_keys(k: &Keys, file: &Rollout) -> Answers {
        Answers {
            region: k.region.clone(),
            guide: with_region_of_url(k.guide.clone().relative_to(|p| file.path(p))),
            stacks: StackNames {
                shared_stack_name: k.shared_stack_name.clone(),
                stack_name: k.stack_name.clone(),
            },
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
            guide: self.guide.or(under.guide),
            stacks: self.stacks.or(under.stacks),
            parameters,
        }
    }

    /// The answers every region shares, taken from the region asked about first where this
    /// one has none: the XDR side, the function, the zip (its bucket only when it names
    /// `{region}`: a bucket is in one region).
    pub fn inherit(&mut self, first: &Answers) {
        let f = &first.guide;
        let common = Answers {
            guide: GuideArgs {
                taegis_region: f.taegis_region.clone(),
                credentials: f.credentials.clone(),
                integration_type: f.integration_type.clone(),
                lambda_zip: f.lambda_zip.clone(),
                lambda_template: f.lambda_template.clone(),
                lambda_env_kms_key_arn: f.lambda_env_kms_key_arn.clone(),
                lambda_bucket: f.lambda_bucket.clone().filter(|b| b.contains("{region}")),
                ..GuideArgs::default()
            },
            stacks: first.stacks.clone(),
            parameters: first.parameters.clone(),
            ..Answers::default()
        };
        *self = std::mem::take(self).or(common);
    }

    /// The `deploy` flags that give these answers (the trail was read into them).
    fn guide_args(&self) -> GuideArgs {
        GuideArgs {
            trail: None,
            xdr_url: None,
            parameters: self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            ..self.guide.clone()
        }
    }

    /// The `deploy` arguments that do what was answered in this one region.
    pub fn deploy_args(&self, run: &RunFlags) -> DeployArgs {
        DeployArgs {
            targets: TargetArgs {
                regions: self.region.iter().cloned().collect(),
                role_arn: run.role_arn.clone(),
                stacks: self.stacks.clone(),
                ..TargetArgs::default()
            },
            guide: self.guide_args(),
            dry_run: run.dry_run,
            ..DeployArgs::default()
        }
    }

    /// The flags of the answers that nothing stands in for when they are missing (the
    /// credentials, the XDR region and the bucket have placeholders in `command_line`).
    fn optional_flags(&self) -> Vec<(String, Option<String>)> {
        let placeheld = ["credentials", "taegis_region", "notification_bucket"];
        let mut out: Vec<(String, Option<String>)> = self
            .guide_args()
            .entries()
            .into_iter()
            .filter(|(k, _)| !placeheld.contains(k))
            .map(|(k, v)| (k.replace('_', "-"), Some(v)))
            .collect();
        let s = &self.stacks;
        out.push(("shared-stack-name".into(), s.shared_stack_name.clone()));
        out.push(("stack-name".into(), s.stack_name.clone()));
        out.extend(
            self.parameters
                .iter()
                .map(|(k, v)| ("parameter".into(), Some(format!("{k}={v}")))),
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
        key("region", self.region.clone());
        for (k, v) in self.guide_args().relative_to(absolute).entries() {
            key(k, Some(v));
        }
        key("shared_stack_name", self.stacks.shared_stack_name.clone());
        key("stack_name", self.stacks.stack_name.clone());
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
    let mut flag = |name: &str, v: Option<String>, placeholder: Option<&str>| {
        if let Some(v) = v.or(placeholder.map(str::to_string)) {
            out.push(format!("--{name} {}", shell(&v)));
        }
    };
    // A placeholder stands where neither the flags nor the file answer.
    let open = |given: fn(&GuideArgs) -> bool, placeholder: &'static str| {
        (!given(&flags.guide) && !given(&from_file.guide)).then_some(placeholder)
    };
    let (g, path) = (&flags.guide, |p: &Option<PathBuf>| {
        p.as_ref().map(|p| p.display().to_string())
    });
    flag("config", path(&run.config), None);
    let (name, value) = region_flag(regions, from_file, run);
    flag(name, value, None);
    flag("role-arn", run.role_arn.clone(), None);
    let credentials = open(|g| g.credentials.is_some(), "./credentials.txt");
    flag("credentials", path(&g.credentials), credentials);
    let xdr = open(|g| g.taegis_region.is_some(), "XDR_REGION");
    flag("taegis-region", g.taegis_region.clone(), xdr);
    flag("trail", g.trail.clone(), None);
    let bucket = open(
        |g| g.notification_bucket.is_some() || g.trail.is_some(),
        "CLOUDTRAIL_BUCKET",
    );
    flag("notification-bucket", g.notification_bucket.clone(), bucket);
    for (name, value) in flags.optional_flags() {
        flag(&name, value, None);
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
    use crate::kinds::Trigger;

    fn answered() -> Answers {
        Answers {
            region: Some("us-east-1".into()),
            guide: GuideArgs {
                taegis_region: Some("foxtrot".into()),
                credentials: Some("/tmp/x/credentials.txt".into()),
                notification_bucket: Some("org-trail".into()),
                prefix: Some("org/AWSLogs/".into()),
                trigger: Some(Trigger::S3),
                integration_type: Some("awscloudtrail".into()),
                lambda_zip: Some("/tmp/x/taegis-lambda-amd64.zip".into()),
                ..GuideArgs::default()
            },
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
            "taegis-cloudtrail deploy --region us-east-1 --credentials /tmp/x/credentials.txt --taegis-region foxtrot --notification-bucket org-trail --lambda-zip /tmp/x/taegis-lambda-amd64.zip --integration-type awscloudtrail --trigger s3 --prefix org/AWSLogs/ --parameter EnableObjectTagging=true --yes"
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
            guide: GuideArgs {
                credentials: Some("c.txt".into()),
                notification_bucket: Some("b".into()),
                ..GuideArgs::default()
            },
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

    /// What `deploy --config` makes of a rollout file setup wrote (it must read without a
    /// problem).
    fn deployed_from(text: &str) -> crate::config::DeployConfig {
        let r = crate::config::Rollout::parse(Path::new("/tmp/x/rollout.yaml"), text).unwrap();
        let args = DeployArgs::default();
        let (cfg, pf) =
            crate::config::resolve(&args, None, None, Some(&r), crate::config::Needs::Deploy);
        assert!(pf.is_ok(), "{:?}\n{text}", pf.problems);
        cfg
    }

    #[test]
    fn the_rollout_file_reads_back_as_the_same_settings() {
        let text = rollout_yaml(&[answered()], &RunFlags::default());
        let cfg = deployed_from(&text);
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
            guide: GuideArgs {
                notification_bucket: Some("eu-trail".into()),
                ..GuideArgs::default()
            },
            ..Answers::default()
        };
        second.inherit(&first);
        assert_eq!(second.guide.credentials, first.guide.credentials);
        assert_eq!(second.guide.prefix, None, "a prefix is the region's own");
        let text = rollout_yaml(&[first, second], &RunFlags::default());
        let cfg = deployed_from(&text);
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
            guide: GuideArgs {
                taegis_region: Some("golf".into()),
                ..GuideArgs::default()
            },
            ..Answers::default()
        };
        let a = flags.or(Answers::from_keys(&file.keys, &file)).guide;
        assert_eq!(a.taegis_region.as_deref(), Some("golf"));
        assert_eq!(a.credentials, Some(PathBuf::from("/srv/c.txt")));
        assert_eq!(a.prefix.as_deref(), Some("AWSLogs/"));
    }
}
