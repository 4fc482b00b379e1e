"""The account state: admitting discovered jobs within the item's byte budget, per-sink
positions, forgetting old closed jobs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from boto3.dynamodb.types import TypeSerializer

from mgn_exporter.checkpoint import (
    MAX_TOKEN_CHARS,
    SERVER_STEPS_BYTES,
    AccountState,
    JobCheckpoint,
    new_job_checkpoint,
)

DYNAMODB_ITEM_LIMIT = 400 * 1024

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
    assert state.admit(listed(3), NOW) == NOW
    assert len(state.jobs) == 3
    assert state.jobs["mgnjob-00000000000000001"].completed


def test_over_the_cap_the_oldest_are_admitted_and_the_watermark_stops_at_the_first_left_out() -> (
    None
):
    state = AccountState(account_id="111111111111", jobs={"x": JobCheckpoint(job_id="x")})
    jobs = list(reversed(listed(5)))  # the order MGN lists them in does not matter
    room_for_two = state.estimated_bytes() + 2 * new_job_checkpoint(jobs[0]).estimated_bytes()
    watermark = state.admit(jobs, NOW, max_bytes=room_for_two)
    assert sorted(state.jobs) == ["mgnjob-00000000000000000", "mgnjob-00000000000000001", "x"]
    assert watermark == datetime(2026, 11, 25, 2, tzinfo=UTC)


def test_known_and_closed_jobs_are_not_admitted_again() -> None:
    jobs = listed(3)
    state = AccountState(
        account_id="111111111111", closed={jobs[0]["jobID"]: "2026-11-25T00:00:00Z"}
    )
    state.jobs[jobs[1]["jobID"]] = JobCheckpoint(job_id=jobs[1]["jobID"], position=7)
    state.admit(jobs, NOW)
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


def _item_bytes_upper_bound(state: AccountState) -> int:
    """The state as the store writes it, measured as DynamoDB JSON: type tags, quotes and
    punctuation make this larger than DynamoDB's own count, never smaller."""
    serializer = TypeSerializer()
    item = {
        "pk": serializer.serialize(f"ACCOUNT#{state.account_id}"),
        "jobs": serializer.serialize({j: job.to_item() for j, job in state.jobs.items()}),
        "closedJobs": serializer.serialize(dict(state.closed)),
        "watermark": serializer.serialize("2026-11-25T12:00:00Z"),
        **{
            name: {"N": "1764072000.123"}
            for name in ("coveredUntil", "firstExportAt", "lastSuccessAt", "expiresAt")
        },
        "leaseOwner": serializer.serialize("x" * 64),
        "leaseExpiresAt": {"N": "1764072000"},
    }
    return len(json.dumps(item, default=str).encode("utf-8"))


def test_a_full_state_stays_under_dynamodbs_item_limit_even_with_the_longest_tokens() -> None:
    # Given a backlog of 2,000 jobs and 500 recently closed ones
    closed = {f"mgnjob-c{i:016d}": "2026-11-25T00:00:00Z" for i in range(500)}
    state = AccountState(account_id="111111111111", closed=closed)
    backlog = [
        {
            "jobID": f"mgnjob-{i:017d}",
            "creationDateTime": (NOW - timedelta(days=2, minutes=-i)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
        for i in range(2000)
    ]
    watermark = state.admit(backlog, NOW)
    # Then some are deferred (the watermark stops at the first left out)...
    assert 50 < len(state.jobs) < 2000
    assert watermark is not None and watermark < NOW
    # ...and with every open job holding MGN's longest nextToken and an ahead sink, the item is
    # still under DynamoDB's 400 KB
    for job_id, job in state.jobs.items():
        state.jobs[job_id] = replace(
            job,
            page_token="t" * MAX_TOKEN_CHARS,
            position=123456,
            page_start=123000,
            last_event_id="e" * 32,
            arn=f"arn:aws:mgn:us-east-1:111111111111:job/{job_id}",
            events_position=124000,
        )
    assert _item_bytes_upper_bound(state) < DYNAMODB_ITEM_LIMIT


def test_a_state_with_room_admits_a_job_whatever_token_it_will_hold() -> None:
    state = AccountState(account_id="111111111111")
    one = new_job_checkpoint(listed(1)[0]).estimated_bytes()
    assert one > MAX_TOKEN_CHARS  # budgeted with the longest token before it holds any
    assert state.admit(listed(1), NOW, max_bytes=state.estimated_bytes() + one) == NOW
    assert len(state.jobs) == 1


def test_sink_positions_round_trip_and_default_to_the_common_position() -> None:
    job = JobCheckpoint(job_id="j", position=10, events_position=25)
    assert job.sink_position("events") == 25
    assert job.sink_position("logs") == 10
    again = JobCheckpoint.from_item(json.loads(json.dumps(job.to_item())))
    assert again == job
    assert "logs_position" not in job.to_item()


def test_staleness_counts_from_the_last_success_or_the_first_try() -> None:
    assert AccountState(account_id="1").staleness(100.0) == 0.0
    assert AccountState(account_id="1", first_export_at=40.0).staleness(100.0) == 60.0
    state = AccountState(account_id="1", first_export_at=10.0, last_success_at=70.0)
    assert state.staleness(100.0) == 30.0


def test_derived_marks_are_per_sink_short_and_survive_the_item_round_trip() -> None:
    job = JobCheckpoint(job_id="mgnjob-0123456789abcdefg")
    first, second = "a" * 32, "b" * 32
    job = job.with_derived("events", [first, second, first]).with_derived("logs", [second])
    assert job.derived_sent("events", first) and job.derived_sent("events", second)
    assert not job.derived_sent("logs", first) and job.derived_sent("logs", second)
    assert job.derived_events == "a" * 12 + "b" * 12  # 12 characters a mark, once each
    assert job.with_derived("events", [first]) is job  # nothing new: unchanged
    again = JobCheckpoint.from_item(job.to_item())
    assert again.derived_sent("events", second) and not again.derived_sent("logs", first)


def test_a_job_reserves_room_for_its_servers_steps_and_marks() -> None:
    small = JobCheckpoint(job_id="mgnjob-0123456789abcdefg")
    listed = small.with_job({"jobID": small.job_id, "participatingServers": [{}] * 100})
    assert listed.servers == 100
    assert listed.estimated_bytes() - small.estimated_bytes() >= 100 * SERVER_STEPS_BYTES - 50
    # Once the steps take more than the reserve, they count as they are.
    grown = replace(listed, steps={"servers": {f"s-{i}": {"x": "y" * 600} for i in range(100)}})
    assert grown.estimated_bytes() > 100 * 600
