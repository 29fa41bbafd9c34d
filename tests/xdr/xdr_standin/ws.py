"""`/graphql` over WebSocket: Apollo's legacy `graphql-ws` sub-protocol (subscriptions-transport-ws),
the one both SDKs speak (taegis-sdk-go graphql/websocket.go lists its message types; the Python SDK's
gql AIOHTTPWebsocketsTransport offers "graphql-ws" first, service_core.py ws_client).

The WebSocket framing is websockets' sans-I/O ServerProtocol, fed from the same asyncio stream as
the plain HTTP endpoints (the token endpoint and the admin API share the port).

Where the token and tenant come from (all recorded, see README):
  token:  `Authorization: Bearer T` header (service headers, services/__init__.py), sub-protocol
          `access-token-T` (service_core.py ws_client), cookie `access_token=T`
          (taegis-sdk-go graphql/subscription.go SubscriptionWithToken), or the connection_init
          payload (`Authorization`/`authorization`: "Bearer T", or `access_token`).
  tenant: `X-Tenant-Context` header, sub-protocol `x-tenant-context-ID`, cookie `x-tenant-context`,
          or the connection_init payload (`X-Tenant-Context`/`x-tenant-context`/`tenantId`).
"""

from __future__ import annotations

import asyncio
import http.cookies
import json
import sys
import traceback
from typing import Any

from websockets.frames import Opcode
from websockets.http11 import Request as WsRequest
from websockets.server import ServerProtocol

from . import events, gql
from .httpd import HttpRequest, response_bytes
from .state import State

SUBPROTOCOL = "graphql-ws"


def _select(protocol: ServerProtocol, offered: Any) -> Any:
    # The server picks graphql-ws when offered (what subscriptions-transport-ws requires); a
    # client that offers nothing (the Go SDK) is served without a Sec-WebSocket-Protocol answer.
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def _offered(req: HttpRequest) -> list[str]:
    return [p.strip() for v in req.header_all("Sec-WebSocket-Protocol") for p in v.split(",") if p.strip()]


def _cookies(req: HttpRequest) -> dict[str, str]:
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    for v in req.header_all("Cookie"):
        try:
            jar.load(v)
        except http.cookies.CookieError:
            pass
    return {k: m.value for k, m in jar.items()}


def _bearer(value: Any) -> str | None:
    if isinstance(value, str) and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


