"""The fault suite's ledger of derived events (local/faultsuite/derived.py) on made-up
deliveries: what the emulator's DescribeJobs shows of a world's job, shaped by the exporter's
own functions, then copies taken away, repeated or altered. No cloud: the emulator alone."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.faultsuite.cloud import DerivedCopy
from local.faultsuite.derived import DerivedWorld, check_derived
from local.faultsuite.ledger import Result, check_derived_bound
from local.faultsuite.names import WorldNames, mentioned
from local.mgn_emulator import MgnEmulator
from local.mgn_emulator.worlds import job_log
from mgn_exporter.derived_events import (
    JOB_OUTCOME,
    POST_LAUNCH_ACTION,
    DerivedContext,
    job_outcome_event,
    post_launch_action_event,
)
from mgn_exporter.events import ExportEvent, JobInfo
from mgn_exporter.job_steps import StepFold
from mgn_exporter.post_launch import server_launches

ACCOUNT = "111111111111"
JOB = "mgnjob-0123456789abcdefg"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SINKS = ("eventbridge", "logs")


@dataclass
class World:
    emulator: MgnEmulator
    names: WorldNames
    derived: DerivedWorld

    def shaped(self) -> list[ExportEvent]:
        """The derived events the exporter makes of what DescribeJobs shows now (the outcome
        when the world says the job settled)."""
        (record,) = self.emulator.client().describe_jobs(filters={"jobIDs": [JOB]})["items"]
        job: dict[str, Any] = dict(record)
        launches = server_launches(job)
        context = DerivedContext(
            account_id=ACCOUNT,
            region="us-east-1",
            source="mgn.joblog.test",
            job=JobInfo(JOB, job_type="LAUNCH", initiated_by="START_CUTOVER"),
            live_since=None,
            names=lambda server: self.names.names(ACCOUNT, server),
        )
        ended = T0 + timedelta(hours=1)
        events = [
            post_launch_action_event(run, launch, context, observed=ended, job_ended=ended)
            for launch in launches
            for run in launch.actions
        ]
        plan = self.derived.job(ACCOUNT, JOB)
        if plan.settled:
            events.append(
                job_outcome_event(
                    job, launches, StepFold(), context, ended=ended, waited_out=plan.waited_out
                )
            )
        return events

    def check(self, copies: list[DerivedCopy]) -> Any:
        return check_derived(self.derived, {ACCOUNT: [JOB]}, copies, self.names)


def delivered(events: list[ExportEvent]) -> list[DerivedCopy]:
    """Each event once in each sink, as the suite reads them back."""
    return [
        DerivedCopy(sink, event.detail_type, json.loads(event.detail_json))
        for event in events
        for sink in SINKS
    ]


@pytest.fixture
def world() -> Iterator[World]:
    emulator = MgnEmulator(caller_account=ACCOUNT).start()
    try:
        items = job_log(40, start=T0, rng=random.Random(3), fail_every=7)
        names = WorldNames(seed=7)
        names.add_job(ACCOUNT, JOB, items)
        names.load(emulator)
        servers = mentioned(items)
        emulator.add_job(
            ACCOUNT,
            JOB,
            initiated_by="START_CUTOVER",
            created=T0,
            source_server_ids=list(servers),
        )
        emulator.append_items(ACCOUNT, JOB, items)
        derived = DerivedWorld(7, emulator)
        derived.add_job(ACCOUNT, JOB, servers)
        derived.launch(ACCOUNT, JOB, items, fail_one=True)
        emulator.set_job_status(ACCOUNT, JOB, "COMPLETED", when=T0 + timedelta(hours=1))
        plan = derived.job(ACCOUNT, JOB)
        plan.completed = plan.past_grace = True
        yield World(emulator, names, derived)
    finally:
        emulator.stop()


def test_every_derived_event_once_in_both_sinks_passes(world: World) -> None:
    events = world.shaped()
    tally = world.check(delivered(events))
    assert tally.problems == []
    assert tally.required == tally.delivered == len(events) and tally.lost == 0
    assert tally.outcomes == 1 and tally.statuses == len(events) - 1
    # The world holds what the checks are about: a failed launch, a failed action.
    assert tally.failed_servers >= 1
    assert any(e.detail.get("status") == "FAILED" for e in events[:-1])


def test_a_copy_missing_from_one_sink_is_lost(world: World) -> None:
    copies = [
        c
        for c in delivered(world.shaped())
        if not (c.sink == "logs" and c.detail_type == JOB_OUTCOME)
    ]
    tally = world.check(copies)
    assert tally.lost == 1
    (problem,) = tally.problems
    assert problem.startswith("1 derived events lost") and "EventBridge 1, logs 0" in problem


def test_repeats_are_counted_per_sink_and_bounded_by_the_result(world: World) -> None:
    copies = delivered(world.shaped())
    tally = world.check([*copies, copies[0], copies[0], copies[1]])
    assert (tally.duplicates_bus, tally.duplicates_logs, tally.problems) == (2, 1, [])
    result = Result("s", 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    result.derived_duplicates_bus, result.derived_duplicates_logs = 2, 1
    result.derived_bound = 1
    check_derived_bound(result)
    assert result.problems == [
        "derived events repeated in EventBridge: 2, over the bound 1",
    ]
    result.derived_bound = 2
    check_derived_bound(result)  # the problem is replaced, not added to
    assert result.problems == []


def test_an_outcome_with_the_wrong_counts_is_reported(world: World) -> None:
    copies = delivered(world.shaped())
    outcome = next(c for c in copies if c.detail_type == JOB_OUTCOME and c.sink == "logs")
    wrong = copy.deepcopy(outcome.detail)
    wrong["serversFailed"] += 1
    wrong["participatingServers"][0]["launchStatus"] = "PENDING"
    copies[copies.index(outcome)] = DerivedCopy("logs", JOB_OUTCOME, wrong)
    (problem,) = world.check(copies).problems
    assert problem.startswith("1 derived events say what the world does not")
    assert "serversFailed" in problem and "participatingServers" in problem


def test_a_status_the_action_never_showed_and_an_early_outcome_are_made_up(
    world: World,
) -> None:
    copies = delivered(world.shaped())
    status = next(c for c in copies if c.detail_type == POST_LAUNCH_ACTION)
    made_up = copy.deepcopy(status.detail)
    made_up["eventId"] = "f" * 32
    world.derived.job(ACCOUNT, JOB).past_grace = False  # not settled: no outcome may exist
    tally = world.check([*copies, DerivedCopy("eventbridge", POST_LAUNCH_ACTION, made_up)])
    (problem,) = tally.problems
    # Each made-up event once, however many copies: the outcome (both sinks), the status.
    assert problem.startswith("2 delivered derived events the world did not make")


def test_a_bus_entry_of_another_detail_type_and_wrong_names_are_reported(world: World) -> None:
    copies = delivered(world.shaped())
    named = [
        c for c in copies if c.detail_type == POST_LAUNCH_ACTION and "sourceServer" in c.detail
    ]
    assert named, "the world names the servers of its actions"
    renamed = copy.deepcopy(named[0].detail)
    renamed["sourceServer"]["hostname"] = "somebody-else"
    unnamed = {k: v for k, v in named[1].detail.items() if k not in ("sourceServer", "wave")}
    unnamed.pop("application", None)
    swaps = {
        id(named[0]): DerivedCopy(named[0].sink, POST_LAUNCH_ACTION, renamed),
        id(named[1]): DerivedCopy(named[1].sink, POST_LAUNCH_ACTION, unnamed),
        id(copies[-1]): DerivedCopy(copies[-1].sink, POST_LAUNCH_ACTION, copies[-1].detail),
    }
    tally = world.check([swaps.get(id(c), c) for c in copies])
    assert tally.unnamed == 1  # not counted anywhere by the exporter: only counted here
    assert sorted(p.split(",")[0] for p in tally.problems) == [
        "1 derived events carry names that are not the world's",
        "1 derived events under the wrong DetailType",
    ]


def test_actions_move_on_in_order_and_a_job_settles_when_they_end_or_the_wait_runs_out(
    world: World,
) -> None:
    derived = DerivedWorld(11, world.emulator)
    items = world.emulator.job_items(ACCOUNT, JOB)
    servers = mentioned(items)
    job = world.emulator.add_job(ACCOUNT, source_server_ids=list(servers))
    derived.add_job(ACCOUNT, job, servers)
    derived.launch(ACCOUNT, job, [], actions="planned")
    plan = derived.job(ACCOUNT, job)
    actions = [a for s in plan.servers for a in s.actions]
    # The first action of each launched server runs; the others are to come.
    assert actions
    for server in plan.servers:
        shown = [action.shown for action in server.actions]
        assert shown == [["IN_PROGRESS"], *[[] for _ in shown[1:]]][: len(shown)]
    plan.completed = plan.past_grace = True
    assert not plan.settled  # its actions run
    while derived.advance(ACCOUNT, job):
        # A server never shows all its actions ended while one is still to come.
        for server in plan.servers:
            if any(not a.shown for a in server.actions):
                assert any(a.running for a in server.actions)
    assert plan.settled and not plan.waited_out
    assert all(a.shown == ["IN_PROGRESS", a.final_status] for a in actions)
    with pytest.raises(RuntimeError, match="settled"):
        derived._show(plan, plan.servers[0], actions[0], "IN_PROGRESS")
    # The wait for running actions ran out: settled with them running.
    other = world.emulator.add_job(ACCOUNT, source_server_ids=list(servers))
    derived.add_job(ACCOUNT, other, servers)
    derived.launch(ACCOUNT, other, [], actions="planned")
    waiting = derived.job(ACCOUNT, other)
    waiting.completed = waiting.past_grace = waiting.past_wait = True
    assert waiting.settled == waiting.waited_out == waiting.running
