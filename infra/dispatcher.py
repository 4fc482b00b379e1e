"""The dispatcher: the schedule's target, which puts one work request per account on the queue."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from constructs import Construct

from infra import constants as c
from infra.functions import FunctionOptions, ProjectFunction
from infra.messaging import dead_letter_queue
from infra.work_queue import WorkQueue


def dispatch_max_event_age(schedule_rate_minutes: int) -> Duration:
    """How long a tick's dispatch may still be (re)tried.

    Not past the next tick, which asks for every account again anyway; and not so late that a
    retry's requests (sent up to a dispatcher timeout after it starts) fall outside SQS's
    deduplication window of the first attempt's. At least 60 s, Lambda's and EventBridge's
    minimum.
    """
    seconds = min(
        schedule_rate_minutes * 60,
        c.SQS_DEDUPLICATION_WINDOW_SECONDS - c.DISPATCHER_TIMEOUT_SECONDS,
    )
    return Duration.seconds(max(60, seconds))


class DispatcherFunction(ProjectFunction):
    """Runs every ``schedule_rate_minutes``: resolves the accounts and enqueues their work.

    Its role can list MGN's managed accounts and send to the work queue, nothing else (plus its
    own logs, X-Ray, and its on-failure queue).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: Mapping[str, str],
        options: FunctionOptions,
        schedule_rate_minutes: int,
        work_queue: WorkQueue,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="MGN job log exporter dispatcher: one work request per account",
            handler=c.DISPATCHER_HANDLER,
            timeout=Duration.seconds(c.DISPATCHER_TIMEOUT_SECONDS),
            memory_size=c.DISPATCHER_MEMORY_MB,
            environment=environment,
            options=options,
        )
        self.max_event_age = dispatch_max_event_age(schedule_rate_minutes)

        # Retried: a retry of the same tick is deduplicated by SQS (see
        # constants.DISPATCHER_RETRY_ATTEMPTS), so it only fills in what the failed attempt
        # did not send. A dispatch that still fails lands in the failure queue.
        self.failure_queue = dead_letter_queue(
            self, "AsyncFailureQueue", holds="the dispatcher's failed scheduled invocations"
        )
        self.function.configure_async_invoke(
            retry_attempts=c.DISPATCHER_RETRY_ATTEMPTS,
            max_event_age=self.max_event_age,
            on_failure=destinations.SqsDestination(self.failure_queue),
        )

        # The rule sends the standard "Scheduled Event" payload (the target's default input),
        # whose `time` is the tick the requests are deduplicated by.
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Runs the MGN job log exporter every {schedule_rate_minutes} minutes",
            schedule=events.Schedule.rate(Duration.minutes(schedule_rate_minutes)),
        )
        self.schedule.add_target(
            targets.LambdaFunction(
                self.function,
                # An invoke EventBridge could not make is tried again like a failed dispatch.
                retry_attempts=c.DISPATCHER_RETRY_ATTEMPTS,
                max_event_age=self.max_event_age,
            )
        )

        work_queue.grant_send_work(self.role)
        self.add_mgn_read_policy(
            "MgnReadPolicy",
            c.DISPATCHER_MGN_ACTIONS,
            resources=["*"],
            wildcard="Resource::*",
            justification="mgn:ListManagedAccounts has no resource types, so IAM requires '*'. "
            "It is read-only, and only called when the accounts are 'auto' (global view).",
        )
