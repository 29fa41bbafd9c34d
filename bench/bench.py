#!/usr/bin/env python3
"""Benchmarks of taegis-cloudtrail against the local AWS emulator (tests/emulator).

Run it through bench/run, which makes the two venvs (the emulator's, whose Python runs this
file, and bench/.venv-cli with the AWS CLI) and passes its arguments on:

    bench/run                      # the full run: 1, 16 and 200 targets, written to BENCHMARKS.md
    bench/run --smoke              # 1 and 2 targets with the debug binary, to a temporary file

Every run starts its own emulator on a free port and works in fresh accounts. It compares the
tool with what users would do instead (the vendor guide's steps scripted with the AWS CLI,
bench/guide_steps.sh, one target after another and all at once) and with a floor client that
makes only the calls the steps need (boto3, 8 targets at a time, learning when each stack has
finished from the emulator's admin API, which costs no AWS call). The figures are written as
Markdown, one function per figure below.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import queue
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import botocore.session
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import merge_notification  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
CLI_VENV = BENCH / ".venv-cli"

SHARED_STACK = "taegis-shared-resources"
LAMBDA_STACK = "taegis-cloudtrail"
STEP_STACKS = {"shared-stack": SHARED_STACK, "lambda-stack": LAMBDA_STACK}
TAEGIS_REGION = "foxtrot"
CONCURRENCY = 8
# Regions the emulator serves for every service the deploy touches; 16 for the 40 MB figure.
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
    "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ca-central-1",
    "eu-west-3", "eu-north-1", "ap-northeast-2", "ap-south-1", "sa-east-1",
]
STACK_READS = ("DescribeStackEvents", "DescribeStacks")
UPLOAD_ACTIONS = ("PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload")
BIG_ZIP_BYTES = 40 * 1000 * 1000

# Timeouts (seconds) of everything that can hang.
EMULATOR_START_TIMEOUT = 90
ADMIN_TIMEOUT = 60
CLI_TARGET_TIMEOUT = 1800  # the AWS CLI's stack waiter sleeps 30 s between polls
FLOOR_STACK_TIMEOUT = 600
SHORT_TIMEOUT = 60

T0 = time.time()
LOAD_AT_START = os.getloadavg()


def log(msg: str) -> None:
    print(f"[bench +{time.time() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A failure with a message meant for the reader (no traceback needed)."""


# ---------------------------------------------------------------------------------------------
# Child processes: every one in its own process group, all killed at exit.
# ---------------------------------------------------------------------------------------------

_CHILDREN: set[subprocess.Popen] = set()
_CHILDREN_LOCK = threading.Lock()


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_children() -> None:
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for p in children:
        if p.returncode is None:
            _kill_group(p)


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


atexit.register(_kill_children)
signal.signal(signal.SIGTERM, _exit_on_signal)
signal.signal(signal.SIGHUP, _exit_on_signal)


@dataclass
class Proc:
    """A finished child process: its lines as they arrived, timed, and its peak memory."""

    argv: list[str]
    code: int
    started: float
    ended: float
    lines: list[tuple[float, str, str]]  # (arrival time, "out" | "err", text)
    maxrss_kib: int
    timed_out: bool

    @property
    def wall(self) -> float:
        return self.ended - self.started

    def text(self, stream: str) -> str:
        return "\n".join(line for _, s, line in self.lines if s == stream)

    def tail(self, n: int = 15) -> str:
        err = [line for _, s, line in self.lines if s == "err"]
        return "\n".join(err[-n:])

    def why(self) -> str:
        what = f"timed out after {self.wall:.0f} s" if self.timed_out else f"exit {self.code}"
        return f"{shlex.join(self.argv[:3])} ...: {what}\n{self.tail()}"


GNU_TIME = Path("/usr/bin/time")


def run_process(argv: list[str], env: dict[str, str], timeout: float, cwd: Path | None = None) -> Proc:
    """Run argv, timestamping each stdout/stderr line on arrival; kill its group at `timeout`.

    Its peak memory comes from GNU time when there is one: a child of this Python process
    counts the Python process's own memory in its peak (Linux keeps the high-water mark of the
    memory it was forked or vforked with across exec), so wait4's figure would be this
    script's size, not the tool's."""
    lines: list[tuple[float, str, str]] = []
    lock = threading.Lock()
    rss_file = tempfile.NamedTemporaryFile("r", suffix=".rss") if GNU_TIME.exists() else None
    if rss_file:
        argv = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *argv]
    started = time.time()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    with _CHILDREN_LOCK:
        _CHILDREN.add(p)

    def pump(stream: Any, name: str) -> None:
        for raw in iter(stream.readline, b""):
            now = time.time()
            with lock:
                lines.append((now, name, raw.decode("utf-8", "replace").rstrip("\n")))
        stream.close()

    pumps = [threading.Thread(target=pump, args=(p.stdout, "out"), daemon=True),
             threading.Thread(target=pump, args=(p.stderr, "err"), daemon=True)]
    for t in pumps:
        t.start()
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        _kill_group(p)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        _, status, usage = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    ended = time.time()
    p.returncode = os.waitstatus_to_exitcode(status)
    if timed_out.is_set():
        _kill_group(p)
    for t in pumps:
        t.join(timeout=10)
    with _CHILDREN_LOCK:
        _CHILDREN.discard(p)
    lines.sort(key=lambda x: x[0])
    maxrss = usage.ru_maxrss
    if rss_file:
        argv = argv[5:]
        with rss_file:
            told = rss_file.read().strip().splitlines()
        maxrss = int(told[-1]) if told and told[-1].isdigit() else maxrss
    return Proc(argv, p.returncode, started, ended, lines, maxrss, timed_out.is_set())


# ---------------------------------------------------------------------------------------------
# The emulator and its accounts.
# ---------------------------------------------------------------------------------------------


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
        with _CHILDREN_LOCK:
            _CHILDREN.add(self.proc)
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
            _kill_group(self.proc)
            self.proc.wait(timeout=10)

    def admin(self, method: str, path: str, body: Any = None, allow: Iterable[int] = ()) -> tuple[int, Any]:
        """A call of the emulator's admin API (not AWS); any status but 2xx or `allow` raises."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=ADMIN_TIMEOUT) as r:
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

    @property
    def all_accounts(self) -> list[Account]:
        return [self.caller] + self.accounts


def shape(n: int) -> tuple[int, int]:
    """(accounts, regions) for n targets: 16 = 4 x 4, 200 = 20 x 10."""
    known = {1: (1, 1), 16: (4, 4), 200: (20, 10)}
    if n in known:
        return known[n]
    for regions in (10, 8, 5, 4, 2, 1):
        if n % regions == 0:
            return n // regions, regions
    raise AssertionError("unreachable")


class Cloud:
    """Accounts in the emulator (sts:AssumeRole into arn:aws:iam::<id>:role/x), with clients."""

    def __init__(self, emu: Emulator, latency_ms: int, resource_seconds: float):
        self.emu = emu
        self.latency_ms = latency_ms
        self.resource_seconds = resource_seconds
        self._session = botocore.session.get_session()  # one model cache for every client
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._next_id = random.randrange(200_000_000_000, 800_000_000_000)
        self._base = self._client("sts", "us-east-1", "testing", "testing", None)
        self.notes: list[str] = []
        self.stack_ops_supported: bool | None = None
        self.request_times_supported: bool | None = None

    def _client(self, service: str, region: str, key: str, secret: str, token: str | None) -> Any:
        config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 10},
                        max_pool_connections=32, connect_timeout=30, read_timeout=120)
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

    def behave(self, acct: Account) -> None:
        """AWS-like pace for this account: latency on every call, stack operations that take time."""
        body = {"account": acct.id, "latency_ms": self.latency_ms, "resource_seconds": self.resource_seconds}
        status, doc = self.emu.admin("POST", "/_taegis/behaviour", body, allow=(400,))
        if status == 400 and "resource_seconds" in str(doc):
            # An emulator without per-resource pacing: a fixed time per stack operation instead
            # (2 x resource_seconds: the shared stack has 1 resource, the Lambda stack 3).
            body = {"account": acct.id, "latency_ms": self.latency_ms, "stack_seconds": 2 * self.resource_seconds}
            self.emu.admin("POST", "/_taegis/behaviour", body)
            self.note("The emulator has no `resource_seconds` behaviour: every stack operation took "
                      f"stack_seconds = {2 * self.resource_seconds:g} s instead of resources × "
                      f"{self.resource_seconds:g} s.")
        elif status == 400:
            raise BenchError(f"emulator refused the behaviour {body}: {doc}")

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
        if out and self.request_times_supported is None:
            self.request_times_supported = "time" in out[0]
            if not self.request_times_supported:
                self.note("The emulator's request log has no `time` field: stack reads per second are not measured.")
        return out

    def stack_ops(self, acct_id: str) -> list[dict[str, Any]] | None:
        """The emulator's record of stack operations in an account; None when it keeps none."""
        if self.stack_ops_supported is False:
            return None
        status, doc = self.emu.admin("GET", f"/_taegis/stack-operations?account={acct_id}", allow=(404,))
        if status == 404:
            self.stack_ops_supported = False
            self.note("The emulator has no `/_taegis/stack-operations`: when stacks finished was read "
                      "afterwards from their stack events (DescribeStackEvents, not counted), and the "
                      "floor client waited by calling DescribeStacks every 20 ms (its calls are counted).")
            return None
        self.stack_ops_supported = True
        return doc["operations"]


