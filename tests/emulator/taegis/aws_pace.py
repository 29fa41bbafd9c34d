"""AWS's pace, for the benchmark (row ac, behaviour fields `stack_timing` and `rate_limits`):
stack resources that progress in parallel, each taking a time drawn from a seeded distribution
per resource type (scaled, and slower in chosen regions), and throttling as a token bucket per
account, region and API operation.  Off by default; nothing here reads the behaviour store (the
callers pass the account's settings in), so `behaviour` can validate with it."""

from __future__ import annotations

import fnmatch
import hashlib
import threading
import time
from typing import Any, Callable

# ---------------------------------------------------------------------------------------------
# The stack timing model.
# AWS: CloudFormation creates (updates, deletes) every resource whose dependencies are met at
# the same time; each takes its own, varying time, by type (an IAM role some seconds, a Lambda
# function more).  `stack_timing`:
#   {"times": {"AWS::Lambda::Function": [5, 15], "*": [1, 5]},   # seconds, uniform [lo, hi]
#    "scale": 0.1,                                               # every draw multiplied by it
#    "region_factors": {"ca-central-1": 4},                      # and by this in that region
#    "parallel": true,                                           # false: one after another
#    "seed": 7}                                                  # null: the account id
# A resource's time is a function of (seed, region, stack name, logical id, operation) only, so
# it does not depend on the order in which threads run: two accounts given the same seed see the
# same times, stack for stack.
# ---------------------------------------------------------------------------------------------

TIMING_FIELDS = ("times", "scale", "region_factors", "parallel", "seed")
MAX_SECONDS = 3600.0


def validate_stack_timing(value: Any) -> dict[str, Any] | None:
    """The `stack_timing` behaviour field, checked and normalised (None turns the model off)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("stack_timing must be an object or null")
    unknown = sorted(set(value) - set(TIMING_FIELDS))
    if unknown:
        raise ValueError(f"unknown stack_timing field(s) {unknown} (known: {', '.join(TIMING_FIELDS)})")
    times = value.get("times")
    if not isinstance(times, dict) or not times:
        raise ValueError('stack_timing.times must be an object such as {"AWS::IAM::Role": [2, 10], "*": [1, 5]}')
    checked: dict[str, list[float]] = {}
    for rtype, span in times.items():
        if not isinstance(rtype, str) or not (rtype == "*" or rtype.count("::") >= 2 or rtype.startswith("Custom::")):
            raise ValueError(f"stack_timing.times: {rtype!r} is not a resource type (AWS::Service::Type) or \"*\"")
        if isinstance(span, (int, float)) and not isinstance(span, bool):
            span = [span, span]
        if (
            not isinstance(span, list)
            or len(span) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in span)
            or not 0 <= span[0] <= span[1] <= MAX_SECONDS
        ):
            raise ValueError(f"stack_timing.times[{rtype!r}] must be [lo, hi] seconds with 0 <= lo <= hi <= {MAX_SECONDS:g}")
        checked[rtype] = [float(span[0]), float(span[1])]
    scale = value.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 10:
        raise ValueError("stack_timing.scale must be a number above 0 and at most 10")
    factors = value.get("region_factors", {})
    if not isinstance(factors, dict):
        raise ValueError("stack_timing.region_factors must be an object {region: factor}")
    for region, factor in factors.items():
        if not isinstance(region, str) or isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= 100:
            raise ValueError("stack_timing.region_factors: each factor must be a number above 0 and at most 100")
    parallel = value.get("parallel", True)
    if not isinstance(parallel, bool):
        raise ValueError("stack_timing.parallel must be true or false")
    seed = value.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError("stack_timing.seed must be an integer or null")
    return {
        "times": checked,
        "scale": float(scale),
        "region_factors": {r: float(f) for r, f in factors.items()},
        "parallel": parallel,
        "seed": seed,
    }


def draw_seconds(timing: dict[str, Any], account: str, region: str, stack: str, logical_id: str, rtype: str, operation: str) -> float:
    """The time one resource's step takes: uniform in its type's [lo, hi] (or "*"'s; 0 when
    neither is given), from a hash of (seed, region, stack, logical id, operation), times the
    scale and the region's factor."""
    times = timing["times"]
    lo, hi = times.get(rtype) or times.get("*") or (0.0, 0.0)
    seed = timing.get("seed")
    key = f"{account if seed is None else seed}|{region}|{stack}|{logical_id}|{operation}"
    u = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2.0**64
    return (lo + (hi - lo) * u) * timing["scale"] * timing["region_factors"].get(region, 1.0)


