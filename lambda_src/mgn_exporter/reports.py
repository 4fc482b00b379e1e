"""What an export reports: per account, and per run (one invocation's accounts)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from mgn_exporter.metric_names import StepDurations, WorkerCounters

# Outcomes after which the account has nothing left to do until the next tick.
SETTLED_OUTCOMES = frozenset({"exported", "uninitialized"})


@dataclass
class AccountReport:
    account_id: str
    # exported | failed | skipped (lease held) | covered (a later export did what was asked)
    # | not_started (no time left) | uninitialized (MGN is not initialized there: a state)
    outcome: str = "exported"
    items_exported: int = 0
    jobs_open: int = 0
    jobs_closed: int = 0
    backlog: bool = False  # stopped by the deadline with more to read
    error: str | None = None
    # Seconds since the account last exported without failing (0 when this export did).
    staleness_seconds: float = 0.0
    # Age of the oldest item this export sent for the first time.
    lag_seconds: float = 0.0


@dataclass
class RunReport:
    accounts: list[AccountReport] = field(default_factory=list)
    counters: WorkerCounters = field(default_factory=Counter)
    durations: StepDurations = field(default_factory=StepDurations)

    @property
    def complete(self) -> bool:
        return all(a.outcome in SETTLED_OUTCOMES and not a.backlog for a in self.accounts)

    @property
    def max_staleness_seconds(self) -> float | None:
        """The stalest account handled in the run; None when it handled none."""
        if not self.accounts:
            return None
        return max(account.staleness_seconds for account in self.accounts)

    @property
    def max_lag_seconds(self) -> float:
        """Age of the oldest item exported in the run: a figure for reports, not an alarm (a
        backfill exports old items on purpose)."""
        return max((account.lag_seconds for account in self.accounts), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "itemsExported": sum(a.items_exported for a in self.accounts),
            "accounts": [asdict(account) for account in self.accounts],
            "counters": dict(self.counters),
            "maxLagSeconds": round(self.max_lag_seconds, 3),
            "maxStalenessSeconds": round(self.max_staleness_seconds or 0.0, 3),
        }
