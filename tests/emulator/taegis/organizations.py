"""(ad) AWS Organizations as the accounts of an organisation see it: who belongs to which
organisation, what a member may call, accounts of the test's choosing (admin:
/_taegis/organization)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from moto.core.utils import utcnow
from moto.organizations import models as org_models
from moto.organizations import responses as org_responses
from moto.organizations import utils as org_utils
from moto.organizations.exceptions import (
    AlreadyInOrganizationException,
    AWSOrganizationsNotInUseException,
    OrganizationsClientError,
)


# ---------------------------------------------------------------------------------------------
# (ad) Organizations.
# moto 5.2.5 already answers CreateOrganization, CreateAccount (random 12-digit ids, an
# OrganizationAccountAccessRole trusting the management account), ListAccounts,
# DescribeOrganization from a member (and from the management account), EnableAWSServiceAccess,
# Register/ListDelegatedAdministrators, always for the account the request's credentials resolve
# to (assumed-role keys: the role's account).  It lacks:
# - accounts whose ids the test chooses: InviteAccountToOrganization is a 500 in moto; the admin
#   endpoint joins existing (fresh) accounts as invited and accepted members instead;
# - AWS: only the management account (or, for reads, a delegated administrator) may list and
#   describe the organisation's accounts, roots, delegated administrators and trusted services,
#   create accounts or change delegation and trusted access.  A member gets 400
#   AccessDeniedException "You don't have permissions to access this resource."; an account in
#   no organisation AWSOrganizationsNotInUseException.  moto answered a member's ListAccounts
#   with [] and its ListRoots with the organisation's roots;
# - cloudtrail.amazonaws.com as a delegated administrator's service (InvalidInputException in moto);
# - /moto-api/reset left members pointing at organisations that no longer exist (500 then).
# ---------------------------------------------------------------------------------------------

_ORG_LOCK = threading.RLock()
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_PARTITION = "aws"
ACCESS_ROLE = "OrganizationAccountAccessRole"


class AccessDeniedException(OrganizationsClientError):
    def __init__(self) -> None:
        super().__init__("AccessDeniedException", "You don't have permissions to access this resource.")


# The calls only the management account may make: name -> whether a delegated administrator
# (of any service) may make it too (the read-only ones), answered from the organisation.
_MANAGEMENT_CALLS: dict[str, bool] = {
    "list_accounts": True,
    "list_accounts_for_parent": True,
    "describe_account": True,
    "list_roots": True,
    "list_children": True,
    "list_parents": True,
    "list_organizational_units_for_parent": True,
    "describe_organizational_unit": True,
    "list_delegated_administrators": True,
    "list_delegated_services_for_account": True,
    "list_aws_service_access_for_organization": True,
    "create_account": False,
    "describe_create_account_status": False,
    "list_create_account_status": False,
    "close_account": False,
    "move_account": False,
    "remove_account_from_organization": False,
    "create_organizational_unit": False,
    "register_delegated_administrator": False,
    "deregister_delegated_administrator": False,
    "enable_aws_service_access": False,
    "disable_aws_service_access": False,
}


# ------------------------------------------------------------------------------ who belongs where


def _own_backend(account: str) -> Any:
    """The account's Organizations backend if one was ever made (never creates one)."""
    per_account = dict.get(org_models.organizations_backends, account)
    return dict.get(per_account, _PARTITION) if per_account is not None else None


def management_of(account: str) -> str | None:
    """The management account of the organisation `account` belongs to (itself for a management
    account), None when it belongs to none."""
    own = _own_backend(account)
    if own is not None and own.org is not None:
        return account
    entry = org_models.organizations_backends.master_accounts.get(account)
    if entry is None:
        return None
    backend = _own_backend(entry[0])
    return entry[0] if backend is not None and backend.org is not None else None


def organization_backend(account: str) -> Any:
    """The Organizations backend of the organisation's management account, or None."""
    management = management_of(account)
    return _own_backend(management) if management else None


def organization_id(account: str) -> str | None:
    backend = organization_backend(account)
    return backend.org.id if backend is not None else None


def active_accounts(account: str) -> list[str]:
    """The ACTIVE accounts of `account`'s organisation (management included), [] when none."""
    backend = organization_backend(account)
    if backend is None:
        return []
    return [a.id for a in list(backend.accounts) if a.status == "ACTIVE"]


