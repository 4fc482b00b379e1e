"""The checkpoint table: per-account lease and per-job progress of the exporter."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import constants as c


class CheckpointTable(Construct):
    """On-demand DynamoDB table keyed by ``pk`` with TTL on ``expiresAt``.

    The table is state: losing it makes the exporter backfill and re-publish events, so it
    is retained when the stack is deleted. No table name is set for the same reason: a
    retained table with a fixed name would block the next deployment of the stack.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=c.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Expired leases and finished-job entries go away without a sweeper.
            time_to_live_attribute=c.TABLE_TTL_ATTRIBUTE,
            # KMS at rest with the AWS managed key: auditable in CloudTrail, no key to run.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def grant_checkpoint_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """The item-level actions the exporter uses, on this table only (no indexes, no scans)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(c.TABLE_ACTIONS),
            resource_arns=[self.table.table_arn],
        )
