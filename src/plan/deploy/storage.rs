//! The buckets and what goes into them, and the KMS keys: the notification bucket (in the
//! region, the caller's for an S3 trigger), the zip bucket (made when missing), the zip and the
//! large templates (uploaded when their content differs), and the keys the function depends
//! on (each must delegate to IAM).

use super::Ctx;
use crate::input::{Input, Problem};
use crate::kinds::Trigger;
use crate::plan::cloud::{ErrorKind, ObjectState};
use crate::plan::observe::{Fact, ReadError};
use crate::plan::policy::{delegation_statement, key_allows};
use crate::plan::{Action, Op, Step, template_key};
use crate::template::names;

impl Ctx<'_> {
    /// The notification bucket must be in the target region; the zip bucket too, or missing.
    pub(super) fn buckets(&mut self) {
        let region = self.region().to_string();
        let bucket = self.t.notification_bucket.clone();
        let about = |m: String| Problem::value(Input::NotificationBucket, &bucket, m);
        match &self.seen.notification_bucket {
            Fact::Known(None) => self.problem(
                about(format!(
                    "no such bucket visible to account {}",
                    self.account
                ))
                .fix("give the bucket CloudTrail writes to"),
            ),
            Fact::Known(Some(r)) if *r != region => self.problem(
                about(format!("is in {r}, not in the target region {region}")).fix(format!(
                    "the function must be in the bucket's region: deploy with --region {r}"
                )),
            ),
            Fact::Failed(e) if denied(e) && self.t.trigger == Trigger::S3 => self.problem(
                about(format!(
                    "belongs to another account than {}, or this account may not read it ({e}); an S3 trigger can only be made by the account that owns the bucket (with an organisation trail, the central log-archive account)",
                    self.account
                ))
                .fix("deploy in the account that owns the bucket (--accounts with --role-arn), or use --trigger sns with a topic the owner publishes the bucket's events to"),
            ),
            Fact::Failed(e) => self.problem(about(format!("cannot read its location ({e})"))),
            Fact::Known(Some(_)) | Fact::NotRead => {}
        }
        let zips = self.t.lambda_bucket.clone();
        let about = |m: String| Problem::value(Input::LambdaBucket, &zips, m);
        match &self.seen.lambda_bucket {
            Fact::Known(None) => self.step(
                Op::LambdaBucket,
                Action::Create,
                format!("bucket {zips} is missing: create it in {region}, private and encrypted"),
            ),
            Fact::Known(Some(r)) if *r != region => self.problem(
                about(format!("is in {r}; Lambda reads its code only from a bucket in the function's region {region}"))
                    .fix("use a bucket per region, e.g. --lambda-bucket 'taegis-lambda-{account}-{region}'"),
            ),
            Fact::Known(Some(_)) => self.step(
                Op::LambdaBucket,
                Action::Skip,
                format!("bucket {zips} exists in {region}"),
            ),
            Fact::Failed(e) if denied(e) => self.problem(
                about(format!(
                    "belongs to another account than {}, or this account may not read it ({e})",
                    self.account
                ))
                .fix("give a bucket of this account with --lambda-bucket (bucket names are global: the default is taegis-lambda-{account}-{region})"),
            ),
            Fact::Failed(e) => self.problem(about(format!("cannot read its location ({e})"))),
            Fact::NotRead => {}
        }
    }

    /// The state of an object in the zip bucket: absent when the bucket is to be created.
    fn object(&mut self, key: &str) -> Option<ObjectState> {
        match self.seen.objects.get(key) {
            Some(Fact::Known(state)) => Some(state.clone()),
            Some(Fact::Failed(e)) => {
                let p = Problem::value(
                    Input::LambdaBucket,
                    &self.t.lambda_bucket,
                    format!("cannot read object {key} ({e})"),
                );
                self.problem(p);
                None
            }
            _ => Some(ObjectState::Absent),
        }
    }

    /// Upload the zip (content-addressed) and any template too large to send inline.
    pub(super) fn objects(&mut self) {
        let (bucket, key, sha) = (
            self.t.lambda_bucket.clone(),
            self.zip_key(),
            self.local.zip.sha256.clone(),
        );
        let Some(zip) = self.object(&key) else {
            return;
        };
        let (action, detail) = match &zip {
            ObjectState::Absent => (Action::Create, format!("upload s3://{bucket}/{key}")),
            s if s.holds(&sha) => (
                Action::Skip,
                format!("s3://{bucket}/{key} already has this content"),
            ),
            ObjectState::Present { .. } => (
                Action::Update,
                format!("s3://{bucket}/{key} differs: upload the new content"),
            ),
        };
        let op = Op::UploadZip {
            zip: self.local.zip.clone(),
            key: key.clone(),
        };
        self.step(op, action, detail);
        if !zip.holds(&sha)
            && !self.local.lambda_template.declares(names::LAMBDA_KEY)
            && self.seen.healthy_lambda_stack().is_some()
        {
            self.warn(Problem::about(
                Input::LambdaTemplate,
                "the Lambda template",
                format!("has a fixed code key ({key}); a new zip reaches the function only when the stack updates it"),
            ));
        }
        self.large_templates();
    }

    /// Templates over CloudFormation's inline limit are stored next to the zip.
    fn large_templates(&mut self) {
        let (mut upload, mut there, mut large) = (Vec::new(), Vec::new(), Vec::new());
        for tpl in [&self.local.shared_template, &self.local.lambda_template] {
            if tpl.fits_inline() {
                continue;
            }
            let key = template_key(tpl);
            large.push((key.clone(), tpl.clone()));
            match self.object(&key) {
                Some(s) if s.holds(&tpl.sha256) => there.push(key),
                Some(_) => upload.push(key),
                None => {}
            }
        }
        let bucket = &self.t.lambda_bucket;
        let list = |keys: &[String]| {
            keys.iter()
                .map(|k| format!("s3://{bucket}/{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let step = if !upload.is_empty() {
            Step::new(
                Op::UploadTemplates(large),
                Action::Create,
                format!(
                    "upload {} (over CloudFormation's 51,200-byte inline limit: passed as TemplateURL)",
                    list(&upload)
                ),
            )
        } else if !there.is_empty() {
            Step::new(
                Op::UploadTemplates(large),
                Action::Skip,
                format!("{} already has this content", list(&there)),
            )
        } else {
            return;
        };
        self.steps.push(step);
    }

    /// A KMS key the function depends on must delegate to IAM (or the function's role could
    /// never decrypt); a bucket encrypted with a key by default needs that key given.
    pub(super) fn kms(&mut self) {
        let account = self.account.clone();
        if let Fact::Known(Some(key)) = &self.seen.bucket_key
            && self.t.bucket_kms_key_arn.is_none()
        {
            let p = Problem::value(
                Input::NotificationBucket,
                &self.t.notification_bucket,
                format!("its objects are encrypted with KMS key {key} by default, and the function could not read them without it"),
            )
            .fix(format!("give --bucket-kms-key-arn {key}"));
            self.problem(p);
        }
        for (input, key) in [
            (Input::BucketKmsKeyArn, self.t.bucket_kms_key_arn.clone()),
            (
                Input::LambdaEnvKmsKeyArn,
                self.t.lambda_env_kms_key_arn.clone(),
            ),
        ] {
            let Some(key) = key else { continue };
            match self.seen.key_policies.get(&key) {
                Some(Fact::Known(policy)) if !key_allows(policy, &account, "") => {
                    let p = Problem::value(input, &key, "the key's policy does not delegate to IAM, so the function's role could never use it (its own kms:Decrypt grant is not enough)")
                        .fix(format!(
                            "add this statement to the key policy (the guide's \"Enable IAM User Permissions\"): {}",
                            delegation_statement(&account)
                        ));
                    self.problem(p);
                }
                Some(Fact::Failed(e)) => self.warn(Problem::value(
                    input,
                    &key,
                    format!("cannot read its policy ({e}); make sure it delegates to IAM, or the function cannot decrypt"),
                )),
                _ => {}
            }
        }
    }
}

/// S3 refused a bucket read: another account's bucket, or no permission.
fn denied(e: &ReadError) -> bool {
    e.kind == ErrorKind::Denied
}
