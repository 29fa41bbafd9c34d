#!/usr/bin/env python3
"""Self-test of tests/emulator/taegis_moto.py, with boto3 from the emulator venv.

    "$(scripts/emulator-venv.sh | tail -n1)" tests/emulator/selftest.py

Starts the emulator on a free port, runs every check (in parallel, each in its own account made
by sts:AssumeRole, as the Rust tests do; then SERIAL_CHECKS alone, one at a time),
prints one line per check and a closing 'N passed, N failed' line, and exits non-zero when a check
fails.

The checks are in the selftest_checks package next to this file, grouped by concern; the lists
CHECKS and SERIAL_CHECKS and the runner are in selftest_checks/runner.py.
"""

from __future__ import annotations

import os
import sys

# The package lives next to this script: importable whatever the working directory.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from selftest_checks.runner import CHECKS, SERIAL_CHECKS, main  # noqa: E402

__all__ = ["CHECKS", "SERIAL_CHECKS", "main"]

if __name__ == "__main__":
    sys.exit(main())
