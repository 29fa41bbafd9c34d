"""CloudFormation stacks: (g) deleted stacks stay dead, the stack operation record (admin:
/_taegis/stack-operations), each account's CloudFormation lock, resource statuses, the
dependency waves and the export checks shared by the stack operations."""

from __future__ import annotations

import collections
import re
import threading
import time
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError, ExportNotFound, ValidationError

from .common import DEFAULT_ACCOUNT_ID
from .cfn_templates import _clean_json, _import_value_nodes


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
_OPS_DONE = threading.Condition(_OPS_LOCK)  # notified whenever an operation finishes
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
        _OPS_DONE.notify_all()
    stack._taegis_open_ops = []


def stack_operations(
    account: str | None = None, region: str | None = None, stack_id: str | None = None, since: float | None = None
) -> list[dict[str, Any]]:
    with _OPS_LOCK:
        return _matching(account, region, stack_id, since)


def _matching(account: str | None, region: str | None, stack_id: str | None, since: float | None) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in _STACK_OPS
        if (account is None or r["account"] == account)
        and (region is None or r["region"] == region)
        and (stack_id is None or r["stack_id"] == stack_id)
        and (since is None or r["started"] >= since)
    ]


def wait_stack_operation(stack_id: str, since: float | None, timeout: float) -> list[dict[str, Any]]:
    """Bench: the stack's operations (started at or after `since`), once one of them has finished
    and none is still open, or when `timeout` seconds have passed: the answer comes the moment
    the terminal status is set (a long poll that costs no AWS call)."""
    deadline = time.monotonic() + timeout
    with _OPS_LOCK:
        while True:
            found = _matching(None, None, stack_id, since)
            if found and all(r["finished"] is not None for r in found):
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return found
            _OPS_DONE.wait(left)


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
