"""The sandbox and the derived events: their check against the programme's ground truth, what
the run shows of them, the worker's completed-job timings by phase, and the live wave that
makes every alert rule fire."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.playback import PlaybackProgress
from local.mgn_emulator.programme import Programme, ProgrammeSpec, Timeline, generate_programme
from local.sandbox.capture import LogRecord
from local.sandbox.derived import (
    DerivedSummary,
    bus_typed,
    check_derived,
    check_lines,
    derived_of,
    event_label,
    items_of,
    log_typed,
    summary_lines,
)
from local.sandbox.function import function_environment
from local.sandbox.live_wave import LiveWave, combined, last_change, wave_spec
from local.sandbox.simulation import SettleTimings, settle_timings
from local.sandbox.summary import sample_log_lines
from mgn_exporter.derived_events import JOB_OUTCOME, POST_LAUNCH_ACTION
from mgn_exporter.events import DETAIL_TYPE as ITEM

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CALLER = "123456789012"


def _programme() -> Programme:
    timeline = Timeline(live_start=NOW - timedelta(minutes=50), live_end=NOW)
    return generate_programme(
        ProgrammeSpec(accounts=3, jobs=8, seed=4), timeline, caller_account=CALLER
    )


def _outcomes(programme: Programme, live: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Each exported job's outcome, as the exporter would send it."""
    exported = set(programme.exported_accounts)
    servers = programme.server_outcomes()
    actions = programme.post_launch_actions()
    details = []
    for job in programme.jobs:
        if job.account_id not in exported:
            continue
        own = [s for s in servers if s.job_id == job.job_id]
        runs = [a for a in actions if a.job_id == job.job_id]
        failed = [a for a in runs if a.final_status == "FAILED"]
        details.append(
            {
                "eventId": f"outcome-{job.job_id}",
                "detailType": JOB_OUTCOME,
                "accountID": job.account_id,
                "jobID": job.job_id,
                "initiatedBy": job.initiated_by,
                "status": "COMPLETED",
                "backfill": job.job_id not in live,
                "serversTotal": len(own),
                "serversLaunched": sum(s.launch_status == "LAUNCHED" for s in own),
                "serversFailed": sum(s.launch_status == "FAILED" for s in own),
                "postLaunchActions": {
                    "total": len(runs),
                    "succeeded": len(runs) - len(failed),
                    "failed": len(failed),
                    "mustSucceedFailed": sum(a.must_succeed for a in failed),
                    "stillRunning": 0,
                },
                "postLaunchWaitExpired": False,
            }
        )
    return details


def _statuses(programme: Programme, *, in_progress: bool = True) -> list[dict[str, Any]]:
    """Every status each action reached (IN_PROGRESS only if `in_progress`)."""
    exported = set(programme.exported_accounts)
    return [
        {
            "eventId": f"action-{a.job_id}-{a.execution_id}-{status}",
            "detailType": POST_LAUNCH_ACTION,
            "accountID": a.account_id,
            "jobID": a.job_id,
            "initiatedBy": "START_TEST",
            "sourceServerID": a.source_server_id,
            "status": status,
            "backfill": True,
            "postLaunchAction": {
                "actionName": a.action_name,
                "executionID": a.execution_id,
                "mustSucceedForCutover": a.must_succeed,
                **({"failureReason": "it failed"} if status == "FAILED" else {}),
            },
        }
        for a in programme.post_launch_actions()
        if a.account_id in exported
        for status in a.statuses_reached
        if in_progress or status != "IN_PROGRESS"
    ]


def _typed(details: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(str(d["detailType"]), d) for d in details]


