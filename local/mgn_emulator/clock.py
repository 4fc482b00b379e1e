"""The emulator's simulated clock: real UTC time until it is set, then frozen and stepped.

It can also run: from a simulated start, ``speed`` simulated seconds per real second, held
back so that it is never ahead of the real clock (a client on the real clock, such as the
exporter, must never see MGN report its own future).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from local.mgn_emulator.timefmt import as_utc


@dataclass(frozen=True)
class _Running:
    start: datetime
    real_anchor: float
    speed: float
    not_after_real: bool


class SimClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: datetime | None = None
        self._running: _Running | None = None

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        if self._fixed is not None:
            return self._fixed
        real = datetime.now(UTC)
        running = self._running
        if running is None:
            return real
        elapsed = (time.time() - running.real_anchor) * running.speed
        simulated = running.start + timedelta(seconds=elapsed)
        return min(simulated, real) if running.not_after_real else simulated

    def set_now(self, when: datetime) -> None:
        with self._lock:
            self._fixed = as_utc(when)
            self._running = None

    def advance(self, seconds: float) -> None:
        """Move the clock forward; on a running or real-time clock this freezes it first."""
        with self._lock:
            self._fixed = self._now_locked() + timedelta(seconds=seconds)
            self._running = None

    def run(
        self, *, speed: float = 1.0, start: datetime | None = None, not_after_real: bool = True
    ) -> None:
        """Let the clock run from ``start`` (default: where it is) at ``speed``."""
        if speed < 0:
            raise ValueError("speed must not be negative")
        with self._lock:
            origin = self._now_locked() if start is None else as_utc(start)
            self._fixed = None
            self._running = _Running(origin, time.time(), speed, not_after_real)
