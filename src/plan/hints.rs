//! What to do about the known causes of an AWS failure. A failed call is classified by its
//! error code where AWS gives a telling one; the text is read only where it does not (a stack
//! event's reason, or a generic code such as S3's `InvalidArgument`).

use super::cloud::{CallError, ErrorKind, RefusedDestinations};

/// A known cause of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    CodeBucketRegion,
    ConcurrencyQuota,
    KmsAccess,
    DestinationValidation,
    /// S3 refused the configuration because of other people's entries.
    ForeignDestinations,
    Overlap,
    ExportInUse,
    ExportMissing,
    NameTaken,
    RuntimeBlocked,
    Capabilities,
    AccessDenied,
}

impl Cause {
    /// The cause of a failed step: the first AWS error code in the chain that tells, else the
    /// text of the whole chain.
    pub fn of_error(e: &anyhow::Error) -> Option<Cause> {
        if let Some(r) = e.downcast_ref::<RefusedDestinations>() {
            return Some(if r.foreign_only() {
                Cause::ForeignDestinations
            } else {
                Cause::DestinationValidation
            });
        }
        let by_kind = e
            .chain()
            .filter_map(|c| c.downcast_ref::<CallError>())
            .find_map(|c| Cause::from_kind(c.kind, &c.message));
        by_kind.or_else(|| Cause::from_text(&format!("{e:#}")))
    }

    /// By what the AWS room classified the error as; a generic code is narrowed down by its
    /// message.
    pub fn from_kind(kind: ErrorKind, message: &str) -> Option<Cause> {
        match kind {
            ErrorKind::WrongRegion => Some(Cause::CodeBucketRegion),
            ErrorKind::KmsRefused => Some(Cause::KmsAccess),
            ErrorKind::Capabilities => Some(Cause::Capabilities),
            ErrorKind::AlreadyExists => Some(Cause::NameTaken),
            ErrorKind::Denied => Cause::from_text(message).or(Some(Cause::AccessDenied)),
            ErrorKind::Invalid => Cause::from_text(message),
            _ => None,
        }
    }

    /// By the words of a reason (stack events carry no code).
    pub fn from_text(reason: &str) -> Option<Cause> {
        let r = reason.to_ascii_lowercase();
        let has = |s: &str| r.contains(&s.to_ascii_lowercase());
        let kms_denied = has("kms")
            && (has("AccessDenied")
                || has("not authorized")
                || has("access denied")
                || has("KMS key is disabled"));
        let table: [(bool, Cause); 11] = [
            (
                has("PermanentRedirect") || has("bucket is in this region"),
                Cause::CodeBucketRegion,
            ),
            (
                has("ReservedConcurrentExecutions") && has("minimum value"),
                Cause::ConcurrencyQuota,
            ),
            (kms_denied, Cause::KmsAccess),
            (
                has("Unable to validate the following destination configurations"),
                Cause::DestinationValidation,
            ),
            (has("Configurations overlap"), Cause::Overlap),
            (
                has("cannot be deleted as it is in use by")
                    || (has("Cannot update export") && has("in use by")),
                Cause::ExportInUse,
            ),
            (has("No export named"), Cause::ExportMissing),
            (has("Requires capabilities"), Cause::Capabilities),
            (has("already exists"), Cause::NameTaken),
            (
                has("runtime")
                    && (has("no longer supported") || has("deprecated") || has("not supported")),
                Cause::RuntimeBlocked,
            ),
            (
                has("not authorized to perform") || has("AccessDenied") || has("Access Denied"),
                Cause::AccessDenied,
            ),
        ];
        table.into_iter().find(|(hit, _)| *hit).map(|(_, c)| c)
    }

    pub fn hint(self) -> &'static str {
        match self {
            Cause::CodeBucketRegion => {
                "the Lambda code bucket must be in the function's region: use a bucket per region, e.g. --lambda-bucket 'taegis-lambda-{account}-{region}'"
            }
            Cause::ConcurrencyQuota => {
                "the account's unreserved Lambda concurrency is too low: request a higher \"Concurrent executions\" quota in Service Quotas, or lower --parameter ReservedConcurrency"
            }
            Cause::KmsAccess => {
                "the KMS key's policy does not let this role use it: allow kms:Decrypt (and kms:CreateGrant for the function's environment key) to the deploying role and the function's role"
            }
            Cause::DestinationValidation => {
                "S3 could not validate the function as a destination: its invoke permission for s3.amazonaws.com is missing, or has not reached S3 in the time waited (a new permission takes seconds); re-run the same command, which adds it first and waits for S3 to see it"
            }
            Cause::ForeignDestinations => {
                "S3 validates every destination of the bucket's configuration on every write, other people's entries too; the entries named are not this tool's: have their owners fix the destination or its permission for S3 (or remove the entry), then re-run"
            }
            Cause::Overlap => {
                "another notification on the bucket takes the same events and prefix: use --trigger sns with a topic that fans out to both, or a --prefix that does not overlap"
            }
            Cause::ExportInUse => {
                "another stack imports this stack's exports: delete or update the importing stack first"
            }
            Cause::ExportMissing => {
                "the shared stack's exports are missing in this region: deploy the shared stack here first (same account and region)"
            }
            Cause::NameTaken => {
                "a resource with this name already exists (a leftover, or another deploy with the same names): delete it or choose another --stack-name"
            }
            Cause::RuntimeBlocked => {
                "AWS blocks this runtime for new functions: use provided.al2023 (--parameter LambdaRuntime=provided.al2023)"
            }
            Cause::Capabilities => {
                "the template creates IAM resources, which CloudFormation only does when CAPABILITY_IAM / CAPABILITY_NAMED_IAM are acknowledged"
            }
            Cause::AccessDenied => {
                "the deploying identity lacks the permission named above: add it to the role or user that runs taegis-cloudtrail (`taegis-cloudtrail iam-policy deploy` prints every permission a deploy needs)"
            }
        }
    }
}

