//! Table tests of `decide`: each row an `Observed` fixture (and the settings it is decided
//! for), and the steps or the problems that must come out. No cloud, scripted or emulated.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::cli::DeployArgs;
use crate::input::Source;
use crate::plan::ParamValue;
use crate::plan::cloud::{
    AccountSettings, Export, FunctionInfo, Identity, NotificationEntry, NotificationKind,
    ObjectState, PolicyStatement, StackInfo, Subscription, TemplateSource,
};
use crate::plan::observe::{ReadError, StackSeen};
use crate::plan::status::StackStatus;

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "trail-logs";
const ZIPS: &str = "zips";
const FUNCTION: &str = "taegis-cloudtrail-scwx-tdr-lambda-awscloudtrail";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:trail-news";

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}")
}

fn args() -> DeployArgs {
    DeployArgs {
        guide: crate::cli::GuideArgs {
            credentials: Some("creds.txt".into()),
            taegis_region: Some("foxtrot".into()),
            notification_bucket: Some(BUCKET.into()),
            lambda_bucket: Some(ZIPS.into()),
            prefix: Some("AWSLogs/".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn target(edit: fn(&mut DeployArgs)) -> TargetConfig {
    let mut a = args();
    edit(&mut a);
    let (mut c, _) = crate::config::resolve(
        &a,
        None,
        Some("us-east-1"),
        None,
        crate::config::Needs::Deploy,
    );
    c.targets.remove(0)
}

fn local() -> Local {
    Local {
        zip: Arc::new(LambdaZip {
            bytes: bytes::Bytes::from_static(&[1, 2, 3]),
            sha256: "ab".repeat(32),
        }),
        shared_template: Arc::new(Template::bundled_shared()),
        lambda_template: Arc::new(Template::bundled_lambda()),
        secret: Ok(Arc::new(Secret::new(
            "client_id=x\nclient_secret=very-secret\n".into(),
        ))),
        update_credentials: false,
        today: "2026-12-01".into(),
    }
}

/// A fresh account: the trail bucket, nothing of ours.
fn fresh() -> Observed {
    Observed {
        identity: Fact::Known(Identity {
            account: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ops"),
        }),
        notification_bucket: Fact::Known(Some("us-east-1".into())),
        lambda_bucket: Fact::Known(None),
        shared_stack: Fact::Known(None),
        lambda_stack: Fact::Known(None),
        notifications: BTreeMap::from([(BUCKET.to_string(), Fact::Known(Vec::new()))]),
        account_settings: Fact::Known(AccountSettings {
            concurrent_executions: 1000,
            unreserved_concurrent_executions: 1000,
        }),
        ..Observed::default()
    }
}

fn stack(
    name: &str,
    status: StackStatus,
    params: BTreeMap<String, String>,
    body: &str,
) -> StackSeen {
    StackSeen {
        info: StackInfo {
            id: format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/1"),
            name: name.into(),
            status,
            reason: None,
            parameters: params,
            outputs: BTreeMap::new(),
            export_names: Vec::new(),
        },
        template: Fact::Known(body.to_string()),
    }
}

fn our_entry(arn: &str) -> NotificationEntry {
    NotificationEntry {
        kind: NotificationKind::Lambda,
        id: Some(notification_id("taegis-cloudtrail")),
        target_arn: arn.into(),
        events: vec![OBJECT_CREATED.into()],
        prefix: "AWSLogs/".into(),
        suffix: String::new(),
    }
}

/// Everything a deploy of `args()` makes, in place.
fn deployed() -> Observed {
    let l = local();
    let plan = decide(&target(|_| {}), &l, &fresh()).plan.unwrap();
    let work = plan.deploy().unwrap();
    let values = |ps: &[crate::plan::StackParam]| -> BTreeMap<String, String> {
        ps.iter()
            .map(|p| (p.name.clone(), p.shown.clone()))
            .collect()
    };
    let arn = function_arn(FUNCTION);
    Observed {
        lambda_bucket: Fact::Known(Some("us-east-1".into())),
        objects: BTreeMap::from([(
            work.zip_key.clone(),
            Fact::Known(ObjectState::Present {
                sha256: Some(l.zip.sha256.clone()),
            }),
        )]),
        shared_stack: Fact::Known(Some(stack(
            "taegis-shared-resources",
            StackStatus::CreateComplete,
            values(&work.shared_params),
            &l.shared_template.body,
        ))),
        lambda_stack: Fact::Known(Some(stack(
            "taegis-cloudtrail",
            StackStatus::CreateComplete,
            values(&work.lambda_params),
            &l.lambda_template.body,
        ))),
        function: Fact::Known(Some(FunctionInfo {
            name: FUNCTION.into(),
            arn: arn.clone(),
            runtime: Some("provided.al2023".into()),
            reserved_concurrency: Some(5),
            ..FunctionInfo::default()
        })),
        statements: Fact::Known(vec![work.trigger.statement(ACCOUNT)]),
        notifications: BTreeMap::from([(BUCKET.to_string(), Fact::Known(vec![our_entry(&arn)]))]),
        ..fresh()
    }
}

fn failed(code: &str, message: &str) -> ReadError {
    ReadError {
        code: Some(code.into()),
        message: format!("{code}: {message}"),
        unreachable: false,
        unsent: None,
        kind: crate::aws::errors::kind(code, message),
    }
}

fn set_stack_status(slot: &mut Fact<Option<StackSeen>>, status: StackStatus) {
    if let Fact::Known(Some(s)) = slot {
        s.info.status = status;
    }
}

enum Want {
    /// (step name, action) in order.
    Steps(Vec<(&'static str, Action)>),
    /// (input, words the problem must hold), and nothing else.
    Problems(&'static [(Input, &'static str)]),
}

struct Case {
    name: &'static str,
    args: fn(&mut DeployArgs),
    seen: fn() -> Observed,
    want: Want,
}

use Action::{Create, Delete, Skip, Update};

/// The steps of a deploy to a fresh account.
const FRESH: [(&str, Action); 6] = [
    ("lambda-bucket", Create),
    ("upload-lambda-zip", Create),
    ("shared-stack", Create),
    ("lambda-stack", Create),
    ("invoke-permission", Create),
    ("bucket-notification", Create),
];

/// The steps of a deploy where everything is in place, but for `changes`.
fn in_place(changes: &[(&'static str, Action)]) -> Want {
    Want::Steps(
        FRESH
            .iter()
            .map(|(name, _)| {
                let action = changes.iter().find(|(n, _)| n == name).map(|c| c.1);
                (*name, action.unwrap_or(Skip))
            })
            .collect(),
    )
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "fresh account",
            args: |_| {},
            seen: fresh,
            want: Want::Steps(FRESH.to_vec()),
        },
        Case {
            name: "everything in place",
            args: |_| {},
            seen: deployed,
            want: in_place(&[]),
        },
        Case {
            name: "Lambda stack in ROLLBACK_COMPLETE",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                set_stack_status(&mut o.lambda_stack, StackStatus::RollbackComplete);
                o.function = Fact::NotRead;
                o.statements = Fact::NotRead;
                o
            },
            want: Want::Steps(vec![
                ("lambda-bucket", Skip),
                ("upload-lambda-zip", Skip),
                ("shared-stack", Skip),
                ("delete-lambda-stack", Delete),
                ("lambda-stack", Create),
                ("invoke-permission", Create),
                ("bucket-notification", Update),
            ]),
        },
        Case {
            name: "shared stack left in REVIEW_IN_PROGRESS",
            args: |_| {},
            seen: || {
                let mut o = fresh();
                o.shared_stack = Fact::Known(Some(stack(
                    "taegis-shared-resources",
                    StackStatus::ReviewInProgress,
                    BTreeMap::new(),
                    "",
                )));
                o
            },
            want: Want::Steps(vec![
                ("lambda-bucket", Create),
                ("upload-lambda-zip", Create),
                ("delete-shared-stack", Delete),
                ("shared-stack", Create),
                ("lambda-stack", Create),
                ("invoke-permission", Create),
                ("bucket-notification", Create),
            ]),
        },
        Case {
            name: "stack still in progress after the follow",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                set_stack_status(&mut o.lambda_stack, StackStatus::UpdateInProgress);
                o
            },
            want: Want::Problems(&[(Input::StackName, "UPDATE_IN_PROGRESS")]),
        },
        Case {
            name: "stack a person must repair",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                set_stack_status(&mut o.shared_stack, StackStatus::UpdateRollbackFailed);
                o
            },
            want: Want::Problems(&[(Input::SharedStackName, "repair or delete it")]),
        },
        Case {
            name: "new integration type replaces the function",
            args: |a| a.guide.integration_type = Some("generic".into()),
            seen: deployed,
            want: in_place(&[("lambda-stack", Update)]),
        },
        Case {
            name: "a foreign entry overlapping ours",
            args: |_| {},
            seen: || {
                let mut o = fresh();
                o.notifications.insert(
                    BUCKET.into(),
                    Fact::Known(vec![NotificationEntry {
                        kind: NotificationKind::Queue,
                        id: Some("siem-feed".into()),
                        target_arn: "arn:aws:sqs:us-east-1:123456789012:siem".into(),
                        events: vec!["s3:ObjectCreated:Put".into()],
                        prefix: String::new(),
                        suffix: ".gz".into(),
                    }]),
                );
                o
            },
            want: Want::Problems(&[(Input::NotificationBucket, "\"siem-feed\"")]),
        },
        Case {
            name: "a trigger made by hand for our function",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                let mut by_hand = our_entry(&function_arn(FUNCTION));
                by_hand.id = Some("NjE5ZjQ1YzYtY2Q5Zi00".into());
                by_hand.prefix = String::new();
                o.notifications
                    .insert(BUCKET.into(), Fact::Known(vec![by_hand]));
                o
            },
            want: in_place(&[("bucket-notification", Update)]),
        },
        Case {
            name: "too little unreserved concurrency",
            args: |_| {},
            seen: || Observed {
                account_settings: Fact::Known(AccountSettings {
                    concurrent_executions: 50,
                    unreserved_concurrent_executions: 50,
                }),
                ..fresh()
            },
            want: Want::Problems(&[(Input::Account, "minimum of 50")]),
        },
        Case {
            name: "the function already holds its reservation",
            args: |_| {},
            seen: || Observed {
                account_settings: Fact::Known(AccountSettings {
                    concurrent_executions: 50,
                    unreserved_concurrent_executions: 45,
                }),
                ..deployed()
            },
            want: in_place(&[]),
        },
        Case {
            name: "bucket in another region",
            args: |_| {},
            seen: || Observed {
                notification_bucket: Fact::Known(Some("eu-west-1".into())),
                notifications: BTreeMap::new(),
                ..fresh()
            },
            want: Want::Problems(&[(Input::NotificationBucket, "--region eu-west-1")]),
        },
        Case {
            name: "no such bucket",
            args: |_| {},
            seen: || Observed {
                notification_bucket: Fact::Known(None),
                notifications: BTreeMap::new(),
                ..fresh()
            },
            want: Want::Problems(&[(Input::NotificationBucket, "no such bucket")]),
        },
        Case {
            name: "zip bucket in another region",
            args: |_| {},
            seen: || Observed {
                lambda_bucket: Fact::Known(Some("eu-west-1".into())),
                ..fresh()
            },
            want: Want::Problems(&[(Input::LambdaBucket, "function's region us-east-1")]),
        },
        Case {
            name: "a region that refuses the credentials the first region takes",
            args: |_| {},
            seen: || Observed {
                identity: Fact::Failed(failed(
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                )),
                identity_elsewhere: fresh().identity,
                ..Observed::default()
            },
            want: Want::Problems(&[(Input::Region, "not enabled for account 123456789012")]),
        },
        Case {
            name: "credentials refused in the first region too",
            args: |_| {},
            seen: || Observed {
                identity: Fact::Failed(failed(
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                )),
                identity_elsewhere: Fact::Failed(failed("InvalidClientTokenId", "invalid")),
                ..Observed::default()
            },
            want: Want::Problems(&[(Input::AwsIdentity, "AWS_ACCESS_KEY_ID")]),
        },
        Case {
            name: "no identity: the checks that need no AWS still run",
            args: |a| a.guide.integration_type = Some("vpcflow".into()),
            seen: || Observed {
                identity: Fact::Failed(failed("ExpiredToken", "The token has expired.")),
                ..Observed::default()
            },
            want: Want::Problems(&[
                (Input::AwsIdentity, "ExpiredToken"),
                (Input::IntegrationType, "vpcflow"),
            ]),
        },
        Case {
            name: "credentials that cannot be used",
            args: |_| {},
            seen: || Observed {
                identity: Fact::Failed(failed("ExpiredToken", "The token has expired.")),
                ..Observed::default()
            },
            want: Want::Problems(&[(Input::AwsIdentity, "ExpiredToken")]),
        },
        Case {
            name: "a role that answers for another account",
            args: |a| {
                a.targets.accounts = vec!["111111111111".into()];
                a.targets.role_arn = Some("arn:aws:iam::{account}:role/D".into());
            },
            seen: fresh,
            want: Want::Problems(&[(Input::RoleArn, "answered as account 123456789012")]),
        },
        Case {
            name: "a new zip",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                for v in o.objects.values_mut() {
                    *v = Fact::Known(ObjectState::Present {
                        sha256: Some("cd".repeat(32)),
                    });
                }
                o
            },
            want: in_place(&[("upload-lambda-zip", Update)]),
        },
        Case {
            name: "switching from S3 to SNS",
            args: |a| a.guide.sns_topic_arn = Some(TOPIC.into()),
            seen: || Observed {
                topic: Fact::Known(Some(crate::plan::cloud::TopicInfo {
                    owner: ACCOUNT.into(),
                    policy: None,
                })),
                subscriptions: BTreeMap::from([(TOPIC.to_string(), Fact::Known(Vec::new()))]),
                ..deployed()
            },
            want: Want::Steps(vec![
                ("lambda-bucket", Skip),
                ("upload-lambda-zip", Skip),
                ("shared-stack", Skip),
                ("lambda-stack", Update),
                ("invoke-permission", Create),
                ("sns-subscription", Create),
                ("remove-old-trigger", Delete),
            ]),
        },
        Case {
            name: "a topic that does not exist",
            args: |a| a.guide.sns_topic_arn = Some(TOPIC.into()),
            seen: || Observed {
                topic: Fact::Known(None),
                ..fresh()
            },
            want: Want::Problems(&[(Input::SnsTopicArn, "no such topic")]),
        },
        Case {
            name: "another XDR region under an importing stack",
            args: |a| a.guide.taegis_region = Some("echo".into()),
            seen: deployed,
            want: Want::Problems(&[(Input::TaegisRegion, "imports it")]),
        },
        Case {
            name: "a statement of ours with another source",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                o.statements = Fact::Known(vec![PolicyStatement {
                    sid: S3_STATEMENT_ID.into(),
                    principal: "s3.amazonaws.com".into(),
                    source_arn: Some("arn:aws:s3:::another-bucket".into()),
                    source_account: Some(ACCOUNT.into()),
                }]);
                o
            },
            want: in_place(&[("invoke-permission", Update)]),
        },
        Case {
            name: "a parameter that duplicates a flag",
            args: |a| a.guide.parameters = vec!["NotificationBucket=other".into()],
            seen: fresh,
            want: Want::Problems(&[(Input::Parameter, "conflicts with --notification-bucket")]),
        },
        Case {
            name: "a value the template does not allow",
            args: |a| a.guide.integration_type = Some("vpcflow".into()),
            seen: fresh,
            want: Want::Problems(&[(Input::IntegrationType, "\"vpcflow\" is not allowed")]),
        },
        Case {
            name: "another stack already exports the shared stack's names",
            args: |_| {},
            seen: || Observed {
                exports: Fact::Known(vec![Export {
                    name: "TaegisXdrSecretArn".into(),
                    exporting_stack_id: format!(
                        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/old-shared/9"
                    ),
                }]),
                ..fresh()
            },
            want: Want::Problems(&[(
                Input::SharedStackName,
                "stack old-shared already exports TaegisXdrSecretArn",
            )]),
        },
        Case {
            name: "our own shared stack's exports are no conflict",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                o.exports = Fact::Known(vec![Export {
                    name: "TaegisXdrSecretArn".into(),
                    exporting_stack_id: format!(
                        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/taegis-shared-resources/1"
                    ),
                }]);
                set_stack_status(&mut o.shared_stack, StackStatus::RollbackComplete);
                o
            },
            want: Want::Steps(vec![
                ("lambda-bucket", Skip),
                ("upload-lambda-zip", Skip),
                ("delete-shared-stack", Delete),
                ("shared-stack", Create),
                ("lambda-stack", Skip),
                ("invoke-permission", Skip),
                ("bucket-notification", Skip),
            ]),
        },
        Case {
            name: "a trail bucket of another account, for an S3 trigger",
            args: |_| {},
            seen: || Observed {
                notification_bucket: Fact::Failed(failed("AccessDenied", "Access Denied")),
                notifications: BTreeMap::new(),
                ..fresh()
            },
            want: Want::Problems(&[(Input::NotificationBucket, "account that owns the bucket")]),
        },
        Case {
            name: "a zip bucket name taken by another account",
            args: |_| {},
            seen: || Observed {
                lambda_bucket: Fact::Failed(failed("AccessDenied", "Access Denied")),
                ..fresh()
            },
            want: Want::Problems(&[(Input::LambdaBucket, "belongs to another account")]),
        },
        Case {
            name: "reads that failed are each named",
            args: |_| {},
            seen: || Observed {
                notification_bucket: Fact::Failed(failed("SlowDown", "Please reduce your rate")),
                account_settings: Fact::Failed(failed("AccessDeniedException", "no")),
                ..fresh()
            },
            want: Want::Problems(&[
                (Input::NotificationBucket, "cannot read its location"),
                (Input::Account, "cannot read them"),
            ]),
        },
    ]
}

