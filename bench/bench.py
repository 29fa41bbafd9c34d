#!/usr/bin/env python3
"""Benchmarks of taegis-cloudtrail against the local AWS emulator (tests/emulator), paced like AWS.

Run it through bench/run, which makes the two venvs (the emulator's, whose Python runs this
file, and bench/.venv-cli with the AWS CLI) and passes its arguments on:

    bench/run                      # the full run: 1, 4, 16 and 200 targets, 5 repeats, BENCHMARKS.md
    bench/run --smoke              # 1 and 2 targets, 2 repeats, debug binary, to a temporary file

Every run starts its own emulator on a free port and works in fresh accounts paced like AWS
(row ac of tests/emulator/README.md: a stack's independent resources side by side, each for a
seeded time drawn per resource type and scaled down by a stated factor, a tenth of the targets
slow at 200, token-bucket throttling per account, region and API). Per size it runs the tool and
the floor (the least a client can do, bench/floor.py) interleaved, repeat after repeat, on fleets
that see the same drawn times, then the vendor guide's steps as an AWS CLI script
(bench/guide_steps.sh) once. The modules: procs (child processes), cloud (the emulator and the
pace), prepare (fleets, the tool's inputs), tool, floor, cli_script, measure (what a run
yields), figures (the runs), goals (the targets judged), report (the Markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import figures  # noqa: E402
from cloud import Cloud, Emulator  # noqa: E402
from figures import estimate_seconds, fig_big_zip, fig_cli, fig_sizes, fig_startup  # noqa: E402
from measure import Outcome  # noqa: E402
from prepare import Ctx, learn_blueprint, make_zip, probe_change_set_exports  # noqa: E402
from procs import T0, BenchError, kill_children, log  # noqa: E402
from report import collect_errors, report  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CLI_VENV = REPO / "bench" / ".venv-cli"
# Stack times scaled to fit the full run in its budget (--budget-minutes) on a 2-core machine.
DEFAULT_SCALE = "0.25,200:0.1"
SMOKE_SCALE = "0.05"


def parse_scale(text: str) -> dict[int | None, float]:
    """"0.25" (every size) or "0.25,200:0.1" (a default, then per-size factors)."""
    out: dict[int | None, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        size, _, factor = part.rpartition(":")
        value = float(factor)
        if not 0 < value <= 10:
            raise ValueError(part)
        out[int(size) if size else None] = value
    if None not in out:
        out[None] = 1.0
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="What the figures mean is described at the top of the file written.")
    p.add_argument("--smoke", action="store_true",
                   help="tiny and quick: 1 and 2 targets, 2 repeats, stack times at 1/20, the CLI script at 1 and 2 "
                        "targets, no 40 MB zip; writes to a temporary file unless --out is given")
    p.add_argument("--binary", help="the tool (default target/release/taegis-cloudtrail; --smoke: target/debug/)")
    p.add_argument("--out", help="the Markdown file written (default BENCHMARKS.md at the repository's root)")
    p.add_argument("--targets", help="comma-separated target counts (default 1,4,16,200; --smoke: 1,2)")
    p.add_argument("--repeats", type=int, help="interleaved runs of the tool and the floor per size (default 5; --smoke: 2)")
    p.add_argument("--scale", help=f"factor on AWS's resource times, for every size or per size: \"0.25\" or "
                                   f"\"0.25,200:0.1\" (default {DEFAULT_SCALE}; --smoke: {SMOKE_SCALE})")
    p.add_argument("--latency-ms", type=int, default=30, help="added to every AWS call (default 30)")
    p.add_argument("--slow-fraction", type=float, default=0.1,
                   help="share of the targets in a slow region, at sizes of --slow-from targets or more (default 0.1)")
    p.add_argument("--slow-from", type=int, default=100, help="the smallest size with slow targets (default 100)")
    p.add_argument("--no-throttle", action="store_true", help="no token-bucket throttling")
    p.add_argument("--cli-seq-max", type=int, help="run the AWS CLI script one target after another up to this many "
                                                  "targets, extrapolate above (default 1)")
    p.add_argument("--cli-par-max", type=int, help="run it 8 at a time up to this many targets (default 16; --smoke: 2)")
    p.add_argument("--no-cli", action="store_true", help="leave out the AWS CLI comparison")
    p.add_argument("--skip-big-zip", action="store_true", help="leave out the 40 MB zip run (at the largest size)")
    p.add_argument("--skip-startup", action="store_true", help="leave out the --version/--help figure")
    p.add_argument("--budget-minutes", type=float,
                   help="refuse to start when the estimate is longer; once spent, the AWS CLI runs left are "
                        "skipped (default 35; --smoke: 5)")
    p.add_argument("--keep-work", action="store_true",
                   help="keep the work directory: logs, inputs, and each measurement's raw data in raw/")
    a = p.parse_args(argv)
    default_binary = "target/debug/taegis-cloudtrail" if a.smoke else "target/release/taegis-cloudtrail"
    a.binary_display = a.binary or default_binary
    a.binary = Path(a.binary_display)
    if not a.binary.is_absolute():
        a.binary = (Path.cwd() / a.binary).resolve()
    try:
        a.targets = sorted({int(x) for x in (a.targets or ("1,2" if a.smoke else "1,4,16,200")).split(",") if x.strip()})
    except ValueError:
        p.error("--targets: comma-separated whole numbers, such as 1,4,16,200")
    if not a.targets or min(a.targets) < 1:
        p.error("--targets: at least one count, each 1 or more")
    a.repeats = a.repeats or (2 if a.smoke else 5)
    if a.repeats < 1:
        p.error("--repeats: 1 or more")
    a.scale_text = a.scale or (SMOKE_SCALE if a.smoke else DEFAULT_SCALE)
    try:
        scales = parse_scale(a.scale_text)
    except ValueError:
        p.error("--scale: a factor above 0 (at most 10), or a default then SIZE:FACTOR pairs, such as 0.25,200:0.1")
    a.scale_of = lambda n: scales.get(n, scales[None])
    a.cli_seq_max = a.cli_seq_max if a.cli_seq_max is not None else 1
    a.cli_par_max = a.cli_par_max if a.cli_par_max is not None else (2 if a.smoke else 16)
    a.budget_minutes = a.budget_minutes or (5 if a.smoke else 35)
    if a.smoke:
        a.skip_big_zip = True
    if not 0 <= a.slow_fraction < 1 or a.latency_ms < 0:
        p.error("--slow-fraction is 0 up to 1, --latency-ms 0 or more")
    return a


def find_cli(a: argparse.Namespace) -> tuple[Path | None, Path | None, str | None]:
    """The AWS CLI and its Python, or why the comparison is skipped."""
    aws, python = CLI_VENV / "bin/aws", CLI_VENV / "bin/python"
    if a.no_cli:
        return None, None, "skipped: --no-cli"
    if not (aws.exists() and python.exists()):
        if not a.smoke:
            raise BenchError(f"the AWS CLI's venv is missing at {CLI_VENV}: run bench/run (it makes it), or pass --no-cli")
        why = f"skipped: the AWS CLI's venv is absent ({CLI_VENV}; bench/run makes it)"
        log(why)
        return None, None, why
    return aws, python, None


def say_estimate(a: argparse.Namespace, with_cli: bool) -> float:
    parts = estimate_seconds(a, a.targets, with_cli)
    total = sum(parts.values())
    log(f"estimated duration: {total / 60:.0f} min ({', '.join(f'{k} {v / 60:.1f} min' for k, v in parts.items())}); "
        f"budget {a.budget_minutes:g} min")
    if total > a.budget_minutes * 60:
        raise BenchError(f"the run is estimated at {total / 60:.0f} min, over --budget-minutes {a.budget_minutes:g}: "
                         "fewer --repeats or --targets, a smaller --scale, or a larger budget")
    return total


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    if not a.binary.exists():
        raise BenchError(f"no binary at {a.binary}: build it (cargo build --release) or pass --binary")
    out_path = Path(a.out) if a.out else (None if a.smoke else REPO / "BENCHMARKS.md")
    if out_path is None:
        fd, name = tempfile.mkstemp(prefix="bench-smoke-", suffix=".md")
        os.close(fd)
        out_path = Path(name)
    aws, cli_python, cli_skipped = find_cli(a)
    estimate = say_estimate(a, aws is not None)
    work = Path(tempfile.mkdtemp(prefix="taegis-bench-"))
    (work / "home").mkdir()
    emu = Emulator(sys.executable, work)
    try:
        log(f"work directory {work}")
        if a.keep_work:
            raw = work / "raw"
            raw.mkdir()

            def dump(what: str, out: Outcome) -> None:
                proc = out.extra.get("proc")
                doc = {"what": what, "wall": out.wall, "error": out.error, "requests": out.requests, "ops": out.ops,
                       "noticed": [[*k, v] for k, v in out.noticed.items()], "delays": out.delays,
                       "lines": proc.lines if proc else None}
                name = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")
                (raw / f"{name}.json").write_text(json.dumps(doc, indent=1, default=str))

            figures.DUMP.append(dump)
        emu.start()
        log(f"emulator at {emu.url}")
        aws_config = work / "aws-config"
        aws_config.write_text("[default]\ns3 =\n    addressing_style = path\n")
        credentials = work / "credentials.txt"
        credentials.write_text("client_id=bench-client\nclient_secret=bench-secret-do-not-print\n")
        small_zip = work / "taegis-lambda-amd64.zip"
        make_zip(small_zip)
        ctx = Ctx(a, work, emu, Cloud(emu), a.binary, credentials, small_zip, aws, cli_python, aws_config)
        ctx.cli_skipped = cli_skipped
        ctx.deadline = T0 + a.budget_minutes * 60
        ctx.blueprint = learn_blueprint(ctx)
        if aws:
            ctx.cli_cfn_mode = probe_change_set_exports(ctx)
            log(f"the CLI script deploys stacks with: {ctx.cli_cfn_mode}")
        sizes = fig_sizes(ctx, a.targets, a.repeats)
        if not a.skip_big_zip and sizes:
            fig_big_zip(ctx, sizes[-1])
        startup = None if a.skip_startup else fig_startup(ctx)
        fig_cli(ctx, sizes)
        text = report(ctx, sizes, startup, time.time() - T0, estimate)
        out_path.write_text(text)
        log(f"wrote {out_path} in {time.time() - T0:.0f} s (estimated {estimate:.0f} s)")
        errors = collect_errors(sizes)
        if errors:
            log(f"{len(errors)} measurement(s) failed; see the Notes of {out_path}")
            return 1
        return 0
    finally:
        emu.stop()
        kill_children()
        if a.keep_work:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
