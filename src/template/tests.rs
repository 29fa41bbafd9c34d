use super::*;

const SMALL: &str = r#"
Parameters:
  Kind:
    Type: String
    Default: generic
    AllowedValues: [awscloudtrail, generic]
  Bucket:
    Type: String
    AllowedPattern: "[a-z0-9.-]{3,63}"
  Secret:
    Type: String
    NoEcho: true
    MinLength: 1
  Count:
    Type: Number
    Default: 5
    MinValue: 1
  Runtime:
    Type: String
    Default: provided.al2023
Conditions:
  HasKind: !Not [!Equals [!Ref Kind, ""]]
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: !Ref Runtime
      FunctionName: !Sub "${AWS::StackName}-x"
      Role: !GetAtt Role.Arn
      KmsKeyArn: !If [HasKind, !Ref Kind, !Ref AWS::NoValue]
      Environment:
        Variables:
          A: !Join ["", [!Ref Kind, !ImportValue Other]]
  Fn2:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: provided.al2
"#;

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parses_parameters_in_order_through_short_forms() {
    let t = Template::parse("t", SMALL).unwrap();
    let names: Vec<_> = t.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Kind", "Bucket", "Secret", "Count", "Runtime"]);
    assert!(t.parameter("Secret").unwrap().no_echo);
    assert!(t.parameter("Bucket").unwrap().required());
    assert_eq!(t.parameter("Count").unwrap().default.as_deref(), Some("5"));
}

#[test]
fn runtimes_follow_refs_and_values() {
    let t = Template::parse("t", SMALL).unwrap();
    assert_eq!(
        t.function_runtimes(&values(&[])),
        ["provided.al2023", "provided.al2"]
    );
    assert_eq!(
        t.function_runtimes(&values(&[("Runtime", "provided.al2")])),
        ["provided.al2", "provided.al2"]
    );
}

#[test]
fn check_values_names_every_problem() {
    let t = Template::parse("t", SMALL).unwrap();
    let problems = t.check_values(
        &values(&[
            ("Kind", "nope"),
            ("Bucket", "UPPER"),
            ("Count", "0"),
            ("Extra", "1"),
        ]),
        &[],
    );
    assert_eq!(problems.len(), 5, "{problems:#?}");
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Count") && p.contains("MinValue"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Extra") && p.contains("not declared"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Kind") && p.contains("allowed: awscloudtrail, generic"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Bucket") && p.contains("AllowedPattern"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Secret") && p.contains("required"))
    );
}

#[test]
fn no_echo_values_are_never_quoted() {
    let t = Template::parse("t", SMALL).unwrap();
    let p = t.check_values(&values(&[("Bucket", "abc"), ("Secret", "")]), &[]);
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].parameter.as_str(), p[0].kind),
        ("Secret", ValueProblemKind::Invalid)
    );
    let p: Vec<String> = p.iter().map(ToString::to_string).collect();
    assert!(
        p[0].contains("the value") && !p[0].contains("\"\""),
        "{p:?}"
    );
    // A hidden parameter is not quoted even when the template forgets NoEcho.
    let p: Vec<String> = t
        .check_values(&values(&[("Bucket", "s3cr3t\"x")]), &["Bucket"])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(p.iter().all(|p| !p.contains("s3cr3t")), "{p:?}");
    assert!(!p.is_empty());
}

#[test]
fn rejects_what_is_not_a_usable_template() {
    for (body, why) in [
        ("", "empty"),
        ("a: [", "not valid YAML"),
        ("- 1\n- 2\n", "not a mapping"),
        ("Parameters: {}\n", "no Resources"),
        (
            "Resources:\n  A:\n    Type: AWS::SNS::Topic\n",
            "declares no Parameters",
        ),
        (
            "Parameters:\n  P:\n    Default: x\nResources:\n  A:\n    Type: AWS::SNS::Topic\n",
            "has no Type",
        ),
    ] {
        let e = Template::parse("f.yaml", body).unwrap_err();
        assert!(e.to_string().contains(why), "{body:?}: {e}");
        assert!(e.to_string().starts_with("f.yaml: "));
    }
}

#[test]
fn large_templates_are_taken_and_go_through_s3() {
    let big = format!("{BUNDLED_LAMBDA}\n# {}\n", "x".repeat(MAX_INLINE_BODY));
    let t = Template::parse("big", &big).unwrap();
    assert!(!t.fits_inline());
    assert!(Template::bundled_lambda().fits_inline());
    assert_ne!(t.sha256, Template::bundled_lambda().sha256);
    let huge = format!("{BUNDLED_LAMBDA}\n# {}\n", "x".repeat(MAX_URL_BODY));
    let e = Template::parse("huge", &huge).unwrap_err();
    assert!(e.to_string().contains("at most 1048576 bytes"), "{e}");
}

#[test]
fn export_names_are_read_and_expanded() {
    let s = Template::bundled_shared();
    assert_eq!(
        s.export_names("x", "us-east-1", "1"),
        ["TaegisXdrSecretArn", "TaegisXdrRegion"]
    );
    let t = Template::parse(
            "t",
            "Parameters:\n  A:\n    Type: String\nResources:\n  X:\n    Type: AWS::SNS::Topic\nOutputs:\n  O:\n    Value: !Ref X\n    Export:\n      Name: !Sub \"${AWS::StackName}-topic\"\n  P:\n    Value: !Ref X\n    Export:\n      Name: !Sub \"${Other}-x\"\n",
        )
        .unwrap();
    assert_eq!(t.export_names("shared", "us-east-1", "1"), ["shared-topic"]);
}

#[test]
fn yaml_documents_read_into_types() {
    let v: BTreeMap<String, u32> = from_yaml("a: 1\nb: 2\n").unwrap();
    assert_eq!(v["b"], 2);
    let e = from_yaml::<BTreeMap<String, u32>>("a: [").unwrap_err();
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn json_templates_parse_too() {
    let t = Template::parse(
        "j",
        r#"{"Parameters":{"A":{"Type":"String"}},"Resources":{"X":{"Type":"AWS::SNS::Topic"}}}"#,
    )
    .unwrap();
    assert!(t.declares("A"));
}

#[test]
fn bundled_templates_declare_the_guide_parameters() {
    let s = Template::bundled_shared();
    assert!(s.parameter("SecretValue").unwrap().no_echo);
    assert_eq!(
        s.parameter("TaegisRegion").unwrap().allowed_values,
        ["ctpx", "delta", "echo", "foxtrot", "golf"]
    );
    let l = Template::bundled_lambda();
    for p in [
        "IntegrationType",
        "NotificationBucket",
        "SNSNotificationarn",
        "NotificationBucketCustomerManagedKMSarn",
        "TaegisLambdaS3BucketName",
        "LambdaEnvKMSarn",
        "EnableObjectTagging",
        "TaegisLambdaS3Key",
        "ReservedConcurrency",
        "LambdaRuntime",
    ] {
        assert!(l.declares(p), "{p}");
    }
    assert_eq!(l.function_runtimes(&BTreeMap::new()), ["provided.al2023"]);
}