def test_every_outcome_and_final_status_once_passes_and_in_progress_is_not_required() -> None:
    programme = _programme()
    outcomes, statuses = _outcomes(programme), _statuses(programme)
    assert outcomes and statuses and programme.post_launch_actions()
    finals_only = [s for s in statuses if s["status"] != "IN_PROGRESS"]
    check = check_derived(
        programme, _typed([*outcomes, *statuses]), _typed([*outcomes, *finals_only])
    )
    assert check.passed, check.examples
    assert check.jobs == len(outcomes)
    assert check.executions == len(finals_only) > 0
    bus, logs = check.sinks
    assert bus.in_progress == len(statuses) - len(finals_only) > 0 and logs.in_progress == 0
    assert check_lines(check)[0].startswith("Derived events exactly once: PASS: ")


def test_duplicates_missing_unknown_and_wrong_derived_events_each_fail_the_check() -> None:
    programme = _programme()
    outcomes, statuses = _outcomes(programme), _statuses(programme)
    good = _typed([*outcomes, *statuses])

    def sink(check: Any, index: int = 0) -> Any:
        return check.sinks[index]

    duplicated = check_derived(programme, [*good, good[0], good[-1]], good)
    assert not duplicated.passed
    assert (sink(duplicated).outcomes_duplicated, sink(duplicated).statuses_duplicated) == (1, 1)
    assert sink(duplicated, 1).exactly_once and duplicated.repeated_event_ids == 2

    final = next(i for i, (_, d) in enumerate(good) if d.get("status") == "SUCCESS")
    missing = check_derived(programme, [t for i, t in enumerate(good) if i not in (0, final)], good)
    assert (sink(missing).outcomes_missing, sink(missing).finals_missing) == (1, 1)
    assert any("no outcome of" in example for example in missing.examples)

    stray = dict(outcomes[0], jobID="mgnjob-00000000000000000", eventId="x")
    never = dict(statuses[0], status="TIMED_OUT", eventId="y")
    unknown = check_derived(
        programme, [*good, (JOB_OUTCOME, stray), (POST_LAUNCH_ACTION, never)], good
    )
    assert (sink(unknown).outcomes_unknown, sink(unknown).statuses_unknown) == (1, 1)

    launched = dict(outcomes[0], serversLaunched=outcomes[0]["serversLaunched"] + 1)
    running = dict(outcomes[1], postLaunchWaitExpired=True)
    renamed = dict(
        statuses[0], postLaunchAction=dict(statuses[0]["postLaunchAction"], actionName="x")
    )
    live = dict(statuses[1], backfill=False)
    wrong = check_derived(
        programme,
        [(JOB_OUTCOME, launched), (JOB_OUTCOME, running), *good[2:]],
        [
            *good[: len(outcomes)],
            (POST_LAUNCH_ACTION, renamed),
            (POST_LAUNCH_ACTION, live),
            *good[len(outcomes) + 2 :],
        ],
    )
    assert not wrong.passed
    assert sink(wrong).outcomes_wrong == 2 and sink(wrong, 1).statuses_wrong == 2
    assert any("serversLaunched" in e for e in wrong.examples)
    assert any("postLaunchWaitExpired" in e for e in wrong.examples)

    other_id = [
        (kind, dict(d, eventId="other")) if kind == JOB_OUTCOME else (kind, d) for kind, d in good
    ]
    mismatched = check_derived(programme, good, other_id)
    assert mismatched.event_id_mismatches == len(outcomes) and not mismatched.passed

    strange = check_derived(programme, [*good, ("Something Else", {})], good)
    assert sink(strange).other_types == 1 and not strange.passed


def test_the_live_waves_jobs_must_not_be_backfill() -> None:
    programme = _programme()
    job = next(j for j in programme.jobs if j.account_id == CALLER)
    outcomes, statuses = _outcomes(programme), _statuses(programme)
    as_backfill = check_derived(
        programme,
        _typed([*outcomes, *statuses]),
        _typed([*outcomes, *statuses]),
        live_jobs={job.job_id},
    )
    assert not as_backfill.passed
    live = _typed(
        [
            *_outcomes(programme, frozenset({job.job_id})),
            *[dict(s, backfill=s["jobID"] != job.job_id) for s in statuses],
        ]
    )
    assert check_derived(programme, live, live, live_jobs={job.job_id}).passed


