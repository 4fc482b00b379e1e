"""``--keep-running``: after the report, the schedule goes on until Ctrl-C.

The ticks go on on a timer (``--keep-running-every`` real seconds apart), each a row of the
tick table as in the run: MGN's clock is the real one, and whenever the programme and the live
wave are over the wave is laid again (``TickLoop.live_tick``), over the next ``ROUND_TICKS``
ticks, so new live items, named, keep reaching the bus and the alert topic. Under each row:
what of it reached the bus under the live wave's name, and the subjects of new alerts.

Before the first of these ticks the sandbox prints how to reach moto and the emulator with
the AWS CLI, and how to build a rule of one's own on the exporter's events: an SQS queue, a
rule on the deployed bus matching the live wave by name, the queue as its target, and the
receive that shows what the rule delivered, with the deployed names and endpoint filled in.

Ctrl-C (or SIGTERM, which the CLI turns into one) ends the loop between or during ticks; the
run then stops moto, the emulator and the functions' environments as it does at any end.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.programme import Programme
from local.sandbox.capture import Capture
from local.sandbox.printer import Printer
from local.sandbox.progress import TickTable
from local.sandbox.results import exporter_events
from local.sandbox.stack import DeployedStack
from local.sandbox.ticks import TickHistory, TickLoop, TickRecord
from local.sandbox.words import plural

DEFAULT_INTERVAL_SECONDS = 15.0
# Each round of the live wave is laid over this many ticks' time, from the tick before the one
# that lays it, so that each shows part of it.
ROUND_TICKS = 2
# The generator compresses a job to 40% of its window when it is longer (the wave's jobs last
# seven minutes or more), so the first of its two starts within 30% of the window plus 1.5 s
# (a second in, then a moment within its second). With ticks at least this far apart
# (1.5 + 0.3 x 2 x 5 s is under 5 s), the tick that lays a round already shows its start: every
# tick that lays one exports some of it, however slow or fast the machine (ticks of up to
# about 8 minutes; longer ones may show it a tick later).
MIN_INTERVAL_SECONDS = 5.0
# The user's own rule and queue, in the commands printed.
RULE_NAME = "my-wave-watch"
# New alerts shown under a row, at most.
ALERTS_SHOWN = 3


@dataclass(frozen=True)
class KeepRunning:
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    max_ticks: int | None = None  # None: until Ctrl-C (or the stop event)


@dataclass
class _Seen:
    """What the rows have reported so far, so that each shows only what is new."""

    bus_events: int = 0
    alerts: int = 0
    wave_events: int = 0


def keep_running(
    say: Printer,
    *,
    stack: DeployedStack,
    emulator: MgnEmulator,
    programme: Programme,
    loop: TickLoop,
    history: TickHistory,
    capture: Capture,
    table: TickTable,
    wave_name: str,
    application_name: str,
    settings: KeepRunning,
    stop: threading.Event,
) -> int:
    """Print the commands, tick until stopped; returns the ticks run. Ctrl-C, at any moment,
    ends it quietly (a tick it interrupts is not counted)."""
    before = len(history.records)
    seen = _Seen()
    alerts_before = 0
    try:
        _print_commands(say, stack, emulator, programme, wave_name, application_name)
        until = plural(settings.max_ticks, "tick") if settings.max_ticks else "Ctrl-C"
        say.line(
            f"The schedule goes on: a tick every {settings.interval_seconds:g} s until {until} "
            "(MGN's clock is the real one)"
        )
        seen = _Seen(
            bus_events=len(capture.bus_events()),
            alerts=len(capture.alert_messages()),
            wave_events=_wave_events(stack, capture, wave_name),
        )
        alerts_before = seen.alerts
        table.header()
        keep_ticking(
            loop,
            history,
            settings,
            stop,
            on_tick=lambda record: _notes(table, stack, capture, wave_name, seen),
        )
    except KeyboardInterrupt:
        say.line()
    kept = history.records[before:]
    say.line(
        f"Kept running for {plural(len(kept), 'tick')}: "
        f"{plural(sum(r.items_exported for r in kept), 'item')} exported, "
        f"{plural(max(0, seen.alerts - alerts_before), 'alert')} delivered"
    )
    say.line("Stopping moto and the MGN emulator.")
    return len(kept)


def _print_commands(
    say: Printer,
    stack: DeployedStack,
    emulator: MgnEmulator,
    programme: Programme,
    wave_name: str,
    application_name: str,
) -> None:
    say.line()
    say.line("Endpoints stay up until Ctrl-C. To explore with the AWS CLI or boto3:")
    say.lines(explore_lines(stack, emulator, programme))
    say.line()
    say.line(
        f'Build a rule of your own on the exporter\'s events: the live wave ("{wave_name}") '
        "is laid again as the ticks go on, so its events keep coming:"
    )
    say.lines(rule_lines(stack, wave_name, application_name))
    say.line()


class LiveTicks(Protocol):
    """What the loop needs of the ticks (``TickLoop``; a test gives its own)."""

    def live_tick(self, label: str, history: TickHistory, round_seconds: float) -> TickRecord: ...


def keep_ticking(
    loop: LiveTicks,
    history: TickHistory,
    settings: KeepRunning,
    stop: threading.Event,
    on_tick: Callable[[TickRecord], None] = lambda record: None,
) -> int:
    """A tick every `interval_seconds` (from one tick's start to the next; at once when a
    tick took longer) until `stop` is set or `max_ticks` have run; returns the ticks run.
    Ctrl-C is not caught here: it ends the loop, and the caller says so."""
    ran = 0
    next_at = time.monotonic() + settings.interval_seconds
    while settings.max_ticks is None or ran < settings.max_ticks:
        if stop.wait(max(0.0, next_at - time.monotonic())):
            break
        next_at = time.monotonic() + settings.interval_seconds
        ran += 1
        # Numbered on from the schedule's ticks (the drain ticks, "+1"..., are not its own).
        number = sum(1 for record in history.records if not record.label.startswith("+")) + 1
        record = loop.live_tick(str(number), history, settings.interval_seconds * ROUND_TICKS)
        history.records.append(record)
        on_tick(record)
    return ran


def _notes(
    table: TickTable, stack: DeployedStack, capture: Capture, wave_name: str, seen: _Seen
) -> None:
    """Under a row: the tick's events on the bus, those of the live wave's name (what the
    printed rule matches), and the subjects of the alerts it raised."""
    events = len(capture.bus_events())
    wave_events = _wave_events(stack, capture, wave_name)
    messages = capture.alert_messages()
    if events > seen.bus_events:
        table.note(
            f"on the bus: {plural(events - seen.bus_events, 'new event')}, "
            f'{wave_events - seen.wave_events} of them named "{wave_name}" (the rule above '
            "matches those)"
        )
    for message in messages[seen.alerts :][:ALERTS_SHOWN]:
        table.note(f"alert: {message.splitlines()[0] if message.strip() else '(empty)'}")
    seen.bus_events, seen.wave_events, seen.alerts = events, wave_events, len(messages)


def _wave_events(stack: DeployedStack, capture: Capture, wave_name: str) -> int:
    return sum(
        1
        for event in exporter_events(stack, capture.bus_events())
        if (event.get("detail") or {}).get("wave", {}).get("name") == wave_name
    )


def explore_lines(stack: DeployedStack, emulator: MgnEmulator, programme: Programme) -> list[str]:
    """The AWS CLI's environment for moto and the emulator, and a few commands to try."""
    member = next(
        (a.account_id for a in programme.accounts if a.managed and a.initialized),
        stack.account_id,
    )
    return [
        f"export AWS_ENDPOINT_URL={stack.endpoint_url}",
        f"export AWS_ENDPOINT_URL_MGN={emulator.endpoint_url}",
        f"export AWS_REGION={stack.region} AWS_DEFAULT_REGION={stack.region}",
        "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        "unset AWS_PROFILE AWS_SESSION_TOKEN",
        f"# bus {stack.bus_name}, event log group {stack.event_log_group}",
        f"# checkpoint table {stack.table_name}",
        f"# dispatcher {stack.dispatcher.name}, log group {stack.dispatcher.log_group}",
        f"# worker {stack.worker.name}, log group {stack.worker.log_group}",
        f"# work queue {stack.work_queue_url}",
        f"# dead-letter queue {stack.dead_letter_queue_url}",
        f"aws logs filter-log-events --log-group-name {stack.event_log_group} --max-items 3",
        f"aws dynamodb scan --table-name {stack.table_name} --max-items 1",
        f"aws events list-rules --event-bus-name {stack.bus_name}",
        f"aws lambda list-event-source-mappings --function-name {stack.worker.name}",
        f"aws sqs get-queue-attributes --queue-url {stack.work_queue_url} --attribute-names All",
        f"aws mgn describe-jobs --account-id {member} --max-items 3",
        f"aws mgn describe-job-log-items --account-id {member} --job-id <jobID>",
        "aws mgn list-waves --query 'items[].name'",
    ]


