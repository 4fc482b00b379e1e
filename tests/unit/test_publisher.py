"""The publisher against a fake PutEvents: where it stops, what it counts."""

from __future__ import annotations

from typing import Any

from mgn_exporter.eventbridge_publisher import EventBridgePublisher
from mgn_exporter.events import JobInfo, build_event
from mgn_exporter.observability import logger


def events(count: int) -> list[Any]:
    job = JobInfo(job_id="mgnjob-0123456789abcdefg")
    return [
        build_event(
            {"logDateTime": "2026-11-25T10:00:00Z", "event": "JOB_START", "eventData": {}},
            account_id="123456789012",
            region="us-east-1",
            job=job,
            position=position,
            source="s",
        )
        for position in range(count)
    ]


class FakeEvents:
    def __init__(self, fail_first: dict[int, str] | None = None) -> None:
        self.calls: list[int] = []
        self.fail_first = dict(fail_first or {})  # entry index in the call -> code, first call

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        failures, self.fail_first = self.fail_first, {}
        results = [
            {"ErrorCode": failures[i], "ErrorMessage": "x"} if i in failures else {"EventId": "e"}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": len(failures), "Entries": results}


def publisher(client: FakeEvents, sleeps: list[float]) -> EventBridgePublisher:
    return EventBridgePublisher(
        client,  # type: ignore[arg-type]
        bus_name="b",
        source="s",
        logger=logger,
        sleep=sleeps.append,
    )


def test_a_page_that_runs_out_of_time_stops_between_calls_without_duplicates() -> None:
    # Given a page of 50 entries and a deadline reached after the second call
    client = FakeEvents()
    answers = iter([False, False, True])
    outcome = publisher(client, []).publish(events(50), should_stop=lambda: next(answers, True))
    # Then what was sent is the delivered prefix; nothing else went out, nothing failed
    assert client.calls == [10, 10]
    assert outcome.delivered == 20
    assert outcome.failed_entries == 0 and outcome.refused_entries == 0


def test_a_retry_never_sleeps_past_the_time_left_for_finishing() -> None:
    client = FakeEvents(fail_first={3: "ThrottlingException"})
    sleeps: list[float] = []
    outcome = publisher(client, sleeps).publish(
        events(10), should_stop=lambda: False, retry_seconds=lambda: 0.01
    )
    assert outcome.delivered == 10 and outcome.retried_entries == 1
    assert sleeps and max(sleeps) <= 0.01


def test_entries_sent_and_failed_are_retried_past_should_stop_while_time_is_left() -> None:
    # Given a deadline reached right after the first call, one entry of which failed
    client = FakeEvents(fail_first={4: "InternalFailure"})
    answers = iter([False])
    outcome = publisher(client, []).publish(
        events(25), should_stop=lambda: next(answers, True), retry_seconds=lambda: 1.0
    )
    # Then that entry is retried (its batch is already out), the unsent ones wait
    assert client.calls == [10, 1]
    assert outcome.delivered == 10 and outcome.failed_entries == 0


def test_an_entry_refused_for_good_is_told_apart_from_exhausted_retries() -> None:
    client = FakeEvents(fail_first={2: "MalformedDetail"})
    outcome = publisher(client, []).publish(events(30), should_stop=lambda: False)
    # The rest of the first batch went out; later batches were not sent
    assert client.calls == [10]
    assert outcome.delivered == 2
    assert outcome.failed_entries == 1 and outcome.refused_entries == 1
