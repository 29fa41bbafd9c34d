"""(af) A trail's log file, written the way CloudTrail delivers it (admin: /_taegis/trail-delivery)."""

from __future__ import annotations

import gzip
import json
import random
import re
import string
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.s3 import models as s3_models
from moto.s3 import notifications as s3_notifications

from .organizations import active_accounts, management_of, organization_id
from .regions import region_allowed
from .trail_shadows import find_trail


# ---------------------------------------------------------------------------------------------
# (af) CloudTrail's delivery of log files.  moto never writes a trail's logs.
# AWS: a trail delivers gzipped JSON ({"Records": [...]}) to its bucket by PutObject, under
#   {prefix}/AWSLogs/{account}/CloudTrail/{region}/YYYY/MM/DD/{account}_CloudTrail_{region}_YYYYMMDDTHHmmZ_{16 alphanumerics}.json.gz
# and, for an organisation trail, under AWSLogs/{org-id}/{account}/... for every account of the
# organisation (the prefix and "/AWSLogs" joined by "/", no prefix: the key starts at AWSLogs/).
# It delivers only while the trail is logging, for the regions it covers (its home region, or
# every region for a multi-region trail), with the trail's KMS key (SSE-KMS) if it has one, else
# the bucket's default encryption; the object is an ObjectCreated:Put for the bucket's
# notifications.  POST /_taegis/trail-delivery does one such delivery, now or at a given time.
# ---------------------------------------------------------------------------------------------

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_UNIQUE = string.ascii_letters + string.digits


class DeliveryRefused(Exception):
    """(status, message) of a delivery CloudTrail would not make."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def log_key(prefix: str | None, org_id: str | None, account: str, region: str, when: datetime, unique: str) -> str:
    """The object key CloudTrail gives a log file."""
    base = f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"
    if org_id:
        base += f"{org_id}/"
    stamp = when.strftime("%Y%m%dT%H%MZ")
    return f"{base}{account}/CloudTrail/{region}/{when:%Y/%m/%d}/{account}_CloudTrail_{region}_{stamp}_{unique}.json.gz"


def _when(value: Any) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if isinstance(value, bool):
        raise ValueError("time is epoch seconds or an ISO 8601 time such as 2026-12-01T00:00:00Z")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("time is epoch seconds or an ISO 8601 time such as 2026-12-01T00:00:00Z") from None
        return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise ValueError("time is epoch seconds or an ISO 8601 time such as 2026-12-01T00:00:00Z")


def _default_record(account: str, region: str, when: datetime) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": region,
        "sourceIPAddress": "cloudtrail.amazonaws.com",
        "userAgent": "cloudtrail.amazonaws.com",
        "requestParameters": None,
        "responseElements": None,
        "eventID": str(uuid.uuid4()),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def _validate(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError("body must be a JSON object")
    known = {"trail", "account", "region", "time", "records", "notify"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    trail_arn = doc.get("trail")
    if not isinstance(trail_arn, str) or not trail_arn.startswith("arn:"):
        raise ValueError("trail must be the trail's ARN")
    account = doc.get("account")
    if account is not None and (not isinstance(account, str) or not _ACCOUNT_RE.match(account)):
        raise ValueError("account must be 12 digits (a string)")
    region = doc.get("region")
    if region is not None and not isinstance(region, str):
        raise ValueError("region must be a region name")
    records = doc.get("records")
    if records is not None and (not isinstance(records, list) or not all(isinstance(r, dict) for r in records)):
        raise ValueError("records must be a list of JSON objects (CloudTrail records)")
    notify = doc.get("notify", True)
    if not isinstance(notify, bool):
        raise ValueError("notify must be true or false")
    return {"trail": trail_arn, "account": account, "region": region, "when": _when(doc.get("time")),
            "records": records, "notify": notify}


def deliver(doc: Any) -> dict[str, Any]:
    """One log file of `account` in `region` by the trail; ValueError: 400, DeliveryRefused."""
    spec = _validate(doc)
    trail = find_trail(spec["trail"])
    if trail is None:
        raise DeliveryRefused(404, f"no trail {spec['trail']}")
    account = spec["account"] or trail.account_id
    region = spec["region"] or trail.region_name
    org_id = None
    if trail.is_org_trail and management_of(trail.account_id) == trail.account_id:
        org_id = organization_id(trail.account_id)
        if account not in active_accounts(trail.account_id):
            raise DeliveryRefused(400, f"{account} is not an active account of organization {org_id}: the trail does not log it")
    elif account != trail.account_id:
        raise DeliveryRefused(400, f"{trail.arn} is not an organization trail: it logs only account {trail.account_id}")
    if not (trail.is_multi_region or region == trail.region_name):
        raise DeliveryRefused(400, f"{trail.arn} is a single-region trail of {trail.region_name}: it does not log {region}")
    if not region_allowed(account, "cloudtrail", region):
        raise DeliveryRefused(400, f"{region} is not enabled for account {account}: nothing is logged there")
    if not trail.status.is_logging:
        raise DeliveryRefused(400, f"{trail.arn} is not logging (StartLogging): CloudTrail delivers nothing")
    located = s3_models.s3_backends.bucket_accounts.get(trail.bucket_name)
    if located is None:
        raise DeliveryRefused(400, f"the trail's bucket {trail.bucket_name} does not exist: CloudTrail cannot deliver")
    partition, owner = located
    backend = s3_models.s3_backends[owner][partition]
    when = spec["when"]
    key_name = log_key(trail.s3_key_prefix, org_id, account, region, when, "".join(random.choice(_UNIQUE) for _ in range(16)))
    records = spec["records"] if spec["records"] is not None else [_default_record(account, region, when)]
    body = gzip.compress(json.dumps({"Records": records}).encode("utf-8"))
    encryption = {"encryption": "aws:kms", "kms_key_id": trail.kms_key_id} if trail.kms_key_id else {}
    key = backend.put_object(trail.bucket_name, key_name, body, disable_notification=True, **encryption)
    key.set_metadata({"Content-Type": "application/json", "Content-Encoding": "gzip"})
    if spec["notify"]:
        bucket = backend.get_bucket(trail.bucket_name)
        s3_notifications.send_event(owner, s3_notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT, bucket, key)
    return {
        "trail": trail.arn, "bucket": trail.bucket_name, "key": key_name, "account": account, "region": region,
        "organization": org_id, "records": len(records), "size": len(body),
        "encryption": key.encryption or None, "kms_key_id": key.kms_key_id or None,
    }


def admin_trail_delivery(method: str, read_json: Any) -> tuple[int, Any]:
    """(status, payload) of /_taegis/trail-delivery."""
    if method != "POST":
        return 405, {"error": "POST"}
    try:
        return 200, deliver(read_json())
    except DeliveryRefused as exc:
        return exc.status, {"error": str(exc)}
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}
