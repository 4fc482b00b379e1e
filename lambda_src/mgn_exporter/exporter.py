"""The export of one account under its lease: take the lease, decide whether there is work,
run the account's export (account_export.py), save and release.

Plain code over small adapters (MGN reader, checkpoint store, EventBridge publisher, Logs
writer) given to it, so that tests can run it against moto and the MGN emulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mgn_exporter.account_export import (
    AccountExport,
    ExportOptions,
    ExportParts,
    record_failure,
)
from mgn_exporter.deadline import Deadline
from mgn_exporter.errors import LeaseHeld, LeaseLost, StateUnavailable
from mgn_exporter.metric_names import StepDurations, WorkerCounters, WorkerMetric
from mgn_exporter.reports import AccountReport

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from mgn_exporter.checkpoint_store import CheckpointStore
    from mgn_exporter.enrichment import Enricher
    from mgn_exporter.eventbridge_publisher import EventBridgePublisher
    from mgn_exporter.logs_writer import LogsWriter
    from mgn_exporter.mgn_reader import MgnReader

# A lease outlives the invocation's deadline by this much, so a crashed invocation's lease
# expires by itself soon after the crash could have happened at the latest.
LEASE_SLACK_SECONDS = 5


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
        enricher: Enricher | None = None,
        durations: StepDurations | None = None,
    ) -> None:
        self._parts = ExportParts(
            reader=reader,
            store=store,
            publisher=publisher,
            writer=writer,
            options=options,
            logger=logger,
            counters=counters,
            clock=clock,
            enricher=enricher,
            durations=durations if durations is not None else StepDurations(),
        )
        self._store = store
        self._logger = logger
        self._counters = counters
        self._clock = clock

    @property
    def durations(self) -> StepDurations:
        """The step durations of the events its exports sent first (for the run's metrics)."""
        return self._parts.durations

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
            AccountExport(self._parts, state, deadline, report).run()
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

    def _fail(self, report: AccountReport, exc: Exception) -> None:
        record_failure(report, exc, self._counters, self._logger)
