"""What every Lambda function of this project shares: role, log group, code, layer, logging.

The dispatcher and the worker (infra/dispatcher.py, infra/worker.py) are ``ProjectFunction``s
that add their own trigger and permissions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra import constants as c
from infra.regions import powertools_layer_arn

# Lambda's JSON log format filters application logs itself (AWS_LAMBDA_LOG_LEVEL), so its level
# must follow the configured one or DEBUG lines would be dropped before Powertools sees them.
APPLICATION_LOG_LEVELS = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
    "CRITICAL": lambda_.ApplicationLogLevel.FATAL,
}


def lambda_source_code() -> lambda_.Code:
    """``lambda_src/`` as a file asset; every function of the stack runs the same package.

    A plain file asset, zipped by the CDK with no Docker and no network (functions with the
    same source share one asset: it is keyed by its hash). The code's only third-party imports
    (Powertools and the X-Ray SDK) come from the AWS-managed Powertools layer, and boto3 from
    the runtime. Chosen over a local bundling step because nothing then has to be
    pip-installed (for arm64) at synth time, which keeps synth offline and reproducible, the
    asset is the project's own code only, and AWS patches the libraries; the cost is a layer
    version pinned by hand (``powertoolsLayerVersion``).
    """
    return lambda_.Code.from_asset(str(c.LAMBDA_SRC_DIR), exclude=list(c.ASSET_EXCLUDES))


@dataclass(frozen=True)
class FunctionOptions:
    """The configured options every function of the stack takes alike."""

    log_retention: logs.RetentionDays
    powertools_layer_version: int
    log_level: str


class ProjectFunction(Construct):
    """A python3.12 arm64 function of this project with a role and a log group of its own.

    The role starts empty (no AWSLambdaBasicExecutionRole: its logs:* on "*" is wider than the
    function's own log group); the function can write to its log group and X-Ray (active
    tracing), and subclasses grant the rest. Logs are JSON, at the configured level.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        handler: str,
        timeout: Duration,
        memory_size: int,
        environment: Mapping[str, str],
        options: FunctionOptions,
        **function_props: Any,
    ) -> None:
        super().__init__(scope, construct_id)
        self.timeout = timeout

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=options.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=lambda_source_code(),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "PowertoolsLayer",
                    powertools_layer_arn(self, options.powertools_layer_version),
                )
            ],
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=APPLICATION_LOG_LEVELS[options.log_level],
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            environment=dict(environment),
            **function_props,
        )

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
            self.function,
            [
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason="Pinned to python3.12 to match the AWS-managed Powertools layer "
                    f"{c.POWERTOOLS_LAYER_NAME}; runtime and layer are upgraded together.",
                )
            ],
        )

    def add_mgn_read_policy(
        self,
        construct_id: str,
        actions: Sequence[str],
        *,
        resources: Sequence[str],
        wildcard: str,
        justification: str,
    ) -> iam.Policy:
        """MGN read actions in a policy of their own, so that its wildcard resource is justified
        apart from X-Ray's. ``wildcard`` is the resource as cdk-nag names it in its finding
        (``Resource::*``, say); ``justification`` says why it cannot be narrower."""
        policy = iam.Policy(
            self,
            construct_id,
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid=construct_id.removesuffix("Policy"),
                    actions=list(actions),
                    resources=list(resources),
                )
            ],
        )
        # Without this the first invocation can start before the policy exists.
        self.function.node.add_dependency(policy)
        NagSuppressions.add_resource_suppressions(
            policy,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=justification,
                    applies_to=[wildcard],
                )
            ],
        )
        return policy
