"""(ag) AWS Account Management's ListRegions and GetRegionOptStatus: each account's regions and
their opt-in status, as row n lets the account use them (admin: /_taegis/region-opt-status)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from typing import Any

from moto.account import urls as account_urls
from moto.account.responses import AccountResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from werkzeug.exceptions import HTTPException
from moto.organizations import models as org_models
from moto.utilities.utils import get_partition

from .organizations import active_accounts, is_delegated_admin, management_of, organization_backend, trusted_access
from .regions import OPT_IN_REGIONS, _partition_regions, disabled_regions, enabled_regions


# ---------------------------------------------------------------------------------------------
# (ag) Account Management (service `account`, REST-JSON: POST /listRegions, /getRegionOptStatus).
# moto 5.2.5 serves the service's alternate contacts only; ListRegions and GetRegionOptStatus
# were 404.  AWS: every region of the partition with its opt-in status for the account:
# ENABLED_BY_DEFAULT for the regions launched before March 20, 2019, ENABLED / DISABLED for the
# opt-in ones (ENABLING / DISABLING on the way).  Here the status follows row n, so that what an
# account is told it has enabled is exactly where its calls work: an opt-in region botocore lists
# is ENABLED (row n lets every account use it) unless disabled for the account through
# /_taegis/regions (DISABLED); a region the account enabled through /_taegis/regions is ENABLED
# (for that account only); /_taegis/region-opt-status marks a region ENABLING or DISABLING.
# AccountId (another account): only the organisation's management account or a delegated
# administrator for account.amazonaws.com, with trusted access for account.amazonaws.com, about
# a member account; the management account can't name itself.  Otherwise 403
# AccessDeniedException "User: ARN is not authorized to perform: account:ACTION (REASON)".
# ---------------------------------------------------------------------------------------------

SERVICE_PRINCIPAL = "account.amazonaws.com"
STATUSES = ("ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT")
# AWS documents MaxResults 1..50 but no default; a default below the partition's 34 regions
# makes a client that does not follow NextToken miss some, as it could on AWS.
DEFAULT_MAX_RESULTS = 20
MAX_RESULTS = 50
_ACCOUNT_RE = re.compile(r"^\d{12}$")

# AWS's words (seen in the answers of ListRegions).
STANDALONE_ONLY = "The management account can only be managed using the standalone context from the management account"
TRUSTED_ACCESS_NEEDED = "Your organization must first enable trusted access with AWS Account Management."
# The emulator's words (AWS's are not known here).
NOT_ADMINISTRATOR = (
    "Only the management account or a delegated administrator of the organization can specify an AccountId"
)
NOT_MEMBER = "The specified account is not a member account of the organization"

_MARKS_LOCK = threading.Lock()
_MARKS: dict[tuple[str, str], str] = {}  # (account, region) -> ENABLING | DISABLING


class AccountError(JsonRESTError):
    """An Account Management error: REST-JSON, the code in `x-amzn-ErrorType` and `__type`."""

    def __init__(self, code: str, message: str, status: int, reason: str | None = None):
        super().__init__(code, message)
        self.code = status
        body: dict[str, Any] = {"__type": code, "message": message}
        if reason:
            body["reason"] = reason
        self.description = json.dumps(body)


def _validation(errors: list[str], reason: str = "fieldValidationFailed") -> AccountError:
    count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
    return AccountError("ValidationException", f"{count}: {'; '.join(errors)}", 400, reason)


# ------------------------------------------------------------------------------ the statuses


def _base_status(account: str, region: str, partition: str) -> str | None:
    """Row n's view: None when the region does not exist for the account."""
    if get_partition(region) != partition:
        return None
    if region in disabled_regions(account):
        return "DISABLED"
    if region in _partition_regions(partition):
        return "ENABLED" if region in OPT_IN_REGIONS else "ENABLED_BY_DEFAULT"
    if region in enabled_regions(account):
        return "ENABLED"
    return "DISABLED" if region in OPT_IN_REGIONS else None


def region_opt_status(account: str, region: str, partition: str = "aws") -> str | None:
    """The region's status for the account.  An ENABLING mark shows while row n still refuses the
    region to the account, a DISABLING one while it still lets the account use it."""
    base = _base_status(account, region, partition)
    with _MARKS_LOCK:
        mark = _MARKS.get((account, region))
    if (mark, base) in (("ENABLING", "DISABLED"), ("DISABLING", "ENABLED")):
        return mark
    return base