def test_items_and_derived_events_are_told_apart_in_each_sink() -> None:
    item = {"eventId": "i", "event": "JOB_START"}
    outcome = {"eventId": "o", "detailType": JOB_OUTCOME}
    bus = bus_typed(
        [
            {"detail-type": ITEM, "detail": item},
            {"detail-type": JOB_OUTCOME, "detail": outcome},
        ]
    )
    logs = log_typed([item, outcome])
    assert bus == logs == [(ITEM, item), (JOB_OUTCOME, outcome)]
    assert items_of(bus) == [item] and derived_of(logs) == [(JOB_OUTCOME, outcome)]
    assert [event_label(kind, detail) for kind, detail in bus] == ["JOB_START", JOB_OUTCOME]


def test_what_the_run_shows_of_the_derived_events() -> None:
    programme = _programme()
    job = next(j for j in programme.jobs if j.account_id == CALLER)
    outcomes = _outcomes(programme, frozenset({job.job_id}))
    statuses = _statuses(programme)
    summary = DerivedSummary.of(_typed([*outcomes, *statuses]))
    truth = Counter(
        a.final_status
        for a in programme.post_launch_actions()
        if a.account_id in programme.exported_accounts
    )
    assert summary.finals == truth and summary.in_progress == sum(truth.values())
    lines = summary_lines(summary)
    assert lines[0].startswith(f"MGN Job Outcome: {len(outcomes)} jobs, once each when settled; ")
    assert "START_CUTOVER" in lines[0] and "START_TEST" in lines[0]
    failing = [row for row in summary.outcomes if row.with_failures]
    table = [line for line in lines if line.startswith("    mgnjob-")]
    assert len(table) == min(6, len(failing)) > 0
    header = next(line for line in lines if "must succeed" in line and "job" in line)
    assert len(header) == len(table[0])  # the columns line up
    action_line = next(line for line in lines if line.startswith("MGN Post-Launch Action: "))
    assert f"SUCCESS {truth['SUCCESS']}, FAILED {truth['FAILED']}" in action_line
    assert summary.must_failed and any("failed, must succeed: " in line for line in lines)
    assert summary.as_report()["mustSucceedFailed"] == len(summary.must_failed)


def test_the_log_samples_show_an_action_line_and_never_an_outcome() -> None:
    def record(ms: int, message: str) -> LogRecord:
        return LogRecord(ms, "s", message)

    records = [
        record(1, '{"event":"JOB_START"}'),
        record(2, '{"event":"LAUNCH_FAILED","eventData":{"rawError":"x"}}'),
        record(3, '{"detailType":"MGN Post-Launch Action","status":"FAILED"}'),
        record(4, '{"detailType":"MGN Post-Launch Action","status":"SUCCESS"}'),
        record(5, '{"event":"JOB_END"}'),
        record(6, '{"detailType":"MGN Job Outcome","participatingServers":[]}'),
    ]
    assert [r.timestamp_ms for r in sample_log_lines(records)] == [1, 2, 5, 3]


def test_the_workers_completed_job_timings_by_phase() -> None:
    # Before the last tick MGN's clock lags the real one by up to the live window, which is
    # kept shorter than the discovery overlap: a grace of the overlap keeps every job of the
    # window open; from the last tick on everything is shown; a round of the live wave with
    # --keep-running takes two intervals from the tick before the one that lays it.
    assert settle_timings(60, keep_running_every=None, round_ticks=2) == SettleTimings(3600, 0, 0)
    assert settle_timings(60, keep_running_every=5, round_ticks=2).kept_running == 15
    assert settle_timings(30, keep_running_every=7.5, round_ticks=2).kept_running == 23
    assert SettleTimings.overrides(15) == {
        "COMPLETED_JOB_GRACE_SECONDS": "15",
        "POST_LAUNCH_WAIT_SECONDS": "15",
    }


