"""The local cloud of the fan-out benchmark: moto in this process, the MGN emulator, a backlog
of accounts, and what reached the event log group.

moto's server runs in-process (with the test suite's speed-ups and the fault suite's atomicity
fixes) so that the sinks can be read from its store directly: reading 200,000 log events back
through GetLogEvents would take longer than exporting them.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from local.faultsuite.names import on_servers, realistic_inventory
from local.mgn_emulator import MgnEmulator
from local.mgn_emulator.worlds import job_log
from mgn_exporter.checkpoint_store import PARTITION_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
OWN_ACCOUNT = "111111111111"
# Member accounts of MGN global view: ListManagedAccounts lists them (ACCOUNTS=auto).
FIRST_MEMBER = 300_000_000_001
BUS = "mgn-job-log-events"
SOURCE = "mgn.joblog.bench"
LOG_GROUP = "/mgn-job-log-exporter/events"
TABLE = "mgn-job-log-exporter-checkpoints"
WORK_QUEUE = "mgn-job-log-exporter-work.fifo"
DEAD_LETTER_QUEUE = "mgn-job-log-exporter-work-dlq.fifo"
ROOT = Path(__file__).resolve().parents[2]
MOTO_ACCOUNT = "123456789012"  # the account moto's server puts every resource in


class BenchmarkFailure(RuntimeError):
    """The fan-out lost, repeated or dead-lettered work: the figures would mean nothing."""


def _client_options(endpoint_url: str) -> dict[str, Any]:
    return {
        "region_name": REGION,
        "endpoint_url": endpoint_url,
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
    }


def sqs_client(endpoint_url: str) -> SQSClient:
    return boto3.client("sqs", **_client_options(endpoint_url))


def dynamodb_client(endpoint_url: str) -> DynamoDBClient:
    return boto3.client("dynamodb", **_client_options(endpoint_url))


@dataclass(frozen=True)
class Backlog:
    accounts: int
    items_per_account: int
    jobs_per_account: int
    seed: int
    # Each account's inventory in MGN (names.realistic_inventory); its jobs log steps of these
    # servers, shared out between them (a wave's launch jobs: its servers). 0 servers: none.
    servers_per_account: int = 50
    applications_per_account: int = 10
    waves_per_account: int = 3

    @property
    def items(self) -> int:
        return self.accounts * self.items_per_account


@dataclass
class World:
    """The deployed resources in moto and the backlog in the emulator."""

    moto_url: str
    emulator: MgnEmulator
    backlog: Backlog
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    jobs: dict[str, list[str]] = field(default_factory=dict)  # account -> its job ids
    job_items: dict[str, int] = field(default_factory=dict)  # job id -> its item count

    @property
    def accounts(self) -> list[str]:
        return list(self.jobs)

    def sqs(self) -> SQSClient:
        return sqs_client(self.moto_url)

    def dynamodb(self) -> DynamoDBClient:
        return dynamodb_client(self.moto_url)

    def complete_all_jobs(self) -> None:
        for account, job_ids in self.jobs.items():
            for job_id in job_ids:
                self.emulator.set_job_status(account, job_id, "COMPLETED")


def account_ids(count: int) -> list[str]:
    """The caller's own account and count - 1 managed member accounts."""
    return [OWN_ACCOUNT] + [f"{FIRST_MEMBER + n:012d}" for n in range(count - 1)]


