"""Checks of identities (web identity, profiles), targeted faults, (z) empty log pages, (aa)
strict roles, (ab) topics of another account, delete failures and opt-in regions."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import xml.etree.ElementTree as ET

import boto3
import botocore.config
import botocore.exceptions

from . import common
from .common import (
    CONFIG,
        INVALID_TOKEN,
    NO_RETRY,
    REGION,
    Account,
    admin,
    events_of,
    expect_error,
    ops_of,
    params,
    raw_request,
    refused_field,
    reset_behaviour,
    set_behaviour,
    stack,
    wait_stack,
)
from .behaviour import CHAIN_STACK


# ------------------------------------------------------------------------------------ identities


def check_web_identity_and_profiles(acct: Account) -> None:
    """(i) AssumeRoleWithWebIdentity (unsigned, any token) and profile role chains act in the
    role's account, and the log names that account."""
    import tempfile

    import botocore.session
    from botocore import UNSIGNED

    sts = boto3.client("sts", endpoint_url=common.ENDPOINT, region_name=REGION, config=botocore.config.Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    creds = sts.assume_role_with_web_identity(RoleArn=f"arn:aws:iam::{acct.id}:role/ci", RoleSessionName="gha", WebIdentityToken="not even a JWT")["Credentials"]
    web = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    who = web.client("sts", endpoint_url=common.ENDPOINT, region_name=REGION, config=CONFIG).get_caller_identity()
    assert (who["Account"], who["Arn"]) == (acct.id, f"arn:aws:sts::{acct.id}:assumed-role/ci/gha"), who
    web.client("s3", endpoint_url=common.ENDPOINT, region_name=REGION, config=CONFIG).create_bucket(Bucket=f"wi-{acct.id}")
    assert acct.client("s3").get_bucket_location(Bucket=f"wi-{acct.id}")["LocationConstraint"] is None  # same account

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "token"), "w") as fh:
            fh.write("opaque OIDC token")
        with open(os.path.join(tmp, "config"), "w") as fh:
            fh.write(
                f"[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
                f"[profile chained]\nrole_arn = arn:aws:iam::{acct.id}:role/deployer\nsource_profile = base\nregion = {REGION}\nendpoint_url = {common.ENDPOINT}\n"
                f"[profile oidc]\nrole_arn = arn:aws:iam::{acct.id}:role/oidc\nweb_identity_token_file = {tmp}/token\nregion = {REGION}\nendpoint_url = {common.ENDPOINT}\n"
            )
        for profile, role in (("chained", "deployer"), ("oidc", "oidc")):
            session = botocore.session.Session()
            for var, value in (("config_file", os.path.join(tmp, "config")), ("credentials_file", os.devnull), ("profile", profile)):
                session.set_config_variable(var, value)
            arn = boto3.session.Session(botocore_session=session).client("sts").get_caller_identity()["Arn"]
            assert arn.startswith(f"arn:aws:sts::{acct.id}:assumed-role/{role}/"), arn
    log = admin("GET", f"/_taegis/requests?account={acct.id}&service=sts")["requests"]
    unsigned = [e for e in log if e["action"] == "AssumeRoleWithWebIdentity"]
    assert len(unsigned) == 2 and all((e["access_key"], e["region"], e["status"], e["method"]) == (None, None, 200, "POST") for e in unsigned), unsigned
    calls = [e for e in log if e["action"] == "GetCallerIdentity"]
    assert len(calls) == 3 and all(e["access_key"].startswith("ASIA") and e["region"] == REGION for e in calls), calls
    # The chained profile's AssumeRole is signed with the source profile's keys: their account.
    chained = admin("GET", "/_taegis/requests?action=AssumeRole&access_key=testing")["requests"]
    assert chained and all(e["account"] == "123456789012" for e in chained), chained[:2]


