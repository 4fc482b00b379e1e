"""Launch outcomes served by the MGN emulator: DescribeJobs' participating servers with their
launched instance and post-launch actions (``launchedEc2InstanceID``,
``postLaunchActionsStatus``), set by hand or played from a programme, and late log items,
over HTTP through boto3's real ``mgn`` client. Time is the emulator's simulated clock."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.validate import ParamValidator

from local.mgn_emulator import MgnEmulator, ProgrammeSpec, Timeline, generate_programme
from local.mgn_emulator.programme import PlannedJob, Programme
from local.mgn_emulator.timefmt import format_datetime
from local.mgn_emulator.validation import validate

CALLER = "111111111111"
T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SERVER_A = "s-aaaaaaaaaaaaaaaaa"
SERVER_B = "s-bbbbbbbbbbbbbbbbb"
INSTANCE = "i-0123456789abcdef0"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
MODEL = botocore.session.get_session().get_service_model("mgn")
EXECUTION_STATUSES = MODEL.shape_for("PostLaunchActionExecutionStatus").metadata["enum"]
TIMELINE = Timeline(
    live_start=NOW - timedelta(minutes=50), live_end=NOW, history_start=NOW - timedelta(days=2)
)


@pytest.fixture
def emu() -> Iterator[MgnEmulator]:
    with MgnEmulator(caller_account=CALLER) as emulator:
        emulator.set_now(T0)
        yield emulator


@pytest.fixture
def client(emu: MgnEmulator) -> Any:
    return emu.client(NO_RETRIES)


def _raw_describe_jobs(emu: MgnEmulator, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{emu.endpoint_url}/DescribeJobs",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _assert_model_valid(body: dict[str, Any]) -> None:
    """The raw DescribeJobs body against the model's output shape: botocore's validator
    (unknown members, types) and the emulator's (lengths, patterns, enums)."""
    shape = MODEL.operation_model("DescribeJobs").output_shape
    assert shape is not None
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()
    assert validate(shape, body) == []


def _participant(client: Any, job_id: str, server: str, account: str = CALLER) -> dict[str, Any]:
    kwargs = {} if account == CALLER else {"accountID": account}
    (job,) = client.describe_jobs(filters={"jobIDs": [job_id]}, **kwargs)["items"]
    return next(s for s in job["participatingServers"] if s["sourceServerID"] == server)


def _job(client: Any, account: str, job_id: str) -> dict[str, Any]:
    kwargs = {} if account == CALLER else {"accountID": account}
    (job,) = client.describe_jobs(filters={"jobIDs": [job_id]}, **kwargs)["items"]
    return dict(job)


def _account_kwargs(account: str) -> dict[str, str]:
    return {} if account == CALLER else {"accountID": account}


# -- set by hand ------------------------------------------------------------------------------


