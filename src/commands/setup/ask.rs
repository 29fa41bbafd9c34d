//! The conversation: each question with its default, validated as typed (the reason shown and
//! the question asked again), in the guide's order. What the account can tell (identity,
//! trails, buckets, keys, existing entries) is discovered rather than asked.

mod function;

use crate::template::names;
use std::future::Future;
use std::path::PathBuf;

use super::answers::Answers;
use crate::aws::{AwsCloud, Connection};
use crate::commands::inputs;
use crate::config::{self, CredentialsSource, DEFAULT_SHARED_STACK, DEFAULT_STACK, XDR_REGIONS};
use crate::input::Input;
use crate::kinds::Trigger;
use crate::plan::cloud::{CloudReads, ErrorKind, Trail};
use crate::plan::deploy::{notification_id, overlaps};
use crate::plan::identity;
use crate::plan::observe::{Fact, ReadError};
use crate::plan::{trail, verify};
use crate::template::Template;
use crate::ui::Printer;
use crate::ui::prompt::Interrupted;

/// Ask until `check` accepts the answer; each refusal is said, then the question again.
pub async fn ask_valid<T, F, Fut>(
    p: &Printer,
    question: &str,
    default: Option<&str>,
    mut check: F,
) -> Result<T, Interrupted>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    loop {
        let answer = p.ask(question, default, false)?;
        match check(answer).await {
            Ok(v) => return Ok(v),
            Err(why) => p.say(&format!("  {why}")),
        }
    }
}

/// One conversation (one region's): the answers so far and what was found.
pub struct Talk<'a> {
    pub p: &'a Printer,
    pub conn: Connection,
    /// The role assumed in the account (`--role-arn`), if any.
    pub role: Option<String>,
    pub a: Answers,
    pub cloud: Option<AwsCloud>,
    pub account: String,
    pub template: Template,
    /// The topic of the chosen trail, offered for an SNS trigger.
    pub trail_topic: Option<String>,
    /// The first region asked about: only there are the template's other parameters offered.
    pub first: bool,
}

impl<'a> Talk<'a> {
    /// A conversation starting from `a` (the template's parameters from its
    /// `--lambda-template`, else the bundled one's).
    pub fn new(p: &'a Printer, conn: Connection, a: Answers, role: Option<String>) -> Talk<'a> {
        let template = a
            .guide
            .lambda_template
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok().map(|t| (p, t)))
            .and_then(|(p, t)| Template::parse(&p.display().to_string(), &t).ok())
            .unwrap_or_else(Template::bundled_lambda);
        Talk {
            p,
            conn,
            role,
            a,
            cloud: None,
            account: String::new(),
            template,
            trail_topic: None,
            first: true,
        }
    }
}

