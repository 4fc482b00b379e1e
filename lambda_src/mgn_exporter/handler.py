"""Lambda entry points: read settings, get clients, call plain code; nothing else.

* ``dispatcher_handler``: the schedule's target; one work request per account onto the queue.
* ``worker_handler``: the work queue's consumer (event source mapping, partial batch responses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mgn_exporter.clients import get_clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.dispatcher import dispatch, tick_of
from mgn_exporter.observability import logger, metrics, traced
from mgn_exporter.run import run_batch
from mgn_exporter.settings import get_dispatch_settings, get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def _own_account(context: LambdaContext) -> str:
    return context.invoked_function_arn.split(":")[4]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def dispatcher_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(
        get_dispatch_settings(),
        get_clients(),
        own_account=_own_account(context),
        tick=tick_of(event, fallback=context.aws_request_id),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def worker_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    deadline = Deadline(
        context.get_remaining_time_in_millis, margin_seconds=settings.deadline_margin_seconds
    )
    return run_batch(
        event,
        settings,
        get_clients(),
        deadline,
        own_account=_own_account(context),
        invocation_id=context.aws_request_id,
    )
