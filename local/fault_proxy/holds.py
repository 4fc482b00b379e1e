"""Holds: calls the proxy keeps waiting until the test lets them go (a synchronisation point).

A slow fault delays a call for a fixed time; a hold keeps it until ``release()``, so that a
test can order what two callers do (e.g. keep a worker from going on until something else has
happened) without guessing how long that takes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# Whether a call is held: its operation ("dynamodb.UpdateItem") and its body.
HoldMatch = Callable[[str, bytes], bool]


class Hold:
    """Holds the matching calls until ``release()``, or for at most ``timeout`` seconds each (a
    caller's deadline keeps running while its call is held)."""

    def __init__(self, matches: HoldMatch, timeout: float | None = None) -> None:
        self._matches = matches
        self._timeout = timeout
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._held = 0
        self.timed_out = 0  # calls let go by the timeout, not by release()

    @property
    def held(self) -> int:
        """Calls held so far (waiting now, or let go by ``release``)."""
        with self._lock:
            return self._held

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self) -> None:
        """Let every held call go on; the hold holds nothing more."""
        self._released.set()

    def wait_if_matched(self, operation: str, body: bytes) -> None:
        if self._released.is_set() or not self._matches(operation, body):
            return
        with self._lock:
            self._held += 1
        if not self._released.wait(self._timeout):
            with self._lock:
                self.timed_out += 1


class Holds:
    """The holds in place, thread-safe; released ones drop out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: list[Hold] = []

    def add(self, hold: Hold) -> Hold:
        with self._lock:
            self._holds = [h for h in self._holds if not h.released] + [hold]
        return hold

    def wait(self, operation: str, body: bytes) -> None:
        """Wait until no hold in place holds this call."""
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            hold.wait_if_matched(operation, body)

    def release_all(self) -> None:
        with self._lock:
            holds, self._holds = self._holds, []
        for hold in holds:
            hold.release()
