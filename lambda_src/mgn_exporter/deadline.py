"""The invocation's time budget, read from the Lambda context."""

from __future__ import annotations

import time
from collections.abc import Callable

# Never keep more than this share of a short budget in reserve, or a short budget makes no
# progress at all (a livelock across invocations).
MAX_RESERVE_SHARE = 0.4


# Before anything is measured, assume an item costs this long to export (a page of 1,000 items
# is 100 PutEvents calls of some tens of milliseconds each in AWS).
DEFAULT_SECONDS_PER_ITEM = 0.005
# Plan a page to take at most this share of the usable time left.
PAGE_SHARE_OF_USABLE = 0.5
MIN_PAGE_ITEMS = 10


class _Pace:
    """The slowest export rate seen so far in this invocation (shared by sub-budgets)."""

    def __init__(self) -> None:
        self.seconds_per_item = DEFAULT_SECONDS_PER_ITEM
        self.measured = False

    def record(self, seconds: float, items: int) -> None:
        # A page of a few items costs the fixed calls of a page: judge it as a minimal page, or
        # one slow small page would stop every later account (they only ever need that much).
        rate = seconds / max(MIN_PAGE_ITEMS, items)
        # The first measure replaces the guess; later ones only make it more careful.
        self.seconds_per_item = max(rate, self.seconds_per_item) if self.measured else rate
        self.measured = True


class Deadline:
    """Answers "may I start another unit of work?".

    It keeps a margin in reserve (for the final checkpoint writes), and sizes each page from
    the export rate measured so far, so that a page started is a page finished in time.
    """

    def __init__(
        self,
        remaining_ms: Callable[[], int],
        *,
        margin_seconds: float,
        clock: Callable[[], float] = time.time,
        _ends_at: float | None = None,
        _pace: _Pace | None = None,
    ) -> None:
        self._remaining_ms = remaining_ms
        self._clock = clock
        budget = max(0.0, remaining_ms() / 1000.0)
        self._ends_at = clock() + budget if _ends_at is None else _ends_at
        self._pace = _pace or _Pace()
        self.margin_seconds = (
            margin_seconds if _pace else min(margin_seconds, budget * MAX_RESERVE_SHARE)
        )

    @property
    def ends_at(self) -> float:
        """Epoch seconds at which the invocation is cut off."""
        return self._ends_at

    def remaining_seconds(self) -> float:
        return max(0.0, self._remaining_ms() / 1000.0)

    def usable_seconds(self) -> float:
        return self.remaining_seconds() - self.margin_seconds

    def finishing_seconds(self) -> float:
        """Time left to finish work already under way (retries of a page sent): up to half of
        the reserve, the other half being kept for the final checkpoint writes."""
        return self.remaining_seconds() - self.margin_seconds / 2

    def should_stop(self) -> bool:
        """True when not even a minimal page would finish before the reserve is reached."""
        return self.usable_seconds() <= self._pace.seconds_per_item * MIN_PAGE_ITEMS

    def page_size(self, maximum: int) -> int:
        """How many items a page may hold and still finish well before the reserve."""
        fits = int(self.usable_seconds() * PAGE_SHARE_OF_USABLE / self._pace.seconds_per_item)
        return max(MIN_PAGE_ITEMS, min(maximum, fits))

    def record_step(self, seconds: float, items: int) -> None:
        """Tell the pace how long one page took (read, publish to both sinks, checkpoint)."""
        self._pace.record(seconds, items)

    def share(self, parts: int) -> Deadline:
        """A sub-budget: an equal share of what is usable now, for one of `parts` accounts."""
        usable = max(0.0, self.remaining_seconds() - self.margin_seconds)
        share_ends = self._clock() + usable / max(1, parts) + self.margin_seconds

        def remaining() -> int:
            own = (share_ends - self._clock()) * 1000.0
            return int(min(own, self._remaining_ms()))

        return Deadline(
            remaining,
            margin_seconds=self.margin_seconds,
            clock=self._clock,
            _ends_at=self._ends_at,
            _pace=self._pace,
        )
