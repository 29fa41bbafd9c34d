"""The floor: the least a client can do at the tool's concurrency.  boto3, the tool's 8 targets
at a time from a pool (a target starts the moment a slot frees), only the calls the guide's
steps need, with credentials and clients ready before the clock starts; within a target it
overlaps what can overlap (the zip bucket and upload with the shared stack, the invoke permission
with the read of the bucket's notification configuration), and it learns the moment each stack
ends from the emulator's record (a long poll, no AWS call)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import merge_notification
from cloud import Fleet, Target
from measure import Outcome
from prepare import CONCURRENCY, LAMBDA_STACK, SHARED_STACK, Ctx, stack_operations
from procs import BenchError


def _wait(ctx: Ctx, stack_id: str, after: float) -> dict[str, Any]:
    w = ctx.cloud.wait_stack(stack_id, after)
    if w.get("status") != "CREATE_COMPLETE":
        raise BenchError(f"floor: stack {stack_id} ended {w.get('status')}")
    return w


def floor_target(ctx: Ctx, t: Target, side: ThreadPoolExecutor) -> list[tuple[str, dict[str, Any]]]:
    """The guide's steps for one target, overlapped where they can be; when each stack was seen done."""
    bp = ctx.blueprint
    assert bp is not None
    s3 = ctx.cloud.client(t.account, "s3", t.region)
    cfn = ctx.cloud.client(t.account, "cloudformation", t.region)
    lam = ctx.cloud.client(t.account, "lambda", t.region)

    def zip_to_its_bucket() -> None:
        bucket: dict[str, Any] = {"Bucket": t.zip_bucket}
        if t.region != "us-east-1":
            bucket["CreateBucketConfiguration"] = {"LocationConstraint": t.region}
        s3.create_bucket(**bucket)
        s3.put_object(Bucket=t.zip_bucket, Key=bp.zip_key, Body=bp.zip_bytes)

    def create(stack: str, body: str, params: list[tuple[str, str]], caps: list[str]) -> tuple[str, float]:
        after = time.time()
        stack_id = cfn.create_stack(StackName=stack, TemplateBody=body, Capabilities=caps,
                                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params])["StackId"]
        return stack_id, after

    uploaded = side.submit(zip_to_its_bucket)
    shared = _wait(ctx, *create(SHARED_STACK, bp.shared_template, bp.shared_params, []))
    uploaded.result()
    function = _wait(ctx, *create(LAMBDA_STACK, bp.lambda_template, bp.lambda_values(t), ["CAPABILITY_IAM"]))
    permitted = side.submit(lambda: lam.add_permission(
        FunctionName=bp.function_arn(t), StatementId=bp.statement_id, Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{t.bucket}", SourceAccount=t.account.id))
    current = s3.get_bucket_notification_configuration(Bucket=t.bucket)
    permitted.result()
    ours = merge_notification.entry(bp.function_arn(t), bp.entry_id)
    s3.put_bucket_notification_configuration(Bucket=t.bucket,
                                              NotificationConfiguration=merge_notification.merge(current, ours))
    return [(SHARED_STACK, shared), (LAMBDA_STACK, function)]


def run_floor(ctx: Ctx, fleet: Fleet, rep: int = 0) -> Outcome:
    out = Outcome("floor", len(fleet.targets), rep)
    for t in fleet.targets:  # build the clients before the clock starts
        for service in ("s3", "cloudformation", "lambda"):
            ctx.cloud.client(t.account, service, t.region)
    marks = ctx.cloud.marks(fleet.accounts)
    started = time.time()
    try:
        with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="floor") as pool, \
                ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="floor-side") as side:
            results = list(pool.map(lambda t: floor_target(ctx, t, side), fleet.targets))
        out.wall = time.time() - started
    except Exception as e:  # noqa: BLE001 - reported in the figure
        out.error = f"{type(e).__name__}: {e}"
        return out
    out.requests = ctx.cloud.requests_since(marks)
    out.ops = stack_operations(ctx, fleet, started)
    for t, seen in zip(fleet.targets, results):
        for stack, w in seen:
            out.noticed[(t.account.id, t.region, stack)] = w["seen"]
    out.delays = [w["seen"] - w["finished"] for seen in results for _, w in seen]
    return out
