//! Pure checks of single values: region, stack and bucket names, ARNs, XDR login URLs, and
//! what users paste for a bucket. Each returns the reason in words, for the caller to label.

use crate::config::{FUNCTION_INFIX, MAX_FUNCTION_NAME, XDR_REGIONS};

/// A well-formed region name: two letters, one or more words, a number (`us-east-1`,
/// `us-gov-west-1`, `eu-isoe-west-1`). Whether AWS knows it, and whether the account has it
/// enabled, only the first call there can tell: the tool keeps no list, so a new region needs
/// no new release.
pub fn check_region(r: &str) -> Result<(), String> {
    if r.is_empty() {
        return Err("a region is empty; give a region such as us-east-1".into());
    }
    let parts: Vec<&str> = r.split('-').collect();
    let words = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()));
    let number = parts
        .last()
        .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
    if words && number {
        Ok(())
    } else {
        Err(format!(
            "region {r:?} is not an AWS region name; a region looks like us-east-1 or eu-central-2"
        ))
    }
}

/// Replace `{account}` and `{region}`.
pub fn expand(s: &str, account: &str, region: &str) -> String {
    s.replace("{account}", account).replace("{region}", region)
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (is_account_id(parts[4]) || parts[4] == "{account}")
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

/// CloudFormation stack names; for the Lambda stack (`integration_type` given), also the room the
/// function name `{stack}-scwx-tdr-lambda-{type}` leaves within Lambda's 64 characters.
pub fn check_stack_name(name: &str, integration_type: Option<&str>) -> Result<(), String> {
    if name.is_empty() {
        return Err("a stack name may not be empty".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("a stack name must start with a letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "a stack name may hold only letters, digits and hyphens, not {bad:?}"
        ));
    }
    if name.len() > 128 {
        return Err(format!(
            "a stack name is at most 128 characters; this one has {}",
            name.len()
        ));
    }
    if let Some(t) = integration_type {
        let budget = MAX_FUNCTION_NAME.saturating_sub(FUNCTION_INFIX.len() + t.len());
        if name.len() > budget {
            return Err(format!(
                "the function is named {name}{FUNCTION_INFIX}{t}, longer than Lambda's {MAX_FUNCTION_NAME} characters; use a stack name of at most {budget} characters"
            ));
        }
    }
    Ok(())
}

/// S3 bucket naming rules (general purpose buckets).
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let n = name.len();
    if !(3..=63).contains(&n) {
        return Err(format!(
            "a bucket name has 3 to 63 characters; this one has {n}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "a bucket name holds only lowercase letters, digits, dots and hyphens, not {bad:?}"
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("a bucket name starts and ends with a letter or digit".into());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err("a bucket name may not hold \"..\", \".-\" or \"-.\"".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("a bucket name may not look like an IP address".into());
    }
    Ok(())
}

/// Turn what users paste for a bucket (`s3://b/prefix`, `arn:aws:s3:::b`,
/// `https://b.s3.<region>.amazonaws.com/prefix`) into a name and an optional prefix, with a notice
/// when it was not a plain name.
pub fn normalize_bucket(raw: &str) -> Result<(String, Option<String>, Option<String>), String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the bucket name is empty".into());
    }
    let split = |rest: &str| -> (String, Option<String>) {
        match rest.split_once('/') {
            Some((b, p)) if !p.is_empty() => (b.to_string(), Some(p.to_string())),
            Some((b, _)) => (b.to_string(), None),
            None => (rest.to_string(), None),
        }
    };
    let (name, prefix) = if let Some(rest) = raw.strip_prefix("s3://") {
        split(rest)
    } else if let Some(rest) = raw
        .strip_prefix("arn:aws:s3:::")
        .or_else(|| raw.strip_prefix("arn:aws-us-gov:s3:::"))
        .or_else(|| raw.strip_prefix("arn:aws-cn:s3:::"))
    {
        split(rest)
    } else if let Some(rest) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.split(['?', '#']).next().unwrap_or("");
        if let Some(idx) = host.find(".s3.").or_else(|| host.find(".s3-")) {
            // virtual-hosted style: b.s3.<region>.amazonaws.com/prefix
            if !host.ends_with(".amazonaws.com") {
                return Err("not an S3 URL; give the bucket's name".into());
            }
            let p = (!path.is_empty()).then(|| path.to_string());
            (host[..idx].to_string(), p)
        } else if host.starts_with("s3.") || host.starts_with("s3-") {
            // path style: s3.<region>.amazonaws.com/b/prefix
            split(path)
        } else {
            return Err("not an S3 URL; give the bucket's name, e.g. my-trail-logs".into());
        }
    } else if raw.contains("://") || raw.starts_with("arn:") {
        return Err(
            "not a bucket name, s3:// URL, S3 ARN or S3 URL; give the bucket's name".into(),
        );
    } else if raw.contains('/') {
        return Err("a bucket name holds no \"/\"; give the prefix with --prefix".into());
    } else {
        return Ok((raw.to_string(), None, None));
    };
    if name.is_empty() {
        return Err("no bucket name in it; give the bucket's name".into());
    }
    let notice = format!(
        "--notification-bucket {raw} read as bucket {name}{}",
        prefix
            .as_ref()
            .map(|p| format!(" with prefix {p}"))
            .unwrap_or_default()
    );
    Ok((name, prefix, Some(notice)))
}

