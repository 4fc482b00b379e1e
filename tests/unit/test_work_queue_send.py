"""Sending work requests: batches of ten against moto's SQS, per-entry failures against a stub."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mgn_exporter.errors import QueueUnavailable
from mgn_exporter.work_queue import WorkQueue
from mgn_exporter.work_request import REASON_SCHEDULE, WorkRequest, parse_body

TICK = "2026-11-25T12:00:00Z"


def requests(count: int, tick: str = TICK) -> list[WorkRequest]:
    return [WorkRequest(f"{100000000000 + n:012d}", REASON_SCHEDULE, tick) for n in range(count)]


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def fifo_url(sqs: Any) -> str:
    return str(
        sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    )


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(batch)
    return messages


def test_requests_go_out_ten_a_call_each_in_its_accounts_group(sqs: Any, fifo_url: str) -> None:
    queue = WorkQueue(sqs, fifo_url)
    queue.send(requests(23))
    assert queue.calls == 3
    messages = received(sqs, fifo_url)
    assert sorted(m["Body"] for m in messages) == sorted(r.body() for r in requests(23))
    for message in messages:
        request = parse_body(message["Body"])
        assert message["Attributes"]["MessageGroupId"] == request.account_id
        assert message["Attributes"]["MessageDeduplicationId"] == request.deduplication_id()


def test_the_same_requests_sent_again_are_dropped_by_sqs(sqs: Any, fifo_url: str) -> None:
    queue = WorkQueue(sqs, fifo_url)
    queue.send(requests(12))
    queue.send(requests(12))
    assert depth(sqs, fifo_url) == 12
    queue.send(requests(12, tick="2026-11-25T12:05:00Z"))
    assert depth(sqs, fifo_url) == 24


def test_nothing_to_send_makes_no_call(sqs: Any, fifo_url: str) -> None:
    queue = WorkQueue(sqs, fifo_url)
    queue.send([])
    assert queue.calls == 0


class StubSqs:
    """SendMessageBatch answering from a script: per call, the entry ids to fail."""

    def __init__(self, failures: list[dict[str, bool]], *, error: Exception | None = None) -> None:
        self.failures = list(failures)  # per call: {entry id: sender fault}
        self.error = error
        self.sent: list[list[str]] = []  # the accounts of each call's entries

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.sent.append([entry["MessageGroupId"] for entry in Entries])
        failing = self.failures.pop(0) if self.failures else {}
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in failing],
            "Failed": [
                {"Id": entry_id, "SenderFault": fault, "Code": "InternalError", "Message": "x"}
                for entry_id, fault in failing.items()
            ],
        }


def stub_queue(stub: StubSqs, sleeps: list[float], max_attempts: int = 4) -> WorkQueue:
    return WorkQueue(
        stub,  # type: ignore[arg-type]
        "https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo",
        max_attempts=max_attempts,
        sleep=sleeps.append,
    )


def test_an_entry_sqs_failed_is_sent_again_alone_after_a_backoff() -> None:
    stub = StubSqs([{"3": False, "7": False}, {"3": False}])
    sleeps: list[float] = []
    batch = requests(10)
    stub_queue(stub, sleeps).send(batch)
    assert stub.sent == [
        [r.account_id for r in batch],
        [batch[3].account_id, batch[7].account_id],
        [batch[3].account_id],
    ]
    assert len(sleeps) == 2 and all(0 <= s <= 2.0 for s in sleeps)


def test_an_entry_failing_every_attempt_is_named_in_queue_unavailable() -> None:
    stub = StubSqs([{"2": False}] * 4)
    batch = requests(12)
    with pytest.raises(QueueUnavailable, match=batch[2].account_id) as raised:
        stub_queue(stub, []).send(batch)
    # the second batch of ten was still sent: one stuck account does not hold back the others
    assert stub.sent[-1] == [r.account_id for r in batch[10:]]
    assert len(stub.sent) == 5
    assert batch[0].account_id not in str(raised.value)


def test_an_entry_refused_as_the_senders_fault_is_not_sent_again() -> None:
    stub = StubSqs([{"1": True}])
    with pytest.raises(QueueUnavailable, match="refused"):
        stub_queue(stub, []).send(requests(3))
    assert len(stub.sent) == 1


def test_a_failed_call_raises_queue_unavailable() -> None:
    error = ClientError(
        {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "gone"}},
        "SendMessageBatch",
    )
    with pytest.raises(QueueUnavailable, match="SendMessageBatch failed"):
        stub_queue(StubSqs([], error=error), []).send(requests(1))
