"""The schedule's ticks: move simulated time, reveal what happened, dispatch, drain the queue.

Each tick is one firing of the deployed schedule rule: the emulator's clock moves to the
tick's simulated time (revealing the jobs and items that have happened by then), the deployed
dispatcher is invoked with EventBridge's Scheduled Event payload (it sends one work request
per account to the FIFO work queue), and the work queue is drained by the worker's
environments as its event source mapping would (``sandbox.drain``), hand-ons included, until
nothing is left but failed records waiting for their retry. An account where MGN is not
initialized is not a failure: the worker records that in its checkpoint item and its request
is done, so it shows as "not initialized" in each tick, never as waiting.

At the last tick the sandbox lays its live wave (``sandbox.live_wave``: MGN activity after the
exporter's first run, in real time), and from then on the emulator's clock is the real one.

With ``--keep-running`` the ticks go on after the report (``live_tick``, on a timer kept by
``sandbox.keep_running``): the emulator's clock is the real one, and whenever the programme
and every round of the live wave are over, the wave is laid again over the next ticks.

After the last tick, extra "drain" ticks (the programme's time no longer moves) run while work
is left over for an account whose items must be exported: its last outcome in the tick was not
a complete export (a failure, a backlog), or its records wait for a retry, or a job is still
open in its checkpoint (its outcome not sent yet). A drain tick waits for those retries (up to
``retry_wait_seconds``): the tick's new request for the account is held behind them in its
message group.

Before each tick the worker's environments get the completed-job timings of the run's phase
(``simulation.SettleTimings``: the ticks before the last, the last and the drain ticks, the
ticks of ``--keep-running``); a change is a cold start of each.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.playback import Playback, PlaybackProgress
from local.sandbox.checkpoints import read_checkpoints
from local.sandbox.drain import Batch, DrainResult, WorkQueueDrain
from local.sandbox.function import FunctionLogs, FunctionRunner, Invocation
from local.sandbox.live_wave import LiveWave, combined
from local.sandbox.progress import TickRow, TickTable
from local.sandbox.simulation import SettleTimings, TimePlan
from local.sandbox.stack import DeployedStack
from local.sandbox.words import plural

WORK_DISPATCHED = "Work dispatched"
# How an account's last outcome in a tick reads in the table.
OUTCOME_LABELS = {
    "exported": "ok",
    "covered": "ok",
    # MGN is not initialized there: a state the worker records (and rechecks hourly), not a
    # failure; the account's work request is done.
    "uninitialized": "not initialized",
    "failed": "failed",
    "skipped": "skipped",
    "not_started": "not started",
}
CELL_ORDER = ("ok", "not initialized", "failed", "waiting", "backlog", "skipped", "not started")
# Outcomes of an account that an invocation worked on (it read or wrote the checkpoint).
WORKED_ON = ("exported", "covered", "uninitialized", "failed")


@dataclass
class TickRecord:
    label: str
    simulated: datetime
    progress: PlaybackProgress
    dispatch: Invocation
    drain: DrainResult
    lag_seconds: float | None
    took_seconds: float
    # The worker's COMPLETED_JOB_GRACE_SECONDS (and POST_LAUNCH_WAIT_SECONDS) in the tick.
    grace_seconds: int | None = None

    @property
    def dispatched(self) -> dict[str, Any] | None:
        """What the dispatcher logged as "Work dispatched" (tick, accountsDispatched...)."""
        return self.dispatch.logged(WORK_DISPATCHED)

    @property
    def accounts_dispatched(self) -> int | None:
        dispatched = self.dispatched
        return int(dispatched["accountsDispatched"]) if dispatched else None

    @property
    def batches(self) -> list[Batch]:
        return self.drain.batches

    @property
    def items_exported(self) -> int:
        return sum(batch.items_exported for batch in self.batches)

    @property
    def hand_ons(self) -> int:
        return sum(len(batch.handed_on) for batch in self.batches)

    def last_outcomes(self, outcome: str | None = None) -> dict[str, dict[str, Any]]:
        """Each account's report (with `outcome`, if given) in the last batch of the tick that
        reported on it."""
        outcomes: dict[str, dict[str, Any]] = {}
        for batch in self.batches:  # in the order the mapping answered them
            for account in batch.reported:
                if outcome is None or account.get("outcome") == outcome:
                    outcomes[str(account.get("account_id"))] = account
        return outcomes

    def account_states(self) -> dict[str, str]:
        """Each account's state at the end of the tick, as the table shows it."""
        states: dict[str, str] = {}
        for account, report in self.last_outcomes().items():
            label = OUTCOME_LABELS.get(str(report.get("outcome")), str(report.get("outcome")))
            states[account] = "backlog" if label == "ok" and report.get("backlog") else label
        for account in self.drain.waiting:
            states.setdefault(account, "waiting")
        return states


