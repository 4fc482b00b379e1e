"""One export of a list of accounts in one process, without the queue: the exporter core as the
worker runs it, driven directly by the integration tests and the benchmarks. (The deployed
functions' entry points are mgn_exporter.dispatcher_handler and mgn_exporter.worker_handler.)"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger

from local.sandbox.lambda_context import LocalLambdaContext
from mgn_exporter.accounts import resolve_accounts
from mgn_exporter.clients import Clients, get_clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.exporter import AccountExporter
from mgn_exporter.metric_names import WorkerCounters
from mgn_exporter.mgn_reader import MgnReader
from mgn_exporter.observability import logger
from mgn_exporter.reports import AccountReport, RunReport
from mgn_exporter.run import build_exporter, finish_invocation, start_invocation
from mgn_exporter.settings import Settings, get_settings, parse_accounts


def export_configured_accounts(
    budget_ms: int,
    *,
    own_account: str,
    region: str,
    request_id: str | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """One run over the accounts the ACCOUNTS variable names, with the configured settings and
    clients and a Lambda-like deadline of `budget_ms` (or `deadline`, on a clock of the
    caller's); returns the run's report."""
    settings = get_settings()
    context = LocalLambdaContext(budget_ms=budget_ms, account_id=own_account, region=region)
    if request_id:
        context.aws_request_id = request_id
    if deadline is None:
        deadline = Deadline(
            context.get_remaining_time_in_millis, margin_seconds=settings.deadline_margin_seconds
        )
    return run_export(
        settings,
        get_clients(),
        deadline,
        accounts=parse_accounts(os.environ["ACCOUNTS"]),
        own_account=own_account,
        invocation_id=context.aws_request_id,
    )


def run_export(
    settings: Settings,
    clients: Clients,
    deadline: Deadline,
    *,
    accounts: Sequence[str] | None,
    own_account: str,
    invocation_id: str,
) -> dict[str, Any]:
    """Export `accounts` (None: the caller's and MGN global view's) in turn within the
    deadline; returns the run's report."""
    start_invocation(clients, deadline)
    counters: WorkerCounters = Counter()
    exporter = build_exporter(
        settings, clients, own_account=own_account, invocation_id=invocation_id, counters=counters
    )
    if accounts is None:
        reader = MgnReader(clients.mgn, own_account_id=own_account)
        accounts = resolve_accounts(None, own_account, reader, logger=logger, counters=Counter())
    report = export_accounts(exporter, accounts, deadline, logger=logger, counters=counters)
    result = finish_invocation(clients, report)
    logger.info("Export run finished", extra={k: v for k, v in result.items() if k != "accounts"})
    return result


def export_accounts(
    exporter: AccountExporter,
    accounts: Sequence[str],
    deadline: Deadline,
    *,
    logger: Logger,
    counters: WorkerCounters,
) -> RunReport:
    """Export each account in turn, each with a fair share of the time left."""
    report = RunReport(counters=counters, durations=exporter.durations)
    # Rotate the starting account every minute so a short budget does not always leave the
    # same accounts last.
    offset = int(time.time() // 60) % len(accounts) if accounts else 0
    ordered = list(accounts[offset:]) + list(accounts[:offset])
    for index, account_id in enumerate(ordered):
        if deadline.should_stop():
            report.accounts.extend(
                AccountReport(account_id=rest, outcome="not_started", backlog=True)
                for rest in ordered[index:]
            )
            break
        logger.append_keys(accountID=account_id)
        try:
            report.accounts.append(
                exporter.export(account_id, deadline.share(len(ordered) - index))
            )
        finally:
            logger.remove_keys(["accountID"])
    return report
