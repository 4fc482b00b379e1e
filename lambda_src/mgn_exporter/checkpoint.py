"""The checkpoint state of one account, as plain data (no AWS I/O).

One DynamoDB item per account holds the lease, the job-discovery watermark, the open jobs with
their read positions and the recently closed jobs. One item keeps an idle tick at three calls
(take the lease and read the state, DescribeJobs, write the state and release) and makes every
checkpoint write a single conditional UpdateItem on the lease.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from mgn_exporter.events import JobInfo, parse_log_datetime


@dataclass(frozen=True)
class JobCheckpoint:
    """How far one job's log has been exported.

    `position` items (indexes 0..position-1) are in both sinks. `page_token` fetches the page
    that starts at index `page_start` (None: the start of the log); resuming re-reads that page
    and skips `position - page_start` items. `last_event_id` is the eventId of the item at
    position-1, checked at the seam so a log that shifted under us is noticed.
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

    def admit(self, listed: list[dict[str, Any]], now: datetime, max_open: int) -> datetime | None:
        """Open the listed jobs not yet known, oldest first, while there is room.

        Returns the new watermark: `now` when every job found room, else the creation time of
        the first job left out, so that the next discovery lists it again. None keeps the old
        watermark (a job left out has no usable creation time). The cap keeps the state one
        DynamoDB item well under its 400 KB limit however large a backlog is.
        """
        new = [job for job in listed if not self.is_known(str(job["jobID"]))]
        new.sort(key=lambda job: (str(job.get("creationDateTime") or ""), str(job["jobID"])))
        room = max(0, max_open - len(self.jobs))
        for job in new[:room]:
            self.jobs[str(job["jobID"])] = new_job_checkpoint(job)
        if len(new) <= room:
            return now
        return parse_log_datetime(new[room].get("creationDateTime"))

    def discovery_start(self, now: datetime, backfill: timedelta, overlap: timedelta) -> datetime:
        watermark = parse_log_datetime(self.watermark)
        if watermark is None:
            return now - backfill
        return watermark - overlap


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
