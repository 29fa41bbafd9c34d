"""CloudFormation stack operations, part 3: DeleteStack (DELETE_FAILED included), the custom
resource callback (cfnresponse), stack resources and (s) the pages of DescribeStackEvents."""

from __future__ import annotations

import json
import sys
import traceback
import uuid
from typing import Any

from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult

from .common import _stack_event
from .behaviour import InjectedFailure, resource_pause, stack_pace, stack_timing
from .aws_pace import Timing
from .cfn_templates import importing_stacks
from .cfn_stacks import (
    _NO_SNAPSHOT,
    _cfn_lock,
    _is_model,
    _last_events,
    _mark_dead,
    _op_begin,
    _outputs,
    _physical,
    _set_status,
)
from .cfn_create import _delete_in_order, _failure_reason, _rollback_create, _start_worker


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
        timing = stack_timing(self.account_id)
        _op_begin(stack, "delete")
        try:
            stack._taegis_outputs_snapshot = _outputs(stack)  # AWS: the outputs stay until it is gone
        except Exception:
            stack._taegis_outputs_snapshot = None
        stack.status_reason = None
        _set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
        stack.status_reason = None
        if any(p > 0 for p in pace) or timing is not None:
            _start_worker(stack, _worker_delete, self, stack, pace, timing)
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


def _worker_delete(backend: Any, stack: Any, pace: tuple[float, float], timing_model: dict[str, Any] | None = None) -> None:
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    with lock:
        json_map = rm._resource_json_map
        targets = [
            lid
            for lid, resource_json in list(json_map.items())
            if _is_model(rm._parsed_resources.get(lid)) and (resource_json or {}).get("DeletionPolicy") != "Retain"
        ]
        delay: float | Timing = Timing(timing_model, stack, "delete") if timing_model else resource_pause(pace, len(targets))
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
