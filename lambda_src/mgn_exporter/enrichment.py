"""When an account's names (its servers, applications and waves) are read, and what happens
when they cannot be.

Per account and execution environment: the applications and waves are read with the first
page of new items that names a server, and again once they are `refresh_seconds` old; the
servers a page names are asked for when the inventory has not asked for them yet (only those:
DescribeSourceServers filtered by id), and asked again after a refresh. An account with no new
items reads nothing. Enrichment never holds up an export: a read is started only with time to
spare before the deadline's reserve, and when one fails (throttled, AccessDenied because the IAM
actions are not deployed there, a timeout) the events go out without names, the failure is
logged once, and the next read is tried a few minutes later; names read before stay in use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mgn_exporter.errors import InventoryUnavailable
from mgn_exporter.inventory import Inventory

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from mgn_exporter.deadline import Deadline
    from mgn_exporter.mgn_reader import MgnReader

SOURCE_SERVER_ID = re.compile(r"s-[0-9a-zA-Z]{17}")
# After a failed read the events go out unnamed for this long before the next try.
RETRY_AFTER_FAILURE_SECONDS = 300
# A read (two list calls and the servers of a page) is started only with this much usable time.
MIN_USABLE_SECONDS = 5.0


@dataclass
class _Entry:
    inventory: Inventory | None = None
    read_at: float = 0.0  # when the applications and waves were read
    failed_at: float | None = None  # the last read that failed, until one succeeds


@dataclass
class InventoryCache:
    """The inventories of one execution environment, by account."""

    entries: dict[str, _Entry] = field(default_factory=dict)


class Enricher:
    def __init__(
        self,
        reader: MgnReader,
        cache: InventoryCache,
        *,
        refresh_seconds: float,
        logger: Logger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._reader = reader
        self._cache = cache
        self._refresh_seconds = refresh_seconds
        self._logger = logger
        self._clock = clock

    def inventory(
        self,
        account_id: str,
        server_ids: Collection[str],
        deadline: Deadline,
        *,
        along: Collection[str] = (),
    ) -> Inventory | None:
        """The inventory to name a page's events with, completed first with the servers it
        names when that is due and there is time; None while none could be read. `along`: the
        servers the account's open jobs name, asked for in the same read (one call for a
        backfill's hundreds of pages, rather than one per page that meets a new server)."""
        entry = self._cache.entries.setdefault(account_id, _Entry())
        now = self._clock()
        if not server_ids or deadline.usable_seconds() < MIN_USABLE_SECONDS:
            return entry.inventory
        if entry.failed_at is not None and now - entry.failed_at < RETRY_AFTER_FAILURE_SECONDS:
            return entry.inventory
        try:
            self._read(account_id, entry, server_ids, along, now)
        except InventoryUnavailable as exc:
            if entry.failed_at is None:
                self._logger.warning(
                    "MGN did not list the account's servers, applications or waves: its events "
                    f"go out without names; tried again in {RETRY_AFTER_FAILURE_SECONDS:g} s "
                    "(is mgn:DescribeSourceServers, ListApplications, ListWaves allowed?)",
                    extra={"account": account_id, "error": str(exc)},
                )
            entry.failed_at = now
        return entry.inventory

    def _read(
        self,
        account_id: str,
        entry: _Entry,
        server_ids: Collection[str],
        along: Collection[str],
        now: float,
    ) -> None:
        inventory = entry.inventory
        stale = inventory is None or now - entry.read_at >= self._refresh_seconds
        if inventory is None or stale:
            # A refresh replaces the inventory only once it holds this page's servers too.
            inventory = self._reader.applications_and_waves(account_id)
        if all(inventory.asked(server_id) for server_id in server_ids) and not stale:
            return
        wanted = {*server_ids, *along}
        unasked = sorted(server_id for server_id in wanted if not inventory.asked(server_id))
        # An id that is not MGN's shape (an odd item) cannot name a server: absent, never sent
        # (botocore would refuse the whole call, and the page would go out unnamed).
        valid = [server_id for server_id in unasked if SOURCE_SERVER_ID.fullmatch(server_id)]
        inventory.add_servers(set(unasked) - set(valid), ())
        if valid:
            inventory.add_servers(valid, self._reader.source_servers(account_id, valid))
        if stale:
            entry.inventory, entry.read_at = inventory, now
        entry.failed_at = None
