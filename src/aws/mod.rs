//! The only module that imports `aws_config` and `aws_sdk_*`: the client factory (profile,
//! region, endpoint, role), thin per-service calls returning our own types, and SDK-error
//! classification (`errors`).

mod calls;
mod connect;
pub mod errors;
mod profiles;
mod verify;

pub use connect::Connection;

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};
use aws_config::retry::RetryConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter as CfnParameter};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types as s3t;

use crate::plan::ParamValue;
use crate::plan::cloud::{
    AccountSettings, Added, Cloud, ErrorKind, Export, FunctionInfo, Identity, Invocation,
    LogSummary, NotificationEntry, NotificationKind, ObjectState, OurNotification, PolicyStatement,
    Probed, RefusedDestination, RefusedDestinations, StackEvent, StackInfo, Subscription,
    TemplateSource, TopicInfo, Trail, Unsent, UpdateStarted,
};
use crate::plan::status::{ResourceStatus, StackStatus};

/// The S3 user-metadata key holding the SHA-256 of an object the tool stored.
const HASH_METADATA: &str = "taegis-sha256";
use errors::{classify, found};

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
    /// The profile the credentials come from (`--profile`, else `AWS_PROFILE`), if any.
    profile: Option<String>,
    /// The endpoint every call goes to, when one is given (`--endpoint-url`, `AWS_ENDPOINT_URL`).
    endpoint: Option<String>,
}

/// A token for one CloudFormation operation: the SDK's retries of the same call carry it, so
/// CloudFormation does not start the operation twice when an answer was lost.
impl AwsCloud {
    /// The caller's identity, asked with `sts`. The first call in a region: a region that
    /// does not exist never answers, so a few attempts are enough to tell. A call that never
    /// reached AWS says why, in the user's terms (the profile, the endpoint).
    async fn identity_with(&self, sts: &aws_sdk_sts::Client) -> Result<Identity> {
        let out = sts
            .get_caller_identity()
            .customize()
            .config_override(
                aws_sdk_sts::config::Builder::default()
                    .retry_config(RetryConfig::standard().with_max_attempts(3)),
            )
            .send()
            .await
            .map_err(|e| {
                let mut e = classify(e);
                e.unsent = e.unsent.take().map(|u| Box::new(self.explain(*u, sts)));
                e
            })?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// Name what the user controls: the profile asked for, the endpoint tried.
    fn explain(&self, unsent: Unsent, sts: &aws_sdk_sts::Client) -> Unsent {
        match unsent {
            Unsent::NoCredentials => match &self.profile {
                Some(p) => match profiles::known() {
                    known if !known.contains(p) => Unsent::ProfileMissing {
                        profile: p.clone(),
                        known,
                    },
                    _ => Unsent::NoCredentials,
                },
                None => Unsent::NoCredentials,
            },
            Unsent::SsoExpired { .. } => Unsent::SsoExpired {
                profile: self.profile.clone(),
            },
            Unsent::Unreachable { cause, .. } => {
                let region = sts.config().region().map(|r| r.to_string());
                let given = self.endpoint.clone();
                Unsent::Unreachable {
                    overridden: given.is_some(),
                    endpoint: given.unwrap_or_else(|| {
                        format!(
                            "https://sts.{}.amazonaws.com",
                            region.as_deref().unwrap_or("us-east-1")
                        )
                    }),
                    cause,
                }
            }
            other => other,
        }
    }
}

fn request_token() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("taegis-cloudtrail-{}-{nanos}-{n}", std::process::id())
}

