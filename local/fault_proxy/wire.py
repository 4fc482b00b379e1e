"""HTTP messages as the proxy sees them, and which AWS operation a request calls."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

# Signing names are what botocore puts in the SigV4 credential scope; they are the service
# names users know ("events", "logs", "dynamodb", "mgn"), so they name operations.
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
# Unsigned awsJson requests still carry a target prefix; map the common ones.
_TARGET_PREFIXES = {
    "AWSEvents": "events",
    "Logs_20140328": "logs",
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "AmazonSQS": "sqs",
    "AWSStepFunctions": "states",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
    "TrentService": "kms",
}
# rest-json services such as MGN route by path: one CamelCase segment is the operation.
_REST_OPERATION = re.compile(r"^/([A-Z][A-Za-z0-9]+)/?$")

JSON = "json"
REST_JSON = "rest-json"
QUERY = "query"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def with_body(self, body: bytes) -> Request:
        return Request(self.method, self.path, self.headers, body)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # Close the client's socket with an RST instead of answering.
    reset: bool = False

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def replace_header(self, name: str, value: str) -> None:
        wanted = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != wanted]
        self.headers.append((name, value))


RESET = Response(status=0, reset=True)


@dataclass(frozen=True)
class Operation:
    service: str  # signing name; "" when the request names none
    name: str
    protocol: str  # JSON, REST_JSON or QUERY
    content_type: str  # what an answer in this protocol is labelled with

    @property
    def qualified(self) -> str:
        return f"{self.service or 'unknown'}.{self.name}"


def service_of(request: Request) -> str:
    """The SigV4 signing name, else the awsJson target prefix's service, else ""."""
    match = _CREDENTIAL_SCOPE.search(request.header("Authorization") or "")
    if match:
        return match.group(1)
    target = request.header("X-Amz-Target") or ""
    return _TARGET_PREFIXES.get(target.rpartition(".")[0], "")


def identify(request: Request) -> Operation | None:
    """The operation a request calls, by its service's wire protocol; None if unrecognised."""
    service = service_of(request)
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    target = request.header("X-Amz-Target")
    if target and "." in target:
        answer_type = content_type if content_type.startswith("application/x-amz-json") else ""
        return Operation(
            service, target.rpartition(".")[2], JSON, answer_type or "application/x-amz-json-1.1"
        )
    path = urlsplit(request.path).path
    query = urlsplit(request.path).query
    if content_type == "application/x-www-form-urlencoded" or "Action=" in query:
        params = parse_qs(query) | parse_qs(request.body.decode("utf-8", "replace"))
        action = params.get("Action")
        if action:
            return Operation(service, action[0], QUERY, "text/xml")
    match = _REST_OPERATION.match(path)
    if match and service:
        return Operation(service, match.group(1), REST_JSON, "application/json")
    return None
