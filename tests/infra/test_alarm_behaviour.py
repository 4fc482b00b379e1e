# ruff: noqa: F811 - the integration harness's fixtures are imported, then used by name
"""The stack's alarms, evaluated over what the worker really emits, scenario by scenario.

moto drops CloudWatch alarms, so a stack whose alarms fire on healthy work, or miss a stall,
deploys and runs green locally. Here each alarm of the synthesized template (metric,
statistic, threshold, comparison, evaluation periods, datapoints to alarm, missing data) is
evaluated over the metrics the exporter emitted in a scenario run against moto and the MGN
emulator, one export run per period (the schedule's rate, which is the alarms' period), with
the exporter's clock moved on by one period per run so that time-valued metrics grow as they
would. A healthy scenario must fire no alarm; each outage must fire the alarms meant for it.

The AWS-namespace metrics (Lambda's, SQS's) are not produced by our code: they are modelled
(the schedule invokes the dispatcher once a period; a message sits in the work dead-letter
queue in the dead-letter scenario), and the table says so.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.direct_export import export_accounts
from local.fault_proxy import FaultProxy
from local.faultsuite.alarms import Alarm, MetricKey, evaluate, short_name, template_alarms
from local.mgn_emulator import make_item
from local.sandbox.lambda_context import LocalLambdaContext
from mgn_exporter import observability
from mgn_exporter.clients import get_clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.observability import logger
from mgn_exporter.run import build_exporter, finish_invocation, start_invocation
from mgn_exporter.settings import get_settings, parse_accounts
from tests.infra.conftest import Synth
from tests.integration.conftest import (  # noqa: F401 - fixtures used by name
    OWN_ACCOUNT,
    REGION,
    World,
    emulator,
    moto_endpoint,
    proxy,
    world,
)
from tests.integration.worlds import add_job

REFUSED_ACCOUNT = "999999999999"  # unknown to MGN: AccessDeniedException on every call
UNINITIALIZED_ACCOUNT = "888888888888"
PERIODS = 9


@dataclass
class Timeline:
    """The datapoints each period received, by metric."""

    periods: list[dict[MetricKey, list[float]]] = field(default_factory=list)

    def new_period(self) -> dict[MetricKey, list[float]]:
        self.periods.append(defaultdict(list))
        return self.periods[-1]


@pytest.fixture
def alarms(synth: Synth) -> list[Alarm]:
    return template_alarms(synth.template_json)


@pytest.fixture
def emitted(synth: Synth, monkeypatch: pytest.MonkeyPatch) -> Iterator[Timeline]:
    """Records what the exporter's metric code emits, as the EMF line would carry it."""
    environment = _worker_environment(synth)
    namespace = environment["POWERTOOLS_METRICS_NAMESPACE"]
    service = environment["POWERTOOLS_SERVICE_NAME"]
    timeline = Timeline()

    def add_metric(name: str, unit: Any, value: float, **_: Any) -> None:
        key = MetricKey(namespace, name, (("service", service),))
        timeline.periods[-1][key].append(float(value))

    monkeypatch.setattr(observability.metrics, "add_metric", add_metric)
    yield timeline


def _worker_environment(synth: Synth) -> dict[str, Any]:
    functions = synth.resources("AWS::Lambda::Function")
    for function in functions.values():
        variables = function["Properties"]["Environment"]["Variables"]
        if "EVENT_BUS_NAME" in variables:
            return dict(variables)
    raise AssertionError("no worker function in the template")


