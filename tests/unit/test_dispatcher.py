"""The dispatcher's tick: the same schedule firing always yields the same deduplication ids."""

from __future__ import annotations

from mgn_exporter.dispatcher import tick_of
from mgn_exporter.work_request import REASON_SCHEDULE, WorkRequest


def test_the_tick_is_the_schedule_events_time() -> None:
    event = {"id": "53dc4d37", "time": "2026-11-25T12:00:00Z", "detail-type": "Scheduled Event"}
    assert tick_of(event, fallback="request-1") == "2026-11-25T12:00:00Z"


def test_a_manual_invocation_without_time_falls_back_to_the_event_id_then_the_request() -> None:
    assert tick_of({"id": "abc"}, fallback="request-1") == "abc"
    assert tick_of({}, fallback="request-1") == "request-1"


def test_a_retried_tick_repeats_its_deduplication_ids_and_another_tick_does_not() -> None:
    def ids(tick: str) -> list[str]:
        return [
            WorkRequest(account, REASON_SCHEDULE, tick).deduplication_id()
            for account in ("111111111111", "222222222222")
        ]

    assert ids("2026-11-25T12:00:00Z") == ids("2026-11-25T12:00:00Z")
    assert not set(ids("2026-11-25T12:00:00Z")) & set(ids("2026-11-25T12:05:00Z"))
