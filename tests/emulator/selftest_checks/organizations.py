"""Checks of (ad) Organizations, (ae) organisation trails and shadow trails, (af) log delivery
and its key layouts, and the coverage scenario (with (aa) strict roles for the refusing role)."""

from __future__ import annotations

import gzip
import json
import re
import time
import urllib.error
import urllib.request

import boto3

from . import common
from .common import CONFIG, NO_RETRY, OPENER, REGION, Account, admin, expect_error, queue_for, reset_behaviour, set_behaviour


ACCESS_DENIED = "You don't have permissions to access this resource."
NOT_IN_USE = "Your account is not a member of an organization."
OTHER_REGION = "eu-west-1"


def admin_refused(method: str, path: str, payload=None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """(status, error) of an admin call that must fail."""
    try:
        admin(method, path, payload)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())["error"]
    raise AssertionError(f"{method} {path} {payload!r} succeeded")


def session_of(creds: dict) -> boto3.session.Session:  # type: ignore[type-arg]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], region_name=REGION,
    )


def client(session: boto3.session.Session, name: str, region: str = REGION):  # type: ignore[no-untyped-def]
    return session.client(name, endpoint_url=common.ENDPOINT, region_name=region, config=CONFIG)


def organization(management: Account, *members, service_access=("cloudtrail.amazonaws.com",)) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """The management account's organisation with `members` (Accounts or member dicts) joined."""
    joined = [m if isinstance(m, dict) else m.id for m in members]
    return admin("POST", "/_taegis/organization", {"management": management.id, "members": joined, "service_access": list(service_access)})


def bucket_of(acct: Account, name: str) -> str:
    name = f"{name}-{acct.id}"
    acct.client("s3").create_bucket(Bucket=name)
    return name


def org_trail(management: Account, bucket: str, name: str = "org", multi_region: bool = True, prefix: str = "org") -> str:
    ct = management.client("cloudtrail")
    arn = ct.create_trail(
        Name=name, S3BucketName=bucket, S3KeyPrefix=prefix, IsMultiRegionTrail=multi_region,
        IsOrganizationTrail=True, IncludeGlobalServiceEvents=True,
    )["TrailARN"]
    ct.start_logging(Name=name)
    return arn


