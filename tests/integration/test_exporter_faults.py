"""Faults of EventBridge, CloudWatch Logs and DynamoDB, injected over the wire by the proxy.

Each test counts, item by item, what reached EventBridge and the log group, and checks what
the checkpoint holds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.fault_proxy import FaultProxy
from local.mgn_emulator import make_item
from mgn_exporter.settings import get_settings
from tests.integration.conftest import LOG_GROUP, OWN_ACCOUNT, World, event_ids, invoke
from tests.integration.test_exporter import assert_exactly_once, details, logged
from tests.integration.work_clock import invoke_on_work_clock
from tests.integration.worlds import add_job


def test_putevents_partial_failures_are_retried_until_every_entry_is_in(
    world: World, proxy: FaultProxy
) -> None:
    # Given PutEvents failing a random 30% of the entries of its next 8 calls, retryably
    add_job(world.emulator, OWN_ACCOUNT, 120, seed=40)
    proxy.inject("events.PutEvents", "partial_failure", times=8, fraction=0.3)
    # When the exporter runs once
    report = invoke()
    # Then every item is in both sinks exactly once, and the retries were counted
    assert report["complete"]
    assert report["counters"]["PublishRetries"] >= 8
    assert report["counters"]["FailedEntries"] == 0
    assert_exactly_once(world, 120)
    assert proxy.faulted["events.PutEvents"] == 8


def test_throttled_entries_count_as_throttles(world: World, proxy: FaultProxy) -> None:
    add_job(world.emulator, OWN_ACCOUNT, 30, seed=41)
    proxy.inject(
        "events.PutEvents",
        "partial_failure",
        times=2,
        fraction=0.5,
        error_code="ThrottlingException",
    )
    report = invoke()
    assert report["counters"]["Throttles"] >= 2
    assert_exactly_once(world, 30)


def test_an_entry_refused_for_good_stops_the_checkpoint_before_it(
    world: World, proxy: FaultProxy
) -> None:
    # Given EventBridge refusing the 4th entry of the first call with a non-retryable code
    job = add_job(world.emulator, OWN_ACCOUNT, 25, completed=False, seed=42)
    proxy.inject(
        "events.PutEvents", "partial_failure", times=1, indexes=[3], error_code="MalformedDetail"
    )
    # When the exporter runs
    report = invoke()
    # Then the failure is counted, the log group holds only the 3 items before it, and the
    # checkpoint does not pass it
    assert report["counters"]["FailedEntries"] == 1
    assert sorted(d["position"] for d in logged(world)) == [0, 1, 2]
    assert world.state(OWN_ACCOUNT).jobs[job].position == 3
    # When the entry is taken on the next run
    invoke()
    # Then every item is in both sinks; only that first batch's tail was published twice
    bus = event_ids(details(world))
    assert len(bus) == 25
    assert sum(bus.values()) - 25 <= 6  # entries 4..9 of the first batch
    assert max(event_ids(logged(world)).values()) == 1


def test_putevents_retries_that_run_out_leave_the_item_for_the_next_run(
    world: World, proxy: FaultProxy
) -> None:
    job = add_job(world.emulator, OWN_ACCOUNT, 12, completed=False, seed=43)
    proxy.inject("events.PutEvents", "partial_failure", indexes=[0])  # until cleared
    report = invoke()
    assert report["counters"]["FailedEntries"] == 1
    assert logged(world) == []
    assert world.state(OWN_ACCOUNT).jobs[job].position == 0
    proxy.clear()
    invoke()
    assert len(event_ids(details(world))) == 12
    assert max(event_ids(logged(world)).values()) == 1


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        ("events.PutEvents", "throttle"),
        ("events.PutEvents", "http_500"),
        ("logs.PutLogEvents", "throttle"),
        ("logs.PutLogEvents", "http_503"),
        ("logs.PutLogEvents", "reset"),
        ("dynamodb.UpdateItem", "throttle"),
        ("dynamodb.UpdateItem", "http_500"),
        ("dynamodb.UpdateItem", "reset"),
        ("mgn.DescribeJobLogItems", "reset"),
    ],
)
def test_transient_service_errors_are_absorbed_by_botocore(
    world: World, proxy: FaultProxy, operation: str, kind: str
) -> None:
    add_job(world.emulator, OWN_ACCOUNT, 40, seed=44)
    proxy.inject(operation, kind, times=2)
    report = invoke()
    assert report["complete"], report
    assert proxy.faulted[operation] == 2
    assert_exactly_once(world, 40)


def test_log_group_down_past_retries_keeps_its_position_while_eventbridge_goes_on(
    world: World, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given CloudWatch Logs throttling every call
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    world.emulator.max_page_size = 50
    job = add_job(world.emulator, OWN_ACCOUNT, 120, completed=False, seed=45)
    proxy.inject("logs.PutLogEvents", "throttle")
    # When the exporter runs
    report = invoke()
    # Then the account fails (to be retried), the log group's position stays at 0, and
    # EventBridge, a sink of its own, took every item
    assert report["accounts"][0]["outcome"] == "failed"
    assert report["counters"]["LogsDeliveryFailed"] == 1
    checkpoint = world.state(OWN_ACCOUNT).jobs[job]
    assert (checkpoint.sink_position("logs"), checkpoint.sink_position("events")) == (0, 120)
    assert logged(world) == []
    # And once the log group is back, the next run fills it, repeating nothing into EventBridge
    proxy.clear()
    assert invoke()["complete"]
    assert_exactly_once(world, 120)


def test_an_eventbridge_outage_fails_the_account_and_repeats_nothing_into_the_logs(
    world: World, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given EventBridge refusing every PutEvents call as a whole (an SCP, a deleted bus, KMS)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    job = add_job(world.emulator, OWN_ACCOUNT, 30, completed=False, seed=51)
    proxy.inject(
        "events.PutEvents",
        "http_500",
        status=400,
        error_code="AccessDeniedException",
        message="not authorized to perform events:PutEvents",
    )
    # When three ticks run through the outage
    reports = [invoke() for _ in range(3)]
    # Then every one fails the account (it is retried, and alarmed), none marks it covered...
    for report in reports:
        assert report["accounts"][0]["outcome"] == "failed", report
        assert not report["complete"]
        assert report["counters"]["AccountsFailed"] == 1
        assert report["counters"]["EventsDeliveryFailed"] == 1
    state = world.state(OWN_ACCOUNT)
    assert state.covered_until is None
    assert state.jobs[job].sink_position("events") == 0
    # ...and the log group got each item once, however many ticks failed
    assert sorted(d["position"] for d in logged(world)) == list(range(30))
    # When EventBridge is back, it gets every item once, and the log group nothing again
    proxy.clear()
    assert invoke()["complete"]
    assert_exactly_once(world, 30)


def test_a_logs_outage_of_many_ticks_sends_no_duplicate_to_eventbridge(
    world: World, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running job whose log grows between ticks, and CloudWatch Logs down
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    emu = world.emulator
    job = add_job(emu, OWN_ACCOUNT, 20, completed=False, seed=52)
    proxy.inject("logs.PutLogEvents", "http_500")
    # When five ticks run through the outage, with new items each time
    for _ in range(5):
        report = invoke()
        assert report["accounts"][0]["outcome"] == "failed"
        assert report["counters"]["LogsDeliveryFailed"] == 1
        emu.append_items(
            OWN_ACCOUNT,
            job,
            [make_item("SNAPSHOT_END", datetime.now(UTC)) for _ in range(4)],
        )
    # Then the alert path kept working: EventBridge holds every item logged before the last
    # tick exactly once (no re-sends of a page per retry or tick)
    bus = event_ids(details(world))
    assert len(bus) == 20 + 4 * 4 and max(bus.values()) == 1
    # When the log group is back, it catches up, and EventBridge gets only what is new
    proxy.clear()
    assert invoke()["complete"]
    assert_exactly_once(world, 20 + 5 * 4)


def todays_stream(world: World) -> None:
    """Create the day's stream first, so that the injected fault hits the write itself."""
    world.logs.create_log_stream(
        logGroupName=LOG_GROUP, logStreamName=f"{OWN_ACCOUNT}/{datetime.now(UTC):%Y-%m-%d}"
    )


