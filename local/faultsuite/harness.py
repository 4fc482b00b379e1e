"""One scenario's world and its bookkeeping: MGN's jobs, the proxy's faults, the ticks.

A tick is what the schedule starts, and what follows from it, as in the deployed stack:

1. the dispatcher runs in an execution environment of its own (a ``faultsuite.worker``
   process) with the tick's Scheduled Event, and sends one work request per account to the FIFO
   work queue; if it fails, it is invoked again with the same event, as Lambda retries an
   asynchronous invocation (the same ``time``, so SQS drops the requests already sent);
2. the event source mapping (``esm_emulator``) polls the queue with ``concurrency`` pollers,
   each invoking the worker function with its SQS batch in an execution environment (a
   process) of its own, with a real deadline; partial batch responses, batches that come back
   after the visibility timeout and the redrive to the dead-letter queue are SQS's (moto's);
3. the pollers run until every expected item reached both sinks, or the queue is empty
   (``drain``); or, between the crash scenario's kills, until no message can be delivered and
   no worker runs (``tick``): a killed worker's batch is still in flight then, and comes back
   after the visibility timeout in a later tick, as it would in Lambda.

A worker process SIGKILLed mid-batch is a function error for the event source mapping: the
invoker raises, and the whole batch comes back. Failed records come back after the worker's
retry backoff (it shortens their visibility), and go to the dead-letter queue after
maxReceiveCount receives. Once everything is exported, the hand-ons must stop by themselves
(``settle``).

Each job takes part with the servers its items name, and what MGN shows of them besides the
log (launches, instances, post-launch actions: ``derived.DerivedWorld``) is set when the job
completes (``complete``). A completed job settles when the harness moves its endDateTime past
the workers' grace (``settle_job``): at once, or, for a job completed with late items, once
the exporter has seen it COMPLETED and read to its end, when those items become readable
(``release_late``, from ``drain``). "Drained" means every expected item and every derived
event the world requires in both sinks, and no late item held back.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from local.esm_emulator import EventSourceMapping, MappingConfig
from local.fault_proxy import FaultProxy
from local.faultsuite.alarms import observe
from local.faultsuite.cloud import (
    COMPLETED_JOB_GRACE_SECONDS,
    MAX_RECEIVE_COUNT,
    OWN_ACCOUNT,
    POST_LAUNCH_WAIT_SECONDS,
    REGION,
    Cloud,
    ItemKey,
    reset_moto,
)
from local.faultsuite.derived import DerivedKey, DerivedWorld, check_derived
from local.faultsuite.environments import Environments, Invocation
from local.faultsuite.ledger import Result, tally
from local.faultsuite.names import WorldNames, check_names, mentioned
from local.mgn_emulator import MgnEmulator
from local.mgn_emulator.store import random_id
from local.mgn_emulator.worlds import job_log
from mgn_exporter.checkpoint import AccountState
from mgn_exporter.export_batch import BATCH_ITEMS
from mgn_exporter.exporter import LEASE_SLACK_SECONDS
from mgn_exporter.work_request import BadMessage, parse_body

# Calls whose answer says the exporter broke a service limit (the proxy enforces them).
LIMIT_ERRORS = {
    "events.PutEvents": "ValidationException",
    "logs.PutLogEvents": "InvalidParameterException",
}
# The stack's dispatcher timeout (infra/constants.py DISPATCHER_TIMEOUT_SECONDS).
DISPATCHER_BUDGET_MS = 60_000
# Lambda retries a failed asynchronous invocation twice (DISPATCHER_RETRY_ATTEMPTS).
DISPATCHER_RETRIES = 2
# The schedule's period: each tick's Scheduled Event is this much after the previous one.
TICK_PERIOD = timedelta(minutes=5)
# How often the end of a tick is checked (reading the sinks costs a little).
CHECK_EVERY_SECONDS = 0.3
TICK_TIMEOUT_SECONDS = 600.0
# Worker invocations after which hand-ons must have stopped once nothing is left to export.
SETTLE_INVOCATIONS = 12
# Read by faultsuite.worker: the pause after a failed inventory read, in seconds (the
# exporter's RETRY_AFTER_FAILURE_SECONDS, 300), scaled down for a scenario that waits it out.
ENRICHMENT_RETRY_VARIABLE = "FAULTSUITE_ENRICHMENT_RETRY_SECONDS"
# A settled job's endDateTime is this much further in the past than the grace (or the wait).
SETTLE_MARGIN = timedelta(minutes=1)

KillPlan = Callable[[dict[str, Any]], float | None]
Sinks = tuple[Counter[str], Counter[str]]


class KillSwitch(Protocol):
    """Kills the worker invocations that are running when its event is set (a scenario sets
    it when a worker reaches the point it must die at, e.g. from a proxy hold), then
    `killed()` is called, before the kill's accounting."""

    event: threading.Event

    def killed(self) -> None: ...


