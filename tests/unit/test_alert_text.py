"""The alert people read: subject and lines from real exporter events (alert_text.py), and the
alert function publishing it to a topic (moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mgn_exporter import alert_handler
from mgn_exporter.alert_text import SUBJECT_LIMIT, alert_text, sns_message
from tests.infra.sample_events import NAMES, cutover_record, derived_events, envelope, export_event

FULL = {
    "sourceServerID": "s-1234567890abcdef0",
    "targetInstanceID": "i-0fedcba9876543210",
    "rawError": "Launch failed: the subnet has no free addresses",
}


def test_a_cutover_launch_failure_reads_like_a_person_wrote_it() -> None:
    event = envelope(export_event("LAUNCH_FAILED", initiated_by="START_CUTOVER", event_data=FULL))
    subject, message = alert_text(event)
    assert subject == "MGN cutover launch failed: fin-db-01 (Payroll, Wave 1 - Finance)"
    lines = message.splitlines()
    assert lines[0] == subject and lines[1] == ""
    assert lines[2:] == [
        "Server: fin-db-01 (fin-db-01.corp.example.com), s-1234567890abcdef0",
        "Application: Payroll",
        "Wave: Wave 1 - Finance",
        "Account: 123456789012, us-east-1",
        "Job: mgnjob-0123456789abcdefg (START_CUTOVER)",
        "Step: LAUNCH_FAILED at 2026-11-25T10:00:00.123Z",
        "Target instance: i-0fedcba9876543210",
        "Error: Launch failed: the subnet has no free addresses",
        "Console: https://us-east-1.console.aws.amazon.com/mgn/home?region=us-east-1"
        "#/jobs/mgnjob-0123456789abcdefg",
        f"Event id: {event['detail']['eventId']}",
    ]
    assert '"' not in message  # no quoted lines


def test_no_line_is_printed_for_a_field_the_event_lacks() -> None:
    data = {"sourceServerID": "s-1234567890abcdef0", "rawError": "driver injection timed out",
            "attemptCount": 2, "maxAttemptsCount": 3}  # fmt: skip
    event = envelope(export_event("CONVERSION_FAIL", event_data=data, names=None))
    subject, message = alert_text(event)
    # Not enriched: the server's id stands in for its name; no application, wave or instance.
    assert subject == "MGN test conversion failed: s-1234567890abcdef0"
    assert "Step: CONVERSION_FAIL at 2026-11-25T10:00:00.123Z (attempt 2 of 3)" in message
    for label in ("Application:", "Wave:", "Target instance:", "Conversion server:"):
        assert label not in message
    assert all(not line.endswith(": ") and not line.endswith(":") for line in message.splitlines())


@pytest.mark.parametrize(
    "detail",
    [{}, {"event": None, "eventData": "odd", "sourceServer": [], "wave": {"name": 3}}, {"x": 1}],
)
def test_an_odd_event_still_gives_a_subject_and_a_message(detail: dict[str, Any]) -> None:
    subject, message = alert_text({"detail": detail})
    assert subject.startswith("MGN") and message.startswith(subject)


def test_the_subject_fits_sns_and_a_long_error_is_clipped() -> None:
    names = {**NAMES, "application": {"applicationID": "app-1", "name": "Å" * 300}}
    data = {**FULL, "rawError": "x" * 10_000}
    event = envelope(export_event("LAUNCH_FAILED", event_data=data, names=names))
    subject, message = alert_text(event)
    assert len(subject) <= SUBJECT_LIMIT and subject.isascii() and "\n" not in subject
    error = next(line for line in message.splitlines() if line.startswith("Error: "))
    assert len(error) < 2100 and error.endswith("...")


@mock_aws
def test_the_alert_function_publishes_subject_and_message_to_its_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    monkeypatch.setenv(alert_handler.TOPIC_VARIABLE, topic)
    alert_handler._sns.cache_clear()
    event = envelope(export_event("SNAPSHOT_FAIL", initiated_by="START_CUTOVER", event_data=FULL))

    class Context:
        function_name = "alerts"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:alerts"
        aws_request_id = "r-1"

    alert_handler.handler(event, Context())  # type: ignore[arg-type]
    alert_handler._sns.cache_clear()
    (delivered,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    body = json.loads(delivered["Body"])
    assert body["Subject"] == "MGN cutover snapshot failed: fin-db-01 (Payroll, Wave 1 - Finance)"
    assert body["Message"] == alert_text(event)[1]


def test_chat_gets_a_custom_notification_and_email_the_plain_text() -> None:
    event = envelope(export_event("LAUNCH_FAILED", initiated_by="START_CUTOVER", event_data=FULL))
    subject, message = alert_text(event)
    per_protocol = json.loads(sns_message(subject, message))
    assert per_protocol["default"] == per_protocol["email"] == message
    chat = json.loads(per_protocol["https"])
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert chat["content"]["title"] == subject
    assert chat["content"]["description"].startswith("Server: fin-db-01")


def test_a_failed_cutover_outcome_names_the_failed_servers_and_why() -> None:
    record = cutover_record()
    record["participatingServers"][1]["sourceServerID"] = "s-0fedcba9876543210"
    outcome, _ = derived_events(record)
    detail = {**outcome.detail}
    detail["participatingServers"][1]["failure"] = {
        "step": "LAUNCH",
        "event": "LAUNCH_FAILED",
        "rawError": "UnauthorizedOperation: ec2:RunInstances",
    }
    subject, message = alert_text({"detail": detail})
    assert subject == "MGN cutover finished: 1 of 2 servers failed (Wave 1 - Finance)"
    assert "Servers: 2 (1 launched, 1 failed)" in message
    assert (
        "Failed: s-0fedcba9876543210 - LAUNCH_FAILED: UnauthorizedOperation: ec2:RunInstances"
        in message
    )
    assert "Post-launch actions: 1 failed (1 that must succeed for cutover) of 1" in message
    assert f"Event id: {outcome.event_id}" in message


def test_a_failed_post_launch_action_says_which_where_and_why() -> None:
    _, action = derived_events()
    subject, message = alert_text({"detail": action.detail})
    assert (
        subject
        == (
            "MGN post-launch action failed: Validate disk space on fin-db-01 (Payroll, Wave 1 - "
            "Finance)"
        )[:100]
    )
    assert "Must succeed for cutover: yes" in message
    assert "Action: Validate disk space - AWSMigration-ValidateDiskSpace, AUTOMATION" in message
    assert "Reason: Step fails when it is Executing. Fail type: Step timed out" in message
    assert "Instance: i-0123456789abcdef0" in message
