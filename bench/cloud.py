"""The cloud the benchmark runs against: the emulator of tests/emulator on a free port, its
accounts, and the AWS-like pace each account gets (row ac of tests/emulator/README.md: stack
resources side by side with drawn times, slow regions, token-bucket throttling)."""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import botocore.session
from botocore.config import Config

from procs import BenchError, adopt, kill_group, log

REPO = Path(__file__).resolve().parent.parent
EMULATOR_START_TIMEOUT = 90
ADMIN_TIMEOUT = 60
LONG_POLL_TIMEOUT = 900

# Regions the emulator serves for every service the deploy touches.
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
    "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ca-central-1",
    "eu-west-3", "eu-north-1", "ap-northeast-2", "ap-south-1", "sa-east-1",
]

# AWS's time per resource type, in seconds, before scaling: each resource's time is drawn
# uniformly from its range (row ac).  Lambda functions and IAM roles as the issue gives them;
# the others of the same order, from what CloudFormation's events show on AWS.
RESOURCE_TIMES: dict[str, list[float]] = {
    "AWS::Lambda::Function": [5, 15],
    "AWS::IAM::Role": [2, 10],
    "AWS::IAM::Policy": [2, 10],
    "AWS::SecretsManager::Secret": [2, 8],
    "AWS::Logs::LogGroup": [1, 4],
    "AWS::Lambda::Permission": [1, 3],
    "*": [2, 10],
}
SLOW_FACTOR = 4.0  # a slow region: every resource takes this many times as long

# Throttling of AWS's order: a token bucket per account, region and API operation (row ac).  The
# first rule that matches decides.  Lambda's and STS's are AWS's published quotas; CloudFormation
# and S3 publish none for these calls, so theirs are set low, at a few describe calls a second.
RATE_LIMITS: list[dict[str, Any]] = [
    {"api": "cloudformation:Describe*", "rate": 5, "burst": 10},
    {"api": "cloudformation:List*", "rate": 5, "burst": 10},
    {"api": "cloudformation:Get*", "rate": 5, "burst": 10},
    {"api": "cloudformation:*", "rate": 3, "burst": 6},
    {"api": "lambda:GetFunction", "rate": 100, "burst": 100},
    {"api": "lambda:*", "rate": 15, "burst": 15},
    {"api": "sts:*", "rate": 600, "burst": 600},
    {"api": "s3:PutObject", "rate": 3500, "burst": 3500},
    {"api": "s3:GetObject", "rate": 5500, "burst": 5500},
    {"api": "s3:*", "rate": 50, "burst": 100},
    {"api": "*", "rate": 10, "burst": 20},
]