#[test]
fn decisions() {
    let mut failures = Vec::new();
    for c in cases() {
        let d = decide(&target(c.args), &local(), &(c.seen)());
        let problems: Vec<(Input, String)> = d
            .preflight
            .problems
            .iter()
            .map(|p| (p.input, p.to_string()))
            .collect();
        let steps: Vec<(&str, Action)> = d
            .plan
            .as_ref()
            .map(|p| p.steps.iter().map(|s| (s.kind.name(), s.action)).collect())
            .unwrap_or_default();
        let ok = match &c.want {
            Want::Steps(want) => problems.is_empty() && steps == *want,
            Want::Problems(want) => {
                problems.len() == want.len()
                    && want
                        .iter()
                        .all(|(i, w)| problems.iter().any(|(pi, p)| pi == i && p.contains(w)))
            }
        };
        if !ok {
            failures.push(format!(
                "{}:\n  steps {steps:?}\n  problems {problems:#?}",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_credentials_are_sent_once_and_shown_masked() {
    let d = decide(&target(|_| {}), &local(), &fresh());
    let plan = d.plan.unwrap();
    let secret = &plan.deploy().unwrap().shared_params[0];
    assert_eq!(secret.name, "SecretValue");
    assert!(matches!(secret.sent, Some(ParamValue::Secret(_))));
    assert_eq!(
        (secret.shown.as_str(), secret.source),
        ("****", Source::Flag)
    );
    // Deployed: kept, unless asked to re-send them.
    let d = decide(&target(|_| {}), &local(), &deployed());
    let plan = d.plan.unwrap();
    let secret = &plan.deploy().unwrap().shared_params[0];
    assert_eq!(secret.sent, Some(ParamValue::UsePrevious));
    assert_eq!(secret.source, Source::Previous);
    let l = Local {
        update_credentials: true,
        ..local()
    };
    let d = decide(&target(|_| {}), &l, &deployed());
    let plan = d.plan.unwrap();
    assert!(matches!(
        plan.deploy().unwrap().shared_params[0].sent,
        Some(ParamValue::Secret(_))
    ));
    assert_eq!(plan.steps[2].action, Action::Update);
    let text = format!("{plan:?}");
    assert!(!text.contains("very-secret"), "{text}");
}

#[test]
fn every_parameter_is_previewed_with_its_source_and_previous_value() {
    let d = decide(
        &target(|a| {
            a.guide.integration_type = Some("generic".into());
            a.guide.parameters = vec!["EnableObjectTagging=true".into()];
        }),
        &local(),
        &deployed(),
    );
    let plan = d.plan.unwrap();
    let lambda = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::LambdaStack)
        .unwrap();
    let names: Vec<&str> = lambda.parameters.iter().map(|p| p.name.as_str()).collect();
    let declared: Vec<&str> = plan
        .deploy()
        .unwrap()
        .lambda_template
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, declared, "every parameter, in template order");
    let by = |n: &str| lambda.parameters.iter().find(|p| p.name == n).unwrap();
    let it = by("IntegrationType");
    assert_eq!(
        (it.shown.as_str(), it.source, it.previous.as_deref()),
        ("generic", Source::Flag, Some("awscloudtrail"))
    );
    let tagging = by("EnableObjectTagging");
    assert_eq!(
        (
            tagging.shown.as_str(),
            tagging.source,
            tagging.previous.as_deref()
        ),
        ("true", Source::Flag, Some("false"))
    );
    let rc = by("ReservedConcurrency");
    assert_eq!(
        (rc.shown.as_str(), rc.source, rc.sent.is_none()),
        ("5", Source::Template, true)
    );
    assert_eq!(by("TaegisLambdaS3BucketName").previous, None, "unchanged");
    assert!(
        lambda
            .detail
            .contains("IntegrationType \"awscloudtrail\" -> \"generic\"")
    );
}

#[test]
fn a_template_over_the_inline_limit_is_uploaded_and_passed_by_url() {
    let big = format!(
        "{}\n# {}\n",
        crate::template::BUNDLED_LAMBDA,
        "x".repeat(crate::template::MAX_INLINE_BODY)
    );
    let l = Local {
        lambda_template: Arc::new(Template::parse("big.yaml", &big).unwrap()),
        ..local()
    };
    let t = target(|_| {});
    let r = reads(&t.for_account(ACCOUNT), &fresh(), &l);
    let key = template_key(&l.lambda_template);
    assert!(r.objects.contains(&key), "{r:?}");
    let plan = decide(&t, &l, &fresh()).plan.unwrap();
    let upload = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::UploadTemplate)
        .unwrap();
    assert_eq!(upload.action, Action::Create);
    assert_eq!(
        plan.template_source(&plan.deploy().unwrap().lambda_template),
        TemplateSource::Url(format!("https://{ZIPS}.s3.us-east-1.amazonaws.com/{key}"))
    );
    assert!(matches!(
        plan.template_source(&plan.deploy().unwrap().shared_template),
        TemplateSource::Body(_)
    ));
    // Already there: nothing to upload.
    let seen = Observed {
        lambda_bucket: Fact::Known(Some("us-east-1".into())),
        objects: BTreeMap::from([(
            key,
            Fact::Known(ObjectState::Present {
                sha256: Some(l.lambda_template.sha256.clone()),
            }),
        )]),
        ..fresh()
    };
    let plan = decide(&t, &l, &seen).plan.unwrap();
    let upload = plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::UploadTemplate)
        .unwrap();
    assert_eq!(upload.action, Action::Skip);
}

#[test]
fn inputs_that_already_have_a_problem_are_neither_read_nor_judged_again() {
    let mut t = target(|a| a.guide.taegis_region = Some(String::new()));
    t.flawed.insert(Input::StackName);
    let r = reads(&t, &fresh(), &local());
    assert_eq!(r.lambda_stack, None);
    assert!(r.shared_stack.is_some());
    let l = local();
    let seen = Observed {
        notification_bucket: Fact::Known(Some("eu-west-1".into())),
        lambda_stack: Fact::NotRead,
        ..fresh()
    };
    let d = decide(&t, &l, &seen);
    let inputs: Vec<Input> = d.preflight.problems.iter().map(|p| p.input).collect();
    assert_eq!(
        inputs,
        [Input::NotificationBucket],
        "{:?}",
        d.preflight.problems
    );
}

#[test]
fn the_credentials_are_needed_only_to_create_the_shared_stack_or_re_send_them() {
    let missing = || Local {
        secret: Err(crate::input::Problem::about(
            Input::Credentials,
            "missing --credentials FILE",
            "the credentials file downloaded from XDR",
        )),
        ..local()
    };
    let inputs =
        |d: &Decision| -> Vec<Input> { d.preflight.problems.iter().map(|p| p.input).collect() };
    assert_eq!(
        inputs(&decide(&target(|_| {}), &missing(), &fresh())),
        [Input::Credentials]
    );
    let d = decide(&target(|_| {}), &missing(), &deployed());
    assert!(d.preflight.is_ok(), "{:?}", d.preflight.problems);
    let again = Local {
        update_credentials: true,
        ..missing()
    };
    assert_eq!(
        inputs(&decide(&target(|_| {}), &again, &deployed())),
        [Input::Credentials]
    );
}

#[test]
fn the_runtime_deprecation_is_a_warning() {
    let d = decide(
        &target(|a| a.guide.parameters = vec!["LambdaRuntime=provided.al2".into()]),
        &local(),
        &fresh(),
    );
    assert!(d.preflight.is_ok());
    assert!(d.preflight.warnings[0].to_string().contains("2027-02-01"));
}

#[test]
fn provided_al2_is_refused_on_and_after_aws_dates() {
    let al2 = target(|a| a.guide.parameters = vec!["LambdaRuntime=provided.al2".into()]);
    let on = |today: &str| Local {
        today: today.into(),
        ..local()
    };
    let refused = |d: &Decision| {
        d.preflight
            .problems
            .iter()
            .find(|p| p.subject == "runtime provided.al2")
            .map(ToString::to_string)
    };
    // A new function: refused from 2027-02-01.
    let d = decide(&al2, &on("2027-01-31"), &fresh());
    assert!(refused(&d).is_none(), "{:?}", d.preflight.problems);
    assert!(d.preflight.warnings[0].to_string().contains("2027-03-03"));
    let d = decide(&al2, &on("2027-02-01"), &fresh());
    let why = refused(&d).expect("a create on provided.al2 is refused");
    assert!(
        why.contains("create") && why.contains("2027-02-01") && why.contains("provided.al2023"),
        "{why}"
    );
    // An update of the deployed function (to provided.al2): refused only from 2027-03-03.
    let d = decide(&al2, &on("2027-03-02"), &deployed());
    assert!(refused(&d).is_none(), "{:?}", d.preflight.problems);
    let d = decide(&al2, &on("2027-03-03"), &deployed());
    let why = refused(&d).expect("an update on provided.al2 is refused");
    assert!(
        why.contains("update") && why.contains("2027-03-03"),
        "{why}"
    );
    // provided.al2023 is never refused.
    let d = decide(&target(|_| {}), &on("2030-01-01"), &fresh());
    assert!(refused(&d).is_none());
}

#[test]
fn the_earlier_subscription_is_removed_when_going_back_to_s3() {
    let mut seen = deployed();
    if let Fact::Known(Some(s)) = &mut seen.lambda_stack {
        s.info
            .parameters
            .insert("SNSNotificationarn".into(), TOPIC.into());
    }
    seen.subscriptions.insert(
        TOPIC.into(),
        Fact::Known(vec![Subscription {
            protocol: "lambda".into(),
            endpoint: function_arn(FUNCTION),
            arn: format!("{TOPIC}:sub-1"),
        }]),
    );
    let plan = decide(&target(|_| {}), &local(), &seen).plan.unwrap();
    assert_eq!(
        plan.deploy().unwrap().old_trigger.subscriptions,
        [format!("{TOPIC}:sub-1")]
    );
    assert_eq!(plan.steps.last().unwrap().kind, StepKind::RemoveOldTrigger);
}

#[test]
fn zip_keys_and_overlaps() {
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
    assert_eq!(zip_key(&fixed, "0123"), "taegis-lambda-amd64.zip");
    let entry = |events: &[&str], prefix: &str| NotificationEntry {
        kind: NotificationKind::Queue,
        id: Some("q".into()),
        target_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        events: events.iter().map(|s| s.to_string()).collect(),
        prefix: prefix.into(),
        suffix: ".gz".into(),
    };
    assert!(overlaps(&entry(&["s3:ObjectCreated:Put"], ""), "AWSLogs/"));
    assert!(overlaps(
        &entry(&["s3:ObjectCreated:*"], "AWSLogs/123/"),
        "AWSLogs/"
    ));
    assert!(overlaps(&entry(&["s3:*"], "AWS"), "AWSLogs/"));
    assert!(!overlaps(
        &entry(&["s3:ObjectCreated:*"], "other/"),
        "AWSLogs/"
    ));
    assert!(!overlaps(&entry(&["s3:ObjectRemoved:*"], ""), ""));
}

#[test]
fn al2_warning_depends_on_the_day() {
    assert!(al2_warning("2026-05-01").contains("deprecated from 2026-07-31"));
    assert!(al2_warning("2026-11-30").contains("deprecated since 2026-07-31"));
    assert!(al2_warning("2027-03-01").contains("blocked since 2027-02-01"));
    assert!(al2_warning("2027-03-01").contains("updating them from 2027-03-03"));
    assert!(al2_warning("2027-04-01").contains("updating them since 2027-03-03"));
}