def test_launched_instance_and_post_launch_actions_are_rendered(
    emu: MgnEmulator, client: Any
) -> None:
    job = emu.add_job(CALLER, initiated_by="START_CUTOVER", source_server_ids=[SERVER_A, SERVER_B])
    emu.set_launched_instance(CALLER, job, SERVER_A, INSTANCE)
    emu.set_ssm_agent_discovered(CALLER, job, SERVER_A, T0 + timedelta(seconds=75.25))
    emu.set_post_launch_action(
        CALLER,
        job,
        SERVER_A,
        execution_id="0b9c7e1e-6c1d-4d1e-9a51-2f3b4c5d6e7f",
        action_name="Disk space validation",
        document_name="AWSMigration-ValidateDiskSpace",
        status="IN_PROGRESS",
        must_succeed=True,
        timeout_seconds=300,
    )
    emu.set_post_launch_action(
        CALLER,
        job,
        SERVER_A,
        execution_id="5d2c4a9e-0f3b-4c8e-8d7a-1b2c3d4e5f60",
        action_name="Join AD domain",
        document_name="Join-ADDomain",
        document_type="COMMAND",
        status="FAILED",
        timeout_seconds=600,
        failure_reason="Command 5d2c... exited with code 1: the domain could not be contacted.",
        parameters={"joinPassword": [{"parameterType": "SECURE_STRING", "parameterName": "pw"}]},
        external_parameters={"instanceId": {"dynamicPath": "launchedEc2InstanceID"}},
    )

    server_a = _participant(client, job, SERVER_A)
    server_b = _participant(client, job, SERVER_B)

    assert server_a == {
        "sourceServerID": SERVER_A,
        "launchStatus": "IN_PROGRESS",
        "launchedEc2InstanceID": INSTANCE,
        "postLaunchActionsStatus": {
            "ssmAgentDiscoveryDatetime": "2026-11-25T10:01:15.250Z",
            "postLaunchActionsLaunchStatusList": [
                {
                    "executionID": "0b9c7e1e-6c1d-4d1e-9a51-2f3b4c5d6e7f",
                    "executionStatus": "IN_PROGRESS",
                    "ssmDocumentType": "AUTOMATION",
                    "ssmDocument": {
                        "actionName": "Disk space validation",
                        "ssmDocumentName": "AWSMigration-ValidateDiskSpace",
                        "timeoutSeconds": 300,
                        "mustSucceedForCutover": True,
                    },
                },
                {
                    "executionID": "5d2c4a9e-0f3b-4c8e-8d7a-1b2c3d4e5f60",
                    "executionStatus": "FAILED",
                    "ssmDocumentType": "COMMAND",
                    "ssmDocument": {
                        "actionName": "Join AD domain",
                        "ssmDocumentName": "Join-ADDomain",
                        "timeoutSeconds": 600,
                        "mustSucceedForCutover": False,
                        "parameters": {
                            "joinPassword": [
                                {"parameterType": "SECURE_STRING", "parameterName": "pw"}
                            ]
                        },
                        "externalParameters": {
                            "instanceId": {"dynamicPath": "launchedEc2InstanceID"}
                        },
                    },
                    "failureReason": (
                        "Command 5d2c... exited with code 1: the domain could not be contacted."
                    ),
                },
            ],
        },
    }
    # A server with none of it: the members are left out, as MGN leaves absent members out.
    assert server_b == {"sourceServerID": SERVER_B, "launchStatus": "IN_PROGRESS"}
    _assert_model_valid(_raw_describe_jobs(emu, {}))


def test_an_execution_is_updated_by_its_id_in_place(emu: MgnEmulator, client: Any) -> None:
    job = emu.add_job(CALLER, source_server_ids=[SERVER_A])
    ids = ["exec-1", "exec-2", "exec-3"]
    for execution_id in ids:
        emu.set_post_launch_action(
            CALLER,
            job,
            SERVER_A,
            execution_id=execution_id,
            action_name=f"action {execution_id}",
            document_name="AWSMigration-LinuxTimeSyncSetting",
            status="IN_PROGRESS",
        )
    emu.set_post_launch_action(
        CALLER,
        job,
        SERVER_A,
        execution_id="exec-1",
        action_name="action exec-1",
        document_name="AWSMigration-LinuxTimeSyncSetting",
        status="SUCCESS",
    )

    status = _participant(client, job, SERVER_A)["postLaunchActionsStatus"]
    executions = status["postLaunchActionsLaunchStatusList"]

    assert [e["executionID"] for e in executions] == ids
    assert [e["executionStatus"] for e in executions] == ["SUCCESS", "IN_PROGRESS", "IN_PROGRESS"]
    assert executions[0]["ssmDocument"]["timeoutSeconds"] == 600  # the emulator's default
    # No discovery time set: the member is left out.
    assert "ssmAgentDiscoveryDatetime" not in status


