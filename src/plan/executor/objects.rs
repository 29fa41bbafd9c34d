//! The zip bucket and what goes into it: creating the bucket, uploading the zip and the large
//! templates, and deleting the zip (destroy).

use anyhow::{Context, Result};

use super::Executor;
use std::sync::Arc;

use crate::plan::cloud::Cloud;
use crate::plan::{LambdaZip, TargetPlan};
use crate::template::Template;

impl<C: Cloud> Executor<'_, C> {
    pub(super) async fn create_bucket(&self, plan: &TargetPlan) -> Result<String> {
        let bucket = &plan.target.lambda_bucket;
        self.cloud
            .create_bucket(bucket, &plan.target.region)
            .await
            .with_context(|| format!("failed to create bucket {bucket}"))?;
        Ok(format!("created bucket {bucket} (private, encrypted)"))
    }

    pub(super) async fn upload_zip(
        &self,
        plan: &TargetPlan,
        zip: &LambdaZip,
        key: &str,
    ) -> Result<String> {
        let bucket = &plan.target.lambda_bucket;
        self.cloud
            .put_object(bucket, key, zip.bytes.clone(), &zip.sha256)
            .await
            .with_context(|| format!("failed to upload the zip to s3://{bucket}/{key}"))?;
        Ok(format!(
            "uploaded s3://{bucket}/{key} ({} bytes)",
            zip.bytes.len()
        ))
    }

    pub(super) async fn upload_templates(
        &self,
        plan: &TargetPlan,
        templates: &[(String, Arc<Template>)],
    ) -> Result<String> {
        let bucket = &plan.target.lambda_bucket;
        let mut done = Vec::new();
        for (key, t) in templates {
            self.cloud
                .put_object(bucket, key, t.body.clone().into(), &t.sha256)
                .await
                .with_context(|| {
                    format!("failed to upload the {} to s3://{bucket}/{key}", t.source)
                })?;
            done.push(format!("s3://{bucket}/{key} ({} bytes)", t.body.len()));
        }
        Ok(format!("uploaded {}", done.join(", ")))
    }

    pub(super) async fn delete_zip(
        &self,
        objects: &Option<(String, Vec<String>)>,
    ) -> Result<String> {
        let Some((bucket, keys)) = objects else {
            return Ok("no objects to delete".into());
        };
        self.cloud
            .delete_objects(bucket, keys)
            .await
            .with_context(|| format!("failed to delete objects of bucket {bucket}"))?;
        Ok(format!("deleted {} from bucket {bucket}", keys.join(", ")))
    }
}
