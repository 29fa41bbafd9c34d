"""Resource and trust policies as AWS evaluates them (queue, topic, function, bucket and role
policies), and the caller of a signed request as those policies see it."""

from __future__ import annotations

import functools
import json
import re
from typing import Any


# ---------------------------------------------------------------------------------------------
# Resource policies (queue, topic, function and bucket policies), as far as the checks below
# need them.  AWS: an explicit Deny wins; otherwise a matching Allow grants.  A statement applies
# when its principal, action, resource and every condition match.  Only the condition keys the
# caller knows (aws:SourceArn, aws:SourceAccount, aws:PrincipalAccount) can hold: a statement with
# any other key (e.g. SNS's default AWS:SourceOwner statement) grants and denies nothing, and
# NotPrincipal/NotAction/NotResource statements are left out likewise.
# ---------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _wildcard_re(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def _wildcard(pattern: Any, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: * any run of characters, ? one character."""
    return bool(_wildcard_re(str(pattern), ignore_case).match(value))


_CONDITION_TESTS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: _wildcard(expected, actual),
    "ArnEquals": lambda actual, expected: _wildcard(expected, actual),
    "ArnLike": lambda actual, expected: _wildcard(expected, actual),
}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    op = operator.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: (the keys here are single-valued)
    if_exists = op.endswith("IfExists")
    op = op[: -len("IfExists")] if if_exists else op
    actual = context.get(key.lower())
    if actual is None:
        return if_exists
    negated = "Not" in op
    test = _CONDITION_TESTS.get(op.replace("Not", "", 1))
    if test is None:
        return False
    return any(test(actual, str(e)) for e in _as_list(expected)) != negated


def _principal_matches(principal: Any, who: dict[str, set[str]]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for kind, values in principal.items():
        for value in _as_list(values):
            if (kind == "AWS" and value == "*") or str(value) in who.get(kind, set()):
                return True
    return False


def _statement_applies(st: dict[str, Any], action: str, resource: str | None, who: dict[str, set[str]], context: dict[str, str]) -> bool:
    if any(k in st for k in ("NotPrincipal", "NotAction", "NotResource")):
        return False
    if not _principal_matches(st.get("Principal"), who):
        return False
    if not any(_wildcard(p, action, ignore_case=True) for p in _as_list(st.get("Action"))):
        return False
    if resource is not None and "Resource" in st and not any(_wildcard(p, resource) for p in _as_list(st["Resource"])):
        return False
    conditions = st.get("Condition") or {}
    return all(
        _condition_holds(op, key, expected, context)
        for op, pairs in conditions.items()
        for key, expected in (pairs or {}).items()
    )


def policy_allows(statements: Any, action: str, resource: str | None, who: dict[str, set[str]], context: dict[str, str]) -> bool:
    allowed = False
    for st in _as_list(statements):
        if not isinstance(st, dict) or not _statement_applies(st, action, resource, who, context):
            continue
        if st.get("Effect") == "Deny":
            return False
        allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def _policy_statements(policy: Any) -> Any:
    """The statements of a policy given as JSON text (str/bytes) or a parsed document."""
    if isinstance(policy, (bytes, str)):
        try:
            policy = json.loads(policy)
        except ValueError:
            return []
    return (policy or {}).get("Statement") if isinstance(policy, dict) else []


# ---------------------------------------------------------------------------------------------
# Callers as resource and trust policies see them (rows aa and ab).
# ---------------------------------------------------------------------------------------------


def _signed(response: Any) -> bool:
    """A SigV4-signed request (header or presigned query)."""
    return "Authorization" in response.headers or "X-Amz-Credential" in (response.querystring or {})


def _caller_identity(response: Any) -> tuple[str, str, dict[str, set[str]]]:
    """(account, ARN as GetCallerIdentity gives it, names a policy's AWS principal may give) of
    the caller of a signed request: the account id, its root, the caller's ARN and, for
    assumed-role credentials, the role's ARN."""
    from moto.sts.models import sts_backends

    account, partition = response.current_account, response.partition
    access_key = response.get_access_key()
    sts = sts_backends[account][partition]
    _, arn, _ = sts.get_caller_identity(access_key, response.region)
    names = {account, f"arn:{partition}:iam::{account}:root", arn}
    role = sts.get_assumed_role_from_access_key(access_key)
    if role is not None:
        names.add(role.role_arn)
    return account, arn, {"AWS": names}


def policy_verdict(statements: Any, action: str, resource: str | None, who: dict[str, set[str]], context: dict[str, str]) -> str | None:
    """"Deny" (an explicit deny), "Allow", or None (nothing allows it): policy_allows, telling
    an explicit deny apart."""
    verdict = None
    for st in _as_list(statements):
        if not isinstance(st, dict) or not _statement_applies(st, action, resource, who, context):
            continue
        if st.get("Effect") == "Deny":
            return "Deny"
        if st.get("Effect") == "Allow":
            verdict = "Allow"
    return verdict
