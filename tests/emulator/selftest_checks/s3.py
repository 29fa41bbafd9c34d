"""Checks of (p) notification destinations, (v) new buckets and (q) bucket owner, policy and region."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from botocore.exceptions import ClientError

from .common import (
    REGION,
    Account,
    admin,
    bucket_in,
    code_zip,
    expect_error,
    raw_request,
    s3_may_deliver,
    topic_for,
)


# ------------------------------------------------------------------------------------ destinations

UNABLE = "Unable to validate the following destination configurations"
REGION_NOT_VALID = "The notification destination service region is not valid for the bucket location constraint"


def error_pairs(exc: ClientError) -> list[tuple[str, str]]:
    """The ArgumentNameN/ArgumentValueN pairs of an S3 error, in order."""
    err, pairs, n = exc.response["Error"], [], 1
    while f"ArgumentName{n}" in err:
        pairs.append((err[f"ArgumentName{n}"], err.get(f"ArgumentValue{n}", "")))
        n += 1
    return pairs


def check_notification_destinations(acct: Account) -> None:
    """(p) every destination validated on every write; cross-region destinations refused."""
    s3, sns, sqs, lam = acct.client("s3"), acct.client("sns"), acct.client("sqs"), acct.client("lambda")
    bucket = f"nd-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    raw: list[bytes] = []
    s3.meta.events.register("after-call.s3.PutBucketNotificationConfiguration", lambda http_response, **kw: raw.append(http_response.content))

    def put(**configs) -> None:  # type: ignore[no-untyped-def]
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configs)

    def refused(**configs) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        return error_pairs(expect_error(lambda: put(**configs), "InvalidArgument", UNABLE, 400))

    q_missing = f"arn:aws:sqs:{REGION}:{acct.id}:missing"
    t_missing = f"arn:aws:sns:{REGION}:{acct.id}:missing"
    bare_q = sqs.create_queue(QueueName="bare")["QueueUrl"]
    bare_q_arn = f"arn:aws:sqs:{REGION}:{acct.id}:bare"
    bare_t = sns.create_topic(Name="bare")["TopicArn"]  # default policy: the owner account only
    fn = acct.function("dest")
    q = lambda arn, i="q", ev="s3:ObjectRemoved:*": {"Id": i, "QueueArn": arn, "Events": [ev]}  # noqa: E731
    t = lambda arn, i="t", ev="s3:ObjectCreated:*": {"Id": i, "TopicArn": arn, "Events": [ev]}  # noqa: E731
    f = {"Id": "f", "LambdaFunctionArn": fn, "Events": ["s3:ObjectRestore:*"]}
    assert refused(QueueConfigurations=[q(q_missing)]) == [(q_missing, "The destination queue does not exist")]
    assert refused(TopicConfigurations=[t(t_missing)]) == [(t_missing, "The destination topic does not exist")]
    assert refused(QueueConfigurations=[q(bare_q_arn)]) == [(bare_q_arn, "Permissions on the destination queue do not allow S3 to publish notifications from this bucket")]
    assert refused(TopicConfigurations=[t(bare_t)]) == [(bare_t, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket")]
    # All at once: one numbered pair per destination (a function is named "ARN, null").
    pairs = refused(TopicConfigurations=[t(bare_t)], QueueConfigurations=[q(q_missing)], LambdaFunctionConfigurations=[f])
    assert pairs == [
        (bare_t, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"),
        (q_missing, "The destination queue does not exist"),
        (f"{fn}, null", f"Not authorized to invoke function [{fn}]"),
    ], pairs
    body = raw[-1].decode()
    assert body.startswith("<?xml") and f"<Message>{UNABLE}</Message><ArgumentName1>{bare_t}</ArgumentName1><ArgumentValue1>" in body, body
    assert f"<ArgumentName3>{fn}, null</ArgumentName3><ArgumentValue3>Not authorized to invoke function [{fn}]</ArgumentValue3><RequestId>" in body, body
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations") is None  # nothing stored

    # A policy for another bucket or account does not do; one for this bucket does.
    other_bucket = s3_may_deliver(bare_q_arn, "someone-else", acct.id)
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": other_bucket})
    assert refused(QueueConfigurations=[q(bare_q_arn)])[0][0] == bare_q_arn
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": s3_may_deliver(bare_q_arn, bucket, "000000000000")})
    assert refused(QueueConfigurations=[q(bare_q_arn)])[0][0] == bare_q_arn
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": s3_may_deliver(bare_q_arn, bucket, acct.id)})
    topic = topic_for(acct, "fine", bucket)
    lam.add_permission(FunctionName="dest", StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                       SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=acct.id)
    put(TopicConfigurations=[t(topic)], QueueConfigurations=[q(bare_q_arn)], LambdaFunctionConfigurations=[f], EventBridgeConfiguration={})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [len(got[k]) for k in ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations")] == [1, 1, 1], got
    # A Deny wins over the Allow.
    deny = json.loads(s3_may_deliver(bare_q_arn, bucket, acct.id))
    deny["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": bare_q_arn})
    sqs.set_queue_attributes(QueueUrl=bare_q, Attributes={"Policy": json.dumps(deny)})
    # Every write checks the whole configuration: the queue entry that is already there too.
    assert refused(TopicConfigurations=[t(topic)], QueueConfigurations=[q(bare_q_arn)], LambdaFunctionConfigurations=[f]) == [
        (bare_q_arn, "Permissions on the destination queue do not allow S3 to publish notifications from this bucket")
    ]
    put(EventBridgeConfiguration={})  # no destination to validate
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)

    # Destinations in another region: refused before anything else, nothing stored.
    eu_topic = topic_for(acct, "far", bucket, "eu-west-1")
    eu_fn = acct.client("lambda", "eu-west-1").create_function(
        FunctionName="far", Runtime="provided.al2023", Role=acct.role_arn(), Handler="bootstrap", Code={"ZipFile": code_zip()}
    )["FunctionArn"]
    eu_queue = f"arn:aws:sqs:eu-west-1:{acct.id}:far"
    for kind, arn, configs in (
        ("Topic", eu_topic, {"TopicConfigurations": [t(eu_topic)]}),
        ("CloudFunction", eu_fn, {"LambdaFunctionConfigurations": [{"Id": "f", "LambdaFunctionArn": eu_fn, "Events": ["s3:ObjectCreated:*"]}]}),
        # Before the destinations are validated: the missing topic is not named.
        ("Queue", eu_queue, {"QueueConfigurations": [q(eu_queue)], "TopicConfigurations": [t(t_missing)]}),
    ):
        err = expect_error(lambda: put(**configs), "InvalidArgument", REGION_NOT_VALID, 400).response["Error"]
        assert (err.get("ArgumentName"), err.get("ArgumentValue"), "ArgumentName1" in err) == (kind, arn, False), err
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("TopicConfigurations") is None


# ------------------------------------------------------------------------------------ bucket access

REDIRECT_MESSAGE = (
    "The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint."
)


def check_new_buckets_private_and_encrypted(acct: Account) -> None:
    """(v) a new bucket has Block Public Access on and SSE-S3 default encryption, in any region;
    what its owner sets later wins."""
    for region in (REGION, "eu-west-1"):
        s3 = acct.client("s3", region)
        bucket = f"new-{region}-{acct.id}"
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                       "RestrictPublicBuckets": True}, pab
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules == [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                          "BucketKeyEnabled": False}], rules
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", rule


def check_bucket_owner_policy_and_region(acct: Account) -> None:
    """(q) another account: AccessDenied unless the bucket policy grants it; ExpectedBucketOwner;
    another region: 301 PermanentRedirect (GetBucketLocation answers from anywhere)."""
    other = Account()
    s3, theirs = acct.client("s3"), other.client("s3")
    bucket = f"ow-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    for call in (
        lambda: theirs.get_bucket_location(Bucket=bucket),
        lambda: theirs.get_bucket_notification_configuration(Bucket=bucket),
        lambda: theirs.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={}),
        lambda: theirs.get_bucket_policy(Bucket=bucket),
        lambda: theirs.get_bucket_encryption(Bucket=bucket),
        lambda: theirs.list_objects_v2(Bucket=bucket),
        lambda: theirs.put_object(Bucket=bucket, Key="theirs", Body=b"x"),
        lambda: theirs.get_object(Bucket=bucket, Key="k"),
    ):
        expect_error(call, "AccessDenied", "Access Denied", 403)
    exc = expect_error(lambda: theirs.head_bucket(Bucket=bucket), "403", None, 403)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == REGION
    status, _, body = raw_request(other, "GET", f"/{bucket}?location", "s3")
    root = ET.fromstring(body)
    assert status == 403 and [c.tag for c in root] == ["Code", "Message", "RequestId", "HostId"], body
    assert (root.find("Code").text, root.find("Message").text) == ("AccessDenied", "Access Denied"), body

    # The bucket policy grants the other account some actions (wildcards apply).
    resource = f"arn:aws:s3:::{bucket}"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.id}:root"}, "Action": ["s3:GetBucketLocation", "s3:Get*"], "Resource": resource},
        {"Effect": "Allow", "Principal": {"AWS": other.id}, "Action": "s3:PutObject", "Resource": f"{resource}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"{resource}/locked/*"},
    ]}))
    assert theirs.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    theirs.get_bucket_notification_configuration(Bucket=bucket)
    theirs.put_object(Bucket=bucket, Key="theirs", Body=b"x")
    expect_error(lambda: theirs.put_object(Bucket=bucket, Key="locked/x", Body=b"x"), "AccessDenied", "Access Denied", 403)
    expect_error(lambda: theirs.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={}), "AccessDenied", None, 403)
    expect_error(lambda: theirs.list_objects_v2(Bucket=bucket), "AccessDenied", None, 403)
    expect_error(lambda: theirs.get_bucket_policy(Bucket=bucket), "MethodNotAllowed", "The specified method is not allowed against this resource.", 405)

    # ExpectedBucketOwner: another account refused even where the policy allows.
    assert s3.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=acct.id)["LocationConstraint"] is None
    assert theirs.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=acct.id)["LocationConstraint"] is None
    expect_error(lambda: s3.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=other.id), "AccessDenied", "Access Denied", 403)
    expect_error(lambda: theirs.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=other.id), "AccessDenied", None, 403)
    expect_error(lambda: s3.get_bucket_notification_configuration(Bucket=bucket, ExpectedBucketOwner=other.id), "AccessDenied", None, 403)
    check_bucket_region_redirect(acct)


def check_bucket_region_redirect(acct: Account) -> None:
    eu = bucket_in(acct, "eu-west-1", f"rd-{acct.id}")
    assert acct.client("s3").get_bucket_location(Bucket=eu)["LocationConstraint"] == "eu-west-1"  # from any region
    for method, path in (
        ("GET", f"/{eu}?notification"), ("PUT", f"/{eu}?notification"), ("GET", f"/{eu}?encryption"),
        ("PUT", f"/{eu}/new"), ("GET", f"/{eu}/code.zip"), ("GET", f"/{eu}?list-type=2"),
    ):
        status, headers, body = raw_request(acct, method, path, "s3", b"<NotificationConfiguration/>" if method == "PUT" else b"")
        assert status == 301 and headers.get("x-amz-bucket-region") == "eu-west-1", (path, status, headers)
        root = ET.fromstring(body)
        assert [(c.tag, c.text) for c in root][:4] == [
            ("Code", "PermanentRedirect"), ("Message", REDIRECT_MESSAGE), ("Endpoint", f"{eu}.s3.eu-west-1.amazonaws.com"), ("Bucket", eu)
        ], body
    for path in (f"/{eu}", f"/{eu}/code.zip"):  # HeadBucket, HeadObject: headers only
        status, headers, body = raw_request(acct, "HEAD", path, "s3")
        assert (status, body, headers.get("x-amz-bucket-region")) == (301, b"", "eu-west-1"), (path, status, headers, body)
    assert acct.client("s3", "eu-west-1").head_object(Bucket=eu, Key="code.zip")["ContentLength"] > 0
    # boto3 follows the redirect by itself (the Rust SDK does not): a 301, then the answer.
    acct.client("s3").get_bucket_notification_configuration(Bucket=eu)
    log = admin("GET", f"/_taegis/requests?account={acct.id}&action=GetBucketNotificationConfiguration")["requests"]
    assert [(e["region"], e["status"]) for e in log if e["path"] == f"/{eu}"][-2:] == [(REGION, 301), ("eu-west-1", 200)], log
    status, _, _ = raw_request(acct, "PUT", f"/{eu}/never", "s3", b"x")
    assert status == 301
    expect_error(lambda: acct.client("s3", "eu-west-1").head_object(Bucket=eu, Key="never"), "404")
