"""Integration harness: moto's server and the MGN emulator over HTTP, the real handler.

The exporter is configured exactly as in Lambda: its Environment plus AWS_ENDPOINT_URL (moto)
and AWS_ENDPOINT_URL_MGN (the emulator). What reached EventBridge is read from an SQS queue
that a rule on the bus targets; what reached the log group is read back from moto.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.fault_proxy import FaultProxy
from local.faultsuite.moto_fidelity import atomic_dynamodb_items
from local.mgn_emulator import MgnEmulator
from mgn_exporter.checkpoint import AccountState
from mgn_exporter.checkpoint_store import PARTITION_KEY, _state_from_item, account_key
from mgn_exporter.settings import get_settings
from tests import moto_speedups

REGION = "us-east-1"
OWN_ACCOUNT = "111111111111"
SOURCE = "mgn.joblog.exporter.test"
BUS = "mgn-job-log-events"
LOG_GROUP = "/mgn-job-log-exporter/events"
TABLE = "mgn-job-log-exporter-checkpoints"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    moto_speedups.apply()
    # moto's conditional writes are not atomic under concurrency (the overlap test needs it).
    atomic_dynamodb_items()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def emulator() -> Iterator[MgnEmulator]:
    with MgnEmulator(caller_account=OWN_ACCOUNT, region=REGION) as emu:
        yield emu


SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": OWN_ACCOUNT,
    "time": "2026-11-25T12:00:00Z",
    "region": REGION,
    "resources": [f"arn:aws:events:{REGION}:{OWN_ACCOUNT}:rule/mgn-job-log-exporter-schedule"],
    "detail": {},
}


class World:
    """The deployed resources in moto, and what reached them."""

    def __init__(self, endpoint: str, emulator: MgnEmulator) -> None:
        self.endpoint = endpoint
        self.emulator = emulator
        kwargs: dict[str, Any] = {"region_name": REGION, "endpoint_url": endpoint}
        self.events_client = boto3.client("events", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.logs = boto3.client("logs", **kwargs)
        self.dynamodb = boto3.client("dynamodb", **kwargs)
        self._seen_messages: list[dict[str, Any]] = []
        self.dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.events_client.create_event_bus(Name=BUS)
        self.queue_url = self.sqs.create_queue(QueueName="delivered")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.events_client.put_rule(
            Name="all-job-log-events",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [SOURCE], "detail-type": ["MGN Job Log Event"]}),
        )
        self.events_client.put_targets(
            Rule="all-job-log-events",
            EventBusName=BUS,
            Targets=[{"Id": "queue", "Arn": queue_arn}],
        )
        # The derived events (job outcomes, post-launch actions) on a queue of their own.
        self.derived_queue_url = self.sqs.create_queue(QueueName="derived")["QueueUrl"]
        self.events_client.put_rule(
            Name="derived-events",
            EventBusName=BUS,
            EventPattern=json.dumps(
                {"source": [SOURCE], "detail-type": ["MGN Job Outcome", "MGN Post-Launch Action"]}
            ),
        )
        self.events_client.put_targets(
            Rule="derived-events",
            EventBusName=BUS,
            Targets=[
                {
                    "Id": "queue",
                    "Arn": self.sqs.get_queue_attributes(
                        QueueUrl=self.derived_queue_url, AttributeNames=["QueueArn"]
                    )["Attributes"]["QueueArn"],
                }
            ],
        )
        self._seen_derived: list[dict[str, Any]] = []
        self.logs.create_log_group(logGroupName=LOG_GROUP)

    def stop_capturing_events(self) -> None:
        self.events_client.remove_targets(
            Rule="all-job-log-events", EventBusName=BUS, Ids=["queue"]
        )

    # What reached the sinks ------------------------------------------------------------
    def delivered_events(self) -> list[dict[str, Any]]:
        """Every job log item's EventBridge event the rule delivered so far (envelopes)."""
        return self._drain(self.queue_url, self._seen_messages)

    def delivered_derived(self) -> list[dict[str, Any]]:
        """Every derived event EventBridge delivered so far (envelopes)."""
        return self._drain(self.derived_queue_url, self._seen_derived)

    def _drain(self, queue_url: str, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        while True:
            response = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                return list(seen)
            for message in messages:
                seen.append(json.loads(message["Body"]))
            self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def log_records(self, *, derived: bool = False) -> list[dict[str, Any]]:
        """The job log items' log events in the event log group ({"timestamp", "stream",
        "detail"}); with `derived`, the derived events' (lines with a detailType) instead."""
        records: list[dict[str, Any]] = []
        streams = self.logs.describe_log_streams(logGroupName=LOG_GROUP).get("logStreams", [])
        for stream in streams:
            kwargs: dict[str, Any] = {
                "logGroupName": LOG_GROUP,
                "logStreamName": stream["logStreamName"],
                "startFromHead": True,
            }
            token = None
            while True:
                if token:
                    kwargs["nextToken"] = token
                page = self.logs.get_log_events(**kwargs)
                for event in page["events"]:
                    detail = json.loads(event["message"])
                    if ("detailType" in detail) != derived:
                        continue
                    records.append(
                        {
                            "timestamp": event["timestamp"],
                            "stream": stream["logStreamName"],
                            "detail": detail,
                        }
                    )
                if page.get("nextForwardToken") in (None, token) or not page["events"]:
                    break
                token = page["nextForwardToken"]
        return records

    def state(self, account_id: str) -> AccountState:
        item = self.dynamodb.get_item(
            TableName=TABLE, Key={PARTITION_KEY: {"S": account_key(account_id)}}
        ).get("Item", {})
        return _state_from_item(account_id, item)

    def raw_state(self, account_id: str) -> dict[str, Any]:
        return self.dynamodb.get_item(
            TableName=TABLE, Key={PARTITION_KEY: {"S": account_key(account_id)}}
        ).get("Item", {})


def event_ids(details: list[dict[str, Any]]) -> Counter[str]:
    return Counter(detail["eventId"] for detail in details)


def _reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=10).read()


