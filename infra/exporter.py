"""The exporter function, its role, log group, failure queue and schedule."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra import constants as c
from infra.messaging import dead_letter_queue

# Lambda's JSON log format filters application logs itself (AWS_LAMBDA_LOG_LEVEL), so its level
# must follow the configured one or DEBUG lines would be dropped before Powertools sees them.
APPLICATION_LOG_LEVELS = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
    "CRITICAL": lambda_.ApplicationLogLevel.FATAL,
}


def powertools_layer_arn(version: int) -> str:
    """ARN of the AWS-managed Powertools layer in the stack's region (a deploy-time token)."""
    return (
        f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{c.POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"{c.POWERTOOLS_LAYER_NAME}:{version}"
    )


class ExporterFunction(Construct):
    """The scheduled exporter Lambda.

    Code: ``lambda_src/`` as a plain file asset, zipped by the CDK with no Docker and no network.
    Its only third-party imports (Powertools and the X-Ray SDK) come from the AWS-managed
    Powertools layer and boto3 from the runtime. Chosen over a local bundling step because
    nothing then has to be pip-installed (for arm64) at synth time, which keeps synth offline
    and reproducible, the asset is the project's own code only, and AWS patches the libraries;
    the cost is a layer version pinned by hand (``powertoolsLayerVersion``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: Mapping[str, str],
        schedule_rate_minutes: int,
        log_retention: logs.RetentionDays,
        powertools_layer_version: int,
        log_level: str,
    ) -> None:
        super().__init__(scope, construct_id)

        # No AWSLambdaBasicExecutionRole: its logs:* on "*" is wider than this one log group.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="MGN job log exporter function",
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)

        self.failure_queue = dead_letter_queue(self, "AsyncFailureQueue")

        self.function = lambda_.Function(
            self,
            "Function",
            description="Exports MGN job log items to EventBridge and CloudWatch Logs",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=c.HANDLER,
            code=lambda_.Code.from_asset(str(c.LAMBDA_SRC_DIR), exclude=list(c.ASSET_EXCLUDES)),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "PowertoolsLayer", powertools_layer_arn(powertools_layer_version)
                )
            ],
            role=self.role,
            timeout=Duration.seconds(c.FUNCTION_TIMEOUT_SECONDS),
            memory_size=c.FUNCTION_MEMORY_MB,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=APPLICATION_LOG_LEVELS[log_level],
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            environment=dict(environment),
            # A failed run is not retried: the next tick resumes from the checkpoint, and
            # retries would only stack up behind the lease. Failed invocations go to the queue.
            retry_attempts=0,
            max_event_age=Duration.minutes(max(schedule_rate_minutes, 1)),
            on_failure=destinations.SqsDestination(self.failure_queue),
        )

        # The rule sends the standard "Scheduled Event" payload (the target's default input).
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Runs the MGN job log exporter every {schedule_rate_minutes} minutes",
            schedule=events.Schedule.rate(Duration.minutes(schedule_rate_minutes)),
        )
        self.schedule.add_target(
            targets.LambdaFunction(
                self.function,
                # An invocation EventBridge could not deliver is superseded by the next tick.
                retry_attempts=0,
                max_event_age=Duration.minutes(max(schedule_rate_minutes, 1)),
            )
        )

        # A policy of its own so that its '*' resource is justified apart from X-Ray's.
        self.mgn_read_policy = iam.Policy(
            self,
            "MgnReadPolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="MgnReadJobLogs", actions=list(c.MGN_ACTIONS), resources=["*"]
                )
            ],
        )
        # Without this the first scheduled run can start before the policy exists.
        self.function.node.add_dependency(self.mgn_read_policy)

        self._suppress_findings()

    def _suppress_findings(self) -> None:
        # On the role's default policy only, which is where tracing puts the X-Ray statement.
        NagSuppressions.add_resource_suppressions(
            self.role.node.find_child("DefaultPolicy"),
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Only X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) "
                    "use Resource '*' here: X-Ray has no resource-level permissions.",
                    applies_to=["Resource::*"],
                ),
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.mgn_read_policy,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="mgn:DescribeJobs and mgn:ListManagedAccounts have no resource "
                    "types, so IAM requires '*'. mgn:DescribeJobLogItems names jobs that are "
                    "only known at run time and, with global view, live in member accounts. "
                    "All three are read-only.",
                    applies_to=["Resource::*"],
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.function,
            [
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason="Pinned to python3.12 to match the AWS-managed Powertools layer "
                    f"{c.POWERTOOLS_LAYER_NAME}; runtime and layer are upgraded together.",
                )
            ],
        )
