"""Checks of (u): IAM policy enforcement per account."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from . import common
from .common import CONFIG, OPENER, REGION, Account, admin, bundled, expect_error, stack


LIST_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "sts:GetCallerIdentity"], "Resource": "*"}],
}


def user_session(acct: Account, name: str, policy: dict) -> boto3.session.Session:  # type: ignore[type-arg]
    """An IAM user of the account holding exactly `policy` (inline), and a session with its keys."""
    iam = acct.client("iam")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    return boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )


def check_iam_enforcement(acct: Account) -> None:
    """(u) An enforced account's signed requests are checked by moto's IAM evaluator against the
    caller's policies; other accounts, and the account once enforcement is off, are not."""
    session = user_session(acct, "reader", LIST_ONLY_POLICY)
    user = lambda name: session.client(name, endpoint_url=common.ENDPOINT, config=CONFIG)  # noqa: E731
    other = Account()
    bucket = f"denied-{acct.id}"
    try:
        got = admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
        assert got["account"] == acct.id and got["enforce"] is True and acct.id in got["enforced"], got
        assert acct.id in admin("GET", "/_taegis/iam-enforcement")["enforced"]
        assert other.id not in admin("GET", "/_taegis/iam-enforcement")["enforced"]

        assert user("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{acct.id}:user/reader"
        assert isinstance(user("s3").list_buckets()["Buckets"], list)
        expect_error(lambda: user("s3").create_bucket(Bucket=bucket), "AccessDenied", "Access Denied", 403)
        expect_error(
            user("cloudformation").describe_stacks, "AccessDenied",
            f"User: arn:aws:iam::{acct.id}:user/reader is not authorized to perform: cloudformation:DescribeStacks", 403,
        )
        # JSON protocols answer in their own error shape.
        expect_error(user("logs").describe_log_groups, "AccessDeniedException", "logs:DescribeLogGroups", 400)
        expect_error(user("lambda").list_functions, "AccessDeniedException", "lambda:ListFunctions", 403)
        # Authentication too: a wrong secret for the user's key.
        wrong = boto3.session.Session(
            aws_access_key_id=session.get_credentials().access_key, aws_secret_access_key="wrong", region_name=REGION
        )
        expect_error(wrong.client("cloudformation", endpoint_url=common.ENDPOINT, config=CONFIG).describe_stacks, "SignatureDoesNotMatch", status=403)
        # The assumed role arn:...:role/x does not exist in IAM: it has no policies.
        expect_error(acct.client("cloudformation").describe_stacks, "AccessDenied", "assumed-role/x/selftest", 403)
        assert acct.client("sts").get_caller_identity()["Account"] == acct.id
        # The request log shows the refusals.
        log = admin("GET", f"/_taegis/requests?account={acct.id}&action=CreateBucket")["requests"]
        assert [e["status"] for e in log] == [403], log

        # Another account on the same server is not checked.
        other.client("s3").create_bucket(Bucket=f"free-{other.id}")
        other.client("cloudformation").describe_stacks()

        # Bad requests.
        for body in ({"account": "12"}, {"account": acct.id, "enforce": "yes"}, {"account": acct.id, "nope": 1}):
            try:
                admin("POST", "/_taegis/iam-enforcement", body)
            except urllib.error.HTTPError as exc:
                assert exc.code == 400, exc.code
            else:
                raise AssertionError(f"accepted {body}")
    finally:
        got = admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})
    assert got["enforce"] is False and acct.id not in got["enforced"], got
    # Off again: the same user may do anything, as before.
    user("s3").create_bucket(Bucket=bucket)
    user("cloudformation").describe_stacks()
    user("lambda").list_functions()


def rfc3986_form(pairs: list[tuple[str, str]]) -> bytes:
    """A query-protocol form body encoded as the Rust SDK encodes it (RFC 3986: A-Za-z0-9-_.~ kept,
    everything else %XX, spaces %20), unlike botocore's urlencode (spaces '+', '~' kept, '*' %2A)."""
    quote = lambda v: urllib.parse.quote(v, safe="-_.~")  # noqa: E731
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode("utf-8")