def test_a_discovery_alone_and_an_instance_cleared(emu: MgnEmulator, client: Any) -> None:
    job = emu.add_job(CALLER, source_server_ids=[SERVER_A])
    emu.set_ssm_agent_discovered(CALLER, job, SERVER_A)  # now
    emu.set_launched_instance(CALLER, job, SERVER_A, INSTANCE)

    assert _participant(client, job, SERVER_A)["postLaunchActionsStatus"] == {
        "ssmAgentDiscoveryDatetime": format_datetime(T0)
    }

    emu.set_launched_instance(CALLER, job, SERVER_A, None)
    assert "launchedEc2InstanceID" not in _participant(client, job, SERVER_A)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "PENDING"},
        {"document_type": "SCRIPT"},
        {"document_name": "no spaces allowed"},
        {"action_name": "x" * 257},
        {"failure_reason": "x" * 257},
        {"timeout_seconds": 0},
        {"timeout_seconds": True},
        {"parameters": {"bad-name": [{"parameterType": "STRING", "parameterName": "p"}]}},
        {"parameters": {"name": [{"parameterType": "NUMBER", "parameterName": "p"}]}},
        {"external_parameters": {"name": {"dynamicPath": "has space"}}},
    ],
)
def test_setters_check_values_against_the_model(emu: MgnEmulator, change: dict[str, Any]) -> None:
    job = emu.add_job(CALLER, source_server_ids=[SERVER_A])
    arguments: dict[str, Any] = {
        "execution_id": "exec-1",
        "action_name": "Time sync",
        "document_name": "AWSMigration-LinuxTimeSyncSetting",
        "status": "IN_PROGRESS",
        **change,
    }
    with pytest.raises(ValueError):
        emu.set_post_launch_action(CALLER, job, SERVER_A, **arguments)


def test_setters_refuse_bad_instances_and_strangers(emu: MgnEmulator) -> None:
    job = emu.add_job(CALLER, source_server_ids=[SERVER_A])
    with pytest.raises(ValueError):
        emu.set_launched_instance(CALLER, job, SERVER_A, "i-xyz")
    with pytest.raises(KeyError):
        emu.set_launched_instance(CALLER, job, SERVER_B, INSTANCE)
    with pytest.raises(KeyError):
        emu.set_ssm_agent_discovered(CALLER, job, SERVER_B, T0)
    with pytest.raises(KeyError):
        emu.set_post_launch_action(
            CALLER,
            "mgnjob-00000000000000000",
            SERVER_A,
            execution_id="e",
            action_name="a",
            document_name="doc",
            status="SUCCESS",
        )


# -- played from a programme ------------------------------------------------------------------


def _programme(**kwargs: Any) -> Programme:
    spec = ProgrammeSpec(accounts=3, jobs=10, seed=kwargs.pop("seed", 5), **kwargs)
    return generate_programme(spec, TIMELINE, caller_account=CALLER)


def _live_job_with_actions(programme: Programme) -> PlannedJob:
    return next(job for job in programme.jobs if job.live and job.launches)


