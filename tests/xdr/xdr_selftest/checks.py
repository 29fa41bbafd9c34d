"""The self-test's checks: one function per behaviour, each taking the stand-in's port and using its
own API client (so they run in parallel).  The first docstring line is what selftest.py prints."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus

from xdr_standin.schema import EVENT_PAGE_DOCUMENT, EVENT_QUERY_DOCUMENT, EVENT_QUERY_DOCUMENT_SHA256

from .helpers import (Client, Standin, expect, init, query_vars, recv, request, results, send, start,
                      until_complete)


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ------------------------------------------------------------------------------------------------
# Token
# ------------------------------------------------------------------------------------------------


def token_ok(port: int) -> None:
    """token: Basic + grant_type=client_credentials -> 200 access_token (JWT), recorded without the secret"""
    c = Client(port, "token-ok")
    status, headers, body = c.token_request()
    expect(status == 200, f"200, got {status} {body}")
    expect(headers.get("content-type") == "application/json", f"JSON answer: {headers}")
    expect(set(body) == {"access_token", "token_type", "expires_in"}, f"fields: {body}")
    expect(body["token_type"] == "bearer" and body["expires_in"] == 3600, f"type and lifetime: {body}")
    claims = _claims(body["access_token"])
    expect(claims["sub"] == c.client_id and claims["exp"] > time.time() + 3000, f"claims: {claims}")
    [rec] = c.records("token")
    expect(rec["grant_type"] == "client_credentials" and rec["basic_client_id"] == c.client_id, f"record: {rec}")
    expect(rec["secret_matched"] is True and rec["credentials_in"] == "basic" and rec["status"] == 200, f"record: {rec}")
    expect(c.secret not in json.dumps(c.admin("GET", "/_xdr/requests")[2]), "the secret is nowhere in the record")


def token_wrong_secret(port: int) -> None:
    """token: wrong secret -> 401 {"error": "invalid_client"}, secret_matched false"""
    c = Client(port, "token-wrong")
    status, headers, body = c.token_request(secret="not-the-secret")
    expect(status == 401 and body.get("error") == "invalid_client", f"401 invalid_client, got {status} {body}")
    expect("basic" in headers.get("www-authenticate", "").lower(), f"WWW-Authenticate: {headers}")
    [rec] = c.records("token")
    expect(rec["secret_matched"] is False and rec["status"] == 401, f"record: {rec}")
    expect("not-the-secret" not in json.dumps(rec), "the wrong secret is not recorded either")


def token_unauthorized_script(port: int) -> None:
    """script unauthorized: the right secret gets 401 too; other clients are unaffected"""
    c, other = Client(port, "token-unauth"), Client(port, "token-unauth-other")
    c.script(script="unauthorized")
    status, _, body = c.token_request()
    expect(status == 401 and body == {"error": "invalid_client", "error_description": "client authentication failed"},
           f"401, got {status} {body}")
    expect(c.records("token")[0]["secret_matched"] is True, "the record still says the secret matched")
    expect(other.token_request()[0] == 200, "another client still gets its token")
    c.script(script="unauthorized", status=403, body={"error": "access_denied"})
    status, _, body = c.token_request()
    expect(status == 403 and body == {"error": "access_denied"}, f"scripted status and body, got {status} {body}")


def token_bad_grant(port: int) -> None:
    """token: no grant_type -> 400 invalid_request; another grant -> 400 unsupported_grant_type; JSON body accepted"""
    c = Client(port, "token-grant")
    status, _, body = c.token_request(body=b"")
    expect(status == 400 and body["error"] == "invalid_request", f"got {status} {body}")
    status, _, body = c.token_request(body=b"grant_type=password")
    expect(status == 400 and body["error"] == "unsupported_grant_type", f"got {status} {body}")
    doc = json.dumps({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.secret})
    status, _, body = request(port, "POST", "/auth/api/v2/auth/token", doc.encode(), {"Content-Type": "application/json"})
    expect(status == 200, f"credentials in a JSON body: {status} {body}")
    rec = c.records("token")[-1]
    expect(rec["credentials_in"] == "body" and rec["body_format"] == "json", f"recorded as such: {rec}")


def token_slow(port: int) -> None:
    """script slow target=token: answered after N s; seconds=null never answers (the client times out)"""
    c = Client(port, "token-slow")
    c.script(script="slow", target="token", seconds=0.6)
    t0 = time.time()
    status, _, _ = c.token_request()
    expect(status == 200 and time.time() - t0 >= 0.55, f"200 after 0.6 s, got {status} after {time.time() - t0:.2f}")
    c.script(script="slow", target="token", seconds=None)
    try:
        c.token_request(timeout=0.4)
        expect(False, "no answer")
    except TimeoutError:
        pass
    time.sleep(0.1)
    rec = c.records("token")[-1]
    expect(rec["answered"] == "client gave up" and rec["status"] is None, f"record: {rec}")


# ------------------------------------------------------------------------------------------------
# eventQuery
# ------------------------------------------------------------------------------------------------


def events_python_sdk(port: int) -> None:
    """events: the Python SDK's upgrade, RUNNING, rows, SUCCEEDED, complete; the full request recorded"""
    c = Client(port, "events")
    c.script(script="events", rows=4)
    with c.ws("python") as ws:
        expect(ws.subprotocol == "graphql-ws", f"graphql-ws selected, got {ws.subprotocol}")
        send(ws, {"type": "connection_init", "payload": {}})
        ack, ka = recv(ws, keep_ka=True), recv(ws, keep_ka=True)
        expect(ack == {"type": "connection_ack"} and ka == {"type": "ka"}, f"ack then ka, got {ack} {ka}")
        start(ws, "1", query_vars(pageSize=1000))
        msgs = until_complete(ws, "1")
    expect([m["type"] for m in msgs] == ["data", "data", "data", "complete"], f"types: {[m['type'] for m in msgs]}")
    running, page, final = results(msgs)
    expect(running["query"]["status"] == "RUNNING" and running["result"] is None, f"first: {running}")
    expect(set(page) == {"query", "result", "next", "prev"}, f"the document's fields only: {sorted(page)}")
    rows = page["result"]["rows"]
    expect(page["result"]["status"] == "SUCCEEDED" and len(rows) == 4 and page["next"] is None, f"page: {page}")
    times = [r["event_time_usec"] for r in rows]
    expect(times == sorted(times, reverse=True) and all(isinstance(t, int) for t in times), f"newest first: {times}")
    expect(abs(times[0] / 1e6 - (time.time() - 60)) < 5, "the newest row is about 60 s old")
    expect(all(r["tenant_id"] == c.tenant for r in rows), "rows carry the tenant")
    expect(json.loads(rows[0]["original_data"])["recipientAccountId"] == "123456789012", "original_data is CloudTrail JSON")
    expect(page["result"]["progress"] == {"totalRows": 4, "totalRowsIsLowerBound": False, "resultsTruncated": False},
           f"progress: {page['result']['progress']}")
    expect(final["query"]["status"] == "SUCCEEDED" and final["result"] is None, f"closing message: {final}")
    expect(final["query"]["reasons"][0]["status"] == "SUCCEEDED", f"reasons: {final['query']['reasons']}")
    [sub] = c.records("subscription")
    expect(sub["query"] == EVENT_QUERY_DOCUMENT and sub["variables"] == query_vars(pageSize=1000), "document and variables")
    expect(sub["tenant_header"] == c.tenant and sub["tenant_subprotocol"] == c.tenant, f"tenant: {sub}")
    expect(sub["authorization_header"] is True and sub["token_source"] == "header", f"token: {sub}")
    expect(sub["subprotocols_offered"][0] == "graphql-ws" and sub["subprotocol_selected"] == "graphql-ws", f"{sub}")
    expect(sub["outcome"] == "completed" and sub["rows_sent"] == 4 and sub["field"] == "eventQuery", f"{sub}")


