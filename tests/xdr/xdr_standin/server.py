"""The server: one asyncio TCP listener for the token endpoint, the admin API and the WebSocket,
`port N` / `ready` on stdout, and the parent-process watch (the same contract as the AWS
emulator's tests/emulator/taegis_moto.py, which tests/it/harness.rs relies on)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import traceback
from typing import Any

from . import httpd
from .state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, State
from .ws import Connection

VERBOSE = False


def _log(text: str) -> None:
    if VERBOSE:
        print(f"xdr-standin {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: State) -> None:
    try:
        while True:
            try:
                req = await httpd.read_request(reader)
            except (httpd.BadRequest, ValueError, asyncio.IncompleteReadError) as e:
                writer.write(httpd.response_bytes(400, {"error": f"bad request: {e}"}, close=True))
                return
            if req is None:
                return
            _log(f"{req.method} {req.target}")
            if req.is_upgrade and req.path == "/graphql":
                await Connection(req, reader, writer, state).serve()
                return
            out = await route(req, reader, state)
            if out is None:
                return  # the client went away while the answer was held back
            writer.write(out)
            await writer.drain()
            if not req.keep_alive:
                return
    except (ConnectionError, asyncio.CancelledError):
        pass
    except Exception:  # a stand-in bug: stderr (a harness may discard it), and the connection ends
        traceback.print_exc(file=sys.stderr)
    finally:
        if not writer.is_closing():
            writer.close()


async def route(req: httpd.HttpRequest, reader: asyncio.StreamReader, state: State) -> bytes | None:
    close = not req.keep_alive
    if req.path == httpd.TOKEN_PATH:
        return await httpd.token(req, reader, state)
    if req.path.startswith("/_xdr/"):
        status, body = httpd.admin(req, state)
        return httpd.response_bytes(status, body, close=close)
    if req.path == "/graphql":
        status, body = 400, {"errors": [{"message": "stand-in: only WebSocket upgrades (graphql-ws) are served at "
                                                    "/graphql; HTTP GraphQL is not modelled"}]}
    else:
        status, body = 404, {"error": f"no endpoint {req.method} {req.path}"}
    state.record("http", method=req.method, path=req.target, status=status,
                 upgrade=req.header("Upgrade"), authorization_header=req.header("Authorization") is not None)
    return httpd.response_bytes(status, body, close=close)


# ------------------------------------------------------------------------------------------------
# Startup
# ------------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


async def _watch_parent(pid: int) -> None:
    while True:
        if not _pid_alive(pid):
            os._exit(0)
        await asyncio.sleep(0.5)


async def _serve(args: argparse.Namespace) -> None:
    state = State(args.client_id, args.client_secret)
    server = await asyncio.start_server(lambda r, w: handle(r, w, state), args.host, args.port, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    if args.port == 0:
        print(f"port {port}", flush=True)
    print("ready", flush=True)
    if args.parent_pid is not None:
        asyncio.ensure_future(_watch_parent(args.parent_pid))
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None, description: str | None = None) -> None:
    global VERBOSE
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (printed as 'port N')")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help=f"default {DEFAULT_CLIENT_ID}")
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help=f"default {DEFAULT_CLIENT_SECRET}")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    VERBOSE = args.verbose
    if args.parent_pid is not None and not _pid_alive(args.parent_pid):
        sys.exit(0)

    def stop(signum: int, frame: Any) -> None:
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    asyncio.run(_serve(args))
