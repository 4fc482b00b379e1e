"""Names on events, end to end: the MGN emulator's servers, applications and waves over HTTP,
read by the real exporter, in what reached EventBridge and the log group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local.fault_proxy import FaultProxy
from local.mgn_emulator import MgnEmulator, make_item
from mgn_exporter import enrichment
from mgn_exporter.clients import forget_clients
from mgn_exporter.settings import get_settings
from tests.integration.conftest import OWN_ACCOUNT, World, invoke
from tests.integration.test_exporter import assert_exactly_once, details, logged
from tests.integration.worlds import add_job

OTHER = "222222222222"
NAMED = "s-0000000000000000a"
NO_WAVE = "s-0000000000000000b"
LONE = "s-0000000000000000c"
UNLISTED = "s-0000000000000000d"


def named_world(emu: MgnEmulator, account_id: str, prefix: str) -> dict[str, str]:
    """A wave, an application in it, an application in none, and servers of each kind."""
    wave = emu.add_wave(account_id, name=f"Wave 1 - {prefix}")
    app = emu.add_application(account_id, name=f"{prefix} payroll", wave_id=wave)
    loose = emu.add_application(account_id, name=f"{prefix} intranet")
    emu.add_source_server(
        account_id,
        NAMED,
        hostname=f"{prefix.lower()}-db-01",
        fqdn=f"{prefix.lower()}-db-01.corp.example.com",
        name=f"{prefix} DB 1",
        application_id=app,
    )
    emu.add_source_server(
        account_id, NO_WAVE, hostname=f"{prefix.lower()}-web-01", application_id=loose
    )
    emu.add_source_server(account_id, LONE, hostname=f"{prefix.lower()}-batch-01")
    return {"wave": wave, "app": app, "loose": loose}


def log_steps(emu: MgnEmulator, account_id: str, servers: list[str]) -> str:
    """A job whose log names each server once (CONVERSION_FAIL), between JOB_START and JOB_END."""
    when = datetime.now(UTC) - timedelta(minutes=20)
    job = emu.add_job(account_id, created=when, initiated_by="START_CUTOVER")
    items = [make_item("JOB_START", when)]
    items += [
        make_item("CONVERSION_FAIL", when + timedelta(seconds=n + 1), server, raw_error="boom")
        for n, server in enumerate(servers)
    ]
    items.append(make_item("JOB_END", when + timedelta(minutes=5)))
    emu.append_items(account_id, job, items)
    return job


def by_server(world: World) -> dict[tuple[str, str | None], dict[str, object]]:
    return {(d["accountID"], d["eventData"].get("sourceServerID")): d for d in details(world)}


def test_events_name_their_server_application_and_wave_in_each_account(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = world.emulator
    emu.add_account(OTHER, initialized=True, managed=True)
    ids = {OWN_ACCOUNT: named_world(emu, OWN_ACCOUNT, "Finance")}
    ids[OTHER] = named_world(emu, OTHER, "Retail")
    for account in (OWN_ACCOUNT, OTHER):
        log_steps(emu, account, [NAMED, NO_WAVE, LONE, UNLISTED])
    monkeypatch.setenv("ACCOUNTS", "auto")
    get_settings.cache_clear()

    report = invoke()

    assert report["complete"] and report["counters"].get("EventsNotEnriched", 0) == 0
    assert_exactly_once(world, 12)
    events = by_server(world)
    for account, prefix in ((OWN_ACCOUNT, "Finance"), (OTHER, "Retail")):
        full = events[(account, NAMED)]
        assert full["sourceServer"] == {
            "sourceServerID": NAMED,
            "hostname": f"{prefix.lower()}-db-01",
            "fqdn": f"{prefix.lower()}-db-01.corp.example.com",
            "name": f"{prefix} DB 1",
        }
        assert full["application"] == {
            "applicationID": ids[account]["app"],
            "name": f"{prefix} payroll",
        }
        assert full["wave"] == {"waveID": ids[account]["wave"], "name": f"Wave 1 - {prefix}"}
        # An application in no wave: no wave; no application: neither.
        assert events[(account, NO_WAVE)]["application"]["name"] == f"{prefix} intranet"  # type: ignore[index]
        assert "wave" not in events[(account, NO_WAVE)]
        assert events[(account, LONE)]["sourceServer"] == {
            "sourceServerID": LONE,
            "hostname": f"{prefix.lower()}-batch-01",
        }
        assert "application" not in events[(account, LONE)]
        # A server MGN does not list, and items with no server: no names at all.
        for server in (UNLISTED, None):
            assert not {"sourceServer", "application", "wave"} & set(events[(account, server)])
    # The log lines carry the same names: they are the same Detail.
    assert {d["eventId"]: d for d in logged(world)} == {d["eventId"]: d for d in details(world)}
    # Per account, once for the whole export: the two lists, and the servers the page named.
    calls = report["apiCalls"]
    assert calls["mgn.DescribeSourceServers"] == calls["mgn.ListApplications"] == 2
    assert calls["mgn.ListWaves"] == 2


def test_a_server_added_mid_run_is_named_once_its_items_arrive(world: World) -> None:
    emu = world.emulator
    named_world(emu, OWN_ACCOUNT, "Finance")
    job = add_job(emu, OWN_ACCOUNT, 1, completed=False)  # JOB_START only
    emu.append_items(OWN_ACCOUNT, job, [make_item("SNAPSHOT_START", datetime.now(UTC), NAMED)])
    invoke()
    # A server is added while the job runs, and its first items come.
    new = "s-0000000000000000e"
    emu.add_source_server(OWN_ACCOUNT, new, hostname="fin-app-07")
    emu.append_items(OWN_ACCOUNT, job, [make_item("SNAPSHOT_START", datetime.now(UTC), new)])
    report = invoke()
    assert report["itemsExported"] == 1
    latest = details(world)[-1]
    assert latest["sourceServer"] == {"sourceServerID": new, "hostname": "fin-app-07"}


def test_a_renamed_wave_shows_its_new_name_once_the_inventory_is_read_again(
    world: World,
) -> None:
    emu = world.emulator
    ids = named_world(emu, OWN_ACCOUNT, "Finance")
    job = add_job(emu, OWN_ACCOUNT, 1, completed=False)
    emu.append_items(OWN_ACCOUNT, job, [make_item("SNAPSHOT_START", datetime.now(UTC), NAMED)])
    invoke()
    emu.rename_wave(OWN_ACCOUNT, ids["wave"], "Wave 1 - Finance (moved to January)")
    emu.append_items(OWN_ACCOUNT, job, [make_item("SNAPSHOT_END", datetime.now(UTC), NAMED)])
    # A new execution environment (or the refresh period passing) reads the inventory again.
    forget_clients()
    invoke()
    first, second = details(world)[-2:]
    assert first["wave"]["name"] == "Wave 1 - Finance"
    assert second["wave"]["name"] == "Wave 1 - Finance (moved to January)"


@pytest.mark.parametrize(
    ("operation", "fault"),
    [
        (
            "mgn.DescribeSourceServers",
            {"kind": "http_500", "status": 403, "error_code": "AccessDeniedException"},
        ),
        ("mgn.ListApplications", {"kind": "throttle"}),
        ("mgn.ListWaves", {"kind": "http_503"}),
    ],
)
def test_an_enrichment_call_that_fails_leaves_every_item_exported_once_unnamed_and_counted(
    world: World, proxy: FaultProxy, operation: str, fault: dict[str, object]
) -> None:
    emu = world.emulator
    named_world(emu, OWN_ACCOUNT, "Finance")
    log_steps(emu, OWN_ACCOUNT, [NAMED, NO_WAVE, LONE])
    kind = str(fault.pop("kind"))
    proxy.inject(operation, kind, **fault)  # type: ignore[arg-type]

    report = invoke()

    assert report["complete"] and report["itemsExported"] == 5
    assert_exactly_once(world, 5)
    assert not any({"sourceServer", "application", "wave"} & set(d) for d in details(world))
    # The three items that name a server are counted; JOB_START and JOB_END name none. (A
    # failed ListWaves or ListApplications leaves the servers unasked too: nothing is named.)
    assert report["counters"]["EventsNotEnriched"] == 3
    assert report["accounts"][0]["outcome"] == "exported"


def test_no_inventory_read_is_started_close_to_the_deadline(world: World) -> None:
    emu = world.emulator
    named_world(emu, OWN_ACCOUNT, "Finance")
    log_steps(emu, OWN_ACCOUNT, [NAMED])
    # 2 s of margin: a 6 s budget leaves less usable time than a read may take.
    report = invoke(budget_ms=int((enrichment.MIN_USABLE_SECONDS + 1) * 1000))
    assert report["complete"]
    assert_exactly_once(world, 3)
    assert "mgn.DescribeSourceServers" not in report["apiCalls"]
    assert report["counters"]["EventsNotEnriched"] == 1


def test_a_slow_inventory_read_delays_nothing_it_should_not(
    world: World, proxy: FaultProxy
) -> None:
    emu = world.emulator
    named_world(emu, OWN_ACCOUNT, "Finance")
    log_steps(emu, OWN_ACCOUNT, [NAMED, LONE])
    proxy.inject("mgn.ListWaves", "slow", delay=2.0)
    report = invoke()
    assert report["complete"]
    assert_exactly_once(world, 4)
    assert by_server(world)[(OWN_ACCOUNT, NAMED)]["wave"]["name"] == "Wave 1 - Finance"  # type: ignore[index]


def test_enrichment_off_reads_no_inventory(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    emu = world.emulator
    named_world(emu, OWN_ACCOUNT, "Finance")
    log_steps(emu, OWN_ACCOUNT, [NAMED])
    monkeypatch.setenv("ENRICHMENT_REFRESH_MINUTES", "0")
    get_settings.cache_clear()
    report = invoke()
    assert_exactly_once(world, 3)
    assert "mgn.DescribeSourceServers" not in report["apiCalls"]
    assert "EventsNotEnriched" not in {k for k, v in report["counters"].items() if v}
    assert "sourceServer" not in by_server(world)[(OWN_ACCOUNT, NAMED)]


def test_an_odd_server_id_in_an_item_leaves_the_other_items_named(world: World) -> None:
    emu = world.emulator
    named_world(emu, OWN_ACCOUNT, "Finance")
    when = datetime.now(UTC) - timedelta(minutes=5)
    job = emu.add_job(OWN_ACCOUNT, created=when)
    odd = make_item("SNAPSHOT_START", when, NAMED)
    odd["eventData"]["sourceServerID"] = "weird"
    emu.append_items(OWN_ACCOUNT, job, [odd, make_item("SNAPSHOT_END", when, NAMED)])
    report = invoke()
    assert_exactly_once(world, 2)
    assert report["counters"].get("EventsNotEnriched", 0) == 0
    first, second = details(world)
    assert "sourceServer" not in first
    assert second["sourceServer"]["hostname"] == "finance-db-01"
