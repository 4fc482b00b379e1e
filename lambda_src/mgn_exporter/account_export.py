"""One account's export, while its lease is held: discover its jobs, read each open job's log
page by page, publish each page to EventBridge and queue it for the log group, and save the
positions every `BATCH_ITEMS` items.

Read top to bottom: `run` -> `_export_jobs` -> `_export_job` (the page loop) -> `_take` (one
page to the sinks) -> `_flush` (the log group write, the positions, the state save). A job read
to its end then gets its derived events (derived_export.py), and each item its step's duration
(job_steps.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from mgn_exporter import export_batch
from mgn_exporter.checkpoint import AccountState, JobCheckpoint
from mgn_exporter.deadline import MIN_PAGE_ITEMS, Deadline
from mgn_exporter.derived_export import DerivedExport
from mgn_exporter.enrichment import Enricher
from mgn_exporter.errors import (
    AccountUnavailable,
    AccountUninitialized,
    DeliveryError,
    JobUnavailable,
    LeaseLost,
    StateUnavailable,
    TokenRejected,
)
from mgn_exporter.events import ExportEvent, build_event, event_id_for
from mgn_exporter.export_batch import Batch, ReadPage
from mgn_exporter.inventory import Inventory
from mgn_exporter.job_discovery import Discovery, discover_jobs
from mgn_exporter.job_steps import StepFold, StepTrack, step_of
from mgn_exporter.metric_names import StepDurations, WorkerCounters, WorkerMetric
from mgn_exporter.mgn_reader import PAGE_SIZE, LogPage
from mgn_exporter.post_launch import SettleRule, participants
from mgn_exporter.reports import AccountReport

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from mgn_exporter.checkpoint_store import CheckpointStore
    from mgn_exporter.eventbridge_publisher import EventBridgePublisher, PublishOutcome
    from mgn_exporter.logs_writer import LogsWriter
    from mgn_exporter.mgn_reader import MgnReader

# An account where MGN is not initialized is asked again this often, not on every tick.
UNINITIALIZED_RECHECK_SECONDS = 3600


# How long a completed job stays open by default (post_launch.SettleRule).
DEFAULT_SETTLE = SettleRule(grace=timedelta(minutes=15), post_launch_wait=timedelta(minutes=60))


@dataclass(frozen=True)
class ExportOptions:
    region: str
    source: str
    backfill: timedelta
    discovery_overlap: timedelta
    settle: SettleRule = DEFAULT_SETTLE


@dataclass(frozen=True)
class ExportParts:
    """The adapters and settings every account's export uses."""

    reader: MgnReader
    store: CheckpointStore
    publisher: EventBridgePublisher
    writer: LogsWriter
    options: ExportOptions
    logger: Logger
    counters: WorkerCounters
    clock: Callable[[], float] = time.time
    enricher: Enricher | None = None  # None: events go out without names
    # The step durations of the events that reached a sink for the first time (EMF metrics).
    durations: StepDurations = field(default_factory=StepDurations)


class JobProgress(Enum):
    DONE = "done"  # read to the end of its log
    STOPPED = "stopped"  # the deadline, or a sink that failed: the account stops here
    BLOCKED = "blocked"  # at an entry refused for good: the account's other jobs go on


def record_failure(
    report: AccountReport, exc: Exception, counters: WorkerCounters, logger: Logger
) -> None:
    if report.outcome != "failed":  # a failed release after a failed export counts once
        counters[WorkerMetric.ACCOUNTS_FAILED] += 1
    report.outcome, report.error = "failed", f"{type(exc).__name__}: {exc}"
    logger.error("Account export failed; the other accounts go on", extra={"error": report.error})


