"""The answers to eventQuery and eventPage: rows, and the EventQueryResults messages in the order the
SDKs expect them.

The flow (see README, "Message flow"):
  1. `running` messages: query.status "RUNNING", result null (taegis-sdk-go events/subscriptions.go,
     GetAllEventResults: "If the query is still running keep going");
  2. one message with the page's result: result.status "SUCCEEDED", result.rows, `next` when more
     pages follow (events/model.go GetNextPageID looks for `next` in the messages that carry a
     result);
  3. a closing message: query.status "SUCCEEDED" (or FAILED with reasons), result null
     (events/subscription_test.go: "testClosureEventQueryResult is the signal that all events have
     been returned"; the Python SDK drops this last message: service_core.py, `results[:-1]`);
  4. graphql-ws `complete`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

_SOURCES = {
    "ConsoleLogin": "signin.amazonaws.com",
    "AssumeRole": "sts.amazonaws.com",
    "GetObject": "s3.amazonaws.com",
    "PutObject": "s3.amazonaws.com",
    "DescribeInstances": "ec2.amazonaws.com",
}


def iso(t: float | None) -> str | None:
    """RFC 3339 UTC with milliseconds, as Go's time.Time accepts (events/model.go)."""
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event_types(query: str) -> list[str]:
    """The event types a query names: "FROM cloudaudit, auth WHERE ..." -> ["cloudaudit", "auth"]."""
    m = re.search(r"\bfrom\s+([a-z_][a-z0-9_]*(?:\s*,\s*[a-z_][a-z0-9_]*)*)", query or "", re.I)
    if not m:
        return ["cloudaudit"]
    return [t.strip().lower() for t in m.group(1).split(",")]


@dataclass
class Run:
    """One eventQuery: its pages stay available to eventPage until a reset."""

    id: str
    query: str
    metadata: Any
    options: dict[str, Any]
    tenant: str | None
    client_id: str | None
    script: dict[str, Any]
    types: list[str]
    rows: list[dict[str, Any]]
    page_size: int
    truncated: bool
    submitted: float = field(default_factory=time.time)

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.rows) // self.page_size))

    def page_id(self, n: int) -> str:
        return base64.urlsafe_b64encode(f"{self.id}/{n}".encode()).decode().rstrip("=")


def parse_page_id(page_id: Any) -> tuple[str, int] | None:
    try:
        raw = base64.urlsafe_b64decode(str(page_id) + "=" * (-len(str(page_id)) % 4)).decode()
        run_id, n = raw.rsplit("/", 1)
        return run_id, int(n)
    except Exception:
        return None


def new_run(args: dict[str, Any], script: dict[str, Any], tenant: str | None, client_id: str | None) -> Run:
    options = args.get("options") or {}
    query = args.get("query") or ""
    types = event_types(query)
    n = script["rows"] if script["script"] in ("events", "slow") else 0
    truncated = False
    max_rows = options.get("maxRows")
    if isinstance(max_rows, int) and 0 <= max_rows < n:
        n, truncated = max_rows, True
    page_size = script["page_size"] or options.get("pageSize") or 1000
    run_id = str(uuid.uuid4())
    rows = [make_row(i, script, tenant, types[0]) for i in range(n)]
    if options.get("timestampAscending"):
        rows.reverse()  # default order: newest first (events/model.go, EventQueryOptions)
    return Run(run_id, query, args.get("metadata"), options, tenant, client_id, script, types, rows,
               int(page_size), truncated)


