"""The stack and the Lambda code agree on names: handlers, environment, metrics.

Each function's environment is taken from the synthesized template (deploy-time references
replaced by sample values) and parsed by the settings class its handler reads it with.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from infra import constants as c
from mgn_exporter import observability
from mgn_exporter.metric_names import ACCOUNT_STALENESS_SECONDS, DispatcherMetric, WorkerMetric
from mgn_exporter.settings import LOCAL_ONLY_VARIABLES, DispatchSettings, Settings
from tests.infra.conftest import Synth


def _emitted_metrics() -> set[str]:
    """What both functions' metric code adds to their EMF lines, from runs that counted nothing."""
    names: set[str] = set()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(observability.metrics, "add_metric", lambda name, **_: names.add(name))
        observability.emit_run_metrics(Counter(), max_staleness_seconds=0.0)
        observability.emit_dispatch_metrics(Counter())
    return names


EMITTED_METRICS = _emitted_metrics()
# What a deploy-time reference resolves to, by the variable that holds it.
SAMPLE_VALUES = {
    c.ENV_EVENT_BUS_NAME: "mgn-job-log-events",
    c.ENV_EVENT_LOG_GROUP_NAME: "/mgn-job-log-exporter/events",
    c.ENV_CHECKPOINT_TABLE_NAME: "MgnJobLogExporter-CheckpointsTable-ABC",
    c.ENV_WORK_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo",
}


class RecordingEnv(dict[str, str]):
    """An environment that remembers which variables the code looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def _function(synth: Synth, label: str) -> dict[str, Any]:
    logical_id = synth.logical_id("AWS::Lambda::Function", f"/{label}/Function")
    properties: dict[str, Any] = synth.template_json["Resources"][logical_id]["Properties"]
    return properties


def deployed_environment(synth: Synth, label: str) -> RecordingEnv:
    variables = _function(synth, label)["Environment"]["Variables"]
    resolved: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, str):
            resolved[name] = value
        else:
            assert name in SAMPLE_VALUES, f"{label} {name} is a reference without a sample value"
            resolved[name] = SAMPLE_VALUES[name]
    return RecordingEnv(resolved)


POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACE_DISABLED",
    "LOG_LEVEL",
}


def test_the_dispatcher_environment_is_the_one_dispatch_settings_reads(synth: Synth) -> None:
    env = deployed_environment(synth, "Dispatcher")
    settings = DispatchSettings.from_env(env)
    assert settings.accounts is None  # `auto`, the default
    assert settings.work_queue_url == SAMPLE_VALUES[c.ENV_WORK_QUEUE_URL]
    # Everything set is read (or is Powertools'), and nothing else is set.
    assert set(env) - POWERTOOLS == env.read == {c.ENV_ACCOUNTS, c.ENV_WORK_QUEUE_URL}


def test_the_worker_environment_is_the_one_settings_reads(synth: Synth) -> None:
    env = deployed_environment(synth, "Worker")
    settings = Settings.from_env(env)
    cfg = synth.config
    assert settings.event_source == cfg.event_source
    assert settings.work_queue_url == SAMPLE_VALUES[c.ENV_WORK_QUEUE_URL]
    assert settings.backfill_days == cfg.backfill_days
    assert settings.discovery_overlap_minutes == cfg.discovery_overlap_minutes
    assert settings.deadline_margin_seconds == cfg.deadline_margin_seconds
    assert settings.enrichment_refresh_minutes == cfg.enrichment_refresh_minutes
    # No variable is left to the code's default, and none is set that it does not read.
    assert set(env) - POWERTOOLS == env.read - LOCAL_ONLY_VARIABLES
    assert c.ENV_ACCOUNTS not in env


def test_the_stack_environment_names_are_the_ones_the_code_reads() -> None:
    env = RecordingEnv(
        {
            c.ENV_EVENT_BUS_NAME: "bus",
            c.ENV_EVENT_SOURCE: "mgn.joblog.exporter",
            c.ENV_EVENT_LOG_GROUP_NAME: "/group",
            c.ENV_CHECKPOINT_TABLE_NAME: "table",
            c.ENV_BACKFILL_DAYS: "3",
            c.ENV_DISCOVERY_OVERLAP_MINUTES: "15",
            c.ENV_DEADLINE_MARGIN_SECONDS: "20",
            c.ENV_WORK_QUEUE_URL: "https://queue",
            c.ENV_RETRY_BACKOFF_SECONDS: "30",
            c.ENV_ENRICHMENT_REFRESH_MINUTES: "5",
            c.ENV_COMPLETED_JOB_GRACE_MINUTES: "7",
            c.ENV_POST_LAUNCH_WAIT_MINUTES: "90",
        }
    )
    settings = Settings.from_env(env)
    assert (settings.backfill_days, settings.discovery_overlap_minutes) == (3, 15)
    assert settings.enrichment_refresh_minutes == 5
    assert (settings.completed_job_grace_seconds, settings.post_launch_wait_seconds) == (420, 5400)
    assert settings.deadline_margin_seconds == 20
    assert settings.retry_backoff_seconds == 30
    assert env.read - LOCAL_ONLY_VARIABLES == set(env)
    dispatch = RecordingEnv({c.ENV_ACCOUNTS: "111111111111", c.ENV_WORK_QUEUE_URL: "https://q"})
    assert DispatchSettings.from_env(dispatch).accounts == ("111111111111",)
    assert dispatch.read == set(dispatch)


@pytest.mark.parametrize(
    ("label", "handler"),
    [("Dispatcher", c.DISPATCHER_HANDLER), ("Worker", c.WORKER_HANDLER)],
)
def test_each_function_runs_a_handler_the_code_has(synth: Synth, label: str, handler: str) -> None:
    assert _function(synth, label)["Handler"] == handler
    module_name, _, attribute = handler.rpartition(".")
    entry: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    assert callable(entry)


def test_every_metric_named_is_emitted_every_run_zeros_included() -> None:
    named = {*WorkerMetric, *DispatcherMetric, ACCOUNT_STALENESS_SECONDS}
    assert named == EMITTED_METRICS


def test_every_metric_the_alarms_and_dashboard_watch_is_emitted(synth: Synth) -> None:
    alarmed = {
        alarm["Properties"]["MetricName"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == c.METRICS_NAMESPACE
    }
    assert alarmed, "no alarm on the exporter's own metrics"
    assert alarmed <= EMITTED_METRICS
    graphed = {line[1] for line in synth.dashboard_metrics() if line[0] == c.METRICS_NAMESPACE}
    assert graphed, "the dashboard shows none of the exporter's own metrics"
    assert graphed <= EMITTED_METRICS
