//! Why a target's first call failed, said as the cause and its fix: no credentials, a profile
//! that does not exist, an expired SSO session, keys AWS refuses, a region that is not
//! enabled for the account (told apart by asking the partition's first region too), a role
//! that cannot be assumed, an endpoint that does not answer. Pure.

use super::cloud::{ErrorKind, Identity, Unsent};
use super::fact::{Fact, ReadError};
use crate::config::TargetConfig;
use crate::input::{Input, Problem};

/// AWS refused a request's credentials (or its region: a region that is not enabled refuses
/// every credential alike).
pub fn refused(e: &ReadError) -> bool {
    matches!(
        e.kind,
        ErrorKind::CredentialsRefused
            | ErrorKind::CredentialsExpired
            | ErrorKind::SignatureMismatch
    )
}

/// The first region of a region's partition, enabled in every account: where a refusal of
/// the credentials is checked again. `None` when `region` is that region.
pub fn home_region(region: &str) -> Option<&'static str> {
    let home = if region.starts_with("cn-") {
        "cn-north-1"
    } else if region.starts_with("us-gov-") {
        "us-gov-west-1"
    } else {
        "us-east-1"
    };
    (home != region).then_some(home)
}

/// The problem of a target whose identity could not be read: `e` from its region, and
/// `elsewhere` from the partition's first region when its region refused the credentials.
pub fn problem(t: &TargetConfig, e: &ReadError, elsewhere: &Fact<Identity>) -> Problem {
    let place = Place {
        region: t.region.clone(),
        role: t.role(),
        origin: t.origin.clone(),
        region_input: if t.given(Input::Regions) {
            Input::Regions
        } else {
            Input::Region
        },
    };
    explain(&place, e, elsewhere)
}

/// Where a first call was made: the region, the role assumed, where in the rollout file the
/// target came from, and the flag that named the region.
#[derive(Debug, Clone)]
pub struct Place {
    pub region: String,
    pub role: Option<String>,
    pub origin: String,
    pub region_input: Input,
}

/// The problem of a first call at `place` that failed with `e` (`elsewhere`: see [`problem`]).
pub fn explain(t: &Place, e: &ReadError, elsewhere: &Fact<Identity>) -> Problem {
    let region_input = t.region_input;
    let origin = &t.origin;
    if let (Some(role), Some(Unsent::Credentials(why))) = (&t.role, &e.unsent) {
        return Problem::about(
            Input::RoleArn,
            format!("--role-arn {role}{origin}"),
            format!("cannot be assumed ({why})"),
        )
        .fix("check that the role exists, that its trust policy lets the caller in, and that the caller may sts:AssumeRole it");
    }
    if let Some(u) = &e.unsent {
        return unsent(t, u, region_input);
    }
    let code = e.code.as_deref().unwrap_or_default();
    if refused(e) {
        return match elsewhere {
            Fact::Known(i) => Problem::about(
                region_input,
                format!("region {}{origin}", t.region),
                format!(
                    "{} is not an AWS region, or it is not enabled for account {}: AWS refuses every call there ({code}), while it accepts the same credentials in {}",
                    t.region,
                    i.account,
                    home_region(&t.region).unwrap_or("us-east-1")
                ),
            )
            .fix(format!(
                "enable the region in the account's settings (AWS Regions, or `aws account enable-region --region-name {}`), or leave it out",
                t.region
            )),
            _ => keys_refused(t, e),
        };
    }
    Problem::about(
        Input::AwsIdentity,
        format!("AWS credentials{origin}"),
        format!("cannot read the caller's identity in {} ({e})", t.region),
    )
    .fix("check the AWS credentials, --profile and --role-arn")
}

/// Credentials AWS refuses wherever they are used.
fn keys_refused(t: &Place, e: &ReadError) -> Problem {
    let fix = match e.kind {
        ErrorKind::CredentialsExpired => {
            "the session token has expired: get new credentials (`aws sso login`, or a new AssumeRole), or unset a stale AWS_SESSION_TOKEN"
        }
        ErrorKind::SignatureMismatch => {
            "the secret key does not belong to the access key id: check AWS_SECRET_ACCESS_KEY, or the profile's aws_secret_access_key"
        }
        _ => {
            "the access key id is not one AWS knows (deleted, deactivated, mistyped, or missing its AWS_SESSION_TOKEN): check AWS_ACCESS_KEY_ID or the profile, or make new keys"
        }
    };
    let subject = match &t.role {
        Some(role) => format!("AWS credentials of role {role}{}", t.origin),
        None => format!("AWS credentials{}", t.origin),
    };
    Problem::about(
        Input::AwsIdentity,
        subject,
        format!("refused by AWS ({})", e.message),
    )
    .fix(fix)
}

/// A call that never reached AWS.
fn unsent(t: &Place, u: &Unsent, region_input: Input) -> Problem {
    match u {
        Unsent::NoCredentials => Problem::about(
            Input::AwsIdentity,
            "AWS credentials",
            "none found: not in the environment (AWS_ACCESS_KEY_ID), a profile (--profile, AWS_PROFILE, the default profile), SSO, web identity, or a container or instance role",
        )
        .fix("run `aws configure` (or `aws configure sso` and `aws sso login`), then pass --profile NAME or set AWS_PROFILE"),
        Unsent::ProfileMissing { profile, known } => profile_missing(profile, known),
        Unsent::SsoExpired { profile } => sso_expired(profile.as_deref()),
        Unsent::Credentials(why) => Problem::about(
            Input::AwsIdentity,
            "AWS credentials",
            format!("cannot be loaded ({why})"),
        )
        .fix("check --profile, AWS_PROFILE and the AWS config files"),
        Unsent::Unreachable {
            endpoint,
            overridden: true,
            cause,
        } => Problem::about(
            Input::EndpointUrl,
            format!("--endpoint-url {endpoint}"),
            format!("does not answer ({cause})"),
        )
        .fix("start the endpoint, or correct --endpoint-url (or AWS_ENDPOINT_URL)"),
        Unsent::Unreachable {
            endpoint, cause, ..
        } => Problem::about(
            region_input,
            format!("region {}{}", t.region, t.origin),
            format!("AWS does not answer at {endpoint} ({cause})"),
        )
        .fix(format!(
            "check that {} is a region AWS has, and the network and any proxy (HTTPS_PROXY)",
            t.region
        )),
    }
}

/// A profile asked for that neither AWS file defines; the ones they do.
fn profile_missing(profile: &str, known: &[String]) -> Problem {
    let there = if known.is_empty() {
        "they define no profile".to_string()
    } else {
        format!("the profiles there: {}", known.join(", "))
    };
    Problem::about(
        Input::Profile,
        format!("--profile {profile}"),
        format!("no such profile in the AWS config or credentials file ({there})"),
    )
    .fix(format!(
        "`aws configure --profile {profile}` makes it; or give a profile that exists"
    ))
}

/// The SSO session behind the profile has expired.
fn sso_expired(profile: Option<&str>) -> Problem {
    let login = match profile {
        Some(p) => format!("aws sso login --profile {p}"),
        None => "aws sso login".to_string(),
    };
    let whose = profile
        .map(|p| format!(" of profile {p}"))
        .unwrap_or_default();
    Problem::about(
        Input::Profile,
        format!("the AWS SSO session{whose}"),
        "has expired",
    )
    .fix(format!("run `{login}`, then run this again"))
}
