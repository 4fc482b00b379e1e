"""The local cloud a scenario runs against, and the ledger of what reached both sinks.

moto's server runs in this process (with the suite's speed-ups), the MGN emulator too, and the
fault proxy stands in front of both: the functions' processes only ever see the proxy
(``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_MGN``), so their SQS calls (the dispatcher's work
requests, the workers' hand-ons) are faulted and counted like every other call. The suite's own
reads, and the event source mapping's receives and deletes (AWS's side, not the exporter's), go to
moto directly, so they are neither faulted nor counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3

from local.fault_proxy import FaultProxy
from local.faultsuite.moto_fidelity import atomic_dynamodb_items, atomic_sqs_queues
from local.faultsuite.names import DeliveredCopy
from local.mgn_emulator import MgnEmulator
from mgn_exporter.checkpoint import AccountState
from mgn_exporter.checkpoint_store import PARTITION_KEY, _state_from_item, account_key
from mgn_exporter.derived_events import DERIVED_DETAIL_TYPES
from mgn_exporter.events import event_id_for
from mgn_exporter.work_request import REASON_CONTINUATION, BadMessage, parse_body

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_mgn import MgnClient
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
OWN_ACCOUNT = "111111111111"
SOURCE = "mgn.joblog.faultsuite"
BUS = "mgn-job-log-events"
LOG_GROUP = "/mgn-job-log-exporter/events"
TABLE = "mgn-job-log-exporter-checkpoints"
RULE = "all-job-log-events"
DETAIL_TYPE = "MGN Job Log Event"  # a job log item; the derived events have their own
WORK_QUEUE = "mgn-job-log-exporter-work.fifo"
DEAD_LETTER_QUEUE = "mgn-job-log-exporter-work-dlq.fifo"
# The stack's default (workerMaxReceiveCount).
MAX_RECEIVE_COUNT = 5
RETRY_BACKOFF_SECONDS = 1
# A completed job stays open this long after MGN's endDateTime (the stack's 15 minutes), and
# up to the wait while its post-launch actions run (the stack's 60 minutes): in seconds, which
# the stack never sets. Longer than any scenario, so that a job settles exactly when the
# harness moves its endDateTime that far into the past (harness.Harness.settle_job): never
# because a machine was slow or fast.
COMPLETED_JOB_GRACE_SECONDS = 600
POST_LAUNCH_WAIT_SECONDS = 1200
MOTO_ACCOUNT = "123456789012"  # the account moto's server puts every resource in


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port, in this process; yields its URL."""
    import importlib
    import logging

    from moto.server import ThreadedMotoServer

    # The test suite's speed-ups of moto (same results): SQS scans and rule targets.
    importlib.import_module("tests.moto_speedups").apply()
    atomic_dynamodb_items()
    atomic_sqs_queues()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def reset_moto(moto_url: str) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


@dataclass(frozen=True)
class DeadLetter:
    body: str
    group_id: str
    receive_count: int


@dataclass(frozen=True)
class DerivedCopy:
    """One copy of a derived event in one sink: its DetailType (the bus entry's, or the log
    line's `detailType`) and its Detail."""

    sink: str  # "eventbridge" or "logs"
    detail_type: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.detail.get("eventId"))


@dataclass(frozen=True)
class ItemKey:
    account_id: str
    job_id: str
    position: int


