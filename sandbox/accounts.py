"""Per-account progress at the end of the run: what MGN held, what reached the sinks, what the
workers did, what is left in the queues and in the checkpoint table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infra.local_deploy import local_session
from mgn_emulator.programme import Programme
from sandbox.drain import DrainResult
from sandbox.stack import DeployedStack
from sandbox.ticks import TickHistory

CHECKPOINT_KEY_PREFIX = "ACCOUNT#"
COLUMNS = (
    ("account", 28),
    ("MGN items", 9),
    ("EventBridge", 11),
    ("log group", 9),
    ("invocations", 11),
    ("hand-ons", 8),
    ("failed", 6),
    ("waiting", 7),
    ("in DLQ", 6),
    ("open jobs", 9),
)


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    role: str  # own | member | uninitialized
    items_in_mgn: int
    on_bus: int  # items of the account that reached EventBridge
    in_log_group: int
    invocations: int  # worker invocations that worked on it
    hand_ons: int
    failures: int  # exports of it that failed (its records reported in batchItemFailures)
    waiting: int  # its failed records in the work queue, waiting for their retry
    dead_letters: int
    open_jobs: int | None  # in its checkpoint item; None: no checkpoint item


def checkpoint_open_jobs(stack: DeployedStack) -> dict[str, int]:
    """account -> the open jobs its checkpoint item holds (a scan of the checkpoint table)."""
    dynamodb = local_session(stack.region).client("dynamodb", endpoint_url=stack.endpoint_url)
    open_jobs: dict[str, int] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.table_name):
        for item in page.get("Items", []):
            key = str(item.get("pk", {}).get("S", ""))
            if key.startswith(CHECKPOINT_KEY_PREFIX):
                jobs = item.get("jobs", {}).get("M", {})
                open_jobs[key.removeprefix(CHECKPOINT_KEY_PREFIX)] = len(jobs)
    return open_jobs


def account_rows(
    *,
    programme: Programme,
    own_account: str,
    history: TickHistory,
    bus_details: Iterable[dict[str, Any]],
    log_details: Iterable[dict[str, Any]],
    open_jobs: dict[str, int],
    last_drain: DrainResult | None,
) -> list[AccountRow]:
    items = Counter(job.account_id for job, _, _ in programme.items())
    on_bus = Counter(str(detail.get("accountID")) for detail in bus_details)
    in_logs = Counter(str(detail.get("accountID")) for detail in log_details)
    work = history.per_account()
    waiting = last_drain.waiting if last_drain else {}
    dead = last_drain.dead_letters if last_drain else {}
    rows: list[AccountRow] = []
    for account in programme.accounts:
        account_id = account.account_id
        counts = work.get(account_id, Counter())
        rows.append(
            AccountRow(
                account_id=account_id,
                role="own"
                if account_id == own_account
                else ("member" if account.initialized else "uninitialized"),
                items_in_mgn=items[account_id],
                on_bus=on_bus[account_id],
                in_log_group=in_logs[account_id],
                invocations=counts["invocations"],
                hand_ons=counts["hand_ons"],
                failures=counts["failures"],
                waiting=waiting.get(account_id, 0),
                dead_letters=dead.get(account_id, 0),
                open_jobs=open_jobs.get(account_id),
            )
        )
    return rows


def account_lines(rows: list[AccountRow]) -> list[str]:
    lines = [
        "  ".join(
            f"{name:>{width}}" if index else f"{name:<{width}}"
            for index, (name, width) in enumerate(COLUMNS)
        )
    ]
    for row in rows:
        cells = (
            f"{row.account_id} ({row.role})",
            f"{row.items_in_mgn:,}",
            f"{row.on_bus:,}",
            f"{row.in_log_group:,}",
            str(row.invocations),
            str(row.hand_ons),
            str(row.failures),
            str(row.waiting),
            str(row.dead_letters),
            "-" if row.open_jobs is None else str(row.open_jobs),
        )
        lines.append(
            "  ".join(
                f"{cell:>{width}}" if index else f"{cell:<{width}}"
                for index, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
            )
        )
    return lines


def queue_line(drain: DrainResult | None, retry_backoff: str | None) -> str:
    """The work queue and its dead-letter queue at the end, in words."""
    if drain is None:
        return "work queue: not drained"
    dead = sum(drain.dead_letters.values())
    waiting = sum(drain.waiting.values())
    left = drain.visible + drain.in_flight
    text = f"work queue: {plural(left, 'message')} left" if left else "work queue: empty"
    if waiting:
        backoff = f"{retry_backoff} s backoff, doubling at each receive; " if retry_backoff else ""
        accounts = ", ".join(sorted(drain.waiting))
        text += (
            f": {plural(waiting, 'failed record')} waiting for a retry ({backoff}"
            f"account {accounts})"
        )
        held = max(0, left - waiting)
        if held:
            text += f" and {held} held behind in the same message group"
    return text + f"; dead-letter queue: {plural(dead, 'message')}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