def mutates(req: dict[str, Any]) -> bool:
    """Anything but a read (as tests/it/harness.rs `Request::mutates`)."""
    action = req.get("action") or ""
    read = action.startswith(("Get", "List", "Describe", "Head", "AssumeRole"))
    return not read and req.get("method") not in ("GET", "HEAD")


# ---------------------------------------------------------------------------------------------
# The run's context, inputs and the parameters the tool would send.
# ---------------------------------------------------------------------------------------------


@dataclass
class Blueprint:
    """What each target gets, learnt from the tool itself (template + deploy --dry-run)."""

    zip_path: Path
    zip_bytes: bytes
    zip_key: str
    secret_text: str
    shared_template: str
    lambda_template: str
    shared_template_path: Path
    lambda_template_path: Path
    shared_params: list[tuple[str, str]]
    lambda_params: list[tuple[str, str]]  # values with {account}, {region}, {bucket} placeholders
    function_name: str
    statement_id: str
    entry_id: str

    def lambda_values(self, t: Target) -> list[tuple[str, str]]:
        def fill(v: str) -> str:
            return v.replace("{bucket}", t.bucket).replace("{account}", t.account.id).replace("{region}", t.region)
        return [(k, fill(v)) for k, v in self.lambda_params]

    def function_arn(self, t: Target) -> str:
        return f"arn:aws:lambda:{t.region}:{t.account.id}:function:{self.function_name}"


@dataclass
class Ctx:
    args: argparse.Namespace
    work: Path
    emu: Emulator
    cloud: Cloud
    binary: Path
    credentials: Path
    small_zip: Path
    aws: Path | None  # the AWS CLI, when its venv is there
    cli_python: Path | None
    aws_config: Path
    cli_skipped: str | None = None  # why there is no AWS CLI comparison
    cli_cfn_mode: str = "create-stack"
    blueprint: Blueprint | None = None
    counter: int = 0

    def fresh_dir(self, name: str) -> Path:
        self.counter += 1
        d = self.work / f"{self.counter:02d}-{name}"
        d.mkdir(parents=True)
        return d


def base_env(ctx: Ctx) -> dict[str, str]:
    """Nothing from this machine's own AWS set-up; every call to the emulator."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(ctx.work / "home"),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": ctx.emu.url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def tool_env(ctx: Ctx, acct: Account) -> dict[str, str]:
    # The tool's own pace (no TAEGIS_POLL_INTERVAL): what a user gets.
    return base_env(ctx) | acct.env()


def cli_env(ctx: Ctx, acct: Account) -> dict[str, str]:
    assert ctx.aws is not None and ctx.cli_python is not None
    env = base_env(ctx) | acct.env()
    env["PATH"] = f"{ctx.aws.parent}:{env['PATH']}"
    env["AWS_CONFIG_FILE"] = str(ctx.aws_config)
    return env


def make_zip(path: Path, payload_bytes: int = 0) -> None:
    """A valid Lambda zip: an executable `bootstrap`, plus `payload_bytes` of random bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("bootstrap", date_time=(2026, 1, 1, 0, 0, 0))
        info.external_attr = (0o100755 << 16)
        z.writestr(info, "#!/bin/sh\necho taegis-cloudtrail benchmark\n")
        if payload_bytes:
            info = zipfile.ZipInfo("payload.bin", date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o100644 << 16)
            z.writestr(info, os.urandom(payload_bytes))


def make_fleet(ctx: Ctx, n: int, behave: bool = True, regions: list[str] | None = None) -> Fleet:
    """n fresh targets, each with its CloudTrail bucket; accounts paced like AWS."""
    n_accounts, n_regions = shape(n) if regions is None else (1, len(regions))
    regions = regions or REGIONS[:n_regions]
    caller = ctx.cloud.account()
    accounts = [ctx.cloud.account() for _ in range(n_accounts)]
    targets = [Target(a, r, f"trail-{a.id}-{r}") for a in accounts for r in regions]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda t: ctx.cloud.seed_bucket(t.account, t.bucket, t.region), targets))
    if behave:
        for a in [caller] + accounts:
            ctx.cloud.behave(a)
    return Fleet(caller, accounts, regions, targets)


def write_rollout(ctx: Ctx, fleet: Fleet, zip_path: Path, where: Path) -> Path:
    """The rollout file of the tool: every account x every region, reached through a role."""
    accounts = ", ".join(f'"{a.id}"' for a in fleet.accounts)
    text = (
        f"taegis_region: {TAEGIS_REGION}\n"
        f"credentials: {ctx.credentials}\n"
        f"lambda_zip: {zip_path}\n"
        'notification_bucket: "trail-{account}-{region}"\n'
        'role_arn: "arn:aws:iam::{account}:role/x"\n'
        f"accounts: [{accounts}]\n"
        f"regions: [{', '.join(fleet.regions)}]\n"
        f"concurrency: {CONCURRENCY}\n"
    )
    path = where / "rollout.yaml"
    path.write_text(text)
    return path


def tool_deploy_argv(ctx: Ctx, rollout: Path, *extra: str) -> list[str]:
    return [str(ctx.binary), "deploy", "--config", str(rollout), "--concurrency", str(CONCURRENCY),
            "--yes", "--output", "json", *extra]


def tool_timeout(n: int) -> float:
    return 300 + 30 * n


def learn_blueprint(ctx: Ctx) -> Blueprint:
    """The templates and the parameters the tool sends, from the tool (a dry run in a spare account)."""
    where = ctx.fresh_dir("blueprint")
    templates = {}
    for which in ("shared", "lambda"):
        # `template show WHICH` (newer) or `template WHICH` (older builds).
        p = run_process([str(ctx.binary), "template", "show", which], base_env(ctx), SHORT_TIMEOUT)
        if p.code != 0:
            p = run_process([str(ctx.binary), "template", which], base_env(ctx), SHORT_TIMEOUT)
        if p.code != 0:
            raise BenchError(f"taegis-cloudtrail template show {which} failed: {p.why()}")
        path = where / f"{which}.yaml"
        path.write_text(p.text("out") + "\n")
        templates[which] = path
    fleet = make_fleet(ctx, 1, behave=False)
    t = fleet.targets[0]
    rollout = write_rollout(ctx, fleet, ctx.small_zip, where)
    p = run_process(tool_deploy_argv(ctx, rollout, "--dry-run"), tool_env(ctx, fleet.caller), SHORT_TIMEOUT)
    if p.code != 0:
        raise BenchError(f"the dry run that gives the parameters failed: {p.why()}")
    doc = json.loads(p.text("out"))
    steps = {s["name"]: s for s in doc["targets"][0]["steps"]}

    def generic(v: str) -> str:
        return v.replace(t.bucket, "{bucket}").replace(t.account.id, "{account}").replace(t.region, "{region}")

    secret = ctx.credentials.read_text()
    shared = [(q["name"], secret if q["name"] == "SecretValue" else q["value"]) for q in steps["shared-stack"]["parameters"]]
    lambda_params = [(q["name"], generic(q["value"])) for q in steps["lambda-stack"]["parameters"]]
    values = dict(lambda_params)
    statement = re.search(r"\(statement ([^)]+)\)", steps["invoke-permission"]["detail"])
    entry = re.search(r"add entry (\S+) to bucket", steps["bucket-notification"]["detail"])
    if not (statement and entry and "TaegisLambdaS3Key" in values):
        raise BenchError(f"the dry run's plan does not read as expected:\n{json.dumps(steps, indent=1)[:3000]}")
    return Blueprint(
        zip_path=ctx.small_zip, zip_bytes=ctx.small_zip.read_bytes(), zip_key=values["TaegisLambdaS3Key"],
        secret_text=secret, shared_template=templates["shared"].read_text(),
        lambda_template=templates["lambda"].read_text(), shared_template_path=templates["shared"],
        lambda_template_path=templates["lambda"], shared_params=shared, lambda_params=lambda_params,
        function_name=f"{LAMBDA_STACK}-scwx-tdr-lambda-{values.get('IntegrationType', 'awscloudtrail')}",
        statement_id=statement.group(1), entry_id=entry.group(1))


