"""Error answers in each protocol's wire format, so botocore parses them as the real thing.

awsJson: ``{"__type": ..., "message": ...}`` with the request's ``application/x-amz-json-1.x``
type (DynamoDB and SQS namespace the type like the real services; SQS also sends
``x-amzn-query-error`` as a query-compatible service). rest-json: ``x-amzn-ErrorType`` plus
``{"message": ...}``. query: an ``<ErrorResponse>`` XML document.
"""

from __future__ import annotations

import json
import uuid
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

from local.fault_proxy.wire import JSON, QUERY, REST_JSON, Operation, Response

THROTTLE = "throttle"
HTTP_500 = "http_500"
HTTP_503 = "http_503"

_NAMESPACES = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "sqs": "com.amazonaws.sqs#",
}

_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "Throttling": "Rate exceeded",
    "ProvisionedThroughputExceededException": (
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."
    ),
    "RequestThrottled": "Request is throttled.",
    "InternalException": "Internal service error.",
    "InternalFailure": "The request processing has failed because of an unknown error.",
    "InternalServerError": "Internal server error",
    "InternalServerException": "An internal error occurred.",
    "ServiceUnavailableException": "The service cannot complete the request.",
    "ServiceUnavailable": "Service Unavailable",
}


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    code: str
    message: str = ""
    retry_after: int | None = None  # seconds, sent as Retry-After (rest-json only)


# (kind, service) -> (status, code); service "" is the protocol's default.
_DEFAULTS: dict[tuple[str, str, str], tuple[int, str]] = {
    (THROTTLE, JSON, ""): (400, "ThrottlingException"),
    # The data-plane throttle DynamoDB answers UpdateItem/GetItem with.
    (THROTTLE, JSON, "dynamodb"): (400, "ProvisionedThroughputExceededException"),
    (THROTTLE, JSON, "sqs"): (400, "RequestThrottled"),
    (THROTTLE, REST_JSON, ""): (429, "ThrottlingException"),
    (THROTTLE, QUERY, ""): (400, "Throttling"),
    (HTTP_500, JSON, ""): (500, "InternalFailure"),
    # The 500s the models list for the exporter's operations.
    (HTTP_500, JSON, "events"): (500, "InternalException"),
    (HTTP_500, JSON, "logs"): (500, "ServiceUnavailableException"),
    (HTTP_500, JSON, "dynamodb"): (500, "InternalServerError"),
    (HTTP_500, REST_JSON, ""): (500, "InternalServerException"),
    (HTTP_500, QUERY, ""): (500, "InternalFailure"),
    (HTTP_503, JSON, ""): (503, "ServiceUnavailable"),
    (HTTP_503, REST_JSON, ""): (503, "ServiceUnavailable"),
    (HTTP_503, QUERY, ""): (503, "ServiceUnavailable"),
}


def default_spec(kind: str, operation: Operation) -> ErrorSpec:
    key = (kind, operation.protocol, operation.service)
    status, code = _DEFAULTS.get(key) or _DEFAULTS[(kind, operation.protocol, "")]
    # MGN's ThrottlingException models Retry-After; botocore reads it as retryAfterSeconds.
    retry_after = 1 if kind == THROTTLE and operation.protocol == REST_JSON else None
    return ErrorSpec(status, code, message_for(code), retry_after)


def message_for(code: str) -> str:
    return _MESSAGES.get(code, code)


def render(operation: Operation, spec: ErrorSpec) -> Response:
    message = spec.message or message_for(spec.code)
    headers = [("x-amzn-RequestId", str(uuid.uuid4()))]
    if operation.protocol == QUERY:
        fault = "Sender" if spec.status < 500 else "Receiver"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{fault}</Type><Code>{escape(spec.code)}</Code>"
            f"<Message>{escape(message)}</Message>"
            f"</Error><RequestId>{headers[0][1]}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
        return Response(spec.status, headers, body)
    if operation.protocol == REST_JSON:
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", spec.code)]
        if spec.retry_after is not None:
            headers.append(("Retry-After", str(spec.retry_after)))
        return Response(spec.status, headers, json.dumps({"message": message}).encode())
    error_type = _NAMESPACES.get(operation.service, "") + spec.code
    return json_response(
        operation, {"__type": error_type, "message": message}, status=spec.status, extra=headers
    )


def json_response(
    operation: Operation,
    document: object,
    status: int = 200,
    extra: list[tuple[str, str]] | None = None,
) -> Response:
    """An awsJson answer; DynamoDB's carries the x-amz-crc32 botocore verifies."""
    body = json.dumps(document).encode()
    headers = list(extra or [("x-amzn-RequestId", str(uuid.uuid4()))])
    headers.append(("Content-Type", operation.content_type))
    if operation.service == "dynamodb":
        headers.append(("x-amz-crc32", str(zlib.crc32(body))))
    if operation.service == "sqs" and status >= 400:
        document_type = str(document.get("__type", "")) if isinstance(document, dict) else ""
        fault = "Sender" if status < 500 else "Receiver"
        headers.append(("x-amzn-query-error", f"{document_type.rpartition('#')[2]};{fault}"))
    return Response(status, headers, body)


def error_code_of(response: Response) -> str | None:
    """The error code a client will see in an upstream answer (None for a success)."""
    if response.reset or response.status < 300:
        return None
    header = response.header("x-amzn-ErrorType")
    if header:
        return header.split(":", 1)[0].rpartition("#")[2]
    try:
        document = json.loads(response.body or b"{}")
    except ValueError:
        return str(response.status)
    if isinstance(document, dict):
        code = document.get("__type") or document.get("code") or document.get("Code")
        if isinstance(code, str):
            return code.split(":", 1)[0].rpartition("#")[2]
    return str(response.status)
