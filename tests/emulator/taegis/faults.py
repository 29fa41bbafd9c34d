"""Faults and refusals in each protocol's AWS error shape (behaviour throttle / errors_5xx /
drop / drop_after / latency_ms; region refusals, row n), drawn before `100 Continue` when the
client waits for one."""

from __future__ import annotations

import json
import secrets as _secrets
import socket
import uuid
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from .behaviour import FaultKind, _draw_fault
from .request_log import _scope_of
from .regions import region_allowed


# ---------------------------------------------------------------------------------------------
# Faults (behaviour throttle / errors_5xx / drop / drop_after / latency_ms).
# AWS: each service's throttling and server errors, in its own protocol's error format.
# ---------------------------------------------------------------------------------------------

_QUERY_NAMESPACES = {
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
}
# Query-protocol server errors: (status, code, message).
_QUERY_5XX = {
    "cloudformation": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "iam": (500, "ServiceFailure", "Request processing has failed due to some unknown error, exception or failure."),
    "sns": (500, "InternalError", "Request could not be completed due to an internal error."),
    "sts": (503, "ServiceUnavailable", "Service is unable to handle request."),
}
# JSON-protocol (X-Amz-Target) server errors.
_JSON_5XX = {
    "secretsmanager": (500, "InternalServiceError", "An error occurred on the server side."),
    "logs": (500, "ServiceUnavailableException", "The service cannot complete the request."),
    "kms": (500, "KMSInternalException", "The request was rejected because an internal exception occurred."),
    "cloudtrail": (500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."),
}

# REST-JSON services other than Lambda (no X-Amz-Target; the code in x-amzn-ErrorType): their
# server error.  Throttling is their modelled 429 TooManyRequestsException (row ag: account).
_REST_JSON_5XX = {
    "account": (500, "InternalServerException", "An internal server error occurred."),
}


def _protocol(service: str, environ: dict[str, Any]) -> str:
    if service in ("s3", "lambda", "ec2"):
        return service
    if service in _REST_JSON_5XX:
        return "rest-json"
    return "json" if environ.get("HTTP_X_AMZ_TARGET") else "query"


def _s3_error(code: str, message: str, extra: str = "") -> tuple[list[tuple[str, str]], str]:
    s3_request_id = uuid.uuid4().hex[:16].upper()
    host_id = _secrets.token_urlsafe(48)
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}'
        f"<RequestId>{s3_request_id}</RequestId><HostId>{host_id}</HostId></Error>"
    )
    return [("Content-Type", "application/xml"), ("x-amz-request-id", s3_request_id), ("x-amz-id-2", host_id)], body


def _lambda_error(code: str, payload: dict[str, Any]) -> tuple[list[tuple[str, str]], str]:
    body = json.dumps(payload, separators=(",", ":"))
    return [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", str(uuid.uuid4()))], body


def _json_error(environ: dict[str, Any], code: str, message: str) -> tuple[list[tuple[str, str]], str]:
    content_type = environ.get("CONTENT_TYPE", "")
    if not content_type.startswith("application/x-amz-json"):
        content_type = "application/x-amz-json-1.1"
    body = json.dumps({"__type": code, "message": message}, separators=(",", ":"))
    return [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))], body


def _ec2_error(code: str, message: str) -> tuple[list[tuple[str, str]], str]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    )
    return [("Content-Type", "text/xml")], body


