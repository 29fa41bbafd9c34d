//! SDK errors, classified in one place by error code. Every call's error becomes a
//! [`CallError`]: `code: message`, marked transient when retrying later may succeed.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use aws_credential_types::provider::error::CredentialsError;

pub use crate::plan::cloud::{CallError, ErrorKind, Unsent};

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

/// Lambda: a statement id that is already taken (not a busy function: see [`is_busy`]).
pub fn is_sid_taken(code: &str, message: &str) -> bool {
    code == "ResourceConflictException" && !is_busy(code, message)
}

/// Lambda: the function is being created or updated and takes no other change for a while
/// ("The operation cannot be performed at this time. An update is in progress for resource").
pub fn is_busy(code: &str, message: &str) -> bool {
    code == "ResourceConflictException"
        && (message.contains("update is in progress")
            || message.contains("cannot be performed at this time"))
}

/// Lambda, SNS, S3: the thing asked for is not there.
pub fn is_not_found(code: &str) -> bool {
    matches!(
        code,
        "ResourceNotFoundException" | "NotFound" | "NoSuchBucket" | "NoSuchKey" | "404"
    )
}

/// What AWS's error `code` (and, for a generic code, its `message`) means.
pub fn kind(code: &str, message: &str) -> ErrorKind {
    match code {
        _ if is_busy(code, message) => ErrorKind::Busy,
        _ if is_sid_taken(code, message) => ErrorKind::StatementIdTaken,
        _ if is_not_found(code) => ErrorKind::NotFound,
        "AccessDenied"
        | "AccessDeniedException"
        | "AuthorizationError"
        | "AuthorizationErrorException"
        | "UnauthorizedOperation"
        | "403" => ErrorKind::Denied,
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "AuthFailure" => ErrorKind::CredentialsRefused,
        "ExpiredToken" | "ExpiredTokenException" => ErrorKind::CredentialsExpired,
        "SignatureDoesNotMatch" => ErrorKind::SignatureMismatch,
        "AlreadyExistsException" | "BucketAlreadyOwnedByYou" => ErrorKind::AlreadyExists,
        "InsufficientCapabilitiesException" => ErrorKind::Capabilities,
        "KMSAccessDeniedException"
        | "KMSDisabledException"
        | "KMSNotFoundException"
        | "KMSInvalidStateException" => ErrorKind::KmsRefused,
        "PermanentRedirect" | "AuthorizationHeaderMalformed" => ErrorKind::WrongRegion,
        "InvalidArgument"
        | "ValidationError"
        | "InvalidParameterValueException"
        | "InvalidRequest" => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

/// Organizations: the caller's account belongs to no organisation.
pub fn is_no_organization(code: &str) -> bool {
    code == "AWSOrganizationsNotInUseException"
}

/// S3: no such object.
pub fn is_no_such_key(code: &str) -> bool {
    code == "NoSuchKey"
}

/// S3: no such bucket.
pub fn is_no_such_bucket(code: &str) -> bool {
    code == "NoSuchBucket"
}

/// S3: the bucket has no default encryption.
pub fn is_unencrypted(code: &str) -> bool {
    code == "ServerSideEncryptionConfigurationNotFoundError"
}

/// S3 CreateBucket: the caller owns the bucket already (an interrupted run made it).
pub fn is_own_bucket(code: &str) -> bool {
    code == "BucketAlreadyOwnedByYou"
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
                || is_busy(&code, &message)
                || status == 429
                || status >= 500;
            let arguments = se
                .raw()
                .body()
                .bytes()
                .map(|b| s3_arguments(&String::from_utf8_lossy(b)))
                .unwrap_or_default();
            CallError {
                kind: kind(&code, &message),
                code: Some(code),
                message,
                transient,
                arguments,
                unsent: None,
            }
        }
        _ => {
            let unsent = unsent(&err).map(Box::new);
            let transient = match unsent.as_deref() {
                Some(Unsent::Unreachable { .. }) => true,
                Some(_) => false,
                None => matches!(
                    err,
                    SdkError::TimeoutError(_)
                        | SdkError::DispatchFailure(_)
                        | SdkError::ResponseError(_)
                ),
            };
            CallError {
                code: None,
                message: DisplayErrorContext(&err).to_string(),
                transient,
                arguments: Vec::new(),
                unsent,
                kind: ErrorKind::Other,
            }
        }
    }
}

