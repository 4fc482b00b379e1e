"""The scenarios. Each builds its world, injects its faults over the wire, runs the exporter in
processes of its own until everything is drained, and counts item by item what reached both
sinks (see ``ledger.tally`` for what lost, duplicates and their bound mean).

Every scenario takes a seed (faults, kill instants, data) and a size: ``quick`` for CI,
``full`` for the documented full run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from faultsuite.cloud import OWN_ACCOUNT, ItemKey
from faultsuite.harness import Harness
from faultsuite.ledger import Result
from mgn_emulator import make_item
from mgn_exporter.checkpoint import AccountState
from mgn_exporter.events import TRUNCATION_MARKER

SECOND_ACCOUNT = "222222222222"
THIRD_ACCOUNT = "333333333333"
THREE_ACCOUNTS = (OWN_ACCOUNT, SECOND_ACCOUNT, THIRD_ACCOUNT)
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "mgn-job-log-event.schema.json"


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


def _beyond_checkpoint(key: ItemKey, states: dict[str, AccountState]) -> bool:
    """Whether a delivered item is past its job's saved checkpoint (so it will be sent again)."""
    state = states[key.account_id]
    if key.job_id in state.jobs:
        return key.position >= state.jobs[key.job_id].position
    return key.job_id not in state.closed


def crash(options: Options) -> list[Result]:
    """SIGKILL the exporter at seeded random instants, many times, then rerun until drained.

    Nothing may be lost, and every duplicate must come from a crash: after each kill, the items
    the killed invocation delivered past the saved checkpoint (the ones the next run sends again)
    are counted, and must fit in one page.
    """
    page = 100
    budget_ms = 2_000
    crashes_wanted = options.pick(4, 30)
    accounts = THREE_ACCOUNTS + (("444444444444", "555555555555") if options.full else ())
    with _harness(options, "crash", accounts=accounts, max_page_size=page) as h:
        h.populate(options.pick(300, 2000), accounts=accounts)
        # Running jobs keep logging between ticks, so that there is work for every kill.
        running = [(account, h.add_job(account, 20, completed=False)) for account in accounts]
        crashes = 0
        in_flight: list[tuple[int, int]] = []
        for _ in range(crashes_wanted * 6):
            if crashes >= crashes_wanted:
                break
            for account, job in running:
                h.grow(account, job, h.rng.randint(0, 30))
            bus_before, logs_before = h.sinks()
            kill_after = h.rng.uniform(0.02, 1.5)
            invocation = h.invoke(budget_ms, kill_after_s=kill_after)
            if not invocation.killed:
                if not invocation.items_exported:
                    time.sleep(0.5)  # the accounts are leased by killed invocations
                continue
            crashes += 1
            bus_after, logs_after = h.sinks()
            keys = h.expected()
            states = {a: h.cloud.state(a) for a in accounts}
            resent = [
                sum(
                    count
                    for event_id, count in (after - before).items()
                    if event_id in keys and _beyond_checkpoint(keys[event_id], states)
                )
                for before, after in ((bus_before, bus_after), (logs_before, logs_after))
            ]
            in_flight.append((resent[0], resent[1]))
            if max(resent) > page:
                h.problems.append(
                    f"crash {crashes} (after {kill_after:.2f} s) left {resent} items past the "
                    f"checkpoint, more than one page ({page})"
                )
        if crashes < crashes_wanted:
            h.problems.append(f"only {crashes} of {crashes_wanted} kills hit an invocation")
        for account, job in running:
            h.emulator.set_job_status(account, job, "COMPLETED")
        h.drain(10_000, max_invocations=60)
        result = h.result()
        # Every duplicate is one the crashes announced: nothing else repeats an item.
        announced_bus = sum(bus for bus, _ in in_flight)
        announced_logs = sum(logs for _, logs in in_flight)
        if result.duplicates_bus > announced_bus or result.duplicates_logs > announced_logs:
            result.problems.append(
                f"duplicates {result.duplicates_bus}/{result.duplicates_logs} exceed what the "
                f"crashes left in flight ({announced_bus}/{announced_logs})"
            )
        return [result]