def probe_change_set_exports(ctx: Ctx) -> str:
    """`aws cloudformation deploy` works through change sets; moto's register no exports, and the
    Lambda stack's !ImportValue then fails. Which way the CLI script deploys its stacks."""
    acct = ctx.cloud.account()
    cfn = ctx.cloud.client(acct, "cloudformation", "us-east-1")
    body = ("Resources:\n  T:\n    Type: AWS::SNS::Topic\n"
            "Outputs:\n  A:\n    Value: !Ref T\n    Export:\n      Name: bench-probe\n")
    try:
        cs = cfn.create_change_set(StackName="bench-probe", ChangeSetName="probe", ChangeSetType="CREATE",
                                   TemplateBody=body)
        deadline = time.time() + SHORT_TIMEOUT
        while cfn.describe_change_set(ChangeSetName=cs["Id"])["Status"] not in ("CREATE_COMPLETE", "FAILED"):
            if time.time() > deadline:
                raise BenchError("the change set probe did not settle")
            time.sleep(0.05)
        cfn.execute_change_set(ChangeSetName=cs["Id"])
        while cfn.describe_stacks(StackName="bench-probe")["Stacks"][0]["StackStatus"].endswith("IN_PROGRESS"):
            if time.time() > deadline:
                raise BenchError("the change set probe did not settle")
            time.sleep(0.05)
        exports = [e["Name"] for e in cfn.list_exports().get("Exports", [])]
    except BenchError:
        raise
    except Exception as e:  # noqa: BLE001 - any refusal means: do not rely on change sets
        log(f"change-set probe: {e}")
        exports = []
    if "bench-probe" in exports:
        return "deploy"
    ctx.cloud.note("The emulator's change sets register no exports (moto), so `aws cloudformation deploy` "
                   "of the Lambda stack fails on its `!ImportValue`. The CLI script does what deploy does "
                   "without a change set: `describe-stacks`, then `create-stack` or `update-stack`, then "
                   "`aws cloudformation wait stack-create-complete|stack-update-complete`, whose waiter "
                   "polls every 30 s as deploy's own wait does.")
    return "create-stack"


# ---------------------------------------------------------------------------------------------
# When stacks finished, as the emulator recorded it.
# ---------------------------------------------------------------------------------------------

TERMINAL = re.compile(r"^(CREATE_COMPLETE|UPDATE_COMPLETE|DELETE_COMPLETE|ROLLBACK_COMPLETE|"
                      r"UPDATE_ROLLBACK_COMPLETE|[A-Z_]*_FAILED)$")


def _ops_from_events(ctx: Ctx, t: Target, stack: str, since: float) -> list[dict[str, Any]]:
    """Fallback: a stack's operations since `since`, from its events (costs AWS calls)."""
    cfn = ctx.cloud.client(t.account, "cloudformation", t.region)
    try:
        events: list[dict[str, Any]] = []
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack):
            events.extend(page["StackEvents"])
    except Exception:  # noqa: BLE001 - no such stack
        return []
    mine = sorted((e for e in events if e["LogicalResourceId"] == stack
                   and e["ResourceType"] == "AWS::CloudFormation::Stack"), key=lambda e: e["Timestamp"])
    ops, started = [], None
    for e in mine:
        ts = e["Timestamp"].timestamp()
        status = e["ResourceStatus"]
        if status.endswith("_IN_PROGRESS") and "CLEANUP" not in status and "ROLLBACK" not in status:
            started = ts
        elif TERMINAL.match(status) and started is not None:
            if started >= since - 1:
                ops.append({"account": t.account.id, "region": t.region, "stack": stack,
                            "stack_id": e["StackId"], "operation": status.split("_")[0].lower(),
                            "started": started, "finished": ts, "status": status})
            started = None
    return ops


def stack_operations(ctx: Ctx, fleet: Fleet, since: float) -> list[dict[str, Any]]:
    """Every stack operation in the fleet's accounts that started after `since`."""
    ops: list[dict[str, Any]] = []
    for acct in fleet.accounts:
        recorded = ctx.cloud.stack_ops(acct.id)
        if recorded is None:
            break
        ops.extend(o for o in recorded if o.get("started") and o["started"] >= since - 1)
    if ctx.cloud.stack_ops_supported is False:
        ops = []
        for t in fleet.targets:
            for stack in (SHARED_STACK, LAMBDA_STACK):
                ops.extend(_ops_from_events(ctx, t, stack, since))
    return ops


def notice_delays(ops: list[dict[str, Any]], noticed: dict[tuple[str, str, str], float]) -> list[float]:
    """For each finished operation that was noticed: when noticed minus when finished."""
    out = []
    for o in ops:
        key = (o["account"], o["region"], o["stack"])
        if o.get("finished") and key in noticed:
            out.append(noticed[key] - o["finished"])
    return out


# ---------------------------------------------------------------------------------------------
# The three ways to roll out: the tool, the AWS CLI script, the floor.
# ---------------------------------------------------------------------------------------------

NOTICE_LINE = re.compile(r"^\[(\d{12})/([a-z0-9-]+)\] ✓ (shared-stack|lambda-stack): ")


@dataclass
class Outcome:
    """One rollout by one client: time, requests, when it noticed each stack, errors."""

    who: str
    n: int
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


def run_tool(ctx: Ctx, fleet: Fleet, rollout: Path, who: str, expect: Iterable[str]) -> Outcome:
    """taegis-cloudtrail deploy over the fleet; its stderr read line by line as it arrives."""
    out = Outcome(who, len(fleet.targets))
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


def run_cli_target(ctx: Ctx, t: Target, where: Path, zip_path: Path, zip_key: str) -> Proc:
    bp = ctx.blueprint
    assert bp is not None and ctx.cli_python is not None
    env = cli_env(ctx, t.account) | {
        "GUIDE_ZIP": str(zip_path), "GUIDE_ZIP_KEY": zip_key,
        "GUIDE_SHARED_TEMPLATE": str(bp.shared_template_path), "GUIDE_LAMBDA_TEMPLATE": str(bp.lambda_template_path),
        "GUIDE_SHARED_STACK": SHARED_STACK, "GUIDE_LAMBDA_STACK": LAMBDA_STACK,
        "GUIDE_FUNCTION_NAME": bp.function_name, "GUIDE_STATEMENT_ID": bp.statement_id,
        "GUIDE_ENTRY_ID": bp.entry_id, "GUIDE_PYTHON": str(ctx.cli_python), "GUIDE_CFN": ctx.cli_cfn_mode,
    }
    params = cli_params_dir(ctx, t, where)
    argv = ["bash", str(BENCH / "guide_steps.sh"), t.account.id, t.region, t.bucket, str(params)]
    return run_process(argv, env, CLI_TARGET_TIMEOUT)


