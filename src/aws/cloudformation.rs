//! CloudFormation: the stack (its status, parameters, outputs and events), its template and
//! function, exports and their imports, and creating, updating and deleting it, each write
//! with a request token so a retried call does not start the operation twice.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_cloudformation::types::{Capability, Parameter as CfnParameter};

use super::AwsCloud;
use super::errors::{self, classify};
use crate::plan::ParamValue;
use crate::plan::cloud::{ErrorKind, Export, StackEvent, StackInfo, TemplateSource, UpdateStarted};
use crate::plan::status::{ResourceStatus, StackStatus};

pub(super) async fn stack(aws: &AwsCloud, name_or_id: &str) -> Result<Option<StackInfo>> {
    let asked = aws
        .cfn
        .describe_stacks()
        .stack_name(name_or_id)
        .send()
        .await;
    let Some(out) = errors::unless(asked, errors::is_stack_missing)? else {
        return Ok(None);
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
        parameters: pairs(s.parameters(), |p| (p.parameter_key(), p.parameter_value())),
        outputs: pairs(s.outputs(), |o| (o.output_key(), o.output_value())),
        export_names: s
            .outputs()
            .iter()
            .filter_map(|o| o.export_name().map(str::to_string))
            .collect(),
    }))
}

/// Keys and values (a missing value is empty; an entry without a key is left out).
fn pairs<T>(
    items: &[T],
    kv: impl Fn(&T) -> (Option<&str>, Option<&str>),
) -> std::collections::BTreeMap<String, String> {
    items
        .iter()
        .filter_map(|i| match kv(i) {
            (Some(k), v) => Some((k.to_string(), v.unwrap_or_default().to_string())),
            (None, _) => None,
        })
        .collect()
}

pub(super) async fn template_body(aws: &AwsCloud, stack: &str) -> Result<String> {
    let out = aws
        .cfn
        .get_template()
        .stack_name(stack)
        .send()
        .await
        .map_err(classify)?;
    Ok(out.template_body().unwrap_or_default().to_string())
}

pub(super) async fn stack_events(
    aws: &AwsCloud,
    stack_id: &str,
    until: Option<&str>,
) -> Result<Vec<StackEvent>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
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

pub(super) async fn stack_function(aws: &AwsCloud, stack: &str) -> Result<Option<String>> {
    let out = aws
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

pub(super) async fn exports(aws: &AwsCloud) -> Result<Vec<Export>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
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

pub(super) async fn imports(aws: &AwsCloud, export: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = aws.cfn.list_imports().export_name(export);
        let asked = req.set_next_token(token.take()).send().await;
        // "Export 'X' is not imported by any stack."
        let Some(page) = errors::unless(asked, errors::is_not_imported)? else {
            return Ok(out);
        };
        out.extend(page.imports().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

pub(super) async fn create_stack(
    aws: &AwsCloud,
    name: &str,
    template: &TemplateSource,
    params: &BTreeMap<String, ParamValue>,
) -> Result<String> {
    let (body, url) = template_parts(template);
    let out = aws
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
                && let Some(s) = stack(aws, name).await?
                && s.status.from_a_create()
            {
                return Ok(s.id);
            }
            Err(e.into())
        }
    }
}

pub(super) async fn update_stack(
    aws: &AwsCloud,
    name: &str,
    template: &TemplateSource,
    params: &BTreeMap<String, ParamValue>,
) -> Result<UpdateStarted> {
    let (body, url) = template_parts(template);
    match aws
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
                && let Some(s) = stack(aws, name).await?
            {
                // A retried call whose first attempt went through: follow that update.
                Ok(UpdateStarted::Started { stack_id: s.id })
            } else {
                Err(e.into())
            }
        }
    }
}

pub(super) async fn delete_stack(aws: &AwsCloud, name_or_id: &str) -> Result<()> {
    aws.cfn
        .delete_stack()
        .client_request_token(request_token())
        .stack_name(name_or_id)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

/// A token for one CloudFormation operation: the SDK's retries of the same call carry it, so
/// CloudFormation does not start the operation twice when an answer was lost.
fn request_token() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("taegis-cloudtrail-{}-{nanos}-{n}", std::process::id())
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
