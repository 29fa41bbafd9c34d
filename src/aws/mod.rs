//! The only module that imports `aws_config` and `aws_sdk_*`: the client factory (profile,
//! region, endpoint, role), thin per-service calls returning our own types (`s3`,
//! `cloudformation`, `lambda`, `sns`, `sts`, `verify`, `organizations`; the `Cloud` impl here hands each
//! call to its service), and SDK-error classification (`errors`).

mod calls;
mod cloudformation;
mod connect;
pub mod errors;
mod lambda;
mod organizations;
mod profiles;
mod s3;
mod sns;
mod sts;
mod verify;

pub use connect::Connection;
pub use lambda::parse_policy;

use std::collections::BTreeMap;

use anyhow::Result;

use crate::plan::ParamValue;
use crate::plan::cloud::{
    AccountSettings, Added, Cloud, CloudReads, Export, FunctionInfo, Identity, Invocation,
    LogSummary, NotificationEntry, ObjectState, OurNotification, PolicyStatement, Probed,
    StackEvent, StackInfo, Subscription, TemplateSource, TopicInfo, Trail, UpdateStarted,
};

/// The region when `--region` is not given: AWS_REGION, then the profile (`--profile` or the
/// SDK's default chain), as the `aws` CLI does.
pub async fn default_region(conn: &Connection) -> Option<String> {
    use aws_config::meta::region::RegionProviderChain;
    let chain = match &conn.profile {
        Some(p) => RegionProviderChain::first_try(
            aws_config::environment::EnvironmentVariableRegionProvider::new(),
        )
        .or_else(
            aws_config::profile::ProfileFileRegionProvider::builder()
                .profile_name(p)
                .build(),
        ),
        None => RegionProviderChain::default_provider(),
    };
    chain.region().await.map(|r| r.to_string())
}

/// Clients for one target: a region, and optionally a role assumed in another account.
pub struct AwsCloud {
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    sts: aws_sdk_sts::Client,
    sns: aws_sdk_sns::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    kms: aws_sdk_kms::Client,
    cloudtrail: aws_sdk_cloudtrail::Client,
    organizations: aws_sdk_organizations::Client,
    account: aws_sdk_account::Client,
    /// The profile the credentials come from (`--profile`, else `AWS_PROFILE`), if any.
    profile: Option<String>,
    /// The endpoint every call goes to, when one is given (`--endpoint-url`, `AWS_ENDPOINT_URL`).
    endpoint: Option<String>,
}

impl CloudReads for AwsCloud {
    async fn identity(&self) -> Result<Identity> {
        self.identity_with(&self.sts).await
    }

    async fn identity_in(&self, region: &str) -> Result<Identity> {
        let conf = self
            .sts
            .config()
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build();
        self.identity_with(&aws_sdk_sts::Client::from_conf(conf))
            .await
    }

    async fn bucket_region(
        &self,
        bucket: &str,
        expected_owner: Option<&str>,
    ) -> Result<Option<String>> {
        s3::bucket_region(self, bucket, expected_owner).await
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<ObjectState> {
        s3::object(self, bucket, key).await
    }

    async fn probe_object(
        &self,
        bucket: &str,
        key: &str,
        expected_owner: Option<&str>,
    ) -> Result<Probed> {
        s3::probe_object(self, bucket, key, expected_owner).await
    }

    async fn stack(&self, name_or_id: &str) -> Result<Option<StackInfo>> {
        cloudformation::stack(self, name_or_id).await
    }

    async fn template_body(&self, stack: &str) -> Result<String> {
        cloudformation::template_body(self, stack).await
    }

    async fn stack_events(&self, stack_id: &str, until: Option<&str>) -> Result<Vec<StackEvent>> {
        cloudformation::stack_events(self, stack_id, until).await
    }

    async fn stack_function(&self, stack: &str) -> Result<Option<String>> {
        cloudformation::stack_function(self, stack).await
    }

    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>> {
        lambda::function(self, name).await
    }

    async fn policy_statements(&self, function: &str) -> Result<Vec<PolicyStatement>> {
        lambda::policy_statements(self, function).await
    }

    async fn notifications(&self, bucket: &str) -> Result<Vec<NotificationEntry>> {
        s3::notifications(self, bucket).await
    }

    async fn topic(&self, topic_arn: &str) -> Result<Option<TopicInfo>> {
        sns::topic(self, topic_arn).await
    }

    async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>> {
        sns::subscriptions(self, topic_arn).await
    }

    async fn account_settings(&self) -> Result<AccountSettings> {
        lambda::account_settings(self).await
    }

    async fn exports(&self) -> Result<Vec<Export>> {
        cloudformation::exports(self).await
    }

    async fn trails(&self) -> Result<Vec<Trail>> {
        self.read_trails().await
    }

    async fn log_summary(&self, function: &str, start_ms: i64) -> Result<LogSummary> {
        self.read_log_summary(function, start_ms).await
    }

    async fn key_policy(&self, key: &str) -> Result<String> {
        self.read_key_policy(key).await
    }

    async fn bucket_kms_key(&self, bucket: &str) -> Result<Option<String>> {
        self.read_bucket_kms_key(bucket).await
    }

    async fn invoke(&self, function: &str, payload: &str) -> Result<Invocation> {
        self.invoke_function(function, payload).await
    }

    async fn imports(&self, export: &str) -> Result<Vec<String>> {
        cloudformation::imports(self, export).await
    }

    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<String>> {
        s3::list_objects(self, bucket, prefix).await
    }
}

impl Cloud for AwsCloud {
    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<()> {
        s3::create_bucket(self, bucket, region).await
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: bytes::Bytes,
        sha256: &str,
    ) -> Result<()> {
        s3::put_object(self, bucket, key, body, sha256).await
    }

    async fn create_stack(
        &self,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<String> {
        cloudformation::create_stack(self, name, template, params).await
    }

    async fn update_stack(
        &self,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<UpdateStarted> {
        cloudformation::update_stack(self, name, template, params).await
    }

    async fn delete_stack(&self, name_or_id: &str) -> Result<()> {
        cloudformation::delete_stack(self, name_or_id).await
    }

    async fn add_permission(&self, function: &str, st: &PolicyStatement) -> Result<Added> {
        lambda::add_permission(self, function, st).await
    }

    async fn remove_permission(&self, function: &str, sid: &str) -> Result<()> {
        lambda::remove_permission(self, function, sid).await
    }

    async fn put_notification(&self, bucket: &str, ours: &OurNotification) -> Result<()> {
        s3::put_notification(self, bucket, ours).await
    }

    async fn remove_notifications(&self, bucket: &str, ids: &[String]) -> Result<()> {
        s3::remove_notifications(self, bucket, ids).await
    }

    async fn unsubscribe(&self, subscription_arn: &str) -> Result<()> {
        sns::unsubscribe(self, subscription_arn).await
    }

    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<()> {
        s3::delete_objects(self, bucket, keys).await
    }

    async fn subscribe(&self, topic_arn: &str, function_arn: &str) -> Result<()> {
        sns::subscribe(self, topic_arn, function_arn).await
    }
}

#[cfg(test)]
mod tests;
