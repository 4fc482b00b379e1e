"""What a job's log says of each server's steps, folded item by item: how long each step took
and which one failed. Pure (no AWS I/O).

A step's duration is the time between its start item and its end or failure item for the same
server in the same job, from the items' own `logDateTime` (not when they were read or written),
however many pages and ticks lie between them. The fold's state is what the checkpoint keeps
of a job besides its positions: the steps started and not yet ended, and per server the last
duration of each step and its last failure. It is bounded by the job's servers, not by its
log's length: at most one open start per (server, step) and one summary per server.

What is not known is left out, never guessed: an end without a start read before it in the
log, or earlier than its start (clocks disagree), has no duration.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mgn_exporter.events import parse_log_datetime

JOB_STEP = "JOB"
# The item that starts each step, and the items that end it (an end or a failure).
STARTS: Mapping[str, str] = {
    "JOB_START": JOB_STEP,
    "SNAPSHOT_START": "SNAPSHOT",
    "CONVERSION_START": "CONVERSION",
    "LAUNCH_START": "LAUNCH",
    "CLEANUP_START": "CLEANUP",
}
ENDS: Mapping[str, str] = {
    "JOB_END": JOB_STEP,
    "SNAPSHOT_END": "SNAPSHOT",
    "SNAPSHOT_FAIL": "SNAPSHOT",
    "CONVERSION_END": "CONVERSION",
    "CONVERSION_FAIL": "CONVERSION",
    "LAUNCH_FAILED": "LAUNCH",
    "CLEANUP_END": "CLEANUP",
    "CLEANUP_FAIL": "CLEANUP",
}
FAILURES = frozenset({"SNAPSHOT_FAIL", "CONVERSION_FAIL", "LAUNCH_FAILED", "CLEANUP_FAIL"})
# A server that was skipped never ran a step: its failure is the skip itself.
SKIPPED = "SERVER_SKIPPED"
# A failure's rawError is kept this long in the checkpoint (the full text is in the item's own
# event): enough to say what went wrong in the job's outcome, bounded per server.
KEPT_ERROR_CHARS = 500


def step_of(event: object) -> str | None:
    """The step an item starts or ends (None: it is not a step's start or end)."""
    if not isinstance(event, str):
        return None
    return STARTS.get(event) or ENDS.get(event)


class StepFold:
    """The steps of one job, as read up to some position of its log.

    `open` maps "STEP|server" to the start's time in epoch milliseconds; `servers` maps a
    server to {"durationsMs": {step: ms}, "failure": {...}} (members only once known).
    """

    def __init__(
        self,
        open_steps: Mapping[str, int] | None = None,
        servers: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.open: dict[str, int] = dict(open_steps or {})
        self.servers: dict[str, dict[str, Any]] = copy.deepcopy(
            {key: dict(value) for key, value in (servers or {}).items()}
        )
        # The servers whose summaries this fold may change in place: a copy shares the others
        # with its original until it changes one (a job's log can name hundreds of servers,
        # and the export copies the fold at every page).
        self._owned: set[str] = set(self.servers)

    def copy(self) -> StepFold:
        fold = StepFold(self.open)
        fold.servers = dict(self.servers)
        self._owned = set()  # shared now: neither changes a summary in place any more
        return fold

    def take(self, item: Mapping[str, Any]) -> float | None:
        """Fold one item in; returns the duration (seconds) it ends, if it ends a known start."""
        event = item.get("event")
        data = item.get("eventData")
        server = data.get("sourceServerID") if isinstance(data, Mapping) else None
        server = server if isinstance(server, str) else ""
        at = _millis(item.get("logDateTime"))
        if event == SKIPPED and server:
            self._summary(server)["failure"] = {"step": SKIPPED, "event": SKIPPED}
            return None
        if not isinstance(event, str):
            return None
        key = f"{STARTS.get(event) or ENDS.get(event)}|{server}"
        if event in STARTS:
            if at is not None:
                self.open[key] = at
            else:
                self.open.pop(key, None)  # an unusable start must not time a later end
            return None
        if event not in ENDS:
            return None
        step = ENDS[event]
        started = self.open.pop(key, None)
        duration = at - started if at is not None and started is not None else None
        if duration is not None and duration < 0:
            duration = None
        if server:
            summary = self._summary(server)
            if duration is not None:
                summary.setdefault("durationsMs", {})[step] = duration
            if event in FAILURES:
                summary["failure"] = _failure(step, event, data)
            elif summary.get("failure", {}).get("step") == step:
                del summary["failure"]  # a retried step that then ended well did not fail
        return duration / 1000 if duration is not None else None

    def _summary(self, server: str) -> dict[str, Any]:
        if server not in self._owned:
            shared = self.servers.get(server, {})
            self.servers[server] = {
                key: dict(value) if isinstance(value, dict) else value
                for key, value in shared.items()
            }
            self._owned.add(server)
        return self.servers[server]

    def only(self, servers: set[str]) -> StepFold:
        """The fold kept for the job's listed servers (and the job's own step): what the
        checkpoint saves, bounded by the job's servers however many others its items name."""
        fold = StepFold(
            {key: at for key, at in self.open.items() if key.split("|", 1)[1] in servers | {""}}
        )
        fold.servers = {key: value for key, value in self.servers.items() if key in servers}
        self._owned = set()
        return fold

    def to_item(self) -> dict[str, Any]:
        """The checkpoint's form ({} when nothing is known yet)."""
        item: dict[str, Any] = {}
        if self.open:
            item["open"] = dict(self.open)
        if self.servers:
            item["servers"] = copy.deepcopy(self.servers)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> StepFold:
        if not isinstance(item, Mapping):
            return cls()
        open_steps = item.get("open")
        servers = item.get("servers")
        return cls(
            {str(k): int(v) for k, v in open_steps.items()}
            if isinstance(open_steps, Mapping)
            else None,
            {str(k): _plain(v) for k, v in servers.items() if isinstance(v, Mapping)}
            if isinstance(servers, Mapping)
            else None,
        )


def _failure(step: str, event: str, data: object) -> dict[str, Any]:
    failure: dict[str, Any] = {"step": step, "event": event}
    raw = data.get("rawError") if isinstance(data, Mapping) else None
    if isinstance(raw, str) and raw:
        failure["rawError"] = raw[:KEPT_ERROR_CHARS]
        if len(raw) > KEPT_ERROR_CHARS:
            failure["rawErrorTruncated"] = True
    return failure


def _millis(value: object) -> int | None:
    # MGN's usual "2026-12-03T10:00:00.123Z" the standard parser reads at a fraction of the
    # lenient one's cost (this runs for every item); anything else goes the lenient way.
    if isinstance(value, str) and len(value) >= 20 and value[10:11] == "T":
        try:
            moment: datetime | None = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return round(moment.timestamp() * 1000)
    moment = parse_log_datetime(value)
    return round(moment.timestamp() * 1000) if moment is not None else None


def _plain(value: Any) -> Any:
    """DynamoDB's numbers come back as Decimal: ints again (every number here is whole)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bool | str):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


class StepTrack:
    """One job's StepFold along the positions one export shapes.

    Items are shaped in log order from the saved position on, but the position saved at the
    next save may be short of what was shaped (EventBridge took part of a page, a sink is
    behind): the fold saved must be the fold at the saved position, or a later re-read would
    time its steps twice or not at all. So the track keeps the fold before each page shaped,
    with the page, and folds up to the position asked for.
    """

    def __init__(self, position: int, fold: StepFold) -> None:
        self._base = (position, fold)
        self._marks: list[tuple[int, StepFold, list[Mapping[str, Any]]]] = []
        self._at: int | None = position
        self._fold = fold.copy()

    def durations(self, first: int, items: Sequence[Mapping[str, Any]]) -> list[float | None]:
        """The durations the items at `first`, `first + 1`... end (None where none)."""
        if first != self._at:
            # Shaping again from the saved position (a re-read after a rejected token), or
            # (never expected) from a position the track did not follow: no durations then.
            if first == self._base[0]:
                self._fold = self._base[1].copy()
            else:
                self._at = None
                return [None] * len(items)
        self._marks.append((first, self._fold.copy(), list(items)))
        durations = [self._fold.take(item) for item in items]
        self._at = first + len(items)
        return durations

    def fold_at(self, position: int) -> StepFold | None:
        """The fold after the items before `position` (None: the track cannot tell)."""
        base_position, base_fold = self._base
        if position == base_position:
            return base_fold
        if position == self._at:
            return self._fold.copy()  # the usual case: saved where shaping stopped
        for start, before, items in reversed(self._marks):
            if start <= position <= start + len(items):
                fold: StepFold = before.copy()
                for item in items[: position - start]:
                    fold.take(item)
                return fold
        return None

    def saved_at(self, position: int) -> StepFold:
        """Rebase on `position`, the position being saved; returns the fold to save there. A
        position the track cannot tell starts an empty fold (later ends lose their starts'
        durations, none is ever wrong)."""
        fold = self.fold_at(position) or StepFold()
        self._base = (position, fold)
        self._marks = [mark for mark in self._marks if mark[0] + len(mark[2]) > position]
        return fold