def test_played_actions_go_in_progress_then_end_after_the_job_is_completed(
    emu: MgnEmulator,
) -> None:
    programme = _programme()
    job = _live_job_with_actions(programme)
    launch = job.launches[0]
    execution = launch.executions[-1]
    assert launch.ssm_discovered > job.ended and execution.started > job.ended
    emu.set_now(programme.timeline.live_start)
    playback = emu.play(programme)
    client = emu.client(NO_RETRIES)
    server = launch.source_server_id

    # Launched (its LAUNCH_START item shown), the job still running: the instance, no actions.
    emu.set_now(launch.launched)
    shown = _participant(client, job.job_id, server, job.account_id)
    assert shown["launchStatus"] == "IN_PROGRESS"
    assert shown["launchedEc2InstanceID"] == launch.instance_id
    assert "postLaunchActionsStatus" not in shown

    # The job's end: COMPLETED, LAUNCHED, the SSM agent not discovered yet.
    emu.set_now(job.ended)
    listed = _job(client, job.account_id, job.job_id)
    assert listed["status"] == "COMPLETED" and listed["endDateTime"] == format_datetime(job.ended)
    shown = _participant(client, job.job_id, server, job.account_id)
    assert shown["launchStatus"] == "LAUNCHED" and "postLaunchActionsStatus" not in shown
    assert not playback.progress().finished

    # Discovered, then the last action running, then ended: all after COMPLETED.
    emu.set_now(launch.ssm_discovered)
    status = _participant(client, job.job_id, server, job.account_id)["postLaunchActionsStatus"]
    assert status == {"ssmAgentDiscoveryDatetime": format_datetime(launch.ssm_discovered)}

    emu.set_now(execution.started)
    executions = _participant(client, job.job_id, server, job.account_id)[
        "postLaunchActionsStatus"
    ]["postLaunchActionsLaunchStatusList"]
    assert [e["executionID"] for e in executions] == [e.execution_id for e in launch.executions]
    assert executions[-1]["executionStatus"] == "IN_PROGRESS"
    assert "failureReason" not in executions[-1]
    assert [e["executionStatus"] for e in executions[:-1]] == [
        e.final_status for e in launch.executions[:-1]
    ]

    emu.set_now(execution.ended)
    last = _participant(client, job.job_id, server, job.account_id)["postLaunchActionsStatus"][
        "postLaunchActionsLaunchStatusList"
    ][-1]
    assert last["executionStatus"] == execution.final_status
    assert last.get("failureReason") == execution.failure_reason
    assert last["ssmDocument"]["ssmDocumentName"] == execution.document_name
    assert last["ssmDocument"]["mustSucceedForCutover"] == execution.must_succeed
    assert _job(client, job.account_id, job.job_id)["status"] == "COMPLETED"


def test_a_played_programme_ends_as_its_ground_truth_says_and_stays_model_valid(
    emu: MgnEmulator,
) -> None:
    programme = _programme(seed=2)
    emu.set_now(programme.timeline.live_start)
    playback = emu.play(programme)
    client = emu.client(NO_RETRIES)
    last_job_end = max(job.ended for job in programme.jobs)
    emu.set_now(last_job_end)
    at_last_end = playback.reveal_until(last_job_end)
    assert at_last_end.jobs_completed == at_last_end.jobs_total
    assert at_last_end.actions_ended < at_last_end.actions_total
    assert not at_last_end.finished  # the actions run on past the last job's end

    emu.set_now(programme.timeline.live_end)
    end = playback.reveal_until(programme.timeline.live_end)
    assert end.finished and end.actions_ended == end.actions_total == programme.action_count
    assert end.changes_left == 0

    seen_actions: dict[tuple[str, str, str, str], tuple[str, bool]] = {}
    seen_servers: dict[tuple[str, str, str], tuple[str, str | None]] = {}
    for account in programme.exported_accounts:
        body = _raw_describe_jobs(emu, _account_kwargs(account))
        _assert_model_valid(body)
        for job in client.describe_jobs(**_account_kwargs(account))["items"]:
            for server in job["participatingServers"]:
                key = (account, job["jobID"], server["sourceServerID"])
                seen_servers[key] = (server["launchStatus"], server.get("launchedEc2InstanceID"))
                status = server.get("postLaunchActionsStatus", {})
                for execution in status.get("postLaunchActionsLaunchStatusList", []):
                    seen_actions[(*key, execution["executionID"])] = (
                        execution["executionStatus"],
                        execution["ssmDocument"]["mustSucceedForCutover"],
                    )
    assert seen_actions == {
        (a.account_id, a.job_id, a.source_server_id, a.execution_id): (
            a.final_status,
            a.must_succeed,
        )
        for a in programme.post_launch_actions()
    }
    assert seen_servers == {
        (s.account_id, s.job_id, s.source_server_id): (s.launch_status, s.launched_instance_id)
        for s in programme.server_outcomes()
    }


