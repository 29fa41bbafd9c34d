"""(z) behaviour empty_log_pages: FilterLogEvents answers empty pages first."""

from __future__ import annotations

import collections
import json
import secrets as _secrets
import threading
from typing import Any

from moto.logs import responses as logs_responses

from .behaviour import behaviour_field


# ---------------------------------------------------------------------------------------------
# (z) behaviour empty_log_pages.
# AWS: FilterLogEvents searches a log group in pieces and may answer pages without events (with
# a nextToken to go on) before the page that has them.  With the caller account's
# empty_log_pages N, each search (a call without nextToken; its log group and filter arguments)
# is first answered N times {"events": [], "searchedLogStreams": [], "nextToken": TOKEN}; a call
# with such a token gets the next empty page, and after N of them moto's own answer for the
# request without the token (whose nextToken pages on as moto does).  A token stays valid, so a
# retried call gets the same kind of answer.  moto's own refusals (no such log group) come first.
# ---------------------------------------------------------------------------------------------

_LOG_SEARCH_LOCK = threading.Lock()
_LOG_SEARCHES: "collections.OrderedDict[str, tuple[tuple[str, str, str], int]]" = collections.OrderedDict()
_LOG_SEARCHES_KEPT = 20_000
_orig_filter_log_events = logs_responses.LogsResponse.filter_log_events


def _filter_log_events(self: Any) -> Any:
    try:
        request = json.loads(self.body or "{}")
    except (TypeError, ValueError):
        request = None
    if not isinstance(request, dict):
        return _orig_filter_log_events(self)
    token = request.pop("nextToken", None)
    search = (self.current_account, self.region, json.dumps(request, sort_keys=True))
    pages = int(behaviour_field(self.current_account, "empty_log_pages") or 0)
    if token is not None:
        with _LOG_SEARCH_LOCK:
            state = _LOG_SEARCHES.get(token)
        if state is None or state[0] != search:
            return _orig_filter_log_events(self)  # moto's own token (moto: an unknown one finds nothing)
        served = state[1]
        if served >= pages:
            self.body = json.dumps(request)  # the real answer: the request as if it had no token
            return _orig_filter_log_events(self)
    else:
        if pages <= 0:
            return _orig_filter_log_events(self)
        _orig_filter_log_events(self)  # moto's refusals (no such log group, ...) answer first
        served = 0
    new_token = _secrets.token_urlsafe(96)  # opaque (no "@": moto's own tokens have two)
    with _LOG_SEARCH_LOCK:
        _LOG_SEARCHES[new_token] = (search, served + 1)
        while len(_LOG_SEARCHES) > _LOG_SEARCHES_KEPT:
            _LOG_SEARCHES.popitem(last=False)
    return json.dumps({"events": [], "searchedLogStreams": [], "nextToken": new_token})


def _install_log_pages() -> None:
    logs_responses.LogsResponse.filter_log_events = _filter_log_events
