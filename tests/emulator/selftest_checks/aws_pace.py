"""Checks of AWS's pace (row ac): the stack timing model (resources in parallel, drawn times per
type, seeded, scaled, slower regions), the long poll of the stack operation record and
throttling as a token bucket per account, region and API operation."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions

from . import common
from .common import (
    NO_RETRY,
    SHARED_PARAMS,
    Account,
    admin,
    bucket_in,
    bundled,
    lambda_params,
    ops_of,
    refused_field,
    set_behaviour,
    wait_stack,
)


# Three resources that depend on nothing (A, B, C), and D that needs A (DependsOn), B (Fn::GetAtt)
# and C (Fn::Sub).
FOUR = json.dumps({
    "Resources": {
        "A": {"Type": "AWS::SNS::Topic"},
        "B": {"Type": "AWS::SQS::Queue"},
        "C": {"Type": "AWS::Logs::LogGroup"},
        "D": {
            "Type": "AWS::SNS::Topic",
            "DependsOn": "A",
            "Properties": {"DisplayName": {"Fn::GetAtt": ["B", "QueueName"]}, "TopicName": {"Fn::Sub": "${C}-d"}},
        },
    }
})
FOUR_TIMES = {"AWS::SNS::Topic": [0.6, 0.6], "AWS::SQS::Queue": [0.6, 0.6], "AWS::Logs::LogGroup": [0.6, 0.6]}


def resource_events(cfn, stack_id: str) -> list[tuple[float, str, str]]:  # type: ignore[no-untyped-def]
    """(epoch seconds, logical id, status) of the resources' events, oldest first."""
    out = []
    for e in reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]):
        if e["ResourceType"] == "AWS::CloudFormation::Stack":
            continue
        ts = e["Timestamp"]
        ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
        out.append((ts.timestamp(), e["LogicalResourceId"], e["ResourceStatus"]))
    return out


def first(events: list[tuple[float, str, str]], lid: str, status: str) -> float:
    return next(t for t, l, s in events if l == lid and s == status)


def drawn(acct: Account, region: str, stack: str, lid: str, rtype: str, operation: str = "create") -> float:
    q = f"?account={acct.id}&region={region}&stack={stack}&resource={lid}&type={rtype}&operation={operation}"
    return admin("GET", "/_taegis/stack-timing" + q)["seconds"]


