"""Who may publish: every notification the stack sends is one its topic accepts.

The local cloud cannot run alarms or topic policies, so this walks the synthesized template: for
each alarm action and each rule target that is an SNS topic, it takes the publisher AWS uses
(CloudWatch alarms: cloudwatch.amazonaws.com with the alarm's ARN; EventBridge rules:
events.amazonaws.com with the rule's ARN) and evaluates the topic's policy and the topic's KMS
key policy for that request, as IAM would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.infra.cfn_eval import ACCOUNT, Renderer, Request, allows
from tests.infra.conftest import Synth

ALARM_PUBLISHER = "cloudwatch.amazonaws.com"
RULE_PUBLISHER = "events.amazonaws.com"
ALARM_ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")
# What SNS asks KMS for when a publisher sends to an encrypted topic.
KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class Publication:
    """A resource of the stack that publishes to a topic of the stack."""

    publisher: str  # the service principal
    source: str  # logical ID of the alarm or rule
    topic: str  # logical ID of the topic


def _topic_ref(synth: Synth, node: Any) -> str | None:
    if isinstance(node, dict) and set(node) == {"Ref"}:
        target = synth.template_json["Resources"].get(node["Ref"], {})
        if target.get("Type") == "AWS::SNS::Topic":
            return str(node["Ref"])
    return None


def publications(synth: Synth) -> list[Publication]:
    found: list[Publication] = []
    for logical_id, alarm in synth.resources("AWS::CloudWatch::Alarm").items():
        for key in ALARM_ACTION_KEYS:
            for action in alarm["Properties"].get(key, []):
                topic = _topic_ref(synth, action)
                if topic:
                    found.append(Publication(ALARM_PUBLISHER, logical_id, topic))
    for logical_id, rule in synth.resources("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            topic = _topic_ref(synth, target["Arn"])
            if topic:
                found.append(Publication(RULE_PUBLISHER, logical_id, topic))
    return found


def renderer(synth: Synth) -> Renderer:
    return Renderer(synth.template_json, synth.stack_name)


def topic_statements(synth: Synth, topic: str) -> list[dict[str, Any]]:
    """Every statement of every topic policy that covers the topic, rendered."""
    render = renderer(synth)
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::SNS::TopicPolicy").values():
        if {"Ref": topic} in policy["Properties"]["Topics"]:
            statements += render.render(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def key_statements(synth: Synth, topic: str) -> tuple[str, list[dict[str, Any]]]:
    key_id = synth.template_json["Resources"][topic]["Properties"]["KmsMasterKeyId"]
    assert isinstance(key_id, dict) and "Fn::GetAtt" in key_id, key_id
    key = key_id["Fn::GetAtt"][0]
    document = synth.template_json["Resources"][key]["Properties"]["KeyPolicy"]
    return key, renderer(synth).render(document["Statement"])


def publish_request(synth: Synth, publication: Publication, **context: str) -> Request:
    render = renderer(synth)
    return Request(
        service=publication.publisher,
        action="sns:Publish",
        resource=render.ref(publication.topic),
        context={
            "aws:SourceAccount": ACCOUNT,
            "aws:SourceArn": render.arn_of(publication.source),
            "aws:SecureTransport": "true",
        }
        | context,
    )


def test_the_stack_notifies_both_topics(synth: Synth) -> None:
    ops = synth.logical_id("AWS::SNS::Topic", "/Monitoring/OpsTopic")
    found = publications(synth)
    assert {(p.publisher, p.topic) for p in found} == {(ALARM_PUBLISHER, ops)}
    # Every alarm notifies on ALARM and on OK. The alert topic is published to by the alert
    # function (its role), not by a rule: see the test below.
    assert len(found) == 2 * len(synth.resources("AWS::CloudWatch::Alarm"))


def test_the_alert_function_alone_may_publish_alerts_and_use_their_key(synth: Synth) -> None:
    alert = synth.logical_id("AWS::SNS::Topic", "/Events/AlertTopic")
    key = synth.template_json["Resources"][alert]["Properties"]["KmsMasterKeyId"]
    granted: dict[str, list[Any]] = {}
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            for action in actions:
                granted.setdefault(action, []).append((logical_id, statement["Resource"]))
    alerts_policy = synth.logical_id("AWS::IAM::Policy", "/Alerts/Role/DefaultPolicy")
    assert granted["sns:Publish"] == [(alerts_policy, {"Ref": alert})]
    assert (alerts_policy, key) in granted["kms:GenerateDataKey*"]
    assert (alerts_policy, key) in granted["kms:Decrypt"]
    # The topic's own policy only refuses non-TLS callers: it does not stand in the way.
    for statement in topic_statements(synth, alert):
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _ids(publication: Publication) -> str:
    return f"{publication.source}->{publication.topic}"


@pytest.fixture(scope="module")
def every_publication(synth: Synth) -> list[Publication]:
    return publications(synth)


def test_every_alarm_and_rule_may_publish_to_its_topic(
    synth: Synth, every_publication: list[Publication]
) -> None:
    refused = [
        _ids(p)
        for p in every_publication
        if not allows(topic_statements(synth, p.topic), publish_request(synth, p))
    ]
    assert refused == []


def test_every_publisher_may_use_its_topics_key(
    synth: Synth, every_publication: list[Publication]
) -> None:
    refused: list[str] = []
    for publication in every_publication:
        key, statements = key_statements(synth, publication.topic)
        request = publish_request(synth, publication)
        for action in KMS_ACTIONS:
            kms_request = Request(
                service=publication.publisher,
                action=action,
                resource=renderer(synth).arn_of(key),
                context=request.context,
            )
            if not allows(statements, kms_request):
                refused.append(f"{_ids(publication)} {action}")
    assert refused == []


def test_the_ops_topic_takes_only_this_stacks_alarms_in_this_account(synth: Synth) -> None:
    ops = synth.logical_id("AWS::SNS::Topic", "/Monitoring/OpsTopic")
    (alarm, *_) = synth.resources("AWS::CloudWatch::Alarm")
    publication = Publication(ALARM_PUBLISHER, alarm, ops)
    statements = topic_statements(synth, ops)
    render = renderer(synth)
    assert allows(statements, publish_request(synth, publication))
    foreign_alarm = f"arn:aws:cloudwatch:{render.region}:{ACCOUNT}:alarm:SomeoneElse-Errors"
    assert not allows(
        statements, publish_request(synth, publication, **{"aws:SourceArn": foreign_alarm})
    )
    assert not allows(
        statements, publish_request(synth, publication, **{"aws:SourceAccount": "999999999999"})
    )
    # Without TLS nobody may publish.
    assert not allows(
        statements, publish_request(synth, publication, **{"aws:SecureTransport": "false"})
    )
