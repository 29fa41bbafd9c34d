//! Decide, for `destroy`: from what was observed, the removal in the safe order. Our bucket
//! entries, our statements, our subscriptions, the Lambda stack; with `--shared` the shared
//! stack (only once nothing imports it), with `--delete-zip` the objects the tool stored.
//! Nothing that is not ours is ever planned for removal.

use super::cloud::ObjectState;
use super::deploy::Decision;
use super::marks::{S3_STATEMENT_ID, SNS_STATEMENT_ID, notification_id};
use super::observe::{Fact, Observed, Reads};
use super::{Action, FunctionRef, OldTrigger, Op, Step, TargetPlan};
use crate::config::TargetConfig;
use crate::input::{Input, Preflight, Problem};

/// What to remove besides the Lambda stack and its trigger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    /// The shared stack (and the credentials in it).
    pub shared: bool,
    /// The objects the tool stored in the zip bucket.
    pub zip: bool,
}

/// What `destroy` reads for a target (its account expanded).
pub fn reads(t: &TargetConfig, _seen: &Observed, scope: Scope) -> Reads {
    let ok = |i: Input| !t.flawed.contains(&i);
    Reads {
        // A bucket named in the flags or the file is looked at too: our entry may outlive a
        // stack that was deleted by hand.
        notification_bucket: (ok(Input::NotificationBucket) && !t.notification_bucket.is_empty())
            .then(|| t.notification_bucket.clone()),
        notifications: true,
        lambda_stack: ok(Input::StackName).then(|| t.stack_name.clone()),
        shared_stack: (scope.shared && ok(Input::SharedStackName))
            .then(|| t.shared_stack_name.clone()),
        earlier_trigger: true,
        imports: scope.shared,
        stored_objects: scope.zip.then(|| t.lambda_bucket.clone()),
        ..Reads::default()
    }
}

/// Decide a target's destroy from what was observed. Pure.
pub fn decide(target: &TargetConfig, scope: Scope, seen: &Observed) -> Decision {
    let account = match &seen.identity {
        Fact::Known(i) => i.account.clone(),
        Fact::Failed(e) => {
            let mut preflight = Preflight::default();
            preflight.problem(super::identity::problem(
                target,
                e,
                &seen.identity_elsewhere,
            ));
            return Decision {
                plan: None,
                preflight,
            };
        }
        Fact::NotRead => {
            return Decision {
                plan: None,
                preflight: Preflight::default(),
            };
        }
    };
    let t = target.for_account(&account);
    let mut pf = Preflight::default();
    let function = our_function(seen, &mut pf, &t);
    let trigger = our_trigger(&t, seen, function.as_ref());
    let mut steps = trigger_steps(&trigger);
    steps.push(lambda_stack_step(&t, seen, &mut pf));
    if scope.shared {
        steps.push(shared_stack_step(&t, seen, &mut pf));
    }
    if scope.zip {
        steps.push(zip_step(&t, seen, &mut pf));
    }
    let plan = TargetPlan {
        partition: seen.partition(),
        target: t,
        account,
        steps,
        function,
        warnings: pf.warnings.clone(),
    };
    Decision {
        plan: Some(plan),
        preflight: pf,
    }
}

/// The Lambda stack's function, when the stack is there.
fn our_function(seen: &Observed, pf: &mut Preflight, t: &TargetConfig) -> Option<FunctionRef> {
    match &seen.function {
        Fact::Known(Some(f)) => Some(FunctionRef {
            name: f.name.clone(),
            arn: f.arn.clone(),
        }),
        Fact::Failed(e) => {
            pf.problem(Problem::about(
                Input::StackName,
                format!("stack {}", t.stack_name),
                format!("cannot read its function ({e})"),
            ));
            None
        }
        _ => None,
    }
}

