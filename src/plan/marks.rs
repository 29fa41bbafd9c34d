//! What marks our resources, so that `deploy`, `destroy`, `verify` and `observe` know them by
//! the same names without importing each other: the statement ids of our invoke permissions,
//! the Id of our bucket entry, the events it takes, and the key prefixes of what we store.

/// The statement id of the permission that lets S3 invoke the function.
pub const S3_STATEMENT_ID: &str = "taegis-cloudtrail-s3-invoke";
/// The statement id of the permission that lets SNS invoke the function.
pub const SNS_STATEMENT_ID: &str = "taegis-cloudtrail-sns-invoke";
/// The events of our bucket entry.
pub const OBJECT_CREATED: &str = "s3:ObjectCreated:*";
/// Key prefixes of the objects `deploy` stores in the zip bucket.
pub const STORED_PREFIXES: &[&str] = &["taegis-lambda-amd64", "taegis-cloudformation-template-"];

/// What every Id of our notification entries starts with.
pub const NOTIFICATION_ID_PREFIX: &str = "taegis-cloudtrail-";

/// Our notification entry's stable Id: one per Lambda stack.
pub fn notification_id(stack_name: &str) -> String {
    format!("{NOTIFICATION_ID_PREFIX}{stack_name}")
}
