"""Helpers of the self-test: start a stand-in as a harness does, HTTP and WebSocket clients shaped
like the SDKs' (taegis-sdk-python: requests-oauthlib for the token, gql's aiohttp websockets
transport; taegis-sdk-go: gorilla websocket with cookies)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from websockets.sync.client import ClientConnection, connect

from xdr_standin.schema import EVENT_QUERY_DOCUMENT

STANDIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "standin.py")


class CheckFailed(AssertionError):
    pass


def expect(cond: Any, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


class Standin:
    """A stand-in process, started as tests/it/harness.rs starts the AWS emulator."""

    def __init__(self, parent_pid: int | None = None):
        args = [sys.executable, STANDIN, "--host", "127.0.0.1", "--port", "0",
                "--parent-pid", str(parent_pid if parent_pid is not None else os.getpid())]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = 0
        assert self.proc.stdout is not None
        deadline = time.time() + 20
        for line in self.proc.stdout:
            if line.startswith("port "):
                self.port = int(line.split()[1])
            if line.strip() == "ready":
                break
            if time.time() > deadline:
                break
        if not self.port:
            raise RuntimeError("the stand-in did not print its port")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 5) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed: Any = json.loads(data)
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
    finally:
        conn.close()


class Client:
    """One check's API client: its own client id and secret, tenant, token and admin calls."""

    def __init__(self, port: int, name: str):
        self.port = port
        self.client_id = f"{name}-{uuid.uuid4().hex[:8]}"
        self.secret = f"secret-{uuid.uuid4().hex}"
        self.tenant = str(10000 + int(uuid.uuid4().int % 80000))
        status, _, _ = self.admin("POST", "/_xdr/clients", {"client_id": self.client_id, "client_secret": self.secret})
        expect(status == 200, "register the client")

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        return request(self.port, method, path, data, {"Content-Type": "application/json"} if data else {})

    def script(self, **doc: Any) -> None:
        doc.setdefault("client_id", self.client_id)
        status, _, body = self.admin("POST", "/_xdr/script", doc)
        expect(status == 200, f"script accepted: {body}")

    def records(self, kind: str) -> list[dict[str, Any]]:
        _, _, body = self.admin("GET", f"/_xdr/requests?kind={kind}&client_id={self.client_id}")
        return body["requests"]

    def token_request(self, secret: str | None = None, body: bytes = b"grant_type=client_credentials",
                      timeout: float = 5) -> tuple[int, dict[str, str], Any]:
        """As requests-oauthlib's fetch_token sends it (authentication.py get_token_by_oauth)."""
        basic = base64.b64encode(f"{self.client_id}:{secret or self.secret}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json",
                   "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
        return request(self.port, "POST", "/auth/api/v2/auth/token", body, headers, timeout)

    def token(self) -> str:
        status, _, body = self.token_request()
        expect(status == 200, f"token: {status} {body}")
        return body["access_token"]

    def ws(self, style: str = "python", token: str | None = None, tenant: str | None = None,
           **kwargs: Any) -> ClientConnection:
        """A WebSocket as the Python SDK opens it (headers and sub-protocols), as the Go SDK can
        (cookies, no sub-protocol) or bare (nothing)."""
        token = token if token is not None else self.token()
        tenant = tenant or self.tenant
        url = f"ws://127.0.0.1:{self.port}/graphql"
        if style == "python":
            return connect(url, subprotocols=["graphql-ws", f"access-token-{token}", f"x-tenant-context-{tenant}"],
                           additional_headers={"Authorization": f"Bearer {token}", "X-Tenant-Context": tenant},
                           open_timeout=5, **kwargs)
        if style == "go":
            return connect(url, additional_headers={"Cookie": f"access_token={token}; x-tenant-context={tenant}"},
                           open_timeout=5, **kwargs)
        return connect(url, open_timeout=5, **kwargs)


def send(ws: ClientConnection, msg: dict[str, Any]) -> None:
    ws.send(json.dumps(msg))


def recv(ws: ClientConnection, timeout: float = 5, keep_ka: bool = False) -> dict[str, Any] | None:
    """The next message (keep-alives skipped unless keep_ka); None when `timeout` passes first."""
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        try:
            msg = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            return None
        if msg.get("type") != "ka" or keep_ka:
            return msg


def init(ws: ClientConnection, payload: dict[str, Any] | None = None) -> dict[str, Any] | None:
    send(ws, {"type": "connection_init", "payload": payload or {}})
    return recv(ws)


def start(ws: ClientConnection, op_id: str, variables: dict[str, Any], document: str = EVENT_QUERY_DOCUMENT) -> None:
    send(ws, {"type": "start", "id": op_id, "payload": {"query": document, "variables": variables}})


def until_complete(ws: ClientConnection, op_id: str, timeout: float = 5) -> list[dict[str, Any]]:
    """Every message for `op_id` up to and including its `complete` (or `error`)."""
    out: list[dict[str, Any]] = []
    while True:
        msg = recv(ws, timeout)
        expect(msg is not None, f"a message for operation {op_id} within {timeout} s (got so far {out})")
        assert msg is not None
        if msg.get("id") == op_id:
            out.append(msg)
            if msg["type"] in ("complete", "error"):
                return out


def results(msgs: list[dict[str, Any]], field: str = "eventQuery") -> list[dict[str, Any]]:
    return [m["payload"]["data"][field] for m in msgs if m["type"] == "data" and "data" in m["payload"]]


def query_vars(**options: Any) -> dict[str, Any]:
    return {"query": "FROM cloudaudit EARLIEST=-1h", "metadata": {"callerName": "selftest"},
            "options": options or None}
