"""(u) IAM policy enforcement, per account (admin: /_taegis/iam-enforcement)."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as _xml_escape

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.routing import get_service_router
from moto.iam import access_control as iam_access_control
from moto.iam import exceptions as iam_exceptions
from moto.utilities.utils import get_partition
from werkzeug.exceptions import HTTPException

from .request_log import _fault_exempt
from .faults import _ec2_error, _json_error, _lambda_error, _query_error
from .s3_rules import _bucket_named, s3_iam_action


# ---------------------------------------------------------------------------------------------
# (u) IAM policy enforcement, per account (admin: /_taegis/iam-enforcement).
# AWS: every call is authenticated and then authorised against the caller's identity policies.
# moto has an evaluator for that (moto.iam.access_control, run from
# ActionAuthenticatorMixin._authenticate_and_authorize_action), but it is global and off
# (settings.INITIAL_NO_AUTH_ACTION_COUNT is infinite).  Here it runs, whatever that setting, for
# the SigV4-signed (Authorization header) requests of the enforced accounts only, the account
# being the one moto's handler resolves (as in the request log, row i).  Unsigned and
# presigned-URL requests (the cfnresponse callback, AssumeRoleWithWebIdentity, ...) and every
# other account are left as they were.  The signature is checked over the body bytes as sent (a
# form body kept by the WSGI wrapper), S3 operations are checked as AWS's IAM actions on the
# bucket or object ARN, and refusals are answered in each protocol's AWS error shape.
# ---------------------------------------------------------------------------------------------

_IAM_ENFORCED_LOCK = threading.Lock()
_IAM_ENFORCED: set[str] = set()
_MOTO_AUTHENTICATE = ActionAuthenticatorMixin._authenticate_and_authorize_action


def iam_enforced(account_id: str | None) -> bool:
    with _IAM_ENFORCED_LOCK:
        return account_id in _IAM_ENFORCED


def set_iam_enforced(account_id: str, enforce: bool) -> list[str]:
    with _IAM_ENFORCED_LOCK:
        if enforce:
            _IAM_ENFORCED.add(account_id)
        else:
            _IAM_ENFORCED.discard(account_id)
        return sorted(_IAM_ENFORCED)


def enforced_accounts() -> list[str]:
    with _IAM_ENFORCED_LOCK:
        return sorted(_IAM_ENFORCED)


class _AuthError(HTTPException):
    """A refusal of moto's evaluator in the caller's protocol, as AWS answers it: moto's own is
    `<ErrorResponse><Errors><Error>`, which the query-protocol parsers of the SDKs other than
    botocore (the Rust SDK's among them) do not read ("403: HTTP 403"), and XML for JSON services."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: str):
        super().__init__(description=body)
        self.code = status
        self._taegis_headers = [(k, v) for k, v in headers if k.lower() != "content-length"]

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return list(self._taegis_headers)

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return self.description or ""


# moto's evaluator error code -> (status, code) of the JSON protocols (X-Amz-Target services and
# Lambda's REST-JSON), as AWS answers them.
_JSON_AUTH_ERRORS = {
    "AccessDenied": (400, "AccessDeniedException"),
    "InvalidClientTokenId": (400, "UnrecognizedClientException"),
    "SignatureDoesNotMatch": (400, "InvalidSignatureException"),
}
_LAMBDA_AUTH_ERRORS = {
    "AccessDenied": (403, "AccessDeniedException"),
    "InvalidClientTokenId": (403, "UnrecognizedClientException"),
    "SignatureDoesNotMatch": (403, "InvalidSignatureException"),
}
# EC2: AWS answers a denial 403 UnauthorizedOperation and a bad key or signature 401 AuthFailure.
_EC2_AUTH_ERRORS = {
    "AccessDenied": (403, "UnauthorizedOperation"),
    "InvalidClientTokenId": (401, "AuthFailure"),
    "SignatureDoesNotMatch": (401, "AuthFailure"),
}


def _auth_error(response: Any, exc: HTTPException) -> HTTPException:
    """moto's refusal `exc` (a _RESTError) re-shaped for the protocol of `response`'s service."""
    code = getattr(exc, "error_type", None)
    message = getattr(exc, "message", "") or str(code)
    status = getattr(exc, "code", 403) or 403
    headers = response.headers
    environ = getattr(getattr(response, "normalized_request", None), "environ", {}) or {}
    service = getattr(response, "service_name", None) or ""
    if code is None:
        return exc
    if headers.get("X-Amz-Target"):
        if code not in _JSON_AUTH_ERRORS:
            return exc
        status, aws_code = _JSON_AUTH_ERRORS[code]
        hdrs, body = _json_error(environ, aws_code, message)
        return _AuthError(status, hdrs, body)
    if type(response).__name__ in ("LambdaResponse", "AccountResponse"):  # REST-JSON (row ag: account)
        if code not in _LAMBDA_AUTH_ERRORS:
            return exc
        status, aws_code = _LAMBDA_AUTH_ERRORS[code]
        hdrs, body = _lambda_error(aws_code, {"__type": aws_code, "message": message, "Message": message})
        return _AuthError(status, hdrs, body)
    if service == "ec2":
        status, aws_code = _EC2_AUTH_ERRORS.get(code, (status, code))
        if aws_code == "UnauthorizedOperation":
            message = f"You are not authorized to perform this operation. {message}"
        hdrs, body = _ec2_error(_xml_escape(aws_code), _xml_escape(message))
        return _AuthError(status, hdrs, body)
    # Query protocol (CloudFormation, SNS, STS, IAM, ...): <ErrorResponse><Error>..., with the
    # service's namespace and a RequestId, as AWS answers.
    hdrs, body = _query_error(service, "Sender", _xml_escape(code), _xml_escape(message))
    return _AuthError(status, hdrs, body)


def _s3_operation(response: Any) -> tuple[str | None, dict[str, str]]:
    try:
        operation, params = get_service_router("s3").match(response.normalized_request)
        return operation.name, dict(params or {})
    except Exception:
        return None, {}


def _s3_deleted_keys(body: Any) -> list[str]:
    """The keys of a DeleteObjects body (`<Delete><Object><Key>..`)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body if isinstance(body, (bytes, str)) and body else b"<Delete/>")
    except ET.ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def _s3_checks(response: Any, resource: str) -> tuple[str | None, list[str]]:
    """(u) The IAM action AWS checks for this S3 request and the resources it checks it on.
    moto's evaluator names S3 operations its own way (GetBucketEncryption as s3:ListBucket,
    PutPublicAccessBlock as s3:CreateBucket, HeadBucket as s3:HeadBucket, ...); AWS's are the IAM
    action names, on the bucket ARN for bucket operations and BUCKET/KEY for object operations."""
    operation, params = _s3_operation(response)
    if not operation:
        return None, [resource]
    action = s3_iam_action(operation)
    partition = get_partition(getattr(response, "region", None) or "us-east-1")
    bucket, key = params.get("Bucket"), params.get("Key")
    if operation == "ListBuckets" or not bucket:
        return action, ["*"]
    bucket_arn = f"arn:{partition}:s3:::{bucket}"  # (the router decoded Bucket and Key)
    if operation == "DeleteObjects":
        keys = _s3_deleted_keys(getattr(response, "raw_body", b""))
        return action, [f"{bucket_arn}/{k}" for k in keys] or [f"{bucket_arn}/*"]
    if key is not None:
        return action, [f"{bucket_arn}/{key}"]
    return action, [bucket_arn]


def _missing_key_bucket_arn(response: Any) -> str | None:
    """(u) The bucket's ARN when the request reads (GetObject, HeadObject) a key that its bucket
    does not hold."""
    operation, params = _s3_operation(response)
    if operation not in ("GetObject", "HeadObject"):
        return None
    bucket = _bucket_named(params.get("Bucket"))
    if bucket is None or params.get("Key") in bucket.keys:
        return None
    partition = get_partition(getattr(response, "region", None) or "us-east-1")
    return f"arn:{partition}:s3:::{bucket.name}"


def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    headers = self.headers
    if (
        "Authorization" not in headers
        or _fault_exempt(getattr(self, "raw_path", "") or "")
        or not iam_enforced(self.current_account)
    ):
        return _MOTO_AUTHENTICATE(self, iam_request_cls, resource)
    if headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return None
    parsed_url = urlsplit(self.uri)
    path = self.raw_path
    if parsed_url.query:
        path += "?" + parsed_url.query
    environ = getattr(getattr(self, "normalized_request", None), "environ", None) or {}
    # The body as sent (a form body werkzeug parsed is gone from request.data): SigV4 signed it.
    body = environ.get("taegis.form_body")
    if body is None:
        body = self.raw_body
    action: Any = self._get_action()
    resources = [resource]
    is_s3 = iam_request_cls is iam_access_control.S3IAMRequest
    if is_s3:
        s3_action, resources = _s3_checks(self, resource)
    try:
        iam_request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=body,
            headers=headers,
            action=action,
        )
        if is_s3 and s3_action:
            iam_request._action = s3_action
        iam_request.check_signature()
        for checked in resources:
            iam_request.check_action_permitted(checked)
        listing = _missing_key_bucket_arn(self) if is_s3 else None
        if listing:
            # AWS: a missing key is "no such key" (404) only to a caller that may list the
            # bucket; to any other it is 403 AccessDenied, as if it were there but refused.
            iam_request._action = "s3:ListBucket"
            iam_request.check_action_permitted(listing)
    except HTTPException as exc:
        if is_s3:
            raise  # moto's S3 errors are S3's (<Error><Code>AccessDenied</Code>...)
        raise _auth_error(self, exc) from None
    return None


def _signed_aws_request(self: Any) -> Any:
    # moto re-signs `body or data`; a request without a body (Lambda's GETs) then had its query
    # parameters, or its headers, signed as a form body and never matched.  The body is what
    # SigV4 signs, empty or not (a form body werkzeug has parsed is re-encoded from the form).
    from botocore.awsrequest import AWSRequest

    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    data: Any = self._body or b""
    if not data and str(self._headers.get("Content-Type", "")).startswith("application/x-www-form-urlencoded"):
        data = self._data  # werkzeug consumed a form body; re-encoded as botocore sends it
    request = AWSRequest(method=self._method, url=self._path, data=data, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


_MOTO_ROLE_POLICIES = iam_access_control.AssumedRoleAccessKey.collect_policies


def _role_policies(self: Any) -> Any:
    # AWS: a role that does not exist grants nothing (moto raised NoSuchEntity, answered 500).
    # sts:AssumeRole into any role ARN works in moto, so the default arn:...:role/x of the tests
    # has no policies and is refused everything but sts:GetCallerIdentity.
    try:
        return _MOTO_ROLE_POLICIES(self)
    except iam_exceptions.NotFoundException:
        return []


def _install_iam_enforcement() -> None:
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action
    iam_access_control.IAMRequestBase._create_aws_request = _signed_aws_request
    iam_access_control.AssumedRoleAccessKey.collect_policies = _role_policies