def region_statuses(account: str, partition: str = "aws") -> list[tuple[str, str]]:
    """(region, status) of every region of the partition for the account, by name."""
    names = set(_partition_regions(partition))
    names |= {r for r in enabled_regions(account) if get_partition(r) == partition}
    names |= {r for r in OPT_IN_REGIONS if get_partition(r) == partition}
    found = ((r, region_opt_status(account, r, partition)) for r in sorted(names))
    return [(r, s) for r, s in found if s is not None]


# ------------------------------------------------------------------------------ who may ask about whom


def _caller_arn(self: Any) -> str:
    from moto.sts.models import sts_backends

    try:
        return sts_backends[self.current_account][self.partition].get_caller_identity(self.get_access_key(), self.region)[1]
    except Exception:
        return f"arn:{self.partition}:iam::{self.current_account}:root"


def _target_account(self: Any, action: str, account_id: str | None) -> str:
    caller = self.current_account
    if account_id is None:
        return caller

    def denied(reason: str) -> AccountError:
        message = f"User: {_caller_arn(self)} is not authorized to perform: account:{action} ({reason})"
        return AccountError("AccessDeniedException", message, 403)

    management = management_of(caller)
    if management is None or (management != caller and not is_delegated_admin(caller, SERVICE_PRINCIPAL)):
        raise denied(NOT_ADMINISTRATOR)
    if account_id == management:
        raise denied(STANDALONE_ONLY)
    backend = organization_backend(caller)
    if getattr(backend.org, "feature_set", "ALL") != "ALL" or not trusted_access(caller, SERVICE_PRINCIPAL):
        raise denied(TRUSTED_ACCESS_NEEDED)
    if account_id not in active_accounts(caller):
        raise denied(NOT_MEMBER)
    return account_id


# ------------------------------------------------------------------------------ the requests


def _body(self: Any) -> dict[str, Any]:
    raw = self.body if isinstance(self.body, str) else (self.body or b"").decode("utf-8", "replace")
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise AccountError("SerializationException", "The request body is not a JSON object.", 400)
    return doc


def _account_id_errors(doc: dict[str, Any]) -> list[str]:
    value = doc.get("AccountId")
    if value is None or (isinstance(value, str) and _ACCOUNT_RE.match(value)):
        return []
    return [f"Value '{value}' at 'accountId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^\\d{{12}}$"]