@dataclass
class LateItems:
    """Items of a completed job MGN makes readable only after the job shows COMPLETED."""

    account_id: str
    job_id: str
    items: list[dict[str, Any]]


class WorkerKilled(RuntimeError):
    """The worker's execution environment was SIGKILLed mid-batch."""


class FunctionError(RuntimeError):
    """The worker raised: Lambda reports a function error, and the batch comes back."""


@dataclass(frozen=True)
class Kill:
    """One SIGKILL, and what the killed worker left delivered past the saved checkpoint of the
    batch's accounts (the items the next export of those accounts sends again)."""

    after_s: float
    accounts: tuple[str, ...]
    resent_bus: int
    resent_logs: int
    # The same of the derived events: delivered, and not marked in the saved state.
    resent_derived_bus: int = 0
    resent_derived_logs: int = 0


def accounts_of(event: dict[str, Any]) -> list[str]:
    """The accounts an SQS batch asks for, in order, each once (malformed bodies left out)."""
    accounts: list[str] = []
    for record in event.get("Records", []):
        try:
            account = parse_body(str(record.get("body", ""))).account_id
        except BadMessage:
            continue
        if account not in accounts:
            accounts.append(account)
    return accounts


def receive_counts(event: dict[str, Any]) -> list[int]:
    return [
        int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
        for record in event.get("Records", [])
    ]


def beyond_checkpoint(key: ItemKey, states: dict[str, AccountState]) -> bool:
    """Whether a delivered item is past its job's saved checkpoint (so it will be sent again)."""
    state = states[key.account_id]
    if key.job_id in state.jobs:
        return key.position >= state.jobs[key.job_id].position
    return key.job_id not in state.closed


def derived_beyond(
    event_id: str, key: DerivedKey, sink: str, states: dict[str, AccountState]
) -> bool:
    """Whether a delivered derived event is not marked as taken by `sink` in its job's saved
    checkpoint (so it will be sent again)."""
    state = states[key.account_id]
    job = state.jobs.get(key.job_id)
    if job is None:
        return key.job_id not in state.closed
    return not job.derived_sent("events" if sink == "eventbridge" else "logs", event_id)


