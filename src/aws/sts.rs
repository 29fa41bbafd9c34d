//! STS: the caller's identity, the first call in a region, and a call that never reached AWS
//! explained in the user's terms (the profile, the endpoint).

use anyhow::Result;
use aws_config::retry::RetryConfig;

use super::errors::classify;
use super::{AwsCloud, profiles};
use crate::plan::cloud::{Identity, Unsent};

impl AwsCloud {
    /// The caller's identity, asked with `sts`. The first call in a region: a region that
    /// does not exist never answers, so a few attempts are enough to tell. A call that never
    /// reached AWS says why, in the user's terms (the profile, the endpoint).
    pub(super) async fn identity_with(&self, sts: &aws_sdk_sts::Client) -> Result<Identity> {
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
