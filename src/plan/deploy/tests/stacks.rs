//! Table cases of the two stacks: a fresh account and one with everything in place, a stack
//! to delete and make again, one in the way, an update, and the shared stack's exports.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    [in_place_or_new(), to_make_again(), exports()]
        .into_iter()
        .flatten()
        .collect()
}

/// Nothing there yet, everything there, a stack a deploy cannot touch, an update.
fn in_place_or_new() -> Vec<Case> {
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
            name: "another XDR region under an importing stack",
            args: |a| a.guide.taegis_region = Some("echo".into()),
            seen: deployed,
            want: Want::Problems(&[(Input::TaegisRegion, "imports it")]),
        },
    ]
}

/// A stack that is deleted and made again.
fn to_make_again() -> Vec<Case> {
    vec![
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
    ]
}

/// The shared stack's export names: another stack's, or its own.
fn exports() -> Vec<Case> {
    vec![
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
    ]
}
