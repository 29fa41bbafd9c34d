//! Preflight and planning for one target: reads the cloud (never writes), collects every problem,
//! and returns the steps a run will take.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;

use super::cloud::{Cloud, NotificationEntry, StackInfo};
use super::follow::{ANY, Follow, Settled, explain};
use super::{
    Action, Event, FunctionRef, LambdaZip, OldTrigger, ParamValue, Step, StepKind, TargetInputs,
    TargetPlan, TriggerSpec, Watch,
};
use crate::cli::Trigger;
use crate::config::{self, TargetConfig};
use crate::secret::Secret;
use crate::template::Template;

/// What every target shares: the files read once by the command.
pub struct Shared {
    pub zip: Arc<LambdaZip>,
    pub shared_template: Arc<Template>,
    pub lambda_template: Arc<Template>,
    pub secret: Arc<Secret>,
    pub update_credentials: bool,
    /// The date the run happens on (YYYY-MM-DD), for the runtime deprecation notice.
    pub today: String,
}

pub const S3_STATEMENT_ID: &str = "taegis-cloudtrail-s3-invoke";
pub const SNS_STATEMENT_ID: &str = "taegis-cloudtrail-sns-invoke";
pub const OBJECT_CREATED: &str = "s3:ObjectCreated:*";
/// The S3 user-metadata key holding the zip's SHA-256.
pub const HASH_METADATA: &str = "taegis-sha256";

/// Our notification entry's stable Id: one per Lambda stack.
pub fn notification_id(stack_name: &str) -> String {
    format!("taegis-cloudtrail-{stack_name}")
}

/// The zip's object key: content-addressed when the template can take the key.
pub fn zip_key(template: &Template, sha256: &str) -> String {
    if template.declares("TaegisLambdaS3Key") {
        format!(
            "taegis-lambda-amd64-{}.zip",
            &sha256[..16.min(sha256.len())]
        )
    } else {
        crate::config::DEFAULT_LAMBDA_ZIP.to_string()
    }
}

/// Does an existing notification entry collide with ours (S3 would refuse both)?
pub fn overlaps(entry: &NotificationEntry, our_prefix: &str) -> bool {
    let events_overlap = entry
        .events
        .iter()
        .any(|e| e == "s3:*" || e == "s3:ObjectCreated:*" || e.starts_with("s3:ObjectCreated:"));
    let prefix_overlap =
        entry.prefix.starts_with(our_prefix) || our_prefix.starts_with(entry.prefix.as_str());
    // Our suffix is empty, so every suffix overlaps with it.
    events_overlap && prefix_overlap
}

/// What the deprecation of `provided.al2` means on `today` (YYYY-MM-DD).
pub fn al2_warning(today: &str) -> String {
    let stage = if today >= "2027-02-01" {
        "creating new functions with it is blocked since 2027-02-01"
    } else if today >= "2026-07-31" {
        "it is deprecated since 2026-07-31 and AWS blocks creating new functions with it from 2027-02-01 (some older notices say earlier)"
    } else {
        "it is deprecated from 2026-07-31, and AWS blocks creating new functions with it from 2027-02-01"
    };
    format!(
        "the Lambda template uses runtime provided.al2: {stage}; use provided.al2023 (--parameter LambdaRuntime=provided.al2023 with the bundled template)"
    )
}

fn stack_state_problem(kind: &str, s: &StackInfo) -> Option<String> {
    if s.healthy() || s.needs_recreate() {
        return None;
    }
    if s.in_progress() {
        return Some(format!(
            "{kind} stack {} is {} (another deploy, or one that was interrupted); wait until it settles and re-run",
            s.name, s.status
        ));
    }
    Some(format!(
        "{kind} stack {} is {}{}; repair or delete it in CloudFormation, then re-run",
        s.name,
        s.status,
        s.reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    ))
}

/// A target's preflight found problems: nothing was changed.
#[derive(Debug, Clone)]
pub struct PreflightFailed {
    /// The account, when the caller's identity could be read.
    pub account: Option<String>,
    pub problems: Vec<String>,
}

impl PreflightFailed {
    pub fn new(account: Option<String>, problems: Vec<String>) -> PreflightFailed {
        PreflightFailed { account, problems }
    }
}

