"""The retry policy, in one place: who retries what, how long it waits, and when it stops.

- Whole calls (throttling, 5xx, connection errors) are retried inside botocore, for every
  client: botocore's standard retry conditions decide what is retryable; `CallRetries`
  decides how long to wait and refuses a retry the invocation has no time for. botocore's own
  handler is given one attempt, so it never retries by itself: its backoffs know nothing of a
  deadline (four of them can sleep 15 s), and an event handler can decline a retry only by
  returning None, never by overruling another handler that asks for one.
- Single entries that a call answered 200 but failed (PutEvents' FailedEntryCount,
  SendMessageBatch's Failed) are the one thing botocore cannot see: `resend_failed` sends
  them again, with the same backoff, while the caller's time allows.
- Whole work requests are retried by SQS (worker.py: a failed account's record comes back
  after a growing delay), not here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.retries.standard import RetryContext, StandardRetryConditions

DEFAULT_TOTAL_ATTEMPTS = 5
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    }
)
# A retried call itself takes this long at the least; a retry that cannot finish before the
# window closes is not started.
RETRY_CALL_SECONDS = 0.2

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the wait after attempt n is drawn from
    [0, min(cap, base * 2 ** (n - 1))], so concurrent invocations retry apart, not in step."""

    base: float
    cap: float = 20.0

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        return draw() * min(self.cap, self.base * 2.0 ** (attempt - 1))


# botocore's standard mode waits from a base of 1 s after a throttle and 50 ms after other
# errors; the same figures here, so taking the decision over changes only the deadline rule.
THROTTLED_CALLS = Backoff(base=1.0)
FAILED_CALLS = Backoff(base=0.05)
# Entries a 200 answer failed: mostly throttled entries, retried in short steps because a
# page's other entries are waiting.
FAILED_ENTRIES = Backoff(base=0.1, cap=5.0)


@dataclass
class RetryWindow:
    """Until when (epoch seconds) a failed call may still be retried; None: no limit."""

    closes_at: float | None = None
    clock: Callable[[], float] = time.time

    def allows(self, wait: float) -> bool:
        return self.closes_at is None or self.clock() + wait + RETRY_CALL_SECONDS < self.closes_at


class CallRetries:
    """botocore's `needs-retry` handler for one client: the delay before the next attempt of
    a failed call, or None (no retry: botocore then raises the call's own error)."""

    def __init__(self, total_attempts: int, window: RetryWindow) -> None:
        self._conditions = StandardRetryConditions(max_attempts=total_attempts)
        self._window = window

    def __call__(
        self,
        attempts: int = 1,
        response: Any = None,
        caught_exception: Exception | None = None,
        operation: Any = None,
        request_dict: dict[str, Any] | None = None,
        **_: Any,
    ) -> float | None:
        http_response, parsed = response if response is not None else (None, None)
        context = RetryContext(
            attempt_number=attempts,
            operation_model=operation,
            http_response=http_response,
            parsed_response=parsed,
            caught_exception=caught_exception,
            request_context=(request_dict or {}).get("context"),
        )
        if not self._conditions.is_retryable(context):
            return None
        code: Any = context.get_error_code()  # botocore-stubs type it int, it is the str code
        backoff = THROTTLED_CALLS if code in THROTTLING_CODES else FAILED_CALLS
        wait = backoff.delay(attempts)
        return wait if self._window.allows(wait) else None


def resend_failed(
    send: Callable[[Sequence[T], int], Sequence[T]],
    items: Sequence[T],
    *,
    attempts: int,
    time_left: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff = FAILED_ENTRIES,
) -> Sequence[T]:
    """Send `items`, then again the ones `send(items, attempt)` returns as failed and worth
    retrying, until none fail, `attempts` are spent or `time_left()` leaves no time to wait.
    Returns the ones still failing."""
    pending = items
    for attempt in range(1, attempts + 1):
        pending = send(pending, attempt)
        if not pending or attempt == attempts:
            break
        seconds = time_left()
        if seconds <= 0:
            break
        sleep(min(backoff.delay(attempt), seconds))
    return pending


def unbounded() -> float:
    """`time_left` for a caller with no deadline of its own (the attempts bound it)."""
    return float("inf")