# -- overlap ----------------------------------------------------------------------------------


def overlap(options: Options) -> list[Result]:
    """Several invocations at once on the same accounts, round after round: no item twice."""
    concurrency = 4
    with _harness(options, "overlap", accounts=THREE_ACCOUNTS) as h:
        h.populate(options.pick(600, 3000), accounts=THREE_ACCOUNTS, jobs_per_account=3)
        # Calls slowed at random widen the windows in which invocations interleave.
        h.proxy.inject("*", "slow", probability=0.1, delay=0.05)
        expected = h.expected()
        for _ in range(options.pick(12, 40)):
            if h.drained(expected):
                break
            h.invoke_together([4_000] * concurrency)
        if not h.drained(expected):
            h.problems.append("not drained by the concurrent rounds")
        skipped = sum(
            1
            for run in h.invocations
            for outcome in run.outcomes().values()
            if outcome == "skipped"
        )
        if not skipped:
            h.problems.append("no invocation ever found an account leased: no overlap happened")
        result = h.result()
        # Stricter than the general bound: overlapping invocations never export an item twice.
        if result.duplicates:
            result.problems.append(f"{result.duplicates} items exported twice")
        return [result]


# -- deadline ---------------------------------------------------------------------------------


def deadline(options: Options) -> list[Result]:
    """Budgets from very short to normal: every invocation returns before its deadline and
    makes progress, until drained (pages sized by the exporter itself: no page cap)."""
    budgets = [1_500, 3_000] if not options.full else [1_500, 3_000, 10_000, 60_000]
    results = []
    for budget_ms in budgets:
        name = f"deadline-{budget_ms}ms"
        with _harness(options, name, accounts=(OWN_ACCOUNT, SECOND_ACCOUNT)) as h:
            h.populate(options.pick(500, 2000), accounts=(OWN_ACCOUNT, SECOND_ACCOUNT))
            h.proxy.inject("*", "slow", probability=0.03, delay=0.05)
            h.drain(budget_ms, max_invocations=200, require_progress=True, cold_every=4)
            results.append(h.result())
    return results


# -- throttling, 5xx, resets, slow answers --------------------------------------------------------


def throttling(options: Options) -> list[Result]:
    """A throttling storm on every service (MGN, EventBridge, Logs, DynamoDB) at once."""
    with _harness(options, "throttling", accounts=THREE_ACCOUNTS) as h:
        h.populate(options.pick(200, 1500), accounts=THREE_ACCOUNTS)
        # One call in five (in seven for the quick run) throttled, retries included.
        h.proxy.inject("*", "throttle", probability=0.2 if options.full else 0.15)
        h.drain(10_000, max_invocations=80)
        return [h.result()]


def server_errors(options: Options) -> list[Result]:
    """500s, 503s, connection resets and slow answers, on every operation."""
    with _harness(options, "server-errors", accounts=THREE_ACCOUNTS) as h:
        h.populate(options.pick(300, 1500), accounts=THREE_ACCOUNTS)
        h.proxy.inject("*", "http_500", probability=0.08)
        h.proxy.inject("*", "http_503", probability=0.04)
        h.proxy.inject("*", "reset", probability=0.04)
        h.proxy.inject("*", "slow", probability=0.05, delay=0.2)
        h.drain(10_000, max_invocations=80)
        return [h.result()]


