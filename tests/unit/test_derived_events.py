"""The derived events' shapes and the settle rule, on DescribeJobs answers (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from mgn_exporter.derived_events import (
    JOB_OUTCOME,
    POST_LAUNCH_ACTION,
    DerivedContext,
    job_outcome_event,
    post_launch_action_event,
)
from mgn_exporter.events import JobInfo
from mgn_exporter.job_steps import StepFold
from mgn_exporter.post_launch import SettleRule, ended_at, server_launches, settled

ACCOUNT, REGION = "123456789012", "us-east-1"
JOB_ID = "mgnjob-0123456789abcdefg"
OK_SERVER, BAD_SERVER = "s-1111111111111111a", "s-2222222222222222b"
ENDED = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
NAMES = {
    OK_SERVER: {
        "sourceServer": {"sourceServerID": OK_SERVER, "hostname": "fin-db-01"},
        "application": {"applicationID": "app-1234567890abcdefg", "name": "Payroll"},
        "wave": {"waveID": "wave-1234567890abcdefg", "name": "Wave 1 - Finance"},
    }
}


def action(execution: str, status: str, *, must: bool = False, reason: str | None = None) -> Any:
    entry: dict[str, Any] = {
        "executionID": execution,
        "executionStatus": status,
        "ssmDocumentType": "AUTOMATION",
        "ssmDocument": {
            "actionName": f"action {execution}",
            "ssmDocumentName": "AWSMigration-VerifyHttpsResponse",
            "timeoutSeconds": 600,
            "mustSucceedForCutover": must,
            "parameters": {"url": [{"parameterName": "/secret/path", "parameterType": "STRING"}]},
        },
    }
    if reason:
        entry["failureReason"] = reason
    return entry


def job_record(*actions: Any, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "jobID": JOB_ID,
        "arn": f"arn:aws:mgn:{REGION}:{ACCOUNT}:job/{JOB_ID}",
        "type": "LAUNCH",
        "initiatedBy": "START_CUTOVER",
        "status": status,
        "creationDateTime": "2026-12-01T10:00:00Z",
        "endDateTime": "2026-12-01T11:00:00Z",
        "participatingServers": [
            {
                "sourceServerID": OK_SERVER,
                "launchStatus": "LAUNCHED",
                "launchedEc2InstanceID": "i-0123456789abcdef0",
                "postLaunchActionsStatus": {
                    "ssmAgentDiscoveryDatetime": "2026-12-01T11:02:00Z",
                    "postLaunchActionsLaunchStatusList": list(actions),
                },
            },
            {"sourceServerID": BAD_SERVER, "launchStatus": "FAILED"},
        ],
    }


def context(live_since: datetime | None = None) -> DerivedContext:
    return DerivedContext(
        account_id=ACCOUNT,
        region=REGION,
        source="mgn.joblog.exporter",
        job=JobInfo(
            JOB_ID, f"arn:aws:mgn:{REGION}:{ACCOUNT}:job/{JOB_ID}", "LAUNCH", "START_CUTOVER"
        ),
        live_since=live_since,
        names=NAMES.get,
    )


def test_a_post_launch_action_event_per_execution_and_status_reached() -> None:
    record = job_record(action("exec-a", "FAILED", must=True, reason="Step timed out"))
    launch = server_launches(record)[0]
    seen = ENDED + timedelta(minutes=9)
    event = post_launch_action_event(
        launch.actions[0], launch, context(), observed=seen, job_ended=ENDED
    )
    detail = json.loads(event.detail_json)
    assert event.detail_type == detail["detailType"] == POST_LAUNCH_ACTION
    assert detail["status"] == "FAILED" and detail["severity"] == "ERROR"
    assert detail["postLaunchAction"] == {
        "actionName": "action exec-a",
        "ssmDocumentName": "AWSMigration-VerifyHttpsResponse",
        "ssmDocumentType": "AUTOMATION",
        "executionID": "exec-a",
        "mustSucceedForCutover": True,
        "timeoutSeconds": 600,
        "failureReason": "Step timed out",
    }
    # The document's parameters (names of SSM parameters, maybe secret ones) are left out.
    assert "parameters" not in event.detail_json
    assert detail["wave"]["name"] == "Wave 1 - Finance"
    assert detail["launchedEc2InstanceID"] == "i-0123456789abcdef0"
    assert event.time == seen and detail["observedDateTime"] == "2026-12-01T11:09:00.000Z"
    assert event.resources[1].endswith(f"source-server/{OK_SERVER}")
    # Deterministic per (job, server, execution, status): seen later, the same id.
    again = post_launch_action_event(
        launch.actions[0], launch, context(), observed=seen + timedelta(hours=1), job_ended=ENDED
    )
    assert again.event_id == event.event_id
    running = server_launches(job_record(action("exec-a", "IN_PROGRESS")))[0]
    other = post_launch_action_event(
        running.actions[0], running, context(), observed=seen, job_ended=ENDED
    )
    assert other.event_id != event.event_id


def test_the_job_outcome_counts_servers_and_carries_each_servers_story() -> None:
    record = job_record(action("exec-a", "SUCCESS"), action("exec-b", "FAILED", reason="exit 1"))
    steps = StepFold(
        servers={
            OK_SERVER: {"durationsMs": {"SNAPSHOT": 30500, "CONVERSION": 600000}},
            BAD_SERVER: {
                "durationsMs": {"LAUNCH": 4000},
                "failure": {"step": "LAUNCH", "event": "LAUNCH_FAILED", "rawError": "boom"},
            },
        }
    )
    event = job_outcome_event(
        record, server_launches(record), steps, context(), ended=ENDED, waited_out=False
    )
    detail = json.loads(event.detail_json)
    assert event.detail_type == JOB_OUTCOME and event.time == ENDED
    assert (detail["serversTotal"], detail["serversLaunched"], detail["serversFailed"]) == (2, 1, 1)
    assert detail["severity"] == "ERROR" and detail["durationSeconds"] == 3600.0
    assert detail["postLaunchActions"] == {
        "total": 2,
        "succeeded": 1,
        "failed": 1,
        "mustSucceedFailed": 0,
        "stillRunning": 0,
    }
    ok, bad = detail["participatingServers"]
    assert ok["stepDurations"] == {"CONVERSION": 600.0, "SNAPSHOT": 30.5}
    assert ok["application"]["name"] == "Payroll"
    assert [a["status"] for a in ok["postLaunchActions"]] == ["SUCCESS", "FAILED"]
    assert bad["failure"] == {"step": "LAUNCH", "event": "LAUNCH_FAILED", "rawError": "boom"}
    assert bad["launchStatus"] == "FAILED" and "sourceServer" not in bad  # no names known
    assert detail["backfill"] is False
    # A job that ended before the account's first export is history.
    old = job_outcome_event(
        record,
        server_launches(record),
        steps,
        context(live_since=ENDED + timedelta(days=1)),
        ended=ENDED,
        waited_out=False,
    )
    assert json.loads(old.detail_json)["backfill"] is True and old.event_id == event.event_id


def test_a_clean_outcome_is_info_and_a_failed_action_alone_a_warning() -> None:
    def severity(record: dict[str, Any]) -> str:
        launches = [s for s in server_launches(record) if s.launch_status == "LAUNCHED"]
        outcome = job_outcome_event(
            record, launches, StepFold(), context(), ended=ENDED, waited_out=False
        )
        return str(outcome.detail["severity"])

    assert severity(job_record(action("a", "SUCCESS"))) == "INFO"
    assert severity(job_record(action("a", "FAILED"))) == "WARNING"
    assert severity(job_record(action("a", "FAILED", must=True))) == "ERROR"


def test_a_completed_job_settles_after_the_grace_and_its_actions() -> None:
    rule = SettleRule(grace=timedelta(minutes=15), post_launch_wait=timedelta(minutes=60))
    running = server_launches(job_record(action("a", "IN_PROGRESS")))
    done = server_launches(job_record(action("a", "SUCCESS")))
    assert settled(done, ENDED, ENDED + timedelta(minutes=14), rule) == (False, False)
    assert settled(done, ENDED, ENDED + timedelta(minutes=15), rule) == (True, False)
    assert settled(running, ENDED, ENDED + timedelta(minutes=30), rule) == (False, False)
    # The wait for running actions is bounded: then the outcome goes out, saying so.
    assert settled(running, ENDED, ENDED + timedelta(minutes=60), rule) == (True, True)
    # MGN's endDateTime when it gives one; else when the job was first seen COMPLETED.
    seen = ENDED + timedelta(minutes=3)
    assert ended_at(job_record(), seen) == ENDED
    assert ended_at({"status": "COMPLETED"}, seen) == seen


def test_odd_participating_servers_are_read_as_well_as_possible() -> None:
    record = {
        "participatingServers": [
            {"launchStatus": "LAUNCHED"},  # no id: nothing to name it by
            "not an object",
            {
                "sourceServerID": OK_SERVER,
                "postLaunchActionsStatus": {
                    "postLaunchActionsLaunchStatusList": [
                        {"executionStatus": "SUCCESS"},  # no execution id
                        {"executionID": "e", "executionStatus": "NEW_STATUS", "ssmDocument": 3},
                    ]
                },
            },
        ]
    }
    (launch,) = server_launches(record)
    (run,) = launch.actions
    assert (run.status, run.action_name, run.ended) == ("NEW_STATUS", None, False)