def build_world(
    moto_url: str,
    emulator: MgnEmulator,
    backlog: Backlog,
    *,
    visibility_timeout_s: int,
    max_receive_count: int,
) -> World:
    """The stack's resources in moto (empty) and a backlog of open jobs in the emulator."""
    sqs = sqs_client(moto_url)
    dynamodb = dynamodb_client(moto_url)
    events: EventBridgeClient = boto3.client("events", **_client_options(moto_url))
    logs: CloudWatchLogsClient = boto3.client("logs", **_client_options(moto_url))
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # No rule on the bus: what PutEvents accepted is all the benchmark needs of EventBridge.
    events.create_event_bus(Name=BUS)
    logs.create_log_group(logGroupName=LOG_GROUP)
    dead_letter_url = sqs.create_queue(
        QueueName=DEAD_LETTER_QUEUE, Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    dead_letter_arn = queue_arn(sqs, dead_letter_url)
    queue_url = sqs.create_queue(
        QueueName=WORK_QUEUE,
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "VisibilityTimeout": str(visibility_timeout_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count}
            ),
        },
    )["QueueUrl"]
    world = World(
        moto_url=moto_url,
        emulator=emulator,
        backlog=backlog,
        queue_url=queue_url,
        queue_arn=queue_arn(sqs, queue_url),
        dead_letter_url=dead_letter_url,
    )
    _add_backlog(world)
    return world


def queue_arn(sqs: SQSClient, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def _add_backlog(world: World) -> None:
    """Each account gets `jobs_per_account` open (STARTED) jobs sharing its items: the logs of
    a migration wave in progress, exported for the first time; and its inventory, whose
    servers the jobs' items name."""
    backlog, emulator = world.backlog, world.emulator
    rng = random.Random(backlog.seed)
    per_job, extra = divmod(backlog.items_per_account, backlog.jobs_per_account)
    now = datetime.now(UTC)
    for index, account in enumerate(account_ids(backlog.accounts)):
        if account != OWN_ACCOUNT:
            emulator.add_account(account, initialized=True, managed=True)
        servers = _inventory(world, account)
        world.jobs[account] = []
        for number in range(backlog.jobs_per_account):
            count = per_job + (1 if number < extra else 0)
            created = now - timedelta(minutes=30 + number + index % 7)
            job_id = emulator.add_job(account, status="STARTED", created=created)
            if count:
                share = servers[number :: backlog.jobs_per_account]
                items, _ = on_servers(job_log(count, start=created, rng=rng), share)
                emulator.append_items(account, job_id, items)
            world.jobs[account].append(job_id)
            world.job_items[job_id] = count


def _inventory(world: World, account: str) -> list[str]:
    """The account's realistic inventory, loaded in the emulator; its servers (none when the
    backlog has none)."""
    backlog = world.backlog
    if not backlog.servers_per_account:
        return []
    inventory = realistic_inventory(
        account,
        servers=backlog.servers_per_account,
        applications=backlog.applications_per_account,
        waves=backlog.waves_per_account,
        seed=backlog.seed,
    )
    world.emulator.add_inventory(inventory)
    return [server.source_server_id for server in inventory.servers]


# -- what reached the sinks --------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """The event log group against the backlog, counted by eventId and by item."""

    expected: int
    events: int
    distinct_ids: int
    repeated_ids: int  # eventIds logged more than once
    missing_items: int  # (account, job, position) of the backlog never logged
    unexpected_items: int  # logged items that are not in the backlog
    mean_message_bytes: float

    @property
    def exactly_once(self) -> bool:
        return (
            self.events == self.expected == self.distinct_ids
            and not self.repeated_ids
            and not self.missing_items
            and not self.unexpected_items
        )


def delivery(world: World) -> Delivery:
    """Read the group from moto's own store (this process): every stream, every event."""
    from moto.logs.models import logs_backends

    group = logs_backends[MOTO_ACCOUNT][REGION].groups[LOG_GROUP]
    ids: Counter[str] = Counter()
    items: set[tuple[str, str, int]] = set()
    events = message_bytes = 0
    for stream in list(group.streams.values()):
        for event in list(stream.events):
            detail = json.loads(event.message)
            ids[detail["eventId"]] += 1
            items.add((detail["accountID"], detail["jobID"], int(detail["position"])))
            events += 1
            message_bytes += len(event.message.encode("utf-8"))
    expected = {
        (account, job_id, position)
        for account, job_ids in world.jobs.items()
        for job_id in job_ids
        for position in range(world.job_items[job_id])
    }
    return Delivery(
        expected=len(expected),
        events=events,
        distinct_ids=len(ids),
        repeated_ids=sum(1 for copies in ids.values() if copies > 1),
        missing_items=len(expected - items),
        unexpected_items=len(items - expected),
        mean_message_bytes=round(message_bytes / events, 1) if events else 0.0,
    )


def queue_depth(sqs: SQSClient, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


def check_sinks(world: World, *, phase: str) -> Delivery:
    """Every item logged exactly once, the work queue and its DLQ empty; else BenchmarkFailure."""
    found = delivery(world)
    sqs = world.sqs()
    problems = []
    if not found.exactly_once:
        problems.append(f"event log group is not exactly once: {found}")
    dead = queue_depth(sqs, world.dead_letter_url)
    if dead != (0, 0):
        problems.append(f"dead-letter queue holds {dead} (visible, in flight) messages")
    left = queue_depth(sqs, world.queue_url)
    if left != (0, 0):
        problems.append(f"work queue still holds {left} (visible, in flight) messages")
    if problems:
        raise BenchmarkFailure(f"{phase}: " + "; ".join(problems))
    return found


# -- the checkpoint items ----------------------------------------------------------------------


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item (attribute names plus values, as its documentation counts
    them); a write costs one WRU per started KB of the larger of the item before and after."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        digits = len(str(Decimal(str(data))).lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(
            len(name.encode("utf-8")) + _value_size(inner) + 1 for name, inner in data.items()
        )
    if kind == "L":
        return 3 + sum(_value_size(inner) + 1 for inner in data)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: member}) for member in data)
    raise ValueError(f"unknown DynamoDB type {kind}")