def partial_failures(options: Options) -> list[Result]:
    """PutEvents answering 200 with a random subset of entries failed (FailedEntryCount)."""
    with _harness(options, "partial-failures", accounts=THREE_ACCOUNTS) as h:
        h.populate(options.pick(400, 2000), accounts=THREE_ACCOUNTS)
        h.proxy.inject("events.PutEvents", "partial_failure", probability=0.3, fraction=0.3)
        h.proxy.inject(
            "events.PutEvents",
            "partial_failure",
            probability=0.1,
            fraction=0.5,
            error_code="ThrottlingException",
        )
        h.drain(10_000, max_invocations=60)
        return [h.result()]


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
    with _harness(options, "log-rejections", accounts=(OWN_ACCOUNT,)) as h:
        count = options.pick(300, 1500)
        # Items from 16 days ago to now: the oldest are past what CloudWatch Logs takes.
        h.add_job(OWN_ACCOUNT, count, items=_spread_items(count, days=16, rng_seed=options.seed))
        h.add_job(OWN_ACCOUNT, count // 3)
        h.proxy.inject("logs.PutLogEvents", "log_rejection", probability=0.15, too_old=2)
        h.proxy.inject("logs.PutLogEvents", "log_rejection", probability=0.15, too_new=5)
        h.proxy.inject("logs.PutLogEvents", "log_rejection", by_timestamp=True)
        h.drain(10_000, max_invocations=40)
        return [h.result()]


def limits(options: Options) -> list[Result]:
    """Items near the 256 KB entry limit and spread over days: batches must respect every limit
    (PutEvents 256 KB and 10 entries; PutLogEvents 1 MiB, 10,000 events, 24 hours)."""
    with _harness(options, "limits", accounts=(OWN_ACCOUNT,)) as h:
        count = options.pick(200, 1000)
        items = _spread_items(count, days=3, rng_seed=options.seed, big_every=10)
        h.add_job(OWN_ACCOUNT, count, items=items)
        h.drain(20_000, max_invocations=30)
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
    entry EventBridge refuses for good: each fails alone, and every other item is exported."""
    uninitialized, refused_account = "444444444444", "555555555555"
    accounts = (OWN_ACCOUNT, uninitialized, SECOND_ACCOUNT)
    with _harness(
        options,
        "bad-input",
        accounts=accounts,
        unknown_accounts=(refused_account,),  # AccessDeniedException
        max_page_size=200,
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
        # While the poison entry and the refused job stand, everything else drains.
        h.drain(10_000, max_invocations=15)
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
        h.emulator.set_job_status(SECOND_ACCOUNT, poisoned, "COMPLETED")
        h.jobs[OWN_ACCOUNT].append(refused_job)
        h.jobs[SECOND_ACCOUNT].append(poisoned)
        h.drain(10_000, max_invocations=10)
        result = h.result()
        result.problems.extend(_check_details(h, result))
        failed = Counter(
            account
            for run in h.invocations
            for account, outcome in run.outcomes().items()
            if outcome == "failed"
        )
        if set(failed) != {uninitialized, refused_account}:
            result.problems.append(f"accounts failed: {dict(failed)}")
        return [result]


def _check_details(h: Harness, result: Result) -> list[str]:
    """Every Detail EventBridge delivered matches the published schema, cut values marked."""
    schema = json.loads(SCHEMA_PATH.read_text())
    problems = []
    marker_tail = TRUNCATION_MARKER.split("{removed}")[1]
    for detail in h.cloud.details.values():
        try:
            jsonschema.validate(detail, schema)
        except jsonschema.ValidationError as exc:
            problems.append(f"Detail {detail.get('eventId')} breaks the schema: {exc.message}")
        for path in detail.get("truncated", []):
            value: Any = detail
            for part in path.split("."):
                value = value[int(part)] if isinstance(value, list) else value[part]
            if not (isinstance(value, str) and value.endswith(marker_tail)):
                problems.append(f"{path} of {detail['eventId']} is cut without the marker")
    return problems[:5]


SCENARIOS = [
    Scenario("crash", "no loss, duplicates only from crashes, one page each", crash),
    Scenario("overlap", "concurrent invocations never export an item twice", overlap),
    Scenario("deadline", "every invocation returns in time and makes progress", deadline),
    Scenario("throttling", "no loss under a throttling storm", throttling),
    Scenario("server-errors", "no loss under 5xx, resets, slow answers", server_errors),
    Scenario("partial-failures", "no loss under PutEvents partial failures", partial_failures),
    Scenario("log-rejections", "no loss when PutLogEvents rejects events", log_rejections),
    Scenario("limits", "every batch within the service limits", limits),
    Scenario("bad-input", "bad items exported; one failure stops nothing else", bad_input),
]
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
