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

SQS reports a queue's counts of visible and in-flight messages as of one moment. moto's
GetQueueAttributes builds its attributes anew for every name asked for, reading the clock for
each message each time, so a message whose visibility timeout ends during the read is counted
in neither: an idle check (nothing visible, nothing in flight) would then see an empty queue
while the message is about to come back. Reading at one instant of the clock, and under the
lock (a receive or a delete would change the messages between two counts), makes the counts one
snapshot again.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime
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
# The instant a GetQueueAttributes in this thread reads the queue at (None: the clock's own).
_READING = threading.local()


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
    read = SQSBackend.get_queue_attributes
    if not getattr(read, "_faultsuite_atomic", False):
        setattr(SQSBackend, "get_queue_attributes", _read_at_one_instant(read))  # noqa: B010
    _pinnable_sqs_clock()


def _locked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(*args, **kwargs)

    locked._faultsuite_atomic = True  # type: ignore[attr-defined]
    return locked


def _read_at_one_instant(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(*args: Any, **kwargs: Any) -> Any:
        # Installed again if something replaced moto's clock since (the tests' speed-ups do).
        clock = _pinnable_sqs_clock()
        with _LOCK:
            _READING.millis = clock(None)
            try:
                return original(*args, **kwargs)
            finally:
                _READING.millis = None

    read._faultsuite_atomic = True  # type: ignore[attr-defined]
    return read


def _pinnable_sqs_clock() -> Callable[[datetime | None], float]:
    """moto's SQS clock (epoch milliseconds), made to answer a GetQueueAttributes' instant in
    the thread that reads the queue; every other caller still gets the time of its call."""
    import moto.sqs.models as sqs_models

    clock: Callable[[datetime | None], float] = sqs_models.unix_time_millis  # type: ignore[attr-defined]
    if getattr(clock, "_faultsuite_pinnable", False):
        return clock

    def unix_time_millis(dt: datetime | None = None) -> float:
        pinned: float | None = getattr(_READING, "millis", None)
        if pinned is not None and dt is None:
            return pinned
        return clock(dt)

    unix_time_millis._faultsuite_pinnable = True  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]
    return unix_time_millis
