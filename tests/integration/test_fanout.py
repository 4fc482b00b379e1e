"""The fan-out end to end: the real dispatcher and worker through a FIFO work queue in moto.

The dispatcher enqueues one work request per account; the local event source mapping
(esm_emulator) polls the queue and invokes the worker, in this process or in worker processes
that can be killed. Each test asserts what reached EventBridge and the log group, what the
checkpoints hold, and what is left in the work queue and its dead-letter queue.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from local.fault_proxy import FaultProxy, Rule
from local.faultsuite.environments import Worker
from local.mgn_emulator import make_item
from mgn_exporter import export_batch
from mgn_exporter import exporter as exporter_module
from mgn_exporter.settings import get_dispatch_settings, get_settings
from mgn_exporter.work_queue import WorkQueue
from tests.integration.conftest import OWN_ACCOUNT, World, event_ids
from tests.integration.fanout import (
    Expected,
    Invocation,
    QueueWorld,
    SummaryLog,
    account_of,
    capturing_summaries,
    visibility_timeout_for,
    worker_environment,
)
from tests.integration.worlds import add_job, grow

TICK = "2026-11-25T12:00:00Z"
NEXT_TICK = "2026-11-25T12:05:00Z"
PAGE = 100  # the emulator's page size where a test bounds repeats by the page in flight

MakeQueueWorld = Callable[..., QueueWorld]


@pytest.fixture
def summaries() -> Iterator[SummaryLog]:
    with capturing_summaries() as capture:
        yield capture


@pytest.fixture
def make_queue_world(
    world: World, summaries: SummaryLog, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeQueueWorld]:
    """The work queue and its dead-letter queue, the functions configured to use them."""

    def make(*, visibility_timeout: int = 3, max_receive_count: int = 3) -> QueueWorld:
        queues = QueueWorld(
            world,
            summaries,
            visibility_timeout=visibility_timeout,
            max_receive_count=max_receive_count,
        )
        monkeypatch.setenv("WORK_QUEUE_URL", queues.url)
        get_settings.cache_clear()
        get_dispatch_settings.cache_clear()
        return queues

    yield make
    get_dispatch_settings.cache_clear()


def use_accounts(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ACCOUNTS", value)
    get_dispatch_settings.cache_clear()


def managed_accounts(world: World, count: int) -> list[str]:
    """`count` accounts of the global view besides the caller's own."""
    accounts = [f"{200000000001 + n:012d}" for n in range(count)]
    for account in accounts:
        world.emulator.add_account(account, initialized=True, managed=True)
    return accounts


def bus_details(world: World) -> list[dict[str, Any]]:
    return [event["detail"] for event in world.delivered_events()]


def log_details(world: World) -> list[dict[str, Any]]:
    return [record["detail"] for record in world.log_records()]


def keys_of(details: list[dict[str, Any]]) -> Counter[tuple[str, str, int]]:
    return Counter((d["accountID"], d["jobID"], d["position"]) for d in details)


def assert_each_item_once(details: list[dict[str, Any]], expected: Expected, sink: str) -> None:
    keys = keys_of(details)
    assert set(keys) == expected.keys, f"{sink}: items missing or unexpected"
    assert max(keys.values()) == 1, f"{sink}: items delivered twice"
    ids = event_ids(details)
    assert len(ids) == len(expected) and max(ids.values()) == 1, f"{sink}: eventIds repeated"


# -- 1. every item once across many accounts ---------------------------------------------------