def check_targeted_faults(acct: Account) -> None:
    """faults: one action's next calls fail as asked; the write of a drop_after happens; other
    actions and accounts are untouched; bad fields are refused."""
    lam = acct.session.client("lambda", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    acct.function("targeted")
    set_behaviour(acct, faults=[{"action": "AddPermission", "fault": "drop_after", "times": 1}])
    statement = dict(
        FunctionName="targeted",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::some-bucket",
    )
    try:
        lam.add_permission(**statement)
        raise AssertionError("the answer was not lost")
    except (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError):
        pass
    lam.get_function(FunctionName="targeted")  # another action: untouched
    policy = json.loads(lam.get_policy(FunctionName="targeted")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke"], policy  # it was applied
    expect_error(lambda: lam.add_permission(**statement), "ResourceConflictException")  # used up
    assert admin("GET", f"/_taegis/behaviour?account={acct.id}")["faults"][0]["times"] == 0
    log = admin("GET", f"/_taegis/requests?account={acct.id}&action=AddPermission")["requests"]
    assert [e.get("fault") for e in log] == ["drop_after", None], log
    for bad in ([{"action": "X", "fault": "boom"}], [{"action": "X", "fault": "5xx", "times": 0}], "x"):
        try:
            admin("POST", "/_taegis/behaviour", {"account": acct.id, "faults": bad})
            raise AssertionError(f"accepted {bad!r}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err
    reset_behaviour(acct)


# ------------------------------------------------------------------------------------ z, aa, ab, delete failures, opt-in


DELETE_FAILED_REASON = "The following resource(s) failed to delete: [ParamA]. "


def resource_states(cfn, stack_id: str) -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """{logical id: (status, reason)} of DescribeStackResources."""
    return {
        r["LogicalResourceId"]: (r["ResourceStatus"], r.get("ResourceStatusReason"))
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }


def check_delete_failures(acct: Account) -> None:
    """failures with operation "delete": DeleteStack stops at the resource (DELETE_FAILED with the
    reason), those deleted before it stay deleted, those after it stay, the stack ends
    DELETE_FAILED; again while the failure is set; a later DeleteStack finishes; "any" never
    fails a delete; synchronous and in the background."""
    cfn, ssm, sns = acct.client("cloudformation"), acct.client("ssm"), acct.client("sns")
    reason = "Injected: ParamA is in use"
    for name, pace in (("stuck", {}), ("slowstuck", {"resource_seconds": 0.2})):
        set_behaviour(acct, failures=[{"stack": name, "resource": "ParamA", "reason": reason, "operation": "delete"}], **pace)
        sid = cfn.create_stack(StackName=name, TemplateBody=CHAIN_STACK)["StackId"]
        assert wait_stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"  # a delete failure leaves the create alone
        topic = sns.list_topics()["Topics"]
        cfn.delete_stack(StackName=name)
        if pace:
            assert stack(cfn, name)["StackStatus"] == "DELETE_IN_PROGRESS"
        for attempt in (1, 2):  # the failure stays while it is set
            st = wait_stack(cfn, sid)
            assert (st["StackStatus"], st.get("StackStatusReason")) == ("DELETE_FAILED", DELETE_FAILED_REASON), (st, events_of(cfn, sid))
            ev = events_of(cfn, sid)
            assert ev[-1] == (name, "DELETE_FAILED", DELETE_FAILED_REASON), ev
            assert [e for e in ev if e[1] == "DELETE_FAILED" and e[0] == "ParamA"] == [("ParamA", "DELETE_FAILED", reason)] * attempt, ev
            assert not any(e[0] == "Topic" and e[1].startswith("DELETE") for e in ev), ev  # never reached
            assert resource_states(cfn, sid) == {"ParamA": ("DELETE_FAILED", reason), "Topic": ("CREATE_COMPLETE", None)}, resource_states(cfn, sid)
            summaries = {r["LogicalResourceId"]: r["ResourceStatus"] for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]}
            assert summaries == {"ParamA": "DELETE_FAILED", "Topic": "CREATE_COMPLETE"}, summaries
            expect_error(lambda: ssm.get_parameter(Name=f"{name}-b"), "ParameterNotFound")  # deleted before, stays so
            assert ssm.get_parameter(Name=f"{name}-a")["Parameter"]["Value"] == "v1"
            assert sns.list_topics()["Topics"] == topic
            assert stack(cfn, name)["StackId"] == sid  # still found by name
            if attempt == 1:
                expect_error(
                    lambda: cfn.update_stack(StackName=name, UsePreviousTemplate=True, Parameters=params(Value="v2")),
                    "ValidationError", f"Stack:{sid} is in DELETE_FAILED state and can not be updated.",
                )
                cfn.delete_stack(StackName=name)
        set_behaviour(acct, failures=[])
        cfn.delete_stack(StackName=name)
        st = wait_stack(cfn, sid)
        assert st["StackStatus"] == "DELETE_COMPLETE", (st, events_of(cfn, sid))
        expect_error(lambda: ssm.get_parameter(Name=f"{name}-a"), "ParameterNotFound")
        assert sns.list_topics()["Topics"] == []
        ops = [(o["operation"], o["status"]) for o in ops_of(acct) if o["stack_id"] == sid]
        assert ops == [("create", "CREATE_COMPLETE")] + [("delete", "DELETE_FAILED")] * 2 + [("delete", "DELETE_COMPLETE")], ops
    # "any" is create or update only.
    set_behaviour(acct, resource_seconds=0)
    sid = cfn.create_stack(StackName="anyway", TemplateBody=CHAIN_STACK)["StackId"]
    set_behaviour(acct, failures=[{"stack": "anyway", "resource": "ParamA", "reason": reason, "operation": "any"}])
    cfn.delete_stack(StackName="anyway")
    assert stack(cfn, sid)["StackStatus"] == "DELETE_COMPLETE"
    for bad in ([{"stack": "s", "resource": "r", "operation": "remove"}], [{"stack": "s", "operation": "delete"}]):
        try:
            admin("POST", "/_taegis/behaviour", {"account": acct.id, "failures": bad})
            raise AssertionError(f"accepted {bad!r}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "failure" in json.loads(err.read())["error"], err
    reset_behaviour(acct)


def check_empty_log_pages(acct: Account) -> None:
    """(z) empty_log_pages: each FilterLogEvents search answers N empty pages (with a token)
    before moto's answer; per search, per account; 0 turns it off."""
    logs = acct.session.client("logs", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    raw: list[bytes] = []
    logs.meta.events.register("after-call.cloudwatch-logs", lambda http_response, **kw: raw.append(http_response.content))
    group = "/aws/lambda/pages"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(("one", "two", "three"))])

    def search(**kw):  # type: ignore[no-untyped-def]
        """(empty pages before the first with events, messages of every page after them)."""
        empty, messages, token = 0, [], None
        while True:
            page = logs.filter_log_events(logGroupName=group, **kw, **({"nextToken": token} if token else {}))
            if not page["events"] and not messages:
                assert json.loads(raw[-1]) == {"events": [], "searchedLogStreams": [], "nextToken": page["nextToken"]}, raw[-1]
                assert "@" not in page["nextToken"], page["nextToken"]
                empty += 1
            messages += [e["message"] for e in page["events"]]
            token = page.get("nextToken")
            if not token:
                return empty, messages

    assert search() == (0, ["one", "two", "three"])  # off by default
    set_behaviour(acct, empty_log_pages=2)
    assert search() == (2, ["one", "two", "three"])
    assert search(filterPattern="two") == (2, ["two"])  # every search, its own count
    assert search(limit=2) == (2, ["one", "two", "three"])  # then moto's own pages
    first = logs.filter_log_events(logGroupName=group)["nextToken"]
    second = logs.filter_log_events(logGroupName=group, nextToken=first)
    assert second["events"] == [] and second["nextToken"] != first, second
    assert logs.filter_log_events(logGroupName=group, nextToken=first)["events"] == []  # a token stays valid (retries)
    real = logs.filter_log_events(logGroupName=group, nextToken=second["nextToken"])
    assert [e["message"] for e in real["events"]] == ["one", "two", "three"] and "nextToken" not in real, real
    assert [s["logStreamName"] for s in real["searchedLogStreams"]] == ["s"], real
    other = logs.filter_log_events(logGroupName=group, filterPattern="one", nextToken=second["nextToken"])
    assert other["events"] == [] and "nextToken" not in other, other  # another search's token: moto's unknown token
    expect_error(lambda: logs.filter_log_events(logGroupName="/aws/lambda/none"), "ResourceNotFoundException")  # at once
    stranger = Account()  # other accounts: untouched
    stranger.client("logs").create_log_group(logGroupName=group)
    page = stranger.client("logs").filter_log_events(logGroupName=group)
    assert page["events"] == [] and "nextToken" not in page, page
    set_behaviour(acct, empty_log_pages=0)
    assert search() == (0, ["one", "two", "three"])
    for bad in (-1, 101, 1.5, True, "2"):
        refused_field(acct, "empty_log_pages", bad)
    assert reset_behaviour(acct)["empty_log_pages"] == 0


def check_disabled_opt_in_region(acct: Account) -> None:
    """(n) an opt-in region disabled for one account through /_taegis/regions: that account's
    calls signed for it are refused as row n refuses; other accounts and regions are not."""
    region = "af-south-1"
    other = Account()
    assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id  # on by default
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "disabled": [region]})
    assert got == {"account": acct.id, "enabled": [], "disabled": [region]}, got
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == got
    assert admin("GET", "/_taegis/regions")["disabled"][acct.id] == [region]
    exc = expect_error(acct.client("sts", region).get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
    assert exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
    status, _, body = raw_request(
        acct, "POST", "/", "sts", b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"}, region=region,
    )
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    root = ET.fromstring(body)
    assert status == 403 and [(c.tag, c.text) for c in root.find(f"{ns}Error")] == [
        (f"{ns}Type", "Sender"), (f"{ns}Code", "InvalidClientTokenId"), (f"{ns}Message", INVALID_TOKEN)
    ], body
    expect_error(acct.client("cloudformation", region).describe_stacks, "InvalidClientTokenId", INVALID_TOKEN, 403)
    expect_error(lambda: acct.client("s3", region).create_bucket(Bucket=f"dis-{acct.id}", CreateBucketConfiguration={"LocationConstraint": region}),
                 "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", 403)
    expect_error(acct.client("lambda", region).list_functions, "UnrecognizedClientException", INVALID_TOKEN, 403)
    expect_error(acct.client("logs", region).describe_log_groups, "UnrecognizedClientException", INVALID_TOKEN, 400)
    assert acct.client("sts").get_caller_identity()["Account"] == acct.id  # other regions
    assert acct.client("sts", "me-south-1").get_caller_identity()["Account"] == acct.id  # other opt-in regions
    assert other.client("sts", region).get_caller_identity()["Account"] == other.id  # other accounts
    log = admin("GET", f"/_taegis/requests?account={acct.id}&region={region}")["requests"]
    assert [e["status"] for e in log if e["action"] == "GetCallerIdentity"] == [200, 403, 403], log

    # "enabled" alone replaces the enabled list and keeps the disabled one (and the other way round).
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": ["eu-future-1"]})
    assert got == {"account": acct.id, "enabled": ["eu-future-1"], "disabled": [region]}, got
    assert acct.client("sts", "eu-future-1").get_caller_identity()["Account"] == acct.id
    for bad in (
        {"account": acct.id, "disabled": ["us-east-1"]},  # every account has it
        {"account": acct.id, "disabled": ["eu-west-1"]},
        {"account": acct.id, "disabled": ["eu-future-1"]},  # not an opt-in region either
        {"account": acct.id, "disabled": "af-south-1"},
        {"account": acct.id, "enabled": [region], "disabled": [region]},
        {"account": acct.id, "enabled": [region]},  # still disabled
        {"account": acct.id},
    ):
        try:
            admin("POST", "/_taegis/regions", bad)
            raise AssertionError(f"accepted {bad}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == got  # refusals change nothing
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": [], "disabled": []})
    assert got == {"account": acct.id, "enabled": [], "disabled": []}, got
    assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id


def trust(principal) -> str:  # type: ignore[no-untyped-def]
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})