def events_go_sdk(port: int) -> None:
    """events the Go SDK's way: cookies, no sub-protocol offered, no Sec-WebSocket-Protocol answered"""
    c = Client(port, "events-go")
    with c.ws("go") as ws:
        expect(ws.subprotocol is None, f"no sub-protocol, got {ws.subprotocol}")
        expect(init(ws) == {"type": "connection_ack"}, "ack")
        start(ws, "1", {"query": "FROM cloudaudit", "metadata": None, "options": None})
        msgs = until_complete(ws, "1")
    expect(len(results(msgs)[1]["result"]["rows"]) == 3, "the default script: 3 rows")
    [sub] = c.records("subscription")
    expect(sub["token_source"] == "cookie" and sub["tenant_cookie"] == c.tenant and not sub["authorization_header"],
           f"record: {sub}")


def events_paging(port: int) -> None:
    """events with page_size: `next` on the result message, then eventPage(id) per page, `prev` back"""
    c = Client(port, "paging")
    c.script(script="events", rows=5, page_size=2, running=0)
    seen: list[dict[str, Any]] = []
    with c.ws("python") as ws:
        init(ws)
        start(ws, "q", query_vars())
        page = [r for r in results(until_complete(ws, "q")) if r["result"]][0]
        seen.append(page)
        n = 0
        while page["next"]:
            n += 1
            start(ws, f"p{n}", {"id": page["next"]}, EVENT_PAGE_DOCUMENT)
            page = [r for r in results(until_complete(ws, f"p{n}"), "eventPage") if r["result"]][0]
            seen.append(page)
        start(ws, "bad", {"id": "not-a-page"}, EVENT_PAGE_DOCUMENT)
        bad = until_complete(ws, "bad")
    expect([len(p["result"]["rows"]) for p in seen] == [2, 2, 1], f"pages: {[len(p['result']['rows']) for p in seen]}")
    expect(seen[0]["prev"] is None and seen[1]["prev"] is not None, "prev")
    times = [r["event_time_usec"] for p in seen for r in p["result"]["rows"]]
    expect(times == sorted(times, reverse=True) and len(set(times)) == 5, "five rows, newest first, across pages")
    expect(bad[0]["payload"]["errors"][0]["message"] == "invalid page identifier" and bad[-1]["type"] == "complete",
           f"unknown page: {bad}")


