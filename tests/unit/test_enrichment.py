"""Names on events: the inventory's fields, and when the worker reads it (enrichment.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from mgn_exporter.enrichment import RETRY_AFTER_FAILURE_SECONDS, Enricher, InventoryCache
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
    """MGN's lists as the reader gives them; counts the reads."""

    def __init__(self) -> None:
        self.list_reads = 0
        self.server_reads: list[list[str]] = []
        self.fail = False
        self.servers = list(SERVERS)
        self.waves = list(WAVES)

    def applications_and_waves(self, account_id: str) -> Inventory:
        self.list_reads += 1
        if self.fail:
            raise InventoryUnavailable(f"{account_id}: AccessDeniedException")
        return inventory_from([], APPLICATIONS, self.waves)

    def source_servers(self, account_id: str, server_ids: list[str]) -> list[dict[str, Any]]:
        self.server_reads.append(list(server_ids))
        if self.fail:
            raise InventoryUnavailable(f"{account_id}: AccessDeniedException")
        return [s for s in self.servers if s["sourceServerID"] in server_ids]


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


def ask(names: Enricher, *servers: str, deadline: Any = None) -> Inventory | None:
    return names.inventory("a", set(servers), deadline or Roomy())


def test_lists_are_read_once_servers_as_pages_name_them_and_all_again_when_old() -> None:
    reader, clock = Reader(), Clock()
    names = enricher(reader, clock)
    for _ in range(5):
        inventory = ask(names, SERVER)
        assert inventory is not None and inventory.names(SERVER)["wave"]["name"]
    assert reader.list_reads == 1 and reader.server_reads == [[SERVER]]
    ask(names, LONE)  # a server not asked for yet: only it
    assert reader.list_reads == 1 and reader.server_reads == [[SERVER], [LONE]]
    clock.now += 900
    ask(names, SERVER)
    assert reader.list_reads == 2 and reader.server_reads[-1] == [SERVER]


def test_a_page_with_no_server_reads_nothing() -> None:
    reader = Reader()
    assert ask(enricher(reader, Clock())) is None
    assert reader.list_reads == 0 and reader.server_reads == []


def test_a_server_mgn_does_not_list_is_asked_once_until_the_refresh() -> None:
    reader, clock = Reader(), Clock()
    names = enricher(reader, clock)
    gone = "s-99999999999999999"
    for _ in range(3):
        inventory = ask(names, gone)
        assert inventory is not None and inventory.asked(gone) and not inventory.knows(gone)
    assert reader.server_reads == [[gone]]
    # Added to MGN since: known after the next refresh.
    reader.servers.append({"sourceServerID": gone, "sourceProperties": {}})
    clock.now += 900
    inventory = ask(names, gone)
    assert inventory is not None and inventory.knows(gone)


def test_a_renamed_wave_shows_after_the_refresh() -> None:
    reader, clock = Reader(), Clock()
    names = enricher(reader, clock)
    ask(names, SERVER)
    reader.waves = [{**WAVES[0], "name": "Wave 1 - Finance (January)"}]
    clock.now += 899
    assert ask(names, SERVER).names(SERVER)["wave"]["name"] == "Wave 1 - Finance"  # type: ignore[union-attr]
    clock.now += 1
    assert ask(names, SERVER).names(SERVER)["wave"]["name"] == "Wave 1 - Finance (January)"  # type: ignore[union-attr]


def test_a_failed_read_is_tried_again_only_after_a_pause_and_keeps_the_last_names() -> None:
    reader, clock = Reader(), Clock()
    names = enricher(reader, clock, refresh_seconds=60)
    reader.fail = True
    assert ask(names, SERVER) is None
    clock.now += RETRY_AFTER_FAILURE_SECONDS - 1
    assert ask(names, SERVER) is None
    assert reader.list_reads == 1
    reader.fail = False
    clock.now += 1
    assert ask(names, SERVER) is not None
    # A refresh that fails keeps the names read before (a rename shows once a read succeeds).
    reader.fail = True
    clock.now += 60
    inventory = ask(names, SERVER)
    assert inventory is not None and inventory.knows(SERVER)
    assert reader.list_reads == 3


def test_no_read_is_started_close_to_the_deadline() -> None:
    reader = Reader()
    assert ask(enricher(reader, Clock()), SERVER, deadline=Short()) is None
    assert reader.list_reads == 0


def test_an_id_that_is_not_mgns_is_never_sent_and_spoils_nothing() -> None:
    reader = Reader()
    inventory = ask(enricher(reader, Clock()), SERVER, "weird", "s-short")
    assert inventory is not None and inventory.knows(SERVER)
    assert inventory.asked("weird") and not inventory.knows("weird")
    assert reader.server_reads == [[SERVER]]


def test_the_servers_of_the_open_jobs_are_read_with_the_first_page_in_one_call() -> None:
    reader = Reader()
    names = enricher(reader, Clock())
    inventory = names.inventory("a", {SERVER}, Roomy(), along={SERVER, LONE})  # type: ignore[arg-type]
    assert inventory is not None and inventory.knows(LONE)
    assert reader.server_reads == [sorted([LONE, SERVER])]
    # A later page naming the other server costs nothing more.
    names.inventory("a", {LONE}, Roomy(), along={SERVER, LONE})  # type: ignore[arg-type]
    assert reader.server_reads == [sorted([LONE, SERVER])] and reader.list_reads == 1