def _encode_token(account: str, statuses: list[str] | None, last: str) -> str:
    raw = json.dumps({"a": account, "f": statuses, "n": last}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, account: str, statuses: list[str] | None) -> str:
    """The last region of the previous page; ValidationException for a token that is not one of
    ours, or was made for another account or filter."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(doc, dict) and doc.get("a") == account and doc.get("f") == statuses and isinstance(doc.get("n"), str):
            return doc["n"]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise AccountError("ValidationException", "The NextToken is not valid for this request.", 400, "fieldValidationFailed")


def _list_regions(self: Any) -> Any:
    doc = _body(self)
    errors = _account_id_errors(doc)
    max_results = doc.get("MaxResults", DEFAULT_MAX_RESULTS)
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        errors.append(f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must be an integer")
    elif max_results < 1:
        errors.append(f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1")
    elif max_results > MAX_RESULTS:
        errors.append(f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {MAX_RESULTS}")
    token = doc.get("NextToken")
    if token is not None and (not isinstance(token, str) or len(token) > 1000):
        errors.append("Value at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1000")
    wanted = doc.get("RegionOptStatusContains")
    if wanted is not None and (not isinstance(wanted, list) or any(s not in STATUSES for s in wanted)):
        shown = "[" + ", ".join(str(s) for s in wanted) + "]" if isinstance(wanted, list) else str(wanted)
        errors.append(
            f"Value '{shown}' at 'regionOptStatusContains' failed to satisfy constraint: Member must satisfy constraint: "
            f"[Member must satisfy enum value set: [{', '.join(STATUSES)}]]"
        )
    if errors:
        raise _validation(errors)
    target = _target_account(self, "ListRegions", doc.get("AccountId"))
    statuses = sorted(set(wanted)) if wanted else None
    regions = [(r, s) for r, s in region_statuses(target, self.partition) if statuses is None or s in statuses]
    start = 0
    if token:
        last = _decode_token(token, target, statuses)
        start = next((i for i, (r, _) in enumerate(regions) if r > last), len(regions))
    page = regions[start:start + max_results]
    answer: dict[str, Any] = {"Regions": [{"RegionName": r, "RegionOptStatus": s} for r, s in page]}
    if start + max_results < len(regions):
        answer["NextToken"] = _encode_token(target, statuses, page[-1][0])
    return 200, {"Content-Type": "application/json"}, json.dumps(answer)


def _get_region_opt_status(self: Any) -> Any:
    doc = _body(self)
    errors = _account_id_errors(doc)
    region = doc.get("RegionName")
    if region is None:
        errors.append("Value null at 'regionName' failed to satisfy constraint: Member must not be null")
    elif not isinstance(region, str) or not 1 <= len(region) <= 50:
        errors.append(f"Value '{region}' at 'regionName' failed to satisfy constraint: Member must have length between 1 and 50")
    if errors:
        raise _validation(errors)
    target = _target_account(self, "GetRegionOptStatus", doc.get("AccountId"))
    status = region_opt_status(target, region, self.partition)
    if status is None:
        raise AccountError("ValidationException", f"The Region {region} is not a valid Region.", 400, "fieldValidationFailed")
    return 200, {"Content-Type": "application/json"}, json.dumps({"RegionName": region, "RegionOptStatus": status})


# ------------------------------------------------------------------------------ admin: ENABLING / DISABLING


def region_opt_view(account: str, partition: str = "aws") -> dict[str, Any]:
    with _MARKS_LOCK:
        marks = {r: m for (a, r), m in sorted(_MARKS.items()) if a == account}
    return {
        "account": account,
        "regions": [{"RegionName": r, "RegionOptStatus": s} for r, s in region_statuses(account, partition)],
        "marks": marks,
    }


def admin_region_opt_status(method: str, query: dict[str, str], read_json: Any) -> tuple[int, Any]:
    """(status, payload) of /_taegis/region-opt-status."""
    if method == "GET":
        account = query.get("account", "")
        if not _ACCOUNT_RE.match(account):
            return 400, {"error": "account must be 12 digits"}
        partition = query.get("partition", "aws")
        if not _partition_regions(partition):
            return 400, {"error": f"unknown partition {partition}"}
        return 200, region_opt_view(account, partition)
    if method != "POST":
        return 405, {"error": "GET or POST"}
    try:
        doc = read_json()
        if not isinstance(doc, dict):
            raise ValueError("body must be a JSON object")
        unknown = sorted(set(doc) - {"account", "region", "status"})
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)} (known: account, region, status)")
        account, region, status = doc.get("account"), doc.get("region"), doc.get("status")
        if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
            raise ValueError("account must be 12 digits (a string)")
        if region not in OPT_IN_REGIONS:
            raise ValueError(f"region must be an opt-in region ({', '.join(sorted(OPT_IN_REGIONS))})")
        if status not in ("ENABLING", "DISABLING", None):
            raise ValueError("status must be ENABLING, DISABLING or null (no mark)")
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}
    with _MARKS_LOCK:
        if status is None:
            _MARKS.pop((account, region), None)
        else:
            _MARKS[(account, region)] = status
    return 200, region_opt_view(account)


def reset_region_opt_marks() -> None:
    with _MARKS_LOCK:
        _MARKS.clear()


def _authorize(self: Any, resource: str = "*") -> None:
    # Row u's refusal (iam_enforcement's REST-JSON shape): moto's call_action keeps only its
    # status and body, so its headers (x-amzn-ErrorType, the JSON content type) are kept here.
    try:
        BaseResponse._authenticate_and_authorize_normal_action(self, resource)
    except HTTPException as exc:
        self._taegis_error_headers = dict(exc.get_headers())
        raise


def _call_action(self: Any) -> Any:
    status, headers, body = BaseResponse.call_action(self)
    extra = self.__dict__.pop("_taegis_error_headers", None)
    if extra:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        headers.update(extra)
    return status, headers, body


def _install_account_regions() -> None:
    # moto's Flask app for the service is made on its first request, from these paths.
    for path in ("{0}/listRegions$", "{0}/getRegionOptStatus$"):
        account_urls.url_paths.setdefault(path, AccountResponse.dispatch)
    AccountResponse.list_regions = _list_regions  # type: ignore[attr-defined]
    AccountResponse.get_region_opt_status = _get_region_opt_status  # type: ignore[attr-defined]
    AccountResponse._authenticate_and_authorize_normal_action = _authorize  # type: ignore[method-assign]
    AccountResponse.call_action = _call_action  # type: ignore[method-assign]
    if SERVICE_PRINCIPAL not in org_models.FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        org_models.FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(SERVICE_PRINCIPAL)