/// The message of a failed step, with what to do about a known cause.
pub fn with_hint(e: &anyhow::Error) -> String {
    let msg = format!("{e:#}");
    match Cause::of_error(e) {
        Some(c) => format!("{msg}. Hint: {}", c.hint()),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::cloud::RefusedDestination;

    #[test]
    fn hints_for_known_causes_from_text() {
        for (reason, want) in [
            (
                "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is in this region: eu-west-1.",
                Cause::CodeBucketRegion,
            ),
            (
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
                Cause::ConcurrencyQuota,
            ),
            (
                "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: kms:CreateGrant (Service: Kms, AccessDeniedException)",
                Cause::KmsAccess,
            ),
            (
                "InvalidArgument: Unable to validate the following destination configurations",
                Cause::DestinationValidation,
            ),
            (
                "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                Cause::Overlap,
            ),
            (
                "Export TaegisXdrSecretArn cannot be deleted as it is in use by taegis-cloudtrail",
                Cause::ExportInUse,
            ),
            (
                "No export named TaegisXdrSecretArn found",
                Cause::ExportMissing,
            ),
            (
                "Resource of type 'AWS::Logs::LogGroup' with identifier '/aws/lambda/x' already exists.",
                Cause::NameTaken,
            ),
            (
                "The runtime parameter of provided.al2 is no longer supported for creating or updating AWS Lambda functions.",
                Cause::RuntimeBlocked,
            ),
            (
                "User: x is not authorized to perform: iam:CreateRole",
                Cause::AccessDenied,
            ),
        ] {
            assert_eq!(Cause::from_text(reason), Some(want), "{reason}");
        }
        assert_eq!(Cause::from_text("Internal failure"), None);
    }

    #[test]
    fn codes_win_over_text() {
        // Classified as the AWS room classifies every call's error.
        let e = |code: &str, message: &str| {
            anyhow::Error::new(CallError {
                code: Some(code.into()),
                message: message.into(),
                transient: false,
                kind: crate::aws::errors::kind(code, message),
                ..Default::default()
            })
            .context("failed to create stack x")
        };
        // The words would say "already exists"; the code says capabilities.
        assert_eq!(
            Cause::of_error(&e(
                "InsufficientCapabilitiesException",
                "Requires capabilities : [CAPABILITY_IAM] (the role already exists)"
            )),
            Some(Cause::Capabilities)
        );
        assert_eq!(
            Cause::of_error(&e(
                "KMSAccessDeniedException",
                "Lambda was unable to decrypt"
            )),
            Some(Cause::KmsAccess)
        );
        // A generic code is narrowed by its message.
        assert_eq!(
            Cause::of_error(&e("InvalidArgument", "Configurations overlap.")),
            Some(Cause::Overlap)
        );
        assert_eq!(
            Cause::of_error(&e("InvalidArgument", "Something else")),
            None
        );
        // No code at all (a stack event's reason): the text.
        assert_eq!(
            Cause::of_error(&anyhow::anyhow!(
                "stack x ended in ROLLBACK_COMPLETE: Fn: No export named X found"
            )),
            Some(Cause::ExportMissing)
        );
        assert!(
            with_hint(&e("AccessDenied", "Access Denied")).contains("Hint: the deploying identity")
        );
        // S3 named the destinations it could not validate: ours, or only someone else's.
        let refused = |ours: bool| {
            anyhow::Error::new(RefusedDestinations(vec![RefusedDestination {
                arn: "arn:aws:sqs:us-east-1:1:audit".into(),
                reason: "Permissions on the destination queue do not allow S3".into(),
                entry: Some("audit-queue".into()),
                ours,
            }]))
            .context("failed to write the notification configuration of bucket b")
        };
        assert_eq!(
            Cause::of_error(&refused(false)),
            Some(Cause::ForeignDestinations)
        );
        assert_eq!(
            Cause::of_error(&refused(true)),
            Some(Cause::DestinationValidation)
        );
        let shown = with_hint(&refused(false));
        assert!(
            shown.contains("entry \"audit-queue\" -> arn:aws:sqs:us-east-1:1:audit")
                && shown.contains("not this tool's")
                && !shown.contains("invoke permission"),
            "{shown}"
        );
    }
}