def check_stack_timing_parallel_resources(acct: Account) -> None:
    """stack_timing: resources with no tie between them are created (and deleted) at the same
    time; one that refers to others (DependsOn, Fn::GetAtt, Fn::Sub) starts when they are all
    complete; the operation lasts the longest path, not the sum; parallel=false goes one by one."""
    for bad in ({"times": {}}, {"times": {"AWS::SNS::Topic": [2, 1]}}, {"times": {"x": [1, 2]}},
                {"times": {"*": [1, 2]}, "scale": 0}, {"times": {"*": 1}, "speed": 2},
                {"times": {"*": 1}, "region_factors": {"us-east-1": -1}}, {"times": {"*": 1}, "seed": "a"}, "fast"):
        refused_field(acct, "stack_timing", bad)
    got = set_behaviour(acct, stack_timing={"times": FOUR_TIMES, "scale": 1})
    assert got["stack_timing"] == {"times": FOUR_TIMES, "scale": 1.0, "region_factors": {}, "parallel": True, "seed": None}, got
    cfn = acct.client("cloudformation")
    sid = cfn.create_stack(StackName="pace-four", TemplateBody=FOUR)["StackId"]
    status = cfn.describe_stacks(StackName=sid)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_IN_PROGRESS", f"CreateStack returns before the stack is done ({status})"
    assert wait_stack(cfn, sid, 20)["StackStatus"] == "CREATE_COMPLETE"
    op = [o for o in ops_of(acct) if o["stack_id"] == sid][0]
    took = op["finished"] - op["started"]
    # Parallel: 0.6 (A, B, C together) + 0.6 (D) = 1.2 s; one after another it would be 2.4 s.
    assert 1.2 <= took < 2.2, (took, op)
    ev = resource_events(cfn, sid)
    for status in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE"):
        assert sorted(l for _, l, s in ev if s == status) == ["A", "B", "C", "D"], ev
    starts = [first(ev, lid, "CREATE_IN_PROGRESS") for lid in "ABC"]
    assert max(starts) - min(starts) < 0.1, ev  # together
    assert max(starts) < min(first(ev, lid, "CREATE_COMPLETE") for lid in "ABC"), ev
    d_start = first(ev, "D", "CREATE_IN_PROGRESS")
    assert d_start >= max(first(ev, lid, "CREATE_COMPLETE") for lid in "ABC"), ev
    assert first(ev, "D", "CREATE_COMPLETE") - d_start >= 0.59, ev
    for lid in "ABCD":  # each resource's own step lasts its drawn time (0.6 s)
        assert first(ev, lid, "CREATE_COMPLETE") - first(ev, lid, "CREATE_IN_PROGRESS") >= 0.59, (lid, ev)
    # Delete: D first (the others are what it refers to), then A, B and C together.
    t0 = time.time()
    cfn.delete_stack(StackName=sid)
    ops = admin("GET", f"/_taegis/stack-operations?account={acct.id}&stack_id={sid}&wait=20&since={t0 - 0.01}")["operations"]
    assert [(o["operation"], o["status"]) for o in ops] == [("delete", "DELETE_COMPLETE")], ops
    assert 1.2 <= ops[0]["finished"] - ops[0]["started"] < 2.2, ops
    ev = [e for e in resource_events(cfn, sid) if e[2].startswith("DELETE")]
    assert [l for _, l, s in ev if s == "DELETE_IN_PROGRESS"][0] == "D", ev
    d_gone = first(ev, "D", "DELETE_COMPLETE")
    rest = [first(ev, lid, "DELETE_IN_PROGRESS") for lid in "ABC"]
    assert min(rest) >= d_gone and max(rest) - min(rest) < 0.1, ev
    # parallel=false: one resource at a time, in dependency order: 4 x 0.6 s.
    set_behaviour(acct, stack_timing={"times": FOUR_TIMES, "parallel": False})
    sid = cfn.create_stack(StackName="pace-four-serial", TemplateBody=FOUR)["StackId"]
    assert wait_stack(cfn, sid, 20)["StackStatus"] == "CREATE_COMPLETE"
    op = [o for o in ops_of(acct) if o["stack_id"] == sid][0]
    assert 2.4 <= op["finished"] - op["started"] < 3.6, op
    ev = resource_events(cfn, sid)
    order = [l for _, l, s in ev if s == "CREATE_IN_PROGRESS"]
    assert order[-1] == "D" and len(order) == 4, ev
    for (_, l1, s1), (_, l2, s2) in zip(ev, ev[1:]):  # never two resources in progress at once
        assert not (s1 == "CREATE_IN_PROGRESS" and s2 == "CREATE_IN_PROGRESS"), ev
    set_behaviour(acct, stack_timing=None)
    sid = cfn.create_stack(StackName="pace-off", TemplateBody=FOUR)["StackId"]
    assert cfn.describe_stacks(StackName=sid)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE", "off again: synchronous"


