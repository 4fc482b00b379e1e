"""When a job is closed: a job missing from one DescribeJobs answer stays open; a job MGN no
longer has is closed after a second answer without it (the emulator over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.mgn_emulator import make_item
from mgn_exporter.checkpoint import MISSES_BEFORE_GONE
from tests.integration.conftest import OWN_ACCOUNT, World, invoke
from tests.integration.test_exporter import assert_exactly_once
from tests.integration.worlds import add_job, grow

# Older than the discovery overlap (60 minutes): after the first export, the job is asked for
# by id, not listed by date.
OLD = datetime.now(UTC) - timedelta(hours=3)


def test_a_job_missing_from_one_answer_stays_open_and_its_later_items_come(world: World) -> None:
    emu = world.emulator
    job = add_job(emu, OWN_ACCOUNT, 20, completed=False, created=OLD, seed=41)
    invoke()
    # One DescribeJobs answer leaves the job out, while MGN goes on logging it.
    emu.hide_job(OWN_ACCOUNT, job)
    grow(emu, OWN_ACCOUNT, job, 5, seed=42)
    invoke()
    assert job in world.state(OWN_ACCOUNT).jobs, "closed on one answer without it"
    grow(emu, OWN_ACCOUNT, job, 5, seed=43)
    invoke()
    state = world.state(OWN_ACCOUNT)
    assert job in state.jobs and state.jobs[job].missed is None  # found again
    assert_exactly_once(world, 30)


def test_a_deleted_job_is_closed_after_a_second_answer_without_it(world: World) -> None:
    emu = world.emulator
    job = add_job(emu, OWN_ACCOUNT, 10, completed=False, created=OLD, seed=44)
    invoke()
    emu.delete_job(OWN_ACCOUNT, job)
    for run in range(1, MISSES_BEFORE_GONE + 1):
        report = invoke()
        state = world.state(OWN_ACCOUNT)
        if run < MISSES_BEFORE_GONE:
            assert job in state.jobs and state.jobs[job].missed == run
        else:
            assert job in state.closed and job not in state.jobs
        # The account itself is fine: only the job's log is unavailable.
        assert report["accounts"][0]["outcome"] == "exported"
    assert_exactly_once(world, 10)


def test_a_job_listed_again_by_date_is_found_again(world: World) -> None:
    emu = world.emulator
    when = datetime.now(UTC) - timedelta(minutes=10)
    job = emu.add_job(OWN_ACCOUNT, created=when)
    emu.append_items(OWN_ACCOUNT, job, [make_item("JOB_START", when)])
    invoke()
    emu.hide_job(OWN_ACCOUNT, job)
    invoke()
    # Inside the overlap the job is listed by date; missing from that listing it is asked for
    # by id, which finds it: no miss is counted.
    assert world.state(OWN_ACCOUNT).jobs[job].missed is None
