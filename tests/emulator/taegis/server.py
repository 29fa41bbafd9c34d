"""The server: moto's werkzeug server with the TaegisApp, `port N` and `ready` on stdout, and the
parent-process watch."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import urllib.request
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from .behaviour import UNPROCESSED_FAULTS
from .faults import _predraw_fault, _predraw_refusal
from .app import _TimedWriter, TaegisApp


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------


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


def _watch_parent(pid: int) -> None:
    while True:
        if not _pid_alive(pid):
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None, description: str | None = None) -> None:
    """Serve until killed (or the parent process is gone).  `description`: the --help text
    (taegis_moto.py's docstring)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (printed as 'port N')")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
    args = parser.parse_args(argv)

    if args.parent_pid is not None:
        if not _pid_alive(args.parent_pid):
            sys.exit(0)
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()

    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        def parse_request(self) -> bool:
            # Bench: the request arrived (its request line has been read).
            self._taegis_arrived = time.time()
            self._taegis_fault = None
            self._taegis_no_continue = False
            return super().parse_request()

        def handle_expect_100(self) -> bool:
            # "Expect: 100-continue" is answered before the app runs.  A request that is to be
            # dropped must not get even that, and AWS answers a throttled, failed or refused
            # request at once instead of "100 Continue" (the client then never sends the body),
            # so the fault is drawn here and handed to the app.
            try:
                refused = _predraw_refusal(self.path, self.headers)
            except Exception:
                refused = False
            if refused:
                self._taegis_no_continue = True
                del self.headers["Expect"]
                return True
            try:
                self._taegis_fault = _predraw_fault(self.path, self.headers)
            except Exception:
                self._taegis_fault = None
            if self._taegis_fault is not None and self._taegis_fault[1] in UNPROCESSED_FAULTS:
                self._taegis_no_continue = True
                del self.headers["Expect"]  # werkzeug would send another "100 Continue"
                return True
            return super().handle_expect_100()

        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            environ["taegis.arrived"] = getattr(self, "_taegis_arrived", None)
            if not isinstance(self.wfile, _TimedWriter):
                self.wfile = _TimedWriter(self.wfile)
            environ["taegis.writer"] = self.wfile
            if getattr(self, "_taegis_fault", None) is not None:
                environ["taegis.fault"] = self._taegis_fault
            if getattr(self, "_taegis_no_continue", False):
                environ["taegis.no_continue"] = True
            return environ

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            # Quiet by default: a test harness that never drains stderr must not block us.
            if args.verbose:
                super().log_request(code, size)

    app = TaegisApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    port = server.server_address[1]
    # Custom resources give their Lambda a callback URL built from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    def stop(signum: int, frame: Any) -> None:
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    threading.Thread(target=server.serve_forever, daemon=True).start()
    if args.port == 0:
        print(f"port {port}", flush=True)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{port}/moto-api/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    deadline = time.time() + 60
    while True:
        try:
            with opener.open(url, timeout=2) as resp:
                resp.read()
            break
        except Exception:
            if time.time() > deadline:
                print("taegis_moto: server did not answer within 60 s", file=sys.stderr)
                os._exit(1)
            time.sleep(0.05)
    print("ready", flush=True)
    while True:
        time.sleep(3600)
