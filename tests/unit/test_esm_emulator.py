"""The local event source mapping: Lambda's SQS event, its reading of partial batch responses,
and what it leaves in the queue (against moto's in-process SQS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.esm_emulator import EventSourceMapping, MappingConfig, failed_ids, lambda_sqs_event

ARN = "arn:aws:sqs:us-east-1:123456789012:work.fifo"
CONFIG = MappingConfig(
    queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo",
    queue_arn=ARN,
    region="us-east-1",
)
BATCH = {"a", "b", "c"}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),  # Lambda: a null response is a success
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}, {"a", "c"}),
        # a malformed answer fails the whole batch, as in Lambda
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"messageId": "a"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "z"}]}, None),  # not in the batch
        ({"batchItemFailures": ["a"]}, None),
        ({"batchItemFailures": "a"}, None),
        ("OK", None),
        (["a"], None),
    ],
)
def test_a_partial_batch_response_is_read_as_lambda_reads_it(
    response: Any, expected: set[str] | None
) -> None:
    assert failed_ids(response, CONFIG, BATCH) == expected


def test_without_a_batch_an_unknown_id_is_taken_as_reported() -> None:
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "z"}]}, CONFIG) == {"z"}


def test_without_report_batch_item_failures_the_response_is_ignored() -> None:
    config = MappingConfig(CONFIG.queue_url, ARN, "us-east-1", report_batch_item_failures=False)
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, config, BATCH) == set()


def test_the_event_has_lambdas_sqs_record_shape() -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": '{"x": 1}',
        "MD5OfBody": "d41d8cd98f00b204e9800998ecf8427e",
        "Attributes": {"SentTimestamp": "1764072000123", "MessageGroupId": "g"},
        "MessageAttributes": {
            "origin": {"StringValue": "test", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
    }
    (record,) = lambda_sqs_event([message], CONFIG)["Records"]
    assert record == {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": '{"x": 1}',
        "attributes": {"SentTimestamp": "1764072000123", "MessageGroupId": "g"},
        "messageAttributes": {
            "origin": {
                "stringValue": "test",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "blob": {
                "binaryValue": "AAE=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": "d41d8cd98f00b204e9800998ecf8427e",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }
    assert lambda_sqs_event([], CONFIG) == {"Records": []}


# -- against moto's SQS ----------------------------------------------------------------------


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def queue_with(sqs: Any, bodies: list[str]) -> tuple[MappingConfig, list[str]]:
    url = sqs.create_queue(
        QueueName="work.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"},
    )["QueueUrl"]
    ids = [
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId=body, MessageDeduplicationId=body
        )["MessageId"]
        for body in bodies
    ]
    return MappingConfig(url, ARN, "us-east-1", batch_size=10, max_concurrency=1), ids


def test_records_reported_failed_stay_in_the_queue_and_the_others_are_deleted(sqs: Any) -> None:
    config, ids = queue_with(sqs, ["a", "b", "c"])
    batches: list[tuple[dict[str, Any], Any]] = []

    def invoke(event: dict[str, Any]) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}

    mapping = EventSourceMapping(
        sqs, config, [invoke], on_batch=lambda event, response, _: batches.append((event, response))
    )
    assert mapping.poll_once(0)
    # Then one invocation saw the three records, with their system attributes
    ((event, response),) = batches
    assert [r["messageId"] for r in event["Records"]] == ids
    assert response == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert all(r["attributes"]["MessageGroupId"] == r["body"] for r in event["Records"])
    assert all("SentTimestamp" in r["attributes"] for r in event["Records"])
    # And only the failed record is left, in flight until its visibility timeout ends
    assert mapping.queue_depth() == (0, 1)
    assert (mapping.stats.deleted, mapping.stats.returned) == (2, 1)
    assert mapping.stats.function_errors == 0
    assert not mapping.poll_once(0)  # nothing visible: no invocation


def test_a_function_error_leaves_the_whole_batch(sqs: Any) -> None:
    config, _ = queue_with(sqs, ["a", "b"])

    def invoke(event: dict[str, Any]) -> Any:
        raise TimeoutError("Task timed out")

    mapping = EventSourceMapping(sqs, config, [invoke])
    assert mapping.poll_once(0)
    assert mapping.queue_depth() == (0, 2)
    assert mapping.stats.function_errors == 1 and mapping.stats.errors["TimeoutError"] == 1
    assert mapping.stats.returned == 2 and mapping.stats.deleted == 0


def test_a_failure_naming_a_message_not_in_the_batch_leaves_the_whole_batch(sqs: Any) -> None:
    config, _ = queue_with(sqs, ["a", "b"])
    mapping = EventSourceMapping(
        sqs, config, [lambda event: {"batchItemFailures": [{"itemIdentifier": "nope"}]}]
    )
    assert mapping.poll_once(0)
    assert mapping.queue_depth() == (0, 2)


def test_drain_invokes_until_the_queue_is_empty(sqs: Any) -> None:
    config, _ = queue_with(sqs, [json.dumps(n) for n in range(25)])
    seen: list[int] = []
    mapping = EventSourceMapping(
        sqs, config, [lambda event: seen.extend(json.loads(r["body"]) for r in event["Records"])]
    )
    stats = mapping.drain(timeout=30)
    assert sorted(seen) == list(range(25))
    assert stats.records == 25 and stats.deleted == 25 and stats.invocations >= 3
    assert mapping.queue_depth() == (0, 0)


def test_a_mapping_needs_a_function() -> None:
    with pytest.raises(ValueError, match="invoker"):
        EventSourceMapping(object(), CONFIG, [])
