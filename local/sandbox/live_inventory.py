"""What names the live wave's servers in MGN: a wave of its own, its applications, hostnames.

The live wave (``sandbox.live_wave``) is drawn as a programme of its own (seed + 1), so the
emulator's inventory planner would name it as if it were alone in the world: "Wave 1 - X"
beside the programme's own wave 1 in the caller's account, hostnames the programme already
gave. Here it is named against the programme instead:

* one MGN wave in the caller's account, ``Wave <n> - Live``, numbered after the programme's
  last wave, so no wave name repeats in the account;
* its servers in one application (two past two servers, as the programme splits them) of a
  business area drawn by the seed, named apart from the account's other applications;
* each server a hostname no server of the programme has (``rtl-web-03`` continues the
  programme's ``rtl-web-01``, ``-02``), its fqdn and its ``Name`` tag; none left out of an
  application, so that every live item the exporter names carries the wave.

The records are created before the programme's first job, as the programme's are: servers
are in MGN (replicating) long before they are launched. The sandbox adds them to the emulator
before the first tick, so the worker's first read of the account's inventory already holds
them and the live items are named whenever they come (see ``mgn_exporter.enrichment``: an
inventory read minutes ago is not read again for a new server within a minute).

Pure data from the seed and the programme: the same run names the live wave the same way.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from datetime import datetime, timedelta

from local.mgn_emulator.inventory import (
    AREAS,
    DOMAIN,
    ROLES,
    Area,
    Inventory,
    PlannedApplication,
    PlannedServer,
    PlannedWave,
    plan_applications,
)
from local.mgn_emulator.programme import INVENTORY_LEAD, Programme
from local.mgn_emulator.timefmt import as_utc

LIVE_WAVE_SUFFIX = "Live"
_ALNUM = string.ascii_letters + string.digits


def live_wave_number(programme: Programme) -> int:
    """The number after the programme's last wave (1 for a programme without jobs)."""
    numbers = [job.wave for job in programme.jobs]
    numbers.extend(wave.number for wave in programme.inventory.waves)
    return max(numbers, default=0) + 1


def live_wave_name(number: int) -> str:
    return f"Wave {number} - {LIVE_WAVE_SUFFIX}"


def live_inventory(
    programme: Programme, account_id: str, server_ids: Sequence[str], seed: int
) -> Inventory:
    """The live wave's MGN wave, applications and named servers in ``account_id``."""
    rng = random.Random(f"sandbox-live-wave-inventory:{seed}")
    number = live_wave_number(programme)
    area = rng.choice(AREAS)
    created = _created(programme) + timedelta(hours=number)
    wave = PlannedWave(
        account_id=account_id,
        wave_id=_random_id(rng, "wave-"),
        number=number,
        name=live_wave_name(number),
        description=f"{area.name} workloads launched after the exporter's first run",
        created=created,
    )
    applications = _applications(rng, programme, wave, area, len(server_ids))
    taken = {server.hostname for server in programme.inventory.servers}
    servers: list[PlannedServer] = []
    for index, server_id in enumerate(server_ids):
        hostname = _free_hostname(f"{area.prefix}-{rng.choice(ROLES)}", taken)
        taken.add(hostname)
        app = applications[index * len(applications) // len(server_ids)]
        servers.append(
            PlannedServer(
                account_id=account_id,
                source_server_id=server_id,
                hostname=hostname,
                fqdn=f"{hostname}.{DOMAIN}",
                name=hostname,
                application_id=app.application_id,
            )
        )
    return Inventory(waves=(wave,), applications=tuple(applications), servers=tuple(servers))


def _created(programme: Programme) -> datetime:
    # Where the programme's own inventory starts (programme.INVENTORY_LEAD before its jobs).
    timeline = programme.timeline
    return as_utc(timeline.history_start or timeline.live_start) - INVENTORY_LEAD


def _applications(
    rng: random.Random, programme: Programme, wave: PlannedWave, area: Area, servers: int
) -> list[PlannedApplication]:
    """One application for up to two servers, else two (the programme's split), named apart
    from the account's other applications (MGN's names are unique within an account)."""
    taken = {
        app.name for app in programme.inventory.applications if app.account_id == wave.account_id
    }
    return plan_applications(
        rng, area, wave, servers=servers, taken=taken, apart=LIVE_WAVE_SUFFIX.lower()
    )


def _free_hostname(stem: str, taken: set[str]) -> str:
    """``<stem>-<nn>`` with the first number no server has."""
    number = 1
    while f"{stem}-{number:02d}" in taken:
        number += 1
    return f"{stem}-{number:02d}"


def _random_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices(_ALNUM, k=17))
