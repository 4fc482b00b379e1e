"""Partial successes: which PutEvents entries or PutLogEvents events to refuse, and the merged
answer the caller gets for the rest (which the upstream really received)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.fault_proxy.faults import FaultParams
from local.fault_proxy.limits import DAY_MS, MAX_AGE_MS, MAX_AHEAD_MS

# Per-entry messages as EventBridge words them (unknown codes echo the code).
_ENTRY_MESSAGES = {
    "InternalFailure": "Internal Failure",
    "ThrottlingException": "Request rate exceeded.",
    "MalformedDetail": "Detail is malformed.",
    "InvalidArgument": "Parameter is not valid.",
    "AccessDeniedException": "Access denied.",
}

Sampler = Callable[[Sequence[int], int], list[int]]


def failed_entries(entries: Sequence[object], params: FaultParams, sample: Sampler) -> list[int]:
    """The entry indexes to fail: ``indexes`` if given, else those whose Detail contains
    ``detail_contains``, else a seeded ``fraction`` (>= 1)."""
    count = len(entries)
    if params.indexes is not None:
        return sorted({i for i in params.indexes if 0 <= i < count})
    if params.detail_contains is not None:
        return [
            i
            for i, entry in enumerate(entries)
            if isinstance(entry, dict) and params.detail_contains in str(entry.get("Detail", ""))
        ]
    if params.fraction <= 0 or count == 0:
        return []
    # At least one, so that a hit is always visible to the caller.
    return sample(range(count), min(count, max(1, round(params.fraction * count))))


def forward_entries(payload: Mapping[str, Any], failed: Sequence[int]) -> bytes | None:
    """The PutEvents body without the failed entries; None when nothing is left to send."""
    refused = set(failed)
    kept = [e for i, e in enumerate(payload["Entries"]) if i not in refused]
    return json.dumps({**payload, "Entries": kept}).encode() if kept else None


def merge_entries(
    count: int, failed: Sequence[int], params: FaultParams, upstream: Mapping[str, Any]
) -> dict[str, Any]:
    """The caller's PutEvents result: upstream results in order, failed entries in place."""
    code = params.error_code or "InternalFailure"
    message = params.message or _ENTRY_MESSAGES.get(code, code)
    delivered = iter(upstream.get("Entries") or [])
    refused = set(failed)
    entries: list[dict[str, Any]] = [
        {"ErrorCode": code, "ErrorMessage": message} if i in refused else next(delivered, {})
        for i in range(count)
    ]
    return {
        **upstream,
        "FailedEntryCount": sum(1 for e in entries if "ErrorCode" in e),
        "Entries": entries,
    }


@dataclass(frozen=True)
class LogPlan:
    start: int  # events [start, end) are forwarded
    end: int
    total: int
    info: dict[str, int]  # rejectedLogEventsInfo

    @property
    def rejected(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.total) if not self.start <= i < self.end)


def plan_rejection(
    events: Sequence[Mapping[str, Any]], params: FaultParams, now_ms: int
) -> LogPlan:
    count = len(events)
    if params.by_timestamp:
        stamps = [int(e.get("timestamp", 0)) for e in events]
        too_old = _leading(stamps, lambda t: t < now_ms - MAX_AGE_MS)
        expired = 0
        if params.retention_days is not None:
            horizon = now_ms - params.retention_days * DAY_MS
            expired = _leading(stamps, lambda t: t < horizon)
        too_new = next((i for i, t in enumerate(stamps) if t > now_ms + MAX_AHEAD_MS), count)
    else:
        too_old = min(max(params.too_old, 0), count)
        expired = min(max(params.expired, 0), count)
        too_new = count if params.too_new is None else min(max(params.too_new, 0), count)
    info: dict[str, int] = {}
    if too_old:
        info["tooOldLogEventEndIndex"] = too_old
    if expired:
        info["expiredLogEventEndIndex"] = expired
    if too_new < count:
        info["tooNewLogEventStartIndex"] = too_new
    start = max(too_old, expired)
    return LogPlan(start, max(start, too_new), count, info)


def forward_events(payload: Mapping[str, Any], plan: LogPlan) -> bytes | None:
    kept = payload["logEvents"][plan.start : plan.end]
    return json.dumps({**payload, "logEvents": kept}).encode() if kept else None


def merge_rejection(plan: LogPlan, upstream: Mapping[str, Any]) -> dict[str, Any]:
    """Our rejections plus any the upstream made on the forwarded slice (re-indexed)."""
    info = dict(plan.info)
    theirs = upstream.get("rejectedLogEventsInfo") or {}
    for key in ("tooOldLogEventEndIndex", "expiredLogEventEndIndex"):
        if key in theirs:
            info[key] = max(info.get(key, 0), plan.start + int(theirs[key]))
    if "tooNewLogEventStartIndex" in theirs:
        shifted = plan.start + int(theirs["tooNewLogEventStartIndex"])
        info["tooNewLogEventStartIndex"] = min(
            info.get("tooNewLogEventStartIndex", shifted), shifted
        )
    merged = {k: v for k, v in upstream.items() if k != "rejectedLogEventsInfo"}
    if info:
        merged["rejectedLogEventsInfo"] = info
    return merged


def _leading(stamps: Sequence[int], old: Callable[[int], bool]) -> int:
    count = 0
    for stamp in stamps:
        if not old(stamp):
            break
        count += 1
    return count
