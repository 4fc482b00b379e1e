"""When an account's inventory (its servers, applications and waves) is read, and what happens
when it cannot be.

Inventories are kept per account for the life of the execution environment and read again
when they are `refresh_seconds` old, or when an item names a server the inventory does not
hold (at most once a minute). An account with no new items reads nothing. Enrichment never
holds up an export: a read is started only with time to spare before the deadline's reserve,
and when one fails (throttled, AccessDenied because the IAM actions are not deployed there,
a timeout) the events go out without names, the failure is logged once, and the next read is
tried a few minutes later.
"""

from __future__ import annotations

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

# An item naming a server the inventory lacks (added since the last read) reads it again, at
# most this often: items of a server MGN no longer lists must not read it on every page.
UNKNOWN_SERVER_RECHECK_SECONDS = 60
# After a failed read the events go out unnamed for this long before the next try.
RETRY_AFTER_FAILURE_SECONDS = 300
# A read (three paginated calls) is started only with this much usable time left.
MIN_USABLE_SECONDS = 5.0


@dataclass
class _Entry:
    inventory: Inventory | None = None
    read_at: float = 0.0  # the last read that succeeded
    tried_at: float = 0.0  # the last read started, whatever came of it
    failed: bool = False


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
        self, account_id: str, server_ids: Collection[str], deadline: Deadline
    ) -> Inventory | None:
        """The inventory to name a page's events with (read first when due and there is time);
        None when none could be read."""
        entry = self._cache.entries.setdefault(account_id, _Entry())
        now = self._clock()
        if (
            server_ids
            and self._due(entry, server_ids, now)
            and deadline.usable_seconds() >= MIN_USABLE_SECONDS
        ):
            self._read(account_id, entry, now)
        return entry.inventory

    def _due(self, entry: _Entry, server_ids: Collection[str], now: float) -> bool:
        since_try = now - entry.tried_at
        if entry.failed or entry.inventory is None:
            return entry.tried_at == 0.0 or since_try >= RETRY_AFTER_FAILURE_SECONDS
        if now - entry.read_at >= self._refresh_seconds:
            return True
        unknown = any(not entry.inventory.knows(server_id) for server_id in server_ids)
        return unknown and since_try >= UNKNOWN_SERVER_RECHECK_SECONDS

    def _read(self, account_id: str, entry: _Entry, now: float) -> None:
        entry.tried_at = now
        try:
            entry.inventory = self._reader.inventory(account_id)
        except InventoryUnavailable as exc:
            if not entry.failed:
                self._logger.warning(
                    "MGN did not list the account's servers, applications or waves: its events "
                    f"go out without names; tried again in {RETRY_AFTER_FAILURE_SECONDS // 60} "
                    "minutes (is mgn:DescribeSourceServers, ListApplications, ListWaves allowed?)",
                    extra={"account": account_id, "error": str(exc)},
                )
            entry.failed = True
            return
        entry.failed = False
        entry.read_at = now
