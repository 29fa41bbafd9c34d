"""Checks of the first extensions: (a) secrets in stacks, (b) Lambda concurrency, (c) + (h) S3
notifications, (d) (e) (h) templates, (k) custom resources, (i) the request log."""

from __future__ import annotations

import json
import time
import urllib.request
import xml.etree.ElementTree as ET

from . import common
from .common import (
        OPENER,
    REGION,
    Account,
    admin,
    expect_error,
    ops_of,
    outputs,
    stack,
    timed,
    topic_for,
)


# ------------------------------------------------------------------------------------ checks

SECRET_STACK = """
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Description: xdr credentials
      SecretString: '{"client_id":"a","client_secret":"b"}'
  NamedSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub '${AWS::StackName}-named'
      SecretString: plain
      KmsKeyId: alias/aws/secretsmanager
Outputs:
  SecretArn:
    Value: !Ref Secret
    Export:
      Name: !Sub '${AWS::StackName}-SecretArn'
  SecretId:
    Value: !GetAtt Secret.Id
  NamedArn:
    Value: !Ref NamedSecret
"""

IMPORT_STACK = """
Parameters:
  Shared:
    Type: String
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub '${AWS::StackName}-param'
      Type: String
      Value:
        Fn::ImportValue: !Sub '${Shared}-SecretArn'
"""


def check_secret_model_exports_imports_and_delete(acct: Account) -> None:
    """(a) secret model, (f) ListImports, (h) delete of imported export, (g) deleted stack."""
    cfn, sm, ssm = acct.client("cloudformation"), acct.client("secretsmanager"), acct.client("ssm")
    shared_id = cfn.create_stack(StackName="shared", TemplateBody=SECRET_STACK)["StackId"]
    shared = stack(cfn, "shared")
    assert shared["StackStatus"] == "CREATE_COMPLETE", shared["StackStatus"]
    out = outputs(shared)
    arn = out["SecretArn"]
    assert arn.startswith(f"arn:aws:secretsmanager:{REGION}:{acct.id}:secret:"), arn
    assert out["SecretId"] == arn, out
    desc = sm.describe_secret(SecretId=arn)
    assert desc["ARN"] == arn and desc["Description"] == "xdr credentials", desc
    assert json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["client_id"] == "a"
    named = sm.describe_secret(SecretId="shared-named")
    assert named["ARN"] == out["NamedArn"], (named, out)
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
    assert exports.get("shared-SecretArn") == arn, exports

    cfn.create_stack(
        StackName="importer",
        TemplateBody=IMPORT_STACK,
        Parameters=[{"ParameterKey": "Shared", "ParameterValue": "shared"}],
    )
    assert stack(cfn, "importer")["StackStatus"] == "CREATE_COMPLETE"
    res = cfn.describe_stack_resource(StackName="importer", LogicalResourceId="Param")
    value = ssm.get_parameter(Name=res["StackResourceDetail"]["PhysicalResourceId"])["Parameter"]["Value"]
    assert value == arn, value
    assert cfn.list_imports(ExportName="shared-SecretArn")["Imports"] == ["importer"]

    # Deleting the exporting stack while it is imported: refused, as AWS (stack stays).
    cfn.delete_stack(StackName="shared")
    st = stack(cfn, "shared")
    assert st["StackStatus"] == "CREATE_COMPLETE", st["StackStatus"]
    expected = "Export shared-SecretArn cannot be deleted as it is in use by importer"
    assert st.get("StackStatusReason") == expected, st.get("StackStatusReason")
    events = cfn.describe_stack_events(StackName="shared")["StackEvents"]
    assert events[0]["ResourceStatusReason"] == expected, events[0]
    sm.describe_secret(SecretId=arn)  # still there

    cfn.delete_stack(StackName="importer")
    expect_error(
        lambda: cfn.list_imports(ExportName="shared-SecretArn"),
        "ValidationError",
        "Export 'shared-SecretArn' is not imported by any stack.",
    )
    cfn.delete_stack(StackName="shared")
    expect_error(lambda: sm.describe_secret(SecretId=arn), "ResourceNotFoundException")
    expect_error(lambda: sm.describe_secret(SecretId="shared-named"), "ResourceNotFoundException")

    # (g) the deleted stack by id: DELETE_COMPLETE, no outputs, and the secret stays deleted.
    gone = stack(cfn, shared_id)
    assert gone["StackStatus"] == "DELETE_COMPLETE", gone["StackStatus"]
    assert not gone.get("Outputs"), gone.get("Outputs")
    cfn.describe_stack_resources(StackName=shared_id)
    expect_error(lambda: sm.describe_secret(SecretId=arn), "ResourceNotFoundException")
    assert sm.list_secrets()["SecretList"] == [], sm.list_secrets()["SecretList"]
    types = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in cfn.describe_stack_events(StackName=shared_id)["StackEvents"]]
    assert ("Secret", "DELETE_COMPLETE") in types and ("Secret", "CREATE_COMPLETE") in types, types
    assert types[0] == ("shared", "DELETE_COMPLETE"), types[0]


