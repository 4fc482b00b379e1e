"""The schedule's ticks: move simulated time, reveal what happened, invoke the function.

Each tick is one firing of the deployed schedule rule: the emulator's clock moves to the
tick's simulated time (revealing the jobs and items that have happened by then), then the
deployed function is invoked with EventBridge's Scheduled Event payload and a deadline.
After the last tick, extra "drain" ticks (simulated time no longer moves) run while the
exporter reports work left over (a deadline hit, an account it could not read this time).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mgn_emulator.emulator import MgnEmulator
from mgn_emulator.playback import Playback, PlaybackProgress
from sandbox.function import FunctionLogs, FunctionRunner, Invocation
from sandbox.progress import TickRow, TickTable
from sandbox.simulation import TimePlan
from sandbox.stack import DeployedStack

OUTCOME_LABELS = {"exported": "ok", "failed": "failed", "skipped": "skipped"}


@dataclass
class TickRecord:
    label: str
    simulated: datetime
    progress: PlaybackProgress
    invocation: Invocation
    lag_seconds: float | None

    @property
    def report(self) -> dict[str, Any]:
        return self.invocation.result


@dataclass
class TickHistory:
    records: list[TickRecord] = field(default_factory=list)

    @property
    def items_exported(self) -> int:
        return sum(int(r.report.get("itemsExported", 0)) for r in self.records)

    @property
    def drains(self) -> int:
        return sum(1 for r in self.records if r.label.startswith("+"))

    def api_calls(self) -> Counter[str]:
        calls: Counter[str] = Counter()
        for record in self.records:
            calls.update(record.report.get("apiCalls", {}))
        return calls

    def counters(self) -> Counter[str]:
        counters: Counter[str] = Counter()
        for record in self.records:
            counters.update(record.report.get("counters", {}))
        return counters

    def account_errors(self) -> dict[str, str]:
        """The last error of each account that failed in some tick."""
        errors: dict[str, str] = {}
        for record in self.records:
            for account in record.report.get("accounts", []):
                if account.get("error"):
                    errors[str(account["account_id"])] = str(account["error"])
        return errors


def scheduled_event(stack: DeployedStack, now: datetime) -> dict[str, Any]:
    """The payload an EventBridge schedule rule sends its Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": stack.account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": stack.region,
        "resources": [stack.schedule.arn] if stack.schedule else [],
        "detail": {},
    }


class TickLoop:
    def __init__(
        self,
        *,
        stack: DeployedStack,
        emulator: MgnEmulator,
        playback: Playback,
        plan: TimePlan,
        runner: FunctionRunner,
        function_logs: FunctionLogs,
        table: TickTable,
        budget_seconds: float,
        max_drains: int,
    ) -> None:
        self._stack = stack
        self._emulator = emulator
        self._playback = playback
        self._plan = plan
        self._runner = runner
        self._function_logs = function_logs
        self._table = table
        self._budget = budget_seconds
        self._max_drains = max_drains
        self._exported_accounts = set(playback.programme.exported_accounts)

    def run(self) -> TickHistory:
        history = TickHistory()
        self._table.header()
        for tick in range(1, self._plan.ticks + 1):
            history.records.append(self._tick(f"{tick}/{self._plan.ticks}", tick, history))
        drains = 0
        while not self._caught_up(history.records[-1]) and drains < self._max_drains:
            drains += 1
            history.records.append(self._tick(f"+{drains}", self._plan.ticks, history))
        return history

    def _tick(self, label: str, tick: int, history: TickHistory) -> TickRecord:
        simulated = self._plan.tick_time(tick)
        self._emulator.set_now(simulated)
        progress = self._playback.reveal_until(simulated)
        self._table.running(label, simulated)
        real_start = datetime.now(UTC)
        invocation = self._runner.invoke(scheduled_event(self._stack, real_start), self._budget)
        self._function_logs.publish(self._runner.log_stream or "sandbox", invocation)
        report = invocation.result
        exported = int(report.get("itemsExported", 0))
        # The exporter measures lag on the real clock; the simulated clock is behind it by
        # (real start - simulated now), which is not lag.
        lag = (
            float(report.get("maxLagSeconds", 0.0)) - (real_start - simulated).total_seconds()
            if exported
            else None
        )
        record = TickRecord(label, simulated, progress, invocation, lag)
        total = history.items_exported + exported
        self._table.row(
            TickRow(
                label=label,
                simulated=simulated,
                jobs=f"{progress.jobs_created}/{progress.jobs_total}",
                items=f"{progress.items_revealed}/{progress.items_total}",
                exported=exported,
                total=total,
                accounts=self._accounts_cell(invocation),
                lag_seconds=lag,
                took_seconds=invocation.duration_seconds,
                note="cold" if invocation.cold else "",
            )
        )
        if invocation.error:
            self._table.note(f"the invocation failed: {invocation.error}")
        return record

    def _accounts_cell(self, invocation: Invocation) -> str:
        if not invocation.ok:
            return "run failed"
        outcomes = Counter(
            OUTCOME_LABELS.get(str(a.get("outcome")), str(a.get("outcome")))
            for a in invocation.result.get("accounts", [])
        )
        order = ("ok", "failed", "skipped", "not_started")
        return ", ".join(f"{outcomes[name]} {name}" for name in order if outcomes[name])

    def _caught_up(self, record: TickRecord) -> bool:
        """Every readable account exported to the end of its logs, with the programme over."""
        if not record.invocation.ok or not record.progress.finished:
            return False
        accounts = {str(a.get("account_id")): a for a in record.report.get("accounts", [])}
        return all(
            account in accounts
            and accounts[account].get("outcome") == "exported"
            and not accounts[account].get("backlog")
            for account in self._exported_accounts
        )