def signed_form_request(key: tuple[str, str], service: str, body: bytes) -> tuple[int, bytes]:
    """POST `body` (sent byte for byte) signed with SigV4 for the access key/secret `key`."""
    req = AWSRequest(method="POST", url=common.ENDPOINT + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(*key), service, REGION).add_auth(req)
    prepared = req.prepare()
    assert prepared.body == body
    raw = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with OPENER.open(raw, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def query_error(body: bytes) -> dict[str, str]:
    """Code/Message/Type of an AWS query-protocol error, read as the non-botocore SDKs read it:
    root ErrorResponse, its child Error, no <Errors> wrapper."""
    root = ET.fromstring(body)
    tag = lambda el: el.tag.rsplit("}", 1)[-1]  # noqa: E731
    assert tag(root) == "ErrorResponse", body
    errors = [el for el in root if tag(el) == "Error"]
    assert len(errors) == 1, body
    found = {tag(el): el.text or "" for el in errors[0]}
    found["RequestId"] = next((el.text or "" for el in root if tag(el) == "RequestId"), "")
    return found


def check_iam_enforcement_rfc3986_form_body(acct: Account) -> None:
    """(u) CreateStack with a whole template in a form body encoded as the Rust SDK encodes it:
    the signature is checked over the bytes sent; a denial is an <ErrorResponse><Error> AccessDenied."""
    allowed = user_session(acct, "deployer", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["cloudformation:CreateStack", "cloudformation:DescribeStacks"], "Resource": "*"}],
    }).get_credentials()
    denied = user_session(acct, "viewer", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["cloudformation:DescribeStacks"], "Resource": "*"}],
    }).get_credentials()

    def create(name: str) -> list[tuple[str, str]]:
        return [
            ("Action", "CreateStack"), ("Version", "2010-05-15"), ("StackName", name),
            ("TemplateBody", bundled("shared-resources")),
            ("Parameters.member.1.ParameterKey", "SecretValue"),
            ("Parameters.member.1.ParameterValue", "client_id=a b~c*\nclient_secret=(x)!'+/?&="),
            ("Parameters.member.2.ParameterKey", "TaegisRegion"), ("Parameters.member.2.ParameterValue", "echo"),
            ("Capabilities.member.1", "CAPABILITY_IAM"), ("ClientRequestToken", f"token-{name}-~*"),
        ]

    body = rfc3986_form(create("rust-style"))
    assert b"%20" in body and b"~" in body and b"%2A" in body and b"%0A" in body, body[:200]
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    try:
        status, text = signed_form_request((allowed.access_key, allowed.secret_key), "cloudformation", body)
        assert status == 200, (status, text[:500])
        assert b"<StackId>arn:aws:cloudformation:" in text, text
        cfn = boto3.session.Session(
            aws_access_key_id=allowed.access_key, aws_secret_access_key=allowed.secret_key, region_name=REGION
        ).client("cloudformation", endpoint_url=common.ENDPOINT, config=CONFIG)
        assert stack(cfn, "rust-style")["StackStatus"] == "CREATE_COMPLETE", stack(cfn, "rust-style")

        # Not allowed: 403 AccessDenied, in the shape every SDK parses.
        status, text = signed_form_request((denied.access_key, denied.secret_key), "cloudformation", rfc3986_form(create("nope")))
        assert status == 403, (status, text)
        err = query_error(text)
        assert err["Code"] == "AccessDenied" and err["Type"] == "Sender", err
        assert err["Message"] == f"User: arn:aws:iam::{acct.id}:user/viewer is not authorized to perform: cloudformation:CreateStack", err
        assert err["RequestId"], err
        assert b'xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"' in text, text
        # A wrong secret: SignatureDoesNotMatch, same shape.
        status, text = signed_form_request((allowed.access_key, "wrong"), "cloudformation", rfc3986_form(create("nope")))
        assert status == 403 and query_error(text)["Code"] == "SignatureDoesNotMatch", (status, text)
        # boto3 (its own encoding) still works, and reads the same errors.
        cfn.describe_stacks(StackName="rust-style")
        cfn.create_stack(StackName="boto", TemplateBody="Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
        expect_error(lambda: cfn.delete_stack(StackName="boto"), "AccessDenied", "cloudformation:DeleteStack", 403)
    finally:
        admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})


S3_AWS_NAMED_ACTIONS = [
    "s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket", "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:GetBucketNotification",
    "s3:PutBucketNotification",
]
S3_AWS_NAMED_OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]


def check_iam_enforcement_missing_key(acct: Account) -> None:
    """(u) a missing key is 404 NoSuchKey only to a caller allowed s3:ListBucket on the bucket;
    to one allowed only s3:GetObject it is 403 AccessDenied (HeadObject: 403, no body)."""
    bucket = f"missing-{acct.id}"
    acct.client("s3").create_bucket(Bucket=bucket)
    acct.client("s3").put_object(Bucket=bucket, Key="there", Body=b"x")
    objects = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    policy = lambda *st: {"Version": "2012-10-17", "Statement": list(st)}  # noqa: E731
    getter = user_session(acct, "getter", policy(objects)).client("s3", endpoint_url=common.ENDPOINT, config=CONFIG)
    lister = user_session(acct, "lister", policy(objects, listing)).client("s3", endpoint_url=common.ENDPOINT, config=CONFIG)
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    try:
        assert getter.get_object(Bucket=bucket, Key="there")["Body"].read() == b"x"
        expect_error(lambda: getter.get_object(Bucket=bucket, Key="gone"), "AccessDenied", "Access Denied", 403)
        expect_error(lambda: getter.head_object(Bucket=bucket, Key="gone"), "403", None, 403)
        expect_error(lambda: lister.get_object(Bucket=bucket, Key="gone"), "NoSuchKey", None, 404)
        expect_error(lambda: lister.head_object(Bucket=bucket, Key="gone"), "404", None, 404)
    finally:
        admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})