def test_every_item_of_many_accounts_is_exported_once_and_an_idle_tick_costs_the_idle_calls(
    world: World, make_queue_world: MakeQueueWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 12 accounts of a global view (the caller's own and 11 managed), two jobs each
    queues = make_queue_world(visibility_timeout=20)
    accounts = [OWN_ACCOUNT, *managed_accounts(world, 11)]
    expected = Expected()
    for n, account in enumerate(accounts):
        for j in range(2):
            count = 4 + (n + 5 * j) % 9
            job = add_job(world.emulator, account, count, seed=100 + 2 * n + j)
            expected.add(account, job, count)
    use_accounts(monkeypatch, "auto")
    # When the schedule fires and four workers drain the queue
    dispatched = queues.dispatch(TICK)
    mapping = queues.drain(budget_ms=20_000, concurrency=4, timeout=60)
    # Then one request per account was queued, and every account was exported (an account
    # whose share of a batch's time ran out was handed on, and only its rest exported again)
    assert dispatched["accountsDispatched"] == 12
    hand_ons = sum(queues.handed_on().values())
    assert mapping.stats.records == 12 + hand_ons
    assert mapping.stats.returned == 0 and mapping.stats.function_errors == 0
    exported = {
        account
        for invocation in queues.invocations
        for account, outcome in invocation.outcomes().items()
        if outcome == "exported"
    }
    assert exported == set(accounts)
    # And every item is in EventBridge and in the log group once, under its own account
    bus, logs = bus_details(world), log_details(world)
    assert_each_item_once(bus, expected, "EventBridge")
    assert_each_item_once(logs, expected, "log group")
    assert event_ids(bus) == event_ids(logs)
    # And each account's checkpoint closed its (completed) jobs and released its lease
    for account in accounts:
        state = world.state(account)
        jobs = {job for acc, job, _ in expected.keys if acc == account}
        assert state.jobs == {} and set(state.closed) == jobs, account
        assert state.covered_until is not None
        assert "leaseOwner" not in world.raw_state(account)
    # And nothing is left in the work queue, nothing reached the dead-letter queue
    assert queues.depth() == (0, 0)
    assert queues.depth(queues.dlq_url) == (0, 0)

    # When the next tick finds nothing new (one worker: each invocation's own call counts)
    queues.invocations.clear()
    dispatched = queues.dispatch(NEXT_TICK)
    queues.drain(budget_ms=20_000, concurrency=1, timeout=60)
    # Then the dispatcher made one listing and two sends of ten, and each account cost the idle
    # export's three calls: take the lease and read the state, DescribeJobs, write and release
    assert dispatched["accountsDispatched"] == 12
    assert dispatched["apiCalls"] == {"mgn.ListManagedAccounts": 1, "sqs.SendMessageBatch": 2}
    calls: Counter[str] = Counter()
    for summary in queues.summaries_of():
        calls.update(summary["apiCalls"])
    assert calls == {"dynamodb.UpdateItem": 2 * 12, "mgn.DescribeJobs": 12}
    assert sum(invocation.items_exported() for invocation in queues.invocations) == 0
    assert queues.counter("HandOns") == 0
    assert_each_item_once(log_details(world), expected, "log group")


# -- 2. a repeated tick --------------------------------------------------------------------


def test_a_repeated_dispatch_of_one_tick_enqueues_nothing_new(
    world: World, make_queue_world: MakeQueueWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five configured accounts
    queues = make_queue_world()
    accounts = [OWN_ACCOUNT, *managed_accounts(world, 4)]
    use_accounts(monkeypatch, ",".join(accounts))
    # When the dispatcher serves the same tick twice (a retried invocation)
    first = queues.dispatch(TICK)
    again = queues.dispatch(TICK)
    # Then both sent a request per account, and SQS kept one of each
    assert first["accountsDispatched"] == again["accountsDispatched"] == 5
    assert queues.depth() == (5, 0)
    # When the next tick comes
    queues.dispatch(NEXT_TICK)
    # Then each account has one request per tick, in its own message group
    messages = queues.receive_all(queues.url)
    requests = Counter(
        (message["Attributes"]["MessageGroupId"], account_of(message["Body"]), cause(message))
        for message in messages
    )
    assert requests == Counter(
        (account, account, tick) for account in accounts for tick in (TICK, NEXT_TICK)
    )


def cause(message: dict[str, Any]) -> str:
    return str(json.loads(message["Body"])["cause"])


# -- 6. deadline continuation --------------------------------------------------------------


def test_a_large_backlog_drains_across_invocations_through_hand_ons(
    world: World, make_queue_world: MakeQueueWorld, proxy: FaultProxy
) -> None:
    # Given one account with a backlog of 3,000 items, more than a 2 s budget exports on any
    # machine (every PutEvents call taking 20 ms: 6 s of calls at the least); moto's
    # rule-to-SQS delivery is slow for thousands of events: the log group is counted
    world.stop_capturing_events()
    proxy.inject("events.PutEvents", "slow", delay=0.02)
    queues = make_queue_world()
    job = add_job(world.emulator, OWN_ACCOUNT, 3000, completed=False, seed=600)
    expected = Expected()
    expected.add(OWN_ACCOUNT, job, 3000)
    # When the tick's request is worked on by workers with a 2 s budget (the drain's timeout
    # only guards against a hang: under two CPU burners it took 80-100 s)
    queues.dispatch(TICK)
    mapping = queues.drain(budget_ms=2_000, concurrency=1, timeout=240)
    # Then it took several invocations, each but the last handing the account on
    invocations = queues.invocations
    assert len(invocations) >= 2
    assert [inv.handed_on() for inv in invocations[:-1]] == [[OWN_ACCOUNT]] * (len(invocations) - 1)
    assert invocations[-1].handed_on() == []
    assert queues.counter("HandOns") == len(invocations) - 1
    assert all(inv.items_exported() > 0 for inv in invocations)
    assert all(inv.outcomes() == {OWN_ACCOUNT: "exported"} for inv in invocations)
    assert invocations[-1].summary is not None and invocations[-1].summary["complete"]
    assert mapping.stats.returned == 0 and mapping.stats.function_errors == 0
    # And every item is in the log group once, the checkpoint at the end of the log
    assert_each_item_once(log_details(world), expected, "log group")
    assert world.state(OWN_ACCOUNT).jobs[job].position == 3000
    assert queues.depth() == (0, 0)
    assert queues.depth(queues.dlq_url) == (0, 0)
    # And the account had one request at a time: each batch held only the previous hand-on
    assert [account_of(body) for inv in invocations for body in inv.bodies] == [OWN_ACCOUNT] * len(
        invocations
    )


# -- 3. a worker killed mid-account --------------------------------------------------------


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    """A warm execution environment (a process) with the function's configuration as set
    now: an empty batch first builds its clients, as earlier invocations would have."""
    spawned: list[Worker] = []

    def spawn() -> Worker:
        log = (tmp_path / "worker.log").open("a", encoding="utf-8")
        worker = Worker.spawn(worker_environment(), log)
        spawned.append(worker)
        warm_up = worker.invoke(5_000, event={"Records": []})
        assert warm_up.error is None and warm_up.response == {"batchItemFailures": []}
        return worker

    yield spawn
    for worker in spawned:
        worker.close()


def test_a_worker_killed_mid_account_loses_nothing_and_repeats_only_its_batch_in_flight(
    world: World,
    make_queue_world: MakeQueueWorld,
    proxy: FaultProxy,
    spawn_worker: Callable[[], Worker],
) -> None:
    # Given an account whose running job's first 150 items were exported by the last tick,
    # 250 new items since (read in pages of at most 100: one batch of the worker, published to
    # EventBridge page by page, then written to the log group at once and checkpointed), and a
    # queue whose visibility timeout outlives a crashed worker's lease (as the stack's six
    # timeouts do)
    budget_ms = 4_000
    queues = make_queue_world(visibility_timeout=visibility_timeout_for(budget_ms))
    world.emulator.max_page_size = PAGE
    job = add_job(world.emulator, OWN_ACCOUNT, 150, completed=False, seed=300)
    queues.dispatch(TICK)
    queues.drain(budget_ms=budget_ms, timeout=60)
    assert world.state(OWN_ACCOUNT).jobs[job].position == 150
    grow(world.emulator, OWN_ACCOUNT, job, 250, seed=301)
    total = 400
    expected = Expected()
    expected.add(OWN_ACCOUNT, job, total)
    queues.invocations.clear()
    queues.dispatch(NEXT_TICK)
    doomed = spawn_worker()

    # When a worker process takes the request and is killed while its batch's log write is on
    # the wire: the batch is in EventBridge, the checkpoint is still before it
    held: list[Rule] = []

    def log_write_on_the_wire() -> bool:
        if not held:
            held.append(proxy.inject("logs.PutLogEvents", "slow", delay=2.0, times=1))
        return held[0].hits > 0

    killed = queues.mapping(
        [queues.process_worker(doomed, budget_ms, kill_when=log_write_on_the_wire)]
    )
    assert killed.poll_once(0)
    assert proxy.wait_idle(timeout=10)  # the dead worker's last call lands, as it may in AWS
    proxy.clear()
    # Then the invocation failed and left its request in the queue, the checkpoint where the
    # last tick left it
    assert killed.stats.function_errors == 1 and killed.stats.returned == 1
    assert queues.invocations[0].error == "killed"
    left_at = world.state(OWN_ACCOUNT).jobs[job].position
    assert left_at == 150

    # When another worker polls the queue until it is empty
    queues.drain(budget_ms=budget_ms, timeout=60)
    # Then the request came back to it after the visibility timeout, and the account was not
    # skipped (the dead worker's lease had expired) but exported from its checkpoint
    after = queues.invocations[1:]
    assert after[0].message_ids == queues.invocations[0].message_ids
    assert after[0].outcomes() == {OWN_ACCOUNT: "exported"}
    assert all(inv.error is None for inv in after)
    assert queues.counter("AccountsSkipped") == 0 and queues.counter("LeasesLost") == 0
    # And every item is in both sinks, and the only repeats are the batch in flight: a batch
    # is published, written to the log group, then checkpointed, so the next worker sends
    # again what the dead worker had published and not checkpointed (one batch, at most
    # BATCH_ITEMS items, from the checkpoint on). Its log write landed after the kill: both
    # sinks repeat it.
    in_bus, in_logs = keys_of(bus_details(world)), keys_of(log_details(world))
    assert set(in_bus) == set(in_logs) == expected.keys
    repeated = sorted(position for (_, _, position), count in in_bus.items() if count > 1)
    assert repeated == sorted(position for (_, _, position), count in in_logs.items() if count > 1)
    assert max(in_bus.values()) == 2
    assert 0 < len(repeated) <= export_batch.BATCH_ITEMS
    assert repeated == list(range(left_at, left_at + len(repeated)))
    # And the checkpoint is at the end of the log; the queues are empty
    assert world.state(OWN_ACCOUNT).jobs[job].position == total
    assert queues.depth() == (0, 0) and queues.depth(queues.dlq_url) == (0, 0)


class Crash(BaseException):
    """A crash: nothing in the function catches it (as with a killed process)."""


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_worker_dying_between_its_checkpoint_and_its_hand_on_leaves_the_request_to_redo(
    world: World,
    make_queue_world: MakeQueueWorld,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given one account with a backlog larger than a worker's budget on any machine (2,000
    # items in pages of 50, every PutEvents call taking 20 ms: 4 s of calls at the least, for
    # a 3 s budget whose first page needs a tenth of that); in this process the crashed
    # worker's lease ends with its deadline, so a short visibility timeout outlives it
    monkeypatch.setattr(exporter_module, "LEASE_SLACK_SECONDS", 0)
    world.stop_capturing_events()
    world.emulator.max_page_size = 50
    proxy.inject("events.PutEvents", "slow", delay=0.02)
    queues = make_queue_world(visibility_timeout=4)
    total = 2000
    job = add_job(world.emulator, OWN_ACCOUNT, total, completed=False, seed=900)
    expected = Expected()
    expected.add(OWN_ACCOUNT, job, total)
    queues.dispatch(TICK)
    # When the worker saves its progress, releases the account, and dies sending the hand-on
    real_send = WorkQueue.send

    def dying_send(self: WorkQueue, requests: object) -> None:
        raise Crash()

    monkeypatch.setattr(WorkQueue, "send", dying_send)
    with pytest.raises(Crash):
        queues.mapping([queues.in_process_worker(3_000)]).poll_once(0)
    state = world.state(OWN_ACCOUNT)
    assert 0 < state.jobs[job].position < total and state.covered_until is not None
    monkeypatch.setattr(WorkQueue, "send", real_send)
    # And its request comes back after the visibility timeout to another worker (at full speed
    # now, with budgets that leave room for progress on a loaded machine)
    proxy.clear()
    queues.drain(budget_ms=3_000, timeout=120)
    # Then the request is not judged covered by the dead worker's export (whose hand-on never
    # left): it is exported again, and the backlog drains to the end of the log
    redelivered = queues.invocations[0]  # the crashed invocation recorded nothing
    assert redelivered.outcomes() == {OWN_ACCOUNT: "exported"}
    assert redelivered.items_exported() > 0
    assert world.state(OWN_ACCOUNT).jobs[job].position == total
    assert_each_item_once(log_details(world), expected, "log group")
    assert queues.depth() == (0, 0) and queues.depth(queues.dlq_url) == (0, 0)


# -- 4. never two workers on one account ---------------------------------------------------


def test_concurrent_workers_never_work_on_one_account_at_once(
    world: World,
    make_queue_world: MakeQueueWorld,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given eight accounts of three pages each, more than a worker's budget can take on any
    # machine (every PutEvents call takes 200 ms: a page, one call; a 1 s budget keeps 0.4 s)
    world.stop_capturing_events()
    queues = make_queue_world(visibility_timeout=2)
    world.emulator.max_page_size = 10
    proxy.inject("events.PutEvents", "slow", delay=0.2)
    accounts = [OWN_ACCOUNT, *managed_accounts(world, 7)]
    expected = Expected()
    for n, account in enumerate(accounts):
        expected.add(account, add_job(world.emulator, account, 30, seed=400 + n), 30)
    use_accounts(monkeypatch, ",".join(accounts))
    # When four workers with a 1 s budget drain the queue, one request a batch
    queues.dispatch(TICK)
    queues.drain(budget_ms=1_000, concurrency=4, batch_size=1, timeout=90)
    invocations = queues.invocations
    # Then every account was handed on, and workers did run side by side
    assert set(queues.handed_on()) == set(accounts)
    assert max_overlapping(invocations) >= 2
    # And no two invocations that overlap in time worked on the same account
    for account in accounts:
        spans = sorted(
            (inv.started, inv.ended) for inv in invocations if account in inv.worked_on()
        )
        assert spans, account
        for (_, end), (start, _) in pairwise(spans):
            assert end <= start, f"{account}: two workers at once"
    # And no lease was ever contended (the message groups kept the workers apart)
    assert all(inv.summary is not None for inv in invocations)
    assert queues.counter("LeasesLost") == 0 and queues.counter("AccountsSkipped") == 0
    assert_each_item_once(log_details(world), expected, "log group")
    assert queues.depth() == (0, 0) and queues.depth(queues.dlq_url) == (0, 0)


def max_overlapping(invocations: list[Invocation]) -> int:
    edges = sorted(
        [(inv.started, 1) for inv in invocations] + [(inv.ended, -1) for inv in invocations]
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


# -- 5. an account that always fails -------------------------------------------------------


def test_an_account_that_always_fails_goes_to_the_dead_letter_queue_and_holds_no_one_back(
    world: World, make_queue_world: MakeQueueWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given four accounts, one of which MGN refuses (unknown to it: AccessDeniedException; an
    # account where MGN is merely not initialized is a state, not a failure)
    queues = make_queue_world(visibility_timeout=2, max_receive_count=3)
    healthy = [OWN_ACCOUNT, *managed_accounts(world, 2)]
    refused = "299999999999"
    expected = Expected()
    for n, account in enumerate(healthy):
        expected.add(account, add_job(world.emulator, account, 15, seed=500 + n), 15)
    use_accounts(monkeypatch, ",".join([healthy[0], refused, *healthy[1:]]))
    # When the tick's requests are drained by one worker, ten requests a batch
    queues.dispatch(TICK)
    mapping = queues.drain(budget_ms=2_000, concurrency=1, timeout=60)
    invocations = queues.invocations
    # Then the first batch held all four requests: the healthy accounts were exported and
    # deleted, and only the refused account's request was reported failed
    first = invocations[0]
    assert first.outcomes() == {**dict.fromkeys(healthy, "exported"), refused: "failed"}
    assert first.errors()[refused].startswith("AccountUnavailable")
    refused_id = first.message_ids[[account_of(b) for b in first.bodies].index(refused)]
    assert first.failed_ids() == [refused_id]
    # And it was received maxReceiveCount times, failing each time, then dead-lettered
    with_it = [inv for inv in invocations if refused_id in inv.message_ids]
    assert len(with_it) == queues.max_receive_count
    assert all(inv.failed_ids() == [refused_id] for inv in with_it)
    assert mapping.stats.returned == queues.max_receive_count
    dead = queues.dead_letters()
    assert [(m["MessageId"], account_of(m["Body"])) for m in dead] == [(refused_id, refused)]
    # And every healthy item is in both sinks once; nothing of the refused account
    assert_each_item_once(bus_details(world), expected, "EventBridge")
    assert_each_item_once(log_details(world), expected, "log group")
    assert queues.depth() == (0, 0)


# -- 7. a malformed message ----------------------------------------------------------------


def test_a_malformed_message_goes_to_the_dead_letter_queue_and_blocks_no_account(
    world: World, make_queue_world: MakeQueueWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two messages that are not work requests ahead of the tick's requests
    queues = make_queue_world(visibility_timeout=2, max_receive_count=2)
    healthy = [OWN_ACCOUNT, *managed_accounts(world, 2)]
    expected = Expected()
    for n, account in enumerate(healthy):
        expected.add(account, add_job(world.emulator, account, 12, seed=700 + n), 12)
    use_accounts(monkeypatch, ",".join(healthy))
    not_json = queues.send_raw("export 111111111111 please", group="operator", dedup="b1")
    future = json.dumps({"version": 2, "accountId": "399999999999", "reason": "schedule"})
    wrong_version = queues.send_raw(future, group="399999999999", dedup="b2")
    queues.dispatch(TICK)
    # When one worker drains the queue
    queues.drain(budget_ms=2_000, concurrency=1, timeout=60)
    invocations = queues.invocations
    # Then the first batch exported every account and failed only the two messages
    first = invocations[0]
    assert first.outcomes() == dict.fromkeys(healthy, "exported")
    assert sorted(first.failed_ids()) == sorted([not_json, wrong_version])
    assert first.counter("BadMessages") == 2
    # And both went to the dead-letter queue after maxReceiveCount receives
    assert queues.counter("BadMessages") == 2 * queues.max_receive_count
    dead = queues.dead_letters()
    assert sorted(m["MessageId"] for m in dead) == sorted([not_json, wrong_version])
    assert_each_item_once(bus_details(world), expected, "EventBridge")
    assert_each_item_once(log_details(world), expected, "log group")
    assert queues.depth() == (0, 0)


# -- an entry EventBridge refuses for good -------------------------------------------------


def test_an_entry_refused_for_good_does_not_cycle_its_account_through_the_queue(
    world: World, make_queue_world: MakeQueueWorld, proxy: FaultProxy
) -> None:
    # Given a running job whose last item EventBridge refuses for good (a poison entry)
    queues = make_queue_world(visibility_timeout=5)
    job = add_job(world.emulator, OWN_ACCOUNT, 20, completed=False, seed=800)
    poison = make_item("CONVERSION_FAIL", datetime.now(UTC), raw_error="POISON-7")
    world.emulator.append_items(OWN_ACCOUNT, job, [poison])
    proxy.inject(
        "events.PutEvents",
        "partial_failure",
        detail_contains="POISON-7",
        error_code="MalformedDetail",
    )
    # When the tick's request is drained (bounded: a cycle would never end by itself)
    queues.dispatch(TICK)
    queues.drain(budget_ms=5_000, timeout=30, until=lambda: len(queues.invocations) >= 5)
    # Then the account was exported up to the poison entry once, and not handed on: the entry
    # is retried on the next tick (a hand-on would retry it at once, again and again)
    assert len(queues.invocations) == 1
    assert queues.invocations[0].outcomes() == {OWN_ACCOUNT: "exported"}
    assert queues.counter("FailedEntries") == 1
    assert queues.handed_on() == Counter()
    assert world.state(OWN_ACCOUNT).jobs[job].position == 20
    expected = Expected()
    expected.add(OWN_ACCOUNT, job, 20)
    assert_each_item_once(log_details(world), expected, "log group")
    assert queues.depth() == (0, 0) and queues.depth(queues.dlq_url) == (0, 0)
