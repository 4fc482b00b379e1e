"""The one stack: composes the constructs and wires names between them.

The schedule invokes the dispatcher, which puts one work request per account on the FIFO work
queue; the workers consume it (an event source mapping) and export each account to the bus and
the event log group, keeping their progress in the checkpoint table.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from infra import constants as c
from infra.alerts import AlertFunction
from infra.chat import ChatDelivery
from infra.checkpoint_table import CheckpointTable
from infra.config import ExporterConfig
from infra.dispatcher import DispatcherFunction
from infra.event_bus import ExporterEventBus
from infra.event_log import EventLogGroup
from infra.event_schema import EventSchema
from infra.functions import FunctionOptions
from infra.messaging import NotificationKey
from infra.monitoring import Monitoring, WatchedFunction, WatchedQueue
from infra.naming import resource_names
from infra.regions import check_supported_region
from infra.work_queue import WorkQueue
from infra.worker import WorkerFunction


class MgnJobLogExporterStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: ExporterConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, description=c.STACK_DESCRIPTION, **kwargs)
        self.config = config
        # An explicit Region the stack cannot run in fails here, before anything is built.
        check_supported_region(self.region)
        self.names = resource_names(self, config)

        self.checkpoints = CheckpointTable(self, "Checkpoints")
        self.event_log = EventLogGroup(
            self,
            "EventLog",
            log_group_name=self.names.event_log_group,
            retention=config.event_log_retention,
            kms_key_arn=config.event_log_kms_key_arn,
            query_folder=config.service_name,
        )
        notification_key = NotificationKey(self, "NotificationKey")
        self.event_bus = ExporterEventBus(
            self,
            "Events",
            bus_name=self.names.event_bus,
            archive_name=self.names.archive,
            event_source=config.event_source,
            archive_enabled=config.archive_enabled,
            archive_retention_days=config.archive_retention_days,
            topic_key=notification_key.key,
            alert_email=config.alert_email,
        )
        self.event_schema = EventSchema(
            self,
            "EventSchema",
            registry_name=self.names.schema_registry,
            event_source=config.event_source,
        )
        options = FunctionOptions(
            log_retention=config.function_log_retention,
            powertools_layer_version=config.powertools_layer_version,
            log_level=config.log_level,
        )
        self.work_queue = WorkQueue(
            self,
            "WorkQueue",
            worker_timeout=Duration.seconds(c.WORKER_TIMEOUT_SECONDS),
            max_receive_count=config.worker_max_receive_count,
        )
        self.dispatcher = DispatcherFunction(
            self,
            "Dispatcher",
            environment=self._dispatcher_environment(),
            options=options,
            schedule_rate_minutes=config.schedule_rate_minutes,
            work_queue=self.work_queue,
        )
        self.worker = WorkerFunction(
            self,
            "Worker",
            environment=self._worker_environment(),
            options=options,
            work_queue=self.work_queue,
            batch_size=config.worker_batch_size,
            max_concurrency=config.worker_max_concurrency,
        )
        self.alerts = AlertFunction(
            self,
            "Alerts",
            topic=self.event_bus.alert_topic,
            failure_queue=self.event_bus.alert_dlq,
            environment=self._shared_environment(),
            options=options,
        )
        self.event_bus.add_alert_rules(self.alerts.function)
        self.chat: ChatDelivery | None = None
        if config.chat_slack or config.chat_teams:
            self.chat = ChatDelivery(
                self,
                "Chat",
                topic=self.event_bus.alert_topic,
                name=f"{self.stack_name}-alerts",
                slack=config.chat_slack,
                teams=config.chat_teams,
            )
        self.checkpoints.grant_checkpoint_access(self.worker.role)
        self.event_bus.grant_put_events(self.worker.role)
        self.event_log.grant_write_events(self.worker.role)

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dispatcher=WatchedFunction(
                "Dispatcher", self.dispatcher.function, self.dispatcher.timeout
            ),
            worker=WatchedFunction("Worker", self.worker.function, self.worker.timeout),
            work_queue=self.work_queue.queue,
            worker_max_concurrency=config.worker_max_concurrency,
            service_name=config.service_name,
            dashboard_name=self.names.dashboard,
            schedule_rate_minutes=config.schedule_rate_minutes,
            staleness_alarm_minutes=config.staleness_alarm_minutes,
            dead_letter_queues=[
                WatchedQueue("WorkDeadLetters", self.work_queue.dead_letter_queue),
                WatchedQueue("DispatcherAsyncFailures", self.dispatcher.failure_queue),
                WatchedQueue("AlertDelivery", self.event_bus.alert_dlq),
            ],
            topic_key=notification_key.key,
            ops_email=config.ops_email,
            event_log_group_name=self.event_log.log_group.log_group_name,
        )
        self._outputs()

    def _shared_environment(self) -> dict[str, str]:
        """Powertools' settings: both functions log, trace and emit metrics alike (one
        `service` dimension for the metrics of both)."""
        cfg = self.config
        return {
            "POWERTOOLS_SERVICE_NAME": cfg.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": cfg.log_level,
            "LOG_LEVEL": cfg.log_level,
            # Lambda's active tracing still records each invocation; the SDK adds a subsegment
            # per AWS call at the price of importing the X-Ray SDK on every cold start.
            "POWERTOOLS_TRACE_DISABLED": "false" if cfg.sdk_tracing else "true",
        }

    def _dispatcher_environment(self) -> dict[str, str]:
        """What DispatchSettings reads: which accounts, and where their work goes."""
        return {
            c.ENV_ACCOUNTS: self.config.accounts,
            c.ENV_WORK_QUEUE_URL: self.work_queue.queue.queue_url,
            **self._shared_environment(),
        }

    def _worker_environment(self) -> dict[str, str]:
        """What Settings reads: the sinks, the checkpoint table, the export options, and the
        work queue (for continuation requests)."""
        cfg = self.config
        # The names are the deployed resources' (tokens), not the context strings, so the
        # function cannot point at a bus or group other than the ones it is granted.
        return {
            c.ENV_EVENT_BUS_NAME: self.event_bus.bus_name,
            c.ENV_EVENT_SOURCE: cfg.event_source,
            c.ENV_EVENT_LOG_GROUP_NAME: self.event_log.log_group.log_group_name,
            c.ENV_CHECKPOINT_TABLE_NAME: self.checkpoints.table.table_name,
            c.ENV_BACKFILL_DAYS: str(cfg.backfill_days),
            c.ENV_DISCOVERY_OVERLAP_MINUTES: str(cfg.discovery_overlap_minutes),
            c.ENV_DEADLINE_MARGIN_SECONDS: str(cfg.deadline_margin_seconds),
            c.ENV_WORK_QUEUE_URL: self.work_queue.queue.queue_url,
            c.ENV_RETRY_BACKOFF_SECONDS: str(c.WORKER_RETRY_BACKOFF_SECONDS),
            c.ENV_ENRICHMENT_REFRESH_MINUTES: str(cfg.enrichment_refresh_minutes),
            c.ENV_COMPLETED_JOB_GRACE_MINUTES: str(cfg.completed_job_grace_minutes),
            c.ENV_POST_LAUNCH_WAIT_MINUTES: str(cfg.post_launch_wait_minutes),
            **self._shared_environment(),
        }

    def _outputs(self) -> None:
        outputs = {
            "DispatcherFunctionName": self.dispatcher.function.function_name,
            "WorkerFunctionName": self.worker.function.function_name,
            "WorkQueueUrl": self.work_queue.queue.queue_url,
            "WorkQueueArn": self.work_queue.queue.queue_arn,
            "WorkDeadLetterQueueUrl": self.work_queue.dead_letter_queue.queue_url,
            "CheckpointTableName": self.checkpoints.table.table_name,
            "EventBusName": self.event_bus.bus_name,
            "EventBusArn": self.event_bus.bus.event_bus_arn,
            "EventSource": self.config.event_source,
            "EventLogGroupName": self.event_log.log_group.log_group_name,
            "AlertTopicArn": self.event_bus.alert_topic.topic_arn,
            "OpsTopicArn": self.monitoring.ops_topic.topic_arn,
            "DashboardName": self.monitoring.dashboard.dashboard_name,
            "SchemaRegistryName": self.event_schema.registry.attr_registry_name,
        }
        if self.event_bus.archive is not None:
            outputs["ArchiveName"] = self.event_bus.archive.archive_name
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
