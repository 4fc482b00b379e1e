"""An invocation's clock that passes only with the work done, so that a deadline test depends
on the size of the work, never on the speed of the machine."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest

from local.direct_export import export_configured_accounts
from mgn_exporter import run as run_module
from mgn_exporter.clients import get_clients
from mgn_exporter.deadline import Deadline
from mgn_exporter.exporter import AccountExporter
from mgn_exporter.settings import get_settings
from tests.integration.conftest import OWN_ACCOUNT, REGION


class WorkClock:
    """An invocation's time, which passes only with the work done: every HTTP attempt the
    exporter's clients make costs `seconds_per_call`, and a retry's backoff passes at once
    the time it would sleep, however fast the machine runs them.

    It starts at the real epoch time, since leases and discovery read it as epoch seconds.
    """

    def __init__(self, seconds_per_call: float) -> None:
        self.seconds_per_call = seconds_per_call
        self.calls = 0
        self.slept = 0.0
        self.origin = time.time()

    def __call__(self) -> float:
        return self.origin + self.elapsed()

    def elapsed(self) -> float:
        return self.calls * self.seconds_per_call + self.slept

    def sleep(self, seconds: float) -> None:
        self.slept += max(0.0, seconds)

    def count_call(self, **_: Any) -> None:
        self.calls += 1


def invoke_on_work_clock(
    monkeypatch: pytest.MonkeyPatch, budget_ms: int, seconds_per_call: float
) -> tuple[dict[str, Any], WorkClock]:
    """One direct export run, as `invoke` makes it, in which the deadline, the exporter's
    pace and botocore's retry window all read a WorkClock."""
    clock = WorkClock(seconds_per_call)
    clients = get_clients()
    boto_clients = (clients.mgn, clients.events, clients.logs, clients.dynamodb, clients.sqs)

    def exporter_on_the_work_clock(**parts: Any) -> AccountExporter:
        # The exporter sizes its pages from the pace it measures: measured on the deadline's
        # clock, a page it starts is a page the deadline has room for.
        # The publisher's own backoffs pass on the work clock too.
        parts["publisher"]._sleep = clock.sleep
        return AccountExporter(**{**parts, "clock": clock})

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "AccountExporter", exporter_on_the_work_clock)
        patch.setattr(clients.retry_window, "clock", clock)
        # botocore's backoffs (its only use of `time` there) pass on the work clock.
        patch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=clock.sleep))
        for client in boto_clients:
            client.meta.events.register("before-send", clock.count_call, unique_id="work-clock")
        try:
            deadline = Deadline(
                lambda: int(budget_ms - clock.elapsed() * 1000),
                margin_seconds=get_settings().deadline_margin_seconds,
                clock=clock,
            )
            report = export_configured_accounts(
                budget_ms, own_account=OWN_ACCOUNT, region=REGION, deadline=deadline
            )
        finally:
            for client in boto_clients:
                client.meta.events.unregister("before-send", unique_id="work-clock")
    return report, clock
