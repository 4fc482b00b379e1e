"""The dispatcher's Lambda entry point: the schedule's target, one work request per account.

It reads its settings, gets its clients and calls plain code; it imports nothing of the
worker's (the worker's batch utility and exporter stay out of its cold start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mgn_exporter.clients import get_clients
from mgn_exporter.dispatcher import dispatch, tick_of
from mgn_exporter.observability import logger, metrics, traced
from mgn_exporter.settings import get_dispatch_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(
        get_dispatch_settings(),
        get_clients(),
        own_account=context.invoked_function_arn.split(":")[4],
        tick=tick_of(event, fallback=context.aws_request_id),
    )