def test_late_items_are_readable_after_the_job_shows_completed(emu: MgnEmulator) -> None:
    programme = _programme(late_item_share=0.5)
    job = next(job for job in programme.jobs if job.live and job.late_items)
    shown = job.items[-1].visible_at
    assert 20 <= (shown - job.ended).total_seconds() <= 90
    emu.set_now(programme.timeline.live_start)
    playback = emu.play(programme)
    client = emu.client(NO_RETRIES)
    kwargs = _account_kwargs(job.account_id)

    emu.set_now(job.ended)
    listed = _job(client, job.account_id, job.job_id)
    items = client.describe_job_log_items(jobID=job.job_id, **kwargs)["items"]
    assert listed["status"] == "COMPLETED"
    assert listed["endDateTime"] == job.items[-1].item["logDateTime"]  # JOB_END's time
    assert items == [p.item for p in job.items[: -job.late_items]]
    assert items[-1]["event"] != "JOB_END"

    emu.set_now(shown - timedelta(milliseconds=1))
    assert len(client.describe_job_log_items(jobID=job.job_id, **kwargs)["items"]) == len(items)
    emu.set_now(shown)
    items = client.describe_job_log_items(jobID=job.job_id, **kwargs)["items"]
    assert items == [p.item for p in job.items]
    assert items[-1]["event"] == "JOB_END"

    emu.set_now(programme.timeline.live_end)
    assert playback.reveal_until(programme.timeline.live_end).finished


def test_without_the_knob_no_job_completes_before_its_log(emu: MgnEmulator) -> None:
    programme = _programme()
    assert all(job.late_items == 0 for job in programme.jobs)
    job = next(job for job in programme.jobs if job.live)
    emu.set_now(programme.timeline.live_start)
    emu.play(programme)
    client = emu.client(NO_RETRIES)
    emu.set_now(job.ended)
    items = client.describe_job_log_items(jobID=job.job_id, **_account_kwargs(job.account_id))
    assert items["items"][-1]["event"] == "JOB_END"


# -- determinism ------------------------------------------------------------------------------


def _job_fingerprint(programme: Programme) -> str:
    """The accounts, jobs and items (not post-launch actions nor when items are shown)."""
    document = {
        "accounts": [[a.account_id, a.initialized, a.managed] for a in programme.accounts],
        "jobs": [
            [
                j.account_id,
                j.job_id,
                j.initiated_by,
                j.wave,
                j.live,
                j.created.isoformat(),
                j.ended.isoformat(),
                list(j.source_server_ids),
                j.launch_statuses,
                [[i.at.isoformat(), i.item] for i in j.items],
            ]
            for j in programme.jobs
        ],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def test_a_seed_gives_the_same_jobs_and_items_as_before_post_launch_actions() -> None:
    # Pinned from the generator before post-launch actions and late items were added.
    timeline = Timeline(
        live_start=NOW - timedelta(minutes=50), live_end=NOW, history_start=NOW - timedelta(days=3)
    )
    before = "5283fad1d413776d12beb86fa629c9b2b4074f63524ee6483404a89f2ecd33a7"
    for late in (0.0, 0.5):
        spec = ProgrammeSpec(accounts=4, jobs=12, seed=3, late_item_share=late)
        programme = generate_programme(spec, timeline, caller_account="123456789012")
        assert _job_fingerprint(programme) == before


def test_same_seed_same_post_launch_actions_whatever_the_window_or_late_items() -> None:
    first = _programme().post_launch_actions()
    assert first and first == _programme().post_launch_actions()
    assert _programme(late_item_share=1.0).post_launch_actions() == first
    moved = Timeline(
        live_start=NOW + timedelta(days=1),
        live_end=NOW + timedelta(days=1, hours=2),
        history_start=NOW,
    )
    spec = ProgrammeSpec(accounts=3, jobs=10, seed=5)
    assert generate_programme(spec, moved, caller_account=CALLER).post_launch_actions() == first
    other = _programme(seed=6).post_launch_actions()
    assert {a.execution_id for a in other}.isdisjoint({a.execution_id for a in first})