def test_rejected_log_events_are_stamped_again_and_land(world: World, proxy: FaultProxy) -> None:
    todays_stream(world)
    add_job(world.emulator, OWN_ACCOUNT, 20, seed=46)
    proxy.inject("logs.PutLogEvents", "log_rejection", times=1, too_old=3, too_new=18)
    report = invoke()
    # The write holds the 20 items and the job's outcome: 3 too old, 21 - 18 too new.
    assert report["counters"]["LogEventsRestamped"] == 3 + 3
    assert_exactly_once(world, 20)
    assert len(world.log_records(derived=True)) == 1


def test_log_events_rejected_even_when_stamped_now_fail_the_write(
    world: World, proxy: FaultProxy
) -> None:
    todays_stream(world)
    job = add_job(world.emulator, OWN_ACCOUNT, 10, completed=False, seed=47)
    # rejected when sent, and both times it is sent again stamped now
    proxy.inject("logs.PutLogEvents", "log_rejection", times=3, too_old=1)
    report = invoke()
    assert report["accounts"][0]["outcome"] == "failed"
    assert world.state(OWN_ACCOUNT).jobs[job].position == 0
    invoke()
    assert len(event_ids(logged(world))) == 10


def test_retries_never_run_past_the_deadline(
    world: World, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given EventBridge throttling every call, and botocore's default of 5 attempts (its
    # backoffs alone may sleep 15 s), in invocations of a 3 s budget whose time passes with the
    # work (20 ms a call, and each backoff's sleep), whatever the machine
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    job = add_job(world.emulator, OWN_ACCOUNT, 40, completed=False, seed=48)
    proxy.inject("events.PutEvents", "throttle")
    # When the exporter runs
    report, clock = invoke_on_work_clock(monkeypatch, 3_000, seconds_per_call=0.02)
    # Then it returns before its deadline, having stopped retrying; EventBridge's position has
    # not moved (the log group, a sink of its own, took the items) and the account failed, to
    # be tried again
    assert clock.elapsed() * 1000 < 3_000, f"{clock.calls} calls, {clock.slept:.2f} s slept"
    assert clock.slept > 0  # botocore did back off, within the window
    assert report["accounts"][0]["outcome"] == "failed"
    checkpoint = world.state(OWN_ACCOUNT).jobs[job]
    assert checkpoint.sink_position("events") == 0
    assert checkpoint.sink_position("logs") == 40
    # And once EventBridge recovers, everything is delivered once to each sink
    proxy.clear()
    invoke()
    assert sorted(d["position"] for d in logged(world)) == list(range(40))
    assert sorted(d["position"] for d in details(world)) == list(range(40))


def test_a_checkpoint_table_refusing_one_account_does_not_stop_the_others(
    world: World, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two accounts, and DynamoDB throttling the first lease taken, with no retry left
    other = "222222222222"
    world.emulator.add_account(other, initialized=True, managed=True)
    add_job(world.emulator, OWN_ACCOUNT, 10, seed=49)
    add_job(world.emulator, other, 12, seed=50)
    monkeypatch.setenv("ACCOUNTS", f"{OWN_ACCOUNT},{other}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    proxy.inject("dynamodb.UpdateItem", "throttle", times=1)
    # When the exporter runs
    report = invoke()
    # Then that account failed (counted), the other was exported, and the run returned
    outcomes = sorted(a["outcome"] for a in report["accounts"])
    assert outcomes == ["exported", "failed"]
    assert report["counters"]["AccountsFailed"] == 1
    # And the next run catches up, nothing twice
    invoke()
    assert_exactly_once(world, 22)


def test_an_entry_refused_for_good_blocks_only_its_own_job(world: World, proxy: FaultProxy) -> None:
    # Given two jobs, and EventBridge refusing for good one entry of the older job
    emu = world.emulator
    blocked = add_job(emu, OWN_ACCOUNT, 20, completed=False, seed=51)
    later = add_job(emu, OWN_ACCOUNT, 15, seed=52, created=datetime.now(UTC))
    poison = make_item("CONVERSION_FAIL", datetime.now(UTC), raw_error="POISON-7")
    emu.append_items(OWN_ACCOUNT, blocked, [poison])
    proxy.inject(
        "events.PutEvents",
        "partial_failure",
        detail_contains="POISON-7",
        error_code="MalformedDetail",
    )
    # When the exporter runs
    report = invoke()
    # Then the other job is fully exported, and the blocked one stops before the entry
    assert report["counters"]["FailedEntries"] == 1
    positions = {
        job: sorted(d["position"] for d in logged(world) if d["jobID"] == job)
        for job in (blocked, later)
    }
    assert positions == {blocked: list(range(20)), later: list(range(15))}
    assert world.state(OWN_ACCOUNT).jobs[blocked].position == 20
    assert later in world.state(OWN_ACCOUNT).closed
