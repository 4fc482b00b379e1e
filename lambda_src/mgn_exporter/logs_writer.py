"""CloudWatch Logs adapter: each event as one JSON line in the event log group.

PutLogEvents answers 200 while rejecting events outside its time window
(`rejectedLogEventsInfo`); those are stamped again with the current time (the original time
stays in the JSON as logDateTime) and sent again, and if still rejected the write fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from mgn_exporter.batching import LogRecord, log_batches
from mgn_exporter.errors import DeliveryError
from mgn_exporter.events import ExportEvent

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

DAY_MS = 24 * 3600 * 1000
# CloudWatch Logs refuses events older than 14 days (or the retention) or over 2 hours ahead;
# keep a margin inside both edges so clock skew does not turn into rejections.
MAX_AGE_MS = 14 * DAY_MS - 3600 * 1000
MAX_AHEAD_MS = 2 * 3600 * 1000 - 10 * 60 * 1000


# A batch is sent once, then its rejected events twice more stamped now, before the write fails.
REJECTION_ROUNDS = 3


@dataclass(frozen=True)
class WriteOutcome:
    calls: int
    restamped: int


def stamp(event: ExportEvent, now_ms: int) -> int:
    """The log event time: the item's own time when CloudWatch Logs accepts it, else now."""
    if event.time is None:
        return now_ms
    item_ms = int(event.time.timestamp() * 1000)
    if item_ms < now_ms - MAX_AGE_MS or item_ms > now_ms + MAX_AHEAD_MS:
        return now_ms
    return item_ms


def stream_name(account_id: str, now_ms: int) -> str:
    """One stream per account and UTC day: few streams, and readable in the console."""
    day = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%d")
    return f"{account_id}/{day}"


class LogsWriter:
    def __init__(
        self,
        client: CloudWatchLogsClient,
        *,
        log_group_name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._group = log_group_name
        self._clock = clock

    def write(self, account_id: str, events: Sequence[ExportEvent]) -> WriteOutcome:
        """Put every event in the group or raise DeliveryError."""
        now_ms = int(self._clock() * 1000)
        stream = stream_name(account_id, now_ms)
        records = [LogRecord(stamp(event, now_ms), event.detail_json) for event in events]
        calls = restamped = 0
        for batch in log_batches(records):
            pending = batch
            for _ in range(REJECTION_ROUNDS):
                rejected, batch_calls = self._put(stream, pending)
                calls += batch_calls
                if not rejected:
                    break
                # Only the rejected events go again: failing the write would make the whole
                # page go to both sinks again on the next run.
                restamped += len(rejected)
                pending = [LogRecord(now_ms, record.message) for record in rejected]
            else:
                raise DeliveryError(
                    f"CloudWatch Logs rejected {len(pending)} events even stamped now"
                )
        return WriteOutcome(calls=calls, restamped=restamped)

    def _put(self, stream: str, batch: list[LogRecord]) -> tuple[list[LogRecord], int]:
        """One PutLogEvents (creating the stream on first use); returns the rejected records."""
        client = self._client
        events: list[InputLogEventTypeDef] = [
            {"timestamp": record.timestamp_ms, "message": record.message} for record in batch
        ]
        calls = 1
        try:
            try:
                response = client.put_log_events(
                    logGroupName=self._group, logStreamName=stream, logEvents=events
                )
            except client.exceptions.ResourceNotFoundException:
                # The day's stream does not exist yet: one CreateLogStream a day per account.
                self._create_stream(stream)
                calls += 2
                response = client.put_log_events(
                    logGroupName=self._group, logStreamName=stream, logEvents=events
                )
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(f"PutLogEvents failed: {exc!r}") from exc
        info = cast(dict[str, Any], response.get("rejectedLogEventsInfo") or {})
        return _rejected(batch, info), calls

    def _create_stream(self, stream: str) -> None:
        client = self._client
        # A concurrent invocation may have made it first.
        with suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_log_stream(logGroupName=self._group, logStreamName=stream)


def _rejected(batch: list[LogRecord], info: dict[str, Any]) -> list[LogRecord]:
    rejected: set[int] = set()
    too_old_end = info.get("tooOldLogEventEndIndex")
    if too_old_end is not None:
        rejected.update(range(0, int(too_old_end)))  # exclusive, as documented
    expired_end = info.get("expiredLogEventEndIndex")
    if expired_end is not None:
        # Documented without saying inclusive or exclusive: take it as inclusive, since a
        # duplicate line is better than a lost one.
        rejected.update(range(0, min(len(batch), int(expired_end) + 1)))
    too_new_start = info.get("tooNewLogEventStartIndex")
    if too_new_start is not None:
        rejected.update(range(int(too_new_start), len(batch)))
    return [batch[index] for index in sorted(rejected)]
