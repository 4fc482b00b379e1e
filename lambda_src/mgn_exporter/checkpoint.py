"""The checkpoint state of one account, as plain data (no AWS I/O).

One DynamoDB item per account holds the lease, the job-discovery watermark, the open jobs with
their read positions (one per sink) and the recently closed jobs. One item keeps an idle tick at
three calls (take the lease and read the state, DescribeJobs, write the state and release) and
makes every checkpoint write a single conditional UpdateItem on the lease. DynamoDB refuses an
item over 400 KB, so the state is bounded by its size in bytes (`STATE_BUDGET_BYTES`), not by a
count of jobs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from mgn_exporter.events import JobInfo, parse_log_datetime

Sink = Literal["events", "logs"]
SINKS: tuple[Sink, ...] = ("events", "logs")

# DynamoDB's item limit is 400 KB (names and values, UTF-8); the rest is headroom for the lease
# and scalar attributes, and for the estimate being an estimate.
STATE_BUDGET_BYTES = 350_000
# MGN's PaginationToken may be this long: an open job is budgeted as if it held one, because
# it may hold one at any later save.
MAX_TOKEN_CHARS = 2048
# A job is gone (deleted in MGN) once this many discoveries in a row did not find it: one answer
# without it (a listing's hiccup, a page lost) must not close a job that is still being logged.
MISSES_BEFORE_GONE = 2
# What a server usually takes in the state: its steps (a few open starts and durations; a
# failure's clipped rawError takes more, and is counted as it is once there) and the marks of
# its derived events (some post-launch actions, two statuses each, in two sinks).
SERVER_STEPS_BYTES = 500
# A derived event's mark: 48 bits of its eventId, so that two events of one job (hundreds at
# most) share a mark with a chance of about 1 in 10^9.
DERIVED_MARK_CHARS = 12
# DynamoDB's per-attribute and per-map-entry overhead is a few bytes; counted generously.
_ENTRY_OVERHEAD_BYTES = 8


@dataclass(frozen=True)
class JobCheckpoint:
    """How far one job's log has been exported, per sink.

    `position` items (indexes 0..position-1) are in both sinks. A sink that took more while the
    other was down is ahead: `events_position` / `logs_position` (None: at `position`). Each
    sink goes on from its own position, so one sink down never repeats items into the other.
    `page_token` fetches the page that starts at index `page_start` (None: the start of the
    log), the page holding `position`; resuming re-reads that page and skips
    `position - page_start` items. `last_event_id` is the eventId of the item at position-1,
    checked at the seam so a log that shifted under us is noticed.
    """

    job_id: str
    created: str | None = None
    arn: str | None = None
    job_type: str | None = None
    initiated_by: str | None = None
    status: str | None = None
    position: int = 0
    page_token: str | None = None
    page_start: int = 0
    last_event_id: str | None = None
    events_position: int | None = None
    logs_position: int | None = None
    # Discoveries in a row that did not find the job (None: it was found last time).
    missed: int | None = None
    # The steps read up to `position` (job_steps.StepFold's item): open starts, per-server
    # durations and failures.
    steps: dict[str, Any] | None = None
    # How many servers the job names (DescribeJobs): the state reserves room for their steps
    # and derived events.
    servers: int | None = None
    # The derived events (derived_events.py) each sink took: the first DERIVED_MARK_CHARS of
    # their eventIds, end to end (a few bytes an event, no per-entry overhead).
    derived_events: str | None = None
    derived_logs: str | None = None
    # When discovery first saw the job COMPLETED (its end, should MGN give no endDateTime).
    completed_seen: str | None = None

    def derived_sent(self, sink: Sink, event_id: str) -> bool:
        marks = (self.derived_events if sink == "events" else self.derived_logs) or ""
        mark = event_id[:DERIVED_MARK_CHARS]
        return any(
            marks[start : start + DERIVED_MARK_CHARS] == mark
            for start in range(0, len(marks), DERIVED_MARK_CHARS)
        )

    def with_derived(self, sink: Sink, event_ids: list[str]) -> JobCheckpoint:
        """The job with these derived events marked as taken by `sink`."""
        new = "".join(
            event_id[:DERIVED_MARK_CHARS]
            for event_id in dict.fromkeys(event_ids)
            if not self.derived_sent(sink, event_id)
        )
        if not new:
            return self
        if sink == "events":
            return replace(self, derived_events=(self.derived_events or "") + new)
        return replace(self, derived_logs=(self.derived_logs or "") + new)

    @property
    def gone(self) -> bool:
        """MGN no longer knows the job: its log is read to the end, then it is closed."""
        return (self.missed or 0) >= MISSES_BEFORE_GONE

    def not_found(self) -> JobCheckpoint:
        return replace(self, missed=(self.missed or 0) + 1)

    def sink_position(self, sink: Sink) -> int:
        ahead = self.events_position if sink == "events" else self.logs_position
        return max(self.position, ahead or 0)

    def estimated_bytes(self) -> int:
        """Upper bound of this job's share of the state item, with the longest token MGN may
        give it later and the room its servers' steps may take."""
        item = self.to_item()
        item["page_token"] = "x" * max(MAX_TOKEN_CHARS, len(self.page_token or ""))
        grows = {key: item.pop(key, None) for key in ("steps", "derived_events", "derived_logs")}
        reserved = max(_estimated_bytes(grows), (self.servers or 0) * SERVER_STEPS_BYTES)
        return _estimated_bytes(self.job_id) + _estimated_bytes(item) + reserved

    @property
    def info(self) -> JobInfo:
        return JobInfo(
            job_id=self.job_id,
            arn=self.arn,
            job_type=self.job_type,
            initiated_by=self.initiated_by,
        )

    @property
    def completed(self) -> bool:
        return self.status == "COMPLETED"

    def with_job(self, job: dict[str, Any]) -> JobCheckpoint:
        """Refresh what DescribeJobs says of the job, keeping the read position."""
        return replace(
            self,
            created=_str(job.get("creationDateTime")) or self.created,
            arn=_str(job.get("arn")) or self.arn,
            job_type=_str(job.get("type")) or self.job_type,
            initiated_by=_str(job.get("initiatedBy")) or self.initiated_by,
            status=_str(job.get("status")) or self.status,
            missed=None,
            servers=len(job["participatingServers"])
            if isinstance(job.get("participatingServers"), list)
            else self.servers,
        )

    def to_item(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobCheckpoint:
        return cls(
            job_id=str(item["job_id"]),
            created=_str(item.get("created")),
            arn=_str(item.get("arn")),
            job_type=_str(item.get("job_type")),
            initiated_by=_str(item.get("initiated_by")),
            status=_str(item.get("status")),
            position=int(item.get("position", 0)),
            page_token=_str(item.get("page_token")),
            page_start=int(item.get("page_start", 0)),
            last_event_id=_str(item.get("last_event_id")),
            events_position=_int(item.get("events_position")),
            logs_position=_int(item.get("logs_position")),
            missed=_int(item.get("missed")),
            steps=item["steps"] if isinstance(item.get("steps"), dict) else None,
            servers=_int(item.get("servers")),
            derived_events=_str(item.get("derived_events")),
            derived_logs=_str(item.get("derived_logs")),
            completed_seen=_str(item.get("completed_seen")),
        )


def new_job_checkpoint(job: dict[str, Any]) -> JobCheckpoint:
    return JobCheckpoint(job_id=str(job["jobID"])).with_job(job)


@dataclass
class AccountState:
    """The persisted state of one account; mutated during one export, then written back."""

    account_id: str
    watermark: str | None = None
    jobs: dict[str, JobCheckpoint] = field(default_factory=dict)
    # Closed job id -> creationDateTime, kept while discovery's overlap could list the job again.
    closed: dict[str, str] = field(default_factory=dict)
    # Start (epoch seconds) of the last export that ended without failing: a work request sent
    # before it asks for nothing that export did not do or hand on.
    covered_until: float | None = None
    # When the exporter first exported this account (epoch seconds): items MGN logged before it
    # are history read by the backfill, not news.
    first_export_at: float | None = None
    # End of the last export that did not fail: how stale the account is while it is stuck.
    last_success_at: float | None = None
    # MGN is not initialized in the account (a state, not a failure): since when, and when to
    # ask MGN again.
    uninitialized_since: float | None = None
    recheck_at: float | None = None

    def staleness(self, now: float) -> float:
        """Seconds since the account last exported without failing (or since its first try)."""
        since = self.last_success_at or self.first_export_at
        return max(0.0, now - since) if since is not None else 0.0

    def estimated_bytes(self) -> int:
        return (
            sum(job.estimated_bytes() for job in self.jobs.values())
            + _estimated_bytes(self.closed)
            + 1024  # the scalar attributes, the key and the lease
        )

    def covers(self, requested_at: float | None) -> bool:
        return (
            requested_at is not None
            and self.covered_until is not None
            and requested_at <= self.covered_until
        )

    def open_jobs(self) -> list[JobCheckpoint]:
        """Oldest first, so a backlog drains in the order it happened."""
        return sorted(self.jobs.values(), key=lambda job: (job.created or "", job.job_id))

    def is_known(self, job_id: str) -> bool:
        return job_id in self.jobs or job_id in self.closed

    def close(self, job: JobCheckpoint) -> None:
        self.jobs.pop(job.job_id, None)
        self.closed[job.job_id] = job.created or ""

    def forget_closed_before(self, cutoff: datetime) -> None:
        """Drop closed jobs created before `cutoff`: discovery no longer lists them."""
        for job_id, created in list(self.closed.items()):
            created_at = parse_log_datetime(created)
            if created_at is not None and created_at < cutoff:
                del self.closed[job_id]

    def admit(
        self,
        listed: list[dict[str, Any]],
        now: datetime,
        *,
        max_bytes: int = STATE_BUDGET_BYTES,
    ) -> datetime | None:
        """Open the listed jobs not yet known, oldest first, while the state has room.

        Returns the new watermark: `now` when every job found room, else the creation time of
        the first job left out, so that the next discovery lists it again. None keeps the old
        watermark (a job left out has no usable creation time). Room is counted in bytes, each
        open job with the longest nextToken it may hold, so the state stays one DynamoDB item
        under its 400 KB limit however large a backlog is and however long MGN's tokens are.
        """
        new = [job for job in listed if not self.is_known(str(job["jobID"]))]
        new.sort(key=lambda job: (str(job.get("creationDateTime") or ""), str(job["jobID"])))
        used = self.estimated_bytes()
        for index, job in enumerate(new):
            checkpoint = new_job_checkpoint(job)
            size = checkpoint.estimated_bytes()
            if used + size > max_bytes:
                return parse_log_datetime(new[index].get("creationDateTime"))
            self.jobs[checkpoint.job_id] = checkpoint
            used += size
        return now

    def discovery_start(self, now: datetime, backfill: timedelta, overlap: timedelta) -> datetime:
        watermark = parse_log_datetime(self.watermark)
        if watermark is None:
            return now - backfill
        return watermark - overlap


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _estimated_bytes(value: object) -> int:
    """DynamoDB's size of a value, from above: UTF-8 of names and strings, 21 bytes a number."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float):
        return 21
    if isinstance(value, dict):
        return sum(
            _estimated_bytes(str(key)) + _estimated_bytes(child) + _ENTRY_OVERHEAD_BYTES
            for key, child in value.items()
        )
    if isinstance(value, list | tuple):
        return sum(_estimated_bytes(child) + _ENTRY_OVERHEAD_BYTES for child in value)
    return len(str(value).encode("utf-8"))