@dataclass(frozen=True)
class CheckpointSizes:
    items: int
    mean_bytes: float
    max_bytes: int
    over_1kb: int  # items whose writes cost more than one WRU


def checkpoint_sizes(world: World) -> CheckpointSizes:
    dynamodb = world.dynamodb()
    sizes = [
        item_size(dict(item))
        for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE)
        for item in page.get("Items", [])
    ]
    if not sizes:
        return CheckpointSizes(0, 0.0, 0, 0)
    return CheckpointSizes(
        items=len(sizes),
        mean_bytes=round(sum(sizes) / len(sizes), 1),
        max_bytes=max(sizes),
        over_1kb=sum(1 for size in sizes if size > 1024),
    )


def function_environment(
    world: World,
    endpoint_url: str,
    *,
    margin_seconds: int,
    log_level: str = "INFO",
    enrichment: bool = True,
) -> dict[str, str]:
    """Both functions' environment as the stack sets it (ACCOUNTS=auto), the SDK pointed at
    `endpoint_url` (the counting proxy) for every service, MGN included; without
    `enrichment`, ENRICHMENT_REFRESH_MINUTES=0 (the stack's default is 15)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("AWS_", "POWERTOOLS_", "EVENT_", "CHECKPOINT_", "LOG_LEVEL", "ENRICHMENT_")
        )
    }
    env.update(
        {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ENDPOINT_URL_MGN": endpoint_url,
            "ACCOUNTS": "auto",
            "WORK_QUEUE_URL": world.queue_url,
            "EVENT_BUS_NAME": BUS,
            "EVENT_SOURCE": SOURCE,
            "EVENT_LOG_GROUP_NAME": LOG_GROUP,
            "CHECKPOINT_TABLE_NAME": TABLE,
            "BACKFILL_DAYS": "7",
            "DISCOVERY_OVERLAP_MINUTES": "60",
            "DEADLINE_MARGIN_SECONDS": str(margin_seconds),
            "POWERTOOLS_SERVICE_NAME": "mgn-job-log-exporter",
            "POWERTOOLS_METRICS_NAMESPACE": "MgnJobLogExporter",
            "POWERTOOLS_LOG_LEVEL": log_level,
            "LOG_LEVEL": log_level,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "FAULTSUITE_OWN_ACCOUNT": OWN_ACCOUNT,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "lambda_src"), str(ROOT)]
                + [p for p in [os.environ.get("PYTHONPATH", "")] if p]
            ),
        }
    )
    if not enrichment:
        env["ENRICHMENT_REFRESH_MINUTES"] = "0"
    return env
