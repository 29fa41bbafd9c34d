#!/usr/bin/env python3
"""moto 5.2.5 server mode plus the AWS behaviours the taegis-cloudtrail tests rely on.

    python tests/emulator/taegis_moto.py --host 127.0.0.1 --port PORT [--parent-pid PID]

Prints ``ready`` on stdout (flushed) once the server answers HTTP; with ``--port 0`` it first
prints ``port N`` with the port the OS picked.  With ``--parent-pid`` it exits by itself once
that process is gone.

Every extension below is applied at import time by monkeypatching or registering with moto's
own classes; nothing under site-packages is edited.  Each ``# AWS:`` comment names the AWS
behaviour that the extension adds.  moto's server is threaded and the tests run in parallel
(each test in its own account), so shared state here is guarded by locks.

Admin endpoints (not AWS):
    GET    /_taegis/requests[?access_key=AKID&account=...&service=...&action=...]
    DELETE /_taegis/requests
    POST   /_taegis/account-settings  {"account": "...", "region": "...", "concurrent_executions": N}
    GET    /_taegis/account-settings?account=...&region=...
    POST   /_taegis/behaviour  {"account": "...", "stack_seconds": S, "resource_seconds": S,
                                "failures": [...], "throttle": P, "errors_5xx": P, "drop": P,
                                "drop_after": P, "latency_ms": N, "seed": N,
                                "faults": [{"action": A, "fault": F, "times": N}],
                                "permission_delay_seconds": S, "notification_stale_seconds": S,
                                "busy_seconds": S, "empty_log_pages": N, "strict_roles": B}
    GET    /_taegis/behaviour?account=...
    DELETE /_taegis/behaviour[?account=...]
    POST   /_taegis/regions  {"account": "...", "enabled": ["eu-future-1", ...], "disabled": ["af-south-1", ...]}
    GET    /_taegis/regions[?account=...]
    GET    /_taegis/stack-operations[?account=...&region=...]
    DELETE /_taegis/stack-operations[?account=...]
    POST   /_taegis/iam-enforcement  {"account": "...", "enforce": true|false}
    GET    /_taegis/iam-enforcement
"""

from __future__ import annotations

import argparse
import collections
import copy
import functools
import io
import json
import os
import random
import re
import secrets as _secrets
import signal
import socket
import string
import sys
import threading
import time
import traceback
import urllib.request
import uuid
import weakref
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape as _xml_escape

import botocore.loaders
import moto.backends
from moto.awslambda import models as lambda_models
from moto.awslambda import responses as lambda_responses
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.policy import Policy as LambdaPolicy
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.awslambda.utils import make_function_arn
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.exceptions import (
    AlreadyExistsException,
    CloudFormationError,
    ExportNotFound,
    ValidationError,
)
from moto.cloudformation.utils import generate_stack_id
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.base_backend import AccountSpecificBackend, backend_lock
from moto.core.common_models import CloudFormationModel
from moto.core.request import Request as MotoRequest
from moto.core.responses import ActionResult
from moto.core.routing import get_service_router
from moto.iam import access_control as iam_access_control
from moto.iam import exceptions as iam_exceptions
from moto.logs import responses as logs_responses
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.s3.exceptions import InvalidArgumentError, InvalidLocationConstraintException, MissingBucket
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns import models as sns_models
from moto.sns import responses as sns_responses
from moto.sts import responses as sts_responses
from moto.utilities.utils import get_partition
from werkzeug.exceptions import HTTPException

DEFAULT_ACCOUNT_ID = "123456789012"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _account_for_access_key(access_key: str | None, headers: dict[str, str] | None = None) -> str:
    """Resolve the account like moto's BaseResponse.get_current_account does (assumed-role
    credentials from sts:AssumeRole map to the role's account)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if headers and headers.get("x-moto-account-id"):
        return headers["x-moto-account-id"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key or "AKIAEXAMPLE")


def _stack_event(
    stack: Any,
    logical_id: str,
    resource_type: str,
    status: str,
    reason: str | None = None,
    physical_id: str | None = None,
) -> None:
    """Append a resource-level event to a stack (moto itself only writes stack-level ones)."""
    stack.events.append(
        cfn_models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id or "",
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


# Stacks by id, so resource-level hooks can find their stack even while moto has it popped
# from both `stacks` and `deleted_stacks` (during DeleteStack).
_STACKS: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()
_STACKS_LOCK = threading.Lock()


def _register_stack(stack: Any) -> None:
    with _STACKS_LOCK:
        _STACKS[stack.stack_id] = stack


def _stack_by_id(stack_id: str | None, resources_map: Any = None) -> Any:
    if not stack_id:
        return None
    with _STACKS_LOCK:
        found = _STACKS.get(stack_id)
    if found is None and resources_map is not None:
        # Stacks made by CreateChangeSet never pass through our create_stack.
        try:
            backend = cfn_models.cloudformation_backends[resources_map._account_id][resources_map._region_name]
            found = backend.stacks.get(stack_id) or backend.deleted_stacks.get(stack_id)
        except Exception:
            found = None
    return found


def _handler_message(service: str, message: str) -> str:
    """CloudFormation's wording for a resource handler failure."""
    return (
        f'Resource handler returned message: "{message} (Service: {service}, Status Code: 400, '
        f'Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: InvalidRequest)'
    )


def _error_message(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc) or exc.__class__.__name__


# ---------------------------------------------------------------------------------------------
# Per-account behaviour (admin: /_taegis/behaviour).  Off by default: an account without
# settings gets exactly the behaviour of the other extensions.
# ---------------------------------------------------------------------------------------------

BEHAVIOUR_DEFAULTS: dict[str, Any] = {
    "stack_seconds": 0.0,
    "resource_seconds": 0.0,
    "failures": [],
    "throttle": 0.0,
    "errors_5xx": 0.0,
    "drop": 0.0,
    "drop_after": 0.0,
    "latency_ms": 0,
    "seed": None,
    "faults": [],
    "permission_delay_seconds": 0.0,
    "notification_stale_seconds": 0.0,
    "busy_seconds": 0.0,
    "empty_log_pages": 0,
    "strict_roles": False,
}
# AWS timing windows (rows w, x, y), each 0..600 seconds like resource_seconds.
_WINDOW_FIELDS = ("permission_delay_seconds", "notification_stale_seconds", "busy_seconds")
_FAULT_KINDS = ("throttle", "5xx", "drop_after")
_SHARE_FIELDS = ("throttle", "errors_5xx", "drop", "drop_after")
# "any" is create or update; a delete failure is asked for by name only (row +: DELETE_FAILED).
_FAILURE_OPERATIONS = ("create", "update", "delete", "any")
_BEHAVIOUR_LOCK = threading.Lock()
_BEHAVIOURS: dict[str, dict[str, Any]] = {}
_RNGS: dict[str, random.Random] = {}


def _validate_behaviour(doc: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "account":
            continue
        if key not in BEHAVIOUR_DEFAULTS:
            raise ValueError(f"unknown field {key!r} (known: {', '.join(BEHAVIOUR_DEFAULTS)})")
        if key == "stack_seconds" or key == "resource_seconds" or key in _WINDOW_FIELDS:
            limit = 3600 if key == "stack_seconds" else 600
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = float("nan")
            if not 0 <= value <= limit:
                raise ValueError(f"{key} must be a number between 0 and {limit}")
        elif key in _SHARE_FIELDS:
            value = float(value)
            if not 0 <= value <= 1:
                raise ValueError(f"{key} must be between 0 and 1")
        elif key == "latency_ms":
            if isinstance(value, bool) or int(value) != float(value) or int(value) < 0:
                raise ValueError("latency_ms must be an integer >= 0")
            value = int(value)
        elif key == "empty_log_pages":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise ValueError("empty_log_pages must be an integer between 0 and 100")
        elif key == "strict_roles":
            if not isinstance(value, bool):
                raise ValueError("strict_roles must be true or false")
        elif key == "seed":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError("seed must be an integer or null")
        elif key == "failures":
            if not isinstance(value, list):
                raise ValueError("failures must be a list")
            checked = []
            for item in value:
                if not isinstance(item, dict):
                    raise ValueError("each failure must be an object")
                unknown = set(item) - {"stack", "resource", "reason", "operation"}
                if unknown:
                    raise ValueError(f"unknown failure field(s): {sorted(unknown)}")
                if not isinstance(item.get("stack"), str) or not isinstance(item.get("resource"), str):
                    raise ValueError("a failure needs 'stack' and 'resource' strings")
                operation = item.get("operation", "any")
                if operation not in _FAILURE_OPERATIONS:
                    raise ValueError(f"failure operation must be one of {list(_FAILURE_OPERATIONS)}")
                reason = item.get("reason", "Resource handler returned message: \"Injected failure\"")
                if not isinstance(reason, str):
                    raise ValueError("failure reason must be a string")
                checked.append({"stack": item["stack"], "resource": item["resource"], "reason": reason, "operation": operation})
            value = checked
        elif key == "faults":
            value = _validate_faults(value)
        fields[key] = value
    return fields


def _validate_faults(value: Any) -> list[dict[str, Any]]:
    """`faults`: [{"action": "AddPermission", "fault": "drop_after", "times": 1}, ...]."""
    if not isinstance(value, list):
        raise ValueError("faults must be a list")
    checked = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"action", "fault", "times"}:
            raise ValueError("each fault is an object with 'action', 'fault' and 'times'")
        if not isinstance(item.get("action"), str) or item.get("fault") not in _FAULT_KINDS:
            raise ValueError(f"a fault needs an 'action' string and a 'fault' in {list(_FAULT_KINDS)}")
        times = item.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("fault 'times' must be an integer >= 1")
        checked.append({"action": item["action"], "fault": item["fault"], "times": times})
    return checked


def _take_targeted_fault(account_id: str, action: str | None) -> str | None:
    """AWS: a fault that hits one action, the next `times` calls of it: as when exactly the
    answer of one write is lost. Each use is consumed."""
    if not action:
        return None
    with _BEHAVIOUR_LOCK:
        for fault in (_BEHAVIOURS.get(account_id) or {}).get("faults") or []:
            if fault["action"] == action and fault["times"] > 0:
                fault["times"] -= 1
                return str(fault["fault"])
    return None


def get_behaviour(account_id: str) -> dict[str, Any]:
    with _BEHAVIOUR_LOCK:
        current = _BEHAVIOURS.get(account_id) or {}
        merged = dict(BEHAVIOUR_DEFAULTS, **current)
        merged["failures"] = [dict(f) for f in merged["failures"]]
        merged["faults"] = [dict(f) for f in merged["faults"]]
    return merged


def set_behaviour(account_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    with _BEHAVIOUR_LOCK:
        current = _BEHAVIOURS.setdefault(account_id, {})
        current.update(fields)
        if "seed" in fields or account_id not in _RNGS:
            _RNGS[account_id] = random.Random(current.get("seed"))
    return get_behaviour(account_id)


def reset_behaviour(account_id: str | None = None) -> None:
    with _BEHAVIOUR_LOCK:
        if account_id is None:
            _BEHAVIOURS.clear()
            _RNGS.clear()
        else:
            _BEHAVIOURS.pop(account_id, None)
            _RNGS.pop(account_id, None)


def stack_pace(account_id: str) -> tuple[float, float]:
    """(stack_seconds, resource_seconds) of the account; a stack operation runs in the
    background when either is above 0."""
    with _BEHAVIOUR_LOCK:
        current = _BEHAVIOURS.get(account_id) or {}
        return float(current.get("stack_seconds") or 0.0), float(current.get("resource_seconds") or 0.0)


def window_seconds(account_id: str, field: str) -> float:
    """One of the account's timing windows (_WINDOW_FIELDS); 0 when off."""
    with _BEHAVIOUR_LOCK:
        return float((_BEHAVIOURS.get(account_id) or {}).get(field) or 0.0)


def within_window(account_id: str, field: str, since: float | None) -> bool:
    """Whether an event at `since` (time.monotonic()) is less than the account's `field` ago."""
    if since is None:
        return False
    window = window_seconds(account_id, field)
    return window > 0 and time.monotonic() - since < window


def resource_pause(pace: tuple[float, float], count: int) -> float:
    """Bench: the pause before each of the `count` resources an operation touches:
    resource_seconds when set (so the operation takes count x resource_seconds), else
    stack_seconds shared out over them."""
    total, each = pace
    if each > 0:
        return each
    return total / max(1, count) if total > 0 else 0.0


def _draw_fault(account_id: str) -> tuple[float, str | None, int]:
    """(latency in seconds, fault kind or None, variant) for one request of the account."""
    with _BEHAVIOUR_LOCK:
        current = _BEHAVIOURS.get(account_id)
        if not current:
            return 0.0, None, 0
        rng = _RNGS.setdefault(account_id, random.Random(current.get("seed")))
        latency = int(current.get("latency_ms") or 0) / 1000.0
        for key, kind in (("drop", "drop"), ("throttle", "throttle"), ("errors_5xx", "5xx"), ("drop_after", "drop_after")):
            share = float(current.get(key) or 0.0)
            if share > 0 and rng.random() < share:
                return latency, kind, (rng.randrange(2) if kind == "5xx" else 0)
        return latency, None, 0


def _injected_failure(stack: Any, logical_id: str) -> str | None:
    """The configured failure reason when this stack's current operation (create or update)
    reaches the resource."""
    if not getattr(stack, "_taegis_inject", False):
        return None
    operation = getattr(stack, "_taegis_op", None)
    for failure in get_behaviour(stack.account_id)["failures"]:
        if (
            failure["stack"] == stack.name
            and failure["resource"] == logical_id
            and (failure["operation"] == operation or (failure["operation"] == "any" and operation in ("create", "update")))
        ):
            return failure["reason"]
    return None


def _delete_failure(stack: Any, logical_id: str) -> str | None:
    """The configured reason when a DeleteStack of this stack reaches the resource ("delete"
    failures only: "any" never fails a delete)."""
    for failure in get_behaviour(stack.account_id)["failures"]:
        if failure["stack"] == stack.name and failure["resource"] == logical_id and failure["operation"] == "delete":
            return failure["reason"]
    return None


class InjectedFailure(Exception):
    """A resource failure configured through /_taegis/behaviour."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.message = reason
        self._taegis_reason = reason


# ---------------------------------------------------------------------------------------------
# (a) AWS::SecretsManager::Secret in CloudFormation, backed by moto's Secrets Manager backend.
# AWS: Ref and Fn::GetAtt Id return the secret ARN; deleting the stack deletes the secret.
# ---------------------------------------------------------------------------------------------


def _generate_secret_string(spec: dict[str, Any]) -> str:
    """AWS: GenerateSecretString (PasswordLength, Exclude*, SecretStringTemplate/GenerateStringKey)."""
    length = int(spec.get("PasswordLength", 32))
    alphabet = ""
    if str(spec.get("ExcludeLowercase", "false")).lower() != "true":
        alphabet += string.ascii_lowercase
    if str(spec.get("ExcludeUppercase", "false")).lower() != "true":
        alphabet += string.ascii_uppercase
    if str(spec.get("ExcludeNumbers", "false")).lower() != "true":
        alphabet += string.digits
    if str(spec.get("ExcludePunctuation", "false")).lower() != "true":
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if str(spec.get("IncludeSpace", "false")).lower() == "true":
        alphabet += " "
    excluded = spec.get("ExcludeCharacters", "")
    alphabet = "".join(c for c in alphabet if c not in excluded) or string.ascii_letters
    password = "".join(_secrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template and key:
        doc = json.loads(template)
        doc[key] = password
        return json.dumps(doc)
    return password


def _force_delete_secret(account_id: str, region_name: str, secret_id: str) -> None:
    try:
        secretsmanager_backends[account_id][region_name].delete_secret(
            secret_id=secret_id,
            recovery_window_in_days=None,
            force_delete_without_recovery=True,
        )
    except Exception:  # already gone: nothing to do, as CloudFormation on AWS
        pass


class TaegisSecret(CloudFormationModel):
    # moto's model metaclass files models under the second component of the module name.
    __module__ = "taegis.secretsmanager.models"

    def __init__(self, account_id: str, region_name: str, arn: str, name: str):
        self.account_id = account_id
        self.region_name = region_name
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ["Id"]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.arn
        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _secret_string(properties: dict[str, Any]) -> str | None:
        if properties.get("SecretString") is not None:
            return str(properties["SecretString"])
        if properties.get("GenerateSecretString") is not None:
            return _generate_secret_string(properties["GenerateSecretString"])
        return None

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "TaegisSecret":
        properties = cloudformation_json.get("Properties", {}) or {}
        backend = secretsmanager_backends[account_id][region_name]
        created = backend.create_secret(
            name=resource_name,
            secret_string=cls._secret_string(properties),
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        info = json.loads(created) if isinstance(created, str) else created
        return cls(account_id, region_name, info["ARN"], info["Name"])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "TaegisSecret",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "TaegisSecret":
        properties = cloudformation_json.get("Properties", {}) or {}
        if properties.get("Name") and properties["Name"] != original_resource.name:
            # AWS: a new Name means replacement.
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            _force_delete_secret(account_id, region_name, original_resource.arn)
            return new
        backend = secretsmanager_backends[account_id][region_name]
        secret = backend.secrets[original_resource.name]
        current = getattr(secret, "secret_string", None)
        if properties.get("SecretString") is not None and str(properties["SecretString"]) != current:
            backend.update_secret(
                secret_id=original_resource.name,
                secret_string=str(properties["SecretString"]),
                client_request_token=str(uuid.uuid4()),
                kms_key_id=properties.get("KmsKeyId"),
                description=properties.get("Description"),
            )
        else:
            # Metadata only: no new secret version, as on AWS.
            secret.description = properties.get("Description")
            secret.kms_key_id = properties.get("KmsKeyId") or backend.DEFAULT_KMS_KEY_ALIAS
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        _force_delete_secret(account_id, region_name, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        # AWS: a stack deleting its secret deletes it at once (no recovery window is left to the
        # user, and the name can be reused by the next deploy).
        _force_delete_secret(account_id, region_name, self.name)


def _refresh_model_maps() -> None:
    # moto builds its type map from CloudFormationModel.__subclasses__() behind lru_caches.
    for fn in (
        cfn_parsing.get_model_list,
        cfn_parsing.get_model_map,
        cfn_parsing.get_name_type_map,
    ):
        fn.cache_clear()


def _install_secret_model() -> None:
    _refresh_model_maps()
    assert cfn_parsing.get_model_map()["AWS::SecretsManager::Secret"] is TaegisSecret


# ---------------------------------------------------------------------------------------------
# (t) AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy in CloudFormation.
# AWS: the PolicyDocument becomes the Policy of every queue (Queues: URLs, what !Ref of a queue
# gives) or topic (Topics: ARNs) listed; an update replaces it and clears it on the ones no
# longer listed; deleting the resource removes it (a queue has no Policy any more, a topic gets
# back the default policy AWS gives a new topic).  Ref and Fn::GetAtt Id are the id the stack
# generates (STACK-LOGICALID-SUFFIX).  moto had neither type: the stack skipped them and the
# policies were never set.  Every step runs under the account's CloudFormation lock (API call
# or background worker); a policy is replaced as a whole, never changed in place.
# ---------------------------------------------------------------------------------------------


class PropertiesValidationFailed(Exception):
    """AWS's schema check of a resource's properties; the text is the whole ResourceStatusReason."""

    def __init__(self, logical_id: str, message: str):
        reason = f"Properties validation failed for resource {logical_id} with message:\n{message}"
        super().__init__(reason)
        self.message = reason
        self._taegis_reason = reason


def _json_type(value: Any) -> str:
    return {dict: "JSONObject", list: "JSONArray", str: "String", bool: "Boolean"}.get(type(value), type(value).__name__)


def _policy_document_text(document: Any, logical_id: str) -> str:
    """PolicyDocument, given as an object or as a string holding one, as JSON text."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise ValueError("Invalid value for the parameter Policy.") from None
    if not isinstance(document, dict):
        raise PropertiesValidationFailed(logical_id, f"#/PolicyDocument: expected type: JSONObject, found: {_json_type(document)}")
    return json.dumps(document)


def _sqs_queue_at(url: str, account_id: str, region_name: str) -> Any:
    """The queue a QueueUrl names, in the stack's account and region."""
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    parts = str(url).rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != account_id:
        raise QueueDoesNotExist()
    return sqs_backends[account_id][region_name].get_queue(parts[-1])


def _set_queue_policy(queue: Any, text: str | None) -> None:
    queue.policy = text  # None: no Policy attribute any more


def _sns_topic_at(arn: str, account_id: str, region_name: str) -> Any:
    """The topic an ARN names, in the stack's account and region."""
    from moto.sns.exceptions import TopicNotFound
    from moto.sns.models import sns_backends

    topic = sns_backends[account_id][region_name].topics.get(str(arn))
    if topic is None:
        raise TopicNotFound
    return topic


def _set_topic_policy(topic: Any, text: str | None) -> None:
    if text is None:  # AWS: back to the policy of a new topic
        topic._policy_json = topic._create_default_topic_policy(topic.sns_backend.region_name, topic.account_id, topic.name)
    else:
        topic.policy = text


class _ResourcePolicyModel:
    """What AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy share (a mixin: moto's type map
    takes only direct subclasses of CloudFormationModel)."""

    TARGETS = ""  # the property that lists the queues / topics
    find: Any = None  # (target, account_id, region_name) -> queue / topic; raises when missing
    apply: Any = None  # (queue / topic, JSON text or None)

    def __init__(self, account_id: str, region_name: str, policy_id: str, targets: list[str], text: str):
        self.account_id = account_id
        self.region_name = region_name
        self.policy_id = policy_id
        self.targets = targets
        self.text = text

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""  # no name property: moto generates STACK-LOGICALID-SUFFIX, as AWS does

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ["Id"]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.policy_id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _properties(cls, logical_id: str, cloudformation_json: dict[str, Any]) -> tuple[list[str], str]:
        properties = cloudformation_json.get("Properties") or {}
        for key in (cls.TARGETS, "PolicyDocument"):
            if properties.get(key) is None:
                raise PropertiesValidationFailed(logical_id, f"#: required key [{key}] not found")
        targets = properties[cls.TARGETS]
        if not isinstance(targets, list):
            raise PropertiesValidationFailed(logical_id, f"#/{cls.TARGETS}: expected type: JSONArray, found: {_json_type(targets)}")
        return [str(t) for t in targets], _policy_document_text(properties["PolicyDocument"], logical_id)

    @classmethod
    def _set_all(cls, targets: list[str], text: str, account_id: str, region_name: str) -> None:
        found = [cls.find(t, account_id, region_name) for t in targets]  # all exist, or nothing changes
        for item in found:
            cls.apply(item, text)

    def _clear(self, targets: list[str]) -> None:
        for target in targets:
            try:
                found = type(self).find(target, self.account_id, self.region_name)
            except Exception:  # gone already: nothing to remove
                continue
            type(self).apply(found, None)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        targets, text = cls._properties(kwargs.get("LogicalId") or resource_name, cloudformation_json)
        cls._set_all(targets, text, account_id, region_name)
        return cls(account_id, region_name, resource_name, targets, text)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # AWS: no replacement (same physical id); the targets left out lose the policy.
        logical_id = getattr(original_resource, "logical_resource_id", None) or new_resource_name
        targets, text = cls._properties(logical_id, cloudformation_json)
        cls._set_all(targets, text, account_id, region_name)
        original_resource._clear([t for t in original_resource.targets if t not in targets])
        original_resource.targets, original_resource.text = targets, text
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        pass  # moto calls delete() on the model; the targets are known only there

    def delete(self, account_id: str, region_name: str) -> None:
        self._clear(self.targets)


class TaegisQueuePolicy(_ResourcePolicyModel, CloudFormationModel):
    __module__ = "taegis.sqs.models"  # see TaegisSecret
    TARGETS = "Queues"
    find = staticmethod(_sqs_queue_at)
    apply = staticmethod(_set_queue_policy)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"


class TaegisTopicPolicy(_ResourcePolicyModel, CloudFormationModel):
    __module__ = "taegis.sns.models"
    TARGETS = "Topics"
    find = staticmethod(_sns_topic_at)
    apply = staticmethod(_set_topic_policy)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"


def _install_resource_policy_models() -> None:
    _refresh_model_maps()
    model_map = cfn_parsing.get_model_map()
    assert model_map["AWS::SQS::QueuePolicy"] is TaegisQueuePolicy
    assert model_map["AWS::SNS::TopicPolicy"] is TaegisTopicPolicy


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


# ---------------------------------------------------------------------------------------------
# (c) + (h) S3 bucket notifications.
# AWS: GetBucketNotificationConfiguration answers <NotificationConfiguration> (empty when there
# is none) and returns EventBridgeConfiguration; PutBucketNotificationConfiguration refuses
# overlapping configurations (and destinations S3 cannot deliver to, see (p)).
# (x) behaviour notification_stale_seconds.  AWS: the configuration is eventually consistent:
# a read just after a write may still answer the configuration from before it.  Within the
# bucket owner's notification_stale_seconds of the last successful write, a read answers the
# configuration as it was before that write; validation and writes use the current one.
# ---------------------------------------------------------------------------------------------

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _notification_xml(config: Any) -> str:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<NotificationConfiguration xmlns="{S3_NS}">']
    if config is not None:
        for items, element, arn_element in (
            (config.topic, "TopicConfiguration", "Topic"),
            (config.queue, "QueueConfiguration", "Queue"),
            (config.cloud_function, "CloudFunctionConfiguration", "CloudFunction"),
        ):
            for item in items:
                parts.append(f"<{element}><Id>{_xml_escape(item.id)}</Id>")
                parts.append(f"<{arn_element}>{_xml_escape(item.arn)}</{arn_element}>")
                for event in item.events:
                    parts.append(f"<Event>{_xml_escape(event)}</Event>")
                rules = (item.filters or {}).get("S3Key", {}).get("FilterRule", [])
                if rules:
                    parts.append("<Filter><S3Key>")
                    for rule in rules:
                        parts.append(
                            f"<FilterRule><Name>{_xml_escape(rule['Name'])}</Name>"
                            f"<Value>{_xml_escape(rule['Value'])}</Value></FilterRule>"
                        )
                    parts.append("</S3Key></Filter>")
                parts.append(f"</{element}>")
        if getattr(config, "event_bridge", None) is not None:
            parts.append("<EventBridgeConfiguration/>")
    parts.append("</NotificationConfiguration>")
    return "".join(parts)


def _get_bucket_notification(self: Any) -> Any:
    self.data["Action"] = "GetBucketNotificationConfiguration"
    bucket = self.backend.get_bucket(self.bucket_name)
    config = bucket.notification_configuration
    # (x) within the owner's notification_stale_seconds of the last write: what was there before it.
    before, written = bucket.__dict__.get("_taegis_notification_before") or (None, None)
    if within_window(bucket.account_id, "notification_stale_seconds", written):
        config = before
    return 200, {"Content-Type": "application/xml"}, _notification_xml(config)


def _filter_value(entry: dict[str, Any], name: str) -> str:
    rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("FilterRule") or []
    if isinstance(rules, dict):
        rules = [rules]
    for rule in rules:
        if str(rule.get("Name", "")).lower() == name:
            return str(rule.get("Value") or "")
    return ""


def _events_overlap(a: str, b: str) -> bool:
    if a == b:
        return True
    for x, y in ((a, b), (b, a)):
        if x.endswith(":*") and y.startswith(x[:-1]):
            return True
    return False


def _check_overlap(entries: list[tuple[str, dict[str, Any]]]) -> None:
    for i, (_, a) in enumerate(entries):
        for _, b in entries[i + 1 :]:
            pa, pb = _filter_value(a, "prefix"), _filter_value(b, "prefix")
            sa, sb = _filter_value(a, "suffix"), _filter_value(b, "suffix")
            if not (pa.startswith(pb) or pb.startswith(pa)):
                continue
            if not (sa.endswith(sb) or sb.endswith(sa)):
                continue
            if any(_events_overlap(x, y) for x in a.get("Event", []) for y in b.get("Event", [])):
                raise InvalidArgumentError(
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                    "Event",
                    ",".join(a.get("Event", [])),
                )


# ---------------------------------------------------------------------------------------------
# Resource policies (queue, topic, function and bucket policies), as far as the checks below
# need them.  AWS: an explicit Deny wins; otherwise a matching Allow grants.  A statement applies
# when its principal, action, resource and every condition match.  Only the condition keys the
# caller knows (aws:SourceArn, aws:SourceAccount, aws:PrincipalAccount) can hold: a statement with
# any other key (e.g. SNS's default AWS:SourceOwner statement) grants and denies nothing, and
# NotPrincipal/NotAction/NotResource statements are left out likewise.
# ---------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _wildcard_re(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def _wildcard(pattern: Any, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: * any run of characters, ? one character."""
    return bool(_wildcard_re(str(pattern), ignore_case).match(value))


_CONDITION_TESTS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: _wildcard(expected, actual),
    "ArnEquals": lambda actual, expected: _wildcard(expected, actual),
    "ArnLike": lambda actual, expected: _wildcard(expected, actual),
}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    op = operator.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: (the keys here are single-valued)
    if_exists = op.endswith("IfExists")
    op = op[: -len("IfExists")] if if_exists else op
    actual = context.get(key.lower())
    if actual is None:
        return if_exists
    negated = "Not" in op
    test = _CONDITION_TESTS.get(op.replace("Not", "", 1))
    if test is None:
        return False
    return any(test(actual, str(e)) for e in _as_list(expected)) != negated


