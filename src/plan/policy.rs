//! Reading a resource policy (a topic's) as AWS would for one caller account: does it let that
//! account perform an action? Conditions the tool cannot judge make the answer "cannot tell".
//! Pure.

use serde_json::Value;

/// What a policy says about one account and action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Allowed,
    /// No statement allows it (or one denies it).
    Refused,
    /// Only statements with conditions the tool cannot judge would allow it.
    Unsure,
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// `pattern` (IAM's `*` and `?`), case-insensitive as IAM actions are.
fn matches(pattern: &str, value: &str) -> bool {
    fn go(p: &[u8], v: &[u8]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], v) || (!v.is_empty() && go(p, &v[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &v[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &v[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), value.as_bytes())
}

/// Does the statement's principal name `account` (its id, its root, or anyone)?
fn names(statement: &Value, account: &str) -> bool {
    let principal = &statement["Principal"];
    let mut who = list(principal);
    who.extend(list(&principal["AWS"]));
    who.iter().any(|p| {
        p == "*" || p == account || p.split(':').nth(4) == Some(account) && p.ends_with(":root")
    })
}

/// The conditions a statement holds for `account` alone: none, or only
/// `aws:PrincipalAccount` naming it. `None`: conditions the tool cannot judge.
fn conditions_hold(statement: &Value, account: &str) -> Option<bool> {
    let Some(conditions) = statement["Condition"].as_object() else {
        return Some(true);
    };
    let mut holds = true;
    for (operator, keys) in conditions {
        let keys = keys.as_object()?;
        for (key, values) in keys {
            let known = key.eq_ignore_ascii_case("aws:PrincipalAccount")
                && matches!(operator.as_str(), "StringEquals" | "StringLike");
            if !known {
                return None;
            }
            holds &= list(values).iter().any(|v| matches(v, account));
        }
    }
    Some(holds)
}

/// Does `policy` let `account` perform `action`? A matching Deny wins.
pub fn grants(policy: &str, action: &str, account: &str) -> Grant {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Grant::Unsure;
    };
    let statements = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    };
    let mut grant = Grant::Refused;
    for s in &statements {
        let acts = list(&s["Action"]).iter().any(|a| matches(a, action));
        if !acts || !names(s, account) {
            continue;
        }
        match (s["Effect"].as_str(), conditions_hold(s, account)) {
            (Some("Deny"), Some(true)) => return Grant::Refused,
            (Some("Allow"), Some(true)) => grant = Grant::Allowed,
            (Some("Allow"), None) if grant == Grant::Refused => grant = Grant::Unsure,
            _ => {}
        }
    }
    grant
}

/// The statement that lets `account` subscribe to `topic` (and read the topic and its
/// subscriptions, as `deploy`'s preflight and `verify` do).
pub fn subscribe_statement(account: &str, topic: &str) -> String {
    serde_json::json!({
        "Sid": format!("AllowTaegisSubscribe{account}"),
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": ["sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"],
        "Resource": topic,
    })
    .to_string()
}

/// Does a key policy let `role` decrypt: directly, or by delegating to IAM (the guide's
/// "Enable IAM User Permissions" statement), where the function's role policy grants it?
pub fn key_allows(policy: &str, account: &str, role: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        o => vec![o.clone()],
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .any(|s| {
            let principals = list(&s["Principal"]["AWS"]);
            let actions = list(&s["Action"]);
            let decrypts = actions
                .iter()
                .any(|a| a == "kms:*" || a == "kms:Decrypt" || a == "*");
            let root = principals
                .iter()
                .any(|p| p == account || p.ends_with(&format!(":{account}:root")));
            let the_role = principals.iter().any(|p| p == role || p == "*");
            decrypts && (root || the_role)
        })
}

/// The key policy statement that delegates the key to IAM (the guide's "Enable IAM User
/// Permissions"): the role's own policy then decides.
pub fn delegation_statement(account: &str) -> String {
    serde_json::json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*",
    })
    .to_string()
}

/// The key policy statement that lets the function's role decrypt.
pub fn decrypt_statement(role: &str) -> String {
    serde_json::json!({
        "Sid": "AllowTaegisCloudTrailFunctionToDecrypt",
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": "kms:Decrypt",
        "Resource": "*",
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_policies_read_as_aws_would() {
        let topic = "arn:aws:sns:us-east-1:999999999999:org-trail";
        let policy = |statements: serde_json::Value| {
            serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
        };
        let member = "111111111111";
        for (name, statements, want) in [
            (
                "the account's root",
                serde_json::json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sns:Subscribe", "Resource": topic}]),
                Grant::Allowed,
            ),
            (
                "anyone, every SNS action, in a list",
                serde_json::json!([{"Effect": "Allow", "Principal": "*", "Action": ["SNS:*"], "Resource": topic}]),
                Grant::Allowed,
            ),
            (
                "the owner only (the default policy)",
                serde_json::json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["SNS:Subscribe", "SNS:Publish"], "Resource": topic, "Condition": {"StringEquals": {"AWS:SourceOwner": "999999999999"}}}]),
                Grant::Unsure,
            ),
            (
                "another account",
                serde_json::json!([{"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": "sns:Subscribe", "Resource": topic}]),
                Grant::Refused,
            ),
            (
                "allowed, then denied",
                serde_json::json!([
                    {"Effect": "Allow", "Principal": {"AWS": member}, "Action": "sns:Subscribe", "Resource": topic},
                    {"Effect": "Deny", "Principal": "*", "Action": "sns:Sub*", "Resource": topic}]),
                Grant::Refused,
            ),
            (
                "the caller's account by condition",
                serde_json::json!([{"Effect": "Allow", "Principal": "*", "Action": "sns:Subscribe", "Resource": topic, "Condition": {"StringEquals": {"aws:PrincipalAccount": [member]}}}]),
                Grant::Allowed,
            ),
            (
                "only publishing",
                serde_json::json!([{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": topic}]),
                Grant::Refused,
            ),
        ] {
            assert_eq!(
                grants(&policy(statements), "sns:Subscribe", member),
                want,
                "{name}"
            );
        }
        let st = subscribe_statement(member, topic);
        assert_eq!(
            grants(
                &policy(serde_json::from_str(&format!("[{st}]")).unwrap()),
                "sns:Subscribe",
                member
            ),
            Grant::Allowed
        );
    }
}
