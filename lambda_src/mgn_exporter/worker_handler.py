"""The worker's Lambda entry point: the work queue's consumer (event source mapping, partial
batch responses), and, invoked directly with `{"replay": {...}}`, the replay of one job
(replay.py, docs/replay.md). It reads its settings, gets its clients, builds the invocation's
deadline and calls plain code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mgn_exporter.clients import get_clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.observability import logger, metrics, traced
from mgn_exporter.run import run_batch, run_replay
from mgn_exporter.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    deadline = Deadline(
        context.get_remaining_time_in_millis, margin_seconds=settings.deadline_margin_seconds
    )
    own_account = context.invoked_function_arn.split(":")[4]
    if "replay" in event:
        return run_replay(
            event["replay"], settings, get_clients(), deadline, own_account=own_account
        )
    return run_batch(
        event,
        settings,
        get_clients(),
        deadline,
        own_account=own_account,
        invocation_id=context.aws_request_id,
    )
