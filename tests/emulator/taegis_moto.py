#!/usr/bin/env python3
"""moto 5.2.5 server mode plus the AWS behaviours the taegis-cloudtrail tests rely on.

    python tests/emulator/taegis_moto.py --host 127.0.0.1 --port PORT [--parent-pid PID]

Prints ``ready`` on stdout (flushed) once the server answers HTTP; with ``--port 0`` it first
prints ``port N`` with the port the OS picked.  With ``--parent-pid`` it exits by itself once
that process is gone.

Every extension (the ``taegis`` package next to this file, one module per concern) is applied
at import time by monkeypatching or registering with moto's own classes; nothing under
site-packages is edited.  Each ``# AWS:`` comment names the AWS behaviour that the extension
adds.  moto's server is threaded and the tests run in parallel (each test in its own account),
so shared state is guarded by locks.

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
    POST   /_taegis/organization  {"management": "...", "members": ["...", {"id": "...", "name": "...",
                                   "access_role": B}], "service_access": [...], "delegated_administrators": {...}}
    GET    /_taegis/organization?account=...
    POST   /_taegis/trail-delivery  {"trail": ARN, "account": "...", "region": "...", "time": T,
                                     "records": [...], "notify": B}
"""

from __future__ import annotations

import os
import sys

# The package lives next to this script: importable whatever the working directory, and when
# this file is imported rather than run.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from taegis.app import TaegisApp, reset_state  # noqa: E402
from taegis.behaviour import BEHAVIOUR_DEFAULTS, FaultKind, get_behaviour, reset_behaviour, set_behaviour  # noqa: E402
from taegis.cfn_stacks import STACK_OPERATIONS, clear_stack_operations, stack_operations  # noqa: E402
from taegis.common import DEFAULT_ACCOUNT_ID  # noqa: E402
from taegis.install import install  # noqa: E402
from taegis.server import main as _serve  # noqa: E402

__all__ = [
    "BEHAVIOUR_DEFAULTS",
    "DEFAULT_ACCOUNT_ID",
    "STACK_OPERATIONS",
    "FaultKind",
    "TaegisApp",
    "clear_stack_operations",
    "get_behaviour",
    "install",
    "main",
    "reset_behaviour",
    "reset_state",
    "set_behaviour",
    "stack_operations",
]

install()


def main(argv: list[str] | None = None) -> None:
    _serve(argv, description=__doc__)


if __name__ == "__main__":
    main()
