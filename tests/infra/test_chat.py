"""Optional chat delivery: nothing without context; with it, notification-only channels on the
alert topic, cdk-nag clean. (moto cannot create AWS::Chatbot resources: template only.)"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import constants as c
from infra.application import build_app, findings
from infra.config import ConfigError, ExporterConfig
from tests.infra.conftest import Synth, cdk_json_context

SLACK = {c.CTX_CHAT_SLACK_WORKSPACE_ID: "T0123ABCD", c.CTX_CHAT_SLACK_CHANNEL_ID: "C0456EFGH"}
TEAMS = {
    c.CTX_CHAT_TEAMS_TEAM_ID: "5b1c2d3e-1111-2222-3333-444455556666",
    c.CTX_CHAT_TEAMS_CHANNEL_ID: "19%3ab1f4a0d0c5e54dd1b7e3f1c9a0b2d3e4%40thread.tacv2",
    c.CTX_CHAT_TEAMS_TENANT_ID: "0a1b2c3d-7777-8888-9999-aaaabbbbcccc",
}


def test_no_chat_context_deploys_nothing_for_chat(synth: Synth) -> None:
    assert not [r for r in synth.template_json["Resources"].values() if "Chatbot" in r["Type"]]


@pytest.fixture(scope="module")
def chat_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app, stack = build_app(outdir=str(tmp_path_factory.mktemp("chat")), context={**SLACK, **TEAMS})
    assembly = app.synth()
    assert findings(assembly) == []  # cdk-nag AwsSolutions: nothing unsuppressed
    return Template.from_stack(stack).to_json()


def test_both_channels_get_the_alert_topic_and_no_power(chat_template: dict[str, Any]) -> None:
    resources = chat_template["Resources"]

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r["Properties"] for r in resources.values() if r["Type"] == kind]

    (slack,) = of_type("AWS::Chatbot::SlackChannelConfiguration")
    (teams,) = of_type("AWS::Chatbot::MicrosoftTeamsChannelConfiguration")
    (topic_id,) = (
        logical_id
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::SNS::Topic" and "alerts" in r["Properties"]["DisplayName"]
    )
    assert slack["SlackWorkspaceId"] == "T0123ABCD" and slack["SlackChannelId"] == "C0456EFGH"
    assert slack["SnsTopicArns"] == [{"Ref": topic_id}]
    assert teams["SnsTopicArns"] == [{"Ref": topic_id}]
    assert teams["TeamsTenantId"] == TEAMS[c.CTX_CHAT_TEAMS_TENANT_ID]
    # Guardrail: deny everything; the channel role holds no policy at all.
    (guardrail,) = of_type("AWS::IAM::ManagedPolicy")
    assert guardrail["PolicyDocument"]["Statement"] == [
        {"Action": "*", "Effect": "Deny", "Resource": "*"}
    ]
    assert slack["GuardrailPolicies"] == teams["GuardrailPolicies"]
    role_id = slack["IamRoleArn"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    assert not [p for p in of_type("AWS::IAM::Policy") if {"Ref": role_id} in p.get("Roles", [])]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "chatbot.amazonaws.com"
    }


@pytest.mark.parametrize(
    "context",
    [
        {c.CTX_CHAT_SLACK_WORKSPACE_ID: "T0123ABCD"},
        {c.CTX_CHAT_TEAMS_TEAM_ID: "x", c.CTX_CHAT_TEAMS_TENANT_ID: "y"},
        {**SLACK, c.CTX_CHAT_SLACK_CHANNEL_ID: "has space"},
    ],
)
def test_an_incomplete_or_bad_chat_context_names_its_keys(context: dict[str, str]) -> None:
    values = {**cdk_json_context(), **context}
    with pytest.raises(ConfigError, match="chat"):
        ExporterConfig.from_context(values.get)
