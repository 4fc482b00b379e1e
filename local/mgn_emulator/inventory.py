"""What names a world's source servers: MGN waves, applications and identification hints.

An exporter names a job log event's source server, application and wave from
DescribeSourceServers, ListApplications and ListWaves; this plans those records for the
servers a world's jobs name. Pure data from a seed, drawn from a random stream of its own
(``inventory_random``), so that the jobs, ids and items a seed gave before are unchanged.

How an inventory looks:

* Each programme wave has a business area ("Finance", "Retail"...; their order shuffled by
  the seed, cycled past the last) and is one MGN wave in each account where it has servers
  (MGN's waves belong to an account), named ``Wave <n> - <area>``.
* In each such wave, the account's servers are split into applications of the area
  ("Payroll", "Ledger"): one for up to two servers, else two. Application names are unique
  within an account.
* Each server has a hostname ``<area prefix>-<role>-<nn>`` unique in the world
  (``fin-db-01``), the fqdn ``<hostname>.corp.example.com`` and the hostname as its ``Name``
  tag.
* A realistic gap: when the world has at least ``UNASSIGNED_FROM`` servers, one of them (in
  an application of two or more when there is one) is in no application.
* Renames (``renamed``) change a programme wave's MGN waves' names at a moment.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

DOMAIN = "corp.example.com"
ROLES = ("app", "db", "web", "api", "batch", "mq")
UNASSIGNED_FROM = 4  # servers in the world before one is left out of every application
RENAME_SUFFIX = " (extended)"
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Area:
    name: str
    prefix: str  # of its servers' hostnames
    applications: tuple[str, ...]


AREAS = (
    Area("Finance", "fin", ("Payroll", "Ledger", "Accounts payable", "Treasury", "Expenses")),
    Area("Retail", "rtl", ("Web shop", "Point of sale", "Loyalty", "Pricing", "Catalogue")),
    Area("HR", "hr", ("Recruiting", "Time tracking", "Learning portal", "Benefits")),
    Area("Logistics", "log", ("Warehouse", "Fleet tracking", "Route planner", "Customs")),
    Area("Manufacturing", "mfg", ("Plant floor", "Quality control", "Maintenance")),
    Area("Sales", "sal", ("CRM", "Quoting", "Partner portal", "Forecasting")),
    Area("Shared services", "shr", ("Identity", "File shares", "Monitoring", "Print")),
    Area("Customer care", "cc", ("Contact centre", "Ticketing", "Knowledge base")),
)


@dataclass(frozen=True)
class ServerGroup:
    """The servers one programme wave has in one account: what becomes one MGN wave."""

    wave: int
    account_id: str
    servers: tuple[str, ...]


@dataclass(frozen=True)
class PlannedWave:
    account_id: str
    wave_id: str
    number: int  # the programme's wave
    name: str
    description: str
    created: datetime


@dataclass(frozen=True)
class PlannedApplication:
    account_id: str
    application_id: str
    wave_id: str
    name: str
    description: str
    created: datetime


@dataclass(frozen=True)
class PlannedServer:
    account_id: str
    source_server_id: str
    hostname: str
    fqdn: str
    name: str  # its Name tag
    application_id: str | None


@dataclass(frozen=True)
class PlannedRename:
    at: datetime
    account_id: str
    wave_id: str
    name: str


@dataclass(frozen=True)
class Inventory:
    waves: tuple[PlannedWave, ...] = ()
    applications: tuple[PlannedApplication, ...] = ()
    servers: tuple[PlannedServer, ...] = ()
    renames: tuple[PlannedRename, ...] = ()


def inventory_random(seed: int) -> random.Random:
    # A string seed is hashed the same way in every process (unlike hash()): stable names.
    return random.Random(f"mgn-emulator-inventory:{seed}")


def plan_inventory(seed: int, groups: Sequence[ServerGroup], created: datetime) -> Inventory:
    """Waves, applications and named servers for ``groups``; records created from
    ``created`` on (a wave an hour per number later, its applications minutes after it)."""
    rng = inventory_random(seed)
    areas = rng.sample(AREAS, len(AREAS))
    hostnames = _Hostnames()
    taken: dict[str, set[str]] = {}
    waves: list[PlannedWave] = []
    applications: list[PlannedApplication] = []
    servers: list[PlannedServer] = []
    for group in groups:
        area = areas[(group.wave - 1) % len(areas)]
        wave = _wave(rng, group, area, created + timedelta(hours=group.wave))
        apps = _applications(rng, group, area, wave, taken.setdefault(group.account_id, set()))
        waves.append(wave)
        applications.extend(apps)
        for index, server_id in enumerate(group.servers):
            app = apps[index * len(apps) // len(group.servers)]
            hostname = hostnames.draw(rng, area)
            servers.append(
                PlannedServer(
                    account_id=group.account_id,
                    source_server_id=server_id,
                    hostname=hostname,
                    fqdn=f"{hostname}.{DOMAIN}",
                    name=hostname,
                    application_id=app.application_id,
                )
            )
    return Inventory(tuple(waves), tuple(applications), _leave_one_out(rng, servers))


def renamed(inventory: Inventory, wave: int, at: datetime) -> Inventory:
    """The inventory with programme wave ``wave``'s MGN waves renamed at ``at``."""
    renames = tuple(
        PlannedRename(at, planned.account_id, planned.wave_id, planned.name + RENAME_SUFFIX)
        for planned in inventory.waves
        if planned.number == wave
    )
    return replace(inventory, renames=inventory.renames + renames)


