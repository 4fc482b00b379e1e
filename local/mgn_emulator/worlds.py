"""Job logs that look like MGN's, for tests, benchmarks and the sandbox, and the inventory
that names the servers they mention (``log_inventory``, loaded with ``add_inventory``)."""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from local.mgn_emulator.inventory import Inventory, ServerGroup, plan_inventory
from local.mgn_emulator.timefmt import make_item

# One server's steps through a launch job, in MGN's order.
SERVER_STEPS = (
    "SNAPSHOT_START",
    "SNAPSHOT_END",
    "CONVERSION_START",
    "CONVERSION_END",
    "LAUNCH_START",
    "CLEANUP_START",
    "CLEANUP_END",
)


def source_server_id(rng: random.Random) -> str:
    return "s-" + "".join(rng.choices(string.hexdigits.lower()[:16], k=17))


def job_log(
    count: int, *, start: datetime, rng: random.Random, fail_every: int = 0
) -> list[dict[str, Any]]:
    """`count` items: JOB_START, servers' steps (a CONVERSION_FAIL every `fail_every`), JOB_END."""
    items: list[dict[str, Any]] = [make_item("JOB_START", start)]
    moment = start
    server = source_server_id(rng)
    step = 0
    while len(items) < count - 1:
        moment += timedelta(seconds=rng.randint(1, 30))
        event = SERVER_STEPS[step % len(SERVER_STEPS)]
        if step % len(SERVER_STEPS) == 0:
            server = source_server_id(rng)
        if fail_every and len(items) % fail_every == 0 and event == "CONVERSION_END":
            items.append(
                make_item(
                    "CONVERSION_FAIL",
                    moment,
                    server,
                    conversion_server_id="i-0123456789abcdef0",
                    raw_error="Failed to convert: driver injection timed out",
                    attempt_count=1,
                    max_attempts_count=3,
                )
            )
        else:
            items.append(make_item(event, moment, server))
        step += 1
    if count > 1:
        items.append(make_item("JOB_END", moment + timedelta(seconds=5)))
    return items[:count]


def log_inventory(
    account_id: str, items: Iterable[Mapping[str, Any]], *, created: datetime, seed: int = 0
) -> Inventory:
    """One wave, its applications and a named source server for every ``sourceServerID``
    the items mention (in order of mention), as a programme plans them; for
    ``MgnEmulator.add_inventory``. Malformed items are passed over, not refused."""
    servers = _mentioned(items)
    groups = [ServerGroup(1, account_id, servers)] if servers else []
    return plan_inventory(seed, groups, created)


def _mentioned(items: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    servers: dict[str, None] = {}  # ordered, without repeats
    for item in items:
        data = item.get("eventData") if isinstance(item, Mapping) else None
        server = data.get("sourceServerID") if isinstance(data, Mapping) else None
        if isinstance(server, str):
            servers.setdefault(server)
    return tuple(servers)
