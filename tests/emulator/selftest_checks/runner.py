"""The runner: starts the emulator, runs CHECKS twice in parallel (each in a fresh account), then
SERIAL_CHECKS alone, and prints one line per check and the counts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from . import common
from .common import HERE, Account
from .basics import (
    check_admin_concurrency_override,
    check_custom_resource_waits_for_cfnresponse,
    check_lambda_account_settings_and_concurrency,
    check_novalue_noecho_and_noop_update,
    check_request_log,
    check_s3_notification_refusals,
    check_s3_notification_xml_and_eventbridge,
    check_secret_model_exports_imports_and_delete,
)
from .behaviour import (
    check_async_stack_operations,
    check_drop_latency_and_isolation,
    check_injected_failures_and_rollback,
    check_lambda_code_bucket_region_and_existing_log_group,
    check_throttle_and_server_errors,
)
from .regions import (
    check_enabled_region_end_to_end,
    check_reset_clears_enabled_regions,
    check_unknown_regions_refused,
)
from .iam import (
    check_iam_enforcement,
    check_iam_enforcement_missing_key,
    check_iam_enforcement_rfc3986_form_body,
    check_iam_enforcement_s3_action_names,
    check_reset_clears_iam_enforcement,
)
from .s3 import (
    check_bucket_owner_policy_and_region,
    check_new_buckets_private_and_encrypted,
    check_notification_destinations,
)
from .cloudformation import (
    check_capabilities,
    check_inline_limit_and_template_url,
    check_queue_and_topic_policy_resources,
    check_stack_event_and_export_pages,
    check_template_url_async,
)
from .aws_ways import (
    check_cross_account_topic,
    check_delete_failures,
    check_disabled_opt_in_region,
    check_empty_log_pages,
    check_strict_roles,
    check_targeted_faults,
    check_web_identity_and_profiles,
)
from .timing import check_lambda_busy, check_notification_stale, check_permission_delay
from .aws_pace import (
    check_rate_limits_token_bucket,
    check_stack_timing_draws_bundled_templates,
    check_stack_timing_failure_and_long_poll,
    check_stack_timing_parallel_resources,
)
from .organizations import (
    check_coverage_scenario,
    check_organization_accounts,
    check_organization_trail_shadows,
    check_reset_clears_organizations,
    check_trail_delivery_layouts,
)
from .account_regions import (
    check_account_list_regions,
    check_account_regions_of_members,
    check_reset_clears_region_opt_marks,
)
from .bench_aids import (
    check_concurrent_bundled_deploys,
    check_request_log_timing,
    check_reset_clears_stack_operations,
    check_resource_seconds_and_stack_operations,
)


CHECKS = [
    check_secret_model_exports_imports_and_delete,
    check_lambda_account_settings_and_concurrency,
    check_admin_concurrency_override,
    check_s3_notification_xml_and_eventbridge,
    check_s3_notification_refusals,
    check_novalue_noecho_and_noop_update,
    check_custom_resource_waits_for_cfnresponse,
    check_request_log,
    check_async_stack_operations,
    check_injected_failures_and_rollback,
    check_throttle_and_server_errors,
    check_drop_latency_and_isolation,
    check_lambda_code_bucket_region_and_existing_log_group,
    check_unknown_regions_refused,
    check_enabled_region_end_to_end,
    check_inline_limit_and_template_url,
    check_template_url_async,
    check_notification_destinations,
    check_bucket_owner_policy_and_region,
    check_new_buckets_private_and_encrypted,
    check_capabilities,
    check_stack_event_and_export_pages,
    check_queue_and_topic_policy_resources,
    check_web_identity_and_profiles,
    check_targeted_faults,
    check_permission_delay,
    check_lambda_busy,
    check_delete_failures,
    check_empty_log_pages,
    check_disabled_opt_in_region,
    check_strict_roles,
    check_cross_account_topic,
    check_iam_enforcement,
]
# Run alone, after the others: the reset_* checks reset the whole emulator.
SERIAL_CHECKS = [
    # The checks that measure time (a stack's pace, a token bucket, a stale read, concurrent
    # deploys): alone, so that another check's load never reads as the emulator's pace.
    check_notification_stale,
    check_concurrent_bundled_deploys,
    check_request_log_timing,
    check_stack_timing_parallel_resources,
    check_stack_timing_draws_bundled_templates,
    check_stack_timing_failure_and_long_poll,
    check_rate_limits_token_bucket,
    check_resource_seconds_and_stack_operations,
    # (u) alone: they add load that the timing checks of the all-at-once round do not tolerate.
    check_iam_enforcement_rfc3986_form_body,
    check_iam_enforcement_s3_action_names,
    check_iam_enforcement_missing_key,
    # (ad-af) alone too (five accounts each): the all-at-once round stays as it was.
    check_organization_accounts,
    check_organization_trail_shadows,
    check_trail_delivery_layouts,
    check_coverage_scenario,
    # (ag) alone as well (five accounts, a reading in every region).
    check_account_list_regions,
    check_account_regions_of_members,
    check_reset_clears_enabled_regions,
    check_reset_clears_stack_operations,
    check_reset_clears_iam_enforcement,
    check_reset_clears_organizations,
    check_reset_clears_region_opt_marks,
]


# ------------------------------------------------------------------------------------ runner


def start_server() -> subprocess.Popen:  # type: ignore[type-arg]
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "taegis_moto.py"), "--host", "127.0.0.1", "--port", "0", "--parent-pid", str(os.getpid())],
        stdout=subprocess.PIPE,
        stderr=open(os.environ.get("TAEGIS_SELFTEST_SERVER_LOG", os.devnull), "w"),
        text=True,
    )
    port = None
    deadline = time.time() + 60
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"emulator exited early with {proc.wait()}")
        if line.startswith("port "):
            port = int(line.split()[1])
        if line.strip() == "ready":
            break
    else:
        proc.kill()
        raise SystemExit("emulator not ready within 60 s")
    common.ENDPOINT = f"http://127.0.0.1:{port}"
    return proc


def main() -> int:
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(var, None)
    os.environ.update(
        {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
    )
    started = time.time()
    proc = start_server()
    print(f"emulator at {common.ENDPOINT} (pid {proc.pid}) ready in {time.time() - started:.1f} s", flush=True)
    results: list[tuple[str, str | None]] = []
    lock = threading.Lock()

    def run(check) -> None:  # type: ignore[no-untyped-def]
        t0 = time.time()
        try:
            check(Account())
            error = None
        except Exception:
            error = traceback.format_exc()
        with lock:
            results.append((check.__name__, error))
            print(f"{'ok  ' if error is None else 'FAIL'} {check.__name__} ({time.time() - t0:.2f} s)", flush=True)
            if error:
                print(error, flush=True)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(run, CHECKS))
        # The same checks once more, all at the same time, to shake out thread-safety issues.
        with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
            list(pool.map(run, CHECKS))
        for check in SERIAL_CHECKS:
            run(check)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    failed = sum(1 for _, e in results if e)
    passed = len(results) - failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