impl AwsCloud {
    /// Read the bucket's notification configuration, drop the Lambda entries `drop` (by Id),
    /// add `ours` when given, and write it back: every other entry (queue, topic, other
    /// Lambdas, EventBridge) exactly as it was.
    async fn rewrite_notifications(
        &self,
        bucket: &str,
        drop: &[&str],
        ours: Option<s3t::LambdaFunctionConfiguration>,
    ) -> Result<()> {
        let current = self
            .s3
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
            .map_err(classify)
            .context("failed to read the current configuration")?;
        let mut lambdas: Vec<s3t::LambdaFunctionConfiguration> = current
            .lambda_function_configurations()
            .iter()
            .filter(|l| !l.id().is_some_and(|i| drop.contains(&i)))
            .cloned()
            .collect();
        let our_arn = ours.as_ref().map(|o| o.lambda_function_arn().to_string());
        lambdas.extend(ours);
        let config = s3t::NotificationConfiguration::builder()
            .set_topic_configurations(Some(current.topic_configurations().to_vec()))
            .set_queue_configurations(Some(current.queue_configurations().to_vec()))
            .set_lambda_function_configurations(Some(lambdas))
            .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
            .build();
        let entries = entry_ids(&config);
        match self
            .s3
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(config)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(refused_destinations(
                classify(e),
                &entries,
                our_arn.as_deref(),
            )),
        }
    }
}

/// S3 refused the configuration: when it names the destinations it could not reach, which
/// entries they are, and whether ours is one.
fn refused_destinations(
    e: crate::plan::cloud::CallError,
    entries: &[(Option<String>, String)],
    our_arn: Option<&str>,
) -> anyhow::Error {
    if e.arguments.is_empty() {
        return e.into();
    }
    // S3 names a function as "ARN, null".
    let refused = e
        .arguments
        .iter()
        .map(|(name, reason)| (name.split(", ").next().unwrap_or(name), reason))
        .map(|(arn, reason)| RefusedDestination {
            arn: arn.to_string(),
            reason: reason.clone(),
            entry: entries
                .iter()
                .find(|(_, a)| a == arn)
                .and_then(|(id, _)| id.clone()),
            ours: our_arn == Some(arn),
        })
        .collect();
    anyhow::Error::new(RefusedDestinations(refused))
}

/// Each entry of a configuration: (its Id, its destination ARN).
fn entry_ids(config: &s3t::NotificationConfiguration) -> Vec<(Option<String>, String)> {
    let q = config
        .queue_configurations()
        .iter()
        .map(|c| (c.id().map(str::to_string), c.queue_arn().to_string()));
    let t = config
        .topic_configurations()
        .iter()
        .map(|c| (c.id().map(str::to_string), c.topic_arn().to_string()));
    let l = config.lambda_function_configurations().iter().map(|c| {
        (
            c.id().map(str::to_string),
            c.lambda_function_arn().to_string(),
        )
    });
    q.chain(t).chain(l).collect()
}

/// TemplateBody or TemplateURL.
fn template_parts(t: &TemplateSource) -> (Option<String>, Option<String>) {
    match t {
        TemplateSource::Body(b) => (Some(b.clone()), None),
        TemplateSource::Url(u) => (None, Some(u.clone())),
    }
}

fn cfn_params(params: &BTreeMap<String, ParamValue>) -> Vec<CfnParameter> {
    params
        .iter()
        .map(|(k, v)| {
            let b = CfnParameter::builder().parameter_key(k);
            match v {
                ParamValue::Plain(s) => b.parameter_value(s),
                ParamValue::Secret(s) => b.parameter_value(s.expose()),
                ParamValue::UsePrevious => b.use_previous_value(true),
            }
            .build()
        })
        .collect()
}

fn region_of(constraint: Option<&s3t::BucketLocationConstraint>) -> String {
    match constraint.map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    }
}

fn filter_value(filter: Option<&s3t::NotificationConfigurationFilter>, name: &str) -> String {
    filter
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default()
        .iter()
        .find(|r| {
            r.name()
                .is_some_and(|n| n.as_str().eq_ignore_ascii_case(name))
        })
        .and_then(|r| r.value())
        .unwrap_or_default()
        .to_string()
}

fn events(e: &[s3t::Event]) -> Vec<String> {
    e.iter().map(|e| e.as_str().to_string()).collect()
}

