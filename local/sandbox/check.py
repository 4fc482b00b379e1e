"""The final check: every emulated item reached EventBridge and the log group exactly once.

Expected: every item of every account whose MGN is initialized, keyed by
(accountID, jobID, position). In each sink, each key must appear exactly once, no key may be
unknown, each event must be the item (same ``event`` and ``logDateTime``), and the two sinks
must agree on each key's ``eventId``, with no eventId shared by two keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from local.mgn_emulator.programme import Programme

Key = tuple[str, str, int]


@dataclass(frozen=True)
class SinkResult:
    name: str
    received: int
    distinct: int
    duplicates: int  # keys received more than once
    missing: int
    unexpected: int
    wrong_content: int

    @property
    def exactly_once(self) -> bool:
        return not (self.duplicates or self.missing or self.unexpected or self.wrong_content)


@dataclass(frozen=True)
class CheckResult:
    expected: int
    accounts: int
    sinks: tuple[SinkResult, ...]
    event_id_mismatches: int
    shared_event_ids: int
    examples: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return (
            all(sink.exactly_once for sink in self.sinks)
            and not self.event_id_mismatches
            and not self.shared_event_ids
        )


def exactly_once(
    programme: Programme,
    bus_details: Iterable[dict[str, Any]],
    log_details: Iterable[dict[str, Any]],
) -> CheckResult:
    exported = set(programme.exported_accounts)
    expected: dict[Key, dict[str, Any]] = {
        (job.account_id, job.job_id, position): planned.item
        for job, position, planned in programme.items()
        if job.account_id in exported
    }
    examples: list[str] = []
    bus, bus_ids = _sink("EventBridge", expected, list(bus_details), examples)
    logs, log_ids = _sink("log group", expected, list(log_details), examples)
    mismatches = sum(1 for key in bus_ids.keys() & log_ids.keys() if bus_ids[key] != log_ids[key])
    owners: dict[str, set[Key]] = {}
    for ids in (bus_ids, log_ids):
        for key, event_id in ids.items():
            owners.setdefault(event_id, set()).add(key)
    shared = sum(1 for keys in owners.values() if len(keys) > 1)
    return CheckResult(
        expected=len(expected),
        accounts=len(exported),
        sinks=(bus, logs),
        event_id_mismatches=mismatches,
        shared_event_ids=shared,
        examples=tuple(examples[:5]),
    )


def _sink(
    name: str,
    expected: dict[Key, dict[str, Any]],
    details: list[dict[str, Any]],
    examples: list[str],
) -> tuple[SinkResult, dict[Key, str]]:
    counts: Counter[Key] = Counter()
    ids: dict[Key, str] = {}
    wrong = 0
    for detail in details:
        position = detail.get("position")
        key = (
            str(detail.get("accountID")),
            str(detail.get("jobID")),
            position if isinstance(position, int) else -1,
        )
        counts[key] += 1
        ids.setdefault(key, str(detail.get("eventId")))
        item = expected.get(key)
        if item is not None and (
            detail.get("event") != item.get("event")
            or detail.get("logDateTime") != item.get("logDateTime")
        ):
            wrong += 1
            examples.append(f"{name}: {key} is {detail.get('event')}, expected {item.get('event')}")
    duplicates = [key for key, count in counts.items() if count > 1]
    missing = [key for key in expected if key not in counts]
    unexpected = [key for key in counts if key not in expected]
    examples.extend(f"{name}: {key} received {counts[key]} times" for key in duplicates[:2])
    examples.extend(f"{name}: {key} missing" for key in missing[:2])
    examples.extend(f"{name}: {key} not in MGN" for key in unexpected[:2])
    return (
        SinkResult(
            name=name,
            received=sum(counts.values()),
            distinct=len(counts),
            duplicates=len(duplicates),
            missing=len(missing),
            unexpected=len(unexpected),
            wrong_content=wrong,
        ),
        ids,
    )
