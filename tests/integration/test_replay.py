"""Replaying one job on request (the worker invoked with {"replay": ...}), over HTTP: its
items and derived events once more in both sinks, with their usual eventIds and
`"replay": true`, one server's only if asked, in parts when the deadline comes, and the live
checkpoint untouched."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from local.sandbox.lambda_context import LocalLambdaContext
from mgn_exporter.replay import BadReplayRequest
from mgn_exporter.worker_handler import handler
from tests.integration.conftest import OWN_ACCOUNT, REGION, World, invoke
from tests.integration.test_exporter import details, logged
from tests.integration.test_job_outcomes import BAD, GOOD, action, cutover, derived, derived_logged


def replay(budget_ms: int = 60_000, **request: Any) -> dict[str, Any]:
    context = LocalLambdaContext(budget_ms=budget_ms, account_id=OWN_ACCOUNT, region=REGION)
    result: dict[str, Any] = handler({"replay": {"accountId": OWN_ACCOUNT, **request}}, context)
    return result


def ids(events: list[dict[str, Any]], *, replayed: bool) -> Counter[str]:
    return Counter(e["eventId"] for e in events if bool(e.get("replay")) is replayed)


def test_a_replay_sends_the_job_again_with_its_ids_marked_and_leaves_the_checkpoint(
    world: World,
) -> None:
    job = cutover(world)
    action(world, job, "SUCCESS")
    invoke()
    live_items, live_derived = (
        ids(details(world), replayed=False),
        ids(derived(world), replayed=False),
    )
    assert sum(live_items.values()) == 5 and sum(live_derived.values()) == 2
    state_before = world.raw_state(OWN_ACCOUNT)

    result = replay(jobId=job)

    assert result["complete"] and (result["itemsSent"], result["derivedSent"]) == (5, 2)
    # The same eventIds, each once more, marked as a replay, in both sinks.
    assert ids(details(world), replayed=True) == live_items
    assert ids(logged(world), replayed=True) == live_items
    assert ids(derived(world), replayed=True) == live_derived
    assert ids(derived_logged(world), replayed=True) == live_derived
    # What the live run said is what the replay says (durations included), but the mark.
    live = {e["eventId"]: e for e in details(world) if not e.get("replay")}
    for event in details(world):
        if event.get("replay"):
            assert {k: v for k, v in event.items() if k != "replay"} == live[event["eventId"]]
    # The live checkpoint is neither moved nor held.
    assert world.raw_state(OWN_ACCOUNT) == state_before
    assert invoke()["itemsExported"] == 0


def test_a_replay_of_one_server_sends_only_its_items_and_derived_events(world: World) -> None:
    job = cutover(world)
    action(world, job, "SUCCESS")
    invoke()
    result = replay(jobId=job, sourceServerId=BAD)
    replayed = [e for e in details(world) if e.get("replay")]
    assert {e["eventData"]["sourceServerID"] for e in replayed} == {BAD}
    assert [e["event"] for e in replayed] == ["LAUNCH_START", "LAUNCH_FAILED"]
    # The outcome of that server alone; its post-launch actions (none) and not GOOD's.
    (outcome,) = [e for e in derived(world) if e.get("replay")]
    assert [s["sourceServerID"] for s in outcome["participatingServers"]] == [BAD]
    assert result["derivedSent"] == 1 and GOOD not in str(outcome)


def test_a_replay_that_meets_its_deadline_says_where_to_go_on(world: World) -> None:
    world.emulator.max_page_size = 2
    job = cutover(world)
    invoke()
    # No time left at all: nothing is sent, and it says where to start.
    first = replay(budget_ms=0, jobId=job)
    assert not first["complete"] and first["nextPosition"] == 0, first
    rest = replay(jobId=job, fromPosition=first["nextPosition"] + 3)
    assert rest["complete"] and rest["itemsSent"] == 2
    assert [e["position"] for e in details(world) if e.get("replay")] == [3, 4]


def test_a_bad_request_is_refused_with_a_reason(world: World) -> None:
    with pytest.raises(BadReplayRequest, match="jobId"):
        replay(jobId="not-a-job")
    with pytest.raises(BadReplayRequest, match="no job"):
        replay(jobId="mgnjob-00000000000000000")
