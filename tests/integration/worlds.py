"""Builders of MGN activity in the emulator for the integration tests.

Jobs log steps of random servers unless given `servers`; the names of those servers (waves,
applications, hostnames) are loaded with ``name_servers`` (whatever servers the jobs name) or
``named_account`` (a realistic account: 50 servers, 10 applications, 3 waves, whose servers
the jobs are then given). Both return what each server's events carry once named, keyed by
(account, server id), for ``local.faultsuite.names.misnamed``.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from local.faultsuite.names import WorldNames, expected_names, on_servers, realistic_inventory
from local.mgn_emulator import MgnEmulator
from local.mgn_emulator.worlds import job_log

ServerNames = dict[tuple[str, str], dict[str, Any]]


def add_job(
    emu: MgnEmulator,
    account_id: str,
    count: int,
    *,
    completed: bool = True,
    initiated_by: str = "START_TEST",
    created: datetime | None = None,
    seed: int = 1,
    fail_every: int = 0,
    servers: Sequence[str] = (),
) -> str:
    """A job of `count` items; with `servers`, its steps are of those servers, in turn."""
    rng = random.Random(seed)
    created = created or datetime.now(UTC) - timedelta(minutes=30)
    job_id = emu.add_job(
        account_id,
        initiated_by=initiated_by,
        status="STARTED",
        created=created,
        source_server_ids=list(servers),  # DescribeJobs' participatingServers, as in MGN
    )
    log = job_log(count, start=created, rng=rng, fail_every=fail_every)
    emu.append_items(account_id, job_id, on_servers(log, servers)[0] if servers else log)
    if completed:
        emu.set_job_status(account_id, job_id, "COMPLETED")
    return job_id


def grow(
    emu: MgnEmulator,
    account_id: str,
    job_id: str,
    count: int,
    *,
    seed: int = 1,
    servers: Sequence[str] = (),
) -> None:
    """`count` more items at the end of a job's log, logged now (steps of `servers`, if
    given: those the job started with, say, which an inventory loaded before names)."""
    log = job_log(count, start=datetime.now(UTC), rng=random.Random(seed))
    emu.append_items(account_id, job_id, on_servers(log, servers)[0] if servers else log)


def name_servers(
    emu: MgnEmulator, account_id: str, job_ids: Sequence[str], *, seed: int | None = None
) -> ServerNames:
    """Load names for every server the jobs' logs name so far: a wave per job, one or two
    applications in it, a hostname, fqdn and Name tag per server, one server in no application
    (from 4 servers on), as the fault suite's worlds have them. `seed` (default: from the
    account and jobs) draws the ids; two calls for one account need different ones."""
    if seed is None:
        seed = zlib.crc32(f"{account_id}:{','.join(job_ids)}".encode())
    names = WorldNames(seed)
    for job_id in job_ids:
        names.add_job(account_id, job_id, emu.job_items(account_id, job_id))
    names.load(emu)
    return dict(names.expected)


def named_account(
    emu: MgnEmulator,
    account_id: str,
    *,
    servers: int = 50,
    applications: int = 10,
    waves: int = 3,
    seed: int = 0,
) -> tuple[list[str], ServerNames]:
    """A realistic inventory loaded for the account: its server ids (to give to ``add_job`` and
    ``grow``) and what each server's events carry once named."""
    inventory = realistic_inventory(
        account_id, servers=servers, applications=applications, waves=waves, seed=seed
    )
    emu.add_inventory(inventory)
    return [server.source_server_id for server in inventory.servers], expected_names(inventory)
