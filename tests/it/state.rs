//! What a deploy leaves in an account, as comparable text: two accounts that went through
//! different histories must end up with the same text.

use crate::harness::Account;
use crate::seed;

pub const FUNCTION: &str = "taegis-cloudtrail-scwx-tdr-lambda-awscloudtrail";

/// Everything a deploy to `bucket` made, with the account id and bucket name neutralised.
pub async fn final_state(acct: &Account, bucket: &str, credentials: &str) -> String {
    let mut out = Vec::new();
    let cfn = acct.cfn();
    for name in ["taegis-shared-resources", "taegis-cloudtrail"] {
        let status = match cfn.describe_stacks().stack_name(name).send().await {
            Ok(o) => o.stacks()[0]
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            Err(_) => "absent".into(),
        };
        out.push(format!("stack {name}: {status}"));
    }
    let all = cfn.list_stacks().send().await.unwrap();
    let live: Vec<_> = all
        .stack_summaries()
        .iter()
        .filter(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
        .filter_map(|s| s.stack_name())
        .collect();
    out.push(format!("live stacks: {}", live.len()));

    match acct
        .lambda()
        .get_function()
        .function_name(FUNCTION)
        .send()
        .await
    {
        Ok(f) => {
            let c = f.configuration().unwrap();
            let mut env: Vec<_> = c
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.keys().cloned().collect())
                .unwrap_or_default();
            env.sort();
            out.push(format!(
                "function: runtime {:?} handler {:?} reserved {:?} env {env:?}",
                c.runtime().map(|r| r.as_str().to_string()),
                c.handler(),
                f.concurrency()
                    .and_then(|c| c.reserved_concurrent_executions()),
            ));
            let policy = acct
                .lambda()
                .get_policy()
                .function_name(FUNCTION)
                .send()
                .await;
            let statements = policy
                .ok()
                .and_then(|p| serde_json::from_str::<serde_json::Value>(p.policy()?).ok())
                .and_then(|v| v["Statement"].as_array().cloned())
                .unwrap_or_default();
            for s in statements {
                out.push(format!(
                    "statement {} {} {} {}",
                    s["Sid"],
                    s["Principal"]["Service"],
                    s["Condition"]["ArnLike"]["AWS:SourceArn"],
                    s["Condition"]["StringEquals"]["AWS:SourceAccount"]
                ));
            }
        }
        Err(_) => out.push("function: absent".into()),
    }

    let n = seed::notifications(acct, bucket).await;
    for l in n.lambda_function_configurations() {
        let rules: Vec<_> = l
            .filter()
            .and_then(|f| f.key())
            .map(|k| {
                k.filter_rules()
                    .iter()
                    .map(|r| format!("{:?}={:?}", r.name(), r.value()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(format!(
            "notification lambda {:?} {} {:?} {rules:?}",
            l.id(),
            l.lambda_function_arn(),
            l.events()
        ));
    }
    for q in n.queue_configurations() {
        out.push(format!("notification queue {:?} {}", q.id(), q.queue_arn()));
    }
    for t in n.topic_configurations() {
        out.push(format!("notification topic {:?} {}", t.id(), t.topic_arn()));
    }

    let zips = acct
        .s3()
        .list_objects_v2()
        .bucket(format!("{bucket}-zips"))
        .send()
        .await;
    let keys: Vec<String> = zips
        .map(|z| {
            z.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.push(format!("zips: {keys:?}"));

    if let Ok(o) = cfn
        .describe_stacks()
        .stack_name("taegis-shared-resources")
        .send()
        .await
    {
        let arn = o.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("SecretArn"))
            .and_then(|o| o.output_value())
            .map(str::to_string);
        if let Some(arn) = arn {
            let v = acct
                .secrets()
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .unwrap();
            out.push(format!(
                "secret holds the credentials: {}",
                v.secret_string() == Some(credentials)
            ));
        }
    }
    out.join("\n")
        .replace(&acct.id, "<account>")
        .replace(bucket, "<bucket>")
}
