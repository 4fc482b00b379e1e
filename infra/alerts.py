"""The alert function: what the alert rules match, written for people and sent to the topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra import constants as c
from infra.functions import FunctionOptions, ProjectFunction


class AlertFunction(ProjectFunction):
    """Publishes each matched event to the alert topic as a subject and plain lines
    (mgn_exporter/alert_text.py): EventBridge's own input transformer can neither leave out an
    absent field's line nor send SNS email text without quotes around every line.

    Its role may publish to the alert topic only (and use the topic's key). A publish that
    fails is retried by Lambda, then the event parks in `failure_queue` (the alert DLQ, which
    an alarm watches).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        failure_queue: sqs.IQueue,
        environment: dict[str, str],
        options: FunctionOptions,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="MGN job log exporter alerts: writes matched events for people and "
            "publishes them to the alert topic",
            handler=c.ALERT_HANDLER,
            timeout=Duration.seconds(c.ALERT_TIMEOUT_SECONDS),
            memory_size=c.ALERT_MEMORY_MB,
            environment={c.ENV_ALERT_TOPIC_ARN: topic.topic_arn, **environment},
            options=options,
        )
        topic.grant_publish(self.role)
        NagSuppressions.add_resource_suppressions(
            self.role.node.find_child("DefaultPolicy"),
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Publishing to a KMS-encrypted topic takes kms:GenerateDataKey* (the "
                    "data key variants SNS asks for) on the topic's own key only: the resource "
                    "is that key's ARN (Topic.grant_publish).",
                    applies_to=["Action::kms:GenerateDataKey*"],
                ),
            ],
            apply_to_children=True,
        )
        self.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(failure_queue),
        )