def check_strict_roles(acct: Account) -> None:
    """(aa) strict_roles: AssumeRole into the account's roles needs the role and a trust policy
    that lets the caller in (else 403 AccessDenied as AWS words it); unsigned calls, other
    accounts and the default stay as they were."""
    caller = Account()
    sts = caller.session.client("sts", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    raw: list[tuple[int, bytes]] = []
    sts.meta.events.register("after-call.sts", lambda http_response, **kw: raw.append((http_response.status_code, http_response.content)))
    caller_arn = sts.get_caller_identity()["Arn"]
    assert caller_arn == f"arn:aws:sts::{caller.id}:assumed-role/x/selftest", caller_arn
    iam = acct.client("iam")
    roles = {
        "by-root": trust({"AWS": f"arn:aws:iam::{caller.id}:root"}),
        "by-id": trust({"AWS": caller.id}),
        "by-arn": trust({"AWS": caller_arn}),
        "by-role": trust({"AWS": f"arn:aws:iam::{caller.id}:role/x"}),
        "anyone": trust("*"),
        "someone-else": trust({"AWS": "arn:aws:iam::111122223333:root"}),
        "service": trust({"Service": "lambda.amazonaws.com"}),
        "denied": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": caller.id}, "Action": "sts:*"},
        ]}),
    }
    for name, document in roles.items():
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)
    arn = lambda name: f"arn:aws:iam::{acct.id}:role/{name}"  # noqa: E731
    assume = lambda name, client=sts: client.assume_role(RoleArn=arn(name), RoleSessionName="rs")  # noqa: E731
    assume("missing")  # off by default: any role ARN

    assert set_behaviour(acct, strict_roles=True)["strict_roles"] is True
    for name in ("by-root", "by-id", "by-arn", "by-role", "anyone"):
        creds = assume(name)["Credentials"]
        who = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"]
        ).client("sts", endpoint_url=common.ENDPOINT, region_name=REGION, config=CONFIG).get_caller_identity()
        assert who["Arn"] == f"arn:aws:sts::{acct.id}:assumed-role/{name}/rs", who
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    for name in ("missing", "x", "someone-else", "service", "denied"):
        message = f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {arn(name)}"
        expect_error(lambda: assume(name), "AccessDenied", message, 403)
        status, body = raw[-1]
        root = ET.fromstring(body)
        assert status == 403 and root.tag == f"{ns}ErrorResponse", (status, body)
        assert [(c.tag, c.text) for c in root.find(f"{ns}Error")] == [
            (f"{ns}Type", "Sender"), (f"{ns}Code", "AccessDenied"), (f"{ns}Message", message)
        ], body
        assert root.find(f"{ns}RequestId").text, body
    base = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    expect_error(lambda: assume("by-root", base.client("sts", endpoint_url=common.ENDPOINT, config=NO_RETRY)), "AccessDenied",
                 f"User: arn:aws:sts::123456789012:user/moto is not authorized to perform: sts:AssumeRole on resource: {arn('by-root')}", 403)
    assume("anyone", base.client("sts", endpoint_url=common.ENDPOINT, config=NO_RETRY))

    from botocore import UNSIGNED

    unsigned = boto3.client("sts", endpoint_url=common.ENDPOINT, region_name=REGION, config=botocore.config.Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    unsigned.assume_role_with_web_identity(RoleArn=arn("missing"), RoleSessionName="ci", WebIdentityToken="token")  # unsigned: as before
    sts.assume_role(RoleArn=f"arn:aws:iam::{caller.id}:role/missing", RoleSessionName="rs")  # another account: as before
    log = admin("GET", f"/_taegis/requests?account={caller.id}&action=AssumeRole")["requests"]
    assert sorted(e["status"] for e in log) == [200] * 7 + [403] * 5, log

    set_behaviour(acct, strict_roles=False)
    assume("missing")
    for bad in ("yes", 1, None):
        refused_field(acct, "strict_roles", bad)
    assert reset_behaviour(acct)["strict_roles"] is False


def check_cross_account_topic(acct: Account) -> None:
    """(ab) another account's Subscribe, ListSubscriptionsByTopic, GetTopicAttributes need the
    topic policy's grant (else 403 AuthorizationError); the subscription lives on the topic;
    its owner may unsubscribe it."""
    owner, member, stranger = acct, Account(), Account()
    topic = owner.client("sns").create_topic(Name="org-trail")["TopicArn"]
    fn = member.function("org-reader")
    sns = member.session.client("sns", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    member_arn = f"arn:aws:sts::{member.id}:assumed-role/x/selftest"
    calls = {
        "Subscribe": lambda client: client.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, ReturnSubscriptionArn=True),
        "ListSubscriptionsByTopic": lambda client: client.list_subscriptions_by_topic(TopicArn=topic),
        "GetTopicAttributes": lambda client: client.get_topic_attributes(TopicArn=topic),
    }
    for action, call in calls.items():  # the default policy: the owner's account only
        message = (f"User: {member_arn} is not authorized to perform: SNS:{action} on resource: {topic} "
                   f"because no resource-based policy allows the SNS:{action} action")
        exc = expect_error(lambda: call(sns), "AuthorizationError", message, 403)
        assert exc.response["Error"]["Type"] == "Sender", exc.response["Error"]
    assert owner.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []

    policy = json.loads(owner.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    policy["Statement"] += [
        {"Sid": "member", "Effect": "Allow", "Principal": {"AWS": member.id},
         "Action": ["sns:Subscribe", "sns:ListSubscriptionsByTopic"], "Resource": topic},
        {"Sid": "read", "Effect": "Allow", "Principal": "*", "Action": "SNS:GetTopicAttributes", "Resource": topic},
        {"Sid": "not-him", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{stranger.id}:root"}, "Action": "sns:GetTopicAttributes", "Resource": topic},
    ]
    owner.client("sns").set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (attributes["Owner"], attributes["TopicArn"]) == (owner.id, topic), attributes
    sub = calls["Subscribe"](sns)["SubscriptionArn"]
    assert sub.startswith(topic + ":"), sub
    assert calls["Subscribe"](sns)["SubscriptionArn"] == sub  # no duplicate
    listed = [(s["SubscriptionArn"], s["Owner"], s["Protocol"], s["Endpoint"]) for s in owner.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
    assert listed == [(sub, member.id, "lambda", fn)], listed  # on the topic, the member's
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [sub]
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]] == [sub]  # the member's own
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["Owner"] == member.id

    other = stranger.session.client("sns", endpoint_url=common.ENDPOINT, config=NO_RETRY)
    stranger_arn = f"arn:aws:sts::{stranger.id}:assumed-role/x/selftest"
    expect_error(lambda: calls["GetTopicAttributes"](other), "AuthorizationError",
                 f"User: {stranger_arn} is not authorized to perform: SNS:GetTopicAttributes on resource: {topic} with an explicit deny in a resource-based policy", 403)
    expect_error(lambda: calls["Subscribe"](other), "AuthorizationError", f"SNS:Subscribe on resource: {topic}", 403)
    expect_error(lambda: other.unsubscribe(SubscriptionArn=sub), "AuthorizationError",
                 f"User: {stranger_arn} is not authorized to perform: SNS:Unsubscribe on resource: {sub}", 403)
    third = Account()  # "*" lets anyone read, nothing more
    assert third.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Owner"] == owner.id
    sns.unsubscribe(SubscriptionArn=sub)
    assert owner.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert sns.list_subscriptions()["Subscriptions"] == []
