"""Job outcomes and post-launch actions as events, over HTTP (the MGN emulator, moto): once
per status reached and once per job in both sinks, after the completed job has settled, and
with the items' guarantees under faults."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.fault_proxy import FaultProxy
from local.fault_proxy.errors import HTTP_503
from local.mgn_emulator import make_item
from mgn_exporter.checkpoint_store import PARTITION_KEY, CheckpointStore, account_key
from mgn_exporter.mgn_reader import MgnReader
from tests.integration.conftest import OWN_ACCOUNT, TABLE, World, invoke
from tests.integration.test_exporter import assert_exactly_once

GOOD, BAD = "s-1111111111111111a", "s-2222222222222222b"
CREATED = datetime.now(UTC) - timedelta(minutes=40)


class Crash(Exception):
    pass


def derived(world: World) -> list[dict[str, Any]]:
    return [event["detail"] for event in world.delivered_derived()]


def derived_logged(world: World) -> list[dict[str, Any]]:
    return [record["detail"] for record in world.log_records(derived=True)]


def statuses(details: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(
        (d["detailType"], d.get("status") or "")
        for d in details
        if d["detailType"] == "MGN Post-Launch Action"
    ) + Counter((d["detailType"], "") for d in details if d["detailType"] == "MGN Job Outcome")


def cutover(world: World, *, ended: datetime | None = None) -> str:
    """A cutover of two servers: one launched (with an instance), one failed to launch; its
    log read to the end; COMPLETED at `ended` (default: 20 minutes ago, past the grace)."""
    emu = world.emulator
    job = emu.add_job(
        OWN_ACCOUNT, initiated_by="START_CUTOVER", created=CREATED, source_server_ids=[GOOD, BAD]
    )
    at = CREATED
    emu.append_items(
        OWN_ACCOUNT,
        job,
        [
            make_item("JOB_START", at),
            make_item("LAUNCH_START", at + timedelta(seconds=5), GOOD),
            make_item("LAUNCH_START", at + timedelta(seconds=6), BAD),
            make_item("LAUNCH_FAILED", at + timedelta(seconds=66), BAD, raw_error="quota"),
            make_item("JOB_END", at + timedelta(seconds=90)),
        ],
    )
    emu.set_launch_status(OWN_ACCOUNT, job, GOOD, "LAUNCHED")
    emu.set_launch_status(OWN_ACCOUNT, job, BAD, "FAILED")
    emu.set_launched_instance(OWN_ACCOUNT, job, GOOD, "i-0123456789abcdef0")
    emu.set_job_status(
        OWN_ACCOUNT, job, "COMPLETED", when=ended or datetime.now(UTC) - timedelta(minutes=20)
    )
    return job


def action(world: World, job: str, status: str, *, execution: str = "exec-1", **more: Any) -> None:
    world.emulator.set_post_launch_action(
        OWN_ACCOUNT,
        job,
        GOOD,
        execution_id=execution,
        action_name="Validate disk space",
        document_name="AWSMigration-ValidateDiskSpace",
        status=status,
        must_succeed=True,
        **more,
    )


@pytest.fixture
def grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's defaults: 15 minutes of grace, 60 of waiting for post-launch actions."""
    monkeypatch.setenv("COMPLETED_JOB_GRACE_MINUTES", "15")
    monkeypatch.setenv("POST_LAUNCH_WAIT_MINUTES", "60")