def events_options(port: int) -> None:
    """events: timestampAscending orders oldest first; maxRows truncates (resultsTruncated); row overrides"""
    c = Client(port, "options")
    c.script(script="events", rows=6, row={"event_name": "StopLogging"}, newest_age_seconds=3600)
    with c.ws("python") as ws:
        init(ws)
        start(ws, "1", query_vars(timestampAscending=True, maxRows=4))
        page = [r for r in results(until_complete(ws, "1")) if r["result"]][0]
    rows = page["result"]["rows"]
    times = [r["event_time_usec"] for r in rows]
    expect(len(rows) == 4 and times == sorted(times), f"4 rows, oldest first: {times}")
    expect(page["result"]["progress"]["resultsTruncated"] is True, "truncated")
    expect(all(r["event_name"] == "StopLogging" for r in rows), "row override")
    expect(abs(max(times) / 1e6 - (time.time() - 3600)) < 5, "newest_age_seconds")


def none_script(port: int) -> None:
    """script none: a result with rows [] then SUCCEEDED, complete"""
    c = Client(port, "none")
    c.script(script="none")
    with c.ws("python") as ws:
        init(ws)
        start(ws, "1", query_vars())
        res = results(until_complete(ws, "1"))
    expect([r["query"]["status"] for r in res] == ["RUNNING", "RUNNING", "SUCCEEDED"], f"statuses: {res}")
    expect(res[1]["result"]["rows"] == [] and res[1]["result"]["progress"]["totalRows"] == 0, f"empty: {res[1]}")
    expect(res[2]["result"] is None, "closing message")


