"""What reached the sinks, shown and checked: alerts, log lines, queries, function log, counts."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

from infra.local_deploy import local_session
from mgn_emulator.emulator import MgnEmulator
from mgn_emulator.programme import Programme
from sandbox.capture import ALERT_SUBSCRIBER_NAME, Capture, LogRecord
from sandbox.check import CheckResult, exactly_once
from sandbox.printer import Printer
from sandbox.queries import QueryRun, run_saved_queries
from sandbox.stack import DeployedStack
from sandbox.summary import (
    RuleMatches,
    alert_lines,
    function_log_lines,
    query_lines,
    sample_log_lines,
)
from sandbox.ticks import TickHistory


def show_results(
    say: Printer,
    stack: DeployedStack,
    capture: Capture,
    programme: Programme,
    history: TickHistory,
    emulator: MgnEmulator,
) -> tuple[CheckResult, dict[str, Any]]:
    from moto.events.models import EventPattern

    events = capture.bus_events()
    exporter_events = [e for e in events if e.get("source") == stack.event_source]
    matches = []
    for rule in stack.alert_rules:
        # moto's own matcher: the same one that routed the events to the rules' targets.
        pattern = EventPattern.load(json.dumps(rule.pattern))
        matched = [e for e in exporter_events if pattern.matches_event(e)]  # type: ignore[arg-type]
        matches.append(RuleMatches(rule, tuple(str(e["detail"].get("event")) for e in matched)))
    messages = capture.alert_messages()
    say.line(f"Alert rules on {stack.bus_name}, to the alert topic:", 1)
    say.lines(alert_lines(matches, messages, ALERT_SUBSCRIBER_NAME), indent=2)

    records = capture.log_records()
    streams = sorted({r.stream for r in records})
    say.line(
        f"Event log group {stack.event_log_group}: {len(records):,} lines in "
        f"{len(streams)} streams (one per account per day); a few:",
        1,
    )
    for record in sample_log_lines(records):
        say.line(f"{record.stream}  {record.message}", 2)

    runs = _queries(stack, records)
    say.line(
        "Saved Logs Insights queries (from the template; moto runs only fields, sort and "
        "limit on @timestamp, @message, @logStream, @log):",
        1,
    )
    say.lines(query_lines(runs), indent=2)

    function_lines = [r.message for r in capture.log_records(stack.function_log_group)]
    say.line("Function log group (what Lambda would have written):", 1)
    say.lines(
        function_log_lines(stack.function_log_group, function_lines, history.account_errors()),
        indent=2,
    )
    calls = history.api_calls()
    say.line(
        f"Exporter API calls: {sum(calls.values()):,} ("
        + ", ".join(f"{name} {n}" for name, n in calls.most_common())
        + ")",
        1,
    )
    counters = history.counters()
    faults = emulator.injected_faults
    if counters:
        say.line(
            "Exporter counters: " + ", ".join(f"{k} {v}" for k, v in sorted(counters.items())), 1
        )
    if faults:
        say.line(
            "MGN emulator faults answered: " + ", ".join(f"{k} {v}" for k, v in faults.items()), 1
        )

    check = exactly_once(
        programme,
        [e["detail"] for e in exporter_events],
        [r.detail for r in records],
    )
    report: dict[str, Any] = {
        "deployment": {
            "stack": stack.deployment.stack_name,
            "created": len(stack.deployment.physical_ids),
            "dropped": dict(Counter(d.type for d in stack.deployment.dropped)),
        },
        "programme": {
            "accounts": [asdict(a) for a in programme.accounts],
            "jobs": len(programme.jobs),
            "items": programme.item_count,
        },
        "ticks": [
            {
                "label": r.label,
                "simulated": r.simulated.isoformat(),
                "ok": r.invocation.ok,
                "error": r.invocation.error,
                "itemsExported": r.report.get("itemsExported", 0),
                "accounts": r.report.get("accounts", []),
                "counters": r.report.get("counters", {}),
                "seconds": round(r.invocation.duration_seconds, 2),
            }
            for r in history.records
        ],
        "busEvents": len(events),
        "alerts": {
            "rules": {m.rule.label: Counter(m.events) for m in matches},
            "messages": len(messages),
            "firstMessage": messages[0] if messages else None,
        },
        "logLines": len(records),
        "queries": [
            {"title": q.title, "rows": len(q.rows), "unsupported": q.unsupported, "error": q.error}
            for q in runs
        ],
        "apiCalls": dict(calls),
        "check": asdict(check) | {"passed": check.passed},
    }
    return check, report


def _queries(stack: DeployedStack, records: list[LogRecord]) -> list[QueryRun]:
    logs = local_session(stack.region).client("logs", endpoint_url=stack.endpoint_url)
    first = min((r.timestamp_ms for r in records), default=int(time.time() * 1000))
    return run_saved_queries(
        logs,
        stack.saved_queries,
        start_time=first // 1000 - 60,
        end_time=int(time.time()) + 60,
    )
