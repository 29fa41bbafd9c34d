"""(aa) behaviour strict_roles: AssumeRole needs the role and its trust policy."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from moto.sts import responses as sts_responses
from moto.utilities.utils import get_partition
from werkzeug.exceptions import HTTPException

from .behaviour import behaviour_field
from .faults import _query_error
from .policies import _caller_identity, _policy_statements, _signed, policy_verdict
from .iam_enforcement import _AuthError


# ---------------------------------------------------------------------------------------------
# (aa) behaviour strict_roles.
# AWS: sts:AssumeRole needs the role to exist and its trust policy to allow the caller; moto lets
# anyone assume any role ARN (the tests rely on that, so it stays so by default).  For a role of
# an account with strict_roles, a signed AssumeRole is refused (403 AccessDenied "User: CALLER is
# not authorized to perform: sts:AssumeRole on resource: ROLE_ARN") unless the role exists in the
# account's IAM and its AssumeRolePolicyDocument allows sts:AssumeRole to the caller (principal
# "*", {"AWS": "*"}, the account id, arn:aws:iam::ACCOUNT:root, the caller's ARN or, for an
# assumed role, its role ARN; a matching Deny wins; sts:ExternalId, aws:PrincipalAccount and
# aws:PrincipalArn conditions are known, statements with other condition keys count for nothing).
# ---------------------------------------------------------------------------------------------

_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/.+$")
_orig_assume_role = sts_responses.TokenResponse.assume_role


def _trust_refusal(response: Any, role_arn: str, role_account: str) -> HTTPException | None:
    from moto.iam.models import iam_backends

    account, caller_arn, who = _caller_identity(response)
    try:
        role = iam_backends[role_account][get_partition(response.region)].get_role_by_arn(role_arn)
    except Exception:  # no such role
        role = None
    context = {"aws:principalaccount": account, "aws:principalarn": caller_arn}
    external_id = response._get_param("ExternalId")
    if external_id:
        context["sts:externalid"] = str(external_id)
    if role is not None:
        statements = _policy_statements(role.assume_role_policy_document)
        if policy_verdict(statements, "sts:AssumeRole", None, who, context) == "Allow":
            return None
    message = f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    headers, body = _query_error("sts", "Sender", "AccessDenied", _xml_escape(message))
    return _AuthError(403, headers, body)


def _assume_role(self: Any) -> Any:
    role_arn = str(self._get_param("RoleArn") or "")
    match = _ROLE_ARN_RE.match(role_arn)
    if match and _signed(self) and behaviour_field(match.group(1), "strict_roles"):
        refusal = _trust_refusal(self, role_arn, match.group(1))
        if refusal is not None:
            raise refusal
    return _orig_assume_role(self)


def _install_strict_roles() -> None:
    sts_responses.TokenResponse.assume_role = _assume_role
