"""The Powertools Logger, Metrics and Tracer shared by the exporter's modules.

Service name, namespace, log level and tracing on/off come from the standard POWERTOOLS_*
environment variables the stack sets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from mgn_exporter.metric_names import (
    ACCOUNT_STALENESS_SECONDS,
    STEP_DURATION_SECONDS,
    DispatcherCounters,
    DispatcherMetric,
    StepDurations,
    WorkerCounters,
    WorkerMetric,
)

logger = Logger()
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in ("1", "true")


def traced(handler: Handler) -> Handler:
    """The Powertools Tracer around the handler, only when tracing is on.

    Creating a Tracer imports the X-Ray SDK, which costs about as much as importing boto3
    itself: with tracing off (the default of the stack) the cold start does not pay for it.
    """
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    tracer = Tracer()
    return cast(Handler, tracer.capture_lambda_handler(capture_response=False)(handler))


def _emit_counts(names: Iterable[StrEnum], counters: Mapping[Any, int]) -> None:
    # Every name, zeros too: an alarm on a metric that is never emitted would sit in
    # INSUFFICIENT_DATA.
    for name in names:
        metrics.add_metric(name=str(name), unit=MetricUnit.Count, value=counters.get(name, 0))


# EMF takes at most 100 values of one metric in one line. Powertools writes a line by itself
# when a metric reaches 100 values, and that write ignores POWERTOOLS_METRICS_DISABLED: lines
# of 99 values are flushed here instead (a flush honours it).
EMF_LINE_VALUES = 99


def emit_run_metrics(
    counters: WorkerCounters,
    max_staleness_seconds: float | None,
    durations: StepDurations | None = None,
) -> None:
    _emit_counts(WorkerMetric, counters)
    for (step, initiated_by), seconds in sorted((durations or {}).items()):
        _emit_durations(step, initiated_by, seconds)
    if max_staleness_seconds is not None:
        # Grows while an account is stuck for any reason (MGN refusing it, a sink down, its
        # table item unwritable); 0 for every account that exported, however old its items
        # were, so a backfill or a long drain reads as healthy.
        metrics.add_metric(
            name=ACCOUNT_STALENESS_SECONDS, unit=MetricUnit.Seconds, value=max_staleness_seconds
        )


def _emit_durations(step: str, initiated_by: str, seconds: list[float]) -> None:
    """EMF lines of their own dimensions, which the run's counters do not have
    (EphemeralMetrics keeps them out of the shared `metrics`)."""
    for start in range(0, len(seconds), EMF_LINE_VALUES):
        emf = EphemeralMetrics()
        emf.add_dimension(name="step", value=step)
        emf.add_dimension(name="initiatedBy", value=initiated_by)
        for value in seconds[start : start + EMF_LINE_VALUES]:
            emf.add_metric(name=STEP_DURATION_SECONDS, unit=MetricUnit.Seconds, value=value)
        emf.flush_metrics()


def emit_dispatch_metrics(counters: DispatcherCounters) -> None:
    _emit_counts(DispatcherMetric, counters)
