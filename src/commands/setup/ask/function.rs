//! The function's questions: the stack names, the zip and its bucket, and the template's
//! other parameters (asked in the first region only).

use super::*;

impl Talk<'_> {
    /// Step 5, the function: what the bucket holds, the stack names, the zip and its bucket, and
    /// (when wanted) the template's other parameters in its order, with their descriptions.
    pub async fn function(&mut self) -> Result<(), Interrupted> {
        if self.a.guide.integration_type.is_none() {
            let allowed = self
                .template
                .parameter(names::INTEGRATION_TYPE)
                .map(|p| p.allowed_values.clone())
                .filter(|v| !v.is_empty())
                .unwrap_or(vec!["awscloudtrail".into(), "generic".into()]);
            let default = allowed
                .iter()
                .position(|v| v == "awscloudtrail")
                .unwrap_or(0);
            let i = self.p.choose("What does the bucket hold? (IntegrationType: awscloudtrail for CloudTrail logs only, generic when mixed)", &allowed, default)?;
            self.a.guide.integration_type = Some(allowed[i].clone());
        }
        self.stack_names().await?;
        self.zip().await?;
        if self.first {
            self.other_parameters()?;
        }
        Ok(())
    }

    async fn stack_names(&mut self) -> Result<(), Interrupted> {
        if self.a.stacks.shared_stack_name.is_none() {
            let name = ask_valid(
                self.p,
                "Shared stack name",
                Some(DEFAULT_SHARED_STACK),
                async |n: String| config::check_stack_name(&n, None).map(|_| n),
            )
            .await?;
            self.a.stacks.shared_stack_name = Some(name);
        }
        if self.a.stacks.stack_name.is_none() {
            let kind = self.a.guide.integration_type.clone();
            let name = ask_valid(
                self.p,
                "Lambda stack name",
                Some(DEFAULT_STACK),
                async |n: String| config::check_stack_name(&n, kind.as_deref()).map(|_| n),
            )
            .await?;
            self.a.stacks.stack_name = Some(name);
        }
        Ok(())
    }

    async fn zip(&mut self) -> Result<(), Interrupted> {
        if self.a.guide.lambda_zip.is_none() {
            let zip = ask_valid(
                self.p,
                "Lambda zip from XDR",
                Some("./taegis-lambda-amd64.zip"),
                async |z: String| {
                    let path = PathBuf::from(&z);
                    inputs::read_zip(&path)
                        .map(|_| path)
                        .map_err(|p| p.to_string())
                },
            )
            .await?;
            self.a.guide.lambda_zip = Some(zip);
        }
        if self.a.guide.lambda_bucket.is_none() {
            let default =
                config::expand(config::DEFAULT_LAMBDA_BUCKET, &self.account, self.region());
            let region = self.region().to_string();
            let bucket = ask_valid(
                self.p,
                "Bucket for the zip (created private and encrypted if missing)",
                Some(&default),
                async |b: String| {
                    config::check_bucket_name(&b).map_err(|e| format!("{b:?}: {e}"))?;
                    match self.cloud().bucket_region(&b, Some(&self.account)).await {
                        Ok(None) => Ok(b),
                        Ok(Some(r)) if r == region => Ok(b),
                        Ok(Some(r)) => {
                            Err(format!("bucket {b} is in {r}; the zip must be in {region}"))
                        }
                        Err(e) => Err(format!(
                            "bucket {b} cannot be used ({}): its name may be another account's",
                            ReadError::of(&e)
                        )),
                    }
                },
            )
            .await?;
            self.a.guide.lambda_bucket = Some(bucket);
        }
        Ok(())
    }

    fn other_parameters(&mut self) -> Result<(), Interrupted> {
        const ASKED: &[&str] = &[
            names::INTEGRATION_TYPE,
            names::NOTIFICATION_BUCKET,
            names::SNS_TOPIC,
            names::BUCKET_KMS_KEY,
            names::LAMBDA_BUCKET,
            names::LAMBDA_KEY,
        ];
        if !self
            .p
            .agree("Change other parameters of the Lambda template?", false)?
        {
            return Ok(());
        }
        for param in self
            .template
            .parameters
            .iter()
            .filter(|p| !ASKED.contains(&p.name.as_str()))
        {
            if let Some(d) = &param.description {
                self.p.say(&format!("{}: {d}", param.name));
            }
            loop {
                let v = self.p.ask(&param.name, param.default.as_deref(), true)?;
                match param.check(&v, false).first() {
                    Some(why) => self.p.say(&format!("  {why}")),
                    None => {
                        if param.default.as_deref() != Some(v.as_str()) {
                            self.a.parameters.push((param.name.clone(), v));
                        }
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