def trails_seen(acct: Account, region: str, **kwargs) -> list[tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
    found = acct.client("cloudtrail", region).describe_trails(**kwargs)["trailList"]
    return sorted((t["Name"], t["TrailARN"], t["IsOrganizationTrail"]) for t in found)


# ------------------------------------------------------------------------------------ (ad)


def check_organization_accounts(acct: Account) -> None:
    """(ad) An organisation of accounts the test chose (admin join), seen through each account's
    assumed-role credentials: members describe it, only the management account (or a delegated
    administrator, for reads) lists it; CreateAccount still makes a random id with its role."""
    management, log_archive, member, stranger = acct, Account(), Account(), Account()
    view = admin("POST", "/_taegis/organization", {
        "management": management.id,
        "members": [{"id": log_archive.id, "name": "log-archive", "email": "logs@example.com"}, member.id],
    })
    org_id = view["organization"]["Id"]
    assert re.fullmatch(r"o-[a-z0-9]{10}", org_id) and view["organization"]["MasterAccountId"] == management.id, view
    assert view["organization"]["FeatureSet"] == "ALL" and re.fullmatch(r"r-[a-z0-9]{4}", view["root"]), view
    joined = {a["Id"]: a for a in view["accounts"]}
    assert set(joined) == {management.id, log_archive.id, member.id}, joined
    assert (joined[log_archive.id]["Name"], joined[log_archive.id]["Email"], joined[log_archive.id]["JoinedMethod"]) == (
        "log-archive", "logs@example.com", "INVITED"), joined
    assert joined[member.id]["Name"] == f"member-{member.id}" and joined[member.id]["Status"] == "ACTIVE", joined
    assert admin("GET", f"/_taegis/organization?account={member.id}")["organization"]["Id"] == org_id

    for who in (management, log_archive, member):
        described = who.client("organizations").describe_organization()["Organization"]
        assert (described["Id"], described["MasterAccountId"]) == (org_id, management.id), described
    org = management.client("organizations")
    listed = {a["Id"]: (a["Status"], a["JoinedMethod"]) for a in org.list_accounts()["Accounts"]}
    assert listed == {management.id: ("ACTIVE", "CREATED"), log_archive.id: ("ACTIVE", "INVITED"), member.id: ("ACTIVE", "INVITED")}, listed
    assert org.describe_account(AccountId=member.id)["Account"]["Id"] == member.id

    calls = {
        "ListAccounts": lambda c: c.list_accounts(),
        "DescribeAccount": lambda c: c.describe_account(AccountId=member.id),
        "ListRoots": lambda c: c.list_roots(),
        "ListDelegatedAdministrators": lambda c: c.list_delegated_administrators(),
        "CreateAccount": lambda c: c.create_account(AccountName="n", Email="n@example.com"),
        "EnableAWSServiceAccess": lambda c: c.enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com"),
    }
    for call in calls.values():  # a member: refused; an account in no organisation: not in use
        expect_error(lambda: call(member.session.client("organizations", endpoint_url=common.ENDPOINT, config=NO_RETRY)),
                     "AccessDeniedException", ACCESS_DENIED, 400)
        expect_error(lambda: call(stranger.session.client("organizations", endpoint_url=common.ENDPOINT, config=NO_RETRY)),
                     "AWSOrganizationsNotInUseException", NOT_IN_USE, 400)
    expect_error(stranger.client("organizations").describe_organization, "AWSOrganizationsNotInUseException", NOT_IN_USE, 400)

    # A delegated administrator for CloudTrail (moto refused the service) reads the organisation.
    org.register_delegated_administrator(AccountId=log_archive.id, ServicePrincipal="cloudtrail.amazonaws.com")
    delegated = log_archive.client("organizations")
    assert {a["Id"] for a in delegated.list_accounts()["Accounts"]} == set(listed)
    admins = delegated.list_delegated_administrators(ServicePrincipal="cloudtrail.amazonaws.com")["DelegatedAdministrators"]
    assert [a["Id"] for a in admins] == [log_archive.id], admins
    expect_error(lambda: calls["CreateAccount"](log_archive.session.client("organizations", endpoint_url=common.ENDPOINT, config=NO_RETRY)),
                 "AccessDeniedException", ACCESS_DENIED, 400)
    assert admin("GET", f"/_taegis/organization?account={member.id}")["delegated_administrators"] == {
        "cloudtrail.amazonaws.com": [log_archive.id]}

    # CreateAccount (moto's): a random id, with OrganizationAccountAccessRole trusting the management account.
    created = org.create_account(AccountName="made", Email="made@example.com")["CreateAccountStatus"]
    assert created["State"] == "SUCCEEDED" and re.fullmatch(r"\d{12}", created["AccountId"]), created
    creds = management.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{created['AccountId']}:role/OrganizationAccountAccessRole", RoleSessionName="coverage")["Credentials"]
    made = session_of(creds)
    assert client(made, "organizations").describe_organization()["Organization"]["Id"] == org_id
    role = client(made, "iam").get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert f"arn:aws:iam::{management.id}:root" in json.dumps(role["AssumeRolePolicyDocument"]), role

    # The admin endpoint's refusals.
    other = Account()
    admin("POST", "/_taegis/organization", {"management": other.id})
    for payload, said in (
        ({"management": "123"}, "management must be 12 digits"),
        ({"management": management.id, "members": [other.id]}, f"{other.id} is the management account"),
        ({"management": other.id, "members": [member.id]}, f"{member.id} already belongs to the organisation of {management.id}"),
        ({"management": member.id}, "is a member of the organisation of"),
        ({"management": management.id, "members": [{"id": stranger.id, "role": 1}]}, "a member is an account id or"),
        ({"management": management.id, "service_access": ["nothing.amazonaws.com"]}, "not a service principal"),
        ({"management": management.id, "colour": 1}, "unknown field(s): colour"),
    ):
        status, error = admin_refused("POST", "/_taegis/organization", payload)
        assert status == 400 and said in error, (payload, status, error)
    assert admin_refused("GET", f"/_taegis/organization?account={stranger.id}") == (404, f"{stranger.id} belongs to no organisation")
    expect_error(stranger.client("organizations").describe_organization, "AWSOrganizationsNotInUseException")


# ------------------------------------------------------------------------------------ (ae)


def check_organization_trail_shadows(acct: Account) -> None:
    """(ae) Who may make an organisation trail; each member sees it (DescribeTrails with shadow
    trails, every region when multi-region; not without shadow trails), its status by ARN only,
    GetTrail by ARN, trailNameList; an account's own multi-region trail in its every region."""
    management, log_archive, member, own, stranger = acct, Account(), Account(), Account(), Account()
    bucket = bucket_of(log_archive, "org-trail")
    ct_params = {"Name": "org", "S3BucketName": bucket, "IsOrganizationTrail": True, "IsMultiRegionTrail": True}

    expect_error(lambda: stranger.client("cloudtrail").create_trail(**ct_params), "OrganizationsNotInUseException", None, 400)
    organization(management, log_archive, member, own, service_access=())
    expect_error(lambda: management.client("cloudtrail").create_trail(**ct_params), "CloudTrailAccessNotEnabledException", None, 400)
    expect_error(lambda: member.client("cloudtrail").create_trail(**ct_params), "NotOrganizationMasterAccountException",
                 f"Account {member.id} is not the management account", 400)
    management.client("organizations").enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")
    billing = Account()
    admin("POST", "/_taegis/organization", {"management": billing.id, "feature_set": "CONSOLIDATED_BILLING", "service_access": ["cloudtrail.amazonaws.com"]})
    expect_error(lambda: billing.client("cloudtrail").create_trail(**dict(ct_params, S3BucketName=bucket_of(billing, "billing"))),
                 "OrganizationNotInAllFeaturesModeException", None, 400)
    # A member's own trail may not become an organisation trail either.
    own_bucket = bucket_of(own, "own-trail")
    own_arn = own.client("cloudtrail").create_trail(Name="own", S3BucketName=own_bucket)["TrailARN"]
    expect_error(lambda: own.client("cloudtrail").update_trail(Name="own", IsOrganizationTrail=True), "NotOrganizationMasterAccountException")
    arn = org_trail(management, bucket)
    assert arn == f"arn:aws:cloudtrail:{REGION}:{management.id}:trail/org", arn

    for who in (management, log_archive, member):
        for region in (REGION, OTHER_REGION):
            trails = who.client("cloudtrail", region).describe_trails()["trailList"]
            assert [t["TrailARN"] for t in trails] == [arn], (who.id, region, trails)
            t = trails[0]
            assert (t["Name"], t["HomeRegion"], t["S3BucketName"], t["S3KeyPrefix"], t["IsOrganizationTrail"], t["IsMultiRegionTrail"]) == (
                "org", REGION, bucket, "org", True, True), t
    assert trails_seen(own, REGION) == sorted([("org", arn, True), ("own", own_arn, False)])
    assert trails_seen(own, OTHER_REGION) == [("org", arn, True)]  # its own trail is single-region
    for who in (log_archive, member):
        assert trails_seen(who, REGION, includeShadowTrails=False) == []
        assert trails_seen(who, OTHER_REGION, includeShadowTrails=False) == []
    assert trails_seen(management, REGION, includeShadowTrails=False) == [("org", arn, True)]
    assert trails_seen(stranger, REGION) == []

    # GetTrailStatus from a member: the organisation trail by its ARN only.
    ct = member.client("cloudtrail", OTHER_REGION)
    status = ct.get_trail_status(Name=arn)
    assert status["IsLogging"] is True and "StartLoggingTime" in status, status
    expect_error(lambda: ct.get_trail_status(Name="org"), "TrailNotFoundException",
                 f"Unknown trail: arn:aws:cloudtrail:{OTHER_REGION}:{member.id}:trail/org for the user: {member.id}", 400)
    assert ct.get_trail(Name=arn)["Trail"]["TrailARN"] == arn
    assert [t["TrailARN"] for t in ct.list_trails()["Trails"]] == [arn]
    missing = arn.replace("trail/org", "trail/gone")
    expect_error(lambda: ct.get_trail_status(Name=missing), "TrailNotFoundException", f"Unknown trail: {missing} for the user: {member.id}", 400)
    management.client("cloudtrail").stop_logging(Name="org")
    assert ct.get_trail_status(Name=arn)["IsLogging"] is False
    management.client("cloudtrail").start_logging(Name="org")
    # trailNameList: an ARN names any trail the region sees, a name only the account's own.
    names = own.client("cloudtrail").describe_trails(trailNameList=["org", "own"])["trailList"]
    assert [t["TrailARN"] for t in names] == [own_arn], names
    names = own.client("cloudtrail").describe_trails(trailNameList=[arn])["trailList"]
    assert [t["TrailARN"] for t in names] == [arn], names

    # A single-region organisation trail: only in its home region.
    single = org_trail(management, bucket, name="org-home", multi_region=False)
    assert trails_seen(member, REGION) == sorted([("org", arn, True), ("org-home", single, True)])
    assert trails_seen(member, OTHER_REGION) == [("org", arn, True)]
    # An account's own multi-region trail: in every region of its account, nowhere else.
    multi = stranger.client("cloudtrail").create_trail(Name="everywhere", S3BucketName=bucket_of(stranger, "mr"), IsMultiRegionTrail=True)["TrailARN"]
    for region in (REGION, OTHER_REGION, "ap-southeast-2"):
        assert trails_seen(stranger, region) == [("everywhere", multi, False)], region
    assert stranger.client("cloudtrail", OTHER_REGION).get_trail_status(Name=multi)["IsLogging"] is False
    # The bucket of another account (the log-archive's) and SNS are as moto had them.
    assert management.client("cloudtrail").get_trail(Name="org")["Trail"]["S3BucketName"] == bucket


# ------------------------------------------------------------------------------------ (af)

KEY_TAIL = r"/CloudTrail/{region}/2026/12/01/{account}_CloudTrail_{region}_20261201T1015Z_[A-Za-z0-9]{{16}}\.json\.gz"


def deliver(arn: str, **fields) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return admin("POST", "/_taegis/trail-delivery", dict(fields, trail=arn))


def check_trail_delivery_layouts(acct: Account) -> None:
    """(af) /_taegis/trail-delivery writes a log file as CloudTrail would: the organisation
    layout AWSLogs/{org-id}/{account}/ for an organisation trail, AWSLogs/{account}/ for an
    account trail, gzipped records, the trail's KMS key, an ObjectCreated:Put notification;
    and refuses what CloudTrail would not deliver."""
    management, log_archive, member, own, stranger = acct, Account(), Account(), Account(), Account()
    bucket = bucket_of(log_archive, "deliveries")
    queue = queue_for(log_archive, "deliveries", bucket)
    log_archive.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}]})
    org_id = organization(management, log_archive, member, own)["organization"]["Id"]
    arn = org_trail(management, bucket)
    s3 = log_archive.client("s3")

    for account, region in ((member.id, OTHER_REGION), (management.id, REGION), (log_archive.id, "ap-southeast-2")):
        got = deliver(arn, account=account, region=region, time="2026-12-01T10:15:00Z")
        pattern = f"org/AWSLogs/{org_id}/{account}" + KEY_TAIL.format(region=region, account=account)
        assert re.fullmatch(pattern, got["key"]), (pattern, got)
        assert (got["bucket"], got["organization"], got["account"], got["region"], got["records"]) == (bucket, org_id, account, region, 1), got
        obj = s3.get_object(Bucket=bucket, Key=got["key"])
        assert (obj["ContentType"], obj["ContentEncoding"], obj["ServerSideEncryption"]) == ("application/json", "gzip", "AES256"), obj
        record = json.loads(gzip.decompress(obj["Body"].read()))["Records"][0]
        assert (record["recipientAccountId"], record["awsRegion"], record["eventTime"]) == (account, region, "2026-12-01T10:15:00Z"), record
    # Epoch seconds and given records; the trail's own account by default, its home region too.
    records = [{"eventName": "CreateBucket", "awsRegion": REGION}, {"eventName": "PutObject", "awsRegion": REGION}]
    got = deliver(arn, time=1796120100, records=records)
    assert re.fullmatch(f"org/AWSLogs/{org_id}/{management.id}" + KEY_TAIL.format(region=REGION, account=management.id), got["key"]), got
    assert json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=got["key"])["Body"].read())) == {"Records": records}

    # S3 told the queue about each object (ObjectCreated:Put), unless notify is false.
    quiet = deliver(arn, account=member.id, notify=False)["key"]
    sqs = log_archive.client("sqs")
    url = sqs.get_queue_url(QueueName="deliveries")["QueueUrl"]
    told: list[str] = []
    deadline = time.time() + 5
    while len(told) < 4 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for r in json.loads(m["Body"]).get("Records", []):
                assert r["eventName"] == "ObjectCreated:Put", r
                told.append(r["s3"]["object"]["key"])
    told += [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    assert len(told) == 4 and quiet not in [k.replace("%2F", "/") for k in told], told

    # An account trail, with a KMS key and no prefix, then with a prefix: AWSLogs/{account}/.
    key_id = own.client("kms").create_key()["KeyMetadata"]["Arn"]
    own_bucket = bucket_of(own, "own-logs")
    ct = own.client("cloudtrail")
    own_arn = ct.create_trail(Name="own", S3BucketName=own_bucket, KmsKeyId=key_id)["TrailARN"]
    ct.start_logging(Name="own")
    got = deliver(own_arn, time="2026-12-01T10:15:00Z")
    assert re.fullmatch(f"AWSLogs/{own.id}" + KEY_TAIL.format(region=REGION, account=own.id), got["key"]), got
    head = own.client("s3").head_object(Bucket=own_bucket, Key=got["key"])
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id), head
    ct.update_trail(Name="own", S3KeyPrefix="team/logs")
    got = deliver(own_arn, time="2026-12-01T10:15:00Z")
    assert re.fullmatch(f"team/logs/AWSLogs/{own.id}" + KEY_TAIL.format(region=REGION, account=own.id), got["key"]), got

    # What CloudTrail would not deliver.
    for fields, status, said in (
        ({"trail": arn, "account": stranger.id}, 400, f"{stranger.id} is not an active account of organization {org_id}"),
        ({"trail": own_arn, "account": member.id}, 400, "is not an organization trail"),
        ({"trail": own_arn, "region": OTHER_REGION}, 400, f"single-region trail of {REGION}"),
        ({"trail": arn.replace("trail/org", "trail/none")}, 404, "no trail"),
        ({"trail": arn, "time": "yesterday"}, 400, "time is epoch seconds"),
        ({"trail": arn, "records": {"a": 1}}, 400, "records must be a list"),
        ({"trail": "org"}, 400, "trail must be the trail's ARN"),
        ({"trail": arn, "colour": 1}, 400, "unknown field(s): colour"),
    ):
        got_status, error = admin_refused("POST", "/_taegis/trail-delivery", fields)
        assert (got_status, said in error) == (status, True), (fields, got_status, error)
    ct.stop_logging(Name="own")
    assert admin_refused("POST", "/_taegis/trail-delivery", {"trail": own_arn}) == (400, f"{own_arn} is not logging (StartLogging): CloudTrail delivers nothing")
    admin("POST", "/_taegis/regions", {"account": member.id, "disabled": ["af-south-1"]})
    status, error = admin_refused("POST", "/_taegis/trail-delivery", {"trail": arn, "account": member.id, "region": "af-south-1"})
    assert status == 400 and "af-south-1 is not enabled for account" in error, error
    admin("POST", "/_taegis/regions", {"account": member.id, "disabled": []})


