"""What faultsuite.moto_fidelity restores of SQS's behaviour in moto (in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import boto3
import moto.sqs.models as sqs_models
import pytest
from moto import mock_aws

from local.faultsuite.moto_fidelity import atomic_sqs_queues

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@pytest.fixture
def sqs() -> Iterator[SQSClient]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def test_the_queue_depth_is_read_at_one_instant(
    sqs: SQSClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a message in flight, and moto's clock moving on a little at every reading
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)
    readings: list[float] = []
    base = sqs_models.unix_time_millis()  # type: ignore[attr-defined]

    def moving_clock(dt: datetime | None = None) -> float:
        readings.append(base + len(readings))
        return readings[-1]

    monkeypatch.setattr(sqs_models, "unix_time_millis", moving_clock)
    atomic_sqs_queues()
    # When the visible and in-flight counts are read, as the event source mapping's idle
    # check reads them
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    # Then moto judged every message's visibility at one instant (without the fix it reads the
    # clock anew for every message, every attribute and every name asked for, so a message
    # whose visibility timeout ends meanwhile can be counted in neither), and counted it once
    assert len(readings) == 1
    assert attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }
