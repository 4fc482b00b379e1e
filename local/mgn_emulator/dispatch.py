"""One rest-json request in, one response out: routing, faults, parsing, validation, errors.

Kept free of sockets so that the order of the checks is in one place:
route -> count the call -> play simulated programmes up to now -> injected fault ->
parse JSON -> validate against the model -> account checks -> operation.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.mgn_emulator.errors import ApiError, validation_error
from local.mgn_emulator.faults import SERVICE_UNAVAILABLE, FaultBook
from local.mgn_emulator.model import SERVED_OPERATIONS, input_shape
from local.mgn_emulator.service import MgnService
from local.mgn_emulator.validation import summary, validate


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Dispatcher:
    def __init__(
        self,
        service: MgnService,
        faults: FaultBook,
        before_operation: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.faults = faults
        self._before_operation = before_operation
        self._calls_lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    @property
    def calls(self) -> Counter[str]:
        with self._calls_lock:
            return Counter(self._calls)

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def handle(self, method: str, path: str, body: bytes) -> Response:
        try:
            return self._handle(method, path, body)
        except ApiError as error:
            return _error_response(error)
        except Exception as exc:  # any emulator bug surfaces as a modeled 500
            return _error_response(ApiError("InternalServerException", f"Emulator error: {exc!r}"))

    def _handle(self, method: str, path: str, body: bytes) -> Response:
        operation = path.split("?", 1)[0].strip("/")
        if method != "POST" or operation not in SERVED_OPERATIONS:
            raise validation_error(f"Unknown operation: {method} /{operation}", "unknownOperation")
        with self._calls_lock:
            self._calls[operation] += 1
        if self._before_operation is not None:
            self._before_operation()

        params: Any = None
        parse_error: ValueError | None = None
        try:
            params = json.loads(body) if body.strip() else {}
        except ValueError as exc:  # includes UnicodeDecodeError
            parse_error = exc

        self._apply_fault(operation, params)
        if parse_error is not None or not isinstance(params, dict):
            raise validation_error(f"Could not parse request body: {parse_error}", "cannotParse")

        problems = validate(input_shape(operation), params)
        if problems:
            raise validation_error(
                summary(problems),
                "fieldValidationFailed",
                [{"name": problem.name, "message": problem.message} for problem in problems],
            )
        result = self.service.call(operation, params)
        return Response(200, json.dumps(result, default=str).encode(), _headers())

    def _apply_fault(self, operation: str, params: Any) -> None:
        fields = params if isinstance(params, dict) else {}
        account = fields.get("accountID")
        if not isinstance(account, str):
            account = self.service.settings.caller_account
        job_id = fields.get("jobID")
        fault = self.faults.take(operation, account, job_id if isinstance(job_id, str) else None)
        if fault is None:
            return
        if fault.error == SERVICE_UNAVAILABLE:
            raise _PlainError(503, b"Service Unavailable")
        raise fault.to_error()


class _PlainError(ApiError):
    """An unmodeled error answered with a plain-text body and no error type header."""

    def __init__(self, status: int, text: bytes) -> None:
        super().__init__("ServiceUnavailable", text.decode(), status=status)
        self.text = text


def _headers(**extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()), **extra}


def _error_response(error: ApiError) -> Response:
    if isinstance(error, _PlainError):
        headers = {"Content-Type": "text/plain", "x-amzn-RequestId": str(uuid.uuid4())}
        return Response(error.status, error.text, headers)
    headers = _headers(**{"x-amzn-ErrorType": error.name})
    headers.update(error.headers)
    return Response(error.status, json.dumps(error.body()).encode(), headers)
