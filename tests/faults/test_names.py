"""The fault suite's check of names (local/faultsuite/names.py) on made-up deliveries: what it
accepts, what it reports, and the worlds it names. No cloud: the emulator's store only."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from local.faultsuite.environments import Invocation
from local.faultsuite.names import (
    NOT_ENRICHED,
    DeliveredCopy,
    WorldNames,
    check_names,
    expected_names,
    misnamed,
    on_servers,
    realistic_inventory,
)
from local.mgn_emulator import MgnEmulator, make_item
from local.mgn_emulator.worlds import job_log

ACCOUNT = "111111111111"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def world_of(items: list[dict[str, Any]]) -> WorldNames:
    names = WorldNames(seed=7)
    names.add_job(ACCOUNT, "mgnjob-1", items)
    names.load(MgnEmulator(caller_account=ACCOUNT))  # its store only: no server started
    return names


def copy(world: WorldNames, server: str | None, *, named: bool, event: str = "e1") -> DeliveredCopy:
    detail: dict[str, Any] = {"eventId": event, "accountID": ACCOUNT, "eventData": {}}
    if server is not None:
        detail["eventData"]["sourceServerID"] = server
        if named:
            detail.update(world.names(ACCOUNT, server) or {})
    return DeliveredCopy.of("eventbridge", detail)


def run(not_enriched: int, *, killed: bool = False) -> Invocation:
    report = None if killed else {"counters": {NOT_ENRICHED: not_enriched}}
    return Invocation("r", 1000, killed=killed, report=report)


@pytest.fixture
def world() -> WorldNames:
    return world_of(job_log(30, start=T0, rng=random.Random(1)))


def servers(world: WorldNames) -> list[str]:
    return [server for _, server in world.expected]


def test_named_copies_and_counted_unnamed_ones_pass(world: WorldNames) -> None:
    first, second = servers(world)[:2]
    copies = [
        copy(world, first, named=True, event="a"),
        copy(world, second, named=False, event="b"),
        copy(world, None, named=False, event="c"),  # JOB_START: no server, no names
    ]
    tally = check_names(world, copies, [run(1)])
    assert (tally.nameable, tally.named, tally.counted, tally.problems) == (2, 1, 1, [])


def test_unnamed_copies_the_counter_does_not_account_for_are_reported(world: WorldNames) -> None:
    first, second = servers(world)[:2]
    copies = [
        copy(world, first, named=False, event="a"),
        copy(world, second, named=False, event="b"),
    ]
    (problem,) = check_names(world, copies, [run(1)]).problems
    assert "2 events of named servers went out without names" in problem


def test_a_duplicate_counts_once_and_a_dead_worker_suspends_the_count(world: WorldNames) -> None:
    server = servers(world)[0]
    copies = [copy(world, server, named=False), copy(world, server, named=True)]
    assert check_names(world, copies, [run(1)]).problems == []
    # A killed worker's counts died with it: unnamed copies cannot be accounted for.
    tally = check_names(world, copies, [run(0), run(0, killed=True)])
    assert tally.counted is None and tally.problems == []


def test_wrong_or_invented_names_are_reported(world: WorldNames) -> None:
    first, second = servers(world)[:2]
    wrong = DeliveredCopy.of(
        "logs",
        {
            "eventId": "a",
            "accountID": ACCOUNT,
            "eventData": {"sourceServerID": first},
            **(world.names(ACCOUNT, second) or {}),
        },
    )
    stranger = DeliveredCopy.of(
        "eventbridge",
        {
            "eventId": "b",
            "accountID": ACCOUNT,
            "eventData": {"sourceServerID": "s-0123456789abcdef0"},
            "sourceServer": {"sourceServerID": "s-0123456789abcdef0", "hostname": "made-up"},
        },
    )
    problems = check_names(world, [wrong, stranger], [run(0)]).problems
    assert len(problems) == 2
    assert problems[0].startswith("1 events carry names that are not the world's")
    assert problems[1].startswith("1 events of servers the world does not name carry names")


def test_the_world_names_every_mgn_server_of_its_jobs_and_keeps_a_job_on_its_servers() -> None:
    items = job_log(40, start=T0, rng=random.Random(2))
    items.append(make_item("CONVERSION_FAIL", T0, "weird"))  # not MGN's id: never named
    world = world_of(items)
    started_with = {server for _, server in world.expected}
    assert len(started_with) == 6 and "weird" not in started_with
    kinds = Counter(frozenset(names) for names in world.expected.values())
    assert kinds[frozenset({"sourceServer", "application", "wave"})] == 5
    assert kinds[frozenset({"sourceServer"})] == 1  # one server in no application
    later = world.same_servers(ACCOUNT, "mgnjob-1", job_log(30, start=T0, rng=random.Random(3)))
    assert {item["eventData"].get("sourceServerID") for item in later} - {None} <= started_with


def test_on_servers_gives_each_logged_server_the_next_one_in_turn() -> None:
    items = [make_item("SNAPSHOT_START", T0, f"s-{n:017d}") for n in (1, 1, 2, 3)]
    items.insert(0, make_item("JOB_START", T0))
    out, turn = on_servers(items, ["s-aaaaaaaaaaaaaaaaa", "s-bbbbbbbbbbbbbbbbb"], start=1)
    assert [i["eventData"].get("sourceServerID") for i in out] == [
        None,
        "s-bbbbbbbbbbbbbbbbb",
        "s-bbbbbbbbbbbbbbbbb",
        "s-aaaaaaaaaaaaaaaaa",
        "s-bbbbbbbbbbbbbbbbb",
    ]
    assert turn == 4 and items[1]["eventData"]["sourceServerID"] == f"s-{1:017d}"


def test_a_realistic_account_loads_and_misnamed_reads_deliveries_against_it() -> None:
    inventory = realistic_inventory(ACCOUNT)
    assert (len(inventory.servers), len(inventory.applications), len(inventory.waves)) == (
        50,
        10,
        3,
    )
    assert len({s.hostname for s in inventory.servers}) == 50
    assert len({a.name for a in inventory.applications}) == 10
    assert sum(1 for s in inventory.servers if s.application_id is None) == 1
    emulator = MgnEmulator(caller_account=ACCOUNT)
    emulator.add_inventory(inventory)  # the emulator's own checks (ids, names, references)
    server = inventory.servers[0].source_server_id
    event = {"eventId": "a", "accountID": ACCOUNT, "eventData": {"sourceServerID": server}}
    named = {**event, **expected_names(inventory)[(ACCOUNT, server)]}
    assert misnamed([named], expected_names(inventory)) == []
    assert misnamed([event], expected_names(inventory)) == ["a"]  # unnamed
    assert misnamed([named], {}) == ["a"]  # names the world does not have
