//! Table tests of `decide`: each row an `Observed` fixture (and the settings it is decided
//! for), and the steps or the problems that must come out. No cloud, scripted or emulated.
//!
//! The table is gathered from its topics, each in its own file with the other tests of that
//! topic: `stacks`, `trigger`, `account`, `storage`, `params`. The fixtures are here.

mod account;
mod params;
mod stacks;
mod storage;
mod trigger;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::cli::DeployArgs;
use crate::input::Source;
use crate::plan::cloud::{
    AccountSettings, Export, FunctionInfo, Identity, NotificationEntry, NotificationKind,
    ObjectState, PolicyStatement, StackInfo, Subscription, TemplateSource,
};
use crate::plan::observe::{ReadError, StackSeen};
use crate::plan::status::StackStatus;
use crate::plan::{ParamValue, StepKind};

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

/// The plan's step of `kind` (the test's plan has one).
fn step(plan: &TargetPlan, kind: StepKind) -> &Step {
    plan.steps
        .iter()
        .find(|s| s.kind() == kind)
        .unwrap_or_else(|| panic!("no {} step", kind.name()))
}

/// Everything a deploy of `args()` makes, in place.
fn deployed() -> Observed {
    let l = local();
    let plan = decide(&target(|_| {}), &l, &fresh()).plan.unwrap();
    let zip_key = match &step(&plan, StepKind::UploadZip).op {
        Op::UploadZip { key, .. } => key.clone(),
        other => panic!("{other:?}"),
    };
    let statement = match &step(&plan, StepKind::InvokePermission).op {
        Op::InvokePermission(s) => s.clone(),
        other => panic!("{other:?}"),
    };
    let values = |ps: &[crate::plan::StackParam]| -> BTreeMap<String, String> {
        ps.iter()
            .map(|p| (p.name.clone(), p.shown.clone()))
            .collect()
    };
    let arn = function_arn(FUNCTION);
    Observed {
        lambda_bucket: Fact::Known(Some("us-east-1".into())),
        objects: BTreeMap::from([(
            zip_key,
            Fact::Known(ObjectState::Present {
                sha256: Some(l.zip.sha256.clone()),
            }),
        )]),
        shared_stack: Fact::Known(Some(stack(
            "taegis-shared-resources",
            StackStatus::CreateComplete,
            values(&step(&plan, StepKind::SharedStack).parameters),
            &l.shared_template.body,
        ))),
        lambda_stack: Fact::Known(Some(stack(
            "taegis-cloudtrail",
            StackStatus::CreateComplete,
            values(&step(&plan, StepKind::LambdaStack).parameters),
            &l.lambda_template.body,
        ))),
        function: Fact::Known(Some(FunctionInfo {
            name: FUNCTION.into(),
            arn: arn.clone(),
            runtime: Some("provided.al2023".into()),
            reserved_concurrency: Some(5),
            ..FunctionInfo::default()
        })),
        statements: Fact::Known(vec![statement]),
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

/// Every case of the table.
fn cases() -> Vec<Case> {
    [
        stacks::cases(),
        trigger::cases(),
        account::cases(),
        storage::cases(),
        params::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
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
            .map(|p| {
                p.steps
                    .iter()
                    .map(|s| (s.kind().name(), s.action))
                    .collect()
            })
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
