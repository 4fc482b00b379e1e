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

from mgn_exporter.checkpoint import AccountState, JobCheckpoint
from mgn_exporter.deadline import Deadline
from mgn_exporter.errors import (
    AccountUnavailable,
    DeliveryError,
    JobUnavailable,
    LeaseHeld,
    LeaseLost,
    StateUnavailable,
    TokenRejected,
)
from mgn_exporter.events import ExportEvent, build_event, event_id_for
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
# Open jobs one account's state holds at most; discovery defers the newer ones.
MAX_OPEN_JOBS = 250
# A job DescribeJobs no longer knows (deleted): its log is read to the end, then it is closed.
STATUS_NOT_FOUND = "NOT_FOUND"

Counters = Counter[str]


class JobProgress(Enum):
    DONE = "done"  # read to the end of its log
    STOPPED = "stopped"  # the deadline, or a sink that failed: the account stops here
    BLOCKED = "blocked"  # at an entry refused for good: the account's other jobs go on


@dataclass
class AccountReport:
    account_id: str
    # exported | failed | skipped (lease held) | covered (a later export did what was asked)
    # | not_started (no time left)
    outcome: str = "exported"
    items_exported: int = 0
    jobs_open: int = 0
    jobs_closed: int = 0
    backlog: bool = False  # stopped by the deadline with more to read
    error: str | None = None