class AccountExport:
    def __init__(
        self, parts: ExportParts, state: AccountState, deadline: Deadline, report: AccountReport
    ) -> None:
        self._parts = parts
        self._state = state
        self._deadline = deadline
        self._report = report
        self._batch = Batch()
        self._logger = parts.logger
        self._counters = parts.counters
        # The open jobs as DescribeJobs answered, and the servers they name (read with the
        # first page's names, in one go).
        self._discovery = Discovery(records={}, servers=set())
        # Per job, its steps along the positions shaped (job_steps.StepTrack).
        self._steps: dict[str, StepTrack] = {}
        self._derived = DerivedExport(
            parts,
            state,
            self._batch,
            deadline,
            put_events=self._put_events,
            steps_at=lambda job, end: self._step_track(job).fold_at(end),
            live_since=self._live_since(),
        )

    def run(self) -> None:
        """Export what is new; failures end up in the report, never raised (except a lost
        lease: another invocation owns the account, and nothing more may be written)."""
        state = self._state
        try:
            self._discovery = discover_jobs(
                state,
                self._parts.reader,
                now=datetime.fromtimestamp(self._parts.clock(), UTC),
                backfill=self._parts.options.backfill,
                overlap=self._parts.options.discovery_overlap,
                counters=self._counters,
                logger=self._logger,
            )
            if state.uninitialized_since is not None:
                self._logger.info(
                    "MGN is initialized in the account now; exporting it again",
                    extra={"account": state.account_id},
                )
                state.uninitialized_since = state.recheck_at = None
            self._export_jobs()
        except AccountUninitialized as exc:
            self._note_uninitialized(exc)
        except (AccountUnavailable, DeliveryError, StateUnavailable) as exc:
            self._fail(exc)
        except LeaseLost:
            raise
        except Exception as exc:
            # A defect must not stop the other accounts; the state holds only saved progress.
            self._logger.exception("Unexpected error exporting the account")
            self._fail(exc)
        # Whatever stopped the export, what EventBridge took goes to the log group too, and
        # the release that follows saves the positions.
        self._flush(save=False)
        if self._batch.sinks.down:
            self._fail(self._batch.sinks.error())

    def _fail(self, exc: Exception) -> None:
        record_failure(self._report, exc, self._counters, self._logger)

    def _note_uninitialized(self, exc: AccountUninitialized) -> None:
        """Record the account as not initialized: reported once, asked again each hour, and
        not a failure (its work request is done, and no failure alarm holds on for it)."""
        state = self._state
        now = self._parts.clock()
        if state.uninitialized_since is None:
            state.uninitialized_since = now
            self._counters[WorkerMetric.ACCOUNTS_UNINITIALIZED] += 1
            self._logger.warning(
                f"MGN is not initialized in account {state.account_id} in this Region: not "
                f"exported; asked again every {UNINITIALIZED_RECHECK_SECONDS // 60} minutes. "
                "Initialize MGN there, or leave the account out of `accounts`.",
                extra={"account": state.account_id, "error": str(exc)},
            )
        state.recheck_at = now + UNINITIALIZED_RECHECK_SECONDS
        self._report.outcome = "uninitialized"

    # -- the jobs, page by page ---------------------------------------------------------------

    def _export_jobs(self) -> None:
        for job in self._state.open_jobs():
            if self._deadline.should_stop():
                self._report.backlog = True
                return
            self._logger.append_keys(jobID=job.job_id)
            try:
                progress = self._export_job(job)
            except JobUnavailable as exc:
                self._counters[WorkerMetric.JOBS_FAILED] += 1
                self._logger.error(
                    "Job log unavailable; the other jobs go on", extra={"error": str(exc)}
                )
                if self._state.jobs[job.job_id].gone:
                    self._state.close(self._state.jobs[job.job_id])
                continue
            finally:
                self._logger.remove_keys(["jobID"])
            if progress is JobProgress.DONE and not self._deadline.should_stop():
                self._derived.report(job.job_id, self._discovery)
            if progress is not JobProgress.DONE:
                self._report.backlog = True
            if progress is JobProgress.STOPPED:
                return

    def _export_job(self, job: JobCheckpoint) -> JobProgress:
        """Export what is new in one job's log: DONE, STOPPED early (deadline, both sinks down),
        or BLOCKED at an entry EventBridge refuses for good (the account's other jobs go on)."""
        state, batch, deadline = self._state, self._batch, self._deadline
        token, page_start = job.page_token, job.page_start
        while True:
            if deadline.should_stop() or batch.sinks.all_down:
                return JobProgress.STOPPED
            if batch.items + MIN_PAGE_ITEMS > export_batch.BATCH_ITEMS:
                self._flush(save=True)
                job = state.jobs.get(job.job_id, job)
            step_started = self._parts.clock()
            room = min(PAGE_SIZE, export_batch.BATCH_ITEMS - batch.items)
            try:
                page = self._parts.reader.log_page(
                    state.account_id, job.job_id, token, max_results=deadline.page_size(room)
                )
            except TokenRejected:
                if token is None:
                    raise JobUnavailable(f"{job.job_id}: rejected without a token") from None
                self._counters[WorkerMetric.TOKENS_REJECTED] += 1
                self._logger.warning(
                    "nextToken rejected; re-reading the job log from its start",
                    extra={"position": job.position},
                )
                token, page_start = None, 0
                continue
            read = ReadPage(page.items, page_start, token, page.next_token)
            batch.pages.setdefault(job.job_id, []).append(read)
            new_items = self._new_items(job, page, page_start)
            if new_items:
                stopped = self._take(job, read)
                job = state.jobs[job.job_id]
                deadline.record_step(self._parts.clock() - step_started, len(new_items))
                if stopped is not None:
                    return stopped
            if page.next_token is None:
                batch.log_ends[job.job_id] = read.end
                return JobProgress.DONE
            token, page_start = page.next_token, read.end

    def _new_items(
        self, job: JobCheckpoint, page: LogPage, page_start: int
    ) -> list[dict[str, Any]]:
        """The items of `page` past the checkpoint (none while skipping to it)."""
        skip = job.position - page_start
        if skip <= 0:
            return page.items
        if len(page.items) < skip:
            if page.next_token is None:
                self._counters[WorkerMetric.LOG_SHIFTS] += 1
                self._logger.error(
                    "The job log is shorter than what was exported; nothing more to read",
                    extra={"position": job.position, "logLength": page_start + len(page.items)},
                )
            return []
        seam = page.items[skip - 1]
        seam_id = event_id_for(self._state.account_id, job.job_id, job.position - 1, seam)
        if job.last_event_id and seam_id != job.last_event_id:
            self._counters[WorkerMetric.LOG_SHIFTS] += 1
            self._logger.error(
                "The job log changed under the checkpoint: the item at the seam is not the one "
                "exported last; continuing after the checkpoint position",
                extra={"position": job.position, "expectedEventId": job.last_event_id},
            )
        return page.items[skip:]

    # -- one page to the sinks ------------------------------------------------------------------

    def _take(self, job: JobCheckpoint, page: ReadPage) -> JobProgress | None:
        """Publish the page's new items to EventBridge now and queue them for the log group.

        While both sinks are up they move together: the log group gets only what EventBridge
        took (PublishOutcome's delivered prefix), so an entry EventBridge refuses holds its job
        in both. A sink that fails is left behind for the rest of the export and the other goes
        on alone; each keeps its own position, so neither repeats items into the other when the
        failing one comes back. Returns how the job must stop here, if it must.
        """
        batch, sinks = self._batch, self._batch.sinks
        first = max(job.position, page.start)
        items = page.items[first - page.start :]
        inventory = self._inventory(items)
        durations = self._step_track(job).durations(first, items)
        events = [
            self._shape(job, item, index, inventory, duration)
            for index, (item, duration) in enumerate(zip(items, durations, strict=True), first)
        ]
        events_at = job.sink_position("events")
        logs_at = batch.logs_position(job)
        events_to, stopped = events_at, None
        if sinks.up("events"):
            events_to, stopped = self._publish(
                [e for e in events if e.position >= events_at], events_at
            )
        queued: list[ExportEvent] = []
        if sinks.up("logs"):
            # Lockstep while EventBridge is up; alone to the page's end while it is down.
            logs_limit = events_to if sinks.up("events") else page.end
            queued = [e for e in events if logs_at <= e.position < logs_limit]
            if queued:
                batch.log_events.extend(queued)
                batch.logs_to[job.job_id] = queued[-1].position + 1
        if stopped is None and sinks.all_down:
            stopped = JobProgress.STOPPED
        self._count_taken(job, events, events_at, events_to, logs_at, queued)
        if events_to > events_at:
            self._state.jobs[job.job_id] = replace(
                job, events_position=events_to if events_to > job.position else None
            )
        return stopped

    def _count_taken(
        self,
        job: JobCheckpoint,
        events: list[ExportEvent],
        events_at: int,
        events_to: int,
        logs_at: int,
        queued: list[ExportEvent],
    ) -> None:
        """Note in the batch what either sink took from the page (the seams for the next save,
        the items a crash would send again) and what reached a sink for the first time."""
        batch = self._batch
        queued_positions = {e.position for e in queued}
        taken = [
            e
            for e in events
            if events_at <= e.position < events_to or e.position in queued_positions
        ]
        seams = batch.seams.setdefault(job.job_id, {})
        for event in taken:
            seams[event.position] = event.event_id
        batch.items += len(taken)
        reached = max(events_to, batch.logs_position(job))
        newly = reached - max(events_at, logs_at)
        if newly > 0:
            batch.newly += newly
            first_time = [e for e in events if e.position >= max(events_at, logs_at)][:newly]
            self._note_lag(first_time)
            self._note_durations(job, first_time)

    def _publish(self, events: list[ExportEvent], events_at: int) -> tuple[int, JobProgress | None]:
        """EventBridge's new position, and how the job stops if EventBridge took only part."""
        if not events:
            return events_at, None
        outcome = self._put_events(events)
        events_to = events[0].position + outcome.delivered
        if outcome.unavailable is not None:
            return events_to, None
        if outcome.delivered < len(events):
            refused = outcome.refused_entries > 0
            return events_to, JobProgress.BLOCKED if refused else JobProgress.STOPPED
        return events_to, None

    def _put_events(self, events: list[ExportEvent]) -> PublishOutcome:
        """Publish to EventBridge (a delivered prefix, see PublishOutcome), counting what it
        cost and marking EventBridge down if it refused whole calls."""
        outcome = self._parts.publisher.publish(
            events,
            should_stop=self._deadline.should_stop,
            retry_seconds=self._deadline.finishing_seconds,
        )
        self._counters[WorkerMetric.PUBLISH_RETRIES] += outcome.retried_entries
        self._counters[WorkerMetric.FAILED_ENTRIES] += outcome.failed_entries
        self._counters[WorkerMetric.THROTTLES] += outcome.throttled_entries
        if outcome.unavailable is not None:
            self._batch.sinks.mark_down("events", outcome.unavailable, self._counters, self._logger)
        return outcome

    # -- the save ----------------------------------------------------------------------------

    def _flush(self, *, save: bool) -> None:
        """Write the queued events to the log group in one go, move every job's positions past
        what each sink took, close the jobs read to their end, and (`save`) save the state:
        one PutLogEvents and one state write per batch, however many jobs it spans."""
        state, batch = self._state, self._batch
        if batch.log_events and batch.sinks.up("logs"):
            try:
                written = self._parts.writer.write(state.account_id, batch.log_events)
                self._counters[WorkerMetric.LOG_EVENTS_RESTAMPED] += written.restamped
            except DeliveryError as exc:
                batch.sinks.mark_down("logs", str(exc), self._counters, self._logger)
                batch.logs_to.clear()
                batch.derived_logs.clear()
        for job_id, event_ids in batch.derived_logs.items():
            if job_id in state.jobs:
                state.jobs[job_id] = state.jobs[job_id].with_derived("logs", event_ids)
        for job_id in set(batch.pages) | set(batch.log_ends):
            job = state.jobs.get(job_id)
            if job is None:
                continue
            job = batch.advanced(job)
            track = self._steps.get(job_id)
            if track is not None:
                fold = track.saved_at(job.position)
                record = self._discovery.records.get(job_id)
                if record is not None:
                    fold = fold.only(participants(record))
                job = replace(job, steps=fold.to_item() or None)
            state.jobs[job_id] = job
            end = batch.log_ends.get(job_id)
            if (
                end is not None
                and job.position >= end
                and (job.gone or (job.completed and self._derived.outcome_sent(job)))
            ):
                state.close(job)
                self._report.jobs_closed += 1
                self._logger.info(
                    "Job settled, fully exported and its outcome sent; closed"
                    if job.completed
                    else "Job gone from MGN and its log fully exported; closed",
                    extra={"jobID": job_id, "position": job.position},
                )
        self._report.items_exported += batch.newly
        self._counters[WorkerMetric.ITEMS_EXPORTED] += batch.newly
        batch.reset()
        if save:
            self._parts.store.save(state)

    # -- one item -----------------------------------------------------------------------------

    def _step_track(self, job: JobCheckpoint) -> StepTrack:
        track = self._steps.get(job.job_id)
        if track is None:
            track = StepTrack(job.position, StepFold.from_item(job.steps))
            self._steps[job.job_id] = track
        return track

    def _note_durations(self, job: JobCheckpoint, events: Sequence[ExportEvent]) -> None:
        for event in events:
            seconds = event.detail.get("durationSeconds")
            step = step_of(event.detail.get("event"))
            if seconds is not None and step is not None:
                key = (step, job.initiated_by or "UNKNOWN")
                self._parts.durations.setdefault(key, []).append(seconds)

    def _inventory(self, items: list[dict[str, Any]]) -> Inventory | None:
        """The account's inventory to name these items' servers with (see enrichment.py)."""
        if self._parts.enricher is None:
            return None
        return self._parts.enricher.inventory(
            self._state.account_id,
            {_server_named(item) for item in items} - {""},
            self._deadline,
            along=self._discovery.servers,
        )

    def _shape(
        self,
        job: JobCheckpoint,
        item: dict[str, Any],
        position: int,
        inventory: Inventory | None,
        duration: float | None,
    ) -> ExportEvent:
        state = self._state
        server = _server_named(item)
        event = build_event(
            item,
            account_id=state.account_id,
            region=self._parts.options.region,
            job=job.info,
            position=position,
            source=self._parts.options.source,
            live_since=self._live_since(),
            names=inventory.names(server) if inventory else None,
            duration_seconds=duration,
        )
        if server and self._parts.enricher and not (inventory and inventory.asked(server)):
            # Named or known absent once MGN answered; neither when it could not be asked.
            self._counters[WorkerMetric.EVENTS_NOT_ENRICHED] += 1
        if event.problems:
            self._counters[WorkerMetric.ODD_ITEMS] += 1
            self._logger.warning(
                "Odd job log item exported as well as possible",
                extra={
                    "problems": list(event.problems),
                    "position": position,
                    "eventId": event.event_id,
                },
            )
        return event

    def _live_since(self) -> datetime | None:
        """When the account's export began: what happened before is history (backfill)."""
        first = self._state.first_export_at
        return datetime.fromtimestamp(first, UTC) if first is not None else None

    def _note_lag(self, events: Sequence[ExportEvent]) -> None:
        now = self._parts.clock()
        for event in events:
            if event.time is not None:
                self._report.lag_seconds = max(
                    self._report.lag_seconds, now - event.time.timestamp()
                )


def _server_named(item: dict[str, Any]) -> str:
    """The source server an item names ("" when none)."""
    data = item.get("eventData")
    server_id = data.get("sourceServerID") if isinstance(data, dict) else None
    return server_id if isinstance(server_id, str) else ""
