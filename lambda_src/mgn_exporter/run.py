"""The worker's run: the adapters wired over the clients into an AccountExporter, and one SQS
batch exported with it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mgn_exporter.account_export import ExportOptions
from mgn_exporter.checkpoint_store import CheckpointStore
from mgn_exporter.clients import Clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.enrichment import Enricher
from mgn_exporter.eventbridge_publisher import EventBridgePublisher
from mgn_exporter.exporter import AccountExporter
from mgn_exporter.logs_writer import LogsWriter
from mgn_exporter.metric_names import WorkerCounters, WorkerMetric
from mgn_exporter.mgn_reader import MgnReader
from mgn_exporter.observability import emit_run_metrics, logger
from mgn_exporter.post_launch import SettleRule
from mgn_exporter.replay import ReplayParts, ReplayRequest, replay_job
from mgn_exporter.reports import RunReport
from mgn_exporter.settings import Settings, SettingsError
from mgn_exporter.work_queue import WorkQueue
from mgn_exporter.worker import BatchWorker


def start_invocation(clients: Clients, deadline: Deadline) -> None:
    """Reset the per-invocation call counts and bound botocore's retries by the deadline."""
    clients.counts.reset()
    # Retries may use half of the reserve; the other half is kept for the final writes.
    clients.retry_window.closes_at = deadline.ends_at - deadline.margin_seconds / 2


def finish_invocation(clients: Clients, report: RunReport) -> dict[str, Any]:
    """Emit the run's metrics; returns its report with the invocation's API calls."""
    report.counters[WorkerMetric.THROTTLES] += clients.counts.throttles
    emit_run_metrics(report.counters, report.max_staleness_seconds, report.durations)
    result = report.to_dict()
    result["apiCalls"] = dict(sorted(clients.counts.calls.items()))
    return result


def build_exporter(
    settings: Settings,
    clients: Clients,
    *,
    own_account: str,
    invocation_id: str,
    counters: WorkerCounters,
    clock: Callable[[], float] = time.time,
) -> AccountExporter:
    """`clock` is the wall clock of the export (leases, discovery, staleness, log stamps)."""
    reader = MgnReader(clients.mgn, own_account_id=own_account)
    enricher = _enricher(settings, clients, reader, clock)
    return AccountExporter(
        reader=reader,
        store=CheckpointStore(
            clients.dynamodb, settings.checkpoint_table_name, owner=invocation_id, clock=clock
        ),
        publisher=_publisher(settings, clients),
        writer=LogsWriter(clients.logs, log_group_name=settings.log_group_name, clock=clock),
        options=ExportOptions(
            region=clients.mgn.meta.region_name,
            source=settings.event_source,
            backfill=timedelta(days=settings.backfill_days),
            discovery_overlap=timedelta(minutes=settings.discovery_overlap_minutes),
            settle=SettleRule(
                grace=timedelta(seconds=settings.completed_job_grace_seconds),
                post_launch_wait=timedelta(seconds=settings.post_launch_wait_seconds),
            ),
        ),
        logger=logger,
        counters=counters,
        clock=clock,
        enricher=enricher,
    )


def run_replay(
    payload: object,
    settings: Settings,
    clients: Clients,
    deadline: Deadline,
    *,
    own_account: str,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Send one job's events again (replay.py); returns what was sent and where it stopped."""
    request = ReplayRequest.parse(payload)
    start_invocation(clients, deadline)
    reader = MgnReader(clients.mgn, own_account_id=own_account)
    store = CheckpointStore(
        clients.dynamodb, settings.checkpoint_table_name, owner="replay", clock=clock
    )
    first_export = store.peek(request.account_id).first_export_at
    parts = ReplayParts(
        reader=reader,
        publisher=_publisher(settings, clients),
        writer=LogsWriter(clients.logs, log_group_name=settings.log_group_name, clock=clock),
        region=clients.mgn.meta.region_name,
        source=settings.event_source,
        live_since=datetime.fromtimestamp(first_export, UTC) if first_export else None,
        enricher=_enricher(settings, clients, reader, clock),
        clock=clock,
    )
    result = replay_job(request, parts, deadline).to_dict()
    result["apiCalls"] = dict(sorted(clients.counts.calls.items()))
    logger.info("Replay finished", extra=result)
    return result


def _publisher(settings: Settings, clients: Clients) -> EventBridgePublisher:
    return EventBridgePublisher(
        clients.events,
        bus_name=settings.event_bus_name,
        source=settings.event_source,
        logger=logger,
    )


def _enricher(
    settings: Settings, clients: Clients, reader: MgnReader, clock: Callable[[], float]
) -> Enricher | None:
    if not settings.enrichment_refresh_minutes:
        return None
    return Enricher(
        reader,
        clients.inventories,
        refresh_seconds=settings.enrichment_refresh_minutes * 60,
        logger=logger,
        clock=clock,
    )


def run_batch(
    event: dict[str, Any],
    settings: Settings,
    clients: Clients,
    deadline: Deadline,
    *,
    own_account: str,
    invocation_id: str,
) -> dict[str, Any]:
    """Export the accounts of one SQS batch; returns the partial batch response."""
    if settings.work_queue_url is None:
        raise SettingsError("environment variable WORK_QUEUE_URL is required by the worker")
    start_invocation(clients, deadline)
    counters: WorkerCounters = Counter()
    exporter = build_exporter(
        settings, clients, own_account=own_account, invocation_id=invocation_id, counters=counters
    )
    worker = BatchWorker(
        exporter,
        WorkQueue(clients.sqs, settings.work_queue_url),
        logger=logger,
        counters=counters,
        retry_backoff_seconds=settings.retry_backoff_seconds,
    )
    outcome = worker.process(event, deadline)
    summary = finish_invocation(clients, outcome.report)
    summary["handedOn"] = outcome.handed_on
    summary["batchItemFailures"] = len(outcome.response.get("batchItemFailures", []))
    logger.info("Batch finished", extra=summary)
    return outcome.response
