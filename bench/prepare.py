"""What every measurement starts from: the run's context, fresh fleets of targets paced like AWS,
the rollout file, the zips, and the templates and parameters the tool would send (learnt from
the tool itself)."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud import REGIONS, Account, Cloud, Emulator, Fleet, Pace, Target, shape
from procs import BenchError, log, run_process

SHARED_STACK = "taegis-shared-resources"
LAMBDA_STACK = "taegis-cloudtrail"
STEP_STACKS = {"shared-stack": SHARED_STACK, "lambda-stack": LAMBDA_STACK}
TAEGIS_REGION = "foxtrot"
CONCURRENCY = 8
SHORT_TIMEOUT = 60


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
    deadline: float = 0.0  # epoch seconds after which optional figures are left out

    def fresh_dir(self, name: str) -> Path:
        self.counter += 1
        d = self.work / f"{self.counter:03d}-{name}"
        d.mkdir(parents=True)
        return d

    def over_budget(self) -> bool:
        return bool(self.deadline) and time.time() > self.deadline


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


def fleet_regions(n: int) -> list[str]:
    return REGIONS[:shape(n)[1]]


def slow_regions_for(n: int, fraction: float) -> tuple[str, ...]:
    """A tenth of the targets slow: one region of ten (only where the regions make that exact)."""
    regions = fleet_regions(n)
    k = round(len(regions) * fraction)
    if fraction <= 0 or k == 0 or abs(k / len(regions) - fraction) > 1e-9:
        return ()
    return tuple(regions[-k:])


def make_fleet(ctx: Ctx, n: int, pace: Pace | None, seed_base: int = 0, regions: list[str] | None = None) -> Fleet:
    """n fresh targets, each with its CloudTrail bucket; accounts paced like AWS.  Account k of a
    fleet gets seed `seed_base + k`, so two fleets with the same seed base see the same resource
    times, target for target."""
    n_accounts, n_regions = shape(n) if regions is None else (1, len(regions))
    regions = regions or REGIONS[:n_regions]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        made = list(pool.map(lambda _: ctx.cloud.account(), range(n_accounts + 1)))
    caller, accounts = made[0], made[1:]
    targets = [Target(a, r, f"trail-{a.id}-{r}") for a in accounts for r in regions]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda t: ctx.cloud.seed_bucket(t.account, t.bucket, t.region), targets))
    fleet = Fleet(caller, accounts, regions, targets, pace)
    if pace is not None:
        fleet.slow = {t.key for t in targets if t.region in pace.slow_regions}
        for k, a in enumerate([caller] + accounts):
            ctx.cloud.behave(a, pace, seed_base + k)
    return fleet


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
    fleet = make_fleet(ctx, 1, None)
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


def requests_snapshot(ctx: Ctx, fleet: Fleet) -> dict[str, int]:
    return ctx.cloud.marks(fleet.all_accounts)


def stack_operations(ctx: Ctx, fleet: Fleet, since: float) -> list[dict[str, Any]]:
    """Every stack operation in the fleet's accounts that started after `since`."""
    ops: list[dict[str, Any]] = []
    for acct in fleet.accounts:
        ops.extend(ctx.cloud.stack_ops(acct.id, since))
    return ops
