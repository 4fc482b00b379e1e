"""The scenarios. Each builds its world, injects its faults over the wire, runs the functions in
processes of their own through the fan-out path (ticks: the dispatcher, the work queue, the
workers; see ``harness``) until everything is drained, and counts item by item what reached
both sinks (see ``ledger.tally`` for what lost, duplicates and their bound mean), and the
same of the derived events (see ``derived``).

Every scenario takes a seed (faults, kill instants, data) and a size: ``quick`` for CI,
``full`` for the documented full run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from local.fault_proxy import CallRecord
from local.fault_proxy.holds import Hold
from local.faultsuite.cloud import MAX_RECEIVE_COUNT, OWN_ACCOUNT
from local.faultsuite.environments import Environments
from local.faultsuite.harness import (
    Harness,
    crash_visibility_timeout,
    derived_beyond,
    receive_counts,
)
from local.faultsuite.ledger import Result, check_derived_bound
from local.faultsuite.names import NOT_ENRICHED
from local.mgn_emulator import make_item
from mgn_exporter.derived_events import JOB_OUTCOME, POST_LAUNCH_ACTION
from mgn_exporter.events import TRUNCATION_MARKER
from mgn_exporter.export_batch import BATCH_ITEMS
from mgn_exporter.work_request import BadMessage, parse_body

SECOND_ACCOUNT = "222222222222"
THIRD_ACCOUNT = "333333333333"
THREE_ACCOUNTS = (OWN_ACCOUNT, SECOND_ACCOUNT, THIRD_ACCOUNT)
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "mgn-job-log-event.schema.json"
# Ticks a scenario that drains in one go may add, as the schedule would: a worker whose
# account's share of the deadline runs out just as a job's log is read to its end sends that
# job's derived events at the account's next export (it does not hand the account on for
# them), so a loaded machine may need the next tick to deliver them.
EXTRA_TICKS = 2


@dataclass(frozen=True)
class Options:
    moto_url: str
    seed: int
    full: bool
    workdir: Path

    def pick(self, quick: int, full: int) -> int:
        return full if self.full else quick


ScenarioFunction = Callable[[Options], list[Result]]


@dataclass(frozen=True)
class Scenario:
    name: str
    promise: str
    run: ScenarioFunction


def _harness(options: Options, name: str, **kwargs: Any) -> Harness:
    return Harness(options.moto_url, name, options.seed, workdir=options.workdir, **kwargs)


# -- crash ------------------------------------------------------------------------------------


def crash(options: Options) -> list[Result]:
    """SIGKILL workers mid-batch at seeded random instants, many times, then tick until drained.

    A killed worker is a function error: its batch comes back after the visibility timeout
    (set so that the killed invocation's lease has expired by then, as in the stack). Nothing
    may be lost, and every duplicate must come from a kill: after each kill, the items the
    killed worker delivered past the saved checkpoint of its batch's accounts (the ones their
    next export sends again) are counted, and must fit in one batch of the exporter (the items
    the sinks take between two saves of an account's state: BATCH_ITEMS, several of MGN's
    pages of 100 here). The same of the derived events: every repeat of one is one a kill
    delivered without its mark in the saved state. The running jobs then complete with late
    items.
    """
    page = 100
    budget_ms = 2_000
    crashes_wanted = options.pick(3, 30)
    accounts = (*THREE_ACCOUNTS, "444444444444") + (("555555555555",) if options.full else ())
    with _harness(
        options,
        "crash",
        accounts=accounts,
        max_page_size=page,
        budget_ms=budget_ms,
        visibility_timeout=crash_visibility_timeout(budget_ms),
        # Two accounts a batch: a kill mid-batch returns both, and the others go on meanwhile.
        # (The quick run, one: its kills land side by side, each holding one account.)
        batch_size=options.pick(1, 2),
        spare=True,
    ) as h:
        h.populate(options.pick(300, 2000), accounts=accounts)
        # Running jobs keep logging between ticks, so that there is work for every kill.
        running = [(account, h.add_job(account, 20, completed=False)) for account in accounts]

        def kill_plan(event: dict[str, Any]) -> float | None:
            if len(h.kills) >= crashes_wanted or h.rng.random() < 0.3:
                return None
            # A batch killed on every delivery would end in the dead-letter queue: that is a
            # poison batch (scenario dead-letter), not a crash. (The quick run kills first
            # deliveries only: each kill holds its accounts for a visibility timeout.)
            if max(receive_counts(event)) > options.pick(1, MAX_RECEIVE_COUNT - 3):
                return None
            return h.rng.uniform(0.05, 1.2)

        h.kill_plan = kill_plan
        for _ in range(crashes_wanted * 10):
            if len(h.kills) >= crashes_wanted:
                break
            # Killed batches hold their accounts until they come back: tick once one is free.
            _wait_for(lambda: len(h.cloud.groups_in_flight()) < len(accounts), timeout=60)
            for account, job in running:
                h.grow(account, job, h.rng.randint(0, 30))
            h.tick()
        h.kill_plan = None
        for number, kill in enumerate(h.kills, 1):
            if max(kill.resent_bus, kill.resent_logs) > BATCH_ITEMS:
                h.problems.append(
                    f"kill {number} (after {kill.after_s:.2f} s, accounts {kill.accounts}) left "
                    f"{kill.resent_bus}/{kill.resent_logs} items past the checkpoint, more "
                    f"than one batch ({BATCH_ITEMS})"
                )
        if len(h.kills) < crashes_wanted:
            h.problems.append(f"only {len(h.kills)} of {crashes_wanted} kills hit a worker")
        # The running jobs complete with their last items readable late (see Harness.complete).
        for account, job in running:
            h.complete(account, job, late=2)
        h.drain(max_ticks=10)
        result = h.result()
        result.problems.extend(_announced_duplicates(h, result))
        if result.dlq:
            result.problems.append(f"{result.dlq} work requests went to the dead-letter queue")
        return [result]


def _announced_duplicates(h: Harness, result: Result) -> list[str]:
    """Every duplicate is one the kills announced (delivered past the saved checkpoint):
    nothing else repeats an item or a derived event."""
    problems = []
    for kind, bus, logs, announced_bus, announced_logs in (
        (
            "item",
            result.duplicates_bus,
            result.duplicates_logs,
            sum(kill.resent_bus for kill in h.kills),
            sum(kill.resent_logs for kill in h.kills),
        ),
        (
            "derived event",
            result.derived_duplicates_bus,
            result.derived_duplicates_logs,
            sum(kill.resent_derived_bus for kill in h.kills),
            sum(kill.resent_derived_logs for kill in h.kills),
        ),
    ):
        if bus > announced_bus or logs > announced_logs:
            problems.append(
                f"{kind} duplicates {bus}/{logs} exceed what the kills left in flight "
                f"({announced_bus}/{announced_logs})"
            )
    return problems


def _no_repeats(result: Result) -> list[str]:
    """Nothing was interrupted: every item and every derived event once in each sink."""
    result.bound = result.derived_bound = 0
    check_derived_bound(result)
    return [
        f"{extra} duplicates in {sink}, the bound is 0"
        for sink, extra in (
            ("EventBridge", result.duplicates_bus),
            ("Logs", result.duplicates_logs),
        )
        if extra
    ]


def _wait_for(condition: Callable[[], bool], *, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


# -- overlap ----------------------------------------------------------------------------------


def overlap(options: Options) -> list[Result]:
    """Four pollers, many accounts, ticks dispatched while the queue still drains, and copies
    of in-flight work requests delivered to another worker: every account is on one worker at
    a time (FIFO groups keep the pollers apart, the lease turns the copies away), and no item
    is exported twice."""
    concurrency = 4
    # Long enough that a worker whose call is held while a copy meets its lease (see Copies)
    # keeps most of its budget on a loaded machine.
    budget_ms = 10_000
    others = [f"{600000000001 + index:012d}" for index in range(options.pick(11, 23))]
    accounts = (OWN_ACCOUNT, *others)
    with _harness(
        options,
        "overlap",
        accounts=accounts,
        budget_ms=budget_ms,
        concurrency=concurrency,
        # Batches of five: twelve accounts or more keep every poller busy.
        batch_size=5,
        environments=concurrency,
        # The stack's (six worker timeouts): batches wait for the ticks and the copies before
        # they are invoked, and must not come back to another poller meanwhile.
        visibility_timeout=6 * budget_ms // 1000,
    ) as h:
        h.populate(options.pick(300, 3000), accounts=accounts, jobs_per_account=3)
        # Calls slowed at random widen the windows in which workers interleave.
        h.proxy.inject("*", "slow", probability=0.1, delay=0.05)
        expected = h.expected()
        ticks = TicksWhileDraining(h, count=2)
        copies = Copies(h, wanted=options.pick(3, 6))

        def before_batch(event: dict[str, Any]) -> None:
            ticks.before_batch(event)
            copies.maybe_deliver(event)

        h.before_batch = before_batch
        h.dispatch()
        try:
            h.pump(until=lambda: h.drained(expected), quiet=False)
            h.before_batch = None
            copies.close()
            h.settle()
        except TimeoutError:
            pass
        finally:
            h.before_batch = None
            copies.close()
        if not h.drained(expected):
            # The schedule's next ticks (see EXTRA_TICKS), without copies.
            h.drain(max_ticks=EXTRA_TICKS)
        result = h.result()
        result.problems.extend(_overlap_checks(h, copies.wanted))
        if copies.holds_timed_out:
            result.problems.append(
                f"{copies.holds_timed_out} held calls were let go before their copy met the lease"
            )
        # Stricter than the general bound: no item nor derived event is ever exported twice.
        if result.duplicates:
            result.problems.append(f"{result.duplicates} items exported twice")
        result.derived_bound = 0
        check_derived_bound(result)
        return [result]


class TicksWhileDraining:
    """The schedule firing while the queue drains: `count` more ticks, dispatched while the
    first batch waits to be invoked. Its accounts are in flight and none of their items is
    exported yet, so the ticks' requests meet work under way however fast the machine drains
    (ticks on a timer could all come after a fast drain)."""

    def __init__(self, h: Harness, *, count: int) -> None:
        self.h = h
        self.count = count
        self._lock = threading.Lock()
        self._fired = False

    def before_batch(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self._fired:
                return
            self._fired = True
        for _ in range(self.count):
            self.h.dispatch()


class Copies:
    """Copies of work requests a poller is working on, delivered to another worker at once
    (what an at-least-once queue, or a message redriven by hand, could do): the lease must turn
    them away.

    Each copy is of the first account of a batch about to be invoked, one copy at a time, on
    the first batches (the next one waits its turn). The proxy lets the poller's worker take
    that account's lease, then holds its next call for the account until the copy has been
    turned away: the copy meets the lease on any machine, however little work the account
    has. The copies run in an execution environment of their own, warmed up first, that calls
    AWS directly (the hold is on the pollers' workers only)."""

    def __init__(self, h: Harness, *, wanted: int) -> None:
        self.h = h
        self.wanted = wanted
        self.delivered = 0
        self._turn = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._holds: list[Hold] = []
        env = h.cloud.worker_env()
        env["AWS_ENDPOINT_URL"] = h.cloud.moto_url
        env["AWS_ENDPOINT_URL_MGN"] = h.emulator.endpoint_url
        self._envs = Environments(env, h.log_path)
        self._envs.prewarm(1)
        self._envs.invoke(h.budget_ms, event={"Records": []})  # the cold start, off the books

    def maybe_deliver(self, event: dict[str, Any]) -> None:
        """Called by a poller before it invokes its batch: copy its first request, until
        `wanted` copies were delivered."""
        if self.delivered >= self.wanted:
            return
        records = [r for r in event.get("Records", []) if _account_of(r) is not None]
        if not records:
            return
        self._turn.acquire()  # released by the copy's thread once the copy was turned away
        if self.delivered >= self.wanted:
            self._turn.release()
            return
        account = _account_of(records[0])
        assert account is not None
        # Set before the worker is invoked: its first call for the account passes the hold.
        # At most half the poller's budget: its deadline runs while its call is held.
        hold = self.h.proxy.hold(_OnceLeased(account), timeout=self.h.budget_ms / 2000)
        self._holds.append(hold)
        thread = threading.Thread(
            target=self._deliver, args=(account, records[0], hold), daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _deliver(self, account: str, record: dict[str, Any], hold: Hold) -> None:
        try:
            # Once seen taken, the lease stays taken: its release is a call the proxy holds.
            leased = _wait_for(
                lambda: not self.h.cloud.lease_free(account),
                timeout=self.h.budget_ms / 1000,
                every=0.02,
            )
            if not leased:
                return  # the worker never got to the account: another batch brings a copy
            copy = dict(record)
            copy["attributes"] = dict(copy.get("attributes", {}))
            copy["attributes"]["SentTimestamp"] = str(int(time.time() * 1000))
            self.delivered += 1
            invocation = self._envs.invoke(self.h.budget_ms, event={"Records": [copy]})
            self.h.record(invocation, {"Records": [copy]}, origin="copy")
        finally:
            hold.release()
            self._turn.release()

    @property
    def holds_timed_out(self) -> int:
        """Poller calls let go before their copy had met the lease (a copy slower than half a
        worker's budget): such a copy proves nothing, and the check says so."""
        return sum(hold.timed_out for hold in self._holds)

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=120)
        self._envs.close()


class _OnceLeased:
    """Matches the calls that carry `account`'s id once its lease was taken. The first
    UpdateItem of an account's export takes its lease (every write of its state is conditional
    on holding it), and a later call for it (another write, the release) comes before the
    lease is given back."""

    def __init__(self, account: str) -> None:
        self._account = account.encode()
        self._lock = threading.Lock()
        self._leased = False

    def __call__(self, operation: str, body: bytes) -> bool:
        if self._account not in body:
            return False
        with self._lock:
            if self._leased:
                return True
            self._leased = operation == "dynamodb.UpdateItem"
            return False


def _account_of(record: dict[str, Any]) -> str | None:
    try:
        return parse_body(str(record.get("body", ""))).account_id
    except BadMessage:
        return None


def _overlap_checks(h: Harness, copies_wanted: int) -> list[str]:
    problems = []
    runs = h.worker_invocations()
    polled = [run for run in runs if run.origin == "poller" and not run.killed]
    copies = [run for run in runs if run.origin == "copy"]
    # FIFO groups: a poller's batch holds its accounts from receive to delete, so two pollers'
    # invocations that share an account never overlap in time.
    for index, first in enumerate(polled):
        for second in polled[index + 1 :]:
            shared = set(first.accounts) & set(second.accounts)
            if shared and first.started_at < second.ended_at and second.started_at < first.ended_at:
                problems.append(f"accounts {sorted(shared)} on two workers at once")
    most = max(
        (
            sum(1 for other in polled if other.started_at <= run.started_at < other.ended_at)
            for run in polled
        ),
        default=0,
    )
    if most < 2:
        problems.append(f"at most {most} workers ran at once: no concurrency happened")
    ticks_while_draining = h.ticks - 1
    if ticks_while_draining < 2:
        problems.append(f"only {ticks_while_draining} ticks were dispatched while draining")
    lost = sum(run.counter("LeasesLost") for run in runs)
    if lost:
        problems.append(f"{lost} leases lost")
    # Every copy reached its account while the poller's worker held the lease (see Copies).
    let_in = [run.outcomes() for run in copies if set(run.outcomes().values()) != {"skipped"}]
    if len(copies) < copies_wanted:
        problems.append(f"only {len(copies)} of {copies_wanted} copies were delivered")
    elif let_in:
        problems.append(f"copies met their account's lease and were not turned away: {let_in}")
    return problems


# -- deadline ---------------------------------------------------------------------------------


def deadline(options: Options) -> list[Result]:
    """Worker budgets from very short to normal: every invocation returns before its deadline
    and exports something before it hands the rest on, until the hand-ons drained the backlog
    (pages sized by the exporter itself: no page cap)."""
    budgets = [1_500, 3_000] if not options.full else [1_500, 3_000, 10_000, 60_000]
    results = []
    for budget_ms in budgets:
        name = f"deadline-{budget_ms}ms"
        accounts = (OWN_ACCOUNT, SECOND_ACCOUNT)
        with _harness(options, name, accounts=accounts, budget_ms=budget_ms) as h:
            h.populate(options.pick(250, 2000), accounts=accounts)
            h.proxy.inject("*", "slow", probability=0.03, delay=0.05)
            h.drain(max_ticks=4, require_progress=True, cold_every=4)
            results.append(h.result())
    return results


# -- throttling, 5xx, resets, slow answers --------------------------------------------------------


def throttling(options: Options) -> list[Result]:
    """A throttling storm on every service the functions call (MGN, EventBridge, Logs,
    DynamoDB, and SQS: the dispatcher's requests and the workers' hand-ons) at once."""
    with _harness(options, "throttling", accounts=THREE_ACCOUNTS, budget_ms=10_000) as h:
        h.populate(options.pick(150, 1500), accounts=THREE_ACCOUNTS)
        # One call in five (in seven for the quick run) throttled, retries included.
        h.proxy.inject("*", "throttle", probability=0.2 if options.full else 0.15)
        h.drain(max_ticks=10)
        return [h.result()]


def server_errors(options: Options) -> list[Result]:
    """500s, 503s, connection resets and slow answers, on every operation (SQS included)."""
    with _harness(options, "server-errors", accounts=THREE_ACCOUNTS, budget_ms=10_000) as h:
        h.populate(options.pick(300, 1500), accounts=THREE_ACCOUNTS)
        h.proxy.inject("*", "http_500", probability=0.08)
        h.proxy.inject("*", "http_503", probability=0.04)
        h.proxy.inject("*", "reset", probability=0.04)
        h.proxy.inject("*", "slow", probability=0.05, delay=0.2)
        h.drain(max_ticks=10)
        return [h.result()]


def partial_failures(options: Options) -> list[Result]:
    """PutEvents answering 200 with a random subset of entries failed (FailedEntryCount)."""
    with _harness(options, "partial-failures", accounts=THREE_ACCOUNTS, budget_ms=10_000) as h:
        h.populate(options.pick(300, 2000), accounts=THREE_ACCOUNTS)
        h.proxy.inject("events.PutEvents", "partial_failure", probability=0.3, fraction=0.3)
        h.proxy.inject(
            "events.PutEvents",
            "partial_failure",
            probability=0.1,
            fraction=0.5,
            error_code="ThrottlingException",
        )
        h.drain(max_ticks=10)
        return [h.result()]


# -- one sink down for many ticks -----------------------------------------------------------------


def sink_outage(options: Options) -> list[Result]:
    """One sink refusing every call (AccessDenied, as a service control policy or a deleted bus
    would) for many ticks while MGN keeps logging, then back. The other sink goes on alone and
    gets every item once: an outage of any length repeats nothing into it (so the alert rules
    behind EventBridge fire once per item). The accounts fail while it lasts (their requests
    retried with backoff, some ending in the dead-letter queue: they carry no progress); once
    the sink is back it catches up from its own position. The derived events too: during the
    outage every status and settled outcome is in the healthy sink once, none in the other,
    and each goes to the other once it is back. No crash, no partial failure: the bound on
    duplicates is 0, in both sinks, for items and derived events."""
    return [
        _one_sink_down(options, "logs-outage", "logs.PutLogEvents", "LogsDeliveryFailed"),
        _one_sink_down(options, "eventbridge-outage", "events.PutEvents", "EventsDeliveryFailed"),
    ]


def _one_sink_down(options: Options, name: str, operation: str, delivery_metric: str) -> Result:
    healthy_is_bus = operation.startswith("logs.")
    with _harness(options, name, accounts=THREE_ACCOUNTS, budget_ms=10_000) as h:
        h.populate(options.pick(150, 1500), accounts=THREE_ACCOUNTS)
        running = {account: h.add_job(account, 10, completed=False) for account in THREE_ACCOUNTS}
        h.proxy.inject(operation, "http_500", status=400, error_code="AccessDeniedException")
        for _ in range(options.pick(3, 10)):
            for account, job in running.items():
                h.grow(account, job, options.pick(10, 40))
            logged = h.expected()
            # Until the healthy sink has what MGN logged: the failed requests come back after
            # their backoff (the next tick's wait behind them in their message group).
            with contextlib.suppress(TimeoutError):
                h.dispatch()
                h.pump(until=functools.partial(_has_all, h, healthy_is_bus, logged), quiet=False)
        # The schedule's next ticks, if the healthy sink misses something (see EXTRA_TICKS).
        for _ in range(EXTRA_TICKS):
            if _has_all(h, healthy_is_bus, logged):
                break
            with contextlib.suppress(TimeoutError):
                h.dispatch()
                h.pump(until=functools.partial(_has_all, h, healthy_is_bus, logged), quiet=False)
        during = _outage_checks(h, healthy_is_bus=healthy_is_bus)
        h.proxy.clear(operation)
        for account, job in running.items():
            h.grow(account, job, 5)
            h.complete(account, job, late=2)
        h.drain(max_ticks=6)
        result = h.result()
        result.problems.extend(during)
        result.problems.extend(_no_repeats(result))
        if not sum(run.counter(delivery_metric) for run in h.worker_invocations()):
            result.problems.append(f"{delivery_metric} never counted the outage")
        return result


def _split(h: Harness, healthy_is_bus: bool) -> tuple[Counter[str], Counter[str]]:
    """The sinks' deliveries by eventId: (the healthy sink's, the one that is down's)."""
    bus, logs = h.sinks()
    return (bus, logs) if healthy_is_bus else (logs, bus)


def _missing(delivered: Counter[str], expected: dict[str, Any]) -> int:
    return sum(1 for event_id in expected if not delivered[event_id])


def _has_all(h: Harness, healthy_is_bus: bool, expected: dict[str, Any]) -> bool:
    """The healthy sink holds every item of `expected`, and every derived event the world
    requires (an outcome goes to each sink once that sink has its job's log to its end)."""
    healthy = _split_derived(h, healthy_is_bus)[0]
    return not _missing(_split(h, healthy_is_bus)[0], expected) and not _missing(
        healthy, h.derived.required(h.jobs)
    )


def _split_derived(h: Harness, healthy_is_bus: bool) -> tuple[Counter[str], Counter[str]]:
    bus, logs = h.cloud.derived_ids()
    return (bus, logs) if healthy_is_bus else (logs, bus)


def _outage_checks(h: Harness, *, healthy_is_bus: bool) -> list[str]:
    """At the end of the outage: the healthy sink holds every item MGN has logged, once; the
    sink that is down holds none; every account failed while it lasted."""
    problems = []
    healthy, down = _split(h, healthy_is_bus)
    missing = _missing(healthy, h.expected())
    if missing:
        problems.append(f"during the outage, {missing} items never reached the healthy sink")
    repeated = sum(count - 1 for count in healthy.values() if count > 1)
    if repeated:
        problems.append(f"during the outage, the healthy sink got {repeated} items twice")
    if sum(down.values()):
        problems.append(f"the sink that was down holds {sum(down.values())} items")
    # Derived events: each one the world requires (statuses, and the outcomes of the settled
    # jobs, whose logs the healthy sink holds to their end) once in the healthy sink, none in
    # the other.
    healthy_derived, down_derived = _split_derived(h, healthy_is_bus)
    required = h.derived.required(h.jobs)
    kinds = Counter(key.detail_type for key in required.values())
    if not (kinds[POST_LAUNCH_ACTION] and kinds[JOB_OUTCOME]):
        problems.append(f"the world required derived events {dict(kinds)}: it proves little")
    missing = _missing(healthy_derived, required)
    if missing:
        problems.append(
            f"during the outage, {missing} derived events never reached the healthy sink"
        )
    repeated = sum(count - 1 for count in healthy_derived.values() if count > 1)
    if repeated:
        problems.append(f"during the outage, the healthy sink got {repeated} derived events twice")
    if sum(down_derived.values()):
        problems.append(f"the sink that was down holds {sum(down_derived.values())} derived events")
    failed = set(h.accounts_with("failed"))
    if failed != set(THREE_ACCOUNTS):
        problems.append(f"accounts failed during the outage: {sorted(failed)}")
    return problems


# -- post-launch actions moving tick by tick -------------------------------------------------


def post_launch_actions(options: Options) -> list[Result]:
    """Post-launch actions that go on after their jobs completed, status after status over
    several ticks, with PutEvents failing entries at random, and one worker killed between
    publishing derived events and saving that they were taken.

    Each account has a cutover job completed with its last items readable late and its
    actions running (it settles once the items came and every action ended), a test job
    settled at once (its actions' final statuses only), and a cutover job whose actions
    never end (it settles when the wait for them runs out: its outcome says so, with the
    actions still running). Between two steps (the next action IN_PROGRESS, the running one
    SUCCESS or FAILED) the functions run until everything shown is in both sinks: every status
    each action showed must be there, once, save the copies the kill and the partial failures
    may repeat (the same eventId); no outcome before its job settled (checked at each step);
    each outcome with the world's counts. The kill: the proxy holds the first state write that
    follows a PutEvents of derived events, the worker is SIGKILLed meanwhile and the write
    never lands, so that what the worker sent goes again (a bounded repeat it must announce)."""
    accounts = (OWN_ACCOUNT, SECOND_ACCOUNT)
    budget_ms = 3_000
    with _harness(
        options,
        "post-launch-actions",
        accounts=accounts,
        budget_ms=budget_ms,
        # One worker at a time, one account a batch: the kill meets the worker that published.
        concurrency=1,
        batch_size=1,
        visibility_timeout=crash_visibility_timeout(budget_ms),
    ) as h:
        settling: list[tuple[str, str]] = []
        waiting_out: list[tuple[str, str]] = []
        for account in accounts:
            for _ in range(options.pick(1, 3)):
                cutover = h.add_job(
                    account, 30, initiated_by="START_CUTOVER", fail_every=7, completed=False
                )
                h.add_job(account, options.pick(40, 200), fail_every=7)
                stuck = h.add_job(account, 20, initiated_by="START_CUTOVER", completed=False)
                h.complete(account, cutover, late=2, actions="planned", fail_one=True)
                h.complete(account, stuck, actions="planned")
                settling.append((account, cutover))
                waiting_out.append((account, stuck))

        def partial_failures() -> None:
            h.proxy.inject("events.PutEvents", "partial_failure", probability=0.3, fraction=0.5)
            h.proxy.inject(
                "events.PutEvents",
                "partial_failure",
                probability=0.1,
                fraction=0.5,
                error_code="ThrottlingException",
            )

        partial_failures()
        # The first ticks: every item (the late ones once their jobs were seen COMPLETED),
        # the first actions' IN_PROGRESS, the settled job's statuses and outcome.
        h.drain(max_ticks=6)
        # The stuck jobs' wait runs out while their first actions run.
        for account, job in waiting_out:
            h.settle_job(account, job, wait_out=True)
        # The first step's statuses meet the kill, without faults on PutEvents meanwhile: the
        # killed worker delivered what it published before its save was held (the repeat is
        # certain, not a draw). The partial failures are back for the steps after.
        kill = KillBetweenPublishAndSave(h)
        h.proxy.clear("events.PutEvents")
        kill.arm()
        for _ in range(10):
            changed = sum(h.advance_actions(account, job) for account, job in settling)
            if not changed:
                break
            # After the kill, until its account was exported again: what it left unsaved
            # went again (the same eventIds) and is marked taken now.
            h.drain(max_ticks=6, also=kill.caught_up)
            if kill.done and not kill.restored:
                partial_failures()
                kill.restored = True
        result = h.result()
        result.problems.extend(_post_launch_checks(h, settling, waiting_out, kill))
        return [result]


class KillBetweenPublishAndSave:
    """Kills the worker that published derived events at its next state write: the proxy
    holds that UpdateItem (the save, or the release, that would mark them taken), the harness
    SIGKILLs the worker, and the held call is then answered with a connection reset (never
    forwarded): the marks are not saved, and the next export sends those events again."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.event = threading.Event()
        self.hold: Hold | None = None
        self.done = False
        self.restored = False
        self._published = threading.Event()

    def arm(self) -> None:
        self.hold = self.h.proxy.hold(self._matches)
        self.h.kill_switch = self

    def _matches(self, operation: str, body: bytes) -> bool:
        if self.event.is_set():
            return False
        if operation == "events.PutEvents" and any(
            detail_type.encode() in body for detail_type in (POST_LAUNCH_ACTION, JOB_OUTCOME)
        ):
            self._published.set()
            return False
        if operation == "dynamodb.UpdateItem" and self._published.is_set():
            self.event.set()  # the worker is killed; this call waits for `killed`
            return True
        return False

    def killed(self) -> None:
        assert self.hold is not None
        self.h.proxy.inject("dynamodb.UpdateItem", "reset", times=1)
        self.hold.release()
        self.done = True

    def caught_up(self) -> bool:
        """Before the kill, or once every derived event of the killed worker's accounts that
        either sink holds is marked taken by both in the saved state."""
        if not self.done or not self.h.kills:
            return True
        accounts = self.h.kills[-1].accounts
        bus, logs = self.h.cloud.derived_ids()
        states = {account: self.h.cloud.state(account) for account in accounts}
        return not any(
            derived_beyond(event_id, key, sink, states)
            for event_id, key in self.h.derived.allowed().items()
            if key.account_id in accounts
            for sink, delivered in (("eventbridge", bus), ("logs", logs))
            if delivered[event_id]
        )


def _post_launch_checks(
    h: Harness,
    settling: list[tuple[str, str]],
    waiting_out: list[tuple[str, str]],
    kill: KillBetweenPublishAndSave,
) -> list[str]:
    """The world held what the scenario is about, and the kill landed where it should."""
    problems = []
    plans = [h.derived.job(account, job) for account, job in settling + waiting_out]
    actions = [a for plan in plans for s in plan.servers for a in s.actions]
    if not any(len(a.shown) > 1 for a in actions):
        problems.append("no action showed two statuses: nothing moved across ticks")
    if not any(a.status == "FAILED" for a in actions):
        problems.append("no action failed")
    if not any(s.launch_status == "FAILED" for plan in plans for s in plan.servers):
        problems.append("no server failed its launch")
    if not all(plan.settled and not plan.running for plan in plans[: len(settling)]):
        problems.append("a job with late items and running actions never settled")
    if not any(plan.waited_out for plan in plans[len(settling) :]):
        problems.append("no job settled with its actions running (the wait never ran out)")
    if not h.late_items:
        problems.append("no late items")
    if not kill.done:
        problems.append("the kill between publishing derived events and saving never happened")
    else:
        (last,) = h.kills
        if not (last.resent_derived_bus and last.resent_derived_logs):
            problems.append(
                f"the kill left {last.resent_derived_bus}/{last.resent_derived_logs} derived "
                "events unsaved: it did not land between their publishing and the save"
            )
    return problems


# -- MGN's names unreadable for many ticks --------------------------------------------------------

INVENTORY_CALLS = ("mgn.DescribeSourceServers", "mgn.ListApplications", "mgn.ListWaves")
# The pause after a failed inventory read in the workers' environments: the exporter's 300 s
# (enrichment.RETRY_AFTER_FAILURE_SECONDS, on the environment's own wall clock) scaled down, as
# the suite scales its other waits (see faultsuite.worker).
INVENTORY_RETRY_SECONDS = 1
# Waited once no worker can still be reading, so that every environment's pause has passed
# (with a margin for the wall clock, which the pause is measured on).
INVENTORY_RETRY_WAIT_SECONDS = INVENTORY_RETRY_SECONDS + 0.5


def inventory_outage(options: Options) -> list[Result]:
    """MGN refusing the calls that name events for several ticks while the accounts keep
    logging: AccessDeniedException on DescribeSourceServers, ListApplications and ListWaves
    (the IAM actions not deployed in an account) for the first half, then ListWaves throttled
    past the retries while the other calls answer (a read that half succeeds names nothing).
    Every item is exported exactly once (bound 0: an unreadable inventory interrupts nothing
    and fails no account); every event of those ticks goes out without names, each counted in
    EventsNotEnriched; once MGN answers again and the pause after a failed read has passed
    (300 s in the stack, 1 s here), the later events of the same servers carry their names."""
    accounts = THREE_ACCOUNTS if options.full else (OWN_ACCOUNT, SECOND_ACCOUNT)
    with _harness(
        options,
        "inventory-outage",
        accounts=accounts,
        # One account a batch and a budget no page comes near: a read is started only with
        # enrichment.MIN_USABLE_SECONDS of the account's share left, which it has on any machine.
        budget_ms=30_000,
        batch_size=1,
        # One poller, so one warm execution environment meets every account: each account's
        # read fails in it during the outage, and names come back only by its retry after the
        # pause (a fresh environment would read at once and prove nothing of the pause).
        concurrency=1,
        # The quick run's throttled reads give up after one retry (a second at most); the full
        # run's after the stack's five attempts.
        max_attempts=None if options.full else 2,
        enrichment_retry_seconds=INVENTORY_RETRY_SECONDS,
    ) as h:
        h.populate(options.pick(100, 1000), accounts=accounts)
        running = {account: h.add_job(account, 10, completed=False) for account in accounts}
        for operation in INVENTORY_CALLS:
            h.proxy.inject(operation, "http_500", status=403, error_code="AccessDeniedException")
        outage_ticks = options.pick(2, 4)
        throttled_from = 0
        for tick in range(outage_ticks):
            if tick == outage_ticks // 2:
                for operation in INVENTORY_CALLS:
                    h.proxy.clear(operation)
                throttled_from = len(h.proxy.records)
                h.proxy.inject("mgn.ListWaves", "throttle")
            for account, job in running.items():
                h.grow(account, job, options.pick(10, 40))
            logged = h.expected()
            with contextlib.suppress(TimeoutError):
                h.dispatch()
                h.pump(until=functools.partial(h.drained, logged), quiet=False)
            # Everything logged is delivered: no worker reads any more. Once the pause has
            # passed, the next tick's reads are tried again (and the last tick's have ended).
            time.sleep(INVENTORY_RETRY_WAIT_SECONDS)
        h.proxy.clear("mgn.ListWaves")
        outage = _InventoryOutage(set(h.expected()), h.proxy.records, throttled_from)
        for account, job in running.items():
            h.grow(account, job, options.pick(10, 40))
            h.complete(account, job, late=2)
        h.drain(max_ticks=3)
        result = h.result()
        result.problems.extend(_no_repeats(result))
        result.problems.extend(outage.checks(h, result))
        result.problems.extend(_check_details(h, result))
        return [result]


@dataclass(frozen=True)
class _InventoryOutage:
    """What the outage left: the items logged while it lasted, and the proxy's records of it
    (those from `throttled_from` on are of its throttled half)."""

    during: set[str]
    records: list[CallRecord]
    throttled_from: int

    def checks(self, h: Harness, result: Result) -> list[str]:
        problems = []
        failed = h.accounts_with("failed")
        if failed:
            problems.append(f"accounts failed while MGN did not list their names: {dict(failed)}")
        refused, throttled = (
            self.records[: self.throttled_from],
            self.records[self.throttled_from :],
        )
        if not any(
            r.operation in INVENTORY_CALLS and r.error_code == "AccessDeniedException"
            for r in refused
        ):
            problems.append("no inventory call was refused: the outage was never met")
        if not any(
            r.operation == "mgn.ListWaves" and r.error_code == "ThrottlingException"
            for r in throttled
        ):
            problems.append("ListWaves was never throttled: the second half was never met")
        if not any(r.operation == "mgn.ListApplications" and r.status == 200 for r in throttled):
            problems.append(
                "no read half succeeded (ListApplications answered, then ListWaves not)"
            )
        copies = [
            copy
            for copy in h.cloud.delivered_copies()
            if h.names.names(copy.account_id, copy.server_id) is not None
        ]
        named_during = {c.event_id for c in copies if c.event_id in self.during and c.names}
        if named_during:
            problems.append(f"{len(named_during)} events carry names while MGN refused them")
        unnamed_after = {
            c.event_id for c in copies if c.event_id not in self.during and not c.names
        }
        if unnamed_after:
            problems.append(f"{len(unnamed_after)} events after the outage carry no names")
        servers_during = {(c.account_id, c.server_id) for c in copies if c.event_id in self.during}
        servers_after = {
            (c.account_id, c.server_id) for c in copies if c.event_id not in self.during
        }
        if not servers_after:
            problems.append("no event after the outage named a server")
        elif not servers_after <= servers_during:
            problems.append(
                f"{len(servers_after - servers_during)} servers named after the outage logged "
                "nothing during it: the scenario proves nothing of them"
            )
        # Each event of the outage was shaped once and went out unnamed: the counter says so,
        # exactly while no export was cut short (hand-ons, failures), else at least.
        unnamed = len({c.event_id for c in copies if not c.names})
        counted = sum(run.counter(NOT_ENRICHED) for run in h.worker_invocations())
        exact = not result.hand_ons and not failed
        if counted < unnamed or (exact and counted != unnamed):
            problems.append(
                f"{NOT_ENRICHED} counted {counted} events; {unnamed} went out without names"
            )
        return problems


# -- CloudWatch Logs: rejections and limits -----------------------------------------------------


def _spread_items(
    count: int, *, days: float, rng_seed: int, big_every: int = 0
) -> list[dict[str, Any]]:
    """MGN-like items spread over `days` up to now; every `big_every`-th carries ~200 KB."""
    import random

    rng = random.Random(rng_seed)
    now = datetime.now(UTC)
    step = timedelta(days=days) / max(1, count)
    items = []
    for index in range(count):
        when = now - timedelta(days=days) + step * index
        if big_every and index % big_every == 0:
            error = "".join(rng.choices('abcdefghij\n"é✓', k=rng.randint(150_000, 250_000)))
            items.append(make_item("CONVERSION_FAIL", when, "s-0123456789abcdef0", raw_error=error))
        else:
            items.append(make_item("SNAPSHOT_START", when, "s-0123456789abcdef0"))
    return items


def log_rejections(options: Options) -> list[Result]:
    """PutLogEvents rejecting events (too old, too new) like CloudWatch Logs, and at random."""
    with _harness(options, "log-rejections", accounts=(OWN_ACCOUNT,), budget_ms=10_000) as h:
        count = options.pick(300, 1500)
        # Items from 16 days ago to now: the oldest are past what CloudWatch Logs takes.
        h.add_job(OWN_ACCOUNT, count, items=_spread_items(count, days=16, rng_seed=options.seed))
        h.add_job(OWN_ACCOUNT, count // 3)
        h.proxy.inject("logs.PutLogEvents", "log_rejection", probability=0.15, too_old=2)
        h.proxy.inject("logs.PutLogEvents", "log_rejection", probability=0.15, too_new=5)
        h.proxy.inject("logs.PutLogEvents", "log_rejection", by_timestamp=True)
        h.drain(max_ticks=10)
        return [h.result()]


def limits(options: Options) -> list[Result]:
    """Items near the 256 KB entry limit and spread over days: batches must respect every limit
    (PutEvents 256 KB and 10 entries; PutLogEvents 1 MiB, 10,000 events, 24 hours)."""
    with _harness(options, "limits", accounts=(OWN_ACCOUNT,), budget_ms=20_000) as h:
        count = options.pick(80, 1000)
        items = _spread_items(count, days=3, rng_seed=options.seed, big_every=10)
        h.add_job(OWN_ACCOUNT, count, items=items)
        # A job of several servers beside it: post-launch actions among the big entries.
        h.add_job(OWN_ACCOUNT, 30)
        h.drain(max_ticks=10)
        result = h.result()
        result.problems.extend(_check_details(h, result))
        return [result]


# -- bad input --------------------------------------------------------------------------------

POISON = "POISON-PILL-7f3a"


def _odd_items(now: datetime) -> list[dict[str, Any]]:
    """Odd items MGN's wire format can carry (botocore drops members its model lacks, so odd
    structures only reach the shaping code in tests/unit and tests/faults' properties)."""
    server = "s-0123456789abcdef0"
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return [
        make_item("CONVERSION_FAIL", now, server, raw_error="E" * 300_000),
        make_item("CONVERSION_FAIL", now, server, raw_error="\u0000\u001f\u202e✓😀" * 60_000),
        {
            "logDateTime": stamp,
            "event": "LAUNCH_FAILED",
            "eventData": {
                "sourceServerID": "s-" + "x" * 200_000,
                "conversionServerID": "i-" + "é" * 150_000,
                "targetInstanceID": '\n"' * 100_000,
                "rawError": "R" * 200_000,
            },
        },
        make_item("SNAPSHOT_FAIL", now, server, raw_error="naïve \u0000 ✓ \U0001f600 \u202e"),
        make_item("SNAPSHOT_FAIL", now, server, raw_error="lone \ud800 surrogate"),
        {"logDateTime": "not-a-time", "event": "JOB_START", "eventData": {}},
        {"logDateTime": "", "event": "", "eventData": {}},
        {"logDateTime": "2026-02-30T10:00:00Z", "event": "JOB_START", "eventData": {}},
        {"logDateTime": "2026-11-25T10:00:00+25:00", "event": "JOB_START", "eventData": {}},
        {"logDateTime": "0001-01-01T00:00:00+01:00", "event": "JOB_START", "eventData": {}},
        {"logDateTime": "9999-12-31T23:59:59.999Z", "event": "JOB_END", "eventData": {}},
        {"event": "SOMETHING_NEW_FAILED", "eventData": {"sourceServerID": "weird"}},
        {"logDateTime": stamp, "event": "N" * 300_000, "eventData": {}},
        {"logDateTime": stamp},
        {"eventData": {"attemptCount": -1, "maxAttemptsCount": 2**40}},
        make_item("SNAPSHOT_FAIL", now - timedelta(days=20), server, raw_error="20 days old"),
        make_item("JOB_END", now + timedelta(days=3)),
    ]


def bad_input(options: Options) -> list[Result]:
    """Odd items, an uninitialized account, an account MGN refuses, a job MGN refuses and an
    entry EventBridge refuses for good: each fails alone (the uninitialized account is recorded
    as such, not failed), and every other item is exported."""
    uninitialized, refused_account = "444444444444", "555555555555"
    accounts = (OWN_ACCOUNT, uninitialized, SECOND_ACCOUNT)
    with _harness(
        options,
        "bad-input",
        accounts=accounts,
        unknown_accounts=(refused_account,),  # AccessDeniedException
        max_page_size=200,
        budget_ms=10_000,
    ) as h:
        h.emulator.add_account(uninitialized, initialized=False, managed=True)
        now = datetime.now(UTC)
        odd = _odd_items(now)
        h.add_job(OWN_ACCOUNT, len(odd), items=odd)
        refused_job = h.add_job(OWN_ACCOUNT, 30, expected=False)
        h.emulator.inject_fault(
            "DescribeJobLogItems", "ValidationException", times=None, job_id=refused_job
        )
        poisoned = h.add_job(SECOND_ACCOUNT, 60, completed=False, expected=False)
        poison = make_item("CONVERSION_FAIL", now, "s-0123456789abcdef0", raw_error=POISON)
        h.emulator.append_items(SECOND_ACCOUNT, poisoned, [poison])
        h.grow(SECOND_ACCOUNT, poisoned, 30)
        h.add_job(SECOND_ACCOUNT, 120)
        h.proxy.inject(
            "events.PutEvents",
            "partial_failure",
            detail_contains=POISON,
            error_code="MalformedDetail",
        )

        # While the poison entry and the refused job stand, everything else drains (the two
        # failing accounts' requests come back after their retry backoff meanwhile), and the
        # poisoned job is exported up to the refused entry.
        def at_the_poison() -> bool:
            job = h.cloud.state(SECOND_ACCOUNT).jobs.get(poisoned)
            return job is not None and job.position >= 60

        h.drain(max_ticks=5, also=at_the_poison)
        # The poisoned job stops at its refused entry (position 60): the checkpoint and the
        # log group never pass it (EventBridge may hold the rest of its batch).
        poisoned_items = h.cloud.expected({SECOND_ACCOUNT: [poisoned]})
        _, logs = h.sinks()
        passed = [k for e, k in poisoned_items.items() if k.position >= 60 and logs[e]]
        position = h.cloud.state(SECOND_ACCOUNT).jobs[poisoned].position
        if passed or position != 60:
            h.problems.append(f"the refused entry was passed: {len(passed)} logged, at {position}")
        # When EventBridge takes the entry and MGN the job again, they drain too.
        h.proxy.clear()
        h.emulator.clear_faults()
        h.complete(SECOND_ACCOUNT, poisoned)
        h.jobs[OWN_ACCOUNT].append(refused_job)
        h.jobs[SECOND_ACCOUNT].append(poisoned)
        h.drain(max_ticks=5)
        result = h.result()
        result.problems.extend(_check_details(h, result))
        failed = h.accounts_with("failed")
        if set(failed) != {refused_account}:
            result.problems.append(f"accounts failed: {dict(failed)}")
        recorded = set(h.accounts_with("uninitialized"))
        if recorded != {uninitialized}:
            result.problems.append(f"accounts recorded uninitialized: {sorted(recorded)}")
        return [result]


# -- the dead-letter queue ------------------------------------------------------------------------


def dead_letter(options: Options) -> list[Result]:
    """A poison account (MGN refuses it on every request) and malformed work requests: each
    goes to the dead-letter queue after maxReceiveCount deliveries, while every other account
    drains through hand-ons; no other account ever fails or reaches the dead-letter queue."""
    poison = "999999999999"  # configured, unknown to MGN: AccessDeniedException every time
    healthy = (*THREE_ACCOUNTS, "444444444444")
    max_receive_count = options.pick(3, MAX_RECEIVE_COUNT)
    with _harness(
        options,
        "dead-letter",
        accounts=healthy,
        unknown_accounts=(poison,),
        budget_ms=2_000,
        max_receive_count=max_receive_count,
    ) as h:
        h.populate(options.pick(250, 1500), accounts=healthy)
        # Each healthy account's backlog needs more than a budget on any machine (a quarter of
        # a second per ten items, at least 60 items each): they drain through hand-ons,
        # interleaved with the poison messages' retries.
        h.proxy.inject("events.PutEvents", "slow", delay=0.25)
        malformed = [
            "{not json",
            json.dumps({"version": 99, "accountId": SECOND_ACCOUNT, "reason": "schedule"}),
        ]
        for index, body in enumerate(malformed):
            h.cloud.sqs.send_message(
                QueueUrl=h.cloud.work_queue_url,
                MessageBody=body,
                MessageGroupId=f"malformed-{index}",
                MessageDeduplicationId=f"malformed-{index}",
            )
        h.drain(max_ticks=5)
        # Then until the poison and the malformed requests have left the queue.
        with contextlib.suppress(TimeoutError):
            h.pump(quiet=False, timeout=60 + 10 * max_receive_count * h.visibility_timeout)
        result = h.result()
        letters = h.cloud.dead_letters()
        poisoned = [letter for letter in letters if letter.group_id == poison]
        bodies = {letter.body for letter in letters}
        others = [
            letter.group_id
            for letter in letters
            if letter.group_id != poison and letter.body not in malformed
        ]
        if len(poisoned) != h.ticks:
            result.problems.append(
                f"{len(poisoned)} of the poison account's {h.ticks} requests are dead letters"
            )
        if not set(malformed) <= bodies:
            result.problems.append(f"malformed requests missing from the dead letters: {bodies}")
        if others:
            result.problems.append(f"requests of accounts {others} went to the dead-letter queue")
        early = [letter for letter in letters if letter.receive_count < max_receive_count]
        if early:
            result.problems.append(f"{len(early)} dead letters were delivered too few times")
        failed = set(h.accounts_with("failed"))
        if failed != {poison}:
            result.problems.append(f"accounts failed: {sorted(failed)}")
        bad = sum(run.counter("BadMessages") for run in h.worker_invocations())
        if bad < len(malformed) * max_receive_count:
            result.problems.append(f"only {bad} deliveries of malformed requests were refused")
        if not result.hand_ons:
            result.problems.append("no backlog was handed on: the budget is too generous")
        return [result]


def _check_details(h: Harness, result: Result) -> list[str]:
    """Every Detail EventBridge delivered matches the published schema, cut values marked."""
    schema = json.loads(SCHEMA_PATH.read_text())
    # One validator for every Detail (jsonschema.validate checks the schema at each call).
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    marker_tail = TRUNCATION_MARKER.split("{removed}")[1]
    for detail in h.cloud.details.values():
        error = jsonschema.exceptions.best_match(validator.iter_errors(detail))
        if error is not None:
            problems.append(f"Detail {detail.get('eventId')} breaks the schema: {error.message}")
        for path in detail.get("truncated", []):
            value: Any = detail
            for part in path.split("."):
                value = value[int(part)] if isinstance(value, list) else value[part]
            if not (isinstance(value, str) and value.endswith(marker_tail)):
                problems.append(f"{path} of {detail['eventId']} is cut without the marker")
    return problems[:5]


SCENARIOS = [
    Scenario("crash", "no loss, duplicates only from crashes, one page each", crash),
    Scenario("overlap", "one worker per account at a time; no item exported twice", overlap),
    Scenario("deadline", "every invocation returns in time; hand-ons drain the rest", deadline),
    Scenario("throttling", "no loss under a throttling storm", throttling),
    Scenario("server-errors", "no loss under 5xx, resets, slow answers", server_errors),
    Scenario("partial-failures", "no loss under PutEvents partial failures", partial_failures),
    Scenario("sink-outage", "one sink down never repeats items into the other", sink_outage),
    Scenario(
        "post-launch-actions",
        "each action status and settled outcome in both sinks; repeats only from the kill",
        post_launch_actions,
    ),
    Scenario(
        "inventory-outage",
        "names unreadable: every item once, unnamed and counted; named again after",
        inventory_outage,
    ),
    Scenario("log-rejections", "no loss when PutLogEvents rejects events", log_rejections),
    Scenario("limits", "every batch within the service limits", limits),
    Scenario("bad-input", "bad items exported; one failure stops nothing else", bad_input),
    Scenario("dead-letter", "poison account and malformed requests end in the DLQ", dead_letter),
]
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
