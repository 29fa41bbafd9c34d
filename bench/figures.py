"""The figures: per size, interleaved repeats of the tool (fresh, then a no-op re-run) and the
floor on fleets that see the same drawn resource times; the AWS CLI script once, one target after
another and 8 at a time; the tool with a 40 MB zip at the largest size; start-up."""

from __future__ import annotations

import math
import random
import statistics
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from cli_script import run_cli
from cloud import RESOURCE_TIMES, SLOW_FACTOR, Fleet, Pace, log_pace, shape
from floor import run_floor
from measure import Outcome
from prepare import CONCURRENCY, Ctx, base_env, fleet_regions, make_fleet, make_zip, slow_regions_for
from procs import BenchError, log, run_process
from tool import tool_fresh_and_noop

BIG_ZIP_BYTES = 40 * 1000 * 1000
SHORT_TIMEOUT = 60


@dataclass
class Size:
    """Everything measured at one number of targets."""

    n: int
    accounts: int
    regions: int
    pace: Pace
    tools: list[Outcome] = field(default_factory=list)
    noops: list[Outcome] = field(default_factory=list)
    floors: list[Outcome] = field(default_factory=list)
    cli_seq: Outcome | None = None
    cli_par: Outcome | None = None
    cli_seq_note: str | None = None
    cli_par_note: str | None = None
    big: Outcome | None = None  # the tool with the 40 MB zip (the largest size only)
    big_again: Outcome | None = None
    big_note: str | None = None

    @property
    def slow_targets(self) -> int:
        return self.accounts * len(self.pace.slow_regions)


DUMP: list[Callable[[str, Outcome], None]] = []  # --keep-work: writes each measurement's raw data


def guarded(what: str, fn: Callable[[], Outcome], who: str, n: int, rep: int = 0) -> Outcome:
    """Run one measurement; a failure becomes the figure's error instead of ending the run."""
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001
        log(f"{what}: FAILED {type(e).__name__}: {e}")
        if not isinstance(e, BenchError):
            traceback.print_exc()
        return Outcome(who, n, rep, error=f"{type(e).__name__}: {e}")
    log(f"{what}: {'%.2f s' % out.wall if out.wall is not None else 'no time'}"
        + (f" — ERROR {out.error.splitlines()[0]}" if out.error else ""))
    for dump in DUMP:
        dump(what, out)
    return out


def pace_for(ctx: Ctx, n: int) -> Pace:
    a = ctx.args
    slow = slow_regions_for(n, a.slow_fraction) if n >= a.slow_from else ()
    return Pace(a.latency_ms, a.scale_of(n), slow, throttle=not a.no_throttle)


def fig_sizes(ctx: Ctx, sizes: list[int], repeats: int) -> list[Size]:
    """Per size: `repeats` x (the tool fresh + its no-op re-run, then the floor), interleaved;
    repeat r of both runs on fleets seeded alike (the same drawn resource times)."""
    out = []
    base = random.randrange(1, 1_000_000) * 10_000
    for n in sorted(sizes):
        accounts, regions = shape(n)
        s = Size(n, accounts, regions, pace_for(ctx, n))
        out.append(s)
        log(f"== {n} targets ({accounts} x {regions}), {repeats} interleaved repeats")
        log_pace(s.pace)
        for rep in range(repeats):
            seed = base + n * 100 + rep * 1_000_000
            ctx.emu.admin("DELETE", "/_taegis/requests")  # a short log to read back

            def tool_pair() -> Outcome:
                fleet = make_fleet(ctx, n, s.pace, seed)
                fresh, noop = tool_fresh_and_noop(ctx, fleet, ctx.small_zip, rep)
                if noop is not None:
                    s.noops.append(noop)
                    log(f"{n} targets, repeat {rep + 1}: the tool's no-op re-run {noop.wall or 0:.2f} s"
                        + (f" — ERROR {noop.error.splitlines()[0]}" if noop.error else ""))
                return fresh

            s.tools.append(guarded(f"{n} targets, repeat {rep + 1}/{repeats}: the tool", tool_pair, "tool", n, rep))
            s.floors.append(guarded(f"{n} targets, repeat {rep + 1}/{repeats}: the floor",
                                    lambda: run_floor(ctx, make_fleet(ctx, n, s.pace, seed), rep), "floor", n, rep))
        rss = ctx.emu.rss_kib()
        log(f"== {n} targets done; the emulator's memory: {rss / 1024 if rss else 0:.0f} MiB")
    return out


