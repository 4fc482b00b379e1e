"""The sandbox's drain of the work queue (sandbox.drain) against moto's SQS: a FIFO queue, two
pollers, and worker environments that behave as the deployed worker does (hand-ons, failed
records reported in batchItemFailures), scripted so that what the drain did is known."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from local.esm_emulator import MappingConfig
from local.moto_deploy import local_session, moto_server
from local.sandbox import moto_patches
from local.sandbox.drain import WorkQueueDrain
from local.sandbox.errors import SandboxError
from local.sandbox.function import Invocation

REGION = "us-east-1"
# Long enough that a failed record cannot come back during a test.
VISIBILITY_TIMEOUT = 60


class Queues:
    def __init__(self, endpoint: str) -> None:
        self.sqs = local_session(REGION).client("sqs", endpoint_url=endpoint)
        name = uuid.uuid4().hex[:8]
        self.dlq_url = self.sqs.create_queue(
            QueueName=f"dlq-{name}.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        self.url = self.sqs.create_queue(
            QueueName=f"work-{name}.fifo",
            Attributes={
                "FifoQueue": "true",
                "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": self.arn(self.dlq_url), "maxReceiveCount": 5}
                ),
            },
        )["QueueUrl"]

    def arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def request(self, account: str, cause: str) -> None:
        self.sqs.send_message(
            QueueUrl=self.url,
            MessageBody=json.dumps({"version": 1, "accountId": account, "cause": cause}),
            MessageGroupId=account,
            MessageDeduplicationId=f"{account}:{cause}",
        )

    def depth(self) -> tuple[int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )


class ScriptedWorker:
    """A worker environment: account FAIL always fails; account SLOW needs two invocations
    (the first hands on a continuation); any other account is exported at once. It logs its
    "Batch finished" line as the deployed worker does and answers batchItemFailures."""

    def __init__(self, queues: Queues, calls: list[list[str]]) -> None:
        self._queues = queues
        self._calls = calls
        self._lock = threading.Lock()
        self._slow_started = False

    def invoke(self, event: dict[str, Any], budget_seconds: float) -> Invocation:
        records = event["Records"]
        accounts = {str(json.loads(r["body"])["accountId"]) for r in records}
        with self._lock:
            self._calls.append(sorted(accounts))
            first_slow = "SLOW" in accounts and not self._slow_started
            self._slow_started |= first_slow
        reported, handed_on = [], []
        for account in sorted(accounts):
            outcome = "failed" if account == "FAIL" else "exported"
            backlog = account == "SLOW" and first_slow
            if backlog:
                self._queues.request("SLOW", "continuation")
                handed_on.append(account)
            reported.append(
                {"account_id": account, "outcome": outcome, "items_exported": 5, "backlog": backlog}
            )
        failures = [
            {"itemIdentifier": r["messageId"]}
            for r in records
            if json.loads(r["body"])["accountId"] == "FAIL"
        ]
        summary = {
            "level": "INFO",
            "message": "Batch finished",
            "itemsExported": 5 * len(accounts),
            "accounts": reported,
            "handedOn": handed_on,
            "batchItemFailures": len(failures),
        }
        return Invocation(
            request_id=str(uuid.uuid4()),
            ok=True,
            duration_seconds=0.01,
            cold=False,
            result={"batchItemFailures": failures},
            log_lines=["START (a platform line, not JSON)", json.dumps(summary)],
        )

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    moto_patches.apply()  # atomic receives: two pollers share the queue
    with moto_server() as url:
        yield url


def _drain(queues: Queues, calls: list[list[str]], published: list[Invocation]) -> WorkQueueDrain:
    worker = ScriptedWorker(queues, calls)
    return WorkQueueDrain(
        queues.sqs,
        MappingConfig(queue_url=queues.url, queue_arn=queues.arn(queues.url), region=REGION),
        dead_letter_queue_url=queues.dlq_url,
        environments=[worker, worker],
        publish=lambda environment, invocation: published.append(invocation),
        budget_seconds=10,
    )


def test_a_tick_ends_when_only_a_failed_record_waits_for_its_retry(endpoint: str) -> None:
    queues = Queues(endpoint)
    calls: list[list[str]] = []
    published: list[Invocation] = []
    drain = _drain(queues, calls, published)

    for account in ("OK", "SLOW", "FAIL"):
        queues.request(account, "tick-1")
    first = drain.run(timeout=30)

    # Every account was worked on; SLOW's hand-on was worked on in the same drain; FAIL's
    # record was reported failed and waits, so the drain did not wait for it.
    assert first.seconds < VISIBILITY_TIMEOUT / 2
    assert sorted(a for call in calls for a in call).count("SLOW") == 2
    assert {a for call in calls for a in call} == {"OK", "SLOW", "FAIL"}
    assert [b.handed_on for b in first.batches if b.handed_on] == [["SLOW"]]
    assert [b.failed_accounts() for b in first.batches if b.failed_ids] == [["FAIL"]]
    assert sum(b.items_exported for b in first.batches) == 5 * sum(len(c) for c in calls)
    assert first.waiting == {"FAIL": 1} and first.dead_letters == {}
    assert (first.visible, first.in_flight) == (0, 1) == queues.depth()
    assert len(published) == len(first.batches) == len(calls)

    # The next tick's request for FAIL is held behind the failed one (FIFO): not received,
    # and the drain still ends without waiting.
    calls.clear()
    for account in ("OK", "FAIL"):
        queues.request(account, "tick-2")
    second = drain.run(timeout=30)
    assert calls == [["OK"]]
    assert second.waiting == {"FAIL": 1}
    assert (second.visible, second.in_flight) == (1, 1)
    assert not second.waited_for_retries

    # A drain tick waits for the retry of an account it must export, up to its limit.
    calls.clear()
    started = time.monotonic()
    third = drain.run(timeout=30, wait_for={"FAIL"}, retry_wait_seconds=1.0)
    assert 1.0 <= time.monotonic() - started < VISIBILITY_TIMEOUT / 2
    assert third.waited_for_retries and third.batches == [] and calls == []


def test_an_environment_that_cannot_start_stops_the_drain(endpoint: str) -> None:
    queues = Queues(endpoint)

    class Broken:
        def invoke(self, event: dict[str, Any], budget_seconds: float) -> Invocation:
            raise SandboxError("the function failed to initialize: ImportError")

        def close(self) -> None:
            pass

    drain = WorkQueueDrain(
        queues.sqs,
        MappingConfig(queue_url=queues.url, queue_arn=queues.arn(queues.url), region=REGION),
        dead_letter_queue_url=queues.dlq_url,
        environments=[Broken()],
        publish=lambda environment, invocation: None,
        budget_seconds=10,
    )
    queues.request("OK", "tick-1")
    with pytest.raises(SandboxError, match="failed to initialize"):
        drain.run(timeout=30)


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def test_moto_keeps_the_event_source_mapping_as_configuration_only(endpoint: str) -> None:
    from moto.sqs.models import sqs_backends

    session = local_session(REGION)
    iam = session.client("iam", endpoint_url=endpoint)
    lambda_client = session.client("lambda", endpoint_url=endpoint)
    queues = Queues(endpoint)
    role = iam.create_role(
        RoleName=f"worker-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    function = lambda_client.create_function(
        FunctionName=f"worker-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _function_zip()},
    )
    lambda_client.create_event_source_mapping(
        EventSourceArn=queues.arn(queues.url),
        FunctionName=function["FunctionName"],
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 8},
    )

    # Listed with its configuration, for the sandbox to read...
    (mapping,) = lambda_client.list_event_source_mappings(FunctionName=function["FunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 8}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # ...but not attached to the queue, so moto's SendMessage does not consume the message
    # (nor try to run the function in Docker).
    arn = queues.arn(queues.url)
    account = arn.split(":")[4]
    (queue,) = (q for q in sqs_backends[account][REGION].queues.values() if q.queue_arn == arn)
    assert queue.lambda_event_source_mappings == {}
    queues.request("OK", "tick-1")
    (message,) = queues.sqs.receive_message(
        QueueUrl=queues.url, AttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
