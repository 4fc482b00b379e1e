"""The sandbox's pure parts: simulated time, alert rendering, query analysis, the check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.event_log import SAVED_QUERIES
from mgn_emulator.programme import ProgrammeSpec, Timeline, generate_programme
from sandbox.check import exactly_once
from sandbox.errors import SandboxError
from sandbox.moto_patches import render_target_input, render_template
from sandbox.progress import human_duration
from sandbox.queries import split_commands, unsupported_parts
from sandbox.simulation import plan_time

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _plan(**overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "now": NOW,
        "ticks": 10,
        "tick_minutes": None,
        "schedule_minutes": 5,
        "overlap_minutes": 60,
        "backfill_days": 7,
        "history_days": 3,
    }
    return plan_time(**(arguments | overrides))


def test_ticks_are_the_schedule_rate_and_the_window_ends_now() -> None:
    plan = _plan()
    assert plan.step == timedelta(minutes=5)
    assert plan.live_end == NOW and plan.live_start == NOW - timedelta(minutes=50)
    assert plan.tick_time(1) == NOW - timedelta(minutes=45)
    assert plan.tick_time(10) == plan.tick_time(11) == NOW
    assert plan.history_start == plan.live_start - timedelta(days=3)


def test_more_ticks_get_shorter_steps_to_stay_inside_the_discovery_overlap() -> None:
    plan = _plan(ticks=25)
    assert plan.step * 25 <= timedelta(minutes=50)
    with pytest.raises(SandboxError, match="DISCOVERY_OVERLAP_MINUTES"):
        _plan(ticks=12, tick_minutes=5)
    with pytest.raises(SandboxError, match="no room"):
        _plan(overlap_minutes=10)


def test_history_must_be_inside_the_first_runs_backfill() -> None:
    assert _plan(history_days=0).history_start is None
    with pytest.raises(SandboxError, match="BACKFILL_DAYS"):
        _plan(history_days=7)


def test_multiline_alert_template_renders_as_eventbridge_does() -> None:
    template = '"Error: <detail-event> (<sev>)"\n"Raw: <raw>"\n"Target: <missing>"'
    text = render_template(
        template,
        {
            "detail-event": "LAUNCH_FAILED",
            "sev": "ERROR",
            "raw": 'bad "quote" \\ here',
            "missing": None,
        },
    )
    assert text == 'Error: LAUNCH_FAILED (ERROR)\nRaw: bad "quote" \\ here\nTarget: '


def test_target_input_forms() -> None:
    event = {"detail": {"event": "X", "n": 3}}
    assert render_target_input({"Input": '{"a": 1}'}, event) == '{"a": 1}'
    assert json.loads(render_target_input({"InputPath": "$.detail"}, event)) == event["detail"]
    assert json.loads(render_target_input({}, event)) == event
    transformer = {
        "InputTransformer": {
            "InputPathsMap": {"e": "$.detail.event", "n": "$.detail.n"},
            "InputTemplate": '{"event": "<e>", "count": <n>}',
        }
    }
    assert json.loads(render_target_input(transformer, event)) == {"event": "X", "count": 3}


def test_what_moto_cannot_run_in_the_saved_queries() -> None:
    queries = {saved.construct_id: saved.query for saved in SAVED_QUERIES}
    assert split_commands('filter a = "x|y" | stats count(*) by b')[0] == 'filter a = "x|y"'
    assert unsupported_parts(queries["ItemsPerAccountPerHour"]) == ("stats", "sort by hour")
    assert unsupported_parts(queries["JobTimeline"])[0] == "filter"
    assert all(unsupported_parts(q) for q in queries.values())
    assert unsupported_parts("fields @timestamp, @message | sort @timestamp desc | limit 5") == ()


def test_human_durations() -> None:
    assert [human_duration(s) for s in (None, 4.2, 299.6, 3725, 200_000)] == [
        "-",
        "4s",
        "5m00s",
        "1h02m",
        "2d07h",
    ]


def _detail(job: Any, position: int, item: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "accountID": job.account_id,
        "jobID": job.job_id,
        "position": position,
        "event": item["event"],
        "logDateTime": item["logDateTime"],
        "eventId": event_id,
    }


def test_exactly_once_check_counts_duplicates_missing_unknown_and_mismatches() -> None:
    timeline = Timeline(live_start=NOW - timedelta(minutes=50), live_end=NOW)
    programme = generate_programme(
        ProgrammeSpec(accounts=3, jobs=4), timeline, caller_account="123456789012"
    )
    details = [
        _detail(job, position, planned.item, f"id-{job.job_id}-{position}")
        for job, position, planned in programme.items()
    ]
    good = exactly_once(programme, details, list(reversed(details)))
    assert good.passed and good.expected == len(details) == programme.item_count
    assert good.accounts == 2

    first, second = details[0], details[1]
    stray = dict(first, jobID="mgnjob-00000000000000000")
    bus = [*details[1:], second, stray]
    logs = [dict(first, eventId="other"), *details[1:]]
    logs[2] = dict(logs[2], event="SOMETHING_ELSE")
    bad = exactly_once(programme, bus, logs)
    assert not bad.passed
    bus_result, log_result = bad.sinks
    assert (bus_result.missing, bus_result.duplicates, bus_result.unexpected) == (1, 1, 1)
    assert log_result.wrong_content == 1 and log_result.exactly_once is False
    assert bad.examples
