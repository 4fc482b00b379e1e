"""The work queue's message: "export this account now", as plain data (no AWS I/O).

The queue is FIFO with the account as message group, so SQS itself never hands two messages of
one account to two workers at once. A message carries no position: the checkpoint item is the
only record of progress, so a message lost, repeated or skipped changes when an account is
exported, never what is exported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mgn_exporter.config_rules import ACCOUNT_ID_PATTERN

MESSAGE_VERSION = 1
REASON_SCHEDULE = "schedule"  # the dispatcher's tick
REASON_CONTINUATION = "continuation"  # a worker handing on the rest of a backlog
REASONS = (REASON_SCHEDULE, REASON_CONTINUATION)
# SQS: a deduplication id is at most 128 characters of alphanumerics and punctuation.
_DEDUP_UNSAFE = re.compile(r"[^A-Za-z0-9!-/:-@\[-`{-~]")
DEDUP_ID_MAX = 128


class BadMessage(ValueError):
    """A message that is not a work request: it can never succeed (it goes to the DLQ)."""


@dataclass(frozen=True)
class WorkRequest:
    account_id: str
    reason: str
    # What caused it: the schedule's tick time, or the message being continued.
    cause: str

    def body(self) -> str:
        return json.dumps(
            {
                "version": MESSAGE_VERSION,
                "accountId": self.account_id,
                "reason": self.reason,
                "cause": self.cause,
            },
            separators=(",", ":"),
        )

    def group_id(self) -> str:
        return self.account_id

    def deduplication_id(self) -> str:
        """Equal for the same account and cause, so a repeated tick (a retried dispatcher) or a
        repeated hand-on (a redelivered batch) is dropped by SQS within its 5-minute window."""
        raw = f"{self.account_id}:{self.reason[0]}:{self.cause}"
        safe = _DEDUP_UNSAFE.sub("_", raw)
        return safe[:DEDUP_ID_MAX]


def parse_body(body: str) -> WorkRequest:
    try:
        document: Any = json.loads(body)
    except ValueError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadMessage("not a JSON object")
    version = document.get("version")
    # `true == 1` in Python: a boolean is not a version.
    if type(version) is not int or version != MESSAGE_VERSION:
        raise BadMessage(f"unknown version {version!r}")
    account = document.get("accountId")
    if not isinstance(account, str) or not ACCOUNT_ID_PATTERN.match(account):
        raise BadMessage(f"bad accountId {account!r}")
    reason = document.get("reason")
    if reason not in REASONS:
        raise BadMessage(f"bad reason {reason!r}")
    cause = document.get("cause")
    return WorkRequest(account_id=account, reason=str(reason), cause=str(cause or ""))


def sent_at(record: Any) -> float | None:
    """When SQS accepted the message (epoch seconds), from the record's SentTimestamp."""
    attributes = record.get("attributes") if isinstance(record, dict) else None
    raw = (attributes or {}).get("SentTimestamp")
    try:
        return int(raw) / 1000.0 if raw is not None else None
    except (TypeError, ValueError):
        return None


def receive_count(record: Any) -> int:
    """How many times SQS has delivered the record (its ApproximateReceiveCount, at least 1)."""
    attributes = record.get("attributes") if isinstance(record, dict) else None
    try:
        return max(1, int((attributes or {}).get("ApproximateReceiveCount") or 1))
    except (TypeError, ValueError):
        return 1


def redelivered(record: Any) -> bool:
    """Whether SQS delivered the record before (its ApproximateReceiveCount is above 1)."""
    return receive_count(record) > 1