@dataclass
class RunReport:
    accounts: list[AccountReport] = field(default_factory=list)
    counters: Counters = field(default_factory=Counter)
    max_lag_seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return all(a.outcome == "exported" and not a.backlog for a in self.accounts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "itemsExported": sum(a.items_exported for a in self.accounts),
            "accounts": [asdict(account) for account in self.accounts],
            "counters": dict(self.counters),
            "maxLagSeconds": round(self.max_lag_seconds, 3),
        }


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
        counters: Counters,
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
            self._counters["AccountsSkipped"] += 1
            report.outcome = "skipped"
            return report
        except StateUnavailable as exc:
            # The table is throttled or down for this account: the other accounts go on.
            self._fail(report, exc)
            return report
        try:
            if state.covers(requested_at):
                self._counters["RequestsCovered"] += 1
                self._logger.info("A later export already did what this request asks; skipped")
                report.outcome = "covered"
                self._store.release_unchanged(account_id)
                return report
            try:
                self._discover(state)
                self._export_jobs(state, deadline, report)
            except (AccountUnavailable, DeliveryError, StateUnavailable) as exc:
                self._fail(report, exc)
            except Exception as exc:
                # A defect must not stop the other accounts; the state holds only saved progress.
                self._logger.exception("Unexpected error exporting the account")
                self._fail(report, exc)
            report.jobs_open = len(state.jobs)
            if report.outcome == "exported":
                # Backlog included: whoever runs this export hands the rest on.
                state.covered_until = started
            self._store.release(state)
        except LeaseLost:
            report.outcome, report.error = "failed", "lease lost"
            self._counters["LeasesLost"] += 1
            self._logger.error("The account's lease was lost; stopped without writing")
        except StateUnavailable as exc:
            # Every page's progress is already saved; the lease expires by itself.
            self._fail(report, exc)
        return report

    def _fail(self, report: AccountReport, exc: Exception) -> None:
        if report.outcome != "failed":  # a failed release after a failed export counts once
            self._counters["AccountsFailed"] += 1
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
        watermark = state.admit(listed_jobs, now, MAX_OPEN_JOBS)
        for job_id in set(state.jobs) - known_before:
            self._logger.info("New job discovered", extra={"jobID": job_id})
        deferred = len(listed - set(state.jobs) - set(state.closed))
        if deferred:
            self._counters["JobsDeferred"] += deferred
            self._logger.warning(
                "Too many open jobs: newer jobs wait for the next discoveries",
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

    def _export_jobs(self, state: AccountState, deadline: Deadline, report: AccountReport) -> None:
        for job in state.open_jobs():
            if deadline.should_stop():
                report.backlog = True
                return
            self._logger.append_keys(jobID=job.job_id)
            try:
                progress = self._export_job(state, job, deadline, report)
            except JobUnavailable as exc:
                self._counters["JobsFailed"] += 1
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
        self, state: AccountState, job: JobCheckpoint, deadline: Deadline, report: AccountReport
    ) -> JobProgress:
        """Export what is new in one job's log: DONE, STOPPED early (deadline, sink down), or
        BLOCKED at an entry EventBridge refuses for good (the account's other jobs go on)."""
        token, page_start = job.page_token, job.page_start
        while True:
            if deadline.should_stop():
                return JobProgress.STOPPED
            step_started = self._clock()
            try:
                page = self._reader.log_page(
                    state.account_id, job.job_id, token, max_results=deadline.page_size(PAGE_SIZE)
                )
            except TokenRejected:
                if token is None:
                    raise JobUnavailable(f"{job.job_id}: rejected without a token") from None
                self._counters["TokensRejected"] += 1
                self._logger.warning(
                    "nextToken rejected; re-reading the job log from its start",
                    extra={"position": job.position},
                )
                token, page_start = None, 0
                continue
            new_items = self._new_items(state.account_id, job, page, page_start)
            if new_items:
                job, refused = self._deliver(
                    state, job, new_items, page, token, page_start, deadline, report
                )
                deadline.record_step(self._clock() - step_started, len(new_items))
                if job.position < page_start + len(page.items):
                    return JobProgress.BLOCKED if refused else JobProgress.STOPPED
            if page.next_token is None:
                if job.completed or job.status == STATUS_NOT_FOUND:
                    state.close(job)
                    report.jobs_closed += 1
                    self._logger.info(
                        "Job completed and fully exported; closed", extra={"position": job.position}
                    )
                return JobProgress.DONE
            token, page_start = page.next_token, page_start + len(page.items)

    def _new_items(
        self, account_id: str, job: JobCheckpoint, page: LogPage, page_start: int
    ) -> list[dict[str, Any]]:
        """The items of `page` past the checkpoint (none while skipping to it)."""
        skip = job.position - page_start
        if skip <= 0:
            return page.items
        if len(page.items) < skip:
            if page.next_token is None:
                self._counters["LogShifts"] += 1
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
            self._counters["LogShifts"] += 1
            self._logger.error(
                "The job log changed under the checkpoint: the item at the seam is not the one "
                "exported last; continuing after the checkpoint position",
                extra={"position": job.position, "expectedEventId": job.last_event_id},
            )
        return page.items[skip:]

    def _deliver(
        self,
        state: AccountState,
        job: JobCheckpoint,
        items: list[dict[str, Any]],
        page: LogPage,
        token: str | None,
        page_start: int,
        deadline: Deadline,
        report: AccountReport,
    ) -> tuple[JobCheckpoint, bool]:
        """Publish to both sinks, then advance and save the checkpoint past what both took.

        Also tells whether EventBridge refused an entry for good (the job is blocked there).
        """
        events = [
            self._shape(state.account_id, job, item, job.position + offset)
            for offset, item in enumerate(items)
        ]
        outcome = self._publisher.publish(
            events, should_stop=deadline.should_stop, retry_seconds=deadline.finishing_seconds
        )
        self._counters["PublishRetries"] += outcome.retried_entries
        self._counters["FailedEntries"] += outcome.failed_entries
        self._counters["Throttles"] += outcome.throttled_entries
        refused = outcome.refused_entries > 0
        delivered = events[: outcome.delivered]
        if not delivered:
            return job, refused
        written = self._writer.write(state.account_id, delivered)
        self._counters["LogEventsRestamped"] += written.restamped
        position = job.position + len(delivered)
        page_end = page_start + len(page.items)
        at_next_page = position == page_end and page.next_token is not None
        job = replace(
            job,
            position=position,
            page_token=page.next_token if at_next_page else token,
            page_start=page_end if at_next_page else page_start,
            last_event_id=delivered[-1].event_id,
        )
        state.jobs[job.job_id] = job
        self._store.save(state)
        report.items_exported += len(delivered)
        self._counters["ItemsExported"] += len(delivered)
        self._note_lag(delivered)
        return job, refused

    def _shape(
        self, account_id: str, job: JobCheckpoint, item: dict[str, Any], position: int
    ) -> ExportEvent:
        event = build_event(
            item,
            account_id=account_id,
            region=self._options.region,
            job=job.info,
            position=position,
            source=self._options.source,
        )
        if event.problems:
            self._counters["OddItems"] += 1
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


def export_accounts(
    exporter: AccountExporter,
    accounts: Sequence[str],
    deadline: Deadline,
    *,
    logger: Logger,
    counters: Counters,
) -> RunReport:
    """Export each account in turn, each with a fair share of the time left."""
    report = RunReport(counters=counters)
    # Rotate the starting account every minute so a short budget does not always leave the
    # same accounts last.
    offset = int(time.time() // 60) % len(accounts) if accounts else 0
    ordered = list(accounts[offset:]) + list(accounts[:offset])
    for index, account_id in enumerate(ordered):
        if deadline.should_stop():
            report.accounts.extend(
                AccountReport(account_id=rest, outcome="not_started", backlog=True)
                for rest in ordered[index:]
            )
            break
        logger.append_keys(accountID=account_id)
        try:
            report.accounts.append(
                exporter.export(account_id, deadline.share(len(ordered) - index))
            )
        finally:
            logger.remove_keys(["accountID"])
    report.max_lag_seconds = exporter.max_lag_seconds
    return report