def failed_script(port: int) -> None:
    """script failed: RUNNING then query.status FAILED with the reason in reasons[], no rows"""
    c = Client(port, "failed")
    c.script(script="failed", reason="search backend timed out", running=2)
    with c.ws("python") as ws:
        init(ws)
        start(ws, "1", query_vars())
        msgs = until_complete(ws, "1")
    res = results(msgs)
    expect([r["query"]["status"] for r in res] == ["RUNNING", "RUNNING", "FAILED"], f"statuses: {res}")
    expect(all(r["result"] is None for r in res), "no result carries rows")
    reason = res[-1]["query"]["reasons"][0]
    expect(reason["status"] == "FAILED" and reason["reason"] == "search backend timed out", f"reason: {reason}")
    expect(msgs[-1]["type"] == "complete" and c.records("subscription")[0]["outcome"] == "failed", "complete, recorded")


def tenant_refused(port: int) -> None:
    """script tenant_refused: a data message with errors (path, extensions.code) + complete; as=error; other tenants fine"""
    c = Client(port, "tenant")
    c.script(script="tenant_refused", tenant=c.tenant)
    with c.ws("python") as ws:
        init(ws)
        start(ws, "1", query_vars())
        msgs = until_complete(ws, "1")
        expect([m["type"] for m in msgs] == ["data", "complete"], f"types: {msgs}")
        err = msgs[0]["payload"]["errors"][0]
        expect("data" not in msgs[0]["payload"], "no data beside the errors")
        expect(err["path"] == ["eventQuery"] and err["extensions"]["code"] == "FORBIDDEN", f"error: {err}")
        expect(c.tenant in err["message"] and err["locations"][0]["line"] == 3, f"error: {err}")
    with c.ws("python", tenant="99999999") as ws:
        init(ws)
        start(ws, "2", query_vars())
        expect(until_complete(ws, "2")[-2]["payload"]["data"]["eventQuery"]["query"]["status"] == "SUCCEEDED",
               "another tenant is served")
    c.script(script="tenant_refused", tenant=c.tenant, **{"as": "error"}, message="access denied")
    with c.ws("python") as ws:
        init(ws)
        start(ws, "3", query_vars())
        msgs = until_complete(ws, "3")
        expect(msgs == [{"type": "error", "id": "3", "payload": {"message": "access denied"}}], f"error: {msgs}")
    outcomes = [r["outcome"] for r in c.records("subscription")]
    expect(outcomes == ["refused", "completed", "refused"], f"recorded: {outcomes}")


def subscription_slow(port: int) -> None:
    """script slow: subscription answers after N s; never: only ka keep-alives until stop -> complete; ack never"""
    c = Client(port, "sub-slow")
    c.script(script="slow", target="subscription", seconds=0.5, keepalive_seconds=0.1)
    with c.ws("python") as ws:
        init(ws)
        t0 = time.time()
        start(ws, "1", query_vars())
        msgs = until_complete(ws, "1")
        expect(time.time() - t0 >= 0.45 and len(results(msgs)) == 3, f"after 0.5 s: {time.time() - t0:.2f}")
    c.script(script="slow", target="subscription", seconds=None, keepalive_seconds=0.1)
    with c.ws("python") as ws:
        init(ws)
        start(ws, "2", query_vars())
        kas = [recv(ws, timeout=0.5, keep_ka=True) for _ in range(3)]
        expect(all(m == {"type": "ka"} for m in kas), f"only keep-alives: {kas}")
        send(ws, {"type": "stop", "id": "2"})
        expect(recv(ws) == {"type": "complete", "id": "2"}, "stop -> complete")
    c.script(script="slow", target="ack", seconds=None, keepalive_seconds=0)
    with c.ws("python") as ws:
        send(ws, {"type": "connection_init", "payload": {}})
        start(ws, "3", query_vars())  # the Go SDK does not wait for the ack before its start
        expect(recv(ws, timeout=0.4, keep_ka=True) is None, "no connection_ack, and the start waits for it")
    c.script(script="slow", target="ack", seconds=0.3, keepalive_seconds=0)
    with c.ws("python") as ws:
        send(ws, {"type": "connection_init", "payload": {}})
        start(ws, "4", query_vars())
        first = recv(ws, keep_ka=True)
        expect(first == {"type": "connection_ack"}, f"the ack comes first, got {first}")
        expect(until_complete(ws, "4")[-1]["type"] == "complete", "then the subscription")
    subs = c.records("subscription")
    outcomes = [s["outcome"] for s in subs]
    expect(outcomes == ["completed", "stopped", "connection closed", "completed"], f"recorded: {outcomes}")


