"""What every check uses: the emulator's address (ENDPOINT, set by the runner), accounts made by
sts:AssumeRole, admin calls, expected errors, behaviour, raw requests, the bundled templates and
code, the stack operation record."""

from __future__ import annotations

import io
import json
import os
import random
import time
import urllib.error
import urllib.request
import zipfile

import boto3
import botocore.config
from botocore.exceptions import ClientError


# tests/emulator, where taegis_moto.py is.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
# http://127.0.0.1:PORT, set by runner.start_server: read it as common.ENDPOINT.
ENDPOINT = ""
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CONFIG = botocore.config.Config(
    s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60
)


# ------------------------------------------------------------------------------------ helpers


class Account:
    """Credentials of a fresh account, via sts:AssumeRole into arn:aws:iam::<12 digits>:role/x."""

    def __init__(self) -> None:
        self.id = "".join(random.choice("0123456789") for _ in range(12))
        base = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        creds = base.client("sts", endpoint_url=ENDPOINT, config=CONFIG).assume_role(
            RoleArn=f"arn:aws:iam::{self.id}:role/x", RoleSessionName="selftest"
        )["Credentials"]
        self.access_key = creds["AccessKeyId"]
        self.session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=REGION,
        )

    def client(self, name: str, region: str = REGION):  # type: ignore[no-untyped-def]
        return self.session.client(name, endpoint_url=ENDPOINT, region_name=region, config=CONFIG)

    def role_arn(self) -> str:
        iam = self.client("iam")
        try:
            return iam.get_role(RoleName="fn-role")["Role"]["Arn"]
        except ClientError:
            return iam.create_role(
                RoleName="fn-role",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )["Role"]["Arn"]

    def function(self, name: str) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("bootstrap", "#!/bin/sh\n")
        return self.client("lambda").create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Role=self.role_arn(),
            Handler="bootstrap",
            Code={"ZipFile": buf.getvalue()},
        )["FunctionArn"]


def expect_error(fn, code: str, message: str | None = None, status: int | None = None):  # type: ignore[no-untyped-def]
    try:
        fn()
    except ClientError as exc:
        err = exc.response["Error"]
        assert err.get("Code") == code, f"expected {code}, got {err}"
        if message is not None:
            assert message in err.get("Message", ""), f"expected message {message!r}, got {err.get('Message')!r}"
        if status is not None:
            got = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            assert got == status, f"expected HTTP {status}, got {got}"
        return exc
    raise AssertionError(f"expected {code}, call succeeded")


def admin(method: str, path: str, payload=None):  # type: ignore[no-untyped-def]
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(ENDPOINT + path, data=data, method=method)
    if data:
        req.add_header("Content-Type", "application/json")
    with OPENER.open(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def stack(cfn, name: str):  # type: ignore[no-untyped-def]
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def outputs(st) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs") or []}


def s3_may_deliver(arn: str, bucket: str, account: str) -> str:
    """A queue or topic policy that lets S3 deliver this bucket's notifications (as AWS requires)."""
    action = "sqs:SendMessage" if ":sqs:" in arn else "SNS:Publish"
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": action, "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}, "StringEquals": {"aws:SourceAccount": account}},
        }],
    })


def topic_for(acct: Account, name: str, bucket: str, region: str = REGION) -> str:
    """A topic whose policy lets S3 publish from `bucket`."""
    sns = acct.client("sns", region)
    arn = sns.create_topic(Name=name)["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=s3_may_deliver(arn, bucket, acct.id))
    return arn


def queue_for(acct: Account, name: str, bucket: str, region: str = REGION) -> str:
    """A queue whose policy lets S3 send from `bucket`."""
    sqs = acct.client("sqs", region)
    arn = f"arn:aws:sqs:{region}:{acct.id}:{name}"
    sqs.create_queue(QueueName=name, Attributes={"Policy": s3_may_deliver(arn, bucket, acct.id)})
    return arn


# ------------------------------------------------------------------------------------ behaviour helpers

NO_RETRY = botocore.config.Config(
    s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30
)


def set_behaviour(acct: Account, **fields) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return admin("POST", "/_taegis/behaviour", dict(fields, account=acct.id))


def reset_behaviour(acct: Account) -> dict:  # type: ignore[type-arg]
    return admin("DELETE", f"/_taegis/behaviour?account={acct.id}")


def events_of(cfn, stack_id: str) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    """(logical id, status, reason), oldest first."""
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"])
    ]


def wait_stack(cfn, stack_id: str, timeout: float = 15.0) -> dict:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.time() + timeout
    while True:
        st = stack(cfn, stack_id)
        if not st["StackStatus"].endswith("_IN_PROGRESS"):
            return st
        if time.time() > deadline:
            raise AssertionError(f"stack still {st['StackStatus']} after {timeout} s")
        time.sleep(0.05)


def raw_request(acct: Account, method: str, path: str, service: str, body: bytes = b"", headers: dict | None = None, region: str = REGION):  # type: ignore[no-untyped-def, type-arg]
    """(status, headers, body) of a request carrying the account's credential scope."""
    req = urllib.request.Request(ENDPOINT + path, data=body or None, method=method)
    req.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={acct.access_key}/20250101/{region}/{service}/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
    )
    req.add_header("X-Amz-Date", "20250101T000000Z")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with OPENER.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# ------------------------------------------------------------------------------------ region helpers

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "templates")
INVALID_TOKEN = "The security token included in the request is invalid."


def bundled(name: str) -> str:
    with open(os.path.join(TEMPLATES, f"taegis-cloudformation-{name}.yaml"), encoding="utf-8") as fh:
        return fh.read()


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "#!/bin/sh\n")
    return buf.getvalue()


def bucket_in(acct: Account, region: str, name: str) -> str:
    """A bucket in `region` holding code.zip (what the tool uploads for the function)."""
    s3 = acct.client("s3", region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **config)
    s3.put_object(Bucket=name, Key="code.zip", Body=code_zip())
    return name


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


SHARED_PARAMS = params(SecretValue="client_id=a\nclient_secret=b", TaegisRegion="echo")


def lambda_params(bucket: str, concurrency: str = "5") -> list[dict[str, str]]:
    return params(NotificationBucket=bucket, TaegisLambdaS3BucketName=bucket, TaegisLambdaS3Key="code.zip", ReservedConcurrency=concurrency)


# ------------------------------------------------------------------------------------ timing helpers


def refused_field(acct: Account, field: str, value) -> None:  # type: ignore[no-untyped-def]
    try:
        admin("POST", "/_taegis/behaviour", {"account": acct.id, field: value})
        raise AssertionError(f"accepted {field}={value!r}")
    except urllib.error.HTTPError as err:
        assert err.code == 400 and field in json.loads(err.read())["error"], err


# ------------------------------------------------------------------------------------ bench helpers


def ops_of(acct: Account, region: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    query = f"?account={acct.id}" + (f"&region={region}" if region else "")
    return admin("GET", "/_taegis/stack-operations" + query)["operations"]


def timed(call):  # type: ignore[no-untyped-def]
    """(result, time the call was sent, time its answer was back)."""
    sent = time.time()
    result = call()
    return result, sent, time.time()
