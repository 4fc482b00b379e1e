"""The worker: exports the accounts of the work queue's batches."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra import constants as c
from infra.functions import FunctionOptions, ProjectFunction
from infra.work_queue import WorkQueue

# The job ARNs mgn:DescribeJobLogItems is authorized on: any job of this partition and Region, in
# any account (with global view the jobs live in the member accounts, known only at run time).
MGN_JOB_ARNS = f"arn:{Aws.PARTITION}:mgn:{Aws.REGION}:*:job/*"
# How cdk-nag names that resource in an AwsSolutions-IAM5 finding.
MGN_JOB_ARNS_FINDING = "Resource::arn:<AWS::Partition>:mgn:<AWS::Region>:*:job/*"


class WorkerFunction(ProjectFunction):
    """Consumes the work queue through an event source mapping with partial batch responses.

    Its role can read MGN jobs and their log items, and send continuation requests to the work
    queue; the event source mapping adds what consuming the queue takes (receive, delete,
    change visibility, attributes). The stack grants the checkpoint table, the bus and the event
    log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: Mapping[str, str],
        options: FunctionOptions,
        work_queue: WorkQueue,
        batch_size: int,
        max_concurrency: int,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="MGN job log exporter worker: exports MGN job log items to EventBridge "
            "and CloudWatch Logs",
            handler=c.WORKER_HANDLER,
            timeout=Duration.seconds(c.WORKER_TIMEOUT_SECONDS),
            memory_size=c.WORKER_MEMORY_MB,
            environment=environment,
            options=options,
        )
        self.add_mgn_read_policy(
            "MgnReadPolicy",
            c.WORKER_MGN_UNSCOPED_ACTIONS,
            resources=["*"],
            wildcard="Resource::*",
            justification="mgn:DescribeJobs, DescribeSourceServers, ListApplications and "
            "ListWaves have no resource types in the service authorization reference, so IAM "
            "requires '*'. All are read-only List actions.",
        )
        self.add_mgn_read_policy(
            "MgnJobLogPolicy",
            c.WORKER_MGN_JOB_ACTIONS,
            resources=[MGN_JOB_ARNS],
            wildcard=MGN_JOB_ARNS_FINDING,
            justification="mgn:DescribeJobLogItems is scoped to its resource type, MGN jobs of "
            "this partition and Region. Job IDs are only known at run time, and with MGN "
            "global view the jobs live in the member accounts, so job and account are "
            "wildcards. It is read-only.",
        )
        # Continuation requests: the rest of a backlog, handed on near the deadline.
        work_queue.grant_send_work(self.role)

        self.event_source = event_sources.SqsEventSource(
            work_queue.queue,
            batch_size=batch_size,
            # The handler answers {"batchItemFailures": [...]}: only the failed accounts'
            # records come back (after the worker's growing backoff, RETRY_BACKOFF_SECONDS),
            # not the whole batch.
            report_batch_item_failures=True,
            # Caps the workers at once (and so the load on MGN and on the checkpoint table);
            # FIFO message groups already keep each account to one worker.
            max_concurrency=max_concurrency,
        )
        self.function.add_event_source(self.event_source)