class Cloud:
    """One scenario's world: the deployed resources in moto, MGN, the proxy, and the sinks."""

    def __init__(
        self,
        moto_url: str,
        emulator: MgnEmulator,
        proxy: FaultProxy,
        *,
        accounts: tuple[str, ...] = (OWN_ACCOUNT,),
        margin_seconds: int = 2,
        max_attempts: int | None = None,
        visibility_timeout: int = 4,
        max_receive_count: int = MAX_RECEIVE_COUNT,
    ) -> None:
        self.moto_url = moto_url
        self.emulator = emulator
        self.proxy = proxy
        self.accounts = accounts
        self.margin_seconds = margin_seconds
        self.max_attempts = max_attempts
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        kwargs: dict[str, Any] = {
            "region_name": REGION,
            "endpoint_url": moto_url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.events: EventBridgeClient = boto3.client("events", **kwargs)
        self.sqs: SQSClient = boto3.client("sqs", **kwargs)
        self.logs: CloudWatchLogsClient = boto3.client("logs", **kwargs)
        self.dynamodb: DynamoDBClient = boto3.client("dynamodb", **kwargs)
        self._mgn: MgnClient = emulator.client()
        self._bus_seen: Counter[str] = Counter()
        self._logs_seen: Counter[str] = Counter()
        # Derived events (their DetailType, or a log line with `detailType`) apart from items.
        self._bus_derived: Counter[str] = Counter()
        self._logs_derived: Counter[str] = Counter()
        self.derived_copies: list[DerivedCopy] = []
        # Bus entries of a DetailType the exporter does not send (counted, as a problem).
        self.strays: Counter[str] = Counter()
        self._stream_read: dict[str, int] = {}
        self.details: dict[str, dict[str, Any]] = {}  # eventId -> a Detail as delivered
        # Every copy either sink delivered, as far as its names go (see names.check_names).
        self.copies: list[DeliveredCopy] = []
        # The sinks are read from the pollers' threads too (the crash scenario's accounting).
        self._sinks_lock = threading.Lock()
        self._deploy()

    def _deploy(self) -> None:
        self.dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.events.create_event_bus(Name=BUS)
        self.queue_url = self.sqs.create_queue(QueueName="delivered")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.events.put_rule(
            Name=RULE,
            EventBusName=BUS,
            EventPattern=json.dumps(
                {"source": [SOURCE], "detail-type": [DETAIL_TYPE, *DERIVED_DETAIL_TYPES]}
            ),
        )
        self.events.put_targets(
            Rule=RULE, EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        self.logs.create_log_group(logGroupName=LOG_GROUP)
        self._deploy_work_queue()

    def _deploy_work_queue(self) -> None:
        """The FIFO work queue and its FIFO dead-letter queue, as the stack makes them, with a
        short visibility timeout so that returned batches come back within a scenario."""
        dlq_url = self.sqs.create_queue(
            QueueName=DEAD_LETTER_QUEUE, Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        dlq_arn = self._queue_arn(dlq_url)
        self.work_queue_url = self.sqs.create_queue(
            QueueName=WORK_QUEUE,
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "VisibilityTimeout": str(self.visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": self.max_receive_count}
                ),
            },
        )["QueueUrl"]
        self.work_queue_arn = self._queue_arn(self.work_queue_url)

    def _queue_arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    # -- the functions' environments -------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        """The worker's environment as the stack sets it, plus the SDK's, through the proxy."""
        env = self._base_env()
        env.update(
            {
                "EVENT_BUS_NAME": BUS,
                "EVENT_SOURCE": SOURCE,
                "EVENT_LOG_GROUP_NAME": LOG_GROUP,
                "CHECKPOINT_TABLE_NAME": TABLE,
                "WORK_QUEUE_URL": self.work_queue_url,
                "BACKFILL_DAYS": "7",
                "DISCOVERY_OVERLAP_MINUTES": "60",
                "DEADLINE_MARGIN_SECONDS": str(self.margin_seconds),
                # The stack's 30 s, scaled down like the visibility timeout: a failed record
                # comes back after 1, 2, 4... seconds.
                "RETRY_BACKOFF_SECONDS": str(RETRY_BACKOFF_SECONDS),
                "COMPLETED_JOB_GRACE_SECONDS": str(COMPLETED_JOB_GRACE_SECONDS),
                "POST_LAUNCH_WAIT_SECONDS": str(POST_LAUNCH_WAIT_SECONDS),
            }
        )
        return env

    def dispatcher_env(self) -> dict[str, str]:
        """The dispatcher's environment: the accounts and the work queue."""
        env = self._base_env()
        env.update({"ACCOUNTS": ",".join(self.accounts), "WORK_QUEUE_URL": self.work_queue_url})
        return env

    def _base_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(
                ("AWS_", "POWERTOOLS_", "EVENT_", "CHECKPOINT_", "WORK_QUEUE_", "ACCOUNTS")
            )
        }
        env.update(
            {
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_ENDPOINT_URL": self.proxy.endpoint_url,
                "AWS_ENDPOINT_URL_MGN": self.proxy.endpoint_url,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "mgn-job-log-exporter",
                "POWERTOOLS_METRICS_NAMESPACE": "MgnJobLogExporterFaultSuite",
                # INFO: the run summaries ("Batch finished", "Work dispatched") are INFO lines.
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "FAULTSUITE_OWN_ACCOUNT": OWN_ACCOUNT,
                "PYTHONPATH": os.pathsep.join(
                    [str(Path(__file__).resolve().parents[2] / "lambda_src")]
                    + [p for p in [os.environ.get("PYTHONPATH", "")] if p]
                ),
            }
        )
        if self.max_attempts is not None:
            env["AWS_MAX_ATTEMPTS"] = str(self.max_attempts)
        return env

    # -- what MGN holds ---------------------------------------------------------------------------

    def expected(self, jobs: dict[str, list[str]]) -> dict[str, ItemKey]:
        """eventId -> item, for every item of these jobs ({account: [job ids]}) as MGN serves
        it now: read with boto3 straight from the emulator, so that the items are what any
        client gets once botocore parsed them (its model drops members MGN does not have)."""
        expected: dict[str, ItemKey] = {}
        for account_id, job_ids in jobs.items():
            for job_id in job_ids:
                for position, item in enumerate(self.job_log(account_id, job_id)):
                    event_id = event_id_for(account_id, job_id, position, item)
                    expected[event_id] = ItemKey(account_id, job_id, position)
        return expected

    def job_log(self, account_id: str, job_id: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"jobID": job_id}
        if account_id != OWN_ACCOUNT:
            params["accountID"] = account_id
        items: list[dict[str, Any]] = []
        for page in self._mgn.get_paginator("describe_job_log_items").paginate(**params):
            items.extend(cast(list[dict[str, Any]], page.get("items", [])))
        return items

    # -- what reached the sinks -------------------------------------------------------------------

    def wait_quiet(self, timeout: float = 30.0) -> None:
        """Wait until no call is in flight in the proxy (a killed caller's last call lands)."""
        deadline = time.monotonic() + timeout
        while self.proxy.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)

    def bus_ids(self) -> Counter[str]:
        """Copies of each job log item's eventId the rule delivered from the bus (read from its
        SQS target)."""
        with self._sinks_lock:
            return self._read_bus()

    def derived_ids(self) -> tuple[Counter[str], Counter[str]]:
        """Copies of each derived event's eventId in (EventBridge, the log group)."""
        with self._sinks_lock:
            self._read_bus()
            self._read_logs()
            return Counter(self._bus_derived), Counter(self._logs_derived)

    def _read_bus(self) -> Counter[str]:
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return Counter(self._bus_seen)
            for message in messages:
                entry = json.loads(message["Body"])
                detail, detail_type = entry["detail"], str(entry.get("detail-type"))
                if detail_type in DERIVED_DETAIL_TYPES:
                    self._bus_derived[detail["eventId"]] += 1
                    self.derived_copies.append(DerivedCopy("eventbridge", detail_type, detail))
                    continue
                if detail_type != DETAIL_TYPE:
                    self.strays[detail_type] += 1
                    continue
                self._bus_seen[detail["eventId"]] += 1
                self.details.setdefault(detail["eventId"], detail)
                self.copies.append(DeliveredCopy.of("eventbridge", detail))
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def log_ids(self) -> Counter[str]:
        """Copies of each eventId in the event log group (read on from where the last read ended).

        Read from moto's own store, which runs in this process: its streams keep events in
        arrival order, whereas GetLogEvents sorts them by timestamp and pages by index, so an
        older event arriving later would shift the pages between two reads.
        """
        with self._sinks_lock:
            return self._read_logs()

    def _read_logs(self) -> Counter[str]:
        from moto.logs.models import logs_backends

        group = logs_backends[MOTO_ACCOUNT][REGION].groups[LOG_GROUP]
        for name, stream in list(group.streams.items()):
            events = list(stream.events)
            for event in events[self._stream_read.get(name, 0) :]:
                detail = json.loads(event.message)
                if "detailType" in detail:  # a derived event: an item's line has none
                    self._logs_derived[detail["eventId"]] += 1
                    self.derived_copies.append(
                        DerivedCopy("logs", str(detail["detailType"]), detail)
                    )
                    continue
                self._logs_seen[detail["eventId"]] += 1
                self.copies.append(DeliveredCopy.of("logs", detail))
            self._stream_read[name] = len(events)
        return Counter(self._logs_seen)

    def delivered_copies(self) -> list[DeliveredCopy]:
        """Every copy of an item both sinks delivered so far (read on from where the last read
        ended)."""
        with self._sinks_lock:
            self._read_bus()
            self._read_logs()
            return list(self.copies)

    def delivered_derived(self) -> list[DerivedCopy]:
        """Every copy of a derived event both sinks delivered so far."""
        with self._sinks_lock:
            self._read_bus()
            self._read_logs()
            return list(self.derived_copies)

    # -- the work queue ---------------------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        """What the dead-letter queue holds, read from moto's store (nothing is received)."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[MOTO_ACCOUNT][REGION].queues[DEAD_LETTER_QUEUE]
        return [
            DeadLetter(
                body=message.body,
                group_id=message.group_id or "",
                receive_count=message.approximate_receive_count,
            )
            for message in list(queue._messages)
        ]

    def deliverable(self) -> int:
        """Messages of the work queue a receive could return now: visible, and not behind a
        message of their group still in flight (a FIFO group is blocked meanwhile)."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[MOTO_ACCOUNT][REGION].queues[WORK_QUEUE]
        messages = list(queue._messages)
        in_flight = {message.group_id for message in messages if not message.visible}
        return sum(
            1
            for message in messages
            if message.visible and not message.delayed and message.group_id not in in_flight
        )

    def continuations(self) -> int:
        """Continuation requests (hand-ons) in the work queue, visible or in flight."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[MOTO_ACCOUNT][REGION].queues[WORK_QUEUE]
        count = 0
        for message in list(queue._messages):
            with contextlib.suppress(BadMessage):
                count += parse_body(message.body).reason == REASON_CONTINUATION
        return count

    def groups_in_flight(self) -> set[str]:
        """Message groups (accounts) of which a message is in flight now."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[MOTO_ACCOUNT][REGION].queues[WORK_QUEUE]
        return {message.group_id or "" for message in list(queue._messages) if not message.visible}

    def queue_depth(self) -> tuple[int, int]:
        """(visible, in flight) messages of the work queue."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.work_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    # -- the checkpoint table ---------------------------------------------------------------------

    def state(self, account_id: str) -> AccountState:
        item = self.dynamodb.get_item(
            TableName=TABLE, Key={PARTITION_KEY: {"S": account_key(account_id)}}
        ).get("Item", {})
        return _state_from_item(account_id, dict(item))

    def lease_free(self, account_id: str, now: float | None = None) -> bool:
        item = self.dynamodb.get_item(
            TableName=TABLE, Key={PARTITION_KEY: {"S": account_key(account_id)}}
        ).get("Item", {})
        until = item.get("leaseExpiresAt", {}).get("N")
        return until is None or float(until) < (time.time() if now is None else now)


def recent(minutes: int = 30) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)
