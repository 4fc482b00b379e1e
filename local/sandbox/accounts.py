"""Per-account progress at the end of the run: what MGN held, what reached the sinks, what the
workers did, what is left in the queues and in the checkpoint table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from local.mgn_emulator.programme import Programme
from local.sandbox.checkpoints import Checkpoint
from local.sandbox.drain import DrainResult
from local.sandbox.ticks import TickHistory
from local.sandbox.words import plural

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
    # What the worker recorded that is not progress (MGN not initialized there), in words.
    note: str = ""


def checkpoint_note(checkpoint: Checkpoint | None) -> str:
    """What an account's checkpoint item records besides its progress."""
    if checkpoint is None or checkpoint.uninitialized_since is None:
        return ""
    note = f"MGN not initialized (recorded {checkpoint.uninitialized_since:%H:%M:%S} UTC"
    if checkpoint.recheck_at is not None:
        note += f"; MGN asked again from {checkpoint.recheck_at:%H:%M:%S} UTC"
    return note + ")"


def account_rows(
    *,
    programme: Programme,
    own_account: str,
    history: TickHistory,
    bus_details: Iterable[dict[str, Any]],
    log_details: Iterable[dict[str, Any]],
    checkpoints: dict[str, Checkpoint],
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
        checkpoint = checkpoints.get(account_id)
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
                open_jobs=None if checkpoint is None else checkpoint.open_jobs,
                note=checkpoint_note(checkpoint),
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
        line = "  ".join(
            f"{cell:>{width}}" if index else f"{cell:<{width}}"
            for index, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
        )
        lines.append(f"{line}  {row.note}" if row.note else line)
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