def run_cli(ctx: Ctx, fleet: Fleet, who: str, parallel: bool) -> Outcome:
    """bench/guide_steps.sh for every target: one after another, or all at once."""
    bp = ctx.blueprint
    assert bp is not None
    out = Outcome(who, len(fleet.targets))
    where = ctx.fresh_dir(who.replace(" ", "-"))
    marks = ctx.cloud.marks(fleet.accounts)
    started = time.time()

    def one(t: Target) -> Proc:
        return run_cli_target(ctx, t, where, bp.zip_path, bp.zip_key)

    if parallel:
        with ThreadPoolExecutor(len(fleet.targets)) as pool:
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


class StackWatch:
    """When stacks finish, from the emulator's record (GET /_taegis/stack-operations every 20 ms)."""

    INTERVAL = 0.02

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self._lock = threading.Lock()
        self._waiting: dict[str, dict[str, Any]] = {}  # stack id -> waiter
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                accounts = {w["account"] for w in self._waiting.values()}
            for acct_id in accounts:
                try:
                    ops = self.ctx.cloud.stack_ops(acct_id) or []
                except BenchError as e:
                    log(f"stack watch: {e}")
                    continue
                now = time.time()
                with self._lock:
                    for o in ops:
                        w = self._waiting.get(o.get("stack_id"))
                        if w and o.get("finished") and o["started"] >= w["after"] - 1:
                            w.update(seen=now, finished=o["finished"], status=o.get("status"))
                            w["event"].set()
                            del self._waiting[o["stack_id"]]
            self._stop.wait(self.INTERVAL)

    def wait(self, acct_id: str, stack_id: str, after: float) -> dict[str, Any]:
        w = {"account": acct_id, "after": after, "event": threading.Event()}
        with self._lock:
            self._waiting[stack_id] = w
        if not w["event"].wait(FLOOR_STACK_TIMEOUT):
            raise BenchError(f"the floor client waited {FLOOR_STACK_TIMEOUT} s for {stack_id}")
        return w


def floor_wait(ctx: Ctx, watch: StackWatch | None, t: Target, stack_id: str, after: float) -> dict[str, Any]:
    if watch is not None:
        w = watch.wait(t.account.id, stack_id, after)
    else:  # no admin record of stack operations: DescribeStacks every 20 ms
        cfn = ctx.cloud.client(t.account, "cloudformation", t.region)
        deadline = time.time() + FLOOR_STACK_TIMEOUT
        while True:
            status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                w = {"seen": time.time(), "finished": None, "status": status}
                break
            if time.time() > deadline:
                raise BenchError(f"the floor client waited {FLOOR_STACK_TIMEOUT} s for {stack_id}")
            time.sleep(StackWatch.INTERVAL)
    if w.get("status") and w["status"] != "CREATE_COMPLETE":
        raise BenchError(f"floor: stack {stack_id} ended {w['status']}")
    return w


def floor_target(ctx: Ctx, watch: StackWatch | None, t: Target) -> list[tuple[str, dict[str, Any]]]:
    """Only the calls the guide's steps need, for one target; returns when each stack was seen done."""
    bp = ctx.blueprint
    assert bp is not None
    s3 = ctx.cloud.client(t.account, "s3", t.region)
    cfn = ctx.cloud.client(t.account, "cloudformation", t.region)
    lam = ctx.cloud.client(t.account, "lambda", t.region)
    bucket: dict[str, Any] = {"Bucket": t.zip_bucket}
    if t.region != "us-east-1":
        bucket["CreateBucketConfiguration"] = {"LocationConstraint": t.region}
    s3.create_bucket(**bucket)
    s3.put_object(Bucket=t.zip_bucket, Key=bp.zip_key, Body=bp.zip_bytes)
    seen = []
    for stack, body, params, caps in (
        (SHARED_STACK, bp.shared_template, bp.shared_params, []),
        (LAMBDA_STACK, bp.lambda_template, bp.lambda_values(t), ["CAPABILITY_IAM"]),
    ):
        after = time.time()
        stack_id = cfn.create_stack(StackName=stack, TemplateBody=body, Capabilities=caps,
                                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params])["StackId"]
        seen.append((stack, floor_wait(ctx, watch, t, stack_id, after)))
    lam.add_permission(FunctionName=bp.function_arn(t), StatementId=bp.statement_id,
                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                       SourceArn=f"arn:aws:s3:::{t.bucket}", SourceAccount=t.account.id)
    current = s3.get_bucket_notification_configuration(Bucket=t.bucket)
    ours = merge_notification.entry(bp.function_arn(t), bp.entry_id)
    s3.put_bucket_notification_configuration(Bucket=t.bucket,
                                              NotificationConfiguration=merge_notification.merge(current, ours))
    return seen


def run_floor(ctx: Ctx, fleet: Fleet) -> Outcome:
    """The limit at this parallelism: boto3, 8 targets at a time, clients and credentials ready."""
    out = Outcome("floor", len(fleet.targets))
    for t in fleet.targets:  # build the clients before the clock starts
        for service in ("s3", "cloudformation", "lambda"):
            ctx.cloud.client(t.account, service, t.region)
    ctx.cloud.stack_ops(fleet.accounts[0].id)  # learn whether the admin record exists
    watch = StackWatch(ctx) if ctx.cloud.stack_ops_supported else None
    marks = ctx.cloud.marks(fleet.accounts)
    started = time.time()
    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(lambda t: floor_target(ctx, watch, t), fleet.targets))
        out.wall = time.time() - started
    except Exception as e:  # noqa: BLE001 - reported in the figure
        out.error = f"{type(e).__name__}: {e}"
        return out
    finally:
        if watch:
            watch.close()
    out.requests = ctx.cloud.requests_since(marks)
    out.delays = [w["seen"] - w["finished"] for seen in results for _, w in seen if w.get("finished")]
    return out


# ---------------------------------------------------------------------------------------------
# The figures.
# ---------------------------------------------------------------------------------------------


@dataclass
class Size:
    """Everything measured at one number of targets."""

    n: int
    accounts: int
    regions: int
    tool: Outcome | None = None
    tool_noop: Outcome | None = None
    floor: Outcome | None = None
    cli_seq: Outcome | None = None
    cli_seq_noop: Outcome | None = None
    cli_par: Outcome | None = None
    cli_note: str | None = None
    cli_par_note: str | None = None


def guarded(what: str, fn: Callable[[], Outcome], who: str, n: int) -> Outcome:
    """Run one measurement; a failure becomes the figure's error instead of ending the run."""
    log(f"{what} ...")
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001
        log(f"{what}: FAILED {type(e).__name__}: {e}")
        if not isinstance(e, BenchError):
            traceback.print_exc()
        return Outcome(who, n, error=f"{type(e).__name__}: {e}")
    log(f"{what}: {'%.2f s' % out.wall if out.wall is not None else 'no time'}"
        + (f" — ERROR {out.error.splitlines()[0]}" if out.error else ""))
    if DUMP_DIR is not None:
        dump(what, out)
    return out


DUMP_DIR: Path | None = None  # --keep-work: every measurement's raw data is written here


def dump(what: str, out: Outcome) -> None:
    """The raw data of one measurement, for digging: requests, stack operations, the tool's lines."""
    assert DUMP_DIR is not None
    proc = out.extra.get("proc")
    doc = {"what": what, "wall": out.wall, "error": out.error, "requests": out.requests, "ops": out.ops,
           "noticed": [[*k, v] for k, v in out.noticed.items()], "delays": out.delays,
           "lines": proc.lines if proc else None}
    name = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")
    (DUMP_DIR / f"{name}.json").write_text(json.dumps(doc, indent=1, default=str))


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def fig_rollouts(ctx: Ctx, sizes: list[int]) -> list[Size]:
    """Fresh rollouts at each size, by the tool, the floor and the CLI script; then no-op re-runs."""
    results = []
    for n in sorted(sizes):
        s = Size(n, *shape(n))
        results.append(s)
        measure_tool(ctx, s)
        s.floor = guarded(f"{plural(n, 'target')}: the floor client", lambda: run_floor(ctx, make_fleet(ctx, n)),
                          "floor", n)
        measure_cli(ctx, s)
    extrapolate_cli(results)
    return results