impl Cloud for AwsCloud {
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
        let req = self
            .s3
            .get_bucket_location()
            .bucket(bucket)
            .set_expected_bucket_owner(expected_owner.map(str::to_string));
        let out = found(req.send().await)?;
        Ok(out.map(|o| region_of(o.location_constraint())))
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<ObjectState> {
        let out = found(self.s3.head_object().bucket(bucket).key(key).send().await)?;
        Ok(match out {
            None => ObjectState::Absent,
            Some(o) => ObjectState::Present {
                sha256: o.metadata().and_then(|m| m.get(HASH_METADATA)).cloned(),
            },
        })
    }

    /// A GET of the object's first byte: its answer also says whether the bucket is there
    /// (`NoSuchBucket` and `NoSuchKey` come with a body, unlike HeadObject's 404), and S3
    /// answers a bucket of another region with a redirect, so an answer means "here".
    async fn probe_object(
        &self,
        bucket: &str,
        key: &str,
        expected_owner: Option<&str>,
    ) -> Result<Probed> {
        let sent = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range("bytes=0-0")
            .set_expected_bucket_owner(expected_owner.map(str::to_string))
            .send()
            .await;
        Ok(match sent {
            Ok(o) => Probed::Here(ObjectState::Present {
                sha256: o.metadata().and_then(|m| m.get(HASH_METADATA)).cloned(),
            }),
            Err(e) => {
                let e = classify(e);
                let code = e.code.as_deref().unwrap_or_default();
                if errors::is_no_such_key(code) {
                    Probed::Here(ObjectState::Absent)
                } else if errors::is_no_such_bucket(code) {
                    Probed::NoBucket
                } else if e.kind == ErrorKind::Denied {
                    Probed::Refused
                } else {
                    Probed::Unsure
                }
            }
        })
    }

