"""The stand-in's state: API clients (credentials), issued tokens, scripts and the request record.

Everything runs on one asyncio loop, so nothing here needs a lock.  Secrets are compared and then
forgotten: the record keeps a client id and whether the secret matched, never the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

DEFAULT_CLIENT_ID = "xdr-standin-client"
DEFAULT_CLIENT_SECRET = "xdr-standin-secret"
DEFAULT_TENANT = "50530"

# The script names and the options each takes (besides the selectors client_id and tenant and the
# general options).  Defaults in DEFAULTS.
SCRIPTS = {
    "events": {"rows", "page_size", "running", "final_status", "newest_age_seconds", "spacing_seconds", "row",
               "aws_account_id", "aws_region", "event_names", "empty_result"},
    "none": {"running", "final_status", "empty_result"},
    "failed": {"running", "reason"},
    "unauthorized": {"status", "body"},
    "tenant_refused": {"message", "code", "as"},
    "slow": {"target", "seconds", "rows", "page_size", "running", "final_status", "newest_age_seconds",
             "spacing_seconds", "row", "aws_account_id", "aws_region", "event_names", "empty_result"},
}
GENERAL = {"client_id", "tenant", "token_expires_in", "keepalive_seconds", "interval_seconds",
           "token_delay", "ack_delay", "subscription_delay"}

DEFAULTS: dict[str, Any] = {
    "rows": 3,
    "page_size": None,  # None: the request's options.pageSize, else 1000 (the Python SDK's default)
    "running": 1,
    "final_status": "SUCCEEDED",
    "newest_age_seconds": 60,
    "spacing_seconds": 60,
    "row": {},
    "aws_account_id": "123456789012",
    "aws_region": "us-east-1",
    "event_names": ["ConsoleLogin", "AssumeRole", "GetObject", "PutObject", "DescribeInstances"],
    "empty_result": True,
    "reason": "query failed: backend search error",
    "status": 401,
    "body": {"error": "invalid_client", "error_description": "client authentication failed"},
    "message": "Forbidden: the credentials have no access to tenant {tenant}",
    "code": "FORBIDDEN",
    "as": "data",
    "target": "subscription",
    "seconds": None,  # None: never
    "token_expires_in": 3600,
    "keepalive_seconds": 1.0,
    "interval_seconds": 0.02,
    "token_delay": 0,
    "ack_delay": 0,
    "subscription_delay": 0,
}


class ScriptError(ValueError):
    pass


def check_script(doc: Any) -> dict[str, Any]:
    """A script as POSTed to /_xdr/script, checked; returns it with the defaults filled in."""
    if not isinstance(doc, dict):
        raise ScriptError("a script is a JSON object")
    name = doc.get("script")
    if name not in SCRIPTS:
        raise ScriptError(f"script must be one of {sorted(SCRIPTS)}, got {name!r}")
    unknown = sorted(set(doc) - SCRIPTS[name] - GENERAL - {"script"})
    if unknown:
        raise ScriptError(f"unknown option(s) for script {name!r}: {unknown}")
    for k in ("client_id", "tenant"):
        if k in doc and not isinstance(doc[k], str):
            raise ScriptError(f"{k} must be a string")
    for k in ("rows", "running", "status"):
        if k in doc and (not isinstance(doc[k], int) or isinstance(doc[k], bool) or doc[k] < 0):
            raise ScriptError(f"{k} must be a whole number >= 0")
    if "page_size" in doc and doc["page_size"] is not None and (not isinstance(doc["page_size"], int) or doc["page_size"] < 1):
        raise ScriptError("page_size must be a whole number >= 1 (or null)")
    for k in ("newest_age_seconds", "spacing_seconds", "token_expires_in", "keepalive_seconds", "interval_seconds"):
        if k in doc and (not isinstance(doc[k], (int, float)) or isinstance(doc[k], bool)):
            raise ScriptError(f"{k} must be a number")
    for k in ("token_delay", "ack_delay", "subscription_delay"):
        if k in doc and doc[k] is not None and (not isinstance(doc[k], (int, float)) or isinstance(doc[k], bool) or doc[k] < 0):
            raise ScriptError(f"{k} must be a number >= 0, or null for never")
    if "seconds" in doc and doc["seconds"] is not None and (not isinstance(doc["seconds"], (int, float)) or doc["seconds"] < 0):
        raise ScriptError("seconds must be a number >= 0, or null for never")
    if "target" in doc and doc["target"] not in ("token", "ack", "subscription"):
        raise ScriptError("target must be token, ack or subscription")
    if "as" in doc and doc["as"] not in ("data", "error"):
        raise ScriptError("as must be data or error")
    if "row" in doc and not isinstance(doc["row"], dict):
        raise ScriptError("row must be a JSON object")
    if "event_names" in doc and (not isinstance(doc["event_names"], list) or not doc["event_names"]):
        raise ScriptError("event_names must be a non-empty list")
    full = dict(DEFAULTS)
    full.update(doc)
    if name == "slow":
        # slow = events, with the target's delay: seconds, or never (None).
        full[{"token": "token_delay", "ack": "ack_delay", "subscription": "subscription_delay"}[full["target"]]] = full["seconds"]
    return full


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class State:
    def __init__(self, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET):
        self.default_client = (client_id, client_secret)
        self.key = os.urandom(32)
        self.reset()

    def reset(self, client_id: str | None = None) -> None:
        """Everything back to the start; with `client_id`, only that client's scripts, tokens and
        records."""
        if client_id is None:
            self.clients: dict[str, str] = {self.default_client[0]: self._digest(self.default_client[1])}
            self.tokens: dict[str, dict[str, Any]] = {}
            self.scripts: list[dict[str, Any]] = []
            self.records: list[dict[str, Any]] = []
            self.runs: dict[str, Any] = {}  # query id -> events.Run (for eventPage)
            self.seq = 0
            self.connections = 0
            return
        self.scripts = [s for s in self.scripts if s.get("client_id") != client_id]
        self.tokens = {t: v for t, v in self.tokens.items() if v["client_id"] != client_id}
        self.records = [r for r in self.records if r.get("client_id") != client_id]
        self.runs = {k: r for k, r in self.runs.items() if r.client_id != client_id}

    # -- clients and tokens -------------------------------------------------------------------

    def _digest(self, secret: str) -> bytes:
        return hashlib.sha256(secret.encode()).digest()

    def add_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = self._digest(client_secret)

    def secret_matches(self, client_id: str | None, client_secret: str | None) -> bool:
        if client_id is None or client_secret is None or client_id not in self.clients:
            return False
        return hmac.compare_digest(self.clients[client_id], self._digest(client_secret))

    def issue_token(self, client_id: str, expires_in: float) -> str:
        """A JWT (HS256, the stand-in's own key) as the real API issues: the SDK reads its `exp`
        claim (taegis_sdk_python/tokens.py)."""
        now = int(time.time())
        claims = {
            "iss": "taegis-xdr-standin",
            "sub": client_id,
            "iat": now,
            "exp": now + int(expires_in),
            "jti": _b64(os.urandom(9)),
        }
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{sig}"
        self.tokens[token] = {"client_id": client_id, "exp": now + expires_in}
        return token

    def token_status(self, token: str | None) -> tuple[str, str | None]:
        """("valid" | "expired" | "unknown" | "missing", client id)."""
        if not token:
            return "missing", None
        info = self.tokens.get(token)
        if info is None:
            return "unknown", None
        if info["exp"] <= time.time():
            return "expired", info["client_id"]
        return "valid", info["client_id"]

    # -- scripts ------------------------------------------------------------------------------

    def set_script(self, script: dict[str, Any]) -> None:
        sel = (script.get("client_id"), script.get("tenant"))
        self.scripts = [s for s in self.scripts if (s.get("client_id"), s.get("tenant")) != sel]
        self.scripts.append(script)

    def script_for(self, client_id: str | None, tenant: str | None, for_token: bool = False) -> dict[str, Any]:
        """The newest script whose selectors match (a token request has no tenant: scripts with a
        tenant selector never apply to it); else the default, `events` with 3 rows."""
        for s in reversed(self.scripts):
            if "client_id" in s and s["client_id"] != client_id:
                continue
            if "tenant" in s and (for_token or s["tenant"] != tenant):
                continue
            return s
        return check_script({"script": "events"})

    # -- the record ---------------------------------------------------------------------------

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        entry = {"seq": self.seq, "kind": kind, "time": round(time.time(), 3)}
        entry.update(fields)
        self.records.append(entry)
        return entry

    def query_records(self, params: dict[str, str]) -> list[dict[str, Any]]:
        out = self.records
        for key in ("kind", "client_id", "tenant"):
            if key in params:
                out = [r for r in out if str(r.get(key)) == params[key]]
        return out
