"""Checks of the benchmark aids: resource_seconds, the stack operation record, request timing,
concurrent deploys of the bundled stacks."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions

from . import common
from .common import (
        NO_RETRY,
    OPENER,
    REGION,
    SHARED_PARAMS,
    Account,
    admin,
    bucket_in,
    bundled,
    expect_error,
    lambda_params,
    ops_of,
    outputs,
    params,
    reset_behaviour,
    set_behaviour,
    stack,
    timed,
    wait_stack,
)
from .basics import IMPORT_STACK
from .behaviour import CHAIN_STACK
from .cloudformation import TOPIC_ONLY


# ------------------------------------------------------------------------------------ bench aids


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
    sts = acct.session.client("sts", endpoint_url=common.ENDPOINT, config=NO_RETRY)
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
    req = urllib.request.Request(common.ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    assert admin("GET", "/_taegis/stack-operations") == {"operations": []}
