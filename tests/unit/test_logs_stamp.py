"""Log event times CloudWatch Logs accepts, and what it rejects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mgn_exporter.batching import LogRecord
from mgn_exporter.events import JobInfo, build_event
from mgn_exporter.logs_writer import _rejected, stamp, stream_name

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def event_at(when: str):
    return build_event(
        {"logDateTime": when, "event": "JOB_START", "eventData": {}},
        account_id="123456789012",
        region="us-east-1",
        job=JobInfo(job_id="mgnjob-0123456789abcdefg"),
        position=0,
        source="s",
    )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_recent_items_keep_their_own_time() -> None:
    moment = NOW - timedelta(days=3)
    assert stamp(event_at(iso(moment)), NOW_MS) == int(moment.timestamp() * 1000)


def test_items_older_than_14_days_or_far_ahead_or_timeless_are_stamped_now() -> None:
    assert stamp(event_at(iso(NOW - timedelta(days=20))), NOW_MS) == NOW_MS
    assert stamp(event_at(iso(NOW + timedelta(hours=3))), NOW_MS) == NOW_MS
    assert stamp(event_at("not a time"), NOW_MS) == NOW_MS


def test_stream_per_account_and_day() -> None:
    assert stream_name("123456789012", NOW_MS) == "123456789012/2026-11-25"


def test_rejected_ranges() -> None:
    batch = [LogRecord(i, str(i)) for i in range(6)]
    assert [r.message for r in _rejected(batch, {"tooOldLogEventEndIndex": 2})] == ["0", "1"]
    assert [r.message for r in _rejected(batch, {"tooNewLogEventStartIndex": 4})] == ["4", "5"]
    assert [r.message for r in _rejected(batch, {"expiredLogEventEndIndex": 1})] == ["0", "1"]
    assert _rejected(batch, {}) == []