/// Why a call never reached AWS: its credentials could not be resolved (the provider's error
/// is in the source chain), or the endpoint did not answer. The endpoint is left for the
/// caller, who knows it, to fill in.
fn unsent<E>(err: &SdkError<E, HttpResponse>) -> Option<Unsent>
where
    E: std::error::Error + 'static,
{
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(credentials_fault(c));
        }
        source = e.source();
    }
    let unreachable = match err {
        SdkError::DispatchFailure(d) => d.is_io() || d.is_timeout(),
        SdkError::TimeoutError(_) => true,
        _ => false,
    };
    unreachable.then(|| Unsent::Unreachable {
        endpoint: String::new(),
        overridden: false,
        cause: innermost(err),
    })
}

/// AWS's own words in a credentials provider's failure: an STS answer (an AssumeRole that was
/// refused) carries its code and message deep in the chain.
fn sts_refusal(c: &CredentialsError) -> Option<String> {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(c);
    while let Some(e) = source {
        if let Some(SdkError::ServiceError(se)) =
            e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>()
        {
            let err = se.err();
            return Some(format!(
                "{}: {}",
                err.code().unwrap_or("refused"),
                err.message().unwrap_or_default()
            ));
        }
        source = e.source();
    }
    None
}

/// What a credentials provider's failure means for the user.
pub fn credentials_fault(c: &CredentialsError) -> Unsent {
    if let Some(refused) = sts_refusal(c) {
        return Unsent::Credentials(refused);
    }
    let text = one_line(&DisplayErrorContext(c).to_string());
    let lower = text.to_ascii_lowercase();
    match c {
        CredentialsError::CredentialsNotLoaded(_) => Unsent::NoCredentials,
        _ if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) => {
            Unsent::SsoExpired { profile: None }
        }
        _ => Unsent::Credentials(text),
    }
}

/// The innermost cause of an error, e.g. "Connection refused (os error 111)".
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    one_line(&last.to_string())
}

/// Text on one line, without the SDK's debug dumps (`(DispatchFailure(...))`).
fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(" (") {
        Some(i) if flat[i..].contains("(Some(") || flat[i..].contains("Failure(") => {
            flat[..i].to_string()
        }
        _ => flat,
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
    unless(res, |code, _| is_not_found(code))
}

/// The answer of a read, `Ok(None)` when its error is one that `absent` (given the code and
/// the message) says means "nothing there".
pub fn unless<T, E>(
    res: Result<T, SdkError<E, HttpResponse>>,
    absent: fn(&str, &str) -> bool,
) -> Result<Option<T>, CallError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match res {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let e = classify(e);
            match absent(e.code.as_deref().unwrap_or(""), &e.message) {
                true => Ok(None),
                false => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_organization() {
        assert!(is_no_organization("AWSOrganizationsNotInUseException"));
        assert!(!is_no_organization("AccessDeniedException"));
    }

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
    fn kinds() {
        for (code, message, want) in [
            ("AccessDenied", "Access Denied", ErrorKind::Denied),
            ("403", "HTTP 403", ErrorKind::Denied),
            (
                "AuthorizationError",
                "User: x is not authorized",
                ErrorKind::Denied,
            ),
            (
                "InvalidClientTokenId",
                "invalid",
                ErrorKind::CredentialsRefused,
            ),
            ("ExpiredToken", "expired", ErrorKind::CredentialsExpired),
            ("SignatureDoesNotMatch", "no", ErrorKind::SignatureMismatch),
            ("NoSuchBucket", "gone", ErrorKind::NotFound),
            ("KMSDisabledException", "off", ErrorKind::KmsRefused),
            (
                "InsufficientCapabilitiesException",
                "x",
                ErrorKind::Capabilities,
            ),
            ("PermanentRedirect", "x", ErrorKind::WrongRegion),
            ("ValidationError", "x", ErrorKind::Invalid),
            (
                "ResourceConflictException",
                "An update is in progress for resource: f",
                ErrorKind::Busy,
            ),
            (
                "ResourceConflictException",
                "The statement id (s) provided already exists",
                ErrorKind::StatementIdTaken,
            ),
            ("SomethingNew", "x", ErrorKind::Other),
        ] {
            assert_eq!(kind(code, message), want, "{code}");
        }
    }

    #[test]
    fn conflict_and_not_found() {
        let taken = "The statement id (taegis-cloudtrail-s3-invoke) provided already exists. Please specify a new statement id, or remove the existing statement.";
        let busy = "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:1:function:f";
        assert!(is_sid_taken("ResourceConflictException", taken));
        assert!(!is_sid_taken("ResourceConflictException", busy));
        assert!(is_busy("ResourceConflictException", busy));
        assert!(!is_busy("ResourceConflictException", taken));
        assert!(!is_sid_taken("ResourceNotFoundException", taken));
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
