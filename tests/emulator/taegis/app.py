"""The WSGI app around moto: (i) the request log, faults, region refusals and the S3 checks on
the way in, and the admin endpoints /_taegis/* (j); /moto-api/reset clears the emulator's state."""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qs

from .common import DEFAULT_ACCOUNT_ID
from .behaviour import (
    _BEHAVIOUR_LOCK,
    _BEHAVIOURS,
    BEHAVIOUR_DEFAULTS,
    UNPROCESSED_FAULTS,
    FaultKind,
    _draw_fault,
    _take_targeted_fault,
    _validate_behaviour,
    behaviour_field,
    get_behaviour,
    reset_behaviour,
    set_behaviour,
)
from .request_log import (
    _ACCOUNT_SETTINGS_RE,
    _BOTO_SERVICE,
    _CFNRESPONSE_RE,
    _LOG_LOCK,
    _REQUEST_LOG,
    _STACK_ARN_ACCOUNT_RE,
    _buffer_form_body,
    _describe_request,
    _describe_unsigned_sts,
    _fault_exempt,
)
from .regions import (
    _DISABLED_REGIONS,
    _ENABLED_REGIONS,
    _REGIONS_LOCK,
    _validate_regions,
    account_regions,
    region_allowed,
    set_account_regions,
)
from .faults import (
    _HTTP_REASONS,
    ConnectionDropped,
    _drain_body,
    _drop_connection,
    _fault_response,
    _refusal_response,
)
from .lambda_rules import _CONCURRENCY_LIMITS, _CONCURRENCY_LOCK, lambda_account_settings
from .s3_rules import s3_refusal
from .cfn_stacks import clear_stack_operations, stack_operations, wait_stack_operation
from .aws_pace import clear_buckets, draw_seconds, take_token
from .iam_enforcement import _IAM_ENFORCED, _IAM_ENFORCED_LOCK, enforced_accounts, set_iam_enforced
from .organizations import admin_organization, reset_organizations
from .trail_delivery import admin_trail_delivery
from .account_regions import admin_region_opt_status, reset_region_opt_marks


# ---------------------------------------------------------------------------------------------
# (i) Request log, (j) admin endpoints, (b) GetAccountSettings route, (k) cfnresponse account.
# ---------------------------------------------------------------------------------------------


def reset_state() -> None:
    with _LOG_LOCK:
        _REQUEST_LOG.clear()
    with _CONCURRENCY_LOCK:
        _CONCURRENCY_LIMITS.clear()
    with _REGIONS_LOCK:
        _ENABLED_REGIONS.clear()
        _DISABLED_REGIONS.clear()
    with _IAM_ENFORCED_LOCK:
        _IAM_ENFORCED.clear()
    reset_behaviour()
    clear_stack_operations()
    clear_buckets()
    reset_organizations()
    reset_region_opt_marks()


def _json_response(start_response: Any, status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "OK")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(f"{status} {reason}", headers + (extra or []))
    return [body]


