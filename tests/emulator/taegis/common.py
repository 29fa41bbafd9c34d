"""Helpers shared by the extensions: the default account, the account of an access key, stack
events and the stacks by id, CloudFormation's handler-failure wording."""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from typing import Any

from moto.cloudformation import models as cfn_models


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
