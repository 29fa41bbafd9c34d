"""S3: (c) + (h) bucket notifications, (x) notification_stale_seconds, (p) notification
destinations, (v) new buckets private and encrypted, (q) bucket owner, policy and region.

Importing this module makes new buckets private and encrypted (row v): moto's
S3Backend.create_bucket is replaced here, at import time, as it always was."""

from __future__ import annotations

import functools
import threading
import time
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.core.request import Request as MotoRequest
from moto.core.routing import get_service_router
from moto.s3 import models as s3_models
from moto.s3.exceptions import InvalidArgumentError
from moto.utilities.utils import get_partition

from .behaviour import within_window
from .request_log import _S3_ACTION_ALIASES
from .faults import _s3_error
from .policies import _policy_statements, policy_allows
from .lambda_rules import settled_statements


# ---------------------------------------------------------------------------------------------
# (c) + (h) S3 bucket notifications.
# AWS: GetBucketNotificationConfiguration answers <NotificationConfiguration> (empty when there
# is none) and returns EventBridgeConfiguration; PutBucketNotificationConfiguration refuses
# overlapping configurations (and destinations S3 cannot deliver to, see (p)).
# (x) behaviour notification_stale_seconds.  AWS: the configuration is eventually consistent:
# a read just after a write may still answer the configuration from before it.  Within the
# bucket owner's notification_stale_seconds of the last successful write, a read answers the
# configuration as it was before that write; validation and writes use the current one.
# ---------------------------------------------------------------------------------------------

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _notification_xml(config: Any) -> str:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<NotificationConfiguration xmlns="{S3_NS}">']
    if config is not None:
        for items, element, arn_element in (
            (config.topic, "TopicConfiguration", "Topic"),
            (config.queue, "QueueConfiguration", "Queue"),
            (config.cloud_function, "CloudFunctionConfiguration", "CloudFunction"),
        ):
            for item in items:
                parts.append(f"<{element}><Id>{_xml_escape(item.id)}</Id>")
                parts.append(f"<{arn_element}>{_xml_escape(item.arn)}</{arn_element}>")
                for event in item.events:
                    parts.append(f"<Event>{_xml_escape(event)}</Event>")
                rules = (item.filters or {}).get("S3Key", {}).get("FilterRule", [])
                if rules:
                    parts.append("<Filter><S3Key>")
                    for rule in rules:
                        parts.append(
                            f"<FilterRule><Name>{_xml_escape(rule['Name'])}</Name>"
                            f"<Value>{_xml_escape(rule['Value'])}</Value></FilterRule>"
                        )
                    parts.append("</S3Key></Filter>")
                parts.append(f"</{element}>")
        if getattr(config, "event_bridge", None) is not None:
            parts.append("<EventBridgeConfiguration/>")
    parts.append("</NotificationConfiguration>")
    return "".join(parts)


def _get_bucket_notification(self: Any) -> Any:
    self.data["Action"] = "GetBucketNotificationConfiguration"
    bucket = self.backend.get_bucket(self.bucket_name)
    config = bucket.notification_configuration
    # (x) within the owner's notification_stale_seconds of the last write: what was there before it.
    before, written = bucket.__dict__.get("_taegis_notification_before") or (None, None)
    if within_window(bucket.account_id, "notification_stale_seconds", written):
        config = before
    return 200, {"Content-Type": "application/xml"}, _notification_xml(config)


def _filter_value(entry: dict[str, Any], name: str) -> str:
    rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("FilterRule") or []
    if isinstance(rules, dict):
        rules = [rules]
    for rule in rules:
        if str(rule.get("Name", "")).lower() == name:
            return str(rule.get("Value") or "")
    return ""


def _events_overlap(a: str, b: str) -> bool:
    if a == b:
        return True
    for x, y in ((a, b), (b, a)):
        if x.endswith(":*") and y.startswith(x[:-1]):
            return True
    return False


def _check_overlap(entries: list[tuple[str, dict[str, Any]]]) -> None:
    for i, (_, a) in enumerate(entries):
        for _, b in entries[i + 1 :]:
            pa, pb = _filter_value(a, "prefix"), _filter_value(b, "prefix")
            sa, sb = _filter_value(a, "suffix"), _filter_value(b, "suffix")
            if not (pa.startswith(pb) or pb.startswith(pa)):
                continue
            if not (sa.endswith(sb) or sb.endswith(sa)):
                continue
            if any(_events_overlap(x, y) for x in a.get("Event", []) for y in b.get("Event", [])):
                raise InvalidArgumentError(
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                    "Event",
                    ",".join(a.get("Event", [])),
                )


