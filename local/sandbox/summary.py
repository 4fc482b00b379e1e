"""What the run showed, as lines of text: alerts, log lines, queries, function log, the check."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from local.moto_deploy import DroppedResource
from local.sandbox.capture import LogRecord
from local.sandbox.check import CheckResult
from local.sandbox.queries import QueryRun
from local.sandbox.stack import AlertRule
from local.sandbox.words import noun, plural

INDENT = "    "
LINE_WIDTH = 150


@dataclass(frozen=True)
class RuleMatches:
    rule: AlertRule
    events: tuple[str, ...]  # the matched items' event names
    backfill: int = 0  # matched items that are not live (`backfill` not false)


@dataclass(frozen=True)
class BusItems:
    """The exporter's items on the bus, live (logged after their account's first export) or
    backfill, with their ERROR-severity items by event."""

    live: int
    backfill: int
    live_errors: Counter[str]
    backfill_errors: Counter[str]

    @classmethod
    def of(cls, details: list[dict[str, Any]]) -> BusItems:
        live = [d for d in details if d.get("backfill") is False]
        backfill = [d for d in details if d.get("backfill") is not False]
        return cls(
            live=len(live),
            backfill=len(backfill),
            live_errors=_errors(live),
            backfill_errors=_errors(backfill),
        )


def _errors(details: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(d.get("event")) for d in details if d.get("severity") == "ERROR")


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counter.most_common()) or "none"


def bus_items_line(items: BusItems) -> str:
    return (
        f"{items.live + items.backfill:,} items on the bus: {items.live:,} live (logged after "
        f"their account's first export; ERROR: {_counts(items.live_errors)}), "
        f"{items.backfill:,} backfill (ERROR: {_counts(items.backfill_errors)})"
    )


def clip(text: str, width: int = LINE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def dropped_lines(dropped: list[DroppedResource]) -> list[str]:
    counts = Counter(d.type for d in dropped)
    parts = [f"{kind} x{count}" if count > 1 else kind for kind, count in counts.most_common()]
    lines: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}, {part}" if current else part
        if len(candidate) > LINE_WIDTH - 8 and current:
            lines.append(current + ",")
            current = part
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def alert_lines(matches: list[RuleMatches], messages: list[str], subscriber: str) -> list[str]:
    lines: list[str] = []
    for match in matches:
        detail = json.dumps(match.rule.pattern.get("detail", {}), separators=(", ", ": "))
        by_event = ", ".join(f"{event} {n}" for event, n in Counter(match.events).most_common())
        lines.append(
            f"{match.rule.label} {detail}: matched {len(match.events)} events"
            + (f" ({by_event})" if by_event else "")
            + (f", {match.backfill} of them backfill" if match.backfill else "")
        )
    expected = sum(len(match.events) for match in matches)
    topics = sorted({arn.rsplit(":", 1)[-1] for m in matches for arn in m.rule.topic_arns})
    lines.append(
        f"-> {', '.join(topics)} delivered {plural(len(messages), 'message')} to {subscriber}"
        + ("" if len(messages) == expected else f" (expected {expected})")
        + ("; the first:" if messages else "")
    )
    if messages:
        lines.extend(f"{INDENT}| {clip(line)}" for line in messages[0].splitlines())
    return lines


def sample_log_lines(records: list[LogRecord], count: int = 4) -> list[LogRecord]:
    """A few telling lines: the first item of the last job, a failure with its rawError, the
    last item written, and a post-launch action's line (a failed one if any; a job outcome's
    line, which lists every server, is too long to show)."""
    if not records:
        return []
    by_time = sorted(records, key=lambda r: r.timestamp_ms)
    items = [r for r in by_time if '"detailType"' not in r.message]
    actions = [r for r in by_time if '"detailType":"MGN Post-Launch Action"' in r.message]
    failed_actions = [r for r in actions if '"status":"FAILED"' in r.message]
    picks: list[LogRecord] = []
    failures = [r for r in items if '"rawError"' in r.message]
    last_start = [r for r in items if '"JOB_START"' in r.message][-1:]
    for candidate in [*last_start, *failures[-1:], *items[-1:], *(failed_actions or actions)[-1:]]:
        if candidate not in picks:
            picks.append(candidate)
    return picks[:count]


def query_lines(runs: list[QueryRun]) -> list[str]:
    lines: list[str] = []
    for run in runs:
        if run.error is not None:
            lines.append(f"{run.title}: moto could not run it ({clip(run.error, 100)})")
        elif run.faithful:
            lines.append(f"{run.title}: {len(run.rows)} rows")
            lines.extend(f"{INDENT}{clip(json.dumps(row))}" for row in run.rows[:3])
        else:
            lines.append(
                f"{run.title}: moto answered {len(run.rows)} rows, not this query's answer;"
                f" it could not run: {'; '.join(run.unsupported)}"
            )
    return lines


def function_log_lines(
    group: str, lines: list[str], errors: dict[str, str], warnings: int = 3
) -> list[str]:
    """The log group's lines by level, then the last error of each failed account and the first
    few distinct WARNING messages (an account where MGN is not initialized, say)."""
    levels: Counter[str] = Counter()
    warned: list[str] = []
    for line in lines:
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError:
            levels["text"] += 1
            continue
        if isinstance(record, dict):
            kind = "EMF metrics" if "_aws" in record else record.get("level") or record.get("type")
            levels[str(kind or "other")] += 1
            message = str(record.get("message", ""))
            if kind == "WARNING" and message not in warned:
                warned.append(message)
    shown = ", ".join(f"{count} {level}" for level, count in levels.most_common())
    out = [f"{group}: {plural(len(lines), 'line')} ({shown})"]
    out.extend(
        f"{INDENT}account {account}: {clip(error, 110)}" for account, error in errors.items()
    )
    out.extend(f"{INDENT}WARNING {clip(message, 130)}" for message in warned[:warnings])
    return out


def check_lines(check: CheckResult) -> list[str]:
    verdict = "PASS" if check.passed else "FAIL"
    lines = [
        f"Exactly once: {verdict}: {plural(check.expected, 'item')} in MGN "
        f"({check.accounts} initialized {noun(check.accounts, 'account')}), each once in "
        "EventBridge and once in the event log group"
    ]
    for sink in check.sinks:
        lines.append(
            f"{INDENT}{sink.name}: {sink.received:,} received, {sink.distinct:,} distinct, "
            f"{sink.duplicates} duplicated, {sink.missing} missing, {sink.unexpected} unknown, "
            f"{sink.wrong_content} not matching the item"
        )
    lines.append(
        f"{INDENT}eventId: {check.event_id_mismatches} differing between the sinks, "
        f"{check.shared_event_ids} shared by two items"
    )
    lines.extend(f"{INDENT}e.g. {example}" for example in check.examples)
    return lines
