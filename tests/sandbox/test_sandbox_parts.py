"""The sandbox's pure parts: simulated time, alert rendering, query analysis, the check, what
a tick's invocations logged, per-tick and per-account progress."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.event_log import SAVED_QUERIES
from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.playback import PlaybackProgress
from local.mgn_emulator.programme import ProgrammeSpec, Timeline, generate_programme
from local.sandbox.accounts import AccountRow, account_lines, checkpoint_note, queue_line
from local.sandbox.check import exactly_once
from local.sandbox.checkpoints import Checkpoint, checkpoint_from_item
from local.sandbox.drain import Batch, DrainResult
from local.sandbox.errors import SandboxError
from local.sandbox.function import Invocation, logged_record
from local.sandbox.live_wave import LiveWave, combined, wave_spec
from local.sandbox.moto_patches import render_target_input, render_template
from local.sandbox.progress import human_duration
from local.sandbox.queries import split_commands, unsupported_parts
from local.sandbox.run import Options, worker_count
from local.sandbox.simulation import plan_time
from local.sandbox.stack import AlertRule
from local.sandbox.summary import (
    BusItems,
    RuleMatches,
    alert_lines,
    bus_items_line,
    function_log_lines,
)
from local.sandbox.ticks import TickHistory, TickRecord, accounts_cell, caught_up

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CALLER = "123456789012"


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
    # The item queries leave the derived events' lines (with detailType) out: a filter.
    assert unsupported_parts(queries["ItemsPerAccountPerHour"]) == (
        "filter",
        "stats",
        "sort by hour",
    )
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


def _invocation(*lines: str, ok: bool = True, cold: bool = False) -> Invocation:
    return Invocation("request", ok=ok, duration_seconds=0.1, cold=cold, log_lines=list(lines))


def _batch_finished(accounts: list[dict[str, Any]], handed_on: tuple[str, ...] = ()) -> str:
    return json.dumps(
        {
            "level": "INFO",
            "message": "Batch finished",
            "itemsExported": sum(a.get("items_exported", 0) for a in accounts),
            "accounts": accounts,
            "handedOn": list(handed_on),
            "apiCalls": {"mgn.DescribeJobs": len(accounts)},
        }
    )


def _report(account: str, outcome: str, items: int = 0, **extra: Any) -> dict[str, Any]:
    return {"account_id": account, "outcome": outcome, "items_exported": items} | extra


def _batch(
    invocation: Invocation, accounts: list[str], failed: frozenset[str] = frozenset()
) -> Batch:
    ids = [f"m-{index}" for index in range(len(accounts))]
    return Batch(
        slot=0,
        started_at=NOW,
        invocation=invocation,
        message_ids=ids,
        accounts=list(accounts),
        failed_ids={i for i, a in zip(ids, accounts, strict=True) if a in failed},
    )


def _tick(batches: list[Batch], waiting: dict[str, int], *, finished: bool = True) -> TickRecord:
    dispatched = json.dumps({"message": "Work dispatched", "accountsDispatched": 3})
    return TickRecord(
        label="10/10",
        simulated=NOW,
        progress=PlaybackProgress(
            jobs_created=2,
            jobs_completed=2 if finished else 1,
            items_revealed=9,
            jobs_total=2,
            items_total=9,
        ),
        dispatch=_invocation("not json", dispatched),
        drain=DrainResult(
            batches=batches,
            waiting=waiting,
            dead_letters={},
            visible=0,
            in_flight=sum(waiting.values()),
            seconds=1.0,
        ),
        lag_seconds=None,
        took_seconds=1.0,
    )


def test_what_an_invocation_did_is_read_from_its_json_log_line() -> None:
    lines = [
        '{"time": "x", "type": "platform.start"}',
        "Traceback (most recent call last): Batch finished",
        '{"message": "Batch finished", "itemsExported": 1}',
        '{"_aws": {}, "ItemsExported": 9}',
        '{"message": "Batch finished", "itemsExported": 2}',
    ]
    assert logged_record(lines, "Batch finished") == {
        "message": "Batch finished",
        "itemsExported": 2,
    }
    assert logged_record(lines, "Work dispatched") is None
    assert _invocation(*lines).logged("Batch finished") == {
        "message": "Batch finished",
        "itemsExported": 2,
    }


def test_a_tick_shows_each_accounts_last_outcome_and_what_waits_for_a_retry() -> None:
    first = _batch(
        _invocation(
            _batch_finished(
                [
                    _report("A", "exported", 7, backlog=True, jobs_open=1),
                    _report("B", "exported", 3, jobs_open=0),
                    _report("U", "uninitialized"),
                    _report("F", "failed", error="AccountUnavailable: F: AccessDeniedException"),
                ],
                handed_on=("A",),
            ),
            cold=True,
        ),
        ["A", "B", "U", "F"],
        failed=frozenset({"F"}),
    )
    second = _batch(_invocation(_batch_finished([_report("A", "exported", 4, jobs_open=0)])), ["A"])
    tick = _tick([first, second], waiting={"F": 1})

    assert tick.accounts_dispatched == 3
    assert (tick.items_exported, tick.hand_ons) == (14, 1)
    # MGN not initialized in U is a state, not a failure: its record was done.
    assert first.failed_accounts() == ["F"] and second.failed_accounts() == []
    assert tick.account_states() == {"A": "ok", "B": "ok", "U": "not initialized", "F": "failed"}
    assert accounts_cell(tick.account_states()) == "2 ok, 1 not initialized, 1 failed"
    # U and F are not exported by the check: A and B are caught up.
    assert caught_up(tick, {"A", "B"})
    assert not caught_up(tick, {"A", "B", "F"})

    history = TickHistory([tick])
    assert history.per_account()["A"] == Counter(invocations=2, hand_ons=1)
    assert history.per_account()["U"] == Counter(invocations=1)
    assert history.per_account()["F"] == Counter(failures=1, invocations=1)
    assert history.account_errors() == {"F": "AccountUnavailable: F: AccessDeniedException"}
    assert history.api_calls() == Counter({"mgn.DescribeJobs": 5})

    # The next tick: F's new request is held behind its failed one, U is not initialized
    # still, and A's export was cut short (a job left open after a failed read): not caught
    # up, a drain tick follows.
    later = _tick(
        [
            _batch(
                _invocation(
                    _batch_finished(
                        [
                            _report("A", "exported", 1, jobs_open=1),
                            _report("B", "covered"),
                            _report("U", "uninitialized"),
                        ]
                    )
                ),
                ["A", "B", "U"],
            )
        ],
        waiting={"F": 1},
    )
    assert later.account_states() == {
        "A": "ok",
        "B": "ok",
        "U": "not initialized",
        "F": "waiting",
    }
    assert accounts_cell(later.account_states()) == "2 ok, 1 not initialized, 1 waiting"
    assert not caught_up(later, {"A", "B"})
    assert not caught_up(_tick([second], waiting={"A": 1}), {"A"})
    assert not caught_up(_tick([second], waiting={}, finished=False), {"A"})
    assert caught_up(_tick([second], waiting={}), {"A"})


def test_the_work_queue_at_the_end_in_words() -> None:
    drain = DrainResult(
        batches=[],
        waiting={"229944532028": 2},
        dead_letters={"229944532028": 1},
        visible=3,
        in_flight=2,
        seconds=1.0,
    )
    assert queue_line(drain, "30") == (
        "work queue: 5 messages left: 2 failed records waiting for a retry (30 s backoff, "
        "doubling at each receive; account 229944532028) and 3 held behind in the same message "
        "group; dead-letter queue: 1 message"
    )
    empty = DrainResult([], waiting={}, dead_letters={}, visible=0, in_flight=0, seconds=1.0)
    assert queue_line(empty, "30") == "work queue: empty; dead-letter queue: 0 messages"


def test_per_account_table_lines_up() -> None:
    since = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)
    note = checkpoint_note(Checkpoint("229944532028", 0, since, since, since + timedelta(hours=1)))
    assert note == "MGN not initialized (recorded 12:00:05 UTC; MGN asked again from 13:00:05 UTC)"
    assert checkpoint_note(Checkpoint("123456789012", 0, since)) == ""
    assert checkpoint_note(None) == ""
    rows = [
        AccountRow("123456789012", "own", 1200, 1200, 1200, 10, 2, 0, 0, 0, 0),
        AccountRow("229944532028", "uninitialized", 0, 0, 0, 10, 0, 0, 0, 0, 0, note),
        AccountRow("311111111111", "member", 5, 0, 0, 3, 0, 3, 1, 1, None),
    ]
    header, own, uninitialized, failing = account_lines(rows)
    assert header.split()[:3] == ["account", "MGN", "items"]
    assert len(header) == len(own) == len(failing)
    # The note follows the columns.
    assert uninitialized == uninitialized[: len(header)] + "  " + note
    # account, items in MGN, EventBridge, log group, invocations, hand-ons, failed, waiting,
    # in the DLQ, open jobs
    assert own.split()[2:] == ["1,200", "1,200", "1,200", "10", "2", "0", "0", "0", "0"]
    assert uninitialized[: len(header)].split()[2:] == [*"000", "10", *"00000"]
    assert failing.split() == ["311111111111", "(member)", *"50030311-"]


def test_checkpoint_items_read_back() -> None:
    item = {
        "pk": {"S": "ACCOUNT#229944532028"},
        "jobs": {"M": {"mgnjob-1": {"M": {}}}},
        "firstExportAt": {"N": "1764072005.250"},
        "uninitializedSince": {"N": "1764072005.250"},
        "recheckAt": {"N": "1764075605.250"},
    }
    checkpoint = checkpoint_from_item(item)
    assert checkpoint is not None and checkpoint.account_id == "229944532028"
    assert checkpoint.open_jobs == 1
    assert checkpoint.first_export_at == datetime.fromtimestamp(1764072005.25, UTC)
    assert checkpoint.recheck_at == checkpoint.first_export_at + timedelta(hours=1)
    plain = checkpoint_from_item({"pk": {"S": "ACCOUNT#123456789012"}})
    assert plain == Checkpoint("123456789012", 0)
    assert checkpoint_from_item({"pk": {"S": "LEASE#x"}}) is None


def test_workers_are_capped_by_the_mappings_maximum_concurrency() -> None:
    assert worker_count(Options(workers=2), 8) == 2
    assert worker_count(Options(workers=20), 8) == 8
    assert worker_count(Options(workers=20), None) == 20
    with pytest.raises(SandboxError, match="--workers"):
        worker_count(Options(workers=0), 8)


def test_the_live_wave_is_laid_after_the_first_export_and_never_in_the_future() -> None:
    spec = ProgrammeSpec(accounts=3, jobs=8, seed=7)
    wave = LiveWave(wave_spec(spec), CALLER)
    shape = wave.shape
    assert [(j.account_id, j.initiated_by) for j in shape.jobs] == [
        (CALLER, "START_TEST"),
        (CALLER, "START_CUTOVER"),
    ]
    events = [p.item["event"] for j in shape.jobs for p in j.items]
    assert {"CONVERSION_FAIL", "LAUNCH_FAILED"} <= set(events)
    quiet = LiveWave(wave_spec(ProgrammeSpec(seed=7, failure_rate=0.0)), CALLER).shape
    assert not {"CONVERSION_FAIL", "LAUNCH_FAILED"} & {
        p.item["event"] for j in quiet.jobs for p in j.items
    }
    before = wave.progress()
    assert (before.jobs_created, before.jobs_total, before.items_total) == (0, 2, len(events))
    # The programme ends before the first export, the wave after it.
    end = datetime.now(UTC) - timedelta(seconds=10)
    main = generate_programme(
        spec, Timeline(end - timedelta(minutes=20), end), caller_account=CALLER
    )
    assert wave.joined(main) == main
    assert not {j.job_id for j in main.jobs} & {j.job_id for j in shape.jobs}

    with MgnEmulator(CALLER) as emulator:
        emulator.set_now(main.timeline.live_end)
        emulator.play(main)
        since = datetime.now(UTC) - timedelta(seconds=5)
        wave.lay(emulator, since)
        laid = wave.laid
        assert laid is not None
        # The shape's jobs and items, logged after `since` and not after now.
        assert [j.job_id for j in laid.jobs] == [j.job_id for j in shape.jobs]
        assert [p.item["event"] for j in laid.jobs for p in j.items] == events
        times = [p.at for j in laid.jobs for p in j.items]
        assert since < min(times) and max(times) <= datetime.now(UTC)
        # Played while the emulator's clock was in the past: shown once it is now.
        assert wave.progress().items_revealed == 0
        clock = datetime.now(UTC)
        emulator.set_now(clock)
        main_progress = PlaybackProgress(8, 8, main.item_count, 8, main.item_count)
        progress = combined(main_progress, wave.reveal_until(clock))
        assert progress.finished and progress.items_revealed == main.item_count + len(events)
        joined = wave.joined(main)
        assert joined.item_count == main.item_count + laid.item_count
        assert joined.exported_accounts == main.exported_accounts

        # A window too short to hold the wave: laying it waits for the real clock to pass it.
        short = LiveWave(wave_spec(ProgrammeSpec(seed=8)), CALLER)
        since = datetime.now(UTC)
        short.lay(emulator, since)
        assert short.laid is not None
        times = [p.at for j in short.laid.jobs for p in j.items]
        assert since < min(times) and max(times) <= datetime.now(UTC)


def test_live_and_backfill_items_on_the_bus_and_what_the_rules_matched() -> None:
    details = [
        {"event": "LAUNCH_FAILED", "severity": "ERROR", "backfill": False},
        {"event": "JOB_START", "severity": "INFO", "backfill": False},
        {"event": "CONVERSION_FAIL", "severity": "ERROR", "backfill": True},
        {"event": "CONVERSION_FAIL", "severity": "ERROR", "backfill": True},
    ]
    items = BusItems.of(details)
    assert (items.live, items.backfill) == (2, 2)
    assert items.live_errors == Counter(LAUNCH_FAILED=1)
    assert items.backfill_errors == Counter(CONVERSION_FAIL=2)
    assert bus_items_line(items) == (
        "4 items on the bus: 2 live (logged after their account's first export; ERROR: "
        "LAUNCH_FAILED 1), 2 backfill (ERROR: CONVERSION_FAIL 2)"
    )
    rule = AlertRule(
        name="MgnJobLogExporter-ErrorItemsRule-1",
        label="ErrorItemsRule",
        pattern={"detail": {"severity": ["ERROR"], "backfill": [False]}},
        topic_arns=("arn:aws:sns:us-east-1:123456789012:alerts",),
    )
    lines = alert_lines([RuleMatches(rule, ("LAUNCH_FAILED",))], ["Error: x"], "subscriber")
    assert lines[0] == (
        'ErrorItemsRule {"severity": ["ERROR"], "backfill": [false]}: matched 1 events '
        "(LAUNCH_FAILED 1)"
    )
    assert lines[1] == "-> alerts delivered 1 message to subscriber; the first:"
    loose = alert_lines([RuleMatches(rule, ("LAUNCH_FAILED", "X"), backfill=1)], [], "s")
    assert loose[0].endswith("(LAUNCH_FAILED 1, X 1), 1 of them backfill")


def test_function_log_shows_failed_accounts_and_warnings() -> None:
    warning = {"level": "WARNING", "message": "MGN is not initialized in account 2299"}
    lines = [
        "START RequestId: x",
        json.dumps({"level": "INFO", "message": "Batch finished"}),
        json.dumps(warning),
        json.dumps(warning),
        json.dumps({"_aws": {}, "ItemsExported": 3}),
    ]
    shown = function_log_lines("group", lines, {"3111": "AccessDeniedException"})
    assert shown == [
        "group: 5 lines (2 WARNING, 1 text, 1 INFO, 1 EMF metrics)",
        "    account 3111: AccessDeniedException",
        "    WARNING MGN is not initialized in account 2299",
    ]
