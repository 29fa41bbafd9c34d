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
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import io
import json
import os
import re
import secrets as _secrets
import signal
import string
import sys
import threading
import time
import urllib.request
import uuid
import weakref
from typing import Any
from urllib.parse import parse_qs, parse_qsl
from xml.sax.saxutils import escape as _xml_escape

from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.policy import Policy as LambdaPolicy
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.exceptions import (
    AlreadyExistsException,
    CloudFormationError,
    ValidationError,
)
from moto.cloudformation.utils import generate_stack_id
from moto.core.common_models import CloudFormationModel
from moto.core.request import Request as MotoRequest
from moto.core.responses import ActionResult
from moto.core.routing import get_service_router
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.s3.exceptions import InvalidArgumentError
from moto.secretsmanager.models import secretsmanager_backends

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


def _install_secret_model() -> None:
    # moto builds its type map from CloudFormationModel.__subclasses__() behind lru_caches.
    for fn in (
        cfn_parsing.get_model_list,
        cfn_parsing.get_model_map,
        cfn_parsing.get_name_type_map,
    ):
        fn.cache_clear()
    assert cfn_parsing.get_model_map()["AWS::SecretsManager::Secret"] is TaegisSecret


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
        return fn


def _lambda_cfn_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # type: ignore[no-untyped-def]
    requested = (cloudformation_json.get("Properties") or {}).get("ReservedConcurrentExecutions")
    with _CONCURRENCY_LOCK:
        if requested is not None:
            check_reserved_concurrency(
                account_id, region_name, original_resource.function_name, int(requested)
            )
        fn = _orig_lambda_cfn_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        fn.reserved_concurrency = int(requested) if requested is not None else None
        return fn


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
        return _orig_add_statement(self, raw, qualifier)


# ---------------------------------------------------------------------------------------------
# (c) + (h) S3 bucket notifications.
# AWS: GetBucketNotificationConfiguration answers <NotificationConfiguration> (empty when there
# is none) and returns EventBridgeConfiguration; PutBucketNotificationConfiguration refuses
# overlapping configurations and Lambda destinations that S3 may not invoke.
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
    config = self.backend.get_bucket_notification_configuration(self.bucket_name)
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


def _lambda_allows_s3(function_arn: str, bucket: Any) -> bool:
    parts = function_arn.split(":")
    if len(parts) < 7:
        return False
    region, account = parts[3], parts[4]
    try:
        fn = get_lambda_backend(account, region).get_function(function_arn)
    except Exception:
        return False
    bucket_arn = f"arn:aws:s3:::{bucket.name}"
    for st in list(fn.policy.statements):
        if st.get("Effect", "Allow") != "Allow":
            continue
        principal = st.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else principal
        if isinstance(services, str):
            services = [services]
        if not services or not ({"s3.amazonaws.com", "*"} & set(services)):
            continue
        actions = st.get("Action")
        actions = [actions] if isinstance(actions, str) else (actions or [])
        if not ({"lambda:InvokeFunction", "lambda:*", "*"} & set(actions)):
            continue
        ok = True
        for operator, conditions in (st.get("Condition") or {}).items():
            for key, expected in conditions.items():
                expected_values = expected if isinstance(expected, list) else [expected]
                if key.lower() == "aws:sourcearn":
                    if operator.startswith("Arn") or operator.startswith("String"):
                        ok &= any(fnmatch.fnmatchcase(bucket_arn, str(v)) for v in expected_values)
                elif key.lower() == "aws:sourceaccount":
                    ok &= bucket.account_id in [str(v) for v in expected_values]
        if ok:
            return True
    return False


_orig_put_notification = s3_models.S3Backend.put_bucket_notification_configuration


def _put_bucket_notification_configuration(self: Any, bucket_name: str, notification_config: dict[str, Any]) -> None:
    bucket = self.get_bucket(bucket_name)
    entries: list[tuple[str, dict[str, Any]]] = []
    for kind, arn_key in (("TopicConfiguration", "Topic"), ("QueueConfiguration", "Queue"), ("CloudFunctionConfiguration", "CloudFunction")):
        for entry in (notification_config or {}).get(kind) or []:
            entries.append((arn_key, entry))
    _check_overlap(entries)
    failed = [e["CloudFunction"] for k, e in entries if k == "CloudFunction" and not _lambda_allows_s3(e["CloudFunction"], bucket)]
    if failed:
        err = InvalidArgumentError(
            "Unable to validate the following destination configurations",
            failed[0],
            "Not authorized to invoke function [" + failed[0] + "]",
        )
        raise err
    return _orig_put_notification(self, bucket_name, notification_config)


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
    for key in resolved:
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