def measure_tool(ctx: Ctx, s: Size) -> None:
    """The tool's fresh rollout, then the same command again (nothing to change)."""
    made: dict[str, Any] = {}

    def fresh() -> Outcome:
        made["fleet"] = fleet = make_fleet(ctx, s.n)
        made["rollout"] = rollout = write_rollout(ctx, fleet, ctx.small_zip, ctx.fresh_dir(f"tool-{s.n}"))
        return run_tool(ctx, fleet, rollout, "tool", expect=("created",))

    label = plural(s.n, "target")
    s.tool = guarded(f"{label}: the tool, fresh rollout", fresh, "tool", s.n)
    if s.tool.ok:
        s.tool_noop = guarded(f"{label}: the tool, re-run (nothing to change)",
                              lambda: run_tool(ctx, made["fleet"], made["rollout"], "tool re-run",
                                               expect=("unchanged",)),
                              "tool re-run", s.n)


def measure_cli(ctx: Ctx, s: Size) -> None:
    """The AWS CLI script: one target after another (then its re-run), and all targets at once."""
    n, label = s.n, plural(s.n, "target")
    cli_max = ctx.args.cli_max_targets
    if ctx.aws is None:
        s.cli_note = "skipped"
        return
    if cli_max and n > cli_max:
        s.cli_note = f"not run above {cli_max} targets (--cli-max-targets)"
        s.cli_par_note = s.cli_note if n <= 16 else "not run: all targets at once only for 16 targets or fewer"
        return
    made: dict[str, Fleet] = {}

    def one_after_another() -> Outcome:
        made["fleet"] = make_fleet(ctx, n)
        return run_cli(ctx, made["fleet"], "cli one after another", parallel=False)

    s.cli_seq = guarded(f"{label}: AWS CLI script, one target after another", one_after_another, "cli seq", n)
    if s.cli_seq.ok and n <= 16:  # above, its calls per target are those of the smaller runs
        s.cli_seq_noop = guarded(f"{label}: AWS CLI script, re-run",
                                 lambda: run_cli(ctx, made["fleet"], "cli re-run", parallel=False), "cli re-run", n)
    if n == 1:
        s.cli_par_note = "one target: the same as one after another"
    elif n <= 16:
        s.cli_par = guarded(f"{label}: AWS CLI script, all targets at once",
                            lambda: run_cli(ctx, make_fleet(ctx, n), "cli all at once", parallel=True),
                            "cli par", n)
    else:
        s.cli_par_note = "not run: all targets at once only for 16 targets or fewer"


def extrapolate_cli(sizes: list[Size]) -> None:
    """Above --cli-max-targets: n x the mean time per target of the largest measured sequential run."""
    measured = [s for s in sizes if s.cli_seq and s.cli_seq.ok and s.cli_seq.per_target]
    if not measured:
        return
    base = max(measured, key=lambda s: s.n)
    per = statistics.mean(base.cli_seq.per_target)  # type: ignore[union-attr]
    for s in sizes:
        if s.cli_seq is None and s.cli_note and s.cli_note.startswith("not run above"):
            s.cli_seq = Outcome("cli seq", s.n, wall=per * s.n,
                                note=f"extrapolated: {s.n} × {per:.1f} s per target of the {base.n}-target run")
            s.cli_note = None


@dataclass
class Startup:
    rows: list[tuple[str, list[float] | None, int | None, str | None]]  # name, times, maxrss KiB, error


def peak_rss_kib(argv: list[str], env: dict[str, str]) -> int:
    """Max RSS of one run (see run_process)."""
    return run_process(argv, env, SHORT_TIMEOUT).maxrss_kib


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
            rows.append((name, times, peak_rss_kib(argv, env), None))
        except (BenchError, subprocess.TimeoutExpired, OSError) as e:
            rows.append((name, None, None, str(e)))
    return Startup(rows)


@dataclass
class BigZip:
    tool_first: Outcome | None = None
    tool_again: Outcome | None = None
    cli_first: Outcome | None = None
    cli_again: Outcome | None = None
    skipped: str | None = None


def uploaded_bytes(out: Outcome) -> int:
    doc = out.extra.get("doc") or {}
    total = 0
    for t in doc.get("targets", []):
        for step in t.get("steps", []):
            m = re.search(r"\((\d+) bytes\)", step.get("detail") or "")
            if step.get("name") == "upload-lambda-zip" and step.get("status") == "done" and m:
                total += int(m.group(1))
    return total


def fig_big_zip(ctx: Ctx) -> BigZip:
    """A 40 MB zip to 16 regions: the tool twice (the second must upload nothing) vs `aws s3 cp` twice."""
    res = BigZip()
    where = ctx.fresh_dir("big-zip")
    big = where / "taegis-lambda-amd64.zip"
    make_zip(big, BIG_ZIP_BYTES)
    size = big.stat().st_size
    regions = REGIONS[:16]

    def tool_runs() -> Outcome:
        fleet = make_fleet(ctx, 16, regions=regions)
        rollout = write_rollout(ctx, fleet, big, where)
        first = run_tool(ctx, fleet, rollout, "tool", expect=("created",))
        first.extra["bytes"] = uploaded_bytes(first)
        if first.ok:
            res.tool_again = guarded("40 MB zip: the tool again, unchanged",
                                     lambda: with_bytes(run_tool(ctx, fleet, rollout, "tool again", expect=("unchanged",))),
                                     "tool again", 16)
        return first

    def with_bytes(out: Outcome) -> Outcome:
        out.extra["bytes"] = uploaded_bytes(out)
        return out

    res.tool_first = guarded("40 MB zip: the tool, 16 regions", tool_runs, "tool", 16)
    if ctx.aws is None:
        res.skipped = "skipped"
        return res
    fleet = make_fleet(ctx, 16, regions=regions)
    for t in fleet.targets:  # the buckets exist: only the copies are timed
        ctx.cloud.seed_bucket(t.account, t.zip_bucket, t.region)

    def cp_loop(who: str) -> Outcome:
        out = Outcome(who, 16)
        marks = ctx.cloud.marks(fleet.accounts)
        started = time.time()
        for t in fleet.targets:
            p = run_process([str(ctx.aws), "s3", "cp", "--only-show-errors", "--region", t.region, str(big),
                             f"s3://{t.zip_bucket}/taegis-lambda-amd64.zip"], cli_env(ctx, t.account), CLI_TARGET_TIMEOUT)
            if p.code != 0:
                out.error = p.why()
                return out
        out.wall = time.time() - started
        out.requests = ctx.cloud.requests_since(marks)
        out.extra["bytes"] = size * len(fleet.targets)
        return out

    res.cli_first = guarded("40 MB zip: aws s3 cp to 16 regions", lambda: cp_loop("cli"), "cli", 16)
    res.cli_again = guarded("40 MB zip: aws s3 cp to 16 regions, again", lambda: cp_loop("cli again"), "cli again", 16)
    return res


# ---------------------------------------------------------------------------------------------
# The report.
# ---------------------------------------------------------------------------------------------


def secs(x: float | None) -> str:
    if x is None:
        return "—"
    if abs(x) < 0.1:
        return f"{x * 1000:.1f} ms"
    return f"{x * 1000:.0f} ms" if abs(x) < 1 else f"{x:.2f} s" if abs(x) < 100 else f"{x:.0f} s"


def mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.1f} MiB"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"{a / b:.2f}×"


def cell(out: Outcome | None, value: Callable[[Outcome], str], note: str | None = None) -> str:
    if out is None:
        return note or "—"
    if out.error:
        return "error (see below)"
    text = value(out)
    return f"{text} ({out.note})" if out.note else text


def delay_stats(delays: list[float]) -> tuple[float, float] | None:
    return (statistics.median(delays), max(delays)) if delays else None


def fmt_delays(out: Outcome | None, note: str | None = None) -> str:
    if out is None:
        return note or "—"
    if out.error:
        return "error (see below)"
    st = delay_stats(out.delays)
    return f"median {secs(st[0])}, max {secs(st[1])} ({len(out.delays)} stacks)" if st else "no stack matched"


def per_target(out: Outcome | None, note: str | None = None) -> str:
    if out is None:
        return note or "—"
    if out.error:
        return "error (see below)"
    if out.note:
        return "—"
    total = len(out.requests) / out.n
    writes = sum(map(mutates, out.requests)) / out.n
    return f"{total:.1f} ({writes:.1f} mutating)"


