"""(n) Regions that do not exist, or are not enabled for the account (admin: /_taegis/regions)."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

import botocore.loaders
from moto.core.base_backend import AccountSpecificBackend, backend_lock
from moto.s3 import responses as s3_responses
from moto.s3.exceptions import InvalidLocationConstraintException
from moto.utilities.utils import get_partition


# ---------------------------------------------------------------------------------------------
# (n) Regions that do not exist, or are not enabled for the account.
# AWS: every call signed for such a region is refused (see _refusal_response): STS answers 403
# InvalidClientTokenId "The security token included in the request is invalid.", the other
# services their own 403 (400 for JSON services) in their own protocol; S3 CreateBucket with such
# a LocationConstraint is 400 InvalidLocationConstraint.  moto answered STS and S3 as if the
# region existed, and 500 for the regional services (no backend for the region).  A region is
# known when botocore's endpoint data (what moto creates its backends from) lists it for the
# service in the region's partition; regions enabled per account through /_taegis/regions work
# end to end (moto's backend dicts create their backends on demand).  AWS: an opt-in region
# (launched since March 2019) works only for the accounts that enabled it; one disabled for an
# account through /_taegis/regions ("disabled") is refused to that account alone, as above.
# ---------------------------------------------------------------------------------------------

_REGIONS_LOCK = threading.Lock()
_ENABLED_REGIONS: dict[str, tuple[str, ...]] = {}
_DISABLED_REGIONS: dict[str, tuple[str, ...]] = {}
# AWS's opt-in regions: every region launched after March 20, 2019 (the ones before are on in
# every account and cannot be disabled).
OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1",
    "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
})
_REGION_NAME_RE = re.compile(r"^[a-z]{2,5}(?:-[a-z]+)+-\d{1,2}$")


@functools.lru_cache(maxsize=None)
def _partition_regions(partition: str) -> frozenset[str]:
    for entry in botocore.loaders.create_loader().load_data("endpoints").get("partitions", []):
        if entry.get("partition") == partition:
            return frozenset(entry.get("regions") or {})
    return frozenset()


@functools.lru_cache(maxsize=None)
def _service_regions(service: str, partition: str) -> frozenset[str]:
    """The regions moto creates backends for; every region of the partition for a global service
    (IAM) or a signing name botocore's endpoint data does not know."""
    try:
        regions = AccountSpecificBackend.get_session().get_available_regions(service, partition_name=partition)
    except Exception:
        regions = []
    return frozenset(regions) or _partition_regions(partition)


def region_known(service: str, region: str) -> bool:
    return bool(region) and region in _service_regions(service, get_partition(region))


def enabled_regions(account_id: str) -> tuple[str, ...]:
    with _REGIONS_LOCK:
        return _ENABLED_REGIONS.get(account_id, ())


def disabled_regions(account_id: str) -> tuple[str, ...]:
    with _REGIONS_LOCK:
        return _DISABLED_REGIONS.get(account_id, ())


def account_regions(account_id: str) -> dict[str, Any]:
    """What GET /_taegis/regions?account= answers."""
    with _REGIONS_LOCK:
        enabled, disabled = _ENABLED_REGIONS.get(account_id, ()), _DISABLED_REGIONS.get(account_id, ())
    return {"account": account_id, "enabled": list(enabled), "disabled": list(disabled)}


def set_account_regions(account_id: str, enabled: list[str] | None, disabled: list[str] | None) -> dict[str, Any]:
    """Replace the lists given (None: left as they are).  A region may not end up in both."""
    with _REGIONS_LOCK:
        new = {
            "enabled": tuple(dict.fromkeys(enabled)) if enabled is not None else _ENABLED_REGIONS.get(account_id, ()),
            "disabled": tuple(dict.fromkeys(disabled)) if disabled is not None else _DISABLED_REGIONS.get(account_id, ()),
        }
        both = sorted(set(new["enabled"]) & set(new["disabled"]))
        if both:
            raise ValueError(f"a region cannot be both enabled and disabled: {', '.join(both)}")
        for store, key in ((_ENABLED_REGIONS, "enabled"), (_DISABLED_REGIONS, "disabled")):
            if new[key]:
                store[account_id] = new[key]
            else:
                store.pop(account_id, None)
    return account_regions(account_id)


def region_allowed(account_id: str, service: str, region: str) -> bool:
    if region in disabled_regions(account_id):
        return False
    return region_known(service, region) or region in enabled_regions(account_id)


def _validate_regions(doc: Any) -> tuple[str, list[str] | None, list[str] | None]:
    if not isinstance(doc, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(doc) - {"account", "enabled", "disabled"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} (known: account, enabled, disabled)")
    account = str(doc.get("account") or "")
    if not re.fullmatch(r"\d{12}", account):
        raise ValueError("account must be 12 digits")
    if "enabled" not in doc and "disabled" not in doc:
        raise ValueError("give enabled, disabled or both")
    enabled = doc.get("enabled")
    if "enabled" in doc and (not isinstance(enabled, list) or not all(isinstance(r, str) and _REGION_NAME_RE.match(r) for r in enabled)):
        raise ValueError("enabled must be a list of region names such as \"eu-future-1\"")
    disabled = doc.get("disabled")
    if "disabled" in doc:
        if not isinstance(disabled, list) or not all(isinstance(r, str) for r in disabled):
            raise ValueError("disabled must be a list of opt-in region names such as \"af-south-1\"")
        for region in disabled:
            if region not in OPT_IN_REGIONS:
                raise ValueError(
                    f"{region} is not an opt-in region (only those can be disabled: {', '.join(sorted(OPT_IN_REGIONS))})"
                )
    return account, enabled, disabled


_orig_asb_getitem = AccountSpecificBackend.__getitem__
_orig_asb_contains = AccountSpecificBackend.__contains__


def _asb_getitem(self: Any, region_name: str) -> Any:
    # moto only creates a backend for the regions botocore lists (KeyError, i.e. 500, otherwise).
    if region_name not in self.keys() and region_name not in self.regions and region_name in enabled_regions(self.account_id):
        with backend_lock:
            if region_name not in self.keys():
                dict.__setitem__(self, region_name, self.backend(region_name, account_id=self.account_id))
    return _orig_asb_getitem(self, region_name)


def _asb_contains(self: Any, region: str) -> bool:
    return _orig_asb_contains(self, region) or region in enabled_regions(self.account_id)


_orig_location_constraint = s3_responses.S3Response._get_location_constraint


def _location_constraint(self: Any) -> str | None:
    constraint = _orig_location_constraint(self)
    if constraint and constraint != "EU" and not region_allowed(self.current_account, "s3", constraint):
        raise InvalidLocationConstraintException()
    return constraint


def _install_regions() -> None:
    AccountSpecificBackend.__getitem__ = _asb_getitem
    AccountSpecificBackend.__contains__ = _asb_contains
    s3_responses.S3Response._get_location_constraint = _location_constraint
