"""What the stand-in knows of the Taegis XDR GraphQL schema, and the SDK's subscription documents.

Types and field names: taegis-sdk-python, taegis_sdk_python/services/events/types.py (commit
3bcbcdd6, the generated dataclasses: EventQueryResults, EventQuery, EventQueryResult,
EventQueryProgress, EventProvenance, EventUser, Field) and services/events/subscriptions.py (the
arguments of eventQuery and eventPage).  Scalar type names (String, ID, JSONObject, ...) are those
the Go SDK's documents declare; the ones it does not show are guesses and only matter for the
wording of validation errors.

The documents: taegis-sdk-go, events/subscriptions.go (commit 22a7d8ef), with the variable names
that EventQuery and EventPage pass to graphql.AddVarNamesToQuery substituted; byte for byte what
that SDK sends as payload.query (tabs and trailing whitespace included).
"""

from __future__ import annotations

import hashlib

# The Go SDK's eventQuery document (events/subscriptions.go, eventQuerySubscription).
EVENT_QUERY_DOCUMENT = (
    "\n"
    "\t\tsubscription($query: String!, $metadata: JSONObject, $options: EventQueryOptions) {\n"
    "\t\t    eventQuery(query: $query, metadata: $metadata, options: $options){\n"
    "\t\t\t\tquery {\n"
    "  \t\t\t\t\tid\n"
    "  \t\t\t\t\tquery\n"
    "\t  \t\t\t\tstatus\n"
    "\t  \t\t\t\treasons {\n"
    "\t\t\t\t\t\tid\n"
    "\t\t\t\t\t\ttype\n"
    "\t\t\t\t\t\tbackend\n"
    "\t\t\t\t\t\tstatus\n"
    "\t\t\t\t\t\treason\n"
    "\t\t\t\t\t\tsubmitted\n"
    "\t\t\t\t\t\tcompleted\n"
    "\t\t\t\t\t}\n"
    "\t  \t\t\t\tsubmitted\n"
    "\t  \t\t\t\tcompleted\n"
    "\t  \t\t\t\texpires\n"
    "\t  \t\t\t\ttypes\n"
    "\t  \t\t\t\tmetadata\n"
    "\t\t\t\t}\n"
    "\t\t\t\tresult {\t\n"
    "\t\t\t\t\tid\n"
    "    \t\t\t\ttype\n"
    "\t\t\t\t\tbackend\n"
    "\t\t\t\t\tstatus\n"
    "\t\t\t\t\treason\n"
    "    \t\t\t\tsubmitted\n"
    "    \t\t\t\tcompleted\n"
    "    \t\t\t\texpires\n"
    "    \t\t\t\tfacets\n"
    "\t\t\t\t\trows\n"
    "\t\t\t\t\tprogress {\n"
    "\t\t\t\t\t\ttotalRows\n"
    "\t\t\t\t\t\ttotalRowsIsLowerBound\n"
    "\t\t\t\t\t\tresultsTruncated\n"
    "\t\t\t\t\t}\n"
    "\t\t\t\t}\n"
    "\t\t\t\tnext\n"
    "\t\t\t\tprev\n"
    "\t\t\t}\n"
    "\t\t}\n"
    "\t"
)

# The Go SDK's eventPage document (eventPageSubscription).
EVENT_PAGE_DOCUMENT = (
    "\n"
    "\t\tsubscription($id: ID!) {\n"
    "\t\t    eventPage(id: $id) {\n"
    "\t\t\t\tquery {\n"
    "  \t\t\t\t\tid\n"
    "  \t\t\t\t\tquery\n"
    "\t  \t\t\t\tstatus\n"
    "\t  \t\t\t\treasons {\n"
    "\t\t\t\t\t\tid\n"
    "\t\t\t\t\t\ttype\n"
    "\t\t\t\t\t\tbackend\n"
    "\t\t\t\t\t\tstatus\n"
    "\t\t\t\t\t\treason\n"
    "\t\t\t\t\t\tsubmitted\n"
    "\t\t\t\t\t\tcompleted\n"
    "\t\t\t\t\t}\n"
    "\t  \t\t\t\tsubmitted\n"
    "\t  \t\t\t\tcompleted\n"
    "\t  \t\t\t\texpires\n"
    "\t  \t\t\t\ttypes\n"
    "\t  \t\t\t\tmetadata\n"
    "\t\t\t\t}\n"
    "\t\t\t\tresult {\t\n"
    "\t\t\t\t\tid\n"
    "    \t\t\t\ttype\n"
    "\t\t\t\t\tbackend\n"
    "\t\t\t\t\tstatus\n"
    "\t\t\t\t\treason\n"
    "    \t\t\t\tsubmitted\n"
    "    \t\t\t\tcompleted\n"
    "    \t\t\t\texpires\n"
    "                    facets\n"
    "\t\t\t\t\trows\n"
    "\t\t\t\t\tprogress {\n"
    "\t\t\t\t\t\ttotalRows\n"
    "\t\t\t\t\t\ttotalRowsIsLowerBound\n"
    "\t\t\t\t\t\tresultsTruncated\n"
    "\t\t\t\t\t}\n"
    "\t\t\t\t}\n"
    "\t\t\t\tnext\n"
    "\t\t\t\tprev\n"
    "\t\t\t}\n"
    "\t\t}\n"
    "\t"
)