def test_post_launch_actions_across_ticks_then_one_outcome(world: World, grace: None) -> None:
    job = cutover(world)
    action(world, job, "IN_PROGRESS")
    invoke()
    # The action runs: its IN_PROGRESS is sent, the job waits for it (no outcome, still open).
    assert statuses(derived(world)) == {("MGN Post-Launch Action", "IN_PROGRESS"): 1}
    assert job in world.state(OWN_ACCOUNT).jobs
    invoke()  # nothing new: nothing sent again
    assert len(derived(world)) == 1
    action(world, job, "FAILED", failure_reason="Step fails when it is Executing.")
    invoke()
    bus = derived(world)
    assert statuses(bus) == {
        ("MGN Post-Launch Action", "IN_PROGRESS"): 1,
        ("MGN Post-Launch Action", "FAILED"): 1,
        ("MGN Job Outcome", ""): 1,
    }
    outcome = next(d for d in bus if d["detailType"] == "MGN Job Outcome")
    assert (outcome["serversLaunched"], outcome["serversFailed"]) == (1, 1)
    assert outcome["severity"] == "ERROR" and outcome["postLaunchWaitExpired"] is False
    assert outcome["postLaunchActions"]["mustSucceedFailed"] == 1
    good, bad = outcome["participatingServers"]
    assert good["launchedEc2InstanceID"] == "i-0123456789abcdef0"
    assert [a["status"] for a in good["postLaunchActions"]] == ["FAILED"]
    assert bad["failure"] == {"step": "LAUNCH", "event": "LAUNCH_FAILED", "rawError": "quota"}
    assert bad["stepDurations"] == {"LAUNCH": 60.0}
    # Both sinks hold the same derived events once; the job is closed; the items once.
    assert Counter(d["eventId"] for d in derived_logged(world)) == Counter(
        d["eventId"] for d in bus
    )
    assert max(Counter(d["eventId"] for d in bus).values()) == 1
    assert job in world.state(OWN_ACCOUNT).closed
    assert_exactly_once(world, 5)
    invoke()
    assert len(derived(world)) == 3


def test_a_completed_job_waits_out_the_grace_and_its_late_items_come(
    world: World, grace: None
) -> None:
    job = cutover(world, ended=datetime.now(UTC) - timedelta(minutes=2))
    report = invoke()
    assert job in world.state(OWN_ACCOUNT).jobs and not derived(world)
    # MGN makes two more items readable after it showed COMPLETED.
    late = datetime.now(UTC)
    world.emulator.append_items(
        OWN_ACCOUNT,
        job,
        [make_item("CLEANUP_START", late, GOOD), make_item("CLEANUP_END", late, GOOD)],
    )
    report = invoke()
    # Read again within the grace (one log page), exported once, still open.
    assert report["apiCalls"]["mgn.DescribeJobLogItems"] == 1
    assert report["itemsExported"] == 2 and job in world.state(OWN_ACCOUNT).jobs
    # Once the grace has passed (its end is 20 minutes back now), the outcome goes out.
    world.emulator.set_job_status(
        OWN_ACCOUNT, job, "COMPLETED", when=datetime.now(UTC) - timedelta(minutes=20)
    )
    invoke()
    assert statuses(derived(world)) == {("MGN Job Outcome", ""): 1}
    assert job in world.state(OWN_ACCOUNT).closed
    assert_exactly_once(world, 7)


def test_the_wait_for_running_actions_is_bounded(world: World, grace: None) -> None:
    job = cutover(world, ended=datetime.now(UTC) - timedelta(minutes=61))
    action(world, job, "IN_PROGRESS")
    invoke()
    (action_event, outcome) = sorted(derived(world), key=lambda d: d["detailType"], reverse=True)
    assert action_event["status"] == "IN_PROGRESS"
    assert outcome["postLaunchWaitExpired"] is True
    assert outcome["postLaunchActions"]["stillRunning"] == 1
    assert job in world.state(OWN_ACCOUNT).closed


