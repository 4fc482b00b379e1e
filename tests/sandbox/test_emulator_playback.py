"""The emulator plays a programme as its clock moves, has fault rates and a running clock,
and runs as a program (``python -m local.mgn_emulator``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.mgn_emulator import MgnEmulator, ProgrammeSpec, Timeline, generate_programme
from local.mgn_emulator.timefmt import format_datetime, parse_datetime

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CALLER = "111111111111"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def emu() -> Iterator[MgnEmulator]:
    with MgnEmulator(CALLER) as emulator:
        yield emulator


def _programme() -> Any:
    timeline = Timeline(
        live_start=NOW - timedelta(minutes=50), live_end=NOW, history_start=NOW - timedelta(days=2)
    )
    return generate_programme(
        ProgrammeSpec(accounts=3, jobs=10, seed=5), timeline, caller_account=CALLER
    )


def _all_jobs(client: Any, account: str) -> list[dict[str, Any]]:
    kwargs = {} if account == CALLER else {"accountID": account}
    return list(client.describe_jobs(filters={}, **kwargs)["items"])


def test_playback_reveals_jobs_and_items_as_the_clock_passes_them(emu: MgnEmulator) -> None:
    programme = _programme()
    emu.set_now(programme.timeline.live_start)
    playback = emu.play(programme)
    client = emu.client(NO_RETRIES)
    history = [j for j in programme.jobs if not j.live]
    start = playback.progress()
    assert start.jobs_created == len(history) and start.jobs_completed == len(history)
    assert start.items_revealed == sum(len(j.items) for j in history)

    live = next(j for j in programme.jobs if j.live)
    middle = live.items[len(live.items) // 2].at
    # No explicit reveal: the next request sees the clock's now.
    emu.set_now(middle)
    kwargs = {} if live.account_id == CALLER else {"accountID": live.account_id}
    shown = client.describe_job_log_items(jobID=live.job_id, **kwargs)["items"]
    assert shown == [p.item for p in live.items if p.at <= middle]
    job = next(j for j in _all_jobs(client, live.account_id) if j["jobID"] == live.job_id)
    assert job["status"] == "STARTED" and "endDateTime" not in job
    assert parse_datetime(job["creationDateTime"]) == live.created.replace(
        microsecond=live.created.microsecond // 1000 * 1000
    )
    assert job["initiatedBy"] == live.initiated_by and job["tags"] == live.tags

    end = playback.reveal_until(programme.timeline.live_end)
    assert end.finished and end.items_revealed == end.items_total == programme.item_count
    job = next(j for j in _all_jobs(client, live.account_id) if j["jobID"] == live.job_id)
    assert job["status"] == "COMPLETED"
    assert job["endDateTime"] == format_datetime(live.ended)
    statuses = {s["sourceServerID"]: s["launchStatus"] for s in job["participatingServers"]}
    assert statuses == live.launch_statuses
    # Going back shows nothing new and takes nothing back.
    assert playback.reveal_until(programme.timeline.live_start) == end


def test_playback_registers_the_accounts_with_their_states(emu: MgnEmulator) -> None:
    programme = _programme()
    emu.set_now(NOW)
    emu.play(programme)
    client = emu.client(NO_RETRIES)
    managed = {item["accountId"] for item in client.list_managed_accounts()["items"]}
    assert managed == {a.account_id for a in programme.accounts if a.managed}
    uninitialized = next(a for a in programme.accounts if not a.initialized)
    with pytest.raises(client.exceptions.UninitializedAccountException):
        client.describe_jobs(filters={}, accountID=uninitialized.account_id)


def test_fault_rates_throttle_and_5xx_and_are_counted(emu: MgnEmulator) -> None:
    client = emu.client(NO_RETRIES)
    emu.set_fault_rates(throttle=1.0)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.list_managed_accounts()
    emu.set_fault_rates(server_error=1.0, seed=3)
    codes = set()
    for _ in range(12):
        try:
            client.list_managed_accounts()
        except Exception as exc:
            codes.add(exc.response["ResponseMetadata"]["HTTPStatusCode"])  # type: ignore[attr-defined]
    assert codes == {500, 503}
    emu.set_fault_rates(throttle=0.3, server_error=0.2, seed=1)
    failures = 0
    for _ in range(200):
        try:
            client.list_managed_accounts()
        except Exception:
            failures += 1
    assert 70 <= failures <= 130
    injected = emu.injected_faults
    assert injected["ThrottlingException"] >= 1 + 40
    assert sum(injected.values()) == 1 + 12 + failures
    emu.set_fault_rates()
    client.list_managed_accounts()
    with pytest.raises(ValueError):
        emu.set_fault_rates(throttle=0.7, server_error=0.7)


def test_running_clock_speed_and_cap() -> None:
    emu = MgnEmulator()
    start = datetime.now(UTC) - timedelta(hours=1)
    emu.run_clock(speed=600, start=start)
    time.sleep(0.2)
    elapsed = (emu.now() - start).total_seconds()
    assert 60 <= elapsed <= 3600  # loose: a loaded machine sleeps longer
    emu.run_clock(speed=10_000, start=start)
    time.sleep(0.5)
    assert emu.now() <= datetime.now(UTC)  # never ahead of the real clock
    emu.run_clock(speed=10_000, start=start, not_after_real=False)
    time.sleep(0.5)
    assert emu.now() > datetime.now(UTC)
    emu.set_now(NOW)
    assert emu.now() == NOW


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_python_dash_m_serves_a_programme_until_ctrl_c() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.mgn_emulator",
            "--port",
            str(port),
            "--accounts",
            "3",
            "--jobs",
            "8",
            "--seed",
            "2",
            "--speed",
            "0",
            "--throttle-rate",
            "0",
            "--late-item-share",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
        assert f"http://127.0.0.1:{port}" in banner[0], banner
        client = boto3.client(
            "mgn",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=NO_RETRIES,
        )
        managed = [a["accountId"] for a in client.list_managed_accounts()["items"]]
        assert len(managed) == 2
        jobs = _all_jobs(client, CALLER)
        for account in managed:
            try:
                jobs += _all_jobs(client, account)
            except client.exceptions.UninitializedAccountException:
                continue
        # --speed 0: the whole programme at once, every job complete, every post-launch
        # action ended, every (late) item readable.
        assert len(jobs) == 8 and all(job["status"] == "COMPLETED" for job in jobs)
        executions = [
            execution
            for job in jobs
            for server in job["participatingServers"]
            for execution in server.get("postLaunchActionsStatus", {}).get(
                "postLaunchActionsLaunchStatusList", []
            )
        ]
        assert executions
        assert all(e["executionStatus"] in ("SUCCESS", "FAILED") for e in executions)
        for account in [CALLER, *managed]:
            kwargs = {} if account == CALLER else {"accountID": account}
            try:
                listed = _all_jobs(client, account)
            except client.exceptions.UninitializedAccountException:
                continue
            for job in listed:
                log = client.describe_job_log_items(jobID=job["jobID"], **kwargs)["items"]
                assert log[-1]["event"] == "JOB_END"
    finally:
        os.kill(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
