//! Table cases of the account: the identity (each region's answer, the role's account), the
//! Lambda concurrency left unreserved, and reads that failed.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    [identity(), concurrency_and_reads()]
        .into_iter()
        .flatten()
        .collect()
}

/// The identity: refused in the region, everywhere, expired; a role for another account.
fn identity() -> Vec<Case> {
    vec![
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
    ]
}

/// The account's unreserved concurrency, and reads that failed.
fn concurrency_and_reads() -> Vec<Case> {
    vec![
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
