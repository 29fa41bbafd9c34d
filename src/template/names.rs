//! The names of the templates' parameters the tool fills or reads, in one place (the vendor's
//! spelling, `SNSNotificationarn` included).

/// Shared stack: the credentials text (NoEcho).
pub const SECRET_VALUE: &str = "SecretValue";
/// Shared stack: the XDR region.
pub const TAEGIS_REGION: &str = "TaegisRegion";
/// Lambda stack: what the log bucket holds.
pub const INTEGRATION_TYPE: &str = "IntegrationType";
/// Lambda stack: the CloudTrail log bucket.
pub const NOTIFICATION_BUCKET: &str = "NotificationBucket";
/// Lambda stack: the SNS topic of an SNS trigger.
pub const SNS_TOPIC: &str = "SNSNotificationarn";
/// Lambda stack: the KMS key of the log objects.
pub const BUCKET_KMS_KEY: &str = "NotificationBucketCustomerManagedKMSarn";
/// Lambda stack: the bucket of the code zip.
pub const LAMBDA_BUCKET: &str = "TaegisLambdaS3BucketName";
/// Lambda stack: the key of the code zip (the bundled template's, content-addressed).
pub const LAMBDA_KEY: &str = "TaegisLambdaS3Key";
/// Lambda stack: the KMS key of the function's environment.
pub const LAMBDA_ENV_KMS_KEY: &str = "LambdaEnvKMSarn";
/// Lambda stack: the function's reserved concurrency.
pub const RESERVED_CONCURRENCY: &str = "ReservedConcurrency";
/// Lambda stack: the function's runtime (the bundled template's).
pub const LAMBDA_RUNTIME: &str = "LambdaRuntime";