def _query_error(service: str, error_type: str, code: str, message: str) -> tuple[list[tuple[str, str]], str]:
    request_id = str(uuid.uuid4())
    namespace = _QUERY_NAMESPACES.get(service)
    root = f'<ErrorResponse xmlns="{namespace}">' if namespace else "<ErrorResponse>"
    body = (
        f"{root}<Error><Type>{error_type}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


def _finish_error(status: int, headers: list[tuple[str, str]], body: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    data = body.encode("utf-8")
    if environ.get("REQUEST_METHOD") == "HEAD":
        data = b""  # AWS: a HEAD error has headers only
    return status, headers + [("Content-Length", str(len(data)))], data


def _fault_response(service: str, kind: FaultKind, variant: int, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    protocol = _protocol(service, environ)
    if protocol == "s3":
        if kind is FaultKind.THROTTLE:
            status, code, message = 503, "SlowDown", "Please reduce your request rate."
        elif variant == 0:
            status, code, message = 503, "ServiceUnavailable", "Please reduce your request rate."
        else:
            status, code, message = 500, "InternalError", "We encountered an internal error. Please try again."
        headers, body = _s3_error(code, message)
    elif protocol == "lambda":
        if kind is FaultKind.THROTTLE:
            status, code = 429, "TooManyRequestsException"
            payload: dict[str, Any] = {"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}
        else:
            status, code = 500, "ServiceException"
            payload = {"Type": "Service", "message": "An error occurred and the request cannot be processed."}
        headers, body = _lambda_error(code, payload)
    elif protocol == "rest-json":
        if kind is FaultKind.THROTTLE:
            status, code, message = 429, "TooManyRequestsException", "Rate exceeded"
        else:
            status, code, message = _REST_JSON_5XX[service]
        headers, body = _lambda_error(code, {"__type": code, "message": message})
    elif protocol == "json":
        if kind is FaultKind.THROTTLE:
            status, code, message = 400, "ThrottlingException", "Rate exceeded"
        else:
            status, code, message = _JSON_5XX.get(
                service, (500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.")
            )
        headers, body = _json_error(environ, code, message)
    elif protocol == "ec2":
        if kind is FaultKind.THROTTLE:
            status, code, message = 503, "RequestLimitExceeded", "Request limit exceeded."
        else:
            status, code, message = 503, "Unavailable", "The server is overloaded and can't handle the request."
        headers, body = _ec2_error(code, message)
    else:  # query protocol (CloudFormation, SNS, STS, IAM, ...)
        if kind is FaultKind.THROTTLE:
            status, error_type, code, message = 400, "Sender", "Throttling", "Rate exceeded"
        else:
            status, code, message = _QUERY_5XX.get(service, (503, "ServiceUnavailable", "Service is unable to handle request."))
            error_type = "Receiver"
        headers, body = _query_error(service, error_type, code, message)
    return _finish_error(status, headers, body, environ)


_INVALID_TOKEN = "The security token included in the request is invalid."


def _refusal_response(service: str, access_key: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """(n) What AWS answers a request signed for a region that does not exist or is not enabled."""
    protocol = _protocol(service, environ)
    if protocol == "s3":
        status = 403
        headers, body = _s3_error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            f"<AWSAccessKeyId>{_xml_escape(access_key)}</AWSAccessKeyId>",
        )
    elif protocol == "lambda":
        status = 403
        headers, body = _lambda_error("UnrecognizedClientException", {"Type": "User", "message": _INVALID_TOKEN})
    elif protocol == "rest-json":
        status = 403
        headers, body = _lambda_error("UnrecognizedClientException", {"__type": "UnrecognizedClientException", "message": _INVALID_TOKEN})
    elif protocol == "json":
        status = 400
        headers, body = _json_error(environ, "UnrecognizedClientException", _INVALID_TOKEN)
    elif protocol == "ec2":
        status = 401
        headers, body = _ec2_error("AuthFailure", "AWS was not able to validate the provided access credentials")
    else:  # query protocol: STS (the tool's first call in a region), CloudFormation, SNS, IAM, ...
        status = 403
        headers, body = _query_error(service, "Sender", "InvalidClientTokenId", _INVALID_TOKEN)
    return _finish_error(status, headers, body, environ)


_HTTP_REASONS = {
    301: "Moved Permanently", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 405: "Method Not Allowed",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


def _drain_body(environ: dict[str, Any]) -> None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > 0:
            environ["wsgi.input"].read(length)
    except Exception:
        pass


def _predraw_fault(raw_path: str, headers: Any) -> tuple[float, FaultKind | None, int] | None:
    scope = _scope_of(raw_path, headers)
    return _draw_fault(scope[1]) if scope else None


def _predraw_refusal(raw_path: str, headers: Any) -> bool:
    scope = _scope_of(raw_path, headers)
    return bool(scope) and not region_allowed(scope[1], scope[3], scope[2])


class ConnectionDropped(ConnectionAbortedError):
    """Raised out of the WSGI app: werkzeug treats it as a dropped connection and writes nothing."""


def _drop_connection(environ: dict[str, Any]) -> None:
    # Shut the socket down so that the client sees the connection end without a response
    # (werkzeug would otherwise wait for another request on a keep-alive connection).
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionDropped("taegis_moto: connection dropped by the behaviour settings")
