"""EventBridge adapter: PutEvents in batches within limits, retrying the entries it reports failed.

PutEvents answers 200 while failing single entries (FailedEntryCount, per-entry ErrorCode);
they are sent again under the retry policy's per-entry rule (mgn_exporter.retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from mgn_exporter.batching import PUT_EVENTS_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES, batches_by_size
from mgn_exporter.events import EVENTBRIDGE_TIME_BYTES, ExportEvent
from mgn_exporter.retries import resend_failed

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

RETRYABLE_ENTRY_CODES = frozenset(
    {"ThrottlingException", "InternalFailure", "InternalException", "ServiceUnavailable"}
)


@dataclass(frozen=True)
class PublishOutcome:
    """What one `publish` did.

    The delivered-prefix contract: `delivered` counts the leading events EventBridge took,
    stopping at the first one it did not. Events after that one may have gone out too, but the
    caller's checkpoint moves only past the prefix, so they are published again (at-least-once,
    in order); `_Publication` stops sending past a failed entry to keep those repeats few."""

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


@dataclass
class _Publication:
    """The entries of one `publish` and what became of each."""

    entries: list[dict[str, Any]]
    sizes: list[int] = field(init=False)
    undelivered: set[int] = field(default_factory=set)
    unavailable: str | None = None
    calls: int = 0
    retried: int = 0
    throttled: int = 0
    failed: int = 0
    refused: int = 0

    def __post_init__(self) -> None:
        self.sizes = [entry_size(entry) for entry in self.entries]

    def past_a_failure(self, index: int) -> bool:
        # Past an entry that will not be delivered the checkpoint cannot move anyway: sending
        # more only makes duplicates for the next run.
        return bool(self.undelivered) and index > min(self.undelivered)

    def outcome(self) -> PublishOutcome:
        return PublishOutcome(
            delivered=min(self.undelivered) if self.undelivered else len(self.entries),
            calls=self.calls,
            retried_entries=self.retried,
            throttled_entries=self.throttled,
            failed_entries=self.failed,
            refused_entries=self.refused,
            unavailable=self.unavailable,
        )


class EventBridgePublisher:
    def __init__(
        self,
        client: EventBridgeClient,
        *,
        bus_name: str,
        source: str,
        logger: Logger,
        max_attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._bus = bus_name
        self._source = source
        self._logger = logger
        self._max_attempts = max_attempts
        self._sleep = sleep

    def entry(self, event: ExportEvent) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": event.detail_type,
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
        """Publish in order (see PublishOutcome for what `delivered` promises).

        `should_stop` is asked before each first send: a page slowed down (throttling) stops
        where it is, and what was not sent waits for the next run. Entries already sent and
        failed are retried while `retry_seconds` (default: until `should_stop`) leaves time for
        the backoff: giving up on them would make the next run send their whole page again.
        """
        run = _Publication([self.entry(event) for event in events])

        def send(pending: Sequence[int], attempt: int) -> list[int]:
            if attempt > 1:
                run.retried += len(pending)
            return self._send_round(run, events, pending, first=attempt == 1, stop=should_stop)

        def time_left() -> float:
            if retry_seconds is not None:
                return retry_seconds()
            return 0.0 if should_stop() else float("inf")

        still_failing = resend_failed(
            send,
            range(len(events)),
            attempts=self._max_attempts,
            time_left=time_left,
            sleep=self._sleep,
        )
        for index in still_failing:
            self._refuse(run, events[index], index, {"ErrorCode": "RetriesExhausted"})
        return run.outcome()

    def _send_round(
        self,
        run: _Publication,
        events: Sequence[ExportEvent],
        pending: Sequence[int],
        *,
        first: bool,
        stop: Callable[[], bool],
    ) -> list[int]:
        """Send `pending` in PutEvents batches; the indexes worth sending again."""
        retryable: list[int] = []
        for batch in batches_by_size(
            pending,
            lambda index: run.sizes[index],
            max_count=PUT_EVENTS_MAX_ENTRIES,
            max_bytes=PUT_EVENTS_MAX_BYTES,
        ):
            # Out of time before a first send: what is not sent waits for the next run.
            if run.past_a_failure(batch[0]) or (first and stop()):
                run.undelivered.update(batch)
                continue
            run.calls += 1
            results = self._put(run, batch)
            if results is None:
                continue
            for index, result in zip(batch, results, strict=True):
                code = result.get("ErrorCode")
                if code == "ThrottlingException":
                    run.throttled += 1
                if code in RETRYABLE_ENTRY_CODES:
                    retryable.append(index)
                elif code:
                    run.refused += 1
                    self._refuse(run, events[index], index, result)
        return retryable

    def _put(self, run: _Publication, batch: list[int]) -> list[dict[str, Any]] | None:
        """One PutEvents call: the per-entry results, or None when the call failed as a whole
        (after botocore's retries): EventBridge is then unavailable for this run."""
        entries = cast(list["PutEventsRequestEntryTypeDef"], [run.entries[i] for i in batch])
        try:
            response = self._client.put_events(Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            self._logger.error(
                "PutEvents call failed", extra={"error": repr(exc), "entries": len(batch)}
            )
            run.unavailable = f"PutEvents failed: {exc!r}"
            run.undelivered.update(batch)
            return None
        results = list(response.get("Entries", []))
        if len(results) != len(batch):
            self._logger.error(
                "PutEvents answered a different number of entries",
                extra={"sent": len(batch), "answered": len(results)},
            )
            run.unavailable = f"PutEvents answered {len(results)} entries for {len(batch)}"
            run.undelivered.update(batch)
            return None
        return results  # type: ignore[return-value]

    def _refuse(
        self, run: _Publication, event: ExportEvent, index: int, result: dict[str, Any]
    ) -> None:
        """An entry EventBridge did not take, for good or when retries ran out."""
        run.failed += 1
        run.undelivered.add(index)
        self._logger.error(
            "EventBridge did not take an entry; the checkpoint stays before it",
            extra={
                "errorCode": result.get("ErrorCode"),
                "errorMessage": result.get("ErrorMessage"),
                "eventId": event.event_id,
                "position": event.position,
                "entrySize": run.sizes[index],
                "detail": event.detail_json[:2000],
            },
        )