# type name -> {field: type}; a type in the table is an object type (needs a selection), any other
# is a leaf.  "[X]" is a list of X, "X!" non-null.
TYPES: dict[str, dict[str, str]] = {
    "Subscription": {
        "eventQuery": "EventQueryResults",
        "eventPage": "EventQueryResults",
    },
    "EventQueryResults": {
        "queryId": "ID",
        "next": "String",
        "prev": "String",
        "query": "EventQuery",
        "result": "EventQueryResult",
    },
    "EventQuery": {
        "id": "ID",
        "types": "[String]",
        "query": "String",
        "status": "String",
        "submitted": "Time",
        "expires": "Time",
        "completed": "Time",
        "earliest": "Time",
        "latest": "Time",
        "aggregated": "Boolean",
        "metadata": "JSONObject",
        "reasons": "[EventQueryResult]",
        "progress": "[EventQueryProgress]",
        "user": "EventUser",
    },
    "EventQueryResult": {
        "id": "ID",
        "type": "String",
        "status": "String",
        "reason": "String",
        "submitted": "Time",
        "completed": "Time",
        "expires": "Time",
        "backend": "String",
        "facets": "JSONObject",
        "rows": "[JSONObject]",
        "progress": "EventQueryProgress",
        "provenance": "EventProvenance",
        "fields": "[Field]",
    },
    "EventQueryProgress": {
        "type": "String",
        "totalRows": "Int",
        "totalRowsIsLowerBound": "Boolean",
        "rowsRemoved": "Int",
        "rowsFiltered": "Int",
        "resultsTruncated": "Boolean",
    },
    "EventProvenance": {
        "backendSources": "[String]",
        "fromCache": "Boolean",
    },
    "EventUser": {
        "name": "String",
        "role": "String",
        "email": "String",
        "userID": "String",
    },
    "Field": {
        "name": "String",
        "searchable": "Boolean",
        "debug": "Boolean",
        "baseType": "BaseType",
        "logicalType": "LogicalType",
    },
}

# The root fields' arguments: name -> type (services/events/subscriptions.py; the Go documents).
ARGUMENTS: dict[str, dict[str, str]] = {
    "eventQuery": {"query": "String!", "metadata": "JSONObject", "options": "EventQueryOptions"},
    "eventPage": {"id": "ID!"},
}

# EventQueryOptions' input fields (types.py, class EventQueryOptions).
EVENT_QUERY_OPTIONS_FIELDS = (
    "timestampAscending",
    "pageSize",
    "maxRows",
    "skipCache",
    "aggregationOff",
    "includeAlertsData",
    "includeMitreAttackInfoData",
    "saveToCache",
    "defaultIncludeOriginalData",
    "searchTarget",
    "backendStrategy",
)


def named_type(type_: str) -> str:
    """"[EventQueryResult]!" -> "EventQueryResult"."""
    return type_.strip("[]!")


def is_object(type_: str) -> bool:
    return named_type(type_) in TYPES


EVENT_QUERY_DOCUMENT_SHA256 = hashlib.sha256(EVENT_QUERY_DOCUMENT.encode()).hexdigest()
EVENT_PAGE_DOCUMENT_SHA256 = hashlib.sha256(EVENT_PAGE_DOCUMENT.encode()).hexdigest()
