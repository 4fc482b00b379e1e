"""Shaping one MGN job log item into the public event."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mgn_exporter.eventbridge_publisher import entry_size
from mgn_exporter.events import (
    DETAIL_TYPE,
    LOG_EVENT_LIMIT,
    LOG_EVENT_OVERHEAD,
    JobInfo,
    build_event,
    parse_log_datetime,
    severity_of,
)

ACCOUNT = "123456789012"
JOB = JobInfo(
    job_id="mgnjob-0123456789abcdefg",
    arn="arn:aws:mgn:us-east-1:123456789012:job/mgnjob-0123456789abcdefg",
    job_type="LAUNCH",
    initiated_by="START_CUTOVER",
)
SERVER = "s-0123456789abcdef0"


def item(event: str = "CONVERSION_FAIL", **event_data: object) -> dict[str, object]:
    return {
        "logDateTime": "2026-11-25T10:00:00.123Z",
        "event": event,
        "eventData": {"sourceServerID": SERVER, **event_data},
    }


def shape(raw: dict[str, object], position: int = 3, source: str = "mgn.joblog.exporter"):
    return build_event(
        raw, account_id=ACCOUNT, region="us-east-1", job=JOB, position=position, source=source
    )


def test_detail_holds_the_contract_fields_and_eventdata_unchanged() -> None:
    raw = item(rawError="disk full", attemptCount=2, maxAttemptsCount=3)
    event = shape(raw)
    assert event.detail == {
        "schemaVersion": "1",
        "eventId": event.event_id,
        "accountID": ACCOUNT,
        "region": "us-east-1",
        "jobID": JOB.job_id,
        "jobType": "LAUNCH",
        "initiatedBy": "START_CUTOVER",
        "event": "CONVERSION_FAIL",
        "severity": "ERROR",
        "backfill": False,
        "logDateTime": "2026-11-25T10:00:00.123Z",
        "position": 3,
        "eventData": raw["eventData"],
    }
    assert json.loads(event.detail_json) == event.detail
    assert event.time == datetime(2026, 11, 25, 10, 0, 0, 123000, tzinfo=UTC)
    assert event.resources == (
        JOB.arn,
        f"arn:aws:mgn:us-east-1:{ACCOUNT}:source-server/{SERVER}",
    )
    assert event.problems == ()


def test_event_id_is_deterministic_and_depends_on_position_and_content() -> None:
    assert shape(item()).event_id == shape(item()).event_id
    assert shape(item(), position=4).event_id != shape(item()).event_id
    assert shape(item(rawError="x")).event_id != shape(item()).event_id
    assert len(shape(item()).event_id) == 32


@pytest.mark.parametrize(
    ("event", "severity"),
    [
        ("SNAPSHOT_FAIL", "ERROR"),
        ("CONVERSION_FAIL", "ERROR"),
        ("LAUNCH_FAILED", "ERROR"),
        ("CLEANUP_FAIL", "ERROR"),
        ("JOB_CANCEL", "WARNING"),
        ("SERVER_SKIPPED", "WARNING"),
        ("USING_PREVIOUS_SNAPSHOT", "WARNING"),
        ("JOB_START", "INFO"),
        ("LAUNCH_START", "INFO"),
        ("JOB_END", "INFO"),
        ("REPLICATION_FAILED_NEW", "ERROR"),  # a future MGN value still reaches the ERROR rule
        ("SOMETHING_NEW", "INFO"),
        (None, "INFO"),
    ],
)
def test_severity(event: str | None, severity: str) -> None:
    assert severity_of(event) == severity


def test_huge_raw_error_is_cut_with_a_marker_to_fit_both_sinks() -> None:
    event = shape(item(rawError="E" * 600_000))
    size = len(event.detail_json.encode("utf-8"))
    assert size + LOG_EVENT_OVERHEAD <= LOG_EVENT_LIMIT
    entry = {
        "Source": "mgn.joblog.exporter",
        "DetailType": DETAIL_TYPE,
        "Detail": event.detail_json,
        "Resources": list(event.resources),
        "Time": event.time,
    }
    # PutEvents: "the total entry size must be less than 256 KB"
    assert entry_size(entry) < 256 * 1024
    assert event.detail["truncated"] == ["eventData.rawError"]
    assert "truncated" in event.detail["eventData"]["rawError"]
    assert event.detail["eventData"]["rawError"].startswith("EEEE")
    assert any("truncated" in problem for problem in event.problems)


@pytest.mark.parametrize(
    ("log_date_time", "backfill"),
    [
        ("2026-11-25T09:59:59.999Z", True),  # logged before the account's first export
        ("2026-11-25T10:00:00.000Z", False),  # at it or after: live
        ("2026-11-25T11:00:00Z", False),
        ("not a time", False),  # unknown: live, better an alert too many than none
    ],
)
def test_items_logged_before_the_first_export_are_marked_backfill(
    log_date_time: str, backfill: bool
) -> None:
    raw = {**item(), "logDateTime": log_date_time}
    event = build_event(
        raw,
        account_id=ACCOUNT,
        region="us-east-1",
        job=JOB,
        position=0,
        source="s",
        live_since=datetime(2026, 11, 25, 10, tzinfo=UTC),
    )
    assert event.detail["backfill"] is backfill
    # The mark is not part of the item's identity
    assert event.event_id == shape(raw, position=0, source="s").event_id


def test_multibyte_and_escaped_values_are_cut_on_character_boundaries() -> None:
    huge = ('é\x01"' * 120_000) + "end"
    event = shape(item(rawError=huge, conversionServerID="ü" * 100_000))
    assert len(event.detail_json.encode("utf-8")) + LOG_EVENT_OVERHEAD <= LOG_EVENT_LIMIT
    json.loads(event.detail_json)  # still valid JSON
    assert set(event.detail["truncated"]) <= {"eventData.rawError", "eventData.conversionServerID"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"logDateTime": "yesterday", "event": "JOB_START", "eventData": {}}, "logDateTime"),
        ({"event": "JOB_START", "eventData": {}}, "missing logDateTime"),
        ({"logDateTime": "2026-11-25T10:00:00Z", "eventData": {}}, "missing event"),
        ({"logDateTime": "2026-11-25T10:00:00Z", "event": "NEW_THING"}, "unknown event"),
        ({"logDateTime": "2026-02-30T10:00:00Z", "event": "JOB_END", "eventData": {}}, "logDate"),
        ({"logDateTime": 12345, "event": "JOB_END", "eventData": []}, "eventData"),
    ],
)
def test_bad_items_are_shaped_not_dropped(raw: dict[str, object], problem: str) -> None:
    event = shape(raw)
    assert any(problem in text for text in event.problems), event.problems
    decoded = json.loads(event.detail_json)
    assert decoded["jobID"] == JOB.job_id
    assert isinstance(decoded["eventData"], dict)


def test_lone_surrogates_and_control_characters_survive_as_valid_utf8() -> None:
    event = shape(item(rawError="bad \ud800 surrogate \x00\x07 tab\t"))
    encoded = event.detail_json.encode("utf-8")  # must not raise
    assert "\ufffd" in json.loads(encoded)["eventData"]["rawError"]
    assert "\x00" in json.loads(encoded)["eventData"]["rawError"]


def test_unknown_job_details_give_nulls_and_no_job_resource() -> None:
    event = build_event(
        item(),
        account_id=ACCOUNT,
        region="eu-west-1",
        job=JobInfo(job_id=JOB.job_id),
        position=0,
        source="s",
    )
    assert event.detail["jobType"] is None
    assert event.detail["initiatedBy"] is None
    assert event.resources == (f"arn:aws:mgn:eu-west-1:{ACCOUNT}:source-server/{SERVER}",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T10:00:00Z", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-11-25T10:00:00.5Z", datetime(2026, 11, 25, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-25T10:00:00.123456789Z", datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-25T12:00:00+02:00", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-11-25T10:00:00", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-13-25T10:00:00Z", None),
        ("0001-01-01T00:00:00+01:00", None),  # before year 1 in UTC
        ("9999-12-31T23:00:00-02:00", None),  # after year 9999 in UTC
        ("", None),
        (None, None),
    ],
)
def test_parse_log_datetime(text: str | None, expected: datetime | None) -> None:
    assert parse_log_datetime(text) == expected
