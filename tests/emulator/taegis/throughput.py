"""Server throughput: caches of moto's module list and of parsed templates (`# Bench:`)."""

from __future__ import annotations

import collections
import copy
import threading
from typing import Any

import moto.backends
from moto.cloudformation import models as cfn_models


# ---------------------------------------------------------------------------------------------
# Server throughput.  moto's server runs every request under one interpreter lock, so its CPU
# per request bounds what it sustains (measured on 2 cores: ~215 DescribeStacks/s, 8 in flight).
# ---------------------------------------------------------------------------------------------

# Bench: moto's dispatcher calls backends.list_of_moto_modules() twice per request, and it lists
# and stats moto's package directory each time (~180 stat calls): about a fifth of the server's
# CPU for a cheap call such as DescribeStacks.  The list cannot change while the server runs.
_MOTO_MODULES = tuple(moto.backends.list_of_moto_modules())


def _list_of_moto_modules() -> tuple[str, ...]:
    return _MOTO_MODULES


# Bench: Stack.parse_template is pure-Python PyYAML (~13 ms for the bundled Lambda template), and
# a CreateStack parses its template twice (capabilities, then the stack), an UpdateStack up to
# four times.  Parses are kept by template text; each caller gets its own deep copy, as before.
_TEMPLATE_CACHE: "collections.OrderedDict[str, Any]" = collections.OrderedDict()
_TEMPLATE_CACHE_LOCK = threading.Lock()
_TEMPLATE_CACHE_SIZE = 64
_orig_parse_template = cfn_models.Stack.parse_template


def _parse_template_cached(template: str) -> Any:
    if not isinstance(template, str):
        return _orig_parse_template(template)
    with _TEMPLATE_CACHE_LOCK:
        parsed = _TEMPLATE_CACHE.get(template)
        if parsed is not None:
            _TEMPLATE_CACHE.move_to_end(template)
    if parsed is None:
        parsed = _orig_parse_template(template)  # parse errors are raised, never kept
        with _TEMPLATE_CACHE_LOCK:
            _TEMPLATE_CACHE[template] = parsed
            while len(_TEMPLATE_CACHE) > _TEMPLATE_CACHE_SIZE:
                _TEMPLATE_CACHE.popitem(last=False)
    return copy.deepcopy(parsed)


def _install_throughput() -> None:
    moto.backends.list_of_moto_modules = _list_of_moto_modules
    cfn_models.Stack.parse_template = staticmethod(_parse_template_cached)
