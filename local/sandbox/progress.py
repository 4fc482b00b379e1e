"""The live table of ticks: one row per tick, and a status line while one runs (on a terminal)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

COLUMNS = (
    ("tick", 8),
    ("simulated", 9),
    ("MGN jobs", 8),
    ("MGN items", 11),
    ("queued", 6),
    ("batches", 7),
    ("hand-ons", 8),
    ("exported", 8),
    ("total", 7),
    ("accounts", 23),  # "4 ok, 1 not initialized": the default world
    ("lag", 6),
    ("took", 10),
)


@dataclass(frozen=True)
class TickRow:
    label: str
    simulated: datetime
    jobs: str
    items: str
    queued: str  # the accounts the dispatcher sent a work request for
    batches: int  # worker invocations
    hand_ons: int
    exported: int
    total: int
    accounts: str
    lag_seconds: float | None
    took_seconds: float
    note: str = ""


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = float(max(0, round(seconds)))
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d{seconds % 86400 // 3600:02.0f}h"


class TickTable:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()
        self._status_shown = False
        self._lock = threading.Lock()  # the status line is updated from the pollers' threads

    def header(self) -> None:
        self._write_line("  ".join(f"{name:>{width}}" for name, width in COLUMNS))

    def running(self, label: str, simulated: datetime, doing: str) -> None:
        """The in-place line of a tick in progress (terminals only)."""
        if self._live:
            with self._lock:
                self._out.write(f"\r\x1b[2K{label:>8}  {simulated:%H:%M:%S}  {doing}...")
                self._out.flush()
                self._status_shown = True

    def row(self, row: TickRow) -> None:
        took = f"{row.took_seconds:.1f}s" + (f" {row.note}" if row.note else "")
        cells = (
            row.label,
            f"{row.simulated:%H:%M:%S}",
            row.jobs,
            row.items,
            row.queued,
            str(row.batches),
            str(row.hand_ons),
            f"{row.exported:,}",
            f"{row.total:,}",
            row.accounts,
            human_duration(row.lag_seconds),
            took,
        )
        self._write_line(
            "  ".join(
                f"{cell:>{width}}" if index < len(COLUMNS) - 1 else cell
                for index, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
            )
        )

    def note(self, text: str) -> None:
        """A line under the last row (an invocation's error, say)."""
        self._write_line(" " * 10 + text)

    def _write_line(self, text: str) -> None:
        with self._lock:
            if self._status_shown:
                self._out.write("\r\x1b[2K")
                self._status_shown = False
            self._out.write(text + "\n")
            self._out.flush()
