"""Checks of (n): regions that do not exist or are not enabled."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3

from . import common
from .common import (
    CONFIG,
        INVALID_TOKEN,
    OPENER,
    REGION,
    SHARED_PARAMS,
    Account,
    admin,
    bucket_in,
    bundled,
    events_of,
    expect_error,
    lambda_params,
    outputs,
    raw_request,
    stack,
)


# ------------------------------------------------------------------------------------ regions


def check_unknown_regions_refused(acct: Account) -> None:
    """(n) every call signed for a region that does not exist or is not enabled: 403 in the service's format."""
    for region in ("us-east-7", "us-esat-1", "eu-future-1", "cn-north-9"):
        exc = expect_error(acct.client("sts", region).get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
        assert exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
    for region in ("cn-north-1", "us-gov-west-1", "ap-southeast-7"):  # known, in every partition
        assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id
    status, _, body = raw_request(
        acct, "POST", "/", "sts", b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"}, region="us-east-7",
    )
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    root = ET.fromstring(body)
    assert status == 403 and root.tag == f"{ns}ErrorResponse", (status, body)
    assert [(c.tag, c.text) for c in root.find(f"{ns}Error")] == [
        (f"{ns}Type", "Sender"), (f"{ns}Code", "InvalidClientTokenId"), (f"{ns}Message", INVALID_TOKEN)
    ], body
    assert root.find(f"{ns}RequestId").text, body

    s3, cfn = acct.client("s3", "us-east-7"), acct.client("cloudformation", "us-east-7")
    denied = "The AWS Access Key Id you provided does not exist in our records."
    bucket = f"r7-{acct.id}"
    expect_error(lambda: s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-east-7"}), "InvalidAccessKeyId", denied, 403)
    t0 = time.time()  # "Expect: 100-continue": refused at once, the body never sent
    expect_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 2_000_000), "InvalidAccessKeyId", None, 403)
    assert time.time() - t0 < 5, time.time() - t0
    expect_error(
        lambda: acct.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-east-7"}),
        "InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
    )
    expect_error(cfn.describe_stacks, "InvalidClientTokenId", INVALID_TOKEN, 403)
    expect_error(lambda: cfn.create_stack(StackName="x", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS), "InvalidClientTokenId", None, 403)
    exc = expect_error(acct.client("lambda", "us-east-7").get_account_settings, "UnrecognizedClientException", INVALID_TOKEN, 403)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "UnrecognizedClientException"
    expect_error(acct.client("sns", "us-east-7").list_topics, "InvalidClientTokenId", INVALID_TOKEN, 403)
    expect_error(acct.client("secretsmanager", "us-east-7").list_secrets, "UnrecognizedClientException", INVALID_TOKEN, 400)
    expect_error(lambda: acct.client("s3").head_bucket(Bucket=bucket), "404")  # nothing was created

    log = admin("GET", f"/_taegis/requests?account={acct.id}&region=us-east-7")["requests"]
    seen = {(e["service"], e["action"], e["status"]) for e in log}
    for want in [("sts", "GetCallerIdentity", 403), ("s3", "CreateBucket", 403), ("s3", "PutObject", 403),
                 ("cloudformation", "DescribeStacks", 403), ("cloudformation", "CreateStack", 403), ("lambda", "GetAccountSettings", 403)]:
        assert want in seen, (want, sorted(seen, key=str))
    assert all(e["status"] in (400, 403) for e in log), log
    # Admin and unsigned requests are never refused.
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == {"account": acct.id, "enabled": [], "disabled": []}
    with OPENER.open(common.ENDPOINT + "/moto-api/", timeout=10) as resp:
        assert resp.status == 200


