"""Checks of AWS's clock: (w) permission_delay_seconds, (x) notification_stale_seconds, (y)
busy_seconds."""

from __future__ import annotations

import contextlib
import json
import time

from . import common
from .common import (
        NO_RETRY,
    REGION,
    Account,
    code_zip,
    expect_error,
    refused_field,
    reset_behaviour,
    set_behaviour,
    stack,
    topic_for,
)
from .s3 import UNABLE, error_pairs


# ------------------------------------------------------------------------------------ timing windows


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
    lam = acct.session.client("lambda", endpoint_url=common.ENDPOINT, config=NO_RETRY)
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
