"""The queue's consumer: exports the accounts of one SQS batch and hands on what it cannot finish.

Each record asks for one account. An account asked for by several records of the batch (a tick
and a hand-on queued behind each other) is exported once, and its outcome answers them all.
Every record ends one of three ways:

* done: exported (or nothing left to do, or MGN not initialized in the account -- a state the
  checkpoint records and rechecks hourly, not a failure -- or stopped with time to spare by what
  a continuation would meet again at once, such as an entry EventBridge refuses: the next tick
  retries it) -- deleted from the queue;
* handed on: the deadline came with backlog left (or before the account's turn), so a
  continuation request goes to the back of the account's message group -- deleted;
* failed: the export failed, or the record is not a work request -- reported in
  batchItemFailures, so SQS delivers it again (after a growing backoff, or the queue's
  visibility timeout) and moves it to the dead-letter queue once it has failed
  maxReceiveCount times. With ``skip_group_on_error`` only
  that account's later records fail with it; the other accounts of the batch go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

from mgn_exporter.deadline import Deadline
from mgn_exporter.errors import ExportError, QueueUnavailable
from mgn_exporter.exporter import AccountExporter
from mgn_exporter.metric_names import WorkerCounters, WorkerMetric
from mgn_exporter.reports import AccountReport, RunReport
from mgn_exporter.work_queue import WorkQueue
from mgn_exporter.work_request import (
    REASON_CONTINUATION,
    BadMessage,
    WorkRequest,
    parse_body,
    receive_count,
    redelivered,
    sent_at,
)

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


# The longest wait before a failed record is tried again (SQS allows up to 12 hours).
MAX_RETRY_BACKOFF_SECONDS = 900


def retry_backoff(base_seconds: int, receive_count: int) -> int:
    """Seconds before the n-th retry of a failed record: base, 2 x base, 4 x base..."""
    return min(MAX_RETRY_BACKOFF_SECONDS, base_seconds * (1 << max(0, receive_count - 1)))


class AccountExportFailed(ExportError):
    """The record's account failed to export: the record goes back to the queue."""


@dataclass
class BatchOutcome:
    response: dict[str, Any]  # the partial batch response for the event source mapping
    report: RunReport
    handed_on: list[str] = field(default_factory=list)