/// Read a stack; one found mid-operation (another run, or an interrupted one) is followed until
/// it settles, then read again. Following only reads.
async fn settled_stack<C: Cloud>(
    cloud: &C,
    watch: Watch<'_>,
    label: &str,
    name: &str,
) -> Result<Option<StackInfo>, String> {
    let read = |e: anyhow::Error| format!("cannot read stack {name} ({})", one_line(&e));
    let s = match cloud.stack(name).await.map_err(read)? {
        Some(s) if s.in_progress() => s,
        other => return Ok(other),
    };
    watch.reporter.event(Event::Notice {
        target: label.to_string(),
        text: format!(
            "stack {name} is {} (another run, or an interrupted one): following it until it settles",
            s.status
        ),
    });
    let until = cloud
        .stack_events(&s.id, None)
        .await
        .ok()
        .and_then(|e| e.into_iter().next().map(|e| e.id));
    let follow = Follow {
        cloud,
        watch,
        target: label,
    };
    match follow
        .run(name, &s.id, until.as_deref(), ANY)
        .await
        .map_err(read)?
    {
        Settled::Done { .. } | Settled::Failed { .. } => cloud.stack(name).await.map_err(read),
        other => Err(one_line(&explain(name, &other))),
    }
}

/// Preflight one target and return its plan, or every problem found.
pub async fn plan_target<C: Cloud>(
    cloud: &C,
    target: &TargetConfig,
    shared: &Shared,
    watch: Watch<'_>,
) -> Result<TargetPlan, PreflightFailed> {
    let mut problems: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let region = target.region.as_str();

    // Identity first: without it nothing else can be read.
    let identity = match cloud.identity().await {
        Ok(i) => i,
        Err(e) => {
            return Err(PreflightFailed::new(
                None,
                vec![format!(
                    "cannot read the caller's identity in {region} ({}); check the AWS credentials, --profile and --role-arn",
                    one_line(&e)
                )],
            ));
        }
    };
    let account = identity.account.clone();
    // aws, aws-us-gov, aws-cn: from the caller's own ARN.
    let partition = identity
        .arn
        .split(':')
        .nth(1)
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws")
        .to_string();
    if let Some(want) = &target.account
        && *want != account
    {
        problems.push(format!(
            "the role for account {want} answered as account {account}; check --role-arn"
        ));
    }

    let lambda_bucket = config::expand(&target.lambda_bucket, &account, region);
    let notification_bucket = config::expand(&target.notification_bucket, &account, region);
    for (flag, b) in [
        ("--lambda-bucket", &lambda_bucket),
        ("--notification-bucket", &notification_bucket),
    ] {
        if let Err(e) = config::check_bucket_name(b) {
            problems.push(format!("{flag} {b:?}: {e}"));
        }
    }

    // Parameters of both templates.
    let mut shared_params: BTreeMap<String, ParamValue> = BTreeMap::new();
    let shared_t = &shared.shared_template;
    let lambda_t = &shared.lambda_template;
    {
        let mut check = BTreeMap::new();
        check.insert(
            "SecretValue".to_string(),
            shared.secret.expose().to_string(),
        );
        check.insert("TaegisRegion".to_string(), target.taegis_region.clone());
        if shared_t
            .parameter("SecretValue")
            .is_some_and(|p| !p.no_echo)
        {
            problems.push(format!(
                "the {}: parameter SecretValue is not NoEcho, so the credentials would show in the CloudFormation console and in DescribeStacks; add `NoEcho: true` to it",
                shared_t.source
            ));
        }
        for p in shared_t.check_values(&check, &["SecretValue"]) {
            problems.push(
                if p.contains("TaegisRegion") && !p.contains("not declared") {
                    format!("--taegis-region: {p}")
                } else {
                    p
                },
            );
        }
        shared_params.insert(
            "SecretValue".into(),
            ParamValue::Secret(shared.secret.clone()),
        );
        shared_params.insert(
            "TaegisRegion".into(),
            ParamValue::Plain(target.taegis_region.clone()),
        );
    }

    let key = zip_key(lambda_t, &shared.zip.sha256);
    let mut lambda_params: BTreeMap<String, String> = BTreeMap::new();
    let mut flag_for: BTreeMap<&str, &str> = BTreeMap::new();
    lambda_params.insert("NotificationBucket".into(), notification_bucket.clone());
    flag_for.insert("NotificationBucket", "--notification-bucket");
    lambda_params.insert("TaegisLambdaS3BucketName".into(), lambda_bucket.clone());
    flag_for.insert("TaegisLambdaS3BucketName", "--lambda-bucket");
    if target.integration_type_given || lambda_t.declares("IntegrationType") {
        lambda_params.insert("IntegrationType".into(), target.integration_type.clone());
        flag_for.insert("IntegrationType", "--integration-type");
    }
    if lambda_t.declares("TaegisLambdaS3Key") {
        lambda_params.insert("TaegisLambdaS3Key".into(), key.clone());
    }
    if let Some(arn) = &target.sns_topic_arn {
        lambda_params.insert("SNSNotificationarn".into(), arn.clone());
        flag_for.insert("SNSNotificationarn", "--sns-topic-arn");
    }
    if let Some(arn) = &target.bucket_kms_key_arn {
        lambda_params.insert(
            "NotificationBucketCustomerManagedKMSarn".into(),
            arn.clone(),
        );
        flag_for.insert(
            "NotificationBucketCustomerManagedKMSarn",
            "--bucket-kms-key-arn",
        );
    }
    if let Some(arn) = &target.lambda_env_kms_key_arn {
        lambda_params.insert("LambdaEnvKMSarn".into(), arn.clone());
        flag_for.insert("LambdaEnvKMSarn", "--lambda-env-kms-key-arn");
    }
    for (k, v) in &target.parameters {
        if let Some(flag) = flag_for.get(k.as_str())
            && lambda_params.get(k) != Some(v)
        {
            problems.push(format!(
                "--parameter {k} conflicts with {flag}; give the value once, with {flag}"
            ));
            continue;
        }
        lambda_params.insert(k.clone(), v.clone());
    }
    for p in lambda_t.check_values(&lambda_params, &[]) {
        let named = flag_for
            .iter()
            .find(|(param, _)| p.starts_with(&format!("parameter {param}")))
            .map(|(_, flag)| format!("{flag}: {p}"));
        problems.push(named.unwrap_or(p));
    }
    let runtimes = lambda_t.function_runtimes(&lambda_params);
    if runtimes.iter().any(|r| r == "provided.al2") {
        warnings.push(al2_warning(&shared.today));
    }
    for r in runtimes.iter().filter(|r| !r.starts_with("provided")) {
        warnings.push(format!(
            "the Lambda template's function runtime is {r}; the Taegis function is a custom runtime (provided.al2023)"
        ));
    }

    // Buckets.
    let mut steps = Vec::new();
    match cloud.bucket_region(&notification_bucket).await {
        Ok(None) => problems.push(format!(
            "--notification-bucket {notification_bucket}: no such bucket visible to account {account}; give the bucket CloudTrail writes to"
        )),
        Ok(Some(r)) if r != region => problems.push(format!(
            "--notification-bucket {notification_bucket} is in {r}, not in the target region {region}; the function must be in the bucket's region: deploy with --region {r}"
        )),
        Ok(Some(_)) => {}
        Err(e) => problems.push(format!(
            "--notification-bucket {notification_bucket}: cannot read its location ({})",
            one_line(&e)
        )),
    }
    let mut zip_present: Option<Option<String>> = None;
    match cloud.bucket_region(&lambda_bucket).await {
        Ok(None) => steps.push(Step {
            kind: StepKind::LambdaBucket,
            action: Action::Create,
            detail: format!("bucket {lambda_bucket} is missing: create it in {region}, private and encrypted"),
        }),
        Ok(Some(r)) if r != region => problems.push(format!(
            "--lambda-bucket {lambda_bucket} is in {r}; Lambda reads its code only from a bucket in the function's region {region}: use a bucket per region, e.g. --lambda-bucket 'taegis-lambda-{{account}}-{{region}}'"
        )),
        Ok(Some(_)) => {
            steps.push(Step {
                kind: StepKind::LambdaBucket,
                action: Action::Skip,
                detail: format!("bucket {lambda_bucket} exists in {region}"),
            });
            match cloud.object_hash(&lambda_bucket, &key).await {
                Ok(h) => zip_present = h,
                Err(e) => problems.push(format!(
                    "--lambda-bucket {lambda_bucket}: cannot read object {key} ({})",
                    one_line(&e)
                )),
            }
        }
        Err(e) => problems.push(format!(
            "--lambda-bucket {lambda_bucket}: cannot read its location ({})",
            one_line(&e)
        )),
    }
    let zip_changed = zip_present.as_ref() != Some(&Some(shared.zip.sha256.clone()));
    steps.push(Step {
        kind: StepKind::UploadZip,
        action: match &zip_present {
            None => Action::Create,
            Some(h) if h.as_deref() == Some(shared.zip.sha256.as_str()) => Action::Skip,
            Some(_) => Action::Update,
        },
        detail: match &zip_present {
            None => format!("upload s3://{lambda_bucket}/{key}"),
            Some(h) if h.as_deref() == Some(shared.zip.sha256.as_str()) => {
                format!("s3://{lambda_bucket}/{key} already has this content")
            }
            Some(_) => format!("s3://{lambda_bucket}/{key} differs: upload the new content"),
        },
    });

    // SNS topic.
    if let Some(topic) = &target.sns_topic_arn {
        match cloud.topic_exists(topic).await {
            Ok(true) => {}
            Ok(false) => problems.push(format!(
                "--sns-topic-arn {topic}: no such topic visible to account {account}"
            )),
            Err(e) => problems.push(format!(
                "--sns-topic-arn {topic}: cannot read it ({})",
                one_line(&e)
            )),
        }
    }

    // Stacks.
    let label = format!("{account}/{region}");
    let shared_stack = settled_stack(cloud, watch, &label, &target.shared_stack_name)
        .await
        .unwrap_or_else(|p| {
            problems.push(p);
            None
        });
    let lambda_stack = settled_stack(cloud, watch, &label, &target.stack_name)
        .await
        .unwrap_or_else(|p| {
            problems.push(p);
            None
        });
    for (kind, s) in [("shared", &shared_stack), ("Lambda", &lambda_stack)] {
        if let Some(s) = s
            && let Some(p) = stack_state_problem(kind, s)
        {
            problems.push(p);
        }
    }

    // Shared stack steps.
    match &shared_stack {
        None => steps.push(Step {
            kind: StepKind::SharedStack,
            action: Action::Create,
            detail: format!(
                "create stack {} (XDR region {}, credentials from {})",
                target.shared_stack_name, target.taegis_region, target.credentials
            ),
        }),
        Some(s) if s.needs_recreate() => {
            steps.push(Step {
                kind: StepKind::DeleteSharedStack,
                action: Action::Delete,
                detail: format!(
                    "stack {} is {}: delete it, then create it again",
                    s.name, s.status
                ),
            });
            steps.push(Step {
                kind: StepKind::SharedStack,
                action: Action::Create,
                detail: format!(
                    "create stack {} (XDR region {})",
                    s.name, target.taegis_region
                ),
            });
        }
        Some(s) if s.healthy() => {
            let body_changed = template_changed(cloud, s, shared_t, &mut problems).await;
            let region_changed = s.parameters.get("TaegisRegion") != Some(&target.taegis_region);
            let mut why = Vec::new();
            if region_changed && lambda_stack.as_ref().is_some_and(|l| !l.needs_recreate()) {
                // The shared stack exports the XDR region and the Lambda stack imports it:
                // CloudFormation refuses to change an export that is in use.
                problems.push(format!(
                    "--taegis-region {}: stack {} was deployed for XDR region {}, and stack {} imports it; CloudFormation cannot change an export in use. Delete stack {} first (its trigger goes with it), then deploy again, or keep --taegis-region {}",
                    target.taegis_region,
                    s.name,
                    s.parameters.get("TaegisRegion").map(String::as_str).unwrap_or("(none)"),
                    target.stack_name,
                    target.stack_name,
                    s.parameters.get("TaegisRegion").map(String::as_str).unwrap_or("(none)"),
                ));
            }
            if region_changed {
                why.push(format!(
                    "XDR region {} -> {}",
                    s.parameters
                        .get("TaegisRegion")
                        .map(String::as_str)
                        .unwrap_or("(none)"),
                    target.taegis_region
                ));
            }
            if body_changed {
                why.push("template changed".to_string());
            }
            if shared.update_credentials {
                why.push("re-send the credentials (--update-credentials)".to_string());
            } else {
                shared_params.insert("SecretValue".into(), ParamValue::UsePrevious);
            }
            steps.push(if why.is_empty() {
                Step {
                    kind: StepKind::SharedStack,
                    action: Action::Skip,
                    detail: format!(
                        "stack {} is {} and up to date; credentials kept",
                        s.name, s.status
                    ),
                }
            } else {
                Step {
                    kind: StepKind::SharedStack,
                    action: Action::Update,
                    detail: format!("update stack {}: {}", s.name, why.join(", ")),
                }
            });
        }
        Some(_) => {}
    }

    // Lambda stack steps, and the function it holds.
    let mut function: Option<FunctionRef> = None;
    let mut reserved_now: i32 = 0;
    match &lambda_stack {
        None => steps.push(Step {
            kind: StepKind::LambdaStack,
            action: Action::Create,
            detail: format!(
                "create stack {} (bucket {notification_bucket}, code s3://{lambda_bucket}/{key})",
                target.stack_name
            ),
        }),
        Some(s) if s.needs_recreate() => {
            steps.push(Step {
                kind: StepKind::DeleteLambdaStack,
                action: Action::Delete,
                detail: format!(
                    "stack {} is {}: delete it, then create it again",
                    s.name, s.status
                ),
            });
            steps.push(Step {
                kind: StepKind::LambdaStack,
                action: Action::Create,
                detail: format!("create stack {} (bucket {notification_bucket})", s.name),
            });
        }
        Some(s) if s.healthy() => {
            match find_function(cloud, s).await {
                Ok(Some(f)) => {
                    reserved_now = f.reserved_concurrency.unwrap_or(0);
                    function = Some(FunctionRef {
                        name: f.name,
                        arn: f.arn,
                    });
                }
                Ok(None) => warnings.push(format!("stack {} holds no Lambda function", s.name)),
                Err(e) => problems.push(format!(
                    "cannot read the function of stack {} ({})",
                    s.name,
                    one_line(&e)
                )),
            }
            let body_changed = template_changed(cloud, s, lambda_t, &mut problems).await;
            // What the stack's parameters will be: ours, and the template's defaults for the
            // rest (an update resets a parameter that is not passed to its default).
            let expected: BTreeMap<&str, &str> = lambda_t
                .parameters
                .iter()
                .filter(|p| !p.no_echo)
                .filter_map(|p| {
                    let v = lambda_params.get(&p.name).or(p.default.as_ref())?;
                    Some((p.name.as_str(), v.as_str()))
                })
                .collect();
            let mut why: Vec<String> = expected
                .iter()
                .filter(|(k, v)| s.parameters.get(**k).map(String::as_str) != Some(**v))
                .map(|(k, v)| {
                    format!(
                        "{k} {} -> {v:?}",
                        s.parameters
                            .get(*k)
                            .map(|c| format!("{c:?}"))
                            .unwrap_or("(none)".into())
                    )
                })
                .collect();
            if body_changed {
                why.push("template changed".into());
            }
            steps.push(if why.is_empty() {
                Step {
                    kind: StepKind::LambdaStack,
                    action: Action::Skip,
                    detail: format!("stack {} is {} and up to date", s.name, s.status),
                }
            } else {
                Step {
                    kind: StepKind::LambdaStack,
                    action: Action::Update,
                    detail: format!("update stack {}: {}", s.name, why.join(", ")),
                }
            });
        }
        Some(_) => {}
    }
    if zip_changed && !lambda_t.declares("TaegisLambdaS3Key") && function.is_some() {
        warnings.push(format!(
            "the Lambda template has a fixed code key ({key}); a new zip reaches the function only when the stack updates it"
        ));
    }

    // Concurrency headroom for the function's reservation.
    let reserve: i32 = lambda_params
        .get("ReservedConcurrency")
        .cloned()
        .or_else(|| {
            lambda_t
                .parameter("ReservedConcurrency")
                .and_then(|p| p.default.clone())
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(if lambda_t.declares("ReservedConcurrency") {
            0
        } else {
            5
        });
    match cloud.account_settings().await {
        Ok(a) => {
            let minimum = a.concurrent_executions.min(100);
            let after = a.unreserved_concurrent_executions + reserved_now - reserve;
            if reserve > reserved_now && after < minimum {
                problems.push(format!(
                    "Lambda concurrency in {region}: reserving {reserve} for the function leaves {after} unreserved, below the account's minimum of {minimum} (account limit {}); request a higher \"Concurrent executions\" quota in Service Quotas, or lower --parameter ReservedConcurrency",
                    a.concurrent_executions
                ));
            }
        }
        Err(e) => problems.push(format!(
            "cannot read the Lambda account settings in {region} ({})",
            one_line(&e)
        )),
    }

    // Trigger.
    let mut trigger = match target.trigger {
        Trigger::S3 => TriggerSpec::S3 {
            bucket: notification_bucket.clone(),
            bucket_arn: format!("arn:{partition}:s3:::{notification_bucket}"),
            prefix: target.prefix.clone(),
            id: notification_id(&target.stack_name),
            replaces: Vec::new(),
            statement_id: S3_STATEMENT_ID.into(),
        },
        Trigger::Sns => TriggerSpec::Sns {
            topic_arn: target.sns_topic_arn.clone().unwrap_or_default(),
            statement_id: SNS_STATEMENT_ID.into(),
        },
    };
    let wanted_statement = trigger.statement(&account);
    let statement_id = wanted_statement.sid.clone();
    let principal = wanted_statement.principal.clone();
    let source_arn = wanted_statement.source_arn.clone().unwrap_or_default();
    let statements = match &function {
        None => Vec::new(),
        Some(f) => cloud.policy_statements(&f.name).await.unwrap_or_else(|e| {
            problems.push(format!(
                "cannot read the policy of function {} ({})",
                f.name,
                one_line(&e)
            ));
            Vec::new()
        }),
    };
    let existing_statement = statements.iter().find(|s| s.sid == statement_id).cloned();
    steps.push(match existing_statement {
        None => Step {
            kind: StepKind::InvokePermission,
            action: Action::Create,
            detail: format!("allow {principal} to invoke the function from {source_arn} (statement {statement_id})"),
        },
        Some(s) if s == wanted_statement => Step {
            kind: StepKind::InvokePermission,
            action: Action::Skip,
            detail: format!("statement {statement_id} already allows {principal} from {source_arn}"),
        },
        Some(s) => Step {
            kind: StepKind::InvokePermission,
            action: Action::Update,
            detail: format!(
                "statement {statement_id} allows {} from {}: replace it with {principal} from {source_arn}",
                s.principal,
                s.source_arn.as_deref().unwrap_or("anywhere")
            ),
        },
    });

    match &mut trigger {
        TriggerSpec::S3 {
            bucket,
            prefix,
            id,
            replaces,
            ..
        } => {
            let entries = match cloud.notifications(bucket).await {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!(
                        "--notification-bucket {bucket}: cannot read its notification configuration ({})",
                        one_line(&e)
                    ));
                    Vec::new()
                }
            };
            for other in entries
                .iter()
                .filter(|e| e.id.as_deref() != Some(id.as_str()))
            {
                let same_function = function.as_ref().is_some_and(|f| f.arn == other.target_arn);
                if overlaps(other, prefix) && same_function {
                    // Someone wired the function to the bucket by hand (as the guide does):
                    // our entry takes its place.
                    replaces.push(other.id.clone().unwrap_or_default());
                } else if overlaps(other, prefix) {
                    problems.push(format!(
                        "--notification-bucket {bucket}: its {} notification {} ({} for {}, prefix {:?}, suffix {:?}) overlaps the trigger this deploy needs (s3:ObjectCreated:*, prefix {prefix:?}); S3 refuses overlapping configurations. Use --trigger sns with a topic that fans out to both, or a --prefix that does not overlap",
                        other.kind,
                        other.id.as_deref().map(|i| format!("{i:?}")).unwrap_or_else(|| "(no Id)".into()),
                        other.events.join(","),
                        other.target_arn,
                        other.prefix,
                        other.suffix,
                    ));
                }
            }
            let ours = entries
                .iter()
                .find(|e| e.id.as_deref() == Some(id.as_str()));
            let up_to_date = |e: &NotificationEntry| {
                function.as_ref().is_some_and(|f| f.arn == e.target_arn)
                    && e.kind == "lambda"
                    && e.events == [OBJECT_CREATED]
                    && e.prefix == *prefix
                    && e.suffix.is_empty()
            };
            let others = entries.len() - usize::from(ours.is_some()) - replaces.len();
            let adopt = if replaces.is_empty() {
                String::new()
            } else {
                format!(
                    "; replace entr{} {} that already send{} these events to the function",
                    if replaces.len() == 1 { "y" } else { "ies" },
                    replaces
                        .iter()
                        .map(|r| format!("{r:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if replaces.len() == 1 { "s" } else { "" }
                )
            };
            let keep = if others == 0 {
                String::new()
            } else {
                format!(
                    "; keep the {others} other entr{}",
                    if others == 1 { "y" } else { "ies" }
                )
            };
            steps.push(match ours {
                None => Step {
                    kind: StepKind::BucketNotification,
                    action: if replaces.is_empty() { Action::Create } else { Action::Update },
                    detail: format!("add entry {id} to bucket {bucket}: all object-create events, prefix {prefix:?}{adopt}{keep}"),
                },
                Some(e) if up_to_date(e) && replaces.is_empty() => Step {
                    kind: StepKind::BucketNotification,
                    action: Action::Skip,
                    detail: format!("bucket {bucket} already notifies the function (entry {id}, prefix {prefix:?})"),
                },
                Some(_) => Step {
                    kind: StepKind::BucketNotification,
                    action: Action::Update,
                    detail: format!("replace entry {id} on bucket {bucket}: all object-create events, prefix {prefix:?}{adopt}{keep}"),
                },
            });
        }
        TriggerSpec::Sns { topic_arn, .. } => {
            let subscribed = match &function {
                None => false,
                Some(f) => match cloud.subscriptions(topic_arn).await {
                    Ok(subs) => subs
                        .iter()
                        .any(|s| s.protocol == "lambda" && s.endpoint == f.arn),
                    Err(e) => {
                        problems.push(format!(
                            "--sns-topic-arn {topic_arn}: cannot list its subscriptions ({})",
                            one_line(&e)
                        ));
                        false
                    }
                },
            };
            steps.push(if subscribed {
                Step {
                    kind: StepKind::SnsSubscription,
                    action: Action::Skip,
                    detail: format!("the function is subscribed to {topic_arn}"),
                }
            } else {
                Step {
                    kind: StepKind::SnsSubscription,
                    action: Action::Create,
                    detail: format!("subscribe the function to {topic_arn}"),
                }
            });
        }
    }

    // The trigger this deploy no longer wants (another trigger type, bucket or topic than
    // last time): removed after the new one is in place, so no event is lost.
    let mut old_trigger = OldTrigger::default();
    if let (Some(f), Some(s)) = (&function, lambda_stack.as_ref().filter(|s| s.healthy())) {
        let id = notification_id(&target.stack_name);
        let previous_bucket = s.parameters.get("NotificationBucket").cloned();
        let stale_bucket = match &trigger {
            TriggerSpec::Sns { .. } => previous_bucket.or(Some(notification_bucket.clone())),
            TriggerSpec::S3 { bucket, .. } => previous_bucket.filter(|b| b != bucket),
        };
        if let Some(b) = stale_bucket
            && let Ok(entries) = cloud.notifications(&b).await
            && entries
                .iter()
                .any(|e| e.id.as_deref() == Some(id.as_str()) && e.target_arn == f.arn)
        {
            old_trigger.notification = Some((b, id));
        }
        let previous_topic = s
            .parameters
            .get("SNSNotificationarn")
            .filter(|t| !t.is_empty());
        let wanted_topic = match &trigger {
            TriggerSpec::Sns { topic_arn, .. } => Some(topic_arn),
            TriggerSpec::S3 { .. } => None,
        };
        if let Some(topic) = previous_topic.filter(|t| Some(*t) != wanted_topic)
            && let Ok(subs) = cloud.subscriptions(topic).await
        {
            old_trigger.subscriptions = subs
                .into_iter()
                .filter(|s| s.protocol == "lambda" && s.endpoint == f.arn)
                .map(|s| s.arn)
                .collect();
        }
        let other_sid = match &trigger {
            TriggerSpec::S3 { .. } => SNS_STATEMENT_ID,
            TriggerSpec::Sns { .. } => S3_STATEMENT_ID,
        };
        if statements.iter().any(|s| s.sid == other_sid) {
            old_trigger.statements.push(other_sid.to_string());
        }
    }
    if !old_trigger.is_empty() {
        steps.push(Step {
            kind: StepKind::RemoveOldTrigger,
            action: Action::Delete,
            detail: old_trigger.describe(),
        });
    }

    if !problems.is_empty() {
        return Err(PreflightFailed::new(Some(account), problems));
    }
    Ok(TargetPlan {
        inputs: TargetInputs {
            config: target.clone(),
            account,
            lambda_bucket,
            zip: shared.zip.clone(),
            zip_key: key,
            shared_template: shared.shared_template.clone(),
            lambda_template: shared.lambda_template.clone(),
            shared_params,
            lambda_params,
            trigger,
        },
        steps,
        function,
        old_trigger,
        warnings,
    })
}

/// Does the stack run another template than `template`? (A read failure is a problem.)
async fn template_changed<C: Cloud>(
    cloud: &C,
    stack: &StackInfo,
    template: &Template,
    problems: &mut Vec<String>,
) -> bool {
    match cloud.template_body(&stack.name).await {
        Ok(b) => b.trim() != template.body.trim(),
        Err(e) => {
            problems.push(format!(
                "cannot read the template of stack {} ({})",
                stack.name,
                one_line(&e)
            ));
            false
        }
    }
}

/// The function of a Lambda stack: from its outputs, else from its resources.
pub async fn find_function<C: Cloud>(
    cloud: &C,
    stack: &StackInfo,
) -> Result<Option<super::cloud::FunctionInfo>> {
    let name = match stack
        .outputs
        .get("FunctionName")
        .or_else(|| stack.outputs.get("FunctionArn"))
    {
        Some(n) => Some(n.clone()),
        None => cloud.stack_function(&stack.name).await?,
    };
    match name {
        Some(n) => cloud.function(&n).await,
        None => Ok(None),
    }
}

/// The first line of an error chain, for messages that must stay on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    let s = format!("{e:#}");
    s.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(events: &[&str], prefix: &str, suffix: &str) -> NotificationEntry {
        NotificationEntry {
            kind: "queue",
            id: Some("q".into()),
            target_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            prefix: prefix.into(),
            suffix: suffix.into(),
        }
    }

    #[test]
    fn overlap_rules() {
        assert!(overlaps(
            &entry(&["s3:ObjectCreated:Put"], "", ".gz"),
            "AWSLogs/"
        ));
        assert!(overlaps(
            &entry(&["s3:ObjectCreated:*"], "AWSLogs/123/", ""),
            "AWSLogs/"
        ));
        assert!(overlaps(
            &entry(&["s3:ObjectCreated:*"], "AWS", ""),
            "AWSLogs/"
        ));
        assert!(!overlaps(
            &entry(&["s3:ObjectCreated:*"], "other/", ""),
            "AWSLogs/"
        ));
        assert!(!overlaps(&entry(&["s3:ObjectRemoved:*"], "", ""), ""));
    }

    #[test]
    fn zip_keys() {
        let l = Template::bundled_lambda();
        assert_eq!(
            zip_key(&l, "0123456789abcdef0123"),
            "taegis-lambda-amd64-0123456789abcdef.zip"
        );
        let fixed = Template::parse(
            "t",
            "Parameters:\n  A:\n    Type: String\nResources:\n  X:\n    Type: AWS::SNS::Topic\n",
        )
        .unwrap();
        assert_eq!(
            zip_key(&fixed, "0123456789abcdef0123"),
            "taegis-lambda-amd64.zip"
        );
    }

    #[test]
    fn al2_warning_depends_on_the_day() {
        assert!(al2_warning("2026-05-01").contains("deprecated from 2026-07-31"));
        assert!(al2_warning("2026-11-30").contains("deprecated since 2026-07-31"));
        assert!(al2_warning("2027-03-01").contains("blocked since 2027-02-01"));
    }
}
