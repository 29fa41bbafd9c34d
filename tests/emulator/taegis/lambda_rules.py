"""Lambda: (b) GetAccountSettings and reserved concurrency, (h) a statement id that exists,
(w) permission_delay_seconds, (y) busy_seconds, and the code bucket's region."""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from typing import Any
from urllib.parse import unquote

from moto.awslambda import models as lambda_models
from moto.awslambda import responses as lambda_responses
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.policy import Policy as LambdaPolicy
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.awslambda.utils import make_function_arn
from moto.s3 import models as s3_models

from .behaviour import within_window


# ---------------------------------------------------------------------------------------------
# (b) Lambda GetAccountSettings and reserved-concurrency limits.
# AWS: an account keeps min(100, ConcurrentExecutions) unreserved; reserving more fails with
# InvalidParameterValueException (PutFunctionConcurrency) or a failed resource (CloudFormation).
# ---------------------------------------------------------------------------------------------

DEFAULT_CONCURRENT_EXECUTIONS = 1000
_CONCURRENCY_LOCK = threading.RLock()
_CONCURRENCY_LIMITS: dict[tuple[str, str | None], int] = {}


def concurrency_limit(account_id: str, region: str) -> int:
    with _CONCURRENCY_LOCK:
        for key in ((account_id, region), (account_id, None)):
            if key in _CONCURRENCY_LIMITS:
                return _CONCURRENCY_LIMITS[key]
    return DEFAULT_CONCURRENT_EXECUTIONS


def _reserved_total(account_id: str, region: str, exclude: str | None = None) -> int:
    total = 0
    for fn in list(get_lambda_backend(account_id, region).list_functions()):
        if fn.reserved_concurrency and fn.function_name != exclude:
            total += int(fn.reserved_concurrency)
    return total


def check_reserved_concurrency(
    account_id: str, region: str, function_name: str, requested: int
) -> None:
    limit = concurrency_limit(account_id, region)
    minimum = min(100, limit)
    unreserved = limit - _reserved_total(account_id, region, exclude=function_name) - requested
    if unreserved < minimum:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
        )


def lambda_account_settings(account_id: str, region: str) -> dict[str, Any]:
    with _CONCURRENCY_LOCK:
        limit = concurrency_limit(account_id, region)
        functions = list(get_lambda_backend(account_id, region).list_functions())
        reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
    return {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit - reserved,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": len(functions)},
    }


def _put_function_concurrency(self: Any, function_name: str, reserved_concurrency: Any) -> int:
    with _CONCURRENCY_LOCK:
        fn = self.get_function(function_name)
        requested = int(reserved_concurrency)
        check_reserved_concurrency(self.account_id, self.region_name, fn.function_name, requested)
        fn.reserved_concurrency = requested
        return fn.reserved_concurrency


_orig_lambda_cfn_create = lambda_models.LambdaFunction.create_from_cloudformation_json.__func__
_orig_lambda_cfn_update = lambda_models.LambdaFunction.update_from_cloudformation_json.__func__


def _lambda_cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
    requested = (cloudformation_json.get("Properties") or {}).get("ReservedConcurrentExecutions")
    with _CONCURRENCY_LOCK:
        if requested is not None:
            check_reserved_concurrency(account_id, region_name, resource_name, int(requested))
        fn = _orig_lambda_cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        if requested is not None:
            fn.reserved_concurrency = int(requested)
        return mark_busy(fn)  # (y)


def _lambda_cfn_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # type: ignore[no-untyped-def]
    props = cloudformation_json.get("Properties") or {}
    requested = props.get("ReservedConcurrentExecutions")
    new_name = props.get("FunctionName")
    if new_name and new_name != original_resource.function_name:
        # AWS: a new FunctionName is a replacement: the new function is created, the old one
        # is deleted (in the update's cleanup). moto renamed nothing and kept the old function.
        fn = _lambda_cfn_create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        get_lambda_backend(account_id, region_name).delete_function(original_resource.function_name)
        return fn
    with _CONCURRENCY_LOCK:
        if requested is not None:
            check_reserved_concurrency(
                account_id, region_name, original_resource.function_name, int(requested)
            )
        fn = _orig_lambda_cfn_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        fn.reserved_concurrency = int(requested) if requested is not None else None
        return mark_busy(fn)  # (y)


def _install_lambda_concurrency() -> None:
    lambda_models.LambdaBackend.put_function_concurrency = _put_function_concurrency
    lambda_models.LambdaFunction.create_from_cloudformation_json = classmethod(_lambda_cfn_create)
    lambda_models.LambdaFunction.update_from_cloudformation_json = classmethod(_lambda_cfn_update)


# ---------------------------------------------------------------------------------------------
# (h) Lambda AddPermission with a statement id that exists already.
# AWS: 409 ResourceConflictException.
# ---------------------------------------------------------------------------------------------


class StatementIdConflict(LambdaClientError):
    code = 409

    def __init__(self, sid: str):
        super().__init__(
            "ResourceConflictException",
            f"The statement id ({sid}) provided already exists. Please specify a new statement id, "
            "or remove the existing statement.",
        )


_orig_add_statement = LambdaPolicy.add_statement
_POLICY_LOCK = threading.Lock()


