//! Unit tests of the executor's messages and stops, against a scripted `Cloud`: what the user
//! reads when AWS refuses a write. (The emulator tests cover the same flows end to end where
//! the emulator can be made to refuse.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::cloud::*;
use super::executor::Executor;
use super::follow::Pace;
use super::status::StackStatus;
use super::{
    Action, Cancel, Event, FunctionRef, LambdaZip, Op, Outcome, ParamValue, Reporter, Status, Step,
    StepKind, TargetPlan, TriggerSpec, Watch,
};
use crate::cli::DeployArgs;
use crate::kinds::OnFailure;
use crate::template::Template;

/// A cloud whose writes answer as scripted; reads describe one settled stack.
#[derive(Default)]
struct Scripted {
    /// write name -> the AWS error it answers with
    refuse: BTreeMap<&'static str, CallError>,
    /// what the stack looks like after an operation
    stack_status: Mutex<String>,
    stack_reason: Option<String>,
    calls: Mutex<Vec<&'static str>>,
}

fn aws_error(code: &str, message: &str) -> CallError {
    CallError {
        code: Some(code.into()),
        message: message.into(),
        transient: false,
        ..Default::default()
    }
}

impl Scripted {
    fn write(&self, name: &'static str) -> Result<()> {
        self.calls.lock().unwrap().push(name);
        match self.refuse.get(name) {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    }
}

impl CloudReads for Scripted {
    async fn identity(&self) -> Result<Identity> {
        Ok(Identity {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/t".into(),
        })
    }
    async fn identity_in(&self, _: &str) -> Result<Identity> {
        self.identity().await
    }
    async fn bucket_region(&self, _: &str, _: Option<&str>) -> Result<Option<String>> {
        Ok(Some("us-east-1".into()))
    }
    async fn object(&self, _: &str, _: &str) -> Result<ObjectState> {
        Ok(ObjectState::Absent)
    }
    async fn stack(&self, name: &str) -> Result<Option<StackInfo>> {
        Ok(Some(StackInfo {
            id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
            name: name.into(),
            status: StackStatus::parse(&self.stack_status.lock().unwrap()),
            reason: self.stack_reason.clone(),
            parameters: BTreeMap::new(),
            outputs: BTreeMap::from([("FunctionName".to_string(), "f".to_string())]),
            export_names: Vec::new(),
        }))
    }
    async fn template_body(&self, _: &str) -> Result<String> {
        Ok(String::new())
    }
    async fn stack_events(&self, _: &str, _: Option<&str>) -> Result<Vec<StackEvent>> {
        Ok(Vec::new())
    }
    async fn stack_function(&self, _: &str) -> Result<Option<String>> {
        Ok(Some("f".into()))
    }
    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>> {
        Ok(Some(FunctionInfo {
            name: name.into(),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            runtime: Some("provided.al2023".into()),
            reserved_concurrency: Some(5),
            ..FunctionInfo::default()
        }))
    }
    async fn policy_statements(&self, _: &str) -> Result<Vec<PolicyStatement>> {
        Ok(Vec::new())
    }
    async fn notifications(&self, _: &str) -> Result<Vec<NotificationEntry>> {
        Ok(Vec::new())
    }
    async fn topic(&self, _: &str) -> Result<Option<crate::plan::cloud::TopicInfo>> {
        Ok(Some(crate::plan::cloud::TopicInfo::default()))
    }
    async fn subscriptions(&self, _: &str) -> Result<Vec<Subscription>> {
        Ok(Vec::new())
    }
    async fn account_settings(&self) -> Result<AccountSettings> {
        Ok(AccountSettings {
            concurrent_executions: 1000,
            unreserved_concurrent_executions: 1000,
        })
    }
    async fn exports(&self) -> Result<Vec<Export>> {
        Ok(Vec::new())
    }
    async fn trails(&self) -> Result<Vec<Trail>> {
        Ok(Vec::new())
    }
    async fn log_summary(&self, _: &str, _: i64) -> Result<LogSummary> {
        Ok(LogSummary::default())
    }
    async fn key_policy(&self, _: &str) -> Result<String> {
        Ok(String::new())
    }
    async fn bucket_kms_key(&self, _: &str) -> Result<Option<String>> {
        Ok(None)
    }
    async fn invoke(&self, _: &str, _: &str) -> Result<Invocation> {
        Ok(Invocation::default())
    }
    async fn imports(&self, _: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn list_objects(&self, _: &str, _: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

impl Cloud for Scripted {
    async fn create_bucket(&self, _: &str, _: &str) -> Result<()> {
        self.write("create_bucket")
    }
    async fn put_object(&self, _: &str, _: &str, _: bytes::Bytes, _: &str) -> Result<()> {
        self.write("put_object")
    }
    async fn create_stack(
        &self,
        name: &str,
        _: &TemplateSource,
        _: &BTreeMap<String, ParamValue>,
    ) -> Result<String> {
        self.write("create_stack")?;
        Ok(format!(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"
        ))
    }
    async fn update_stack(
        &self,
        name: &str,
        _: &TemplateSource,
        _: &BTreeMap<String, ParamValue>,
    ) -> Result<UpdateStarted> {
        self.write("update_stack")?;
        Ok(UpdateStarted::Started {
            stack_id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
        })
    }
    async fn delete_stack(&self, _: &str) -> Result<()> {
        self.write("delete_stack")
    }
    async fn add_permission(&self, _: &str, _: &PolicyStatement) -> Result<Added> {
        self.write("add_permission")?;
        Ok(Added::Added)
    }
    async fn remove_permission(&self, _: &str, _: &str) -> Result<()> {
        self.write("remove_permission")
    }
    async fn put_notification(&self, _: &str, _: &OurNotification) -> Result<()> {
        self.write("put_notification")
    }
    async fn subscribe(&self, _: &str, _: &str) -> Result<()> {
        self.write("subscribe")
    }
    async fn remove_notifications(&self, _: &str, _: &[String]) -> Result<()> {
        self.write("remove_notification")
    }
    async fn unsubscribe(&self, _: &str) -> Result<()> {
        self.write("unsubscribe")
    }
    async fn delete_objects(&self, _: &str, _: &[String]) -> Result<()> {
        self.write("delete_objects")
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl Reporter for Events {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

fn plan(steps: &[(StepKind, Action)]) -> TargetPlan {
    let args = DeployArgs {
        guide: crate::cli::GuideArgs {
            credentials: Some("c.txt".into()),
            taegis_region: Some("foxtrot".into()),
            notification_bucket: Some("trail-logs".into()),
            lambda_bucket: Some("zips".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let (mut cfg, _) = crate::config::resolve(
        &args,
        None,
        Some("us-east-1"),
        None,
        crate::config::Needs::Deploy,
    );
    let trigger = TriggerSpec::S3 {
        bucket: "trail-logs".into(),
        bucket_arn: "arn:aws:s3:::trail-logs".into(),
        prefix: "AWSLogs/".into(),
        id: "taegis-cloudtrail-taegis-cloudtrail".into(),
        replaces: Vec::new(),
        statement_id: "taegis-cloudtrail-s3-invoke".into(),
    };
    // Each kind of step with the data the executor needs for it.
    let op = |kind: StepKind| match kind {
        StepKind::LambdaBucket => Op::LambdaBucket,
        StepKind::UploadZip => Op::UploadZip {
            zip: Arc::new(LambdaZip {
                bytes: bytes::Bytes::from_static(&[1, 2, 3]),
                sha256: "00".repeat(32),
            }),
            key: "k.zip".into(),
        },
        StepKind::UploadTemplate => Op::UploadTemplates(Vec::new()),
        StepKind::DeleteSharedStack => Op::DeleteSharedStack {
            exports: Vec::new(),
        },
        StepKind::SharedStack => Op::SharedStack(Arc::new(Template::bundled_shared())),
        StepKind::DeleteLambdaStack => Op::DeleteLambdaStack,
        StepKind::LambdaStack => Op::LambdaStack(Arc::new(Template::bundled_lambda())),
        StepKind::InvokePermission => Op::InvokePermission(trigger.statement("123456789012")),
        StepKind::BucketNotification => Op::BucketNotification(trigger.clone()),
        StepKind::SnsSubscription => Op::SnsSubscription(trigger.clone()),
        StepKind::RemoveOldTrigger => Op::RemoveOldTrigger(Default::default()),
        StepKind::RemoveNotification => Op::RemoveNotification(Default::default()),
        StepKind::RemovePermission => Op::RemovePermission(Default::default()),
        StepKind::RemoveSubscription => Op::RemoveSubscription(Default::default()),
        StepKind::DeleteZip => Op::DeleteZip(None),
    };
    TargetPlan {
        target: cfg.targets.remove(0).for_account("123456789012"),
        account: "123456789012".into(),
        partition: "aws".into(),
        steps: steps
            .iter()
            .map(|(kind, action)| Step::new(op(*kind), *action, ""))
            .collect(),
        function: Some(FunctionRef {
            name: "f".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        }),
        warnings: Vec::new(),
    }
}

async fn run(cloud: &Scripted, plan: &TargetPlan, cancel: &Cancel) -> super::TargetResult {
    let events = Events::default();
    let exec = Executor {
        cloud,
        watch: Watch {
            reporter: &events,
            pace: Pace {
                interval: std::time::Duration::from_millis(1),
                ..Pace::default()
            },
            cancel,
            learnt: &crate::plan::follow::Learnt::default(),
        },
        on_failure: OnFailure::Delete,
    };
    exec.apply(plan).await
}

/// Each refusal AWS answers a write with reads as: what failed, AWS's words, what to do.
#[tokio::test]
async fn aws_refusals_become_clear_messages() {
    let cases: Vec<(&'static str, StepKind, CallError, Vec<&str>)> = vec![
        (
            "add_permission",
            StepKind::InvokePermission,
            aws_error(
                "ResourceConflictException",
                "The statement id (taegis-cloudtrail-s3-invoke) provided already exists. Please specify a new statement id, or remove the existing statement.",
            ),
            vec![
                "failed to allow s3.amazonaws.com to invoke function f",
                "ResourceConflictException",
                "already exists",
            ],
        ),
        (
            "put_notification",
            StepKind::BucketNotification,
            aws_error(
                "InvalidArgument",
                "Unable to validate the following destination configurations",
            ),
            vec![
                "failed to write the notification configuration of bucket trail-logs",
                "Hint: S3 could not validate",
                "invoke permission",
            ],
        ),
        (
            "put_notification",
            StepKind::BucketNotification,
            aws_error(
                "InvalidArgument",
                "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
            ),
            vec!["Configurations overlap", "Hint:", "--trigger sns"],
        ),
        (
            "put_object",
            StepKind::UploadZip,
            aws_error("AccessDenied", "Access Denied"),
            vec![
                "failed to upload the zip to s3://zips/k.zip",
                "AccessDenied",
                "Hint: the deploying identity lacks",
            ],
        ),
        (
            "create_stack",
            StepKind::LambdaStack,
            aws_error(
                "ValidationError",
                "No export named TaegisXdrSecretArn found. Rollback requested by user.",
            ),
            vec![
                "failed to create stack taegis-cloudtrail",
                "No export named",
                "Hint: the shared stack's exports",
            ],
        ),
    ];
    for (write, kind, error, want) in cases {
        let cloud = Scripted {
            refuse: BTreeMap::from([(write, error)]),
            stack_status: Mutex::new("CREATE_COMPLETE".into()),
            ..Default::default()
        };
        let p = plan(&[
            (kind, Action::Create),
            (StepKind::SnsSubscription, Action::Create),
        ]);
        let r = run(&cloud, &p, &Cancel::default()).await;
        assert_eq!(r.outcome, Outcome::Failed, "{write}");
        let err = r.error.clone().unwrap();
        for w in &want {
            assert!(err.contains(w), "{write}: {w:?} not in {err}");
        }
        assert!(!err.contains('\n'), "{err}");
        assert_eq!(r.steps[0].status, Status::Failed);
        assert_eq!(r.steps[1].status, Status::Skipped);
        assert_eq!(
            r.steps[1].detail,
            "not started: an earlier step did not finish"
        );
        assert_eq!(
            cloud.calls.lock().unwrap().as_slice(),
            [write],
            "nothing ran after the failure"
        );
    }
}

/// Deleting a stack whose exports are still imported: AWS leaves the stack in place with a
/// reason; the user reads it, with a hint.
#[tokio::test]
async fn a_delete_refused_for_an_imported_export_is_explained() {
    let cloud = Scripted {
        stack_status: Mutex::new("ROLLBACK_COMPLETE".into()),
        stack_reason: Some(
            "Export TaegisXdrSecretArn cannot be deleted as it is in use by taegis-cloudtrail"
                .into(),
        ),
        ..Default::default()
    };
    let r = run(
        &cloud,
        &plan(&[(StepKind::DeleteSharedStack, Action::Delete)]),
        &Cancel::default(),
    )
    .await;
    let err = r.error.unwrap();
    assert!(
        err.contains("in use by taegis-cloudtrail") && err.contains("Hint: another stack imports"),
        "{err}"
    );
}

#[tokio::test]
async fn an_interrupted_run_starts_nothing_new_and_says_how_to_resume() {
    let cloud = Scripted::default();
    let cancel = Cancel::default();
    cancel.cancel();
    let p = plan(&[
        (StepKind::LambdaBucket, Action::Skip),
        (StepKind::UploadZip, Action::Create),
        (StepKind::InvokePermission, Action::Create),
    ]);
    let r = run(&cloud, &p, &cancel).await;
    assert_eq!(r.outcome, Outcome::InProgress);
    assert_eq!(r.steps[0].status, Status::Skipped);
    assert_eq!(r.steps[1].detail, "not started: interrupted");
    assert!(r.error.unwrap().contains("re-run the same command"));
    assert!(cloud.calls.lock().unwrap().is_empty());
}

/// The zip bucket and the shared stack go side by side: a refused upload stops only its own
/// lane, the shared stack beside it is made, nothing after both starts, and the results keep
/// the plan's order.
#[tokio::test]
async fn the_zip_and_the_shared_stack_go_side_by_side() {
    let cloud = Scripted {
        refuse: BTreeMap::from([("put_object", aws_error("AccessDenied", "Access Denied"))]),
        stack_status: Mutex::new("CREATE_COMPLETE".into()),
        ..Default::default()
    };
    let p = plan(&[
        (StepKind::LambdaBucket, Action::Create),
        (StepKind::UploadZip, Action::Create),
        (StepKind::SharedStack, Action::Create),
        (StepKind::LambdaStack, Action::Create),
    ]);
    let r = run(&cloud, &p, &Cancel::default()).await;
    let statuses: Vec<_> = r.steps.iter().map(|s| (s.name.name(), s.status)).collect();
    assert_eq!(
        statuses,
        [
            ("lambda-bucket", Status::Done),
            ("upload-lambda-zip", Status::Failed),
            ("shared-stack", Status::Done),
            ("lambda-stack", Status::Skipped),
        ]
    );
    assert_eq!(r.outcome, Outcome::Failed);
    let calls = cloud.calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().filter(|c| **c == "create_stack").count(),
        1,
        "only the shared stack: {calls:?}"
    );
}

#[test]
fn an_sns_permission_names_the_topic_and_its_owner() {
    let topic = "arn:aws:sns:us-east-1:999999999999:org-trail-news";
    let sns = TriggerSpec::Sns {
        topic_arn: topic.into(),
        statement_id: "taegis-cloudtrail-sns-invoke".into(),
    };
    let st = sns.statement("123456789012");
    assert_eq!(st.source_arn.as_deref(), Some(topic));
    assert_eq!(st.source_account.as_deref(), Some("999999999999"));
}