impl Talk<'_> {
    fn cloud(&self) -> &AwsCloud {
        self.cloud.as_ref().expect("the region is answered first")
    }

    fn region(&self) -> &str {
        self.a.region.as_deref().unwrap_or_default()
    }

    /// Step 1, who and where: the region (the profile's by default), proven by a first call
    /// there; `false` when the credentials or the endpoint fail (said), as no region can help.
    pub async fn who_and_where(&mut self, default: Option<String>) -> Result<bool, Interrupted> {
        let mut given = self.a.region.clone();
        loop {
            let region = match given.take() {
                Some(r) => r,
                None => self.p.ask(
                    "AWS region",
                    default.as_deref().or(Some("us-east-1")),
                    false,
                )?,
            };
            if let Err(e) = config::check_region(&region) {
                self.p.say(&format!("  {e}"));
                continue;
            }
            let cloud = match AwsCloud::connect(&self.conn, &region, self.role.as_deref()).await {
                Ok(c) => c,
                Err(e) => {
                    self.p.say(&format!("  cannot set up AWS clients: {e:#}"));
                    continue;
                }
            };
            match cloud.identity().await {
                Ok(i) => {
                    self.p.say(&format!(
                        "Account {} ({}), region {region}.",
                        i.account, i.arn
                    ));
                    self.account = i.account;
                    self.a.region = Some(region);
                    self.cloud = Some(cloud);
                    return Ok(true);
                }
                Err(e) => {
                    let e = ReadError::of(&e);
                    let elsewhere = match identity::home_region(&region) {
                        Some(home) if identity::refused(&e) => {
                            Fact::from_result(cloud.identity_in(home).await)
                        }
                        _ => Fact::NotRead,
                    };
                    let place = identity::Place {
                        region: region.clone(),
                        role: self.role.clone(),
                        origin: String::new(),
                        region_input: Input::Region,
                    };
                    self.p
                        .say(&format!("  {}", identity::explain(&place, &e, &elsewhere)));
                    let region_not_enabled = matches!(elsewhere, Fact::Known(_));
                    if e.unsent.is_some() || (identity::refused(&e) && !region_not_enabled) {
                        // The credentials or the endpoint: another region will not help.
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Step 2, XDR: the login URL or the region's name, and the credentials file (checked, never
    /// shown; not needed when the shared stack already holds them).
    pub async fn xdr(&mut self) -> Result<(), Interrupted> {
        if self.a.guide.taegis_region.is_none() {
            let names: Vec<&str> = XDR_REGIONS.iter().map(|(n, _)| *n).collect();
            let question = format!("XDR login URL or region ({})", names.join(", "));
            let region = ask_valid(self.p, &question, None, async |answer: String| {
                let a = answer.trim().to_ascii_lowercase();
                if names.contains(&a.as_str()) {
                    Ok(a)
                } else {
                    config::xdr_region_from_url(&answer)
                }
            })
            .await?;
            self.p.say(&format!("XDR region {region}."));
            self.a.guide.taegis_region = Some(region);
        }
        if self.a.guide.credentials.is_some() {
            return Ok(());
        }
        let shared = self
            .a
            .stacks
            .shared_stack_name
            .clone()
            .unwrap_or(DEFAULT_SHARED_STACK.into());
        if let Ok(Some(s)) = self.cloud().stack(&shared).await
            && s.status.healthy()
        {
            self.p.say(&format!(
                "Stack {shared} already holds the XDR credentials."
            ));
            let file = self.p.ask(
                "Credentials file to send again (Enter keeps the ones in the stack)",
                None,
                true,
            )?;
            self.a.guide.credentials = (!file.is_empty()).then(|| PathBuf::from(file));
            return Ok(());
        }
        let file = ask_valid(
            self.p,
            "Credentials file from XDR",
            Some("./credentials.txt"),
            async |f: String| {
                let path = PathBuf::from(&f);
                inputs::read_credentials(&CredentialsSource::File(path.clone()))
                    .map(|_| path)
                    .map_err(|p| p.to_string())
            },
        )
        .await?;
        self.a.guide.credentials = Some(file);
        Ok(())
    }

    /// Is the bucket one this account can trigger from, in this region?
    pub async fn check_bucket(&self, bucket: &str) -> Result<(), String> {
        let region = self.region();
        if let Err(e) = config::check_bucket_name(bucket) {
            return Err(format!("{bucket:?}: {e}"));
        }
        match self
            .cloud()
            .bucket_region(bucket, Some(&self.account))
            .await
        {
            Ok(Some(r)) if r == region => Ok(()),
            Ok(Some(r)) => Err(format!(
                "bucket {bucket} is in {r}, not in {region}: the function must be in the bucket's region; run setup with --region {r}"
            )),
            Ok(None) => Err(format!(
                "no bucket {bucket} is visible to account {}",
                self.account
            )),
            Err(e) if ReadError::of(&e).kind == ErrorKind::Denied => Err(format!(
                "bucket {bucket} belongs to another account than {}: an S3 trigger is made by the bucket's owner (with an organisation trail, the central log-archive account); run setup there",
                self.account
            )),
            Err(e) => Err(format!(
                "cannot read bucket {bucket} ({})",
                ReadError::of(&e)
            )),
        }
    }

    /// Step 3, CloudTrail: the trails the region sees, with their buckets; one is chosen, or a bucket
    /// is typed. Its bucket must be this account's and in this region.
    pub async fn cloudtrail(&mut self) -> Result<(), Interrupted> {
        if let Some(b) = self.a.guide.notification_bucket.clone() {
            if let Err(why) = self.check_bucket(&b).await {
                self.p.say(&format!("  {why}"));
                self.a.guide.notification_bucket = None;
            } else {
                return self.prefix().await;
            }
        }
        let trails = match self.cloud().trails().await {
            Ok(t) => t,
            Err(e) => {
                self.p
                    .say(&format!("Cannot list the trails ({}).", ReadError::of(&e)));
                Vec::new()
            }
        };
        for w in trail::warnings(&trails, None, &self.account, self.region()) {
            self.p.say(&format!("warning: {w}"));
        }
        loop {
            let Some(t) = self.pick_trail(&trails)? else {
                return self.typed_bucket().await;
            };
            match self.check_bucket(&t.bucket).await {
                Ok(()) => {
                    self.take_trail(&t);
                    return Ok(());
                }
                Err(why) => self.p.say(&format!("  trail {}: {why}", t.name)),
            }
        }
    }

    fn pick_trail(&self, trails: &[Trail]) -> Result<Option<Trail>, Interrupted> {
        if trails.is_empty() {
            self.p.say(&format!(
                "No CloudTrail trail is seen in {}.",
                self.region()
            ));
            return Ok(None);
        }
        let mut items: Vec<String> = trails.iter().map(describe_trail).collect();
        items.push("Another bucket (type its name)".into());
        let i = self
            .p
            .choose("Which CloudTrail logs should reach XDR?", &items, 0)?;
        Ok(trails.get(i).cloned())
    }

    fn take_trail(&mut self, t: &Trail) {
        for w in trail::warnings(&[], Some(t), &self.account, self.region()) {
            self.p.say(&format!("warning: {w}"));
        }
        self.a.guide.notification_bucket = Some(t.bucket.clone());
        self.a
            .guide
            .prefix
            .get_or_insert_with(|| trail::log_prefix(t));
        if self.a.guide.bucket_kms_key_arn.is_none() {
            self.a.guide.bucket_kms_key_arn = t.kms_key.clone();
        }
        self.trail_topic = t.sns_topic.clone();
        self.p.say(&format!(
            "Trail {}: bucket {}, logs under {}.",
            t.name,
            t.bucket,
            self.a.guide.prefix.as_deref().unwrap_or_default()
        ));
    }

    async fn typed_bucket(&mut self) -> Result<(), Interrupted> {
        let bucket = ask_valid(
            self.p,
            "Bucket CloudTrail writes its logs to",
            None,
            async |b: String| match config::normalize_bucket(&b) {
                Ok((name, _, _)) => self.check_bucket(&name).await.map(|_| name),
                Err(e) => Err(format!("{b:?}: {e}")),
            },
        )
        .await?;
        self.a.guide.notification_bucket = Some(bucket);
        self.prefix().await
    }

    async fn prefix(&mut self) -> Result<(), Interrupted> {
        if self.a.guide.prefix.is_none() {
            let p = self
                .p
                .ask("Key prefix of the log objects", Some("AWSLogs/"), true)?;
            self.a.guide.prefix = Some(p);
        }
        Ok(())
    }

    /// The key of the log objects (the trail's, or the bucket's default) must delegate to IAM;
    /// `false` when the operator stops here.
    pub async fn kms(&mut self) -> Result<bool, Interrupted> {
        let bucket = self.a.guide.notification_bucket.clone().unwrap_or_default();
        if self.a.guide.bucket_kms_key_arn.is_none()
            && let Ok(Some(key)) = self.cloud().bucket_kms_key(&bucket).await
        {
            self.a.guide.bucket_kms_key_arn = Some(key);
        }
        let Some(key) = self.a.guide.bucket_kms_key_arn.clone() else {
            return Ok(true);
        };
        self.p.say(&format!("The log objects are encrypted with KMS key {key}: the function will be let decrypt with it."));
        loop {
            match self.cloud().key_policy(&key).await {
                Ok(policy) if verify::key_allows(&policy, &self.account, "") => return Ok(true),
                Ok(_) => {
                    self.p.say(&format!(
                        "Key {key}'s policy does not delegate to IAM, so the function could never read a log object. Add this statement to the key policy:\n  {}",
                        verify::delegation_statement(&self.account)
                    ));
                    if !self.p.agree("Check the key policy again?", true)? {
                        return Ok(false);
                    }
                }
                Err(e) => {
                    self.p.say(&format!("warning: cannot read key {key}'s policy ({}); make sure it delegates to IAM.", ReadError::of(&e)));
                    return Ok(true);
                }
            }
        }
    }

    /// Step 4, the trigger: S3, unless another entry on the bucket takes the same events; then SNS
    /// (the trail's topic, or another).
    pub async fn trigger(&mut self) -> Result<(), Interrupted> {
        if self.a.guide.trigger.is_some() || self.a.guide.sns_topic_arn.is_some() {
            return Ok(());
        }
        let bucket = self.a.guide.notification_bucket.clone().unwrap_or_default();
        let prefix = self.a.guide.prefix.clone().unwrap_or_default();
        let ours = notification_id(self.a.stacks.stack_name.as_deref().unwrap_or(DEFAULT_STACK));
        let entries = self
            .cloud()
            .notifications(&bucket)
            .await
            .unwrap_or_default();
        let clash = entries
            .iter()
            .find(|e| e.id.as_deref() != Some(ours.as_str()) && overlaps(e, &prefix));
        let s3 = match clash {
            Some(e) => {
                self.p.say(&format!(
                    "Bucket {bucket} already sends object-create events under {prefix:?} to {} {} ({}); S3 refuses a second, overlapping trigger. An SNS topic can fan the events out to both.",
                    e.kind,
                    e.id.as_deref().unwrap_or("(no Id)"),
                    e.target_arn
                ));
                false
            }
            None => self.p.agree(
                &format!("Trigger the function from S3 (bucket {bucket}, prefix {prefix:?})?"),
                true,
            )?,
        };
        if s3 {
            self.a.guide.trigger = Some(Trigger::S3);
            return Ok(());
        }
        self.a.guide.trigger = Some(Trigger::Sns);
        self.a.guide.sns_topic_arn = Some(self.topic().await?);
        Ok(())
    }

    async fn topic(&mut self) -> Result<String, Interrupted> {
        let mut items = Vec::new();
        if let Some(t) = &self.trail_topic {
            items.push(format!("The trail's topic {t}"));
        }
        items.push("Another SNS topic (type its ARN)".into());
        let i = self
            .p
            .choose("Which SNS topic announces the new log objects?", &items, 0)?;
        if let (0, Some(t)) = (i, &self.trail_topic) {
            return Ok(t.clone());
        }
        let region = self.region().to_string();
        ask_valid(self.p, "SNS topic ARN", None, async |arn: String| {
            config::check_arn(&arn, "sns", &region, false).map_err(|e| format!("{arn:?} {e}"))?;
            match self.cloud().topic(&arn).await {
                Ok(Some(_)) => Ok(arn),
                Ok(None) => Err(format!(
                    "no topic {arn} is visible to account {}",
                    self.account
                )),
                Err(e) => Err(format!("cannot read topic {arn} ({})", ReadError::of(&e))),
            }
        })
        .await
    }
}

/// A trail as offered: its name, bucket, where the logs land, and its state.
fn describe_trail(t: &Trail) -> String {
    let mut notes = vec![match t.logging {
        Some(true) => "logging".to_string(),
        Some(false) => "NOT logging".to_string(),
        None => "logging unknown".to_string(),
    }];
    notes.push(if t.multi_region {
        "multi-region".into()
    } else {
        format!("{} only", t.home_region)
    });
    if t.organization {
        notes.push("organisation trail".into());
    }
    if t.kms_key.is_some() {
        notes.push("KMS-encrypted".into());
    }
    format!(
        "{}: s3://{}/{} ({})",
        t.name,
        t.bucket,
        trail::log_prefix(t),
        notes.join(", ")
    )
}
