"""Checks of (ag): Account Management's ListRegions and GetRegionOptStatus, consistent with (n),
for an account itself and, from its organisation's management account or a delegated
administrator, for a member (AccountId)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import botocore.config
from botocore.exceptions import ClientError

from . import common
from .common import CONFIG, INVALID_TOKEN, NO_RETRY, OPENER, Account, admin, expect_error, raw_request, set_behaviour
from .iam import user_session
from .organizations import admin_refused, organization


# AWS's regions before March 20, 2019: on in every account, never opt-in.
BY_DEFAULT = {
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
}
OPT_IN = {
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1", "eu-south-2", "il-central-1",
    "me-central-1", "me-south-1", "mx-central-1",
}
TRUSTED_ACCESS_NEEDED = "(Your organization must first enable trusted access with AWS Account Management.)"
STANDALONE_ONLY = "(The management account can only be managed using the standalone context from the management account)"
NOT_ADMINISTRATOR = "(Only the management account or a delegated administrator of the organization can specify an AccountId)"
NOT_MEMBER = "(The specified account is not a member account of the organization)"


def account_client(acct: Account, region: str = common.REGION, config: botocore.config.Config = CONFIG):  # type: ignore[no-untyped-def]
    return acct.session.client("account", endpoint_url=common.ENDPOINT, region_name=region, config=config)


def all_regions(client, **kwargs) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every page of ListRegions, through boto3's paginator: {region: status}."""
    seen = [r for page in client.get_paginator("list_regions").paginate(**kwargs) for r in page["Regions"]]
    names = [r["RegionName"] for r in seen]
    assert names == sorted(set(names)), names  # each once, by name
    return {r["RegionName"]: r["RegionOptStatus"] for r in seen}


def sts_works(acct: Account, region: str) -> bool:
    try:
        return acct.client("sts", region).get_caller_identity()["Account"] == acct.id
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidClientTokenId", exc.response
        return False


