//! The client factory: one base configuration per run (profile, endpoint, credentials chain,
//! and one HTTP client shared by every target), and per target its region, its role, and
//! retry budgets of its own: throttling in one account and region never spends the retries of
//! another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::retry::RetryPartition;
use tokio::sync::OnceCell;

use super::AwsCloud;
use super::calls::Calls;
use crate::kinds::Task;

/// Where and as whom to call AWS. Cheap to clone: the base configuration is loaded once and
/// shared.
#[derive(Debug, Clone)]
pub struct Connection {
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// The command whose calls these are: each call is checked against its IAM rows.
    pub task: Task,
    base: Arc<OnceCell<SdkConfig>>,
    /// One credentials provider per assumed role for the whole run: every target in that
    /// account shares its credentials (one AssumeRole, not one per client and target).
    roles: Arc<Mutex<HashMap<String, SharedCredentialsProvider>>>,
}

impl Connection {
    pub fn new(profile: Option<String>, endpoint_url: Option<String>, task: Task) -> Connection {
        Connection {
            profile,
            endpoint_url,
            task,
            base: Arc::default(),
            roles: Arc::default(),
        }
    }

    /// The run's base configuration, loaded on first use.
    async fn base(&self) -> &SdkConfig {
        self.base
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    // Standard retries: exponential backoff with jitter on throttling and 5xx.
                    .retry_config(RetryConfig::standard().with_max_attempts(8))
                    // One cache for every client of the run: credentials are resolved once
                    // per provider, not once per client.
                    .identity_cache(IdentityCache::lazy().build());
                if let Some(p) = &self.profile {
                    loader = loader.profile_name(p);
                }
                if let Some(url) = &self.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                loader.load().await
            })
            .await
    }
}

impl Connection {
    /// The run's provider for `role` (made on first use, in the first target's region).
    async fn role(
        &self,
        role: &str,
        region: &aws_config::Region,
        config: &SdkConfig,
    ) -> SharedCredentialsProvider {
        if let Some(p) = self
            .roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(role)
        {
            return p.clone();
        }
        let provider = SharedCredentialsProvider::new(
            AssumeRoleProvider::builder(role)
                .session_name("taegis-cloudtrail")
                .region(region.clone())
                .configure(config)
                .build()
                .await,
        );
        self.roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(role.to_string())
            .or_insert(provider)
            .clone()
    }
}

/// Each service's client, with the target's own retry partition and the call checker.
macro_rules! client {
    ($sdk:ident, $config:expr, $partition:expr, $calls:expr) => {
        client!($sdk, $config, $partition, $calls, |b| b)
    };
    ($sdk:ident, $config:expr, $partition:expr, $calls:expr, $more:expr) => {
        $sdk::Client::from_conf(
            $more($sdk::config::Builder::from($config))
                .retry_partition(RetryPartition::new(format!(
                    "{}/{}",
                    stringify!($sdk),
                    $partition
                )))
                .interceptor($calls)
                .build(),
        )
    };
}

impl AwsCloud {
    /// Clients for one target: a region, and optionally a role assumed in another account.
    pub async fn connect(
        conn: &Connection,
        region: &str,
        role_arn: Option<&str>,
    ) -> Result<AwsCloud> {
        let base = conn.base().await;
        let region = aws_config::Region::new(region.to_string());
        let mut config = base.to_builder().region(region.clone()).build();
        if let Some(role) = role_arn {
            let provider = conn.role(role, &region, &config).await;
            config = config.into_builder().credentials_provider(provider).build();
        }
        // Retry budgets per account (the role, or the caller's own) and region.
        let partition = format!("{}/{region}", role_arn.unwrap_or("caller"));
        // An overridden endpoint (an emulator) needs path-style S3 addressing.
        let path_style = conn.endpoint_url.is_some()
            || config.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        let calls = Calls { task: conn.task };
        let path = |b: aws_sdk_s3::config::Builder| b.force_path_style(path_style);
        Ok(AwsCloud {
            cfn: client!(aws_sdk_cloudformation, &config, partition, calls),
            s3: client!(aws_sdk_s3, &config, partition, calls, path),
            lambda: client!(aws_sdk_lambda, &config, partition, calls),
            sts: client!(aws_sdk_sts, &config, partition, calls),
            sns: client!(aws_sdk_sns, &config, partition, calls),
            logs: client!(aws_sdk_cloudwatchlogs, &config, partition, calls),
            kms: client!(aws_sdk_kms, &config, partition, calls),
            cloudtrail: client!(aws_sdk_cloudtrail, &config, partition, calls),
            organizations: client!(aws_sdk_organizations, &config, partition, calls),
            account: client!(aws_sdk_account, &config, partition, calls),
            profile: conn
                .profile
                .clone()
                .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty())),
            endpoint: conn
                .endpoint_url
                .clone()
                .or(config.endpoint_url().map(str::to_string)),
        })
    }
}