def check_lambda_account_settings_and_concurrency(acct: Account) -> None:
    """(b) GetAccountSettings, PutFunctionConcurrency minimum, CloudFormation rollback."""
    lam = acct.client("lambda")
    settings = lam.get_account_settings()
    assert settings["AccountLimit"] == {
        "TotalCodeSize": 80530636800,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 1000,
    }, settings["AccountLimit"]
    assert settings["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}, settings["AccountUsage"]
    acct.function("one")
    acct.function("two")
    lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=800)
    s = lam.get_account_settings()
    assert s["AccountLimit"]["UnreservedConcurrentExecutions"] == 200, s
    assert s["AccountUsage"]["FunctionCount"] == 2, s
    message = (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    expect_error(
        lambda: lam.put_function_concurrency(FunctionName="two", ReservedConcurrentExecutions=101),
        "InvalidParameterValueException",
        message,
        400,
    )
    lam.put_function_concurrency(FunctionName="two", ReservedConcurrentExecutions=100)
    # Re-setting a function's own reservation does not count it twice.
    lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=800)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100

    # CloudFormation: the function fails with AWS's message and the stack rolls back.
    cfn = acct.client("cloudformation")
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "from-cfn",
                    "Runtime": "provided.al2023",
                    "Handler": "bootstrap",
                    "Role": acct.role_arn(),
                    "Code": {"ZipFile": "x"},
                    "ReservedConcurrentExecutions": 5,
                },
            }
        }
    }
    sid = cfn.create_stack(StackName="fnstack", TemplateBody=json.dumps(template))["StackId"]
    st = stack(cfn, sid)
    assert st["StackStatus"] == "ROLLBACK_COMPLETE", st["StackStatus"]
    events = cfn.describe_stack_events(StackName=sid)["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and failed[0]["LogicalResourceId"] == "Fn", events
    assert message in failed[0]["ResourceStatusReason"], failed[0]
    assert [e["ResourceStatus"] for e in events][0] == "ROLLBACK_COMPLETE"
    expect_error(lambda: lam.get_function(FunctionName="from-cfn"), "ResourceNotFoundException")
    cfn.delete_stack(StackName=sid)
    assert stack(cfn, sid)["StackStatus"] == "DELETE_COMPLETE"

    # Within the limit, the template's reservation is applied.
    template["Resources"]["Fn"]["Properties"]["ReservedConcurrentExecutions"] = 0
    lam.delete_function_concurrency(FunctionName="two")
    template["Resources"]["Fn"]["Properties"]["ReservedConcurrentExecutions"] = 50
    cfn.create_stack(StackName="fnstack2", TemplateBody=json.dumps(template))
    assert stack(cfn, "fnstack2")["StackStatus"] == "CREATE_COMPLETE"
    assert lam.get_function_concurrency(FunctionName="from-cfn")["ReservedConcurrentExecutions"] == 50
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 150


def check_admin_concurrency_override(acct: Account) -> None:
    """(j) per-account ConcurrentExecutions override."""
    lam = acct.client("lambda")
    admin("POST", "/_taegis/account-settings", {"account": acct.id, "region": REGION, "concurrent_executions": 50})
    s = lam.get_account_settings()["AccountLimit"]
    assert s["ConcurrentExecutions"] == 50 and s["UnreservedConcurrentExecutions"] == 50, s
    # Other regions of the account keep the default.
    assert acct.client("lambda", "eu-west-1").get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 1000
    acct.function("small")
    expect_error(
        lambda: lam.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=1),
        "InvalidParameterValueException",
        "below its minimum value of [50].",
        400,
    )


