"""Building blocks shared by the constructs: encrypted SNS topics and SQS dead-letter queues."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

# CloudWatch alarms publish to the topics; the key policy and the topic's policy must say so.
# (The EventBridge rule targets add their own statements for events.amazonaws.com, to the topic's
# policy and to its key's, when they are bound to a topic.)
ALARM_PUBLISHER = "cloudwatch.amazonaws.com"


class NotificationKey(Construct):
    """Customer managed KMS key for the SNS topics.

    The AWS managed aws/sns key cannot be used here: its key policy does not let EventBridge
    or CloudWatch alarms use it, so their messages to a topic encrypted with it are dropped.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the MGN job log exporter's SNS topics",
            enable_key_rotation=True,
            # Only in-flight notifications depend on it; an orphaned key would cost money.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal(ALARM_PUBLISHER)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )


def encrypted_topic(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    display_name: str,
    email: str | None,
) -> sns.Topic:
    """A KMS-encrypted topic that refuses non-TLS publishers, with an optional email endpoint."""
    topic = sns.Topic(
        scope,
        construct_id,
        display_name=display_name,
        master_key=key,
        enforce_ssl=True,
    )
    if email:
        # The address gets a confirmation mail; nothing is delivered until it is confirmed.
        topic.add_subscription(subscriptions.EmailSubscription(email))
    return topic


def allow_alarms_to_publish(topic: sns.Topic, *, alarm_name_prefix: str) -> None:
    """Let this account's CloudWatch alarms named ``<alarm_name_prefix>*`` publish to ``topic``.

    Needed because the topic has a policy of its own (the TLS-only statement ``enforce_ssl``
    adds): a topic policy replaces SNS's default one, which is what lets an alarm of the
    account publish, and ``SnsAction`` adds nothing. The conditions keep the statement from
    serving another account's alarms (``aws:SourceAccount``) or another stack's
    (``aws:SourceArn``: the alarm names start with the prefix).
    """
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisStacksAlarmsToPublish",
            principals=[iam.ServicePrincipal(ALARM_PUBLISHER)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:"
                    f"{Aws.ACCOUNT_ID}:alarm:{alarm_name_prefix}*"
                },
            },
        )
    )


def dead_letter_queue(
    scope: Construct, construct_id: str, *, holds: str, fifo: bool = False
) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps undeliverable messages for the maximum 14 days.

    ``holds`` says whose failures land here (it goes into the SQS3 justification). ``fifo``
    makes a FIFO queue: SQS requires the dead-letter queue of a FIFO queue to be FIFO too.
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        # No name: CloudFormation generates one (with the .fifo suffix for a FIFO queue).
        fifo=True if fifo else None,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    NagSuppressions.add_resource_suppressions(
        queue,
        [
            NagPackSuppression(
                id="AwsSolutions-SQS3",
                reason=f"This queue is itself a dead-letter queue ({holds}); an alarm watches "
                "its depth, and a dead-letter queue of its own would only move the problem.",
            )
        ],
    )
    return queue
