"""boto3 clients with the retry and timeout policy of each service.

botocore does the retrying (standard mode; adaptive for MGN so that a throttled account slows
the client down instead of hammering). Endpoints come from the standard AWS SDK environment
(AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_MGN, ...), which boto3 honours by itself.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_mgn import MgnClient

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


@dataclass(frozen=True)
class Clients:
    mgn: MgnClient
    events: EventBridgeClient
    logs: CloudWatchLogsClient
    dynamodb: DynamoDBClient


def build_clients(throttles: Counter[str], calls: Counter[str] | None = None) -> Clients:
    """Clients for one invocation; throttled attempts and (optionally) all calls are counted."""
    session = boto3.session.Session()
    # The standard SDK variables AWS_RETRY_MODE / AWS_MAX_ATTEMPTS still override these.
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or DEFAULT_TOTAL_ATTEMPTS)
    mode = os.environ.get("AWS_RETRY_MODE")
    standard = _config(mode or "standard", attempts)
    adaptive = _config(mode or "adaptive", attempts)
    clients = Clients(
        mgn=session.client("mgn", config=adaptive),
        events=session.client("events", config=standard),
        logs=session.client("logs", config=standard),
        dynamodb=session.client("dynamodb", config=standard),
    )
    for client in (clients.mgn, clients.events, clients.logs, clients.dynamodb):
        count_throttles(client, throttles)
        if calls is not None:
            count_calls(client, calls)
    return clients


def _mode(
    configured: str | None, default: Literal["standard", "adaptive"]
) -> Literal["legacy", "standard", "adaptive"]:
    if configured in ("legacy", "standard", "adaptive"):
        return configured  # type: ignore[return-value]
    return default


def _config(mode: str, attempts: int) -> Config:
    retries: Any = {"mode": mode, "total_max_attempts": attempts}
    return Config(retries=retries, **_TIMEOUTS)


def count_throttles(client: Any, throttles: Counter[str]) -> None:
    """Count every throttled attempt, including those botocore retries quietly."""

    def on_needs_retry(response: Any = None, **_: Any) -> None:
        if response is None:
            return
        code = response[1].get("Error", {}).get("Code") if len(response) > 1 else None
        if code in THROTTLING_CODES:
            throttles["Throttles"] += 1

    client.meta.events.register("needs-retry", on_needs_retry)


def count_calls(client: Any, calls: Counter[str]) -> None:
    """Count every HTTP attempt per operation ("mgn.DescribeJobs"), retries included."""

    service = client.meta.service_model.service_name  # "logs", not the event's "cloudwatch-logs"

    def on_before_send(event_name: str = "", **_: Any) -> None:
        calls[f"{service}.{event_name.rsplit('.', 1)[-1]}"] += 1

    client.meta.events.register("before-send", on_before_send)
