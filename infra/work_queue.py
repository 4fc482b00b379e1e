"""The work queue between the dispatcher and the workers, and its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants as c
from infra.messaging import dead_letter_queue


class WorkQueue(Construct):
    """FIFO queue of work requests ("export this account now"), one message group per account.

    The dispatcher sends one request per account and tick; a worker that runs out of time with
    backlog left sends a continuation request for its account. FIFO ordering per group means
    SQS never hands two requests of one account to two workers at once. The code sets each
    message's deduplication ID (account + what caused the request), so content-based
    deduplication stays off.

    A request that fails ``max_receive_count`` times goes to ``dead_letter_queue`` (FIFO too,
    as SQS requires for a FIFO source queue); an alarm watches it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        worker_timeout: Duration,
        max_receive_count: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(
            self,
            "DeadLetterQueue",
            holds=f"work requests the worker failed {max_receive_count} times",
            fifo=True,
        )
        self.visibility_timeout = Duration.seconds(
            worker_timeout.to_seconds() * c.WORK_QUEUE_VISIBILITY_TIMEOUT_FACTOR
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            # No name: CloudFormation generates one with the .fifo suffix.
            fifo=True,
            content_based_deduplication=False,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=self.visibility_timeout,
            # SQS's default, stated: a request is superseded by the next tick's anyway, so a
            # longer retention would only grow the backlog while the workers are down. (A request
            # failing for longer than this expires instead of reaching the dead-letter queue;
            # the next tick asks for its account again.)
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )

    def grant_send_work(self, grantee: iam.IGrantable) -> iam.Grant:
        """sqs:SendMessage (which also authorizes SendMessageBatch) on this queue only."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(c.WORK_QUEUE_SEND_ACTIONS),
            resource_arns=[self.queue.queue_arn],
        )
