"""Configuration: validated once, errors name the variable."""

from __future__ import annotations

import pytest

from mgn_exporter.settings import DispatchSettings, Settings, SettingsError

BASE = {
    "EVENT_BUS_NAME": "bus",
    "EVENT_SOURCE": "mgn.joblog.exporter",
    "EVENT_LOG_GROUP_NAME": "/mgn/events",
    "CHECKPOINT_TABLE_NAME": "table",
}
DISPATCH = {"ACCOUNTS": "auto", "WORK_QUEUE_URL": "https://sqs.example/q.fifo"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.backfill_days == 7
    assert settings.discovery_overlap_minutes == 60
    assert settings.work_queue_url is None


def test_auto_accounts() -> None:
    assert DispatchSettings.from_env(DISPATCH).accounts is None


def test_explicit_accounts_are_deduplicated_in_order() -> None:
    settings = DispatchSettings.from_env(
        {**DISPATCH, "ACCOUNTS": "222222222222, 111111111111,222222222222"}
    )
    assert settings.accounts == ("222222222222", "111111111111")


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"ACCOUNTS": "12345"}, "ACCOUNTS"),
        ({"ACCOUNTS": ","}, "ACCOUNTS"),
        ({"ACCOUNTS": ""}, "ACCOUNTS"),
        ({"WORK_QUEUE_URL": " "}, "WORK_QUEUE_URL"),
    ],
)
def test_bad_dispatch_settings_name_the_variable(override: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        DispatchSettings.from_env({**DISPATCH, **override})


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"EVENT_BUS_NAME": ""}, "EVENT_BUS_NAME"),
        ({"CHECKPOINT_TABLE_NAME": " "}, "CHECKPOINT_TABLE_NAME"),
        ({"EVENT_SOURCE": "aws.mgn"}, "EVENT_SOURCE"),
        ({"BACKFILL_DAYS": "seven"}, "BACKFILL_DAYS"),
        ({"BACKFILL_DAYS": "-1"}, "BACKFILL_DAYS"),
        ({"DEADLINE_MARGIN_SECONDS": "0"}, "DEADLINE_MARGIN_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable(override: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, **override})


def test_missing_variable_is_named() -> None:
    env = dict(BASE)
    del env["EVENT_LOG_GROUP_NAME"]
    with pytest.raises(SettingsError, match="EVENT_LOG_GROUP_NAME"):
        Settings.from_env(env)