def _run_period(timeline: Timeline, offset: float, alarms: list[Alarm]) -> dict[str, Any]:
    """One scheduled export of the configured accounts, `offset` seconds into the future."""
    period = timeline.new_period()
    for alarm in alarms:
        if alarm.metric.namespace == "AWS/Lambda" and alarm.metric.name == "Invocations":
            period[alarm.metric].append(1.0)
    settings = get_settings()
    clients = get_clients()
    context = LocalLambdaContext(budget_ms=120_000, account_id=OWN_ACCOUNT, region=REGION)
    deadline = Deadline(context.get_remaining_time_in_millis, margin_seconds=2)
    start_invocation(clients, deadline)
    counters: Counter[str] = Counter()
    exporter = build_exporter(
        settings,
        clients,
        own_account=OWN_ACCOUNT,
        invocation_id=str(uuid.uuid4()),
        counters=counters,
        clock=lambda: time.time() + offset,
    )
    accounts: list[str] = list(parse_accounts(os.environ["ACCOUNTS"]) or [])
    report = export_accounts(exporter, accounts, deadline, logger=logger, counters=counters)
    return finish_invocation(clients, report)


def _run(
    timeline: Timeline,
    alarms: list[Alarm],
    *,
    periods: int = PERIODS,
    before: Callable[[int], None] = lambda _: None,
) -> list[dict[str, Any]]:
    reports = []
    for index in range(periods):
        before(index)
        reports.append(_run_period(timeline, index * 300.0, alarms))
    return reports


def _use_accounts(monkeypatch: pytest.MonkeyPatch, *accounts: str) -> None:
    monkeypatch.setenv("ACCOUNTS", ",".join(accounts))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # a refused call fails at once: keeps it short
    get_settings.cache_clear()


def _live_items(world: World, job: str, count: int) -> None:
    now = datetime.now(UTC)
    world.emulator.append_items(
        OWN_ACCOUNT,
        job,
        [make_item("SNAPSHOT_END", now + timedelta(seconds=i)) for i in range(count)],
    )


TABLE: dict[str, dict[str, int | None]] = {}


def _check(
    scenario: str, alarms: list[Alarm], timeline: Timeline, expected: set[str]
) -> dict[str, int | None]:
    fired = evaluate(alarms, timeline.periods)
    TABLE[scenario] = fired
    print(f"\n{scenario}: " + ", ".join(f"{n}@{p}" for n, p in fired.items() if p is not None))
    assert {name for name, at in fired.items() if at is not None} == expected, fired
    return fired


# Large enough that the first period exports well over a batch of history (old failures
# included); its size changes nothing else the alarms see.
HISTORY_JOB_ITEMS = 400


