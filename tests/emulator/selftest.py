#!/usr/bin/env python3
"""Self-test of tests/emulator/taegis_moto.py, with boto3 from the emulator venv.

    "$(scripts/emulator-venv.sh | tail -n1)" tests/emulator/selftest.py

Starts the emulator on a free port, runs every check (in parallel, each in its own account made
by sts:AssumeRole, as the Rust tests do; then SERIAL_CHECKS alone, one at a time),
prints one line per check and a closing 'N passed, N failed' line, and exits non-zero when a check
fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "us-east-1"
ENDPOINT = ""
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CONFIG = botocore.config.Config(
    s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60
)


# ------------------------------------------------------------------------------------ helpers


class Account:
    """Credentials of a fresh account, via sts:AssumeRole into arn:aws:iam::<12 digits>:role/x."""

    def __init__(self) -> None:
        self.id = "".join(random.choice("0123456789") for _ in range(12))
        base = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        creds = base.client("sts", endpoint_url=ENDPOINT, config=CONFIG).assume_role(
            RoleArn=f"arn:aws:iam::{self.id}:role/x", RoleSessionName="selftest"
        )["Credentials"]
        self.access_key = creds["AccessKeyId"]
        self.session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=REGION,
        )

    def client(self, name: str, region: str = REGION):  # type: ignore[no-untyped-def]
        return self.session.client(name, endpoint_url=ENDPOINT, region_name=region, config=CONFIG)

    def role_arn(self) -> str:
        iam = self.client("iam")
        try:
            return iam.get_role(RoleName="fn-role")["Role"]["Arn"]
        except ClientError:
            return iam.create_role(
                RoleName="fn-role",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )["Role"]["Arn"]

    def function(self, name: str) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("bootstrap", "#!/bin/sh\n")
        return self.client("lambda").create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Role=self.role_arn(),
            Handler="bootstrap",
            Code={"ZipFile": buf.getvalue()},
        )["FunctionArn"]


def expect_error(fn, code: str, message: str | None = None, status: int | None = None):  # type: ignore[no-untyped-def]
    try:
        fn()
    except ClientError as exc:
        err = exc.response["Error"]
        assert err.get("Code") == code, f"expected {code}, got {err}"
        if message is not None:
            assert message in err.get("Message", ""), f"expected message {message!r}, got {err.get('Message')!r}"
        if status is not None:
            got = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            assert got == status, f"expected HTTP {status}, got {got}"
        return exc
    raise AssertionError(f"expected {code}, call succeeded")


def admin(method: str, path: str, payload=None):  # type: ignore[no-untyped-def]
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(ENDPOINT + path, data=data, method=method)
    if data:
        req.add_header("Content-Type", "application/json")
    with OPENER.open(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def stack(cfn, name: str):  # type: ignore[no-untyped-def]
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def outputs(st) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs") or []}


def s3_may_deliver(arn: str, bucket: str, account: str) -> str:
    """A queue or topic policy that lets S3 deliver this bucket's notifications (as AWS requires)."""
    action = "sqs:SendMessage" if ":sqs:" in arn else "SNS:Publish"
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": action, "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}, "StringEquals": {"aws:SourceAccount": account}},
        }],
    })


def topic_for(acct: Account, name: str, bucket: str, region: str = REGION) -> str:
    """A topic whose policy lets S3 publish from `bucket`."""
    sns = acct.client("sns", region)
    arn = sns.create_topic(Name=name)["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=s3_may_deliver(arn, bucket, acct.id))
    return arn


def queue_for(acct: Account, name: str, bucket: str, region: str = REGION) -> str:
    """A queue whose policy lets S3 send from `bucket`."""
    sqs = acct.client("sqs", region)
    arn = f"arn:aws:sqs:{region}:{acct.id}:{name}"
    sqs.create_queue(QueueName=name, Attributes={"Policy": s3_may_deliver(arn, bucket, acct.id)})
    return arn


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
        f"{ENDPOINT}/cloudformation_{REGION}/cfnresponse?stack={stack_id}",
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


# ------------------------------------------------------------------------------------ behaviour

NO_RETRY = botocore.config.Config(
    s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30
)

# Topic and ParamA are independent; ParamB needs ParamA.
CHAIN_STACK = """
Parameters:
  Value:
    Type: String
    Default: v1
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${AWS::StackName}-topic'
  ParamA:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub '${AWS::StackName}-a'
      Type: String
      Value: !Ref Value
  ParamB:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub '${AWS::StackName}-b'
      Type: String
      Value: !Ref ParamA
Outputs:
  B:
    Value: !Ref ParamB
    Export:
      Name: !Sub '${AWS::StackName}-b'
  A:
    Value: !Ref Value
"""


def set_behaviour(acct: Account, **fields) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return admin("POST", "/_taegis/behaviour", dict(fields, account=acct.id))


def reset_behaviour(acct: Account) -> dict:  # type: ignore[type-arg]
    return admin("DELETE", f"/_taegis/behaviour?account={acct.id}")


def events_of(cfn, stack_id: str) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    """(logical id, status, reason), oldest first."""
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"])
    ]


def wait_stack(cfn, stack_id: str, timeout: float = 15.0) -> dict:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.time() + timeout
    while True:
        st = stack(cfn, stack_id)
        if not st["StackStatus"].endswith("_IN_PROGRESS"):
            return st
        if time.time() > deadline:
            raise AssertionError(f"stack still {st['StackStatus']} after {timeout} s")
        time.sleep(0.05)


def first_index(events: list, logical_id: str, status: str) -> int:  # type: ignore[type-arg]
    return next(i for i, e in enumerate(events) if e[0] == logical_id and e[1] == status)


def check_async_stack_operations(acct: Account) -> None:
    """stack_seconds: CreateStack/UpdateStack/DeleteStack in the background, intermediate states."""
    cfn, ssm = acct.client("cloudformation"), acct.client("ssm")
    # Generous times: CI machines are busy (the checks also run all at once).
    got = set_behaviour(acct, stack_seconds=3.0)
    assert got["stack_seconds"] == 3.0 and got["throttle"] == 0.0, got
    t0 = time.time()
    sid = cfn.create_stack(StackName="slow", TemplateBody=CHAIN_STACK)["StackId"]
    assert time.time() - t0 < 2.0, "CreateStack waited for the resources"
    st = stack(cfn, sid)
    assert st["StackStatus"] == "CREATE_IN_PROGRESS", st["StackStatus"]
    assert not st.get("Outputs"), st.get("Outputs")
    assert "slow-b" not in {e["Name"] for e in cfn.list_exports()["Exports"]}
    seen_in_progress, seen_complete_early = set(), set()
    while True:
        st = stack(cfn, sid)
        resources = cfn.describe_stack_resources(StackName=sid)["StackResources"]
        summaries = cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]
        if st["StackStatus"] != "CREATE_IN_PROGRESS":
            break
        assert not st.get("Outputs"), st.get("Outputs")
        for r in resources + summaries:
            if r["ResourceStatus"] == "CREATE_IN_PROGRESS":
                seen_in_progress.add(r["LogicalResourceId"])
            elif r["ResourceStatus"] == "CREATE_COMPLETE":
                seen_complete_early.add(r["LogicalResourceId"])
        time.sleep(0.05)
    assert st["StackStatus"] == "CREATE_COMPLETE", st["StackStatus"]
    assert time.time() - t0 >= 2.8, time.time() - t0
    assert seen_in_progress and seen_complete_early, (seen_in_progress, seen_complete_early)
    assert outputs(st) == {"B": "slow-b", "A": "v1"}, outputs(st)
    assert {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}.get("slow-b") == "slow-b"
    ev = events_of(cfn, sid)
    assert ev[0] == ("slow", "CREATE_IN_PROGRESS", "User Initiated") and ev[-1][:2] == ("slow", "CREATE_COMPLETE"), ev
    # Dependency order: ParamB starts after ParamA is complete; Topic and ParamA start together.
    assert first_index(ev, "ParamA", "CREATE_COMPLETE") < first_index(ev, "ParamB", "CREATE_IN_PROGRESS"), ev
    assert first_index(ev, "ParamA", "CREATE_IN_PROGRESS") < first_index(ev, "Topic", "CREATE_COMPLETE"), ev
    assert {r["ResourceStatus"] for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]} == {"CREATE_COMPLETE"}

    # Update: UPDATE_IN_PROGRESS at once, old outputs meanwhile, a second update refused.
    cfn.update_stack(StackName="slow", UsePreviousTemplate=True, Parameters=[{"ParameterKey": "Value", "ParameterValue": "v2"}])
    st = stack(cfn, sid)
    assert st["StackStatus"] == "UPDATE_IN_PROGRESS", st["StackStatus"]
    assert outputs(st)["A"] == "v1", outputs(st)
    expect_error(
        lambda: cfn.update_stack(StackName="slow", UsePreviousTemplate=True, Parameters=[{"ParameterKey": "Value", "ParameterValue": "v3"}]),
        "ValidationError",
        f"Stack:{sid} is in UPDATE_IN_PROGRESS state and can not be updated.",
    )
    st = wait_stack(cfn, sid)
    assert st["StackStatus"] == "UPDATE_COMPLETE", st["StackStatus"]
    assert outputs(st)["A"] == "v2", outputs(st)
    assert ssm.get_parameter(Name="slow-a")["Parameter"]["Value"] == "v2"
    ev = events_of(cfn, sid)
    tail = [e[:2] for e in ev[first_index(ev, "slow", "UPDATE_IN_PROGRESS"):]]
    assert tail == [
        ("slow", "UPDATE_IN_PROGRESS"),
        ("ParamA", "UPDATE_IN_PROGRESS"),
        ("ParamA", "UPDATE_COMPLETE"),
        ("slow", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        ("slow", "UPDATE_COMPLETE"),
    ], tail

    # Delete: DELETE_IN_PROGRESS (still found by name), resources in reverse order.
    cfn.delete_stack(StackName="slow")
    st = stack(cfn, "slow")
    assert st["StackStatus"] == "DELETE_IN_PROGRESS", st["StackStatus"]
    st = wait_stack(cfn, sid)
    assert st["StackStatus"] == "DELETE_COMPLETE" and not st.get("Outputs"), st
    ev = events_of(cfn, sid)
    assert first_index(ev, "ParamB", "DELETE_COMPLETE") < first_index(ev, "ParamA", "DELETE_IN_PROGRESS"), ev
    expect_error(lambda: ssm.get_parameter(Name="slow-a"), "ParameterNotFound")
    assert "slow-b" not in {e["Name"] for e in cfn.list_exports()["Exports"]}


UPDATED_CHAIN_STACK = CHAIN_STACK.replace(
    "Resources:\n",
    "Resources:\n  ParamC:\n    Type: AWS::SSM::Parameter\n    Properties:\n"
    "      Name: !Sub '${AWS::StackName}-c'\n      Type: String\n      Value: added\n",
    1,
)


def check_injected_failures_and_rollback(acct: Account) -> None:
    """failures: CREATE_FAILED + rollback, UPDATE_FAILED + update rollback, sync and async."""
    cfn, ssm, sns = acct.client("cloudformation"), acct.client("ssm"), acct.client("sns")
    set_behaviour(acct, failures=[{"stack": "fails", "resource": "ParamB", "reason": "Injected: no ParamB today", "operation": "create"}])
    sid = cfn.create_stack(StackName="fails", TemplateBody=CHAIN_STACK)["StackId"]
    st = stack(cfn, sid)
    assert st["StackStatus"] == "ROLLBACK_COMPLETE", st["StackStatus"]
    ev = events_of(cfn, sid)
    assert ("ParamB", "CREATE_FAILED", "Injected: no ParamB today") in ev, ev
    rollback = ("fails", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [ParamB]. Rollback requested by user.")
    assert rollback in ev, ev
    after = ev[ev.index(rollback):]
    assert ("ParamA", "DELETE_COMPLETE", None) in after and ("Topic", "DELETE_COMPLETE", None) in after, after
    assert after[-1][:2] == ("fails", "ROLLBACK_COMPLETE"), after
    expect_error(lambda: ssm.get_parameter(Name="fails-a"), "ParameterNotFound")
    assert sns.list_topics()["Topics"] == [], sns.list_topics()
    cfn.delete_stack(StackName=sid)

    # The failure stays until replaced; "update" failures leave creation alone.
    set_behaviour(acct, failures=[{"stack": "upd", "resource": "ParamA", "reason": "Injected update failure", "operation": "update"}])
    sid = cfn.create_stack(StackName="upd", TemplateBody=CHAIN_STACK)["StackId"]
    assert stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"
    old_template = cfn.get_template(StackName=sid)["TemplateBody"]
    cfn.update_stack(StackName="upd", TemplateBody=UPDATED_CHAIN_STACK, Parameters=[{"ParameterKey": "Value", "ParameterValue": "v2"}])
    st = stack(cfn, sid)
    assert st["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", st["StackStatus"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in st["Parameters"]} == {"Value": "v1"}, st["Parameters"]
    assert cfn.get_template(StackName=sid)["TemplateBody"] == old_template
    assert outputs(st)["A"] == "v1", outputs(st)
    ev = events_of(cfn, sid)
    ev = ev[first_index(ev, "upd", "UPDATE_IN_PROGRESS"):]
    assert ("ParamA", "UPDATE_FAILED", "Injected update failure") in ev, ev
    assert ("upd", "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [ParamA]. ") in ev, ev
    statuses = [e[:2] for e in ev]
    assert ("ParamC", "CREATE_COMPLETE") in statuses and ("ParamC", "DELETE_COMPLETE") in statuses, statuses
    assert statuses.index(("upd", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")) < statuses.index(("ParamC", "DELETE_COMPLETE"))
    assert statuses[-1] == ("upd", "UPDATE_ROLLBACK_COMPLETE"), statuses
    assert ssm.get_parameter(Name="upd-a")["Parameter"]["Value"] == "v1"
    expect_error(lambda: ssm.get_parameter(Name="upd-c"), "ParameterNotFound")
    # Replaced by an empty list: the update goes through.
    set_behaviour(acct, failures=[])
    cfn.update_stack(StackName="upd", TemplateBody=UPDATED_CHAIN_STACK, Parameters=[{"ParameterKey": "Value", "ParameterValue": "v2"}])
    assert stack(cfn, sid)["StackStatus"] == "UPDATE_COMPLETE"
    assert ssm.get_parameter(Name="upd-c")["Parameter"]["Value"] == "added"

    # Background create: the resource started together with the failing one is cancelled.
    set_behaviour(acct, stack_seconds=4.5, failures=[{"stack": "slowfail", "resource": "Topic", "reason": "Injected: topic", "operation": "any"}])
    sid = cfn.create_stack(StackName="slowfail", TemplateBody=CHAIN_STACK)["StackId"]
    assert stack(cfn, sid)["StackStatus"] == "CREATE_IN_PROGRESS"
    st = wait_stack(cfn, sid)
    assert st["StackStatus"] == "ROLLBACK_COMPLETE", st["StackStatus"]
    ev = events_of(cfn, sid)
    assert ("Topic", "CREATE_FAILED", "Injected: topic") in ev, ev
    assert ("ParamA", "CREATE_FAILED", "Resource creation cancelled") in ev, ev
    assert not any(e[0] == "ParamB" for e in ev), ev
    assert ("slowfail", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Topic]. Rollback requested by user.") in ev
    reset_behaviour(acct)


def raw_request(acct: Account, method: str, path: str, service: str, body: bytes = b"", headers: dict | None = None, region: str = REGION):  # type: ignore[no-untyped-def, type-arg]
    """(status, headers, body) of a request carrying the account's credential scope."""
    req = urllib.request.Request(ENDPOINT + path, data=body or None, method=method)
    req.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={acct.access_key}/20250101/{region}/{service}/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
    )
    req.add_header("X-Amz-Date", "20250101T000000Z")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with OPENER.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def check_throttle_and_server_errors(acct: Account) -> None:
    """throttle / errors_5xx = 1.0: each service's own error; other accounts and admin untouched."""
    other = Account()
    cfn, s3, lam, sns = (acct.session.client(n, endpoint_url=ENDPOINT, config=NO_RETRY) for n in ("cloudformation", "s3", "lambda", "sns"))
    s3.create_bucket(Bucket=f"th-{acct.id}")
    set_behaviour(acct, throttle=1.0)
    exc = expect_error(cfn.list_stacks, "Throttling", "Rate exceeded", 400)
    assert exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
    expect_error(lambda: s3.list_objects_v2(Bucket=f"th-{acct.id}"), "SlowDown", "Please reduce your request rate.", 503)
    exc = expect_error(lam.list_functions, "TooManyRequestsException", "Rate exceeded", 429)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "TooManyRequestsException"
    expect_error(sns.list_topics, "Throttling", "Rate exceeded", 400)
    expect_error(acct.session.client("secretsmanager", endpoint_url=ENDPOINT, config=NO_RETRY).list_secrets, "ThrottlingException", "Rate exceeded", 400)
    # Exact bodies.
    status, headers, body = raw_request(acct, "GET", "/2015-03-31/functions/", "lambda")
    assert status == 429 and headers.get("x-amzn-ErrorType") == "TooManyRequestsException", (status, headers)
    assert json.loads(body) == {"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}, body
    status, _, body = raw_request(
        acct, "POST", "/", "cloudformation", b"Action=ListStacks&Version=2010-05-15", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    root = ET.fromstring(body)
    ns = "{http://cloudformation.amazonaws.com/doc/2010-05-15/}"
    assert status == 400 and root.tag == f"{ns}ErrorResponse", (status, body)
    assert [(c.tag, c.text) for c in root.find(f"{ns}Error")] == [(f"{ns}Type", "Sender"), (f"{ns}Code", "Throttling"), (f"{ns}Message", "Rate exceeded")], body
    assert root.find(f"{ns}RequestId").text, body
    status, _, body = raw_request(acct, "GET", f"/th-{acct.id}", "s3")
    root = ET.fromstring(body)
    assert status == 503 and root.tag == "Error" and root.find("Code").text == "SlowDown", body
    # Not faulted: another account, the admin API, moto's API.
    assert other.client("cloudformation").list_stacks()["StackSummaries"] == []
    assert admin("GET", f"/_taegis/behaviour?account={acct.id}")["throttle"] == 1.0
    with OPENER.open(ENDPOINT + "/moto-api/", timeout=10) as resp:
        assert resp.status == 200
    log = admin("GET", f"/_taegis/requests?account={acct.id}&service=lambda")["requests"]
    assert log and all(e.get("fault") == "throttle" and e["status"] == 429 for e in log), log
    assert all("fault" not in e for e in admin("GET", f"/_taegis/requests?account={other.id}")["requests"])

    set_behaviour(acct, throttle=0, errors_5xx=1.0)
    exc = expect_error(cfn.list_stacks, "ServiceUnavailable", None, 503)
    assert exc.response["Error"].get("Type") == "Receiver", exc.response["Error"]
    for _ in range(4):
        try:
            s3.list_objects_v2(Bucket=f"th-{acct.id}")
            raise AssertionError("S3 call succeeded")
        except ClientError as err:
            pair = (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"])
            assert pair in (("ServiceUnavailable", 503), ("InternalError", 500)), pair
    expect_error(lam.list_functions, "ServiceException", None, 500)

    # Same seed, same sequence of faults.
    def pattern() -> list[bool]:
        admin("DELETE", f"/_taegis/behaviour?account={acct.id}")
        set_behaviour(acct, throttle=0.5, seed=42)
        result = []
        for _ in range(12):
            try:
                sns.list_topics()
                result.append(False)
            except ClientError:
                result.append(True)
        return result

    first, second = pattern(), pattern()
    assert first == second and any(first) and not all(first), (first, second)

    got = reset_behaviour(acct)
    assert got["throttle"] == 0.0 and got["failures"] == [] and got["stack_seconds"] == 0.0, got
    cfn.list_stacks()
    s3.list_objects_v2(Bucket=f"th-{acct.id}")
    lam.list_functions()


def check_drop_latency_and_isolation(acct: Account) -> None:
    """drop (no bytes back), drop_after (the write happened), latency_ms; other accounts untouched."""
    other = Account()
    sns, s3 = (acct.session.client(n, endpoint_url=ENDPOINT, config=NO_RETRY) for n in ("sns", "s3"))
    set_behaviour(acct, drop=1.0)
    host, port = ENDPOINT.rsplit("//", 1)[1].split(":")
    body = b"Action=ListTopics&Version=2010-03-31"
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: AWS4-HMAC-SHA256 Credential={acct.access_key}/20250101/{REGION}/sns/aws4_request, "
        f"SignedHeaders=host, Signature={'0' * 64}\r\nX-Amz-Date: 20250101T000000Z\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    received = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
    assert received == b"", received[:200]
    try:
        sns.create_topic(Name="dropped")
        raise AssertionError("call succeeded")
    except (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError, botocore.exceptions.ReadTimeoutError):
        pass
    assert other.client("sns").list_topics()["Topics"] == []
    log = admin("GET", f"/_taegis/requests?account={acct.id}&service=sns")["requests"]
    assert len(log) == 2 and all(e.get("fault") == "drop" and e["status"] is None for e in log), log
    # A large S3 upload (boto3 sends "Expect: 100-continue"): dropped before the body, not stored.
    set_behaviour(acct, drop=0)
    s3.create_bucket(Bucket=f"da-{acct.id}")
    set_behaviour(acct, drop=1.0)
    t0 = time.time()
    try:
        s3.put_object(Bucket=f"da-{acct.id}", Key="dropped", Body=b"x" * 2_000_000)
        raise AssertionError("call succeeded")
    except botocore.exceptions.ConnectionClosedError:
        pass
    assert time.time() - t0 < 5, time.time() - t0

    set_behaviour(acct, drop=0, drop_after=1.0)
    for call in (
        lambda: sns.create_topic(Name="written"),
        lambda: s3.put_object(Bucket=f"da-{acct.id}", Key="written", Body=b"x" * 2_000_000),
    ):
        try:
            call()
            raise AssertionError("call succeeded")
        except (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError):
            pass
    reset_behaviour(acct)
    topics = [t["TopicArn"].rsplit(":", 1)[1] for t in sns.list_topics()["Topics"]]
    assert topics == ["written"], topics  # processed; "dropped" never was
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=f"da-{acct.id}").get("Contents", [])]
    assert keys == ["written"], keys
    log = admin("GET", f"/_taegis/requests?account={acct.id}&action=CreateTopic")["requests"]
    assert [(e.get("fault"), e["status"]) for e in log] == [("drop", None), ("drop_after", 200)], log

    set_behaviour(acct, latency_ms=1000)
    t0 = time.time()
    sns.list_topics()
    slow = time.time() - t0
    other_sns = other.client("sns")
    fast = []
    for _ in range(3):
        t0 = time.time()
        other_sns.list_topics()
        fast.append(time.time() - t0)
    assert slow >= 1.0 and min(fast) < 1.0, (slow, fast)
    reset_behaviour(acct)


LAMBDA_FROM_BUCKET = """
Parameters:
  Bucket:
    Type: String
  Role:
    Type: String
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub '${AWS::StackName}-fn'
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !Ref Role
      Code:
        S3Bucket: !Ref Bucket
        S3Key: code.zip
"""


def check_lambda_code_bucket_region_and_existing_log_group(acct: Account) -> None:
    """Code bucket in another region refused (API and CloudFormation); taken log group name."""
    lam, cfn, logs = acct.client("lambda"), acct.client("cloudformation"), acct.client("logs")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "#!/bin/sh\n")
    eu, us = f"eu-code-{acct.id}", f"us-code-{acct.id}"
    acct.client("s3", "eu-west-1").create_bucket(Bucket=eu, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    acct.client("s3").create_bucket(Bucket=us)
    for bucket, region in ((eu, "eu-west-1"), (us, REGION)):
        acct.client("s3", region).put_object(Bucket=bucket, Key="code.zip", Body=buf.getvalue())
    message = (
        "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: "
        "The bucket is in this region: eu-west-1. Please use this region to retry the request"
    )
    role = acct.role_arn()
    spec = {"Runtime": "provided.al2023", "Role": role, "Handler": "bootstrap"}
    expect_error(
        lambda: lam.create_function(FunctionName="far", Code={"S3Bucket": eu, "S3Key": "code.zip"}, **spec),
        "InvalidParameterValueException", message, 400,
    )
    lam.create_function(FunctionName="near", Code={"S3Bucket": us, "S3Key": "code.zip"}, **spec)
    expect_error(
        lambda: lam.update_function_code(FunctionName="near", S3Bucket=eu, S3Key="code.zip"),
        "InvalidParameterValueException", message, 400,
    )
    sid = cfn.create_stack(
        StackName="farfn", TemplateBody=LAMBDA_FROM_BUCKET,
        Parameters=[{"ParameterKey": "Bucket", "ParameterValue": eu}, {"ParameterKey": "Role", "ParameterValue": role}],
    )["StackId"]
    assert stack(cfn, sid)["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in events_of(cfn, sid) if e[1] == "CREATE_FAILED"]
    assert failed and failed[0][0] == "Fn" and failed[0][2].startswith(f'Resource handler returned message: "{message}'), failed
    expect_error(lambda: lam.get_function(FunctionName="farfn-fn"), "ResourceNotFoundException")

    # AWS::Logs::LogGroup whose name is taken.
    logs.create_log_group(logGroupName=f"/taken/{acct.id}")
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"/taken/{acct.id}", "RetentionInDays": 30}},
        }
    }
    sid = cfn.create_stack(StackName="logs", TemplateBody=json.dumps(template))["StackId"]
    assert stack(cfn, sid)["StackStatus"] == "ROLLBACK_COMPLETE"
    ev = events_of(cfn, sid)
    failed = [e for e in ev if e[1] == "CREATE_FAILED"]
    assert failed and failed[0][0] == "Group" and "already exists" in failed[0][2], failed
    assert ("logs", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Group]. Rollback requested by user.") in ev
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert groups == [f"/taken/{acct.id}"], groups  # the existing group is left alone


# ------------------------------------------------------------------------------------ regions

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "templates")
INVALID_TOKEN = "The security token included in the request is invalid."


def bundled(name: str) -> str:
    with open(os.path.join(TEMPLATES, f"taegis-cloudformation-{name}.yaml"), encoding="utf-8") as fh:
        return fh.read()


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "#!/bin/sh\n")
    return buf.getvalue()


