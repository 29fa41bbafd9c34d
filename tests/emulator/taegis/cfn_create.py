"""CloudFormation stack operations, part 1: the resource-level hooks (events, failures), the
background workers, CreateStack and the rollback of a failed create."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import uuid
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError
from moto.cloudformation.utils import generate_stack_id

from .common import _error_message, _handler_message, _register_stack, _stack_by_id, _stack_event
from .behaviour import InjectedFailure, _delete_failure, _injected_failure, resource_pause, stack_pace, stack_timing
from .aws_pace import Timing, run_schedule
from .cfn_templates import _clean_json
from .cfn_stacks import (
    _TL,
    _active,
    _cfn_lock,
    _dependencies,
    _is_model,
    _is_worker_for,
    _last_events,
    _last_status,
    _mark_dead,
    _op_begin,
    _op_discard,
    _op_finish,
    _physical,
    _precheck_export_names,
    _precheck_imports,
    _set_status,
    _waves,
)


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


def _delete_one(stack: Any, json_map: dict[str, Any], logical_id: str, resource: Any, inject: bool) -> None:
    """One resource's delete step (under the account's lock)."""
    rm = stack.resource_map
    resource_json = json_map.get(logical_id) or {}
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
        return
    rm._parsed_resources.pop(logical_id, None)


def _delete_in_order(stack: Any, json_map: dict[str, Any], logical_ids: list[str], delay: "float | Timing", inject: bool = False) -> None:
    """Delete created resources in reverse dependency order (what moto cannot delete is left for
    ResourceMap.delete to retry).  With `inject` (DeleteStack only), a resource with a "delete"
    failure gets DELETE_FAILED and InjectedFailure is raised: the resources after it are left.
    `delay`: the pause before each resource, or the stack timing model (row ac)."""
    if isinstance(delay, Timing):
        _delete_scheduled(stack, json_map, logical_ids, delay, inject)
        return
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
            _delete_one(stack, json_map, logical_id, resource, inject)


def _delete_scheduled(stack: Any, json_map: dict[str, Any], logical_ids: list[str], timing: Timing, inject: bool) -> None:
    """Row ac: a resource is deleted once every resource that depends on it is gone; resources
    with no such tie are deleted at the same time, each taking its drawn time."""
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    with lock:
        targets = [lid for wave in _waves(json_map, logical_ids) for lid in wave][::-1]
        targets = [lid for lid in targets if _is_model(rm._parsed_resources.get(lid))]
    names = set(json_map)
    forward = {lid: (_dependencies(json_map.get(lid), names) & set(targets)) - {lid} for lid in targets}
    deps = {lid: {other for other in targets if lid in forward[other]} for lid in targets}

    def rtype(lid: str) -> str:
        return (json_map.get(lid) or {}).get("Type", "")

    def start(group: list[str]) -> None:
        for lid in group:
            resource = rm._parsed_resources.get(lid)
            if _is_model(resource):
                _stack_event(stack, lid, rtype(lid), "DELETE_IN_PROGRESS", physical_id=_physical(resource))

    def finish(lid: str) -> None:
        resource = rm._parsed_resources.get(lid)
        if _is_model(resource):
            _delete_one(stack, json_map, lid, resource, inject)

    run_schedule(targets, deps, lambda lid: timing.seconds(lid, rtype(lid), "delete"), start, finish, lock, timing.parallel)


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
    timing = stack_timing(self.account_id)
    if any(p > 0 for p in pace) or timing is not None:
        _precheck_imports(self, new_stack.resource_map, new_stack.template_dict)
        _precheck_export_names(self, new_stack, new_stack.resource_map, new_stack.template_dict)
        _op_begin(new_stack, "create")
        self.stacks[stack_id] = new_stack
        new_stack.status = "CREATE_IN_PROGRESS"
        new_stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        _start_worker(new_stack, _worker_create, self, new_stack, pace, timing)
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


def _create_scheduled(stack: Any, json_map: dict[str, Any], include: list[str], timing: Timing) -> None:
    """Row ac: each resource starts (CREATE_IN_PROGRESS) the moment the resources it refers to
    are complete, and completes after its drawn time."""
    rm = stack.resource_map
    names = set(json_map)
    ordered = [lid for wave in _waves(json_map, include) for lid in wave]
    deps = {lid: (_dependencies(json_map.get(lid), names) & set(include)) - {lid} for lid in include}

    def rtype(lid: str) -> str:
        return (json_map.get(lid) or {}).get("Type", "")

    def start(group: list[str]) -> None:
        for lid in group:
            if not rtype(lid).startswith("Custom::"):  # custom resources: once their request is sent
                _stack_event(stack, lid, rtype(lid), "CREATE_IN_PROGRESS")

    def finish(lid: str) -> None:
        _raise_pending_failure(stack)
        rm[lid]

    run_schedule(ordered, deps, lambda lid: timing.seconds(lid, rtype(lid)), start, finish, _cfn_lock(stack.account_id), timing.parallel)


def _worker_create(backend: Any, stack: Any, pace: tuple[float, float], timing_model: dict[str, Any] | None = None) -> None:
    lock = _cfn_lock(stack.account_id)
    rm = stack.resource_map
    delay: float | Timing = 0.0
    try:
        with lock:
            json_map = rm._resource_json_map
            include = [lid for lid, resource_json in list(json_map.items()) if _active(rm, resource_json)]
            delay = Timing(timing_model, stack, "create") if timing_model else resource_pause(pace, len(include))
            stack._taegis_inject = True
        if isinstance(delay, Timing):
            _create_scheduled(stack, json_map, include, delay)
        for wave in [] if isinstance(delay, Timing) else _waves(json_map, include):
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


def _rollback_create(backend: Any, stack: Any, exc: BaseException, delay: "float | Timing" = 0.0) -> None:
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