class BatchWorker:
    def __init__(
        self,
        exporter: AccountExporter,
        queue: WorkQueue,
        *,
        logger: Logger,
        counters: WorkerCounters,
        retry_backoff_seconds: int = 0,
    ) -> None:
        self._exporter = exporter
        self._queue = queue
        self._logger = logger
        self._counters = counters
        # 0: a failed record comes back when the queue's visibility timeout ends.
        self._retry_backoff_seconds = retry_backoff_seconds

    def process(self, event: dict[str, Any], deadline: Deadline) -> BatchOutcome:
        records: Sequence[dict[str, Any]] = event.get("Records") or []
        plan = _plan(records)
        report = RunReport(counters=self._counters, durations=self._exporter.durations)
        results: dict[str, AccountReport] = {}
        handed_on: list[str] = []

        def handle(record: SQSRecord) -> None:
            try:
                request = parse_body(record.body)
            except BadMessage as exc:
                self._counters[WorkerMetric.BAD_MESSAGES] += 1
                self._logger.error(
                    "Not a work request; it will go to the dead-letter queue",
                    extra={"messageId": record.message_id, "error": str(exc)},
                )
                raise
            account = request.account_id
            if account not in results:
                results[account] = self._work_on(
                    request, record.message_id, plan, results, deadline, handed_on
                )
                report.accounts.append(results[account])
            outcome = results[account]
            if outcome.outcome == "failed":
                raise AccountExportFailed(f"{account}: {outcome.error}")

        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # Failed accounts are reported record by record even when every record failed: an
        # invocation error would mean a defect of ours, not an account MGN refuses.
        processor.raise_on_entire_batch_failure = False
        with processor(list(records), handle):
            processor.process()
        response: dict[str, Any] = dict(processor.response())
        self._back_off(records, response.get("batchItemFailures", []))
        return BatchOutcome(response=response, report=report, handed_on=handed_on)

    def _back_off(self, records: Sequence[dict[str, Any]], failures: Sequence[Any]) -> None:
        """Bring failed records back after a growing backoff instead of the visibility timeout
        (six times the worker's timeout): an account MGN throttles or refuses is tried again in
        seconds to minutes, and reaches the dead-letter queue after maxReceiveCount tries
        without holding its message group for hours."""
        if not self._retry_backoff_seconds or not failures:
            return
        failed = {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}
        for record in records:
            if record.get("messageId") not in failed:
                continue
            seconds = retry_backoff(self._retry_backoff_seconds, receive_count(record))
            if not self._queue.delay_retry(str(record.get("receiptHandle")), seconds):
                self._logger.warning(
                    "Could not shorten a failed record's visibility; it comes back at the end "
                    "of the queue's visibility timeout",
                    extra={"messageId": record.get("messageId")},
                )

    def _work_on(
        self,
        request: WorkRequest,
        message_id: str,
        plan: dict[str, float | None],
        results: dict[str, AccountReport],
        deadline: Deadline,
        handed_on: list[str],
    ) -> AccountReport:
        account = request.account_id
        self._logger.append_keys(accountID=account)
        try:
            if deadline.should_stop():
                report = AccountReport(account_id=account, outcome="not_started", backlog=True)
                cut_short = True
            else:
                waiting = len([a for a in plan if a not in results])
                share = deadline.share(waiting)
                report = self._exporter.export(account, share, requested_at=plan.get(account))
                # A backlog left with time to spare was stopped by something a continuation
                # would meet again at once (an entry refused for good, a sink down): the next
                # tick retries it, rather than a hand-on cycling the account without a pause.
                cut_short = share.should_stop()
            if report.backlog and cut_short and report.outcome in ("exported", "not_started"):
                self._hand_on(account, message_id, report, handed_on)
            return report
        finally:
            self._logger.remove_keys(["accountID"])

    def _hand_on(
        self, account: str, message_id: str, report: AccountReport, handed_on: list[str]
    ) -> None:
        try:
            self._queue.send([WorkRequest(account, REASON_CONTINUATION, message_id)])
        except QueueUnavailable as exc:
            self._counters[WorkerMetric.HAND_ONS_FAILED] += 1
            if report.outcome == "not_started":
                # Nothing was done: the record itself must come back.
                report.outcome, report.error = "failed", f"not started, not handed on: {exc}"
                self._logger.error("Could not hand on an account not started; retried later")
            else:
                # Progress is saved; the next tick's request resumes from the checkpoint.
                self._logger.error(
                    "Could not hand on the rest of the backlog; the next tick resumes it",
                    extra={"error": str(exc)},
                )
            return
        self._counters[WorkerMetric.HAND_ONS] += 1
        handed_on.append(account)
        self._logger.info(
            "Backlog handed on to a continuation request",
            extra={"itemsExported": report.items_exported},
        )


def _plan(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Each account of the batch (in order) with the latest send time of its records: if an
    export that started after even that one has ended, none of them asks for anything."""
    latest: dict[str, float | None] = {}
    for record in records:
        try:
            account = parse_body(str(record.get("body", ""))).account_id
        except BadMessage:
            continue
        # A record that comes back was held by an invocation that died, perhaps after its
        # export was saved (covering the send time) and before its hand-on was sent.
        sent = None if redelivered(record) else sent_at(record)
        previous = latest.get(account)
        if account not in latest:
            latest[account] = sent
        elif previous is not None and sent is not None:
            latest[account] = max(previous, sent)
        else:
            latest[account] = None  # unknown: never judged covered
    return latest