def test_the_sandboxs_settings_go_over_the_deployed_environment(tmp_path: Any) -> None:
    stack = SimpleNamespace(region="us-east-1", endpoint_url="http://127.0.0.1:1")
    function = SimpleNamespace(
        config={},
        logging_config={},
        handler="h.handler",
        name="worker",
        log_group="g",
        environment={"COMPLETED_JOB_GRACE_MINUTES": "15", "EVENT_SOURCE": "x"},
    )
    env = function_environment(
        stack,  # type: ignore[arg-type]
        function,  # type: ignore[arg-type]
        task_root=tmp_path,
        mgn_endpoint="http://127.0.0.1:2",
        log_stream="s",
        overrides=SettleTimings.overrides(0),
    )
    assert env["COMPLETED_JOB_GRACE_MINUTES"] == "15" and env["EVENT_SOURCE"] == "x"
    assert env["COMPLETED_JOB_GRACE_SECONDS"] == env["POST_LAUNCH_WAIT_SECONDS"] == "0"
    plain = function_environment(
        stack,  # type: ignore[arg-type]
        function,  # type: ignore[arg-type]
        task_root=tmp_path,
        mgn_endpoint="http://127.0.0.1:2",
        log_stream="s",
    )
    assert "COMPLETED_JOB_GRACE_SECONDS" not in plain


def test_combined_progress_keeps_the_actions_and_what_is_left_to_show() -> None:
    done = PlaybackProgress(1, 1, 3, 1, 3, actions_ended=2, actions_total=2)
    running = PlaybackProgress(1, 1, 3, 1, 3, actions_ended=1, actions_total=2, changes_left=1)
    both = combined(done, running)
    assert (both.actions_ended, both.actions_total, both.changes_left) == (3, 4, 1)
    assert not both.finished and combined(done, done).finished


def test_the_live_wave_makes_every_alert_rule_fire_whatever_the_seed() -> None:
    """With failures on, the wave's cutover fails one server and launches another, whose
    action that must succeed for cutover fails: each of the four rules has its event."""
    for seed in range(1, 13):
        spec = wave_spec(ProgrammeSpec(seed=seed, late_item_share=0.2))
        assert spec.seed > seed and spec.late_item_share == 0.2
        shape = LiveWave(spec, CALLER).shape
        (cutover,) = [j for j in shape.jobs if j.initiated_by == "START_CUTOVER"]
        assert "FAILED" in cutover.launch_statuses.values() and cutover.launches
        failed = [
            a
            for a in shape.post_launch_actions()
            if a.job_id == cutover.job_id and a.final_status == "FAILED" and a.must_succeed
        ]
        assert failed, seed
    assert wave_spec(ProgrammeSpec(seed=1)).seed == 3  # seed 2's cutover launches nothing
    assert wave_spec(ProgrammeSpec(seed=7)).seed == 8
    assert wave_spec(ProgrammeSpec(seed=1, failure_rate=0)).seed == 2


def test_the_last_change_of_a_wave_is_its_last_action_or_late_item() -> None:
    shape = LiveWave(wave_spec(ProgrammeSpec(seed=5, late_item_share=1.0)), CALLER).shape
    assert all(job.late_items for job in shape.jobs) and shape.action_count > 0
    ends = [e.ended for j in shape.jobs for launch in j.launches for e in launch.executions]
    shown = [p.visible_at for j in shape.jobs for p in j.items]
    assert last_change(shape) == max([*ends, *shown]) > max(j.ended for j in shape.jobs)


def test_the_live_wave_is_shown_whole_by_the_tick_that_lays_it() -> None:
    spec = wave_spec(ProgrammeSpec(seed=5, late_item_share=1.0))
    wave = LiveWave(spec, CALLER)
    with MgnEmulator(CALLER) as emulator:
        since = datetime.now(UTC) - timedelta(seconds=3)
        wave.lay(emulator, since)
        laid = wave.laid
        assert laid is not None and laid.action_count > 0
        now = datetime.now(UTC)
        assert since < min(job.created for job in laid.jobs) and last_change(laid) <= now
        emulator.set_now(now)
        assert wave.reveal_until(now).finished
