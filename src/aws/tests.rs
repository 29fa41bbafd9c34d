use aws_sdk_s3::types as s3t;

use super::s3::region_of;
use super::*;

#[test]
fn policies_parse_into_statements() {
    let p = r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"taegis-cloudtrail-s3-invoke","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}]}"#;
    let s = parse_policy(p);
    assert_eq!(
        s,
        [PolicyStatement {
            sid: "taegis-cloudtrail-s3-invoke".into(),
            principal: "s3.amazonaws.com".into(),
            source_arn: Some("arn:aws:s3:::b".into()),
            source_account: Some("123456789012".into()),
        }]
    );
    assert!(parse_policy("not json").is_empty());
}

#[test]
fn bucket_regions() {
    assert_eq!(region_of(None), "us-east-1");
    assert_eq!(
        region_of(Some(&s3t::BucketLocationConstraint::from(""))),
        "us-east-1"
    );
    assert_eq!(
        region_of(Some(&s3t::BucketLocationConstraint::Eu)),
        "eu-west-1"
    );
    assert_eq!(
        region_of(Some(&s3t::BucketLocationConstraint::from("eu-west-2"))),
        "eu-west-2"
    );
}
