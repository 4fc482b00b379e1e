"""Names on events: the inventory's fields, and when the worker reads it (enrichment.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from mgn_exporter.enrichment import (
    RETRY_AFTER_FAILURE_SECONDS,
    UNKNOWN_SERVER_RECHECK_SECONDS,
    Enricher,
    InventoryCache,
)
from mgn_exporter.errors import InventoryUnavailable
from mgn_exporter.events import JobInfo, build_event
from mgn_exporter.inventory import Inventory, inventory_from

logger = Logger(service="test")
SERVER = "s-0d6c07b3fe008f636"
LONE = "s-1111111111111111a"

SERVERS = [
    {
        "sourceServerID": SERVER,
        "sourceProperties": {
            "identificationHints": {"hostname": "fin-db-01", "fqdn": "fin-db-01.corp.example"}
        },
        "tags": {"Name": "Finance DB 1"},
        "applicationID": "app-00000000000000001",
    },
    {"sourceServerID": LONE, "sourceProperties": {}, "tags": {}},
]
APPLICATIONS = [
    {
        "applicationID": "app-00000000000000001",
        "name": "Payroll",
        "waveID": "wave-00000000000000001",
    }
]
WAVES = [{"waveID": "wave-00000000000000001", "name": "Wave 1 - Finance"}]


def test_a_server_with_an_application_in_a_wave_is_named_in_full() -> None:
    names = inventory_from(SERVERS, APPLICATIONS, WAVES).names(SERVER)
    assert names == {
        "sourceServer": {
            "sourceServerID": SERVER,
            "hostname": "fin-db-01",
            "fqdn": "fin-db-01.corp.example",
            "name": "Finance DB 1",
        },
        "application": {"applicationID": "app-00000000000000001", "name": "Payroll"},
        "wave": {"waveID": "wave-00000000000000001", "name": "Wave 1 - Finance"},
    }


def test_what_mgn_does_not_know_stays_out() -> None:
    inventory = inventory_from(SERVERS, APPLICATIONS, [])
    # No application: only the server; no hostname hints: only its id.
    assert inventory.names(LONE) == {"sourceServer": {"sourceServerID": LONE}}
    # An application whose wave is not listed: no wave.
    assert "wave" not in inventory.names(SERVER)
    # A server the inventory does not hold, and an item with no server: nothing.
    assert inventory.names("s-99999999999999999") == {}
    assert inventory.names(None) == {}


def test_names_are_added_to_the_detail_and_leave_the_event_id_alone() -> None:
    item = {
        "event": "CONVERSION_FAIL",
        "logDateTime": "2026-12-01T10:00:00Z",
        "eventData": {"sourceServerID": SERVER, "rawError": "boom"},
    }
    kwargs: dict[str, Any] = {
        "account_id": "111122223333",
        "region": "eu-west-1",
        "job": JobInfo("mgnjob-1"),
        "position": 4,
        "source": "mgn.joblog.exporter",
    }
    names = inventory_from(SERVERS, APPLICATIONS, WAVES).names(SERVER)
    plain = build_event(item, **kwargs)
    named = build_event(item, **kwargs, names=names)
    assert named.event_id == plain.event_id
    assert named.detail["wave"]["name"] == "Wave 1 - Finance"
    assert named.detail["eventData"] == plain.detail["eventData"]
    assert {k: v for k, v in named.detail.items() if k not in names} == plain.detail


class Reader:
    def __init__(self) -> None:
        self.reads = 0
        self.fail = False
        self.servers = list(SERVERS)

    def inventory(self, account_id: str) -> Inventory:
        self.reads += 1
        if self.fail:
            raise InventoryUnavailable(f"{account_id}: AccessDeniedException")
        return inventory_from(self.servers, APPLICATIONS, WAVES)


class Roomy:
    def usable_seconds(self) -> float:
        return 100.0


class Short:
    def usable_seconds(self) -> float:
        return 1.0


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def enricher(reader: Reader, clock: Clock, refresh_seconds: float = 900) -> Enricher:
    return Enricher(
        reader,  # type: ignore[arg-type]
        InventoryCache(),
        refresh_seconds=refresh_seconds,
        logger=logger,
        clock=clock,
    )


def test_an_inventory_is_read_once_and_again_when_it_is_old() -> None:
    reader, clock = Reader(), Clock()
    names = enricher(reader, clock)
    for _ in range(5):
        assert names.inventory("a", {SERVER}, Roomy()) is not None  # type: ignore[arg-type]
    assert reader.reads == 1
    clock.now += 900
    names.inventory("a", {SERVER}, Roomy())  # type: ignore[arg-type]
    assert reader.reads == 2


def test_a_page_with_no_server_reads_nothing() -> None:
    reader = Reader()
    assert enricher(reader, Clock()).inventory("a", set(), Roomy()) is None  # type: ignore[arg-type]
    assert reader.reads == 0


def test_an_unknown_server_reads_the_inventory_again_at_most_once_a_minute() -> None:
    reader, clock = Reader(), Clock()
    names = enricher(reader, clock)
    new = "s-22222222222222222"
    names.inventory("a", {SERVER}, Roomy())  # type: ignore[arg-type]
    reader.servers.append({"sourceServerID": new})
    clock.now += UNKNOWN_SERVER_RECHECK_SECONDS - 1
    inventory = names.inventory("a", {new}, Roomy())  # type: ignore[arg-type]
    assert inventory is not None and not inventory.knows(new) and reader.reads == 1
    clock.now += 1
    inventory = names.inventory("a", {new}, Roomy())  # type: ignore[arg-type]
    assert inventory is not None and inventory.knows(new) and reader.reads == 2


def test_a_failed_read_is_tried_again_only_after_a_pause_and_keeps_the_last_inventory() -> None:
    reader, clock = Reader(), Clock()
    names = enricher(reader, clock, refresh_seconds=60)
    reader.fail = True
    assert names.inventory("a", {SERVER}, Roomy()) is None  # type: ignore[arg-type]
    clock.now += RETRY_AFTER_FAILURE_SECONDS - 1
    assert names.inventory("a", {SERVER}, Roomy()) is None  # type: ignore[arg-type]
    assert reader.reads == 1
    reader.fail = False
    clock.now += 1
    assert names.inventory("a", {SERVER}, Roomy()) is not None  # type: ignore[arg-type]
    # A later failure keeps the names read before (a rename shows once a read succeeds).
    reader.fail = True
    clock.now += 60
    assert names.inventory("a", {SERVER}, Roomy()) is not None  # type: ignore[arg-type]
    assert reader.reads == 3


def test_no_read_is_started_close_to_the_deadline() -> None:
    reader = Reader()
    assert enricher(reader, Clock()).inventory("a", {SERVER}, Short()) is None  # type: ignore[arg-type]
    assert reader.reads == 0