def by_action(requests: list[dict[str, Any]], n: int) -> str:
    counts = Counter(r.get("action") or "?" for r in requests)
    return ", ".join(f"{a} {c / n:g}" for a, c in counts.most_common())


def stack_read_rates(out: Outcome) -> tuple[float, float, float] | None:
    """DescribeStackEvents + DescribeStacks of the stack's account and region: per second while each
    operation ran (median over operations), per second from its start until the tool reported it (all
    operations together), and per operation from its start until reported (mean)."""
    if not out.ops or not out.requests or "time" not in out.requests[0]:
        return None
    reads: dict[tuple[str, str], list[float]] = {}
    for r in out.requests:
        if r.get("action") in STACK_READS:
            reads.setdefault((r.get("account"), r.get("region")), []).append(r["time"])
    during_rates, per_op, followed, followed_seconds = [], [], 0, 0.0
    for o in out.ops:
        noticed = out.noticed.get((o["account"], o["region"], o["stack"]))
        if not o.get("finished") or noticed is None:
            continue
        times = reads.get((o["account"], o["region"]), [])
        during = sum(1 for t in times if o["started"] <= t <= o["finished"])
        until = sum(1 for t in times if o["started"] <= t <= noticed)
        during_rates.append(during / max(o["finished"] - o["started"], 1e-3))
        per_op.append(until)
        followed += until
        followed_seconds += max(noticed - o["started"], 1e-3)
    if not per_op:
        return None
    return statistics.median(during_rates), followed / followed_seconds, statistics.mean(per_op)


def machine() -> str:
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem} memory, {platform.system()} {platform.release()}"


def version_of(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=SHORT_TIMEOUT, check=False)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


@dataclass
class Goal:
    name: str
    measured: str
    met: bool | None  # None: not measured


def goals(sizes: list[Size], startup: Startup | None, bigzip: BigZip | None) -> list[Goal]:
    out: list[Goal] = []
    by_n = {s.n: s for s in sizes}
    for n in sorted(set([1, 4, 16, 200]) | set(by_n)):
        limit = 1.10 if n <= 16 else 1.30
        s = by_n.get(n)
        name = f"{plural(n, 'target')}: the tool within {limit:.2f}× of the floor"
        if s and s.tool and s.tool.ok and s.floor and s.floor.ok:
            r = s.tool.wall / s.floor.wall  # type: ignore[operator]
            out.append(Goal(name, f"{r:.2f}× ({secs(s.tool.wall)} vs {secs(s.floor.wall)})", r <= limit))
        elif n in (1, 4, 16, 200):
            out.append(Goal(name, "not measured" + ("" if s else " (not in --targets)"), None))
    delays = [d for s in sizes if s.tool and s.tool.ok for d in s.tool.delays]
    st = delay_stats(delays)
    out.append(Goal("notice delay (every fresh rollout): median < 0.6 s", f"{secs(st[0])} ({len(delays)} stacks)" if st else "not measured",
                    st[0] < 0.6 if st else None))
    out.append(Goal("notice delay (every fresh rollout): max < 1.2 s", secs(st[1]) if st else "not measured", st[1] < 1.2 if st else None))
    for s in sizes:
        o = s.tool_noop
        if o and o.ok:
            writes = sum(map(mutates, o.requests))
            calls = len(o.requests) / o.n
            out.append(Goal(f"no-op re-run, {plural(s.n, 'target')}: 0 mutating calls", str(writes), writes == 0))
            out.append(Goal(f"no-op re-run, {plural(s.n, 'target')}: at most 12 calls per target", f"{calls:.1f}",
                            calls <= 12))
    version = next((r for r in (startup.rows if startup else []) if r[0] == "taegis-cloudtrail --version"), None)
    if version and version[1]:
        med = statistics.median(version[1])
        out.append(Goal("--version under 10 ms", secs(med), med < 0.010))
    else:
        out.append(Goal("--version under 10 ms", "not measured", None))
    big = by_n.get(200)
    if big and big.tool and big.tool.ok:
        out.append(Goal("peak memory at 200 targets under 100 MiB", mib(big.tool.maxrss_kib),
                        (big.tool.maxrss_kib or 0) < 100 * 1024))
    else:
        out.append(Goal("peak memory at 200 targets under 100 MiB", "not measured", None))
    again = bigzip.tool_again if bigzip else None
    if again and again.ok:
        puts = sum(1 for r in again.requests if r.get("action") in UPLOAD_ACTIONS)
        out.append(Goal("40 MB zip, unchanged re-run: 0 bytes uploaded",
                        f"{again.extra.get('bytes', 0)} bytes, {puts} upload calls",
                        puts == 0 and again.extra.get("bytes", 0) == 0))
    else:
        out.append(Goal("40 MB zip, unchanged re-run: 0 bytes uploaded", "not measured", None))
    return out


