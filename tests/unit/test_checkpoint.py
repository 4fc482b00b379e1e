"""The account state: admitting discovered jobs within a cap, forgetting old closed jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mgn_exporter.checkpoint import AccountState, JobCheckpoint

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def listed(n: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {
            "jobID": f"mgnjob-{i:017d}",
            "creationDateTime": f"2026-11-25T{i:02d}:00:00Z",
            "status": "COMPLETED",
        }
        for i in range(start, start + n)
    ]


def test_all_jobs_fit_and_the_watermark_moves_to_now() -> None:
    state = AccountState(account_id="111111111111")
    assert state.admit(listed(3), NOW, max_open=10) == NOW
    assert len(state.jobs) == 3
    assert state.jobs["mgnjob-00000000000000001"].completed


def test_over_the_cap_the_oldest_are_admitted_and_the_watermark_stops_at_the_first_left_out() -> (
    None
):
    state = AccountState(account_id="111111111111", jobs={"x": JobCheckpoint(job_id="x")})
    jobs = list(reversed(listed(5)))  # the order MGN lists them in does not matter
    watermark = state.admit(jobs, NOW, max_open=3)
    assert sorted(state.jobs) == ["mgnjob-00000000000000000", "mgnjob-00000000000000001", "x"]
    assert watermark == datetime(2026, 11, 25, 2, tzinfo=UTC)


def test_known_and_closed_jobs_are_not_admitted_again() -> None:
    jobs = listed(3)
    state = AccountState(
        account_id="111111111111", closed={jobs[0]["jobID"]: "2026-11-25T00:00:00Z"}
    )
    state.jobs[jobs[1]["jobID"]] = JobCheckpoint(job_id=jobs[1]["jobID"], position=7)
    state.admit(jobs, NOW, max_open=10)
    assert jobs[0]["jobID"] not in state.jobs
    assert state.jobs[jobs[1]["jobID"]].position == 7


def test_closed_jobs_are_forgotten_once_discovery_cannot_list_them() -> None:
    state = AccountState(
        account_id="111111111111",
        closed={"old": "2026-11-20T00:00:00Z", "recent": "2026-11-25T11:00:00Z", "odd": "?"},
    )
    state.forget_closed_before(NOW - timedelta(hours=2))
    assert set(state.closed) == {"recent", "odd"}


@pytest.mark.parametrize(
    ("covered_until", "requested_at", "covered"),
    [
        (None, 100.0, False),  # never exported to the end of a run
        (100.0, None, False),  # a request of unknown age always runs
        (100.0, 99.0, True),  # asked before the last good export started
        (100.0, 100.0, True),
        (100.0, 101.0, False),  # asked while (or after) it ran: it may have missed the ask
    ],
)
def test_a_request_is_covered_only_by_a_good_export_that_started_after_it(
    covered_until: float | None, requested_at: float | None, covered: bool
) -> None:
    state = AccountState(account_id="111111111111", covered_until=covered_until)
    assert state.covers(requested_at) is covered
