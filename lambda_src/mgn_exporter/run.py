"""One export run: the adapters wired over the clients, every account exported, metrics out."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from mgn_exporter.accounts import resolve_accounts
from mgn_exporter.checkpoint_store import CheckpointStore
from mgn_exporter.clients import Clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.eventbridge_publisher import EventBridgePublisher
from mgn_exporter.exporter import AccountExporter, ExportOptions, export_accounts
from mgn_exporter.logs_writer import LogsWriter
from mgn_exporter.mgn_reader import MgnReader
from mgn_exporter.observability import emit_run_metrics, logger
from mgn_exporter.settings import Settings


def run_export(
    settings: Settings,
    clients: Clients,
    deadline: Deadline,
    *,
    own_account: str,
    invocation_id: str,
) -> dict[str, Any]:
    """Export every configured account within the deadline; returns the run's report."""
    clients.counts.reset()
    # Retries may use half of the reserve; the other half is kept for the final writes.
    clients.retry_window.closes_at = deadline.ends_at - deadline.margin_seconds / 2
    counters: Counter[str] = Counter()
    region = clients.mgn.meta.region_name
    reader = MgnReader(clients.mgn, own_account_id=own_account)
    exporter = AccountExporter(
        reader=reader,
        store=CheckpointStore(
            clients.dynamodb, settings.checkpoint_table_name, owner=invocation_id
        ),
        publisher=EventBridgePublisher(
            clients.events,
            bus_name=settings.event_bus_name,
            source=settings.event_source,
            logger=logger,
        ),
        writer=LogsWriter(clients.logs, log_group_name=settings.log_group_name),
        options=ExportOptions(
            region=region,
            source=settings.event_source,
            backfill=timedelta(days=settings.backfill_days),
            discovery_overlap=timedelta(minutes=settings.discovery_overlap_minutes),
        ),
        logger=logger,
        counters=counters,
    )
    accounts = resolve_accounts(
        settings.accounts, own_account, reader, logger=logger, counters=counters
    )
    report = export_accounts(exporter, accounts, deadline, logger=logger, counters=counters)
    counters["Throttles"] += clients.counts.throttles
    emit_run_metrics(counters, report.max_lag_seconds)
    result = report.to_dict()
    result["apiCalls"] = dict(sorted(clients.counts.calls.items()))
    logger.info("Export run finished", extra={k: v for k, v in result.items() if k != "accounts"})
    return result
