"""What reached the sinks, shown and checked: alerts, derived events, log lines, queries,
function log, counts."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.programme import Programme
from local.moto_deploy import local_session
from local.sandbox.accounts import AccountRow
from local.sandbox.capture import ALERT_SUBSCRIBER_NAME, Capture, LogRecord
from local.sandbox.check import CheckResult, exactly_once
from local.sandbox.derived import (
    DerivedCheck,
    DerivedSummary,
    bus_typed,
    check_derived,
    derived_of,
    event_label,
    items_of,
    log_typed,
    summary_lines,
)
from local.sandbox.drain import Batch
from local.sandbox.printer import Printer
from local.sandbox.queries import QueryRun, run_saved_queries
from local.sandbox.stack import DeployedFunction, DeployedStack
from local.sandbox.summary import (
    BusItems,
    RuleMatches,
    alert_lines,
    bus_items_line,
    function_log_lines,
    query_lines,
    sample_log_lines,
)
from local.sandbox.ticks import TickHistory, TickRecord
from local.sandbox.words import plural


def exporter_events(stack: DeployedStack, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events the stack's functions put on the bus (not the sandbox's or anyone else's)."""
    return [e for e in events if e.get("source") == stack.event_source]


def exporter_items(stack: DeployedStack, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The details of the job log items the functions put on the bus (no derived events)."""
    return items_of(bus_typed(exporter_events(stack, events)))


@dataclass(frozen=True)
class Checks:
    items: CheckResult
    derived: DerivedCheck

    @property
    def passed(self) -> bool:
        return self.items.passed and self.derived.passed


def show_results(
    say: Printer,
    stack: DeployedStack,
    capture: Capture,
    programme: Programme,
    history: TickHistory,
    emulator: MgnEmulator,
    accounts: list[AccountRow],
    records: list[LogRecord],
    live_jobs: Collection[str] = (),
) -> tuple[Checks, dict[str, Any]]:
    """Shows the results; `records` are the event log group's lines, as read after the ticks;
    `live_jobs`, the jobs that ended after their account's first export (the live wave's)."""
    from moto.events.models import EventPattern

    events = capture.bus_events()
    ours = exporter_events(stack, events)
    on_bus = bus_typed(ours)
    in_logs = log_typed([r.detail for r in records])
    matches = []
    for rule in stack.alert_rules:
        # moto's own matcher: the same one that routed the events to the rules' targets.
        pattern = EventPattern.load(json.dumps(rule.pattern))
        matched = [
            typed
            for event, typed in zip(ours, on_bus, strict=True)
            if pattern.matches_event(event)  # type: ignore[arg-type]
        ]
        matches.append(
            RuleMatches(
                rule,
                tuple(event_label(kind, detail) for kind, detail in matched),
                backfill=sum(1 for _, detail in matched if detail.get("backfill") is not False),
            )
        )
    messages = capture.alert_messages()
    items = BusItems.of(items_of(on_bus))
    say.line(f"Alert rules on {stack.bus_name}, to the alert topic:", 1)
    say.line(bus_items_line(items), 2)
    say.lines(alert_lines(matches, messages, ALERT_SUBSCRIBER_NAME), indent=2)

    derived = DerivedSummary.of(derived_of(on_bus))
    say.line(
        "Derived events on the bus (from DescribeJobs; the same lines in the event log "
        "group, with detailType):",
        1,
    )
    say.lines(summary_lines(derived), indent=2)

    streams = sorted({r.stream for r in records})
    say.line(
        f"Event log group {stack.event_log_group}: {plural(len(records), 'line')} in "
        f"{plural(len(streams), 'stream')} (one per account per day); a few:",
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

    say.line("Function log groups (what Lambda would have written):", 1)
    for function, errors in ((stack.dispatcher, {}), (stack.worker, history.account_errors())):
        lines = [r.message for r in capture.log_records(function.log_group)]
        say.lines(function_log_lines(function.log_group, lines, errors), indent=2)
    calls = history.api_calls()
    say.line(
        f"The functions' API calls: {sum(calls.values()):,} ("
        + ", ".join(f"{name} {n}" for name, n in calls.most_common())
        + ")",
        1,
    )
    counters = history.counters()
    faults = emulator.injected_faults
    if counters:
        say.line(
            "Worker counters: " + ", ".join(f"{k} {v}" for k, v in sorted(counters.items())), 1
        )
    if faults:
        say.line(
            "MGN emulator faults answered: " + ", ".join(f"{k} {v}" for k, v in faults.items()), 1
        )

    check = exactly_once(programme, items_of(on_bus), items_of(in_logs))
    derived_check = check_derived(programme, on_bus, in_logs, live_jobs=live_jobs)
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
            "postLaunchActions": programme.action_count,
            "jobsWithLateItems": sum(1 for job in programme.jobs if job.late_items),
        },
        "functions": {
            "dispatcher": _function_report(stack.dispatcher),
            "worker": _function_report(stack.worker),
        },
        "mapping": asdict(stack.mapping),
        "ticks": [tick_report(r) for r in history.records],
        "accounts": [asdict(row) for row in accounts],
        "busEvents": len(events),
        "busDerived": derived.as_report(),
        "busItems": {
            "live": items.live,
            "backfill": items.backfill,
            "liveErrors": items.live_errors,
            "backfillErrors": items.backfill_errors,
        },
        "alerts": {
            "rules": {m.rule.label: Counter(m.events) for m in matches},
            "matchedBackfill": sum(m.backfill for m in matches),
            "messages": len(messages),
            "firstMessage": messages[0] if messages else None,
            "subjects": [message.split("\n", 1)[0] for message in messages],
        },
        "logLines": len(records),
        "queries": [
            {"title": q.title, "rows": len(q.rows), "unsupported": q.unsupported, "error": q.error}
            for q in runs
        ],
        "apiCalls": dict(calls),
        "check": asdict(check) | {"passed": check.passed},
        "derivedCheck": asdict(derived_check) | {"passed": derived_check.passed},
    }
    return Checks(check, derived_check), report


def _function_report(function: DeployedFunction) -> dict[str, Any]:
    return {
        "name": function.name,
        "handler": function.handler,
        "timeout": function.timeout_seconds,
        "logGroup": function.log_group,
    }


def tick_report(record: TickRecord) -> dict[str, Any]:
    return {
        "label": record.label,
        "simulated": record.simulated.isoformat(),
        "dispatch": {
            "ok": record.dispatch.ok,
            "error": record.dispatch.error,
            "accountsDispatched": record.accounts_dispatched,
            "seconds": round(record.dispatch.duration_seconds, 2),
        },
        "batches": [_batch_report(batch) for batch in record.batches],
        "itemsExported": record.items_exported,
        "handOns": record.hand_ons,
        "accounts": record.account_states(),
        "waiting": record.drain.waiting,
        "deadLetters": record.drain.dead_letters,
        "queue": {"visible": record.drain.visible, "inFlight": record.drain.in_flight},
        "seconds": round(record.took_seconds, 2),
        "graceSeconds": record.grace_seconds,
    }


def _batch_report(batch: Batch) -> dict[str, Any]:
    summary = batch.summary or {}
    return {
        "ok": batch.invocation.ok,
        "error": batch.invocation.error,
        "records": [
            {"messageId": message_id, "account": account, "failed": message_id in batch.failed_ids}
            for message_id, account in zip(batch.message_ids, batch.accounts, strict=True)
        ],
        "response": batch.invocation.result,
        "logged": summary is not None,
        "itemsExported": batch.items_exported,
        "accounts": batch.reported,
        "handedOn": batch.handed_on,
        "counters": summary.get("counters", {}),
        "maxLagSeconds": summary.get("maxLagSeconds"),
        "maxStalenessSeconds": summary.get("maxStalenessSeconds"),
        "seconds": round(batch.invocation.duration_seconds, 2),
    }


def _queries(stack: DeployedStack, records: list[LogRecord]) -> list[QueryRun]:
    logs = local_session(stack.region).client("logs", endpoint_url=stack.endpoint_url)
    first = min((r.timestamp_ms for r in records), default=int(time.time() * 1000))
    return run_saved_queries(
        logs,
        stack.saved_queries,
        start_time=first // 1000 - 60,
        end_time=int(time.time()) + 60,
    )