@pytest.fixture
def world(
    moto_endpoint: str, emulator: MgnEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    _reset_moto(moto_endpoint)
    environment = {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ENDPOINT_URL_MGN": emulator.endpoint_url,
        "EVENT_BUS_NAME": BUS,
        "EVENT_SOURCE": SOURCE,
        "EVENT_LOG_GROUP_NAME": LOG_GROUP,
        "CHECKPOINT_TABLE_NAME": TABLE,
        "ACCOUNTS": OWN_ACCOUNT,
        "BACKFILL_DAYS": "7",
        "DISCOVERY_OVERLAP_MINUTES": "60",
        "DEADLINE_MARGIN_SECONDS": "2",
        # A completed job closes as soon as it is read and its outcome sent, as the tests of
        # the items expect; the tests of the grace period (test_job_outcomes.py) set it.
        "COMPLETED_JOB_GRACE_MINUTES": "0",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield World(moto_endpoint, emulator)
    get_settings.cache_clear()


def invoke(budget_ms: int = 60_000, request_id: str | None = None) -> dict[str, Any]:
    """One direct export run of the configured accounts (ACCOUNTS), with a Lambda-like
    deadline: the exporter core as the worker runs it, without the queue around it."""
    from local.direct_export import export_configured_accounts

    return export_configured_accounts(
        budget_ms, own_account=OWN_ACCOUNT, region=REGION, request_id=request_id
    )


@pytest.fixture
def proxy(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The exporter's endpoints go through a fault-injecting proxy; the test's own reads don't."""
    with FaultProxy({"mgn": world.emulator.endpoint_url, "*": world.endpoint}, seed=7) as fp:
        monkeypatch.setenv("AWS_ENDPOINT_URL", fp.endpoint_url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_MGN", fp.endpoint_url)
        yield fp