/// Everything that sends events to our function: our entry (by Id, on the stack's bucket or
/// the one named), entries made by hand for the function (S3 would refuse every later write of
/// the bucket's configuration once the function is gone), its subscriptions, our statements.
fn our_trigger(t: &TargetConfig, seen: &Observed, f: Option<&FunctionRef>) -> OldTrigger {
    let id = notification_id(&t.stack_name);
    let mut old = OldTrigger::default();
    for (bucket, entries) in &seen.notifications {
        let Fact::Known(entries) = entries else {
            continue;
        };
        let ids: Vec<String> = entries
            .iter()
            .filter(|e| {
                e.id.as_deref() == Some(id.as_str()) || f.is_some_and(|f| f.arn == e.target_arn)
            })
            .filter_map(|e| e.id.clone())
            .collect();
        if !ids.is_empty() && old.notification.is_none() {
            old.notification = Some((bucket.clone(), ids));
        }
    }
    let Some(f) = f else {
        return old;
    };
    for subs in seen.subscriptions.values() {
        if let Fact::Known(subs) = subs {
            old.subscriptions.extend(
                subs.iter()
                    .filter(|s| s.protocol == "lambda" && s.endpoint == f.arn)
                    .map(|s| s.arn.clone()),
            );
        }
    }
    if let Fact::Known(st) = &seen.statements {
        old.statements = st
            .iter()
            .filter(|s| s.sid == S3_STATEMENT_ID || s.sid == SNS_STATEMENT_ID)
            .map(|s| s.sid.clone())
            .collect();
    }
    old
}

/// The trigger's removal, in three steps (each a skip when there is nothing of ours), each
/// with its part of the trigger.
fn trigger_steps(old: &OldTrigger) -> Vec<Step> {
    let notification = OldTrigger {
        notification: old.notification.clone(),
        ..OldTrigger::default()
    };
    let statements = OldTrigger {
        statements: old.statements.clone(),
        ..OldTrigger::default()
    };
    let subscriptions = OldTrigger {
        subscriptions: old.subscriptions.clone(),
        ..OldTrigger::default()
    };
    let removal =
        |op: fn(OldTrigger) -> Op, part: OldTrigger, detail: String, none: &str| match part
            .is_empty()
        {
            true => Step::new(op(part), Action::Skip, none),
            false => Step::new(op(part), Action::Delete, detail),
        };
    vec![
        removal(
            Op::RemoveNotification,
            notification.clone(),
            format!(
                "remove {}; every other entry stays as it is",
                notification.describe()
            ),
            "no bucket entry sends events to the function",
        ),
        removal(
            Op::RemovePermission,
            statements,
            format!("remove statement {}", old.statements.join(", ")),
            "no statement of ours on the function",
        ),
        removal(
            Op::RemoveSubscription,
            subscriptions,
            format!("remove subscription {}", old.subscriptions.join(", ")),
            "the function is subscribed to no topic",
        ),
    ]
}

fn stack_of<'a>(
    fact: &'a Fact<Option<super::observe::StackSeen>>,
    input: Input,
    name: &str,
    pf: &mut Preflight,
) -> Option<&'a super::observe::StackSeen> {
    match fact {
        Fact::Known(s) => s.as_ref(),
        Fact::Failed(e) => {
            pf.problem(Problem::about(
                input,
                format!("stack {name}"),
                e.to_string(),
            ));
            None
        }
        Fact::NotRead => None,
    }
}

fn lambda_stack_step(t: &TargetConfig, seen: &Observed, pf: &mut Preflight) -> Step {
    let name = &t.stack_name;
    match stack_of(&seen.lambda_stack, Input::StackName, name, pf) {
        Some(s) => Step::new(
            Op::DeleteLambdaStack,
            Action::Delete,
            format!("delete stack {name} ({}) and its function", s.info.status),
        ),
        None => Step::new(
            Op::DeleteLambdaStack,
            Action::Skip,
            format!("stack {name} is not there"),
        ),
    }
}

/// The shared stack, with the exports whose importers are checked again right before.
fn shared_stack_step(t: &TargetConfig, seen: &Observed, pf: &mut Preflight) -> Step {
    let name = &t.shared_stack_name;
    let Some(s) = stack_of(&seen.shared_stack, Input::SharedStackName, name, pf) else {
        let op = Op::DeleteSharedStack {
            exports: Vec::new(),
        };
        return Step::new(op, Action::Skip, format!("stack {name} is not there"));
    };
    let others: Vec<String> = seen
        .imports
        .values()
        .filter_map(Fact::known)
        .flatten()
        .filter(|i| **i != t.stack_name)
        .cloned()
        .collect();
    let detail = if others.is_empty() {
        format!(
            "delete stack {name} and the credentials it holds, once nothing imports its exports"
        )
    } else {
        format!(
            "stack {name} is still imported by {}: it will be kept, and this step fail, unless that stack goes first",
            others.join(" and ")
        )
    };
    let op = Op::DeleteSharedStack {
        exports: s.info.export_names.clone(),
    };
    Step::new(op, Action::Delete, detail)
}