def test_a_crash_after_the_outcome_sends_it_again_with_its_id_and_nothing_is_lost(
    world: World, grace: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = cutover(world)
    action(world, job, "SUCCESS")
    real_release = CheckpointStore.release

    def crashing_release(self: CheckpointStore, state: Any) -> None:
        raise Crash()

    monkeypatch.setattr(CheckpointStore, "release", crashing_release)
    with pytest.raises(Crash):
        invoke()
    monkeypatch.setattr(CheckpointStore, "release", real_release)
    world.dynamodb.update_item(
        TableName=TABLE,
        Key={PARTITION_KEY: {"S": account_key(OWN_ACCOUNT)}},
        UpdateExpression="SET leaseExpiresAt = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    invoke()
    invoke()
    # The crashed run's outcome and action went out; the next run sent them again (the state
    # was never saved), with the same eventIds: a bounded duplicate, as for items.
    bus = Counter(d["eventId"] for d in derived(world))
    assert len(bus) == 2 and set(bus.values()) == {2}
    assert Counter(d["eventId"] for d in derived_logged(world)) == bus
    assert job in world.state(OWN_ACCOUNT).closed


def test_eventbridge_down_the_log_group_gets_the_derived_events_and_neither_repeats(
    world: World, grace: None, proxy: FaultProxy
) -> None:
    job = cutover(world)
    action(world, job, "SUCCESS")
    proxy.inject("events.PutEvents", HTTP_503)  # until cleared
    invoke()
    # The log group took the items, the action and the outcome; EventBridge nothing; the job
    # stays open until EventBridge has the outcome too.
    assert len(derived_logged(world)) == 2 and not derived(world)
    assert job in world.state(OWN_ACCOUNT).jobs
    proxy.clear()
    invoke()
    assert len(derived(world)) == 2
    assert Counter(d["eventId"] for d in derived_logged(world)) == Counter(
        d["eventId"] for d in derived(world)
    )
    assert max(Counter(d["eventId"] for d in derived_logged(world)).values()) == 1
    assert job in world.state(OWN_ACCOUNT).closed
    assert_exactly_once(world, 5)


def test_many_servers_reserve_room_in_the_state(world: World) -> None:
    emu = world.emulator
    servers = [f"s-{i:017d}" for i in range(200)]
    job = emu.add_job(OWN_ACCOUNT, created=CREATED, source_server_ids=servers)
    emu.append_items(OWN_ACCOUNT, job, [make_item("JOB_START", CREATED)])
    invoke()
    state = world.state(OWN_ACCOUNT)
    assert state.jobs[job].servers == 200
    # Room for the steps and derived marks of its 200 servers is counted from the start.
    assert state.jobs[job].estimated_bytes() > 200 * 400


def test_a_job_completing_between_two_pages_gets_one_outcome_with_every_item(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = world.emulator
    emu.max_page_size = 2
    job = emu.add_job(OWN_ACCOUNT, created=CREATED, source_server_ids=[GOOD])
    emu.append_items(
        OWN_ACCOUNT,
        job,
        [
            make_item("JOB_START", CREATED),
            make_item("SNAPSHOT_START", CREATED + timedelta(seconds=1), GOOD),
            make_item("SNAPSHOT_END", CREATED + timedelta(seconds=31), GOOD),
        ],
    )
    real_page = MgnReader.log_page
    pages = {"n": 0}

    def completing_page(self: MgnReader, *args: Any, **kwargs: Any) -> Any:
        pages["n"] += 1
        if pages["n"] == 2:
            # MGN finishes the job while the export is between its first and second page.
            emu.append_items(
                OWN_ACCOUNT, job, [make_item("JOB_END", CREATED + timedelta(seconds=40))]
            )
            emu.set_job_status(OWN_ACCOUNT, job, "COMPLETED")
        return real_page(self, *args, **kwargs)

    monkeypatch.setattr(MgnReader, "log_page", completing_page)
    invoke()
    # Discovery saw it running: no outcome yet, though every item is out.
    assert not derived(world) and job in world.state(OWN_ACCOUNT).jobs
    assert_exactly_once(world, 4)
    invoke()
    (outcome,) = derived(world)
    assert outcome["detailType"] == "MGN Job Outcome"
    assert outcome["participatingServers"][0]["stepDurations"] == {"SNAPSHOT": 30.0}
    assert job in world.state(OWN_ACCOUNT).closed
    assert_exactly_once(world, 4)