def fig_big_zip(ctx: Ctx, s: Size) -> None:
    """The tool with a 40 MB zip at this size (peak memory), then again (it must upload nothing)."""
    where = ctx.fresh_dir("big-zip")
    big = where / "taegis-lambda-amd64.zip"
    make_zip(big, BIG_ZIP_BYTES)
    ctx.emu.admin("DELETE", "/_taegis/requests")
    made: dict[str, Fleet] = {}

    def first() -> Outcome:
        made["fleet"] = fleet = make_fleet(ctx, s.n, s.pace, random.randrange(1, 1_000_000))
        fresh, again = tool_fresh_and_noop(ctx, fleet, big, 0)
        s.big_again = again
        return fresh

    s.big = guarded(f"{s.n} targets with a 40 MB zip: the tool", first, "tool 40 MB", s.n)
    if s.big_again is not None:
        log(f"{s.n} targets with a 40 MB zip, again: {s.big_again.wall or 0:.2f} s, "
            f"{s.big_again.uploaded_bytes()} bytes uploaded")


def fig_cli(ctx: Ctx, sizes: list[Size]) -> None:
    """The AWS CLI script once per size: one target after another up to --cli-seq-max targets,
    8 at a time up to --cli-par-max; above, extrapolated from the largest run of each kind."""
    a = ctx.args
    for s in sizes:
        if ctx.aws is None:
            s.cli_seq_note = s.cli_par_note = ctx.cli_skipped or "skipped"
            continue
        ctx.emu.admin("DELETE", "/_taegis/requests")
        if s.n <= a.cli_seq_max:
            if ctx.over_budget():
                s.cli_seq_note = "not run: the run's time budget was spent (--budget-minutes)"
            else:
                s.cli_seq = guarded(f"{s.n} targets: the AWS CLI script, one target after another",
                                    lambda: run_cli(ctx, make_fleet(ctx, s.n, s.pace), "cli one after another", False),
                                    "cli seq", s.n)
        if s.n == 1:
            s.cli_par_note = "one target: the same as one after another"
        elif s.n <= a.cli_par_max:
            if ctx.over_budget():
                s.cli_par_note = "not run: the run's time budget was spent (--budget-minutes)"
            else:
                s.cli_par = guarded(f"{s.n} targets: the AWS CLI script, {CONCURRENCY} at a time",
                                    lambda: run_cli(ctx, make_fleet(ctx, s.n, s.pace), "cli 8 at a time", True),
                                    "cli par", s.n)
    extrapolate_cli(sizes)


def extrapolate_cli(sizes: list[Size]) -> None:
    """Sizes the script was not run at, from the mean time per target of its largest run (of either
    kind: a target takes as long 8 at a time as alone): one after another n x that, 8 at a time
    ceil(n / 8) x that."""
    runs = [o for s in sizes for o in (s.cli_seq, s.cli_par) if o and o.ok and o.per_target]
    if not runs:
        return
    base = max(runs, key=lambda o: (o.n, o.who))
    per = statistics.mean(base.per_target)
    how = "one after another" if base.who == "cli one after another" else f"{CONCURRENCY} at a time"
    for s in sizes:
        if s.cli_seq is None and s.cli_seq_note is None:
            s.cli_seq = Outcome("cli seq", s.n, wall=per * s.n,
                                note=f"extrapolated: {s.n} × {per:.1f} s per target of the {base.n}-target run, {how}")
        if s.cli_par is None and s.cli_par_note is None:
            waves = math.ceil(s.n / CONCURRENCY)
            s.cli_par = Outcome("cli par", s.n, wall=per * waves,
                                note=f"extrapolated: {waves} rounds × {per:.1f} s per target of the {base.n}-target run, {how}")


@dataclass
class Startup:
    rows: list[tuple[str, list[float] | None, int | None, str | None]]  # name, times, maxrss KiB, error


