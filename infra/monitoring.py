"""Alarms and a dashboard for the on-call engineer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants as c
from infra.event_log import WAVE_DASHBOARD_QUERIES, saved_query
from infra.messaging import allow_alarms_to_publish, encrypted_topic
from mgn_exporter.metric_names import (
    ACCOUNT_STALENESS_SECONDS,
    STEP_DURATION_SECONDS,
    DispatcherMetric,
    WorkerMetric,
)


@dataclass(frozen=True)
class WatchedQueue:
    """A dead-letter queue whose messages mean lost work or lost notifications."""

    label: str
    queue: sqs.IQueue


@dataclass(frozen=True)
class WatchedFunction:
    """A function whose errors and throttles are alarmed (and its duration, against its
    timeout, where a long run means trouble)."""

    label: str
    function: lambda_.IFunction
    timeout: Duration


def work_queue_age_alarm_seconds(schedule_rate_minutes: int) -> int:
    """Age of the oldest work request at which the fan-out counts as falling behind.

    Normally a tick's requests are taken within seconds, or wait behind a running export of the
    same account (FIFO message group): at most one worker timeout. Three schedule periods mean
    three ticks' requests are waiting, i.e. the workers do not keep up (too low a
    workerMaxConcurrency for the accounts' backlog) or do not consume at all (the event source
    mapping disabled or failing). The floor of two worker timeouts keeps a fast schedule from
    paging on one long export.
    """
    return max(
        c.WORK_QUEUE_AGE_ALARM_SCHEDULE_PERIODS * schedule_rate_minutes * 60,
        c.WORK_QUEUE_AGE_ALARM_MIN_WORKER_TIMEOUTS * c.WORKER_TIMEOUT_SECONDS,
    )


class Monitoring(Construct):
    """Alarms to an operations topic, and a dashboard of the exporter's metrics."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dispatcher: WatchedFunction,
        worker: WatchedFunction,
        work_queue: sqs.IQueue,
        worker_max_concurrency: int,
        service_name: str,
        dashboard_name: str,
        schedule_rate_minutes: int,
        staleness_alarm_minutes: int,
        dead_letter_queues: Sequence[WatchedQueue],
        topic_key: kms.IKey,
        ops_email: str | None,
        event_log_group_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._event_log_group_name = event_log_group_name
        self._service_name = service_name
        # Every alarm is named "<stack name>-<what>": a page says which stack, and the ops
        # topic's policy admits exactly these alarms.
        self._alarm_prefix = f"{Stack.of(self).stack_name}-"
        # Metrics are emitted once a run; a period shorter than the schedule would be empty.
        self._period = Duration.minutes(max(5, schedule_rate_minutes))

        self.ops_topic = encrypted_topic(
            self,
            "OpsTopic",
            key=topic_key,
            display_name="MGN job log exporter operations",
            email=ops_email,
        )
        allow_alarms_to_publish(self.ops_topic, alarm_name_prefix=self._alarm_prefix)
        self.alarms: list[cloudwatch.Alarm] = []

        self._function_alarms(
            dispatcher,
            errors="Dispatcher invocations (retries included) failed in 2 of the last 3 "
            "periods: some accounts may not have been asked for. See its logs "
            "(ListManagedAccounts or the work queue); a tick that failed every retry is in the "
            "DispatcherAsyncFailures queue.",
            throttles="Lambda throttled the dispatcher: check the account's concurrency.",
            duration="the dispatch of all accounts is close to not fitting",
        )
        self._function_alarms(
            worker,
            errors="Worker invocations failed in 2 of the last 3 periods (a defect, a timeout "
            "or a failing cold start; a failed account is reported per record and is not an "
            "error). Their batches come back after the visibility timeout.",
            throttles="Lambda throttled the worker: the account's concurrency is exhausted "
            "(the event source mapping's maximum concurrency alone does not throttle).",
            # None: the worker runs to its deadline by design (it hands the rest of a backlog
            # on near the timeout), so its duration says nothing; AccountStaleness watches
            # whether the accounts make progress.
            duration=None,
        )
        self._alarm(
            "DispatcherNotRunningAlarm",
            dispatcher.function.metric_invocations(period=self._period, statistic="Sum"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description="The dispatcher has not been invoked for 3 periods: is the schedule on?",
        )
        self.work_queue_age_threshold = work_queue_age_alarm_seconds(schedule_rate_minutes)
        self._alarm(
            "WorkQueueAgeAlarm",
            work_queue.metric_approximate_age_of_oldest_message(
                period=self._period, statistic="Maximum"
            ),
            threshold=self.work_queue_age_threshold,
            evaluation_periods=1,
            description=f"The oldest work request is over {self.work_queue_age_threshold} s "
            "old: the workers are not keeping up (raise workerMaxConcurrency) or not consuming "
            "(is the event source mapping enabled?). An account failing again and again also "
            "holds back its message group: see AccountsFailed.",
        )
        self._alarm(
            "AccountsFailedAlarm",
            self.metric(WorkerMetric.ACCOUNTS_FAILED, "Sum"),
            threshold=1,
            evaluation_periods=3,
            description="At least one account failed to export in 3 periods in a row "
            "(permissions, MGN errors, a sink or the checkpoint table down; an account where MGN "
            "is not initialized is not a failure): see the worker's logs.",
        )
        self._alarm(
            "FailedEntriesAlarm",
            self.metric(WorkerMetric.FAILED_ENTRIES, "Sum"),
            threshold=1,
            evaluation_periods=1,
            description="PutEvents rejected entries after retries: events may be missing "
            "from the bus.",
        )
        self._alarm(
            "MgnThrottlesAlarm",
            self.metric(WorkerMetric.THROTTLES, "Sum"),
            threshold=10,
            evaluation_periods=3,
            description="MGN or EventBridge kept throttling the workers for 3 periods.",
        )
        self.staleness_threshold = staleness_alarm_minutes * 60
        self._alarm(
            "AccountStalenessAlarm",
            self.metric(ACCOUNT_STALENESS_SECONDS, "Maximum"),
            threshold=self.staleness_threshold,
            evaluation_periods=1,
            description=f"An account has had no successful export for {staleness_alarm_minutes} "
            "minutes or more: its exports fail, or its requests are not being worked (see "
            "AccountsFailed, the work queue's age and the work dead-letter queue). A stall "
            "that stops the workers altogether shows as missing data here: WorkQueueAge and "
            "DispatcherNotRunning cover it.",
        )
        self._alarm(
            "EventsDeliveryAlarm",
            self.metric(WorkerMetric.EVENTS_DELIVERY_FAILED, "Sum"),
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description="EventBridge refused whole PutEvents calls after retries in 2 of the "
            "last 3 periods (the bus missing, AccessDenied, or its KMS key): no events reach "
            "the bus. The exports retry; see the worker's logs.",
        )
        self._alarm(
            "LogsDeliveryAlarm",
            self.metric(WorkerMetric.LOGS_DELIVERY_FAILED, "Sum"),
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description="Writing to the event log group failed in 2 of the last 3 periods (the "
            "group missing, AccessDenied, or its KMS key): no lines reach CloudWatch Logs. The "
            "exports retry; see the worker's logs.",
        )
        self._alarm(
            "LogShiftsAlarm",
            self.metric(WorkerMetric.LOG_SHIFTS, "Sum"),
            threshold=1,
            evaluation_periods=1,
            description="A job log changed under the exporter's checkpoint (items shifted): "
            "some items of that job may be missing or repeated. See the worker's logs for the "
            "job.",
        )
        self._alarm(
            "JobsFailedAlarm",
            self.metric(WorkerMetric.JOBS_FAILED, "Sum"),
            threshold=1,
            evaluation_periods=3,
            description="MGN refused a job's log in 3 periods in a row: that job is not being "
            "exported. See the worker's logs for the job and MGN's error.",
        )
        for watched in dead_letter_queues:
            self._alarm(
                f"{watched.label}Alarm",
                watched.queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                description=f"Messages in the {watched.label} dead-letter queue: inspect and "
                "redrive or purge them.",
            )

        self.dashboard = self._dashboard(
            dashboard_name,
            dispatcher,
            worker,
            work_queue,
            dead_letter_queues,
            worker_max_concurrency,
        )

    def _function_alarms(
        self, watched: WatchedFunction, *, errors: str, throttles: str, duration: str | None
    ) -> None:
        """Errors and throttles of the function; its duration against its timeout when
        ``duration`` says what a long run means (None: no duration alarm)."""
        function, label = watched.function, watched.label
        self._alarm(
            f"{label}ErrorsAlarm",
            function.metric_errors(period=self._period, statistic="Sum"),
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=errors,
        )
        self._alarm(
            f"{label}ThrottlesAlarm",
            function.metric_throttles(period=self._period, statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            description=throttles,
        )
        if duration is None:
            return
        self._alarm(
            f"{label}DurationAlarm",
            function.metric_duration(period=self._period, statistic="Maximum"),
            threshold=round(watched.timeout.to_milliseconds() * c.DURATION_ALARM_FRACTION),
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=f"A {label.lower()} run took over "
            f"{round(c.DURATION_ALARM_FRACTION * 100)}% of its {watched.timeout.to_seconds()} s "
            f"timeout: {duration}.",
        )

    def metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        """One of the exporter's EMF metrics, in this stack's service dimension."""
        return cloudwatch.Metric(
            namespace=c.METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={c.METRIC_DIMENSION: self._service_name},
            statistic=statistic,
            period=self._period,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        evaluation_periods: int,
        description: str,
        datapoints_to_alarm: int | None = None,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        # Named so that a page says what broke and in which stack.
        alarm_name = f"{self._alarm_prefix}{construct_id.removesuffix('Alarm')}"
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_name=alarm_name,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        action = cw_actions.SnsAction(self.ops_topic)
        alarm.add_alarm_action(action)
        # Recovery is news too: on-call can stand down without opening the console.
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        return alarm

    def _dashboard(
        self,
        dashboard_name: str,
        dispatcher: WatchedFunction,
        worker: WatchedFunction,
        work_queue: sqs.IQueue,
        dead_letter_queues: Sequence[WatchedQueue],
        worker_max_concurrency: int,
    ) -> cloudwatch.Dashboard:
        period = self._period
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.days(1),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms), width=24, height=4
            )
        )
        worker_timeout_ms = worker.timeout.to_milliseconds()
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{watched.label}: invocations, errors, throttles",
                    left=[
                        watched.function.metric_invocations(period=period),
                        watched.function.metric_errors(period=period),
                        watched.function.metric_throttles(period=period),
                    ],
                    width=8,
                )
                for watched in (dispatcher, worker)
            ),
            cloudwatch.GraphWidget(
                title="Duration (ms)",
                left=[
                    worker.function.metric_duration(
                        period=period, statistic="Average", label="Worker average"
                    ),
                    worker.function.metric_duration(
                        period=period, statistic="Maximum", label="Worker maximum"
                    ),
                    dispatcher.function.metric_duration(
                        period=period, statistic="Maximum", label="Dispatcher maximum"
                    ),
                ],
                # The worker runs up to its timeout by design (no alarm on its duration).
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=worker_timeout_ms, label="worker timeout"
                    ),
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Work queue: requests waiting and in flight",
                left=[
                    work_queue.metric_approximate_number_of_messages_visible(
                        period=period, statistic="Maximum", label="Waiting"
                    ),
                    work_queue.metric_approximate_number_of_messages_not_visible(
                        period=period, statistic="Maximum", label="In flight"
                    ),
                    *(
                        watched.queue.metric_approximate_number_of_messages_visible(
                            period=period, statistic="Maximum", label=watched.label
                        )
                        for watched in dead_letter_queues
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Oldest work request (s)",
                left=[
                    work_queue.metric_approximate_age_of_oldest_message(
                        period=period, statistic="Maximum"
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=self.work_queue_age_threshold, label="alarm"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Workers running at once",
                left=[
                    worker.function.metric(
                        "ConcurrentExecutions", period=period, statistic="Maximum"
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=worker_max_concurrency, label="maximum concurrency"
                    )
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Accounts dispatched, items and derived events exported",
                left=[self.metric(DispatcherMetric.ACCOUNTS_DISPATCHED, "Sum")],
                right=[
                    self.metric(WorkerMetric.ITEMS_EXPORTED, "Sum"),
                    self.metric(WorkerMetric.DERIVED_EVENTS, "Sum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Account staleness (s, max)",
                left=[self.metric(ACCOUNT_STALENESS_SECONDS, "Maximum")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=self.staleness_threshold, label="alarm")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Failures",
                left=[
                    self.metric(WorkerMetric.ACCOUNTS_FAILED, "Sum"),
                    self.metric(WorkerMetric.JOBS_FAILED, "Sum"),
                    self.metric(WorkerMetric.FAILED_ENTRIES, "Sum"),
                    self.metric(WorkerMetric.EVENTS_DELIVERY_FAILED, "Sum"),
                    self.metric(WorkerMetric.LOGS_DELIVERY_FAILED, "Sum"),
                    self.metric(WorkerMetric.LOG_SHIFTS, "Sum"),
                    self.metric(WorkerMetric.BAD_MESSAGES, "Sum"),
                    self.metric(DispatcherMetric.MANAGED_ACCOUNTS_UNAVAILABLE, "Sum"),
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Retries and throttles",
                left=[
                    self.metric(WorkerMetric.PUBLISH_RETRIES, "Sum"),
                    self.metric(WorkerMetric.THROTTLES, "Sum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Backlogs handed on, requests already covered",
                left=[
                    self.metric(WorkerMetric.HAND_ONS, "Sum"),
                    self.metric(WorkerMetric.HAND_ONS_FAILED, "Sum"),
                    self.metric(WorkerMetric.REQUESTS_COVERED, "Sum"),
                ],
                width=8,
            ),
            # States rather than failures: no alarm. Jobs put off to a later run, and accounts
            # found with MGN not initialized in the Region (initialize it, or leave them out).
            # Events not named: the inventory could not be read (IAM not deployed in a member
            # account, throttling); the events went out all the same.
            cloudwatch.GraphWidget(
                title="Jobs deferred, accounts uninitialized, events not named",
                left=[
                    self.metric(WorkerMetric.JOBS_DEFERRED, "Sum"),
                    self.metric(WorkerMetric.ACCOUNTS_UNINITIALIZED, "Sum"),
                    self.metric(WorkerMetric.EVENTS_NOT_ENRICHED, "Sum"),
                ],
                width=8,
            ),
        )
        # How long each step takes (p90 per step and initiatedBy, one line each): the metric
        # has dimensions of its own, so a search finds every pair this stack emitted.
        schema = f"{{{c.METRICS_NAMESPACE},initiatedBy,{c.METRIC_DIMENSION},step}}"
        terms = f'MetricName="{STEP_DURATION_SECONDS}" {c.METRIC_DIMENSION}="{self._service_name}"'
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Step durations (s, p90 per step and initiatedBy)",
                left=[
                    cloudwatch.MathExpression(
                        expression=f"SEARCH('{schema} {terms}', 'p90', 3600)",
                        label="",
                        period=Duration.hours(1),
                    )
                ],
                width=24,
            )
        )
        # The migration's own view, by wave, from the event log group (Logs Insights).
        dashboard.add_widgets(
            *(
                cloudwatch.LogQueryWidget(
                    title=saved_query(query_id).title.split(" (")[0],
                    log_group_names=[self._event_log_group_name],
                    query_string=saved_query(query_id).query,
                    view=cloudwatch.LogQueryVisualizationType.TABLE,
                    width=12,
                )
                for query_id in WAVE_DASHBOARD_QUERIES
            )
        )
        return dashboard
