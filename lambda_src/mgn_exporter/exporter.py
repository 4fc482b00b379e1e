"""The export of one account, and of a list of accounts within one invocation's deadline.

Plain code over small adapters (MGN reader, checkpoint store, EventBridge publisher, Logs
writer) given to it, so that tests can run it against moto and the MGN emulator.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from mgn_exporter.checkpoint import STATE_BUDGET_BYTES, AccountState, JobCheckpoint, Sink
from mgn_exporter.deadline import MIN_PAGE_ITEMS, Deadline
from mgn_exporter.errors import (
    AccountUnavailable,
    AccountUninitialized,
    DeliveryError,
    JobUnavailable,
    LeaseHeld,
    LeaseLost,
    SinkUnavailable,
    StateUnavailable,
    TokenRejected,
)
from mgn_exporter.events import ExportEvent, build_event, event_id_for
from mgn_exporter.metric_names import WorkerCounters, WorkerMetric
from mgn_exporter.mgn_reader import PAGE_SIZE, LogPage, mgn_timestamp

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from mgn_exporter.checkpoint_store import CheckpointStore
    from mgn_exporter.eventbridge_publisher import EventBridgePublisher
    from mgn_exporter.logs_writer import LogsWriter
    from mgn_exporter.mgn_reader import MgnReader

# A lease outlives the invocation's deadline by this much, so a crashed invocation's lease
# expires by itself soon after the crash could have happened at the latest.
LEASE_SLACK_SECONDS = 5
# Closed jobs are remembered a day longer than discovery could list them again (clock skew).
CLOSED_MEMORY = timedelta(days=1)
# Items the sinks may take before the state is saved: a crash sends at most these again.
BATCH_ITEMS = PAGE_SIZE
# An account where MGN is not initialized is asked again this often, not on every tick.
UNINITIALIZED_RECHECK_SECONDS = 3600
SINK_NAMES: dict[Sink, str] = {"events": "EventBridge", "logs": "CloudWatch Logs"}
SINK_METRICS: dict[Sink, WorkerMetric] = {
    "events": WorkerMetric.EVENTS_DELIVERY_FAILED,
    "logs": WorkerMetric.LOGS_DELIVERY_FAILED,
}
# A job DescribeJobs no longer knows (deleted): its log is read to the end, then it is closed.
STATUS_NOT_FOUND = "NOT_FOUND"


class JobProgress(Enum):
    DONE = "done"  # read to the end of its log
    STOPPED = "stopped"  # the deadline, or a sink that failed: the account stops here
    BLOCKED = "blocked"  # at an entry refused for good: the account's other jobs go on


# Outcomes after which the account has nothing left to do until the next tick.
SETTLED_OUTCOMES = frozenset({"exported", "uninitialized"})


@dataclass
class AccountReport:
    account_id: str
    # exported | failed | skipped (lease held) | covered (a later export did what was asked)
    # | not_started (no time left) | uninitialized (MGN is not initialized there: a state)
    outcome: str = "exported"
    items_exported: int = 0
    jobs_open: int = 0
    jobs_closed: int = 0
    backlog: bool = False  # stopped by the deadline with more to read
    error: str | None = None
    # Seconds since the account last exported without failing (0 when this export did).
    staleness_seconds: float = 0.0


@dataclass
class RunReport:
    accounts: list[AccountReport] = field(default_factory=list)
    counters: WorkerCounters = field(default_factory=Counter)
    # Age of the oldest item exported in the run: a figure for reports, not an alarm (a
    # backfill exports old items on purpose).
    max_lag_seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return all(a.outcome in SETTLED_OUTCOMES and not a.backlog for a in self.accounts)

    @property
    def max_staleness_seconds(self) -> float | None:
        """The stalest account handled in the run; None when it handled none."""
        if not self.accounts:
            return None
        return max(account.staleness_seconds for account in self.accounts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "itemsExported": sum(a.items_exported for a in self.accounts),
            "accounts": [asdict(account) for account in self.accounts],
            "counters": dict(self.counters),
            "maxLagSeconds": round(self.max_lag_seconds, 3),
            "maxStalenessSeconds": round(self.max_staleness_seconds or 0.0, 3),
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

    def reset(self) -> None:
        self.items = self.newly = 0
        self.log_events.clear()
        self.logs_to.clear()
        self.pages.clear()
        self.seams.clear()
        self.log_ends.clear()


@dataclass(frozen=True)
class ExportOptions:
    region: str
    source: str
    backfill: timedelta
    discovery_overlap: timedelta


class AccountExporter:
    def __init__(
        self,
        *,
        reader: MgnReader,
        store: CheckpointStore,
        publisher: EventBridgePublisher,
        writer: LogsWriter,
        options: ExportOptions,
        logger: Logger,
        counters: WorkerCounters,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._reader = reader
        self._store = store
        self._publisher = publisher
        self._writer = writer
        self._options = options
        self._logger = logger
        self._counters = counters
        self._clock = clock
        self.max_lag_seconds = 0.0

    def export(
        self, account_id: str, deadline: Deadline, *, requested_at: float | None = None
    ) -> AccountReport:
        """Export what is new in the account within `deadline`.

        `requested_at` is when the work was asked for (a queue message's send time): if an
        export that started later has ended without failing, there is nothing to do.
        """
        report = AccountReport(account_id=account_id)
        started = self._clock()
        try:
            state = self._store.acquire(
                account_id, lease_until=deadline.ends_at + LEASE_SLACK_SECONDS
            )
        except LeaseHeld:
            self._logger.info("Another invocation holds the account's lease; skipped")
            self._counters[WorkerMetric.ACCOUNTS_SKIPPED] += 1
            report.outcome = "skipped"
            return report
        except StateUnavailable as exc:
            # The table is throttled or down for this account: the other accounts go on.
            self._fail(report, exc)
            return report
        try:
            if state.covers(requested_at):
                self._counters[WorkerMetric.REQUESTS_COVERED] += 1
                self._logger.info("A later export already did what this request asks; skipped")
                report.outcome = "covered"
                self._store.release_unchanged(account_id)
                return report
            if state.recheck_at is not None and started < state.recheck_at:
                report.outcome = "uninitialized"
                self._store.release_unchanged(account_id)
                return report
            if state.first_export_at is None:
                state.first_export_at = started
            self._export_account(state, deadline, report)
            report.jobs_open = len(state.jobs)
            if report.outcome == "exported":
                # Backlog included: whoever runs this export hands the rest on.
                state.covered_until = started
                state.last_success_at = self._clock()
            elif report.outcome == "failed":
                report.staleness_seconds = state.staleness(self._clock())
            self._store.release(state)
        except LeaseLost:
            report.outcome, report.error = "failed", "lease lost"
            self._counters[WorkerMetric.LEASES_LOST] += 1
            self._logger.error("The account's lease was lost; stopped without writing")
        except StateUnavailable as exc:
            # The batches saved before stand; the next export sends the last one again (at
            # most BATCH_ITEMS items), and the lease expires by itself.
            self._fail(report, exc)
        return report

    def _export_account(
        self, state: AccountState, deadline: Deadline, report: AccountReport
    ) -> None:
        batch = Batch()
        try:
            self._discover(state)
            if state.uninitialized_since is not None:
                self._logger.info(
                    "MGN is initialized in the account now; exporting it again",
                    extra={"account": state.account_id},
                )
                state.uninitialized_since = state.recheck_at = None
            self._export_jobs(state, deadline, report, batch)
        except AccountUninitialized as exc:
            self._note_uninitialized(state, report, exc)
        except (AccountUnavailable, DeliveryError, StateUnavailable) as exc:
            self._fail(report, exc)
        except LeaseLost:
            raise  # another invocation owns the account now: write nothing more
        except Exception as exc:
            # A defect must not stop the other accounts; the state holds only saved progress.
            self._logger.exception("Unexpected error exporting the account")
            self._fail(report, exc)
        # Whatever stopped the export, what EventBridge took goes to the log group too, and
        # the release that follows saves the positions.
        self._flush(state, batch, report, save=False)
        if batch.sinks.down:
            self._fail(report, batch.sinks.error())

    def _note_uninitialized(
        self, state: AccountState, report: AccountReport, exc: AccountUninitialized
    ) -> None:
        """Record the account as not initialized: reported once, asked again each hour, and
        not a failure (its work request is done, and no failure alarm holds on for it)."""
        now = self._clock()
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
        report.outcome = "uninitialized"

    def _fail(self, report: AccountReport, exc: Exception) -> None:
        if report.outcome != "failed":  # a failed release after a failed export counts once
            self._counters[WorkerMetric.ACCOUNTS_FAILED] += 1
        report.outcome, report.error = "failed", f"{type(exc).__name__}: {exc}"
        self._logger.error(
            "Account export failed; the other accounts go on", extra={"error": report.error}
        )

    def _discover(self, state: AccountState) -> None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        start = state.discovery_start(now, self._options.backfill, self._options.discovery_overlap)
        listed_jobs = self._reader.jobs_since(state.account_id, start)
        listed = {str(job["jobID"]) for job in listed_jobs}
        for job in listed_jobs:
            job_id = str(job["jobID"])
            if job_id in state.jobs:
                state.jobs[job_id] = state.jobs[job_id].with_job(job)
        known_before = set(state.jobs)
        watermark = state.admit(listed_jobs, now, max_bytes=STATE_BUDGET_BYTES)
        for job_id in set(state.jobs) - known_before:
            self._logger.info("New job discovered", extra={"jobID": job_id})
        deferred = len(listed - set(state.jobs) - set(state.closed))
        if deferred:
            self._counters[WorkerMetric.JOBS_DEFERRED] += deferred
            self._logger.warning(
                "The state item is full of open jobs: newer jobs wait for the next discoveries",
                extra={"deferred": deferred, "open": len(state.jobs)},
            )
        older = [job_id for job_id in state.jobs if job_id not in listed]
        if older:
            found = {
                str(job["jobID"]): job for job in self._reader.jobs_by_id(state.account_id, older)
            }
            for job_id in older:
                refreshed = found.get(job_id)
                state.jobs[job_id] = (
                    state.jobs[job_id].with_job(refreshed)
                    if refreshed
                    else replace(state.jobs[job_id], status=STATUS_NOT_FOUND)
                )
        if watermark is not None:
            state.watermark = mgn_timestamp(watermark)
        state.forget_closed_before(
            (watermark or now) - self._options.discovery_overlap - CLOSED_MEMORY
        )

    def _export_jobs(
        self, state: AccountState, deadline: Deadline, report: AccountReport, batch: Batch
    ) -> None:
        for job in state.open_jobs():
            if deadline.should_stop():
                report.backlog = True
                return
            self._logger.append_keys(jobID=job.job_id)
            try:
                progress = self._export_job(state, job, deadline, report, batch)
            except JobUnavailable as exc:
                self._counters[WorkerMetric.JOBS_FAILED] += 1
                self._logger.error(
                    "Job log unavailable; the other jobs go on", extra={"error": str(exc)}
                )
                if state.jobs[job.job_id].status == STATUS_NOT_FOUND:
                    state.close(state.jobs[job.job_id])
                continue
            finally:
                self._logger.remove_keys(["jobID"])
            if progress is not JobProgress.DONE:
                report.backlog = True
            if progress is JobProgress.STOPPED:
                return

    def _export_job(
        self,
        state: AccountState,
        job: JobCheckpoint,
        deadline: Deadline,
        report: AccountReport,
        batch: Batch,
    ) -> JobProgress:
        """Export what is new in one job's log: DONE, STOPPED early (deadline, both sinks down),
        or BLOCKED at an entry EventBridge refuses for good (the account's other jobs go on)."""
        token, page_start = job.page_token, job.page_start
        while True:
            if deadline.should_stop() or batch.sinks.all_down:
                return JobProgress.STOPPED
            if batch.items + MIN_PAGE_ITEMS > BATCH_ITEMS:
                self._flush(state, batch, report, save=True)
                job = state.jobs.get(job.job_id, job)
            step_started = self._clock()
            room = min(PAGE_SIZE, BATCH_ITEMS - batch.items)
            try:
                page = self._reader.log_page(
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
            new_items = self._new_items(state.account_id, job, page, page_start)
            if new_items:
                stopped = self._take(state, job, read, deadline, batch)
                job = state.jobs[job.job_id]
                deadline.record_step(self._clock() - step_started, len(new_items))
                if stopped is not None:
                    return stopped
            if page.next_token is None:
                batch.log_ends[job.job_id] = read.end
                return JobProgress.DONE
            token, page_start = page.next_token, read.end

    def _new_items(
        self, account_id: str, job: JobCheckpoint, page: LogPage, page_start: int
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
        if (
            job.last_event_id
            and event_id_for(account_id, job.job_id, job.position - 1, seam) != job.last_event_id
        ):
            self._counters[WorkerMetric.LOG_SHIFTS] += 1
            self._logger.error(
                "The job log changed under the checkpoint: the item at the seam is not the one "
                "exported last; continuing after the checkpoint position",
                extra={"position": job.position, "expectedEventId": job.last_event_id},
            )
        return page.items[skip:]

    def _take(
        self,
        state: AccountState,
        job: JobCheckpoint,
        page: ReadPage,
        deadline: Deadline,
        batch: Batch,
    ) -> JobProgress | None:
        """Publish the page's new items to EventBridge now and queue them for the log group.

        While both sinks are up they move together: the log group gets only what EventBridge
        took (its delivered prefix), so an entry EventBridge refuses holds its job in both. A
        sink that fails is left behind for the rest of the export and the other goes on alone;
        each keeps its own position, so neither repeats items into the other when the failing
        one comes back. Returns how the job must stop here, if it must.
        """
        first = max(job.position, page.start)
        events = [
            self._shape(state, job, page.items[index - page.start], index)
            for index in range(first, page.end)
        ]
        events_at = job.sink_position("events")
        logs_at = batch.logs_to.get(job.job_id, job.sink_position("logs"))
        sinks = batch.sinks
        events_to, stopped = events_at, None
        if sinks.up("events"):
            events_to, stopped = self._publish(
                [e for e in events if e.position >= events_at], events_at, deadline, sinks
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
        reached = max(events_to, batch.logs_to.get(job.job_id, logs_at))
        newly = reached - max(events_at, logs_at)
        if newly > 0:
            batch.newly += newly
            self._note_lag([e for e in events if e.position >= max(events_at, logs_at)][:newly])
        if events_to > events_at:
            state.jobs[job.job_id] = replace(
                job, events_position=events_to if events_to > job.position else None
            )
        return stopped

    def _publish(
        self, events: list[ExportEvent], events_at: int, deadline: Deadline, sinks: SinkHealth
    ) -> tuple[int, JobProgress | None]:
        """EventBridge's new position, and how the job stops if EventBridge took only part."""
        if not events:
            return events_at, None
        outcome = self._publisher.publish(
            events, should_stop=deadline.should_stop, retry_seconds=deadline.finishing_seconds
        )
        self._counters[WorkerMetric.PUBLISH_RETRIES] += outcome.retried_entries
        self._counters[WorkerMetric.FAILED_ENTRIES] += outcome.failed_entries
        self._counters[WorkerMetric.THROTTLES] += outcome.throttled_entries
        events_to = events[0].position + outcome.delivered
        if outcome.unavailable is not None:
            sinks.mark_down("events", outcome.unavailable, self._counters, self._logger)
            return events_to, None
        if outcome.delivered < len(events):
            refused = outcome.refused_entries > 0
            return events_to, JobProgress.BLOCKED if refused else JobProgress.STOPPED
        return events_to, None

    def _flush(
        self, state: AccountState, batch: Batch, report: AccountReport, *, save: bool
    ) -> None:
        """Write the queued events to the log group in one go, move every job's positions past
        what each sink took, close the jobs read to their end, and (`save`) save the state:
        one PutLogEvents and one state write per batch, however many jobs it spans."""
        if batch.log_events and batch.sinks.up("logs"):
            try:
                written = self._writer.write(state.account_id, batch.log_events)
                self._counters[WorkerMetric.LOG_EVENTS_RESTAMPED] += written.restamped
            except DeliveryError as exc:
                batch.sinks.mark_down("logs", str(exc), self._counters, self._logger)
                batch.logs_to.clear()
        for job_id in set(batch.pages) | set(batch.log_ends):
            job = state.jobs.get(job_id)
            if job is None:
                continue
            logs_to = batch.logs_to.get(job_id, job.sink_position("logs"))
            job = _advance(job, batch.pages.get(job_id, []), batch.seams.get(job_id, {}), logs_to)
            state.jobs[job_id] = job
            end = batch.log_ends.get(job_id)
            if (
                end is not None
                and job.position >= end
                and (job.completed or job.status == STATUS_NOT_FOUND)
            ):
                state.close(job)
                report.jobs_closed += 1
                self._logger.info(
                    "Job completed and fully exported; closed",
                    extra={"jobID": job_id, "position": job.position},
                )
        report.items_exported += batch.newly
        self._counters[WorkerMetric.ITEMS_EXPORTED] += batch.newly
        batch.reset()
        if save:
            self._store.save(state)

    def _shape(
        self, state: AccountState, job: JobCheckpoint, item: dict[str, Any], position: int
    ) -> ExportEvent:
        live_since = (
            datetime.fromtimestamp(state.first_export_at, UTC)
            if state.first_export_at is not None
            else None
        )
        event = build_event(
            item,
            account_id=state.account_id,
            region=self._options.region,
            job=job.info,
            position=position,
            source=self._options.source,
            live_since=live_since,
        )
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

    def _note_lag(self, events: Sequence[ExportEvent]) -> None:
        now = self._clock()
        for event in events:
            if event.time is not None:
                self.max_lag_seconds = max(self.max_lag_seconds, now - event.time.timestamp())


def _advance(
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