def fig_startup(ctx: Ctx, runs: int = 20) -> Startup:
    """--version and --help: median wall time of `runs` runs, and peak memory of one."""
    rows: list[tuple[str, list[float] | None, int | None, str | None]] = []
    env = base_env(ctx)
    commands = [("taegis-cloudtrail --version", [str(ctx.binary), "--version"]),
                ("taegis-cloudtrail --help", [str(ctx.binary), "--help"])]
    if ctx.aws is not None:
        commands.append(("aws --version", [str(ctx.aws), "--version"]))
    for name, argv in commands:
        log(f"start-up: {name} × {runs}")
        times = []
        try:
            for _ in range(runs):
                t0 = time.perf_counter()
                p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=SHORT_TIMEOUT, check=False)
                times.append(time.perf_counter() - t0)
                if p.returncode != 0:
                    raise BenchError(f"{name} exited {p.returncode}")
            rows.append((name, times, run_process(argv, env, SHORT_TIMEOUT).maxrss_kib, None))
        except (BenchError, subprocess.TimeoutExpired, OSError) as e:
            rows.append((name, None, None, str(e)))
    return Startup(rows)


# ---------------------------------------------------------------------------------------------
# How long a run will take, said before it starts.
# ---------------------------------------------------------------------------------------------

def _mean_target_seconds(scale: float, rng: random.Random) -> float:
    """The mean longest path of one target's two stacks under the model (Monte Carlo), scaled."""
    def draw(rtype: str) -> float:
        lo, hi = RESOURCE_TIMES.get(rtype) or RESOURCE_TIMES["*"]
        return rng.uniform(lo, hi)
    paths = [draw("AWS::SecretsManager::Secret")
             + max(draw("AWS::IAM::Role"), draw("AWS::Logs::LogGroup")) + draw("AWS::Lambda::Function")
             for _ in range(2000)]
    return statistics.mean(paths) * scale


def estimate_seconds(a: object, sizes: list[int], with_cli: bool) -> dict[str, float]:
    """An estimate (seconds) of each part of the run, from the model and this machine's measured
    costs (a target's calls about 0.8 s, a fleet's set-up 0.3 s + 0.03 s per target, the AWS CLI
    script's commands about 6 s per target plus 30 s per stack it waits for)."""
    rng = random.Random(1)
    parts: dict[str, float] = {"set-up": 15.0}
    if not getattr(a, "skip_startup", False):
        parts["start-up figure"] = 20.0
    for n in sizes:
        scale = a.scale_of(n)  # type: ignore[attr-defined]
        per_target = _mean_target_seconds(scale, rng) + 0.8
        slow = slow_regions_for(n, a.slow_fraction) if n >= a.slow_from else ()  # type: ignore[attr-defined]
        share = len(slow) / len(fleet_regions(n)) if slow else 0.0
        work = n * per_target * (1 + share * (SLOW_FACTOR - 1))
        wall = work / min(n, CONCURRENCY) + (per_target * SLOW_FACTOR if slow else per_target) * 0.5
        noop = 1.0 + 0.05 * n
        setup = 2 * (0.3 + 0.03 * n)
        parts[f"{n} targets × {a.repeats}"] = a.repeats * (2 * wall + noop + setup)  # type: ignore[attr-defined]
        if with_cli:
            # The Lambda stack always outlasts the CLI's first look; the shared stack when its
            # secret takes longer than an `aws` command's start (about 0.6 s).
            secret = statistics.mean(RESOURCE_TIMES["AWS::SecretsManager::Secret"]) * scale
            waits = 30.0 + (30.0 if secret > 0.6 else 0.0)
            cli_target = 6.0 + waits
            cli = 0.0
            if n <= a.cli_seq_max:  # type: ignore[attr-defined]
                cli += n * cli_target
            if 1 < n <= a.cli_par_max:  # type: ignore[attr-defined]
                cli += math.ceil(n / CONCURRENCY) * cli_target * 1.2
            if cli:
                parts[f"AWS CLI script, {n} targets"] = cli
    if not getattr(a, "skip_big_zip", True) and sizes:
        n = max(sizes)
        parts[f"40 MB zip, {n} targets"] = parts.get(f"{n} targets × {a.repeats}", 60) / a.repeats / 2 + n * 0.3  # type: ignore[attr-defined]
    return parts