def make_row(i: int, script: dict[str, Any], tenant: str | None, type_: str) -> dict[str, Any]:
    """Row i (0 = newest) of a result: a Taegis event as the events API returns it, a flat JSON
    object.  Field names: see README, "Rows"."""
    now = time.time()
    t = now - script["newest_age_seconds"] - i * script["spacing_seconds"]
    t_usec = int(t * 1_000_000)
    name = script["event_names"][i % len(script["event_names"])]
    event_id = str(uuid.uuid4())
    account = script["aws_account_id"]
    ip = f"198.51.100.{i % 250 + 1}"
    user_agent = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64"
    kind = "AwsConsoleSignIn" if name == "ConsoleLogin" else "AwsApiCall"
    original = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDASTANDINEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/standin-user",
            "accountId": account,
            "userName": "standin-user",
        },
        "eventTime": iso(t)[:-5] + "Z",
        "eventSource": _SOURCES.get(name, "iam.amazonaws.com"),
        "eventName": name,
        "awsRegion": script["aws_region"],
        "sourceIPAddress": ip,
        "userAgent": user_agent,
        "requestParameters": None,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id,
        "readOnly": name.startswith(("Get", "Describe", "List")),
        "eventType": kind,
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    row = {
        "resource_id": f"event://priv:{type_}:{tenant or ''}:{t_usec // 1000}:{event_id}",
        "tenant_id": tenant,
        "event_time_usec": t_usec,
        "ingest_time_usec": t_usec + 45_000_000,
        "event_type": kind,
        "event_name": name,
        "user_name": "standin-user",
        "source_address": ip,
        "user_agent": user_agent,
        "mfa_used": False,
        "original_data": json.dumps(original, separators=(",", ":")),
    }
    row.update(script["row"])
    return row


# ------------------------------------------------------------------------------------------------
# Full objects (the answer is cut to the document's selection afterwards: gql.project)
# ------------------------------------------------------------------------------------------------


def _progress(run: Run, type_: str, total: int) -> dict[str, Any]:
    return {
        "type": type_,
        "totalRows": total,
        "totalRowsIsLowerBound": False,
        "rowsRemoved": 0,
        "rowsFiltered": 0,
        "resultsTruncated": run.truncated,
    }


def _result(run: Run, type_: str, status: str, rows: list[dict[str, Any]] | None, reason: str | None,
            completed: float | None) -> dict[str, Any]:
    return {
        "id": f"{run.id}:{type_}",
        "type": type_,
        "status": status,
        "reason": reason,
        "submitted": iso(run.submitted),
        "completed": iso(completed),
        "expires": iso(run.submitted + 86400),
        "backend": "standin",
        "facets": None,
        "rows": rows,
        "progress": _progress(run, type_, len(run.rows) if type_ == run.types[0] else 0),
        "provenance": {"backendSources": ["standin"], "fromCache": False},
        "fields": [],
    }


def _query(run: Run, status: str, reasons: list[dict[str, Any]], completed: float | None) -> dict[str, Any]:
    return {
        "id": run.id,
        "types": run.types,
        "query": run.query,
        "status": status,
        "submitted": iso(run.submitted),
        "expires": iso(run.submitted + 86400),
        "completed": iso(completed),
        "earliest": None,
        "latest": None,
        "aggregated": False,
        "metadata": run.metadata,
        "reasons": reasons,
        "progress": [_progress(run, t, len(run.rows) if t == run.types[0] else 0) for t in run.types],
        "user": {"name": None, "role": None, "email": None, "userID": run.client_id},
    }


def _results(run: Run, query: dict[str, Any], result: dict[str, Any] | None, next_: str | None,
             prev: str | None) -> dict[str, Any]:
    return {"queryId": run.id, "next": next_, "prev": prev, "query": query, "result": result}


def page_messages(run: Run, n: int) -> list[dict[str, Any]]:
    """The EventQueryResults objects one subscription (eventQuery for page 1, eventPage for the
    others) sends, in order; the caller spaces them by interval_seconds."""
    s = run.script
    out: list[dict[str, Any]] = []
    for _ in range(s["running"]):
        out.append(_results(run, _query(run, "RUNNING", [], None), None, None, None))
    now = time.time()
    if s["script"] == "failed":
        reasons = [_result(run, t, "FAILED", None, s["reason"], now) for t in run.types]
        out.append(_results(run, _query(run, "FAILED", reasons, now), None, None, None))
        return out
    rows = run.rows[(n - 1) * run.page_size:n * run.page_size]
    next_ = run.page_id(n + 1) if n < run.pages else None
    prev = run.page_id(n - 1) if n > 1 else None
    if rows or s["empty_result"]:
        out.append(_results(run, _query(run, "RUNNING", [], None),
                            _result(run, run.types[0], "SUCCEEDED", rows, None, now), next_, prev))
    final = s["final_status"]
    reasons = [_result(run, t, final, None, None, now) for t in run.types]
    out.append(_results(run, _query(run, final, reasons, now), None, None, None))
    return out
