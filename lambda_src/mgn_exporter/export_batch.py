"""What one account's export holds between two saves of its state: the pages read, what each
sink took, and how that moves each job's positions.

Pure data and arithmetic; AccountExport (account_export.py) drives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mgn_exporter.checkpoint import JobCheckpoint, Sink
from mgn_exporter.errors import SinkUnavailable
from mgn_exporter.events import ExportEvent
from mgn_exporter.metric_names import WorkerCounters, WorkerMetric
from mgn_exporter.mgn_reader import PAGE_SIZE

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

# Items the sinks may take before the state is saved: a crash sends at most these again.
BATCH_ITEMS = PAGE_SIZE
SINK_NAMES: dict[Sink, str] = {"events": "EventBridge", "logs": "CloudWatch Logs"}
SINK_METRICS: dict[Sink, WorkerMetric] = {
    "events": WorkerMetric.EVENTS_DELIVERY_FAILED,
    "logs": WorkerMetric.LOGS_DELIVERY_FAILED,
}


@dataclass(frozen=True)
class ReadPage:
    """One page of a job log as read: its items are log indexes start..end-1."""

    items: list[dict[str, Any]]
    start: int
    token: str | None  # the token that fetched it (None: the start of the log)
    next_token: str | None

    @property
    def end(self) -> int:
        return self.start + len(self.items)


@dataclass
class SinkHealth:
    """The sinks that failed during one account's export, and why: a failed sink is left
    alone for the rest of the export while the other goes on."""

    down: dict[Sink, str] = field(default_factory=dict)

    def up(self, sink: Sink) -> bool:
        return sink not in self.down

    @property
    def all_down(self) -> bool:
        return len(self.down) == len(SINK_NAMES)

    def mark_down(self, sink: Sink, error: str, counters: WorkerCounters, logger: Logger) -> None:
        if sink in self.down:
            return
        self.down[sink] = error
        counters[SINK_METRICS[sink]] += 1
        logger.error(
            f"{SINK_NAMES[sink]} did not take the account's events; the other sink goes on and "
            "the account is retried",
            extra={"sink": SINK_NAMES[sink], "error": error},
        )

    def error(self) -> SinkUnavailable:
        return SinkUnavailable(
            "; ".join(f"{SINK_NAMES[sink]} unavailable: {why}" for sink, why in self.down.items())
        )


@dataclass
class Batch:
    """What the sinks took since the account's state was last saved.

    EventBridge gets each page at once (its entries decide how far a job may go); the log
    group gets the batch in one write at the flush, and the state one write, so an account
    with many small jobs costs one PutLogEvents and one state write per batch, not per job.
    A crash before the flush sends the batch again: at most `BATCH_ITEMS` items, the bound of
    duplicates."""

    sinks: SinkHealth = field(default_factory=SinkHealth)
    items: int = 0  # taken by a sink since the last save: what a crash would send again
    newly: int = 0  # of which reached a sink for the first time
    log_events: list[ExportEvent] = field(default_factory=list)
    logs_to: dict[str, int] = field(default_factory=dict)  # job -> log position after the write
    pages: dict[str, list[ReadPage]] = field(default_factory=dict)  # read since the last save
    seams: dict[str, dict[int, str]] = field(default_factory=dict)  # job -> position -> eventId
    log_ends: dict[str, int] = field(default_factory=dict)  # job -> length, if read to the end
    # job -> the derived events queued for the log group (marked taken once written)
    derived_logs: dict[str, list[str]] = field(default_factory=dict)

    def reset(self) -> None:
        self.items = self.newly = 0
        self.log_events.clear()
        self.logs_to.clear()
        self.pages.clear()
        self.seams.clear()
        self.log_ends.clear()
        self.derived_logs.clear()

    def logs_position(self, job: JobCheckpoint) -> int:
        """Where the job's log-group position will be once the queued events are written."""
        return self.logs_to.get(job.job_id, job.sink_position("logs"))

    def advanced(self, job: JobCheckpoint) -> JobCheckpoint:
        """The job with the positions this batch moved it to (see `advance`)."""
        return advance(
            job,
            self.pages.get(job.job_id, []),
            self.seams.get(job.job_id, {}),
            self.logs_position(job),
        )


def advance(
    job: JobCheckpoint, pages: list[ReadPage], seams: dict[int, str], logs_to: int
) -> JobCheckpoint:
    """The job with both sinks' new positions; the page token follows the lower one.

    `pages` were read since the last save, `seams` holds the eventIds of the items the sinks
    took among them: the one just before the new common position becomes `last_event_id`.
    """
    events_to = job.sink_position("events")
    position = min(events_to, logs_to)
    # The page holding `position`: the latest start at or before it, among the saved page and
    # the pages read since (a page read to its end and followed by more starts the next one).
    anchors = [(job.page_start, job.page_token)]
    for page in pages:
        if page.start <= position:
            anchors.append((page.start, page.token))
        if page.end <= position and page.next_token is not None:
            anchors.append((page.end, page.next_token))
    page_start, token = max(anchors, key=lambda anchor: anchor[0])
    last_event_id = job.last_event_id
    if position > job.position:
        last_event_id = seams.get(position - 1, last_event_id)
    return replace(
        job,
        position=position,
        page_token=token,
        page_start=page_start,
        last_event_id=last_event_id,
        events_position=events_to if events_to > position else None,
        logs_position=logs_to if logs_to > position else None,
    )
