"""The stack and the Lambda code agree on names: environment, metrics, table keys."""

from __future__ import annotations

from infra import constants as c
from mgn_exporter.observability import COUNTED_METRICS
from mgn_exporter.settings import Settings


def test_the_environment_the_stack_sets_is_the_one_the_code_reads() -> None:
    env = {
        c.ENV_EVENT_BUS_NAME: "bus",
        c.ENV_EVENT_SOURCE: "mgn.joblog.exporter",
        c.ENV_EVENT_LOG_GROUP_NAME: "/group",
        c.ENV_CHECKPOINT_TABLE_NAME: "table",
        c.ENV_ACCOUNTS: "auto",
        c.ENV_BACKFILL_DAYS: "3",
        c.ENV_DISCOVERY_OVERLAP_MINUTES: "15",
        c.ENV_DEADLINE_MARGIN_SECONDS: "20",
    }
    settings = Settings.from_env(env)
    assert (settings.backfill_days, settings.discovery_overlap_minutes) == (3, 15)
    assert settings.deadline_margin_seconds == 20


def test_every_metric_the_alarms_watch_is_emitted() -> None:
    watched = {value for name, value in vars(c).items() if name.startswith("METRIC_")}
    watched.discard(c.METRIC_DIMENSION)
    assert watched <= set(COUNTED_METRICS) | {"ExportLagSeconds"}
