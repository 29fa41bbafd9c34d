//! Command-line types (clap); their doc comments are the `--help` text. The per-target
//! options are also what a rollout file reads (serde), defined once (`options!`).

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

use crate::input::Input;

pub use crate::kinds::{OnFailure, Shard, Task, Trigger};

/// Connect an AWS account's CloudTrail logs to Secureworks Taegis XDR.
///
/// Does every step of the vendor's guide: uploads the Lambda zip, creates the shared
/// (credentials) stack and the Lambda stack, adds the S3 or SNS trigger, and follows every
/// stack to the end. It checks everything before it changes anything, and is safe to re-run.
#[derive(Debug, Parser)]
#[command(
    name = "taegis-cloudtrail",
    version,
    propagate_version = true,
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Global options")]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// AWS profile (default: AWS_PROFILE, then the SDK's default chain)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region for single-region work (default: AWS_REGION, then the profile)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (an emulator); S3 then uses path-style addressing
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Results on stdout as text or as one JSON document
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Less on stderr (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// More on stderr (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never prompt; a missing answer is an error naming the flag that gives it
    #[arg(long, global = true)]
    pub no_input: bool,
    /// Answer yes to confirmations
    #[arg(short, long, global = true)]
    pub yes: bool,
    /// When to use colour (NO_COLOR is honoured)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Pause between two polls of a stack (for tests and slow links)
    #[arg(long, global = true, hide = true, env = "TAEGIS_POLL_INTERVAL", value_parser = parse_duration, value_name = "DURATION")]
    pub poll_interval: Option<std::time::Duration>,
    /// Longest wait for AWS to catch up with a write: a permission reaching S3, a
    /// configuration read back, a function that is busy [default: 60s]
    #[arg(long, global = true, hide = true, env = "TAEGIS_SETTLE", value_parser = parse_duration, value_name = "DURATION")]
    pub settle: Option<std::time::Duration>,
}

pub use crate::kinds::{ColorChoice, OutputFormat};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk through the whole guide at the terminal: discover, ask, show the plan, deploy, verify
    ///
    /// A flag given answers its question in advance; flags setup does not use are refused.
    /// Without a terminal it prints the `deploy` command that does the same work.
    Setup(Box<SetupArgs>),
    /// Deploy the integration with no questions asked, to one or many regions and accounts
    Deploy(Box<DeployArgs>),
    /// Check a deployed integration as the guide does: stacks, function, trigger, logs
    Verify(Box<VerifyArgs>),
    /// Remove what deploy made, in the safe order; other people's entries are never touched
    Destroy(Box<DestroyArgs>),
    /// For every account of the organisation (or the accounts given) and region: do its
    /// CloudTrail logs reach XDR, through which trail and function? Reads only
    ///
    /// Exit 0 when every account and region is covered, 1 when some are uncovered or unknown,
    /// 2 on bad input or an organisation that cannot be listed.
    Coverage(Box<CoverageArgs>),
    /// Print a bundled template, or the parameters a template file declares
    Template(TemplateArgs),
    /// Print the least-privilege IAM policy (JSON) for a role that runs a command
    IamPolicy(IamPolicyArgs),
    /// Write one manual page (roff) per command into a folder, every option listed; without a
    /// folder, print the main page (`man -l` reads either)
    Man {
        /// The folder (created if missing): taegis-cloudtrail.1, taegis-cloudtrail-deploy.1, ...
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

/// The names of a target's two stacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct StackNames {
    /// Shared stack name [default: taegis-shared-resources]
    #[arg(long, value_name = "NAME")]
    pub shared_stack_name: Option<String>,
    /// Lambda stack name [default: taegis-cloudtrail]
    #[arg(long, value_name = "NAME")]
    pub stack_name: Option<String>,
}

impl StackNames {
    /// These names, with what they leave open taken from `under`.
    pub fn or(self, under: StackNames) -> StackNames {
        StackNames {
            shared_stack_name: self.shared_stack_name.or(under.shared_stack_name),
            stack_name: self.stack_name.or(under.stack_name),
        }
    }
}

/// Which targets: the accounts and regions, and the stacks' names. Every command that works
/// on deployed targets takes these.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// Rollout file (YAML): defaults for every target and a list of targets
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Comma-separated regions (default: --region)
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub regions: Vec<String>,
    /// Comma-separated account ids, each reached by assuming --role-arn (or the rollout file's role_arn)
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub accounts: Vec<String>,
    /// Role to assume in each account ({account} placeholder allowed)
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    #[command(flatten)]
    pub stacks: StackNames,
    /// Targets worked on at once [default: 8]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Longest wait for one stack [default: 30m]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Work on part K of N of the targets (for N CI jobs side by side; an account and region
    /// always stay in one part)
    #[arg(long, value_name = "K/N", value_parser = clap::value_parser!(Shard))]
    pub shard: Option<Shard>,
}