def check_stack_timing_draws_bundled_templates(acct: Account) -> None:
    """stack_timing draws each resource's time from its type's range, the same for the same seed
    whatever the account (so two clients can be compared stack for stack), scaled and slower in a
    region with a factor; the bundled Lambda stack creates its role and log group together and
    then the function."""
    times = {"AWS::IAM::Role": [2, 10], "AWS::Lambda::Function": [5, 15], "*": [1, 3]}
    other = Account()
    model = {"times": times, "scale": 0.1, "seed": 42, "region_factors": {"us-west-2": 4}}
    set_behaviour(acct, stack_timing=model)
    set_behaviour(other, stack_timing=dict(model, region_factors={}))
    role = ("taegis-cloudtrail", "TaegisLambdaRole", "AWS::IAM::Role")
    fn = ("taegis-cloudtrail", "TaegisLambdaFunction", "AWS::Lambda::Function")
    log = ("taegis-cloudtrail", "TaegisLambdaLogGroup", "AWS::Logs::LogGroup")
    for stack, lid, rtype in (role, fn, log):
        mine = drawn(acct, "us-east-1", stack, lid, rtype)
        assert mine == drawn(other, "us-east-1", stack, lid, rtype), "the same seed draws the same"
        lo, hi = times.get(rtype, times["*"])
        assert lo * 0.1 <= mine <= hi * 0.1, (rtype, mine)
        assert abs(drawn(acct, "us-west-2", stack, lid, rtype) - 4 * drawn(other, "us-west-2", stack, lid, rtype)) < 1e-9
    seen = {round(drawn(acct, "eu-west-1", "s", f"R{i}", "AWS::IAM::Role"), 6) for i in range(40)}
    assert len(seen) > 30 and min(seen) >= 0.2 and max(seen) <= 1.0, seen  # spread over [0.2, 1.0]
    assert min(seen) < 0.4 and max(seen) > 0.8, seen
    set_behaviour(other, stack_timing=dict(model, seed=43))
    assert drawn(other, "us-east-1", *fn) != drawn(acct, "us-east-1", *fn), "another seed draws otherwise"
    set_behaviour(other, stack_timing=dict(model, seed=None))
    assert drawn(other, "us-east-1", *fn) != drawn(acct, "us-east-1", *fn), "no seed: the account's own draws"
    try:
        admin("GET", f"/_taegis/stack-timing?account={Account().id}&region=us-east-1&stack=s&resource=r&type=t")
        raise AssertionError("an account without stack_timing has no draws")
    except urllib.error.HTTPError as err:
        assert err.code == 400, err

    def deploy(region: str) -> tuple[dict, list]:  # type: ignore[type-arg]
        cfn = acct.client("cloudformation", region)
        shared = cfn.create_stack(StackName="taegis-shared-resources", TemplateBody=bundled("shared-resources"),
                                  Parameters=SHARED_PARAMS)["StackId"]
        assert wait_stack(cfn, shared, 30)["StackStatus"] == "CREATE_COMPLETE"
        bucket = bucket_in(acct, region, f"pace-code-{acct.id}-{region}")
        sid = cfn.create_stack(StackName="taegis-cloudtrail", TemplateBody=bundled("lambda-template"),
                               Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"])["StackId"]
        assert wait_stack(cfn, sid, 60)["StackStatus"] == "CREATE_COMPLETE"
        op = [o for o in ops_of(acct, region) if o["stack_id"] == sid][0]
        return op, resource_events(cfn, sid)

    with ThreadPoolExecutor(2) as pool:
        (fast, ev), (slow, _) = pool.map(deploy, ["us-east-1", "us-west-2"])
    r, f, g = (drawn(acct, "us-east-1", *x) for x in (role, fn, log))
    expected = max(r, g) + f
    took = fast["finished"] - fast["started"]
    assert expected <= took < expected + 0.8, (took, expected)
    assert abs(first(ev, "TaegisLambdaRole", "CREATE_IN_PROGRESS") - first(ev, "TaegisLambdaLogGroup", "CREATE_IN_PROGRESS")) < 0.1, ev
    assert first(ev, "TaegisLambdaFunction", "CREATE_IN_PROGRESS") >= max(
        first(ev, "TaegisLambdaRole", "CREATE_COMPLETE"), first(ev, "TaegisLambdaLogGroup", "CREATE_COMPLETE")), ev
    r, f, g = (drawn(acct, "us-west-2", *x) for x in (role, fn, log))
    slow_expected = max(r, g) + f
    took = slow["finished"] - slow["started"]
    assert slow_expected <= took < slow_expected + 1.0, (took, slow_expected)


def check_stack_timing_failure_and_long_poll(acct: Account) -> None:
    """stack_timing with an injected failure: the failing resource fails after its time, the
    resources still in progress are cancelled, the rollback deletes what was made, and the
    stack operation record's long poll (`stack_id` + `wait`) answers the moment it ends."""
    times = {"AWS::SNS::Topic": [0.3, 0.3], "AWS::SQS::Queue": [1.5, 1.5], "AWS::Logs::LogGroup": [0.1, 0.1]}
    set_behaviour(acct, stack_timing={"times": times},
                  failures=[{"stack": "pace-fail", "resource": "A", "reason": "Injected failure", "operation": "create"}])
    cfn = acct.client("cloudformation")
    t0 = time.time()
    sid = cfn.create_stack(StackName="pace-fail", TemplateBody=FOUR)["StackId"]
    answer = admin("GET", f"/_taegis/stack-operations?stack_id={sid}&wait=30&since={t0 - 0.01}")
    back = time.time()
    ops = answer["operations"]
    assert [(o["operation"], o["status"]) for o in ops] == [("create", "ROLLBACK_COMPLETE"), ("rollback", "ROLLBACK_COMPLETE")], ops
    assert 0 <= back - ops[0]["finished"] < 2.0, (back, ops)  # answered when it ended, not at the 30 s
    ev = resource_events(cfn, sid)
    statuses = [(l, s) for _, l, s in ev]
    assert ("A", "CREATE_FAILED") in statuses and ("B", "CREATE_FAILED") in statuses, ev  # B cancelled
    assert next(r for l, s, r in [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
                                  for e in cfn.describe_stack_events(StackName=sid)["StackEvents"]]
                if l == "B" and s == "CREATE_FAILED") == "Resource creation cancelled"
    assert ("C", "DELETE_COMPLETE") in statuses and ("D", "CREATE_IN_PROGRESS") not in statuses, ev
    assert first(ev, "A", "CREATE_FAILED") - first(ev, "A", "CREATE_IN_PROGRESS") >= 0.29, ev
    # The long poll: bad requests, and a stack that is not running answers at once.
    for query in ("wait=5", "stack_id=x&wait=-1", "stack_id=x&wait=y", "since=now"):
        try:
            admin("GET", "/_taegis/stack-operations?" + query)
            raise AssertionError(f"accepted {query}")
        except urllib.error.HTTPError as err:
            assert err.code == 400, err
    t0 = time.time()
    assert admin("GET", f"/_taegis/stack-operations?stack_id={sid}&wait=10")["operations"] == ops
    assert time.time() - t0 < 1.0


def check_rate_limits_token_bucket(acct: Account) -> None:
    """rate_limits: a token bucket per account, region and API operation; an empty bucket answers
    the service's throttling error without processing the call, and refills at `rate`."""
    for bad in ({"api": "x", "rate": 1}, [{"api": "cloudformation:*", "rate": 0}], [{"api": "s3:*", "rate": 1, "burst": 0.5}],
                [{"api": "s3:*", "rate": 1, "size": 3}], [{"rate": 1}]):
        refused_field(acct, "rate_limits", bad)
    # Slow refills, so that a loaded machine's slow calls still empty the buckets.
    rules = [{"api": "cloudformation:Describe*", "rate": 0.5, "burst": 3}, {"api": "s3:*", "rate": 0.2, "burst": 2}]
    got = set_behaviour(acct, rate_limits=rules)
    assert got["rate_limits"] == [dict(r, rate=float(r["rate"]), burst=float(r["burst"])) for r in rules], got
    cfn = acct.session.client("cloudformation", endpoint_url=common.ENDPOINT, config=NO_RETRY)

    def burst(call, n: int) -> list[str]:  # type: ignore[no-untyped-def]
        out = []
        for _ in range(n):
            try:
                call()
                out.append("ok")
            except botocore.exceptions.ClientError as exc:
                err = exc.response["Error"]
                out.append(f"{exc.response['ResponseMetadata']['HTTPStatusCode']} {err['Code']} {err['Message']}")
        return out

    t0 = time.monotonic()
    got = burst(cfn.describe_stacks, 8)
    refilled = 0.5 * (time.monotonic() - t0)
    assert got[:3] == ["ok"] * 3 and got.count("ok") <= 3 + refilled + 1, (got, refilled)  # 3 in the bucket
    assert "400 Throttling Rate exceeded" in got, got
    assert burst(cfn.list_stacks, 3) == ["ok"] * 3, "ListStacks has no rule"
    assert burst(lambda: cfn.describe_stack_resources(StackName="none"), 1) != ["400 Throttling Rate exceeded"], \
        "each operation has a bucket of its own"
    west = acct.session.client("cloudformation", region_name="us-west-2", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    assert burst(west.describe_stacks, 3) == ["ok"] * 3, "each region has buckets of its own"
    other = Account()
    assert burst(other.session.client("cloudformation", endpoint_url=common.ENDPOINT, config=NO_RETRY).describe_stacks, 4) == ["ok"] * 4
    time.sleep(2.1)  # a token every 2 s
    again = burst(cfn.describe_stacks, 6)
    assert again[0] == "ok" and "400 Throttling Rate exceeded" in again, again
    s3 = acct.session.client("s3", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    got = burst(s3.list_buckets, 4)
    assert got[:2] == ["ok", "ok"] and "503 SlowDown Please reduce your request rate." in got, got
    log = admin("GET", f"/_taegis/requests?account={acct.id}&action=DescribeStacks")["requests"]
    limited = [r for r in log if r.get("rate_limited")]
    assert limited and all(r["fault"] == "throttle" and r["status"] == 400 for r in limited), limited
    set_behaviour(acct, rate_limits=[])
    assert burst(cfn.describe_stacks, 6) == ["ok"] * 6, "off again"
