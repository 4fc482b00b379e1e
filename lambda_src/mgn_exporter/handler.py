"""Lambda entry point: wire settings, clients and adapters, then run the export."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mgn_exporter.accounts import resolve_accounts
from mgn_exporter.checkpoint_store import CheckpointStore
from mgn_exporter.clients import build_clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.eventbridge_publisher import EventBridgePublisher
from mgn_exporter.exporter import AccountExporter, ExportOptions, export_accounts
from mgn_exporter.logs_writer import LogsWriter
from mgn_exporter.mgn_reader import MgnReader
from mgn_exporter.observability import emit_run_metrics, logger, metrics, traced
from mgn_exporter.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    counters: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    clients = build_clients(counters, calls)
    region = clients.mgn.meta.region_name
    own_account = context.invoked_function_arn.split(":")[4]
    deadline = Deadline(
        context.get_remaining_time_in_millis, margin_seconds=settings.deadline_margin_seconds
    )
    reader = MgnReader(clients.mgn, own_account_id=own_account)
    exporter = AccountExporter(
        reader=reader,
        store=CheckpointStore(
            clients.dynamodb, settings.checkpoint_table_name, owner=context.aws_request_id
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
    emit_run_metrics(counters, report.max_lag_seconds)
    result = report.to_dict()
    result["apiCalls"] = dict(sorted(calls.items()))
    logger.info("Export run finished", extra={k: v for k, v in result.items() if k != "accounts"})
    return result
