"""The simulated programme: deterministic, shaped like MGN's job logs, inside its timeline."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from local.mgn_emulator.model import service_model
from local.mgn_emulator.post_launch import CATALOGUE
from local.mgn_emulator.programme import (
    MAX_ATTEMPTS,
    PlannedJob,
    Programme,
    ProgrammeSpec,
    Timeline,
    generate_programme,
)
from local.mgn_emulator.timefmt import parse_datetime

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TIMELINE = Timeline(
    live_start=NOW - timedelta(minutes=50), live_end=NOW, history_start=NOW - timedelta(days=3)
)
CALLER = "123456789012"
ERRORS = {"SNAPSHOT_FAIL", "CONVERSION_FAIL", "LAUNCH_FAILED", "CLEANUP_FAIL"}


def _pattern(shape: str) -> re.Pattern[str]:
    return re.compile(service_model().shape_for(shape).metadata["pattern"])


def _events(job: PlannedJob) -> list[str]:
    return [planned.item["event"] for planned in job.items]


def test_same_seed_same_programme_other_seed_another() -> None:
    spec = ProgrammeSpec(accounts=4, jobs=12, seed=3)
    first = generate_programme(spec, TIMELINE, caller_account=CALLER)
    assert first == generate_programme(spec, TIMELINE, caller_account=CALLER)
    other = generate_programme(
        ProgrammeSpec(accounts=4, jobs=12, seed=4), TIMELINE, caller_account=CALLER
    )
    assert [j.job_id for j in other.jobs] != [j.job_id for j in first.jobs]


def test_accounts_caller_first_and_the_last_uninitialized_without_jobs() -> None:
    programme = generate_programme(
        ProgrammeSpec(accounts=5, jobs=30), TIMELINE, caller_account=CALLER
    )
    caller, *members = programme.accounts
    assert (caller.account_id, caller.initialized, caller.managed) == (CALLER, True, False)
    assert all(m.managed for m in members) and len({m.account_id for m in members}) == 4
    assert [m.initialized for m in members] == [True, True, True, False]
    assert members[-1].account_id not in {job.account_id for job in programme.jobs}
    assert programme.exported_accounts == [CALLER] + [m.account_id for m in members[:3]]
    single = generate_programme(ProgrammeSpec(accounts=1, jobs=2), TIMELINE, caller_account=CALLER)
    assert [a.initialized for a in single.accounts] == [True]


def test_ids_and_events_are_valid_for_the_mgn_model() -> None:
    programme = generate_programme(ProgrammeSpec(jobs=40), TIMELINE, caller_account=CALLER)
    events = set(service_model().shape_for("JobLogEvent").metadata["enum"])
    job_id, server_id, instance_id = (
        _pattern("JobID"),
        _pattern("SourceServerID"),
        _pattern("EC2InstanceID"),
    )
    assert len(programme.jobs) == 40
    assert len({(j.account_id, j.job_id) for j in programme.jobs}) == 40
    for job in programme.jobs:
        assert job_id.fullmatch(job.job_id)
        assert all(server_id.fullmatch(s) for s in job.source_server_ids)
        for planned in job.items:
            item = planned.item
            assert item["event"] in events
            assert parse_datetime(item["logDateTime"]) == planned.at.replace(
                microsecond=planned.at.microsecond // 1000 * 1000
            )
            for key in ("conversionServerID", "targetInstanceID"):
                if key in item["eventData"]:
                    assert instance_id.fullmatch(item["eventData"][key])


def test_each_job_log_is_in_mgn_order_and_in_time_order() -> None:
    programme = generate_programme(ProgrammeSpec(jobs=40), TIMELINE, caller_account=CALLER)
    for job in programme.jobs:
        events = _events(job)
        assert events[0] == "JOB_START" and events[-1] == "JOB_END"
        assert [p.at for p in job.items] == sorted(p.at for p in job.items)
        assert job.created == job.items[0].at and job.ended == job.items[-1].at
        for server in job.source_server_ids:
            steps = [
                p.item for p in job.items if p.item["eventData"].get("sourceServerID") == server
            ]
            names = [s["event"] for s in steps]
            if names == ["SERVER_SKIPPED"]:
                assert job.launch_statuses[server] == "FAILED"
                continue
            assert names[0] == "SNAPSHOT_START"
            assert names[-1] in ("CLEANUP_END", "CLEANUP_FAIL")
            fails = [s for s in steps if s["event"] == "CONVERSION_FAIL"]
            assert [f["eventData"]["attemptCount"] for f in fails] == list(range(1, len(fails) + 1))
            assert all(f["eventData"]["maxAttemptsCount"] == MAX_ATTEMPTS for f in fails)
            assert all(f["eventData"]["rawError"] for f in fails)
            launched = "LAUNCH_START" in names and "LAUNCH_FAILED" not in names
            assert job.launch_statuses[server] == ("LAUNCHED" if launched else "FAILED")
            if len(fails) == MAX_ATTEMPTS:
                assert "LAUNCH_START" not in names
            if "SNAPSHOT_FAIL" in names:
                assert names[names.index("SNAPSHOT_FAIL") + 1] == "USING_PREVIOUS_SNAPSHOT"


def test_waves_test_then_cutover_history_then_live_window() -> None:
    programme = generate_programme(ProgrammeSpec(jobs=40), TIMELINE, caller_account=CALLER)
    history = [j for j in programme.jobs if not j.live]
    live = [j for j in programme.jobs if j.live]
    assert len(history) == 12 and len(live) == 28
    assert all(
        TIMELINE.history_start <= j.created and j.ended < TIMELINE.live_start for j in history
    )
    window = TIMELINE.live_end - TIMELINE.live_start
    for job in live:
        assert TIMELINE.live_start < job.created and job.ended <= TIMELINE.live_end
        assert job.ended - job.created <= window * 0.4 + timedelta(seconds=1)
    for job in programme.jobs:
        if job.initiated_by == "START_CUTOVER":
            test = next(
                j
                for j in programme.jobs
                if j.wave == job.wave
                and j.account_id == job.account_id
                and j.initiated_by == "START_TEST"
            )
            assert test.source_server_ids == job.source_server_ids
            assert test.created < job.created


def test_every_programme_shows_a_conversion_retry_and_a_cutover_launch_failure() -> None:
    for seed in range(5):
        programme = generate_programme(
            ProgrammeSpec(accounts=3, jobs=6, seed=seed), TIMELINE, caller_account=CALLER
        )
        live = [j for j in programme.jobs if j.live]
        assert "CONVERSION_FAIL" in _events(live[0])
        assert any("LAUNCH_FAILED" in _events(j) for j in live if j.initiated_by == "START_CUTOVER")


def test_failure_rate_zero_means_no_failures_and_no_history_without_a_start() -> None:
    timeline = Timeline(live_start=TIMELINE.live_start, live_end=TIMELINE.live_end)
    programme = generate_programme(
        ProgrammeSpec(jobs=30, failure_rate=0.0), timeline, caller_account=CALLER
    )
    counts = Counter(e for job in programme.jobs for e in _events(job))
    assert not ERRORS & set(counts) and counts["SERVER_SKIPPED"] == 0
    assert all(job.live for job in programme.jobs)
    assert all(
        status == "LAUNCHED" for j in programme.jobs for status in j.launch_statuses.values()
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"accounts": 0},
        {"jobs": -1},
        {"history_share": 1.5},
        {"failure_rate": -1},
        {"late_item_share": -0.1},
        {"late_item_share": 1.5},
    ],
)
def test_bad_specs_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ProgrammeSpec(**kwargs)  # type: ignore[arg-type]


def test_bad_timelines_are_refused() -> None:
    with pytest.raises(ValueError):
        Timeline(live_start=NOW, live_end=NOW)
    with pytest.raises(ValueError):
        Timeline(live_start=NOW - timedelta(hours=1), live_end=NOW, history_start=NOW)


# -- launch outcomes and post-launch actions --------------------------------------------------

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _bound(programme: Programme, job: PlannedJob) -> datetime:
    timeline = programme.timeline
    return timeline.live_end if job.live else timeline.live_start


def test_launched_servers_have_an_instance_a_discovery_and_two_to_four_actions() -> None:
    programme = generate_programme(ProgrammeSpec(jobs=40), TIMELINE, caller_account=CALLER)
    documents = {a.document: a for a in CATALOGUE}
    action_sets: dict[tuple[str, str], list[str]] = {}
    for job in programme.jobs:
        launched = [s for s in job.source_server_ids if job.launch_statuses[s] == "LAUNCHED"]
        assert [launch.source_server_id for launch in job.launches] == launched
        for launch in job.launches:
            start = next(
                p
                for p in job.items
                if p.item["event"] == "LAUNCH_START"
                and p.item["eventData"]["sourceServerID"] == launch.source_server_id
            )
            assert launch.instance_id == start.item["eventData"]["targetInstanceID"]
            assert launch.launched == start.at
            assert job.ended < launch.ssm_discovered
            assert 2 <= len(launch.executions) <= 4
            previous_end = launch.ssm_discovered
            for execution in launch.executions:
                action = documents[execution.document_name]
                assert (execution.action_name, execution.document_type) == (
                    action.name,
                    action.document_type,
                )
                assert execution.must_succeed == action.must_succeed
                assert previous_end < execution.started < execution.ended
                previous_end = execution.ended
                assert UUID.fullmatch(execution.execution_id)
                assert (execution.final_status == "FAILED") == bool(execution.failure_reason)
                assert len(execution.failure_reason or "") <= 256
            assert previous_end < _bound(programme, job)
            # The server's launch configuration: the same actions in its test and cutover.
            names = [e.action_name for e in launch.executions]
            key = (job.account_id, launch.source_server_id)
            assert action_sets.setdefault(key, names) == names
    ids = [a.execution_id for a in programme.post_launch_actions()]
    assert len(ids) == len(set(ids)) == programme.action_count


def test_every_programme_shows_a_failed_must_succeed_action_and_a_failed_server() -> None:
    for seed in range(8):
        programme = generate_programme(
            ProgrammeSpec(accounts=3, jobs=6, seed=seed), TIMELINE, caller_account=CALLER
        )
        cutovers = {
            j.job_id: j for j in programme.jobs if j.live and j.initiated_by == "START_CUTOVER"
        }
        assert any("FAILED" in j.launch_statuses.values() for j in cutovers.values())
        if any(j.launches for j in cutovers.values()):
            assert any(
                a.job_id in cutovers and a.must_succeed and a.final_status == "FAILED"
                for a in programme.post_launch_actions()
            )


def test_failure_rate_zero_means_every_action_succeeds() -> None:
    programme = generate_programme(
        ProgrammeSpec(jobs=30, failure_rate=0.0), TIMELINE, caller_account=CALLER
    )
    outcomes = programme.post_launch_actions()
    assert outcomes and all(a.final_status == "SUCCESS" for a in outcomes)
    assert all(a.statuses_reached == ("IN_PROGRESS", "SUCCESS") for a in outcomes)
    servers = programme.server_outcomes()
    assert all(s.launch_status == "LAUNCHED" and s.launched_instance_id for s in servers)


def test_failures_scale_with_the_failure_rate() -> None:
    def failed(rate: float) -> int:
        programme = generate_programme(
            ProgrammeSpec(jobs=40, failure_rate=rate), TIMELINE, caller_account=CALLER
        )
        return sum(a.final_status == "FAILED" for a in programme.post_launch_actions())

    assert failed(0.2) < failed(1.0) < failed(4.0)


def test_late_items_are_the_last_one_or_two_of_the_share_of_jobs() -> None:
    programme = generate_programme(
        ProgrammeSpec(jobs=40, late_item_share=0.25), TIMELINE, caller_account=CALLER
    )
    late = [job for job in programme.jobs if job.late_items]
    assert len(late) == 10
    for job in late:
        assert job.late_items in (1, 2)
        shown = job.items[-1].visible_at
        assert all(p.visible_at == shown for p in job.items[-job.late_items :])
        assert all(p.shown is None for p in job.items[: -job.late_items])
        assert job.ended < shown < _bound(programme, job)
    assert all(
        p.shown is None
        for job in generate_programme(ProgrammeSpec(jobs=40), TIMELINE, caller_account=CALLER).jobs
        for p in job.items
    )
