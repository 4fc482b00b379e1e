"""Per wave at the end: what reached the sinks, grouped by the names the exporter put on it.

Built from the exported events only (their ``accountID``, ``sourceServer``, ``application``
and ``wave`` fields, as the worker read them from MGN), never from what the sandbox planned:
a wave the exporter could not name does not show as one. This is the view the stack's saved
queries and dashboard take ("Failed steps per wave", "Cutover launches per wave"), so the
counts are theirs:

* A row is a wave name. MGN's waves belong to an account, and a programme names its wave the
  same in every account it spans, so one row holds the wave's every account. A wave renamed
  during the run (MGN's waveID unchanged) is one row, under its latest name, the earlier ones
  noted (``WaveNames``).
* servers, applications: distinct ones the wave's events named; items: its events on the
  bus and in the event log group; failed steps: its ERROR events; cutover launched / failed:
  the servers a cutover job (``initiatedBy`` START_CUTOVER) launched (``LAUNCH_START``) and
  failed to launch (``LAUNCH_FAILED``); live: events logged after their account's first
  export (``backfill: false``), what the alert rules match.
* Events without a wave come last, with why: a job's own items (``JOB_START``, ``JOB_END``)
  name no server; a server may be in no application (so in no wave); and a server the
  worker's inventory did not hold goes out unnamed (``EventsNotEnriched``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from local.sandbox.summary import clip
from local.sandbox.words import plural

NO_WAVE = "(no wave)"
COLUMNS = (
    ("wave", 36),
    ("accounts", 8),
    ("applications", 12),
    ("servers", 7),
    ("EventBridge", 11),
    ("log group", 9),
    ("failed steps", 12),
    ("cutover launched", 16),
    ("cutover failed", 14),
    ("live", 5),
)
FAILED_LAUNCH = "LAUNCH_FAILED"
LAUNCHED = "LAUNCH_START"
CUTOVER = "START_CUTOVER"
_WAVE_NUMBER = re.compile(r"^Wave (\d+)\b")


@dataclass
class WaveRow:
    name: str  # the wave's latest name; NO_WAVE for the events without one
    accounts: set[str] = field(default_factory=set)
    applications: set[tuple[str, str]] = field(default_factory=set)
    servers: set[tuple[str, str]] = field(default_factory=set)
    on_bus: int = 0
    in_log_group: int = 0
    failed_steps: int = 0
    cutover_launched: set[tuple[str, str]] = field(default_factory=set)
    cutover_failed: set[tuple[str, str]] = field(default_factory=set)
    live: int = 0
    earlier_names: set[str] = field(default_factory=set)
    # Events without a wave, by why (NO_WAVE's row only).
    reasons: Counter[str] = field(default_factory=Counter)

    def as_report(self) -> dict[str, Any]:
        return {
            "wave": self.name,
            "accounts": len(self.accounts),
            "applications": len(self.applications),
            "servers": len(self.servers),
            "onBus": self.on_bus,
            "inLogGroup": self.in_log_group,
            "failedSteps": self.failed_steps,
            "cutoverLaunched": len(self.cutover_launched),
            "cutoverFailed": len(self.cutover_failed),
            "live": self.live,
            "earlierNames": sorted(self.earlier_names),
            "withoutWave": dict(self.reasons),
        }


def wave_rows(
    bus_details: Sequence[Mapping[str, Any]], log_details: Sequence[Mapping[str, Any]]
) -> list[WaveRow]:
    """One row per wave (in wave order), then the events without a wave, if any; the bus's
    events in arrival order. Every count but the log group's is the bus's."""
    names = WaveNames([*bus_details, *log_details])
    rows: dict[str, WaveRow] = {}
    for detail in bus_details:
        _count(_row_of(rows, detail, names), detail)
    for detail in log_details:
        _row_of(rows, detail, names).in_log_group += 1
    return sorted(rows.values(), key=_order)


class WaveNames:
    """The row each MGN wave (account, waveID) is shown in, and under which name.

    Waves that share a name (one programme wave in several accounts) or that had each other's
    name (a rename keeps the waveID) are one row: the connected waves and names of `details`.
    The row shows the name that appeared last for the first time. That is a rename's new name
    even while an execution environment whose inventory predates the rename still puts the old
    one on some events (each keeps its own, refreshed every ENRICHMENT_REFRESH_MINUTES).
    """

    def __init__(self, details: Iterable[Mapping[str, Any]]) -> None:
        self._parent: dict[str, str] = {}
        first_seen: dict[str, int] = {}
        for index, detail in enumerate(details):
            key, name = _wave(detail)
            if key is not None:
                first_seen.setdefault(name, index)
                self._join(f"wave:{key}", f"name:{name}")
        self._shown = {
            self._root(f"name:{name}"): name
            for name, _ in sorted(first_seen.items(), key=lambda seen: seen[1])
        }

    def shown(self, key: tuple[str, str]) -> str:
        return self._shown[self._root(f"wave:{key}")]

    def _join(self, first: str, second: str) -> None:
        self._parent[self._root(first)] = self._root(second)

    def _root(self, node: str) -> str:
        while (parent := self._parent.setdefault(node, node)) != node:
            node = parent
        return node


def _row_of(rows: dict[str, WaveRow], detail: Mapping[str, Any], names: WaveNames) -> WaveRow:
    key, name = _wave(detail)
    if key is None:
        return rows.setdefault(NO_WAVE, WaveRow(NO_WAVE))
    shown = names.shown(key)
    row = rows.setdefault(shown, WaveRow(shown))
    if name != shown:
        row.earlier_names.add(name)
    return row


def _count(row: WaveRow, detail: Mapping[str, Any]) -> None:
    account = str(detail.get("accountID"))
    server = _server_id(detail)
    row.on_bus += 1
    row.accounts.add(account)
    if server:
        row.servers.add((account, server))
    application = _mapping(detail.get("application")).get("applicationID")
    if application:
        row.applications.add((account, str(application)))
    if detail.get("severity") == "ERROR":
        row.failed_steps += 1
    if detail.get("initiatedBy") == CUTOVER and server:
        if detail.get("event") == LAUNCHED:
            row.cutover_launched.add((account, server))
        elif detail.get("event") == FAILED_LAUNCH:
            row.cutover_failed.add((account, server))
    if detail.get("backfill") is False:
        row.live += 1
    if row.name == NO_WAVE:
        row.reasons[_why_no_wave(detail, server)] += 1


def _why_no_wave(detail: Mapping[str, Any], server: str) -> str:
    if not server:
        return "job items naming no server"
    if "sourceServer" not in detail:
        return "servers not named (not in the inventory the worker read)"
    if "application" not in detail:
        return "servers in no application"
    return "applications in no wave"


def _wave(detail: Mapping[str, Any]) -> tuple[tuple[str, str] | None, str]:
    """((account, waveID), its name on the event; the waveID when MGN gave it none)."""
    wave = _mapping(detail.get("wave"))
    wave_id = wave.get("waveID")
    if not wave_id:
        return None, ""
    return (str(detail.get("accountID")), str(wave_id)), str(wave.get("name") or wave_id)


def _server_id(detail: Mapping[str, Any]) -> str:
    named = _mapping(detail.get("sourceServer")).get("sourceServerID")
    return str(named or _mapping(detail.get("eventData")).get("sourceServerID") or "")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _order(row: WaveRow) -> tuple[int, int, str]:
    if row.name == NO_WAVE:
        return (2, 0, "")
    number = _WAVE_NUMBER.match(row.name)
    return (0, int(number.group(1)), row.name) if number else (1, 0, row.name)


def wave_lines(rows: Sequence[WaveRow]) -> list[str]:
    """The table; a renamed wave's earlier names and why events have no wave beside it."""
    lines = [_cells([name for name, _ in COLUMNS])]
    for row in rows:
        cells = [
            clip(row.name, COLUMNS[0][1]),
            str(len(row.accounts)),
            str(len(row.applications)),
            str(len(row.servers)),
            f"{row.on_bus:,}",
            f"{row.in_log_group:,}",
            str(row.failed_steps),
            str(len(row.cutover_launched)),
            str(len(row.cutover_failed)),
            f"{row.live:,}",
        ]
        line = _cells(cells)
        note = _note(row)
        lines.append(f"{line}  {note}" if note else line)
    return lines


