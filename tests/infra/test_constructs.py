"""Options that the default synth does not exercise, on the constructs alone (fast)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from infra import constants as c
from infra.application import build_app
from infra.dispatcher import dispatch_max_event_age
from infra.event_bus import ExporterEventBus
from infra.event_log import SAVED_QUERIES, EventLogGroup
from infra.functions import FunctionOptions
from infra.work_queue import WorkQueue
from infra.worker import WorkerFunction

KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def bus_template(**kwargs: object) -> Template:
    stack = cdk.Stack(cdk.App())
    key = kms.Key(stack, "Key")
    props: dict[str, object] = {
        "bus_name": "bus",
        "archive_name": "bus-archive",
        "event_source": "mgn.joblog.exporter",
        "archive_enabled": True,
        "archive_retention_days": 30,
        "topic_key": key,
        "alert_email": None,
    } | kwargs
    ExporterEventBus(stack, "Events", **props)  # type: ignore[arg-type]
    return Template.from_stack(stack)


def test_email_subscription_is_created_only_when_configured() -> None:
    bus_template().resource_count_is("AWS::SNS::Subscription", 0)
    bus_template(alert_email="oncall@example.com").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_archive_can_be_disabled_or_kept_forever() -> None:
    bus_template(archive_enabled=False).resource_count_is("AWS::Events::Archive", 0)
    bus_template(archive_retention_days=0).has_resource_properties(
        "AWS::Events::Archive", {"RetentionDays": 0}
    )


def test_event_log_group_uses_the_configured_kms_key() -> None:
    stack = cdk.Stack(cdk.App())
    EventLogGroup(
        stack,
        "EventLog",
        log_group_name="/x/events",
        retention=logs.RetentionDays.ONE_MONTH,
        kms_key_arn=KEY_ARN,
        query_folder="x",
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": "/x/events", "RetentionInDays": 30, "KmsKeyId": KEY_ARN},
    )
    template.resource_count_is("AWS::Logs::QueryDefinition", len(SAVED_QUERIES))


def worker_template(*, batch_size: int, max_concurrency: int, max_receive_count: int) -> Template:
    stack = cdk.Stack(cdk.App())
    queue = WorkQueue(
        stack,
        "WorkQueue",
        worker_timeout=cdk.Duration.seconds(120),
        max_receive_count=max_receive_count,
    )
    WorkerFunction(
        stack,
        "Worker",
        environment={"X": "y"},
        options=FunctionOptions(
            log_retention=logs.RetentionDays.ONE_WEEK, powertools_layer_version=3, log_level="DEBUG"
        ),
        work_queue=queue,
        batch_size=batch_size,
        max_concurrency=max_concurrency,
    )
    return Template.from_stack(stack)


def test_worker_mapping_and_queue_take_their_options() -> None:
    template = worker_template(batch_size=3, max_concurrency=50, max_receive_count=2)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 3,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 50},
        },
    )
    # The visibility timeout follows the worker's timeout (6 x 120 s here).
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "FifoQueue": True,
            "VisibilityTimeout": 720,
            "RedrivePolicy": {"maxReceiveCount": 2, "deadLetterTargetArn": Match.any_value()},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"LoggingConfig": Match.object_like({"ApplicationLogLevel": "DEBUG"})},
    )


@pytest.mark.parametrize(
    ("rate_minutes", "age_seconds"),
    # Bounded by the next tick, and by SQS's deduplication window less the dispatcher timeout.
    [(1, 60), (3, 180), (5, 240), (60, 240)],
)
def test_dispatch_retries_end_before_the_next_tick_and_the_dedup_window(
    rate_minutes: int, age_seconds: int
) -> None:
    assert dispatch_max_event_age(rate_minutes).to_seconds() == age_seconds


def test_context_overrides_reach_the_template() -> None:
    _, stack = build_app(
        context={
            "scheduleRateMinutes": "1",
            "workerBatchSize": "4",
            "workerMaxConcurrency": "20",
            "workerMaxReceiveCount": "7",
            "accounts": "111111111111,222222222222",
        },
        nag=False,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 4, "ScalingConfig": {"MaximumConcurrency": 20}},
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"FifoQueue": True, "RedrivePolicy": Match.object_like({"maxReceiveCount": 7})},
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumEventAgeInSeconds": 60}
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": c.DISPATCHER_HANDLER,
            "Environment": {
                "Variables": Match.object_like({c.ENV_ACCOUNTS: "111111111111,222222222222"})
            },
        },
    )
    # A 1-minute schedule: the age alarm falls back to two worker timeouts.
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Threshold": 2 * c.WORKER_TIMEOUT_SECONDS,
        },
    )
