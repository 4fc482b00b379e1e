"""What Lambda's SQS event source mapping does, for running the worker outside AWS.

moto creates an AWS::Lambda::EventSourceMapping but cannot run it (its Lambda needs Docker), so
the sandbox, the fault suite, the benchmark and the tests poll the queue with this instead. It
keeps the semantics the exporter relies on:

* up to ``max_concurrency`` pollers, each receiving up to ``batch_size`` messages with all
  system attributes (FIFO message groups are moto's SQS own: no other poller gets a group's
  message while one of them is in flight);
* one invocation per batch, with the event Lambda builds (``Records`` of ``aws:sqs``);
* partial batch responses: the records named in ``batchItemFailures`` stay in the queue (they
  come back after their visibility timeout), the others are deleted; an invocation that raises
  (a function error, a crash, a timeout) leaves the whole batch to come back;
* redrive to the dead-letter queue after ``maxReceiveCount`` receives is moto's own.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

# One invocation: the SQS event in, the function's answer out (raises on a function error).
Invoke = Callable[[dict[str, Any]], Any]

# Short polls: a long poll would hold moto's queue lock (faultsuite.moto_fidelity) while it waits.
RECEIVE_WAIT_SECONDS = 0


@dataclass(frozen=True)
class MappingConfig:
    queue_url: str
    queue_arn: str
    region: str
    batch_size: int = 10
    max_concurrency: int = 2
    report_batch_item_failures: bool = True


@dataclass
class DrainStats:
    invocations: int = 0
    records: int = 0
    deleted: int = 0
    returned: int = 0  # left in the queue: reported failed, or the invocation failed
    function_errors: int = 0
    seconds: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)


def lambda_sqs_event(messages: Sequence[dict[str, Any]], config: MappingConfig) -> dict[str, Any]:
    """The event Lambda passes for a batch of ReceiveMessage messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes")),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": config.queue_arn,
                "awsRegion": config.region,
            }
            for message in messages
        ]
    }


def _lambda_message_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """ReceiveMessage's MessageAttributes in the shape Lambda's SQS records carry them."""
    converted: dict[str, Any] = {}
    for name, value in (attributes or {}).items():
        entry: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        converted[name] = entry
    return converted


def failed_ids(
    response: Any, config: MappingConfig, batch_ids: Collection[str] | None = None
) -> set[str] | None:
    """The message ids the function reported failed; None: the whole batch failed.

    With `batch_ids` (the batch's message ids), a failure naming a message not in the batch
    fails the whole batch, as Lambda does."""
    if not config.report_batch_item_failures:
        return set()
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return None  # Lambda treats a malformed failure list as a failed batch
        if batch_ids is not None and identifier not in batch_ids:
            return None  # ...and a message id that is not in the batch
        ids.add(identifier)
    return ids


class EventSourceMapping:
    """Polls the queue with `max_concurrency` pollers; `invokers` gives each poller its own
    function (e.g. one worker process each, like one Lambda execution environment)."""

    def __init__(
        self,
        sqs: Any,
        config: MappingConfig,
        invokers: Sequence[Invoke],
        *,
        on_batch: Callable[[dict[str, Any], Any, float], None] | None = None,
    ) -> None:
        if len(invokers) < 1:
            raise ValueError("at least one invoker")
        self._sqs = sqs
        self._config = config
        self._invokers = list(invokers)[: config.max_concurrency]
        self._on_batch = on_batch
        self._lock = threading.Lock()
        self.stats = DrainStats()

    def queue_depth(self) -> tuple[int, int]:
        """(visible, in flight) messages, as SQS reports them."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._config.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    def drain(self, *, timeout: float, until: Callable[[], bool] | None = None) -> DrainStats:
        """Run the pollers until the queue is empty (nothing visible, nothing in flight) or
        `until()` says so, or `timeout` seconds pass (TimeoutError)."""
        started = time.monotonic()
        stop = threading.Event()
        busy = [False] * len(self._invokers)
        errors: list[BaseException] = []

        def poller(slot: int) -> None:
            try:
                while not stop.is_set():
                    busy[slot] = self.poll_once(slot)
                    if not busy[slot]:
                        time.sleep(0.05)
            except BaseException as exc:  # a harness defect: stop everything and report it
                errors.append(exc)
                stop.set()

        threads = [
            threading.Thread(target=poller, args=(slot,), name=f"esm-poller-{slot}", daemon=True)
            for slot in range(len(self._invokers))
        ]
        for thread in threads:
            thread.start()
        try:
            while not stop.is_set():
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"queue not drained in {timeout} s: {self.queue_depth()}")
                if until is not None and until():
                    break
                # Both counts must be of one instant: a message whose visibility timeout ends
                # between two readings is in neither, and the drain would end before it comes
                # back (faultsuite.moto_fidelity.atomic_sqs_queues makes moto's read so).
                if not any(busy) and self.queue_depth() == (0, 0) and not any(busy):
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]
        self.stats.seconds += time.monotonic() - started
        return self.stats

    def poll_once(self, slot: int = 0) -> bool:
        """One receive and, if it got messages, one invocation; True if it invoked."""
        config = self._config
        messages = self._sqs.receive_message(
            QueueUrl=config.queue_url,
            MaxNumberOfMessages=config.batch_size,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        event = lambda_sqs_event(messages, config)
        began = time.monotonic()
        try:
            response = self._invokers[slot](event)
            failed = failed_ids(response, config, [message["MessageId"] for message in messages])
        except Exception as exc:  # a function error: the whole batch comes back
            response = exc
            failed = None
            with self._lock:
                self.stats.function_errors += 1
                self.stats.errors[type(exc).__name__] += 1
        elapsed = time.monotonic() - began
        if failed is None:
            failed = {message["MessageId"] for message in messages}
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=config.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(chunk)
                ],
            )
        with self._lock:
            self.stats.invocations += 1
            self.stats.records += len(messages)
            self.stats.deleted += len(done)
            self.stats.returned += len(messages) - len(done)
        if self._on_batch is not None:
            self._on_batch(event, response, elapsed)
        return True