def _cells(cells: Sequence[str]) -> str:
    return "  ".join(
        f"{cell:>{width}}" if index else f"{cell:<{width}}"
        for index, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def _note(row: WaveRow) -> str:
    if row.reasons:
        return "; ".join(f"{n:,} of {reason}" for reason, n in row.reasons.most_common())
    if row.earlier_names:
        return "renamed in MGN during the run; earlier: " + ", ".join(
            f'"{name}"' for name in sorted(row.earlier_names)
        )
    return ""


WAVE_LEGEND = (
    "from the events on the bus (log group: the same events in the event log group), named "
    "by the worker from MGN's DescribeSourceServers, ListApplications and ListWaves; "
    "cutover launched/failed: servers with LAUNCH_START/LAUNCH_FAILED in a START_CUTOVER job; "
    "live: logged after their account's first export (backfill: false)"
)


def enriched_example(details: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """An event that names its server, application and wave: a live failure if there is one
    (what an alert is about), else any failure, else the first named event."""
    named = [d for d in details if all(key in d for key in ("sourceServer", "application", "wave"))]
    failures = [d for d in named if d.get("severity") == "ERROR"]
    live_failures = [d for d in failures if d.get("backfill") is False]
    return next(iter(live_failures or failures or named), None)


def example_lines(
    details: Sequence[Mapping[str, Any]], alert_messages: Sequence[str], alerts: int = 2
) -> list[str]:
    """An enriched event as it reached EventBridge (its detail), and the first alerts'
    subjects (the first line of each message), which name the server, application and wave."""
    example = enriched_example(details)
    if example is None:
        return [
            "no event names its server, application and wave: is the deployed worker's "
            "enrichment on (ENRICHMENT_REFRESH_MINUTES above 0, mgn:DescribeSourceServers, "
            "ListApplications, ListWaves allowed)?"
        ]
    lines = [
        f"an enriched event ({example.get('event')}, "
        f"{'live' if example.get('backfill') is False else 'backfill'}), its detail as it "
        "reached EventBridge:",
        "    " + json.dumps(example, separators=(",", ":")),
    ]
    subjects = [message.splitlines()[0] for message in alert_messages if message.strip()]
    if subjects:
        lines.append(
            f"alert subjects ({plural(len(subjects), 'alert')} delivered; the first "
            f"{min(alerts, len(subjects))}):"
        )
        lines.extend(f"    {subject}" for subject in subjects[:alerts])
    return lines
