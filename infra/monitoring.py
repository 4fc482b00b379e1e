"""Alarms and a dashboard for the on-call engineer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants as c
from infra.messaging import encrypted_topic


@dataclass(frozen=True)
class WatchedQueue:
    """A dead-letter queue whose messages mean lost work or lost notifications."""

    label: str
    queue: sqs.IQueue


class Monitoring(Construct):
    """Alarms to an operations topic, and a dashboard of the exporter's metrics."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        function_timeout: Duration,
        service_name: str,
        schedule_rate_minutes: int,
        export_lag_alarm_seconds: int,
        dead_letter_queues: Sequence[WatchedQueue],
        topic_key: kms.IKey,
        ops_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._service_name = service_name
        self._alarm_prefix = Stack.of(self).stack_name
        # Metrics are emitted once a run; a period shorter than the schedule would be empty.
        self._period = Duration.minutes(max(5, schedule_rate_minutes))

        self.ops_topic = encrypted_topic(
            self,
            "OpsTopic",
            key=topic_key,
            display_name="MGN job log exporter operations",
            email=ops_email,
        )
        self.alarms: list[cloudwatch.Alarm] = []
        self.alarm_names: list[str] = []

        timeout_ms = function_timeout.to_milliseconds()
        self._alarm(
            "ErrorsAlarm",
            function.metric_errors(period=self._period, statistic="Sum"),
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description="The exporter failed in 2 of its last 3 periods (a single failed run "
            "is retried by the next tick).",
        )
        self._alarm(
            "ThrottlesAlarm",
            function.metric_throttles(period=self._period, statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            description="Lambda throttled the exporter: check the account's concurrency.",
        )
        self._alarm(
            "DurationAlarm",
            function.metric_duration(period=self._period, statistic="Maximum"),
            threshold=round(timeout_ms * c.DURATION_ALARM_FRACTION),
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=f"A run took over {round(c.DURATION_ALARM_FRACTION * 100)}% of the "
            f"{function_timeout.to_seconds()} s timeout: the backlog is close to not fitting.",
        )
        self._alarm(
            "NotRunningAlarm",
            function.metric_invocations(period=self._period, statistic="Sum"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description="The exporter has not been invoked for 3 periods: is the schedule on?",
        )
        self._alarm(
            "AccountsFailedAlarm",
            self.metric(c.METRIC_ACCOUNTS_FAILED, "Sum"),
            threshold=1,
            evaluation_periods=3,
            description="At least one account failed to export in 3 periods in a row "
            "(permissions, MGN not initialized, or MGN errors): see the function's logs.",
        )
        self._alarm(
            "FailedEntriesAlarm",
            self.metric(c.METRIC_FAILED_ENTRIES, "Sum"),
            threshold=1,
            evaluation_periods=1,
            description="PutEvents rejected entries after retries: events may be missing "
            "from the bus.",
        )
        self._alarm(
            "MgnThrottlesAlarm",
            self.metric(c.METRIC_THROTTLES, "Sum"),
            threshold=10,
            evaluation_periods=3,
            description="MGN or EventBridge kept throttling the exporter for 3 periods.",
        )
        self._alarm(
            "ExportLagAlarm",
            self.metric(c.METRIC_EXPORT_LAG_SECONDS, "Maximum"),
            threshold=export_lag_alarm_seconds,
            evaluation_periods=3,
            description=f"Exported items are over {export_lag_alarm_seconds} s behind MGN's "
            "job log for 3 periods.",
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

        self.dashboard = self._dashboard(function, timeout_ms)

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
        alarm_name = f"{self._alarm_prefix}-{construct_id.removesuffix('Alarm')}"
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
        self.alarm_names.append(alarm_name)
        return alarm

    def _dashboard(self, function: lambda_.IFunction, timeout_ms: float) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self._service_name}-{Aws.REGION}",
            default_interval=Duration.days(1),
        )
        # Alarms by name, not by reference: the dashboard then does not depend on the alarm
        # resources (which the local moto deployment cannot create).
        by_name = [
            cloudwatch.Alarm.from_alarm_name(self, f"{alarm.node.id}Ref", name)
            for alarm, name in zip(self.alarms, self.alarm_names, strict=True)
        ]
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=by_name, width=24, height=4)
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations, errors, throttles",
                left=[
                    function.metric_invocations(period=self._period),
                    function.metric_errors(period=self._period),
                    function.metric_throttles(period=self._period),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Duration (ms)",
                left=[
                    function.metric_duration(period=self._period, statistic="Average"),
                    function.metric_duration(period=self._period, statistic="Maximum"),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=timeout_ms, label="timeout"),
                    cloudwatch.HorizontalAnnotation(
                        value=timeout_ms * c.DURATION_ALARM_FRACTION, label="alarm"
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Items exported",
                left=[self.metric(c.METRIC_ITEMS_EXPORTED, "Sum")],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Export lag (s, max)",
                left=[self.metric(c.METRIC_EXPORT_LAG_SECONDS, "Maximum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Failures",
                left=[
                    self.metric(c.METRIC_ACCOUNTS_FAILED, "Sum"),
                    self.metric(c.METRIC_JOBS_FAILED, "Sum"),
                    self.metric(c.METRIC_FAILED_ENTRIES, "Sum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Retries and throttles",
                left=[
                    self.metric(c.METRIC_PUBLISH_RETRIES, "Sum"),
                    self.metric(c.METRIC_THROTTLES, "Sum"),
                ],
                width=8,
            ),
        )
        return dashboard