def check_iam_enforcement_s3_action_names(acct: Account) -> None:
    """(u) S3 operations are checked as AWS's IAM actions (GetBucketEncryption as
    s3:GetEncryptionConfiguration, HeadBucket as s3:ListBucket, ...) on the bucket ARN, or
    BUCKET/KEY for object operations."""
    bucket, other = f"named-{acct.id}", f"named-other-{acct.id}"
    scoped = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": S3_AWS_NAMED_ACTIONS, "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Action": S3_AWS_NAMED_OBJECT_ACTIONS, "Resource": f"arn:aws:s3:::{bucket}/ok/*"},
            {"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
        ],
    }
    s3 = user_session(acct, "s3user", scoped).client("s3", endpoint_url=common.ENDPOINT, config=CONFIG)
    # moto's own names grant nothing.
    moto_named = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "s3:GetBucketEncryption", "s3:PutBucketEncryption", "s3:PutPublicAccessBlock", "s3:HeadBucket",
            "s3:GetBucketNotificationConfiguration", "s3:ListObjectsV2", "s3:HeadObject", "s3:DeleteObjects",
        ]}],
    }
    s3_moto = user_session(acct, "motonames", moto_named).client("s3", endpoint_url=common.ENDPOINT, config=CONFIG)
    acct.client("s3").create_bucket(Bucket=other)
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    try:
        s3.create_bucket(Bucket=bucket)
        s3.head_bucket(Bucket=bucket)
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", rules
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
        assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="ok/a b.txt", Body=b"x")
        s3.head_object(Bucket=bucket, Key="ok/a b.txt")
        assert s3.get_object(Bucket=bucket, Key="ok/a b.txt")["Body"].read() == b"x"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ok/a b.txt"]
        s3.list_objects(Bucket=bucket)
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ok/a b.txt"}]})
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

        # Object actions are scoped to BUCKET/ok/*; bucket actions to the bucket ARN.
        denied = lambda call: expect_error(call, "AccessDenied", status=403)  # noqa: E731
        denied(lambda: s3.put_object(Bucket=bucket, Key="elsewhere.txt", Body=b"x"))
        # DeleteObjects answers 200 with a per-key AccessDenied; here one key out of the policy's
        # reach refuses them all (AWS would still delete ok/b).
        s3.put_object(Bucket=bucket, Key="ok/b", Body=b"x")
        got = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ok/b"}, {"Key": "no/c"}]})
        assert not got.get("Deleted") and sorted(e["Code"] for e in got["Errors"]) == ["AccessDenied", "AccessDenied"], got
        s3.head_object(Bucket=bucket, Key="ok/b")
        acct_s3_key = "no/owner.txt"
        for call in (
            lambda: s3.get_bucket_encryption(Bucket=other),
            lambda: s3.put_public_access_block(Bucket=other, PublicAccessBlockConfiguration={"BlockPublicAcls": True}),
            lambda: s3.list_objects_v2(Bucket=other),
            lambda: s3.get_bucket_notification_configuration(Bucket=other),
            lambda: s3.put_object(Bucket=other, Key="ok/a", Body=b"x"),
            lambda: s3.list_buckets(),
        ):
            denied(call)
        try:
            s3.head_bucket(Bucket=other)
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403, exc.response
        else:
            raise AssertionError("HeadBucket of the other bucket allowed")
        try:
            s3.head_object(Bucket=bucket, Key=acct_s3_key)
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403, exc.response
        else:
            raise AssertionError("HeadObject outside ok/ allowed")

        # moto's names are not IAM actions.
        for call in (
            lambda: s3_moto.get_bucket_encryption(Bucket=bucket),
            lambda: s3_moto.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
            lambda: s3_moto.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}),
            lambda: s3_moto.get_bucket_notification_configuration(Bucket=bucket),
            lambda: s3_moto.list_objects_v2(Bucket=bucket),
        ):
            denied(call)
        got = s3_moto.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ok/b"}]})
        assert not got.get("Deleted") and [e["Code"] for e in got["Errors"]] == ["AccessDenied"], got
    finally:
        admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": False})


def check_reset_clears_iam_enforcement(acct: Account) -> None:
    """(u) POST /moto-api/reset clears the enforced accounts (runs alone, after the other checks)."""
    admin("POST", "/_taegis/iam-enforcement", {"account": acct.id, "enforce": True})
    expect_error(acct.client("cloudformation").describe_stacks, "AccessDenied", status=403)
    req = urllib.request.Request(common.ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    assert admin("GET", "/_taegis/iam-enforcement") == {"enforced": []}
    acct.client("cloudformation").describe_stacks()
