//! SDK errors, classified in one place by error code. Every call's error becomes a
//! [`CallError`]: `code: message`, marked transient when retrying later may succeed.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use crate::plan::cloud::CallError;

/// Throttling codes across CloudFormation, S3, Lambda, SNS and STS.
pub fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "ProvisionedThroughputExceededException"
            | "PriorRequestNotComplete"
    )
}

/// Server-side faults worth retrying.
pub fn is_server_fault_code(code: &str) -> bool {
    matches!(
        code,
        "InternalError"
            | "InternalFailure"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "ServiceException"
    )
}

/// CloudFormation: the stack does not exist.
pub fn is_stack_missing(code: &str, message: &str) -> bool {
    code == "ValidationError" && message.contains("does not exist")
}

/// CloudFormation: an update with nothing to change.
pub fn is_no_updates(code: &str, message: &str) -> bool {
    code == "ValidationError" && message.contains("No updates are to be performed")
}

/// CloudFormation: an update refused because one is already running.
pub fn is_update_in_progress(code: &str, message: &str) -> bool {
    code == "ValidationError" && message.contains("_IN_PROGRESS state and can not be updated")
}

/// CloudFormation ListImports: nothing imports the export.
pub fn is_not_imported(code: &str, message: &str) -> bool {
    code == "ValidationError" && message.contains("is not imported by any stack")
}

/// Lambda: a statement id that is already taken.
pub fn is_conflict(code: &str) -> bool {
    code == "ResourceConflictException"
}

/// Lambda, SNS, S3: the thing asked for is not there.
pub fn is_not_found(code: &str) -> bool {
    matches!(
        code,
        "ResourceNotFoundException" | "NotFound" | "NoSuchBucket" | "NoSuchKey" | "404"
    )
}

/// Turn any SDK error into a [`CallError`].
pub fn classify<E>(err: SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = se.raw().status().as_u16();
            // HEAD requests carry no body: fall back to the HTTP status.
            let code = e
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| status.to_string());
            let message = e
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}"));
            let transient = is_throttling_code(&code)
                || is_server_fault_code(&code)
                || status == 429
                || status >= 500;
            let arguments = se
                .raw()
                .body()
                .bytes()
                .map(|b| s3_arguments(&String::from_utf8_lossy(b)))
                .unwrap_or_default();
            CallError {
                code: Some(code),
                message,
                transient,
                arguments,
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            CallError {
                code: None,
                message: DisplayErrorContext(&err).to_string(),
                transient: true,
                arguments: Vec::new(),
            }
        }
        _ => CallError {
            code: None,
            message: DisplayErrorContext(&err).to_string(),
            transient: false,
            arguments: Vec::new(),
        },
    }
}

/// The `<ArgumentNameN>`/`<ArgumentValueN>` pairs of an S3 error body, in order: S3 names
/// there each destination it could not validate, and why.
pub fn s3_arguments(body: &str) -> Vec<(String, String)> {
    let element = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(xml_unescape(&body[start..end]))
    };
    (1..)
        .map_while(|n| {
            let name = element(&format!("ArgumentName{n}"))?;
            let value = element(&format!("ArgumentValue{n}")).unwrap_or_default();
            Some((name, value))
        })
        .collect()
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The answer of a read whose "not found" means absent: `Ok(None)`.
pub fn found<T, E>(res: Result<T, SdkError<E, HttpResponse>>) -> Result<Option<T>, CallError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match res {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let e = classify(e);
            if e.code.as_deref().is_some_and(is_not_found) {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes() {
        for c in [
            "Throttling",
            "SlowDown",
            "TooManyRequestsException",
            "ThrottlingException",
        ] {
            assert!(is_throttling_code(c), "{c}");
        }
        assert!(!is_throttling_code("ValidationError"));
    }

    #[test]
    fn server_faults() {
        assert!(is_server_fault_code("ServiceUnavailable"));
        assert!(is_server_fault_code("InternalError"));
        assert!(!is_server_fault_code("AccessDenied"));
    }

    #[test]
    fn stack_missing() {
        assert!(is_stack_missing(
            "ValidationError",
            "Stack with id x does not exist"
        ));
        assert!(!is_stack_missing(
            "ValidationError",
            "Template format error"
        ));
        assert!(!is_stack_missing("AccessDenied", "does not exist"));
    }

    #[test]
    fn no_updates() {
        assert!(is_no_updates(
            "ValidationError",
            "No updates are to be performed."
        ));
        assert!(!is_no_updates("ValidationError", "Stack does not exist"));
    }

    #[test]
    fn not_imported() {
        assert!(is_not_imported(
            "ValidationError",
            "Export 'TaegisXdrSecretArn' is not imported by any stack."
        ));
        assert!(!is_not_imported("ValidationError", "Stack does not exist"));
    }

    #[test]
    fn update_in_progress() {
        assert!(is_update_in_progress(
            "ValidationError",
            "Stack:arn:aws:cloudformation:us-east-1:1:stack/x/y is in UPDATE_IN_PROGRESS state and can not be updated."
        ));
        assert!(!is_update_in_progress(
            "ValidationError",
            "No updates are to be performed."
        ));
    }

    #[test]
    fn s3_error_arguments() {
        let body = "<Error><Code>InvalidArgument</Code><Message>Unable to validate the following destination configurations</Message><ArgumentName1>arn:aws:sqs:us-east-1:1:audit</ArgumentName1><ArgumentValue1>Permissions on the destination queue do not allow S3 to publish notifications from this bucket</ArgumentValue1><ArgumentName2>arn:aws:sns:us-east-1:1:t&amp;x</ArgumentName2><ArgumentValue2>gone</ArgumentValue2><RequestId>r</RequestId></Error>";
        let a = s3_arguments(body);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].0, "arn:aws:sqs:us-east-1:1:audit");
        assert!(a[0].1.starts_with("Permissions on the destination queue"));
        assert_eq!(a[1], ("arn:aws:sns:us-east-1:1:t&x".into(), "gone".into()));
        assert!(s3_arguments("<Error><Code>X</Code></Error>").is_empty());
    }

    #[test]
    fn conflict_and_not_found() {
        assert!(is_conflict("ResourceConflictException"));
        assert!(!is_conflict("ResourceNotFoundException"));
        for c in [
            "ResourceNotFoundException",
            "NotFound",
            "NoSuchBucket",
            "404",
        ] {
            assert!(is_not_found(c), "{c}");
        }
        assert!(!is_not_found("AccessDenied"));
    }
}