def is_delegated_admin(account: str, service: str | None = None) -> bool:
    backend = organization_backend(account)
    if backend is None or backend.account_id == account:
        return False
    return any(a.account.id == account and (service is None or service in a.services) for a in list(backend.admins))


def trusted_access(account: str, service: str) -> bool:
    backend = organization_backend(account)
    return backend is not None and any(s["ServicePrincipal"] == service for s in list(backend.services))


# ------------------------------------------------------------------------------ the API's gate


def _gated(name: str, method: Any, read_only: bool) -> Any:
    def wrapper(self: Any) -> Any:
        account = self.current_account
        management = management_of(account)
        if management is None:
            raise AWSOrganizationsNotInUseException()
        if management == account:
            return method(self)
        if read_only and is_delegated_admin(account):
            self._taegis_backend = _own_backend(management)
            return method(self)
        raise AccessDeniedException()

    wrapper.__name__ = name
    return wrapper


def _backend_property(self: Any) -> Any:
    # A delegated administrator's read is answered from the management account's organisation.
    chosen = self.__dict__.get("_taegis_backend")
    return chosen if chosen is not None else org_models.organizations_backends[self.current_account][self.partition]


# ------------------------------------------------------------------------------ admin: join accounts


class _JoinedAccount(org_models.FakeAccount):
    """An existing account invited into the organisation and accepted (AWS: JoinedMethod INVITED;
    no OrganizationAccountAccessRole is made unless asked for)."""

    def __init__(self, organization: Any, account_id: str, name: str, email: str):  # noqa: super() not called on purpose
        self.type = "ACCOUNT"
        self.region = organization.region
        self.organization_id = organization.id
        self.master_account_id = organization.master_account_id
        self.create_account_status_id = org_utils.make_random_create_account_status_id()
        self.id = account_id
        self.name = name
        self.email = email
        self.create_time = utcnow()
        self.status = "ACTIVE"
        self.state = "ACTIVE"
        self.joined_method = "INVITED"
        self.parent_id = organization.root_id
        self.attached_policies: list[Any] = []
        self.tags: dict[str, str] = {}


def _access_role(member: str, management: str) -> None:
    from moto.iam import iam_backends
    from moto.iam.exceptions import EntityAlreadyExists

    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{management}:root"}, "Action": "sts:AssumeRole"}
    ]}
    try:
        iam_backends[member]["global"].create_role(
            role_name=ACCESS_ROLE, assume_role_policy_document=json.dumps(trust), path="/",
            permissions_boundary=None, description="", tags=[], max_session_duration="3600",
        )
    except EntityAlreadyExists:
        pass


