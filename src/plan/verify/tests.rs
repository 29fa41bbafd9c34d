use super::trigger::broader;
use super::*;
use crate::plan::cloud::PolicyStatement;

#[test]
fn key_policies_that_let_the_role_decrypt() {
    let role = "arn:aws:iam::123456789012:role/fn-role";
    let delegates = r#"{"Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}"#;
    assert!(key_allows(delegates, "123456789012", role));
    let direct = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":["{role}"]}},"Action":["kms:Decrypt"],"Resource":"*"}}]}}"#
    );
    assert!(key_allows(&direct, "123456789012", role));
    let other_account = delegates.replace("123456789012", "999999999999");
    assert!(!key_allows(&other_account, "123456789012", role));
    let deny = delegates.replace("\"Allow\"", "\"Deny\"");
    assert!(!key_allows(&deny, "123456789012", role));
    assert!(!key_allows("not json", "123456789012", role));
    let stmt: serde_json::Value = serde_json::from_str(&decrypt_statement(role)).unwrap();
    assert_eq!(stmt["Principal"]["AWS"], role);
    assert_eq!(stmt["Action"], "kms:Decrypt");
}

#[test]
fn broader_statements() {
    let st = |principal: &str, source: Option<&str>| PolicyStatement {
        sid: "x".into(),
        principal: principal.into(),
        source_arn: source.map(str::to_string),
        source_account: None,
    };
    assert!(broader(&st("s3.amazonaws.com", None)));
    assert!(broader(&st("s3.amazonaws.com", Some("arn:aws:s3:::*"))));
    assert!(broader(&st("*", None)));
    assert!(!broader(&st("s3.amazonaws.com", Some("arn:aws:s3:::b"))));
    assert!(!broader(&st("events.amazonaws.com", None)));
}

#[test]
fn the_test_event_is_for_a_log_file_not_a_digest() {
    let keys: Vec<String> = [
        "AWSLogs/1/CloudTrail-Digest/us-east-1/2026/12/01/d.json.gz",
        "AWSLogs/1/CloudTrail/us-east-1/2026/12/01/",
        "AWSLogs/1/CloudTrail/us-east-1/2026/12/01/log.json.gz",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(pick_object(&keys).unwrap(), &keys[2]);
    assert_eq!(pick_object(&keys[..2]).unwrap(), &keys[0]);
    assert_eq!(pick_object(&[]), None);
    let e: serde_json::Value =
        serde_json::from_str(&test_event("us-east-1", "aws", "b", "k")).unwrap();
    assert_eq!(e["Records"][0]["s3"]["bucket"]["arn"], "arn:aws:s3:::b");
    assert_eq!(e["Records"][0]["s3"]["object"]["key"], "k");
    assert_eq!(e["Records"][0]["eventSource"], "aws:s3");
}
