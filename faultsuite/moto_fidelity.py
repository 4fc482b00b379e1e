"""Where moto's server is less faithful than AWS in a way the fault suite would notice.

DynamoDB applies a conditional write atomically: two concurrent ``UpdateItem`` calls with
``attribute_not_exists(leaseOwner)`` cannot both succeed. moto's threaded server evaluates the
condition and writes in two Python steps, so two requests that arrive together can both pass:
two invocations would then both hold an account's lease, which real DynamoDB never allows. One
lock around moto's item operations restores the atomicity (it serialises only moto's work).

SQS hands a message to one receiver until its visibility timeout ends. moto's receive checks a
message's visibility and marks it received in two steps as well, so two pollers of the work
queue could both get it: two workers on one account, which SQS never allows. The same lock
around moto's queue operations restores it (receives must not long-poll while it is held).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
)
_QUEUE_OPERATIONS = (
    "receive_message",
    "send_message",
    "send_message_batch",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
)
_LOCK = threading.RLock()


def atomic_dynamodb_items() -> None:
    """Make moto's DynamoDB item operations atomic with respect to each other (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _ITEM_OPERATIONS:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_faultsuite_atomic", False):
            continue
        setattr(DynamoDBBackend, name, _locked(original))


def atomic_sqs_queues() -> None:
    """Make moto's SQS message operations atomic with respect to each other (idempotent)."""
    from moto.sqs.models import SQSBackend

    for name in _QUEUE_OPERATIONS:
        original = getattr(SQSBackend, name)
        if getattr(original, "_faultsuite_atomic", False):
            continue
        setattr(SQSBackend, name, _locked(original))


def _locked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(*args, **kwargs)

    locked._faultsuite_atomic = True  # type: ignore[attr-defined]
    return locked