def _validate_join(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError("body must be a JSON object")
    known = {"management", "members", "feature_set", "service_access", "delegated_administrators"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    management = doc.get("management")
    if not isinstance(management, str) or not _ACCOUNT_RE.match(management):
        raise ValueError("management must be 12 digits (a string)")
    feature_set = doc.get("feature_set", "ALL")
    if feature_set not in ("ALL", "CONSOLIDATED_BILLING"):
        raise ValueError("feature_set must be ALL or CONSOLIDATED_BILLING")
    members = []
    raw_members = doc.get("members", [])
    if not isinstance(raw_members, list):
        raise ValueError("members must be a list")
    for item in raw_members:
        entry = {"id": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or set(entry) - {"id", "name", "email", "access_role"}:
            raise ValueError("a member is an account id or {\"id\", \"name\", \"email\", \"access_role\"}")
        account = entry.get("id")
        if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
            raise ValueError("a member's id must be 12 digits (a string)")
        if account == management:
            raise ValueError("the management account is not a member of its own list")
        if not isinstance(entry.get("access_role", False), bool):
            raise ValueError("access_role must be true or false")
        members.append({
            "id": account,
            "name": str(entry.get("name") or f"member-{account}"),
            "email": str(entry.get("email") or f"{account}@example.com"),
            "access_role": entry.get("access_role", False),
        })
    services = doc.get("service_access", [])
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise ValueError("service_access must be a list of service principals")
    for service in services:
        if not org_models.FakeServiceAccess.trusted_service(service):
            raise ValueError(f"{service} is not a service principal Organizations knows")
    delegated = doc.get("delegated_administrators", {})
    if not isinstance(delegated, dict):
        raise ValueError("delegated_administrators must map a service principal to account ids")
    for service, accounts in delegated.items():
        if not org_models.FakeDelegatedAdministrator.supported_service(service):
            raise ValueError(f"{service} cannot have a delegated administrator")
        if not isinstance(accounts, list) or not all(isinstance(a, str) and _ACCOUNT_RE.match(a) for a in accounts):
            raise ValueError("delegated_administrators' accounts must be 12-digit strings")
    return {"management": management, "feature_set": feature_set, "members": members,
            "service_access": services, "delegated_administrators": delegated}


def join_organization(doc: Any) -> dict[str, Any]:
    """POST /_taegis/organization: the management account's organisation (made, as
    CreateOrganization would, when it has none), with each member joined.  ValueError: 400."""
    spec = _validate_join(doc)
    management = spec["management"]
    backends = org_models.organizations_backends
    with _ORG_LOCK:
        owner = management_of(management)
        if owner not in (None, management):
            raise ValueError(f"{management} is a member of the organisation of {owner}, not a management account")
        for member in spec["members"]:
            found = management_of(member["id"])
            if found == member["id"]:
                raise ValueError(f"{member['id']} is the management account of its own organisation")
            if found not in (None, management):
                raise ValueError(f"{member['id']} already belongs to the organisation of {found}")
        backend = backends[management][_PARTITION]
        if backend.org is None:
            backend.create_organization(region="us-east-1", FeatureSet=spec["feature_set"])
        for member in spec["members"]:
            if not any(a.id == member["id"] for a in backend.accounts):
                backend.accounts.append(_JoinedAccount(backend.org, member["id"], member["name"], member["email"]))
                for policy_id in (org_utils.DEFAULT_SCP_POLICY_ID, org_utils.DEFAULT_RCP_POLICY_ID):
                    backend.attach_policy(PolicyId=policy_id, TargetId=member["id"])
                backends.master_accounts[member["id"]] = (management, _PARTITION)
            if member["access_role"]:
                _access_role(member["id"], management)
        for service in spec["service_access"]:
            if not trusted_access(management, service):
                backend.enable_aws_service_access(ServicePrincipal=service)
        for service, accounts in spec["delegated_administrators"].items():
            for account in accounts:
                if not is_delegated_admin(account, service):
                    backend.register_delegated_administrator(AccountId=account, ServicePrincipal=service)
    return organization_view(management) or {}


def organization_view(account: str) -> dict[str, Any] | None:
    """GET /_taegis/organization?account=: the organisation `account` belongs to, or None."""
    with _ORG_LOCK:
        backend = organization_backend(account)
        if backend is None:
            return None
        delegated: dict[str, list[str]] = {}
        for admin in list(backend.admins):
            for service in admin.services:
                delegated.setdefault(service, []).append(admin.account.id)
        return {
            "organization": backend.org.describe()["Organization"],
            "root": backend.org.root_id,
            "accounts": [a.describe() for a in list(backend.accounts)],
            "service_access": [s["ServicePrincipal"] for s in list(backend.services)],
            "delegated_administrators": delegated,
        }


def admin_organization(method: str, query: dict[str, str], read_json: Any) -> tuple[int, Any]:
    """(status, payload) of /_taegis/organization."""
    if method == "GET":
        account = query.get("account", "")
        if not _ACCOUNT_RE.match(account):
            return 400, {"error": "account must be 12 digits"}
        view = organization_view(account)
        return (200, view) if view is not None else (404, {"error": f"{account} belongs to no organisation"})
    if method != "POST":
        return 405, {"error": "GET or POST"}
    try:
        return 200, join_organization(read_json())
    except AlreadyInOrganizationException as exc:
        return 400, {"error": exc.message}
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}


def reset_organizations() -> None:
    """/moto-api/reset: moto empties the backends but not its member map."""
    with _ORG_LOCK:
        org_models.organizations_backends.master_accounts.clear()


def _install_organizations() -> None:
    if "cloudtrail.amazonaws.com" not in org_models.FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        org_models.FakeDelegatedAdministrator.SUPPORTED_SERVICES.append("cloudtrail.amazonaws.com")
    org_responses.OrganizationsResponse.organizations_backend = property(_backend_property)
    for name, read_only in _MANAGEMENT_CALLS.items():
        method = getattr(org_responses.OrganizationsResponse, name)
        setattr(org_responses.OrganizationsResponse, name, _gated(name, method, read_only))