    async fn stack(&self, name_or_id: &str) -> Result<Option<StackInfo>> {
        let out = match self
            .cfn
            .describe_stacks()
            .stack_name(name_or_id)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = classify(e);
                return if errors::is_stack_missing(e.code.as_deref().unwrap_or(""), &e.message) {
                    Ok(None)
                } else {
                    Err(e.into())
                };
            }
        };
        let Some(s) = out.stacks().first() else {
            return Ok(None);
        };
        let status = StackStatus::parse(s.stack_status().map(|s| s.as_str()).unwrap_or_default());
        if status == StackStatus::DeleteComplete && !name_or_id.starts_with("arn:") {
            return Ok(None);
        }
        Ok(Some(StackInfo {
            id: s.stack_id().unwrap_or_default().to_string(),
            name: s.stack_name().unwrap_or_default().to_string(),
            status,
            reason: s.stack_status_reason().map(str::to_string),
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| {
                    Some((
                        o.output_key()?.to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            export_names: s
                .outputs()
                .iter()
                .filter_map(|o| o.export_name().map(str::to_string))
                .collect(),
        }))
    }

    async fn template_body(&self, stack: &str) -> Result<String> {
        let out = self
            .cfn
            .get_template()
            .stack_name(stack)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.template_body().unwrap_or_default().to_string())
    }

    async fn stack_events(&self, stack_id: &str, until: Option<&str>) -> Result<Vec<StackEvent>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .cfn
                .describe_stack_events()
                .stack_name(stack_id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(classify)?;
            for e in page.stack_events() {
                let id = e.event_id().unwrap_or_default().to_string();
                if Some(id.as_str()) == until {
                    return Ok(out);
                }
                out.push(StackEvent {
                    id,
                    stack_id: e.stack_id().unwrap_or_default().to_string(),
                    logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                    physical_id: e.physical_resource_id().unwrap_or_default().to_string(),
                    resource_type: e.resource_type().unwrap_or_default().to_string(),
                    status: ResourceStatus::parse(
                        e.resource_status().map(|s| s.as_str()).unwrap_or_default(),
                    ),
                    reason: e.resource_status_reason().map(str::to_string),
                    at_ms: e.timestamp().and_then(|t| t.to_millis().ok()),
                });
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn stack_function(&self, stack: &str) -> Result<Option<String>> {
        let out = self
            .cfn
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await
            .map_err(classify)?;
        Ok(out
            .stack_resources()
            .iter()
            .find(|r| r.resource_type() == Some("AWS::Lambda::Function"))
            .and_then(|r| r.physical_resource_id())
            .map(str::to_string))
    }

    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>> {
        let Some(out) = found(self.lambda.get_function().function_name(name).send().await)? else {
            return Ok(None);
        };
        let c = out.configuration();
        Ok(Some(FunctionInfo {
            name: c
                .and_then(|c| c.function_name())
                .unwrap_or(name)
                .to_string(),
            arn: c
                .and_then(|c| c.function_arn())
                .unwrap_or_default()
                .to_string(),
            runtime: c.and_then(|c| c.runtime()).map(|r| r.as_str().to_string()),
            reserved_concurrency: out
                .concurrency()
                .and_then(|c| c.reserved_concurrent_executions()),
            state: c.and_then(|c| c.state()).map(|s| s.as_str().to_string()),
            state_reason: c.and_then(|c| c.state_reason()).map(str::to_string),
            role: c.and_then(|c| c.role()).map(str::to_string),
            environment: c
                .and_then(|c| c.environment())
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            kms_key_arn: c.and_then(|c| c.kms_key_arn()).map(str::to_string),
        }))
    }

    async fn policy_statements(&self, function: &str) -> Result<Vec<PolicyStatement>> {
        let out = found(
            self.lambda
                .get_policy()
                .function_name(function)
                .send()
                .await,
        )?;
        Ok(out
            .and_then(|o| o.policy().map(parse_policy))
            .unwrap_or_default())
    }

    async fn notifications(&self, bucket: &str) -> Result<Vec<NotificationEntry>> {
        let out = self
            .s3
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
            .map_err(classify)?;
        let entry =
            |kind, id: Option<&str>, arn: &str, ev: &[s3t::Event], filter| NotificationEntry {
                kind,
                id: id.map(str::to_string),
                target_arn: arn.to_string(),
                events: events(ev),
                prefix: filter_value(filter, "prefix"),
                suffix: filter_value(filter, "suffix"),
            };
        let mut v = Vec::new();
        for q in out.queue_configurations() {
            v.push(entry(
                NotificationKind::Queue,
                q.id(),
                q.queue_arn(),
                q.events(),
                q.filter(),
            ));
        }
        for t in out.topic_configurations() {
            v.push(entry(
                NotificationKind::Topic,
                t.id(),
                t.topic_arn(),
                t.events(),
                t.filter(),
            ));
        }
        for l in out.lambda_function_configurations() {
            v.push(entry(
                NotificationKind::Lambda,
                l.id(),
                l.lambda_function_arn(),
                l.events(),
                l.filter(),
            ));
        }
        Ok(v)
    }

    async fn topic(&self, topic_arn: &str) -> Result<Option<TopicInfo>> {
        let out = found(
            self.sns
                .get_topic_attributes()
                .topic_arn(topic_arn)
                .send()
                .await,
        )?;
        Ok(out.map(|o| {
            let attributes = o.attributes();
            let get = |k: &str| attributes.and_then(|a| a.get(k)).cloned();
            TopicInfo {
                owner: get("Owner")
                    .or_else(|| topic_arn.split(':').nth(4).map(str::to_string))
                    .unwrap_or_default(),
                policy: get("Policy").filter(|p| !p.is_empty()),
            }
        }))
    }

    async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(topic_arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(classify)?;
            for s in page.subscriptions() {
                out.push(Subscription {
                    protocol: s.protocol().unwrap_or_default().to_string(),
                    endpoint: s.endpoint().unwrap_or_default().to_string(),
                    arn: s.subscription_arn().unwrap_or_default().to_string(),
                });
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn account_settings(&self) -> Result<AccountSettings> {
        let out = self
            .lambda
            .get_account_settings()
            .send()
            .await
            .map_err(classify)?;
        let limit = out
            .account_limit()
            .ok_or_else(|| anyhow!("GetAccountSettings returned no account limit"))?;
        Ok(AccountSettings {
            concurrent_executions: limit.concurrent_executions(),
            unreserved_concurrent_executions: limit
                .unreserved_concurrent_executions()
                .unwrap_or(limit.concurrent_executions()),
        })
    }

    async fn exports(&self) -> Result<Vec<Export>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .cfn
                .list_exports()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(classify)?;
            out.extend(page.exports().iter().map(|e| Export {
                name: e.name().unwrap_or_default().to_string(),
                exporting_stack_id: e.exporting_stack_id().unwrap_or_default().to_string(),
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
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
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = match self
                .cfn
                .list_imports()
                .export_name(export)
                .set_next_token(token.take())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    let e = classify(e);
                    // "Export 'X' is not imported by any stack."
                    return if errors::is_not_imported(e.code.as_deref().unwrap_or(""), &e.message) {
                        Ok(out)
                    } else {
                        Err(e.into())
                    };
                }
            };
            out.extend(page.imports().iter().cloned());
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(classify)?;
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match page.next_continuation_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// AWS makes every new bucket private (Block Public Access on, ACLs off) and encrypted
    /// (SSE-S3) by itself, since 2023, in every partition: nothing more to ask for, and so no
    /// permission to change either setting.
    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<()> {
        let mut req = self.s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                s3t::CreateBucketConfiguration::builder()
                    .location_constraint(s3t::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = classify(e);
                // Our own bucket from an interrupted run is fine.
                if errors::is_own_bucket(e.code.as_deref().unwrap_or_default()) {
                    Ok(())
                } else {
                    Err(e.into())
                }
            }
        }
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: bytes::Bytes,
        sha256: &str,
    ) -> Result<()> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .metadata(HASH_METADATA, sha256)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn create_stack(
        &self,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<String> {
        let (body, url) = template_parts(template);
        let out = self
            .cfn
            .create_stack()
            .client_request_token(request_token())
            .stack_name(name)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(cfn_params(params)))
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .tags(
                aws_sdk_cloudformation::types::Tag::builder()
                    .key("managed-by")
                    .value("taegis-cloudtrail")
                    .build(),
            )
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.stack_id().unwrap_or(name).to_string()),
            Err(e) => {
                let e = classify(e);
                // A retried call whose first attempt went through (the answer was lost): the
                // stack being created is ours, follow it.
                if e.kind == ErrorKind::AlreadyExists
                    && let Some(s) = self.stack(name).await?
                    && s.status.from_a_create()
                {
                    return Ok(s.id);
                }
                Err(e.into())
            }
        }
    }

    async fn update_stack(
        &self,
        name: &str,
        template: &TemplateSource,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<UpdateStarted> {
        let (body, url) = template_parts(template);
        match self
            .cfn
            .update_stack()
            .client_request_token(request_token())
            .stack_name(name)
            .set_template_body(body)
            .set_template_url(url)
            .set_parameters(Some(cfn_params(params)))
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
        {
            Ok(out) => Ok(UpdateStarted::Started {
                stack_id: out.stack_id().unwrap_or(name).to_string(),
            }),
            Err(e) => {
                let e = classify(e);
                if errors::is_no_updates(e.code.as_deref().unwrap_or(""), &e.message) {
                    Ok(UpdateStarted::NoChanges)
                } else if errors::is_update_in_progress(e.code.as_deref().unwrap_or(""), &e.message)
                    && let Some(s) = self.stack(name).await?
                {
                    // A retried call whose first attempt went through: follow that update.
                    Ok(UpdateStarted::Started { stack_id: s.id })
                } else {
                    Err(e.into())
                }
            }
        }
    }

    async fn delete_stack(&self, name_or_id: &str) -> Result<()> {
        self.cfn
            .delete_stack()
            .client_request_token(request_token())
            .stack_name(name_or_id)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn add_permission(&self, function: &str, st: &PolicyStatement) -> Result<Added> {
        let mut req = self
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id(&st.sid)
            .action("lambda:InvokeFunction")
            .principal(&st.principal);
        if let Some(a) = &st.source_arn {
            req = req.source_arn(a);
        }
        if let Some(a) = &st.source_account {
            req = req.source_account(a);
        }
        match req.send().await {
            Ok(_) => Ok(Added::Added),
            Err(e) => {
                let e = classify(e);
                if errors::is_sid_taken(e.code.as_deref().unwrap_or(""), &e.message) {
                    // Same id already there (an earlier, interrupted run): done if it is ours.
                    let existing = self.policy_statements(function).await?;
                    if existing.iter().any(|s| s == st) {
                        return Ok(Added::AlreadyThere);
                    }
                }
                Err(e.into())
            }
        }
    }

    async fn remove_permission(&self, function: &str, sid: &str) -> Result<()> {
        let req = self
            .lambda
            .remove_permission()
            .function_name(function)
            .statement_id(sid);
        // Already gone is done.
        found(req.send().await)?;
        Ok(())
    }

    async fn put_notification(&self, bucket: &str, ours: &OurNotification) -> Result<()> {
        let mut entry = s3t::LambdaFunctionConfiguration::builder()
            .id(&ours.id)
            .lambda_function_arn(&ours.function_arn)
            .set_events(Some(
                ours.events
                    .iter()
                    .map(|e| s3t::Event::from(e.as_str()))
                    .collect(),
            ));
        if !ours.prefix.is_empty() {
            entry = entry.filter(
                s3t::NotificationConfigurationFilter::builder()
                    .key(
                        s3t::S3KeyFilter::builder()
                            .filter_rules(
                                s3t::FilterRule::builder()
                                    .name(s3t::FilterRuleName::Prefix)
                                    .value(&ours.prefix)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            );
        }
        let mut drop = vec![ours.id.as_str()];
        drop.extend(ours.replaces.iter().map(String::as_str));
        self.rewrite_notifications(bucket, &drop, Some(entry.build()?))
            .await
    }

    async fn remove_notifications(&self, bucket: &str, ids: &[String]) -> Result<()> {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.rewrite_notifications(bucket, &ids, None).await
    }

    async fn unsubscribe(&self, subscription_arn: &str) -> Result<()> {
        // Already gone is done.
        found(
            self.sns
                .unsubscribe()
                .subscription_arn(subscription_arn)
                .send()
                .await,
        )?;
        Ok(())
    }

    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<()> {
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| s3t::ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(s3t::Delete::builder().set_objects(Some(objects)).build()?)
                .send()
                .await
                .map_err(classify)?;
            if let Some(e) = out.errors().first() {
                return Err(anyhow!(
                    "failed to delete {}: {} {}",
                    e.key().unwrap_or_default(),
                    e.code().unwrap_or_default(),
                    e.message().unwrap_or_default()
                ));
            }
        }
        Ok(())
    }

    async fn subscribe(&self, topic_arn: &str, function_arn: &str) -> Result<()> {
        self.sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("lambda")
            .endpoint(function_arn)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// The statements of a Lambda resource policy, as far as we compare them.
pub fn parse_policy(policy: &str) -> Vec<PolicyStatement> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        o @ serde_json::Value::Object(_) => vec![o.clone()],
        _ => Vec::new(),
    };
    let text = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(a) => a.first().and_then(|x| x.as_str()).map(str::to_string),
            _ => None,
        }
    };
    statements
        .iter()
        .map(|s| {
            let cond = &s["Condition"];
            PolicyStatement {
                sid: s["Sid"].as_str().unwrap_or_default().to_string(),
                principal: text(&s["Principal"]["Service"])
                    .or_else(|| text(&s["Principal"]))
                    .unwrap_or_default(),
                source_arn: text(&cond["ArnLike"]["AWS:SourceArn"])
                    .or_else(|| text(&cond["ArnEquals"]["AWS:SourceArn"])),
                source_account: text(&cond["StringEquals"]["AWS:SourceAccount"]),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