def _wave(rng: random.Random, group: ServerGroup, area: Area, created: datetime) -> PlannedWave:
    return PlannedWave(
        account_id=group.account_id,
        wave_id=_random_id(rng, "wave-"),
        number=group.wave,
        name=f"Wave {group.wave} - {area.name}",
        description=f"{area.name} workloads: test launches, then cutover",
        created=created,
    )


def _applications(
    rng: random.Random, group: ServerGroup, area: Area, wave: PlannedWave, taken: set[str]
) -> list[PlannedApplication]:
    # The area came round again in this account: tell its applications apart by wave.
    return plan_applications(
        rng, area, wave, servers=len(group.servers), taken=taken, apart=f"wave {group.wave}"
    )


def plan_applications(
    rng: random.Random,
    area: Area,
    wave: PlannedWave,
    *,
    servers: int,
    taken: set[str],
    apart: str,
) -> list[PlannedApplication]:
    """The applications of a wave's `servers` in its account: one for up to two servers, else
    two, named from the area's list apart from the names `taken` there (MGN's names are unique
    within an account), a name taken already getting "(`apart`)"; `taken` gains theirs."""
    count = 1 if servers <= 2 else 2
    free = [name for name in area.applications if name not in taken]
    names = rng.sample(free, count) if len(free) >= count else []
    while len(names) < count:
        names.append(f"{area.applications[len(names)]} ({apart})")
    taken.update(names)
    return [
        PlannedApplication(
            account_id=wave.account_id,
            application_id=_random_id(rng, "app-"),
            wave_id=wave.wave_id,
            name=name,
            description=f"{area.name}: {name}",
            created=wave.created + timedelta(minutes=5 * (index + 1)),
        )
        for index, name in enumerate(names)
    ]


def _leave_one_out(rng: random.Random, servers: list[PlannedServer]) -> tuple[PlannedServer, ...]:
    """The servers with one in no application, once there are enough to spare one; taken
    from a shared application when one is, so no application is left empty for it."""
    if len(servers) < UNASSIGNED_FROM:
        return tuple(servers)
    sizes = Counter(server.application_id for server in servers)
    shared = [index for index, s in enumerate(servers) if sizes[s.application_id] > 1]
    chosen = rng.choice(shared or range(len(servers)))
    servers[chosen] = replace(servers[chosen], application_id=None)
    return tuple(servers)


class _Hostnames:
    """Hostnames numbered per area and role across the world, so none repeats."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def draw(self, rng: random.Random, area: Area) -> str:
        stem = f"{area.prefix}-{rng.choice(ROLES)}"
        self._counts[stem] += 1
        return f"{stem}-{self._counts[stem]:02d}"


def _random_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices(_ALNUM, k=17))
