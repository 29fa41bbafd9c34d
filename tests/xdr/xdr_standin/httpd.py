"""Plain HTTP on the stand-in's port: request parsing, the token endpoint and the admin API.

The token endpoint follows taegis-sdk-python authentication.py (get_token_by_oauth):
requests-oauthlib's OAuth2Session.fetch_token with a BackendApplicationClient, i.e.
`POST /auth/api/v2/auth/token`, HTTP Basic client_id:client_secret, form body
`grant_type=client_credentials`; the answer is read for `access_token` (a JWT whose `exp` the SDK
reads, tokens.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .state import DEFAULTS, ScriptError, State, check_script

DEFAULT_UNAUTHORIZED = DEFAULTS["body"]

TOKEN_PATH = "/auth/api/v2/auth/token"
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable"}
MAX_BODY = 1 << 20


class BadRequest(Exception):
    pass


@dataclass
class HttpRequest:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    raw_head: bytes
    body: bytes = b""

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.target).path

    @property
    def params(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.target).query))

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    @property
    def is_upgrade(self) -> bool:
        return "websocket" in (self.header("Upgrade") or "").lower()


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """The next request on the connection; None at a clean EOF.  The body is read for POST/PUT
    (Content-Length or chunked); an upgrade request keeps its raw head for the WebSocket layer."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise BadRequest("incomplete request head")
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest(f"bad request line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line:
            raise BadRequest(f"bad header line {line!r}")
        k, v = line.split(":", 1)
        headers.append((k.strip(), v.strip()))
    req = HttpRequest(method.upper(), target, version, headers, head)
    if "chunked" in (req.header("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
            if sum(map(len, chunks)) > MAX_BODY:
                raise BadRequest("body too large")
        req.body = b"".join(chunks)
    elif req.header("Content-Length"):
        n = int(req.header("Content-Length") or "0")
        if n > MAX_BODY:
            raise BadRequest("body too large")
        req.body = await reader.readexactly(n)
    return req


def response_bytes(status: int, body: Any, headers: dict[str, str] | None = None, close: bool = False) -> bytes:
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        ctype = "application/json"
    else:
        data = str(body).encode()
        ctype = "text/plain; charset=utf-8"
    h = {"Content-Type": ctype, "Content-Length": str(len(data)), "Server": "taegis-xdr-standin"}
    if close:
        h["Connection"] = "close"
    h.update(headers or {})
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return head.encode("latin-1") + b"\r\n" + data


async def wait_or_eof(reader: asyncio.StreamReader, seconds: float | None) -> bool:
    """Sleep `seconds` (None: for ever); False as soon as the client closes its side instead."""
    if seconds == 0:
        return True
    eof = asyncio.ensure_future(reader.read(1))
    sleeper = asyncio.ensure_future(asyncio.sleep(seconds) if seconds is not None else asyncio.Event().wait())
    done, pending = await asyncio.wait({eof, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    return sleeper in done


# ------------------------------------------------------------------------------------------------
# POST /auth/api/v2/auth/token
# ------------------------------------------------------------------------------------------------


def _basic(value: str | None) -> tuple[str | None, str | None]:
    if not value or not value.lower().startswith("basic "):
        return None, None
    try:
        raw = base64.b64decode(value[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    if ":" not in raw:
        return None, None
    cid, secret = raw.split(":", 1)
    # RFC 6749 2.3.1: both are form-urlencoded before Basic encoding (oauthlib does this).
    return urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)


def _body_fields(req: HttpRequest) -> tuple[dict[str, Any], str]:
    ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    text = req.body.decode("utf-8", "replace")
    if ctype == "application/json":
        try:
            doc = json.loads(text or "{}")
            return (doc if isinstance(doc, dict) else {}), "json"
        except ValueError:
            return {}, "json (unparseable)"
    if ctype == "application/x-www-form-urlencoded" or (not ctype and "=" in text):
        return dict(urllib.parse.parse_qsl(text, keep_blank_values=True)), "form"
    return {}, ctype or "none"


async def token(req: HttpRequest, reader: asyncio.StreamReader, state: State) -> bytes | None:
    basic_id, basic_secret = _basic(req.header("Authorization"))
    fields, body_kind = _body_fields(req)
    body_id, body_secret = fields.get("client_id"), fields.get("client_secret")
    client_id = basic_id if basic_id is not None else body_id
    secret = basic_secret if basic_id is not None else body_secret
    matched = state.secret_matches(client_id, secret) if client_id is not None else None
    where = [w for w, v in (("basic", basic_id), ("body", body_id)) if v is not None]
    entry = state.record(
        "token",
        method=req.method,
        path=req.path,
        content_type=req.header("Content-Type"),
        body_format=body_kind,
        body_fields=sorted(fields),
        grant_type=fields.get("grant_type"),
        basic_client_id=basic_id,
        body_client_id=body_id,
        credentials_in="+".join(where) or "none",
        client_id=client_id,
        secret_matched=matched,
        accept=req.header("Accept"),
        user_agent=req.header("User-Agent"),
        status=None,
        answered=False,
    )
    script = state.script_for(client_id, None, for_token=True)
    if not await wait_or_eof(reader, script["token_delay"]):
        entry["answered"] = "client gave up"
        return None
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if req.method != "POST":
        status, body = 405, {"error": "invalid_request", "error_description": "use POST"}
        headers["Allow"] = "POST"
    elif script["script"] == "unauthorized":
        status, body = script["status"], script["body"]
    elif fields.get("grant_type") is None:
        status, body = 400, {"error": "invalid_request", "error_description": "missing grant_type"}
    elif fields.get("grant_type") != "client_credentials":
        status, body = 400, {"error": "unsupported_grant_type"}
    elif not matched:
        status, body = 401, dict(DEFAULT_UNAUTHORIZED)
        if basic_id is not None:
            headers["WWW-Authenticate"] = 'Basic realm="taegis"'
    else:
        expires_in = script["token_expires_in"]
        entry["access_token"] = state.issue_token(client_id, expires_in)
        status, body = 200, {"access_token": entry["access_token"], "token_type": "bearer",
                             "expires_in": int(expires_in)}
    entry["status"], entry["answered"] = status, True
    return response_bytes(status, body, headers, close=not req.keep_alive)


# ------------------------------------------------------------------------------------------------
# The admin API (/_xdr/...)
# ------------------------------------------------------------------------------------------------


def _json_body(req: HttpRequest) -> Any:
    if not req.body.strip():
        return {}
    try:
        return json.loads(req.body)
    except ValueError as e:
        raise ScriptError(f"the body is not JSON: {e}")


def admin(req: HttpRequest, state: State) -> tuple[int, Any]:
    path, method = req.path, req.method
    try:
        if path == "/_xdr/health" and method == "GET":
            return 200, {"ok": True}
        if path == "/_xdr/script" and method == "POST":
            script = check_script(_json_body(req))
            state.set_script(script)
            return 200, {"ok": True, "script": script}
        if path == "/_xdr/script" and method == "GET":
            return 200, {"scripts": state.scripts}
        if path == "/_xdr/clients" and method == "POST":
            doc = _json_body(req)
            if not isinstance(doc, dict) or not isinstance(doc.get("client_id"), str) or not isinstance(
                    doc.get("client_secret"), str):
                raise ScriptError('give {"client_id": "...", "client_secret": "..."}')
            state.add_client(doc["client_id"], doc["client_secret"])
            return 200, {"ok": True, "client_id": doc["client_id"]}
        if path == "/_xdr/clients" and method == "GET":
            return 200, {"clients": sorted(state.clients)}
        if path == "/_xdr/requests" and method == "GET":
            return 200, {"requests": state.query_records(req.params)}
        if path == "/_xdr/requests" and method == "DELETE":
            state.records.clear()
            return 200, {"ok": True}
        if path == "/_xdr/reset" and method == "POST":
            doc = _json_body(req)
            cid = doc.get("client_id") if isinstance(doc, dict) else None
            state.reset(cid)
            return 200, {"ok": True}
    except ScriptError as e:
        return 400, {"error": str(e)}
    return 404, {"error": f"no admin endpoint {method} {path}"}
