"""The scheduled function: one work request per account onto the FIFO work queue.

It makes no per-account call of its own (only ListManagedAccounts with `auto`, and one
SendMessageBatch per ten accounts): the exports themselves run in the workers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mgn_exporter.accounts import resolve_accounts
from mgn_exporter.clients import Clients
from mgn_exporter.metric_names import DispatcherCounters, DispatcherMetric
from mgn_exporter.mgn_reader import MgnReader
from mgn_exporter.observability import emit_dispatch_metrics, logger
from mgn_exporter.settings import DispatchSettings
from mgn_exporter.work_queue import WorkQueue
from mgn_exporter.work_request import REASON_SCHEDULE, WorkRequest


def tick_of(event: dict[str, Any], fallback: str) -> str:
    """The schedule's tick this invocation serves: a retried delivery of the same tick has the
    same one, so SQS drops its repeated requests."""
    for key in ("time", "id"):
        value = event.get(key) if isinstance(event, dict) else None
        if isinstance(value, str) and value:
            return value
    return fallback


def dispatch(
    settings: DispatchSettings, clients: Clients, *, own_account: str, tick: str
) -> dict[str, Any]:
    """Enqueue one work request per account; raises QueueUnavailable if some were not sent
    (the invocation fails, and the next tick sends them again)."""
    clients.counts.reset()
    counters: DispatcherCounters = Counter()
    reader = MgnReader(clients.mgn, own_account_id=own_account)
    accounts = resolve_accounts(
        settings.accounts, own_account, reader, logger=logger, counters=counters
    )
    WorkQueue(clients.sqs, settings.work_queue_url).send(
        [WorkRequest(account, REASON_SCHEDULE, tick) for account in accounts]
    )
    counters[DispatcherMetric.ACCOUNTS_DISPATCHED] += len(accounts)
    emit_dispatch_metrics(counters)
    result = {
        "tick": tick,
        "accountsDispatched": len(accounts),
        "apiCalls": dict(sorted(clients.counts.calls.items())),
    }
    logger.info("Work dispatched", extra=result)
    return result