@dataclass
class Pace:
    """The AWS-like pace given to a fleet's accounts."""

    latency_ms: int
    scale: float  # every drawn resource time is multiplied by it
    slow_regions: tuple[str, ...] = ()
    throttle: bool = True
    parallel: bool = True

    def stack_timing(self, seed: int) -> dict[str, Any]:
        return {"times": RESOURCE_TIMES, "scale": self.scale, "seed": seed, "parallel": self.parallel,
                "region_factors": {r: SLOW_FACTOR for r in self.slow_regions}}

    def behaviour(self, acct_id: str, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {"account": acct_id, "latency_ms": self.latency_ms,
                                "stack_timing": self.stack_timing(seed)}
        if self.throttle:
            body["rate_limits"] = RATE_LIMITS
        return body


class Emulator:
    """tests/emulator/taegis_moto.py on a free port, for this run only."""

    def __init__(self, python: str, workdir: Path):
        self.python = python
        self.log_path = workdir / "emulator.log"
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        script = REPO / "tests/emulator/taegis_moto.py"
        log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.python, str(script), "--host", "127.0.0.1", "--port", "0", "--parent-pid", str(os.getpid())],
            stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL, start_new_session=True)
        adopt(self.proc)
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:  # keep reading so the server never blocks on a full pipe
            assert self.proc and self.proc.stdout
            for raw in self.proc.stdout:
                lines.put(raw.decode("utf-8", "replace").strip())

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.time() + EMULATOR_START_TIMEOUT
        port = 0
        while True:
            left = deadline - time.time()
            if left <= 0 or self.proc.poll() is not None:
                raise BenchError(f"the emulator did not start (see {self.log_path}):\n"
                                 + self.log_path.read_text(errors="replace")[-2000:])
            try:
                line = lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line.startswith("port "):
                port = int(line.split()[1])
            if line == "ready":
                break
        if not port:
            raise BenchError("the emulator said ready without printing its port")
        self.url = f"http://127.0.0.1:{port}"
        self.admin("POST", "/moto-api/config", {"lambda": {"use_docker": False}})

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            kill_group(self.proc)
            self.proc.wait(timeout=10)

    def rss_kib(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():  # type: ignore[union-attr]
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, AttributeError):
            pass
        return None

    def admin(self, method: str, path: str, body: Any = None, allow: Iterable[int] = (),
              timeout: float = ADMIN_TIMEOUT) -> tuple[int, Any]:
        """A call of the emulator's admin API (not AWS); any status but 2xx or `allow` raises."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw.decode("utf-8", "replace")
        if not (200 <= status < 300) and status not in allow:
            raise BenchError(f"emulator {method} {path}: {status} {str(doc)[:500]}")
        return status, doc


@dataclass(frozen=True)
class Account:
    id: str
    access_key: str
    secret_key: str
    token: str

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_SESSION_TOKEN": self.token}


@dataclass(frozen=True)
class Target:
    account: Account
    region: str
    bucket: str  # the CloudTrail bucket the trigger goes on

    @property
    def key(self) -> tuple[str, str]:
        return (self.account.id, self.region)

    @property
    def zip_bucket(self) -> str:
        return f"taegis-lambda-{self.account.id}-{self.region}"


@dataclass
class Fleet:
    caller: Account  # whose credentials the tool runs with; it assumes a role in each account
    accounts: list[Account]
    regions: list[str]
    targets: list[Target]
    pace: Pace | None = None
    slow: set[tuple[str, str]] = field(default_factory=set)  # targets in a slow region

    @property
    def all_accounts(self) -> list[Account]:
        return [self.caller] + self.accounts


def shape(n: int) -> tuple[int, int]:
    """(accounts, regions) for n targets: 4 = 1 x 4, 16 = 4 x 4, 200 = 20 x 10."""
    known = {1: (1, 1), 2: (1, 2), 4: (1, 4), 16: (4, 4), 200: (20, 10)}
    if n in known:
        return known[n]
    for regions in (10, 8, 5, 4, 2, 1):
        if n % regions == 0 and n // regions <= 60:
            return n // regions, regions
    raise BenchError(f"--targets: no accounts x regions shape for {n} targets (use a multiple of 10 up to 600)")


class Cloud:
    """Accounts in the emulator (sts:AssumeRole into arn:aws:iam::<id>:role/x), with clients."""

    def __init__(self, emu: Emulator):
        self.emu = emu
        self._session = botocore.session.get_session()  # one model cache for every client
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._next_id = random.randrange(200_000_000_000, 800_000_000_000)
        self._base = self._client("sts", "us-east-1", "testing", "testing", None)
        self.notes: list[str] = []

    def _client(self, service: str, region: str, key: str, secret: str, token: str | None) -> Any:
        config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 10},
                        max_pool_connections=32, connect_timeout=30, read_timeout=300)
        with self._lock:
            return self._session.create_client(service, region_name=region, endpoint_url=self.emu.url,
                                               aws_access_key_id=key, aws_secret_access_key=secret,
                                               aws_session_token=token, config=config)

    def client(self, acct: Account, service: str, region: str) -> Any:
        k = (acct.id, service, region)
        if k not in self._clients:
            c = self._client(service, region, acct.access_key, acct.secret_key, acct.token)
            with self._lock:
                self._clients.setdefault(k, c)
        return self._clients[k]

    def account(self) -> Account:
        with self._lock:
            self._next_id += 1
            acct_id = str(self._next_id)
        out = self._base.assume_role(RoleArn=f"arn:aws:iam::{acct_id}:role/x", RoleSessionName="bench")
        c = out["Credentials"]
        return Account(acct_id, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    def seed_bucket(self, acct: Account, name: str, region: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.client(acct, "s3", region).create_bucket(**kwargs)

    def behave(self, acct: Account, pace: Pace, seed: int) -> None:
        """AWS's pace for this account (row ac)."""
        status, doc = self.emu.admin("POST", "/_taegis/behaviour", pace.behaviour(acct.id, seed), allow=(400,))
        if status == 400:
            raise BenchError(f"the emulator refused the AWS-like pace (row ac of tests/emulator/README.md; "
                             f"an older emulator?): {doc}")

    def note(self, text: str) -> None:
        with self._lock:
            if text not in self.notes:
                self.notes.append(text)

    def requests(self, acct_id: str) -> list[dict[str, Any]]:
        _, doc = self.emu.admin("GET", f"/_taegis/requests?account={acct_id}")
        return doc["requests"]

    def marks(self, accounts: Iterable[Account]) -> dict[str, int]:
        return {a.id: len(self.requests(a.id)) for a in accounts}

    def requests_since(self, marks: dict[str, int]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for acct_id, mark in marks.items():
            out.extend(self.requests(acct_id)[mark:])
        return out

    def stack_ops(self, acct_id: str, since: float | None = None) -> list[dict[str, Any]]:
        """The emulator's record of stack operations in an account (started at or after `since`)."""
        query = f"?account={acct_id}" + (f"&since={since - 1:.3f}" if since else "")
        _, doc = self.emu.admin("GET", "/_taegis/stack-operations" + query)
        return doc["operations"]

    def wait_stack(self, stack_id: str, since: float) -> dict[str, Any]:
        """The stack's operation since `since`, the moment it ends (the record's long poll: no
        AWS call); (its record, when the answer arrived)."""
        _, doc = self.emu.admin("GET", f"/_taegis/stack-operations?stack_id={urllib.request.quote(stack_id, safe='')}"
                                f"&since={since - 0.5:.3f}&wait={LONG_POLL_TIMEOUT}", timeout=LONG_POLL_TIMEOUT + 30)
        seen = time.time()
        ops = doc["operations"]
        if not ops or any(o["finished"] is None for o in ops):
            raise BenchError(f"the stack {stack_id} did not finish within {LONG_POLL_TIMEOUT} s")
        return dict(ops[-1], seen=seen)


def mutates(req: dict[str, Any]) -> bool:
    """Anything but a read (as tests/it/harness.rs `Request::mutates`)."""
    action = req.get("action") or ""
    read = action.startswith(("Get", "List", "Describe", "Head", "AssumeRole"))
    return not read and req.get("method") not in ("GET", "HEAD")


def log_pace(pace: Pace) -> None:
    log(f"pace: latency {pace.latency_ms} ms, resource times x {pace.scale:g}"
        + (f", slow regions {', '.join(pace.slow_regions)} (x {SLOW_FACTOR:g})" if pace.slow_regions else "")
        + (", token buckets" if pace.throttle else ""))