def _principal_matches(principal: Any, who: dict[str, set[str]]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for kind, values in principal.items():
        for value in _as_list(values):
            if (kind == "AWS" and value == "*") or str(value) in who.get(kind, set()):
                return True
    return False


def _statement_applies(st: dict[str, Any], action: str, resource: str | None, who: dict[str, set[str]], context: dict[str, str]) -> bool:
    if any(k in st for k in ("NotPrincipal", "NotAction", "NotResource")):
        return False
    if not _principal_matches(st.get("Principal"), who):
        return False
    if not any(_wildcard(p, action, ignore_case=True) for p in _as_list(st.get("Action"))):
        return False
    if resource is not None and "Resource" in st and not any(_wildcard(p, resource) for p in _as_list(st["Resource"])):
        return False
    conditions = st.get("Condition") or {}
    return all(
        _condition_holds(op, key, expected, context)
        for op, pairs in conditions.items()
        for key, expected in (pairs or {}).items()
    )


def policy_allows(statements: Any, action: str, resource: str | None, who: dict[str, set[str]], context: dict[str, str]) -> bool:
    allowed = False
    for st in _as_list(statements):
        if not isinstance(st, dict) or not _statement_applies(st, action, resource, who, context):
            continue
        if st.get("Effect") == "Deny":
            return False
        allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def _policy_statements(policy: Any) -> Any:
    """The statements of a policy given as JSON text (str/bytes) or a parsed document."""
    if isinstance(policy, (bytes, str)):
        try:
            policy = json.loads(policy)
        except ValueError:
            return []
    return (policy or {}).get("Statement") if isinstance(policy, dict) else []


# ---------------------------------------------------------------------------------------------
# (p) PutBucketNotificationConfiguration validates every destination of the configuration.
# AWS: each write checks the whole configuration: an ARN that does not parse, or one in another
# region than the bucket, is refused first (400 InvalidArgument, one ArgumentName/ArgumentValue);
# then each queue, topic and function must exist and let s3.amazonaws.com deliver from this
# bucket (aws:SourceArn / aws:SourceAccount honoured): 400 InvalidArgument "Unable to validate
# the following destination configurations" with one ArgumentNameN/ArgumentValueN pair per
# refused destination.  moto checked nothing but the region, and stored the refused
# configuration anyway.
# ---------------------------------------------------------------------------------------------


class S3Refusal(Exception):
    """An S3 error answered with AWS's exact body (numbered arguments, Endpoint, ...)."""

    def __init__(self, status: int, code: str, message: str, extra: str = "", headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra, self.headers = extra, list(headers or [])

    def parts(self, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        headers, body = _s3_error(self.code, self.message, self.extra)
        data = b"" if method == "HEAD" else body.encode("utf-8")  # AWS: a HEAD error has headers only
        return self.status, headers + self.headers + [("Content-Length", str(len(data)))], data


def _answer_refusals(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, request: Any, full_url: str) -> Any:
        try:
            return method(self, request, full_url)
        except S3Refusal as refusal:
            status, headers, body = refusal.parts(request.method)
            return status, {k: v for k, v in headers if k.lower() != "content-length"}, body

    return wrapper


NOTIFICATION_REGION_MESSAGE = "The notification destination service region is not valid for the bucket location constraint"
UNABLE_TO_VALIDATE = "Unable to validate the following destination configurations"
QUEUE_MISSING = "The destination queue does not exist"
QUEUE_REFUSES = "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"
TOPIC_MISSING = "The destination topic does not exist"
TOPIC_REFUSES = "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"


def _argument(name: str, value: str, n: int | str = "") -> str:
    return f"<ArgumentName{n}>{_xml_escape(name)}</ArgumentName{n}><ArgumentValue{n}>{_xml_escape(value)}</ArgumentValue{n}>"


def _notification_entries(config: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """(kind, entry) of each destination: kind is the ARN's element (Topic, Queue, CloudFunction)."""
    entries = []
    for kind in ("Topic", "Queue", "CloudFunction"):
        for entry in (config or {}).get(f"{kind}Configuration") or []:
            entries.append((kind, entry))
    return entries


def _check_destination_arns(bucket: Any, entries: list[tuple[str, dict[str, Any]]]) -> None:
    for kind, entry in entries:
        arn = str(entry.get(kind) or "")
        parts = arn.split(":")
        if len(parts) < 6 or not parts[3] or not parts[4]:
            raise S3Refusal(400, "InvalidArgument", "The ARN could not be parsed", _argument(kind, arn))
        if parts[3] != bucket.region_name:
            raise S3Refusal(400, "InvalidArgument", NOTIFICATION_REGION_MESSAGE, _argument(kind, arn))


def _s3_sender(bucket: Any) -> tuple[dict[str, set[str]], dict[str, str]]:
    """S3 delivering for this bucket: (principal, condition context)."""
    context = {"aws:sourcearn": f"arn:{bucket.partition}:s3:::{bucket.name}", "aws:sourceaccount": bucket.account_id}
    return {"Service": {"s3.amazonaws.com"}}, context


def _queue_refusal(arn: str, bucket: Any) -> tuple[str, str] | None:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = arn.split(":", 5)
    try:
        queue = sqs_backends[account][region].queues.get(name)
    except Exception:
        queue = None
    if queue is None:
        return arn, QUEUE_MISSING
    who, context = _s3_sender(bucket)
    if not policy_allows(_policy_statements(queue.policy), "sqs:SendMessage", arn, who, context):
        return arn, QUEUE_REFUSES
    return None


def _topic_refusal(arn: str, bucket: Any) -> tuple[str, str] | None:
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = arn.split(":", 5)
    try:
        topic = sns_backends[account][region].topics.get(arn)
    except Exception:
        topic = None
    if topic is None:
        return arn, TOPIC_MISSING
    who, context = _s3_sender(bucket)
    if not policy_allows(_policy_statements(topic.policy), "sns:Publish", arn, who, context):
        return arn, TOPIC_REFUSES
    return None


def _function_refusal(arn: str, bucket: Any) -> tuple[str, str] | None:
    # AWS names a function "ARN, null" and gives the same reason whether it is missing or only
    # closed to S3.
    refused = (f"{arn}, null", f"Not authorized to invoke function [{arn}]")
    _, _, _, region, account, _ = arn.split(":", 5)
    try:
        fn = get_lambda_backend(account, region).get_function(arn)
    except Exception:
        return refused
    statements = settled_statements(fn.policy, fn.account_id)  # (w) new ones not yet
    who, context = _s3_sender(bucket)
    return None if policy_allows(statements, "lambda:InvokeFunction", None, who, context) else refused


_DESTINATION_CHECKS = {"Queue": _queue_refusal, "Topic": _topic_refusal, "CloudFunction": _function_refusal}


def _check_destinations(bucket: Any, entries: list[tuple[str, dict[str, Any]]]) -> None:
    refused: dict[str, str] = {}
    for kind, entry in entries:
        found = _DESTINATION_CHECKS[kind](str(entry[kind]), bucket)
        if found is not None:
            refused.setdefault(*found)
    if refused:
        extra = "".join(_argument(name, reason, n) for n, (name, reason) in enumerate(refused.items(), 1))
        raise S3Refusal(400, "InvalidArgument", UNABLE_TO_VALIDATE, extra)


_orig_put_notification = s3_models.S3Backend.put_bucket_notification_configuration
_NOTIFICATION_LOCK = threading.Lock()


def _put_bucket_notification_configuration(self: Any, bucket_name: str, notification_config: dict[str, Any]) -> None:
    bucket = self.get_bucket(bucket_name)
    entries = _notification_entries(notification_config)
    _check_destination_arns(bucket, entries)
    _check_overlap(entries)
    _check_destinations(bucket, entries)
    with _NOTIFICATION_LOCK:
        before = bucket.notification_configuration  # replaced, never changed in place, by moto
        result = _orig_put_notification(self, bucket_name, notification_config)
        # (x) what a read within notification_stale_seconds answers, and since when.
        bucket._taegis_notification_before = (before, time.monotonic())
    return result


# ---------------------------------------------------------------------------------------------
# (v) New buckets are private and encrypted.
# AWS: since 2023 every new bucket has S3 Block Public Access on (all four settings) and default
# encryption with S3-managed keys (SSE-S3, AES256, no bucket key), whoever creates it
# (CreateBucket or CloudFormation).  moto made buckets with neither: GetPublicAccessBlock and
# GetBucketEncryption answered "not found".
# ---------------------------------------------------------------------------------------------

_moto_create_bucket = s3_models.S3Backend.create_bucket


def _create_bucket_as_aws(self: Any, bucket_name: str, region_name: str, *args: Any, **kwargs: Any) -> Any:
    bucket = _moto_create_bucket(self, bucket_name, region_name, *args, **kwargs)
    if bucket.public_access_block is None:
        bucket.public_access_block = s3_models.PublicAccessBlock(True, True, True, True)
    if bucket.encryption is None:
        bucket.encryption = {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                      "BucketKeyEnabled": False}}
    return bucket


s3_models.S3Backend.create_bucket = _create_bucket_as_aws


# ---------------------------------------------------------------------------------------------
# (q) S3 bucket ownership, ExpectedBucketOwner, bucket policies and the bucket's region.
# AWS: a bucket belongs to the account that created it.  A request signed for another region
# than the bucket's gets 301 PermanentRedirect (with x-amz-bucket-region), except GetBucketLocation
# (any region).  x-amz-expected-bucket-owner naming another account: 403 AccessDenied.  Another
# account's request: 403 AccessDenied unless the bucket policy grants that account the action
# (Get/Put/DeleteBucketPolicy then answer 405: only the owner's account may use them).  moto
# served every request whatever its account, region or expected owner.
# ---------------------------------------------------------------------------------------------

PERMANENT_REDIRECT = (
    "The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint."
)
# Operations that name no existing bucket, or that AWS answers from any region.
_S3_UNGUARDED = frozenset({"CreateBucket", "ListBuckets", "ListDirectoryBuckets"})
_S3_ANY_REGION = frozenset({"GetBucketLocation"})
_S3_OWNER_ACCOUNT_ONLY = frozenset({"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"})
# The IAM action a bucket policy must grant, by operation ("s3:" + the operation otherwise).
_S3_IAM_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "HeadObject": "s3:GetObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObjects": "s3:DeleteObject",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "ListBuckets": "s3:ListAllMyBuckets",
    "ListParts": "s3:ListMultipartUploadParts",
    "UploadPartCopy": "s3:PutObject",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
}


def s3_iam_action(operation: str) -> str:
    """The IAM action AWS checks for an S3 operation (botocore's name): row q and row u."""
    operation = _S3_ACTION_ALIASES.get(operation, operation)
    return _S3_IAM_ACTIONS.get(operation, f"s3:{operation}")


def _s3_route(environ: dict[str, Any]) -> dict[str, str]:
    """The URI parameters (Bucket, Key) of an S3 request, path-style or virtual-hosted."""
    try:
        _, params = get_service_router("s3").match(MotoRequest(environ, shallow=True))
    except Exception:
        return {}
    return params or {}


def _bucket_named(name: str | None) -> Any:
    info = s3_models.s3_backends.bucket_accounts.get(name or "")
    if info is None:
        return None
    partition, account = info
    return s3_models.s3_backends[account][partition].buckets.get(name)


def _s3_endpoint(bucket: Any) -> str:
    suffix = ".amazonaws.com.cn" if bucket.partition == "aws-cn" else ".amazonaws.com"
    region = "" if bucket.region_name == "us-east-1" else f".{bucket.region_name}"
    return f"{bucket.name}.s3{region}{suffix}"


def _permanent_redirect(bucket: Any) -> S3Refusal:
    extra = f"<Endpoint>{_xml_escape(_s3_endpoint(bucket))}</Endpoint><Bucket>{_xml_escape(bucket.name)}</Bucket>"
    return S3Refusal(301, "PermanentRedirect", PERMANENT_REDIRECT, extra, [("x-amz-bucket-region", bucket.region_name)])


def _access_denied(bucket: Any, action: str) -> S3Refusal:
    # HeadBucket tells the bucket's region even when it refuses.
    headers = [("x-amz-bucket-region", bucket.region_name)] if action == "HeadBucket" else []
    return S3Refusal(403, "AccessDenied", "Access Denied", headers=headers)


def _caller(entry: dict[str, Any]) -> tuple[dict[str, set[str]], dict[str, str]]:
    """The requester as a bucket policy's principal: its account, account root, assumed role."""
    from moto.sts.models import sts_backends

    account, partition = entry["account"], get_partition(entry["region"])
    names = {account, f"arn:{partition}:iam::{account}:root"}
    try:
        role = sts_backends[account][partition].get_assumed_role_from_access_key(entry["access_key"])
    except Exception:
        role = None
    if role is not None:
        names.update({role.role_arn, role.arn})
    return {"AWS": names}, {"aws:principalaccount": account}


def _cross_account_refusal(bucket: Any, entry: dict[str, Any], key: str | None) -> S3Refusal | None:
    action = entry["action"]
    resource = f"arn:{bucket.partition}:s3:::{bucket.name}" + (f"/{key}" if key else "")
    who, context = _caller(entry)
    if not policy_allows(_policy_statements(bucket.policy), s3_iam_action(action), resource, who, context):
        return _access_denied(bucket, action)
    if action in _S3_OWNER_ACCOUNT_ONLY:
        method = f"<Method>{_xml_escape(entry['method'])}</Method>"
        return S3Refusal(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", method)
    return None


def s3_refusal(environ: dict[str, Any], entry: dict[str, Any]) -> S3Refusal | None:
    """What AWS answers instead of the operation, or None when it goes ahead."""
    action = entry.get("action")
    if not action or action in _S3_UNGUARDED:
        return None
    params = _s3_route(environ)
    bucket = _bucket_named(params.get("Bucket"))
    if bucket is None:
        return None  # moto answers NoSuchBucket
    if action not in _S3_ANY_REGION and bucket.region_name != entry["region"]:
        return _permanent_redirect(bucket)
    expected = environ.get("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER")
    if expected and expected != bucket.account_id:
        return _access_denied(bucket, action)
    if entry["account"] == bucket.account_id:
        return None
    return _cross_account_refusal(bucket, entry, params.get("Key"))


# ---------------------------------------------------------------------------------------------
# (d) `!If [cond, x, !Ref AWS::NoValue]` inside a list.
# AWS: the element is removed from the list instead of leaving a null.
# ---------------------------------------------------------------------------------------------

_orig_clean_json = cfn_parsing.clean_json


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    result = _orig_clean_json(resource_json, resources_map)
    if isinstance(resource_json, list) and isinstance(result, list):
        # Only intrinsic functions (dicts) can turn into AWS::NoValue; keep literal nulls.
        result = [r for r, src in zip(result, resource_json) if not (r is None and isinstance(src, dict))]
    return result


# ---------------------------------------------------------------------------------------------
# (e) NoEcho parameters.
# AWS: DescribeStacks shows NoEcho parameter values as '****' (moto compares values with keys).
# ---------------------------------------------------------------------------------------------


def _parameter_list(self: Any) -> list[dict[str, Any]]:
    slots = (self.template_dict or {}).get("Parameters") or {}
    resolved = getattr(self.resource_map, "resolved_parameters", {})
    result = []
    for key in list(resolved):
        slot = slots.get(key) or {}
        if key in (self.parameters or {}):
            value = self.parameters[key]
        else:
            value = slot.get("Default")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        no_echo = str(slot.get("NoEcho", "false")).lower() == "true"
        entry = {"ParameterKey": key, "ParameterValue": "****" if no_echo else (None if value is None else str(value))}
        if str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::") and not no_echo:
            rv = resolved[key]
            entry["ResolvedValue"] = ",".join(rv) if isinstance(rv, list) else str(rv)
        result.append(entry)
    return result


# ---------------------------------------------------------------------------------------------
# (f) ListImports, (h) delete of an imported export, (h) no-op UpdateStack.
# AWS: ListImports names the stacks importing an export; DeleteStack of a stack whose export
# is imported leaves the stack in place with StackStatusReason "Export X cannot be deleted as
# it is in use by Y" (DeleteStack itself answers 200, the refusal shows in the stack and its
# events); UpdateStack with nothing to change fails "No updates are to be performed.".
# ---------------------------------------------------------------------------------------------


def _import_value_nodes(node: Any) -> list[Any]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue":
                found.append(value)
            else:
                found.extend(_import_value_nodes(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_import_value_nodes(item))
    return found


def _stack_imports(stack: Any) -> set[str]:
    if getattr(stack, "_taegis_dead", False) or stack.status in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
        return set()
    names = set()
    for node in _import_value_nodes(stack.template_dict or {}):
        if isinstance(node, str):
            names.add(node)
            continue
        try:
            value = _clean_json(node, stack.resource_map)
        except Exception:
            continue
        if isinstance(value, str):
            names.add(value)
    return names


def importing_stacks(backend: Any, export_name: str, exclude_stack_id: str | None = None) -> list[str]:
    return [
        s.name
        for s in list(backend.stacks.values())
        if s.stack_id != exclude_stack_id and export_name in _stack_imports(s)
    ]


def _list_imports(self: Any) -> ActionResult:
    export_name = self._get_param("ExportName")
    names = importing_stacks(self.cloudformation_backend, export_name)
    if not names:
        raise ValidationError(message=f"Export '{export_name}' is not imported by any stack.")
    return ActionResult({"Imports": names})


def _effective_parameters(template_dict: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    slots = (template_dict or {}).get("Parameters") or {}
    result = {}
    for key, slot in slots.items():
        value = given[key] if key in given else (slot or {}).get("Default")
        result[key] = ",".join(map(str, value)) if isinstance(value, list) else (None if value is None else str(value))
    return result


def _validate_different_update(self: Any, incoming_params: Any, stack_body: Any, old_stack: Any) -> None:
    if self._get_action() != "UpdateStack":
        return  # CreateChangeSet: moto marks an empty change set FAILED, as AWS does
    if not stack_body:
        return
    try:
        new_template = cfn_models.Stack.parse_template(stack_body)
    except Exception:
        return
    try:
        # moto fills in the stack's template_dict (e.g. "Properties": {}): compare the texts' parses.
        old_template = cfn_models.Stack.parse_template(old_stack.template)
    except Exception:
        old_template = old_stack.template_dict
    if new_template != old_template:
        return
    given = {}
    for p in incoming_params or []:
        if p.get("UsePreviousValue"):
            if p["ParameterKey"] in (old_stack.parameters or {}):
                given[p["ParameterKey"]] = old_stack.parameters[p["ParameterKey"]]
        elif "ParameterValue" in p:
            given[p["ParameterKey"]] = p["ParameterValue"]
    old = _effective_parameters(old_stack.template_dict, old_stack.parameters or {})
    new = _effective_parameters(new_template, given)
    if old != new:
        return
    tags = {t["Key"]: t["Value"] for t in (self._get_param("Tags", []) or [])}
    if tags and tags != (old_stack.tags or {}):
        return
    raise ValidationError(old_stack.name, message="No updates are to be performed.")


# ---------------------------------------------------------------------------------------------
# (g) Deleted (and rolled back) stacks stay dead.
# AWS: a deleted stack shows no Outputs and nothing re-creates its resources; moto's lazy
# resource map would otherwise re-create them when outputs are resolved again.
# ---------------------------------------------------------------------------------------------

_NO_SNAPSHOT = object()
# _TL.stack_id: the stack whose background operation this thread runs (see _start_worker).
_TL = threading.local()


def _mark_dead(stack: Any) -> None:
    stack._taegis_dead = True
    stack.resource_map._taegis_dead = True


def _is_worker_for(stack_id: str | None) -> bool:
    return stack_id is not None and getattr(_TL, "stack_id", None) == stack_id


_orig_rm_getitem = cfn_parsing.ResourceMap.__getitem__


def _rm_getitem(self: Any, key: str) -> Any:
    if key not in self._parsed_resources and key in self._resource_json_map:
        if getattr(self, "_taegis_dead", False) or getattr(self, "_taegis_frozen", False):
            # Dead, or DELETE_FAILED: what the delete removed stays removed.
            return None
        if getattr(self, "_taegis_busy", False) and not _is_worker_for(self.stack_id):
            # An operation runs in the background: only its worker creates resources.
            return None
    return _orig_rm_getitem(self, key)


_orig_outputs = cfn_models.Stack.outputs
_orig_exports = cfn_models.Stack.exports


def _outputs(self: Any) -> Any:
    if getattr(self, "_taegis_dead", False):
        return None
    snapshot = getattr(self, "_taegis_outputs_snapshot", _NO_SNAPSHOT)
    if snapshot is not _NO_SNAPSHOT:
        return snapshot  # AWS: during an update or delete the stack shows its previous outputs
    if getattr(self, "_taegis_busy", False) and not _is_worker_for(self.stack_id):
        return None  # AWS: no outputs before CREATE_COMPLETE
    if getattr(self, "_taegis_exports_pending", False):
        return None
    return _orig_outputs.fget(self)


def _exports(self: Any) -> Any:
    if getattr(self, "_taegis_dead", False):
        return []
    if getattr(self.resource_map, "_taegis_frozen", False):
        # DELETE_FAILED: the exports it had (some of the resources they name are gone).
        backend = cfn_models.cloudformation_backends[self.account_id][self.region_name]
        return [e for e in list(backend.exports.values()) if e.exporting_stack_id == self.stack_id]
    if getattr(self, "_taegis_busy", False) and not _is_worker_for(self.stack_id):
        return []
    return _orig_exports.fget(self)


class _PendingResource:
    """A resource whose operation has started but that has no model (yet, or any more)."""

    def __init__(self, logical_id: str, resource_type: str):
        self.logical_resource_id = logical_id
        self.cf_resource_type = resource_type
        self.physical_resource_id = None


def _is_model(value: Any) -> bool:
    return value is not None and not isinstance(value, (str, int, float, bool, list, dict))


def _physical(resource: Any) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")


def _stack_resources(self: Any) -> Any:
    if getattr(self, "_taegis_dead", False):
        return []
    # Never creates anything (moto's lazy map would): created resources, plus those whose
    # operation is under way or failed.  Resources whose condition is false do not exist (moto
    # lists them as empty entries).
    rm = self.resource_map
    parsed = dict(rm._parsed_resources)
    last = _last_events(self)
    result = []
    for logical_id, resource_json in list(rm._resource_json_map.items()):
        resource = parsed.get(logical_id)
        if _is_model(resource):
            result.append(resource)
            continue
        event = last.get(logical_id)
        if event is not None and (event.resource_status.endswith("_IN_PROGRESS") or event.resource_status.endswith("_FAILED")):
            result.append(_PendingResource(logical_id, (resource_json or {}).get("Type", "")))
    return result


# ---------------------------------------------------------------------------------------------
# Stack operations: resource-level events, rollback, asynchronous operations, injected failures.
# AWS: CreateStack accepts the request; a resource that fails shows CREATE_FAILED with the
# service's message, resources still in progress are cancelled and the stack rolls back
# (ROLLBACK_IN_PROGRESS -> deletes -> ROLLBACK_COMPLETE); a failed update rolls back to the
# previous template and parameters (UPDATE_ROLLBACK_IN_PROGRESS -> ... -> UPDATE_ROLLBACK_COMPLETE).
# Template and parameter errors (ValidationError) are still refused by the API call itself.
#
# With behaviour stack_seconds or resource_seconds > 0, CreateStack/UpdateStack/DeleteStack
# return at once and a worker thread does the work, resource by resource, with a pause before
# each (resource_pause).  CloudFormation API calls of an account and its workers' steps hold
# that account's lock (never while pausing), so every Describe* sees a consistent stack.
# ---------------------------------------------------------------------------------------------

# Bench: when each stack operation really started, and when its terminal status became visible
# (admin: /_taegis/stack-operations).  A record is opened when the operation is accepted and
# closed, under the account's CloudFormation lock, at the moment the stack's status becomes
# terminal (every *_COMPLETE/*_FAILED): DescribeStacks waits for that lock, so no client sees the
# status before `finished`.  A rollback is a record of its own, opened when the stack enters
# ROLLBACK_IN_PROGRESS / UPDATE_ROLLBACK_IN_PROGRESS; the create or update that failed stays
# open until the same terminal status.
_OPS_LOCK = threading.Lock()
_STACK_OPS: collections.deque[dict[str, Any]] = collections.deque(maxlen=200_000)
STACK_OPERATIONS = ("create", "update", "delete", "rollback", "update_rollback")


def _op_begin(stack: Any, operation: str) -> dict[str, Any]:
    assert operation in STACK_OPERATIONS, operation
    with _OPS_LOCK:
        record = {
            "account": stack.account_id,
            "region": stack.region_name,
            "stack": stack.name,
            "stack_id": stack.stack_id,
            "operation": operation,
            "started": time.time(),
            "finished": None,
            "status": None,
        }
        _STACK_OPS.append(record)
    stack._taegis_open_ops = list(getattr(stack, "_taegis_open_ops", None) or []) + [record]
    return record


def _op_discard(stack: Any, record: dict[str, Any]) -> None:
    """An operation the API call refused after all (the stack never existed)."""
    with _OPS_LOCK:
        for i in range(len(_STACK_OPS) - 1, -1, -1):
            if _STACK_OPS[i] is record:
                del _STACK_OPS[i]
                break
    stack._taegis_open_ops = [r for r in getattr(stack, "_taegis_open_ops", None) or [] if r is not record]


def _op_finish(stack: Any) -> None:
    """Close the stack's open operations if its status is terminal (called wherever it is set)."""
    status = str(stack.status)
    open_ops = getattr(stack, "_taegis_open_ops", None)
    if not open_ops or status.endswith("_IN_PROGRESS"):
        return
    now = time.time()
    with _OPS_LOCK:
        for record in open_ops:
            record["finished"], record["status"] = now, status
    stack._taegis_open_ops = []


def stack_operations(account: str | None = None, region: str | None = None) -> list[dict[str, Any]]:
    with _OPS_LOCK:
        return [
            dict(r)
            for r in _STACK_OPS
            if (account is None or r["account"] == account) and (region is None or r["region"] == region)
        ]


def clear_stack_operations(account: str | None = None) -> None:
    with _OPS_LOCK:
        kept = [r for r in _STACK_OPS if account is not None and r["account"] != account]
        _STACK_OPS.clear()
        _STACK_OPS.extend(kept)


_CFN_LOCKS: dict[str, threading.RLock] = {}
_CFN_LOCKS_LOCK = threading.Lock()


def _cfn_lock(account_id: str) -> threading.RLock:
    with _CFN_LOCKS_LOCK:
        lock = _CFN_LOCKS.get(account_id)
        if lock is None:
            lock = _CFN_LOCKS[account_id] = threading.RLock()
        return lock


_orig_cfn_call_action = cfn_responses.CloudFormationResponse.call_action


def _cfn_call_action(self: Any) -> Any:
    with _cfn_lock(getattr(self, "current_account", None) or DEFAULT_ACCOUNT_ID):
        return _orig_cfn_call_action(self)


def _last_events(stack: Any) -> dict[str, Any]:
    """The latest event of each resource (stack-level events left out)."""
    last: dict[str, Any] = {}
    for event in list(stack.events):
        if event.logical_resource_id == stack.name and event.resource_type == "AWS::CloudFormation::Stack":
            continue
        last[event.logical_resource_id] = event
    return last


def _last_status(stack: Any, logical_id: str) -> str:
    event = _last_events(stack).get(logical_id)
    return event.resource_status if event is not None else ""


def _set_status(stack: Any, status: str, reason: str | None = None) -> None:
    stack.status = status
    if reason is not None:
        stack.status_reason = reason
    stack._add_stack_event(status, resource_status_reason=reason)
    _op_finish(stack)


_SUB_VAR_RE = re.compile(r"\$\{([^!}][^}]*)\}")


def _references(node: Any, names: set[str]) -> set[str]:
    """Names (of `names`) that Ref, Fn::GetAtt or Fn::Sub in `node` refer to."""
    found: set[str] = set()

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            for key, value in n.items():
                if key == "Ref" and isinstance(value, str):
                    if value in names:
                        found.add(value)
                elif key == "Fn::GetAtt":
                    if isinstance(value, list) and value:
                        target = value[0]
                    elif isinstance(value, str):
                        target = value.split(".", 1)[0]
                    else:
                        target = None
                    if isinstance(target, str) and target in names:
                        found.add(target)
                elif key == "Fn::Sub":
                    if isinstance(value, str):
                        text, local = value, {}
                    elif isinstance(value, list) and value:
                        text = value[0]
                        local = value[1] if len(value) > 1 and isinstance(value[1], dict) else {}
                    else:
                        text, local = "", {}
                    if isinstance(text, str):
                        for var in _SUB_VAR_RE.findall(text):
                            name = var.split(".", 1)[0].strip()
                            if name in names and name not in local:
                                found.add(name)
                    walk(local)
                else:
                    walk(value)
        elif isinstance(n, list):
            for item in n:
                walk(item)

    walk(node)
    return found


def _dependencies(resource_json: Any, names: set[str]) -> set[str]:
    resource_json = resource_json or {}
    deps = _references({k: v for k, v in resource_json.items() if k != "DependsOn"}, names)
    depends_on = resource_json.get("DependsOn") or []
    if isinstance(depends_on, str):
        depends_on = [depends_on]
    deps.update(d for d in depends_on if isinstance(d, str) and d in names)
    return deps


def _waves(json_map: dict[str, Any], include: list[str]) -> list[list[str]]:
    """`include` in dependency order, grouped: each group needs only earlier groups."""
    include_set = set(include)
    names = set(json_map)
    deps = {lid: (_dependencies(json_map.get(lid), names) & include_set) - {lid} for lid in include_set}
    remaining = [lid for lid in json_map if lid in include_set]
    remaining += [lid for lid in include if lid not in json_map and lid not in remaining]
    done: set[str] = set()
    waves = []
    while remaining:
        wave = [lid for lid in remaining if deps.get(lid, set()) <= done] or remaining[:1]
        waves.append(wave)
        done.update(wave)
        remaining = [lid for lid in remaining if lid not in done]
    return waves


def _active(rm: Any, resource_json: Any) -> bool:
    """The resource exists in this template: its condition holds and moto has a model for it."""
    resource_json = resource_json or {}
    condition = resource_json.get("Condition")
    if condition:
        try:
            if not rm.lazy_condition_map[condition]:
                return False
        except Exception:
            pass
    try:
        return cfn_parsing.resource_class_from_type(resource_json.get("Type", "")) is not None
    except Exception:
        return False


def _precheck_imports(backend: Any, rm: Any, template_dict: dict[str, Any]) -> None:
    """AWS refuses CreateStack/UpdateStack itself when an imported export does not exist."""
    resources = template_dict.get("Resources") or {}
    names = set(resources)
    nodes: list[Any] = []
    for resource_json in resources.values():
        if _active(rm, resource_json):
            nodes.extend(_import_value_nodes(resource_json))
    nodes.extend(_import_value_nodes(template_dict.get("Outputs") or {}))
    for node in nodes:
        if _references(node, names):
            continue  # needs a resource: checked when the resource is created
        try:
            value = node if isinstance(node, str) else _clean_json(node, rm)
        except CloudFormationError:
            raise
        except Exception:
            continue
        if isinstance(value, str) and value not in backend.exports:
            raise ExportNotFound(value)


def _precheck_export_names(backend: Any, stack: Any, rm: Any, template_dict: dict[str, Any]) -> None:
    names = set(template_dict.get("Resources") or {})
    for output in (template_dict.get("Outputs") or {}).values():
        node = ((output or {}).get("Export") or {}).get("Name")
        if node is None or _references(node, names):
            continue
        try:
            name = _clean_json(node, rm)
        except Exception:
            continue
        owner = backend.exports.get(name) if isinstance(name, str) else None
        if owner is not None and owner.exporting_stack_id != stack.stack_id:
            raise ValidationError(stack.stack_id, message="Export names must be unique across a given region")


def _replace_exports(backend: Any, stack: Any, exports: list[Any]) -> None:
    for export in exports:
        owner = backend.exports.get(export.name)
        if owner is not None and owner.exporting_stack_id != stack.stack_id:
            other = next(
                (s.name for s in list(backend.stacks.values()) if s.stack_id == owner.exporting_stack_id),
                owner.exporting_stack_id,
            )
            raise ValidationError(stack.stack_id, message=f"Export with name {export.name} is already exported by stack {other}")
    for name in [n for n, e in list(backend.exports.items()) if e.exporting_stack_id == stack.stack_id]:
        backend.exports.pop(name, None)
    for export in exports:
        backend.exports[export.name] = export


_orig_parse_and_create = cfn_parsing.parse_and_create_resource
_orig_parse_and_update = cfn_parsing.parse_and_update_resource
_orig_rm_delete_resource = cfn_parsing.ResourceMap._delete_resource


def _service_of(resource_type: str) -> str:
    parts = resource_type.split("::")
    return parts[1] if len(parts) > 2 else "CloudFormation"


def _failure_reason(resource_type: str, exc: BaseException, resource_json: Any = None, resources_map: Any = None) -> str:
    """The ResourceStatusReason CloudFormation shows for a resource that failed."""
    injected = getattr(exc, "_taegis_reason", None)
    if injected:
        return injected
    kind = f"{getattr(exc, 'error_type', '')} {type(exc).__name__}"
    if resource_type == "AWS::Logs::LogGroup" and "AlreadyExists" in kind:
        # AWS (Cloud Control handler): the identifier is the primary identifier property.
        name = (((resource_json or {}).get("Properties")) or {}).get("LogGroupName")
        if resources_map is not None and not isinstance(name, str):
            try:
                name = _clean_json(name, resources_map)
            except Exception:
                pass
        identifier = json.dumps({"/properties/LogGroupName": name}, separators=(",", ":"))
        return (
            f"Resource handler returned message: \"Resource of type 'AWS::Logs::LogGroup' with identifier "
            f"'{identifier}' already exists.\" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: AlreadyExists)"
        )
    return _handler_message(_service_of(resource_type), _error_message(exc))


def _parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):  # type: ignore[no-untyped-def]
    stack = _stack_by_id(getattr(resources_map, "stack_id", None), resources_map)
    rtype = resource_json.get("Type", "")
    in_worker = stack is not None and _is_worker_for(stack.stack_id)
    try:
        if stack is not None:
            condition = resource_json.get("Condition")
            if not (condition and not resources_map.lazy_condition_map[condition]):
                reason = _injected_failure(stack, logical_id)
                if reason is not None:
                    raise InjectedFailure(reason)
        resource = _orig_parse_and_create(logical_id, resource_json, resources_map, account_id, region_name)
    except Exception as exc:
        if not hasattr(exc, "_taegis_resource"):
            exc._taegis_resource = (logical_id, rtype)  # type: ignore[attr-defined]
            exc._taegis_kind = "create"  # type: ignore[attr-defined]
            # A CloudFormationError is refused by the API call itself, unless the call has
            # already returned (background operation).
            if stack is not None and (in_worker or not isinstance(exc, CloudFormationError)):
                if _last_status(stack, logical_id) != "CREATE_IN_PROGRESS":
                    _stack_event(stack, logical_id, rtype, "CREATE_IN_PROGRESS")
                _stack_event(stack, logical_id, rtype, "CREATE_FAILED", _failure_reason(rtype, exc, resource_json, resources_map))
        raise
    if resource is not None and stack is not None:
        if _last_status(stack, logical_id) != "CREATE_IN_PROGRESS":
            _stack_event(stack, logical_id, rtype, "CREATE_IN_PROGRESS")
        if isinstance(resource, CustomModel) and not resource.is_created():
            resource._taegis_event = (stack.stack_id, logical_id, rtype)  # type: ignore[attr-defined]
        else:
            _stack_event(stack, logical_id, rtype, "CREATE_COMPLETE", physical_id=_physical(resource))
    return resource


def _parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):  # type: ignore[no-untyped-def]
    # Used by moto's own ResourceMap.update (change sets); UpdateStack goes through _run_update.
    stack = _stack_by_id(getattr(resources_map, "stack_id", None), resources_map)
    rtype = resource_json.get("Type", "")
    try:
        resource = _orig_parse_and_update(logical_id, resource_json, resources_map, account_id, region_name)
    except Exception as exc:
        if not hasattr(exc, "_taegis_resource"):
            exc._taegis_resource = (logical_id, rtype)  # type: ignore[attr-defined]
            exc._taegis_kind = "update"  # type: ignore[attr-defined]
        raise
    if resource is not None and stack is not None:
        _stack_event(stack, logical_id, rtype, "UPDATE_IN_PROGRESS")
        _stack_event(stack, logical_id, rtype, "UPDATE_COMPLETE", physical_id=_physical(resource))
    return resource


def _rm_delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
    stack = _stack_by_id(self.stack_id, self)
    logical_id = getattr(parsed_resource, "logical_resource_id", "")
    rtype = resource_json.get("Type", "")
    physical = _physical(parsed_resource)
    if stack is not None and _last_status(stack, logical_id) != "DELETE_IN_PROGRESS":
        _stack_event(stack, logical_id, rtype, "DELETE_IN_PROGRESS", physical_id=physical)
    _orig_rm_delete_resource(self, parsed_resource, resource_json)
    if stack is not None:
        _stack_event(stack, logical_id, rtype, "DELETE_COMPLETE", physical_id=physical)


_orig_set_data = CustomModel.set_data


def _custom_set_data(self: Any, data: dict[str, Any]) -> None:
    _orig_set_data(self, data)
    info = getattr(self, "_taegis_event", None)
    stack = _stack_by_id(info[0]) if info else None
    if stack is not None:
        _stack_event(stack, info[1], info[2], "CREATE_COMPLETE", physical_id=self.physical_resource_id)
        self._taegis_event = None


_orig_mark_creation_complete = cfn_models.Stack.mark_creation_complete


def _mark_creation_complete(self: Any) -> None:
    if getattr(self, "_taegis_exports_pending", False):
        # A background create that waited for a custom resource: exports appear now.
        self._taegis_exports_pending = False
        backend = cfn_models.cloudformation_backends[self.account_id][self.region_name]
        for export in self.exports:
            backend.exports.setdefault(export.name, export)
    _orig_mark_creation_complete(self)
    _op_finish(self)


def _start_worker(stack: Any, target: Any, *args: Any) -> None:
    stack._taegis_busy = True
    stack.resource_map._taegis_busy = True
    threading.Thread(target=_run_worker, args=(stack, target, args), name=f"taegis-stack-{stack.name}", daemon=True).start()


def _run_worker(stack: Any, target: Any, args: tuple[Any, ...]) -> None:
    _TL.stack_id = stack.stack_id
    lock = _cfn_lock(stack.account_id)
    try:
        target(*args)
    except BaseException:
        print(f"taegis_moto: stack operation of {stack.name} failed:\n{traceback.format_exc()}", file=sys.stderr)
        with lock:
            if stack.status.endswith("_IN_PROGRESS"):
                failed = {"CREATE": "ROLLBACK_FAILED", "ROLLBACK": "ROLLBACK_FAILED", "DELETE": "DELETE_FAILED"}
                _set_status(stack, failed.get(stack.status.split("_")[0], "UPDATE_ROLLBACK_FAILED"), "Internal failure.")
    finally:
        _TL.stack_id = None
        with lock:
            stack._taegis_busy = False
            stack.resource_map._taegis_busy = False
            stack._taegis_inject = False
            delete_requested = getattr(stack, "_taegis_delete_requested", False)
            stack._taegis_delete_requested = False
            if delete_requested:
                try:
                    cfn_models.cloudformation_backends[stack.account_id][stack.region_name].delete_stack(stack.stack_id)
                except Exception:
                    print(f"taegis_moto: deferred delete of {stack.name} failed:\n{traceback.format_exc()}", file=sys.stderr)


def _raise_pending_failure(stack: Any) -> None:
    failure = getattr(stack, "_taegis_pending_failure", None)
    if failure is not None:
        stack._taegis_pending_failure = None
        raise failure


def _cancel_in_progress(stack: Any, exclude: str) -> None:
    """AWS: when a resource fails, the ones still in progress are cancelled."""
    for logical_id, event in _last_events(stack).items():
        if logical_id == exclude:
            continue
        if event.resource_status == "CREATE_IN_PROGRESS":
            _stack_event(stack, logical_id, event.resource_type, "CREATE_FAILED", "Resource creation cancelled", event.physical_resource_id)
        elif event.resource_status == "UPDATE_IN_PROGRESS":
            _stack_event(stack, logical_id, event.resource_type, "UPDATE_FAILED", "Resource update cancelled", event.physical_resource_id)


def _delete_in_order(stack: Any, json_map: dict[str, Any], logical_ids: list[str], delay: float, inject: bool = False) -> None:
    """Delete created resources in reverse dependency order (what moto cannot delete is left for
    ResourceMap.delete to retry).  With `inject` (DeleteStack only), a resource with a "delete"
    failure gets DELETE_FAILED and InjectedFailure is raised: the resources after it are left."""
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    for logical_id in [lid for wave in _waves(json_map, logical_ids) for lid in wave][::-1]:
        with lock:
            resource = rm._parsed_resources.get(logical_id)
            if not _is_model(resource):
                continue
            resource_json = json_map.get(logical_id) or {}
            if delay:
                _stack_event(stack, logical_id, resource_json.get("Type", ""), "DELETE_IN_PROGRESS", physical_id=_physical(resource))
        if delay:
            time.sleep(delay)
        with lock:
            reason = _delete_failure(stack, logical_id) if inject else None
            if reason is not None:
                rtype = resource_json.get("Type", "")
                if _last_status(stack, logical_id) != "DELETE_IN_PROGRESS":
                    _stack_event(stack, logical_id, rtype, "DELETE_IN_PROGRESS", physical_id=_physical(resource))
                _stack_event(stack, logical_id, rtype, "DELETE_FAILED", reason, _physical(resource))
                failure = InjectedFailure(reason)
                failure._taegis_resource = (logical_id, rtype)  # type: ignore[attr-defined]
                raise failure
            try:
                rm._delete_resource(resource, resource_json)
            except Exception:
                continue
            rm._parsed_resources.pop(logical_id, None)


def _create_stack(
    self: Any,
    name: str,
    template: str,
    parameters: dict[str, Any],
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
    enable_termination_protection: bool | None = False,
    timeout_in_mins: int | None = None,
    stack_policy_body: str | None = None,
) -> Any:
    # Same steps as moto's CloudFormationBackend.create_stack, plus rollback.
    if name in [stack.name for stack in list(self.stacks.values())]:
        raise AlreadyExistsException(f"Stack {name} already exists")
    stack_id = generate_stack_id(name, self.region_name, self.account_id)
    new_stack = cfn_models.Stack(
        stack_id=stack_id,
        name=name,
        template=template,
        parameters=parameters,
        account_id=self.account_id,
        region_name=self.region_name,
        notification_arns=notification_arns,
        tags=tags,
        role_arn=role_arn,
        cross_stack_resources=self.exports,
        enable_termination_protection=enable_termination_protection,
        timeout_in_mins=timeout_in_mins,
        stack_policy_body=stack_policy_body,
    )
    _register_stack(new_stack)
    new_stack._taegis_op = "create"
    pace = stack_pace(self.account_id)
    if any(p > 0 for p in pace):
        _precheck_imports(self, new_stack.resource_map, new_stack.template_dict)
        _precheck_export_names(self, new_stack, new_stack.resource_map, new_stack.template_dict)
        _op_begin(new_stack, "create")
        self.stacks[stack_id] = new_stack
        new_stack.status = "CREATE_IN_PROGRESS"
        new_stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        _start_worker(new_stack, _worker_create, self, new_stack, pace)
        return new_stack
    record = _op_begin(new_stack, "create")
    self.stacks[stack_id] = new_stack
    new_stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    new_stack.status = "CREATE_IN_PROGRESS"
    try:
        _precheck_imports(self, new_stack.resource_map, new_stack.template_dict)
        _precheck_export_names(self, new_stack, new_stack.resource_map, new_stack.template_dict)
        # Resources in dependency order, then exports (moto resolves the exports first, which
        # creates whatever they name before anything else).
        rm = new_stack.resource_map
        json_map = rm._resource_json_map
        new_stack._taegis_inject = True
        for wave in _waves(json_map, [lid for lid, rj in list(json_map.items()) if _active(rm, rj)]):
            for logical_id in wave:
                rm[logical_id]
        new_stack._taegis_inject = False
        all_ready = rm.create(new_stack.template_dict)
        new_stack.description = new_stack.template_dict.get("Description")
        if all_ready:
            self._validate_export_uniqueness(new_stack)
            for export in new_stack.exports:
                self.exports[export.name] = export
            _orig_mark_creation_complete(new_stack)
        else:
            new_stack._taegis_exports_pending = True  # a custom resource still has to answer
    except CloudFormationError:
        # Refused by the API itself (e.g. "No export named X found."): the stack never existed.
        new_stack._taegis_inject = False
        _undo_failed_create(self, new_stack)
        self.stacks.pop(stack_id, None)
        _op_discard(new_stack, record)
        raise
    except Exception as exc:
        _rollback_create(self, new_stack, exc)
    finally:
        new_stack._taegis_inject = False
    _op_finish(new_stack)  # still open while a custom resource has to answer
    return new_stack


def _worker_create(backend: Any, stack: Any, pace: tuple[float, float]) -> None:
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    delay = 0.0
    try:
        with lock:
            json_map = rm._resource_json_map
            include = [lid for lid, resource_json in list(json_map.items()) if _active(rm, resource_json)]
            delay = resource_pause(pace, len(include))
            stack._taegis_inject = True
        for wave in _waves(json_map, include):
            with lock:
                for logical_id in wave:
                    rtype = (json_map.get(logical_id) or {}).get("Type", "")
                    if not rtype.startswith("Custom::"):  # custom resources: once their request is sent
                        _stack_event(stack, logical_id, rtype, "CREATE_IN_PROGRESS")
            for logical_id in wave:
                time.sleep(delay)
                with lock:
                    _raise_pending_failure(stack)
                    rm[logical_id]
        with lock:
            _raise_pending_failure(stack)
            stack._taegis_inject = False
            all_ready = rm.create(stack.template_dict)
            stack.description = stack.template_dict.get("Description")
            if not all_ready:
                stack._taegis_exports_pending = True  # a custom resource still has to answer
                return
            backend._validate_export_uniqueness(stack)
            for export in stack.exports:
                backend.exports[export.name] = export
            _set_status(stack, "CREATE_COMPLETE")
    except Exception as exc:
        _rollback_create(backend, stack, exc, delay)


def _undo_failed_create(backend: Any, stack: Any) -> None:
    for export_name in [n for n, e in list(backend.exports.items()) if e.exporting_stack_id == stack.stack_id]:
        backend.exports.pop(export_name, None)
    try:
        stack.resource_map.delete()
    except Exception:
        pass
    _mark_dead(stack)


def _rollback_create(backend: Any, stack: Any, exc: BaseException, delay: float = 0.0) -> None:
    lock = _cfn_lock(stack.account_id)
    with lock:
        stack._taegis_inject = False
        logical_id, rtype = getattr(exc, "_taegis_resource", (stack.name, ""))
        if logical_id != stack.name and _last_status(stack, logical_id).endswith("_IN_PROGRESS"):
            _stack_event(stack, logical_id, rtype, "CREATE_FAILED", _failure_reason(rtype, exc))
        _cancel_in_progress(stack, exclude=logical_id)
        if logical_id != stack.name:
            reason = f"The following resource(s) failed to create: [{logical_id}]. Rollback requested by user."
        else:
            reason = f"{_error_message(exc)} Rollback requested by user."
        _set_status(stack, "ROLLBACK_IN_PROGRESS", reason)
        _op_begin(stack, "rollback")
        rm = stack.resource_map
        json_map = rm._resource_json_map
        created = [lid for lid in json_map if _is_model(rm._parsed_resources.get(lid))]
    _delete_in_order(stack, json_map, created, delay)
    with lock:
        _undo_failed_create(backend, stack)
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")
        _op_finish(stack)


def _prepare_update(backend: Any, stack: Any, new_dict: Any, parameters: dict[str, Any] | None) -> None:
    """What UpdateStack refuses itself: template format, parameters, missing imports."""
    if not isinstance(new_dict, dict) or "Resources" not in new_dict:
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    scratch = cfn_parsing.ResourceMap(
        stack.stack_id,
        stack.name,
        parameters if parameters else stack.parameters,
        stack.tags,
        region_name=stack.region_name,
        account_id=stack.account_id,
        template=new_dict,
        cross_stack_resources=backend.exports,
    )
    scratch._taegis_dead = True  # never creates anything
    scratch.load()
    cfn_parsing.OutputMap(scratch, new_dict, stack.stack_id)
    _precheck_imports(backend, scratch, new_dict)


def _stack_update(self: Any, template: str, role_arn: str | None = None, parameters: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
    # AWS: a resource failing during UpdateStack rolls the stack back to its old template and
    # parameters (UPDATE_ROLLBACK_COMPLETE); the API call itself only refuses bad input.
    backend = cfn_models.cloudformation_backends[self.account_id][self.region_name]
    if getattr(self, "_taegis_busy", False) or str(self.status).endswith("_IN_PROGRESS") or self.status == "DELETE_FAILED":
        raise ValidationError(self.stack_id, message=f"Stack:{self.stack_id} is in {self.status} state and can not be updated.")
    new_dict = self.parse_template(template)
    _prepare_update(backend, self, new_dict, parameters)
    pace = stack_pace(self.account_id)
    background = any(p > 0 for p in pace)
    snapshot = _outputs(self) if background else _NO_SNAPSHOT
    self.status_reason = None
    self._taegis_op = "update"
    _op_begin(self, "update")
    _set_status(self, "UPDATE_IN_PROGRESS", "User Initiated")
    self.status_reason = None
    if background:
        self._taegis_outputs_snapshot = snapshot
        _start_worker(self, _run_update, backend, self, template, new_dict, role_arn, parameters, tags, pace)
    else:
        _run_update(backend, self, template, new_dict, role_arn, parameters, tags, (0.0, 0.0))


def _update_resource(stack: Any, rm: Any, logical_id: str, resource_json: dict[str, Any], inject: bool) -> None:
    rtype = resource_json.get("Type", "")
    original = rm._parsed_resources.get(logical_id)
    if _last_status(stack, logical_id) != "UPDATE_IN_PROGRESS":
        _stack_event(stack, logical_id, rtype, "UPDATE_IN_PROGRESS", physical_id=_physical(original))
    try:
        reason = _injected_failure(stack, logical_id) if inject else None
        if reason is not None:
            raise InjectedFailure(reason)
        changed = _orig_parse_and_update(logical_id, resource_json, rm, rm._account_id, rm._region_name)
    except Exception as exc:
        if not hasattr(exc, "_taegis_resource"):
            exc._taegis_resource = (logical_id, rtype)  # type: ignore[attr-defined]
            exc._taegis_kind = "update"  # type: ignore[attr-defined]
        if exc._taegis_resource[0] == logical_id and _last_status(stack, logical_id) == "UPDATE_IN_PROGRESS":  # type: ignore[attr-defined]
            _stack_event(stack, logical_id, rtype, "UPDATE_FAILED", _failure_reason(rtype, exc, resource_json, rm), _physical(original))
        raise
    if changed is not None:
        rm._parsed_resources[logical_id] = changed
    _stack_event(stack, logical_id, rtype, "UPDATE_COMPLETE", physical_id=_physical(changed if changed is not None else original))


def _run_update(backend: Any, stack: Any, template: str, new_dict: dict[str, Any], role_arn: str | None, parameters: dict[str, Any] | None, tags: dict[str, str] | None, pace: tuple[float, float]) -> None:
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    with lock:
        old = {
            "template": stack.template,
            "template_dict": stack.template_dict,
            "parameters": stack.parameters,
            "role_arn": stack.role_arn,
            "tags": stack.tags,
            "rm_template": rm._template,
            "rm_json": rm._resource_json_map,
            "rm_input": rm.input_parameters,
            "exports": [e for e in list(backend.exports.values()) if e.exporting_stack_id == stack.stack_id],
        }
        diff = rm.build_resource_diff(new_dict, parameters)
        stack.template = template
        stack.template_dict = new_dict
        rm._template = new_dict
        if parameters:
            rm.input_parameters = parameters
        rm.load_mapping()
        rm.load_parameters()
        rm.load_conditions()
        rm._resource_json_map = new_dict["Resources"]
        new_json = rm._resource_json_map
        add: list[str] = [lid for lid in diff["Add"] if _active(rm, new_json[lid])]
        modify: list[str] = []
        remove: list[str] = []
        for lid in diff["Modify"]:
            exists = _is_model(rm._parsed_resources.get(lid))
            if not _active(rm, new_json[lid]):
                if exists:
                    remove.append(lid)
            elif exists:
                modify.append(lid)
            else:
                add.append(lid)
        remove += [lid for lid in diff["Remove"] if _is_model(rm._parsed_resources.get(lid))]
        delay = resource_pause(pace, len(add) + len(modify) + len(remove))
        stack._taegis_inject = True
    done_add: list[str] = []
    done_mod: list[str] = []
    try:
        for wave in _waves(new_json, add + modify):
            if delay:
                with lock:
                    for lid in wave:
                        rtype = new_json[lid].get("Type", "")
                        if lid in modify:
                            _stack_event(stack, lid, rtype, "UPDATE_IN_PROGRESS", physical_id=_physical(rm._parsed_resources.get(lid)))
                        elif not rtype.startswith("Custom::"):
                            _stack_event(stack, lid, rtype, "CREATE_IN_PROGRESS")
            for lid in wave:
                if delay:
                    time.sleep(delay)
                with lock:
                    _raise_pending_failure(stack)
                    if lid in modify:
                        _update_resource(stack, rm, lid, new_json[lid], inject=True)
                        done_mod.append(lid)
                    else:
                        rm[lid]
                        done_add.append(lid)
        with lock:
            _raise_pending_failure(stack)
            stack._taegis_inject = False
            stack.output_map = stack._create_output_map()
            _replace_exports(backend, stack, stack.exports)
            stack.role_arn = role_arn
            if parameters:
                stack.parameters = parameters
            if tags is not None:
                stack.tags = tags
            stack._taegis_outputs_snapshot = _NO_SNAPSHOT
            _set_status(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        # AWS: resources removed from the template go in the clean-up phase; a failure there
        # does not fail the update.
        _delete_in_order(stack, old["rm_json"], remove, delay)
        with lock:
            _set_status(stack, "UPDATE_COMPLETE")
    except Exception as exc:
        _rollback_update(backend, stack, exc, old, done_add, done_mod, modify, delay)


def _rollback_update(backend: Any, stack: Any, exc: BaseException, old: dict[str, Any], done_add: list[str], done_mod: list[str], modify: list[str], delay: float) -> None:
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    with lock:
        stack._taegis_inject = False
        logical_id, rtype = getattr(exc, "_taegis_resource", (stack.name, "AWS::CloudFormation::Stack"))
        kind = getattr(exc, "_taegis_kind", "update")
        if logical_id != stack.name and _last_status(stack, logical_id).endswith("_IN_PROGRESS"):
            _stack_event(stack, logical_id, rtype, "CREATE_FAILED" if kind == "create" else "UPDATE_FAILED", _failure_reason(rtype, exc))
        _cancel_in_progress(stack, exclude=logical_id)
        if logical_id != stack.name:
            reason = f"The following resource(s) failed to {kind}: [{logical_id}]. "
        else:
            reason = _error_message(exc)
        _set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        _op_begin(stack, "update_rollback")
        new_json = rm._resource_json_map
        stack.template, stack.template_dict = old["template"], old["template_dict"]
        stack.parameters, stack.role_arn, stack.tags = old["parameters"], old["role_arn"], old["tags"]
        rm._template = old["rm_template"]
        rm.input_parameters = old["rm_input"]
        try:
            rm.load_mapping()
            rm.load_parameters()
            rm.load_conditions()
        except Exception:
            pass
        rm._resource_json_map = old["rm_json"]
        revert = list(done_mod)
        if kind == "update" and logical_id in modify and logical_id not in revert:
            revert.append(logical_id)
    rollback_failed = False
    for lid in reversed(revert):
        if delay:
            time.sleep(delay)
        with lock:
            try:
                _update_resource(stack, rm, lid, old["rm_json"][lid], inject=False)
            except Exception:
                rollback_failed = True
    with lock:
        _set_status(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        created = [
            lid
            for lid in new_json
            if (lid not in old["rm_json"] or lid in done_add) and _is_model(rm._parsed_resources.get(lid))
        ]
    _delete_in_order(stack, new_json, created, delay)
    with lock:
        stack.output_map = stack._create_output_map()
        try:
            _replace_exports(backend, stack, old["exports"])
        except Exception:
            pass
        stack._taegis_outputs_snapshot = _NO_SNAPSHOT
        _set_status(stack, "UPDATE_ROLLBACK_FAILED" if rollback_failed else "UPDATE_ROLLBACK_COMPLETE")


def _delete_stack(self: Any, name_or_stack_id: str) -> None:
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in list(self.stacks.values()) if s.name == name_or_stack_id), None
    )
    if stack is not None:
        if getattr(stack, "_taegis_busy", False):
            if stack.status.startswith("UPDATE"):
                raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while in status {stack.status}")
            # AWS: accepted during a create (or a delete); the stack is deleted once the
            # running operation is over.
            if stack.status != "DELETE_IN_PROGRESS":
                stack._taegis_delete_requested = True
            return
        blocked = []
        for export in list(self.exports.values()):
            if export.exporting_stack_id == stack.stack_id:
                users = importing_stacks(self, export.name, exclude_stack_id=stack.stack_id)
                if users:
                    blocked.append(f"Export {export.name} cannot be deleted as it is in use by {' and '.join(users)}")
        if blocked:
            stack.status_reason = blocked[0]
            stack._add_stack_event(stack.status, resource_status_reason=blocked[0])
            return
        pace = stack_pace(self.account_id)
        _op_begin(stack, "delete")
        try:
            stack._taegis_outputs_snapshot = _outputs(stack)  # AWS: the outputs stay until it is gone
        except Exception:
            stack._taegis_outputs_snapshot = None
        stack.status_reason = None
        _set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
        stack.status_reason = None
        if any(p > 0 for p in pace):
            _start_worker(stack, _worker_delete, self, stack, pace)
            return
        # Synchronous: the same steps, within the call (a DELETE_FAILED stack included).
        try:
            _worker_delete(self, stack, (0.0, 0.0))
        except Exception:
            print(f"taegis_moto: delete of {stack.name} failed:\n{traceback.format_exc()}", file=sys.stderr)
            if stack.status.endswith("_IN_PROGRESS"):
                _set_status(stack, "DELETE_FAILED", "Internal failure.")
    # No such stack (or a stack id that is deleted already): nothing to do, as moto.


def _delete_failed(stack: Any, failed: list[str]) -> None:
    """AWS: DELETE_FAILED; the resources left stay (nothing re-creates the ones deleted), with
    the outputs and exports the stack had.  A later DeleteStack deletes what is left."""
    stack.resource_map._taegis_frozen = True
    _set_status(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")


def _worker_delete(backend: Any, stack: Any, pace: tuple[float, float]) -> None:
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    with lock:
        json_map = rm._resource_json_map
        targets = [
            lid
            for lid, resource_json in list(json_map.items())
            if _is_model(rm._parsed_resources.get(lid)) and (resource_json or {}).get("DeletionPolicy") != "Retain"
        ]
        delay = resource_pause(pace, len(targets))
    try:
        _delete_in_order(stack, json_map, targets, delay, inject=True)
    except InjectedFailure as failure:
        with lock:
            _delete_failed(stack, [failure._taegis_resource[0]])  # type: ignore[attr-defined]
        return
    with lock:
        try:
            rm.delete()  # whatever the ordered pass could not delete, with moto's retries
        except Exception as exc:
            failed = [lid for lid in targets if _is_model(rm._parsed_resources.get(lid))]
            for lid in failed:
                rtype = (json_map.get(lid) or {}).get("Type", "")
                _stack_event(stack, lid, rtype, "DELETE_FAILED", _failure_reason(rtype, exc), _physical(rm._parsed_resources.get(lid)))
            _delete_failed(stack, failed)
            return
        backend.stacks.pop(stack.stack_id, None)
        backend.deleted_stacks[stack.stack_id] = stack
        for export_name in [n for n, e in list(backend.exports.items()) if e.exporting_stack_id == stack.stack_id]:
            backend.exports.pop(export_name, None)
        _mark_dead(stack)
        stack._taegis_outputs_snapshot = _NO_SNAPSHOT
        _set_status(stack, "DELETE_COMPLETE")


_orig_process_cfn_response = cfn_responses.CloudFormationResponse.process_cfn_response


def _process_cfn_response(self: Any) -> Any:
    # AWS: a custom resource answering FAILED fails the resource and rolls the stack back
    # (moto ignores FAILED and leaves the stack CREATE_IN_PROGRESS for ever).
    status = self._get_param("Status")
    backend = self.cloudformation_backend
    stack = backend.get_stack(self._get_param("StackId"))
    logical_id = self._get_param("LogicalResourceId")
    busy = getattr(stack, "_taegis_busy", False)
    if status != "FAILED":
        if busy:
            # The background operation completes the stack itself once it is through.
            if status == "SUCCESS":
                stack.get_custom_resource(logical_id).set_data(self._get_param("Data"))
            return 200, {"status": 200}, json.dumps("{}")
        return _orig_process_cfn_response(self)
    if stack.status == "CREATE_IN_PROGRESS":
        rtype = ((stack.template_dict.get("Resources") or {}).get(logical_id) or {}).get("Type", "")
        reason = self._get_param("Reason") or "See the details in CloudWatch Log Stream"
        _stack_event(
            stack, logical_id, rtype, "CREATE_FAILED",
            f"Received response status [FAILED] from custom resource. Message returned: {reason} "
            f"(RequestId: {self._get_param('RequestId') or uuid.uuid4()})",
        )
        failure = RuntimeError(reason)
        failure._taegis_resource = (logical_id, rtype)  # type: ignore[attr-defined]
        if busy:
            stack._taegis_pending_failure = failure
        else:
            _rollback_create(backend, stack, failure)
    return 200, {"status": 200}, json.dumps("{}")


_orig_dto_init = cfn_responses.StackResourceDTO.__init__


def _dto_init(self: Any, stack: Any, resource: Any) -> None:
    # AWS: each resource has its own status (moto shows the stack's).
    _orig_dto_init(self, stack, resource)
    event = _last_events(stack).get(self.logical_resource_id)
    if event is not None:
        self.resource_status = event.resource_status
        self.timestamp = event.timestamp
        if event.resource_status_reason:
            self.resource_status_reason = event.resource_status_reason


def _list_stack_resources(self: Any) -> ActionResult:
    stack, resources = self.cloudformation_backend.list_stack_resources(self._get_param("StackName"))
    last = _last_events(stack)
    summaries = []
    for resource in resources:
        logical_id = getattr(resource, "logical_resource_id", "")
        event = last.get(logical_id)
        summary = {
            "ResourceStatus": event.resource_status if event is not None else "CREATE_COMPLETE",
            "LogicalResourceId": logical_id,
            "LastUpdatedTimestamp": event.timestamp if event is not None else stack.creation_time,
            "ResourceType": getattr(resource, "cf_resource_type", ""),
        }
        physical = getattr(resource, "physical_resource_id", None)
        if physical:
            summary["PhysicalResourceId"] = physical
        summaries.append(summary)
    return ActionResult({"StackResourceSummaries": summaries})


def _describe_stack_events(self: Any, stack_name: str) -> list[Any]:
    return list(self.get_stack(stack_name).events)


# ---------------------------------------------------------------------------------------------
# (o) Inline template limit and TemplateURL.
# AWS: a TemplateBody over 51,200 bytes is refused (400 ValidationError "1 validation error
# detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less
# than or equal to 51200"); a TemplateURL must name an object in S3 (virtual-hosted or path
# style, with or without the region) in a bucket of the stack's region, else ValidationError
# with S3's own error.  moto took any body, read any host's first label as a bucket name, took a
# bucket of any region, and answered a missing object with a 500.
# ---------------------------------------------------------------------------------------------

MAX_TEMPLATE_BODY = 51_200
_TEMPLATE_BODY_ACTIONS = ("create_stack", "update_stack", "create_change_set", "validate_template", "get_template_summary", "estimate_template_cost")
_S3_HOST_RE = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$")
_S3_MORE_INFO = "\nFor more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
S3_ACCESS_DENIED = "S3 error: Access Denied" + _S3_MORE_INFO
S3_NO_SUCH_BUCKET = "S3 error: The specified bucket does not exist" + _S3_MORE_INFO
S3_WRONG_ENDPOINT = (
    "S3 error: The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint." + _S3_MORE_INFO
)
UNSUPPORTED_TEMPLATE_URL = "TemplateURL must be a supported URL."


def _check_template_body(self: Any) -> None:
    body = self._get_param("TemplateBody")
    if isinstance(body, str) and len(body.encode("utf-8")) > MAX_TEMPLATE_BODY:
        raise ValidationError(
            message="1 validation error detected: Value at 'templateBody' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_TEMPLATE_BODY}"
        )


def _limit_template_body(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        _check_template_body(self)
        return method(self)

    return wrapper


def _parse_template_url(url: str) -> tuple[str, str, str | None]:
    """(bucket, key, region named by the host or None) of an S3 object URL."""
    parts = urlsplit(url or "")
    match = _S3_HOST_RE.match((parts.hostname or "").lower())
    if parts.scheme not in ("https", "http") or not match:
        raise ValidationError(message=UNSUPPORTED_TEMPLATE_URL)
    path = unquote(parts.path)
    if match.group("bucket"):
        bucket, key = match.group("bucket"), path[1:]
    else:
        bucket, _, key = path[1:].partition("/")
    if not bucket or not key:
        raise ValidationError(message=UNSUPPORTED_TEMPLATE_URL)
    region = match.group("region")
    return bucket, key, ("us-east-1" if region == "external-1" else region)


def _template_from_url(self: Any, template_url: str) -> str:
    bucket_name, key_name, url_region = _parse_template_url(template_url)
    backend = s3_models.s3_backends[self.current_account][self.partition]
    try:
        bucket = backend.get_bucket(bucket_name)
    except MissingBucket:
        raise ValidationError(message=S3_NO_SUCH_BUCKET)
    except Exception:  # another account's bucket
        raise ValidationError(message=S3_ACCESS_DENIED)
    if bucket.account_id != self.current_account:
        raise ValidationError(message=S3_ACCESS_DENIED)
    if bucket.region_name != self.region or (url_region and url_region != bucket.region_name):
        raise ValidationError(message=S3_WRONG_ENDPOINT)
    try:
        key = backend.get_object(bucket_name, key_name)
    except Exception:
        key = None
    if key is None or not hasattr(key, "value"):
        raise ValidationError(message=S3_ACCESS_DENIED)  # CloudFormation's read: no ListBucket
    try:
        return key.value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(message="Template format error: unsupported structure.")


def _install_template_sources() -> None:
    for name in _TEMPLATE_BODY_ACTIONS:
        method = getattr(cfn_responses.CloudFormationResponse, name, None)
        if method is not None:  # moto has no EstimateTemplateCost
            setattr(cfn_responses.CloudFormationResponse, name, _limit_template_body(method))
    cfn_responses.CloudFormationResponse._get_stack_from_s3_url = _template_from_url


# ---------------------------------------------------------------------------------------------
# (r) Capabilities.
# AWS: CreateStack, UpdateStack and CreateChangeSet of a template with IAM resources need
# CAPABILITY_IAM (or CAPABILITY_NAMED_IAM); one that names an IAM resource needs
# CAPABILITY_NAMED_IAM: 400 InsufficientCapabilitiesException "Requires capabilities :
# [CAPABILITY_IAM]" / "[CAPABILITY_NAMED_IAM]".  moto took any template without capabilities.
# ---------------------------------------------------------------------------------------------

# The resource types AWS documents as needing a capability, and the property that names each.
_IAM_CAPABILITY_TYPES = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"

    def __init__(self, capability: str):
        super().__init__(f"Requires capabilities : [{capability}]")


def required_capability(template_dict: Any) -> str | None:
    """CAPABILITY_NAMED_IAM, CAPABILITY_IAM or None for a parsed template."""
    needed = None
    resources = (template_dict or {}).get("Resources") if isinstance(template_dict, dict) else None
    for resource in (resources or {}).values():
        rtype = (resource or {}).get("Type") if isinstance(resource, dict) else None
        if rtype not in _IAM_CAPABILITY_TYPES:
            continue
        name_property, properties = _IAM_CAPABILITY_TYPES[rtype], resource.get("Properties")
        if name_property and isinstance(properties, dict) and name_property in properties:
            return "CAPABILITY_NAMED_IAM"
        needed = "CAPABILITY_IAM"
    return needed


def _requested_template(self: Any) -> Any:
    """The template a create/update/change-set call asks for, parsed (None when unreadable:
    the call itself then answers)."""
    body = self._get_param("TemplateBody")
    if self._get_param("TemplateURL"):
        body = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
    elif not body and self._get_bool_param("UsePreviousTemplate", False):
        try:
            body = self.cloudformation_backend.get_stack(self._get_param("StackName")).template
        except Exception:
            return None
    try:
        return cfn_models.Stack.parse_template(body) if body else None
    except Exception:
        return None


def _check_capabilities(self: Any) -> None:
    needed = required_capability(_requested_template(self))
    given = set(self._get_param("Capabilities", []) or [])
    if needed == "CAPABILITY_NAMED_IAM" and needed not in given:
        raise InsufficientCapabilities(needed)
    if needed == "CAPABILITY_IAM" and not given & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
        raise InsufficientCapabilities(needed)


def _require_capabilities(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        _check_capabilities(self)
        return method(self)

    return wrapper


# ---------------------------------------------------------------------------------------------
# (s) DescribeStackEvents pages.
# AWS: at most 100 events per call, newest first, with NextToken for the older ones; the token
# resumes after the last event returned, so events added meanwhile do not shift the pages.
# moto returned every event at once.  (ListExports is moto's own: 100 per page with NextToken.)
# ---------------------------------------------------------------------------------------------

STACK_EVENTS_PAGE = 100


def _events_end(events: list[Any], token: str | None) -> int:
    """Index (oldest first) just past the events a page may return: those older than `token`."""
    if not token:
        return len(events)
    for index, event in enumerate(events):
        if str(event.event_id) == token:
            return index
    raise ValidationError(message=f"Invalid NextToken: {token}")


def _describe_stack_events_page(self: Any) -> ActionResult:
    events = self.cloudformation_backend.describe_stack_events(self._get_param("StackName"))
    end = _events_end(events, self._get_param("NextToken"))
    start = max(0, end - STACK_EVENTS_PAGE)
    result: dict[str, Any] = {"StackEvents": events[start:end][::-1]}
    if start > 0:
        result["NextToken"] = str(events[start].event_id)
    return ActionResult(result)


def _install_cloudformation() -> None:
    cfn_parsing.clean_json = _clean_json
    cfn_parsing.parse_and_create_resource = _parse_and_create_resource
    cfn_parsing.parse_and_update_resource = _parse_and_update_resource
    cfn_parsing.ResourceMap.__getitem__ = _rm_getitem
    cfn_parsing.ResourceMap._delete_resource = _rm_delete_resource
    CustomModel.set_data = _custom_set_data
    cfn_models.Stack.parameter_list = property(_parameter_list)
    cfn_models.Stack.outputs = property(_outputs)
    cfn_models.Stack.exports = property(_exports)
    cfn_models.Stack.stack_resources = property(_stack_resources)
    cfn_models.Stack.update = _stack_update
    cfn_models.Stack.mark_creation_complete = _mark_creation_complete
    cfn_models.CloudFormationBackend.create_stack = _create_stack
    cfn_models.CloudFormationBackend.delete_stack = _delete_stack
    cfn_models.CloudFormationBackend.describe_stack_events = _describe_stack_events
    cfn_responses.CloudFormationResponse.call_action = _cfn_call_action
    cfn_responses.CloudFormationResponse.list_imports = _list_imports
    cfn_responses.CloudFormationResponse.list_stack_resources = _list_stack_resources
    cfn_responses.CloudFormationResponse.process_cfn_response = _process_cfn_response
    cfn_responses.CloudFormationResponse._validate_different_update = _validate_different_update
    cfn_responses.StackResourceDTO.__init__ = _dto_init
    cfn_responses.CloudFormationResponse.describe_stack_events = _describe_stack_events_page
    for name in ("create_stack", "update_stack", "create_change_set"):
        method = getattr(cfn_responses.CloudFormationResponse, name)
        setattr(cfn_responses.CloudFormationResponse, name, _require_capabilities(method))
    _install_template_sources()  # the body size is checked before the capabilities


# ---------------------------------------------------------------------------------------------
# (n) Regions that do not exist, or are not enabled for the account.
# AWS: every call signed for such a region is refused (see _refusal_response): STS answers 403
# InvalidClientTokenId "The security token included in the request is invalid.", the other
# services their own 403 (400 for JSON services) in their own protocol; S3 CreateBucket with such
# a LocationConstraint is 400 InvalidLocationConstraint.  moto answered STS and S3 as if the
# region existed, and 500 for the regional services (no backend for the region).  A region is
# known when botocore's endpoint data (what moto creates its backends from) lists it for the
# service in the region's partition; regions enabled per account through /_taegis/regions work
# end to end (moto's backend dicts create their backends on demand).  AWS: an opt-in region
# (launched since March 2019) works only for the accounts that enabled it; one disabled for an
# account through /_taegis/regions ("disabled") is refused to that account alone, as above.
# ---------------------------------------------------------------------------------------------

_REGIONS_LOCK = threading.Lock()
_ENABLED_REGIONS: dict[str, tuple[str, ...]] = {}
_DISABLED_REGIONS: dict[str, tuple[str, ...]] = {}
# AWS's opt-in regions: every region launched after March 20, 2019 (the ones before are on in
# every account and cannot be disabled).
OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1",
    "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
})
_REGION_NAME_RE = re.compile(r"^[a-z]{2,5}(?:-[a-z]+)+-\d{1,2}$")


@functools.lru_cache(maxsize=None)
def _partition_regions(partition: str) -> frozenset[str]:
    for entry in botocore.loaders.create_loader().load_data("endpoints").get("partitions", []):
        if entry.get("partition") == partition:
            return frozenset(entry.get("regions") or {})
    return frozenset()


@functools.lru_cache(maxsize=None)
def _service_regions(service: str, partition: str) -> frozenset[str]:
    """The regions moto creates backends for; every region of the partition for a global service
    (IAM) or a signing name botocore's endpoint data does not know."""
    try:
        regions = AccountSpecificBackend.get_session().get_available_regions(service, partition_name=partition)
    except Exception:
        regions = []
    return frozenset(regions) or _partition_regions(partition)


def region_known(service: str, region: str) -> bool:
    return bool(region) and region in _service_regions(service, get_partition(region))


def enabled_regions(account_id: str) -> tuple[str, ...]:
    with _REGIONS_LOCK:
        return _ENABLED_REGIONS.get(account_id, ())


def disabled_regions(account_id: str) -> tuple[str, ...]:
    with _REGIONS_LOCK:
        return _DISABLED_REGIONS.get(account_id, ())


def account_regions(account_id: str) -> dict[str, Any]:
    """What GET /_taegis/regions?account= answers."""
    with _REGIONS_LOCK:
        enabled, disabled = _ENABLED_REGIONS.get(account_id, ()), _DISABLED_REGIONS.get(account_id, ())
    return {"account": account_id, "enabled": list(enabled), "disabled": list(disabled)}


def set_account_regions(account_id: str, enabled: list[str] | None, disabled: list[str] | None) -> dict[str, Any]:
    """Replace the lists given (None: left as they are).  A region may not end up in both."""
    with _REGIONS_LOCK:
        new = {
            "enabled": tuple(dict.fromkeys(enabled)) if enabled is not None else _ENABLED_REGIONS.get(account_id, ()),
            "disabled": tuple(dict.fromkeys(disabled)) if disabled is not None else _DISABLED_REGIONS.get(account_id, ()),
        }
        both = sorted(set(new["enabled"]) & set(new["disabled"]))
        if both:
            raise ValueError(f"a region cannot be both enabled and disabled: {', '.join(both)}")
        for store, key in ((_ENABLED_REGIONS, "enabled"), (_DISABLED_REGIONS, "disabled")):
            if new[key]:
                store[account_id] = new[key]
            else:
                store.pop(account_id, None)
    return account_regions(account_id)


def region_allowed(account_id: str, service: str, region: str) -> bool:
    if region in disabled_regions(account_id):
        return False
    return region_known(service, region) or region in enabled_regions(account_id)


def _validate_regions(doc: Any) -> tuple[str, list[str] | None, list[str] | None]:
    if not isinstance(doc, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(doc) - {"account", "enabled", "disabled"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} (known: account, enabled, disabled)")
    account = str(doc.get("account") or "")
    if not re.fullmatch(r"\d{12}", account):
        raise ValueError("account must be 12 digits")
    if "enabled" not in doc and "disabled" not in doc:
        raise ValueError("give enabled, disabled or both")
    enabled = doc.get("enabled")
    if "enabled" in doc and (not isinstance(enabled, list) or not all(isinstance(r, str) and _REGION_NAME_RE.match(r) for r in enabled)):
        raise ValueError("enabled must be a list of region names such as \"eu-future-1\"")
    disabled = doc.get("disabled")
    if "disabled" in doc:
        if not isinstance(disabled, list) or not all(isinstance(r, str) for r in disabled):
            raise ValueError("disabled must be a list of opt-in region names such as \"af-south-1\"")
        for region in disabled:
            if region not in OPT_IN_REGIONS:
                raise ValueError(
                    f"{region} is not an opt-in region (only those can be disabled: {', '.join(sorted(OPT_IN_REGIONS))})"
                )
    return account, enabled, disabled


_orig_asb_getitem = AccountSpecificBackend.__getitem__
_orig_asb_contains = AccountSpecificBackend.__contains__


def _asb_getitem(self: Any, region_name: str) -> Any:
    # moto only creates a backend for the regions botocore lists (KeyError, i.e. 500, otherwise).
    if region_name not in self.keys() and region_name not in self.regions and region_name in enabled_regions(self.account_id):
        with backend_lock:
            if region_name not in self.keys():
                dict.__setitem__(self, region_name, self.backend(region_name, account_id=self.account_id))
    return _orig_asb_getitem(self, region_name)


def _asb_contains(self: Any, region: str) -> bool:
    return _orig_asb_contains(self, region) or region in enabled_regions(self.account_id)


_orig_location_constraint = s3_responses.S3Response._get_location_constraint


def _location_constraint(self: Any) -> str | None:
    constraint = _orig_location_constraint(self)
    if constraint and constraint != "EU" and not region_allowed(self.current_account, "s3", constraint):
        raise InvalidLocationConstraintException()
    return constraint


def _install_regions() -> None:
    AccountSpecificBackend.__getitem__ = _asb_getitem
    AccountSpecificBackend.__contains__ = _asb_contains
    s3_responses.S3Response._get_location_constraint = _location_constraint


# ---------------------------------------------------------------------------------------------
# (u) IAM policy enforcement, per account (admin: /_taegis/iam-enforcement).
# AWS: every call is authenticated and then authorised against the caller's identity policies.
# moto has an evaluator for that (moto.iam.access_control, run from
# ActionAuthenticatorMixin._authenticate_and_authorize_action), but it is global and off
# (settings.INITIAL_NO_AUTH_ACTION_COUNT is infinite).  Here it runs, whatever that setting, for
# the SigV4-signed (Authorization header) requests of the enforced accounts only, the account
# being the one moto's handler resolves (as in the request log, row i).  Unsigned and
# presigned-URL requests (the cfnresponse callback, AssumeRoleWithWebIdentity, ...) and every
# other account are left as they were.  The signature is checked over the body bytes as sent (a
# form body kept by the WSGI wrapper), S3 operations are checked as AWS's IAM actions on the
# bucket or object ARN, and refusals are answered in each protocol's AWS error shape.
# ---------------------------------------------------------------------------------------------

_IAM_ENFORCED_LOCK = threading.Lock()
_IAM_ENFORCED: set[str] = set()
_MOTO_AUTHENTICATE = ActionAuthenticatorMixin._authenticate_and_authorize_action


def iam_enforced(account_id: str | None) -> bool:
    with _IAM_ENFORCED_LOCK:
        return account_id in _IAM_ENFORCED


def set_iam_enforced(account_id: str, enforce: bool) -> list[str]:
    with _IAM_ENFORCED_LOCK:
        if enforce:
            _IAM_ENFORCED.add(account_id)
        else:
            _IAM_ENFORCED.discard(account_id)
        return sorted(_IAM_ENFORCED)


def enforced_accounts() -> list[str]:
    with _IAM_ENFORCED_LOCK:
        return sorted(_IAM_ENFORCED)


class _AuthError(HTTPException):
    """A refusal of moto's evaluator in the caller's protocol, as AWS answers it: moto's own is
    `<ErrorResponse><Errors><Error>`, which the query-protocol parsers of the SDKs other than
    botocore (the Rust SDK's among them) do not read ("403: HTTP 403"), and XML for JSON services."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: str):
        super().__init__(description=body)
        self.code = status
        self._taegis_headers = [(k, v) for k, v in headers if k.lower() != "content-length"]

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return list(self._taegis_headers)

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return self.description or ""


# moto's evaluator error code -> (status, code) of the JSON protocols (X-Amz-Target services and
# Lambda's REST-JSON), as AWS answers them.
_JSON_AUTH_ERRORS = {
    "AccessDenied": (400, "AccessDeniedException"),
    "InvalidClientTokenId": (400, "UnrecognizedClientException"),
    "SignatureDoesNotMatch": (400, "InvalidSignatureException"),
}
_LAMBDA_AUTH_ERRORS = {
    "AccessDenied": (403, "AccessDeniedException"),
    "InvalidClientTokenId": (403, "UnrecognizedClientException"),
    "SignatureDoesNotMatch": (403, "InvalidSignatureException"),
}
# EC2: AWS answers a denial 403 UnauthorizedOperation and a bad key or signature 401 AuthFailure.
_EC2_AUTH_ERRORS = {
    "AccessDenied": (403, "UnauthorizedOperation"),
    "InvalidClientTokenId": (401, "AuthFailure"),
    "SignatureDoesNotMatch": (401, "AuthFailure"),
}


def _auth_error(response: Any, exc: HTTPException) -> HTTPException:
    """moto's refusal `exc` (a _RESTError) re-shaped for the protocol of `response`'s service."""
    code = getattr(exc, "error_type", None)
    message = getattr(exc, "message", "") or str(code)
    status = getattr(exc, "code", 403) or 403
    headers = response.headers
    environ = getattr(getattr(response, "normalized_request", None), "environ", {}) or {}
    service = getattr(response, "service_name", None) or ""
    if code is None:
        return exc
    if headers.get("X-Amz-Target"):
        if code not in _JSON_AUTH_ERRORS:
            return exc
        status, aws_code = _JSON_AUTH_ERRORS[code]
        hdrs, body = _json_error(environ, aws_code, message)
        return _AuthError(status, hdrs, body)
    if type(response).__name__ == "LambdaResponse":
        if code not in _LAMBDA_AUTH_ERRORS:
            return exc
        status, aws_code = _LAMBDA_AUTH_ERRORS[code]
        hdrs, body = _lambda_error(aws_code, {"__type": aws_code, "message": message, "Message": message})
        return _AuthError(status, hdrs, body)
    if service == "ec2":
        status, aws_code = _EC2_AUTH_ERRORS.get(code, (status, code))
        if aws_code == "UnauthorizedOperation":
            message = f"You are not authorized to perform this operation. {message}"
        hdrs, body = _ec2_error(_xml_escape(aws_code), _xml_escape(message))
        return _AuthError(status, hdrs, body)
    # Query protocol (CloudFormation, SNS, STS, IAM, ...): <ErrorResponse><Error>..., with the
    # service's namespace and a RequestId, as AWS answers.
    hdrs, body = _query_error(service, "Sender", _xml_escape(code), _xml_escape(message))
    return _AuthError(status, hdrs, body)


def _s3_operation(response: Any) -> tuple[str | None, dict[str, str]]:
    try:
        operation, params = get_service_router("s3").match(response.normalized_request)
        return operation.name, dict(params or {})
    except Exception:
        return None, {}


def _s3_deleted_keys(body: Any) -> list[str]:
    """The keys of a DeleteObjects body (`<Delete><Object><Key>..`)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body if isinstance(body, (bytes, str)) and body else b"<Delete/>")
    except ET.ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def _s3_checks(response: Any, resource: str) -> tuple[str | None, list[str]]:
    """(u) The IAM action AWS checks for this S3 request and the resources it checks it on.
    moto's evaluator names S3 operations its own way (GetBucketEncryption as s3:ListBucket,
    PutPublicAccessBlock as s3:CreateBucket, HeadBucket as s3:HeadBucket, ...); AWS's are the IAM
    action names, on the bucket ARN for bucket operations and BUCKET/KEY for object operations."""
    operation, params = _s3_operation(response)
    if not operation:
        return None, [resource]
    action = s3_iam_action(operation)
    partition = get_partition(getattr(response, "region", None) or "us-east-1")
    bucket, key = params.get("Bucket"), params.get("Key")
    if operation == "ListBuckets" or not bucket:
        return action, ["*"]
    bucket_arn = f"arn:{partition}:s3:::{bucket}"  # (the router decoded Bucket and Key)
    if operation == "DeleteObjects":
        keys = _s3_deleted_keys(getattr(response, "raw_body", b""))
        return action, [f"{bucket_arn}/{k}" for k in keys] or [f"{bucket_arn}/*"]
    if key is not None:
        return action, [f"{bucket_arn}/{key}"]
    return action, [bucket_arn]


def _missing_key_bucket_arn(response: Any) -> str | None:
    """(u) The bucket's ARN when the request reads (GetObject, HeadObject) a key that its bucket
    does not hold."""
    operation, params = _s3_operation(response)
    if operation not in ("GetObject", "HeadObject"):
        return None
    bucket = _bucket_named(params.get("Bucket"))
    if bucket is None or params.get("Key") in bucket.keys:
        return None
    partition = get_partition(getattr(response, "region", None) or "us-east-1")
    return f"arn:{partition}:s3:::{bucket.name}"


def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    headers = self.headers
    if (
        "Authorization" not in headers
        or _fault_exempt(getattr(self, "raw_path", "") or "")
        or not iam_enforced(self.current_account)
    ):
        return _MOTO_AUTHENTICATE(self, iam_request_cls, resource)
    if headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return None
    parsed_url = urlsplit(self.uri)
    path = self.raw_path
    if parsed_url.query:
        path += "?" + parsed_url.query
    environ = getattr(getattr(self, "normalized_request", None), "environ", None) or {}
    # The body as sent (a form body werkzeug parsed is gone from request.data): SigV4 signed it.
    body = environ.get("taegis.form_body")
    if body is None:
        body = self.raw_body
    action: Any = self._get_action()
    resources = [resource]
    is_s3 = iam_request_cls is iam_access_control.S3IAMRequest
    if is_s3:
        s3_action, resources = _s3_checks(self, resource)
    try:
        iam_request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=body,
            headers=headers,
            action=action,
        )
        if is_s3 and s3_action:
            iam_request._action = s3_action
        iam_request.check_signature()
        for checked in resources:
            iam_request.check_action_permitted(checked)
        listing = _missing_key_bucket_arn(self) if is_s3 else None
        if listing:
            # AWS: a missing key is "no such key" (404) only to a caller that may list the
            # bucket; to any other it is 403 AccessDenied, as if it were there but refused.
            iam_request._action = "s3:ListBucket"
            iam_request.check_action_permitted(listing)
    except HTTPException as exc:
        if is_s3:
            raise  # moto's S3 errors are S3's (<Error><Code>AccessDenied</Code>...)
        raise _auth_error(self, exc) from None
    return None


def _signed_aws_request(self: Any) -> Any:
    # moto re-signs `body or data`; a request without a body (Lambda's GETs) then had its query
    # parameters, or its headers, signed as a form body and never matched.  The body is what
    # SigV4 signs, empty or not (a form body werkzeug has parsed is re-encoded from the form).
    from botocore.awsrequest import AWSRequest

    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    data: Any = self._body or b""
    if not data and str(self._headers.get("Content-Type", "")).startswith("application/x-www-form-urlencoded"):
        data = self._data  # werkzeug consumed a form body; re-encoded as botocore sends it
    request = AWSRequest(method=self._method, url=self._path, data=data, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


_MOTO_ROLE_POLICIES = iam_access_control.AssumedRoleAccessKey.collect_policies


def _role_policies(self: Any) -> Any:
    # AWS: a role that does not exist grants nothing (moto raised NoSuchEntity, answered 500).
    # sts:AssumeRole into any role ARN works in moto, so the default arn:...:role/x of the tests
    # has no policies and is refused everything but sts:GetCallerIdentity.
    try:
        return _MOTO_ROLE_POLICIES(self)
    except iam_exceptions.NotFoundException:
        return []


def _install_iam_enforcement() -> None:
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action
    iam_access_control.IAMRequestBase._create_aws_request = _signed_aws_request
    iam_access_control.AssumedRoleAccessKey.collect_policies = _role_policies


# ---------------------------------------------------------------------------------------------
# Callers as resource and trust policies see them (rows aa and ab).
# ---------------------------------------------------------------------------------------------


def _signed(response: Any) -> bool:
    """A SigV4-signed request (header or presigned query)."""
    return "Authorization" in response.headers or "X-Amz-Credential" in (response.querystring or {})


def _caller_identity(response: Any) -> tuple[str, str, dict[str, set[str]]]:
    """(account, ARN as GetCallerIdentity gives it, names a policy's AWS principal may give) of
    the caller of a signed request: the account id, its root, the caller's ARN and, for
    assumed-role credentials, the role's ARN."""
    from moto.sts.models import sts_backends

    account, partition = response.current_account, response.partition
    access_key = response.get_access_key()
    sts = sts_backends[account][partition]
    _, arn, _ = sts.get_caller_identity(access_key, response.region)
    names = {account, f"arn:{partition}:iam::{account}:root", arn}
    role = sts.get_assumed_role_from_access_key(access_key)
    if role is not None:
        names.add(role.role_arn)
    return account, arn, {"AWS": names}


def policy_verdict(statements: Any, action: str, resource: str | None, who: dict[str, set[str]], context: dict[str, str]) -> str | None:
    """"Deny" (an explicit deny), "Allow", or None (nothing allows it): policy_allows, telling
    an explicit deny apart."""
    verdict = None
    for st in _as_list(statements):
        if not isinstance(st, dict) or not _statement_applies(st, action, resource, who, context):
            continue
        if st.get("Effect") == "Deny":
            return "Deny"
        if st.get("Effect") == "Allow":
            verdict = "Allow"
    return verdict


def behaviour_field(account_id: str, field: str) -> Any:
    """One behaviour field of the account (its default when unset), without copying the rest."""
    with _BEHAVIOUR_LOCK:
        return (_BEHAVIOURS.get(account_id) or {}).get(field, BEHAVIOUR_DEFAULTS[field])


# ---------------------------------------------------------------------------------------------
# (z) behaviour empty_log_pages.
# AWS: FilterLogEvents searches a log group in pieces and may answer pages without events (with
# a nextToken to go on) before the page that has them.  With the caller account's
# empty_log_pages N, each search (a call without nextToken; its log group and filter arguments)
# is first answered N times {"events": [], "searchedLogStreams": [], "nextToken": TOKEN}; a call
# with such a token gets the next empty page, and after N of them moto's own answer for the
# request without the token (whose nextToken pages on as moto does).  A token stays valid, so a
# retried call gets the same kind of answer.  moto's own refusals (no such log group) come first.
# ---------------------------------------------------------------------------------------------

_LOG_SEARCH_LOCK = threading.Lock()
_LOG_SEARCHES: "collections.OrderedDict[str, tuple[tuple[str, str, str], int]]" = collections.OrderedDict()
_LOG_SEARCHES_KEPT = 20_000
_orig_filter_log_events = logs_responses.LogsResponse.filter_log_events


def _filter_log_events(self: Any) -> Any:
    try:
        request = json.loads(self.body or "{}")
    except (TypeError, ValueError):
        request = None
    if not isinstance(request, dict):
        return _orig_filter_log_events(self)
    token = request.pop("nextToken", None)
    search = (self.current_account, self.region, json.dumps(request, sort_keys=True))
    pages = int(behaviour_field(self.current_account, "empty_log_pages") or 0)
    if token is not None:
        with _LOG_SEARCH_LOCK:
            state = _LOG_SEARCHES.get(token)
        if state is None or state[0] != search:
            return _orig_filter_log_events(self)  # moto's own token (moto: an unknown one finds nothing)
        served = state[1]
        if served >= pages:
            self.body = json.dumps(request)  # the real answer: the request as if it had no token
            return _orig_filter_log_events(self)
    else:
        if pages <= 0:
            return _orig_filter_log_events(self)
        _orig_filter_log_events(self)  # moto's refusals (no such log group, ...) answer first
        served = 0
    new_token = _secrets.token_urlsafe(96)  # opaque (no "@": moto's own tokens have two)
    with _LOG_SEARCH_LOCK:
        _LOG_SEARCHES[new_token] = (search, served + 1)
        while len(_LOG_SEARCHES) > _LOG_SEARCHES_KEPT:
            _LOG_SEARCHES.popitem(last=False)
    return json.dumps({"events": [], "searchedLogStreams": [], "nextToken": new_token})


def _install_log_pages() -> None:
    logs_responses.LogsResponse.filter_log_events = _filter_log_events


# ---------------------------------------------------------------------------------------------
# (aa) behaviour strict_roles.
# AWS: sts:AssumeRole needs the role to exist and its trust policy to allow the caller; moto lets
# anyone assume any role ARN (the tests rely on that, so it stays so by default).  For a role of
# an account with strict_roles, a signed AssumeRole is refused (403 AccessDenied "User: CALLER is
# not authorized to perform: sts:AssumeRole on resource: ROLE_ARN") unless the role exists in the
# account's IAM and its AssumeRolePolicyDocument allows sts:AssumeRole to the caller (principal
# "*", {"AWS": "*"}, the account id, arn:aws:iam::ACCOUNT:root, the caller's ARN or, for an
# assumed role, its role ARN; a matching Deny wins; sts:ExternalId, aws:PrincipalAccount and
# aws:PrincipalArn conditions are known, statements with other condition keys count for nothing).
# ---------------------------------------------------------------------------------------------

_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/.+$")
_orig_assume_role = sts_responses.TokenResponse.assume_role


def _trust_refusal(response: Any, role_arn: str, role_account: str) -> HTTPException | None:
    from moto.iam.models import iam_backends

    account, caller_arn, who = _caller_identity(response)
    try:
        role = iam_backends[role_account][get_partition(response.region)].get_role_by_arn(role_arn)
    except Exception:  # no such role
        role = None
    context = {"aws:principalaccount": account, "aws:principalarn": caller_arn}
    external_id = response._get_param("ExternalId")
    if external_id:
        context["sts:externalid"] = str(external_id)
    if role is not None:
        statements = _policy_statements(role.assume_role_policy_document)
        if policy_verdict(statements, "sts:AssumeRole", None, who, context) == "Allow":
            return None
    message = f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    headers, body = _query_error("sts", "Sender", "AccessDenied", _xml_escape(message))
    return _AuthError(403, headers, body)


def _assume_role(self: Any) -> Any:
    role_arn = str(self._get_param("RoleArn") or "")
    match = _ROLE_ARN_RE.match(role_arn)
    if match and _signed(self) and behaviour_field(match.group(1), "strict_roles"):
        refusal = _trust_refusal(self, role_arn, match.group(1))
        if refusal is not None:
            raise refusal
    return _orig_assume_role(self)


def _install_strict_roles() -> None:
    sts_responses.TokenResponse.assume_role = _assume_role


# ---------------------------------------------------------------------------------------------
# (ab) SNS topics of another account.
# AWS: Subscribe, ListSubscriptionsByTopic and GetTopicAttributes on another account's topic work
# when the topic's policy allows the action to the caller, else 403 AuthorizationError "User:
# CALLER is not authorized to perform: SNS:Subscribe on resource: TOPIC because no
# resource-based policy allows the SNS:Subscribe action".  A subscription lives on the topic (its
# owner's ListSubscriptionsByTopic shows it, Owner the subscriber's account); the subscriber
# (or the topic's owner) may unsubscribe it, and the subscriber's ListSubscriptions lists it.
# moto checked no policy and kept the subscription in the subscriber's account, where the
# topic's owner never saw it (nor did Publish deliver to it).
# ---------------------------------------------------------------------------------------------

_SNS_ARN_ACCOUNT_RE = re.compile(r"^arn:aws[a-z-]*:sns:[^:]*:(\d{12}):")
_SNS_POLICY_ACTIONS = {
    "subscribe": "Subscribe",
    "list_subscriptions_by_topic": "ListSubscriptionsByTopic",
    "get_topic_attributes": "GetTopicAttributes",
}


def _sns_home(backend: Any, arn: Any) -> Any:
    """The SNS backend (same region) of the account that owns the topic or subscription `arn`."""
    match = _SNS_ARN_ACCOUNT_RE.match(str(arn or ""))
    if match is None or match.group(1) == backend.account_id:
        return backend
    return sns_models.sns_backends[match.group(1)][backend.region_name]


def _sns_routed(method: Any) -> Any:
    """A backend call on a topic or subscription ARN, made in the backend of its owner."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn = args[0] if args else kwargs.get("topic_arn", kwargs.get("subscription_arn", kwargs.get("arn")))
        home = self if arn in self.subscriptions else _sns_home(self, arn)
        return method(home, *args, **kwargs)

    return wrapper


_orig_sns_subscribe = sns_models.SNSBackend.subscribe


def _sns_subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
    home = _sns_home(self, topic_arn)
    if home is self:
        return _orig_sns_subscribe(self, topic_arn, endpoint, protocol)
    existing = home._find_subscription(topic_arn, endpoint, protocol)
    subscription = _orig_sns_subscribe(home, topic_arn, endpoint, protocol)
    if existing is None:
        # The subscriber's: its Owner, and its endpoint (a function or queue of its account).
        subscription.owner = subscription.account_id = self.account_id
        subscription.attributes["Owner"] = self.account_id
    return subscription


def _sns_list_subscriptions(self: Any, next_token: str | None = None) -> Any:
    # AWS: the requester's subscriptions, those on other accounts' topics included.
    mine: "collections.OrderedDict[str, Any]" = collections.OrderedDict(
        (arn, s) for arn, s in self.subscriptions.items() if getattr(s, "owner", self.account_id) == self.account_id
    )
    for account, regions in list(sns_models.sns_backends.items()):
        other = dict.get(regions, self.region_name) if account != self.account_id else None
        for arn, s in list(getattr(other, "subscriptions", {}).items()):
            if getattr(s, "owner", None) == self.account_id:
                mine[arn] = s
    return self._get_values_nexttoken(mine, next_token)


def _sns_refuse(caller_arn: str, action: str, resource: str, denied: bool) -> HTTPException:
    why = (
        "with an explicit deny in a resource-based policy"
        if denied
        else f"because no resource-based policy allows the SNS:{action} action"
    )
    message = f"User: {caller_arn} is not authorized to perform: SNS:{action} on resource: {resource} {why}"
    headers, body = _query_error("sns", "Sender", "AuthorizationError", _xml_escape(message))
    return _AuthError(403, headers, body)


def _sns_topic_guard(name: str) -> Any:
    action = _SNS_POLICY_ACTIONS[name]
    method = getattr(sns_responses.SNSResponse, name)

    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        topic_arn = self._get_param("TopicArn")
        match = _SNS_ARN_ACCOUNT_RE.match(str(topic_arn or ""))
        if match and match.group(1) != self.current_account and _signed(self):
            topic = self.backend.get_topic(topic_arn)  # moto's NotFound first
            account, caller_arn, who = _caller_identity(self)
            context = {"aws:principalaccount": account, "aws:principalarn": caller_arn}
            verdict = policy_verdict(_policy_statements(topic.policy), f"sns:{action}", topic_arn, who, context)
            if verdict != "Allow":
                raise _sns_refuse(caller_arn, action, topic_arn, verdict == "Deny")
        return method(self)

    return wrapper


_orig_sns_unsubscribe_response = sns_responses.SNSResponse.unsubscribe


def _sns_unsubscribe_response(self: Any) -> Any:
    # AWS: the subscription's owner or the topic's owner may unsubscribe it.
    arn = self._get_param("SubscriptionArn")
    if _signed(self):
        home = self.backend if arn in self.backend.subscriptions else _sns_home(self.backend, arn)
        subscription = home.subscriptions.get(arn)
        if subscription is not None and self.current_account not in (subscription.owner, subscription.topic.account_id):
            _, caller_arn, _ = _caller_identity(self)
            raise _sns_refuse(caller_arn, "Unsubscribe", arn, False)
    return _orig_sns_unsubscribe_response(self)


def _install_sns_cross_account() -> None:
    backend = sns_models.SNSBackend
    backend.subscribe = _sns_subscribe
    backend.list_subscriptions = _sns_list_subscriptions
    for name in ("unsubscribe", "list_subscriptions_by_topic", "get_subscription_attributes", "set_subscription_attributes"):
        setattr(backend, name, _sns_routed(getattr(backend, name)))
    for name in _SNS_POLICY_ACTIONS:
        setattr(sns_responses.SNSResponse, name, _sns_topic_guard(name))
    sns_responses.SNSResponse.unsubscribe = _sns_unsubscribe_response


# ---------------------------------------------------------------------------------------------
# (i) Request log, (j) admin endpoints, (b) GetAccountSettings route, (k) cfnresponse account.
# ---------------------------------------------------------------------------------------------

_LOG_LOCK = threading.Lock()
_REQUEST_LOG: collections.deque[dict[str, Any]] = collections.deque(maxlen=200_000)

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_ACCOUNT_SETTINGS_RE = re.compile(r"^/\d{4}-\d{2}-\d{2}/account-settings/?$")
_CFNRESPONSE_RE = re.compile(r"^/cloudformation_[^/]+/cfnresponse$")
_STACK_ARN_ACCOUNT_RE = re.compile(r"^arn:aws[a-z-]*:cloudformation:[^:]+:(\d{12}):stack/")

# Deprecated S3 operations share their URI with the current ones; name the current one.
_S3_ACTION_ALIASES = {
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
}
_BOTO_SERVICE = {"lambda": "lambda", "s3": "s3"}


def reset_state() -> None:
    with _LOG_LOCK:
        _REQUEST_LOG.clear()
    with _CONCURRENCY_LOCK:
        _CONCURRENCY_LIMITS.clear()
    with _REGIONS_LOCK:
        _ENABLED_REGIONS.clear()
        _DISABLED_REGIONS.clear()
    with _IAM_ENFORCED_LOCK:
        _IAM_ENFORCED.clear()
    reset_behaviour()
    clear_stack_operations()


# ---------------------------------------------------------------------------------------------
# Faults (behaviour throttle / errors_5xx / drop / drop_after / latency_ms).
# AWS: each service's throttling and server errors, in its own protocol's error format.
# ---------------------------------------------------------------------------------------------

_QUERY_NAMESPACES = {
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
}
# Query-protocol server errors: (status, code, message).
_QUERY_5XX = {
    "cloudformation": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "iam": (500, "ServiceFailure", "Request processing has failed due to some unknown error, exception or failure."),
    "sns": (500, "InternalError", "Request could not be completed due to an internal error."),
    "sts": (503, "ServiceUnavailable", "Service is unable to handle request."),
}
# JSON-protocol (X-Amz-Target) server errors.
_JSON_5XX = {
    "secretsmanager": (500, "InternalServiceError", "An error occurred on the server side."),
    "logs": (500, "ServiceUnavailableException", "The service cannot complete the request."),
    "kms": (500, "KMSInternalException", "The request was rejected because an internal exception occurred."),
    "cloudtrail": (500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."),
}


def _protocol(service: str, environ: dict[str, Any]) -> str:
    if service in ("s3", "lambda", "ec2"):
        return service
    return "json" if environ.get("HTTP_X_AMZ_TARGET") else "query"


def _s3_error(code: str, message: str, extra: str = "") -> tuple[list[tuple[str, str]], str]:
    s3_request_id = uuid.uuid4().hex[:16].upper()
    host_id = _secrets.token_urlsafe(48)
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}'
        f"<RequestId>{s3_request_id}</RequestId><HostId>{host_id}</HostId></Error>"
    )
    return [("Content-Type", "application/xml"), ("x-amz-request-id", s3_request_id), ("x-amz-id-2", host_id)], body


def _lambda_error(code: str, payload: dict[str, Any]) -> tuple[list[tuple[str, str]], str]:
    body = json.dumps(payload, separators=(",", ":"))
    return [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", str(uuid.uuid4()))], body


def _json_error(environ: dict[str, Any], code: str, message: str) -> tuple[list[tuple[str, str]], str]:
    content_type = environ.get("CONTENT_TYPE", "")
    if not content_type.startswith("application/x-amz-json"):
        content_type = "application/x-amz-json-1.1"
    body = json.dumps({"__type": code, "message": message}, separators=(",", ":"))
    return [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))], body


def _ec2_error(code: str, message: str) -> tuple[list[tuple[str, str]], str]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    )
    return [("Content-Type", "text/xml")], body


def _query_error(service: str, error_type: str, code: str, message: str) -> tuple[list[tuple[str, str]], str]:
    request_id = str(uuid.uuid4())
    namespace = _QUERY_NAMESPACES.get(service)
    root = f'<ErrorResponse xmlns="{namespace}">' if namespace else "<ErrorResponse>"
    body = (
        f"{root}<Error><Type>{error_type}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


def _finish_error(status: int, headers: list[tuple[str, str]], body: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    data = body.encode("utf-8")
    if environ.get("REQUEST_METHOD") == "HEAD":
        data = b""  # AWS: a HEAD error has headers only
    return status, headers + [("Content-Length", str(len(data)))], data


def _fault_response(service: str, kind: str, variant: int, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    protocol = _protocol(service, environ)
    if protocol == "s3":
        if kind == "throttle":
            status, code, message = 503, "SlowDown", "Please reduce your request rate."
        elif variant == 0:
            status, code, message = 503, "ServiceUnavailable", "Please reduce your request rate."
        else:
            status, code, message = 500, "InternalError", "We encountered an internal error. Please try again."
        headers, body = _s3_error(code, message)
    elif protocol == "lambda":
        if kind == "throttle":
            status, code = 429, "TooManyRequestsException"
            payload: dict[str, Any] = {"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}
        else:
            status, code = 500, "ServiceException"
            payload = {"Type": "Service", "message": "An error occurred and the request cannot be processed."}
        headers, body = _lambda_error(code, payload)
    elif protocol == "json":
        if kind == "throttle":
            status, code, message = 400, "ThrottlingException", "Rate exceeded"
        else:
            status, code, message = _JSON_5XX.get(
                service, (500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.")
            )
        headers, body = _json_error(environ, code, message)
    elif protocol == "ec2":
        if kind == "throttle":
            status, code, message = 503, "RequestLimitExceeded", "Request limit exceeded."
        else:
            status, code, message = 503, "Unavailable", "The server is overloaded and can't handle the request."
        headers, body = _ec2_error(code, message)
    else:  # query protocol (CloudFormation, SNS, STS, IAM, ...)
        if kind == "throttle":
            status, error_type, code, message = 400, "Sender", "Throttling", "Rate exceeded"
        else:
            status, code, message = _QUERY_5XX.get(service, (503, "ServiceUnavailable", "Service is unable to handle request."))
            error_type = "Receiver"
        headers, body = _query_error(service, error_type, code, message)
    return _finish_error(status, headers, body, environ)


_INVALID_TOKEN = "The security token included in the request is invalid."


def _refusal_response(service: str, access_key: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """(n) What AWS answers a request signed for a region that does not exist or is not enabled."""
    protocol = _protocol(service, environ)
    if protocol == "s3":
        status = 403
        headers, body = _s3_error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            f"<AWSAccessKeyId>{_xml_escape(access_key)}</AWSAccessKeyId>",
        )
    elif protocol == "lambda":
        status = 403
        headers, body = _lambda_error("UnrecognizedClientException", {"Type": "User", "message": _INVALID_TOKEN})
    elif protocol == "json":
        status = 400
        headers, body = _json_error(environ, "UnrecognizedClientException", _INVALID_TOKEN)
    elif protocol == "ec2":
        status = 401
        headers, body = _ec2_error("AuthFailure", "AWS was not able to validate the provided access credentials")
    else:  # query protocol: STS (the tool's first call in a region), CloudFormation, SNS, IAM, ...
        status = 403
        headers, body = _query_error(service, "Sender", "InvalidClientTokenId", _INVALID_TOKEN)
    return _finish_error(status, headers, body, environ)


_HTTP_REASONS = {
    301: "Moved Permanently", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 405: "Method Not Allowed",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


def _drain_body(environ: dict[str, Any]) -> None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > 0:
            environ["wsgi.input"].read(length)
    except Exception:
        pass


def _fault_exempt(path: str) -> bool:
    path = path.split("?", 1)[0]
    return path.startswith("/_taegis/") or path.startswith("/moto-api") or bool(_CFNRESPONSE_RE.match(path))


def _scope_of(raw_path: str, headers: Any) -> tuple[str, str, str, str] | None:
    """(access key, account, region, service) of a request from its request line and headers
    (before werkzeug answers `Expect: 100-continue`); None when it is not signed or is exempt."""
    if _fault_exempt(raw_path):
        return None
    match = _CREDENTIAL_RE.search(headers.get("Authorization", "") or "")
    if not match:
        query = parse_qs(raw_path.split("?", 1)[1]) if "?" in raw_path else {}
        credential = (query.get("X-Amz-Credential") or [""])[0]
        match = re.match(r"([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request", credential)
    if not match:
        return None
    access_key, _, region, service = match.groups()
    account = _account_for_access_key(access_key, {"x-moto-account-id": headers.get("x-moto-account-id", "") or ""})
    return access_key, account, region, service


def _predraw_fault(raw_path: str, headers: Any) -> tuple[float, str | None, int] | None:
    scope = _scope_of(raw_path, headers)
    return _draw_fault(scope[1]) if scope else None


def _predraw_refusal(raw_path: str, headers: Any) -> bool:
    scope = _scope_of(raw_path, headers)
    return bool(scope) and not region_allowed(scope[1], scope[3], scope[2])


class ConnectionDropped(ConnectionAbortedError):
    """Raised out of the WSGI app: werkzeug treats it as a dropped connection and writes nothing."""


def _drop_connection(environ: dict[str, Any]) -> None:
    # Shut the socket down so that the client sees the connection end without a response
    # (werkzeug would otherwise wait for another request on a keep-alive connection).
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionDropped("taegis_moto: connection dropped by the behaviour settings")


def _buffer_form_body(environ: dict[str, Any]) -> str:
    """Read a form-encoded body (query protocol) and put it back for moto."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if length <= 0:
        return ""
    if "taegis.form_body" in environ:
        return environ["taegis.form_body"].decode("utf-8", "replace")
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    # The bytes as sent: SigV4 signed them, and an SDK's percent-encoding (the Rust SDK's
    # RFC 3986 style: %20, ~ kept, * encoded) is not what re-encoding the parsed form gives (u).
    environ["taegis.form_body"] = body
    return body.decode("utf-8", "replace")


def _operation_name(environ: dict[str, Any], service: str) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    body = _buffer_form_body(environ) if service not in _BOTO_SERVICE else ""
    if body:
        action = dict(parse_qsl(body)).get("Action")
        if action:
            return action
    try:
        router = get_service_router(_BOTO_SERVICE.get(service, service))
        operation, _ = router.match(MotoRequest(environ, shallow=True))
        name = operation.name
    except Exception:
        return None
    if service == "s3":
        name = _S3_ACTION_ALIASES.get(name, name)
    return name


def _describe_request(environ: dict[str, Any]) -> dict[str, Any] | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL_RE.search(auth)
    if not match:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        cred = (query.get("X-Amz-Credential") or [""])[0]
        match = re.match(r"([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request", cred)
    if not match:
        return None
    access_key, _, region, service = match.groups()
    headers = {"x-moto-account-id": environ.get("HTTP_X_MOTO_ACCOUNT_ID", "")}
    return {
        "service": service,
        "action": _operation_name(environ, service),
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "access_key": access_key,
        "account": _account_for_access_key(access_key, headers),
        "region": region,
        "status": None,
    }


# AWS: STS calls that carry no signature (the token or assertion is the credential).  They act
# in the role's account, so the log names that account (access key and region: null).
_UNSIGNED_STS_ACTIONS = ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML")


def _describe_unsigned_sts(environ: dict[str, Any]) -> dict[str, Any] | None:
    if environ.get("HTTP_AUTHORIZATION") or "X-Amz-Credential" in environ.get("QUERY_STRING", ""):
        return None
    params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    if "Action" not in params:
        params.update(parse_qsl(_buffer_form_body(environ)))
    if params.get("Action") not in _UNSIGNED_STS_ACTIONS:
        return None
    parts = str(params.get("RoleArn", "")).split(":")
    account = parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else None
    return {
        "service": "sts",
        "action": params["Action"],
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "access_key": None,
        "account": account,
        "region": None,
        "status": None,
    }


def _json_response(start_response: Any, status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "OK")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(f"{status} {reason}", headers + (extra or []))
    return [body]


def _read_json(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    return json.loads(raw or b"{}")


class _TimedWriter:
    """Bench: the request handler's socket writer, noting when it last wrote (werkzeug's dev
    server writes unbuffered, so that is when the client can have the last byte)."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.last_write: float | None = None

    def write(self, data: Any) -> Any:
        written = self._inner.write(data)
        self.last_write = time.time()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Timed:
    """Bench: a logged request's response body.  werkzeug closes it once the response is written
    (and up to 10 ms later: it first drains the socket); `duration` runs to the last write."""

    def __init__(self, inner: Any, entry: dict[str, Any], writer: Any):
        self.inner = inner
        self.entry = entry
        self.writer = writer

    def __iter__(self) -> Any:
        return iter(self.inner)

    def close(self) -> None:
        try:
            if hasattr(self.inner, "close"):
                self.inner.close()
        finally:
            done = getattr(self.writer, "last_write", None) or time.time()
            self.entry["duration"] = max(0.0, done - self.entry["time"])


class TaegisApp:
    """WSGI wrapper around moto's DomainDispatcherApplication."""

    def __init__(self, inner: Any):
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_taegis/"):
            return self._admin(environ, start_response, path, method)
        if path == "/moto-api/reset" and method == "POST":
            reset_state()
        if _CFNRESPONSE_RE.match(path):
            # moto reads the JSON body only when it is not sent as JSON or a form (a JSON or form
            # content type makes it answer 500 or 404), so drop the content type.
            environ["CONTENT_TYPE"] = ""
            if not environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
                # The custom-resource callback is unsigned; act in the stack's own account.
                stack = (parse_qs(environ.get("QUERY_STRING", "")).get("stack") or [""])[0]
                m = _STACK_ARN_ACCOUNT_RE.match(stack)
                if m:
                    environ["HTTP_X_MOTO_ACCOUNT_ID"] = m.group(1)

        entry = None
        try:
            entry = _describe_request(environ) or _describe_unsigned_sts(environ)
        except Exception as exc:  # never let the log break a request
            print(f"taegis_moto: request log failed: {exc!r}", file=sys.stderr)
        if entry is None:
            return self.inner(environ, start_response)
        entry["time"] = environ.get("taegis.arrived") or time.time()
        entry["duration"] = None
        with _LOG_LOCK:
            _REQUEST_LOG.append(entry)
        try:
            return _Timed(self._serve(environ, start_response, entry, path, method), entry, environ.get("taegis.writer"))
        except ConnectionDropped:
            raise  # no response: duration stays null
        except BaseException:
            entry["duration"] = time.time() - entry["time"]  # werkzeug answers 500 at once
            raise

    def _serve(self, environ: dict[str, Any], start_response: Any, entry: dict[str, Any], path: str, method: str) -> Any:
        def logged_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                entry["status"] = int(status.split()[0])
            except ValueError:
                pass
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        if entry["access_key"] is None:
            # Unsigned (AssumeRoleWithWebIdentity): no region to refuse, no faults.
            return self.inner(environ, logged_start_response)
        if not _fault_exempt(path) and not region_allowed(entry["account"], entry["service"], entry["region"]):
            return self._refuse(environ, logged_start_response, entry)
        fault = None
        if not _fault_exempt(path):
            # Drawn by the request handler already when the client expects 100-continue.
            latency, fault, variant = environ.get("taegis.fault") or _draw_fault(entry["account"])
            if latency > 0:
                time.sleep(latency)
            fault = fault or _take_targeted_fault(entry["account"], entry.get("action"))
        if fault in ("drop", "throttle", "5xx") and not environ.get("taegis.no_continue"):
            _drain_body(environ)  # unread, so that the socket closes cleanly
        if fault == "drop":
            entry["fault"] = "drop"
            _drop_connection(environ)
        if fault in ("throttle", "5xx"):
            entry["fault"] = fault
            status, headers, body = _fault_response(entry["service"], fault, variant, environ)
            logged_start_response(f"{status} {_HTTP_REASONS.get(status, 'Error')}", headers)
            return [body]
        if fault == "drop_after":
            # Processed as usual (the write happens), then the connection ends without a response.
            entry["fault"] = "drop_after"

            def swallowed_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                try:
                    entry["status"] = int(status.split()[0])
                except ValueError:
                    pass
                return lambda data: None

            result = self._handle(environ, swallowed_start_response, entry, path, method)
            try:
                for _ in result:
                    pass
            finally:
                if hasattr(result, "close"):
                    result.close()
            _drop_connection(environ)  # (the body was read by moto; never read the socket again)
        return self._handle(environ, logged_start_response, entry, path, method)

    def _refuse(self, environ: dict[str, Any], start_response: Any, entry: dict[str, Any]) -> list[bytes]:
        # AWS (n): refused before anything else (no latency or fault), and without
        # "100 Continue" (the request handler held it back, see _predraw_refusal).
        if not environ.get("taegis.no_continue"):
            _drain_body(environ)  # unread, so that the socket closes cleanly
        status, headers, body = _refusal_response(entry["service"], entry["access_key"], environ)
        start_response(f"{status} {_HTTP_REASONS.get(status, 'Error')}", headers)
        return [body]

    def _handle(self, environ: dict[str, Any], start_response: Any, entry: dict[str, Any], path: str, method: str) -> Any:
        if entry["service"] == "lambda" and method == "GET" and _ACCOUNT_SETTINGS_RE.match(path):
            # AWS: Lambda GetAccountSettings (moto has no route for it).
            entry["action"] = "GetAccountSettings"
            return _json_response(start_response, 200, lambda_account_settings(entry["account"], entry["region"]))
        refusal = s3_refusal(environ, entry) if entry["service"] == "s3" else None
        if refusal is not None:
            # (q) answered before moto sees the request.
            if not environ.get("taegis.no_continue"):
                _drain_body(environ)
            status, headers, body = refusal.parts(method)
            start_response(f"{status} {_HTTP_REASONS.get(status, 'Error')}", headers)
            return [body]
        if entry["service"] not in _BOTO_SERVICE:
            _buffer_form_body(environ)  # keep the form's bytes for the signature check (u)
        return self.inner(environ, start_response)

    def _admin(self, environ: dict[str, Any], start_response: Any, path: str, method: str) -> list[bytes]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path.rstrip("/") == "/_taegis/requests":
            if method == "DELETE":
                with _LOG_LOCK:
                    _REQUEST_LOG.clear()
                return _json_response(start_response, 200, {"requests": []})
            if method != "GET":
                return _json_response(start_response, 405, {"error": "GET or DELETE"})
            with _LOG_LOCK:
                entries = [dict(e) for e in _REQUEST_LOG]
            for key in ("access_key", "account", "service", "action", "region"):
                if key in query:
                    entries = [e for e in entries if e.get(key) == query[key]]
            return _json_response(start_response, 200, {"requests": entries})
        if path.rstrip("/") == "/_taegis/account-settings":
            if method == "GET":
                account = query.get("account", DEFAULT_ACCOUNT_ID)
                region = query.get("region", "us-east-1")
                return _json_response(start_response, 200, lambda_account_settings(account, region))
            if method != "POST":
                return _json_response(start_response, 405, {"error": "GET or POST"})
            try:
                doc = _read_json(environ)
                account = str(doc["account"])
                if not re.fullmatch(r"\d{12}", account):
                    raise ValueError("account must be 12 digits")
                region = doc.get("region") or None
                limit = int(doc["concurrent_executions"])
                if limit < 0:
                    raise ValueError("concurrent_executions must be >= 0")
            except (KeyError, ValueError, TypeError) as exc:
                return _json_response(start_response, 400, {"error": str(exc)})
            with _CONCURRENCY_LOCK:
                _CONCURRENCY_LIMITS[(account, region)] = limit
            return _json_response(
                start_response, 200, {"account": account, "region": region, "concurrent_executions": limit}
            )
        if path.rstrip("/") == "/_taegis/behaviour":
            return self._behaviour(environ, start_response, query, method)
        if path.rstrip("/") == "/_taegis/regions":
            return self._regions(environ, start_response, query, method)
        if path.rstrip("/") == "/_taegis/stack-operations":
            return self._stack_operations(start_response, query, method)
        if path.rstrip("/") == "/_taegis/iam-enforcement":
            return self._iam_enforcement(environ, start_response, method)
        return _json_response(start_response, 404, {"error": f"unknown admin path {path}"})

    def _stack_operations(self, start_response: Any, query: dict[str, str], method: str) -> list[bytes]:
        # Bench: the stack operation record (see _op_begin).
        account = query.get("account")
        if account is not None and not re.fullmatch(r"\d{12}", account):
            return _json_response(start_response, 400, {"error": "account must be 12 digits"})
        if method == "DELETE":
            clear_stack_operations(account)
            return _json_response(start_response, 200, {"operations": []})
        if method != "GET":
            return _json_response(start_response, 405, {"error": "GET or DELETE"})
        return _json_response(start_response, 200, {"operations": stack_operations(account, query.get("region"))})

    def _iam_enforcement(self, environ: dict[str, Any], start_response: Any, method: str) -> list[bytes]:
        # (u) the accounts whose signed requests moto's IAM evaluator checks.
        if method == "GET":
            return _json_response(start_response, 200, {"enforced": enforced_accounts()})
        if method != "POST":
            return _json_response(start_response, 405, {"error": "GET or POST"})
        try:
            doc = _read_json(environ)
            if not isinstance(doc, dict):
                raise ValueError("body must be a JSON object")
            unknown = sorted(set(doc) - {"account", "enforce"})
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(unknown)}")
            account = doc.get("account")
            if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
                raise ValueError("account must be 12 digits (a string)")
            enforce = doc.get("enforce", True)
            if not isinstance(enforce, bool):
                raise ValueError("enforce must be true or false")
        except (ValueError, TypeError) as exc:
            return _json_response(start_response, 400, {"error": str(exc)})
        enforced = set_iam_enforced(account, enforce)
        return _json_response(start_response, 200, {"account": account, "enforce": account in enforced, "enforced": enforced})

    def _regions(self, environ: dict[str, Any], start_response: Any, query: dict[str, str], method: str) -> list[bytes]:
        if method == "GET":
            account = query.get("account")
            if account is None:
                with _REGIONS_LOCK:
                    everything = {a: list(r) for a, r in sorted(_ENABLED_REGIONS.items())}
                    disabled = {a: list(r) for a, r in sorted(_DISABLED_REGIONS.items())}
                return _json_response(start_response, 200, {"regions": everything, "disabled": disabled})
            if not re.fullmatch(r"\d{12}", account):
                return _json_response(start_response, 400, {"error": "account must be 12 digits"})
            return _json_response(start_response, 200, account_regions(account))
        if method != "POST":
            return _json_response(start_response, 405, {"error": "GET or POST"})
        try:
            account, enabled, disabled = _validate_regions(_read_json(environ))
            answer = set_account_regions(account, enabled, disabled)
        except (ValueError, TypeError) as exc:
            return _json_response(start_response, 400, {"error": str(exc)})
        return _json_response(start_response, 200, answer)

    def _behaviour(self, environ: dict[str, Any], start_response: Any, query: dict[str, str], method: str) -> list[bytes]:
        account = query.get("account")
        if account is not None and not re.fullmatch(r"\d{12}", account):
            return _json_response(start_response, 400, {"error": "account must be 12 digits"})
        if method == "GET":
            if account is None:
                with _BEHAVIOUR_LOCK:
                    accounts = sorted(_BEHAVIOURS)
                return _json_response(start_response, 200, {"behaviours": {a: get_behaviour(a) for a in accounts}, "defaults": BEHAVIOUR_DEFAULTS})
            return _json_response(start_response, 200, dict(get_behaviour(account), account=account))
        if method == "DELETE":
            reset_behaviour(account)
            if account is None:
                return _json_response(start_response, 200, {"behaviours": {}})
            return _json_response(start_response, 200, dict(get_behaviour(account), account=account))
        if method != "POST":
            return _json_response(start_response, 405, {"error": "GET, POST or DELETE"})
        try:
            doc = _read_json(environ)
            if not isinstance(doc, dict):
                raise ValueError("body must be a JSON object")
            account = str(doc.get("account") or account or "")
            if not re.fullmatch(r"\d{12}", account):
                raise ValueError("account must be 12 digits")
            fields = _validate_behaviour(doc)
        except (KeyError, ValueError, TypeError) as exc:
            return _json_response(start_response, 400, {"error": str(exc)})
        return _json_response(start_response, 200, dict(set_behaviour(account, fields), account=account))


# ---------------------------------------------------------------------------------------------
# Server throughput.  moto's server runs every request under one interpreter lock, so its CPU
# per request bounds what it sustains (measured on 2 cores: ~215 DescribeStacks/s, 8 in flight).
# ---------------------------------------------------------------------------------------------

# Bench: moto's dispatcher calls backends.list_of_moto_modules() twice per request, and it lists
# and stats moto's package directory each time (~180 stat calls): about a fifth of the server's
# CPU for a cheap call such as DescribeStacks.  The list cannot change while the server runs.
_MOTO_MODULES = tuple(moto.backends.list_of_moto_modules())


def _list_of_moto_modules() -> tuple[str, ...]:
    return _MOTO_MODULES


# Bench: Stack.parse_template is pure-Python PyYAML (~13 ms for the bundled Lambda template), and
# a CreateStack parses its template twice (capabilities, then the stack), an UpdateStack up to
# four times.  Parses are kept by template text; each caller gets its own deep copy, as before.
_TEMPLATE_CACHE: "collections.OrderedDict[str, Any]" = collections.OrderedDict()
_TEMPLATE_CACHE_LOCK = threading.Lock()
_TEMPLATE_CACHE_SIZE = 64
_orig_parse_template = cfn_models.Stack.parse_template


def _parse_template_cached(template: str) -> Any:
    if not isinstance(template, str):
        return _orig_parse_template(template)
    with _TEMPLATE_CACHE_LOCK:
        parsed = _TEMPLATE_CACHE.get(template)
        if parsed is not None:
            _TEMPLATE_CACHE.move_to_end(template)
    if parsed is None:
        parsed = _orig_parse_template(template)  # parse errors are raised, never kept
        with _TEMPLATE_CACHE_LOCK:
            _TEMPLATE_CACHE[template] = parsed
            while len(_TEMPLATE_CACHE) > _TEMPLATE_CACHE_SIZE:
                _TEMPLATE_CACHE.popitem(last=False)
    return copy.deepcopy(parsed)


def _install_throughput() -> None:
    moto.backends.list_of_moto_modules = _list_of_moto_modules
    cfn_models.Stack.parse_template = staticmethod(_parse_template_cached)


def install() -> None:
    _install_throughput()
    _install_regions()
    _install_iam_enforcement()
    _install_secret_model()
    _install_resource_policy_models()
    _install_lambda_concurrency()
    _install_lambda_busy()
    _install_log_pages()
    _install_strict_roles()
    _install_sns_cross_account()
    LambdaPolicy.add_statement = _add_statement
    lambda_models.LambdaFunction._set_function_code = _set_function_code
    s3_responses.S3Response.get_bucket_notification = _get_bucket_notification
    s3_models.S3Backend.put_bucket_notification_configuration = _put_bucket_notification_configuration
    s3_responses.S3Response._bucket_response = _answer_refusals(s3_responses.S3Response._bucket_response)
    s3_responses.S3Response._key_response = _answer_refusals(s3_responses.S3Response._key_response)
    _install_cloudformation()


install()


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _watch_parent(pid: int) -> None:
    while True:
        if not _pid_alive(pid):
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (printed as 'port N')")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
    args = parser.parse_args(argv)

    if args.parent_pid is not None:
        if not _pid_alive(args.parent_pid):
            sys.exit(0)
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()

    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        def parse_request(self) -> bool:
            # Bench: the request arrived (its request line has been read).
            self._taegis_arrived = time.time()
            self._taegis_fault = None
            self._taegis_no_continue = False
            return super().parse_request()

        def handle_expect_100(self) -> bool:
            # "Expect: 100-continue" is answered before the app runs.  A request that is to be
            # dropped must not get even that, and AWS answers a throttled, failed or refused
            # request at once instead of "100 Continue" (the client then never sends the body),
            # so the fault is drawn here and handed to the app.
            try:
                refused = _predraw_refusal(self.path, self.headers)
            except Exception:
                refused = False
            if refused:
                self._taegis_no_continue = True
                del self.headers["Expect"]
                return True
            try:
                self._taegis_fault = _predraw_fault(self.path, self.headers)
            except Exception:
                self._taegis_fault = None
            if self._taegis_fault is not None and self._taegis_fault[1] in ("drop", "throttle", "5xx"):
                self._taegis_no_continue = True
                del self.headers["Expect"]  # werkzeug would send another "100 Continue"
                return True
            return super().handle_expect_100()

        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            environ["taegis.arrived"] = getattr(self, "_taegis_arrived", None)
            if not isinstance(self.wfile, _TimedWriter):
                self.wfile = _TimedWriter(self.wfile)
            environ["taegis.writer"] = self.wfile
            if getattr(self, "_taegis_fault", None) is not None:
                environ["taegis.fault"] = self._taegis_fault
            if getattr(self, "_taegis_no_continue", False):
                environ["taegis.no_continue"] = True
            return environ

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            # Quiet by default: a test harness that never drains stderr must not block us.
            if args.verbose:
                super().log_request(code, size)

    app = TaegisApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    port = server.server_address[1]
    # Custom resources give their Lambda a callback URL built from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    def stop(signum: int, frame: Any) -> None:
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    threading.Thread(target=server.serve_forever, daemon=True).start()
    if args.port == 0:
        print(f"port {port}", flush=True)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{port}/moto-api/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    deadline = time.time() + 60
    while True:
        try:
            with opener.open(url, timeout=2) as resp:
                resp.read()
            break
        except Exception:
            if time.time() > deadline:
                print("taegis_moto: server did not answer within 60 s", file=sys.stderr)
                os._exit(1)
            time.sleep(0.05)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