def check_enabled_region_end_to_end(acct: Account) -> None:
    """(n) a region enabled for the account through /_taegis/regions: the tool's calls work there."""
    region = "eu-future-1"
    other = Account()
    got = admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": [region, "ap-future-2"]})
    assert got == {"account": acct.id, "enabled": [region, "ap-future-2"], "disabled": []}, got
    assert admin("GET", f"/_taegis/regions?account={acct.id}") == got
    assert admin("GET", "/_taegis/regions")["regions"][acct.id] == [region, "ap-future-2"]
    expect_error(other.client("sts", region).get_caller_identity, "InvalidClientTokenId", None, 403)  # per account
    assert acct.client("sts", region).get_caller_identity()["Account"] == acct.id

    s3, cfn, lam = acct.client("s3", region), acct.client("cloudformation", region), acct.client("lambda", region)
    bucket = bucket_in(acct, region, f"ef-{acct.id}")
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == region
    assert s3.head_object(Bucket=bucket, Key="code.zip")["ContentLength"] > 0
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})

    cfn.create_stack(StackName="taegis-shared", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS)
    shared = stack(cfn, "taegis-shared")
    assert shared["StackStatus"] == "CREATE_COMPLETE", shared
    assert outputs(shared)["SecretArn"].startswith(f"arn:aws:secretsmanager:{region}:{acct.id}:secret:"), outputs(shared)
    sid = cfn.create_stack(StackName="taegis-lambda", TemplateBody=bundled("lambda-template"), Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"])["StackId"]
    st = stack(cfn, sid)
    assert st["StackStatus"] == "CREATE_COMPLETE" and sid.startswith(f"arn:aws:cloudformation:{region}:"), st
    assert cfn.get_template(StackName=sid)["TemplateBody"] == bundled("lambda-template")
    assert events_of(cfn, sid)[-1][:2] == ("taegis-lambda", "CREATE_COMPLETE")
    types = {r["ResourceType"] for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]}
    assert types == {"AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::Lambda::Function"}, types

    fn = lam.get_function(FunctionName=outputs(st)["FunctionName"])
    assert fn["Configuration"]["FunctionArn"] == outputs(st)["FunctionArn"] and f":{region}:" in outputs(st)["FunctionArn"], fn
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 995
    lam.add_permission(
        FunctionName=outputs(st)["FunctionName"], StatementId="s3", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=acct.id,
    )
    assert "s3.amazonaws.com" in lam.get_policy(FunctionName=outputs(st)["FunctionName"])["Policy"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"LambdaFunctionConfigurations": [{"Id": "t", "LambdaFunctionArn": outputs(st)["FunctionArn"], "Events": ["s3:ObjectCreated:*"]}]},
    )
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0]["Id"] == "t"
    sns = acct.client("sns", region)
    topic = sns.create_topic(Name="trail")["TopicArn"]
    assert topic.startswith(f"arn:aws:sns:{region}:{acct.id}:"), topic
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=outputs(st)["FunctionArn"])

    # Replacing the list disables the region again.
    assert admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": []}) == {"account": acct.id, "enabled": [], "disabled": []}
    expect_error(cfn.describe_stacks, "InvalidClientTokenId", INVALID_TOKEN, 403)
    for bad in ({"account": acct.id, "enabled": ["not a region"]}, {"account": "12", "enabled": []}, {"account": acct.id, "enabled": "eu-future-1"}):
        try:
            admin("POST", "/_taegis/regions", bad)
            raise AssertionError(f"accepted {bad}")
        except urllib.error.HTTPError as err:
            assert err.code == 400 and "error" in json.loads(err.read()), err


def check_reset_clears_enabled_regions(acct: Account) -> None:
    """(n) POST /moto-api/reset clears the enabled and the disabled regions (runs alone, after
    the other checks)."""
    admin("POST", "/_taegis/regions", {"account": acct.id, "enabled": ["eu-future-1"], "disabled": ["af-south-1"]})
    assert acct.client("sts", "eu-future-1").get_caller_identity()["Account"] == acct.id
    expect_error(acct.client("sts", "af-south-1").get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
    req = urllib.request.Request(common.ENDPOINT + "/moto-api/reset", data=b"", method="POST")
    with OPENER.open(req, timeout=30) as resp:
        assert resp.status == 200
    assert admin("GET", "/_taegis/regions") == {"regions": {}, "disabled": {}}
    expect_error(acct.client("sts", "eu-future-1").get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, 403)
    # The reset forgot the account's credentials too: new ones, into the same account.
    base = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    creds = base.client("sts", endpoint_url=common.ENDPOINT, config=CONFIG).assume_role(RoleArn=f"arn:aws:iam::{acct.id}:role/x", RoleSessionName="again")["Credentials"]
    again = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    assert again.client("sts", endpoint_url=common.ENDPOINT, region_name="af-south-1", config=CONFIG).get_caller_identity()["Account"] == acct.id