class Connection:
    def __init__(self, req: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: State):
        self.req, self.reader, self.writer, self.state = req, reader, writer, state
        self.proto = ServerProtocol(select_subprotocol=_select)
        self.ops: dict[str, asyncio.Task] = {}
        self.init_received = False
        self.acked = asyncio.Event()
        self.closed = False
        self.keepalive: asyncio.Task | None = None
        offered = _offered(req)
        cookies = _cookies(req)
        self.tokens = {
            "header": _bearer(req.header("Authorization")),
            "subprotocol": next((p[len("access-token-"):] for p in offered if p.startswith("access-token-")), None),
            "cookie": cookies.get("access_token"),
        }
        self.tenants = {
            "header": req.header("X-Tenant-Context"),
            "subprotocol": next((p[len("x-tenant-context-"):] for p in offered if p.startswith("x-tenant-context-")), None),
            "cookie": cookies.get("x-tenant-context"),
        }
        self.token_source = next((k for k, v in self.tokens.items() if v), None)
        self.token_status, self.client_id = state.token_status(self.tokens.get(self.token_source or "", None))
        state.connections += 1
        self.number = state.connections
        self.entry = state.record(
            "connection",
            connection=self.number,
            path=req.target,
            status=None,
            subprotocols_offered=offered,
            subprotocol_selected=None,
            authorization_header=req.header("Authorization") is not None,
            token_source=self.token_source,
            token_status=self.token_status,
            client_id=self.client_id,
            tenant=self.tenant,
            tenant_header=self.tenants["header"],
            tenant_subprotocol=self.tenants["subprotocol"],
            tenant_cookie=self.tenants["cookie"],
            tenant_init_payload=None,
            cookies=sorted(cookies),
            user_agent=req.header("User-Agent"),
            origin=req.header("Origin"),
            init_payload_keys=None,
            closed_by=None,
        )

    @property
    def tenant(self) -> str | None:
        return next((v for v in self.tenants.values() if v), None)

    # -- sending ------------------------------------------------------------------------------

    def flush(self) -> None:
        for chunk in self.proto.data_to_send():
            if chunk:
                self.writer.write(chunk)
            elif not self.writer.is_closing():
                self.writer.close()

    def send(self, msg: dict[str, Any]) -> None:
        if self.closed or self.proto.state.name != "OPEN":
            return
        self.proto.send_text(json.dumps(msg).encode())
        self.flush()

    def close(self, code: int | None, reason: str = "") -> None:
        if self.proto.state.name == "OPEN":
            if code is None:
                self.proto.send_close()
            else:
                self.proto.send_close(code, reason)
            self.flush()
        if self.entry["closed_by"] is None:
            self.entry["closed_by"], self.entry["close_code"] = "server", code

    # -- the connection -----------------------------------------------------------------------

    async def serve(self) -> None:
        if self.token_source and self.token_status != "valid":
            # A token that is there but not good: refused before the upgrade (see README: a guess).
            self.entry["status"] = 401
            self.writer.write(response_bytes(401, {"message": f"Unauthorized: {self.token_status} access token"},
                                             close=True))
            self.closed = True
            return
        self.proto.receive_data(self.req.raw_head)
        request = next((e for e in self.proto.events_received() if isinstance(e, WsRequest)), None)
        if request is None:  # not a request websockets can parse: it has queued a 400 already
            self.entry["status"] = 400
            self.flush()
            self.closed = True
            return
        response = self.proto.accept(request)
        self.proto.send_response(response)
        self.entry["status"] = response.status_code
        self.entry["subprotocol_selected"] = response.headers.get("Sec-WebSocket-Protocol")
        self.flush()
        if response.status_code != 101:
            self.closed = True
            return
        try:
            await self._read_loop()
        finally:
            self.closed = True
            for task in list(self.ops.values()) + ([self.keepalive] if self.keepalive else []):
                task.cancel()
            if not self.writer.is_closing():
                self.writer.close()

    async def _read_loop(self) -> None:
        parts: list[bytes] = []
        while True:
            data = await self.reader.read(65536)
            if data:
                self.proto.receive_data(data)
            else:
                self.proto.receive_eof()
            for frame in self.proto.events_received():
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                    parts.append(frame.data)
                    if frame.fin:
                        text, parts = b"".join(parts).decode("utf-8", "replace"), []
                        await self.on_message(text)
                elif frame.opcode == Opcode.CLOSE and self.entry["closed_by"] is None:
                    self.entry["closed_by"] = "client"
                    self.entry["close_code"] = self.proto.close_rcvd.code if self.proto.close_rcvd else None
            self.flush()
            if not data or self.proto.state.name == "CLOSED":
                if self.entry["closed_by"] is None:
                    self.entry["closed_by"] = "client (no close frame)"
                return

    async def on_message(self, text: str) -> None:
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict):
                raise ValueError
        except ValueError:
            # subscriptions-transport-ws answers what JSON.parse threw as a connection_error (and
            # keeps the connection); the wording is Node's.
            first = text.strip()[:1] or "end of input"
            self.send({"type": "connection_error",
                       "payload": {"message": f"Unexpected token {first} in JSON at position 0"}})
            return
        kind, op_id = msg.get("type"), msg.get("id")
        if kind == "connection_init":
            await self.on_init(msg.get("payload"))
        elif kind == "start":
            # subscriptions-transport-ws serves a start that comes without connection_init; the
            # stand-in does so when the upgrade carried a valid token.
            if not self.init_received and self.token_status != "valid":
                self.send({"type": "error", "id": op_id,
                           "payload": {"message": f"Unauthorized: {self.token_status} access token"}})
                return
            if op_id in self.ops:
                self.ops.pop(op_id).cancel()
            self.ops[op_id] = asyncio.ensure_future(self.run_op(op_id, msg.get("payload")))
        elif kind == "stop":
            task = self.ops.pop(op_id, None)
            if task is not None:
                task.cancel()
                self.send({"type": "complete", "id": op_id})
        elif kind == "connection_terminate":
            self.entry["closed_by"] = "client (connection_terminate)"
            self.close(None)  # socket.close(): a close frame without a status code
        else:
            self.send({"type": "error", "id": op_id, "payload": {"message": "Invalid message type!"}})

    async def on_init(self, payload: Any) -> None:
        payload = payload if isinstance(payload, dict) else {}
        self.init_received = True
        self.entry["init_payload_keys"] = sorted(payload)
        if not self.token_source:
            tok = _bearer(payload.get("Authorization") or payload.get("authorization")) or payload.get("access_token")
            if tok:
                self.tokens["init_payload"] = tok
                self.token_source = "init_payload"
                self.token_status, self.client_id = self.state.token_status(tok)
        tenant = payload.get("X-Tenant-Context") or payload.get("x-tenant-context") or payload.get("tenantId")
        if tenant:
            self.tenants["init_payload"] = str(tenant)
            self.entry["tenant_init_payload"] = str(tenant)
        self.entry.update(token_source=self.token_source, token_status=self.token_status,
                          client_id=self.client_id, tenant=self.tenant)
        if self.token_status != "valid":
            self.send({"type": "connection_error",
                       "payload": {"message": f"Unauthorized: {self.token_status} access token"}})
            await asyncio.sleep(0.01)
            self.close(1011)
            return
        script = self.state.script_for(self.client_id, self.tenant)
        if script["ack_delay"] is None:
            return  # never acknowledged; starts wait for the ack (as they wait on onConnect there)
        if self.keepalive is not None:  # a second connection_init: acknowledged again, one keep-alive loop
            self.keepalive.cancel()
        self.keepalive = asyncio.ensure_future(self._ack(script["ack_delay"], script["keepalive_seconds"]))

    async def _ack(self, delay: float, every: float) -> None:
        """connection_ack after `delay`, a `ka` at once, then one every `every` seconds."""
        if delay:
            await asyncio.sleep(delay)
        self.send({"type": "connection_ack"})
        self.send({"type": "ka"})
        self.acked.set()
        while every and every > 0 and not self.closed:
            await asyncio.sleep(every)
            self.send({"type": "ka"})

    # -- one subscription ---------------------------------------------------------------------

    async def run_op(self, op_id: Any, payload: Any) -> None:
        payload = payload if isinstance(payload, dict) else {}
        entry = self.state.record(
            "subscription",
            connection=self.number,
            id=op_id,
            field=None,
            operation_name=payload.get("operationName"),
            query=payload.get("query"),
            variables=payload.get("variables"),
            extensions=payload.get("extensions"),
            client_id=self.client_id,
            tenant=self.tenant,
            tenant_header=self.tenants["header"],
            tenant_subprotocol=self.tenants["subprotocol"],
            tenant_cookie=self.tenants["cookie"],
            tenant_init_payload=self.tenants.get("init_payload"),
            subprotocols_offered=self.entry["subprotocols_offered"],
            subprotocol_selected=self.entry["subprotocol_selected"],
            authorization_header=self.entry["authorization_header"],
            token_source=self.token_source,
            token_status=self.token_status,
            script=None,
            outcome="running",
            messages=[],
        )
        try:
            if self.init_received and not self.acked.is_set():
                await self.acked.wait()
            await self._run_op(op_id, payload, entry)
        except asyncio.CancelledError:
            if entry["outcome"] in ("running", "waiting (never answers)"):
                entry["outcome"] = "stopped" if not self.closed else "connection closed"
            raise
        except Exception as e:  # a stand-in bug: say so rather than leave the client waiting
            entry["outcome"] = f"stand-in error: {e!r}"
            self._send_op(entry, {"type": "error", "id": op_id, "payload": {"message": f"stand-in error: {e!r}"}})
            traceback.print_exc(file=sys.stderr)
        finally:
            if self.ops.get(op_id) is asyncio.current_task():
                del self.ops[op_id]

    def _send_op(self, entry: dict[str, Any], msg: dict[str, Any]) -> None:
        entry["messages"].append(msg["type"])
        self.send(msg)

    async def _run_op(self, op_id: Any, payload: dict[str, Any], entry: dict[str, Any]) -> None:
        try:
            req = gql.parse_request(payload.get("query"), payload.get("variables"), payload.get("operationName"))
        except gql.SyntaxErr as e:
            # subscriptions-transport-ws sends what its try/catch caught as an `error` message.
            entry["outcome"] = "syntax error"
            self._send_op(entry, {"type": "error", "id": op_id, "payload": {"message": str(e)}})
            return
        except gql.GraphQLErrors as e:
            # Validation and variable errors: a result with `errors` only, then `complete`.
            entry["outcome"] = "invalid"
            self._send_op(entry, {"type": "data", "id": op_id, "payload": {"errors": e.errors}})
            self._send_op(entry, {"type": "complete", "id": op_id})
            return
        entry["field"] = req.field
        script = self.state.script_for(self.client_id, self.tenant)
        entry["script"] = script["script"]
        if script["script"] == "tenant_refused":
            entry["outcome"] = "refused"
            text = script["message"].replace("{tenant}", str(self.tenant))
            if script["as"] == "error":
                self._send_op(entry, {"type": "error", "id": op_id, "payload": {"message": text}})
                return
            err = gql.error(text, req.loc, [req.key])
            err["extensions"] = {"code": script["code"]}
            self._send_op(entry, {"type": "data", "id": op_id, "payload": {"errors": [err]}})
            self._send_op(entry, {"type": "complete", "id": op_id})
            return
        delay = script["subscription_delay"]
        if delay is None:
            entry["outcome"] = "waiting (never answers)"
            await asyncio.Event().wait()
        elif delay:
            await asyncio.sleep(delay)
        if req.field == "eventQuery":
            run = events.new_run(req.args, script, self.tenant, self.client_id)
            self.state.runs[run.id] = run
            page = 1
        else:
            found = events.parse_page_id(req.args.get("id"))
            run = self.state.runs.get(found[0]) if found else None
            if run is None or run.tenant != self.tenant or not 1 <= found[1] <= run.pages:
                entry["outcome"] = "invalid page"
                err = gql.error("invalid page identifier", req.loc, [req.key])
                self._send_op(entry, {"type": "data", "id": op_id, "payload": {"errors": [err]}})
                self._send_op(entry, {"type": "complete", "id": op_id})
                return
            page = found[1]
        entry["query_id"], entry["page"] = run.id, page
        msgs = events.page_messages(run, page)
        for i, obj in enumerate(msgs):
            if i:
                await asyncio.sleep(script["interval_seconds"])
            data = {req.key: gql.project(obj, req.selections, "EventQueryResults")}
            self._send_op(entry, {"type": "data", "id": op_id, "payload": {"data": data}})
            if obj["result"] and obj["result"]["rows"]:
                entry["rows_sent"] = entry.get("rows_sent", 0) + len(obj["result"]["rows"])
        self._send_op(entry, {"type": "complete", "id": op_id})
        entry["outcome"] = "completed" if script["script"] != "failed" else "failed"