@dataclass
class TickHistory:
    records: list[TickRecord] = field(default_factory=list)

    @property
    def items_exported(self) -> int:
        return sum(r.items_exported for r in self.records)

    @property
    def drains(self) -> int:
        return sum(1 for r in self.records if r.label.startswith("+"))

    @property
    def batches(self) -> list[Batch]:
        return [batch for record in self.records for batch in record.batches]

    def api_calls(self) -> Counter[str]:
        """Every AWS call the functions made, as they logged them."""
        calls: Counter[str] = Counter()
        for record in self.records:
            calls.update((record.dispatched or {}).get("apiCalls", {}))
            for batch in record.batches:
                calls.update((batch.summary or {}).get("apiCalls", {}))
        return calls

    def counters(self) -> Counter[str]:
        counters: Counter[str] = Counter()
        for batch in self.batches:
            counters.update((batch.summary or {}).get("counters", {}))
        return counters

    def account_errors(self) -> dict[str, str]:
        """The last error of each account that failed in some batch."""
        errors: dict[str, str] = {}
        for batch in self.batches:
            for account in batch.reported:
                if account.get("error"):
                    errors[str(account["account_id"])] = str(account["error"])
        return errors

    def per_account(self) -> dict[str, Counter[str]]:
        """account -> invocations that worked on it, hand-ons, failed exports."""
        stats: dict[str, Counter[str]] = {}
        for batch in self.batches:
            for account in batch.reported:
                counts = stats.setdefault(str(account.get("account_id")), Counter())
                if account.get("outcome") in WORKED_ON:
                    counts["invocations"] += 1
                if account.get("outcome") == "failed":
                    counts["failures"] += 1
            for account_id in batch.handed_on:
                stats.setdefault(account_id, Counter())["hand_ons"] += 1
        return stats


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


def batch_lag(batch: Batch, simulated: datetime) -> float | None:
    """How far behind simulated "now" the oldest item the batch exported was. The worker
    measures lag on the real clock, which is ahead of the simulated one by (invocation's real
    start - simulated now): that distance is not lag."""
    summary = batch.summary or {}
    if not summary.get("itemsExported"):
        return None
    ahead = (batch.started_at - simulated).total_seconds()
    return float(summary.get("maxLagSeconds", 0.0)) - ahead


