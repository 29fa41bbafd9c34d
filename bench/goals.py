"""The targets, judged per size on the medians of the repeats: a size is "met" only if every one
of its conditions holds."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from figures import Size, Startup
from measure import Spread, ok_runs, paired_ratios
from prepare import CONCURRENCY

DELAY_MEDIAN_LIMIT = 0.5
DELAY_MAX_LIMIT = 1.5
READS_PER_SECOND_LIMIT = 1.0
NOOP_CALLS_LIMIT = 12
MEMORY_LIMIT_MIB = 100


def ratio_limit(n: int) -> float:
    return 1.05 if n <= 16 else 1.10


def secs(x: float | None) -> str:
    if x is None:
        return "—"
    if abs(x) < 0.1:
        return f"{x * 1000:.0f} ms" if abs(x) >= 0.01 else f"{x * 1000:.1f} ms"
    return f"{x * 1000:.0f} ms" if abs(x) < 1 else f"{x:.2f} s" if abs(x) < 100 else f"{x:.0f} s"


def mib(kib: float | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.1f} MiB"


def spread_text(sp: Spread | None, fmt=secs) -> str:  # type: ignore[no-untyped-def]
    if sp is None:
        return "—"
    if sp.runs == 1:
        return fmt(sp.median)
    return f"{fmt(sp.median)} ({fmt(sp.min)}–{fmt(sp.max)})"


def times(x: float) -> str:
    return f"{x:.3f}×"


@dataclass
class Check:
    name: str
    value: str
    met: bool | None  # None: not measured (or, with judged False, only shown)
    judged: bool = True


@dataclass
class Verdict:
    n: int
    checks: list[Check]

    @property
    def met(self) -> bool | None:
        judged = [c for c in self.checks if c.judged]
        if any(c.met is False for c in judged):
            return False
        if any(c.met is None for c in judged):
            return None
        return True

    def missed(self) -> list[str]:
        return [c.name for c in self.checks if c.judged and c.met is False]


def judge(s: Size) -> Verdict:
    tools, noops, floors = ok_runs(s.tools), ok_runs(s.noops), ok_runs(s.floors)
    checks: list[Check] = []
    runs = len(s.tools) + len(s.floors)
    failed = sum(1 for o in s.tools + s.floors + s.noops if not o.ok)
    checks.append(Check("every run succeeded", f"{runs - failed} of {runs}" if not failed else f"{failed} failed",
                        failed == 0 if runs else None))
    checks.append(Check("this tool, wall time", spread_text(Spread.of(o.wall for o in tools)), None, judged=False))
    checks.append(Check("the floor, wall time", spread_text(Spread.of(o.wall for o in floors)), None, judged=False))
    limit = ratio_limit(s.n)
    ratios = Spread.of(paired_ratios(s.tools, s.floors))
    checks.append(Check(f"tool ÷ floor ≤ {limit:.2f}", spread_text(ratios, times),
                        ratios.median <= limit if ratios else None))
    med = Spread.of(o.delay_median() for o in tools)
    checks.append(Check(f"notice delay, median < {DELAY_MEDIAN_LIMIT:g} s", spread_text(med),
                        med.median < DELAY_MEDIAN_LIMIT if med else None))
    worst = Spread.of(o.delay_max() for o in tools)
    checks.append(Check(f"notice delay, max < {DELAY_MAX_LIMIT:g} s", spread_text(worst),
                        worst.median < DELAY_MAX_LIMIT if worst else None))
    reads = Spread.of(o.stack_read_rate() for o in tools)
    checks.append(Check(f"stack reads per second per stack ≤ {READS_PER_SECOND_LIMIT:g}",
                        spread_text(reads, lambda x: f"{x:.2f}"),
                        reads.median <= READS_PER_SECOND_LIMIT if reads else None))
    shown = sum(o.throttle_errors_shown() for o in s.tools + s.noops if o.extra.get("proc"))
    throttled = sum(o.throttled() for o in s.tools + s.noops)
    checks.append(Check("throttling errors shown to the user: 0",
                        f"{shown} ({throttled} throttled calls retried)", shown == 0 if tools else None))
    fresh = Spread.of(o.calls_per_target() for o in tools)
    checks.append(Check("calls per target, fresh", spread_text(fresh, lambda x: f"{x:.1f}"), None, judged=False))
    noop = Spread.of(o.calls_per_target() for o in noops)
    checks.append(Check(f"no-op re-run: calls per target ≤ {NOOP_CALLS_LIMIT}", spread_text(noop, lambda x: f"{x:.1f}"),
                        noop.median <= NOOP_CALLS_LIMIT if noop else None))
    writes = max((o.mutating() for o in noops), default=None)
    checks.append(Check("no-op re-run: mutating calls 0", "—" if writes is None else str(writes),
                        writes == 0 if writes is not None else None))
    memory = Spread.of(o.maxrss_kib for o in tools)
    checks.append(Check("peak memory, small zip", spread_text(memory, mib), None, judged=False))
    if s.big is not None or s.big_note:
        big = s.big if s.big and s.big.ok else None
        checks.append(Check(f"peak memory with a 40 MB zip < {MEMORY_LIMIT_MIB} MiB",
                            mib(big.maxrss_kib) if big else (s.big_note or "error (see Notes)"),
                            (big.maxrss_kib or 0) < MEMORY_LIMIT_MIB * 1024 if big else None))
    for name, run, note in (("AWS CLI script, one after another (once)", s.cli_seq, s.cli_seq_note),
                            (f"AWS CLI script, {CONCURRENCY} at a time (once)", s.cli_par, s.cli_par_note)):
        if run is None:
            text = note or "—"
        elif run.error:
            text = "error (see Notes)"
        else:
            text = secs(run.wall) + (" (extrapolated)" if run.note else "")
        checks.append(Check(name, text, None, judged=False))
    return Verdict(s.n, checks)


@dataclass
class Goal:
    name: str
    measured: str
    met: bool | None


def other_goals(sizes: list[Size], startup: Startup | None) -> list[Goal]:
    """The targets that are not per size: --version, the 40 MB zip's unchanged re-run."""
    out: list[Goal] = []
    version = next((r for r in (startup.rows if startup else []) if r[0] == "taegis-cloudtrail --version"), None)
    if version and version[1]:
        med = statistics.median(version[1])
        out.append(Goal("--version under 10 ms", secs(med), med < 0.010))
    else:
        out.append(Goal("--version under 10 ms", "not measured", None))
    again = next((s.big_again for s in sizes if s.big_again is not None), None)
    if again and again.ok:
        out.append(Goal("40 MB zip, unchanged re-run: 0 bytes uploaded",
                        f"{again.uploaded_bytes()} bytes, {again.upload_calls()} upload calls",
                        again.upload_calls() == 0 and again.uploaded_bytes() == 0))
    else:
        out.append(Goal("40 MB zip, unchanged re-run: 0 bytes uploaded", "not measured", None))
    return out
