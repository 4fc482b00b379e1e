"""What happens to one call: count it, inject faults, enforce limits, forward, record."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.fault_proxy import errors, rewrites
from local.fault_proxy.faults import (
    BODY_KINDS,
    FRONT_KINDS,
    PARTIAL_FAILURE,
    RESET,
    SLOW,
    FaultBook,
    Rule,
)
from local.fault_proxy.holds import Holds
from local.fault_proxy.limits import Limits, check_put_events, check_put_log_events
from local.fault_proxy.wire import JSON, Operation, Request, Response, identify
from local.fault_proxy.wire import RESET as RESET_RESPONSE

Forward = Callable[[Request], Response]


@dataclass(frozen=True)
class CallRecord:
    operation: str  # "events.PutEvents"
    faults: tuple[str, ...]  # fault kinds injected into this call, in the order applied
    status: int | None  # HTTP status the caller got; None: the connection was reset
    error_code: str | None  # the error the caller got, from the proxy or the upstream
    forwarded: bool  # the upstream received the request (or the part not refused)
    rejected: tuple[int, ...] = ()  # entries/events the proxy refused in a 200 answer

    @property
    def faulted(self) -> bool:
        return bool(self.faults)


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._records: list[CallRecord] = []
        self._in_flight = 0

    def count(self, operation: str) -> None:
        """A call arrived: counted, and in flight until ``done``."""
        with self._lock:
            self._calls[operation] += 1
            self._in_flight += 1

    def done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def calls(self) -> Counter[str]:
        with self._lock:
            return Counter(self._calls)

    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._records.clear()


class Pipeline:
    def __init__(
        self,
        book: FaultBook,
        recorder: Recorder,
        limits: Limits | None,
        clock: Callable[[], float],
    ) -> None:
        self.book = book
        self.recorder = recorder
        self.limits = limits
        self.clock = clock
        self.holds = Holds()

    def handle(self, request: Request, forward: Forward) -> Response:
        operation = identify(request)
        if operation is None:
            return forward(request)  # moto-api, health checks...: verbatim, uncounted
        name = operation.qualified
        # Counted on arrival, so a test can see calls still in flight (slow faults).
        self.recorder.count(name)
        try:
            self.holds.wait(name, request.body)
            return self._handle(operation, name, request, forward)
        finally:
            # Only now has the upstream seen all it will of this call (even if the caller
            # is gone): a test waiting for no calls in flight sees every effect.
            self.recorder.done()

    def _handle(
        self, operation: Operation, name: str, request: Request, forward: Forward
    ) -> Response:
        faults: list[str] = []
        slow = self.book.draw_all(name, (SLOW,))
        if slow:
            faults.append(SLOW)
            time.sleep(sum(rule.params.delay for rule in slow))
        rule = self.book.draw_first(name, FRONT_KINDS)
        if rule is not None:
            faults.append(rule.kind)
            if rule.kind == RESET:
                return self._done(name, faults, RESET_RESPONSE, forwarded=False)
            answer = errors.render(operation, _spec(rule, operation))
            return self._done(name, faults, answer, forwarded=False)
        payload = _json_object(request.body) if operation.protocol == JSON else None
        if payload is not None and self.limits is not None:
            violation = self._violation(name, payload, self.limits)
            if violation is not None:
                answer = errors.render(operation, violation)
                return self._done(name, faults, answer, forwarded=False)
        rule = self.book.draw_first(name, BODY_KINDS) if payload is not None else None
        if rule is None or payload is None:
            return self._done(name, faults, forward(request), forwarded=True)
        faults.append(rule.kind)
        if rule.kind == PARTIAL_FAILURE:
            return self._partial_failure(operation, request, payload, rule, faults, forward)
        return self._log_rejection(operation, request, payload, rule, faults, forward)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _violation(
        self, name: str, payload: dict[str, Any], limits: Limits
    ) -> errors.ErrorSpec | None:
        if name == "events.PutEvents":
            return check_put_events(payload, limits)
        if name == "logs.PutLogEvents":
            return check_put_log_events(payload, limits, self.now_ms())
        return None

    def _partial_failure(
        self,
        operation: Operation,
        request: Request,
        payload: dict[str, Any],
        rule: Rule,
        faults: list[str],
        forward: Forward,
    ) -> Response:
        entries = payload.get("Entries")
        if not isinstance(entries, list):
            return self._done(operation.qualified, faults, forward(request), forwarded=True)
        failed = rewrites.failed_entries(entries, rule.params, self.book.sample)
        body = rewrites.forward_entries(payload, failed)
        upstream = _forward_rest(request, body, forward)
        if isinstance(upstream, Response):  # the whole call failed upstream: pass that on
            return self._done(operation.qualified, faults, upstream, forwarded=True)
        document = rewrites.merge_entries(len(entries), failed, rule.params, upstream)
        answer = errors.json_response(operation, document)
        return self._done(
            operation.qualified, faults, answer, forwarded=body is not None, rejected=failed
        )

    def _log_rejection(
        self,
        operation: Operation,
        request: Request,
        payload: dict[str, Any],
        rule: Rule,
        faults: list[str],
        forward: Forward,
    ) -> Response:
        events = payload.get("logEvents")
        if not isinstance(events, list):
            return self._done(operation.qualified, faults, forward(request), forwarded=True)
        plan = rewrites.plan_rejection(events, rule.params, self.now_ms())
        body = rewrites.forward_events(payload, plan)
        upstream = _forward_rest(request, body, forward)
        if isinstance(upstream, Response):
            return self._done(operation.qualified, faults, upstream, forwarded=True)
        answer = errors.json_response(operation, rewrites.merge_rejection(plan, upstream))
        return self._done(
            operation.qualified,
            faults,
            answer,
            forwarded=body is not None,
            rejected=plan.rejected,
        )

    def _done(
        self,
        name: str,
        faults: list[str],
        response: Response,
        *,
        forwarded: bool,
        rejected: tuple[int, ...] | list[int] = (),
    ) -> Response:
        self.recorder.add(
            CallRecord(
                operation=name,
                faults=tuple(faults),
                status=None if response.reset else response.status,
                error_code=errors.error_code_of(response),
                forwarded=forwarded,
                rejected=tuple(rejected),
            )
        )
        return response


def _spec(rule: Rule, operation: Operation) -> errors.ErrorSpec:
    default = errors.default_spec(rule.kind, operation)
    params = rule.params
    code = params.error_code or default.code
    return errors.ErrorSpec(
        status=params.status or default.status,
        code=code,
        message=params.message or errors.message_for(code),
        retry_after=default.retry_after if params.retry_after is None else params.retry_after,
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _forward_rest(
    request: Request, body: bytes | None, forward: Forward
) -> dict[str, Any] | Response:
    """Forward the part of a request a partial fault lets through (`body`; None: nothing):
    upstream's answer document, or upstream's response when the whole call failed there."""
    if body is None:
        return {}
    response = forward(request.with_body(body))
    if response.status != 200:
        return response
    return _json_object(response.body) or {}
