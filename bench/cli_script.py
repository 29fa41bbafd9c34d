"""What users would do instead: the vendor guide's steps scripted with the AWS CLI
(bench/guide_steps.sh), one target after another, or in parallel (the tool's 8 at a time)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cloud import Fleet, Target
from measure import Outcome, notice_delays
from prepare import CONCURRENCY, LAMBDA_STACK, SHARED_STACK, STEP_STACKS, Ctx, cli_env, stack_operations
from procs import Proc, run_process

BENCH = Path(__file__).resolve().parent
CLI_TARGET_TIMEOUT = 1800  # the AWS CLI's stack waiter sleeps 30 s between polls


def cli_params_dir(ctx: Ctx, t: Target, where: Path) -> Path:
    """The parameters of one target, as files for the CLI script."""
    bp = ctx.blueprint
    assert bp is not None
    d = where / f"{t.account.id}-{t.region}"
    d.mkdir(parents=True, exist_ok=True)
    for stem, params in (("shared", bp.shared_params), ("lambda", bp.lambda_values(t))):
        (d / f"{stem}.json").write_text(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in params]))
        (d / f"{stem}.overrides.json").write_text(json.dumps([f"{k}={v}" for k, v in params]))
    return d


def run_cli_target(ctx: Ctx, t: Target, where: Path) -> Proc:
    bp = ctx.blueprint
    assert bp is not None and ctx.cli_python is not None
    env = cli_env(ctx, t.account) | {
        "GUIDE_ZIP": str(bp.zip_path), "GUIDE_ZIP_KEY": bp.zip_key,
        "GUIDE_SHARED_TEMPLATE": str(bp.shared_template_path), "GUIDE_LAMBDA_TEMPLATE": str(bp.lambda_template_path),
        "GUIDE_SHARED_STACK": SHARED_STACK, "GUIDE_LAMBDA_STACK": LAMBDA_STACK,
        "GUIDE_FUNCTION_NAME": bp.function_name, "GUIDE_STATEMENT_ID": bp.statement_id,
        "GUIDE_ENTRY_ID": bp.entry_id, "GUIDE_PYTHON": str(ctx.cli_python), "GUIDE_CFN": ctx.cli_cfn_mode,
    }
    params = cli_params_dir(ctx, t, where)
    argv = ["bash", str(BENCH / "guide_steps.sh"), t.account.id, t.region, t.bucket, str(params)]
    return run_process(argv, env, CLI_TARGET_TIMEOUT)


def run_cli(ctx: Ctx, fleet: Fleet, who: str, parallel: bool) -> Outcome:
    """bench/guide_steps.sh for every target: one after another, or 8 at a time."""
    out = Outcome(who, len(fleet.targets))
    where = ctx.fresh_dir(who.replace(" ", "-"))
    marks = ctx.cloud.marks(fleet.accounts)
    started = time.time()

    def one(t: Target) -> Proc:
        return run_cli_target(ctx, t, where)

    if parallel:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            procs = list(pool.map(one, fleet.targets))
    else:
        procs = [one(t) for t in fleet.targets]
    out.wall = time.time() - started
    out.requests = ctx.cloud.requests_since(marks)
    out.per_target = [p.wall for p in procs]
    out.maxrss_kib = max(p.maxrss_kib for p in procs)  # the largest single process (an `aws` command)
    for t, p in zip(fleet.targets, procs):
        if p.code != 0 or p.timed_out:
            out.error = f"{len([q for q in procs if q.code != 0])} of {len(procs)} targets failed; first: {p.why()}"
            break
        for line in p.text("out").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "bench-step" and parts[1] in STEP_STACKS:
                out.noticed[(t.account.id, t.region, STEP_STACKS[parts[1]])] = float(parts[2])
    out.ops = stack_operations(ctx, fleet, started)
    out.delays = notice_delays(out.ops, out.noticed)
    return out


def waiter_share(out: Outcome) -> tuple[float, float] | None:
    """(mean seconds per target, mean seconds per target between a stack's end and the CLI
    noticing it): how much of the script's time its waiter's 30 s poll takes."""
    if not out.ok or not out.per_target or not out.delays:
        return None
    per_target = sum(out.per_target) / len(out.per_target)
    waited = sum(out.delays) / out.n
    return per_target, waited
