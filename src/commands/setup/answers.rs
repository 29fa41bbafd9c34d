//! What the operator answered (or gave as flags): turned into the `deploy` arguments that do the
//! work, into the equivalent command line, and into a rollout file that replays it.

use std::path::{Path, PathBuf};

use crate::cli::{DeployArgs, Global, TargetArgs};
use crate::kinds::Trigger;

/// Every answer of the conversation; `None` until answered.
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
    pub integration_type: Option<String>,
    pub shared_stack_name: Option<String>,
    pub stack_name: Option<String>,
    pub lambda_zip: Option<PathBuf>,
    pub lambda_bucket: Option<String>,
    /// Other template parameters, in template order.
    pub parameters: Vec<(String, String)>,
}

/// Quote a value for a shell command line when it needs it.
fn shell(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@{}".contains(c))
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
    /// What the flags given to `setup` already answer.
    pub fn from_flags(g: &Global, a: &DeployArgs) -> Answers {
        Answers {
            region: a.targets.regions.first().cloned().or(g.region.clone()),
            taegis_region: a.taegis_region.clone(),
            credentials: a.credentials.clone(),
            trail: a.trail.clone(),
            notification_bucket: a.notification_bucket.clone(),
            prefix: a.prefix.clone(),
            trigger: a.trigger,
            sns_topic_arn: a.sns_topic_arn.clone(),
            bucket_kms_key_arn: a.bucket_kms_key_arn.clone(),
            integration_type: a.integration_type.clone(),
            shared_stack_name: a.targets.shared_stack_name.clone(),
            stack_name: a.targets.stack_name.clone(),
            lambda_zip: a.lambda_zip.clone(),
            lambda_bucket: a.lambda_bucket.clone(),
            parameters: a
                .parameters
                .iter()
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The `deploy` arguments that do what was answered.
    pub fn deploy_args(&self) -> DeployArgs {
        DeployArgs {
            targets: TargetArgs {
                regions: self.region.iter().cloned().collect(),
                shared_stack_name: self.shared_stack_name.clone(),
                stack_name: self.stack_name.clone(),
                ..TargetArgs::default()
            },
            credentials: self.credentials.clone(),
            taegis_region: self.taegis_region.clone(),
            notification_bucket: self.notification_bucket.clone(),
            prefix: self.prefix.clone(),
            trigger: self.trigger,
            sns_topic_arn: self.sns_topic_arn.clone(),
            bucket_kms_key_arn: self.bucket_kms_key_arn.clone(),
            integration_type: self.integration_type.clone(),
            lambda_zip: self.lambda_zip.clone(),
            lambda_bucket: self.lambda_bucket.clone(),
            parameters: self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            ..DeployArgs::default()
        }
    }

    /// The `deploy` command line that does the same work; what is not answered yet is shown
    /// as a placeholder in capitals.
    pub fn command_line(&self) -> String {
        let mut out = vec!["taegis-cloudtrail".to_string(), "deploy".into()];
        let mut flag = |name: &str, v: Option<String>, placeholder: Option<&str>| {
            if let Some(v) = v.or(placeholder.map(str::to_string)) {
                out.push(format!("--{name} {}", shell(&v)));
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        flag("region", self.region.clone(), Some("REGION"));
        flag(
            "credentials",
            path(&self.credentials),
            Some("./credentials.txt"),
        );
        flag(
            "taegis-region",
            self.taegis_region.clone(),
            Some("XDR_REGION"),
        );
        flag("trail", self.trail.clone(), None);
        let bucket_placeholder = self.trail.is_none().then_some("CLOUDTRAIL_BUCKET");
        flag(
            "notification-bucket",
            self.notification_bucket.clone(),
            bucket_placeholder,
        );
        flag("prefix", self.prefix.clone(), None);
        flag(
            "trigger",
            self.trigger.map(|t| format!("{t:?}").to_lowercase()),
            None,
        );
        flag("sns-topic-arn", self.sns_topic_arn.clone(), None);
        flag("bucket-kms-key-arn", self.bucket_kms_key_arn.clone(), None);
        flag("integration-type", self.integration_type.clone(), None);
        flag("shared-stack-name", self.shared_stack_name.clone(), None);
        flag("stack-name", self.stack_name.clone(), None);
        flag("lambda-zip", path(&self.lambda_zip), None);
        flag("lambda-bucket", self.lambda_bucket.clone(), None);
        for (k, v) in &self.parameters {
            flag("parameter", Some(format!("{k}={v}")), None);
        }
        out.push("--yes".into());
        out.join(" ")
    }

    /// A rollout file that replays these answers with `deploy --config FILE` (paths absolute;
    /// the credentials by their path, never their text).
    pub fn rollout_yaml(&self) -> String {
        let mut out = String::from(
            "# Written by taegis-cloudtrail setup: `taegis-cloudtrail deploy --config THIS_FILE`\n# replays these answers. It holds the path of the credentials file, never its text.\n",
        );
        let mut key = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push_str(&format!("{k}: {}\n", yaml(&v)));
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| absolute(p).display().to_string());
        key("region", self.region.clone());
        key("taegis_region", self.taegis_region.clone());
        key("credentials", path(&self.credentials));
        key("notification_bucket", self.notification_bucket.clone());
        key("prefix", self.prefix.clone());
        key(
            "trigger",
            self.trigger.map(|t| format!("{t:?}").to_lowercase()),
        );
        key("sns_topic_arn", self.sns_topic_arn.clone());
        key("bucket_kms_key_arn", self.bucket_kms_key_arn.clone());
        key("integration_type", self.integration_type.clone());
        key("shared_stack_name", self.shared_stack_name.clone());
        key("stack_name", self.stack_name.clone());
        key("lambda_zip", path(&self.lambda_zip));
        key("lambda_bucket", self.lambda_bucket.clone());
        if !self.parameters.is_empty() {
            out.push_str("parameters:\n");
            for (k, v) in &self.parameters {
                out.push_str(&format!("  {k}: {}\n", yaml(v)));
            }
        }
        out
    }
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
        let line = answered().command_line();
        assert_eq!(
            line,
            "taegis-cloudtrail deploy --region us-east-1 --credentials /tmp/x/credentials.txt --taegis-region foxtrot --notification-bucket org-trail --prefix org/AWSLogs/ --trigger s3 --integration-type awscloudtrail --lambda-zip /tmp/x/taegis-lambda-amd64.zip --parameter EnableObjectTagging=true --yes"
        );
        let empty = Answers::default().command_line();
        assert!(
            empty.contains("--region REGION")
                && empty.contains("--notification-bucket CLOUDTRAIL_BUCKET"),
            "{empty}"
        );
        assert_eq!(shell("a b"), "'a b'");
    }

    #[test]
    fn the_rollout_file_reads_back_as_the_same_settings() {
        let text = answered().rollout_yaml();
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
}