class Timing:
    """A stack operation's timing, fixed when the operation starts."""

    def __init__(self, model: dict[str, Any], stack: Any, operation: str):
        self.model = model
        self.account = stack.account_id
        self.region = stack.region_name
        self.stack_name = stack.name
        self.operation = operation
        self.parallel = bool(model.get("parallel", True))

    def seconds(self, logical_id: str, rtype: str, operation: str | None = None) -> float:
        return draw_seconds(
            self.model, self.account, self.region, self.stack_name, logical_id, rtype, operation or self.operation
        )


def run_schedule(
    items: list[str],
    deps: dict[str, set[str]],
    seconds: Callable[[str], float],
    start: Callable[[list[str]], None],
    finish: Callable[[str], None],
    lock: Any,
    parallel: bool = True,
) -> None:
    """Every item starts once all its `deps` (within `items`) have finished: `start(group)` is
    called under `lock` for the items that start at the same moment, each then lasts
    `seconds(item)` (outside any lock), and `finish(item)` is called under `lock`.  Items that end
    at the same moment finish in `items` order.  Not `parallel`: one item at a time, in an order
    that respects `deps`.  What `finish` raises ends the schedule at once (items still running are
    the caller's to cancel).  A dependency cycle is broken by starting the first waiting item."""
    order = {item: i for i, item in enumerate(items)}
    pending = list(items)
    done: set[str] = set()
    running: dict[str, float] = {}

    def launch() -> None:
        if not pending or (running and not parallel):
            return
        ready = [i for i in pending if deps.get(i, set()) & set(items) <= done]
        if not ready and not running:
            ready = pending[:1]
        if not parallel:
            ready = ready[:1]
        if not ready:
            return
        with lock:
            start(ready)
        now = time.monotonic()
        for item in ready:
            pending.remove(item)
            running[item] = now + max(0.0, seconds(item))

    launch()
    while running:
        item = min(running, key=lambda i: (running[i], order[i]))
        wait = running[item] - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        del running[item]
        with lock:
            finish(item)
        done.add(item)
        launch()


# ---------------------------------------------------------------------------------------------
# Throttling as AWS does it: a token bucket per account, region and API operation.
# `rate_limits`: [{"api": "cloudformation:Describe*", "rate": 5, "burst": 10}, ...]; the first
# rule whose pattern (fnmatch, case-sensitive, "service:Operation" with the signing name) matches
# a request decides; each (account, region, service:Operation) has a bucket of its own that
# holds `burst` tokens and gains `rate` per second.  A request finding the bucket empty gets the
# service's throttling error without being processed (as `throttle`), and takes no token.
# ---------------------------------------------------------------------------------------------

_BUCKETS: dict[tuple[Any, ...], list[float]] = {}  # key -> [tokens, last refill (monotonic)]
_BUCKETS_LOCK = threading.Lock()


def validate_rate_limits(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError("rate_limits must be a list")
    checked = []
    for rule in value:
        if not isinstance(rule, dict) or set(rule) - {"api", "rate", "burst"}:
            raise ValueError("rate_limits: each rate limit is an object with 'api', 'rate' and 'burst'")
        api = rule.get("api")
        if not isinstance(api, str) or ":" not in api and api != "*":
            raise ValueError("rate_limits: a rate limit's 'api' is \"service:Operation\" (wildcards allowed) or \"*\"")
        rate, burst = rule.get("rate"), rule.get("burst", rule.get("rate"))
        for name, x in (("rate", rate), ("burst", burst)):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x <= 100_000:
                raise ValueError(f"rate_limits: a rate limit's '{name}' must be a number above 0 (at most 100000)")
        if burst < 1:
            raise ValueError("rate_limits: a rate limit's 'burst' must be at least 1")
        checked.append({"api": api, "rate": float(rate), "burst": float(burst)})
    return checked


def take_token(rules: list[dict[str, Any]], account: str, region: str | None, service: str, action: str | None) -> bool:
    """Whether the request may go on (a token taken, or no rule for it)."""
    api = f"{service}:{action or ''}"
    rule = next((r for r in rules if r["api"] == "*" or fnmatch.fnmatchcase(api, r["api"])), None)
    if rule is None:
        return True
    key = (account, region or "", api, rule["api"], rule["rate"], rule["burst"])
    now = time.monotonic()
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = [rule["burst"], now]
        bucket[0] = min(rule["burst"], bucket[0] + (now - bucket[1]) * rule["rate"])
        bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True
        return False


def clear_buckets(account: str | None = None) -> None:
    with _BUCKETS_LOCK:
        if account is None:
            _BUCKETS.clear()
        else:
            for key in [k for k in _BUCKETS if k[0] == account]:
                del _BUCKETS[key]