# ------------------------------------------------------------------------------------------------
# Connection and protocol
# ------------------------------------------------------------------------------------------------


def ws_auth(port: int) -> None:
    """WebSocket auth: a bad token is refused with 401 at the upgrade; token in connection_init works; none -> connection_error"""
    c = Client(port, "ws-auth")
    try:
        with c.ws("python", token="not.a.token"):
            expect(False, "upgrade refused")
    except InvalidStatus as e:
        expect(e.response.status_code == 401, f"401, got {e.response.status_code}")
    token = c.token()
    with c.ws("bare") as ws:
        expect(init(ws, {"Authorization": f"Bearer {token}", "X-Tenant-Context": c.tenant}) == {"type": "connection_ack"},
               "token in connection_init")
        start(ws, "1", query_vars())
        expect(until_complete(ws, "1")[-1]["type"] == "complete", "served")
    with c.ws("bare") as ws:
        msg = init(ws)
        expect(msg is not None and msg["type"] == "connection_error", f"connection_error, got {msg}")
        try:
            recv(ws, timeout=2)
            expect(False, "the server closes the socket")
        except ConnectionClosed as e:
            expect(e.rcvd is not None and e.rcvd.code == 1011, f"closed with 1011: {e.rcvd}")
    conns = c.admin("GET", "/_xdr/requests?kind=connection")[2]["requests"]
    mine = [r for r in conns if r["client_id"] == c.client_id or r["token_status"] != "valid"]
    expect(any(r["status"] == 401 and r["token_status"] == "unknown" for r in mine), "the 401 is recorded")
    expect(any(r["token_source"] == "init_payload" and r["tenant_init_payload"] == c.tenant for r in mine),
           "token and tenant from connection_init recorded")


def protocol_edges(port: int) -> None:
    """graphql-ws: start without connection_init is served (valid upgrade token); connection_terminate closes"""
    c = Client(port, "edges")
    with c.ws("python") as ws:
        start(ws, "1", query_vars())
        expect(until_complete(ws, "1")[-1]["type"] == "complete", "served without connection_init")
        send(ws, {"type": "connection_terminate"})
        try:
            recv(ws, timeout=2)
            expect(False, "the server closes the socket")
        except ConnectionClosed:
            pass
    [conn] = c.records("connection")
    expect(conn["init_payload_keys"] is None and conn["closed_by"] == "client (connection_terminate)", f"{conn}")


def invalid_documents(port: int) -> None:
    """GraphQL errors: unknown field / missing $query -> data{errors}+complete; syntax error -> error; bad JSON"""
    c = Client(port, "invalid")
    with c.ws("python") as ws:
        init(ws)
        start(ws, "1", query_vars(), EVENT_QUERY_DOCUMENT.replace("resultsTruncated", "resultsTruncate"))
        msgs = until_complete(ws, "1")
        expect(msgs[0]["payload"]["errors"][0]["message"] ==
               'Cannot query field "resultsTruncate" on type "EventQueryProgress".', f"unknown field: {msgs}")
        expect(msgs[-1]["type"] == "complete", "then complete")
        start(ws, "2", {"metadata": None}, EVENT_QUERY_DOCUMENT)
        msgs = until_complete(ws, "2")
        expect(msgs[0]["payload"]["errors"][0]["message"] == 'Variable "$query" of required type "String!" was not provided.',
               f"missing variable: {msgs}")
        start(ws, "3", query_vars(), "subscription { eventQuery(query: ")
        msgs = until_complete(ws, "3")
        expect(msgs[0]["type"] == "error" and msgs[0]["payload"]["message"].startswith("Syntax Error"), f"{msgs}")
        ws.send("not json")
        msg = recv(ws)
        expect(msg == {"type": "connection_error", "payload": {"message": "Unexpected token n in JSON at position 0"}},
               f"not JSON: {msg}")
        send(ws, {"type": "subscribe", "id": "4", "payload": {}})
        msg = recv(ws)
        expect(msg == {"type": "error", "id": "4", "payload": {"message": "Invalid message type!"}}, f"{msg}")
    outcomes = [r["outcome"] for r in c.records("subscription")]
    expect(outcomes == ["invalid", "invalid", "syntax error"], f"recorded: {outcomes}")


