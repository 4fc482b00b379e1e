"""Service limits moto does not enforce, answered with the errors AWS sends for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from local.fault_proxy.errors import ErrorSpec

DAY_MS = 24 * 3600 * 1000
# CloudWatch Logs takes events from 14 days ago to 2 hours ahead.
MAX_AGE_MS = 14 * DAY_MS
MAX_AHEAD_MS = 2 * 3600 * 1000
LOG_EVENT_OVERHEAD = 26


@dataclass(frozen=True)
class Limits:
    put_events_max_entries: int = 10
    # AWS documents "less than 256KB" (raised to 1 MB in later docs); 256 KiB is what the
    # exporter is built for, so exceeding it is a bug worth failing on.
    put_events_max_bytes: int = 256 * 1024
    log_batch_max_events: int = 10_000
    log_batch_max_bytes: int = 1_048_576
    # Each event is its UTF-8 message + 26 bytes; AWS's 256 KB quota has been raised to 1 MB,
    # again kept at the exporter's design limit.
    log_event_max_bytes: int = 256 * 1024
    log_batch_max_span_ms: int = DAY_MS


def entry_size(entry: Mapping[str, Any]) -> int:
    """EventBridge's PutEvents entry size: Source, DetailType, Detail, Resources, 14 for Time."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
    for resource in entry.get("Resources") or []:
        if isinstance(resource, str):
            size += len(resource.encode("utf-8"))
    return size


def check_put_events(payload: Mapping[str, Any], limits: Limits) -> ErrorSpec | None:
    entries = payload.get("Entries")
    if not isinstance(entries, list):
        return None  # malformed: the upstream answers it
    if len(entries) > limits.put_events_max_entries:
        return ErrorSpec(
            400,
            "ValidationException",
            "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed "
            "to satisfy constraint: Member must have length less than or equal to "
            f"{limits.put_events_max_entries}",
        )
    total = sum(entry_size(e) for e in entries if isinstance(e, dict))
    if total > limits.put_events_max_bytes:
        # An oversized single entry fails the same way: the request total is over too.
        return ErrorSpec(
            400,
            "ValidationException",
            "Total size of the entries in the request is over the limit.",
        )
    return None


def check_put_log_events(
    payload: Mapping[str, Any], limits: Limits, now_ms: int
) -> ErrorSpec | None:
    events = payload.get("logEvents")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return None
    if len(events) > limits.log_batch_max_events:
        return _invalid(
            "1 validation error detected: Value '[InputLogEvent]' at 'logEvents' failed to "
            "satisfy constraint: Member must have length less than or equal to "
            f"{limits.log_batch_max_events}"
        )
    sizes = [len(str(e.get("message", "")).encode("utf-8")) + LOG_EVENT_OVERHEAD for e in events]
    if sum(sizes) > limits.log_batch_max_bytes:
        return _invalid(
            f"Upload too large: {sum(sizes)} bytes exceeds limit of {limits.log_batch_max_bytes}"
        )
    for size in sizes:
        if size > limits.log_event_max_bytes:
            return _invalid(
                f"Log event too large: {size} bytes exceeds limit of {limits.log_event_max_bytes}"
            )
    stamps = [int(e.get("timestamp", 0)) for e in events]
    if any(later < earlier for earlier, later in pairwise(stamps)):
        return _invalid(
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    # Only events CloudWatch Logs would accept count toward the span (current API docs).
    valid = [t for t in stamps if now_ms - MAX_AGE_MS <= t <= now_ms + MAX_AHEAD_MS]
    if valid and valid[-1] - valid[0] > limits.log_batch_max_span_ms:
        return _invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            f"{limits.log_batch_max_span_ms // 3_600_000} hours."
        )
    return None


def _invalid(message: str) -> ErrorSpec:
    return ErrorSpec(400, "InvalidParameterException", message)