class TickLoop:
    def __init__(
        self,
        *,
        stack: DeployedStack,
        emulator: MgnEmulator,
        playback: Playback,
        plan: TimePlan,
        dispatcher: FunctionRunner,
        drain: WorkQueueDrain,
        function_logs: FunctionLogs,
        table: TickTable,
        dispatcher_budget_seconds: float,
        drain_timeout_seconds: float,
        retry_wait_seconds: float,
        max_drains: int,
        wave: LiveWave | None = None,
        workers: Sequence[FunctionRunner] = (),
        settle: SettleTimings | None = None,
    ) -> None:
        self._stack = stack
        self._emulator = emulator
        self._playback = playback
        self._plan = plan
        self._dispatcher = dispatcher
        self._drain = drain
        self._function_logs = function_logs
        self._table = table
        self._dispatcher_budget = dispatcher_budget_seconds
        self._drain_timeout = drain_timeout_seconds
        self._retry_wait = retry_wait_seconds
        self._max_drains = max_drains
        self._wave = wave
        # The live wave's planned jobs count in the table's totals from the first tick while
        # the run is to lay it (at its last tick); once laid, its rounds count.
        self._wave_expected = wave is not None and plan.ticks > 1
        self._exported_accounts = set(playback.programme.exported_accounts)
        self._last_event_time: str | None = None
        self._workers = list(workers)
        self._settle = settle
        self._grace: int | None = None

    def run(self) -> TickHistory:
        history = TickHistory()
        self._table.header()
        for tick in range(1, self._plan.ticks + 1):
            history.records.append(
                self._tick(
                    f"{tick}/{self._plan.ticks}",
                    tick,
                    history,
                    lay_wave=tick == self._plan.ticks and tick > 1,
                )
            )
        drains = 0
        while not self._done(history.records[-1]) and drains < self._max_drains:
            drains += 1
            history.records.append(
                self._tick(f"+{drains}", self._plan.ticks, history, wait_for_retries=True)
            )
        return history

    def _tick(
        self,
        label: str,
        tick: int,
        history: TickHistory,
        *,
        wait_for_retries: bool = False,
        lay_wave: bool = False,
    ) -> TickRecord:
        wave_note = self._lay_wave() if lay_wave else None
        wave = self._wave
        if wave is not None and wave.laid is not None:
            simulated = datetime.now(UTC)  # once the live wave is laid, MGN's clock is the real one
        else:
            simulated = self._plan.tick_time(tick)
        progress = self._reveal(simulated)
        if self._settle is not None:
            # Before the last tick MGN's clock lags the worker's by up to the window; from the
            # last on (the live wave laid, whole, at it) everything MGN will show is shown.
            last = tick >= self._plan.ticks
            self._use_grace(self._settle.caught_up if last else self._settle.compressed)
        return self._dispatch_and_drain(
            label,
            simulated,
            progress,
            history,
            wait_for_retries=wait_for_retries,
            notes=[wave_note] if wave_note else [],
        )

    def live_tick(self, label: str, history: TickHistory, round_seconds: float) -> TickRecord:
        """A tick after the report (--keep-running), at the real time: when the programme and
        every round of the live wave are over, the wave is laid again, over the next
        `round_seconds` from the previous tick on, so that this tick and the next ones show it."""
        simulated = datetime.now(UTC)
        progress = self._reveal(simulated)
        if self._settle is not None:
            self._use_grace(self._settle.kept_running)
        notes: list[str] = []
        if progress.finished:
            notes.append(self._lay_round(history, timedelta(seconds=round_seconds)))
            progress = self._reveal(simulated)
        return self._dispatch_and_drain(label, simulated, progress, history, notes=notes)

    def _use_grace(self, seconds: int) -> None:
        """The worker's completed-job timings from this tick on (a change: cold starts)."""
        self._grace = seconds
        for worker in self._workers:
            worker.reconfigure(SettleTimings.overrides(seconds))

    def _done(self, record: TickRecord) -> bool:
        """Caught up (``caught_up``), and every job closed in the checkpoints: settled, read to
        its end and its outcome sent."""
        if not caught_up(record, self._exported_accounts):
            return False
        return not any(c.open_jobs for c in read_checkpoints(self._stack).values())

    def _reveal(self, simulated: datetime) -> PlaybackProgress:
        """Set MGN's clock; what the programme and the live wave have shown by then."""
        self._emulator.set_now(simulated)
        progress = self._playback.reveal_until(simulated)
        wave = self._wave
        if wave is not None and (wave.rounds or self._wave_expected):
            progress = combined(progress, wave.reveal_until(simulated))
        return progress

    def _dispatch_and_drain(
        self,
        label: str,
        simulated: datetime,
        progress: PlaybackProgress,
        history: TickHistory,
        *,
        wait_for_retries: bool = False,
        notes: list[str],
    ) -> TickRecord:
        self._table.running(label, simulated, "dispatching")
        started = time.monotonic()
        dispatch = self._dispatcher.invoke(
            scheduled_event(self._stack, self._event_time()), self._dispatcher_budget
        )
        self._function_logs.publish(self._dispatcher, dispatch)
        self._table.running(label, simulated, "draining the work queue")
        answered: list[Batch] = []

        def show(batch: Batch) -> None:
            answered.append(batch)
            items = sum(b.items_exported for b in answered)
            self._table.running(
                label,
                simulated,
                f"draining the work queue: {plural(len(answered), 'batch')}, "
                f"{plural(items, 'item')} exported",
            )

        drain = self._drain.run(
            timeout=self._drain_timeout,
            wait_for=self._exported_accounts if wait_for_retries else (),
            retry_wait_seconds=self._retry_wait if wait_for_retries else 0.0,
            on_batch=show,
        )
        lags = [lag for batch in drain.batches if (lag := batch_lag(batch, simulated)) is not None]
        record = TickRecord(
            label=label,
            simulated=simulated,
            progress=progress,
            dispatch=dispatch,
            drain=drain,
            lag_seconds=max(lags) if lags else None,
            took_seconds=time.monotonic() - started,
            grace_seconds=self._grace,
        )
        self._table.row(self._row(record, history))
        for note in notes:
            self._table.note(note)
        if dispatch.error:
            self._table.note(f"the dispatcher failed: {dispatch.error}")
        for batch in drain.batches:
            if batch.invocation.error:
                self._table.note(
                    f"a worker invocation failed ({len(batch.message_ids)} records come back "
                    f"after the queue's visibility timeout): {batch.invocation.error}"
                )
        if drain.waited_for_retries:
            self._table.note(f"waited {drain.seconds:.0f} s for the retries of failed records")
        return record

    def _lay_wave(self) -> str | None:
        """Lays the live wave after the first export of its account; without one (the account
        was never exported), there is no wave."""
        wave = self._wave
        if wave is None:
            return None
        since = self._first_export(wave)
        if since is None:
            self._wave_expected = False
            return f"no live wave: account {wave.account_id} has not been exported yet"
        wave.lay(self._emulator, since)
        assert wave.laid is not None
        jobs = wave.laid.jobs
        first, last = min(job.created for job in jobs), max(job.ended for job in jobs)
        return (
            f"live wave: {plural(len(jobs), 'job')}, {plural(wave.laid.item_count, 'item')} in "
            f'account {wave.account_id} (MGN wave "{wave.name}") logged '
            f"{first:%H:%M:%S}-{last:%H:%M:%S} UTC, after its first export at {since:%H:%M:%S} "
            "(backfill: false); MGN's clock is the real one from now on"
        )

    def _lay_round(self, history: TickHistory, span: timedelta) -> str:
        """The live wave once more (--keep-running), from the previous tick's time (items
        logged after it are new to the exporter) or the account's first export, whichever is
        later (items logged before it would be backfill)."""
        wave = self._wave
        if wave is None:
            return "no live wave to lay again"
        since = self._first_export(wave)
        if since is None:
            return f"no live wave yet: account {wave.account_id} has not been exported"
        if history.records:
            since = max(since, history.records[-1].simulated)
        laid = wave.lay_round(self._emulator, since, since + span)
        jobs = laid.jobs
        first, last = min(job.created for job in jobs), max(job.ended for job in jobs)
        return (
            f"live wave, round {len(wave.rounds)}: {plural(len(jobs), 'job')}, "
            f"{plural(laid.item_count, 'item')} in account {wave.account_id} (MGN wave "
            f'"{wave.name}"), logged {first:%H:%M:%S}-{last:%H:%M:%S} UTC: shown as the '
            "clock passes them"
        )

    def _first_export(self, wave: LiveWave) -> datetime | None:
        """The first export of the wave's account (its checkpoint item), if it has been."""
        checkpoint = read_checkpoints(self._stack).get(wave.account_id)
        return None if checkpoint is None else checkpoint.first_export_at

    def _row(self, record: TickRecord, history: TickHistory) -> TickRow:
        cold = int(record.dispatch.cold) + sum(b.invocation.cold for b in record.batches)
        dispatched = record.accounts_dispatched
        return TickRow(
            label=record.label,
            simulated=record.simulated,
            jobs=f"{record.progress.jobs_created}/{record.progress.jobs_total}",
            items=f"{record.progress.items_revealed}/{record.progress.items_total}",
            queued="failed" if dispatched is None else str(dispatched),
            batches=len(record.batches),
            hand_ons=record.hand_ons,
            exported=record.items_exported,
            total=history.items_exported + record.items_exported,
            accounts=accounts_cell(record.account_states()),
            lag_seconds=record.lag_seconds,
            took_seconds=record.took_seconds,
            note=f"{cold} cold" if cold else "",
        )

    def _event_time(self) -> datetime:
        """Now, in a later second than the previous tick's event: the dispatcher deduplicates
        its requests by the event's time (to the second), and a schedule never fires twice in
        one second."""
        while True:
            now = datetime.now(UTC)
            stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
            if stamp != self._last_event_time:
                self._last_event_time = stamp
                return now
            time.sleep(1.0 - now.microsecond / 1_000_000 + 0.01)


def caught_up(record: TickRecord, exported_accounts: Collection[str]) -> bool:
    """The programme is over and every readable account was exported to the end of its logs
    in this tick: its last outcome a complete export (or one covered by it), no job left open
    by its last export (a job whose read failed stays open for the next one), nothing of it
    left waiting in the queue."""
    if record.dispatched is None or not record.progress.finished:
        return False
    outcomes = record.last_outcomes()
    exports = record.last_outcomes("exported")
    return all(
        account in outcomes
        and outcomes[account].get("outcome") in ("exported", "covered")
        and not outcomes[account].get("backlog")
        and not exports.get(account, {}).get("jobs_open")
        and account not in record.drain.waiting
        for account in exported_accounts
    )


def accounts_cell(states: dict[str, str]) -> str:
    counts = Counter(states.values())
    order = [*CELL_ORDER, *sorted(set(counts) - set(CELL_ORDER))]
    return ", ".join(f"{counts[name]} {name}" for name in order if counts[name]) or "-"
