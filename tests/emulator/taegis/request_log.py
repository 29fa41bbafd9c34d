"""(i) What a request is, for the request log and the faults: its service, action, access key,
account and region (signed or an unsigned STS call), and the paths no fault or check applies to."""

from __future__ import annotations

import collections
import io
import re
import threading
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from moto.core.request import Request as MotoRequest
from moto.core.routing import get_service_router

from .common import _account_for_access_key


# ---------------------------------------------------------------------------------------------
# (i) Request log: the entries, and the patterns app.py routes by ((j) admin endpoints, (b)
# GetAccountSettings route, (k) cfnresponse account).
# ---------------------------------------------------------------------------------------------

_LOG_LOCK = threading.Lock()
_REQUEST_LOG: collections.deque[dict[str, Any]] = collections.deque(maxlen=200_000)

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_ACCOUNT_SETTINGS_RE = re.compile(r"^/\d{4}-\d{2}-\d{2}/account-settings/?$")
_CFNRESPONSE_RE = re.compile(r"^/cloudformation_[^/]+/cfnresponse$")
_STACK_ARN_ACCOUNT_RE = re.compile(r"^arn:aws[a-z-]*:cloudformation:[^:]+:(\d{12}):stack/")

# Deprecated S3 operations share their URI with the current ones; name the current one.
_S3_ACTION_ALIASES = {
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
}
_BOTO_SERVICE = {"lambda": "lambda", "s3": "s3"}


def _fault_exempt(path: str) -> bool:
    path = path.split("?", 1)[0]
    return path.startswith("/_taegis/") or path.startswith("/moto-api") or bool(_CFNRESPONSE_RE.match(path))


def _scope_of(raw_path: str, headers: Any) -> tuple[str, str, str, str] | None:
    """(access key, account, region, service) of a request from its request line and headers
    (before werkzeug answers `Expect: 100-continue`); None when it is not signed or is exempt."""
    if _fault_exempt(raw_path):
        return None
    match = _CREDENTIAL_RE.search(headers.get("Authorization", "") or "")
    if not match:
        query = parse_qs(raw_path.split("?", 1)[1]) if "?" in raw_path else {}
        credential = (query.get("X-Amz-Credential") or [""])[0]
        match = re.match(r"([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request", credential)
    if not match:
        return None
    access_key, _, region, service = match.groups()
    account = _account_for_access_key(access_key, {"x-moto-account-id": headers.get("x-moto-account-id", "") or ""})
    return access_key, account, region, service


def _buffer_form_body(environ: dict[str, Any]) -> str:
    """Read a form-encoded body (query protocol) and put it back for moto."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if length <= 0:
        return ""
    if "taegis.form_body" in environ:
        return environ["taegis.form_body"].decode("utf-8", "replace")
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    # The bytes as sent: SigV4 signed them, and an SDK's percent-encoding (the Rust SDK's
    # RFC 3986 style: %20, ~ kept, * encoded) is not what re-encoding the parsed form gives (u).
    environ["taegis.form_body"] = body
    return body.decode("utf-8", "replace")


def _operation_name(environ: dict[str, Any], service: str) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    body = _buffer_form_body(environ) if service not in _BOTO_SERVICE else ""
    if body:
        action = dict(parse_qsl(body)).get("Action")
        if action:
            return action
    try:
        router = get_service_router(_BOTO_SERVICE.get(service, service))
        operation, _ = router.match(MotoRequest(environ, shallow=True))
        name = operation.name
    except Exception:
        return None
    if service == "s3":
        name = _S3_ACTION_ALIASES.get(name, name)
    return name


def _describe_request(environ: dict[str, Any]) -> dict[str, Any] | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL_RE.search(auth)
    if not match:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        cred = (query.get("X-Amz-Credential") or [""])[0]
        match = re.match(r"([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request", cred)
    if not match:
        return None
    access_key, _, region, service = match.groups()
    headers = {"x-moto-account-id": environ.get("HTTP_X_MOTO_ACCOUNT_ID", "")}
    return {
        "service": service,
        "action": _operation_name(environ, service),
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "access_key": access_key,
        "account": _account_for_access_key(access_key, headers),
        "region": region,
        "status": None,
    }


# AWS: STS calls that carry no signature (the token or assertion is the credential).  They act
# in the role's account, so the log names that account (access key and region: null).
_UNSIGNED_STS_ACTIONS = ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML")


def _describe_unsigned_sts(environ: dict[str, Any]) -> dict[str, Any] | None:
    if environ.get("HTTP_AUTHORIZATION") or "X-Amz-Credential" in environ.get("QUERY_STRING", ""):
        return None
    params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    if "Action" not in params:
        params.update(parse_qsl(_buffer_form_body(environ)))
    if params.get("Action") not in _UNSIGNED_STS_ACTIONS:
        return None
    parts = str(params.get("RoleArn", "")).split(":")
    account = parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else None
    return {
        "service": "sts",
        "action": params["Action"],
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "access_key": None,
        "account": account,
        "region": None,
        "status": None,
    }
