"""The exporter end to end: the real handler, moto's server and the MGN emulator over HTTP.

Each test asserts what reached EventBridge (through a rule into SQS), what reached the log
group, and what the checkpoint holds.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.mgn_emulator import make_item
from mgn_exporter import account_export, export_batch, job_discovery
from mgn_exporter.checkpoint import AccountState, new_job_checkpoint
from mgn_exporter.checkpoint_store import PARTITION_KEY, CheckpointStore, account_key
from mgn_exporter.settings import get_settings
from tests.integration.conftest import (
    OWN_ACCOUNT,
    SOURCE,
    TABLE,
    World,
    event_ids,
    invoke,
)
from tests.integration.work_clock import invoke_on_work_clock
from tests.integration.worlds import add_job

OTHER = "222222222222"
THIRD = "333333333333"


def details(world: World) -> list[dict[str, Any]]:
    return [event["detail"] for event in world.delivered_events()]


def logged(world: World) -> list[dict[str, Any]]:
    return [record["detail"] for record in world.log_records()]


def assert_exactly_once(world: World, expected: int) -> None:
    """Both sinks hold `expected` distinct events, none twice."""
    in_bus = event_ids(details(world))
    in_logs = event_ids(logged(world))
    assert sum(in_bus.values()) == expected, "EventBridge count"
    assert len(in_bus) == expected and max(in_bus.values(), default=1) == 1
    assert in_logs == in_bus


def test_first_run_backfills_the_window_and_exports_every_item_once(world: World) -> None:
    # Given a completed job, a running job, and a job older than the 7-day backfill window
    emu = world.emulator
    done = add_job(emu, OWN_ACCOUNT, 40, seed=1, fail_every=9)
    running = add_job(emu, OWN_ACCOUNT, 15, completed=False, seed=2)
    add_job(emu, OWN_ACCOUNT, 12, created=datetime.now(UTC) - timedelta(days=10), seed=3)

    # When the exporter runs once
    report = invoke()

    # Then the 55 items of the two jobs in the window are in both sinks once, in job order
    assert report["complete"] and report["itemsExported"] == 55
    assert_exactly_once(world, 55)
    bus = details(world)
    by_job = {job: [d for d in bus if d["jobID"] == job] for job in (done, running)}
    assert [d["position"] for d in by_job[done]] == list(range(40))
    first = by_job[done][0]
    assert first["event"] == "JOB_START" and first["initiatedBy"] == "START_TEST"
    assert first["jobType"] == "LAUNCH" and first["accountID"] == OWN_ACCOUNT
    assert first["region"] == "us-east-1"
    stored = emu.job_items(OWN_ACCOUNT, done)
    assert [d["eventData"] for d in by_job[done]] == [i["eventData"] for i in stored]
    envelope = world.delivered_events()[0]
    assert envelope["source"] == SOURCE and envelope["detail-type"] == "MGN Job Log Event"
    failures = [d for d in bus if d["severity"] == "ERROR"]
    assert failures and all(d["event"] == "CONVERSION_FAIL" for d in failures)
    # And the completed job is closed, the running one holds its position
    state = world.state(OWN_ACCOUNT)
    assert done in state.closed and done not in state.jobs
    assert state.jobs[running].position == 15
    assert state.watermark is not None
    assert "leaseOwner" not in world.raw_state(OWN_ACCOUNT)


def test_event_envelope_time_and_resources(world: World) -> None:
    emu = world.emulator
    when = datetime.now(UTC) - timedelta(hours=1)
    job = emu.add_job(OWN_ACCOUNT, created=when, initiated_by="START_CUTOVER")
    emu.append_items(
        OWN_ACCOUNT, job, [make_item("LAUNCH_FAILED", when, "s-0123456789abcdef0", raw_error="x")]
    )
    invoke()
    envelope = world.delivered_events()[0]
    assert envelope["time"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"arn:aws:mgn:us-east-1:{OWN_ACCOUNT}:job/{job}" in envelope["resources"]
    assert (
        f"arn:aws:mgn:us-east-1:{OWN_ACCOUNT}:source-server/s-0123456789abcdef0"
        in envelope["resources"]
    )
    record = world.log_records()[0]
    assert record["detail"] == envelope["detail"]
    assert record["timestamp"] == int(when.timestamp()) * 1000 + when.microsecond // 1000
    assert record["stream"] == f"{OWN_ACCOUNT}/{datetime.now(UTC):%Y-%m-%d}"


def test_incremental_runs_export_only_what_is_new(world: World) -> None:
    # Given a running job already exported once
    emu = world.emulator
    job = add_job(emu, OWN_ACCOUNT, 30, completed=False, seed=4)
    invoke()
    # When items are appended and the job completes, and the exporter runs again
    later = datetime.now(UTC)
    emu.append_items(
        OWN_ACCOUNT,
        job,
        [make_item("LAUNCH_START", later + timedelta(seconds=i)) for i in range(12)],
    )
    emu.set_job_status(OWN_ACCOUNT, job, "COMPLETED")
    report = invoke()
    # Then only the 12 new items were published, and the job is closed
    assert report["itemsExported"] == 12
    assert_exactly_once(world, 42)
    assert [d["position"] for d in details(world)][-12:] == list(range(30, 42))
    assert job in world.state(OWN_ACCOUNT).closed


def test_idle_tick_costs_three_calls_and_exports_nothing(world: World) -> None:
    add_job(world.emulator, OWN_ACCOUNT, 25, seed=5)
    invoke()
    world.emulator.reset_calls()
    report = invoke()
    assert report["itemsExported"] == 0
    assert report["apiCalls"] == {
        "dynamodb.UpdateItem": 2,  # take the lease and read the state; write it and release
        "mgn.DescribeJobs": 1,
    }
    assert world.emulator.calls["DescribeJobLogItems"] == 0
    assert_exactly_once(world, 25)


def test_new_items_spread_over_many_jobs_cost_one_log_write_and_one_state_write(
    world: World,
) -> None:
    # Given an account with six running jobs, already exported once
    emu = world.emulator
    jobs = [add_job(emu, OWN_ACCOUNT, 5, completed=False, seed=20 + n) for n in range(6)]
    invoke()
    # When each job logs 10 to 25 new items and the next tick runs
    later = datetime.now(UTC)
    for n, job in enumerate(jobs):
        emu.append_items(
            OWN_ACCOUNT,
            job,
            [make_item("SNAPSHOT_END", later + timedelta(seconds=i)) for i in range(10 + 3 * n)],
        )
    report = invoke()
    # Then the 105 items took one PutEvents per ten of each job, but one PutLogEvents and one
    # state write for the whole account (the floor: what MGN and EventBridge need, plus one
    # write to each of the log group and the state)
    assert report["itemsExported"] == 105
    calls = report["apiCalls"]
    assert calls["mgn.DescribeJobLogItems"] == 6
    assert calls["events.PutEvents"] == sum(-(-(10 + 3 * n) // 10) for n in range(6))
    assert calls["logs.PutLogEvents"] == 1
    assert calls["dynamodb.UpdateItem"] == 2  # the lease with the state read; the release
    assert_exactly_once(world, 30 + 105)


def test_many_jobs_over_many_accounts(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given three accounts of a global view, each with several jobs
    emu = world.emulator
    for account in (OTHER, THIRD):
        emu.add_account(account, initialized=True, managed=True)
    total = 0
    for n, account in enumerate((OWN_ACCOUNT, OTHER, THIRD)):
        for j in range(4):
            count = 5 + 7 * j + n
            add_job(emu, account, count, seed=10 * n + j)
            total += count
    monkeypatch.setenv("ACCOUNTS", "auto")
    from mgn_exporter.settings import get_settings

    get_settings.cache_clear()
    # When the exporter runs
    report = invoke()
    # Then every account's items are in both sinks once, attributed to their account
    assert report["complete"]
    assert {a["account_id"] for a in report["accounts"]} == {OWN_ACCOUNT, OTHER, THIRD}
    assert_exactly_once(world, total)
    per_account = dict.fromkeys((OWN_ACCOUNT, OTHER, THIRD), 0)
    for detail in details(world):
        per_account[detail["accountID"]] += 1
    assert all(count > 0 for count in per_account.values())
    assert {r["stream"].split("/")[0] for r in world.log_records()} == set(per_account)


def test_a_large_job_is_read_in_pages_of_a_thousand(world: World) -> None:
    # moto's rule-to-SQS delivery is slow for thousands of events: count the log group only
    world.stop_capturing_events()
    add_job(world.emulator, OWN_ACCOUNT, 2500, seed=6)
    report = invoke()
    assert report["apiCalls"]["mgn.DescribeJobLogItems"] == 3
    # 250 for the items, and one for the completed job's outcome (a derived event)
    assert report["apiCalls"]["events.PutEvents"] == 250 + 1
    # one PutLogEvents a page, plus the day's first one that finds no stream and creates it
    assert report["apiCalls"]["logs.PutLogEvents"] == 3 + 1
    assert report["apiCalls"]["logs.CreateLogStream"] == 1
    assert report["counters"]["FailedEntries"] == 0
    in_logs = event_ids(logged(world))
    assert len(in_logs) == 2500 and max(in_logs.values()) == 1


def test_an_expired_token_mid_job_rereads_from_the_start_and_skips_what_was_exported(
    world: World,
) -> None:
    # Given a running job read in short pages, its checkpoint holding a token
    emu = world.emulator
    emu.max_page_size = 50
    job = add_job(emu, OWN_ACCOUNT, 120, completed=False, seed=7)
    invoke()
    assert world.state(OWN_ACCOUNT).jobs[job].page_token is not None
    # When the tokens expire and new items arrive
    emu.expire_tokens()
    later = datetime.now(UTC)
    emu.append_items(
        OWN_ACCOUNT,
        job,
        [make_item("LAUNCH_START", later + timedelta(seconds=i)) for i in range(40)],
    )
    report = invoke()
    # Then the log is re-read from its start, nothing is lost or repeated
    assert report["counters"]["TokensRejected"] == 1
    assert report["counters"].get("LogShifts", 0) == 0
    assert report["itemsExported"] == 40
    assert_exactly_once(world, 160)
    assert world.state(OWN_ACCOUNT).jobs[job].position == 160


def test_a_failing_account_is_skipped_and_counted_while_the_others_go_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = world.emulator
    emu.add_account(OTHER, initialized=False, managed=True)
    emu.add_account(THIRD, initialized=True, managed=True)
    add_job(emu, OWN_ACCOUNT, 10, seed=8)
    add_job(emu, THIRD, 11, seed=9)
    monkeypatch.setenv("ACCOUNTS", f"{OWN_ACCOUNT},{OTHER},{THIRD},444444444444")
    from mgn_exporter.settings import get_settings

    get_settings.cache_clear()
    report = invoke()
    outcomes = {a["account_id"]: a["outcome"] for a in report["accounts"]}
    assert outcomes == {
        OWN_ACCOUNT: "exported",
        OTHER: "uninitialized",  # UninitializedAccountException: a state, not a failure
        THIRD: "exported",
        "444444444444": "failed",  # AccessDeniedException
    }
    assert report["counters"]["AccountsFailed"] == 1
    assert report["counters"]["AccountsUninitialized"] == 1
    assert_exactly_once(world, 21)


def test_an_uninitialized_account_is_recorded_reported_once_and_rechecked_slowly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an account where MGN is not initialized
    emu = world.emulator
    emu.add_account(OTHER, initialized=False, managed=True)
    monkeypatch.setenv("ACCOUNTS", OTHER)
    get_settings.cache_clear()
    # When the exporter runs: it is recorded and reported, and it is not a failure
    first = invoke()
    assert first["accounts"][0]["outcome"] == "uninitialized"
    assert first["complete"]
    assert first["counters"]["AccountsUninitialized"] == 1
    assert first["counters"].get("AccountsFailed", 0) == 0
    state = world.state(OTHER)
    assert state.uninitialized_since is not None and state.recheck_at is not None
    assert (
        state.recheck_at - state.uninitialized_since == account_export.UNINITIALIZED_RECHECK_SECONDS
    )
    # When the next ticks run before the recheck is due: MGN is not asked, nothing is reported
    emu.reset_calls()
    later = [invoke() for _ in range(3)]
    assert emu.calls == {}
    assert all(r["accounts"][0]["outcome"] == "uninitialized" for r in later)
    assert sum(r["counters"].get("AccountsUninitialized", 0) for r in later) == 0
    # When MGN is initialized there and the recheck comes due, it is exported like any other
    emu.add_account(OTHER, initialized=True, managed=True)
    add_job(emu, OTHER, 12, seed=90)
    monkeypatch.setattr(account_export, "UNINITIALIZED_RECHECK_SECONDS", 0)
    world.dynamodb.update_item(
        TableName=TABLE,
        Key={PARTITION_KEY: {"S": account_key(OTHER)}},
        UpdateExpression="SET recheckAt = :now",
        ExpressionAttributeValues={":now": {"N": str(time.time() - 1)}},
    )
    after = invoke()
    assert after["accounts"][0]["outcome"] == "exported"
    assert_exactly_once(world, 12)
    state = world.state(OTHER)
    assert state.uninitialized_since is None and state.recheck_at is None


def test_mgn_throttling_and_5xx_are_retried_by_botocore(world: World) -> None:
    emu = world.emulator
    add_job(emu, OWN_ACCOUNT, 30, seed=10)
    emu.inject_fault("DescribeJobs", "ThrottlingException", times=1, retry_after="0")
    emu.inject_fault("DescribeJobLogItems", "InternalServerException", times=1)
    emu.inject_fault("DescribeJobLogItems", "ServiceUnavailable", times=1)
    report = invoke()
    assert report["complete"]
    assert report["counters"]["Throttles"] >= 1
    assert_exactly_once(world, 30)


def test_repeated_throttling_fails_the_account_and_the_next_run_catches_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # the standard SDK variable: keeps the test short
    emu = world.emulator
    add_job(emu, OWN_ACCOUNT, 30, seed=11)
    emu.inject_fault("DescribeJobLogItems", "ThrottlingException", times=None, retry_after="0")
    report = invoke()
    assert report["accounts"][0]["outcome"] == "failed"
    assert report["counters"]["AccountsFailed"] == 1
    assert details(world) == []
    emu.clear_faults()
    invoke()
    assert_exactly_once(world, 30)


def test_a_job_mgn_refuses_does_not_stop_the_other_jobs(world: World) -> None:
    emu = world.emulator
    bad = add_job(emu, OWN_ACCOUNT, 10, seed=12)
    add_job(emu, OWN_ACCOUNT, 14, seed=13)
    emu.inject_fault("DescribeJobLogItems", "ValidationException", times=1, job_id=bad)
    report = invoke()
    assert report["counters"]["JobsFailed"] == 1
    assert_exactly_once(world, 14)
    assert bad in world.state(OWN_ACCOUNT).jobs  # retried on the next tick
    invoke()
    assert_exactly_once(world, 24)


class Crash(BaseException):
    """A crash: nothing in the exporter catches it (as with a killed process)."""


def test_a_crash_between_publish_and_checkpoint_loses_nothing_and_duplicates_one_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job of 500 items that MGN serves in pages of 50, batches of 200 items between two
    # saves of the state (1,000 in the product; smaller here to keep the test short), and a
    # crash at the second save
    world.emulator.max_page_size = 50
    add_job(world.emulator, OWN_ACCOUNT, 500, seed=14)
    monkeypatch.setattr(export_batch, "BATCH_ITEMS", 200)
    real_save = CheckpointStore.save
    saves = {"n": 0}

    def crashing_save(self: CheckpointStore, state) -> None:  # type: ignore[no-untyped-def]
        saves["n"] += 1
        if saves["n"] == 2:
            raise Crash()
        real_save(self, state)

    monkeypatch.setattr(CheckpointStore, "save", crashing_save)
    # (a budget no machine comes near: when it crashes depends on the saves, not the clock)
    with pytest.raises(Crash):
        invoke(budget_ms=120_000, request_id="crashed")
    monkeypatch.setattr(CheckpointStore, "save", real_save)
    # When the crashed invocation's lease has expired (its deadline has passed) and the
    # exporter runs again
    world.dynamodb.update_item(
        TableName=TABLE,
        Key={PARTITION_KEY: {"S": account_key(OWN_ACCOUNT)}},
        UpdateExpression="SET leaseExpiresAt = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    assert invoke()["complete"]
    # Then every item is in both sinks, and only the crashed batch (one contiguous run of the
    # log) twice
    bus = event_ids(details(world))
    logs = event_ids(logged(world))
    assert len(bus) == 500 and len(logs) == 500
    twice = sorted(d["position"] for d in details(world) if bus[d["eventId"]] == 2)[::2]
    assert 0 < len(twice) <= 200
    assert twice == list(range(twice[0], twice[0] + len(twice)))  # one contiguous batch
    assert max(bus.values()) == 2
    assert max(logs.values()) <= 2
    assert sum(logs.values()) - 500 <= 200
    assert world.state(OWN_ACCOUNT).closed


def test_an_account_leased_by_another_invocation_is_skipped(world: World) -> None:
    add_job(world.emulator, OWN_ACCOUNT, 10, seed=15)
    other = CheckpointStore(world.dynamodb, TABLE, owner="other-invocation")
    state = other.acquire(OWN_ACCOUNT, lease_until=time.time() + 60)
    report = invoke()
    assert report["accounts"][0]["outcome"] == "skipped"
    assert details(world) == []
    other.release(state)
    invoke()
    assert_exactly_once(world, 10)


def test_overlapping_invocations_never_export_an_item_twice(world: World) -> None:
    emu = world.emulator
    for account in (OTHER, THIRD):
        emu.add_account(account, initialized=True, managed=True)
    for n, account in enumerate((OWN_ACCOUNT, OTHER, THIRD)):
        add_job(emu, account, 200, seed=20 + n)

    os.environ["ACCOUNTS"] = f"{OWN_ACCOUNT},{OTHER},{THIRD}"
    from mgn_exporter.settings import get_settings

    get_settings.cache_clear()
    reports: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: reports.append(invoke())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 3
    invoke()  # drains whatever a skipped account left
    assert_exactly_once(world, 600)


def test_a_short_deadline_stops_cleanly_and_the_next_runs_resume(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 800 items in pages of at most 100, and invocations of a 2 s budget in which every
    # call to AWS takes 20 ms, whatever the machine: the 80 PutEvents calls at least that the
    # items need (ten entries a call) take 1.6 s, more than the 1.2 s the budget leaves beyond
    # its reserve, so no invocation can export them all
    emu = world.emulator
    emu.max_page_size = 100
    for n in range(4):
        add_job(emu, OWN_ACCOUNT, 200, seed=30 + n)
    budget_ms = 2_000
    # When the exporter runs until it reports completion
    reports = []
    for _ in range(60):
        report, clock = invoke_on_work_clock(monkeypatch, budget_ms, seconds_per_call=0.02)
        # Each invocation stops on its own before its deadline, the final writes included
        assert clock.elapsed() * 1000 < budget_ms, f"ran past its deadline: {clock.calls} calls"
        reports.append(report)
        if report["complete"]:
            break
    # Then it took several invocations, each cut short by its deadline made progress, and
    # nothing was lost or repeated
    assert len(reports) > 1 and reports[-1]["complete"]
    assert all(r["itemsExported"] > 0 for r in reports[:-1])
    assert all(r["accounts"][0]["backlog"] for r in reports[:-1])
    assert sum(r["itemsExported"] for r in reports) == 800
    assert_exactly_once(world, 800)


def test_bad_input_is_exported_as_well_as_possible(world: World) -> None:
    # Given a job whose log holds odd items
    emu = world.emulator
    now = datetime.now(UTC)
    job = emu.add_job(OWN_ACCOUNT, created=now - timedelta(hours=2))
    odd = [
        make_item("CONVERSION_FAIL", now, "s-0123456789abcdef0", raw_error="E" * 400_000),
        {"logDateTime": "not-a-time", "event": "JOB_START", "eventData": {}},
        {"event": "SOMETHING_NEW_FAILED", "eventData": {"sourceServerID": "weird"}},
        {"logDateTime": "2026-01-01T00:00:00Z"},
        make_item(
            "SNAPSHOT_FAIL", now - timedelta(days=20), raw_error="naïve \u0000\u202e ✓ \U0001f600"
        ),
        make_item("JOB_END", now + timedelta(days=3)),
    ]
    emu.append_items(OWN_ACCOUNT, job, odd)
    # When the exporter runs
    report = invoke()
    # Then every item landed in both sinks, with what could be kept
    assert report["counters"]["OddItems"] >= 4
    assert_exactly_once(world, len(odd))
    bus = sorted(details(world), key=lambda d: d["position"])
    assert bus[0]["truncated"] == ["eventData.rawError"]
    assert bus[1]["logDateTime"] == "not-a-time"
    assert bus[2]["severity"] == "ERROR" and bus[2]["event"] == "SOMETHING_NEW_FAILED"
    assert bus[3]["event"] is None and bus[3]["eventData"] == {}
    assert bus[4]["eventData"]["rawError"] == "naïve \u0000\u202e ✓ \U0001f600"
    records = {r["detail"]["position"]: r for r in world.log_records()}
    now_ms = time.time() * 1000
    # the 20-day-old and 3-days-ahead items are stamped with an accepted time
    assert abs(records[4]["timestamp"] - now_ms) < 120_000
    assert abs(records[5]["timestamp"] - now_ms) < 120_000
    assert records[4]["detail"]["logDateTime"] == odd[4]["logDateTime"]


def test_a_log_that_shifted_under_the_checkpoint_is_detected_and_counted(world: World) -> None:
    # Given a running job exported up to position 30
    emu = world.emulator
    job = add_job(emu, OWN_ACCOUNT, 30, completed=False, seed=50)
    invoke()
    # When MGN's log changes before the seam (an item inserted at 5) and grows
    items = emu.job_items(OWN_ACCOUNT, job)
    now = datetime.now(UTC)
    items.insert(5, make_item("SERVER_SKIPPED", now))
    items += [make_item("LAUNCH_START", now + timedelta(seconds=i)) for i in range(4)]
    emu.replace_items(OWN_ACCOUNT, job, items)
    report = invoke()
    # Then the shift is counted (and logged), and the items after the checkpoint are exported
    assert report["counters"]["LogShifts"] == 1
    assert report["itemsExported"] == 5
    assert world.state(OWN_ACCOUNT).jobs[job].position == 35


def test_a_missing_setting_fails_the_invocation_naming_it_and_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mgn_exporter.settings import SettingsError, get_settings

    add_job(world.emulator, OWN_ACCOUNT, 5, seed=60)
    monkeypatch.delenv("EVENT_BUS_NAME")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="EVENT_BUS_NAME"):
        invoke()
    assert world.emulator.calls == {}
    assert world.raw_state(OWN_ACCOUNT) == {}
    assert logged(world) == []


def test_a_backlog_of_more_jobs_than_the_state_holds_drains_over_ticks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given seven completed jobs and room for three open jobs in an account's state
    job_bytes = new_job_checkpoint(
        {
            "jobID": "mgnjob-0123456789abcdefg",
            "arn": f"arn:aws:mgn:us-east-1:{OWN_ACCOUNT}:job/mgnjob-0123456789abcdefg",
            "type": "LAUNCH",
            "initiatedBy": "START_CUTOVER",
            "status": "COMPLETED",
            "creationDateTime": "2026-11-25T10:00:00.000000+00:00",
        }
    ).estimated_bytes()
    room = AccountState(account_id=OWN_ACCOUNT).estimated_bytes() + int(3.5 * job_bytes)
    monkeypatch.setattr(job_discovery, "STATE_BUDGET_BYTES", room)
    base = datetime.now(UTC) - timedelta(hours=5)
    for n in range(7):
        add_job(world.emulator, OWN_ACCOUNT, 6, seed=70 + n, created=base + timedelta(minutes=n))
    # When the exporter runs a few times
    reports = [invoke() for _ in range(3)]
    # Then the first runs defer the newer jobs, and in the end all are exported once
    assert reports[0]["counters"]["JobsDeferred"] == 4
    assert_exactly_once(world, 42)
    state = world.state(OWN_ACCOUNT)
    assert state.jobs == {} and len(state.closed) == 7
