"""Real events, built by the exporter's own code, for the template and query tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from infra import constants as c
from mgn_exporter.derived_events import DerivedContext, job_outcome_event, post_launch_action_event
from mgn_exporter.events import ExportEvent, JobInfo, build_event
from mgn_exporter.job_steps import StepFold
from mgn_exporter.post_launch import server_launches

ACCOUNT = "123456789012"
REGION = "us-east-1"
SOURCE = str(c.CONTEXT_DEFAULTS[c.CTX_EVENT_SOURCE])
SERVER = "s-1234567890abcdef0"
JOB_ID = "mgnjob-0123456789abcdefg"
# What the worker adds from the account's inventory (enrichment on, the default).
NAMES: dict[str, Any] = {
    "sourceServer": {
        "sourceServerID": SERVER,
        "hostname": "fin-db-01",
        "fqdn": "fin-db-01.corp.example.com",
        "name": "fin-db-01",
    },
    "application": {"applicationID": "app-1234567890abcdef0", "name": "Payroll"},
    "wave": {"waveID": "wave-1234567890abcdef0", "name": "Wave 1 - Finance"},
}


def export_event(
    event: str,
    *,
    initiated_by: str = "START_TEST",
    position: int = 0,
    log_date_time: str = "2026-11-25T10:00:00.123Z",
    event_data: dict[str, Any] | None = None,
    job_id: str = JOB_ID,
    source: str = SOURCE,
    live_since: datetime | None = None,
    names: dict[str, Any] | None = NAMES,
    duration_seconds: float | None = None,
) -> ExportEvent:
    """An item as the worker exports it; ``live_since`` (when the account's export began) makes
    an item logged before it a backfilled one (``backfill: true``); ``names`` (None: none)
    are the server's, application's and wave's when the item names a server."""
    job = JobInfo(
        job_id=job_id,
        arn=f"arn:aws:mgn:{REGION}:{ACCOUNT}:job/{job_id}",
        job_type="TERMINATE" if initiated_by == "TERMINATE" else "LAUNCH",
        initiated_by=initiated_by,
    )
    item = {
        "event": event,
        "logDateTime": log_date_time,
        "eventData": {"sourceServerID": SERVER} if event_data is None else event_data,
    }
    return build_event(
        item,
        account_id=ACCOUNT,
        region=REGION,
        job=job,
        position=position,
        source=source,
        live_since=live_since,
        names=names if "sourceServerID" in item["eventData"] else None,
        duration_seconds=duration_seconds,
    )


def envelope(export: ExportEvent, source: str = SOURCE) -> dict[str, Any]:
    """The event as EventBridge delivers it to rules (what PutEvents makes of the entry)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": export.detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": export.detail.get("logDateTime") or export.detail.get("endDateTime"),
        "region": REGION,
        "resources": list(export.resources),
        "detail": export.detail,
    }


def log_line(export: ExportEvent) -> dict[str, Any]:
    """The line as it sits in the event log group: the Detail JSON, byte for byte."""
    parsed: dict[str, Any] = json.loads(export.detail_json)
    return parsed


def cutover_record(
    *, failed_server: bool = True, action_status: str = "FAILED", must_succeed: bool = True
) -> dict[str, Any]:
    """A DescribeJobs answer for a completed cutover job: one server launched with one
    post-launch action, and (``failed_server``) one that failed to launch."""
    servers: list[dict[str, Any]] = [
        {
            "sourceServerID": SERVER,
            "launchStatus": "LAUNCHED",
            "launchedEc2InstanceID": "i-0123456789abcdef0",
            "postLaunchActionsStatus": {
                "ssmAgentDiscoveryDatetime": "2026-11-25T11:02:00Z",
                "postLaunchActionsLaunchStatusList": [
                    {
                        "executionID": "5f7e2c1a-8d3b-4c6e-9a0f-1b2c3d4e5f60",
                        "executionStatus": action_status,
                        "ssmDocumentType": "AUTOMATION",
                        "failureReason": "Step fails when it is Executing. Fail type: Step "
                        "timed out"
                        if action_status == "FAILED"
                        else None,
                        "ssmDocument": {
                            "actionName": "Validate disk space",
                            "ssmDocumentName": "AWSMigration-ValidateDiskSpace",
                            "timeoutSeconds": 120,
                            "mustSucceedForCutover": must_succeed,
                        },
                    }
                ],
            },
        }
    ]
    if failed_server:
        servers.append({"sourceServerID": "s-0fedcba9876543210", "launchStatus": "FAILED"})
    return {
        "jobID": JOB_ID,
        "arn": f"arn:aws:mgn:{REGION}:{ACCOUNT}:job/{JOB_ID}",
        "type": "LAUNCH",
        "initiatedBy": "START_CUTOVER",
        "status": "COMPLETED",
        "creationDateTime": "2026-11-25T10:00:00Z",
        "endDateTime": "2026-11-25T11:00:00Z",
        "participatingServers": servers,
    }


def derived_events(
    record: dict[str, Any] | None = None, live_since: datetime | None = None
) -> list[ExportEvent]:
    """The job outcome of `record` (default: cutover_record()), then each of its post-launch
    actions' events, as the worker shapes them."""
    record = record or cutover_record()
    job = JobInfo(
        job_id=record["jobID"],
        arn=record["arn"],
        job_type=record["type"],
        initiated_by=record["initiatedBy"],
    )
    context = DerivedContext(
        account_id=ACCOUNT,
        region=REGION,
        source=SOURCE,
        job=job,
        live_since=live_since,
        names=lambda server: NAMES if server == SERVER else None,
    )
    launches = server_launches(record)
    ended = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    outcome = job_outcome_event(
        record, launches, StepFold(), context, ended=ended, waited_out=False
    )
    actions = [
        post_launch_action_event(
            run, launch, context, observed=ended + timedelta(minutes=5), job_ended=ended
        )
        for launch in launches
        for run in launch.actions
    ]
    return [outcome, *actions]