def _add_statement(self: Any, raw: str, qualifier: str | None = None) -> Any:
    try:
        sid = json.loads(raw).get("StatementId")
    except (ValueError, AttributeError):
        sid = None
    with _POLICY_LOCK:
        if sid is not None and any(s.get("Sid") == sid for s in self.statements):
            raise StatementIdConflict(sid)
        statement, revision = _orig_add_statement(self, raw, qualifier)
        # (w) when the statement was added, per policy (so per function) and statement id; a
        # statement removed and added again gets a new time.
        self.__dict__.setdefault("_taegis_added", {})[statement.get("Sid")] = time.monotonic()
        return statement, revision


# ---------------------------------------------------------------------------------------------
# (w) behaviour permission_delay_seconds.
# AWS: a new Lambda permission takes a few seconds to reach S3: a destination check of
# PutBucketNotificationConfiguration made just after AddPermission still finds the function
# closed to S3 ("Not authorized to invoke function [ARN]").  A statement added less than the
# function account's permission_delay_seconds ago does not count yet (see _function_refusal).
# ---------------------------------------------------------------------------------------------


def settled_statements(policy: Any, account_id: str) -> list[dict[str, Any]]:
    """The policy's statements that S3 already sees."""
    with _POLICY_LOCK:
        statements = list(policy.statements)
        added = dict(policy.__dict__.get("_taegis_added") or {})
    return [s for s in statements if not within_window(account_id, "permission_delay_seconds", added.get(s.get("Sid")))]


# ---------------------------------------------------------------------------------------------
# (y) behaviour busy_seconds.
# AWS: a function that is being created or updated (State Pending, LastUpdateStatus InProgress)
# refuses the calls that change it: 409 ResourceConflictException "The operation cannot be
# performed at this time. An update is in progress for resource: ARN".  After CreateFunction,
# UpdateFunctionCode, UpdateFunctionConfiguration and CloudFormation's create/update of
# AWS::Lambda::Function, for the function account's busy_seconds, the API calls below are
# refused.  Reads and Invoke are not; CloudFormation's own steps (backend calls, not API
# requests) never are.
# ---------------------------------------------------------------------------------------------


class FunctionBusy(LambdaClientError):
    code = 409

    def __init__(self, arn: str):
        super().__init__(
            "ResourceConflictException",
            f"The operation cannot be performed at this time. An update is in progress for resource: {arn}",
        )
        # AWS's body (the error code travels in x-amzn-ErrorType); moto's is {"__type": ..}.
        self.description = json.dumps({"Type": "User", "message": self.message}, separators=(",", ":"))


def mark_busy(fn: Any) -> Any:
    """The function (its $LATEST object) was just created or updated."""
    if fn is not None:
        fn._taegis_busy_since = time.monotonic()
    return fn


_BUSY_REFUSED = (
    "add_permission",
    "remove_permission",
    "update_function_configuration",
    "update_function_code",
    "put_function_concurrency",
    "delete_function_concurrency",
)
_FUNCTION_PATH_RE = re.compile(r"^/[^/]+/functions/([^/?]+)")


def _refuse_while_busy(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        match = _FUNCTION_PATH_RE.match(self.path or "")
        fn = None
        if match:
            try:
                found = self.backend.get_function(unquote(match.group(1)))
                fn = self.backend.get_function(found.function_name)  # its $LATEST
            except Exception:  # no such function, a bad name: moto's own answer follows
                fn = None
        if fn is not None and within_window(fn.account_id, "busy_seconds", getattr(fn, "_taegis_busy_since", None)):
            raise FunctionBusy(make_function_arn(fn.region, fn.account_id, fn.function_name))
        return method(self)

    return wrapper


def _marking_busy(method: Any) -> Any:
    """A LambdaBackend create/update that leaves the function busy."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        name = getattr(result, "function_name", None) or (args[0] if args else kwargs.get("function_name"))
        try:
            mark_busy(self.get_function(self.get_function(name).function_name))  # its $LATEST
        except Exception:
            pass
        return result

    return wrapper


def _install_lambda_busy() -> None:
    for name in _BUSY_REFUSED:
        setattr(lambda_responses.LambdaResponse, name, _refuse_while_busy(getattr(lambda_responses.LambdaResponse, name)))
    for name in ("create_function", "update_function_code", "update_function_configuration"):
        setattr(lambda_models.LambdaBackend, name, _marking_busy(getattr(lambda_models.LambdaBackend, name)))


# ---------------------------------------------------------------------------------------------
# Lambda code bucket in another region.
# AWS: CreateFunction / UpdateFunctionCode (and AWS::Lambda::Function) refuse an S3Bucket that
# is not in the function's region: InvalidParameterValueException "Error occurred while
# GetObject. S3 Error Code: PermanentRedirect. ..." (moto does not look at the bucket region).
# ---------------------------------------------------------------------------------------------

_orig_set_function_code = lambda_models.LambdaFunction._set_function_code


def _set_function_code(self: Any, updated_spec: dict[str, Any]) -> None:
    bucket_name = (updated_spec or {}).get("S3Bucket") if isinstance(updated_spec, dict) else None
    if bucket_name and not updated_spec.get("DryRun"):
        try:
            bucket = s3_models.s3_backends[self.account_id][self.partition].get_bucket(bucket_name)
        except Exception:  # missing bucket: moto's own checks answer
            bucket = None
        bucket_region = getattr(bucket, "region_name", None)
        if bucket_region and bucket_region != self.region:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: "
                f"The bucket is in this region: {bucket_region}. Please use this region to retry the request"
            )
    return _orig_set_function_code(self, updated_spec)
