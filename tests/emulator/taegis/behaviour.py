"""Per-account behaviour (admin: /_taegis/behaviour): the fields and their validation, the
fault kinds and their draws, stack pace, the AWS timing windows and injected stack failures."""

from __future__ import annotations

import enum
import random
import threading
import time
from typing import Any

from .aws_pace import validate_rate_limits, validate_stack_timing


# ---------------------------------------------------------------------------------------------
# Per-account behaviour (admin: /_taegis/behaviour).  Off by default: an account without
# settings gets exactly the behaviour of the other extensions.
# ---------------------------------------------------------------------------------------------


class FaultKind(enum.Enum):
    """A fault a request can get; the value is its name on the wire (the `fault` of a request
    log entry and of a behaviour's `faults` entry)."""

    DROP = "drop"  # the connection closes before any byte of response (no `100 Continue`)
    THROTTLE = "throttle"  # the service's throttling error, not processed
    SERVER_ERROR = "5xx"  # a server error of the service, not processed
    DROP_AFTER = "drop_after"  # processed, then the connection closes without a response


# The faults that end a request before it is processed (and so hold back `100 Continue`).
UNPROCESSED_FAULTS = (FaultKind.DROP, FaultKind.THROTTLE, FaultKind.SERVER_ERROR)
# The faults a behaviour's `faults` entry may name, in the order its error message lists them.
TARGETED_FAULTS = (FaultKind.THROTTLE, FaultKind.SERVER_ERROR, FaultKind.DROP_AFTER)

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
    "stack_timing": None,
    "rate_limits": [],
}
# AWS timing windows (rows w, x, y), each 0..600 seconds like resource_seconds.
_WINDOW_FIELDS = ("permission_delay_seconds", "notification_stale_seconds", "busy_seconds")
_FAULT_KINDS = tuple(kind.value for kind in TARGETED_FAULTS)  # ("throttle", "5xx", "drop_after")
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
        elif key == "stack_timing":
            value = validate_stack_timing(value)
        elif key == "rate_limits":
            value = validate_rate_limits(value)
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


def _take_targeted_fault(account_id: str, action: str | None) -> FaultKind | None:
    """AWS: a fault that hits one action, the next `times` calls of it: as when exactly the
    answer of one write is lost. Each use is consumed."""
    if not action:
        return None
    with _BEHAVIOUR_LOCK:
        for fault in (_BEHAVIOURS.get(account_id) or {}).get("faults") or []:
            if fault["action"] == action and fault["times"] > 0:
                fault["times"] -= 1
                return FaultKind(fault["fault"])
    return None


def get_behaviour(account_id: str) -> dict[str, Any]:
    with _BEHAVIOUR_LOCK:
        current = _BEHAVIOURS.get(account_id) or {}
        merged = dict(BEHAVIOUR_DEFAULTS, **current)
        merged["failures"] = [dict(f) for f in merged["failures"]]
        merged["faults"] = [dict(f) for f in merged["faults"]]
        merged["rate_limits"] = [dict(r) for r in merged["rate_limits"]]
        if merged["stack_timing"] is not None:
            timing = merged["stack_timing"]
            merged["stack_timing"] = dict(timing, times={k: list(v) for k, v in timing["times"].items()},
                                          region_factors=dict(timing["region_factors"]))
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


def stack_timing(account_id: str) -> dict[str, Any] | None:
    """Row ac: the account's stack timing model (None when off); a stack operation runs in the
    background when it is set.  Treat it as read-only (it is replaced, never changed, by a POST)."""
    with _BEHAVIOUR_LOCK:
        return (_BEHAVIOURS.get(account_id) or {}).get("stack_timing")


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


def _draw_fault(account_id: str) -> tuple[float, FaultKind | None, int]:
    """(latency in seconds, fault kind or None, variant) for one request of the account."""
    with _BEHAVIOUR_LOCK:
        current = _BEHAVIOURS.get(account_id)
        if not current:
            return 0.0, None, 0
        rng = _RNGS.setdefault(account_id, random.Random(current.get("seed")))
        latency = int(current.get("latency_ms") or 0) / 1000.0
        for key, kind in (
            ("drop", FaultKind.DROP),
            ("throttle", FaultKind.THROTTLE),
            ("errors_5xx", FaultKind.SERVER_ERROR),
            ("drop_after", FaultKind.DROP_AFTER),
        ):
            share = float(current.get(key) or 0.0)
            if share > 0 and rng.random() < share:
                return latency, kind, (rng.randrange(2) if kind is FaultKind.SERVER_ERROR else 0)
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


def behaviour_field(account_id: str, field: str) -> Any:
    """One behaviour field of the account (its default when unset), without copying the rest."""
    with _BEHAVIOUR_LOCK:
        return (_BEHAVIOURS.get(account_id) or {}).get(field, BEHAVIOUR_DEFAULTS[field])