def test_a_healthy_backfill_and_a_long_drain_fire_no_alarm(
    world: World, alarms: list[Alarm], emitted: Timeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a week of history (old failures included) in large jobs, and a running job that
    # keeps logging items every period
    _use_accounts(monkeypatch, OWN_ACCOUNT)
    for n in range(3):
        add_job(
            world.emulator,
            OWN_ACCOUNT,
            HISTORY_JOB_ITEMS,
            seed=300 + n,
            fail_every=7,
            created=datetime.now(UTC) - timedelta(days=6 - n),
        )
    running = add_job(world.emulator, OWN_ACCOUNT, 50, completed=False, seed=310)
    # When the schedule runs for nine periods
    reports = _run(emitted, alarms, before=lambda _: _live_items(world, running, 120))
    # Then everything was exported, and no alarm fired
    assert all(r["accounts"][0]["outcome"] == "exported" for r in reports)
    assert sum(r["itemsExported"] for r in reports) == 3 * HISTORY_JOB_ITEMS + 50 + PERIODS * 120
    _check("healthy-backfill-and-drain", alarms, emitted, set())


def test_an_eventbridge_outage_fires_its_alarms(
    world: World,
    proxy: FaultProxy,
    alarms: list[Alarm],
    emitted: Timeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _use_accounts(monkeypatch, OWN_ACCOUNT)
    running = add_job(world.emulator, OWN_ACCOUNT, 20, completed=False, seed=320)
    proxy.inject("events.PutEvents", "http_500", status=400, error_code="AccessDeniedException")
    _run(emitted, alarms, before=lambda _: _live_items(world, running, 10))
    _check(
        "eventbridge-outage",
        alarms,
        emitted,
        {"EventsDelivery", "AccountsFailed", "AccountStaleness"},
    )


def test_a_log_group_outage_fires_its_alarms(
    world: World,
    proxy: FaultProxy,
    alarms: list[Alarm],
    emitted: Timeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _use_accounts(monkeypatch, OWN_ACCOUNT)
    running = add_job(world.emulator, OWN_ACCOUNT, 20, completed=False, seed=330)
    proxy.inject("logs.PutLogEvents", "http_500", status=400, error_code="AccessDeniedException")
    _run(emitted, alarms, before=lambda _: _live_items(world, running, 10))
    _check(
        "log-group-outage", alarms, emitted, {"LogsDelivery", "AccountsFailed", "AccountStaleness"}
    )


def test_an_account_mgn_refuses_fires_its_alarms(
    world: World, alarms: list[Alarm], emitted: Timeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_accounts(monkeypatch, OWN_ACCOUNT, REFUSED_ACCOUNT)
    add_job(world.emulator, OWN_ACCOUNT, 30, seed=340)
    _run(emitted, alarms)
    _check("account-refused", alarms, emitted, {"AccountsFailed", "AccountStaleness"})


def test_a_stuck_job_fires_its_alarm(
    world: World, alarms: list[Alarm], emitted: Timeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_accounts(monkeypatch, OWN_ACCOUNT)
    stuck = add_job(world.emulator, OWN_ACCOUNT, 30, completed=False, seed=350)
    add_job(world.emulator, OWN_ACCOUNT, 30, seed=351)
    world.emulator.inject_fault(
        "DescribeJobLogItems", "ValidationException", times=None, job_id=stuck
    )
    _run(emitted, alarms, periods=4)
    _check("stuck-job", alarms, emitted, {"JobsFailed"})


def test_an_uninitialized_account_is_a_state_and_fires_no_alarm(
    world: World, alarms: list[Alarm], emitted: Timeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.emulator.add_account(UNINITIALIZED_ACCOUNT, initialized=False, managed=True)
    _use_accounts(monkeypatch, OWN_ACCOUNT, UNINITIALIZED_ACCOUNT)
    add_job(world.emulator, OWN_ACCOUNT, 30, seed=360)
    reports = _run(emitted, alarms)
    assert sum(r["counters"].get("AccountsUninitialized", 0) for r in reports) == 1
    _check("uninitialized-account", alarms, emitted, set())


def test_a_dead_letter_message_fires_its_alarm(alarms: list[Alarm]) -> None:
    # Modelled: the work dead-letter queue holds one message from the third period on (the
    # fan-out tests and the fault suite's dead-letter scenario put it there for real).
    (dlq,) = [a for a in alarms if short_name(a) == "WorkDeadLetters"]
    timeline = Timeline()
    for index in range(PERIODS):
        period = timeline.new_period()
        if index >= 2:
            period[dlq.metric].append(1.0)
        for alarm in alarms:
            if alarm.metric.namespace == "AWS/Lambda" and alarm.metric.name == "Invocations":
                period[alarm.metric].append(1.0)
    _check("dead-letter (modelled)", alarms, timeline, {"WorkDeadLetters"})


def test_zz_print_the_alarm_table(alarms: list[Alarm]) -> None:
    """The table of the scenarios above (run with -s to see it)."""
    if not TABLE:
        pytest.skip("no scenario ran")
    names = sorted({short_name(a) for a in alarms})
    width = max(len(s) for s in TABLE)
    print("\nalarm fired at period (1-based; '.' = quiet)")
    print(" " * width + " | " + " | ".join(names))
    for scenario, fired in TABLE.items():
        cells = []
        for name in names:
            at = fired.get(name)
            cells.append(("." if at is None else str(at + 1)).center(len(name)))
        print(scenario.ljust(width) + " | " + " | ".join(cells))