_orig_delete_stack = cfn_models.CloudFormationBackend.delete_stack


def _delete_stack(self: Any, name_or_stack_id: str) -> None:
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in list(self.stacks.values()) if s.name == name_or_stack_id), None
    )
    if stack is not None:
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
    _orig_delete_stack(self, name_or_stack_id)
    if stack is not None:
        _mark_dead(stack)


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
    if new_template != old_stack.template_dict:
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


def _mark_dead(stack: Any) -> None:
    stack._taegis_dead = True
    stack.resource_map._taegis_dead = True


_orig_rm_getitem = cfn_parsing.ResourceMap.__getitem__


def _rm_getitem(self: Any, key: str) -> Any:
    if getattr(self, "_taegis_dead", False) and key not in self._parsed_resources:
        if key in self._resource_json_map:
            return None
    return _orig_rm_getitem(self, key)


_orig_outputs = cfn_models.Stack.outputs
_orig_exports = cfn_models.Stack.exports


def _outputs(self: Any) -> Any:
    if getattr(self, "_taegis_dead", False):
        return None
    return _orig_outputs.fget(self)


def _exports(self: Any) -> Any:
    if getattr(self, "_taegis_dead", False):
        return []
    return _orig_exports.fget(self)


def _stack_resources(self: Any) -> Any:
    if getattr(self, "_taegis_dead", False):
        return []
    # AWS: resources whose condition is false do not exist (moto lists them as empty entries).
    return [r for r in self.resource_map.values() if r is not None and not isinstance(r, (str, int, float, list, dict))]


# ---------------------------------------------------------------------------------------------
# Resource-level events and rollback.
# AWS: CreateStack accepts the request; a resource that fails shows CREATE_FAILED with the
# service's message, the stack rolls back (ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE).  Template
# and parameter errors (ValidationError) are still refused by CreateStack itself.
# ---------------------------------------------------------------------------------------------

_orig_parse_and_create = cfn_parsing.parse_and_create_resource
_orig_parse_and_update = cfn_parsing.parse_and_update_resource
_orig_rm_delete_resource = cfn_parsing.ResourceMap._delete_resource


def _service_of(resource_type: str) -> str:
    parts = resource_type.split("::")
    return parts[1] if len(parts) > 2 else "CloudFormation"


def _parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):  # type: ignore[no-untyped-def]
    stack = _stack_by_id(getattr(resources_map, "stack_id", None), resources_map)
    rtype = resource_json.get("Type", "")
    try:
        resource = _orig_parse_and_create(logical_id, resource_json, resources_map, account_id, region_name)
    except Exception as exc:
        if not hasattr(exc, "_taegis_resource"):
            exc._taegis_resource = (logical_id, rtype)  # type: ignore[attr-defined]
            if stack is not None and not isinstance(exc, CloudFormationError):
                _stack_event(stack, logical_id, rtype, "CREATE_IN_PROGRESS")
                _stack_event(stack, logical_id, rtype, "CREATE_FAILED", _handler_message(_service_of(rtype), _error_message(exc)))
        raise
    if resource is not None and stack is not None:
        physical = getattr(resource, "physical_resource_id", None)
        _stack_event(stack, logical_id, rtype, "CREATE_IN_PROGRESS")
        if isinstance(resource, CustomModel) and not resource.is_created():
            resource._taegis_event = (stack.stack_id, logical_id, rtype)  # type: ignore[attr-defined]
        else:
            _stack_event(stack, logical_id, rtype, "CREATE_COMPLETE", physical_id=str(physical or ""))
    return resource


def _parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):  # type: ignore[no-untyped-def]
    stack = _stack_by_id(getattr(resources_map, "stack_id", None), resources_map)
    rtype = resource_json.get("Type", "")
    try:
        resource = _orig_parse_and_update(logical_id, resource_json, resources_map, account_id, region_name)
    except Exception as exc:
        if not hasattr(exc, "_taegis_resource"):
            exc._taegis_resource = (logical_id, rtype)  # type: ignore[attr-defined]
        raise
    if resource is not None and stack is not None:
        _stack_event(stack, logical_id, rtype, "UPDATE_IN_PROGRESS")
        _stack_event(stack, logical_id, rtype, "UPDATE_COMPLETE", physical_id=str(getattr(resource, "physical_resource_id", "") or ""))
    return resource


