"""What one measured rollout yields (an Outcome) and what is read from it: notice delays, stack
reads per second, calls per target, throttling; and the spread of repeated figures."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from cloud import mutates

STACK_READS = ("DescribeStackEvents", "DescribeStacks")
UPLOAD_ACTIONS = ("PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload")
# What a throttling error looks like when it reaches the user (the tool's words or AWS's).
THROTTLE_WORDS = re.compile(r"Throttl|Rate exceeded|SlowDown|reduce your request rate|TooManyRequests|RequestLimitExceeded",
                            re.IGNORECASE)


@dataclass
class Outcome:
    """One rollout by one client: time, requests, when it noticed each stack, errors."""

    who: str
    n: int
    rep: int = 0
    wall: float | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    maxrss_kib: int | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)
    noticed: dict[tuple[str, str, str], float] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None
    per_target: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.wall is not None

    # -- what is read from it -----------------------------------------------------------------

    def calls_per_target(self) -> float:
        return len(self.requests) / self.n

    def mutating_per_target(self) -> float:
        return sum(map(mutates, self.requests)) / self.n

    def mutating(self) -> int:
        return sum(map(mutates, self.requests))

    def throttled(self) -> int:
        """Calls the emulator answered with a throttling error (its token buckets or shares)."""
        return sum(1 for r in self.requests if r.get("fault") == "throttle")

    def delay_median(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    def delay_max(self) -> float | None:
        return max(self.delays) if self.delays else None

    def throttle_errors_shown(self) -> int:
        """Lines of the tool's output (and targets of its JSON result) that show the user a
        throttling error: none may, at AWS-like rates."""
        proc = self.extra.get("proc")
        lines = [line for _, _, line in proc.lines] if proc else []
        return sum(1 for line in lines if THROTTLE_WORDS.search(line))

    def stack_read_rate(self) -> float | None:
        """Stack reads (DescribeStackEvents + DescribeStacks) in a stack's account and region
        from its operation's start until the client reported it, per second, all stacks together."""
        if not self.ops or not self.requests:
            return None
        reads: dict[tuple[Any, Any], list[float]] = {}
        for r in self.requests:
            if r.get("action") in STACK_READS:
                reads.setdefault((r.get("account"), r.get("region")), []).append(r["time"])
        count, seconds = 0, 0.0
        for o in self.ops:
            noticed = self.noticed.get((o["account"], o["region"], o["stack"]))
            if not o.get("finished") or noticed is None or o["operation"] not in ("create", "update"):
                continue
            times = reads.get((o["account"], o["region"]), [])
            count += sum(1 for t in times if o["started"] <= t <= noticed)
            seconds += max(noticed - o["started"], 1e-3)
        return count / seconds if seconds else None

    def reads_per_stack(self) -> float | None:
        """Stack reads per stack operation followed (from its start until reported), mean."""
        followed = [o for o in self.ops if (o["account"], o["region"], o["stack"]) in self.noticed
                    and o["operation"] in ("create", "update")]
        if not followed:
            return None
        reads = sum(1 for r in self.requests if r.get("action") in STACK_READS)
        return reads / len(followed)

    def peak_api_rate(self) -> tuple[int, str] | None:
        """The most calls of one operation in one account and region within any one second (what a
        token bucket of that operation sees), and which operation."""
        times: dict[tuple[Any, Any, Any], list[float]] = {}
        for r in self.requests:
            times.setdefault((r.get("account"), r.get("region"), r.get("action")), []).append(r["time"])
        best: tuple[int, str] | None = None
        for (_, _, action), ts in times.items():
            ts.sort()
            lo = 0
            for hi, t in enumerate(ts):
                while t - ts[lo] >= 1.0:
                    lo += 1
                if best is None or hi - lo + 1 > best[0]:
                    best = (hi - lo + 1, action or "?")
        return best

    def by_action(self) -> str:
        counts = Counter(r.get("action") or "?" for r in self.requests)
        return ", ".join(f"{a} {c / self.n:g}" for a, c in counts.most_common())

    def uploaded_bytes(self) -> int:
        doc = self.extra.get("doc") or {}
        total = 0
        for t in doc.get("targets", []):
            for step in t.get("steps", []):
                m = re.search(r"\((\d+) bytes\)", step.get("detail") or "")
                if step.get("name") == "upload-lambda-zip" and step.get("status") == "done" and m:
                    total += int(m.group(1))
        return total

    def upload_calls(self) -> int:
        return sum(1 for r in self.requests if r.get("action") in UPLOAD_ACTIONS)


def notice_delays(ops: list[dict[str, Any]], noticed: dict[tuple[str, str, str], float]) -> list[float]:
    """For each finished operation that was noticed: when noticed minus when finished."""
    out = []
    for o in ops:
        key = (o["account"], o["region"], o["stack"])
        if o.get("finished") and key in noticed and o["operation"] in ("create", "update"):
            out.append(noticed[key] - o["finished"])
    return out


@dataclass(frozen=True)
class Spread:
    """A figure over repeated runs."""

    values: tuple[float, ...]

    @staticmethod
    def of(values: Iterable[float | None]) -> "Spread | None":
        vals = tuple(v for v in values if v is not None)
        return Spread(vals) if vals else None

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def runs(self) -> int:
        return len(self.values)


def paired_ratios(tools: list[Outcome], floors: list[Outcome]) -> list[float]:
    """tool ÷ floor of each repeat (the two saw the same drawn resource times)."""
    floor_by_rep = {f.rep: f for f in floors if f.ok}
    return [t.wall / floor_by_rep[t.rep].wall for t in tools  # type: ignore[operator]
            if t.ok and t.rep in floor_by_rep and floor_by_rep[t.rep].wall]


def paired_excess(tools: list[Outcome], floors: list[Outcome]) -> list[float]:
    """tool − floor of each repeat, seconds."""
    floor_by_rep = {f.rep: f for f in floors if f.ok}
    return [t.wall - floor_by_rep[t.rep].wall for t in tools  # type: ignore[operator]
            if t.ok and t.rep in floor_by_rep]


def ok_runs(runs: list[Outcome]) -> list[Outcome]:
    return [o for o in runs if o.ok]
