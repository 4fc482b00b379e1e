"""The names a world gives its source servers (waves, applications, hostnames), loaded into the
MGN emulator, and the check of what the sinks delivered against them.

A world's job logs name source servers; ``WorldNames`` plans an inventory for them
(``local.mgn_emulator.inventory.plan_inventory``: a wave per job and account, one or two
applications in it, a hostname, fqdn and Name tag per server, one server in no application)
and loads it into the emulator before the functions first run, so the workers' enrichment
reads the world's own names. A running job keeps logging steps of the servers it started
with (``same_servers``), as an MGN job does: its later items name servers the inventory
already holds.

``check_names`` then compares every delivered copy, in both sinks, with the world:

* a copy that carries names carries the world's, exactly: its server's hostname, fqdn and
  Name tag, and its application and wave when the world put it in one (none invented for a
  server in no application, nor for a server the world does not list);
* a copy of a world server that carries no names is one the worker could not name: its
  account's inventory could not be read (refused, throttled, no time left in the invocation),
  and the worker counted it in ``EventsNotEnriched``. So the distinct events delivered
  without names never outnumber that counter, summed over the worker invocations (not
  checked when a worker was killed or raised: its counts died with it).

``realistic_inventory`` and ``on_servers`` build a larger account (50 servers, 10
applications, 3 waves by default) for the benchmarks and the integration tests.
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from local.mgn_emulator.inventory import (
    AREAS,
    DOMAIN,
    ROLES,
    Inventory,
    PlannedApplication,
    PlannedServer,
    PlannedWave,
    ServerGroup,
    plan_inventory,
)
from mgn_exporter.metric_names import WorkerMetric

if TYPE_CHECKING:
    from local.mgn_emulator import MgnEmulator

# MGN's SourceServerID: what the emulator accepts, and what DescribeSourceServers can list.
SERVER_ID = re.compile(r"s-[0-9a-zA-Z]{17}")
NAME_FIELDS = ("sourceServer", "application", "wave")
NOT_ENRICHED = str(WorkerMetric.EVENTS_NOT_ENRICHED)
# Inventories are created this long before the jobs that name their servers.
INVENTORY_AGE = timedelta(days=30)
# Examples of each kind of problem quoted in a scenario's failure.
EXAMPLES = 3


def server_of(record: Mapping[str, Any]) -> str | None:
    """The source server an item or a delivered Detail names (None: none, or not MGN's id)."""
    data = record.get("eventData")
    server = data.get("sourceServerID") if isinstance(data, Mapping) else None
    return server if isinstance(server, str) and SERVER_ID.fullmatch(server) else None


def mentioned(items: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The MGN server ids the items name, in order of mention, each once."""
    servers: dict[str, None] = {}
    for item in items:
        server = server_of(item) if isinstance(item, Mapping) else None
        if server is not None:
            servers.setdefault(server)
    return tuple(servers)


def expected_names(inventory: Inventory) -> dict[tuple[str, str], dict[str, Any]]:
    """(account, server id) -> the name fields an event of that server carries once named, as
    the exporter builds them from what MGN lists (fields MGN has no value for left out)."""
    applications = {(a.account_id, a.application_id): a for a in inventory.applications}
    waves = {(w.account_id, w.wave_id): w for w in inventory.waves}
    names: dict[tuple[str, str], dict[str, Any]] = {}
    for server in inventory.servers:
        fields: dict[str, Any] = {
            "sourceServer": {
                "sourceServerID": server.source_server_id,
                "hostname": server.hostname,
                "fqdn": server.fqdn,
                "name": server.name,
            }
        }
        app = applications.get((server.account_id, server.application_id or ""))
        if app is not None:
            fields["application"] = {"applicationID": app.application_id, "name": app.name}
            wave = waves.get((app.account_id, app.wave_id))
            if wave is not None:
                fields["wave"] = {"waveID": wave.wave_id, "name": wave.name}
        names[(server.account_id, server.source_server_id)] = fields
    return names


def on_servers(
    items: Sequence[Mapping[str, Any]], servers: Sequence[str], *, start: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The items with the servers they name replaced by `servers`, in turn from `start` (each
    server an item names becomes the next of `servers`, the same one for all its steps);
    returns them and where the turn stopped. Items that name no MGN server are kept as they
    are; with no `servers`, so is everything."""
    if not servers:
        return [dict(item) for item in items], start
    given: dict[str, str] = {}
    turn = start
    out: list[dict[str, Any]] = []
    for item in items:
        server = server_of(item)
        if server is None:
            out.append(dict(item))
            continue
        if server not in given:
            given[server] = servers[turn % len(servers)]
            turn += 1
        out.append({**item, "eventData": {**item["eventData"], "sourceServerID": given[server]}})
    return out, turn


class WorldNames:
    """The names of one world's servers: planned as its jobs are added, loaded into the
    emulator before the functions first read them (and again for jobs added later)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._loads = 0
        self._pending: list[ServerGroup] = []
        self._planned: set[tuple[str, str]] = set()
        self._waves: Counter[str] = Counter()  # MGN waves planned so far, per account
        self._job_servers: dict[tuple[str, str], tuple[str, ...]] = {}
        self._turns: Counter[tuple[str, str]] = Counter()
        self.inventories: list[Inventory] = []
        # (account, server id) -> the fields its events carry once named.
        self.expected: dict[tuple[str, str], dict[str, Any]] = {}

    def add_job(self, account_id: str, job_id: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Plan names for the servers a new job's items name (one MGN wave for the job)."""
        servers = mentioned(items)
        self._job_servers[(account_id, job_id)] = servers
        new = tuple(s for s in servers if (account_id, s) not in self._planned)
        if not new:
            return
        self._planned.update((account_id, server) for server in new)
        self._waves[account_id] += 1
        self._pending.append(ServerGroup(self._waves[account_id], account_id, new))

    def same_servers(
        self, account_id: str, job_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """A running job's next items, naming the servers the job started with, in turn (a
        job whose first items named none plans names for these, like a new job's)."""
        key = (account_id, job_id)
        pool = self._job_servers.get(key, ())
        if not pool:
            self.add_job(account_id, job_id, items)
            return [dict(item) for item in items]
        out, self._turns[key] = on_servers(items, pool, start=self._turns[key])
        return out

    def load(self, emulator: MgnEmulator) -> None:
        """Add what was planned since the last load to the emulator, at once."""
        if not self._pending:
            return
        created = datetime.now(UTC) - INVENTORY_AGE
        # A seed per load: a later load's ids differ from an earlier one's.
        inventory = plan_inventory(self._seed * 1_000 + self._loads, self._pending, created)
        self._pending = []
        self._loads += 1
        emulator.add_inventory(inventory)
        self.inventories.append(inventory)
        self.expected.update(expected_names(inventory))

    def names(self, account_id: str, server_id: str | None) -> dict[str, Any] | None:
        """What an event of this server carries once named (None: the world has no names)."""
        return None if server_id is None else self.expected.get((account_id, server_id))


# -- what the sinks delivered ----------------------------------------------------------------


@dataclass(frozen=True)
class DeliveredCopy:
    """One copy of an event in one sink, as far as names go."""

    sink: str  # "eventbridge" or "logs"
    event_id: str
    account_id: str
    server_id: str | None
    names: Mapping[str, Any]  # its sourceServer, application and wave, where present

    @classmethod
    def of(cls, sink: str, detail: Mapping[str, Any]) -> DeliveredCopy:
        return cls(
            sink=sink,
            event_id=str(detail.get("eventId")),
            account_id=str(detail.get("accountID")),
            server_id=server_of(detail),
            names={key: detail[key] for key in NAME_FIELDS if key in detail},
        )


class _Counted(Protocol):
    """A worker invocation as the fault suite books it (environments.Invocation)."""

    @property
    def killed(self) -> bool: ...

    @property
    def report(self) -> dict[str, Any] | None: ...

    @property
    def handler(self) -> str: ...

    def counter(self, name: str) -> int: ...


@dataclass
class NamesTally:
    """What the sinks show of the world's names."""

    nameable: int = 0  # distinct delivered events that name a server of the world
    unnamed: int = 0  # of those, events of which a copy went out without names
    counted: int | None = None  # EventsNotEnriched summed (None: a worker died uncounted)
    problems: list[str] = field(default_factory=list)

    @property
    def named(self) -> int:
        return self.nameable - self.unnamed


def check_names(
    world: WorldNames, copies: Iterable[DeliveredCopy], invocations: Iterable[_Counted]
) -> NamesTally:
    """Every delivered copy against the world's names (see the module's docstring)."""
    tally = NamesTally()
    nameable: set[str] = set()
    unnamed: set[str] = set()
    wrong: dict[str, str] = {}
    invented: dict[str, str] = {}
    for copy in copies:
        expected = world.names(copy.account_id, copy.server_id)
        if expected is None:
            if copy.names:
                invented.setdefault(copy.event_id, f"{copy.server_id}: {sorted(copy.names)}")
            continue
        nameable.add(copy.event_id)
        if not copy.names:
            unnamed.add(copy.event_id)
        elif dict(copy.names) != expected:
            wrong.setdefault(
                copy.event_id, f"{copy.sink} {dict(copy.names)}, the world's {expected}"
            )
    tally.nameable, tally.unnamed = len(nameable), len(unnamed)
    if wrong:
        tally.problems.append(
            f"{len(wrong)} events carry names that are not the world's, e.g. "
            + "; ".join(list(wrong.values())[:EXAMPLES])
        )
    if invented:
        tally.problems.append(
            f"{len(invented)} events of servers the world does not name carry names, e.g. "
            + "; ".join(list(invented.values())[:EXAMPLES])
        )
    workers = [run for run in invocations if run.handler == "worker"]
    if all(not run.killed and run.report is not None for run in workers):
        tally.counted = sum(run.counter(NOT_ENRICHED) for run in workers)
        if tally.unnamed > tally.counted:
            tally.problems.append(
                f"{tally.unnamed} events of named servers went out without names, and "
                f"{NOT_ENRICHED} counted {tally.counted}: names were dropped where the "
                "inventory was read"
            )
    return tally


def misnamed(
    details: Iterable[Mapping[str, Any]],
    expected: Mapping[tuple[str, str], Mapping[str, Any]],
) -> list[str]:
    """The eventIds of delivered Details whose names are not the world's (`expected`, as
    ``expected_names`` gives them): an event of a named server without its names or with
    others, or an event of a server the world does not name that carries some."""
    wrong = []
    for detail in details:
        names = {key: detail[key] for key in NAME_FIELDS if key in detail}
        server = server_of(detail)
        want = None if server is None else expected.get((str(detail.get("accountID")), server))
        if names != (dict(want) if want is not None else {}):
            wrong.append(str(detail.get("eventId")))
    return wrong


# -- a realistic account, for the benchmarks and the tests ------------------------------------


def realistic_inventory(
    account_id: str,
    *,
    servers: int = 50,
    applications: int = 10,
    waves: int = 3,
    seed: int = 0,
    created: datetime | None = None,
) -> Inventory:
    """One account's inventory as a migration team keeps it: `waves` waves of a business area
    each, `applications` applications spread over them, `servers` servers spread over the
    applications (one in none, from 4 servers on), each with a hostname, fqdn and Name tag.
    Load it with ``MgnEmulator.add_inventory``; the servers are ``[s.source_server_id for s
    in inventory.servers]``."""
    if waves < 1 or applications < waves or servers < applications:
        raise ValueError("want at least one wave, an application per wave, a server per app")
    rng = random.Random(f"realistic-inventory:{account_id}:{seed}")
    created = created or datetime.now(UTC) - INVENTORY_AGE
    areas = rng.sample(AREAS, len(AREAS))
    planned_waves = [
        PlannedWave(
            account_id=account_id,
            wave_id=_random_id(rng, "wave-"),
            number=number,
            name=f"Wave {number} - {areas[(number - 1) % len(areas)].name}",
            description=f"{areas[(number - 1) % len(areas)].name} workloads",
            created=created + timedelta(hours=number),
        )
        for number in range(1, waves + 1)
    ]
    planned_apps: list[PlannedApplication] = []
    in_wave: Counter[str] = Counter()
    taken: set[str] = set()
    for index in range(applications):
        wave = planned_waves[index * waves // applications]
        area = areas[(wave.number - 1) % len(areas)]
        turn = in_wave[wave.wave_id]
        in_wave[wave.wave_id] += 1
        name = area.applications[turn % len(area.applications)]
        if turn >= len(area.applications):
            name += f" {turn // len(area.applications) + 1}"
        if name in taken:  # the area came round again (more waves than areas)
            name += f" (wave {wave.number})"
        taken.add(name)
        planned_apps.append(
            PlannedApplication(
                account_id=account_id,
                application_id=_random_id(rng, "app-"),
                wave_id=wave.wave_id,
                name=name,
                description=f"{area.name}: {name}",
                created=wave.created + timedelta(minutes=5 * (index + 1)),
            )
        )
    counts: Counter[str] = Counter()
    planned_servers: list[PlannedServer] = []
    loose = rng.randrange(servers) if servers >= 4 else -1
    for index in range(servers):
        app = planned_apps[index * applications // servers]
        wave = next(w for w in planned_waves if w.wave_id == app.wave_id)
        area = areas[(wave.number - 1) % len(areas)]
        stem = f"{area.prefix}-{rng.choice(ROLES)}"
        counts[stem] += 1
        hostname = f"{stem}-{counts[stem]:02d}"
        planned_servers.append(
            PlannedServer(
                account_id=account_id,
                source_server_id="s-" + "".join(rng.choices("0123456789abcdef", k=17)),
                hostname=hostname,
                fqdn=f"{hostname}.{DOMAIN}",
                name=hostname,
                application_id=None if index == loose else app.application_id,
            )
        )
    return Inventory(tuple(planned_waves), tuple(planned_apps), tuple(planned_servers))


def _random_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices(string.ascii_letters + string.digits, k=17))