def _rm_delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
    stack = _stack_by_id(self.stack_id, self)
    logical_id = getattr(parsed_resource, "logical_resource_id", "")
    rtype = resource_json.get("Type", "")
    physical = str(getattr(parsed_resource, "physical_resource_id", "") or "")
    if stack is not None:
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
    self.stacks[stack_id] = new_stack
    new_stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    try:
        self._validate_export_uniqueness(new_stack)
        for export in new_stack.exports:
            self.exports[export.name] = export
        new_stack.create_resources()
    except CloudFormationError:
        # Refused by the API itself (e.g. "No export named X found."): the stack never existed.
        _undo_failed_create(self, new_stack)
        self.stacks.pop(stack_id, None)
        raise
    except Exception as exc:
        _rollback_create(self, new_stack, exc)
    return new_stack


def _undo_failed_create(backend: Any, stack: Any) -> None:
    for export_name in [n for n, e in list(backend.exports.items()) if e.exporting_stack_id == stack.stack_id]:
        backend.exports.pop(export_name, None)
    try:
        stack.resource_map.delete()
    except Exception:
        pass
    _mark_dead(stack)


def _rollback_create(backend: Any, stack: Any, exc: BaseException) -> None:
    logical_id = getattr(exc, "_taegis_resource", (stack.name, ""))[0]
    reason = f"The following resource(s) failed to create: [{logical_id}]. Rollback requested by user."
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack.status_reason = reason
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    _undo_failed_create(backend, stack)
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


_orig_stack_update = cfn_models.Stack.update


def _stack_update(self: Any, template: str, role_arn: str | None = None, parameters: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
    # AWS: a resource failing during UpdateStack ends in UPDATE_ROLLBACK_COMPLETE with the old
    # template and parameters, not in an API error.
    saved = (self.template, self.parameters, self.status)
    try:
        _orig_stack_update(self, template, role_arn, parameters, tags)
    except CloudFormationError:
        raise
    except Exception as exc:
        logical_id, rtype = getattr(exc, "_taegis_resource", (self.name, "AWS::CloudFormation::Stack"))
        _stack_event(self, logical_id, rtype, "UPDATE_FAILED", _handler_message(_service_of(rtype), _error_message(exc)))
        reason = f"The following resource(s) failed to update: [{logical_id}]. "
        self.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        self.status_reason = reason
        self._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
        self.template, self.parameters = saved[0], saved[1]
        self._parse_template()
        rm = self.resource_map
        rm._template = self.template_dict
        rm._resource_json_map = self.template_dict.get("Resources", {})
        rm.input_parameters = self.parameters
        try:
            rm.load_parameters()
            rm.load_conditions()
        except Exception:
            pass
        self.output_map = self._create_output_map()
        self.status = "UPDATE_ROLLBACK_COMPLETE"
        self._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


_orig_process_cfn_response = cfn_responses.CloudFormationResponse.process_cfn_response


def _process_cfn_response(self: Any) -> Any:
    # AWS: a custom resource answering FAILED fails the resource and rolls the stack back
    # (moto ignores FAILED and leaves the stack CREATE_IN_PROGRESS for ever).
    if self._get_param("Status") != "FAILED":
        return _orig_process_cfn_response(self)
    backend = self.cloudformation_backend
    stack = backend.get_stack(self._get_param("StackId"))
    logical_id = self._get_param("LogicalResourceId")
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
        _rollback_create(backend, stack, failure)
    return 200, {"status": 200}, json.dumps("{}")


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
    cfn_models.CloudFormationBackend.create_stack = _create_stack
    cfn_models.CloudFormationBackend.delete_stack = _delete_stack
    cfn_responses.CloudFormationResponse.list_imports = _list_imports
    cfn_responses.CloudFormationResponse.process_cfn_response = _process_cfn_response
    cfn_responses.CloudFormationResponse._validate_different_update = _validate_different_update


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
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
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
            entry = _describe_request(environ)
        except Exception as exc:  # never let the log break a request
            print(f"taegis_moto: request log failed: {exc!r}", file=sys.stderr)
        if entry is not None:
            with _LOG_LOCK:
                _REQUEST_LOG.append(entry)

            def logged_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                try:
                    entry["status"] = int(status.split()[0])
                except ValueError:
                    pass
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            if entry["service"] == "lambda" and method == "GET" and _ACCOUNT_SETTINGS_RE.match(path):
                # AWS: Lambda GetAccountSettings (moto has no route for it).
                entry["action"] = "GetAccountSettings"
                return _json_response(
                    logged_start_response, 200, lambda_account_settings(entry["account"], entry["region"])
                )
            return self.inner(environ, logged_start_response)
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
        return _json_response(start_response, 404, {"error": f"unknown admin path {path}"})


def install() -> None:
    _install_secret_model()
    _install_lambda_concurrency()
    LambdaPolicy.add_statement = _add_statement
    s3_responses.S3Response.get_bucket_notification = _get_bucket_notification
    s3_models.S3Backend.put_bucket_notification_configuration = _put_bucket_notification_configuration
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
