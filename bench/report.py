"""BENCHMARKS.md: the run's set-up and the cloud it measured, the targets judged per size, then
the figures behind them."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import subprocess
from typing import Callable

from cli_script import waiter_share
from cloud import RATE_LIMITS, RESOURCE_TIMES, SLOW_FACTOR
from figures import Size, Startup
from goals import judge, mib, other_goals, ratio_limit, secs, spread_text, times
from measure import Outcome, Spread, ok_runs, paired_excess, paired_ratios
from prepare import CONCURRENCY, Ctx
from procs import GNU_TIME, LOAD_AT_START


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def fraction(scale: float) -> str:
    return f"1/{1 / scale:.0f}" if scale < 1 and abs(1 / scale - round(1 / scale)) < 1e-6 else f"{scale:g}×"


def machine() -> str:
    mem, cpu = "?", platform.processor() or "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem} memory, {platform.system()} {platform.release()}"


def version_of(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


def reproduce_command(a: argparse.Namespace) -> str:
    parts = ["bench/run"]
    if a.smoke:
        parts.append("--smoke")
    parts += ["--binary", a.binary_display, "--targets", ",".join(map(str, a.targets)), "--repeats", str(a.repeats),
              "--scale", a.scale_text, "--latency-ms", str(a.latency_ms)]
    if a.slow_fraction:
        parts += ["--slow-fraction", f"{a.slow_fraction:g}", "--slow-from", str(a.slow_from)]
    parts += ["--cli-seq-max", str(a.cli_seq_max), "--cli-par-max", str(a.cli_par_max)]
    for flag in ("no_cli", "no_throttle", "skip_big_zip", "skip_startup"):
        if getattr(a, flag):
            parts.append("--" + flag.replace("_", "-"))
    return shlex.join(parts)


def cell(out: Outcome | None, value: Callable[[Outcome], str], note: str | None = None) -> str:
    if out is None:
        return note or "—"
    if out.error:
        return "error (see Notes)"
    text = value(out)
    return f"{text} ({out.note})" if out.note else text


def header(w: Callable[[str], None], ctx: Ctx, sizes: list[Size], elapsed: float, estimate: float) -> None:
    a = ctx.args
    debug = "/debug/" in str(ctx.binary) or "debug" in ctx.binary.name
    w("# taegis-cloudtrail benchmarks\n")
    w(f"- Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; the run took {secs(elapsed)} "
      f"(estimated beforehand: {secs(estimate)}).")
    w(f"- Machine: {machine()}; load average {LOAD_AT_START[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
      "(anything else running skews the times).")
    built = dt.datetime.fromtimestamp(ctx.binary.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    w(f"- Tool: `{a.binary_display}` ({version_of([str(ctx.binary), '--version'])}"
      f"{', a debug build' if debug else ''}, built {built}), at its own pace (no `TAEGIS_POLL_INTERVAL`), "
      f"`--concurrency {CONCURRENCY}`.")
    w("- The floor (`bench/floor.py`): boto3, 8 targets at a time from a pool (a target starts the moment a slot "
      "frees), only the calls the guide's steps need, credentials and clients ready before the clock starts; "
      "within a target it overlaps what can overlap (the zip bucket and upload with the shared stack; the invoke "
      "permission with the read of the bucket's notification configuration), and learns the moment each stack ends "
      "from the emulator's record (a long poll of `/_taegis/stack-operations`, no AWS call).")
    if ctx.aws:
        how = ("`aws cloudformation deploy`" if ctx.cli_cfn_mode == "deploy"
               else "`create-stack`/`update-stack` + `aws cloudformation wait`")
        w(f"- Instead: {version_of([str(ctx.aws), '--version'])}, running `bench/guide_steps.sh` per target ({how}), "
          f"one target after another, and {CONCURRENCY} at a time.")
    else:
        w(f"- Instead: {ctx.cli_skipped}.")
    w(f"- Repeats: every tool and floor figure from {a.repeats} interleaved runs (tool, floor, tool, floor, ...), "
      "each in fresh accounts; repeat r of the tool and of the floor run on fleets seeded alike, so they meet the same "
      "drawn resource times, target for target. Figures are medians, with (min–max); tool ÷ floor is taken per repeat. "
      "The AWS CLI script runs once per size.")
    w(f"- Reproduce: `{reproduce_command(a)}`" + (" (smoke: tiny and quick, not figures to quote)" if a.smoke else ""))
    w("")
    w("## The cloud: AWS's pace, scaled\n")
    w("The emulator of `tests/emulator` (moto 5.2.5 + extensions), started for this run on a free port, with row ac "
      "of its README for every account of every fleet:\n")
    ranges = ", ".join(f"{k if k != '*' else 'anything else'} {v[0]:g}–{v[1]:g} s" for k, v in RESOURCE_TIMES.items())
    w(f"- **Stack resources run side by side** where they do not depend on each other (`DependsOn`, `Ref`, "
      f"`Fn::GetAtt`, `Fn::Sub`), each for a time drawn uniformly (seeded) from its type's range on AWS: {ranges}. "
      "The Lambda stack's role and log group run together, then the function; the shared stack is one secret.")
    scales = sorted({s.pace.scale for s in sizes})
    per_size = "; ".join(f"{plural(s.n, 'target')}: {fraction(s.pace.scale)}" for s in sizes)
    w(f"- **Scale**: every drawn time is multiplied by the size's factor ({per_size}), so that the whole run fits "
      f"its time budget. Call latency ({a.latency_ms} ms on every call), process start-up, poll intervals and the "
      "CLI waiter's 30 s keep their real size and so weigh "
      + (f"{1 / min(scales):.0f}" if scales and min(scales) < 1 else "no more") + "× more than on AWS at the smallest factor.")
    slow = [s for s in sizes if s.pace.slow_regions]
    if slow:
        w("- **Slow targets**: " + "; ".join(
            f"{s.n} targets: {s.slow_targets} of them ({', '.join(s.pace.slow_regions)})" for s in slow)
          + f" run every resource {SLOW_FACTOR:g}× slower (a region several times slower than the others).")
    if not a.no_throttle:
        rules = "; ".join(f"`{r['api']}` {r['rate']:g}/s (burst {r['burst']:g})" for r in RATE_LIMITS)
        w(f"- **Throttling** as AWS does it, a token bucket per account, region and API operation (the first rule "
          f"that matches): {rules}. Lambda's and STS's are AWS's published quotas; CloudFormation and S3 publish none "
          "for these calls, so theirs are set at a few describe calls per second. A throttled call gets AWS's "
          "throttling error and must be retried.")
    else:
        w("- **Throttling**: off (`--no-throttle`).")
    w("- Sizes: " + ", ".join(f"{s.n} = {plural(s.accounts, 'account')} × {plural(s.regions, 'region')}" for s in sizes)
      + "; every target with its CloudTrail bucket `trail-<account>-<region>`, reached by the tool through `role_arn`.")
    w("")


def targets_table(w: Callable[[str], None], sizes: list[Size], startup: Startup | None, repeats: int) -> None:
    w(f"## Targets, per size (medians of {plural(repeats, 'repeat')})\n")
    w("Each cell: the median (min–max over the repeats) and whether it meets the target (✓ or ✗); rows without a "
      "mark are shown, not judged. A size is **met** only if every judged condition holds.\n")
    verdicts = [judge(s) for s in sizes]
    w("| condition | " + " | ".join(plural(s.n, "target") for s in sizes) + " |")
    w("|---|" + "---|" * len(sizes))
    w("| scale of the resource times | " + " | ".join(fraction(s.pace.scale) + (f", {s.slow_targets} slow" if s.slow_targets else "")
                                               for s in sizes) + " |")
    names = []
    for v in verdicts:
        for c in v.checks:
            key = c.name.split(" ≤ ")[0] if c.name.startswith("tool ÷ floor") else c.name
            if key not in names:
                names.append(key)
    for name in names:
        row = []
        for v in verdicts:
            c = next((c for c in v.checks if (c.name.split(" ≤ ")[0] if c.name.startswith("tool ÷ floor") else c.name) == name), None)
            if c is None:
                row.append("—")
                continue
            mark = "" if not c.judged else " ✓" if c.met else " ✗" if c.met is False else " (not measured)"
            limit = f" (≤ {ratio_limit(v.n):.2f})" if name == "tool ÷ floor" else ""
            row.append(f"{c.value}{limit}{mark}")
        w(f"| {name} | " + " | ".join(row) + " |")
    w("| **verdict** | " + " | ".join(
        "**met**" if v.met else (f"**missed**: {'; '.join(v.missed())}" if v.met is False else "not measured")
        for v in verdicts) + " |")
    w("")
    w("| other target | measured | |")
    w("|---|---|---|")
    for g in other_goals(sizes, startup):
        w(f"| {g.name} | {g.measured} | {'met' if g.met else 'missed' if g.met is False else '—'} |")
    w("")


def wall_times(w: Callable[[str], None], sizes: list[Size]) -> None:
    w("## Wall time of a fresh rollout\n")
    w("From start to exit, every step of the guide for every target (zip bucket, zip, shared stack, Lambda stack, "
      "invoke permission, bucket notification). Median (min–max) of the repeats; the AWS CLI script once.\n")
    w("| targets | this tool | the floor | tool ÷ floor | tool − floor | instead: AWS CLI script, one after another "
      f"| instead: AWS CLI script, {CONCURRENCY} at a time | CLI one after another ÷ tool | CLI {CONCURRENCY} at a time ÷ tool |")
    w("|---|---|---|---|---|---|---|---|---|")
    for s in sizes:
        tool = Spread.of(o.wall for o in ok_runs(s.tools))
        floor = Spread.of(o.wall for o in ok_runs(s.floors))
        ratios = Spread.of(paired_ratios(s.tools, s.floors))
        excess = Spread.of(paired_excess(s.tools, s.floors))

        def vs(o: Outcome | None) -> str:
            return f"{o.wall / tool.median:.1f}×" if o and o.ok and o.wall and tool else "—"  # type: ignore[operator]

        w(f"| {s.n} | {spread_text(tool)} | {spread_text(floor)} | {spread_text(ratios, times)} | {spread_text(excess)} "
          f"| {cell(s.cli_seq, lambda o: secs(o.wall), s.cli_seq_note)} | {cell(s.cli_par, lambda o: secs(o.wall), s.cli_par_note)} "
          f"| {vs(s.cli_seq)} | {vs(s.cli_par)} |")
    w("")
    shares = [(s, waiter_share(o)) for s in sizes for o in (s.cli_seq, s.cli_par) if o and not o.note]
    shares = [(s, x) for s, x in shares if x]
    if shares:
        per = statistics.mean(x[0] for _, x in shares)
        waited = statistics.mean(x[1] for _, x in shares)
        w(f"**Where the AWS CLI script's time goes.** Per target it took {secs(per)} on average, of which {secs(waited)} "
          f"({100 * waited / per:.0f}%) passed between a stack's end and the script noticing it: `aws cloudformation "
          "wait` polls every 30 seconds, so most of the tool's lead over the script comes from that waiter, not from "
          "the calls. Run 8 at a time the script is as fast per target, and the waits overlap.\n")


def delays_section(w: Callable[[str], None], sizes: list[Size]) -> None:
    w("## Notice delay: a stack finishing → the client reporting it\n")
    w("Finished: the emulator's record of the operation. The tool: the arrival of its stderr line "
      "`[ACCOUNT/REGION] ✓ shared-stack|lambda-stack: ...`, read as it comes. The floor: its long poll's answer. "
      "The AWS CLI: the exit of the command that waits for the stack. Per run the median and the max over its stacks; "
      "below, their median (min–max) over the repeats.\n")
    w("| targets | stacks per run | this tool, median | this tool, max | the floor, median | the floor, max "
      "| AWS CLI, one after another (median, max) |")
    w("|---|---|---|---|---|---|---|")
    for s in sizes:
        tools, floors = ok_runs(s.tools), ok_runs(s.floors)
        stacks = statistics.median([len(o.delays) for o in tools]) if tools else 0
        cli = s.cli_seq if s.cli_seq and s.cli_seq.ok and not s.cli_seq.note else None
        cli_text = f"{secs(cli.delay_median())}, {secs(cli.delay_max())}" if cli and cli.delays else (s.cli_seq_note or "—")
        w(f"| {s.n} | {stacks:g} | {spread_text(Spread.of(o.delay_median() for o in tools))} "
          f"| {spread_text(Spread.of(o.delay_max() for o in tools))} | {spread_text(Spread.of(o.delay_median() for o in floors))} "
          f"| {spread_text(Spread.of(o.delay_max() for o in floors))} | {cli_text} |")
    w("")


def busiest(runs: list[Outcome]) -> str:
    peaks = [p for p in (o.peak_api_rate() for o in ok_runs(runs)) if p]
    if not peaks:
        return "—"
    top = max(peaks)
    return f"{top[0]} × {top[1]}"


def requests_section(w: Callable[[str], None], sizes: list[Size]) -> None:
    w("## AWS requests per target\n")
    w("From the emulator's request log of the accounts involved (the tool's AssumeRole calls in the caller's account "
      "count; the CLI script and the floor start with each account's credentials). Mutating: anything but "
      "Get/List/Describe/Head/AssumeRole (`tests/it/harness.rs`), refused and throttled attempts included. Stack reads: "
      "DescribeStackEvents + DescribeStacks in a stack's account and region from its start until the client reported "
      "it, per second of that time, all stacks together.\n")
    w("| targets | this tool, fresh | this tool, no-op re-run | the floor | AWS CLI script, fresh | stack reads per second "
      "per stack (tool) | stack reads per stack (tool) | throttled calls, tool / floor (all repeats) "
      "| the tool's busiest second on one operation in one account and region |")
    w("|---|---|---|---|---|---|---|---|---|")

    def calls(runs: list[Outcome]) -> str:
        runs = ok_runs(runs)
        c = Spread.of(o.calls_per_target() for o in runs)
        m = Spread.of(o.mutating_per_target() for o in runs)
        return f"{spread_text(c, lambda x: f'{x:.1f}')} ({m.median:.1f} mutating)" if c and m else "—"

    for s in sizes:
        cli = s.cli_seq if s.cli_seq and s.cli_seq.ok and not s.cli_seq.note else None
        w(f"| {s.n} | {calls(s.tools)} | {calls(s.noops)} | {calls(s.floors)} | {calls([cli]) if cli else '—'} "
          f"| {spread_text(Spread.of(o.stack_read_rate() for o in ok_runs(s.tools)), lambda x: f'{x:.2f}')} "
          f"| {spread_text(Spread.of(o.reads_per_stack() for o in ok_runs(s.tools)), lambda x: f'{x:.1f}')} "
          f"| {sum(o.throttled() for o in s.tools + s.noops)} / {sum(o.throttled() for o in s.floors)} "
          f"| {busiest(s.tools)} |")
    w("")
    smallest = sizes[0] if sizes else None
    if smallest:
        w(f"Calls per target by action, {plural(smallest.n, 'target')}, first repeat:\n")
        for label, o in (("this tool, fresh", next(iter(ok_runs(smallest.tools)), None)),
                         ("this tool, no-op re-run", next(iter(ok_runs(smallest.noops)), None)),
                         ("the floor", next(iter(ok_runs(smallest.floors)), None)),
                         ("AWS CLI script, fresh", smallest.cli_seq if smallest.cli_seq and not smallest.cli_seq.note else None)):
            if o and o.ok and o.requests:
                w(f"- {label}: {o.by_action()}")
        w("")


def memory_section(w: Callable[[str], None], sizes: list[Size], startup: Startup | None) -> None:
    w("## Start-up and peak memory\n")
    w("Median wall time of 20 runs (through Python's subprocess, which adds about a millisecond). Peak memory: the "
      "max RSS of the process as GNU time tells it (`/usr/bin/time -f %M`)" + ("" if GNU_TIME.exists() else
      ": absent on this machine, so wait4's figure, which counts this Python script's own memory too") + ".\n")
    w("| figure | this tool | instead: AWS CLI |")
    w("|---|---|---|")
    rows = {r[0]: r for r in (startup.rows if startup else [])}

    def start_cell(name: str, kind: str) -> str:
        r = rows.get(name)
        if r is None:
            return "skipped"
        if r[3]:
            return f"error: {r[3]}"
        return secs(statistics.median(r[1])) if kind == "time" else mib(r[2])  # type: ignore[arg-type]

    w(f"| `--version`, time | {start_cell('taegis-cloudtrail --version', 'time')} | {start_cell('aws --version', 'time')} |")
    w(f"| `--help`, time | {start_cell('taegis-cloudtrail --help', 'time')} | — |")
    w(f"| `--version`, peak memory | {start_cell('taegis-cloudtrail --version', 'rss')} | {start_cell('aws --version', 'rss')} |")
    for s in sizes:
        cli = s.cli_seq if s.cli_seq and s.cli_seq.ok and not s.cli_seq.note else None
        w(f"| deploy of {plural(s.n, 'target')}, peak memory | {spread_text(Spread.of(o.maxrss_kib for o in ok_runs(s.tools)), mib)} "
          f"| {mib(cli.maxrss_kib) + ' (the largest `aws` process)' if cli else '—'} |")
    for s in sizes:
        if s.big is None and not s.big_note:
            continue
        w(f"| deploy of {plural(s.n, 'target')} with a 40 MB zip, peak memory | "
          f"{cell(s.big, lambda o: mib(o.maxrss_kib), s.big_note)} | — |")
    w("")
    for s in sizes:
        if s.big is None:
            continue
        w(f"**A 40 MB zip to {plural(s.n, 'target')}.** The tool's fresh rollout "
          f"{cell(s.big, lambda o: f'took {secs(o.wall)} and uploaded {o.uploaded_bytes() / 1e6:.0f} MB in {o.upload_calls()} upload calls')}; "
          f"run again with nothing changed it "
          f"{cell(s.big_again, lambda o: f'took {secs(o.wall)} and uploaded {o.uploaded_bytes()} bytes in {o.upload_calls()} upload calls', 'did not run')}.\n")


def runs_section(w: Callable[[str], None], sizes: list[Size]) -> None:
    w("## Every run\n")
    w("| targets | repeat | this tool | the floor | tool ÷ floor | tool's no-op re-run | tool's notice delay, median / max "
      "| tool's stack reads per second per stack |")
    w("|---|---|---|---|---|---|---|---|")
    for s in sizes:
        floors = {o.rep: o for o in s.floors}
        noops = {o.rep: o for o in s.noops}
        for t in s.tools:
            f, n = floors.get(t.rep), noops.get(t.rep)
            ratio = f"{t.wall / f.wall:.3f}×" if t.ok and f and f.ok and f.wall else "—"  # type: ignore[operator]
            rate = t.stack_read_rate() if t.ok else None
            w(f"| {s.n} | {t.rep + 1} | {cell(t, lambda o: secs(o.wall))} | {cell(f, lambda o: secs(o.wall))} | {ratio} "
              f"| {cell(n, lambda o: secs(o.wall))} | {cell(t, lambda o: f'{secs(o.delay_median())} / {secs(o.delay_max())}')} "
              f"| {'—' if rate is None else f'{rate:.2f}'} |")
    w("")


def collect_errors(sizes: list[Size]) -> list[tuple[str, str]]:
    out = []
    for s in sizes:
        for label, runs in (("the tool", s.tools), ("the tool's re-run", s.noops), ("the floor", s.floors),
                            ("the CLI script, one after another", [s.cli_seq] if s.cli_seq else []),
                            ("the CLI script, 8 at a time", [s.cli_par] if s.cli_par else []),
                            ("the tool with a 40 MB zip", [s.big] if s.big else []),
                            ("the tool with a 40 MB zip, again", [s.big_again] if s.big_again else [])):
            for o in runs:
                if o.error:
                    out.append((f"{label}, {plural(s.n, 'target')}, repeat {o.rep + 1}", o.error))
    return out


def report(ctx: Ctx, sizes: list[Size], startup: Startup | None, elapsed: float, estimate: float) -> str:
    lines: list[str] = []
    w = lines.append
    header(w, ctx, sizes, elapsed, estimate)
    if sizes:
        targets_table(w, sizes, startup, ctx.args.repeats)
        wall_times(w, sizes)
        delays_section(w, sizes)
        requests_section(w, sizes)
    memory_section(w, sizes, startup)
    if sizes:
        runs_section(w, sizes)
    problems = collect_errors(sizes)
    cli_runs = [o for s in sizes for o in (s.cli_seq, s.cli_par) if o and o.ok and o.per_target]
    if cli_runs and max(max(o.per_target) for o in cli_runs) < 30:
        ctx.cloud.note("At this scale every stack had finished before the AWS CLI's waiter first looked, so its "
                       "30 s polling never showed: on AWS it adds 0–30 s (15 s on average) per stack, twice per target.")
    if ctx.cloud.notes or problems:
        w("## Notes\n")
        for note in ctx.cloud.notes:
            w(f"- {note}")
        for who, err in problems:
            w(f"- **Error, {who}:**\n\n```\n{err.strip()[:3000]}\n```")
        w("")
    return "\n".join(lines) + "\n"