def rest_call(acct: Account, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """The Rust SDK's request: POST, application/json, signed for service `account`."""
    status, headers, raw = raw_request(acct, "POST", path, "account", body, {"Content-Type": "application/json"})
    return status, {k.lower(): v for k, v in headers.items()}, raw


def mark(acct: Account, region: str, status: str | None) -> dict:  # type: ignore[type-arg]
    return admin("POST", "/_taegis/region-opt-status", {"account": acct.id, "region": region, "status": status})


# ------------------------------------------------------------------------------------ (ag)


def check_account_list_regions(acct: Account) -> None:
    """(ag) An account's own regions: ENABLED_BY_DEFAULT before March 2019, the opt-in ones
    ENABLED (row n lets every account use them) unless disabled for it, DISABLED then; what the
    answer says enabled is exactly where the account's calls work; pages; refusals; the Rust SDK's
    request shape; faults in the REST-JSON shape."""
    account, other = account_client(acct), Account()
    first = account.list_regions()
    assert len(first["Regions"]) == 20 and first.get("NextToken"), first  # the default page: 20 of 34
    regions = all_regions(account)
    assert regions == {**{r: "ENABLED_BY_DEFAULT" for r in BY_DEFAULT}, **{r: "ENABLED" for r in OPT_IN}}, regions
    paged, token, pages = [], None, 0
    while True:  # by hand: 7 a page, the token going on after the last region returned
        page = account.list_regions(MaxResults=7, **({"NextToken": token} if token else {}))
        pages += 1
        assert len(page["Regions"]) == (7 if page.get("NextToken") else 34 - 28), page
        paged += [r["RegionName"] for r in page["Regions"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 5 and paged == sorted(regions), (pages, paged)
    assert set(all_regions(account, RegionOptStatusContains=["ENABLED_BY_DEFAULT"])) == BY_DEFAULT
    assert all_regions(account, RegionOptStatusContains=["DISABLED", "DISABLING"]) == {}
    assert account.get_region_opt_status(RegionName="us-east-1")["RegionOptStatus"] == "ENABLED_BY_DEFAULT"

    # Row n's state is what the answer says: disabled opt-in regions, a region enabled for the account.
    admin("POST", "/_taegis/regions", {"account": acct.id, "disabled": ["af-south-1", "me-south-1"], "enabled": ["eu-future-1"]})
    regions = all_regions(account)
    assert {r for r, s in regions.items() if s == "DISABLED"} == {"af-south-1", "me-south-1"}, regions
    assert regions["eu-future-1"] == "ENABLED" and len(regions) == 35, regions
    assert all_regions(account, RegionOptStatusContains=["DISABLED"]) == {"af-south-1": "DISABLED", "me-south-1": "DISABLED"}
    for region, status in regions.items():
        assert sts_works(acct, region) == (status != "DISABLED"), (region, status)
    got = account.get_region_opt_status(RegionName="af-south-1")
    assert (got["RegionName"], got["RegionOptStatus"]) == ("af-south-1", "DISABLED"), got
    assert account.get_region_opt_status(RegionName="eu-future-1")["RegionOptStatus"] == "ENABLED"
    others = all_regions(account_client(other))  # other accounts: unaffected
    assert others["af-south-1"] == "ENABLED" and "eu-future-1" not in others, others
    expect_error(lambda: account_client(other).get_region_opt_status(RegionName="eu-future-1"), "ValidationException", "eu-future-1", 400)

    # ENABLING / DISABLING marks (admin): shown while row n still refuses / still allows the region.
    view = mark(acct, "af-south-1", "ENABLING")
    assert view["marks"] == {"af-south-1": "ENABLING"} and {"RegionName": "af-south-1", "RegionOptStatus": "ENABLING"} in view["regions"], view
    assert account.get_region_opt_status(RegionName="af-south-1")["RegionOptStatus"] == "ENABLING" and not sts_works(acct, "af-south-1")
    mark(acct, "me-south-1", "DISABLING")
    assert account.get_region_opt_status(RegionName="me-south-1")["RegionOptStatus"] == "DISABLED"  # already refused
    admin("POST", "/_taegis/regions", {"account": acct.id, "disabled": []})
    assert account.get_region_opt_status(RegionName="af-south-1")["RegionOptStatus"] == "ENABLED" and sts_works(acct, "af-south-1")
    assert account.get_region_opt_status(RegionName="me-south-1")["RegionOptStatus"] == "DISABLING" and sts_works(acct, "me-south-1")
    assert all_regions(account, RegionOptStatusContains=["ENABLING", "DISABLING"]) == {"me-south-1": "DISABLING"}
    assert mark(acct, "me-south-1", None)["marks"] == {"af-south-1": "ENABLING"}
    assert account.get_region_opt_status(RegionName="me-south-1")["RegionOptStatus"] == "ENABLED"
    for bad in ({"account": acct.id, "region": "us-east-1", "status": "ENABLING"}, {"account": acct.id, "region": "af-south-1", "status": "ENABLED"},
                {"account": "12", "region": "af-south-1", "status": None}, {"account": acct.id, "region": "af-south-1", "nope": 1}):
        status, error = admin_refused("POST", "/_taegis/region-opt-status", bad)
        assert status == 400 and error, (bad, status, error)

    # Refusals.
    unchecked = account_client(acct, config=botocore.config.Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    expect_error(lambda: account.list_regions(MaxResults=51), "ValidationException",
                 "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50", 400)
    expect_error(lambda: unchecked.list_regions(MaxResults=0), "ValidationException", "greater than or equal to 1", 400)
    expect_error(lambda: account.list_regions(RegionOptStatusContains=["ON"]), "ValidationException", "enum value set: [ENABLED, ENABLING, DISABLING, DISABLED, ENABLED_BY_DEFAULT]", 400)
    expect_error(lambda: account.list_regions(NextToken="not-a-token"), "ValidationException", "NextToken", 400)
    token = account.list_regions(MaxResults=2)["NextToken"]
    expect_error(lambda: account.list_regions(NextToken=token, RegionOptStatusContains=["ENABLED"]), "ValidationException", "NextToken", 400)
    expect_error(lambda: account.list_regions(AccountId="12"), "ValidationException", "'accountId'", 400)
    expect_error(lambda: unchecked.get_region_opt_status(), "ValidationException", "Value null at 'regionName'", 400)
    expect_error(lambda: account.get_region_opt_status(RegionName="us-esat-1"), "ValidationException", "us-esat-1", 400)
    # An account in no organisation names another: refused.
    exc = expect_error(lambda: account.list_regions(AccountId=other.id), "AccessDeniedException", NOT_ADMINISTRATOR, 403)
    assert exc.response["Error"]["Message"].startswith(f"User: arn:aws:sts::{acct.id}:assumed-role/x/selftest is not authorized to perform: account:ListRegions ("), exc.response

    # The Rust SDK's request: POST /listRegions, application/json, `{}` when no field is set,
    # signed for service `account`: moto routes it by the credential scope to this service.
    for body in (b"{}", b'{"MaxResults":50}'):
        status, headers, raw = rest_call(acct, "/listRegions", body)
        answer = json.loads(raw)
        assert status == 200 and headers["content-type"].startswith("application/json"), (status, headers, raw)
        assert len(answer["Regions"]) == (20 if body == b"{}" else 35) and ("NextToken" in answer) == (body == b"{}"), answer
    status, headers, raw = rest_call(acct, "/getRegionOptStatus", b'{"RegionName":"ap-east-1"}')
    assert status == 200 and json.loads(raw) == {"RegionName": "ap-east-1", "RegionOptStatus": "ENABLED"}, (status, raw)
    status, headers, raw = rest_call(acct, "/listRegions", b'{"MaxResults":99}')
    assert status == 400 and headers.get("x-amzn-errortype") == "ValidationException" and json.loads(raw)["reason"] == "fieldValidationFailed", (status, headers, raw)
    log = admin("GET", f"/_taegis/requests?account={acct.id}&service=account")["requests"]
    assert {e["action"] for e in log} == {"ListRegions", "GetRegionOptStatus"} and all(e["path"] in ("/listRegions", "/getRegionOptStatus") for e in log), log

    # Faults and region refusals in the service's REST-JSON shape (the code in x-amzn-ErrorType).
    no_retry = account_client(acct, config=NO_RETRY)
    set_behaviour(acct, faults=[{"action": "ListRegions", "fault": "throttle"}, {"action": "GetRegionOptStatus", "fault": "5xx"}])
    exc = expect_error(no_retry.list_regions, "TooManyRequestsException", "Rate exceeded", 429)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "TooManyRequestsException", exc.response
    expect_error(lambda: no_retry.get_region_opt_status(RegionName="us-east-1"), "InternalServerException", None, 500)
    assert len(account.list_regions()["Regions"]) == 20  # each fault used once
    admin("POST", "/_taegis/regions", {"account": acct.id, "disabled": ["il-central-1"]})
    expect_error(account_client(acct, "il-central-1").list_regions, "UnrecognizedClientException", INVALID_TOKEN, 403)


def check_account_regions_of_members(acct: Account) -> None:
    """(ag) AccountId: the management account (or a delegated administrator for
    account.amazonaws.com) asks about a member, once trusted access for Account Management is on;
    the management account can't name itself; members and strangers are refused; row u's
    refusal in the REST-JSON shape."""
    management, member, second, delegate, stranger = acct, Account(), Account(), Account(), Account()
    organization(management, member, second, delegate, service_access=())
    admin("POST", "/_taegis/regions", {"account": member.id, "disabled": ["ap-east-1"]})
    own = account_client(management)
    expect_error(lambda: own.list_regions(AccountId=member.id), "AccessDeniedException", TRUSTED_ACCESS_NEEDED, 403)
    expect_error(lambda: own.get_region_opt_status(AccountId=member.id, RegionName="ap-east-1"), "AccessDeniedException",
                 f"is not authorized to perform: account:GetRegionOptStatus {TRUSTED_ACCESS_NEEDED}", 403)
    organization(management, service_access=("account.amazonaws.com",))  # trusted access on

    regions = all_regions(own, AccountId=member.id)
    assert regions["ap-east-1"] == "DISABLED" and len(regions) == 34 and regions == all_regions(account_client(member)), regions
    assert all_regions(own)["ap-east-1"] == "ENABLED"  # its own, without AccountId
    assert own.get_region_opt_status(AccountId=member.id, RegionName="ap-east-1")["RegionOptStatus"] == "DISABLED"
    assert all_regions(own, AccountId=member.id, RegionOptStatusContains=["DISABLED"]) == {"ap-east-1": "DISABLED"}
    token = own.list_regions(AccountId=member.id, MaxResults=3)["NextToken"]  # a token is for one account
    expect_error(lambda: own.list_regions(AccountId=second.id, NextToken=token), "ValidationException", "NextToken", 400)
    assert len(own.list_regions(AccountId=member.id, NextToken=token)["Regions"]) == 20

    exc = expect_error(lambda: own.list_regions(AccountId=management.id), "AccessDeniedException", STANDALONE_ONLY, 403)
    assert f"User: arn:aws:sts::{management.id}:assumed-role/x/selftest is not authorized to perform: account:ListRegions" in exc.response["Error"]["Message"]
    expect_error(lambda: own.list_regions(AccountId=stranger.id), "AccessDeniedException", NOT_MEMBER, 403)
    expect_error(lambda: account_client(member).list_regions(AccountId=second.id), "AccessDeniedException", NOT_ADMINISTRATOR, 403)
    expect_error(lambda: account_client(stranger).list_regions(AccountId=member.id), "AccessDeniedException", NOT_ADMINISTRATOR, 403)

    # A delegated administrator for Account Management (moto refused the service principal).
    expect_error(lambda: account_client(delegate).list_regions(AccountId=member.id), "AccessDeniedException", NOT_ADMINISTRATOR, 403)
    management.client("organizations").register_delegated_administrator(AccountId=delegate.id, ServicePrincipal="account.amazonaws.com")
    assert all_regions(account_client(delegate), AccountId=member.id)["ap-east-1"] == "DISABLED"
    assert account_client(delegate).get_region_opt_status(AccountId=second.id, RegionName="ap-east-1")["RegionOptStatus"] == "ENABLED"
    expect_error(lambda: account_client(delegate).list_regions(AccountId=management.id), "AccessDeniedException", STANDALONE_ONLY, 403)

    # Row u: an enforced account's user without account:ListRegions gets the REST-JSON refusal.
    session = user_session(second, "regions", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "account:GetRegionOptStatus", "Resource": "*"}]})
    user = session.client("account", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    admin("POST", "/_taegis/iam-enforcement", {"account": second.id, "enforce": True})
    try:
        exc = expect_error(user.list_regions, "AccessDeniedException", f"arn:aws:iam::{second.id}:user/regions is not authorized to perform: account:ListRegions", 403)
        headers = exc.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"] == "AccessDeniedException" and headers["content-type"] == "application/json", headers
        assert user.get_region_opt_status(RegionName="eu-west-1")["RegionOptStatus"] == "ENABLED_BY_DEFAULT"
    finally:
        admin("POST", "/_taegis/iam-enforcement", {"account": second.id, "enforce": False})


def check_reset_clears_region_opt_marks(acct: Account) -> None:
    """(ag) POST /moto-api/reset forgets the ENABLING / DISABLING marks (runs alone, after the
    other checks)."""
    assert mark(acct, "ca-west-1", "DISABLING")["marks"] == {"ca-west-1": "DISABLING"}
    assert account_client(acct).get_region_opt_status(RegionName="ca-west-1")["RegionOptStatus"] == "DISABLING"
    req = urllib.request.Request(common.ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    view = admin("GET", f"/_taegis/region-opt-status?account={acct.id}")
    assert view["marks"] == {} and {"RegionName": "ca-west-1", "RegionOptStatus": "ENABLED"} in view["regions"], view
    try:
        admin("GET", "/_taegis/region-opt-status?account=12")
        raise AssertionError("accepted a bad account")
    except urllib.error.HTTPError as err:
        assert err.code == 400