def check_s3_notification_xml_and_eventbridge(acct: Account) -> None:
    """(c) root element NotificationConfiguration, EventBridgeConfiguration round trip."""
    s3 = acct.client("s3")
    bucket = f"nt-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    raw: list[bytes] = []
    s3.meta.events.register(
        "after-call.s3.GetBucketNotificationConfiguration",
        lambda http_response, **kw: raw.append(http_response.content),
    )
    s3.get_bucket_notification_configuration(Bucket=bucket)
    root = ET.fromstring(raw[-1])
    assert root.tag == "{http://s3.amazonaws.com/doc/2006-03-01/}NotificationConfiguration", raw[-1]
    assert len(root) == 0, raw[-1]

    topic = topic_for(acct, "t", bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [
                {
                    "Id": "ours",
                    "TopicArn": topic,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "AWSLogs/"}]}},
                }
            ],
            "EventBridgeConfiguration": {},
        },
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    root = ET.fromstring(raw[-1])
    assert root.tag == "{http://s3.amazonaws.com/doc/2006-03-01/}NotificationConfiguration", raw[-1]
    assert "EventBridgeConfiguration" in got, got
    (cfg,) = got["TopicConfigurations"]
    assert cfg["Id"] == "ours" and cfg["TopicArn"] == topic and cfg["Events"] == ["s3:ObjectCreated:*"], cfg
    assert cfg["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "AWSLogs/"}], cfg


def check_s3_notification_refusals(acct: Account) -> None:
    """(h) unauthorised Lambda destination, overlapping configurations."""
    s3, lam = acct.client("s3"), acct.client("lambda")
    bucket = f"nr-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    fn = acct.function("trigger")

    def put(configs: dict) -> None:  # type: ignore[type-arg]
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configs)

    lambda_only = {"LambdaFunctionConfigurations": [{"Id": "l", "LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"]}]}
    exc = expect_error(lambda: put(lambda_only), "InvalidArgument", "Unable to validate the following destination configurations", 400)
    # A permission for another bucket does not help.
    lam.add_permission(
        FunctionName="trigger", StatementId="other", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::someone-else",
    )
    expect_error(lambda: put(lambda_only), "InvalidArgument", "Unable to validate", 400)
    lam.add_permission(
        FunctionName="trigger", StatementId="s3", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=acct.id,
    )
    put(lambda_only)
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0]["Id"] == "l"
    # (h) AddPermission with an existing statement id.
    expect_error(
        lambda: lam.add_permission(
            FunctionName="trigger", StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
        ),
        "ResourceConflictException",
        "The statement id (s3) provided already exists. Please specify a new statement id, or remove the existing statement.",
        409,
    )

    topic = topic_for(acct, "t", bucket)
    overlap = "Configurations overlap. Configurations on the same bucket cannot share a common event type."

    def cfgs(lambda_filter: list, topic_filter: list, lambda_events: list, topic_events: list) -> dict:  # type: ignore[type-arg]
        lam_cfg = {"Id": "l", "LambdaFunctionArn": fn, "Events": lambda_events}
        top_cfg = {"Id": "t", "TopicArn": topic, "Events": topic_events}
        if lambda_filter:
            lam_cfg["Filter"] = {"Key": {"FilterRules": lambda_filter}}
        if topic_filter:
            top_cfg["Filter"] = {"Key": {"FilterRules": topic_filter}}
        return {"LambdaFunctionConfigurations": [lam_cfg], "TopicConfigurations": [top_cfg]}

    pre = lambda v: {"Name": "prefix", "Value": v}  # noqa: E731
    suf = lambda v: {"Name": "suffix", "Value": v}  # noqa: E731
    # Overlapping: wildcard vs specific event, empty prefix vs any prefix.
    expect_error(lambda: put(cfgs([], [pre("AWSLogs/")], ["s3:ObjectCreated:*"], ["s3:ObjectCreated:Put"])), "InvalidArgument", overlap, 400)
    # Overlapping: one prefix is a prefix of the other, suffixes likewise.
    expect_error(lambda: put(cfgs([pre("logs/"), suf(".gz")], [pre("logs/a"), suf("json.gz")], ["s3:ObjectCreated:Put"], ["s3:ObjectCreated:Put"])), "InvalidArgument", overlap, 400)
    # Not overlapping: disjoint prefixes; different suffixes; different event families.
    put(cfgs([pre("a/")], [pre("b/")], ["s3:ObjectCreated:*"], ["s3:ObjectCreated:*"]))
    put(cfgs([suf(".gz")], [suf(".json")], ["s3:ObjectCreated:*"], ["s3:ObjectCreated:*"]))
    put(cfgs([], [], ["s3:ObjectCreated:*"], ["s3:ObjectRemoved:*"]))
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert len(got["LambdaFunctionConfigurations"]) == 1 and len(got["TopicConfigurations"]) == 1, got


