"""Context parsing: defaults, CLI string overrides, and bad values failing the synth early."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_logs as logs

from infra import constants as c
from infra.config import ConfigError, ExporterConfig


def config(**overrides: Any) -> ExporterConfig:
    return ExporterConfig.from_context(overrides.get)


def test_defaults() -> None:
    cfg = config()
    # Derived from the stack name (infra/naming.py).
    assert cfg.event_bus_name is None
    assert cfg.event_source == "mgn.joblog.exporter"
    assert cfg.event_log_group_name is None
    assert cfg.dashboard_name is None
    assert cfg.schedule_rate_minutes == 5
    assert cfg.accounts == "auto"
    assert (cfg.backfill_days, cfg.discovery_overlap_minutes, cfg.deadline_margin_seconds) == (
        7,
        60,
        10,
    )
    assert cfg.event_log_kms_key_arn is None
    assert cfg.alert_email is None and cfg.ops_email is None
    assert cfg.event_log_retention == logs.RetentionDays.ONE_YEAR
    assert cfg.powertools_layer_version == c.POWERTOOLS_LAYER_VERSION
    assert (cfg.worker_max_concurrency, cfg.worker_batch_size, cfg.worker_max_receive_count) == (
        8,
        10,
        5,
    )
    assert cfg.staleness_alarm_minutes == 30


def test_cdk_json_context_matches_the_defaults_in_code() -> None:
    # `python app.py` without the CLI falls back to the code's defaults: the two must agree.
    context = json.loads(c.CDK_JSON_FILE.read_text(encoding="utf-8"))["context"]
    ours = {k: v for k, v in context.items() if not k.startswith("@")}
    assert ours == c.CONTEXT_DEFAULTS
    assert json.loads(c.CDK_JSON_FILE.read_text("utf-8"))["app"] == ".venv/bin/python app.py"


def test_cli_strings_are_accepted() -> None:
    # `cdk deploy -c key=value` passes every value as a string.
    cfg = config(
        scheduleRateMinutes="10",
        archiveEnabled="false",
        accounts="111111111111, 222222222222,111111111111",
        eventLogRetentionDays="90",
        alertEmail="oncall@example.com",
        logLevel="debug",
        workerMaxConcurrency="50",
        workerBatchSize="1",
        workerMaxReceiveCount="3",
    )
    assert cfg.schedule_rate_minutes == 10
    assert cfg.archive_enabled is False
    assert cfg.accounts == "111111111111,222222222222"
    assert cfg.event_log_retention_days == 90
    assert cfg.alert_email == "oncall@example.com"
    assert cfg.log_level == "DEBUG"
    assert (cfg.worker_max_concurrency, cfg.worker_batch_size, cfg.worker_max_receive_count) == (
        50,
        1,
        3,
    )


@pytest.mark.parametrize(
    ("key", "value", "attribute"),
    [
        # The limits of an SQS event source mapping on a FIFO queue, and of a redrive policy.
        ("workerMaxConcurrency", 2, "worker_max_concurrency"),
        ("workerMaxConcurrency", 1000, "worker_max_concurrency"),
        ("workerBatchSize", 1, "worker_batch_size"),
        ("workerBatchSize", 10, "worker_batch_size"),
        ("workerMaxReceiveCount", 1, "worker_max_receive_count"),
        ("workerMaxReceiveCount", 1000, "worker_max_receive_count"),
        ("deadlineMarginSeconds", c.WORKER_TIMEOUT_SECONDS - 1, "deadline_margin_seconds"),
        # Staleness: from two schedule periods of the fastest schedule to a day.
        ("stalenessAlarmMinutes", 10, "staleness_alarm_minutes"),
        ("stalenessAlarmMinutes", "1440", "staleness_alarm_minutes"),
    ],
)
def test_limits_are_accepted(key: str, value: int | str, attribute: str) -> None:
    assert getattr(config(**{key: value}), attribute) == int(value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("eventSource", "aws.mgn"),
        ("eventSource", ""),
        ("accounts", "12345"),
        ("accounts", "auto,111111111111"),
        ("scheduleRateMinutes", "0"),
        ("scheduleRateMinutes", "five"),
        ("eventLogRetentionDays", "100"),
        ("eventLogKmsKeyArn", "alias/aws/logs"),
        ("alertEmail", "not-an-email"),
        ("archiveEnabled", "maybe"),
        ("eventBusName", "has space"),
        ("eventBusName", "default"),
        ("eventLogGroupName", "no spaces allowed"),
        ("dashboardName", "no/slashes"),
        ("logLevel", "LOUD"),
        ("deadlineMarginSeconds", str(c.WORKER_TIMEOUT_SECONDS)),
        ("workerMaxConcurrency", "1"),
        ("workerMaxConcurrency", "1001"),
        ("workerMaxConcurrency", "eight"),
        ("workerBatchSize", "0"),
        ("workerBatchSize", "11"),
        ("workerBatchSize", True),
        ("workerMaxReceiveCount", "0"),
        ("workerMaxReceiveCount", "1001"),
        ("stalenessAlarmMinutes", "9"),
        ("stalenessAlarmMinutes", "1441"),
        ("stalenessAlarmMinutes", "half an hour"),
    ],
)
def test_bad_values_name_their_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        config(**{key: value})
