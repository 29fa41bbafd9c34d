use std::collections::BTreeSet;

use super::*;

const TEMPLATES: [&str; 2] = [
    include_str!("../../templates/taegis-cloudformation-shared-resources.yaml"),
    include_str!("../../templates/taegis-cloudformation-lambda-template.yaml"),
];

fn narrowing() -> Narrowing {
    Narrowing {
        stack_name: "taegis-cloudtrail".into(),
        shared_stack_name: "taegis-shared-resources".into(),
        lambda_bucket: "taegis-lambda-{account}-{region}".into(),
        ..Narrowing::default()
    }
}

fn json(d: &Document) -> serde_json::Value {
    serde_json::to_value(d).unwrap()
}

fn actions(policy: &Document, sid_prefix: &str) -> BTreeSet<String> {
    policy
        .statement
        .iter()
        .filter(|s| s.sid.starts_with(sid_prefix))
        .flat_map(|s| s.action.clone())
        .collect()
}

fn resources(policy: &Document) -> Vec<String> {
    policy
        .statement
        .iter()
        .flat_map(|s| s.resource.clone())
        .collect()
}

#[test]
fn each_operation_has_one_row_and_a_well_formed_action() {
    let mut seen = BTreeSet::new();
    for c in CALLS {
        assert!(seen.insert((c.service, c.operation)), "{c:?} twice");
        let (prefix, name) = c.action.split_once(':').unwrap();
        assert!(!prefix.is_empty() && name.chars().next().unwrap().is_ascii_uppercase());
        assert!(!c.uses.is_empty(), "{c:?}");
        assert!(
            c.uses.iter().all(|(_, u)| u.0 != 0),
            "{c:?} is used by no command"
        );
    }
    assert_eq!(find("S3", "HeadObject").unwrap().action, "s3:GetObject");
    assert!(find("S3", "DeleteBucket").is_none());
}

#[test]
fn every_resource_type_of_the_bundled_templates_can_be_made_and_deleted() {
    let types: BTreeSet<&str> = TEMPLATES
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(|l| l.trim().strip_prefix("Type: AWS::"))
        .collect();
    assert!(types.len() >= 5, "{types:?}");
    for t in types {
        for phase in [Phase::Write, Phase::Delete] {
            assert!(
                ON_BEHALF
                    .iter()
                    .any(|r| r.resource_type == format!("AWS::{t}") && r.phase == phase),
                "AWS::{t} has no {phase:?} row"
            );
        }
    }
}

#[test]
fn each_command_gets_only_its_own_calls() {
    let n = narrowing();
    let verify = policy(Task::Verify, &n);
    let verify_calls = actions(&verify, "Calls");
    assert!(verify_calls.contains("lambda:InvokeFunction"));
    assert!(!verify_calls.contains("cloudformation:CreateStack"));
    assert!(actions(&verify, "ViaCloudFormation").is_empty());

    let destroy = policy(Task::Destroy, &n);
    let via = actions(&destroy, "ViaCloudFormation");
    assert!(via.contains("lambda:DeleteFunction") && via.contains("iam:DeleteRole"));
    assert!(!via.contains("lambda:CreateFunction") && !via.contains("iam:PassRole"));

    let deploy = policy(Task::Deploy, &n);
    assert!(actions(&deploy, "ViaCloudFormation").contains("iam:PassRole"));
    let setup = actions(&policy(Task::Setup, &n), "Calls");
    assert!(setup.is_superset(&actions(&deploy, "Calls")));
    assert!(setup.is_superset(&verify_calls));
}

#[test]
fn narrowed_arns_name_only_the_given_places() {
    let n = Narrowing {
        regions: vec!["eu-west-1".into(), "cn-north-1".into()],
        accounts: vec!["111111111111".into()],
        buckets: vec!["trail-logs".into()],
        ..narrowing()
    };
    let p = policy(Task::Deploy, &n);
    let all = resources(&p);
    for r in &all {
        let fields: Vec<&str> = r.split(':').collect();
        if r == "*" || fields.get(2) == Some(&"s3") {
            continue;
        }
        if fields[2] != "iam" {
            assert!(["eu-west-1", "cn-north-1"].contains(&fields[3]), "{r}");
        }
        assert_eq!(fields[4], "111111111111", "{r}");
    }
    assert!(all.contains(&"arn:aws:s3:::trail-logs".to_string()));
    assert!(all.contains(&"arn:aws-cn:s3:::taegis-lambda-111111111111-cn-north-1/*".to_string()));
    assert!(
        all.contains(
            &"arn:aws:cloudformation:eu-west-1:111111111111:stack/taegis-shared-resources/*"
                .to_string()
        )
    );
    assert!(
        all.contains(
            &"arn:aws:lambda:eu-west-1:111111111111:function:taegis-cloudtrail-scwx-tdr-lambda-*"
                .to_string()
        )
    );
    // Wide open only where AWS has no resource-level permission.
    let open: BTreeSet<String> = p
        .statement
        .iter()
        .filter(|s| s.resource == ["*"])
        .flat_map(|s| s.action.clone())
        .collect();
    let expected: BTreeSet<String> = CALLS
        .iter()
        .filter(|c| {
            c.uses
                .iter()
                .any(|(s, u)| *s == Scope::Any && u.by(Task::Deploy))
        })
        .map(|c| c.action.to_string())
        .chain(["logs:DescribeLogGroups".to_string()])
        .collect();
    assert_eq!(open, expected);
}

#[test]
fn the_role_is_passed_to_lambda_only_and_only_the_basic_policy_attached() {
    let p = policy(Task::Deploy, &narrowing());
    let doc = json(&p);
    let st = |sid: &str| {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap()
    };
    let pass = st("ViaCloudFormationPassRoleToLambda");
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "lambda.amazonaws.com"
    );
    assert_eq!(
        pass["Resource"][0],
        "arn:aws:iam::*:role/taegis-cloudtrail-*"
    );
    let attach = st("ViaCloudFormationBasicExecutionPolicy");
    assert_eq!(
        attach["Condition"]["ArnEquals"]["iam:PolicyARN"][0],
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    );
    // No key given, no KMS write.
    assert!(!actions(&p, "").contains("kms:CreateGrant"));
}