NOVALUE_STACK = """
Parameters:
  Extra:
    Type: String
    Default: ''
  Token:
    Type: String
    NoEcho: true
  Defaulted:
    Type: String
    NoEcho: true
    Default: hidden-default
  Plain:
    Type: String
    Default: visible
Conditions:
  HasExtra: !Not [!Equals [!Ref Extra, '']]
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub '${AWS::StackName}-param'
      Type: String
      Value: !Ref Token
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource:
              - arn:aws:s3:::always/*
              - !If [HasExtra, !Sub 'arn:aws:s3:::${Extra}/*', !Ref AWS::NoValue]
Outputs:
  Joined:
    Value: !Join [',', [a, !If [HasExtra, !Ref Extra, !Ref AWS::NoValue], c]]
"""


def check_novalue_noecho_and_noop_update(acct: Account) -> None:
    """(d) NoValue in lists, (e) NoEcho, (h) UpdateStack with nothing to change."""
    cfn, ssm, iam = acct.client("cloudformation"), acct.client("ssm"), acct.client("iam")
    params = [{"ParameterKey": "Token", "ParameterValue": "s3cr3t"}]
    iam_ok = ["CAPABILITY_IAM"]  # the template has an AWS::IAM::ManagedPolicy
    cfn.create_stack(StackName="nv", TemplateBody=NOVALUE_STACK, Parameters=params, Capabilities=iam_ok)
    st = stack(cfn, "nv")
    assert st["StackStatus"] == "CREATE_COMPLETE", st
    assert outputs(st)["Joined"] == "a,c", outputs(st)
    shown = {p["ParameterKey"]: p["ParameterValue"] for p in st["Parameters"]}
    assert shown == {"Extra": "", "Token": "****", "Defaulted": "****", "Plain": "visible"}, shown
    res = cfn.describe_stack_resources(StackName="nv")["StackResources"]
    phys = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in res}
    assert ssm.get_parameter(Name=phys["Param"])["Parameter"]["Value"] == "s3cr3t"
    policy_arn = next(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"])
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    assert doc["Statement"][0]["Resource"] == ["arn:aws:s3:::always/*"], doc

    nothing = "No updates are to be performed."
    expect_error(lambda: cfn.update_stack(StackName="nv", TemplateBody=NOVALUE_STACK, Parameters=params, Capabilities=iam_ok), "ValidationError", nothing)
    expect_error(
        lambda: cfn.update_stack(StackName="nv", TemplateBody=NOVALUE_STACK, Parameters=[{"ParameterKey": "Token", "UsePreviousValue": True}], Capabilities=iam_ok),
        "ValidationError",
        nothing,
    )
    expect_error(
        lambda: cfn.update_stack(
            StackName="nv", UsePreviousTemplate=True, Capabilities=iam_ok,
            Parameters=[{"ParameterKey": "Token", "UsePreviousValue": True}, {"ParameterKey": "Plain", "ParameterValue": "visible"}],
        ),
        "ValidationError",
        nothing,
    )
    cfn.update_stack(
        StackName="nv", UsePreviousTemplate=True, Capabilities=iam_ok,
        Parameters=[{"ParameterKey": "Token", "UsePreviousValue": True}, {"ParameterKey": "Extra", "ParameterValue": "more"}],
    )
    st = stack(cfn, "nv")
    assert st["StackStatus"] == "UPDATE_COMPLETE", st["StackStatus"]
    assert outputs(st)["Joined"] == "a,more,c", outputs(st)
    assert ssm.get_parameter(Name=phys["Param"])["Parameter"]["Value"] == "s3cr3t"


CUSTOM_STACK = """
Parameters:
  Token:
    Type: String
Resources:
  Waiter:
    Type: Custom::Anything
    Properties:
      ServiceToken: !Ref Token
"""


def check_custom_resource_waits_for_cfnresponse(acct: Account) -> None:
    """(k) Custom::Anything stays CREATE_IN_PROGRESS until PUT .../cfnresponse."""
    cfn = acct.client("cloudformation")
    fn = acct.function("custom-handler")
    sid = cfn.create_stack(
        StackName="custom", TemplateBody=CUSTOM_STACK, Parameters=[{"ParameterKey": "Token", "ParameterValue": fn}]
    )["StackId"]
    time.sleep(0.2)
    assert stack(cfn, sid)["StackStatus"] == "CREATE_IN_PROGRESS"
    events = cfn.describe_stack_events(StackName=sid)["StackEvents"]
    assert (events[0]["LogicalResourceId"], events[0]["ResourceStatus"]) == ("Waiter", "CREATE_IN_PROGRESS"), events
    assert [(o["operation"], o["finished"]) for o in ops_of(acct)] == [("create", None)], ops_of(acct)  # open until the answer
    _, *call = timed(lambda: cfn_response(sid, {"Status": "SUCCESS", "StackId": sid, "LogicalResourceId": "Waiter", "Data": {}}))
    assert stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"
    assert call[0] <= ops_of(acct)[0]["finished"] <= call[1] and ops_of(acct)[0]["status"] == "CREATE_COMPLETE", ops_of(acct)
    events = cfn.describe_stack_events(StackName=sid)["StackEvents"]
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    assert statuses[:2] == [("custom", "CREATE_COMPLETE"), ("Waiter", "CREATE_COMPLETE")], statuses

    # FAILED: the resource fails with the handler's reason and the stack rolls back.
    sid = cfn.create_stack(
        StackName="custom-failing", TemplateBody=CUSTOM_STACK, Parameters=[{"ParameterKey": "Token", "ParameterValue": fn}]
    )["StackId"]
    assert stack(cfn, sid)["StackStatus"] == "CREATE_IN_PROGRESS"
    cfn_response(sid, {"Status": "FAILED", "Reason": "no luck", "StackId": sid, "LogicalResourceId": "Waiter"})
    assert stack(cfn, sid)["StackStatus"] == "ROLLBACK_COMPLETE", stack(cfn, sid)
    failed = [e for e in cfn.describe_stack_events(StackName=sid)["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and "no luck" in failed[0]["ResourceStatusReason"], failed
    ops = [(o["stack"], o["operation"], o["status"]) for o in ops_of(acct)]
    assert ops[1:] == [("custom-failing", "create", "ROLLBACK_COMPLETE"), ("custom-failing", "rollback", "ROLLBACK_COMPLETE")], ops


def cfn_response(stack_id: str, payload: dict) -> None:  # type: ignore[type-arg]
    # No account header: the emulator takes the account from the stack id.
    req = urllib.request.Request(
        f"{common.ENDPOINT}/cloudformation_{REGION}/cfnresponse?stack={stack_id}",
        data=json.dumps(payload).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200, resp.status


def check_request_log(acct: Account) -> None:
    """(i) request log with operation names and the assumed-role account."""
    s3, lam, cfn = acct.client("s3"), acct.client("lambda"), acct.client("cloudformation")
    bucket = f"rl-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.head_object(Bucket=bucket, Key="k")
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    acct.function("logged")
    lam.add_permission(FunctionName="logged", StatementId="x", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    lam.get_account_settings()
    cfn.list_stacks()
    log = admin("GET", f"/_taegis/requests?access_key={acct.access_key}")["requests"]
    assert log and all(e["access_key"] == acct.access_key and e["account"] == acct.id for e in log), log[:3]
    seen = {(e["service"], e["action"], e["method"]) for e in log}
    for want in [
        ("s3", "CreateBucket", "PUT"),
        ("s3", "PutObject", "PUT"),
        ("s3", "HeadObject", "HEAD"),
        ("s3", "GetObject", "GET"),
        ("s3", "GetBucketNotificationConfiguration", "GET"),
        ("s3", "PutBucketNotificationConfiguration", "PUT"),
        ("lambda", "CreateFunction", "POST"),
        ("lambda", "AddPermission", "POST"),
        ("lambda", "GetAccountSettings", "GET"),
        ("cloudformation", "ListStacks", "POST"),
        ("iam", "CreateRole", "POST"),
    ]:
        assert want in seen, (want, sorted(seen, key=str))
    put = next(e for e in log if e["action"] == "PutObject")
    assert put["path"] == f"/{bucket}/k" and put["status"] == 200, put
    all_entries = admin("GET", "/_taegis/requests")["requests"]
    assert len(all_entries) > len(log)
    sts_entries = [e for e in all_entries if e["service"] == "sts" and e["action"] == "AssumeRole"]
    assert sts_entries and sts_entries[0]["account"] == "123456789012", sts_entries[:1]