def report(ctx: Ctx, sizes: list[Size], startup: Startup | None, bigzip: BigZip | None, elapsed: float) -> str:
    a = ctx.args
    lines: list[str] = []
    w = lines.append
    debug = "/debug/" in str(ctx.binary)
    w("# taegis-cloudtrail benchmarks\n")
    w(f"- Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; the run took {secs(elapsed)}.")
    w(f"- Machine: {machine()}; load average {LOAD_AT_START[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at "
      "the end (anything else running skews the times).")
    w(f"- Tool: `{ctx.binary.relative_to(REPO) if ctx.binary.is_relative_to(REPO) else ctx.binary}` "
      f"({version_of([str(ctx.binary), '--version'])}{', a debug build' if debug else ''}), at its own pace "
      f"(its default poll interval; no `TAEGIS_POLL_INTERVAL`).")
    if ctx.aws:
        how = ("`aws cloudformation deploy`" if ctx.cli_cfn_mode == "deploy"
               else "`create-stack`/`update-stack` + `aws cloudformation wait`")
        w(f"- Instead: {version_of([str(ctx.aws), '--version'])}, running `bench/guide_steps.sh` per target ({how}).")
    else:
        w(f"- Instead: {ctx.cli_skipped}.")
    w("- The limit: `bench/bench.py`'s floor client, boto3 in 8 threads (the tool's `--concurrency 8`) making "
      "only the calls the steps need, with credentials and clients ready before the clock starts, and "
      "learning when each stack finished from the emulator's record, polled every 20 ms (no AWS call).")
    w("- AWS: the emulator of `tests/emulator` (moto 5.2.5 + extensions), started for this run on a free port; "
      "every measurement in fresh accounts (sts:AssumeRole into `arn:aws:iam::<id>:role/x`), each target with "
      "its CloudTrail bucket `trail-<account>-<region>`; the tool reaches each account through `role_arn`.")
    w(f"- Scale: every AWS call of those accounts waits {a.latency_ms} ms; each stack operation takes its "
      f"resources × {a.resource_seconds:g} s (the shared stack has 1 resource, the Lambda stack 3). AWS takes "
      f"roughly 10–60 s per resource, so stacks run about {scale_words(a.resource_seconds)} of their real time "
      f"here, while call latency, poll intervals, waiter delays and process start-up keep their real size and "
      f"weigh that much more.")
    w(f"- Sizes: " + ", ".join(f"{s.n} = {s.accounts} account{'s' if s.accounts > 1 else ''} × {s.regions} "
                                f"region{'s' if s.regions > 1 else ''}" for s in sizes) + ".")
    w(f"- Reproduce: `{reproduce_command(a)}`" + (" (smoke: tiny and quick, not the figures to quote)" if a.smoke else ""))
    w("")

    w("## Targets\n")
    w("| target | measured | |")
    w("|---|---|---|")
    for g in goals(sizes, startup, bigzip):
        w(f"| {g.name} | {g.measured} | {'met' if g.met else 'missed' if g.met is False else '—'} |")
    w("")

    if sizes:
        report_rollouts(w, sizes)
    else:
        w("## Rollouts\n\nskipped: --only\n")

    w("## Start-up and peak memory\n")
    w("Median wall time of 20 runs (through Python's subprocess, which adds about a millisecond). Peak "
      "memory, here and everywhere in this report: the max RSS of the process (and of what it waits for) "
      "as GNU time tells it (`/usr/bin/time -f %M`)" + ("" if GNU_TIME.exists() else
      ": absent on this machine, so wait4's figure, which counts this Python script's own memory too") + ".\n")
    w("| figure | this tool | instead: AWS CLI | the limit |")
    w("|---|---|---|---|")
    rows = {r[0]: r for r in (startup.rows if startup else [])}

    def start_cell(name: str, kind: str) -> str:
        r = rows.get(name)
        if r is None:
            return "skipped" if startup else "—"
        if r[3]:
            return f"error: {r[3]}"
        return secs(statistics.median(r[1])) if kind == "time" else mib(r[2])  # type: ignore[arg-type]

    w(f"| `--version`, time | {start_cell('taegis-cloudtrail --version', 'time')} | {start_cell('aws --version', 'time')} | 10 ms (target) |")
    w(f"| `--help`, time | {start_cell('taegis-cloudtrail --help', 'time')} | — | — |")
    w(f"| `--version`, peak memory | {start_cell('taegis-cloudtrail --version', 'rss')} | {start_cell('aws --version', 'rss')} | — |")
    for s in sizes:
        cli = cell(s.cli_seq, lambda o: f"{mib(o.maxrss_kib)} (the largest `aws` process)", s.cli_note)
        w(f"| deploy of {plural(s.n, 'target')}, peak memory | {cell(s.tool, lambda o: mib(o.maxrss_kib))} | "
          f"{'—' if s.cli_seq and s.cli_seq.note else cli} | — |")
    w("")

    w("## A 40 MB zip to 16 regions\n")
    if bigzip is None:
        why = "--smoke" if a.smoke else "--skip-big-zip" if a.flags["skip_big_zip"] else "--only"
        w(f"skipped: {why}\n")
    else:
        w("1 account × 16 regions. The tool: a full deploy, then the same command again (nothing changed: "
          "it must upload 0 bytes). Instead: `aws s3 cp` of the zip to each region's bucket in a loop (the "
          "buckets made beforehand, only the copies timed), twice. Uploads: PutObject, UploadPart and the "
          "multipart calls.\n")
        w("| figure | this tool | instead: `aws s3 cp` in a loop |")
        w("|---|---|---|")

        def up(o: Outcome | None, note: str | None = None) -> str:
            if o is None:
                return note or "—"
            if o.error:
                return "error (see below)"
            n_up = sum(1 for r in o.requests if r.get("action") in UPLOAD_ACTIONS)
            return f"{secs(o.wall)}; {o.extra.get('bytes', 0) / 1e6:.0f} MB in {n_up} upload calls"

        w(f"| first run | {up(bigzip.tool_first)} (whole deploy) | {up(bigzip.cli_first, bigzip.skipped)} |")
        w(f"| again, unchanged | {up(bigzip.tool_again)} | {up(bigzip.cli_again, bigzip.skipped)} |")
        w(f"| peak memory, first run | {cell(bigzip.tool_first, lambda o: mib(o.maxrss_kib))} | — |")
        w("")

    problems = collect_errors(sizes, bigzip)
    # One target after another, nothing competes for the CPU: a target under 30 s never met the waiter's sleep.
    cli_runs = [s.cli_seq for s in sizes if s.cli_seq and s.cli_seq.ok and s.cli_seq.per_target]
    if cli_runs and max(max(o.per_target) for o in cli_runs) < 30:
        ctx.cloud.note("At this scale every stack had finished before the AWS CLI's waiter first looked (each "
                       "`aws` command takes a good half second to start), so its 30 s polling never showed: "
                       "on AWS it adds 0–30 s (15 s on average) per stack, twice per target.")
    if ctx.cloud.notes or problems:
        w("## Notes\n")
        for note in ctx.cloud.notes:
            w(f"- {note}")
        for who, err in problems:
            w(f"- **Error, {who}:**\n\n```\n{err.strip()[:3000]}\n```")
        w("")
    return "\n".join(lines) + "\n"


def report_rollouts(w: Callable[[str], None], sizes: list[Size]) -> None:
    """The sections of the rollout figures: wall time, notice delay, requests, stack reads."""
    w("## Wall time of a fresh rollout\n")
    w("From start to exit, every step of the guide for every target (zip bucket, zip, shared stack, "
      "Lambda stack, invoke permission, bucket notification).\n")
    w("| targets | this tool | instead: AWS CLI script, one target after another | instead: AWS CLI script, "
      "all targets at once | the limit: floor client | tool ÷ limit | instead (one after another) ÷ tool |")
    w("|---|---|---|---|---|---|---|")

    def wall(o: Outcome | None) -> float | None:
        return o.wall if o and o.ok else None

    for s in sizes:
        w(f"| {s.n} | {cell(s.tool, lambda o: secs(o.wall))} | {cell(s.cli_seq, lambda o: secs(o.wall), s.cli_note)} | "
          f"{cell(s.cli_par, lambda o: secs(o.wall), s.cli_par_note or s.cli_note)} | {cell(s.floor, lambda o: secs(o.wall))} | "
          f"{ratio(wall(s.tool), wall(s.floor))} | {ratio(wall(s.cli_seq), wall(s.tool))} |")
    w("")

    w("## Notice delay: a stack finishing → the client reporting it\n")
    w("Finished: the emulator's record of the operation. The tool: the arrival of its stderr line "
      "`[ACCOUNT/REGION] ✓ shared-stack|lambda-stack: ...`, read line by line as it comes. The AWS CLI: "
      "the exit of the command that waits for the stack. The floor: when its 20 ms poll saw it.\n")
    w("| targets | this tool | instead: AWS CLI script, one after another | instead: all at once | the limit: floor client |")
    w("|---|---|---|---|---|")
    for s in sizes:
        if s.cli_seq and s.cli_seq.note:  # an extrapolated time: nothing was noticed
            cli_seq = fmt_delays(None, "not run (time extrapolated)")
        else:
            cli_seq = fmt_delays(s.cli_seq, s.cli_note)
        w(f"| {s.n} | {fmt_delays(s.tool)} | {cli_seq} | {fmt_delays(s.cli_par, s.cli_par_note or s.cli_note)} | "
          f"{fmt_delays(s.floor)} |")
    w("")

    w("## AWS requests per target\n")
    w("From the emulator's request log of the accounts involved (the tool's AssumeRole calls are in the "
      "caller's account and are counted; the CLI script and the floor start with each account's "
      "credentials). Mutating: anything but Get/List/Describe/Head/AssumeRole (`tests/it/harness.rs`), "
      "refused attempts included.\n")
    w("| figure | targets | this tool | instead: AWS CLI script | the limit: floor client |")
    w("|---|---|---|---|---|")
    for s in sizes:
        w(f"| fresh rollout | {s.n} | {per_target(s.tool)} | {per_target(s.cli_seq, s.cli_note)} | {per_target(s.floor)} |")
        cli_rerun_note = s.cli_note or ("not run above 16 targets" if s.n > 16 else None)
        w(f"| re-run, nothing to change | {s.n} | {per_target(s.tool_noop)} | {per_target(s.cli_seq_noop, cli_rerun_note)} | — |")
    w("")
    smallest = sizes[0] if sizes else None
    if smallest:
        w(f"Calls per target by action, {smallest.n} target{'s' if smallest.n > 1 else ''}:\n")
        for label, o in (("this tool, fresh", smallest.tool), ("this tool, re-run", smallest.tool_noop),
                         ("AWS CLI script, fresh", smallest.cli_seq), ("AWS CLI script, re-run", smallest.cli_seq_noop),
                         ("floor client", smallest.floor)):
            if o and o.ok and o.requests:
                w(f"- {label}: {by_action(o.requests, o.n)}")
        w("")

    w("## Stack reads while stacks run (this tool)\n")
    w("DescribeStackEvents + DescribeStacks in the stack's account and region (request log times): per "
      "second while the operation ran (emulator times; operations are short at this scale, so this is "
      "coarse), per second from its start until the tool reported it, and in all per operation.\n")
    w("| targets | per second while running, median over stacks | per second from start to report, all stacks "
      "| reads per stack operation (mean) |")
    w("|---|---|---|---|")
    for s in sizes:
        rates = stack_read_rates(s.tool) if s.tool and s.tool.ok else None
        if rates:
            w(f"| {s.n} | {rates[0]:.2f} | {rates[1]:.2f} | {rates[2]:.1f} |")
        else:
            w(f"| {s.n} | — | — | — |")
    w("")


