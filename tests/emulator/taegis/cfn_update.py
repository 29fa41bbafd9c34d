"""CloudFormation stack operations, part 2: UpdateStack and the rollback of a failed update."""

from __future__ import annotations

import time
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.exceptions import ValidationError

from .common import _error_message, _stack_event
from .behaviour import InjectedFailure, _injected_failure, resource_pause, stack_pace, stack_timing
from .aws_pace import Timing, run_schedule
from .cfn_stacks import (
    _NO_SNAPSHOT,
    _active,
    _cfn_lock,
    _dependencies,
    _is_model,
    _last_status,
    _op_begin,
    _outputs,
    _physical,
    _precheck_imports,
    _replace_exports,
    _set_status,
    _waves,
)
from .cfn_create import (
    _cancel_in_progress,
    _delete_in_order,
    _failure_reason,
    _orig_parse_and_update,
    _raise_pending_failure,
    _start_worker,
)


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
    timing = stack_timing(self.account_id)
    background = any(p > 0 for p in pace) or timing is not None
    snapshot = _outputs(self) if background else _NO_SNAPSHOT
    self.status_reason = None
    self._taegis_op = "update"
    _op_begin(self, "update")
    _set_status(self, "UPDATE_IN_PROGRESS", "User Initiated")
    self.status_reason = None
    if background:
        self._taegis_outputs_snapshot = snapshot
        _start_worker(self, _run_update, backend, self, template, new_dict, role_arn, parameters, tags, pace, timing)
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


def _update_scheduled(stack: Any, rm: Any, new_json: dict[str, Any], add: list[str], modify: list[str], timing: Timing, done_add: list[str], done_mod: list[str]) -> None:
    """Row ac: added and changed resources start as soon as those they refer to are done, in
    parallel, each taking its drawn time."""
    items = add + modify
    names = set(new_json)
    ordered = [lid for wave in _waves(new_json, items) for lid in wave]
    deps = {lid: (_dependencies(new_json.get(lid), names) & set(items)) - {lid} for lid in items}

    def rtype(lid: str) -> str:
        return (new_json.get(lid) or {}).get("Type", "")

    def start(group: list[str]) -> None:
        for lid in group:
            if lid in modify:
                _stack_event(stack, lid, rtype(lid), "UPDATE_IN_PROGRESS", physical_id=_physical(rm._parsed_resources.get(lid)))
            elif not rtype(lid).startswith("Custom::"):
                _stack_event(stack, lid, rtype(lid), "CREATE_IN_PROGRESS")

    def finish(lid: str) -> None:
        _raise_pending_failure(stack)
        if lid in modify:
            _update_resource(stack, rm, lid, new_json[lid], inject=True)
            done_mod.append(lid)
        else:
            rm[lid]
            done_add.append(lid)

    run_schedule(ordered, deps, lambda lid: timing.seconds(lid, rtype(lid), "update" if lid in modify else "create"),
                 start, finish, _cfn_lock(stack.account_id), timing.parallel)


def _run_update(backend: Any, stack: Any, template: str, new_dict: dict[str, Any], role_arn: str | None, parameters: dict[str, Any] | None, tags: dict[str, str] | None, pace: tuple[float, float], timing_model: dict[str, Any] | None = None) -> None:
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
        delay: float | Timing = (
            Timing(timing_model, stack, "update") if timing_model else resource_pause(pace, len(add) + len(modify) + len(remove))
        )
        stack._taegis_inject = True
    done_add: list[str] = []
    done_mod: list[str] = []
    try:
        if isinstance(delay, Timing):
            _update_scheduled(stack, rm, new_json, add, modify, delay, done_add, done_mod)
        for wave in [] if isinstance(delay, Timing) else _waves(new_json, add + modify):
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


def _rollback_update(backend: Any, stack: Any, exc: BaseException, old: dict[str, Any], done_add: list[str], done_mod: list[str], modify: list[str], delay: "float | Timing") -> None:
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
        if isinstance(delay, Timing):
            time.sleep(delay.seconds(lid, (old["rm_json"].get(lid) or {}).get("Type", ""), "update_rollback"))
        elif delay:
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
