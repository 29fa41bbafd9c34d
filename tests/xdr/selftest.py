#!/usr/bin/env python3
"""Self-test of tests/xdr/standin.py, with http.client and the websockets client from the emulator
venv.

    "$(scripts/emulator-venv.sh | tail -n1)" tests/xdr/selftest.py

Starts a stand-in on a free port (exactly as a test harness does: --port 0 --parent-pid), runs
every check in parallel (each with its own API client and tenant, so the checks also show that
scripts keyed by client_id / tenant stay apart), prints one line per check and a closing
'N passed, N failed' line, and exits non-zero when a check fails.  Takes a few seconds.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import time
import traceback
from typing import Callable

# The packages live next to this script: importable whatever the working directory.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from xdr_selftest.checks import CHECKS  # noqa: E402
from xdr_selftest.helpers import CheckFailed, Standin  # noqa: E402


# ------------------------------------------------------------------------------------------------
# Runner
# ------------------------------------------------------------------------------------------------


def main() -> int:
    began = time.time()
    standin = Standin()
    passed = failed = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
            futures = {pool.submit(run_check, fn, standin.port): fn.__name__ for fn in CHECKS}
            outcomes = {futures[f]: f.result() for f in concurrent.futures.as_completed(futures)}
        for fn in CHECKS:
            ok, seconds, detail = outcomes[fn.__name__]
            doc = (fn.__doc__ or "").strip().splitlines()[0]
            print(f"{'ok  ' if ok else 'FAIL'} {fn.__name__:<28} {seconds:5.2f}s  {doc}", flush=True)
            if not ok:
                print("     " + detail.replace("\n", "\n     "), flush=True)
            passed, failed = passed + ok, failed + (not ok)
    finally:
        standin.stop()
    print(f"{passed} passed, {failed} failed ({time.time() - began:.1f}s)", flush=True)
    return 1 if failed else 0


def run_check(fn: Callable[[int], None], port: int) -> tuple[bool, float, str]:
    t0 = time.time()
    try:
        fn(port)
        return True, time.time() - t0, ""
    except CheckFailed as e:
        return False, time.time() - t0, str(e)
    except Exception:
        return False, time.time() - t0, traceback.format_exc()


if __name__ == "__main__":
    sys.exit(main())