def selection_projection(port: int) -> None:
    """answers hold exactly the selected fields, under their aliases; inline arguments work"""
    c = Client(port, "projection")
    doc = ('subscription { q: eventQuery(query: "FROM cloudaudit EARLIEST=-1d", options: {pageSize: 10}) '
           '{ queryId result { status rows } query { status } } }')
    with c.ws("python") as ws:
        init(ws)
        start(ws, "1", {}, doc)
        msgs = until_complete(ws, "1")
    res = results(msgs, "q")
    expect(all(set(r) == {"queryId", "result", "query"} for r in res), f"fields: {[sorted(r) for r in res]}")
    page = [r for r in res if r["result"]][0]
    expect(set(page["result"]) == {"status", "rows"} and len(page["result"]["rows"]) == 3, f"result: {page['result']}")
    expect(c.records("subscription")[0]["variables"] == {}, "recorded")


def document_is_the_go_sdks(port: int) -> None:
    """the packaged eventQuery document is byte for byte the Go SDK's (sha256 as in the README)"""
    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    expect(EVENT_QUERY_DOCUMENT_SHA256 in readme, "the README names the document's sha256")
    expect(EVENT_QUERY_DOCUMENT.startswith("\n\t\tsubscription($query: String!, $metadata: JSONObject, "
                                           "$options: EventQueryOptions) {\n"), "its first line")


def admin_api(port: int) -> None:
    """admin: bad scripts are refused with 400; record filters; reset of one client leaves the others"""
    c, other = Client(port, "admin"), Client(port, "admin-other")
    for bad in ({"script": "nope"}, {"script": "events", "rows": -1}, {"script": "events", "colour": 1},
                {"script": "slow", "target": "dns"}):
        status, _, body = c.admin("POST", "/_xdr/script", bad)
        expect(status == 400 and "error" in body, f"{bad} refused: {status} {body}")
    c.token(), other.token()
    c.script(script="none")
    expect(len(c.records("token")) == 1 and len(other.records("token")) == 1, "one token request each")
    status, _, _ = c.admin("POST", "/_xdr/reset", {"client_id": c.client_id})
    expect(status == 200 and c.records("token") == [] and len(other.records("token")) == 1, "only mine reset")
    scripts = c.admin("GET", "/_xdr/script")[2]["scripts"]
    expect(not any(s.get("client_id") == c.client_id for s in scripts), "my script is gone")
    expect(c.admin("GET", "/_xdr/nothing")[0] == 404 and request(port, "GET", "/graphql")[0] == 400, "404 / 400")


def parent_pid(port: int) -> None:
    """--parent-pid: the stand-in prints port/ready and exits once the parent is gone"""
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    s = Standin(parent_pid=parent.pid)
    try:
        expect(request(s.port, "GET", "/_xdr/health")[2] == {"ok": True}, "it answers")
        parent.kill()
        parent.wait()
        s.proc.wait(timeout=3)
        expect(s.proc.returncode == 0, f"exit status {s.proc.returncode}")
    finally:
        s.stop()
        if parent.poll() is None:
            parent.kill()


CHECKS = [
    token_ok,
    token_wrong_secret,
    token_unauthorized_script,
    token_bad_grant,
    token_slow,
    events_python_sdk,
    events_go_sdk,
    events_paging,
    events_options,
    none_script,
    failed_script,
    tenant_refused,
    subscription_slow,
    ws_auth,
    protocol_edges,
    invalid_documents,
    selection_projection,
    document_is_the_go_sdks,
    admin_api,
    parent_pid,
]
