"""Checks of the behaviour fields: stack_seconds, failures, throttle / errors_5xx / drop /
drop_after / latency_ms, and the Lambda code bucket's region with (m)."""

from __future__ import annotations

import io
import json
import socket
import time
import xml.etree.ElementTree as ET
import zipfile

import botocore.exceptions
from botocore.exceptions import ClientError

from . import common
from .common import (
        NO_RETRY,
    OPENER,
    REGION,
    Account,
    admin,
    events_of,
    expect_error,
    outputs,
    raw_request,
    reset_behaviour,
    set_behaviour,
    stack,
    wait_stack,
)


# ------------------------------------------------------------------------------------ behaviour


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


def check_throttle_and_server_errors(acct: Account) -> None:
    """throttle / errors_5xx = 1.0: each service's own error; other accounts and admin untouched."""
    other = Account()
    cfn, s3, lam, sns = (acct.session.client(n, endpoint_url=common.ENDPOINT, config=NO_RETRY) for n in ("cloudformation", "s3", "lambda", "sns"))
    s3.create_bucket(Bucket=f"th-{acct.id}")
    set_behaviour(acct, throttle=1.0)
    exc = expect_error(cfn.list_stacks, "Throttling", "Rate exceeded", 400)
    assert exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
    expect_error(lambda: s3.list_objects_v2(Bucket=f"th-{acct.id}"), "SlowDown", "Please reduce your request rate.", 503)
    exc = expect_error(lam.list_functions, "TooManyRequestsException", "Rate exceeded", 429)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "TooManyRequestsException"
    expect_error(sns.list_topics, "Throttling", "Rate exceeded", 400)
    expect_error(acct.session.client("secretsmanager", endpoint_url=common.ENDPOINT, config=NO_RETRY).list_secrets, "ThrottlingException", "Rate exceeded", 400)
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
    with OPENER.open(common.ENDPOINT + "/moto-api/", timeout=10) as resp:
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
    sns, s3 = (acct.session.client(n, endpoint_url=common.ENDPOINT, config=NO_RETRY) for n in ("sns", "s3"))
    set_behaviour(acct, drop=1.0)
    host, port = common.ENDPOINT.rsplit("//", 1)[1].split(":")
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