/// Check `arn:<partition>:<service>:<region>:<account>:<resource>`.
pub fn check_arn(arn: &str, service: &str, region: &str, kms: bool) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let what = if kms {
        "a KMS key ARN"
    } else {
        "an SNS topic ARN"
    };
    let example = if kms {
        format!("arn:aws:kms:{region}:123456789012:key/<key-id>")
    } else {
        format!("arn:aws:sns:{region}:123456789012:<topic>")
    };
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return Err(format!("not {what}; expected {example}"));
    }
    if parts[2] != service {
        return Err(format!(
            "is an ARN of service {:?}, not {what}; expected {example}",
            parts[2]
        ));
    }
    if !is_account_id(parts[4]) {
        return Err(format!(
            "the account {:?} is not 12 digits; expected {example}",
            parts[4]
        ));
    }
    if parts[5].is_empty()
        || (kms && !(parts[5].starts_with("key/") || parts[5].starts_with("alias/")))
        || parts[5].len() > 256
    {
        return Err(format!(
            "the resource part {:?} is not valid; expected {example}",
            parts[5]
        ));
    }
    if parts[3] != region {
        return Err(format!(
            "is in region {:?}, but the target region is {region}; it must be in the same region",
            parts[3]
        ));
    }
    Ok(())
}

/// `https://foxtrot.taegis.secureworks.com/...` → `foxtrot`.
pub fn xdr_region_from_url(url: &str) -> Result<String, String> {
    let rest = url.trim();
    let rest = rest
        .strip_prefix("https://")
        .or_else(|| rest.strip_prefix("http://"))
        .unwrap_or(rest);
    let host = rest
        .split(['/', '?', '#', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host.strip_prefix("api.").unwrap_or(&host);
    for (name, login) in XDR_REGIONS {
        if host == *login {
            return Ok(name.to_string());
        }
    }
    if let Some(name) = host.strip_suffix(".taegis.secureworks.com")
        && !name.is_empty()
        && !name.contains('.')
    {
        return Ok(name.to_string());
    }
    Err(format!(
        "--xdr-url {url:?} is not an XDR login URL such as https://foxtrot.taegis.secureworks.com; or give --taegis-region"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_checked_for_form_only() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "eu-isoe-west-1",
            "ap-southeast-7",
            "eu-future-1",
            "us-east-7",
        ] {
            assert!(check_region(ok).is_ok(), "{ok}");
        }
        for bad in [
            "mars-1",
            "",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "useast1",
            "us-east-123",
        ] {
            let e = check_region(bad).unwrap_err();
            assert!(e.contains("region"), "{bad}: {e}");
        }
    }

    #[test]
    fn bucket_urls_become_name_and_prefix() {
        for (raw, name, prefix) in [
            ("trail-logs", "trail-logs", None),
            ("s3://trail-logs/AWSLogs/", "trail-logs", Some("AWSLogs/")),
            ("s3://trail-logs", "trail-logs", None),
            ("arn:aws:s3:::trail-logs", "trail-logs", None),
            (
                "https://trail-logs.s3.eu-west-1.amazonaws.com/org/",
                "trail-logs",
                Some("org/"),
            ),
            (
                "https://s3.eu-west-1.amazonaws.com/trail-logs/x",
                "trail-logs",
                Some("x"),
            ),
        ] {
            let (n, p, notice) = normalize_bucket(raw).unwrap();
            assert_eq!((n.as_str(), p.as_deref()), (name, prefix), "{raw}");
            assert_eq!(notice.is_some(), raw != name, "{raw}");
        }
        for raw in [
            "https://example.com/b",
            "arn:aws:sns:us-east-1:1:t",
            "a/b",
            "ftp://b",
            "s3://",
        ] {
            assert!(normalize_bucket(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn stack_name_rules_and_function_budget() {
        assert!(check_stack_name("ct-demo", Some("awscloudtrail")).is_ok());
        assert!(
            check_stack_name("1abc", None)
                .unwrap_err()
                .contains("start with a letter")
        );
        assert!(check_stack_name("a b", None).unwrap_err().contains("' '"));
        assert!(
            check_stack_name(&"a".repeat(129), None)
                .unwrap_err()
                .contains("128")
        );
        // 64 - 17 - 13 = 34
        assert!(check_stack_name(&"a".repeat(34), Some("awscloudtrail")).is_ok());
        let e = check_stack_name(&"a".repeat(35), Some("awscloudtrail")).unwrap_err();
        assert!(e.contains("at most 34"), "{e}");
    }

    #[test]
    fn bucket_name_rules() {
        assert!(check_bucket_name("trail-logs.2026").is_ok());
        for bad in [
            "ab",
            "Trail",
            "-a-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
            "a_b",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arns_are_checked_for_service_and_region() {
        let sns = |a: &str| check_arn(a, "sns", "us-east-1", false);
        let kms = |a: &str| check_arn(a, "kms", "us-east-1", true);
        assert!(sns("arn:aws:sns:us-east-1:123456789012:t").is_ok());
        assert!(kms("arn:aws:kms:us-east-1:123456789012:key/abc").is_ok());
        let e = sns("arn:aws:sns:eu-west-1:123456789012:t").unwrap_err();
        assert!(e.contains("eu-west-1") && e.contains("us-east-1"), "{e}");
        let e = sns("arn:aws:sqs:us-east-1:123456789012:q").unwrap_err();
        assert!(e.contains("\"sqs\""), "{e}");
        assert!(kms("arn:aws:kms:us-east-1:123456789012:abc").is_err());
        assert!(kms("not-an-arn").is_err());
        assert!(sns("arn:aws:sns:us-east-1:12:t").is_err());
    }

    #[test]
    fn xdr_regions_from_urls() {
        for (url, r) in [
            ("https://ctpx.secureworks.com/", "ctpx"),
            ("https://foxtrot.taegis.secureworks.com/login", "foxtrot"),
            ("echo.taegis.secureworks.com", "echo"),
            ("https://api.delta.taegis.secureworks.com", "delta"),
        ] {
            assert_eq!(xdr_region_from_url(url).unwrap(), r);
        }
        assert!(xdr_region_from_url("https://example.com").is_err());
    }

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::{account}:role/D"));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/D"));
        assert!(!is_role_arn("arn:aws:s3:::bucket"));
    }
}