/// The objects the tool stored in the zip bucket (those that carry its content hash).
fn zip_step(t: &TargetConfig, seen: &Observed, pf: &mut Preflight) -> Step {
    let skip = |why: String| Step::new(Op::DeleteZip(None), Action::Skip, why);
    match &seen.stored {
        Fact::Known(Some((bucket, objects))) => {
            let ours: Vec<String> = objects
                .iter()
                .filter(|(_, state)| matches!(state, ObjectState::Present { sha256: Some(_) }))
                .map(|(k, _)| k.clone())
                .collect();
            if ours.is_empty() {
                return skip(format!("no object of ours in bucket {bucket}"));
            }
            let detail = format!("delete {} from bucket {bucket}", ours.join(", "));
            Step::new(
                Op::DeleteZip(Some((bucket.clone(), ours))),
                Action::Delete,
                detail,
            )
        }
        Fact::Failed(e) => {
            pf.problem(Problem::value(
                Input::LambdaBucket,
                &t.lambda_bucket,
                format!("cannot list its objects ({e})"),
            ));
            skip(String::new())
        }
        _ => skip("no zip bucket found".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::cloud::{
        FunctionInfo, Identity, NotificationEntry, NotificationKind, PolicyStatement, StackInfo,
        Subscription,
    };
    use crate::plan::observe::StackSeen;
    use crate::plan::status::StackStatus;

    const ACCOUNT: &str = "123456789012";
    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:taegis-cloudtrail-scwx-tdr-lambda-awscloudtrail";

    fn target() -> TargetConfig {
        let args = crate::cli::DeployArgs::default();
        let (mut c, _) = crate::config::resolve(
            &args,
            None,
            Some("us-east-1"),
            None,
            crate::config::Needs::Targets,
        );
        c.targets.remove(0)
    }

    fn stack(name: &str, params: &[(&str, &str)], exports: &[&str]) -> Fact<Option<StackSeen>> {
        Fact::Known(Some(StackSeen {
            info: StackInfo {
                id: format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/1"),
                name: name.into(),
                status: StackStatus::CreateComplete,
                reason: None,
                parameters: params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                outputs: BTreeMap::new(),
                export_names: exports.iter().map(|e| e.to_string()).collect(),
            },
            template: Fact::NotRead,
        }))
    }

    fn entry(id: &str, target: &str) -> NotificationEntry {
        NotificationEntry {
            kind: NotificationKind::Lambda,
            id: Some(id.into()),
            target_arn: target.into(),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: String::new(),
            suffix: String::new(),
        }
    }

    /// A deploy of the defaults, with someone else's entry and subscription around ours.
    fn deployed() -> Observed {
        let other = "arn:aws:lambda:us-east-1:123456789012:function:other";
        let topic = "arn:aws:sns:us-east-1:123456789012:t";
        Observed {
            identity: Fact::Known(Identity {
                account: ACCOUNT.into(),
                arn: format!("arn:aws:iam::{ACCOUNT}:user/ops"),
            }),
            lambda_stack: stack("taegis-cloudtrail", &[("NotificationBucket", "logs")], &[]),
            shared_stack: stack("taegis-shared-resources", &[], &["TaegisXdrSecretArn"]),
            function: Fact::Known(Some(FunctionInfo {
                name: "taegis-cloudtrail-scwx-tdr-lambda-awscloudtrail".into(),
                arn: ARN.into(),
                ..FunctionInfo::default()
            })),
            statements: Fact::Known(vec![
                PolicyStatement {
                    sid: S3_STATEMENT_ID.into(),
                    principal: "s3.amazonaws.com".into(),
                    source_arn: Some("arn:aws:s3:::logs".into()),
                    source_account: Some(ACCOUNT.into()),
                },
                PolicyStatement {
                    sid: "someone-elses".into(),
                    principal: "events.amazonaws.com".into(),
                    source_arn: None,
                    source_account: None,
                },
            ]),
            notifications: BTreeMap::from([(
                "logs".to_string(),
                Fact::Known(vec![
                    entry("taegis-cloudtrail-taegis-cloudtrail", ARN),
                    entry("by-hand", ARN),
                    entry("thumbnails", other),
                ]),
            )]),
            subscriptions: BTreeMap::from([(
                topic.to_string(),
                Fact::Known(vec![
                    Subscription {
                        protocol: "lambda".into(),
                        endpoint: ARN.into(),
                        arn: format!("{topic}:ours"),
                    },
                    Subscription {
                        protocol: "lambda".into(),
                        endpoint: other.into(),
                        arn: format!("{topic}:theirs"),
                    },
                ]),
            )]),
            imports: BTreeMap::from([(
                "TaegisXdrSecretArn".to_string(),
                Fact::Known(vec![
                    "taegis-cloudtrail".to_string(),
                    "second-ct".to_string(),
                ]),
            )]),
            ..Observed::default()
        }
    }

    fn steps(d: &Decision) -> Vec<(&'static str, Action)> {
        d.plan
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .map(|s| (s.kind().name(), s.action))
            .collect()
    }

    #[test]
    fn only_what_is_ours_is_removed_in_the_safe_order() {
        let d = decide(
            &target(),
            Scope {
                shared: true,
                zip: false,
            },
            &deployed(),
        );
        assert!(d.preflight.is_ok(), "{:?}", d.preflight.problems);
        assert_eq!(
            steps(&d),
            [
                ("remove-bucket-notification", Action::Delete),
                ("remove-invoke-permission", Action::Delete),
                ("remove-sns-subscription", Action::Delete),
                ("delete-lambda-stack", Action::Delete),
                ("delete-shared-stack", Action::Delete),
            ]
        );
        let plan = d.plan.unwrap();
        let ops: Vec<&Op> = plan.steps.iter().map(|s| &s.op).collect();
        let [
            Op::RemoveNotification(notification),
            Op::RemovePermission(statements),
            Op::RemoveSubscription(subscriptions),
            Op::DeleteLambdaStack,
            Op::DeleteSharedStack { exports },
        ] = ops[..]
        else {
            panic!("{ops:?}");
        };
        assert_eq!(
            notification.notification,
            Some((
                "logs".to_string(),
                vec![
                    "taegis-cloudtrail-taegis-cloudtrail".to_string(),
                    "by-hand".to_string()
                ]
            ))
        );
        assert_eq!(statements.statements, [S3_STATEMENT_ID]);
        assert_eq!(
            subscriptions.subscriptions,
            ["arn:aws:sns:us-east-1:123456789012:t:ours"]
        );
        assert_eq!(exports, &["TaegisXdrSecretArn"]);
        // The other importer is named before anything is done.
        assert!(
            plan.steps[4].detail.contains("second-ct"),
            "{}",
            plan.steps[4].detail
        );
    }

    #[test]
    fn nothing_left_is_nothing_to_do() {
        let seen = Observed {
            identity: deployed().identity,
            lambda_stack: Fact::Known(None),
            shared_stack: Fact::Known(None),
            stored: Fact::Known(None),
            ..Observed::default()
        };
        let d = decide(
            &target(),
            Scope {
                shared: true,
                zip: true,
            },
            &seen,
        );
        assert!(
            steps(&d).iter().all(|(_, a)| *a == Action::Skip),
            "{:?}",
            steps(&d)
        );
        assert!(!d.plan.unwrap().changes());
    }

    #[test]
    fn only_the_objects_the_tool_stored_are_deleted() {
        let seen = Observed {
            stored: Fact::Known(Some((
                "zips".into(),
                vec![
                    (
                        "taegis-lambda-amd64-0123.zip".into(),
                        ObjectState::Present {
                            sha256: Some("ab".into()),
                        },
                    ),
                    (
                        "taegis-lambda-amd64.zip".into(),
                        ObjectState::Present { sha256: None },
                    ),
                ],
            ))),
            ..deployed()
        };
        let d = decide(
            &target(),
            Scope {
                shared: false,
                zip: true,
            },
            &seen,
        );
        let plan = d.plan.unwrap();
        let Op::DeleteZip(objects) = &plan.steps.last().unwrap().op else {
            panic!("the last step deletes the zip: {:?}", plan.steps);
        };
        assert_eq!(
            objects,
            &Some(("zips".into(), vec!["taegis-lambda-amd64-0123.zip".into()]))
        );
    }
}
