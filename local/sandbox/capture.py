"""The sandbox's own observers in moto, added beside the stack (they are not part of it).

* ``sandbox-capture-all-events``: a rule on the stack's bus matching every event, into an
  SQS queue of the same name, to count what reached EventBridge.
* ``sandbox-alert-subscriber``: an SQS queue subscribed (raw delivery) to the stack's alert
  topic, standing in for the email address or chat tool a real deployment subscribes, to
  show where the alert rules' messages went.

Reading drains the queues; what was read is kept, so reads add up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from local.moto_deploy import local_session
from local.sandbox.stack import DeployedStack

CAPTURE_NAME = "sandbox-capture-all-events"
ALERT_SUBSCRIBER_NAME = "sandbox-alert-subscriber"
# Matches every event: EventBridge wants a non-empty pattern, and every event has a source.
MATCH_EVERYTHING = {"source": [{"prefix": ""}]}


@dataclass
class LogRecord:
    timestamp_ms: int
    stream: str
    message: str

    @property
    def detail(self) -> dict[str, Any]:
        value = json.loads(self.message)
        return value if isinstance(value, dict) else {}


@dataclass
class Capture:
    stack: DeployedStack
    events_queue_url: str
    alerts_queue_url: str
    _sqs: Any = None
    _logs: Any = None
    _events: list[dict[str, Any]] = field(default_factory=list)
    _alerts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        session = local_session(self.stack.region)
        self._sqs = session.client("sqs", endpoint_url=self.stack.endpoint_url)
        self._logs = session.client("logs", endpoint_url=self.stack.endpoint_url)

    @classmethod
    def install(cls, stack: DeployedStack) -> Capture:
        session = local_session(stack.region)
        sqs = session.client("sqs", endpoint_url=stack.endpoint_url)
        events = session.client("events", endpoint_url=stack.endpoint_url)
        sns = session.client("sns", endpoint_url=stack.endpoint_url)
        events_queue = sqs.create_queue(QueueName=CAPTURE_NAME)["QueueUrl"]
        alerts_queue = sqs.create_queue(QueueName=ALERT_SUBSCRIBER_NAME)["QueueUrl"]
        events.put_rule(
            Name=CAPTURE_NAME,
            EventBusName=stack.bus_name,
            EventPattern=json.dumps(MATCH_EVERYTHING),
            Description="The sandbox's own: every event on the bus, for its exactly-once check",
        )
        events.put_targets(
            Rule=CAPTURE_NAME,
            EventBusName=stack.bus_name,
            Targets=[{"Id": "queue", "Arn": _queue_arn(sqs, events_queue)}],
        )
        sns.subscribe(
            TopicArn=stack.alert_topic_arn,
            Protocol="sqs",
            Endpoint=_queue_arn(sqs, alerts_queue),
            Attributes={"RawMessageDelivery": "true"},
        )
        return cls(stack, events_queue, alerts_queue)

    def bus_events(self) -> list[dict[str, Any]]:
        """Every event that reached the bus so far (full envelopes, in arrival order)."""
        self._events.extend(json.loads(body) for body in self._drain(self.events_queue_url))
        return list(self._events)

    def alert_messages(self) -> list[str]:
        """Every message the alert topic delivered to the sandbox's subscriber so far."""
        self._alerts.extend(self._drain(self.alerts_queue_url))
        return list(self._alerts)

    def log_records(self, group: str | None = None) -> list[LogRecord]:
        """Every log event of a group (default: the event log group), stream by stream."""
        logs = self._logs
        group_name = group or self.stack.event_log_group
        records: list[LogRecord] = []
        for page in logs.get_paginator("describe_log_streams").paginate(logGroupName=group_name):
            for stream in page.get("logStreams", []):
                name = stream["logStreamName"]
                token: str | None = None
                while True:
                    kwargs: dict[str, Any] = {
                        "logGroupName": group_name,
                        "logStreamName": name,
                        "startFromHead": True,
                    }
                    if token:
                        kwargs["nextToken"] = token
                    response = logs.get_log_events(**kwargs)
                    records.extend(
                        LogRecord(event["timestamp"], name, event["message"])
                        for event in response["events"]
                    )
                    next_token = response.get("nextForwardToken")
                    if not response["events"] or next_token in (None, token):
                        break
                    token = next_token
        return records

    def _drain(self, queue_url: str) -> list[str]:
        sqs = self._sqs
        bodies: list[str] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return bodies
            bodies.extend(message["Body"] for message in messages)
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(messages)
                ],
            )


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
