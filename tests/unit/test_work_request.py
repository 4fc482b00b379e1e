"""The work queue's message: its body, its group and deduplication ids, what is refused."""

from __future__ import annotations

import json
import string

import pytest

from mgn_exporter.work_request import (
    DEDUP_ID_MAX,
    REASON_CONTINUATION,
    REASON_SCHEDULE,
    BadMessage,
    WorkRequest,
    parse_body,
    redelivered,
    sent_at,
)

ACCOUNT = "123456789012"
# What SQS accepts in a MessageDeduplicationId: alphanumerics and punctuation.
DEDUP_SAFE = set(string.ascii_letters + string.digits + string.punctuation)


@pytest.mark.parametrize(
    "request_",
    [
        WorkRequest(ACCOUNT, REASON_SCHEDULE, "2026-11-25T12:00:00Z"),
        WorkRequest(ACCOUNT, REASON_CONTINUATION, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
        WorkRequest(ACCOUNT, REASON_SCHEDULE, ""),
    ],
)
def test_a_request_survives_its_body(request_: WorkRequest) -> None:
    assert parse_body(request_.body()) == request_
    assert request_.group_id() == ACCOUNT


def test_the_body_is_compact_versioned_json() -> None:
    body = WorkRequest(ACCOUNT, REASON_SCHEDULE, "t").body()
    assert json.loads(body) == {
        "version": 1,
        "accountId": ACCOUNT,
        "reason": "schedule",
        "cause": "t",
    }
    assert " " not in body


def test_the_deduplication_id_names_account_reason_and_cause() -> None:
    tick = WorkRequest(ACCOUNT, REASON_SCHEDULE, "2026-11-25T12:00:00Z")
    assert tick.deduplication_id() == f"{ACCOUNT}:s:2026-11-25T12:00:00Z"
    hand_on = WorkRequest(ACCOUNT, REASON_CONTINUATION, "2026-11-25T12:00:00Z")
    assert hand_on.deduplication_id() != tick.deduplication_id()
    other = WorkRequest("210987654321", REASON_SCHEDULE, "2026-11-25T12:00:00Z")
    assert other.deduplication_id() != tick.deduplication_id()


@pytest.mark.parametrize(
    "cause",
    [
        "manual run 2026-11-25 12:00",  # spaces (a console test event)
        "tick\twith\ncontrol",
        "naïve ✓ \U0001f600",
        "x" * 500,
        "é" * 200,
    ],
)
def test_the_deduplication_id_is_always_one_sqs_accepts(cause: str) -> None:
    dedup = WorkRequest(ACCOUNT, REASON_SCHEDULE, cause).deduplication_id()
    assert 0 < len(dedup) <= DEDUP_ID_MAX == 128
    assert set(dedup) <= DEDUP_SAFE
    assert dedup.startswith(f"{ACCOUNT}:s:")
    # the same cause always maps to the same id (a retried tick is still deduplicated)
    assert WorkRequest(ACCOUNT, REASON_SCHEDULE, cause).deduplication_id() == dedup


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("export 123456789012 please", "not JSON"),
        ("", "not JSON"),
        ('["123456789012"]', "not a JSON object"),
        ('"123456789012"', "not a JSON object"),
        ('{"accountId": "123456789012", "reason": "schedule"}', "version"),
        ('{"version": 2, "accountId": "123456789012", "reason": "schedule"}', "version"),
        ('{"version": "1", "accountId": "123456789012", "reason": "schedule"}', "version"),
        ('{"version": true, "accountId": "123456789012", "reason": "schedule"}', "version"),
        ('{"version": 1, "reason": "schedule"}', "accountId"),
        ('{"version": 1, "accountId": "12345", "reason": "schedule"}', "accountId"),
        ('{"version": 1, "accountId": 123456789012, "reason": "schedule"}', "accountId"),
        ('{"version": 1, "accountId": "12345678901a", "reason": "schedule"}', "accountId"),
        ('{"version": 1, "accountId": "123456789012"}', "reason"),
        ('{"version": 1, "accountId": "123456789012", "reason": "urgent"}', "reason"),
    ],
)
def test_a_body_that_is_not_a_work_request_is_refused_for_good(body: str, complaint: str) -> None:
    with pytest.raises(BadMessage, match=complaint):
        parse_body(body)


def test_a_missing_cause_is_read_as_empty() -> None:
    body = json.dumps({"version": 1, "accountId": ACCOUNT, "reason": "continuation"})
    assert parse_body(body) == WorkRequest(ACCOUNT, REASON_CONTINUATION, "")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"attributes": {"SentTimestamp": "1764072000123"}}, 1764072000.123),
        ({"attributes": {"SentTimestamp": 1764072000000}}, 1764072000.0),
        ({"attributes": {}}, None),
        ({"attributes": None}, None),
        ({}, None),
        ({"attributes": {"SentTimestamp": "yesterday"}}, None),
        ({"attributes": {"SentTimestamp": None}}, None),
        ("not a record", None),
    ],
)
def test_sent_at_reads_the_records_sent_timestamp_in_seconds(
    record: object, expected: float | None
) -> None:
    assert sent_at(record) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"attributes": {"ApproximateReceiveCount": "1"}}, False),
        ({"attributes": {"ApproximateReceiveCount": "2"}}, True),
        ({"attributes": {"ApproximateReceiveCount": 7}}, True),
        ({"attributes": {}}, False),
        ({"attributes": {"ApproximateReceiveCount": "many"}}, False),
        ({}, False),
        (None, False),
    ],
)
def test_a_record_delivered_before_is_told_by_its_receive_count(
    record: object, expected: bool
) -> None:
    assert redelivered(record) is expected
