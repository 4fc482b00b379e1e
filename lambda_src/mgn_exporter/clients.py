"""boto3 clients with the retry and timeout policy of each service, kept across invocations.

Retries follow mgn_exporter.retries (botocore's standard conditions, a wait the invocation's
deadline bounds). Endpoints, region and the number of attempts come from the standard AWS SDK
environment (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_MGN, AWS_MAX_ATTEMPTS...), which boto3 honours
by itself. Clients are built once per execution environment so that warm invocations reuse
their connections.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from mgn_exporter.enrichment import InventoryCache
from mgn_exporter.retries import (
    DEFAULT_TOTAL_ATTEMPTS,
    THROTTLING_CODES,
    CallRetries,
    RetryWindow,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_mgn import MgnClient
    from mypy_boto3_sqs import SQSClient

_TIMEOUTS: dict[str, Any] = {"connect_timeout": 3, "read_timeout": 10, "tcp_keepalive": True}
# What the clients depend on besides credentials (which boto3 refreshes by itself).
_ENVIRONMENT = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_MGN",
    "AWS_MAX_ATTEMPTS",
)


@dataclass
class CallCounts:
    """Counts of one invocation: HTTP attempts per operation, and throttled attempts."""

    calls: Counter[str] = field(default_factory=Counter)
    throttles: int = 0

    def reset(self) -> None:
        self.calls = Counter()
        self.throttles = 0


@dataclass(frozen=True)
class Clients:
    mgn: MgnClient
    events: EventBridgeClient
    logs: CloudWatchLogsClient
    dynamodb: DynamoDBClient
    sqs: SQSClient
    counts: CallCounts
    retry_window: RetryWindow = field(default_factory=RetryWindow)
    # The accounts' inventories read through `mgn`, kept as long as the clients.
    inventories: InventoryCache = field(default_factory=InventoryCache)


def get_clients() -> Clients:
    """The clients for the current configuration, built on first use."""
    return _build(tuple(os.environ.get(name) for name in _ENVIRONMENT))


def forget_clients() -> None:
    """Drop the clients built so far and what they keep (connections, inventories): for local
    runs that start a new world on endpoints an earlier one used."""
    _build.cache_clear()


@lru_cache(maxsize=4)
def _build(environment: tuple[str | None, ...]) -> Clients:
    session = boto3.session.Session()
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or DEFAULT_TOTAL_ATTEMPTS)
    # botocore's own handler gets one attempt: CallRetries below takes the retry decisions.
    standard = Config(retries={"mode": "standard", "total_max_attempts": 1}, **_TIMEOUTS)
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
        # A handler's answer is the delay before a retry (None: no retry); stubs say None only.
        retries: Callable[..., Any] = CallRetries(attempts, window)
        client.meta.events.register("needs-retry", retries)
    return clients


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
