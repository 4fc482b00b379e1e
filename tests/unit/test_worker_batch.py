"""The worker's batch: which accounts it exports, how each record ends (deleted, handed on,
failed), against a scripted exporter and queue and a clock the test moves."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from local.esm_emulator import MappingConfig, lambda_sqs_event
from mgn_exporter.deadline import Deadline
from mgn_exporter.errors import QueueUnavailable
from mgn_exporter.metric_names import StepDurations
from mgn_exporter.observability import logger
from mgn_exporter.reports import AccountReport
from mgn_exporter.work_request import REASON_CONTINUATION, REASON_SCHEDULE, WorkRequest
from mgn_exporter.worker import BatchWorker

A, B, C = "111111111111", "222222222222", "333333333333"
TICK = "2026-11-25T12:00:00Z"
CONFIG = MappingConfig(
    queue_url="https://sqs.us-east-1.amazonaws.com/111111111111/work.fifo",
    queue_arn="arn:aws:sqs:us-east-1:111111111111:work.fifo",
    region="us-east-1",
)
_ids = itertools.count(1)


def message(
    account: str,
    *,
    sent_ms: int | None = 1_764_072_000_000,
    receive_count: int = 1,
    body: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """A ReceiveMessage message of the work queue, as the event source mapping gets it."""
    attributes = {
        "MessageGroupId": group or account,
        "ApproximateReceiveCount": str(receive_count),
    }
    if sent_ms is not None:
        attributes["SentTimestamp"] = str(sent_ms)
    return {
        "MessageId": f"m-{next(_ids)}",
        "ReceiptHandle": "r",
        "Body": body if body is not None else WorkRequest(account, REASON_SCHEDULE, TICK).body(),
        "Attributes": attributes,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_072_100.0

    def __call__(self) -> float:
        return self.now


class ScriptedExporter:
    """Answers each account with a scripted report; `until_deadline` accounts run until their
    share of the deadline is used up (an export stopped by the deadline), `takes` accounts
    take that many seconds whatever their share (a slow last page)."""

    def __init__(
        self,
        clock: Clock,
        reports: dict[str, AccountReport] | None = None,
        until_deadline: frozenset[str] = frozenset(),
        takes: dict[str, float] | None = None,
    ) -> None:
        self.durations = StepDurations()
        self.clock = clock
        self.reports = reports or {}
        self.until_deadline = until_deadline
        self.takes = takes or {}
        self.calls: list[tuple[str, float | None]] = []

    def export(
        self, account_id: str, deadline: Deadline, *, requested_at: float | None = None
    ) -> AccountReport:
        self.calls.append((account_id, requested_at))
        if account_id in self.until_deadline:
            while not deadline.should_stop():
                self.clock.now += 0.05
        self.clock.now += self.takes.get(account_id, 0.0)
        report = self.reports.get(account_id, AccountReport(account_id, items_exported=5))
        return replace(report, account_id=account_id)


class ScriptedQueue:
    def __init__(self, *, fail: bool = False, refuse_delays: bool = False) -> None:
        self.fail = fail
        self.refuse_delays = refuse_delays
        self.sent: list[WorkRequest] = []
        self.delays: list[tuple[str, int]] = []

    def delay_retry(self, receipt_handle: str, seconds: int) -> bool:
        self.delays.append((receipt_handle, seconds))
        return not self.refuse_delays

    def send(self, requests: list[WorkRequest]) -> None:
        if self.fail:
            raise QueueUnavailable("SendMessageBatch failed: throttled")
        self.sent.extend(requests)


def run(
    messages: list[dict[str, Any]],
    exporter: ScriptedExporter,
    queue: ScriptedQueue | None = None,
    *,
    budget_seconds: float = 60.0,
    retry_backoff_seconds: int = 0,
) -> tuple[dict[str, Any], dict[str, Any], ScriptedQueue]:
    """One batch through a BatchWorker: (partial batch response, run report, queue)."""
    queue = queue or ScriptedQueue()
    clock = exporter.clock
    ends = clock.now + budget_seconds
    deadline = Deadline(
        lambda: int(max(0.0, ends - clock.now) * 1000), margin_seconds=1.0, clock=clock
    )
    counters: Counter[str] = Counter()
    worker = BatchWorker(
        exporter,  # type: ignore[arg-type]
        queue,  # type: ignore[arg-type]
        logger=logger,
        counters=counters,
        retry_backoff_seconds=retry_backoff_seconds,
    )
    outcome = worker.process(lambda_sqs_event(messages, CONFIG), deadline)
    report = outcome.report.to_dict()
    report["handedOn"] = outcome.handed_on
    return outcome.response, report, queue


def failed(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_an_account_asked_for_by_several_records_is_exported_once_for_the_latest() -> None:
    # Given a tick and a hand-on of account A queued behind each other, and one record of B
    batch = [
        message(A, sent_ms=1_764_072_000_000),
        message(B, sent_ms=1_764_072_001_000),
        message(A, sent_ms=1_764_072_030_500),
    ]
    exporter = ScriptedExporter(Clock())
    response, report, queue = run(batch, exporter)
    # Then each account was exported once, A for the later of its two requests
    assert exporter.calls == [(A, 1_764_072_030.5), (B, 1_764_072_001.0)]
    assert failed(response) == [] and queue.sent == []
    assert [a["account_id"] for a in report["accounts"]] == [A, B]


def test_a_record_without_a_send_time_is_never_judged_covered() -> None:
    exporter = ScriptedExporter(Clock())
    run([message(A), message(A, sent_ms=None)], exporter)
    assert exporter.calls == [(A, None)]


def test_a_failed_account_fails_its_records_only() -> None:
    # Given two records of A, which MGN refuses, around one record of B
    batch = [message(A), message(B), message(A)]
    refused = AccountReport(A, outcome="failed", error="AccountUnavailable: denied")
    exporter = ScriptedExporter(Clock(), {A: refused})
    response, report, queue = run(batch, exporter)
    # Then both of A's records come back, B's is deleted, and A was tried once
    assert failed(response) == [batch[0]["MessageId"], batch[2]["MessageId"]]
    assert [call[0] for call in exporter.calls] == [A, B]
    assert [(a["account_id"], a["outcome"]) for a in report["accounts"]] == [
        (A, "failed"),
        (B, "exported"),
    ]
    assert queue.sent == []


def test_a_record_that_is_not_a_work_request_fails_alone() -> None:
    batch = [message(A, body="export 111111111111", group="ops"), message(B)]
    exporter = ScriptedExporter(Clock())
    response, report, _ = run(batch, exporter)
    assert failed(response) == [batch[0]["MessageId"]]
    assert exporter.calls == [(B, 1_764_072_000.0)]
    assert report["counters"]["BadMessages"] == 1


def test_an_export_the_deadline_cut_short_is_handed_on_and_its_records_deleted() -> None:
    # Given A with more backlog than its share of the budget
    batch = [message(A), message(A)]
    backlog = AccountReport(A, items_exported=500, backlog=True)
    exporter = ScriptedExporter(Clock(), {A: backlog}, until_deadline=frozenset({A}))
    response, report, queue = run(batch, exporter, budget_seconds=10)
    # Then one continuation of the first record goes to the back of A's group, both deleted
    assert queue.sent == [WorkRequest(A, REASON_CONTINUATION, batch[0]["MessageId"])]
    assert failed(response) == [] and report["handedOn"] == [A]
    assert report["counters"]["HandOns"] == 1


def test_accounts_the_deadline_leaves_no_time_for_are_handed_on_without_an_export() -> None:
    batch = [message(A), message(B), message(C)]
    # A's share is a third of the budget, but a slow last page takes all the time left
    exporter = ScriptedExporter(Clock(), {A: AccountReport(A, backlog=True)}, takes={A: 60.0})
    response, report, queue = run(batch, exporter, budget_seconds=30)
    outcomes = {a["account_id"]: a["outcome"] for a in report["accounts"]}
    assert outcomes[B] == outcomes[C] == "not_started"
    assert [call[0] for call in exporter.calls] == [A]
    assert {r.account_id for r in queue.sent} == {A, B, C}
    assert failed(response) == []


def test_an_account_not_started_and_not_handed_on_comes_back_itself() -> None:
    batch = [message(A)]
    response, report, _ = run(
        batch, ScriptedExporter(Clock()), ScriptedQueue(fail=True), budget_seconds=0.0
    )
    assert failed(response) == [batch[0]["MessageId"]]
    assert report["accounts"][0]["outcome"] == "failed"
    assert report["counters"]["HandOnsFailed"] == 1


def test_a_backlog_not_handed_on_is_left_to_the_next_tick_and_the_record_deleted() -> None:
    batch = [message(A)]
    exporter = ScriptedExporter(
        Clock(), {A: AccountReport(A, backlog=True)}, until_deadline=frozenset({A})
    )
    response, report, _ = run(batch, exporter, ScriptedQueue(fail=True), budget_seconds=5)
    assert failed(response) == []
    assert report["counters"]["HandOnsFailed"] == 1 and report["handedOn"] == []


@pytest.mark.parametrize("outcome", ["skipped", "covered"])
def test_an_account_someone_else_holds_or_already_did_is_deleted(outcome: str) -> None:
    batch = [message(A)]
    exporter = ScriptedExporter(Clock(), {A: AccountReport(A, outcome=outcome)})
    response, report, queue = run(batch, exporter)
    assert failed(response) == [] and queue.sent == []
    assert report["accounts"][0]["outcome"] == outcome and report["handedOn"] == []


# -- defects found by the fan-out tests (see tests/integration/test_fanout.py) ----------------


def test_a_redelivered_record_is_never_judged_covered() -> None:
    # A record that comes back was being worked on by an invocation that died, perhaps after
    # its export was saved (which covers the record's send time) and before its hand-on was
    # sent: only a new export can tell whether the account has a backlog left.
    exporter = ScriptedExporter(Clock())
    run([message(A, receive_count=2)], exporter)
    assert exporter.calls == [(A, None)]


def test_a_backlog_left_with_time_to_spare_is_not_handed_on() -> None:
    # An export that ends with a backlog before its deadline was stopped by something a
    # continuation at once would meet again (an entry EventBridge refuses for good, a sink
    # down): handing it on would cycle the account through the queue without a pause.
    batch = [message(A)]
    blocked = AccountReport(A, items_exported=20, backlog=True)
    response, report, queue = run(batch, ScriptedExporter(Clock(), {A: blocked}))
    assert queue.sent == [] and report["handedOn"] == []
    assert failed(response) == []


@pytest.mark.parametrize(
    ("receive_count", "seconds"), [(1, 30), (2, 60), (3, 120), (5, 480), (9, 900)]
)
def test_a_failed_record_comes_back_after_a_backoff_doubling_with_each_receive(
    receive_count: int, seconds: int
) -> None:
    # Given a record of an account MGN refuses, received for the n-th time, and one of B
    refused = AccountReport(A, outcome="failed", error="AccountUnavailable: throttled")
    bad = message(A, receive_count=receive_count)
    bad["ReceiptHandle"] = "receipt-of-a"
    exporter = ScriptedExporter(Clock(), {A: refused})
    response, _, queue = run([bad, message(B)], exporter, retry_backoff_seconds=30)
    # Then only A's record is failed, and made visible again after the backoff (capped)
    assert failed(response) == [bad["MessageId"]]
    assert queue.delays == [("receipt-of-a", seconds)]


def test_without_a_backoff_failed_records_wait_for_the_visibility_timeout() -> None:
    refused = AccountReport(A, outcome="failed", error="AccountUnavailable: denied")
    response, _, queue = run([message(A)], ScriptedExporter(Clock(), {A: refused}))
    assert len(failed(response)) == 1
    assert queue.delays == []


def test_a_backoff_sqs_refuses_still_fails_the_record() -> None:
    refused = AccountReport(A, outcome="failed", error="AccountUnavailable: denied")
    queue = ScriptedQueue(refuse_delays=True)
    response, _, _ = run(
        [message(A)], ScriptedExporter(Clock(), {A: refused}), queue, retry_backoff_seconds=30
    )
    assert len(failed(response)) == 1
    assert len(queue.delays) == 1