def collect_errors(sizes: list[Size], bigzip: BigZip | None) -> list[tuple[str, str]]:
    out = []
    for s in sizes:
        for label, o in (("the tool", s.tool), ("the tool's re-run", s.tool_noop), ("the floor", s.floor),
                         ("the CLI script", s.cli_seq), ("the CLI script's re-run", s.cli_seq_noop),
                         ("the CLI script, all at once", s.cli_par)):
            if o and o.error:
                out.append((f"{label}, {s.n} targets", o.error))
    if bigzip:
        for label, o in (("40 MB, the tool", bigzip.tool_first), ("40 MB, the tool again", bigzip.tool_again),
                         ("40 MB, aws s3 cp", bigzip.cli_first), ("40 MB, aws s3 cp again", bigzip.cli_again)):
            if o and o.error:
                out.append((label, o.error))
    return out


def reproduce_command(a: argparse.Namespace) -> str:
    parts = ["bench/run"]
    if a.smoke:
        parts.append("--smoke")
    parts += ["--binary", a.binary_display, "--targets", ",".join(map(str, a.targets)),
              "--latency-ms", str(a.latency_ms), "--resource-seconds", f"{a.resource_seconds:g}"]
    if a.cli_max_targets:
        parts += ["--cli-max-targets", str(a.cli_max_targets)]
    if a.no_cli:
        parts.append("--no-cli")
    if a.only != {"rollouts", "startup", "big-zip"}:
        parts += ["--only", ",".join(sorted(a.only))]
    if a.flags["skip_big_zip"]:
        parts.append("--skip-big-zip")
    if a.flags["skip_startup"]:
        parts.append("--skip-startup")
    return shlex.join(parts)


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def scale_words(resource_seconds: float) -> str:
    """How much faster than AWS (10-60 s per resource) the emulator's stacks run, in words."""
    if resource_seconds <= 0:
        return "none (they finish at once)"
    fast, slow = 10 / resource_seconds, 60 / resource_seconds
    return f"1/{fast:.0f} to 1/{slow:.0f}" if fast >= 1.5 else "the same as"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="The figures and what they mean are described at the top of the file written.")
    p.add_argument("--smoke", action="store_true",
                   help="tiny and quick: 1 and 2 targets, no 200-target figure, no 40 MB zip; "
                        "writes to a temporary file unless --out is given")
    p.add_argument("--binary", help="the tool (default target/release/taegis-cloudtrail; --smoke: target/debug/)")
    p.add_argument("--out", help="the Markdown file written (default BENCHMARKS.md at the repository's root)")
    p.add_argument("--latency-ms", type=int, default=30, help="added to every AWS call (default 30)")
    p.add_argument("--resource-seconds", type=float, default=None,
                   help="time per resource of a stack operation (default 2, about a tenth of AWS's 10-60 s, "
                        "so that stacks take 2-6 s; --smoke: 0.05)")
    p.add_argument("--targets", help="comma-separated target counts (default 1,4,16,200; --smoke: 1,2)")
    p.add_argument("--cli-max-targets", type=int, default=0,
                   help="run the AWS CLI script for at most this many targets; above, its one-after-another "
                        "time is extrapolated from the largest run (default 0: no limit; 200 targets one "
                        "after another take about half an hour)")
    p.add_argument("--no-cli", action="store_true", help="leave out the AWS CLI comparison")
    p.add_argument("--skip-big-zip", action="store_true", help="leave out the 40 MB zip figure")
    p.add_argument("--skip-startup", action="store_true", help="leave out the --version/--help figure")
    p.add_argument("--only", help="comma-separated figures to run: rollouts, startup, big-zip (default: all)")
    p.add_argument("--keep-work", action="store_true",
                   help="keep the work directory: logs, inputs, and each measurement's raw data in raw/")
    a = p.parse_args(argv)
    default_binary = "target/debug/taegis-cloudtrail" if a.smoke else "target/release/taegis-cloudtrail"
    a.binary_display = a.binary or default_binary
    a.binary = Path(a.binary_display)
    if not a.binary.is_absolute():
        a.binary = (Path.cwd() / a.binary).resolve()
    try:
        a.targets = [int(x) for x in (a.targets or ("1,2" if a.smoke else "1,4,16,200")).split(",") if x.strip()]
    except ValueError:
        p.error("--targets: comma-separated whole numbers, such as 1,4,16,200")
    if not a.targets or min(a.targets) < 1:
        p.error("--targets: at least one count, each 1 or more")
    a.flags = {"skip_big_zip": a.skip_big_zip, "skip_startup": a.skip_startup}  # as given, for the report
    if a.smoke:
        a.targets = [n for n in a.targets if n <= 16] or [1]
        a.skip_big_zip = True
    figures = {"rollouts", "startup", "big-zip"}
    a.only = set((a.only or ",".join(figures)).split(",")) - {""}
    if a.only - figures:
        p.error(f"--only: one or more of {', '.join(sorted(figures))}")
    if "big-zip" not in a.only:
        a.skip_big_zip = True
    if "startup" not in a.only:
        a.skip_startup = True
    if a.resource_seconds is None:
        a.resource_seconds = 0.05 if a.smoke else 2.0
    if a.latency_ms < 0 or a.resource_seconds < 0:
        p.error("--latency-ms and --resource-seconds must not be negative")
    return a


def find_cli(a: argparse.Namespace) -> tuple[Path | None, Path | None, str | None]:
    """The AWS CLI and its Python, or why the comparison is skipped."""
    aws, python = CLI_VENV / "bin/aws", CLI_VENV / "bin/python"
    if a.no_cli:
        return None, None, "skipped: --no-cli"
    if not (aws.exists() and python.exists()):
        if not a.smoke:
            raise BenchError(f"the AWS CLI's venv is missing at {CLI_VENV}: run bench/run (it makes it), "
                             "or pass --no-cli")
        why = f"skipped: the AWS CLI's venv is absent ({CLI_VENV}; bench/run makes it)"
        log(why)
        return None, None, why
    return aws, python, None


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
    work = Path(tempfile.mkdtemp(prefix="taegis-bench-"))
    (work / "home").mkdir()
    emu = Emulator(sys.executable, work)
    try:
        log(f"work directory {work}")
        if a.keep_work:
            global DUMP_DIR
            DUMP_DIR = work / "raw"
            DUMP_DIR.mkdir()
        emu.start()
        log(f"emulator at {emu.url}")
        aws_config = work / "aws-config"
        aws_config.write_text("[default]\ns3 =\n    addressing_style = path\n")
        credentials = work / "credentials.txt"
        credentials.write_text("client_id=bench-client\nclient_secret=bench-secret-do-not-print\n")
        small_zip = work / "taegis-lambda-amd64.zip"
        make_zip(small_zip)
        ctx = Ctx(a, work, emu, Cloud(emu, a.latency_ms, a.resource_seconds), a.binary, credentials,
                  small_zip, aws, cli_python, aws_config)
        ctx.cli_skipped = cli_skipped
        ctx.blueprint = learn_blueprint(ctx)
        if aws:
            ctx.cli_cfn_mode = probe_change_set_exports(ctx)
            log(f"the CLI script deploys stacks with: {ctx.cli_cfn_mode}")
        sizes = fig_rollouts(ctx, a.targets) if "rollouts" in a.only else []
        startup = None if a.skip_startup else fig_startup(ctx)
        bigzip = None if a.skip_big_zip else fig_big_zip(ctx)
        text = report(ctx, sizes, startup, bigzip, time.time() - T0)
        out_path.write_text(text)
        log(f"wrote {out_path}")
        errors = collect_errors(sizes, bigzip)
        if errors:
            log(f"{len(errors)} measurement(s) failed; see the Notes of {out_path}")
            return 1
        return 0
    finally:
        emu.stop()
        _kill_children()
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
