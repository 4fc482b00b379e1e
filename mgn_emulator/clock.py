"""The emulator's simulated clock: real UTC time until it is set, then frozen and stepped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from mgn_emulator.timefmt import as_utc


class SimClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            return self._fixed if self._fixed is not None else datetime.now(UTC)

    def set_now(self, when: datetime) -> None:
        with self._lock:
            self._fixed = as_utc(when)

    def advance(self, seconds: float) -> None:
        """Move the clock forward; on a real-time clock this freezes it at now + seconds."""
        with self._lock:
            base = self._fixed if self._fixed is not None else datetime.now(UTC)
            self._fixed = base + timedelta(seconds=seconds)