def bucket_in(acct: Account, region: str, name: str) -> str:
    """A bucket in `region` holding code.zip (what the tool uploads for the function)."""
    s3 = acct.client("s3", region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **config)
    s3.put_object(Bucket=name, Key="code.zip", Body=code_zip())
    return name


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


SHARED_PARAMS = params(SecretValue="client_id=a\nclient_secret=b", TaegisRegion="echo")


def lambda_params(bucket: str, concurrency: str = "5") -> list[dict[str, str]]:
    return params(NotificationBucket=bucket, TaegisLambdaS3BucketName=bucket, TaegisLambdaS3Key="code.zip", ReservedConcurrency=concurrency)


def check_unknown_regions_refused(acct: Account) -> None:
    """(n) every call signed for a region that does not exist or is not enabled: 403 in the service's format."""
    for region in ("us-east-7", "us-esat-1", "eu-future-1", "cn-north-9"):
        exc = expect_error(acct.client("sts", region).get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
        assert exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
    for region in ("cn-north-1", "us-gov-west-1", "ap-southeast-7"):  # known, in every partition
        assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id
    status, _, body = raw_request(
        acct, "POST", "/", "sts", b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"}, region="us-east-7",
    )
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    root = ET.fromstring(body)
    assert status == 403 and root.tag == f"{ns}ErrorResponse", (status, body)
    assert [(c.tag, c.text) for c in root.find(f"{ns}Error")] == [
        (f"{ns}Type", "Sender"), (f"{ns}Code", "InvalidClientTokenId"), (f"{ns}Message", INVALID_TOKEN)
    ], body
    assert root.find(f"{ns}RequestId").text, body

    s3, cfn = acct.client("s3", "us-east-7"), acct.client("cloudformation", "us-east-7")
    denied = "The AWS Access Key Id you provided does not exist in our records."
    bucket = f"r7-{acct.id}"
    expect_error(lambda: s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-east-7"}), "InvalidAccessKeyId", denied, 403)
    t0 = time.time()  # "Expect: 100-continue": refused at once, the body never sent
    expect_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 2_000_000), "InvalidAccessKeyId", None, 403)
    assert time.time() - t0 < 5, time.time() - t0
    expect_error(
        lambda: acct.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-east-7"}),
        "InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
    )
    expect_error(cfn.describe_stacks, "InvalidClientTokenId", INVALID_TOKEN, 403)
    expect_error(lambda: cfn.create_stack(StackName="x", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS), "InvalidClientTokenId", None, 403)
    exc = expect_error(acct.client("lambda", "us-east-7").get_account_settings, "UnrecognizedClientException", INVALID_TOKEN, 403)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "UnrecognizedClientException"
    expect_error(acct.client("sns", "us-east-7").list_topics, "InvalidClientTokenId", INVALID_TOKEN, 403)
    expect_error(acct.client("secretsmanager", "us-east-7").list_secrets, "UnrecognizedClientException", INVALID_TOKEN, 400)
    expect_error(lambda: acct.client("s3").head_bucket(Bucket=bucket), "404")  # nothing was created

    log = admin("GET", f"/_taegis/requests?account={acct.id}&region=us-east-7")["requests"]
    seen = {(e["service"], e["action"], e["status"]) for e in log}
    for want in [("sts", "GetCallerIdentity", 403), ("s3", "CreateBucket", 403), ("s3", "PutObject", 403),
                 ("cloudformation", "DescribeStacks", 403), ("cloudformation", "CreateStack", 403), ("lambda", "GetAccountSettings", 403)]:
        assert want in seen, (want, sorted(seen, key=str))
    assert all(e["status"] in (400, 403) for e in log), log
    # Admin and unsigned requests are never refused.
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == {"account": acct.id, "enabled": [], "disabled": []}
    with OPENER.open(ENDPOINT + "/moto-api/", timeout=10) as resp:
        assert resp.status == 200


def check_enabled_region_end_to_end(acct: Account) -> None:
    """(n) a region enabled for the account through /_taegis/regions: the tool's calls work there."""
    region = "eu-future-1"
    other = Account()
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": [region, "ap-future-2"]})
    assert got == {"account": acct.id, "enabled": [region, "ap-future-2"], "disabled": []}, got
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == got
    assert admin("GET", "/_taegis/regions")["regions"][acct.id] == [region, "ap-future-2"]
    expect_error(other.client("sts", region).get_caller_identity, "InvalidClientTokenId", None, 403)  # per account
    assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id

    s3, cfn, lam = acct.client("s3", region), acct.client("cloudformation", region), acct.client("lambda", region)
    bucket = bucket_in(acct, region, f"ef-{acct.id}")
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == region
    assert s3.head_object(Bucket=bucket, Key="code.zip")["ContentLength"] > 0
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})

    cfn.create_stack(StackName="taegis-shared", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS)
    shared = stack(cfn, "taegis-shared")
    assert shared["StackStatus"] == "CREATE_COMPLETE", shared
    assert outputs(shared)["SecretArn"].startswith(f"arn:aws:secretsmanager:{region}:{acct.id}:secret:"), outputs(shared)
    sid = cfn.create_stack(StackName="taegis-lambda", TemplateBody=bundled("lambda-template"), Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"])["StackId"]
    st = stack(cfn, sid)
    assert st["StackStatus"] == "CREATE_COMPLETE" and sid.startswith(f"arn:aws:cloudformation:{region}:"), st
    assert cfn.get_template(StackName=sid)["TemplateBody"] == bundled("lambda-template")
    assert events_of(cfn, sid)[-1][:2] == ("taegis-lambda", "CREATE_COMPLETE")
    types = {r["ResourceType"] for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]}
    assert types == {"AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::Lambda::Function"}, types

    fn = lam.get_function(FunctionName=outputs(st)["FunctionName"])
    assert fn["Configuration"]["FunctionArn"] == outputs(st)["FunctionArn"] and f":{region}:" in outputs(st)["FunctionArn"], fn
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 995
    lam.add_permission(
        FunctionName=outputs(st)["FunctionName"], StatementId="s3", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=acct.id,
    )
    assert "s3.amazonaws.com" in lam.get_policy(FunctionName=outputs(st)["FunctionName"])["Policy"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"LambdaFunctionConfigurations": [{"Id": "t", "LambdaFunctionArn": outputs(st)["FunctionArn"], "Events": ["s3:ObjectCreated:*"]}]},
    )
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0]["Id"] == "t"
    sns = acct.client("sns", region)
    topic = sns.create_topic(Name="trail")["TopicArn"]
    assert topic.startswith(f"arn:aws:sns:{region}:{acct.id}:"), topic
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=outputs(st)["FunctionArn"])

    # Replacing the list disables the region again.
    assert admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": []}) == {"account": acct.id, "enabled": [], "disabled": []}
    expect_error(cfn.describe_stacks, "InvalidClientTokenId", INVALID_TOKEN, 403)
    for bad in ({"account": acct.id, "enabled": ["not a region"]}, {"account": "12", "enabled": []}, {"account": acct.id, "enabled": "eu-future-1"}):
        try:
            admin("POST", "/_taegis/regions", bad)
            raise AssertionError(f"accepted {bad}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err


def check_reset_clears_enabled_regions(acct: Account) -> None:
    """(n) POST /moto-api/reset clears the enabled and the disabled regions (runs alone, after
    the other checks)."""
    admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": ["eu-future-1"], "disabled": ["af-south-1"]})
    assert acct.client("sts", "eu-future-1").get_caller_identity()["Account"] == acct.id
    expect_error(acct.client("sts", "af-south-1").get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
    req = urllib.request.Request(ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    assert admin("GET", "/_taegis/regions") == {"regions": {}, "disabled": {}}
    expect_error(acct.client("sts", "eu-future-1").get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
    # The reset forgot the account's credentials too: new ones, into the same account.
    base = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    creds = base.client("sts", endpoint_url=ENDPOINT, config=CONFIG).assume_role(RoleArn=f"arn:aws:iam::{acct.id}:role/x", RoleSessionName="again")["Credentials"]
    again = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    assert again.client("sts", endpoint_url=ENDPOINT, region_name="af-south-1", config=CONFIG).get_caller_identity()["Account"] == acct.id


LIST_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "sts:GetCallerIdentity"], "Resource": "*"}],
}