class Harness:
    """Builds the world of one scenario and runs the functions against it, tick after tick."""

    def __init__(
        self,
        moto_url: str,
        scenario: str,
        seed: int,
        *,
        workdir: Path,
        accounts: tuple[str, ...] = (OWN_ACCOUNT,),
        unknown_accounts: tuple[str, ...] = (),
        max_page_size: int | None = None,
        margin_seconds: int = 2,
        max_attempts: int | None = None,
        budget_ms: int = 10_000,
        concurrency: int = 2,
        batch_size: int = 10,
        visibility_timeout: int | None = None,
        max_receive_count: int = MAX_RECEIVE_COUNT,
        spare: bool = False,
        environments: int = 1,
        enrichment_retry_seconds: int | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(seed)
        # What an interrupted export may leave delivered and not checkpointed: the batch the
        # sinks take between two saves of the state (several pages when MGN's are small).
        self.page_bound = BATCH_ITEMS
        self.started = time.monotonic()
        self.budget_ms = budget_ms  # each worker invocation's
        # Lambda requires the queue's visibility timeout to be at least the function's timeout
        # (the stack makes it 6 times that): a batch never comes back while a worker still
        # has it. A shorter one than the stack's keeps a scenario short.
        self.visibility_timeout = visibility_timeout or max(3, math.ceil(budget_ms / 1000) + 1)
        if self.visibility_timeout * 1000 <= budget_ms:
            raise ValueError("the visibility timeout must be longer than the worker's budget")
        reset_moto(moto_url)
        self.emulator = MgnEmulator(
            caller_account=OWN_ACCOUNT, region=REGION, max_page_size=max_page_size
        ).start()
        self.proxy = FaultProxy({"mgn": self.emulator.endpoint_url, "*": moto_url}, seed=seed)
        self.proxy.start()
        for account in accounts:
            if account != OWN_ACCOUNT:
                self.emulator.add_account(account, initialized=True, managed=True)
        self.cloud = Cloud(
            moto_url,
            self.emulator,
            self.proxy,
            accounts=accounts + unknown_accounts,  # configured, but MGN does not know them
            margin_seconds=margin_seconds,
            max_attempts=max_attempts,
            visibility_timeout=self.visibility_timeout,
            max_receive_count=max_receive_count,
        )
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{scenario}-seed{seed}.log"
        self.log_path.unlink(missing_ok=True)
        worker_env = self.cloud.worker_env()
        if enrichment_retry_seconds is not None:
            worker_env[ENRICHMENT_RETRY_VARIABLE] = str(enrichment_retry_seconds)
        self.workers = Environments(worker_env, self.log_path, spare=spare)
        self.dispatchers = Environments(self.cloud.dispatcher_env(), self.log_path)
        self.concurrency = concurrency
        self.mapping = EventSourceMapping(
            self.cloud.sqs,
            MappingConfig(
                queue_url=self.cloud.work_queue_url,
                queue_arn=self.cloud.work_queue_arn,
                region=REGION,
                batch_size=batch_size,
                max_concurrency=concurrency,
            ),
            [self._run_batch] * concurrency,
        )
        self.invocations: list[Invocation] = []
        self.kills: list[Kill] = []
        self.jobs: dict[str, list[str]] = {}
        # The names of the servers the jobs name, loaded into MGN before each dispatch.
        self.names = WorldNames(seed)
        # What MGN shows of the jobs besides their logs (the derived events' ground truth).
        self.derived = DerivedWorld(seed, self.emulator)
        # Items held back until their completed job was seen COMPLETED (see release_late).
        self.late: list[LateItems] = []
        self.late_items = 0
        self.problems: list[str] = []
        self.ticks = 0
        # Set by scenarios between ticks: when to kill a worker, and every how many worker
        # invocations the environment is recycled (the next one starts cold).
        self.kill_plan: KillPlan | None = None
        self.kill_switch: KillSwitch | None = None
        self.cold_every = 0
        # Called (in the poller's thread) before each batch is invoked.
        self.before_batch: Callable[[dict[str, Any]], None] | None = None
        self._lock = threading.Lock()
        self._running = 0  # worker invocations under way
        self._worker_invocations = 0
        self._tick_base = datetime.now(UTC).replace(second=0, microsecond=0)
        # Start the environments together, off the clock: their start-ups overlap.
        starting = threading.Thread(target=self.dispatchers.prewarm, args=(1,))
        starting.start()
        # More start when more pollers have work at once (each costs a second of CPU).
        self.workers.prewarm(environments)
        starting.join()

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Harness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.workers.close()
        self.dispatchers.close()
        self.proxy.stop()
        self.emulator.stop()

    # -- MGN's side -----------------------------------------------------------------------------

    def add_job(
        self,
        account_id: str,
        count: int,
        *,
        completed: bool = True,
        initiated_by: str = "START_TEST",
        fail_every: int = 0,
        items: list[dict[str, Any]] | None = None,
        expected: bool = True,
        late: int = 0,
    ) -> str:
        """A job with `count` MGN-like items (or exactly `items`), created before its items,
        with the servers they name taking part in it (named in MGN first: a wave of their own).
        Completed (see `complete`), its last `late` items become readable only once the
        exporter has seen it COMPLETED."""
        now = datetime.now(UTC)
        start = now - timedelta(seconds=30 * count + 600)
        if items is None:
            items = job_log(count, start=start, rng=self.rng, fail_every=fail_every)
        job_id = random_id("mgnjob-")
        self.names.add_job(account_id, job_id, items)
        # The servers exist (named) before the job names them in participatingServers.
        self.names.load(self.emulator)
        servers = mentioned(items)
        self.emulator.add_job(
            account_id,
            job_id=job_id,
            initiated_by=initiated_by,
            status="STARTED",
            created=start,
            source_server_ids=list(servers),
        )
        self.derived.add_job(account_id, job_id, servers)
        held = items[len(items) - late :] if completed and late else []
        self.emulator.append_items(account_id, job_id, items[: len(items) - len(held)])
        if completed:
            self.complete(account_id, job_id, late_items=held)
        if expected:
            self.jobs.setdefault(account_id, []).append(job_id)
        return job_id

    def complete(
        self,
        account_id: str,
        job_id: str,
        *,
        late: int = 0,
        late_items: list[dict[str, Any]] | None = None,
        actions: str = "final",
        fail_one: bool = False,
    ) -> None:
        """The job completes: its servers launched or failed, their post-launch actions shown
        at their final status (`actions="final"`), or the first running and the others for
        the scenario to move on (`"planned"`, see DerivedWorld.advance; `fail_one`: one of
        them fails), all set before the status, so that no answer shows the job COMPLETED
        without them. With late items (`late` more steps of its servers, or `late_items`), its
        endDateTime is now, within the grace, and the items wait (see release_late); else it
        settles at once (with actions running, once they ended)."""
        log = self.emulator.job_items(account_id, job_id)
        self.derived.launch(account_id, job_id, log, actions=actions, fail_one=fail_one)
        held = list(late_items or [])
        if late:
            held.extend(self.next_steps(account_id, job_id, late))
        if held:
            self.emulator.set_job_status(account_id, job_id, "COMPLETED")
            self.derived.job(account_id, job_id).completed = True
            self.late.append(LateItems(account_id, job_id, held))
        else:
            self.derived.job(account_id, job_id).completed = True
            self.settle_job(account_id, job_id)

    def settle_job(self, account_id: str, job_id: str, *, wait_out: bool = False) -> None:
        """Move the job's endDateTime past the grace (with `wait_out`, past the wait for its
        running post-launch actions too): it settles now, or once its actions ended. Its
        outcome must not have gone out before it settled."""
        plan = self.derived.job(account_id, job_id)
        if not plan.settled:
            self.check_unsettled(account_id, job_id)
        seconds = POST_LAUNCH_WAIT_SECONDS if wait_out else COMPLETED_JOB_GRACE_SECONDS
        ended = datetime.now(UTC) - timedelta(seconds=seconds) - SETTLE_MARGIN
        self.emulator.set_job_status(account_id, job_id, "COMPLETED", when=ended)
        plan.past_grace = True
        plan.past_wait = plan.past_wait or wait_out

    def advance_actions(self, account_id: str, job_id: str) -> int:
        """One step of the job's post-launch actions (DerivedWorld.advance); returns the
        statuses changed."""
        plan = self.derived.job(account_id, job_id)
        if plan.completed and not plan.settled:
            self.check_unsettled(account_id, job_id)
        return self.derived.advance(account_id, job_id)

    def check_unsettled(self, account_id: str, job_id: str) -> None:
        """A job not settled yet has sent no outcome (a problem if it has)."""
        outcome = self.derived.job(account_id, job_id).outcome_id
        bus, logs = self.cloud.derived_ids()
        if bus[outcome] or logs[outcome]:
            self.problems.append(
                f"the outcome of {account_id}/{job_id} went out before the job was settled "
                f"(EventBridge {bus[outcome]}, logs {logs[outcome]})"
            )

    def release_late(self) -> bool:
        """The late items of each job the exporter has seen COMPLETED and read to its end
        (its checkpoint says so, or it closed the job) become readable, and the job settles.
        Returns whether any did."""
        released = False
        for late in list(self.late):
            if not self._seen_completed(late):
                continue
            self.emulator.append_items(late.account_id, late.job_id, late.items)
            self.settle_job(late.account_id, late.job_id)
            self.late.remove(late)
            self.late_items += len(late.items)
            released = True
        return released

    def _seen_completed(self, late: LateItems) -> bool:
        state = self.cloud.state(late.account_id)
        job = state.jobs.get(late.job_id)
        if job is None:
            return late.job_id in state.closed  # closed too early: the ledger will say
        length = len(self.emulator.job_items(late.account_id, late.job_id))
        return job.completed_seen is not None and job.position >= length

    def next_steps(self, account_id: str, job_id: str, count: int) -> list[dict[str, Any]]:
        """`count` more steps of the servers the job started with (see grow)."""
        start = datetime.now(UTC) - timedelta(seconds=30 * count)
        steps = job_log(count + 2, start=start, rng=self.rng)[1:-1]  # no JOB_START/END
        return self.names.same_servers(account_id, job_id, steps)

    def grow(self, account_id: str, job_id: str, count: int) -> None:
        """A running job logs `count` more items, steps of the servers it started with (as an
        MGN job does: the inventory loaded before the first tick names them)."""
        if count > 0:
            self.emulator.append_items(
                account_id, job_id, self.next_steps(account_id, job_id, count)
            )

    def populate(
        self, total: int, *, accounts: tuple[str, ...], jobs_per_account: int = 2
    ) -> list[tuple[str, str]]:
        """`total` items over completed jobs of every account; returns (account, job) pairs."""
        slots = len(accounts) * jobs_per_account
        sizes = [max(1, total // slots)] * slots
        sizes[-1] += total - sum(sizes)
        pairs: list[tuple[str, str]] = []
        for index, size in enumerate(sizes):
            account = accounts[index % len(accounts)]
            pairs.append((account, self.add_job(account, size, fail_every=7)))
        return pairs

    def expected(self) -> dict[str, ItemKey]:
        return self.cloud.expected(self.jobs)

    # -- ticks ----------------------------------------------------------------------------------

    def dispatch(self) -> Invocation:
        """The schedule fires: the dispatcher runs (retried with the same event if it fails)."""
        self.names.load(self.emulator)
        self.ticks += 1
        when = self._tick_base + TICK_PERIOD * self.ticks
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": OWN_ACCOUNT,
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{OWN_ACCOUNT}:rule/mgn-job-log-exporter"],
            "detail": {},
        }
        for _ in range(1 + DISPATCHER_RETRIES):
            invocation = self.dispatchers.invoke(
                DISPATCHER_BUDGET_MS, event=event, handler="dispatcher"
            )
            invocation.tick = self.ticks
            with self._lock:
                self.invocations.append(invocation)
            if invocation.error is None:
                break
        return invocation

    def tick(self, *, until: Callable[[], bool] | None = None) -> None:
        """One tick: dispatch, then the pollers run until no message can be delivered and no
        worker runs, or until `until()`."""
        self.dispatch()
        self.pump(until=until)

    def pump(
        self,
        *,
        until: Callable[[], bool] | None = None,
        quiet: bool = True,
        tick_every: float | None = None,
        timeout: float = TICK_TIMEOUT_SECONDS,
    ) -> None:
        """Run the event source mapping's pollers until `until()`, or (with `quiet`) until no
        message can be delivered and no worker runs, or (without) the queue is empty. With
        `tick_every`, the schedule fires again every so many seconds meanwhile."""
        last_tick = time.monotonic()
        last_check = 0.0

        def done() -> bool:
            nonlocal last_tick, last_check
            now = time.monotonic()
            if tick_every is not None and now - last_tick >= tick_every:
                self.dispatch()
                last_tick = time.monotonic()
            if now - last_check < CHECK_EVERY_SECONDS:
                return False
            last_check = now
            if until is not None and until():
                return True
            return quiet and self._running == 0 and self.cloud.deliverable() == 0

        try:
            self.mapping.drain(timeout=timeout, until=done)
        except TimeoutError as exc:
            self.problems.append(f"tick {self.ticks}: {exc}")
            raise

    def drain(
        self,
        *,
        max_ticks: int,
        require_progress: bool = False,
        cold_every: int = 0,
        also: Callable[[], bool] | None = None,
    ) -> int:
        """Tick until every expected item is in both sinks (and `also()`); returns the ticks
        made. Then the hand-ons must stop by themselves (see `settle`).

        With `require_progress`, the hand-ons must make progress (see `check_progress`).
        """
        expected = self.expected()

        def done() -> bool:
            return not self.late and self.drained(expected) and (also is None or also())

        self.cold_every = cold_every
        made = 0
        # One more tick for late items: the exporter sees their job COMPLETED without them.
        ticks = max_ticks + (1 if self.late else 0)
        try:
            for _ in range(ticks):
                if self.late and self.release_late():
                    expected = self.expected()
                if done():
                    break
                made += 1
                self.dispatch()
                # Until done, or the queue is empty (a returned batch is waited for).
                self.pump(until=done, quiet=False)
            if not done():
                bus, logs = self.sinks()
                missing = sum(1 for e in expected if not (bus[e] and logs[e]))
                self.problems.append(
                    f"not drained after {ticks} ticks: {missing} items missing, "
                    f"{len(self.derived_missing())} derived events missing, "
                    f"{len(self.late)} jobs' late items held back ({self.undrained(expected)})"
                )
            self.settle()
        except TimeoutError:
            pass
        finally:
            self.cold_every = 0
        if require_progress:
            self.check_progress()
        return made

    def check_progress(self) -> None:
        """Every account an invocation hands on must have been exported a little, or be
        exported a little by the next invocation that gets it: a short budget may lose one
        invocation to a slow start (a cold start, slow calls), never two in a row."""
        idle: Counter[str] = Counter()
        stuck: dict[str, Invocation] = {}
        for run in sorted(self.worker_invocations(), key=lambda run: run.started_at):
            exported = {
                str(account["account_id"]): int(account.get("items_exported") or 0)
                for account in (run.report or {}).get("accounts", [])
            }
            for account, items in exported.items():
                if items:
                    idle[account] = 0
            for account in run.handed_on:
                if not exported.get(account):
                    idle[account] += 1
                    if idle[account] >= 2:
                        stuck.setdefault(account, run)
        if stuck:
            account, run = next(iter(stuck.items()))
            self.problems.append(
                f"accounts {sorted(stuck)} handed on twice in a row without an item exported, "
                f"e.g. {account} by ({run.budget_ms} ms, cold {run.cold}): {run.report}"
            )

    def settle(self) -> None:
        """Once nothing is left to export, the hand-ons must stop by themselves: within
        SETTLE_INVOCATIONS worker invocations no continuation request is left (an account
        handed on again and again would keep workers busy forever: a livelock)."""
        before = len(self.worker_invocations())

        def settled() -> bool:
            return self._running == 0 and not self.cloud.continuations()

        def spent() -> bool:
            return len(self.worker_invocations()) - before >= SETTLE_INVOCATIONS

        self.pump(until=lambda: settled() or spent(), quiet=False)
        if not settled():
            looping = Counter(
                account for run in self.worker_invocations()[before:] for account in run.handed_on
            )
            self.problems.append(
                f"livelock: {SETTLE_INVOCATIONS} invocations after everything was exported, "
                f"accounts are still handed on: {dict(looping)}"
            )

    # -- worker invocations ---------------------------------------------------------------------

    def worker_invocations(self) -> list[Invocation]:
        with self._lock:
            return [run for run in self.invocations if run.handler == "worker"]

    def accounts_with(self, outcome: str) -> Counter[str]:
        """How many worker invocations ended each account with `outcome` ("failed", ...)."""
        return Counter(
            account
            for run in self.worker_invocations()
            for account, ended in run.outcomes().items()
            if ended == outcome
        )

    def invoke_worker(
        self,
        event: dict[str, Any],
        *,
        kill_after_s: float | None = None,
        kill_when: threading.Event | None = None,
        origin: str = "poller",
    ) -> Invocation:
        """One worker invocation with `event`, in a warm environment (every `cold_every`-th in
        one that is then recycled)."""
        with self._lock:
            self._worker_invocations += 1
            retire = bool(self.cold_every) and self._worker_invocations % self.cold_every == 0
        invocation = self.workers.invoke(
            self.budget_ms,
            kill_after_s=kill_after_s,
            kill_when=kill_when,
            event=event,
            retire=retire,
        )
        return self.record(invocation, event, origin=origin)

    def record(self, invocation: Invocation, event: dict[str, Any], *, origin: str) -> Invocation:
        """Book a worker invocation (a scenario's own ones too)."""
        invocation.origin = origin
        invocation.accounts = tuple(accounts_of(event))
        invocation.tick = self.ticks
        with self._lock:
            self.invocations.append(invocation)
        return invocation

    def _run_batch(self, event: dict[str, Any]) -> Any:
        """The function the event source mapping invokes with each batch."""
        with self._lock:
            self._running += 1
        try:
            if self.before_batch is not None:
                self.before_batch(event)
            kill_after = self.kill_plan(event) if self.kill_plan is not None else None
            switch = self.kill_switch
            watched = kill_after is not None or switch is not None
            before = self._snapshot() if watched else None
            invocation = self.invoke_worker(
                event,
                kill_after_s=kill_after,
                kill_when=switch.event if switch is not None else None,
            )
            if invocation.killed:
                assert before is not None
                if switch is not None and switch.event.is_set():
                    self.kill_switch = None
                    switch.killed()
                after_s = invocation.kill_after_s or 0.0
                self._account_for_kill(after_s, accounts_of(event), before)
                raise WorkerKilled(f"killed after {after_s:.2f} s")
            if invocation.error is not None:
                raise FunctionError(invocation.error)
            return invocation.response
        finally:
            with self._lock:
                self._running -= 1

    def _snapshot(self) -> tuple[Sinks, Sinks]:
        """What both sinks hold: (items, derived events), each (EventBridge, logs)."""
        return self.sinks(), self.cloud.derived_ids()

    def _account_for_kill(
        self,
        after_s: float,
        accounts: list[str],
        before: tuple[Sinks, Sinks],
    ) -> None:
        """Count what the killed worker delivered past the checkpoint of its batch's accounts
        (items past the saved positions, derived events not marked taken).

        Nobody else works on those accounts meanwhile: their message groups are in flight with
        the killed batch (and a batch that came back finds the lease free, or skips).
        """
        # The killed worker's last call still lands: wait until the proxy has none in flight.
        if not self.proxy.wait_idle(timeout=60):
            self.problems.append("the proxy never went idle after a kill")
        after = self._snapshot()
        keys = {
            event_id: key for event_id, key in self.expected().items() if key.account_id in accounts
        }
        derived = {
            event_id: key
            for event_id, key in self.derived.allowed().items()
            if key.account_id in accounts
        }
        states = {account: self.cloud.state(account) for account in accounts}
        resent = [
            sum(
                count
                for event_id, count in (now - then).items()
                if event_id in keys and beyond_checkpoint(keys[event_id], states)
            )
            for then, now in zip(before[0], after[0], strict=True)
        ]
        resent_derived = [
            sum(
                count
                for event_id, count in (now - then).items()
                if event_id in derived and derived_beyond(event_id, derived[event_id], sink, states)
            )
            for sink, then, now in zip(("eventbridge", "logs"), before[1], after[1], strict=True)
        ]
        with self._lock:
            self.kills.append(Kill(after_s, tuple(accounts), resent[0], resent[1], *resent_derived))

    # -- sinks ----------------------------------------------------------------------------------

    def sinks(self) -> tuple[Counter[str], Counter[str]]:
        return self.cloud.bus_ids(), self.cloud.log_ids()

    def drained(self, expected: dict[str, ItemKey]) -> bool:
        """Every item of `expected`, and every derived event the world requires, in both."""
        bus, logs = self.sinks()
        items = all(bus[event_id] and logs[event_id] for event_id in expected)
        return items and not self.derived_missing()

    def derived_missing(self) -> dict[str, DerivedKey]:
        """The derived events the world requires now that a sink lacks."""
        bus, logs = self.cloud.derived_ids()
        return {
            event_id: key
            for event_id, key in self.derived.required(self.jobs).items()
            if not (bus[event_id] and logs[event_id])
        }

    def undrained(self, expected: dict[str, ItemKey]) -> str:
        """Which accounts miss items, and what each invocation did with them (a problem's
        details: a world left undrained must say why without a rerun)."""
        bus, logs = self.sinks()
        missing = Counter(
            key.account_id
            for event_id, key in expected.items()
            if not (bus[event_id] and logs[event_id])
        )
        lines = []
        for account, count in sorted(missing.items()):
            history = [
                f"{run.origin}@{run.started_at - self.started:.1f}s:"
                f"{run.outcomes().get(account, '?')}"
                f"{'+handed-on' if account in run.handed_on else ''}"
                f"{'(killed)' if run.killed else ''}"
                for run in self.worker_invocations()
                if account in run.accounts or account in run.outcomes()
            ]
            lines.append(f"{account}: {count} items missing; invocations {history}")
        derived = Counter(
            f"{key.account_id} {key.detail_type}" for key in self.derived_missing().values()
        )
        if derived:
            lines.append(f"derived events missing: {dict(derived)}")
        return "; ".join(lines)

    # -- checks ---------------------------------------------------------------------------------

    def limit_violations(self) -> int:
        return sum(
            1
            for record in self.proxy.records
            if LIMIT_ERRORS.get(record.operation) is not None
            and record.error_code == LIMIT_ERRORS[record.operation]
        )

    def result(self, name: str | None = None) -> Result:
        bus, logs = self.sinks()
        problems = list(self.problems)
        violations = self.limit_violations()
        if violations:
            problems.append(f"{violations} calls broke a service limit")
        with self._lock:
            invocations = list(self.invocations)
        result = tally(
            name or self.scenario,
            self.seed,
            self.expected(),
            bus,
            logs,
            invocations,
            page_bound=self.page_bound,
            calls=sum(self.proxy.calls.values()),
            ticks=self.ticks,
            dlq=len(self.cloud.dead_letters()),
            problems=problems,
            derived=check_derived(
                self.derived, self.jobs, self.cloud.delivered_derived(), self.names
            ),
            derived_page_bound=self.derived.most_per_account(),
        )
        result.late_items = self.late_items
        if self.cloud.strays:
            result.problems.append(f"bus entries of unknown DetailTypes: {dict(self.cloud.strays)}")
        names = check_names(self.names, self.cloud.delivered_copies(), invocations)
        result.nameable, result.named = names.nameable, names.named
        result.problems.extend(names.problems)
        result.observed = observe(invocations, ticks=self.ticks, dead_letters=result.dlq)
        result.seconds = time.monotonic() - self.started
        return result


def crash_visibility_timeout(budget_ms: int) -> int:
    """A visibility timeout after which a killed worker's batch finds the account's lease
    expired, as it does in the stack (whose timeout is 6 times the function's): the lease
    outlives the killed invocation's deadline by LEASE_SLACK_SECONDS, and the deadline starts
    a little after the receive (the crash accounting reads the sinks in between)."""
    return math.ceil(budget_ms / 1000) + LEASE_SLACK_SECONDS + 2
