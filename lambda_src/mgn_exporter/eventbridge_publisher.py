"""EventBridge adapter: PutEvents in batches within limits, retrying the entries it reports failed.

PutEvents answers 200 while failing single entries (FailedEntryCount, per-entry ErrorCode).
botocore retries whole calls; only those per-entry failures need code of our own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from mgn_exporter.batching import PUT_EVENTS_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES, batches_by_size
from mgn_exporter.events import DETAIL_TYPE, EVENTBRIDGE_TIME_BYTES, ExportEvent

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

RETRYABLE_ENTRY_CODES = frozenset(
    {"ThrottlingException", "InternalFailure", "InternalException", "ServiceUnavailable"}
)


@dataclass(frozen=True)
class PublishOutcome:
    """`delivered` leading events are in EventBridge; the rest must be published again."""

    delivered: int
    calls: int
    retried_entries: int
    throttled_entries: int
    failed_entries: int  # refused for good, or still failing when retries ran out
    refused_entries: int = 0  # of which refused for good (a non-retryable ErrorCode)
    # A whole PutEvents call failed after botocore's retries (AccessDenied, a deleted bus, KMS,
    # 5xx): EventBridge is down for this export, which must fail like any sink outage.
    unavailable: str | None = None


def entry_size(entry: dict[str, Any]) -> int:
    """PutEvents' own size rule for one entry."""
    size = len(entry["Source"].encode("utf-8")) + len(entry["DetailType"].encode("utf-8"))
    size += len(entry["Detail"].encode("utf-8"))
    size += sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", []))
    if "Time" in entry:
        size += EVENTBRIDGE_TIME_BYTES
    return size


class EventBridgePublisher:
    def __init__(
        self,
        client: EventBridgeClient,
        *,
        bus_name: str,
        source: str,
        logger: Logger,
        max_attempts: int = 6,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._bus = bus_name
        self._source = source
        self._logger = logger
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep

    def entry(self, event: ExportEvent) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": DETAIL_TYPE,
            "Detail": event.detail_json,
        }
        if event.time is not None:
            entry["Time"] = event.time
        if event.resources:
            entry["Resources"] = list(event.resources)
        return entry

    def publish(
        self,
        events: Sequence[ExportEvent],
        *,
        should_stop: Callable[[], bool],
        retry_seconds: Callable[[], float] | None = None,
    ) -> PublishOutcome:
        """Publish in order; `delivered` is the longest prefix EventBridge took.

        `should_stop` is asked before each first send: a page slowed down (throttling) stops
        where it is, and what was not sent waits for the next run. Entries already sent and
        failed are retried while `retry_seconds` (default: until `should_stop`) leaves time for
        the backoff: giving up on them would make the next run send their whole page again.
        """
        entries = [self.entry(event) for event in events]
        sizes = [entry_size(entry) for entry in entries]

        def retry_time() -> float:
            if retry_seconds is not None:
                return retry_seconds()
            return 0.0 if should_stop() else self._max_delay

        undelivered: set[int] = set()
        unavailable: str | None = None
        pending = list(range(len(entries)))
        calls = retried = throttled = failed = refused = 0
        for attempt in range(1, self._max_attempts + 1):
            retryable: list[int] = []
            for batch in batches_by_size(
                pending,
                lambda index: sizes[index],
                max_count=PUT_EVENTS_MAX_ENTRIES,
                max_bytes=PUT_EVENTS_MAX_BYTES,
            ):
                if undelivered and batch[0] > min(undelivered):
                    # Past an entry that will not be delivered, the checkpoint cannot move
                    # anyway: sending more only makes duplicates for the next run.
                    undelivered.update(batch)
                    continue
                if attempt == 1 and should_stop():
                    # Out of time: what is not sent yet waits for the next run (no duplicate).
                    undelivered.update(batch)
                    continue
                calls += 1
                results, error = self._put(batch, entries)
                if results is None:
                    unavailable = error
                    undelivered.update(batch)
                    continue
                for index, result in zip(batch, results, strict=True):
                    code = result.get("ErrorCode")
                    if not code:
                        continue
                    if code == "ThrottlingException":
                        throttled += 1
                    if code in RETRYABLE_ENTRY_CODES:
                        retryable.append(index)
                    else:
                        failed += 1
                        refused += 1
                        undelivered.add(index)
                        self._log_failed_entry(events[index], entries[index], result)
            if not retryable:
                break
            delay = self._backoff(attempt)
            time_left = retry_time()
            if attempt == self._max_attempts or time_left <= 0:
                for index in retryable:
                    failed += 1
                    undelivered.add(index)
                    self._log_failed_entry(
                        events[index], entries[index], {"ErrorCode": "RetriesExhausted"}
                    )
                break
            retried += len(retryable)
            self._sleep(min(delay, time_left))
            pending = retryable
        delivered = min(undelivered) if undelivered else len(entries)
        return PublishOutcome(
            delivered=delivered,
            calls=calls,
            retried_entries=retried,
            throttled_entries=throttled,
            failed_entries=failed,
            refused_entries=refused,
            unavailable=unavailable,
        )

    def _put(
        self, batch: list[int], entries: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]] | None, str | None]:
        """One PutEvents call: the per-entry results, or None and why the call failed."""
        try:
            batch_entries = cast(
                list["PutEventsRequestEntryTypeDef"], [entries[index] for index in batch]
            )
            response = self._client.put_events(Entries=batch_entries)
        except (ClientError, BotoCoreError) as exc:
            # botocore already retried the call; give up on this batch for this run.
            self._logger.error(
                "PutEvents call failed", extra={"error": repr(exc), "entries": len(batch)}
            )
            return None, f"PutEvents failed: {exc!r}"
        results = list(response.get("Entries", []))
        if len(results) != len(batch):
            self._logger.error(
                "PutEvents answered a different number of entries",
                extra={"sent": len(batch), "answered": len(results)},
            )
            return None, f"PutEvents answered {len(results)} entries for {len(batch)}"
        return results, None  # type: ignore[return-value]

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads retries of concurrent invocations apart.
        ceiling = min(self._max_delay, self._base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)

    def _log_failed_entry(
        self, event: ExportEvent, entry: dict[str, Any], result: dict[str, Any]
    ) -> None:
        self._logger.error(
            "EventBridge did not take an entry; the checkpoint stays before it",
            extra={
                "errorCode": result.get("ErrorCode"),
                "errorMessage": result.get("ErrorMessage"),
                "eventId": event.event_id,
                "position": event.position,
                "entrySize": entry_size(entry),
                "detail": event.detail_json[:2000],
            },
        )
