"""boto3 clients with the retry and timeout policy of each service, kept across invocations.

botocore does the retrying, in standard mode for every service: its backoffs are bounded, so the
retry window below keeps them within the invocation's deadline. (Adaptive mode's client-side
rate limiter, once tripped by a throttle, sleeps before each call for as long as its rate
says, out of any deadline's reach: a throttling storm made invocations overrun.) Endpoints,
region and retry overrides come from the standard AWS SDK environment (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_MGN, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE...), which boto3 honours by itself.
Clients are built once per execution environment so that warm invocations reuse their
connections.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_mgn import MgnClient
    from mypy_boto3_sqs import SQSClient

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    }
)
DEFAULT_TOTAL_ATTEMPTS = 5
_TIMEOUTS: dict[str, Any] = {"connect_timeout": 3, "read_timeout": 10, "tcp_keepalive": True}
# What the clients depend on besides credentials (which boto3 refreshes by itself).
_ENVIRONMENT = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_MGN",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


@dataclass
class CallCounts:
    """Counts of one invocation: HTTP attempts per operation, and throttled attempts."""

    calls: Counter[str] = field(default_factory=Counter)
    throttles: int = 0

    def reset(self) -> None:
        self.calls = Counter()
        self.throttles = 0


# botocore's backoff before attempt n+1 is at most min(2 ** (n - 1), 20) seconds (standard,
# adaptive and legacy modes alike); a retried call itself takes this long here at the least.
MAX_BACKOFF_SECONDS = 20.0
RETRY_CALL_SECONDS = 0.2


@dataclass
class RetryWindow:
    """Until when (epoch seconds) botocore may still retry a failed call; None: no limit.

    botocore's retries know nothing of the invocation's deadline: four backoffs can sleep 15 s.
    A retry that might not end before the window closes is not made, and the call fails as if
    its retries had run out; the exporter then stops cleanly instead of overrunning.
    """

    closes_at: float | None = None
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Clients:
    mgn: MgnClient
    events: EventBridgeClient
    logs: CloudWatchLogsClient
    dynamodb: DynamoDBClient
    sqs: SQSClient
    counts: CallCounts
    retry_window: RetryWindow = field(default_factory=RetryWindow)


def get_clients() -> Clients:
    """The clients for the current configuration, built on first use."""
    return _build(tuple(os.environ.get(name) for name in _ENVIRONMENT))


@lru_cache(maxsize=4)
def _build(environment: tuple[str | None, ...]) -> Clients:
    session = boto3.session.Session()
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or DEFAULT_TOTAL_ATTEMPTS)
    mode = os.environ.get("AWS_RETRY_MODE")
    standard = _config(mode or "standard", attempts)
    counts = CallCounts()
    window = RetryWindow()
    clients = Clients(
        mgn=session.client("mgn", config=standard),
        events=session.client("events", config=standard),
        logs=session.client("logs", config=standard),
        dynamodb=session.client("dynamodb", config=standard),
        sqs=session.client("sqs", config=standard),
        counts=counts,
        retry_window=window,
    )
    for client in (clients.mgn, clients.events, clients.logs, clients.dynamodb, clients.sqs):
        _count_calls(client, counts)
        _bound_retries(client, window)
    return clients


def _config(mode: str, attempts: int) -> Config:
    retries: Any = {"mode": mode, "total_max_attempts": attempts}
    return Config(retries=retries, **_TIMEOUTS)


def _count_calls(client: Any, counts: CallCounts) -> None:
    """Count every HTTP attempt ("mgn.DescribeJobs") and every throttled one, retries included."""
    service = client.meta.service_model.service_name  # "logs", not the event's "cloudwatch-logs"

    def on_before_send(event_name: str = "", **_: Any) -> None:
        counts.calls[f"{service}.{event_name.rsplit('.', 1)[-1]}"] += 1

    def on_needs_retry(response: Any = None, **_: Any) -> None:
        if response is None:
            return
        code = response[1].get("Error", {}).get("Code") if len(response) > 1 else None
        if code in THROTTLING_CODES:
            counts.throttles += 1

    client.meta.events.register("before-send", on_before_send)
    client.meta.events.register("needs-retry", on_needs_retry)


def _bound_retries(client: Any, window: RetryWindow) -> None:
    """Refuse a retry that could end after the window closes: raise what botocore would raise
    once out of retries (the modeled error class, or the connection error)."""

    def on_needs_retry(
        attempts: int = 1,
        response: Any = None,
        caught_exception: Exception | None = None,
        operation: Any = None,
        **_: Any,
    ) -> None:
        if window.closes_at is None:
            return
        if caught_exception is None and not _is_error(response):
            return  # a success: nothing to retry
        worst_wait = min(2.0 ** (attempts - 1), MAX_BACKOFF_SECONDS)
        if window.clock() + worst_wait + RETRY_CALL_SECONDS < window.closes_at:
            return
        if caught_exception is not None:
            raise caught_exception
        # What botocore raises for an error answer it does not retry (the modeled class, so
        # that callers catching e.g. ConditionalCheckFailedException still do).
        parsed = response[1]
        error = parsed.get("Error", {})
        code = str(error.get("QueryErrorCode") or error.get("Code") or "")
        raise client.exceptions.from_code(code)(parsed, operation.name)

    client.meta.events.register_first("needs-retry", on_needs_retry)


def _is_error(response: Any) -> bool:
    if response is None or len(response) < 2:
        return False
    return int(getattr(response[0], "status_code", 200)) >= 300
