#!/usr/bin/env python3
"""A test stand-in for the Secureworks Taegis XDR API: the client-credentials token endpoint and the
`eventQuery` / `eventPage` GraphQL subscriptions over WebSocket (Apollo's legacy graphql-ws
sub-protocol), scripted through an admin API, recording what it received.

    python tests/xdr/standin.py --host 127.0.0.1 --port PORT [--parent-pid PID]
                                [--client-id ID --client-secret SECRET] [--verbose]

With ``--port 0`` it prints ``port N`` (the port the OS picked), then ``ready`` once it listens
(both flushed).  With ``--parent-pid`` it exits by itself within about 0.5 s of that process going
away.  Plain HTTP and ws:// on the one port: a client pointed at http://127.0.0.1:N gets its token
from /auth/api/v2/auth/token and subscribes at ws://127.0.0.1:N/graphql.

Admin endpoints (not Taegis):
    GET    /_xdr/health
    POST   /_xdr/script    {"script": "events"|"none"|"failed"|"unauthorized"|"tenant_refused"|"slow",
                            "client_id": ..., "tenant": ..., options...}
    GET    /_xdr/script
    POST   /_xdr/clients   {"client_id": "...", "client_secret": "..."}
    GET    /_xdr/clients
    GET    /_xdr/requests[?kind=token|connection|subscription|http&client_id=...&tenant=...]
    DELETE /_xdr/requests
    POST   /_xdr/reset     [{"client_id": "..."}]

Everything is described in tests/xdr/README.md (wire shapes, scripts, what is modelled and what
is guessed).  Needs the `websockets` package (tests/emulator/requirements.lock).
"""

from __future__ import annotations

import os
import sys

# The package lives next to this script: importable whatever the working directory.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from xdr_standin.server import main as _serve  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    _serve(argv, description=__doc__)


if __name__ == "__main__":
    main()