/// The per-target options, each defined once: a field with its flag (clap), its key in a
/// rollout file (serde, the same name) and the input a problem about it names. From this one
/// list come the merge of two levels (`or`), the inputs given, the keys and flags a setup
/// writes back (`entries`), and the paths made relative to a rollout file.
macro_rules! options {
    (
        $(#[$smeta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident: $ty:ty => $input:ident, )*
        }
    ) => {
        $(#[$smeta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            /// Any parameter the Lambda template declares (repeatable)
            #[arg(long = "parameter", value_name = "KEY=VALUE")]
            pub parameters: Vec<String>,
        }

        /// Read from a rollout file (flattened into its keys); a value of the wrong kind is
        /// named by its key.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                struct Keys;
                impl<'de> serde::de::Visitor<'de> for Keys {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("the guide's options")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        use serde::de::Error;
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $( stringify!($field) => {
                                    out.$field = map
                                        .next_value::<Option<$ty>>()
                                        .map_err(|e| A::Error::custom(format!("{key}: {e}")))?;
                                } )*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_struct(stringify!($name), &[$(stringify!($field)),*], Keys)
            }
        }

        impl $name {
            /// The inputs these options give.
            pub fn inputs(&self) -> Vec<Input> {
                let mut out = Vec::new();
                $( if self.$field.is_some() { out.push(Input::$input); } )*
                out
            }

            /// These options, with what they leave open taken from `under` (the parameters
            /// of both, these first).
            pub fn or(self, under: $name) -> $name {
                let mut parameters = self.parameters;
                parameters.extend(under.parameters);
                $name { $( $field: self.$field.or(under.$field), )* parameters }
            }

            /// Each option given: its rollout-file key (the flag is the same with `-`) and
            /// its value as text.
            pub fn entries(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $( if let Some(v) = &self.$field { out.push((stringify!($field), v.text())); } )*
                out
            }

            /// The paths of a rollout file, relative to its folder.
            pub fn relative_to(mut self, path: impl Fn(&Path) -> PathBuf) -> $name {
                $( if let Some(v) = &mut self.$field { v.relative_to(&path); } )*
                self
            }
        }
    };
}

/// An option's value: its text in a command line or rollout file; a path is relative to
/// the rollout file that gives it.
pub trait OptionValue {
    fn text(&self) -> String;
    fn relative_to(&mut self, _path: &dyn Fn(&Path) -> PathBuf) {}
}

impl OptionValue for String {
    fn text(&self) -> String {
        self.clone()
    }
}

impl OptionValue for PathBuf {
    fn text(&self) -> String {
        self.display().to_string()
    }
    fn relative_to(&mut self, path: &dyn Fn(&Path) -> PathBuf) {
        *self = path(self);
    }
}

