"""The Powertools Logger, Metrics and Tracer shared by the exporter's modules.

Service name, namespace, log level and tracing on/off come from the standard POWERTOOLS_*
environment variables the stack sets.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
tracer = Tracer()

# Counters of a run, as CloudWatch metrics (all counts, except the lag).
COUNTED_METRICS = (
    "ItemsExported",
    "PublishRetries",
    "FailedEntries",
    "AccountsFailed",
    "AccountsSkipped",
    "JobsFailed",
    "Throttles",
    "TokensRejected",
    "LogShifts",
    "LogEventsRestamped",
    "OddItems",
    "LeasesLost",
)


def emit_run_metrics(counters: Mapping[str, int], max_lag_seconds: float) -> None:
    for name in COUNTED_METRICS:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counters.get(name, 0))
    metrics.add_metric(name="ExportLagSeconds", unit=MetricUnit.Seconds, value=max_lag_seconds)