# ---------------------------------------------------------------------------------------------
# (p) PutBucketNotificationConfiguration validates every destination of the configuration.
# AWS: each write checks the whole configuration: an ARN that does not parse, or one in another
# region than the bucket, is refused first (400 InvalidArgument, one ArgumentName/ArgumentValue);
# then each queue, topic and function must exist and let s3.amazonaws.com deliver from this
# bucket (aws:SourceArn / aws:SourceAccount honoured): 400 InvalidArgument "Unable to validate
# the following destination configurations" with one ArgumentNameN/ArgumentValueN pair per
# refused destination.  moto checked nothing but the region, and stored the refused
# configuration anyway.
# ---------------------------------------------------------------------------------------------


class S3Refusal(Exception):
    """An S3 error answered with AWS's exact body (numbered arguments, Endpoint, ...)."""

    def __init__(self, status: int, code: str, message: str, extra: str = "", headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra, self.headers = extra, list(headers or [])

    def parts(self, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        headers, body = _s3_error(self.code, self.message, self.extra)
        data = b"" if method == "HEAD" else body.encode("utf-8")  # AWS: a HEAD error has headers only
        return self.status, headers + self.headers + [("Content-Length", str(len(data)))], data


def _answer_refusals(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, request: Any, full_url: str) -> Any:
        try:
            return method(self, request, full_url)
        except S3Refusal as refusal:
            status, headers, body = refusal.parts(request.method)
            return status, {k: v for k, v in headers if k.lower() != "content-length"}, body

    return wrapper


NOTIFICATION_REGION_MESSAGE = "The notification destination service region is not valid for the bucket location constraint"
UNABLE_TO_VALIDATE = "Unable to validate the following destination configurations"
QUEUE_MISSING = "The destination queue does not exist"
QUEUE_REFUSES = "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"
TOPIC_MISSING = "The destination topic does not exist"
TOPIC_REFUSES = "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"


def _argument(name: str, value: str, n: int | str = "") -> str:
    return f"<ArgumentName{n}>{_xml_escape(name)}</ArgumentName{n}><ArgumentValue{n}>{_xml_escape(value)}</ArgumentValue{n}>"


def _notification_entries(config: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """(kind, entry) of each destination: kind is the ARN's element (Topic, Queue, CloudFunction)."""
    entries = []
    for kind in ("Topic", "Queue", "CloudFunction"):
        for entry in (config or {}).get(f"{kind}Configuration") or []:
            entries.append((kind, entry))
    return entries


def _check_destination_arns(bucket: Any, entries: list[tuple[str, dict[str, Any]]]) -> None:
    for kind, entry in entries:
        arn = str(entry.get(kind) or "")
        parts = arn.split(":")
        if len(parts) < 6 or not parts[3] or not parts[4]:
            raise S3Refusal(400, "InvalidArgument", "The ARN could not be parsed", _argument(kind, arn))
        if parts[3] != bucket.region_name:
            raise S3Refusal(400, "InvalidArgument", NOTIFICATION_REGION_MESSAGE, _argument(kind, arn))


def _s3_sender(bucket: Any) -> tuple[dict[str, set[str]], dict[str, str]]:
    """S3 delivering for this bucket: (principal, condition context)."""
    context = {"aws:sourcearn": f"arn:{bucket.partition}:s3:::{bucket.name}", "aws:sourceaccount": bucket.account_id}
    return {"Service": {"s3.amazonaws.com"}}, context


def _queue_refusal(arn: str, bucket: Any) -> tuple[str, str] | None:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = arn.split(":", 5)
    try:
        queue = sqs_backends[account][region].queues.get(name)
    except Exception:
        queue = None
    if queue is None:
        return arn, QUEUE_MISSING
    who, context = _s3_sender(bucket)
    if not policy_allows(_policy_statements(queue.policy), "sqs:SendMessage", arn, who, context):
        return arn, QUEUE_REFUSES
    return None


def _topic_refusal(arn: str, bucket: Any) -> tuple[str, str] | None:
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = arn.split(":", 5)
    try:
        topic = sns_backends[account][region].topics.get(arn)
    except Exception:
        topic = None
    if topic is None:
        return arn, TOPIC_MISSING
    who, context = _s3_sender(bucket)
    if not policy_allows(_policy_statements(topic.policy), "sns:Publish", arn, who, context):
        return arn, TOPIC_REFUSES
    return None


def _function_refusal(arn: str, bucket: Any) -> tuple[str, str] | None:
    # AWS names a function "ARN, null" and gives the same reason whether it is missing or only
    # closed to S3.
    refused = (f"{arn}, null", f"Not authorized to invoke function [{arn}]")
    _, _, _, region, account, _ = arn.split(":", 5)
    try:
        fn = get_lambda_backend(account, region).get_function(arn)
    except Exception:
        return refused
    statements = settled_statements(fn.policy, fn.account_id)  # (w) new ones not yet
    who, context = _s3_sender(bucket)
    return None if policy_allows(statements, "lambda:InvokeFunction", None, who, context) else refused


_DESTINATION_CHECKS = {"Queue": _queue_refusal, "Topic": _topic_refusal, "CloudFunction": _function_refusal}


def _check_destinations(bucket: Any, entries: list[tuple[str, dict[str, Any]]]) -> None:
    refused: dict[str, str] = {}
    for kind, entry in entries:
        found = _DESTINATION_CHECKS[kind](str(entry[kind]), bucket)
        if found is not None:
            refused.setdefault(*found)
    if refused:
        extra = "".join(_argument(name, reason, n) for n, (name, reason) in enumerate(refused.items(), 1))
        raise S3Refusal(400, "InvalidArgument", UNABLE_TO_VALIDATE, extra)


_orig_put_notification = s3_models.S3Backend.put_bucket_notification_configuration
_NOTIFICATION_LOCK = threading.Lock()


def _put_bucket_notification_configuration(self: Any, bucket_name: str, notification_config: dict[str, Any]) -> None:
    bucket = self.get_bucket(bucket_name)
    entries = _notification_entries(notification_config)
    _check_destination_arns(bucket, entries)
    _check_overlap(entries)
    _check_destinations(bucket, entries)
    with _NOTIFICATION_LOCK:
        before = bucket.notification_configuration  # replaced, never changed in place, by moto
        result = _orig_put_notification(self, bucket_name, notification_config)
        # (x) what a read within notification_stale_seconds answers, and since when.
        bucket._taegis_notification_before = (before, time.monotonic())
    return result


# ---------------------------------------------------------------------------------------------
# (v) New buckets are private and encrypted.
# AWS: since 2023 every new bucket has S3 Block Public Access on (all four settings) and default
# encryption with S3-managed keys (SSE-S3, AES256, no bucket key), whoever creates it
# (CreateBucket or CloudFormation).  moto made buckets with neither: GetPublicAccessBlock and
# GetBucketEncryption answered "not found".
# ---------------------------------------------------------------------------------------------

_moto_create_bucket = s3_models.S3Backend.create_bucket


def _create_bucket_as_aws(self: Any, bucket_name: str, region_name: str, *args: Any, **kwargs: Any) -> Any:
    bucket = _moto_create_bucket(self, bucket_name, region_name, *args, **kwargs)
    if bucket.public_access_block is None:
        bucket.public_access_block = s3_models.PublicAccessBlock(True, True, True, True)
    if bucket.encryption is None:
        bucket.encryption = {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                      "BucketKeyEnabled": False}}
    return bucket


s3_models.S3Backend.create_bucket = _create_bucket_as_aws


# ---------------------------------------------------------------------------------------------
# (q) S3 bucket ownership, ExpectedBucketOwner, bucket policies and the bucket's region.
# AWS: a bucket belongs to the account that created it.  A request signed for another region
# than the bucket's gets 301 PermanentRedirect (with x-amz-bucket-region), except GetBucketLocation
# (any region).  x-amz-expected-bucket-owner naming another account: 403 AccessDenied.  Another
# account's request: 403 AccessDenied unless the bucket policy grants that account the action
# (Get/Put/DeleteBucketPolicy then answer 405: only the owner's account may use them).  moto
# served every request whatever its account, region or expected owner.
# ---------------------------------------------------------------------------------------------

PERMANENT_REDIRECT = (
    "The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint."
)
# Operations that name no existing bucket, or that AWS answers from any region.
_S3_UNGUARDED = frozenset({"CreateBucket", "ListBuckets", "ListDirectoryBuckets"})
_S3_ANY_REGION = frozenset({"GetBucketLocation"})
_S3_OWNER_ACCOUNT_ONLY = frozenset({"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"})
# The IAM action a bucket policy must grant, by operation ("s3:" + the operation otherwise).
_S3_IAM_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "HeadObject": "s3:GetObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObjects": "s3:DeleteObject",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "ListBuckets": "s3:ListAllMyBuckets",
    "ListParts": "s3:ListMultipartUploadParts",
    "UploadPartCopy": "s3:PutObject",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
}


def s3_iam_action(operation: str) -> str:
    """The IAM action AWS checks for an S3 operation (botocore's name): row q and row u."""
    operation = _S3_ACTION_ALIASES.get(operation, operation)
    return _S3_IAM_ACTIONS.get(operation, f"s3:{operation}")


def _s3_route(environ: dict[str, Any]) -> dict[str, str]:
    """The URI parameters (Bucket, Key) of an S3 request, path-style or virtual-hosted."""
    try:
        _, params = get_service_router("s3").match(MotoRequest(environ, shallow=True))
    except Exception:
        return {}
    return params or {}


def _bucket_named(name: str | None) -> Any:
    info = s3_models.s3_backends.bucket_accounts.get(name or "")
    if info is None:
        return None
    partition, account = info
    return s3_models.s3_backends[account][partition].buckets.get(name)


def _s3_endpoint(bucket: Any) -> str:
    suffix = ".amazonaws.com.cn" if bucket.partition == "aws-cn" else ".amazonaws.com"
    region = "" if bucket.region_name == "us-east-1" else f".{bucket.region_name}"
    return f"{bucket.name}.s3{region}{suffix}"


def _permanent_redirect(bucket: Any) -> S3Refusal:
    extra = f"<Endpoint>{_xml_escape(_s3_endpoint(bucket))}</Endpoint><Bucket>{_xml_escape(bucket.name)}</Bucket>"
    return S3Refusal(301, "PermanentRedirect", PERMANENT_REDIRECT, extra, [("x-amz-bucket-region", bucket.region_name)])


def _access_denied(bucket: Any, action: str) -> S3Refusal:
    # HeadBucket tells the bucket's region even when it refuses.
    headers = [("x-amz-bucket-region", bucket.region_name)] if action == "HeadBucket" else []
    return S3Refusal(403, "AccessDenied", "Access Denied", headers=headers)


def _caller(entry: dict[str, Any]) -> tuple[dict[str, set[str]], dict[str, str]]:
    """The requester as a bucket policy's principal: its account, account root, assumed role."""
    from moto.sts.models import sts_backends

    account, partition = entry["account"], get_partition(entry["region"])
    names = {account, f"arn:{partition}:iam::{account}:root"}
    try:
        role = sts_backends[account][partition].get_assumed_role_from_access_key(entry["access_key"])
    except Exception:
        role = None
    if role is not None:
        names.update({role.role_arn, role.arn})
    return {"AWS": names}, {"aws:principalaccount": account}


def _cross_account_refusal(bucket: Any, entry: dict[str, Any], key: str | None) -> S3Refusal | None:
    action = entry["action"]
    resource = f"arn:{bucket.partition}:s3:::{bucket.name}" + (f"/{key}" if key else "")
    who, context = _caller(entry)
    if not policy_allows(_policy_statements(bucket.policy), s3_iam_action(action), resource, who, context):
        return _access_denied(bucket, action)
    if action in _S3_OWNER_ACCOUNT_ONLY:
        method = f"<Method>{_xml_escape(entry['method'])}</Method>"
        return S3Refusal(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", method)
    return None


def s3_refusal(environ: dict[str, Any], entry: dict[str, Any]) -> S3Refusal | None:
    """What AWS answers instead of the operation, or None when it goes ahead."""
    action = entry.get("action")
    if not action or action in _S3_UNGUARDED:
        return None
    params = _s3_route(environ)
    bucket = _bucket_named(params.get("Bucket"))
    if bucket is None:
        return None  # moto answers NoSuchBucket
    if action not in _S3_ANY_REGION and bucket.region_name != entry["region"]:
        return _permanent_redirect(bucket)
    expected = environ.get("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER")
    if expected and expected != bucket.account_id:
        return _access_denied(bucket, action)
    if entry["account"] == bucket.account_id:
        return None
    return _cross_account_refusal(bucket, entry, params.get("Key"))
