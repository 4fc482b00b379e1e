"""Which accounts one run exports: the configured list, or `auto` (MGN global view)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgn_exporter.errors import AccountUnavailable
from mgn_exporter.metric_names import DispatcherCounters, DispatcherMetric

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from mgn_exporter.mgn_reader import MgnReader


def resolve_accounts(
    configured: tuple[str, ...] | None,
    own_account: str,
    reader: MgnReader,
    *,
    logger: Logger,
    counters: DispatcherCounters,
) -> list[str]:
    if configured is not None:
        return list(configured)
    try:
        managed = reader.managed_accounts()
    except AccountUnavailable as exc:
        # Without global view (or its permissions) the caller's own account is still exported.
        counters[DispatcherMetric.MANAGED_ACCOUNTS_UNAVAILABLE] += 1
        logger.warning(
            "ListManagedAccounts failed; exporting only the caller's account",
            extra={"error": str(exc)},
        )
        managed = []
    return list(dict.fromkeys([own_account, *managed]))
