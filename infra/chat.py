"""Optional chat delivery of the alert topic: Amazon Q Developer in chat applications (AWS
Chatbot) posts each alert to a Slack channel and/or a Microsoft Teams channel.

Deployed only when the context names a channel. The channel configurations are for
notifications only: their role has no policy, and their guardrail denies every action, so no
one in the channel can run commands through them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct


@dataclass(frozen=True)
class SlackChannel:
    workspace_id: str  # the workspace authorized once in the console (Chatbot > Slack)
    channel_id: str


@dataclass(frozen=True)
class TeamsChannel:
    team_id: str
    channel_id: str
    tenant_id: str


class ChatDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        name: str,
        slack: SlackChannel | None,
        teams: TeamsChannel | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Chat members act with the channel role limited by the guardrail: deny everything.
        self.guardrail = iam.ManagedPolicy(
            self,
            "NotificationsOnlyGuardrail",
            description="Guardrail of the MGN job log alert channels: no action from chat",
            statements=[
                iam.PolicyStatement(effect=iam.Effect.DENY, actions=["*"], resources=["*"])
            ],
        )
        self.role = iam.Role(
            self,
            "ChannelRole",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description="Role of the MGN job log alert channels: notifications only, no policy",
        )
        self.slack: chatbot.SlackChannelConfiguration | None = None
        self.teams: chatbot.CfnMicrosoftTeamsChannelConfiguration | None = None
        if slack is not None:
            self.slack = chatbot.SlackChannelConfiguration(
                self,
                "Slack",
                slack_channel_configuration_name=f"{name}-slack",
                slack_workspace_id=slack.workspace_id,
                slack_channel_id=slack.channel_id,
                notification_topics=[topic],
                role=self.role,
                guardrail_policies=[self.guardrail],
                logging_level=chatbot.LoggingLevel.NONE,
            )
        if teams is not None:
            self.teams = chatbot.CfnMicrosoftTeamsChannelConfiguration(
                self,
                "Teams",
                configuration_name=f"{name}-teams",
                team_id=teams.team_id,
                teams_channel_id=teams.channel_id,
                teams_tenant_id=teams.tenant_id,
                iam_role_arn=self.role.role_arn,
                sns_topic_arns=[topic.topic_arn],
                guardrail_policies=[self.guardrail.managed_policy_arn],
                logging_level="NONE",
            )