def user_session(acct: Account, name: str, policy: dict) -> boto3.session.Session:  # type: ignore[type-arg]
    """An IAM user of the account holding exactly `policy` (inline), and a session with its keys."""
    iam = acct.client("iam")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    return boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )


def check_iam_enforcement(acct: Account) -> None:
    """(u) An enforced account's signed requests are checked by moto's IAM evaluator against the
    caller's policies; other accounts, and the account once enforcement is off, are not."""
    session = user_session(acct, "reader", LIST_ONLY_POLICY)
    user = lambda name: session.client(name, endpoint_url=ENDPOINT, config=CONFIG)  # noqa: E731
    other = Account()
    bucket = f"denied-{acct.id}"
    try:
        got = admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
        assert got["account"] == acct.id and got["enforce"] is True and acct.id in got["enforced"], got
        assert acct.id in admin("GET", "/_taegis/iam-enforcement")["enforced"]
        assert other.id not in admin("GET", "/_taegis/iam-enforcement")["enforced"]

        assert user("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{acct.id}:user/reader"
        assert isinstance(user("s3").list_buckets()["Buckets"], list)
        expect_error(lambda: user("s3").create_bucket(Bucket=bucket), "AccessDenied", "Access Denied", 403)
        expect_error(
            user("cloudformation").describe_stacks, "AccessDenied",
            f"User: arn:aws:iam::{acct.id}:user/reader is not authorized to perform: cloudformation:DescribeStacks", 403,
        )
        # JSON protocols answer in their own error shape.
        expect_error(user("logs").describe_log_groups, "AccessDeniedException", "logs:DescribeLogGroups", 400)
        expect_error(user("lambda").list_functions, "AccessDeniedException", "lambda:ListFunctions", 403)
        # Authentication too: a wrong secret for the user's key.
        wrong = boto3.session.Session(
            aws_access_key_id=session.get_credentials().access_key, aws_secret_access_key="wrong", region_name=REGION
        )
        expect_error(wrong.client("cloudformation", endpoint_url=ENDPOINT, config=CONFIG).describe_stacks, "SignatureDoesNotMatch", status=403)
        # The assumed role arn:...:role/x does not exist in IAM: it has no policies.
        expect_error(acct.client("cloudformation").describe_stacks, "AccessDenied", "assumed-role/x/selftest", 403)
        assert acct.client("sts").get_caller_identity()["Account"] == acct.id
        # The request log shows the refusals.
        log = admin("GET", f"/_taegis/requests?account={acct.id}&action=CreateBucket")["requests"]
        assert [e["status"] for e in log] == [403], log

        # Another account on the same server is not checked.
        other.client("s3").create_bucket(Bucket=f"free-{other.id}")
        other.client("cloudformation").describe_stacks()

        # Bad requests.
        for body in ({"account": "12"}, {"account": acct.id, "enforce": "yes"}, {"account": acct.id, "nope": 1}):
            try:
                admin("POST", "/_taegis/iam-enforcement", body)
            except urllib.error.HTTPError as exc:
                assert exc.code == 400, exc.code
            else:
                raise AssertionError(f"accepted {body}")
    finally:
        got = admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})
    assert got["enforce"] is False and acct.id not in got["enforced"], got
    # Off again: the same user may do anything, as before.
    user("s3").create_bucket(Bucket=bucket)
    user("cloudformation").describe_stacks()
    user("lambda").list_functions()


def rfc3986_form(pairs: list[tuple[str, str]]) -> bytes:
    """A query-protocol form body encoded as the Rust SDK encodes it (RFC 3986: A-Za-z0-9-_.~ kept,
    everything else %XX, spaces %20), unlike botocore's urlencode (spaces '+', '~' kept, '*' %2A)."""
    quote = lambda v: urllib.parse.quote(v, safe="-_.~")  # noqa: E731
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode("utf-8")


def signed_form_request(key: tuple[str, str], service: str, body: bytes) -> tuple[int, bytes]:
    """POST `body` (sent byte for byte) signed with SigV4 for the access key/secret `key`."""
    req = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(*key), service, REGION).add_auth(req)
    prepared = req.prepare()
    assert prepared.body == body
    raw = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with OPENER.open(raw, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def query_error(body: bytes) -> dict[str, str]:
    """Code/Message/Type of an AWS query-protocol error, read as the non-botocore SDKs read it:
    root ErrorResponse, its child Error, no <Errors> wrapper."""
    root = ET.fromstring(body)
    tag = lambda el: el.tag.rsplit("}", 1)[-1]  # noqa: E731
    assert tag(root) == "ErrorResponse", body
    errors = [el for el in root if tag(el) == "Error"]
    assert len(errors) == 1, body
    found = {tag(el): el.text or "" for el in errors[0]}
    found["RequestId"] = next((el.text or "" for el in root if tag(el) == "RequestId"), "")
    return found


def check_iam_enforcement_rfc3986_form_body(acct: Account) -> None:
    """(u) CreateStack with a whole template in a form body encoded as the Rust SDK encodes it:
    the signature is checked over the bytes sent; a denial is an <ErrorResponse><Error> AccessDenied."""
    allowed = user_session(acct, "deployer", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["cloudformation:CreateStack", "cloudformation:DescribeStacks"], "Resource": "*"}],
    }).get_credentials()
    denied = user_session(acct, "viewer", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["cloudformation:DescribeStacks"], "Resource": "*"}],
    }).get_credentials()

    def create(name: str) -> list[tuple[str, str]]:
        return [
            ("Action", "CreateStack"), ("Version", "2010-05-15"), ("StackName", name),
            ("TemplateBody", bundled("shared-resources")),
            ("Parameters.member.1.ParameterKey", "SecretValue"),
            ("Parameters.member.1.ParameterValue", "client_id=a b~c*\nclient_secret=(x)!'+/?&="),
            ("Parameters.member.2.ParameterKey", "TaegisRegion"), ("Parameters.member.2.ParameterValue", "echo"),
            ("Capabilities.member.1", "CAPABILITY_IAM"), ("ClientRequestToken", f"token-{name}-~*"),
        ]

    body = rfc3986_form(create("rust-style"))
    assert b"%20" in body and b"~" in body and b"%2A" in body and b"%0A" in body, body[:200]
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    try:
        status, text = signed_form_request((allowed.access_key, allowed.secret_key), "cloudformation", body)
        assert status == 200, (status, text[:500])
        assert b"<StackId>arn:aws:cloudformation:" in text, text
        cfn = boto3.session.Session(
            aws_access_key_id=allowed.access_key, aws_secret_access_key=allowed.secret_key, region_name=REGION
        ).client("cloudformation", endpoint_url=ENDPOINT, config=CONFIG)
        assert stack(cfn, "rust-style")["StackStatus"] == "CREATE_COMPLETE", stack(cfn, "rust-style")

        # Not allowed: 403 AccessDenied, in the shape every SDK parses.
        status, text = signed_form_request((denied.access_key, denied.secret_key), "cloudformation", rfc3986_form(create("nope")))
        assert status == 403, (status, text)
        err = query_error(text)
        assert err["Code"] == "AccessDenied" and err["Type"] == "Sender", err
        assert err["Message"] == f"User: arn:aws:iam::{acct.id}:user/viewer is not authorized to perform: cloudformation:CreateStack", err
        assert err["RequestId"], err
        assert b'xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"' in text, text
        # A wrong secret: SignatureDoesNotMatch, same shape.
        status, text = signed_form_request((allowed.access_key, "wrong"), "cloudformation", rfc3986_form(create("nope")))
        assert status == 403 and query_error(text)["Code"] == "SignatureDoesNotMatch", (status, text)
        # boto3 (its own encoding) still works, and reads the same errors.
        cfn.describe_stacks(StackName="rust-style")
        cfn.create_stack(StackName="boto", TemplateBody="Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
        expect_error(lambda: cfn.delete_stack(StackName="boto"), "AccessDenied", "cloudformation:DeleteStack", 403)
    finally:
        admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})


S3_AWS_NAMED_ACTIONS = [
    "s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket", "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:GetBucketNotification",
    "s3:PutBucketNotification",
]
S3_AWS_NAMED_OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]


def check_iam_enforcement_missing_key(acct: Account) -> None:
    """(u) a missing key is 404 NoSuchKey only to a caller allowed s3:ListBucket on the bucket;
    to one allowed only s3:GetObject it is 403 AccessDenied (HeadObject: 403, no body)."""
    bucket = f"missing-{acct.id}"
    acct.client("s3").create_bucket(Bucket=bucket)
    acct.client("s3").put_object(Bucket=bucket, Key="there", Body=b"x")
    objects = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    policy = lambda *st: {"Version": "2012-10-17", "Statement": list(st)}  # noqa: E731
    getter = user_session(acct, "getter", policy(objects)).client("s3", endpoint_url=ENDPOINT, config=CONFIG)
    lister = user_session(acct, "lister", policy(objects, listing)).client("s3", endpoint_url=ENDPOINT, config=CONFIG)
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    try:
        assert getter.get_object(Bucket=bucket, Key="there")["Body"].read() == b"x"
        expect_error(lambda: getter.get_object(Bucket=bucket, Key="gone"), "AccessDenied", "Access Denied", 403)
        expect_error(lambda: getter.head_object(Bucket=bucket, Key="gone"), "403", None, 403)
        expect_error(lambda: lister.get_object(Bucket=bucket, Key="gone"), "NoSuchKey", None, 404)
        expect_error(lambda: lister.head_object(Bucket=bucket, Key="gone"), "404", None, 404)
    finally:
        admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})


