"""The live wave named in MGN like the programme (a wave of its own, hostnames of its own), its
rounds after the report, and the keep-running loop's timer, stop and count."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.programme import ProgrammeSpec, Timeline, generate_programme
from local.sandbox.keep_running import KeepRunning, keep_ticking, rule_lines, rule_pattern
from local.sandbox.live_inventory import live_inventory, live_wave_number
from local.sandbox.live_wave import LiveWave, wave_spec
from local.sandbox.stack import DeployedStack
from local.sandbox.ticks import TickHistory, TickRecord

CALLER = "123456789012"
SPEC = ProgrammeSpec(accounts=3, jobs=8, seed=7)


def _programme() -> Any:
    end = datetime.now(UTC) - timedelta(seconds=10)
    return generate_programme(
        SPEC, Timeline(end - timedelta(minutes=20), end), caller_account=CALLER
    )


def _all(client: Any, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    pages = client.get_paginator(operation).paginate(**kwargs)
    return [item for page in pages for item in page["items"]]


def test_every_live_server_has_a_hostname_in_mgn_and_no_name_repeats() -> None:
    programme = _programme()
    wave = LiveWave(wave_spec(SPEC), CALLER)
    with MgnEmulator(CALLER) as emulator:
        emulator.set_now(programme.timeline.live_end)
        emulator.play(programme)
        wave.register(emulator, programme)
        wave.lay(emulator, datetime.now(UTC) - timedelta(seconds=3))
        emulator.set_now(datetime.now(UTC))
        laid = wave.laid
        assert laid is not None
        client = emulator.client()
        servers = {
            s["sourceServerID"]: s for s in _all(client, "describe_source_servers", filters={})
        }
        apps = {a["applicationID"]: a for a in _all(client, "list_applications", filters={})}
        waves = {w["waveID"]: w for w in _all(client, "list_waves", filters={})}
        every_hostname = [
            s["sourceProperties"]["identificationHints"]["hostname"]
            for account in programme.exported_accounts
            for s in _all(
                client,
                "describe_source_servers",
                filters={},
                **({} if account == CALLER else {"accountID": account}),
            )
        ]

    # Every server a live item names: a record with a hostname, fqdn and Name tag, in an
    # application of the live wave, "Wave <after the programme's last> - Live".
    named = {p.item["eventData"].get("sourceServerID") for j in laid.jobs for p in j.items} - {None}
    assert named and named == set(wave.server_ids)
    number = max(job.wave for job in programme.jobs) + 1
    assert wave.number == number == live_wave_number(programme)
    assert wave.name == f"Wave {number} - Live"
    for server_id in named:
        record = servers[server_id]
        hints = record["sourceProperties"]["identificationHints"]
        assert hints["hostname"] and hints["fqdn"] == f"{hints['hostname']}.corp.example.com"
        assert record["tags"]["Name"] == hints["hostname"]
        application = apps[record["applicationID"]]
        assert waves[application["waveID"]]["name"] == wave.name
    # The jobs carry the wave's number in their tag, as the programme's do.
    assert {job.tags["wave"] for job in laid.jobs} == {f"wave-{number:02d}"}
    # No hostname repeats in the world, no wave or application name in the account.
    assert not [h for h, n in Counter(every_hostname).items() if n > 1]
    assert not [w for w, n in Counter(w["name"] for w in waves.values()).items() if n > 1]
    assert not [a for a, n in Counter(a["name"] for a in apps.values()).items() if n > 1]
    # What MGN held in all includes the wave's names.
    joined = wave.joined(programme)
    assert {s.source_server_id for s in joined.inventory.servers} >= named


def test_the_live_wave_is_named_the_same_way_for_a_seed() -> None:
    programme = _programme()
    servers = LiveWave(wave_spec(SPEC), CALLER).server_ids
    first = live_inventory(programme, CALLER, servers, seed=8)
    assert first == live_inventory(programme, CALLER, servers, seed=8)
    assert live_inventory(programme, CALLER, servers, seed=9) != first


def test_rounds_after_the_first_relaunch_the_same_servers_with_new_job_ids() -> None:
    programme = _programme()
    wave = LiveWave(wave_spec(SPEC), CALLER)
    with MgnEmulator(CALLER) as emulator:
        now = datetime.now(UTC)
        emulator.set_now(now)
        emulator.play(programme)
        wave.register(emulator, programme)
        wave.lay(emulator, now - timedelta(seconds=3))
        emulator.set_now(datetime.now(UTC))
        start = datetime.now(UTC)
        second = wave.lay_round(emulator, start, start + timedelta(seconds=10))
        # Laid ahead of the clock: shown as the clock passes it, never before.
        assert wave.reveal_until(start).items_revealed == wave.rounds[0].item_count
        progress = wave.reveal_until(start + timedelta(seconds=12))
        assert progress.finished and progress.jobs_total == 4
    first = wave.rounds[0]
    assert [j.job_id for j in first.jobs] == [j.job_id for j in wave.shape.jobs]
    assert not {j.job_id for j in first.jobs} & {j.job_id for j in second.jobs}
    assert [j.source_server_ids for j in first.jobs] == [j.source_server_ids for j in second.jobs]
    assert {j.wave for j in second.jobs} == {wave.number}
    assert all(start < j.created and j.ended <= start + timedelta(seconds=11) for j in second.jobs)
    assert wave.joined(programme).item_count == programme.item_count + 2 * first.item_count


# -- the keep-running loop -----------------------------------------------------------------------


@dataclass
class _Ticks:
    """Stands in for TickLoop: records the calls, stops the loop after `stop_after` ticks."""

    stop: threading.Event
    stop_after: int | None = None
    labels: list[str] = field(default_factory=list)
    spans: list[float] = field(default_factory=list)

    def live_tick(self, label: str, history: TickHistory, round_seconds: float) -> TickRecord:
        self.labels.append(label)
        self.spans.append(round_seconds)
        if self.stop_after is not None and len(self.labels) >= self.stop_after:
            self.stop.set()
        return cast(TickRecord, _Record(label))


@dataclass
class _Record:
    label: str
    items_exported: int = 1


def _history(*labels: str) -> TickHistory:
    return TickHistory(records=[cast(TickRecord, _Record(label)) for label in labels])


def test_keep_ticking_runs_the_ticks_asked_for_numbered_on_from_the_schedule() -> None:
    stop = threading.Event()
    ticks = _Ticks(stop)
    history = _history("1/4", "2/4", "3/4", "4/4", "+1")
    seen: list[str] = []
    ran = keep_ticking(
        ticks,
        history,
        KeepRunning(interval_seconds=0.01, max_ticks=2),
        stop,
        on_tick=lambda record: seen.append(record.label),
    )
    assert ran == 2 and ticks.labels == seen == ["5", "6"]
    assert [r.label for r in history.records][-2:] == ["5", "6"]
    assert ticks.spans == [0.02, 0.02]  # each round laid over two ticks' time


def test_keep_ticking_stops_when_told_between_ticks() -> None:
    stop = threading.Event()
    ticks = _Ticks(stop, stop_after=3)
    assert keep_ticking(ticks, _history(), KeepRunning(interval_seconds=0.01), stop) == 3
    stop.set()
    assert keep_ticking(_Ticks(stop), _history(), KeepRunning(interval_seconds=0.01), stop) == 0


def test_ctrl_c_in_a_tick_ends_the_loop_for_its_caller() -> None:
    class Interrupted(_Ticks):
        def live_tick(self, label: str, history: TickHistory, round_seconds: float) -> TickRecord:
            raise KeyboardInterrupt

    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        keep_ticking(Interrupted(stop), _history(), KeepRunning(interval_seconds=0.01), stop)


@dataclass
class _Stack:
    endpoint_url: str = "http://127.0.0.1:5000"
    region: str = "us-east-1"
    account_id: str = CALLER
    bus_name: str = "MgnJobLogExporter-events-abc"
    event_source: str = "mgn.joblog.exporter"


def test_the_printed_rule_matches_the_live_waves_events_and_nothing_else() -> None:
    from moto.events.models import EventPattern

    stack = cast(DeployedStack, _Stack())
    lines = rule_lines(stack, "Wave 4 - Live", "Route planner")
    put_rule = next(line for line in lines if " events put-rule " in line)
    assert put_rule.startswith("aws --endpoint-url http://127.0.0.1:5000 --region us-east-1 ")
    assert "--event-bus-name MgnJobLogExporter-events-abc" in put_rule
    printed = json.loads(put_rule.split("--event-pattern '", 1)[1].rstrip("'"))
    assert printed == rule_pattern(stack, "Wave 4 - Live")
    assert any(
        "sqs receive-message --queue-url http://127.0.0.1:5000/123456789012/my-wave-watch" in line
        for line in lines
    )
    assert any(
        "--targets Id=queue,Arn=arn:aws:sqs:us-east-1:123456789012:my-wave-watch" in line
        for line in lines
    )
    pattern = EventPattern.load(json.dumps(printed))

    def event(wave: str | None) -> dict[str, Any]:
        detail: dict[str, Any] = {"event": "LAUNCH_START"}
        if wave:
            detail["wave"] = {"waveID": "wave-x", "name": wave}
        return {"source": "mgn.joblog.exporter", "detail-type": "x", "detail": detail}

    assert pattern.matches_event(event("Wave 4 - Live"))  # type: ignore[arg-type]
    assert not pattern.matches_event(event("Wave 1 - Retail"))  # type: ignore[arg-type]
    assert not pattern.matches_event(event(None))  # type: ignore[arg-type]
