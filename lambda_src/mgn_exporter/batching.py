"""Pure batching of events within the service limits of PutEvents and PutLogEvents."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mgn_exporter.events import LOG_EVENT_OVERHEAD

PUT_EVENTS_MAX_ENTRIES = 10
# "The total entry size must be less than 256 KB": 256 KB itself is refused.
PUT_EVENTS_MAX_BYTES = 256 * 1024 - 1
PUT_LOG_EVENTS_MAX_EVENTS = 10_000
PUT_LOG_EVENTS_MAX_BYTES = 1_048_576
PUT_LOG_EVENTS_MAX_SPAN_MS = 24 * 60 * 60 * 1000

T = TypeVar("T")


@dataclass(frozen=True)
class LogRecord:
    """One log event: its stamped time (ms since epoch) and its message."""

    timestamp_ms: int
    message: str

    @property
    def size(self) -> int:
        return len(self.message.encode("utf-8")) + LOG_EVENT_OVERHEAD


def batches_by_size(
    items: Sequence[T], size_of: Callable[[T], int], *, max_count: int, max_bytes: int
) -> Iterator[list[T]]:
    """Greedy, order-keeping batches; an item alone over max_bytes still gets its own batch."""
    batch: list[T] = []
    batch_bytes = 0
    for item in items:
        size = size_of(item)
        if batch and (len(batch) >= max_count or batch_bytes + size > max_bytes):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(item)
        batch_bytes += size
    if batch:
        yield batch


def log_batches(records: Sequence[LogRecord]) -> Iterator[list[LogRecord]]:
    """Chronological batches within 1 MiB, 10,000 events and a 24-hour span."""
    ordered = sorted(records, key=lambda record: record.timestamp_ms)  # stable: ties keep order
    batch: list[LogRecord] = []
    batch_bytes = 0
    for record in ordered:
        size = record.size
        if batch and (
            len(batch) >= PUT_LOG_EVENTS_MAX_EVENTS
            or batch_bytes + size > PUT_LOG_EVENTS_MAX_BYTES
            or record.timestamp_ms - batch[0].timestamp_ms >= PUT_LOG_EVENTS_MAX_SPAN_MS
        ):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(record)
        batch_bytes += size
    if batch:
        yield batch
