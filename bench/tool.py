"""The tool: `taegis-cloudtrail deploy` over a fleet, its stderr read line by line as it arrives
(the moment it reports each stack), its requests from the emulator's log."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from cloud import Fleet
from measure import Outcome, notice_delays
from prepare import STEP_STACKS, Ctx, stack_operations, tool_deploy_argv, tool_env, write_rollout
from procs import run_process

NOTICE_LINE = re.compile(r"^\[(\d{12})/([a-z0-9-]+)\] ✓ (shared-stack|lambda-stack): ")


def tool_timeout(n: int) -> float:
    return 300 + 30 * n


def run_tool(ctx: Ctx, fleet: Fleet, rollout: Path, who: str, expect: Iterable[str], rep: int = 0) -> Outcome:
    """taegis-cloudtrail deploy over the fleet; its stderr read line by line as it arrives."""
    out = Outcome(who, len(fleet.targets), rep)
    marks = ctx.cloud.marks(fleet.all_accounts)
    since = time.time()
    p = run_process(tool_deploy_argv(ctx, rollout), tool_env(ctx, fleet.caller), tool_timeout(out.n))
    out.requests = ctx.cloud.requests_since(marks)
    out.wall, out.maxrss_kib = p.wall, p.maxrss_kib
    out.extra["proc"] = p
    for t_line, stream, line in p.lines:
        m = NOTICE_LINE.match(line) if stream == "err" else None
        if m:
            out.noticed.setdefault((m.group(1), m.group(2), STEP_STACKS[m.group(3)]), t_line)
    try:
        doc = json.loads(p.text("out"))
        outcomes = Counter(t["outcome"] for t in doc["targets"])
        out.extra["doc"] = doc
    except ValueError:
        outcomes = Counter()
    out.extra["outcomes"] = outcomes
    if p.code != 0 or p.timed_out or set(outcomes) - set(expect) or sum(outcomes.values()) != out.n:
        out.error = f"outcomes {dict(outcomes)}; {p.why()}"
    out.ops = stack_operations(ctx, fleet, since)
    out.delays = notice_delays(out.ops, out.noticed)
    return out


def tool_fresh_and_noop(ctx: Ctx, fleet: Fleet, zip_path: Path, rep: int) -> tuple[Outcome, Outcome | None]:
    """A fresh rollout over the fleet, then the same command again (nothing to change)."""
    rollout = write_rollout(ctx, fleet, zip_path, ctx.fresh_dir(f"tool-{len(fleet.targets)}-{rep}"))
    fresh = run_tool(ctx, fleet, rollout, "tool", ("created",), rep)
    if not fresh.ok:
        return fresh, None
    noop = run_tool(ctx, fleet, rollout, "tool re-run", ("unchanged",), rep)
    return fresh, noop
