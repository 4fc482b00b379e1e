"""Options that the default synth does not exercise, on the constructs alone (fast)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from infra.event_bus import ExporterEventBus
from infra.event_log import SAVED_QUERIES, EventLogGroup

KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def bus_template(**kwargs: object) -> Template:
    stack = cdk.Stack(cdk.App())
    key = kms.Key(stack, "Key")
    props: dict[str, object] = {
        "bus_name": "bus",
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