impl OptionValue for Trigger {
    fn text(&self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

options! {
    /// The answers to the guide's questions: what `deploy` takes as flags, `setup` asks for
    /// (a flag given to `setup` answers its question in advance) and a rollout file gives per
    /// target or for all.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
    pub struct GuideArgs {
        /// The credentials file from XDR ("-" reads stdin); its text is never shown
        #[arg(long, value_name = "FILE")]
        credentials: PathBuf => Credentials,
        /// XDR region: ctpx, delta, echo, foxtrot or golf
        #[arg(long, value_name = "NAME", conflicts_with = "xdr_url")]
        taegis_region: String => TaegisRegion,
        /// XDR login URL, to derive the XDR region from
        #[arg(long, value_name = "URL")]
        xdr_url: String => XdrUrl,
        /// The Lambda code zip [default: ./taegis-lambda-amd64.zip]
        #[arg(long, value_name = "FILE")]
        lambda_zip: PathBuf => LambdaZip,
        /// Bucket for the zip, in the target region ({account}, {region} allowed); created if missing
        #[arg(long, value_name = "NAME")]
        lambda_bucket: String => LambdaBucket,
        /// Lambda-stack template [default: bundled]
        #[arg(long, value_name = "FILE")]
        lambda_template: PathBuf => LambdaTemplate,
        /// What the log bucket holds: awscloudtrail or generic [default: awscloudtrail]
        #[arg(long, value_name = "TYPE")]
        integration_type: String => IntegrationType,
        /// The CloudTrail log bucket, by name ({account}, {region} allowed)
        #[arg(long, value_name = "NAME")]
        notification_bucket: String => NotificationBucket,
        /// Read the bucket, the prefix, the KMS key and the SNS topic from this CloudTrail trail
        #[arg(long, value_name = "NAME")]
        trail: String => Trail,
        /// How new log objects reach the function [default: s3]
        #[arg(long, value_enum, value_name = "s3|sns")]
        trigger: Trigger => Trigger,
        /// Key prefix of the S3 trigger
        #[arg(long, value_name = "PREFIX")]
        prefix: String => Prefix,
        /// SNS topic announcing new log objects (required with --trigger sns)
        #[arg(long, value_name = "ARN")]
        sns_topic_arn: String => SnsTopicArn,
        /// KMS key encrypting the log objects
        #[arg(long, value_name = "ARN")]
        bucket_kms_key_arn: String => BucketKmsKeyArn,
        /// KMS key encrypting the function's environment
        #[arg(long, value_name = "ARN")]
        lambda_env_kms_key_arn: String => LambdaEnvKmsKeyArn,
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub guide: GuideArgs,
    /// Shared-stack template [default: bundled]
    #[arg(long, value_name = "FILE")]
    pub shared_template: Option<PathBuf>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Re-send the credentials to an existing shared stack
    #[arg(long)]
    pub update_credentials: bool,
    /// What to do with a new stack whose create failed [default: delete]
    #[arg(long, value_enum)]
    pub on_failure: Option<OnFailure>,
    /// The JSON results of an earlier run (one per shard, comma-separated): work only on
    /// their targets that did not finish
    #[arg(long, value_delimiter = ',', value_name = "FILE")]
    pub retry_from: Vec<PathBuf>,
}

/// `setup`: one account (the caller's, or --role-arn's), one or more regions; only the flags
/// it honours.
#[derive(Debug, Clone, Default, Args)]
pub struct SetupArgs {
    /// Rollout file (YAML) to start from: its values answer their questions (one account)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Comma-separated regions, each asked about in turn (default: --region, else asked)
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub regions: Vec<String>,
    /// Role to assume in the account to set up
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    #[command(flatten)]
    pub stacks: StackNames,
    #[command(flatten)]
    pub guide: GuideArgs,
    /// Ask, then show the plan and change nothing, whatever is answered
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// How far back to read the function's log
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub since: String,
    /// Invoke the function with an S3 event for a real log object under the prefix: XDR
    /// ingests that object again (the check names it)
    #[arg(long)]
    pub test_event: bool,
    #[command(flatten, next_help_heading = "XDR (the guide's last step)")]
    pub xdr: XdrArgs,
}

/// `verify --xdr`: the guide's Advanced Search through the Taegis XDR API.
#[derive(Debug, Clone, Default, Args)]
pub struct XdrArgs {
    /// Also run the guide's Advanced Search in XDR (from cloudaudit where sensor_type = 'AWS
    /// CloudTrail', over --since) and report the events found. The API client comes from
    /// TAEGIS_CLIENT_ID and TAEGIS_CLIENT_SECRET, or --xdr-api-credentials
    #[arg(long)]
    pub xdr: bool,
    /// The XDR tenant (X-Tenant-Context); default TAEGIS_TENANT_ID, else the API client's own
    #[arg(long, value_name = "ID", requires = "xdr")]
    pub tenant: Option<String>,
    /// The XDR API base URL; default TAEGIS_XDR_API_URL, else from --taegis-region or
    /// --xdr-url, else the shared stack's TaegisRegion
    #[arg(long, value_name = "URL", requires = "xdr")]
    pub xdr_api_url: Option<String>,
    /// A file of `client_id=...` and `client_secret=...` lines, instead of the variables
    #[arg(long, value_name = "FILE", requires = "xdr")]
    pub xdr_api_credentials: Option<PathBuf>,
    /// The XDR region (ctpx, delta, echo, foxtrot, golf) whose API to ask
    #[arg(
        long,
        value_name = "NAME",
        requires = "xdr",
        conflicts_with = "xdr_url"
    )]
    pub taegis_region: Option<String>,
    /// Your XDR login URL, for its region
    #[arg(long, value_name = "URL", requires = "xdr")]
    pub xdr_url: Option<String>,
    /// The longest wait for one answer of the XDR API
    #[arg(long, hide = true, env = "TAEGIS_XDR_TIMEOUT", value_parser = parse_duration, value_name = "DURATION")]
    pub xdr_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Also delete the shared stack (and its secret) where no stack still imports its exports
    #[arg(long)]
    pub shared: bool,
    /// Also delete the zip objects this tool uploaded
    #[arg(long)]
    pub delete_zip: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TemplateArgs {
    #[command(subcommand)]
    pub action: TemplateAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TemplateAction {
    /// Print a bundled template
    Show {
        /// Which one
        #[arg(value_enum)]
        which: Which,
    },
    /// List the parameters a template declares, in its order: name, type, default, allowed
    /// values, NoEcho, description
    Params {
        /// A template file, or `shared` / `lambda` for a bundled one
        template: String,
    },
    /// Write the bundled pair into a folder (the vendor's file names), for use in the console
    Export {
        /// The folder (created if missing)
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Shared,
    Lambda,
}

/// `90s`, `30m`, `1h`, `250ms`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration like 90s, 30m or 1h ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every flag a problem names is one the command line has: an option renamed in clap is
    /// renamed in every message.
    #[test]
    fn every_flag_a_problem_names_exists() {
        fn longs(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
            out.extend(
                cmd.get_arguments()
                    .filter_map(|a| a.get_long().map(|l| format!("--{l}"))),
            );
            for sub in cmd.get_subcommands() {
                longs(sub, out);
            }
        }
        let mut all = std::collections::BTreeSet::new();
        longs(&Cli::command(), &mut all);
        let named: Vec<&str> = crate::input::Input::ALL
            .iter()
            .map(|i| i.flag())
            .filter(|f| f.starts_with("--"))
            .collect();
        assert!(named.len() > 25, "{named:?}");
        let missing: Vec<&&str> = named.iter().filter(|f| !all.contains(**f)).collect();
        assert!(
            missing.is_empty(),
            "flags named by problems but unknown to clap: {missing:?}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap().as_secs(), 1800);
        assert!(parse_duration("soon").unwrap_err().contains("soon"));
    }
}

/// `coverage`: which accounts and regions, and who is reached how.
#[derive(Debug, Clone, Default, Args)]
pub struct CoverageArgs {
    /// Comma-separated account ids to report on [default: every active account of the
    /// organisation, listed through AWS Organizations]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub accounts: Vec<String>,
    /// A rollout file: its accounts (and their regions and role_arn) are the ones reported on
    #[arg(long, value_name = "FILE", conflicts_with = "accounts")]
    pub config: Option<PathBuf>,
    /// Comma-separated regions [default: the regions each account has enabled]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub regions: Vec<String>,
    /// The role assumed in every other account than the caller's
    #[arg(
        long,
        value_name = "NAME",
        default_value = "OrganizationAccountAccessRole",
        conflicts_with = "role_arn"
    )]
    pub role_name: String,
    /// The role assumed in every other account, as an ARN with an {account} placeholder
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Also print the rollout file that would cover what is uncovered (with an organisation
    /// trail: the one deployment in the account that holds its bucket)
    #[arg(long)]
    pub suggest: bool,
    /// Accounts read at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
}

/// `iam-policy`: the policy of the calls a command makes, narrowed to what is given.
#[derive(Debug, Clone, Args)]
pub struct IamPolicyArgs {
    /// The command the role runs
    #[arg(value_enum)]
    pub task: Task,
    /// Only these notification buckets (comma-separated) [default: any bucket]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub for_bucket: Vec<String>,
    /// Only these regions (comma-separated) [default: any region]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub regions: Vec<String>,
    /// Only these account ids (comma-separated) [default: any account]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub accounts: Vec<String>,
    /// Only these SNS topics (comma-separated ARNs) [default: any topic in the places above]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub sns_topic_arn: Vec<String>,
    /// The KMS keys the deploy names (comma-separated ARNs); a Lambda environment key also
    /// needs kms:CreateGrant and kms:Encrypt [default: key policies of any key are read]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub kms_key: Vec<String>,
    /// Lambda stack name [default: taegis-cloudtrail]
    #[arg(long, value_name = "NAME")]
    pub stack_name: Option<String>,
    /// Shared stack name [default: taegis-shared-resources]
    #[arg(long, value_name = "NAME")]
    pub shared_stack_name: Option<String>,
    /// The zip bucket ({account} and {region} placeholders allowed) [default: taegis-lambda-{account}-{region}]
    #[arg(long, value_name = "NAME")]
    pub lambda_bucket: Option<String>,
}
