//! Lambda: the function, its resource policy (read, parsed, added to and removed from) and
//! the account's concurrency settings.

use anyhow::{Result, anyhow};

use super::AwsCloud;
use super::errors::{self, classify, found};
use crate::plan::cloud::{AccountSettings, Added, FunctionInfo, PolicyStatement};

pub(super) async fn function(aws: &AwsCloud, name: &str) -> Result<Option<FunctionInfo>> {
    let Some(out) = found(aws.lambda.get_function().function_name(name).send().await)? else {
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

pub(super) async fn policy_statements(
    aws: &AwsCloud,
    function: &str,
) -> Result<Vec<PolicyStatement>> {
    let out = found(aws.lambda.get_policy().function_name(function).send().await)?;
    Ok(out
        .and_then(|o| o.policy().map(parse_policy))
        .unwrap_or_default())
}

pub(super) async fn account_settings(aws: &AwsCloud) -> Result<AccountSettings> {
    let out = aws
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

pub(super) async fn add_permission(
    aws: &AwsCloud,
    function: &str,
    st: &PolicyStatement,
) -> Result<Added> {
    let mut req = aws
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
                let existing = policy_statements(aws, function).await?;
                if existing.iter().any(|s| s == st) {
                    return Ok(Added::AlreadyThere);
                }
            }
            Err(e.into())
        }
    }
}

pub(super) async fn remove_permission(aws: &AwsCloud, function: &str, sid: &str) -> Result<()> {
    let req = aws
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(sid);
    // Already gone is done.
    found(req.send().await)?;
    Ok(())
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