# ------------------------------------------------------------------------------------ the scenario


def check_coverage_scenario(acct: Account) -> None:
    """(ad, ae, af, aa) The coverage tests' organisation: management, log-archive with the
    organisation trail's bucket, a covered member, a member with its own trail, a member whose
    role refuses (strict_roles, no such role).  What coverage reads, through the management
    account's role into each member."""
    management, log_archive, covered, own, refused = acct, Account(), Account(), Account(), Account()
    view = admin("POST", "/_taegis/organization", {
        "management": management.id,
        "members": [{"id": log_archive.id, "name": "log-archive", "access_role": True}, covered.id, own.id, refused.id],
        "service_access": ["cloudtrail.amazonaws.com"],
    })
    org_id = view["organization"]["Id"]
    bucket = bucket_of(log_archive, "org-central")
    arn = org_trail(management, bucket)
    own_bucket = bucket_of(own, "own")
    own_arn = own.client("cloudtrail").create_trail(Name="own", S3BucketName=own_bucket)["TrailARN"]
    assert set_behaviour(refused, strict_roles=True)["strict_roles"] is True

    members = [a["Id"] for a in management.client("organizations").list_accounts()["Accounts"] if a["Status"] == "ACTIVE"]
    assert sorted(members) == sorted([management.id, log_archive.id, covered.id, own.id, refused.id]), members
    sts = management.session.client("sts", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    role = "arn:aws:iam::{}:role/OrganizationAccountAccessRole"
    seen = {}
    for account in (log_archive.id, covered.id, own.id):
        creds = sts.assume_role(RoleArn=role.format(account), RoleSessionName="coverage")["Credentials"]
        session = session_of(creds)
        assert client(session, "sts").get_caller_identity()["Account"] == account
        seen[account] = {
            region: sorted((t["TrailARN"], t["S3BucketName"], t.get("S3KeyPrefix"), t["IsOrganizationTrail"])
                           for t in client(session, "cloudtrail", region).describe_trails()["trailList"])
            for region in (REGION, OTHER_REGION)
        }
        assert client(session, "cloudtrail", OTHER_REGION).get_trail_status(Name=arn)["IsLogging"] is True
    org_row = (arn, bucket, "org", True)
    assert seen[covered.id] == seen[log_archive.id] == {REGION: [org_row], OTHER_REGION: [org_row]}, seen
    assert seen[own.id] == {REGION: sorted([org_row, (own_arn, own_bucket, None, False)]), OTHER_REGION: [org_row]}, seen
    refusal = f"User: arn:aws:sts::{management.id}:assumed-role/x/selftest is not authorized to perform: sts:AssumeRole on resource: {role.format(refused.id)}"
    expect_error(lambda: sts.assume_role(RoleArn=role.format(refused.id), RoleSessionName="coverage"), "AccessDenied", refusal, 403)
    with_role = set_behaviour(log_archive, strict_roles=True)  # the joined role trusts the management account
    assert with_role["strict_roles"] is True
    sts.assume_role(RoleArn=role.format(log_archive.id), RoleSessionName="coverage")
    expect_error(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{log_archive.id}:role/x", RoleSessionName="coverage"), "AccessDenied", None, 403)

    # The covered member's log file lands under the organisation layout in the log-archive bucket.
    key = deliver(arn, account=covered.id, region=OTHER_REGION)["key"]
    assert key.startswith(f"org/AWSLogs/{org_id}/{covered.id}/CloudTrail/{OTHER_REGION}/"), key
    listed = log_archive.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"org/AWSLogs/{org_id}/")["Contents"]
    assert [o["Key"] for o in listed] == [key], listed
    for who in (refused, log_archive):
        reset_behaviour(who)


def check_reset_clears_organizations(acct: Account) -> None:
    """(ad) POST /moto-api/reset forgets organisations and their members (moto kept the member
    map, so a former member's DescribeOrganization was a 500); runs alone."""
    member = Account()
    organization(acct, member)
    assert member.client("organizations").describe_organization()["Organization"]["MasterAccountId"] == acct.id
    req = urllib.request.Request(common.ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    base = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    creds = base.client("sts", endpoint_url=common.ENDPOINT, config=CONFIG).assume_role(
        RoleArn=f"arn:aws:iam::{member.id}:role/x", RoleSessionName="again")["Credentials"]
    again = session_of(creds)
    expect_error(client(again, "organizations").describe_organization, "AWSOrganizationsNotInUseException", NOT_IN_USE, 400)
    assert admin_refused("GET", f"/_taegis/organization?account={member.id}")[0] == 404