def check_iam_enforcement_s3_action_names(acct: Account) -> None:
    """(u) S3 operations are checked as AWS's IAM actions (GetBucketEncryption as
    s3:GetEncryptionConfiguration, HeadBucket as s3:ListBucket, ...) on the bucket ARN, or
    BUCKET/KEY for object operations."""
    bucket, other = f"named-{acct.id}", f"named-other-{acct.id}"
    scoped = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": S3_AWS_NAMED_ACTIONS, "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Action": S3_AWS_NAMED_OBJECT_ACTIONS, "Resource": f"arn:aws:s3:::{bucket}/ok/*"},
            {"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
        ],
    }
    s3 = user_session(acct, "s3user", scoped).client("s3", endpoint_url=ENDPOINT, config=CONFIG)
    # moto's own names grant nothing.
    moto_named = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "s3:GetBucketEncryption", "s3:PutBucketEncryption", "s3:PutPublicAccessBlock", "s3:HeadBucket",
            "s3:GetBucketNotificationConfiguration", "s3:ListObjectsV2", "s3:HeadObject", "s3:DeleteObjects",
        ]}],
    }
    s3_moto = user_session(acct, "motonames", moto_named).client("s3", endpoint_url=ENDPOINT, config=CONFIG)
    acct.client("s3").create_bucket(Bucket=other)
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    try:
        s3.create_bucket(Bucket=bucket)
        s3.head_bucket(Bucket=bucket)
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", rules
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
        assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="ok/a b.txt", Body=b"x")
        s3.head_object(Bucket=bucket, Key="ok/a b.txt")
        assert s3.get_object(Bucket=bucket, Key="ok/a b.txt")["Body"].read() == b"x"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ok/a b.txt"]
        s3.list_objects(Bucket=bucket)
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ok/a b.txt"}]})
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

        # Object actions are scoped to BUCKET/ok/*; bucket actions to the bucket ARN.
        denied = lambda call: expect_error(call, "AccessDenied", status=403)  # noqa: E731
        denied(lambda: s3.put_object(Bucket=bucket, Key="elsewhere.txt", Body=b"x"))
        # DeleteObjects answers 200 with a per-key AccessDenied; here one key out of the policy's
        # reach refuses them all (AWS would still delete ok/b).
        s3.put_object(Bucket=bucket, Key="ok/b", Body=b"x")
        got = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ok/b"}, {"Key": "no/c"}]})
        assert not got.get("Deleted") and sorted(e["Code"] for e in got["Errors"]) == ["AccessDenied", "AccessDenied"], got
        s3.head_object(Bucket=bucket, Key="ok/b")
        acct_s3_key = "no/owner.txt"
        for call in (
            lambda: s3.get_bucket_encryption(Bucket=other),
            lambda: s3.put_public_access_block(Bucket=other, PublicAccessBlockConfiguration={"BlockPublicAcls": True}),
            lambda: s3.list_objects_v2(Bucket=other),
            lambda: s3.get_bucket_notification_configuration(Bucket=other),
            lambda: s3.put_object(Bucket=other, Key="ok/a", Body=b"x"),
            lambda: s3.list_buckets(),
        ):
            denied(call)
        try:
            s3.head_bucket(Bucket=other)
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403, exc.response
        else:
            raise AssertionError("HeadBucket of the other bucket allowed")
        try:
            s3.head_object(Bucket=bucket, Key=acct_s3_key)
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403, exc.response
        else:
            raise AssertionError("HeadObject outside ok/ allowed")

        # moto's names are not IAM actions.
        for call in (
            lambda: s3_moto.get_bucket_encryption(Bucket=bucket),
            lambda: s3_moto.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
            lambda: s3_moto.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}),
            lambda: s3_moto.get_bucket_notification_configuration(Bucket=bucket),
            lambda: s3_moto.list_objects_v2(Bucket=bucket),
        ):
            denied(call)
        got = s3_moto.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ok/b"}]})
        assert not got.get("Deleted") and [e["Code"] for e in got["Errors"]] == ["AccessDenied"], got
    finally:
        admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})


def check_reset_clears_iam_enforcement(acct: Account) -> None:
    """(u) POST /moto-api/reset clears the enforced accounts (runs alone, after the other checks)."""
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    expect_error(acct.client("cloudformation").describe_stacks, "AccessDenied", status=403)
    req = urllib.request.Request(ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    assert admin("GET", "/_taegis/iam-enforcement") == {"enforced": []}
    acct.client("cloudformation").describe_stacks()


# ------------------------------------------------------------------------------------ templates

INLINE_LIMIT = "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200"


def padded_lambda_template(marker: str) -> str:
    """The bundled Lambda template with a Metadata blob that takes it over 51,200 bytes."""
    lines = "".join(f"    - '{marker} line {i:04d} {'x' * 80}'\n" for i in range(560))
    body = bundled("lambda-template").replace("\nMetadata:\n", f"\nMetadata:\n  TaegisPadding:\n{lines}", 1)
    assert len(body.encode()) > 51_200, len(body)
    return body


def check_inline_limit_and_template_url(acct: Account) -> None:
    """(o) TemplateBody over 51,200 bytes refused; TemplateURL forms, errors, updates (sync)."""
    cfn, s3 = acct.client("cloudformation"), acct.client("s3")
    big, big2 = padded_lambda_template("one"), padded_lambda_template("two")
    bucket = bucket_in(acct, REGION, f"tu-{acct.id}")
    s3.put_object(Bucket=bucket, Key="t/big.yaml", Body=big.encode())
    s3.put_object(Bucket=bucket, Key="t/big2.yaml", Body=big2.encode())
    cfn.create_stack(StackName="taegis-shared", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS)
    for call in (
        lambda: cfn.create_stack(StackName="inline", TemplateBody=big, Parameters=lambda_params(bucket)),
        lambda: cfn.update_stack(StackName="taegis-shared", TemplateBody=big, Parameters=lambda_params(bucket)),
        lambda: cfn.validate_template(TemplateBody=big),
    ):
        exc = expect_error(call, "ValidationError", INLINE_LIMIT, 400)
        assert exc.response["Error"]["Message"] == INLINE_LIMIT, exc.response["Error"]
    expect_error(lambda: cfn.describe_stacks(StackName="inline"), "ValidationError", "does not exist")
    small = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n# é"  # the limit counts bytes
    at_limit = small + "x" * (51_200 - len(small.encode()))
    cfn.validate_template(TemplateBody=at_limit)
    expect_error(lambda: cfn.validate_template(TemplateBody=at_limit + "x"), "ValidationError", INLINE_LIMIT, 400)

    virtual, legacy, path = (
        f"https://{bucket}.s3.{REGION}.amazonaws.com/t/big.yaml",
        f"https://{bucket}.s3.amazonaws.com/t/big.yaml",
        f"https://s3.{REGION}.amazonaws.com/{bucket}/t/big2.yaml",
    )
    for name, url in (("by-virtual", virtual), ("by-legacy", legacy), ("by-path", path)):
        sid = cfn.create_stack(StackName=name, TemplateURL=url, Parameters=lambda_params(bucket, "2"), Capabilities=["CAPABILITY_IAM"])["StackId"]
        assert stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE", (name, stack(cfn, sid))
        assert cfn.get_template(StackName=sid)["TemplateBody"] == (big2 if url == path else big), name
    # UpdateStack: the same template at another URL is a no-op; another template is an update.
    expect_error(
        lambda: cfn.update_stack(StackName="by-virtual", TemplateURL=legacy, Parameters=lambda_params(bucket, "2"), Capabilities=["CAPABILITY_IAM"]),
        "ValidationError", "No updates are to be performed.",
    )
    cfn.update_stack(StackName="by-virtual", TemplateURL=path, Parameters=lambda_params(bucket, "3"), Capabilities=["CAPABILITY_IAM"])
    assert stack(cfn, "by-virtual")["StackStatus"] == "UPDATE_COMPLETE"
    assert cfn.get_template(StackName="by-virtual")["TemplateBody"] == big2
    assert acct.client("lambda").get_function_concurrency(FunctionName="by-virtual-scwx-tdr-lambda-generic")["ReservedConcurrentExecutions"] == 3
    check_template_url_refusals(acct, bucket)


def check_template_url_refusals(acct: Account, bucket: str) -> None:
    cfn = acct.client("cloudformation")
    eu = bucket_in(acct, "eu-west-1", f"tu-eu-{acct.id}")
    acct.client("s3", "eu-west-1").put_object(Bucket=eu, Key="t.yaml", Body=bundled("shared-resources").encode())
    more = "\nFor more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
    wrong_endpoint = (
        "S3 error: The bucket you are attempting to access must be addressed using the specified endpoint. "
        "Please send all future requests to this endpoint." + more
    )
    for url, message in (
        (f"https://{bucket}.s3.amazonaws.com/t/missing.yaml", "S3 error: Access Denied" + more),
        (f"https://s3.{REGION}.amazonaws.com/no-such-bucket-{acct.id}/t.yaml", "S3 error: The specified bucket does not exist" + more),
        (f"https://{eu}.s3.eu-west-1.amazonaws.com/t.yaml", wrong_endpoint),  # bucket in another region
        (f"https://s3.eu-west-1.amazonaws.com/{bucket}/t/big.yaml", wrong_endpoint),  # URL names another region
        (f"https://example.com/{bucket}/t/big.yaml", "TemplateURL must be a supported URL."),
        (f"s3://{bucket}/t/big.yaml", "TemplateURL must be a supported URL."),
    ):
        for call in (
            lambda: cfn.create_stack(StackName="refused", TemplateURL=url, Parameters=SHARED_PARAMS),
            lambda: cfn.update_stack(StackName="taegis-shared", TemplateURL=url, Parameters=SHARED_PARAMS),
        ):
            exc = expect_error(call, "ValidationError", None, 400)
            assert exc.response["Error"]["Message"] == message, (url, exc.response["Error"])
    expect_error(lambda: cfn.describe_stacks(StackName="refused"), "ValidationError", "does not exist")
    assert stack(cfn, "taegis-shared")["StackStatus"] == "CREATE_COMPLETE"


def check_template_url_async(acct: Account) -> None:
    """(o) TemplateURL with stack_seconds: background create/update, no-op update, GetTemplate."""
    cfn = acct.client("cloudformation")
    big, big2 = padded_lambda_template("async one"), padded_lambda_template("async two")
    bucket = bucket_in(acct, REGION, f"ta-{acct.id}")
    acct.client("s3").put_object(Bucket=bucket, Key="big.yaml", Body=big.encode())
    acct.client("s3").put_object(Bucket=bucket, Key="big2.yaml", Body=big2.encode())
    set_behaviour(acct, stack_seconds=3.0)  # long enough to be seen in progress on a loaded machine
    sid = cfn.create_stack(StackName="taegis-shared", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS)["StackId"]
    assert wait_stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"
    url = f"https://{bucket}.s3.{REGION}.amazonaws.com/big.yaml"
    sid = cfn.create_stack(StackName="slow-url", TemplateURL=url, Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"])["StackId"]
    assert stack(cfn, sid)["StackStatus"] == "CREATE_IN_PROGRESS"
    assert wait_stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"
    assert cfn.get_template(StackName=sid)["TemplateBody"] == big
    expect_error(
        lambda: cfn.update_stack(StackName=sid, TemplateURL=f"https://s3.amazonaws.com/{bucket}/big.yaml", Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"]),
        "ValidationError", "No updates are to be performed.",
    )
    cfn.update_stack(StackName=sid, TemplateURL=f"https://s3.{REGION}.amazonaws.com/{bucket}/big2.yaml", Parameters=lambda_params(bucket, "4"), Capabilities=["CAPABILITY_IAM"])
    assert stack(cfn, sid)["StackStatus"] == "UPDATE_IN_PROGRESS", stack(cfn, sid)["StackStatus"]
    assert cfn.get_template(StackName=sid)["TemplateBody"] == big2
    assert wait_stack(cfn, sid)["StackStatus"] == "UPDATE_COMPLETE"
    assert cfn.get_template(StackName=sid)["TemplateBody"] == big2
    assert acct.client("lambda").get_function_concurrency(FunctionName="slow-url-scwx-tdr-lambda-generic")["ReservedConcurrentExecutions"] == 4
    reset_behaviour(acct)


# ------------------------------------------------------------------------------------ destinations

UNABLE = "Unable to validate the following destination configurations"
REGION_NOT_VALID = "The notification destination service region is not valid for the bucket location constraint"


def error_pairs(exc: ClientError) -> list[tuple[str, str]]:
    """The ArgumentNameN/ArgumentValueN pairs of an S3 error, in order."""
    err, pairs, n = exc.response["Error"], [], 1
    while f"ArgumentName{n}" in err:
        pairs.append((err[f"ArgumentName{n}"], err.get(f"ArgumentValue{n}", "")))
        n += 1
    return pairs


def check_notification_destinations(acct: Account) -> None:
    """(p) every destination validated on every write; cross-region destinations refused."""
    s3, sns, sqs, lam = acct.client("s3"), acct.client("sns"), acct.client("sqs"), acct.client("lambda")
    bucket = f"nd-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    raw: list[bytes] = []
    s3.meta.events.register("after-call.s3.PutBucketNotificationConfiguration", lambda http_response, **kw: raw.append(http_response.content))

    def put(**configs) -> None:  # type: ignore[no-untyped-def]
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configs)

    def refused(**configs) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        return error_pairs(expect_error(lambda: put(**configs), "InvalidArgument", UNABLE, 400))

    q_missing = f"arn:aws:sqs:{REGION}:{acct.id}:missing"
    t_missing = f"arn:aws:sns:{REGION}:{acct.id}:missing"
    bare_q = sqs.create_queue(QueueName="bare")["QueueUrl"]
    bare_q_arn = f"arn:aws:sqs:{REGION}:{acct.id}:bare"
    bare_t = sns.create_topic(Name="bare")["TopicArn"]  # default policy: the owner account only
    fn = acct.function("dest")
    q = lambda arn, i="q", ev="s3:ObjectRemoved:*": {"Id": i, "QueueArn": arn, "Events": [ev]}  # noqa: E731
    t = lambda arn, i="t", ev="s3:ObjectCreated:*": {"Id": i, "TopicArn": arn, "Events": [ev]}  # noqa: E731
    f = {"Id": "f", "LambdaFunctionArn": fn, "Events": ["s3:ObjectRestore:*"]}
    assert refused(QueueConfigurations=[q(q_missing)]) == [(q_missing, "The destination queue does not exist")]
    assert refused(TopicConfigurations=[t(t_missing)]) == [(t_missing, "The destination topic does not exist")]
    assert refused(QueueConfigurations=[q(bare_q_arn)]) == [(bare_q_arn, "Permissions on the destination queue do not allow S3 to publish notifications from this bucket")]
    assert refused(TopicConfigurations=[t(bare_t)]) == [(bare_t, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket")]
    # All at once: one numbered pair per destination (a function is named "ARN, null").
    pairs = refused(TopicConfigurations=[t(bare_t)], QueueConfigurations=[q(q_missing)], LambdaFunctionConfigurations=[f])
    assert pairs == [
        (bare_t, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"),
        (q_missing, "The destination queue does not exist"),
        (f"{fn}, null", f"Not authorized to invoke function [{fn}]"),
    ], pairs
    body = raw[-1].decode()
    assert body.startswith("<?xml") and f"<Message>{UNABLE}</Message><ArgumentName1>{bare_t}</ArgumentName1><ArgumentValue1>" in body, body
    assert f"<ArgumentName3>{fn}, null</ArgumentName3><ArgumentValue3>Not authorized to invoke function [{fn}]</ArgumentValue3><RequestId>" in body, body
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations") is None  # nothing stored

    # A policy for another bucket or account does not do; one for this bucket does.
    other_bucket = s3_may_deliver(bare_q_arn, "someone-else", acct.id)
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": other_bucket})
    assert refused(QueueConfigurations=[q(bare_q_arn)])[0][0] == bare_q_arn
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": s3_may_deliver(bare_q_arn, bucket, "000000000000")})
    assert refused(QueueConfigurations=[q(bare_q_arn)])[0][0] == bare_q_arn
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": s3_may_deliver(bare_q_arn, bucket, acct.id)})
    topic = topic_for(acct, "fine", bucket)
    lam.add_permission(FunctionName="dest", StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                       SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=acct.id)
    put(TopicConfigurations=[t(topic)], QueueConfigurations=[q(bare_q_arn)], LambdaFunctionConfigurations=[f], EventBridgeConfiguration={})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [len(got[k]) for k in ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations")] == [1, 1, 1], got
    # A Deny wins over the Allow.
    deny = json.loads(s3_may_deliver(bare_q_arn, bucket, acct.id))
    deny["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": bare_q_arn})
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": json.dumps(deny)})
    # Every write checks the whole configuration: the queue entry that is already there too.
    assert refused(TopicConfigurations=[t(topic)], QueueConfigurations=[q(bare_q_arn)], LambdaFunctionConfigurations=[f]) == [
        (bare_q_arn, "Permissions on the destination queue do not allow S3 to publish notifications from this bucket")
    ]
    put(EventBridgeConfiguration={})  # no destination to validate
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)

    # Destinations in another region: refused before anything else, nothing stored.
    eu_topic = topic_for(acct, "far", bucket, "eu-west-1")
    eu_fn = acct.client("lambda", "eu-west-1").create_function(
        FunctionName="far", Runtime="provided.al2023", Role=acct.role_arn(), Handler="bootstrap", Code={"ZipFile": code_zip()}
    )["FunctionArn"]
    eu_queue = f"arn:aws:sqs:eu-west-1:{acct.id}:far"
    for kind, arn, configs in (
        ("Topic", eu_topic, {"TopicConfigurations": [t(eu_topic)]}),
        ("CloudFunction", eu_fn, {"LambdaFunctionConfigurations": [{"Id": "f", "LambdaFunctionArn": eu_fn, "Events": ["s3:ObjectCreated:*"]}]}),
        # Before the destinations are validated: the missing topic is not named.
        ("Queue", eu_queue, {"QueueConfigurations": [q(eu_queue)], "TopicConfigurations": [t(t_missing)]}),
    ):
        err = expect_error(lambda: put(**configs), "InvalidArgument", REGION_NOT_VALID, 400).response["Error"]
        assert (err.get("ArgumentName"), err.get("ArgumentValue"), "ArgumentName1" in err) == (kind, arn, False), err
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("TopicConfigurations") is None


# ------------------------------------------------------------------------------------ bucket access

REDIRECT_MESSAGE = (
    "The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint."
)


def check_new_buckets_private_and_encrypted(acct: Account) -> None:
    """(v) a new bucket has Block Public Access on and SSE-S3 default encryption, in any region;
    what its owner sets later wins."""
    for region in (REGION, "eu-west-1"):
        s3 = acct.client("s3", region)
        bucket = f"new-{region}-{acct.id}"
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                       "RestrictPublicBuckets": True}, pab
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules == [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                          "BucketKeyEnabled": False}], rules
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", rule


def check_bucket_owner_policy_and_region(acct: Account) -> None:
    """(q) another account: AccessDenied unless the bucket policy grants it; ExpectedBucketOwner;
    another region: 301 PermanentRedirect (GetBucketLocation answers from anywhere)."""
    other = Account()
    s3, theirs = acct.client("s3"), other.client("s3")
    bucket = f"ow-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    for call in (
        lambda: theirs.get_bucket_location(Bucket=bucket),
        lambda: theirs.get_bucket_notification_configuration(Bucket=bucket),
        lambda: theirs.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={}),
        lambda: theirs.get_bucket_policy(Bucket=bucket),
        lambda: theirs.get_bucket_encryption(Bucket=bucket),
        lambda: theirs.list_objects_v2(Bucket=bucket),
        lambda: theirs.put_object(Bucket=bucket, Key="theirs", Body=b"x"),
        lambda: theirs.get_object(Bucket=bucket, Key="k"),
    ):
        expect_error(call, "AccessDenied", "Access Denied", 403)
    exc = expect_error(lambda: theirs.head_bucket(Bucket=bucket), "403", None, 403)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == REGION
    status, _, body = raw_request(other, "GET", f"/{bucket}?location", "s3")
    root = ET.fromstring(body)
    assert status == 403 and [c.tag for c in root] == ["Code", "Message", "RequestId", "HostId"], body
    assert (root.find("Code").text, root.find("Message").text) == ("AccessDenied", "Access Denied"), body

    # The bucket policy grants the other account some actions (wildcards apply).
    resource = f"arn:aws:s3:::{bucket}"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.id}:root"}, "Action": ["s3:GetBucketLocation", "s3:Get*"], "Resource": resource},
        {"Effect": "Allow", "Principal": {"AWS": other.id}, "Action": "s3:PutObject", "Resource": f"{resource}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"{resource}/locked/*"},
    ]}))
    assert theirs.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    theirs.get_bucket_notification_configuration(Bucket=bucket)
    theirs.put_object(Bucket=bucket, Key="theirs", Body=b"x")
    expect_error(lambda: theirs.put_object(Bucket=bucket, Key="locked/x", Body=b"x"), "AccessDenied", "Access Denied", 403)
    expect_error(lambda: theirs.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={}), "AccessDenied", None, 403)
    expect_error(lambda: theirs.list_objects_v2(Bucket=bucket), "AccessDenied", None, 403)
    expect_error(lambda: theirs.get_bucket_policy(Bucket=bucket), "MethodNotAllowed", "The specified method is not allowed against this resource.", 405)

    # ExpectedBucketOwner: another account refused even where the policy allows.
    assert s3.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=acct.id)["LocationConstraint"] is None
    assert theirs.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=acct.id)["LocationConstraint"] is None
    expect_error(lambda: s3.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=other.id), "AccessDenied", "Access Denied", 403)
    expect_error(lambda: theirs.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=other.id), "AccessDenied", None, 403)
    expect_error(lambda: s3.get_bucket_notification_configuration(Bucket=bucket, ExpectedBucketOwner=other.id), "AccessDenied", None, 403)
    check_bucket_region_redirect(acct)


def check_bucket_region_redirect(acct: Account) -> None:
    eu = bucket_in(acct, "eu-west-1", f"rd-{acct.id}")
    assert acct.client("s3").get_bucket_location(Bucket=eu)["LocationConstraint"] == "eu-west-1"  # from any region
    for method, path in (
        ("GET", f"/{eu}?notification"), ("PUT", f"/{eu}?notification"), ("GET", f"/{eu}?encryption"),
        ("PUT", f"/{eu}/new"), ("GET", f"/{eu}/code.zip"), ("GET", f"/{eu}?list-type=2"),
    ):
        status, headers, body = raw_request(acct, method, path, "s3", b"<NotificationConfiguration/>" if method == "PUT" else b"")
        assert status == 301 and headers.get("x-amz-bucket-region") == "eu-west-1", (path, status, headers)
        root = ET.fromstring(body)
        assert [(c.tag, c.text) for c in root][:4] == [
            ("Code", "PermanentRedirect"), ("Message", REDIRECT_MESSAGE), ("Endpoint", f"{eu}.s3.eu-west-1.amazonaws.com"), ("Bucket", eu)
        ], body
    for path in (f"/{eu}", f"/{eu}/code.zip"):  # HeadBucket, HeadObject: headers only
        status, headers, body = raw_request(acct, "HEAD", path, "s3")
        assert (status, body, headers.get("x-amz-bucket-region")) == (301, b"", "eu-west-1"), (path, status, headers, body)
    assert acct.client("s3", "eu-west-1").head_object(Bucket=eu, Key="code.zip")["ContentLength"] > 0
    # boto3 follows the redirect by itself (the Rust SDK does not): a 301, then the answer.
    acct.client("s3").get_bucket_notification_configuration(Bucket=eu)
    log = admin("GET", f"/_taegis/requests?account={acct.id}&action=GetBucketNotificationConfiguration")["requests"]
    assert [(e["region"], e["status"]) for e in log if e["path"] == f"/{eu}"][-2:] == [(REGION, 301), ("eu-west-1", 200)], log
    status, _, _ = raw_request(acct, "PUT", f"/{eu}/never", "s3", b"x")
    assert status == 301
    expect_error(lambda: acct.client("s3", "eu-west-1").head_object(Bucket=eu, Key="never"), "404")


# ------------------------------------------------------------------------------------ capabilities

ROLE = "  Role:\n    Type: AWS::IAM::Role\n    Properties:\n{name}      AssumeRolePolicyDocument: {{Version: '2012-10-17', Statement: []}}\n"
TOPIC_ONLY = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"


def check_capabilities(acct: Account) -> None:
    """(r) IAM resources need CAPABILITY_IAM, named ones CAPABILITY_NAMED_IAM."""
    cfn = acct.client("cloudformation")
    unnamed = TOPIC_ONLY + ROLE.format(name="")
    named = TOPIC_ONLY + ROLE.format(name=f"      RoleName: named-{acct.id}\n")
    managed = TOPIC_ONLY + (
        "  Managed:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      ManagedPolicyName: mine\n"
        "      PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 's3:GetObject', Resource: '*'}]}\n"
    )
    inline = unnamed + (  # an inline policy's PolicyName names nothing on its own
        "  Inline:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: inline\n      Roles: [!Ref Role]\n"
        "      PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 's3:GetObject', Resource: '*'}]}\n"
    )
    iam, named_iam = "Requires capabilities : [CAPABILITY_IAM]", "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    for body, caps, message in (
        (unnamed, [], iam), (inline, [], iam), (named, [], named_iam), (named, ["CAPABILITY_IAM"], named_iam),
        (managed, ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"], named_iam),
    ):
        exc = expect_error(lambda: cfn.create_stack(StackName="caps", TemplateBody=body, Capabilities=caps), "InsufficientCapabilitiesException", None, 400)
        assert exc.response["Error"]["Message"] == message and exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
        expect_error(lambda: cfn.create_change_set(StackName="caps", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body, Capabilities=caps),
                     "InsufficientCapabilitiesException", message, 400)
    expect_error(lambda: cfn.describe_stacks(StackName="caps"), "ValidationError", "does not exist")
    cfn.create_stack(StackName="caps-named", TemplateBody=named, Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.create_stack(StackName="caps-inline", TemplateBody=inline, Capabilities=["CAPABILITY_IAM"])
    cfn.create_stack(StackName="caps", TemplateBody=TOPIC_ONLY)  # nothing needed
    expect_error(lambda: cfn.update_stack(StackName="caps", TemplateBody=unnamed), "InsufficientCapabilitiesException", iam, 400)
    assert stack(cfn, "caps")["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName="caps", TemplateBody=unnamed, Capabilities=["CAPABILITY_NAMED_IAM"])
    assert stack(cfn, "caps")["StackStatus"] == "UPDATE_COMPLETE"
    # UsePreviousTemplate: the stack's template decides (and comes before "No updates").
    expect_error(lambda: cfn.update_stack(StackName="caps", UsePreviousTemplate=True), "InsufficientCapabilitiesException", iam, 400)
    expect_error(lambda: cfn.update_stack(StackName="caps", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"]), "ValidationError", "No updates are to be performed.")
    expect_error(lambda: cfn.create_change_set(StackName="caps", ChangeSetName="u", ChangeSetType="UPDATE", UsePreviousTemplate=True),
                 "InsufficientCapabilitiesException", iam, 400)


# ------------------------------------------------------------------------------------ pages

PARAM_STACK = """
Parameters:
  Value:
    Type: String
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub '${AWS::StackName}-value'
      Type: String
      Value: !Ref Value
"""


def check_stack_event_and_export_pages(acct: Account) -> None:
    """(s) DescribeStackEvents: 100 per page, newest first, a token that resumes where it was;
    ListExports: 100 per page, each with ExportingStackId, Name and Value."""
    cfn = acct.client("cloudformation")
    value = lambda v: [{"ParameterKey": "Value", "ParameterValue": v}]  # noqa: E731
    sid = cfn.create_stack(StackName="chatty", TemplateBody=PARAM_STACK, Parameters=value("v0"))["StackId"]
    for i in range(1, 27):  # 4 events for the create, 5 for each update: 134
        cfn.update_stack(StackName="chatty", TemplateBody=PARAM_STACK, Parameters=value(f"v{i}"))
    first = cfn.describe_stack_events(StackName=sid)
    assert len(first["StackEvents"]) == 100 and first.get("NextToken"), (len(first["StackEvents"]), first.get("NextToken"))
    assert (first["StackEvents"][0]["LogicalResourceId"], first["StackEvents"][0]["ResourceStatus"]) == ("chatty", "UPDATE_COMPLETE")
    cfn.update_stack(StackName="chatty", TemplateBody=PARAM_STACK, Parameters=value("late"))  # 5 more meanwhile
    second = cfn.describe_stack_events(StackName=sid, NextToken=first["NextToken"])
    assert len(second["StackEvents"]) == 34 and not second.get("NextToken"), (len(second["StackEvents"]), second.get("NextToken"))
    assert second["StackEvents"][-1]["ResourceStatus"] == "CREATE_IN_PROGRESS", second["StackEvents"][-1]
    seen = [e["EventId"] for e in first["StackEvents"] + second["StackEvents"]]
    assert len(set(seen)) == 134, len(set(seen))
    stamps = [e["Timestamp"] for e in first["StackEvents"] + second["StackEvents"]]
    assert stamps == sorted(stamps, reverse=True)
    everything = [e["EventId"] for page in cfn.get_paginator("describe_stack_events").paginate(StackName=sid) for e in page["StackEvents"]]
    assert len(everything) == len(set(everything)) == 139 and set(seen) < set(everything), len(everything)
    expect_error(lambda: cfn.describe_stack_events(StackName=sid, NextToken="not-a-token"), "ValidationError", None, 400)

    outputs_yaml = "".join(f"  O{i:03d}:\n    Value: value-{i}\n    Export:\n      Name: !Sub '${{AWS::StackName}}-{i:03d}'\n" for i in range(130))
    eid = cfn.create_stack(StackName="exporter", TemplateBody=TOPIC_ONLY + "Outputs:\n" + outputs_yaml)["StackId"]
    page = cfn.list_exports()
    assert len(page["Exports"]) == 100 and page.get("NextToken"), len(page["Exports"])
    rest = cfn.list_exports(NextToken=page["NextToken"])
    assert len(rest["Exports"]) == 30 and not rest.get("NextToken"), len(rest["Exports"])
    exports = {e["Name"]: e for e in page["Exports"] + rest["Exports"]}
    assert len(exports) == 130 and exports["exporter-007"] == {"ExportingStackId": eid, "Name": "exporter-007", "Value": "value-7"}, exports.get("exporter-007")


# ------------------------------------------------------------------------------------ policy resources

S3_MAY_SEND = """
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {{Service: s3.amazonaws.com}}
            Action: {action}
            Resource: {resource}
            Condition:
              ArnLike: {{aws:SourceArn: !Sub 'arn:aws:s3:::${{Bucket}}'}}
              StringEquals: {{aws:SourceAccount: !Ref AWS::AccountId}}"""
POLICY_TARGETS = """
Parameters:
  Bucket: {Type: String}
Resources:
  Q:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
    Properties: {QueueName: bkt-x1-audit}
  Spare:
    Type: AWS::SQS::Queue
    Properties: {QueueName: bkt-x1-spare}
  T:
    Type: AWS::SNS::Topic
    DeletionPolicy: Retain
    Properties: {TopicName: bkt-x1-alerts}
"""
QUEUE_TOPIC_POLICY_STACK = POLICY_TARGETS + """  QP:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Q, !Ref Spare]
      PolicyDocument:""" + S3_MAY_SEND.format(action="sqs:SendMessage", resource="!GetAtt Q.Arn") + """
  TP:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref T]
      PolicyDocument:""" + S3_MAY_SEND.format(action="SNS:Publish", resource="!Ref T") + """
Outputs:
  QueuePolicy: {Value: !Ref QP}
  TopicPolicy: {Value: !GetAtt TP.Id}
"""
# The update: TP dropped; QP for Q alone, with a new document given as a JSON string.
QUEUE_V2_DOCUMENT = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "v2", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": "${Q.Arn}",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::${Bucket}"}, "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}},
    }],
})
QUEUE_POLICY_ONLY_STACK = POLICY_TARGETS + f"""  QP:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Q]
      PolicyDocument: !Sub '{QUEUE_V2_DOCUMENT}'
Outputs:
  QueuePolicy: {{Value: !Ref QP}}
"""


def check_queue_and_topic_policy_resources(acct: Account) -> None:
    """(t) AWS::SQS::QueuePolicy / AWS::SNS::TopicPolicy set, replace and remove the policies that
    S3 notifications are validated against (row p); Ref is the generated id."""
    s3, cfn, sqs, sns = acct.client("s3"), acct.client("cloudformation"), acct.client("sqs"), acct.client("sns")
    bucket = f"bkt-x1-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    queue_arn = f"arn:aws:sqs:{REGION}:{acct.id}:bkt-x1-audit"
    topic_arn = f"arn:aws:sns:{REGION}:{acct.id}:bkt-x1-alerts"
    config = {
        "QueueConfigurations": [{"Id": "q", "QueueArn": queue_arn, "Events": ["s3:ObjectRemoved:*"]}],
        "TopicConfigurations": [{"Id": "t", "TopicArn": topic_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "reports/"}]}}}],
    }
    put = lambda: s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)  # noqa: E731
    refused = lambda: error_pairs(expect_error(put, "InvalidArgument", UNABLE, 400))  # noqa: E731
    queue_policy = lambda name: sqs.get_queue_attributes(  # noqa: E731
        QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    topic_policy = lambda: json.loads(sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["Policy"])  # noqa: E731
    assert refused() == [(topic_arn, "The destination topic does not exist"), (queue_arn, "The destination queue does not exist")]

    sid = cfn.create_stack(StackName="seed", TemplateBody=QUEUE_TOPIC_POLICY_STACK, Parameters=params(Bucket=bucket))["StackId"]
    st = stack(cfn, sid)
    assert st["StackStatus"] == "CREATE_COMPLETE", (st["StackStatus"], events_of(cfn, sid))
    put()  # what was refused with the policies unset
    assert [len(s3.get_bucket_notification_configuration(Bucket=bucket)[k]) for k in ("QueueConfigurations", "TopicConfigurations")] == [1, 1]
    expected = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}, "StringEquals": {"aws:SourceAccount": acct.id}},
        }],
    }
    assert json.loads(queue_policy("bkt-x1-audit")) == expected, queue_policy("bkt-x1-audit")
    assert json.loads(queue_policy("bkt-x1-spare")) == expected  # every queue listed
    expected["Statement"][0].update(Action="SNS:Publish", Resource=topic_arn)
    assert topic_policy() == expected, topic_policy()
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]}
    assert physical["QP"].startswith("seed-QP-") and physical["TP"].startswith("seed-TP-"), physical
    assert outputs(st) == {"QueuePolicy": physical["QP"], "TopicPolicy": physical["TP"]}, outputs(st)
    summaries = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]}
    assert summaries["TP"]["ResourceType"] == "AWS::SNS::TopicPolicy" and summaries["TP"]["ResourceStatus"] == "CREATE_COMPLETE", summaries["TP"]

    # Update in the background: TP removed, QP for Q alone with a new document (a JSON string).
    set_behaviour(acct, stack_seconds=1.0)
    cfn.update_stack(StackName="seed", TemplateBody=QUEUE_POLICY_ONLY_STACK, Parameters=params(Bucket=bucket))
    while stack(cfn, sid)["StackStatus"].endswith("_IN_PROGRESS"):
        during = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]}
        assert during["QP"]["PhysicalResourceId"] == physical["QP"], during["QP"]  # updated in place, never replaced
        time.sleep(0.05)
    st = stack(cfn, sid)
    assert st["StackStatus"] == "UPDATE_COMPLETE", (st["StackStatus"], events_of(cfn, sid))
    assert outputs(st) == {"QueuePolicy": physical["QP"]}, outputs(st)
    assert ("TP", "DELETE_COMPLETE") in [e[:2] for e in events_of(cfn, sid)]
    assert [s["Sid"] for s in json.loads(queue_policy("bkt-x1-audit"))["Statement"]] == ["v2"], queue_policy("bkt-x1-audit")
    assert queue_policy("bkt-x1-spare") is None  # no longer listed
    assert topic_policy()["Id"] == "__default_policy_ID", topic_policy()  # the policy a new topic has
    assert refused() == [(topic_arn, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket")]

    # Delete (background): the retained queue and topic stay, without the stack's policies.
    set_behaviour(acct, stack_seconds=4.0)  # long enough to be seen in progress on a busy machine
    cfn.delete_stack(StackName="seed")
    assert stack(cfn, sid)["StackStatus"] == "DELETE_IN_PROGRESS"
    st = wait_stack(cfn, sid)
    assert st["StackStatus"] == "DELETE_COMPLETE", (st["StackStatus"], events_of(cfn, sid))
    reset_behaviour(acct)
    assert queue_policy("bkt-x1-audit") is None
    expect_error(lambda: sqs.get_queue_url(QueueName="bkt-x1-spare"), "AWS.SimpleQueueService.NonExistentQueue")
    assert topic_policy()["Id"] == "__default_policy_ID", topic_policy()
    assert refused() == [
        (topic_arn, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"),
        (queue_arn, "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"),
    ]


# ------------------------------------------------------------------------------------ identities


def check_web_identity_and_profiles(acct: Account) -> None:
    """(i) AssumeRoleWithWebIdentity (unsigned, any token) and profile role chains act in the
    role's account, and the log names that account."""
    import tempfile

    import botocore.session
    from botocore import UNSIGNED

    sts = boto3.client("sts", endpoint_url=ENDPOINT, region_name=REGION, config=botocore.config.Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    creds = sts.assume_role_with_web_identity(RoleArn=f"arn:aws:iam::{acct.id}:role/ci", RoleSessionName="gha", WebIdentityToken="not even a JWT")["Credentials"]
    web = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    who = web.client("sts", endpoint_url=ENDPOINT, region_name=REGION, config=CONFIG).get_caller_identity()
    assert (who["Account"], who["Arn"]) == (acct.id, f"arn:aws:sts::{acct.id}:assumed-role/ci/gha"), who
    web.client("s3", endpoint_url=ENDPOINT, region_name=REGION, config=CONFIG).create_bucket(Bucket=f"wi-{acct.id}")
    assert acct.client("s3").get_bucket_location(Bucket=f"wi-{acct.id}")["LocationConstraint"] is None  # same account

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "token"), "w") as fh:
            fh.write("opaque OIDC token")
        with open(os.path.join(tmp, "config"), "w") as fh:
            fh.write(
                f"[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
                f"[profile chained]\nrole_arn = arn:aws:iam::{acct.id}:role/deployer\nsource_profile = base\nregion = {REGION}\nendpoint_url = {ENDPOINT}\n"
                f"[profile oidc]\nrole_arn = arn:aws:iam::{acct.id}:role/oidc\nweb_identity_token_file = {tmp}/token\nregion = {REGION}\nendpoint_url = {ENDPOINT}\n"
            )
        for profile, role in (("chained", "deployer"), ("oidc", "oidc")):
            session = botocore.session.Session()
            for var, value in (("config_file", os.path.join(tmp, "config")), ("credentials_file", os.devnull), ("profile", profile)):
                session.set_config_variable(var, value)
            arn = boto3.session.Session(botocore_session=session).client("sts").get_caller_identity()["Arn"]
            assert arn.startswith(f"arn:aws:sts::{acct.id}:assumed-role/{role}/"), arn
    log = admin("GET", f"/_taegis/requests?account={acct.id}&service=sts")["requests"]
    unsigned = [e for e in log if e["action"] == "AssumeRoleWithWebIdentity"]
    assert len(unsigned) == 2 and all((e["access_key"], e["region"], e["status"], e["method"]) == (None, None, 200, "POST") for e in unsigned), unsigned
    calls = [e for e in log if e["action"] == "GetCallerIdentity"]
    assert len(calls) == 3 and all(e["access_key"].startswith("ASIA") and e["region"] == REGION for e in calls), calls
    # The chained profile's AssumeRole is signed with the source profile's keys: their account.
    chained = admin("GET", "/_taegis/requests?action=AssumeRole&access_key=testing")["requests"]
    assert chained and all(e["account"] == "123456789012" for e in chained), chained[:2]


def check_targeted_faults(acct: Account) -> None:
    """faults: one action's next calls fail as asked; the write of a drop_after happens; other
    actions and accounts are untouched; bad fields are refused."""
    lam = acct.session.client("lambda", endpoint_url=ENDPOINT, config=NO_RETRY)
    acct.function("targeted")
    set_behaviour(acct, faults=[{"action": "AddPermission", "fault": "drop_after", "times": 1}])
    statement = dict(
        FunctionName="targeted",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::some-bucket",
    )
    try:
        lam.add_permission(**statement)
        raise AssertionError("the answer was not lost")
    except (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError):
        pass
    lam.get_function(FunctionName="targeted")  # another action: untouched
    policy = json.loads(lam.get_policy(FunctionName="targeted")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke"], policy  # it was applied
    expect_error(lambda: lam.add_permission(**statement), "ResourceConflictException")  # used up
    assert admin("GET", f"/_taegis/behaviour?account={acct.id}")["faults"][0]["times"] == 0
    log = admin("GET", f"/_taegis/requests?account={acct.id}&action=AddPermission")["requests"]
    assert [e.get("fault") for e in log] == ["drop_after", None], log
    for bad in ([{"action": "X", "fault": "boom"}], [{"action": "X", "fault": "5xx", "times": 0}], "x"):
        try:
            admin("POST", "/_taegis/behaviour", {"account": acct.id, "faults": bad})
            raise AssertionError(f"accepted {bad!r}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err
    reset_behaviour(acct)


# ------------------------------------------------------------------------------------ timing windows


def refused_field(acct: Account, field: str, value) -> None:  # type: ignore[no-untyped-def]
    try:
        admin("POST", "/_taegis/behaviour", {"account": acct.id, field: value})
        raise AssertionError(f"accepted {field}={value!r}")
    except urllib.error.HTTPError as err:
        assert err.code == 400 and field in json.loads(err.read())["error"], err


@contextlib.contextmanager
def in_window(opened: float, window: float):  # type: ignore[no-untyped-def]
    """The calls in the block expect the window opened at `opened` (time.monotonic() before the
    request that opened it was sent) to be still open. When one of them fails after the window
    could have closed, the machine was too slow for the check, and the failure says so."""
    try:
        yield
    except Exception:
        elapsed = time.monotonic() - opened
        if elapsed >= window:
            raise AssertionError(f"the machine is too slow for this check: {elapsed:.2f} s of a {window} s window") from None
        raise


def wait_past(answered: float, window: float) -> None:
    """Sleep until `window` seconds after `answered` (time.monotonic() once the answer of the
    request that opened the window was back: the server had noted its time before that)."""
    time.sleep(max(0.0, answered + window + 0.05 - time.monotonic()))


def check_permission_delay(acct: Account) -> None:
    """(w) permission_delay_seconds: a new statement does not let S3 in until the delay is over;
    a statement removed and added again waits again; 0 turns it off; out of range refused."""
    s3, lam = acct.client("s3"), acct.client("lambda")
    bucket = f"pd-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    fn = acct.function("delayed")
    config = {"LambdaFunctionConfigurations": [{"Id": "f", "LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"]}]}
    closed = [(f"{fn}, null", f"Not authorized to invoke function [{fn}]")]
    delay = 3.0
    set_behaviour(acct, permission_delay_seconds=delay)
    statement = dict(FunctionName="delayed", StatementId="s3", Action="lambda:InvokeFunction",
                     Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=acct.id)

    def put() -> None:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)

    def refused() -> list[tuple[str, str]]:
        return error_pairs(expect_error(put, "InvalidArgument", UNABLE, 400))

    for _ in range(2):  # the first add, then the same statement removed and added again
        sent = time.monotonic()
        lam.add_permission(**statement)
        added = time.monotonic()
        with in_window(sent, delay):
            assert refused() == closed  # exactly as if the statement were missing
        assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
        assert len(json.loads(lam.get_policy(FunctionName="delayed")["Policy"])["Statement"]) == 1  # GetPolicy: at once
        wait_past(added, delay)
        put()
        assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == fn
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        lam.remove_permission(FunctionName="delayed", StatementId="s3")
    assert refused() == closed  # removed: refused whatever the delay

    set_behaviour(acct, permission_delay_seconds=0)
    lam.add_permission(**statement)
    put()  # at once
    for bad in (-1, 600.5, "x"):
        refused_field(acct, "permission_delay_seconds", bad)
    assert reset_behaviour(acct)["permission_delay_seconds"] == 0


def check_notification_stale(acct: Account) -> None:
    """(x) notification_stale_seconds: a read within the window answers the configuration from
    before the last write (the real one before it, even when that write was itself in the
    window); after the window, and with 0, the current one."""
    s3 = acct.client("s3")
    bucket = f"ns-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    a, b, c = (topic_for(acct, name, bucket) for name in ("a", "b", "c"))
    window = 2.0

    def put(topic: str) -> float:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"TopicConfigurations": [{"Id": "t", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]},
        )
        return time.monotonic()

    def topics() -> list[str]:
        got = s3.get_bucket_notification_configuration(Bucket=bucket)
        return [t["TopicArn"] for t in got.get("TopicConfigurations") or []]

    set_behaviour(acct, notification_stale_seconds=window)
    sent = time.monotonic()
    put(a)
    with in_window(sent, window):
        assert topics() == []  # before the first write: nothing
    sent = time.monotonic()
    written = put(b)
    with in_window(sent, window):
        assert topics() == [a]  # before the latest write: a (what was really there), not nothing
    wait_past(written, window)
    assert topics() == [b]

    set_behaviour(acct, notification_stale_seconds=0)
    put(c)
    assert topics() == [c]  # at once
    for bad in (-0.1, 601, None):
        refused_field(acct, "notification_stale_seconds", bad)
    assert reset_behaviour(acct)["notification_stale_seconds"] == 0


BUSY_MESSAGE = "The operation cannot be performed at this time. An update is in progress for resource: {}"
BUSY_FUNCTION_STACK = {
    "Resources": {
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "busy-cfn",
                "Runtime": "provided.al2023",
                "Handler": "bootstrap",
                "Role": "ROLE",
                "Code": {"ZipFile": "eA=="},  # base64: moto's update decodes it (its create takes any text)
                "Description": "one",
            },
        },
        "Perm": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {"FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"},
        },
    }
}


def check_lambda_busy(acct: Account) -> None:
    """(y) busy_seconds: after a create or update (API or CloudFormation) the calls that change
    the function get 409 ResourceConflictException for the window; reads, Invoke and
    CloudFormation's own steps do not; the statement-id conflict is unchanged; 0 turns it off."""
    lam = acct.session.client("lambda", endpoint_url=ENDPOINT, config=NO_RETRY)
    raw: list[tuple[int, str, bytes]] = []
    lam.meta.events.register(
        "after-call.lambda",
        lambda http_response, **kw: raw.append(
            (http_response.status_code, http_response.headers.get("x-amzn-ErrorType", ""), http_response.content)
        ),
    )
    # Ten calls in the first window, one or two in the others: the field is read at each call,
    # so lowering it shortens the windows already open.
    window = 5.0
    set_behaviour(acct, busy_seconds=window)
    acct.role_arn()
    sent = time.monotonic()
    fn = acct.function("busy")
    created = time.monotonic()
    message = BUSY_MESSAGE.format(fn)
    changes = {
        "AddPermission": lambda: lam.add_permission(FunctionName="busy", StatementId="s", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"),
        "RemovePermission": lambda: lam.remove_permission(FunctionName="busy", StatementId="s"),
        "UpdateFunctionConfiguration": lambda: lam.update_function_configuration(FunctionName="busy", Description="two"),
        "UpdateFunctionCode": lambda: lam.update_function_code(FunctionName="busy", ZipFile=code_zip()),
        "PutFunctionConcurrency": lambda: lam.put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=1),
        "DeleteFunctionConcurrency": lambda: lam.delete_function_concurrency(FunctionName="busy"),
    }
    with in_window(sent, window):
        for action, call in changes.items():
            expect_error(call, "ResourceConflictException", message, 409)
            status, error_type, body = raw[-1]
            assert (status, error_type, body) == (
                409, "ResourceConflictException", json.dumps({"Type": "User", "message": message}, separators=(",", ":")).encode()
            ), (action, raw[-1])
        lam.get_function(FunctionName="busy")  # reads and Invoke are never refused
        lam.get_function_configuration(FunctionName="busy")
        expect_error(lambda: lam.get_policy(FunctionName="busy"), "ResourceNotFoundException")  # RemovePermission did nothing
        lam.invoke(FunctionName="busy", Payload=b"{}")
        lam.get_function_concurrency(FunctionName="busy")

    window = 2.0
    set_behaviour(acct, busy_seconds=window)
    wait_past(created, window)
    changes["AddPermission"]()
    expect_error(changes["AddPermission"], "ResourceConflictException", "The statement id (s) provided already exists", 409)
    changes["RemovePermission"]()
    changes["PutFunctionConcurrency"]()
    changes["DeleteFunctionConcurrency"]()
    sent = time.monotonic()
    changes["UpdateFunctionConfiguration"]()  # busy again
    updated = time.monotonic()
    with in_window(sent, window):
        expect_error(changes["UpdateFunctionCode"], "ResourceConflictException", message, 409)
    wait_past(updated, window)
    sent = time.monotonic()
    changes["UpdateFunctionCode"]()  # busy again
    with in_window(sent, window):
        expect_error(changes["AddPermission"], "ResourceConflictException", message, 409)

    # CloudFormation: its own steps (the permission right after the function, the update, the
    # delete) go through; the API calls after its create or update do not.
    cfn = acct.client("cloudformation")
    template = json.loads(json.dumps(BUSY_FUNCTION_STACK).replace('"ROLE"', json.dumps(acct.role_arn())))
    sent = time.monotonic()
    stack_id = cfn.create_stack(StackName="busy", TemplateBody=json.dumps(template))["StackId"]
    created = time.monotonic()
    reserve = lambda: lam.put_function_concurrency(FunctionName="busy-cfn", ReservedConcurrentExecutions=1)  # noqa: E731
    cfn_message = BUSY_MESSAGE.format(f"arn:aws:lambda:{REGION}:{acct.id}:function:busy-cfn")
    with in_window(sent, window):
        assert stack(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"
        expect_error(reserve, "ResourceConflictException", cfn_message, 409)
    assert len(json.loads(lam.get_policy(FunctionName="busy-cfn")["Policy"])["Statement"]) == 1  # Perm was made
    wait_past(created, window)
    reserve()
    template["Resources"]["Fn"]["Properties"]["Description"] = "two"
    sent = time.monotonic()
    cfn.update_stack(StackName="busy", TemplateBody=json.dumps(template))
    with in_window(sent, window):
        assert stack(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE"
        expect_error(reserve, "ResourceConflictException", cfn_message, 409)
    assert lam.get_function(FunctionName="busy-cfn")["Configuration"]["Description"] == "two"
    cfn.delete_stack(StackName="busy")
    assert stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    expect_error(reserve, "ResourceNotFoundException")

    set_behaviour(acct, busy_seconds=0)
    changes["UpdateFunctionConfiguration"]()
    changes["AddPermission"]()  # at once
    for bad in (-1, 601, "soon"):
        refused_field(acct, "busy_seconds", bad)
    assert reset_behaviour(acct)["busy_seconds"] == 0


# ------------------------------------------------------------------------------------ z, aa, ab, delete failures, opt-in


DELETE_FAILED_REASON = "The following resource(s) failed to delete: [ParamA]. "


def resource_states(cfn, stack_id: str) -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """{logical id: (status, reason)} of DescribeStackResources."""
    return {
        r["LogicalResourceId"]: (r["ResourceStatus"], r.get("ResourceStatusReason"))
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }


def check_delete_failures(acct: Account) -> None:
    """failures with operation "delete": DeleteStack stops at the resource (DELETE_FAILED with the
    reason), those deleted before it stay deleted, those after it stay, the stack ends
    DELETE_FAILED; again while the failure is set; a later DeleteStack finishes; "any" never
    fails a delete; synchronous and in the background."""
    cfn, ssm, sns = acct.client("cloudformation"), acct.client("ssm"), acct.client("sns")
    reason = "Injected: ParamA is in use"
    for name, pace in (("stuck", {}), ("slowstuck", {"resource_seconds": 0.2})):
        set_behaviour(acct, failures=[{"stack": name, "resource": "ParamA", "reason": reason, "operation": "delete"}], **pace)
        sid = cfn.create_stack(StackName=name, TemplateBody=CHAIN_STACK)["StackId"]
        assert wait_stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"  # a delete failure leaves the create alone
        topic = sns.list_topics()["Topics"]
        cfn.delete_stack(StackName=name)
        if pace:
            assert stack(cfn, name)["StackStatus"] == "DELETE_IN_PROGRESS"
        for attempt in (1, 2):  # the failure stays while it is set
            st = wait_stack(cfn, sid)
            assert (st["StackStatus"], st.get("StackStatusReason")) == ("DELETE_FAILED", DELETE_FAILED_REASON), (st, events_of(cfn, sid))
            ev = events_of(cfn, sid)
            assert ev[-1] == (name, "DELETE_FAILED", DELETE_FAILED_REASON), ev
            assert [e for e in ev if e[1] == "DELETE_FAILED" and e[0] == "ParamA"] == [("ParamA", "DELETE_FAILED", reason)] * attempt, ev
            assert not any(e[0] == "Topic" and e[1].startswith("DELETE") for e in ev), ev  # never reached
            assert resource_states(cfn, sid) == {"ParamA": ("DELETE_FAILED", reason), "Topic": ("CREATE_COMPLETE", None)}, resource_states(cfn, sid)
            summaries = {r["LogicalResourceId"]: r["ResourceStatus"] for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]}
            assert summaries == {"ParamA": "DELETE_FAILED", "Topic": "CREATE_COMPLETE"}, summaries
            expect_error(lambda: ssm.get_parameter(Name=f"{name}-b"), "ParameterNotFound")  # deleted before, stays so
            assert ssm.get_parameter(Name=f"{name}-a")["Parameter"]["Value"] == "v1"
            assert sns.list_topics()["Topics"] == topic
            assert stack(cfn, name)["StackId"] == sid  # still found by name
            if attempt == 1:
                expect_error(
                    lambda: cfn.update_stack(StackName=name, UsePreviousTemplate=True, Parameters=params(Value="v2")),
                    "ValidationError", f"Stack:{sid} is in DELETE_FAILED state and can not be updated.",
                )
                cfn.delete_stack(StackName=name)
        set_behaviour(acct, failures=[])
        cfn.delete_stack(StackName=name)
        st = wait_stack(cfn, sid)
        assert st["StackStatus"] == "DELETE_COMPLETE", (st, events_of(cfn, sid))
        expect_error(lambda: ssm.get_parameter(Name=f"{name}-a"), "ParameterNotFound")
        assert sns.list_topics()["Topics"] == []
        ops = [(o["operation"], o["status"]) for o in ops_of(acct) if o["stack_id"] == sid]
        assert ops == [("create", "CREATE_COMPLETE")] + [("delete", "DELETE_FAILED")] * 2 + [("delete", "DELETE_COMPLETE")], ops
    # "any" is create or update only.
    set_behaviour(acct, resource_seconds=0)
    sid = cfn.create_stack(StackName="anyway", TemplateBody=CHAIN_STACK)["StackId"]
    set_behaviour(acct, failures=[{"stack": "anyway", "resource": "ParamA", "reason": reason, "operation": "any"}])
    cfn.delete_stack(StackName="anyway")
    assert stack(cfn, sid)["StackStatus"] == "DELETE_COMPLETE"
    for bad in ([{"stack": "s", "resource": "r", "operation": "remove"}], [{"stack": "s", "operation": "delete"}]):
        try:
            admin("POST", "/_taegis/behaviour", {"account": acct.id, "failures": bad})
            raise AssertionError(f"accepted {bad!r}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "failure" in json.loads(err.read())["error"], err
    reset_behaviour(acct)


def check_empty_log_pages(acct: Account) -> None:
    """(z) empty_log_pages: each FilterLogEvents search answers N empty pages (with a token)
    before moto's answer; per search, per account; 0 turns it off."""
    logs = acct.session.client("logs", endpoint_url=ENDPOINT, config=NO_RETRY)
    raw: list[bytes] = []
    logs.meta.events.register("after-call.cloudwatch-logs", lambda http_response, **kw: raw.append(http_response.content))
    group = "/aws/lambda/pages"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(("one", "two", "three"))])

    def search(**kw):  # type: ignore[no-untyped-def]
        """(empty pages before the first with events, messages of every page after them)."""
        empty, messages, token = 0, [], None
        while True:
            page = logs.filter_log_events(logGroupName=group, **kw, **({"nextToken": token} if token else {}))
            if not page["events"] and not messages:
                assert json.loads(raw[-1]) == {"events": [], "searchedLogStreams": [], "nextToken": page["nextToken"]}, raw[-1]
                assert "@" not in page["nextToken"], page["nextToken"]
                empty += 1
            messages += [e["message"] for e in page["events"]]
            token = page.get("nextToken")
            if not token:
                return empty, messages

    assert search() == (0, ["one", "two", "three"])  # off by default
    set_behaviour(acct, empty_log_pages=2)
    assert search() == (2, ["one", "two", "three"])
    assert search(filterPattern="two") == (2, ["two"])  # every search, its own count
    assert search(limit=2) == (2, ["one", "two", "three"])  # then moto's own pages
    first = logs.filter_log_events(logGroupName=group)["nextToken"]
    second = logs.filter_log_events(logGroupName=group, nextToken=first)
    assert second["events"] == [] and second["nextToken"] != first, second
    assert logs.filter_log_events(logGroupName=group, nextToken=first)["events"] == []  # a token stays valid (retries)
    real = logs.filter_log_events(logGroupName=group, nextToken=second["nextToken"])
    assert [e["message"] for e in real["events"]] == ["one", "two", "three"] and "nextToken" not in real, real
    assert [s["logStreamName"] for s in real["searchedLogStreams"]] == ["s"], real
    other = logs.filter_log_events(logGroupName=group, filterPattern="one", nextToken=second["nextToken"])
    assert other["events"] == [] and "nextToken" not in other, other  # another search's token: moto's unknown token
    expect_error(lambda: logs.filter_log_events(logGroupName="/aws/lambda/none"), "ResourceNotFoundException")  # at once
    stranger = Account()  # other accounts: untouched
    stranger.client("logs").create_log_group(logGroupName=group)
    page = stranger.client("logs").filter_log_events(logGroupName=group)
    assert page["events"] == [] and "nextToken" not in page, page
    set_behaviour(acct, empty_log_pages=0)
    assert search() == (0, ["one", "two", "three"])
    for bad in (-1, 101, 1.5, True, "2"):
        refused_field(acct, "empty_log_pages", bad)
    assert reset_behaviour(acct)["empty_log_pages"] == 0


def check_disabled_opt_in_region(acct: Account) -> None:
    """(n) an opt-in region disabled for one account through /_taegis/regions: that account's
    calls signed for it are refused as row n refuses; other accounts and regions are not."""
    region = "af-south-1"
    other = Account()
    assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id  # on by default
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "disabled": [region]})
    assert got == {"account": acct.id, "enabled": [], "disabled": [region]}, got
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == got
    assert admin("GET", "/_taegis/regions")["disabled"][acct.id] == [region]
    exc = expect_error(acct.client("sts", region).get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
    assert exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
    status, _, body = raw_request(
        acct, "POST", "/", "sts", b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"}, region=region,
    )
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    root = ET.fromstring(body)
    assert status == 403 and [(c.tag, c.text) for c in root.find(f"{ns}Error")] == [
        (f"{ns}Type", "Sender"), (f"{ns}Code", "InvalidClientTokenId"), (f"{ns}Message", INVALID_TOKEN)
    ], body
    expect_error(acct.client("cloudformation", region).describe_stacks, "InvalidClientTokenId", INVALID_TOKEN, 403)
    expect_error(lambda: acct.client("s3", region).create_bucket(Bucket=f"dis-{acct.id}", CreateBucketConfiguration={"LocationConstraint": region}),
                 "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", 403)
    expect_error(acct.client("lambda", region).list_functions, "UnrecognizedClientException", INVALID_TOKEN, 403)
    expect_error(acct.client("logs", region).describe_log_groups, "UnrecognizedClientException", INVALID_TOKEN, 400)
    assert acct.client("sts").get_caller_identity()["Account"] == acct.id  # other regions
    assert acct.client("sts", "me-south-1").get_caller_identity()["Account"] == acct.id  # other opt-in regions
    assert other.client("sts", region).get_caller_identity()["Account"] == other.id  # other accounts
    log = admin("GET", f"/_taegis/requests?account={acct.id}&region={region}")["requests"]
    assert [e["status"] for e in log if e["action"] == "GetCallerIdentity"] == [200, 403, 403], log

    # "enabled" alone replaces the enabled list and keeps the disabled one (and the other way round).
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": ["eu-future-1"]})
    assert got == {"account": acct.id, "enabled": ["eu-future-1"], "disabled": [region]}, got
    assert acct.client("sts", "eu-future-1").get_caller_identity()["Account"] == acct.id
    for bad in (
        {"account": acct.id, "disabled": ["us-east-1"]},  # every account has it
        {"account": acct.id, "disabled": ["eu-west-1"]},
        {"account": acct.id, "disabled": ["eu-future-1"]},  # not an opt-in region either
        {"account": acct.id, "disabled": "af-south-1"},
        {"account": acct.id, "enabled": [region], "disabled": [region]},
        {"account": acct.id, "enabled": [region]},  # still disabled
        {"account": acct.id},
    ):
        try:
            admin("POST", "/_taegis/regions", bad)
            raise AssertionError(f"accepted {bad}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == got  # refusals change nothing
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": [], "disabled": []})
    assert got == {"account": acct.id, "enabled": [], "disabled": []}, got
    assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id


def trust(principal) -> str:  # type: ignore[no-untyped-def]
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})


def check_strict_roles(acct: Account) -> None:
    """(aa) strict_roles: AssumeRole into the account's roles needs the role and a trust policy
    that lets the caller in (else 403 AccessDenied as AWS words it); unsigned calls, other
    accounts and the default stay as they were."""
    caller = Account()
    sts = caller.session.client("sts", endpoint_url=ENDPOINT, config=NO_RETRY)
    raw: list[tuple[int, bytes]] = []
    sts.meta.events.register("after-call.sts", lambda http_response, **kw: raw.append((http_response.status_code, http_response.content)))
    caller_arn = sts.get_caller_identity()["Arn"]
    assert caller_arn == f"arn:aws:sts::{caller.id}:assumed-role/x/selftest", caller_arn
    iam = acct.client("iam")
    roles = {
        "by-root": trust({"AWS": f"arn:aws:iam::{caller.id}:root"}),
        "by-id": trust({"AWS": caller.id}),
        "by-arn": trust({"AWS": caller_arn}),
        "by-role": trust({"AWS": f"arn:aws:iam::{caller.id}:role/x"}),
        "anyone": trust("*"),
        "someone-else": trust({"AWS": "arn:aws:iam::111122223333:root"}),
        "service": trust({"Service": "lambda.amazonaws.com"}),
        "denied": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": caller.id}, "Action": "sts:*"},
        ]}),
    }
    for name, document in roles.items():
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)
    arn = lambda name: f"arn:aws:iam::{acct.id}:role/{name}"  # noqa: E731
    assume = lambda name, client=sts: client.assume_role(RoleArn=arn(name), RoleSessionName="rs")  # noqa: E731
    assume("missing")  # off by default: any role ARN

    assert set_behaviour(acct, strict_roles=True)["strict_roles"] is True
    for name in ("by-root", "by-id", "by-arn", "by-role", "anyone"):
        creds = assume(name)["Credentials"]
        who = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"]
        ).client("sts", endpoint_url=ENDPOINT, region_name=REGION, config=CONFIG).get_caller_identity()
        assert who["Arn"] == f"arn:aws:sts::{acct.id}:assumed-role/{name}/rs", who
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    for name in ("missing", "x", "someone-else", "service", "denied"):
        message = f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {arn(name)}"
        expect_error(lambda: assume(name), "AccessDenied", message, 403)
        status, body = raw[-1]
        root = ET.fromstring(body)
        assert status == 403 and root.tag == f"{ns}ErrorResponse", (status, body)
        assert [(c.tag, c.text) for c in root.find(f"{ns}Error")] == [
            (f"{ns}Type", "Sender"), (f"{ns}Code", "AccessDenied"), (f"{ns}Message", message)
        ], body
        assert root.find(f"{ns}RequestId").text, body
    base = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    expect_error(lambda: assume("by-root", base.client("sts", endpoint_url=ENDPOINT, config=NO_RETRY)), "AccessDenied",
                 f"User: arn:aws:sts::123456789012:user/moto is not authorized to perform: sts:AssumeRole on resource: {arn('by-root')}", 403)
    assume("anyone", base.client("sts", endpoint_url=ENDPOINT, config=NO_RETRY))

    from botocore import UNSIGNED

    unsigned = boto3.client("sts", endpoint_url=ENDPOINT, region_name=REGION, config=botocore.config.Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    unsigned.assume_role_with_web_identity(RoleArn=arn("missing"), RoleSessionName="ci", WebIdentityToken="token")  # unsigned: as before
    sts.assume_role(RoleArn=f"arn:aws:iam::{caller.id}:role/missing", RoleSessionName="rs")  # another account: as before
    log = admin("GET", f"/_taegis/requests?account={caller.id}&action=AssumeRole")["requests"]
    assert sorted(e["status"] for e in log) == [200] * 7 + [403] * 5, log

    set_behaviour(acct, strict_roles=False)
    assume("missing")
    for bad in ("yes", 1, None):
        refused_field(acct, "strict_roles", bad)
    assert reset_behaviour(acct)["strict_roles"] is False


def check_cross_account_topic(acct: Account) -> None:
    """(ab) another account's Subscribe, ListSubscriptionsByTopic, GetTopicAttributes need the
    topic policy's grant (else 403 AuthorizationError); the subscription lives on the topic;
    its owner may unsubscribe it."""
    owner, member, stranger = acct, Account(), Account()
    topic = owner.client("sns").create_topic(Name="org-trail")["TopicArn"]
    fn = member.function("org-reader")
    sns = member.session.client("sns", endpoint_url=ENDPOINT, config=NO_RETRY)
    member_arn = f"arn:aws:sts::{member.id}:assumed-role/x/selftest"
    calls = {
        "Subscribe": lambda client: client.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, ReturnSubscriptionArn=True),
        "ListSubscriptionsByTopic": lambda client: client.list_subscriptions_by_topic(TopicArn=topic),
        "GetTopicAttributes": lambda client: client.get_topic_attributes(TopicArn=topic),
    }
    for action, call in calls.items():  # the default policy: the owner's account only
        message = (f"User: {member_arn} is not authorized to perform: SNS:{action} on resource: {topic} "
                   f"because no resource-based policy allows the SNS:{action} action")
        exc = expect_error(lambda: call(sns), "AuthorizationError", message, 403)
        assert exc.response["Error"]["Type"] == "Sender", exc.response["Error"]
    assert owner.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []

    policy = json.loads(owner.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    policy["Statement"] += [
        {"Sid": "member", "Effect": "Allow", "Principal": {"AWS": member.id},
         "Action": ["sns:Subscribe", "sns:ListSubscriptionsByTopic"], "Resource": topic},
        {"Sid": "read", "Effect": "Allow", "Principal": "*", "Action": "SNS:GetTopicAttributes", "Resource": topic},
        {"Sid": "not-him", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{stranger.id}:root"}, "Action": "sns:GetTopicAttributes", "Resource": topic},
    ]
    owner.client("sns").set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (attributes["Owner"], attributes["TopicArn"]) == (owner.id, topic), attributes
    sub = calls["Subscribe"](sns)["SubscriptionArn"]
    assert sub.startswith(topic + ":"), sub
    assert calls["Subscribe"](sns)["SubscriptionArn"] == sub  # no duplicate
    listed = [(s["SubscriptionArn"], s["Owner"], s["Protocol"], s["Endpoint"]) for s in owner.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
    assert listed == [(sub, member.id, "lambda", fn)], listed  # on the topic, the member's
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [sub]
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]] == [sub]  # the member's own
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["Owner"] == member.id

    other = stranger.session.client("sns", endpoint_url=ENDPOINT, config=NO_RETRY)
    stranger_arn = f"arn:aws:sts::{stranger.id}:assumed-role/x/selftest"
    expect_error(lambda: calls["GetTopicAttributes"](other), "AuthorizationError",
                 f"User: {stranger_arn} is not authorized to perform: SNS:GetTopicAttributes on resource: {topic} with an explicit deny in a resource-based policy", 403)
    expect_error(lambda: calls["Subscribe"](other), "AuthorizationError", f"SNS:Subscribe on resource: {topic}", 403)
    expect_error(lambda: other.unsubscribe(SubscriptionArn=sub), "AuthorizationError",
                 f"User: {stranger_arn} is not authorized to perform: SNS:Unsubscribe on resource: {sub}", 403)
    third = Account()  # "*" lets anyone read, nothing more
    assert third.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Owner"] == owner.id
    sns.unsubscribe(SubscriptionArn=sub)
    assert owner.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert sns.list_subscriptions()["Subscriptions"] == []


# ------------------------------------------------------------------------------------ bench aids


def ops_of(acct: Account, region: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    query = f"?account={acct.id}" + (f"&region={region}" if region else "")
    return admin("GET", "/_taegis/stack-operations" + query)["operations"]


def timed(call):  # type: ignore[no-untyped-def]
    """(result, time the call was sent, time its answer was back)."""
    sent = time.time()
    result = call()
    return result, sent, time.time()


def wait_terminal(cfn, stack_id: str, timeout: float = 30.0) -> tuple[dict, float, float]:  # type: ignore[no-untyped-def, type-arg]
    """(stack, when the last poll that still saw *_IN_PROGRESS was sent, when the first answer
    with the terminal status was back)."""
    deadline = time.time() + timeout
    busy_sent = 0.0
    while True:
        st, sent, back = timed(lambda: stack(cfn, stack_id))
        if not st["StackStatus"].endswith("_IN_PROGRESS"):
            return st, busy_sent, back
        busy_sent = sent
        if back > deadline:
            raise AssertionError(f"stack still {st['StackStatus']} after {timeout} s")
        time.sleep(0.02)


def check_op(op: dict, operation: str, status: str, at_least: float, call: tuple[float, float], seen: tuple[float, float]) -> None:  # type: ignore[type-arg]
    """One record: its operation and status, started during the call, lasting at least
    `at_least`, finished after the last poll that saw it running and before the first that saw it
    over."""
    assert (op["operation"], op["status"]) == (operation, status), op
    assert call[0] <= op["started"] <= call[1], (op, call)
    assert op["finished"] is not None and op["finished"] - op["started"] >= at_least, (op, at_least)
    assert seen[0] < op["finished"] <= seen[1], (op, seen)


def check_resource_seconds_and_stack_operations(acct: Account) -> None:
    """resource_seconds: each resource an operation (and its rollback) touches takes that long,
    in the background; /_taegis/stack-operations records every operation, synchronous ones too."""
    cfn = acct.client("cloudformation")
    first, each = 1.0, 0.3
    got = set_behaviour(acct, stack_seconds=600.0, resource_seconds=first)  # resource_seconds wins
    assert got["resource_seconds"] == first and got["stack_seconds"] == 600.0, got
    for bad in (-1, 601, "x"):
        try:
            admin("POST", "/_taegis/behaviour", {"account": acct.id, "resource_seconds": bad})
            raise AssertionError(f"accepted {bad!r}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err

    # Create (3 resources): answered at once, the record open while it runs.
    created, *call = timed(lambda: cfn.create_stack(StackName="paced", TemplateBody=CHAIN_STACK))
    sid = created["StackId"]
    assert call[1] - call[0] < 2.0, "CreateStack waited for the resources"
    running = ops_of(acct)
    assert [(o["operation"], o["stack"], o["stack_id"], o["finished"], o["status"]) for o in running] == [("create", "paced", sid, None, None)], running
    assert running[0]["account"] == acct.id and running[0]["region"] == REGION, running
    set_behaviour(acct, resource_seconds=each)  # the next operations; this one keeps its pause
    st, *seen = wait_terminal(cfn, sid)
    assert st["StackStatus"] == "CREATE_COMPLETE", st["StackStatus"]
    check_op(ops_of(acct)[0], "create", "CREATE_COMPLETE", 3 * first, call, seen)

    # Update of one resource; then one that fails on it and rolls back (attempt, then revert).
    _, *call = timed(lambda: cfn.update_stack(StackName="paced", UsePreviousTemplate=True, Parameters=params(Value="v2")))
    st, *seen = wait_terminal(cfn, sid)
    assert st["StackStatus"] == "UPDATE_COMPLETE", st["StackStatus"]
    check_op(ops_of(acct)[1], "update", "UPDATE_COMPLETE", each, call, seen)
    set_behaviour(acct, failures=[{"stack": "paced", "resource": "ParamA", "operation": "update"}])
    _, *call = timed(lambda: cfn.update_stack(StackName="paced", UsePreviousTemplate=True, Parameters=params(Value="v3")))
    st, *seen = wait_terminal(cfn, sid)
    assert st["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", st["StackStatus"]
    update, rollback = ops_of(acct)[2:4]
    check_op(update, "update", "UPDATE_ROLLBACK_COMPLETE", 2 * each, call, seen)
    check_op(rollback, "update_rollback", "UPDATE_ROLLBACK_COMPLETE", each, (update["started"] + each, seen[1]), seen)
    assert rollback["finished"] == update["finished"], (update, rollback)

    # Delete (3 resources).
    set_behaviour(acct, failures=[])
    _, *call = timed(lambda: cfn.delete_stack(StackName="paced"))
    st, *seen = wait_terminal(cfn, sid)
    assert st["StackStatus"] == "DELETE_COMPLETE", st["StackStatus"]
    check_op(ops_of(acct)[4], "delete", "DELETE_COMPLETE", 3 * each, call, seen)

    # A create failing on its third resource: 3 pauses, then the rollback deletes the other two.
    set_behaviour(acct, failures=[{"stack": "doomed", "resource": "ParamB", "operation": "create"}])
    created, *call = timed(lambda: cfn.create_stack(StackName="doomed", TemplateBody=CHAIN_STACK))
    st, *seen = wait_terminal(cfn, created["StackId"])
    assert st["StackStatus"] == "ROLLBACK_COMPLETE", st["StackStatus"]
    create, rollback = ops_of(acct)[5:7]
    check_op(create, "create", "ROLLBACK_COMPLETE", 5 * each, call, seen)
    check_op(rollback, "rollback", "ROLLBACK_COMPLETE", 2 * each, (create["started"] + 3 * each, seen[1]), seen)
    assert rollback["finished"] == create["finished"] and rollback["stack"] == "doomed", (create, rollback)
    # Refused by the call itself: no operation.
    expect_error(lambda: cfn.create_stack(StackName="nope", TemplateBody=IMPORT_STACK, Parameters=params(Shared="none")), "ValidationError")
    ops = ops_of(acct)
    assert len(ops) == 7 and [o["started"] for o in ops] == sorted(o["started"] for o in ops), ops

    # Synchronous operations (both fields 0): started and finished during the call.
    reset_behaviour(acct)
    created, *call = timed(lambda: cfn.create_stack(StackName="quick", TemplateBody=CHAIN_STACK))
    assert stack(cfn, "quick")["StackStatus"] == "CREATE_COMPLETE"
    check_op(ops_of(acct)[7], "create", "CREATE_COMPLETE", 0.0, call, (call[0] - 1, call[1]))
    expect_error(lambda: cfn.create_stack(StackName="quick", TemplateBody=CHAIN_STACK), "AlreadyExistsException")
    _, *call = timed(lambda: cfn.delete_stack(StackName="quick"))
    check_op(ops_of(acct)[8], "delete", "DELETE_COMPLETE", 0.0, call, (call[0] - 1, call[1]))
    cfn.delete_stack(StackName="quick")  # gone already: nothing to record
    assert len(ops_of(acct)) == 9 and ops_of(acct, "eu-west-1") == [], ops_of(acct)
    assert all(o["started"] <= o["finished"] for o in ops_of(acct, REGION))

    assert admin("DELETE", f"/_taegis/stack-operations?account={acct.id}") == {"operations": []}
    assert ops_of(acct) == []
    for bad in ("GET", "DELETE"):
        try:
            admin(bad, "/_taegis/stack-operations?account=12")
            raise AssertionError("accepted a bad account")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err


def check_request_log_timing(acct: Account) -> None:
    """(i) each logged request has `time` (when it arrived) and `duration` (until its response
    was written; null when the connection was dropped)."""
    sts = acct.session.client("sts", endpoint_url=ENDPOINT, config=NO_RETRY)
    set_behaviour(acct, latency_ms=300)
    _, *call = timed(sts.get_caller_identity)
    set_behaviour(acct, latency_ms=0, faults=[{"action": "GetCallerIdentity", "fault": "drop_after"}])
    try:
        sts.get_caller_identity()
        raise AssertionError("the answer was not lost")
    except (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError):
        pass
    set_behaviour(acct, faults=[{"action": "GetCallerIdentity", "fault": "throttle"}])
    expect_error(sts.get_caller_identity, "Throttling")
    reset_behaviour(acct)
    time.sleep(0.1)  # the server notes the duration once it is done with the connection
    log = admin("GET", f"/_taegis/requests?account={acct.id}&action=GetCallerIdentity")["requests"]
    assert [(e.get("fault"), e["status"]) for e in log] == [(None, 200), ("drop_after", 200), ("throttle", 400)], log
    slow, dropped, throttled = log
    # (+ 50 ms: a busy server thread may note its last write a little after the client has it)
    assert call[0] <= slow["time"] and slow["time"] + slow["duration"] <= call[1] + 0.05, (slow, call)
    assert slow["duration"] >= 0.3, slow
    assert dropped["duration"] is None and dropped["time"] >= call[1], dropped
    assert throttled["duration"] is not None and 0 <= throttled["duration"] < 5 and throttled["time"] > dropped["time"], throttled
    every = admin("GET", f"/_taegis/requests?account={acct.id}")["requests"]
    assert all(isinstance(e["time"], float) and "duration" in e for e in every), every[:3]


CONCURRENT_ACCOUNTS, CONCURRENT_REGIONS, CONCURRENT_THREADS = 4, ("us-east-1", "eu-west-2"), 8


def deploy_and_destroy_bundled(acct: Account, region: str) -> dict[str, int]:
    """Both bundled stacks into one target (code zip in a bucket of the region), then both
    deleted; {stack id: resources it has}."""
    cfn = acct.client("cloudformation", region)
    bucket = bucket_in(acct, region, f"cd-{acct.id}-{region}")
    shared = cfn.create_stack(StackName="taegis-shared", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS)["StackId"]
    assert wait_stack(cfn, shared, 120)["StackStatus"] == "CREATE_COMPLETE"
    lam = cfn.create_stack(
        StackName="taegis-lambda", TemplateBody=bundled("lambda-template"), Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"]
    )["StackId"]
    st = wait_stack(cfn, lam, 120)
    assert st["StackStatus"] == "CREATE_COMPLETE" and f":{region}:{acct.id}:" in outputs(st)["FunctionArn"], st
    for stack_id in (lam, shared):  # the Lambda stack imports the shared one's exports
        cfn.delete_stack(StackName=stack_id)
        assert wait_stack(cfn, stack_id, 120)["StackStatus"] == "DELETE_COMPLETE"
    return {shared: 1, lam: 3}  # Secret; Role, LogGroup, Function (both policies' conditions false)


def check_concurrent_bundled_deploys(acct: Account) -> None:
    """Bench: 4 accounts x 2 regions deploy and delete both bundled stacks at once, 8 in flight,
    latency_ms 30, resource_seconds 0.05; every operation is recorded and lasts N x 0.05 s or more."""
    each = 0.05
    accounts = [acct] + [Account() for _ in range(CONCURRENT_ACCOUNTS - 1)]
    for a in accounts:
        set_behaviour(a, latency_ms=30, resource_seconds=each)
    targets = [(a, region) for a in accounts for region in CONCURRENT_REGIONS]
    with ThreadPoolExecutor(max_workers=CONCURRENT_THREADS) as pool:
        sizes = [s for found in pool.map(lambda t: deploy_and_destroy_bundled(*t), targets) for s in found.items()]
    for a in accounts:
        reset_behaviour(a)
    expected = dict(sizes)
    assert len(expected) == 2 * len(targets), expected
    seen: dict[str, list[str]] = {}
    for a in accounts:
        for op in ops_of(a):
            size = expected[op["stack_id"]]
            assert op["finished"] is not None and op["started"] < op["finished"], op
            assert op["finished"] - op["started"] >= size * each, (op, size)
            assert op["status"] == {"create": "CREATE_COMPLETE", "delete": "DELETE_COMPLETE"}[op["operation"]], op
            seen.setdefault(op["stack_id"], []).append(op["operation"])
    assert seen == {stack_id: ["create", "delete"] for stack_id in expected}, seen


def check_reset_clears_stack_operations(acct: Account) -> None:
    """POST /moto-api/reset clears the stack operation record (runs alone, after the other checks)."""
    acct.client("cloudformation").create_stack(StackName="recorded", TemplateBody=TOPIC_ONLY)
    assert len(ops_of(acct)) == 1, ops_of(acct)
    req = urllib.request.Request(ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    assert admin("GET", "/_taegis/stack-operations") == {"operations": []}


CHECKS = [
    check_secret_model_exports_imports_and_delete,
    check_lambda_account_settings_and_concurrency,
    check_admin_concurrency_override,
    check_s3_notification_xml_and_eventbridge,
    check_s3_notification_refusals,
    check_novalue_noecho_and_noop_update,
    check_custom_resource_waits_for_cfnresponse,
    check_request_log,
    check_async_stack_operations,
    check_injected_failures_and_rollback,
    check_throttle_and_server_errors,
    check_drop_latency_and_isolation,
    check_lambda_code_bucket_region_and_existing_log_group,
    check_unknown_regions_refused,
    check_enabled_region_end_to_end,
    check_inline_limit_and_template_url,
    check_template_url_async,
    check_notification_destinations,
    check_bucket_owner_policy_and_region,
    check_new_buckets_private_and_encrypted,
    check_capabilities,
    check_stack_event_and_export_pages,
    check_queue_and_topic_policy_resources,
    check_web_identity_and_profiles,
    check_targeted_faults,
    check_permission_delay,
    check_notification_stale,
    check_lambda_busy,
    check_delete_failures,
    check_empty_log_pages,
    check_disabled_opt_in_region,
    check_strict_roles,
    check_cross_account_topic,
    check_resource_seconds_and_stack_operations,
    check_request_log_timing,
    check_concurrent_bundled_deploys,
    check_iam_enforcement,
]
# Run alone, after the others: the reset_* checks reset the whole emulator.
SERIAL_CHECKS = [
    # (u) alone: they add load that the timing checks of the all-at-once round do not tolerate.
    check_iam_enforcement_rfc3986_form_body,
    check_iam_enforcement_s3_action_names,
    check_iam_enforcement_missing_key,
    check_reset_clears_enabled_regions,
    check_reset_clears_stack_operations,
    check_reset_clears_iam_enforcement,
]


# ------------------------------------------------------------------------------------ runner


def start_server() -> subprocess.Popen:  # type: ignore[type-arg]
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "taegis_moto.py"), "--host", "127.0.0.1", "--port", "0", "--parent-pid", str(os.getpid())],
        stdout=subprocess.PIPE,
        stderr=open(os.environ.get("TAEGIS_SELFTEST_SERVER_LOG", os.devnull), "w"),
        text=True,
    )
    port = None
    deadline = time.time() + 60
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"emulator exited early with {proc.wait()}")
        if line.startswith("port "):
            port = int(line.split()[1])
        if line.strip() == "ready":
            break
    else:
        proc.kill()
        raise SystemExit("emulator not ready within 60 s")
    global ENDPOINT
    ENDPOINT = f"http://127.0.0.1:{port}"
    return proc


def main() -> int:
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(var, None)
    os.environ.update(
        {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
    )
    started = time.time()
    proc = start_server()
    print(f"emulator at {ENDPOINT} (pid {proc.pid}) ready in {time.time() - started:.1f} s", flush=True)
    results: list[tuple[str, str | None]] = []
    lock = threading.Lock()

    def run(check) -> None:  # type: ignore[no-untyped-def]
        t0 = time.time()
        try:
            check(Account())
            error = None
        except Exception:
            error = traceback.format_exc()
        with lock:
            results.append((check.__name__, error))
            print(f"{'ok  ' if error is None else 'FAIL'} {check.__name__} ({time.time() - t0:.2f} s)", flush=True)
            if error:
                print(error, flush=True)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(run, CHECKS))
        # The same checks once more, all at the same time, to shake out thread-safety issues.
        with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
            list(pool.map(run, CHECKS))
        for check in SERIAL_CHECKS:
            run(check)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    failed = sum(1 for _, e in results if e)
    passed = len(results) - failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