def rule_pattern(stack: DeployedStack, wave_name: str) -> dict[str, object]:
    """The exporter's events of one wave, by its name (as the worker read it from MGN)."""
    return {"source": [stack.event_source], "detail": {"wave": {"name": [wave_name]}}}


def rule_lines(stack: DeployedStack, wave_name: str, application_name: str) -> list[str]:
    """The AWS CLI commands: a queue, a rule on the deployed bus, the queue as its target, a
    receive. `--endpoint-url` on each, so that they work in any shell."""
    aws = f"aws --endpoint-url {stack.endpoint_url} --region {stack.region}"
    queue_url = f"{stack.endpoint_url}/{stack.account_id}/{RULE_NAME}"
    queue_arn = f"arn:aws:sqs:{stack.region}:{stack.account_id}:{RULE_NAME}"
    pattern = json.dumps(rule_pattern(stack, wave_name), separators=(",", ":"))
    other = json.dumps(
        {"detail": {"application": {"name": [application_name]}, "severity": ["ERROR"]}},
        separators=(",", ":"),
    )
    return [
        "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing; unset AWS_PROFILE",
        f"{aws} sqs create-queue --queue-name {RULE_NAME}",
        f"{aws} events put-rule --name {RULE_NAME} --event-bus-name {stack.bus_name} "
        f"--event-pattern '{pattern}'",
        f"{aws} events put-targets --rule {RULE_NAME} --event-bus-name {stack.bus_name} "
        f"--targets Id=queue,Arn={queue_arn}",
        f"{aws} sqs receive-message --queue-url {queue_url} --max-number-of-messages 10 "
        "--wait-time-seconds 20 --query 'Messages[].Body' --output text",
        f"# any pattern on the events works the same way, e.g. one application's failures: "
        f"--event-pattern '{other}'",
    ]