def _read_json(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    return json.loads(raw or b"{}")


class _TimedWriter:
    """Bench: the request handler's socket writer, noting when it last wrote (werkzeug's dev
    server writes unbuffered, so that is when the client can have the last byte)."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.last_write: float | None = None

    def write(self, data: Any) -> Any:
        written = self._inner.write(data)
        self.last_write = time.time()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Timed:
    """Bench: a logged request's response body.  werkzeug closes it once the response is written
    (and up to 10 ms later: it first drains the socket); `duration` runs to the last write."""

    def __init__(self, inner: Any, entry: dict[str, Any], writer: Any):
        self.inner = inner
        self.entry = entry
        self.writer = writer

    def __iter__(self) -> Any:
        return iter(self.inner)

    def close(self) -> None:
        try:
            if hasattr(self.inner, "close"):
                self.inner.close()
        finally:
            done = getattr(self.writer, "last_write", None) or time.time()
            self.entry["duration"] = max(0.0, done - self.entry["time"])


def _rate_allowed(entry: dict[str, Any]) -> bool:
    """Row ac: a token from the bucket of the request's account, region and operation."""
    rules = behaviour_field(entry["account"], "rate_limits")
    return not rules or take_token(rules, entry["account"], entry.get("region"), entry["service"], entry.get("action"))


class TaegisApp:
    """WSGI wrapper around moto's DomainDispatcherApplication."""

    def __init__(self, inner: Any):
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_taegis/"):
            return self._admin(environ, start_response, path, method)
        if path == "/moto-api/reset" and method == "POST":
            reset_state()
        if _CFNRESPONSE_RE.match(path):
            # moto reads the JSON body only when it is not sent as JSON or a form (a JSON or form
            # content type makes it answer 500 or 404), so drop the content type.
            environ["CONTENT_TYPE"] = ""
            if not environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
                # The custom-resource callback is unsigned; act in the stack's own account.
                stack = (parse_qs(environ.get("QUERY_STRING", "")).get("stack") or [""])[0]
                m = _STACK_ARN_ACCOUNT_RE.match(stack)
                if m:
                    environ["HTTP_X_MOTO_ACCOUNT_ID"] = m.group(1)

        entry = None
        try:
            entry = _describe_request(environ) or _describe_unsigned_sts(environ)
        except Exception as exc:  # never let the log break a request
            print(f"taegis_moto: request log failed: {exc!r}", file=sys.stderr)
        if entry is None:
            return self.inner(environ, start_response)
        entry["time"] = environ.get("taegis.arrived") or time.time()
        entry["duration"] = None
        with _LOG_LOCK:
            _REQUEST_LOG.append(entry)
        try:
            return _Timed(self._serve(environ, start_response, entry, path, method), entry, environ.get("taegis.writer"))
        except ConnectionDropped:
            raise  # no response: duration stays null
        except BaseException:
            entry["duration"] = time.time() - entry["time"]  # werkzeug answers 500 at once
            raise

    def _serve(self, environ: dict[str, Any], start_response: Any, entry: dict[str, Any], path: str, method: str) -> Any:
        def logged_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                entry["status"] = int(status.split()[0])
            except ValueError:
                pass
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        if entry["access_key"] is None:
            # Unsigned (AssumeRoleWithWebIdentity): no region to refuse, no faults.
            return self.inner(environ, logged_start_response)
        if not _fault_exempt(path) and not region_allowed(entry["account"], entry["service"], entry["region"]):
            return self._refuse(environ, logged_start_response, entry)
        fault = None
        if not _fault_exempt(path):
            # Drawn by the request handler already when the client expects 100-continue.
            latency, fault, variant = environ.get("taegis.fault") or _draw_fault(entry["account"])
            if latency > 0:
                time.sleep(latency)
            fault = fault or _take_targeted_fault(entry["account"], entry.get("action"))
            if fault is None and not _rate_allowed(entry):
                fault, variant = FaultKind.THROTTLE, 0
                entry["rate_limited"] = True
        if fault in UNPROCESSED_FAULTS and not environ.get("taegis.no_continue"):
            _drain_body(environ)  # unread, so that the socket closes cleanly
        if fault is FaultKind.DROP:
            entry["fault"] = fault.value
            _drop_connection(environ)
        if fault in (FaultKind.THROTTLE, FaultKind.SERVER_ERROR):
            entry["fault"] = fault.value
            status, headers, body = _fault_response(entry["service"], fault, variant, environ)
            logged_start_response(f"{status} {_HTTP_REASONS.get(status, 'Error')}", headers)
            return [body]
        if fault is FaultKind.DROP_AFTER:
            # Processed as usual (the write happens), then the connection ends without a response.
            entry["fault"] = fault.value

            def swallowed_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                try:
                    entry["status"] = int(status.split()[0])
                except ValueError:
                    pass
                return lambda data: None

            result = self._handle(environ, swallowed_start_response, entry, path, method)
            try:
                for _ in result:
                    pass
            finally:
                if hasattr(result, "close"):
                    result.close()
            _drop_connection(environ)  # (the body was read by moto; never read the socket again)
        return self._handle(environ, logged_start_response, entry, path, method)

    def _refuse(self, environ: dict[str, Any], start_response: Any, entry: dict[str, Any]) -> list[bytes]:
        # AWS (n): refused before anything else (no latency or fault), and without
        # "100 Continue" (the request handler held it back, see _predraw_refusal).
        if not environ.get("taegis.no_continue"):
            _drain_body(environ)  # unread, so that the socket closes cleanly
        status, headers, body = _refusal_response(entry["service"], entry["access_key"], environ)
        start_response(f"{status} {_HTTP_REASONS.get(status, 'Error')}", headers)
        return [body]

    def _handle(self, environ: dict[str, Any], start_response: Any, entry: dict[str, Any], path: str, method: str) -> Any:
        if entry["service"] == "lambda" and method == "GET" and _ACCOUNT_SETTINGS_RE.match(path):
            # AWS: Lambda GetAccountSettings (moto has no route for it).
            entry["action"] = "GetAccountSettings"
            return _json_response(start_response, 200, lambda_account_settings(entry["account"], entry["region"]))
        refusal = s3_refusal(environ, entry) if entry["service"] == "s3" else None
        if refusal is not None:
            # (q) answered before moto sees the request.
            if not environ.get("taegis.no_continue"):
                _drain_body(environ)
            status, headers, body = refusal.parts(method)
            start_response(f"{status} {_HTTP_REASONS.get(status, 'Error')}", headers)
            return [body]
        if entry["service"] not in _BOTO_SERVICE:
            _buffer_form_body(environ)  # keep the form's bytes for the signature check (u)
        return self.inner(environ, start_response)

    def _admin(self, environ: dict[str, Any], start_response: Any, path: str, method: str) -> list[bytes]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path.rstrip("/") == "/_taegis/requests":
            if method == "DELETE":
                with _LOG_LOCK:
                    _REQUEST_LOG.clear()
                return _json_response(start_response, 200, {"requests": []})
            if method != "GET":
                return _json_response(start_response, 405, {"error": "GET or DELETE"})
            with _LOG_LOCK:
                entries = [dict(e) for e in _REQUEST_LOG]
            for key in ("access_key", "account", "service", "action", "region"):
                if key in query:
                    entries = [e for e in entries if e.get(key) == query[key]]
            return _json_response(start_response, 200, {"requests": entries})
        if path.rstrip("/") == "/_taegis/account-settings":
            if method == "GET":
                account = query.get("account", DEFAULT_ACCOUNT_ID)
                region = query.get("region", "us-east-1")
                return _json_response(start_response, 200, lambda_account_settings(account, region))
            if method != "POST":
                return _json_response(start_response, 405, {"error": "GET or POST"})
            try:
                doc = _read_json(environ)
                account = str(doc["account"])
                if not re.fullmatch(r"\d{12}", account):
                    raise ValueError("account must be 12 digits")
                region = doc.get("region") or None
                limit = int(doc["concurrent_executions"])
                if limit < 0:
                    raise ValueError("concurrent_executions must be >= 0")
            except (KeyError, ValueError, TypeError) as exc:
                return _json_response(start_response, 400, {"error": str(exc)})
            with _CONCURRENCY_LOCK:
                _CONCURRENCY_LIMITS[(account, region)] = limit
            return _json_response(
                start_response, 200, {"account": account, "region": region, "concurrent_executions": limit}
            )
        if path.rstrip("/") == "/_taegis/behaviour":
            return self._behaviour(environ, start_response, query, method)
        if path.rstrip("/") == "/_taegis/regions":
            return self._regions(environ, start_response, query, method)
        if path.rstrip("/") == "/_taegis/stack-operations":
            return self._stack_operations(start_response, query, method)
        if path.rstrip("/") == "/_taegis/iam-enforcement":
            return self._iam_enforcement(environ, start_response, method)
        if path.rstrip("/") == "/_taegis/organization":  # (ad)
            return _json_response(start_response, *admin_organization(method, query, lambda: _read_json(environ)))
        if path.rstrip("/") == "/_taegis/trail-delivery":  # (af)
            return _json_response(start_response, *admin_trail_delivery(method, lambda: _read_json(environ)))
        if path.rstrip("/") == "/_taegis/region-opt-status":  # (ag)
            return _json_response(start_response, *admin_region_opt_status(method, query, lambda: _read_json(environ)))
        if path.rstrip("/") == "/_taegis/stack-timing":
            return self._stack_timing(start_response, query, method)
        return _json_response(start_response, 404, {"error": f"unknown admin path {path}"})

    def _stack_operations(self, start_response: Any, query: dict[str, str], method: str) -> list[bytes]:
        # Bench: the stack operation record (see _op_begin).
        account = query.get("account")
        if account is not None and not re.fullmatch(r"\d{12}", account):
            return _json_response(start_response, 400, {"error": "account must be 12 digits"})
        if method == "DELETE":
            clear_stack_operations(account)
            return _json_response(start_response, 200, {"operations": []})
        if method != "GET":
            return _json_response(start_response, 405, {"error": "GET or DELETE"})
        try:
            since = float(query["since"]) if "since" in query else None
            wait = float(query.get("wait", 0))
            if not 0 <= wait <= 3600:
                raise ValueError
        except ValueError:
            return _json_response(start_response, 400, {"error": "since is epoch seconds and wait 0..3600 seconds"})
        stack_id = query.get("stack_id")
        if wait and not stack_id:
            return _json_response(start_response, 400, {"error": "wait needs stack_id"})
        if wait:
            ops = wait_stack_operation(stack_id, since, wait)  # type: ignore[arg-type]
            ops = [o for o in ops if (account is None or o["account"] == account)]
        else:
            ops = stack_operations(account, query.get("region"), stack_id, since)
        return _json_response(start_response, 200, {"operations": ops})

    def _stack_timing(self, start_response: Any, query: dict[str, str], method: str) -> list[bytes]:
        # Row ac: what the account's stack timing model draws for one resource step.
        if method != "GET":
            return _json_response(start_response, 405, {"error": "GET"})
        account = query.get("account", "")
        if not re.fullmatch(r"\d{12}", account):
            return _json_response(start_response, 400, {"error": "account must be 12 digits"})
        missing = [k for k in ("region", "stack", "resource", "type") if not query.get(k)]
        if missing:
            return _json_response(start_response, 400, {"error": f"give {', '.join(missing)}"})
        timing = behaviour_field(account, "stack_timing")
        if timing is None:
            return _json_response(start_response, 400, {"error": "the account has no stack_timing"})
        operation = query.get("operation", "create")
        seconds = draw_seconds(timing, account, query["region"], query["stack"], query["resource"], query["type"], operation)
        return _json_response(start_response, 200, {"seconds": seconds, "operation": operation})

    def _iam_enforcement(self, environ: dict[str, Any], start_response: Any, method: str) -> list[bytes]:
        # (u) the accounts whose signed requests moto's IAM evaluator checks.
        if method == "GET":
            return _json_response(start_response, 200, {"enforced": enforced_accounts()})
        if method != "POST":
            return _json_response(start_response, 405, {"error": "GET or POST"})
        try:
            doc = _read_json(environ)
            if not isinstance(doc, dict):
                raise ValueError("body must be a JSON object")
            unknown = sorted(set(doc) - {"account", "enforce"})
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(unknown)}")
            account = doc.get("account")
            if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
                raise ValueError("account must be 12 digits (a string)")
            enforce = doc.get("enforce", True)
            if not isinstance(enforce, bool):
                raise ValueError("enforce must be true or false")
        except (ValueError, TypeError) as exc:
            return _json_response(start_response, 400, {"error": str(exc)})
        enforced = set_iam_enforced(account, enforce)
        return _json_response(start_response, 200, {"account": account, "enforce": account in enforced, "enforced": enforced})

    def _regions(self, environ: dict[str, Any], start_response: Any, query: dict[str, str], method: str) -> list[bytes]:
        if method == "GET":
            account = query.get("account")
            if account is None:
                with _REGIONS_LOCK:
                    everything = {a: list(r) for a, r in sorted(_ENABLED_REGIONS.items())}
                    disabled = {a: list(r) for a, r in sorted(_DISABLED_REGIONS.items())}
                return _json_response(start_response, 200, {"regions": everything, "disabled": disabled})
            if not re.fullmatch(r"\d{12}", account):
                return _json_response(start_response, 400, {"error": "account must be 12 digits"})
            return _json_response(start_response, 200, account_regions(account))
        if method != "POST":
            return _json_response(start_response, 405, {"error": "GET or POST"})
        try:
            account, enabled, disabled = _validate_regions(_read_json(environ))
            answer = set_account_regions(account, enabled, disabled)
        except (ValueError, TypeError) as exc:
            return _json_response(start_response, 400, {"error": str(exc)})
        return _json_response(start_response, 200, answer)

    def _behaviour(self, environ: dict[str, Any], start_response: Any, query: dict[str, str], method: str) -> list[bytes]:
        account = query.get("account")
        if account is not None and not re.fullmatch(r"\d{12}", account):
            return _json_response(start_response, 400, {"error": "account must be 12 digits"})
        if method == "GET":
            if account is None:
                with _BEHAVIOUR_LOCK:
                    accounts = sorted(_BEHAVIOURS)
                return _json_response(start_response, 200, {"behaviours": {a: get_behaviour(a) for a in accounts}, "defaults": BEHAVIOUR_DEFAULTS})
            return _json_response(start_response, 200, dict(get_behaviour(account), account=account))
        if method == "DELETE":
            reset_behaviour(account)
            if account is None:
                return _json_response(start_response, 200, {"behaviours": {}})
            return _json_response(start_response, 200, dict(get_behaviour(account), account=account))
        if method != "POST":
            return _json_response(start_response, 405, {"error": "GET, POST or DELETE"})
        try:
            doc = _read_json(environ)
            if not isinstance(doc, dict):
                raise ValueError("body must be a JSON object")
            account = str(doc.get("account") or account or "")
            if not re.fullmatch(r"\d{12}", account):
                raise ValueError("account must be 12 digits")
            fields = _validate_behaviour(doc)
        except (KeyError, ValueError, TypeError) as exc:
            return _json_response(start_response, 400, {"error": str(exc)})
        return _json_response(start_response, 200, dict(set_behaviour(account, fields), account=account))
